//! The `projects` table: one row per project of a corpus, acquired or not, with the measures
//! of its checkout, what mining found, its split and whether it is a Table 2 target.

use std::path::Path;

use anyhow::{Result, bail};
use polars::prelude::*;

use super::{Columns, Label, TableSchema, columns};
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
}

impl Label for Status {
    fn label(&self) -> &'static str {
        self.as_str()
    }

    fn parse(label: &str) -> Result<Self> {
        match label {
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

columns! {
    ProjectRow {
        project_id,
        name,
        source,
        revision,
        checkout,
        size_bytes,
        java_files,
        java_bytes,
        test_files,
        download_bytes,
        stars,
        status,
        error,
        split,
        size_class,
        target,
        mining: flatten,
        pairs,
    }
}

columns! {
    MiningStats {
        files_parsed,
        bytes_parsed,
        files_too_large,
        files_lossy_utf8,
        files_with_syntax_errors,
        test_classes,
        mapped_test_classes,
        test_cases,
        mapped_test_cases,
        duplicate_pairs,
        // `java_files` and `java_bytes` are the checkout's, columns of the project itself.
        ..
    }
}

/// The declared schema of `projects`.
pub fn schema() -> TableSchema {
    TableSchema::of::<ProjectRow>("projects", VERSION)
}

/// The mining counters by column name, in column order, for the mining cache that stores them
/// by name (`pipeline::mine`); a test holds them to the columns declared above.
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
    super::to_frame(rows)
}

/// Parses the table's DataFrame back into rows.
pub fn from_frame(df: &DataFrame) -> Result<Vec<ProjectRow>> {
    ProjectRow::read(df)
}

/// Writes `projects` atomically.
pub fn write_projects(rows: &[ProjectRow], path: &Path) -> Result<()> {
    super::write_rows(rows, path, &schema())
}

/// Reads and checks `projects`.
pub fn read_projects(path: &Path) -> Result<Vec<ProjectRow>> {
    super::read_rows(path, &schema())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mining_cache_names_its_counters_like_the_declared_columns() {
        let mut declared = Vec::new();
        MiningStats::schema(&mut declared);
        let stats = MiningStats {
            files_parsed: 1,
            bytes_parsed: 2,
            files_too_large: 3,
            files_lossy_utf8: 4,
            files_with_syntax_errors: 5,
            test_classes: 6,
            mapped_test_classes: 7,
            test_cases: 8,
            mapped_test_cases: 9,
            duplicate_pairs: 10,
            ..MiningStats::default()
        };
        let counters = mining_counters(&stats);
        let names: Vec<&str> = counters.iter().map(|(name, _)| *name).collect();
        let columns: Vec<&str> = declared.iter().map(|(name, _)| *name).collect();
        assert_eq!(names, columns);
        let mut back = MiningStats::default();
        for (name, value) in counters {
            set_mining_counter(&mut back, name, value);
        }
        assert_eq!(back, stats);
    }
}
