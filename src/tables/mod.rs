//! Parquet tables under `out/tables/`: schemas declared once, versioned, checked on read.
//!
//! Each table declares its columns once, as a list of its row type's fields ([`declare`]); its
//! schema, the DataFrame it writes and the rows it reads back all follow from that list.
//!
//! Every table is written atomically (a temporary file in the same folder, then a rename), so
//! an interrupted run never leaves a half-written table behind, and carries two key-value
//! metadata entries, `tailor.table` and `tailor.schema_version`. Reading checks both and the
//! column types, so a table from an older tailor or another tool is a clear error naming the
//! file, not a panic deep inside a stage. The one exception is a table whose schema says how to
//! upgrade an older version ([`TableSchema::upgrading`]): `predictions` is costly to rebuild, so
//! its version-1 files read with the columns added since as nulls.

pub mod curves;
pub(crate) mod declare;
pub mod examples;
pub mod finetune;
pub mod metrics;
pub mod pairs;
pub mod predictions;
pub mod projects;
#[cfg(test)]
mod round_trip;
pub mod test_scores;
pub mod vocab;

use std::fs::File;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use polars::io::parquet::write::KeyValueMetadata;
use polars::prelude::*;

pub(crate) use declare::{Cell, Columns, Label, columns, to_frame};

const TABLE_KEY: &str = "tailor.table";
const VERSION_KEY: &str = "tailor.schema_version";

/// A table's identity: its name and schema version, and the columns a reader relies on.
#[derive(Debug, Clone)]
pub struct TableSchema {
    pub name: &'static str,
    pub version: u32,
    pub columns: Vec<(&'static str, DataType)>,
    /// The older versions a reader still accepts, each with how its frame becomes this
    /// version's ([`TableSchema::upgrading`]); any other version is refused.
    pub upgrades: Vec<(u32, Upgrade)>,
}

/// Brings the frame of a table written at an older schema version to the current columns
/// (typically by adding the new ones as nulls), so that a table which is expensive to rebuild
/// (generation's predictions) survives an added column.
pub type Upgrade = fn(DataFrame) -> PolarsResult<DataFrame>;

impl TableSchema {
    /// This schema, also reading tables written at `version` through `upgrade`.
    pub fn upgrading(mut self, version: u32, upgrade: Upgrade) -> Self {
        self.upgrades.push((version, upgrade));
        self
    }

    /// The polars schema of the declared columns, in order.
    pub fn polars_schema(&self) -> Schema {
        self.columns
            .iter()
            .map(|(name, dtype)| Field::new((*name).into(), dtype.clone()))
            .collect()
    }
}

/// Where each table lives under an output folder (`--out`).
pub fn table_path(out: &Path, name: &str) -> PathBuf {
    crate::layout::Layout::new(out).table(name)
}

/// Writes `df` to `path` atomically, stamped with the table's name and schema version.
pub fn write_table(df: &mut DataFrame, path: &Path, schema: &TableSchema) -> Result<()> {
    check_columns(df.schema(), schema).with_context(|| {
        format!(
            "refusing to write {}: it does not match table `{}`",
            path.display(),
            schema.name
        )
    })?;
    let tmp = temporary_beside(path)?;
    let metadata = KeyValueMetadata::from_static(vec![
        (TABLE_KEY.to_string(), schema.name.to_string()),
        (VERSION_KEY.to_string(), schema.version.to_string()),
    ]);
    ParquetWriter::new(tmp.as_file())
        .with_compression(ParquetCompression::Zstd(None))
        .with_key_value_metadata(Some(metadata))
        .finish(df)
        .with_context(|| format!("writing {}", path.display()))?;
    persist_shared(tmp, path)
}

/// Writes `bytes` to `path` through a temporary file in the same folder and a rename, so a
/// reader never sees half a file.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut tmp = temporary_beside(path)?;
    std::io::Write::write_all(&mut tmp, bytes)
        .with_context(|| format!("writing {}", path.display()))?;
    persist_shared(tmp, path)
}

/// A temporary file in `path`'s folder (created if needed), so the final rename stays on one
/// file system.
fn temporary_beside(path: &Path) -> Result<tempfile::NamedTempFile> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("creating a temporary file in {}", dir.display()))
}

/// Move a finished temporary file to `path`, readable by all: temporary files are created
/// private (0600), and these are ordinary outputs to share.
fn persist_shared(tmp: tempfile::NamedTempFile, path: &Path) -> Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o644))
            .with_context(|| format!("setting permissions of {}", path.display()))?;
    }
    tmp.persist(path)
        .with_context(|| format!("moving {} into place", path.display()))?;
    Ok(())
}

/// A row that belongs to one (project, strategy, fold) run of the customization sweep.
pub trait RunRow: Clone {
    fn run(&self) -> (&str, &str, u32);
}

/// The rows of the table at `path` (none if it does not exist yet) with every row of the runs
/// that `rows` belong to replaced by `rows`: re-evaluating a run never duplicates it, and the
/// caller rewrites the table atomically, so an interrupted sweep keeps every finished run.
pub(crate) fn merge_runs<T: RunRow>(
    path: &Path,
    rows: &[T],
    read: impl Fn(&Path) -> Result<Vec<T>>,
) -> Result<Vec<T>> {
    let mut all = if path.exists() {
        read(path)?
    } else {
        Vec::new()
    };
    let runs: std::collections::BTreeSet<(&str, &str, u32)> =
        rows.iter().map(RunRow::run).collect();
    all.retain(|r| !runs.contains(&r.run()));
    all.extend_from_slice(rows);
    Ok(all)
}

/// Reads a table written by [`write_table`], checking its name, version and columns; a table
/// of an older version the schema still accepts ([`TableSchema::upgrades`]) is upgraded first.
pub fn read_table(path: &Path, schema: &TableSchema) -> Result<DataFrame> {
    let file = File::open(path).with_context(|| {
        format!(
            "opening table `{}` at {} (has the stage that writes it run?)",
            schema.name,
            path.display()
        )
    })?;
    let mut reader = ParquetReader::new(file);
    let metadata = reader
        .get_metadata()
        .with_context(|| format!("{} is not a readable Parquet file", path.display()))?;
    let kv: Vec<(String, Option<String>)> = metadata
        .key_value_metadata()
        .iter()
        .flatten()
        .map(|kv| (kv.key.clone(), kv.value.clone()))
        .collect();
    let lookup = |key: &str| {
        kv.iter()
            .find(|(k, _)| k == key)
            .and_then(|(_, v)| v.clone())
    };
    let mut upgrade = None;
    match (lookup(TABLE_KEY), lookup(VERSION_KEY)) {
        (Some(name), Some(version)) => {
            if name != schema.name {
                bail!(
                    "{} holds table `{name}`, expected `{}`",
                    path.display(),
                    schema.name
                );
            }
            if version != schema.version.to_string() {
                upgrade = schema
                    .upgrades
                    .iter()
                    .find(|(older, _)| older.to_string() == version)
                    .map(|&(_, upgrade)| upgrade);
                if upgrade.is_none() {
                    bail!(
                        "{} has schema version {version} of table `{}`; this tailor reads \
                         version {}: re-run the stage that writes it",
                        path.display(),
                        schema.name,
                        schema.version
                    );
                }
            }
        }
        _ => bail!(
            "{} was not written by tailor (no `{TABLE_KEY}`/`{VERSION_KEY}` metadata); \
             expected table `{}` version {}",
            path.display(),
            schema.name,
            schema.version
        ),
    }
    let mut df = reader
        .finish()
        .with_context(|| format!("reading {}", path.display()))?;
    if let Some(upgrade) = upgrade {
        df = upgrade(df).with_context(|| {
            format!(
                "upgrading {} to version {} of table `{}`",
                path.display(),
                schema.version,
                schema.name
            )
        })?;
    }
    check_columns(df.schema(), schema).with_context(|| format!("in {}", path.display()))?;
    Ok(df)
}

fn check_columns(actual: &Schema, schema: &TableSchema) -> Result<()> {
    for (name, dtype) in &schema.columns {
        match actual.get(name) {
            None => bail!("table `{}` lacks column `{name}`", schema.name),
            Some(found) if found != dtype => bail!(
                "table `{}` column `{name}` has type {found}, expected {dtype}",
                schema.name
            ),
            Some(_) => {}
        }
    }
    Ok(())
}

/// Typed access to one column, with the column named in the error.
pub(crate) fn column<'a>(df: &'a DataFrame, name: &str) -> Result<&'a Column> {
    df.column(name)
        .with_context(|| format!("missing column `{name}`"))
}

/// Reads a non-null string column (nulls as empty strings).
pub(crate) fn read_strings(df: &DataFrame, name: &str) -> Result<Vec<String>> {
    String::read(column(df, name)?)
}

/// Writes `rows` as table `schema` to `path`, atomically (see [`write_table`]).
pub(crate) fn write_rows<R: Columns>(rows: &[R], path: &Path, schema: &TableSchema) -> Result<()> {
    write_table(&mut to_frame(rows)?, path, schema)
}

/// Reads and checks table `schema` at `path` (see [`read_table`]) into rows.
pub(crate) fn read_rows<R: Columns>(path: &Path, schema: &TableSchema) -> Result<Vec<R>> {
    R::read(&read_table(path, schema)?).with_context(|| format!("in {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mining::{Framework, Heuristic, MiningStats, Pair};
    use crate::tables::projects::{ProjectRow, Status};

    fn pair(i: usize) -> Pair {
        Pair {
            pair_id: format!("{i:016x}"),
            project_id: "demo".into(),
            test_file: "src/test/java/p/FooTest.java".into(),
            test_class: "FooTest".into(),
            test_method: format!("testBar{i}"),
            test_body: "@Test public void testBar() { new Foo().bar(); }".into(),
            focal_file: "src/main/java/p/Foo.java".into(),
            focal_class: "Foo".into(),
            focal_method: "bar".into(),
            focal_signature: "public int bar()".into(),
            focal_body: "public int bar() { return 1; }".into(),
            heuristic: if i.is_multiple_of(2) {
                Heuristic::Name
            } else {
                Heuristic::UniqueCall
            },
            framework: Framework::Junit5,
            class_signature: "public class Foo".into(),
            constructors: vec!["public Foo()".into()],
            method_signatures: if i == 0 {
                vec![]
            } else {
                vec!["public int bar()".into()]
            },
            fields: vec![
                "private int x;".into(),
                "static final String Y = \"y\";".into(),
            ],
        }
    }

    fn project(id: &str, status: Status) -> ProjectRow {
        ProjectRow {
            project_id: id.into(),
            name: id.into(),
            source: format!("deb:{id}=1.0-1"),
            revision: Some("1.0-1".into()),
            checkout: (status == Status::Ok).then(|| format!("out/cache/checkouts/{id}")),
            size_bytes: 1234,
            java_files: 10,
            java_bytes: 999,
            test_files: 3,
            download_bytes: 0,
            stars: None,
            status,
            error: (status == Status::Error).then(|| "404 for the upstream tarball".into()),
            split: (status == Status::Ok).then(|| "train".into()),
            size_class: (status == Status::Ok).then(|| "small".into()),
            target: false,
            mining: MiningStats {
                test_cases: 7,
                mapped_test_cases: 5,
                duplicate_pairs: 1,
                ..MiningStats::default()
            },
            pairs: 4,
        }
    }

    #[test]
    fn pairs_survive_a_round_trip_through_parquet() {
        let dir = tempfile::tempdir().unwrap();
        let path = table_path(dir.path(), "pairs");
        let pairs: Vec<Pair> = (0..5).map(pair).collect();
        pairs::write_pairs(&pairs, &path).unwrap();
        assert_eq!(pairs::read_pairs(&path).unwrap(), pairs);
    }

    #[test]
    fn an_empty_pairs_table_keeps_its_schema() {
        let dir = tempfile::tempdir().unwrap();
        let path = table_path(dir.path(), "pairs");
        pairs::write_pairs(&[], &path).unwrap();
        assert!(pairs::read_pairs(&path).unwrap().is_empty());
    }

    #[test]
    fn projects_survive_a_round_trip_including_failed_ones() {
        let dir = tempfile::tempdir().unwrap();
        let path = table_path(dir.path(), "projects");
        let rows = vec![project("a", Status::Ok), project("b", Status::Error)];
        projects::write_projects(&rows, &path).unwrap();
        assert_eq!(projects::read_projects(&path).unwrap(), rows);
    }

    #[test]
    fn reading_a_table_as_another_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = table_path(dir.path(), "pairs");
        pairs::write_pairs(&[pair(1)], &path).unwrap();
        let err = projects::read_projects(&path).unwrap_err();
        assert!(format!("{err:#}").contains("holds table `pairs`, expected `projects`"));
    }

    #[test]
    fn a_table_from_an_older_schema_version_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = table_path(dir.path(), "pairs");
        let mut old = pairs::schema();
        old.version = 0;
        write_table(&mut pairs::to_frame(&[pair(1)]).unwrap(), &path, &old).unwrap();
        let err = format!("{:#}", pairs::read_pairs(&path).unwrap_err());
        assert!(err.contains("schema version 0"), "{err}");
    }

    #[test]
    fn a_parquet_file_not_written_by_tailor_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("foreign.parquet");
        let mut df = df!("project_id" => ["x"]).unwrap();
        ParquetWriter::new(File::create(&path).unwrap())
            .finish(&mut df)
            .unwrap();
        let err = format!("{:#}", projects::read_projects(&path).unwrap_err());
        assert!(err.contains("not written by tailor"), "{err}");
    }

    #[test]
    fn a_missing_table_names_the_stage_to_run() {
        let err = format!(
            "{:#}",
            pairs::read_pairs(Path::new("/nonexistent/pairs.parquet")).unwrap_err()
        );
        assert!(err.contains("has the stage that writes it run"), "{err}");
    }
}
