//! The `projects` table: one row per project of a corpus, acquired or not, with the measures
//! of its checkout, what mining found, its split and whether it is a Table 2 target.

use std::path::Path;

use anyhow::{Context, Result, bail};
use polars::prelude::*;

use super::{
    TableSchema, read_opt_strings, read_opt_u64, read_strings, read_table, read_u64, write_table,
};
use crate::mining::MiningStats;

/// Bumped whenever a column is added, removed or changes meaning.
pub const VERSION: u32 = 1;

/// Whether a project could be acquired and mined.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Ok,
    Error,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Error => "error",
        }
    }

    fn parse(s: &str) -> Result<Self> {
        match s {
            "ok" => Ok(Status::Ok),
            "error" => Ok(Status::Error),
            other => bail!("unknown project status `{other}`"),
        }
    }
}

/// One row of the `projects` table.
#[derive(Debug, Clone, PartialEq)]
pub struct ProjectRow {
    pub project_id: String,
    pub name: String,
    /// As written in the corpus list (`https://…`, a path, `deb:NAME=VERSION`).
    pub source: String,
    /// The revision checked out (commit, Debian version, `local`), or the pinned one on error.
    pub revision: Option<String>,
    /// Where the checkout is on disk.
    pub checkout: Option<String>,
    pub size_bytes: u64,
    pub java_files: u64,
    pub java_bytes: u64,
    pub test_files: u64,
    /// Bytes downloaded to acquire the project (0 when reused or local).
    pub download_bytes: u64,
    pub stars: Option<u64>,
    pub status: Status,
    pub error: Option<String>,
    /// `train`, `valid` or `test`; null for projects that failed.
    pub split: Option<String>,
    /// The size class the split was stratified by (from the checkout, not from mining).
    pub size_class: Option<String>,
    /// Whether the project is one of Table 2's customization targets.
    pub target: bool,
    pub mining: MiningStats,
    /// Pairs in the `pairs` table for this project (after deduplication).
    pub pairs: u64,
}

/// The declared schema of `projects`.
pub fn schema() -> TableSchema {
    use DataType::{Boolean, String as Str, UInt64};
    TableSchema {
        name: "projects",
        version: VERSION,
        columns: vec![
            ("project_id", Str),
            ("name", Str),
            ("source", Str),
            ("revision", Str),
            ("checkout", Str),
            ("size_bytes", UInt64),
            ("java_files", UInt64),
            ("java_bytes", UInt64),
            ("test_files", UInt64),
            ("download_bytes", UInt64),
            ("stars", UInt64),
            ("status", Str),
            ("error", Str),
            ("split", Str),
            ("size_class", Str),
            ("target", Boolean),
            ("files_parsed", UInt64),
            ("bytes_parsed", UInt64),
            ("files_too_large", UInt64),
            ("files_lossy_utf8", UInt64),
            ("files_with_syntax_errors", UInt64),
            ("test_classes", UInt64),
            ("mapped_test_classes", UInt64),
            ("test_cases", UInt64),
            ("mapped_test_cases", UInt64),
            ("duplicate_pairs", UInt64),
            ("pairs", UInt64),
        ],
    }
}

/// Mining counters in column order, so writing and reading cannot drift apart.
pub fn mining_counters(m: &MiningStats) -> [(&'static str, u64); 10] {
    [
        ("files_parsed", m.files_parsed),
        ("bytes_parsed", m.bytes_parsed),
        ("files_too_large", m.files_too_large),
        ("files_lossy_utf8", m.files_lossy_utf8),
        ("files_with_syntax_errors", m.files_with_syntax_errors),
        ("test_classes", m.test_classes),
        ("mapped_test_classes", m.mapped_test_classes),
        ("test_cases", m.test_cases),
        ("mapped_test_cases", m.mapped_test_cases),
        ("duplicate_pairs", m.duplicate_pairs),
    ]
}

/// Sets the counter named like its column; unknown names are ignored (older caches).
pub fn set_mining_counter(m: &mut MiningStats, name: &str, value: u64) {
    match name {
        "files_parsed" => m.files_parsed = value,
        "bytes_parsed" => m.bytes_parsed = value,
        "files_too_large" => m.files_too_large = value,
        "files_lossy_utf8" => m.files_lossy_utf8 = value,
        "files_with_syntax_errors" => m.files_with_syntax_errors = value,
        "test_classes" => m.test_classes = value,
        "mapped_test_classes" => m.mapped_test_classes = value,
        "test_cases" => m.test_cases = value,
        "mapped_test_cases" => m.mapped_test_cases = value,
        "duplicate_pairs" => m.duplicate_pairs = value,
        _ => {}
    }
}

/// Builds the table's DataFrame.
pub fn to_frame(rows: &[ProjectRow]) -> Result<DataFrame> {
    let strs = |f: fn(&ProjectRow) -> &str| rows.iter().map(f).collect::<Vec<_>>();
    let opt_strs =
        |f: fn(&ProjectRow) -> Option<&str>| rows.iter().map(f).collect::<Vec<Option<&str>>>();
    let nums = |f: fn(&ProjectRow) -> u64| rows.iter().map(f).collect::<Vec<u64>>();
    let mut columns: Vec<Column> = vec![
        Column::new("project_id".into(), strs(|r| &r.project_id)),
        Column::new("name".into(), strs(|r| &r.name)),
        Column::new("source".into(), strs(|r| &r.source)),
        Column::new("revision".into(), opt_strs(|r| r.revision.as_deref())),
        Column::new("checkout".into(), opt_strs(|r| r.checkout.as_deref())),
        Column::new("size_bytes".into(), nums(|r| r.size_bytes)),
        Column::new("java_files".into(), nums(|r| r.java_files)),
        Column::new("java_bytes".into(), nums(|r| r.java_bytes)),
        Column::new("test_files".into(), nums(|r| r.test_files)),
        Column::new("download_bytes".into(), nums(|r| r.download_bytes)),
        Column::new(
            "stars".into(),
            rows.iter().map(|r| r.stars).collect::<Vec<Option<u64>>>(),
        ),
        Column::new("status".into(), strs(|r| r.status.as_str())),
        Column::new("error".into(), opt_strs(|r| r.error.as_deref())),
        Column::new("split".into(), opt_strs(|r| r.split.as_deref())),
        Column::new("size_class".into(), opt_strs(|r| r.size_class.as_deref())),
        Column::new(
            "target".into(),
            rows.iter().map(|r| r.target).collect::<Vec<bool>>(),
        ),
    ];
    let mining: Vec<[(&str, u64); 10]> = rows.iter().map(|r| mining_counters(&r.mining)).collect();
    for (i, (name, _)) in mining_counters(&MiningStats::default()).iter().enumerate() {
        let values: Vec<u64> = mining.iter().map(|m| m[i].1).collect();
        columns.push(Column::new((*name).into(), values));
    }
    columns.push(Column::new("pairs".into(), nums(|r| r.pairs)));
    // An all-null column is typed Null; the schema says String.
    let schema = schema().polars_schema();
    let columns = columns
        .into_iter()
        .map(|c| {
            let dtype = schema.get(c.name()).expect("declared column").clone();
            c.cast(&dtype)
        })
        .collect::<PolarsResult<Vec<_>>>()?;
    Ok(DataFrame::new(columns)?)
}

/// Parses the table's DataFrame back into rows.
pub fn from_frame(df: &DataFrame) -> Result<Vec<ProjectRow>> {
    let ids = read_strings(df, "project_id")?;
    let names = read_strings(df, "name")?;
    let sources = read_strings(df, "source")?;
    let revisions = read_opt_strings(df, "revision")?;
    let checkouts = read_opt_strings(df, "checkout")?;
    let size = read_u64(df, "size_bytes")?;
    let java_files = read_u64(df, "java_files")?;
    let java_bytes = read_u64(df, "java_bytes")?;
    let test_files = read_u64(df, "test_files")?;
    let download_bytes = read_u64(df, "download_bytes")?;
    let stars = read_opt_u64(df, "stars")?;
    let status = read_strings(df, "status")?;
    let errors = read_opt_strings(df, "error")?;
    let splits = read_opt_strings(df, "split")?;
    let classes = read_opt_strings(df, "size_class")?;
    let targets: Vec<bool> = super::column(df, "target")?
        .bool()
        .context("column `target` is not boolean")?
        .into_iter()
        .map(Option::unwrap_or_default)
        .collect();
    let pairs = read_u64(df, "pairs")?;
    let mut mining = vec![MiningStats::default(); df.height()];
    for (name, _) in mining_counters(&MiningStats::default()) {
        for (m, v) in mining.iter_mut().zip(read_u64(df, name)?) {
            set_mining_counter(m, name, v);
        }
    }
    (0..df.height())
        .map(|i| {
            Ok(ProjectRow {
                project_id: ids[i].clone(),
                name: names[i].clone(),
                source: sources[i].clone(),
                revision: revisions[i].clone(),
                checkout: checkouts[i].clone(),
                size_bytes: size[i],
                java_files: java_files[i],
                java_bytes: java_bytes[i],
                test_files: test_files[i],
                download_bytes: download_bytes[i],
                stars: stars[i],
                status: Status::parse(&status[i])
                    .with_context(|| format!("project `{}`", ids[i]))?,
                error: errors[i].clone(),
                split: splits[i].clone(),
                size_class: classes[i].clone(),
                target: targets[i],
                mining: mining[i].clone(),
                pairs: pairs[i],
            })
        })
        .collect()
}

/// Writes `projects` atomically.
pub fn write_projects(rows: &[ProjectRow], path: &Path) -> Result<()> {
    write_table(&mut to_frame(rows)?, path, &schema())
}

/// Reads and checks `projects`.
pub fn read_projects(path: &Path) -> Result<Vec<ProjectRow>> {
    from_frame(&read_table(path, &schema())?).with_context(|| format!("in {}", path.display()))
}

impl ProjectRow {
    /// The row of a project as acquisition left it: measures of the checkout, or the error.
    /// Mining fills in the rest.
    pub fn from_acquired(item: &crate::acquire::Acquired) -> Self {
        let spec = &item.spec;
        let mut row = ProjectRow {
            project_id: spec.id.clone(),
            name: spec.name.clone(),
            source: spec.source.clone(),
            revision: spec.revision.clone(),
            checkout: None,
            size_bytes: 0,
            java_files: 0,
            java_bytes: 0,
            test_files: 0,
            download_bytes: 0,
            stars: spec.stars,
            status: Status::Ok,
            error: None,
            split: None,
            size_class: None,
            target: false,
            mining: MiningStats::default(),
            pairs: 0,
        };
        match &item.result {
            Ok(checkout) => {
                row.revision = Some(checkout.revision.clone());
                row.checkout = Some(checkout.path.display().to_string());
                row.size_bytes = checkout.stats.size_bytes;
                row.java_files = checkout.stats.java_files;
                row.java_bytes = checkout.stats.java_bytes;
                row.test_files = checkout.stats.test_files;
                row.download_bytes = checkout.download_bytes;
            }
            Err(cause) => {
                row.status = Status::Error;
                row.error = Some(cause.clone());
            }
        }
        row
    }
}
