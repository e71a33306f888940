//! The vocabulary tables of Figure 1 (paper §2):
//! - `vocab_summary`: one row per analysed project, its unique-token count |Ti| and its rank
//!   (0 = fewest unique tokens; ties broken by project id), the order of the figure's axes.
//! - `shared_tokens`: the full ratio matrix in long form, n² rows ordered by (rank of
//!   project_i, rank of project_j), diagonal included: `shared` = |Ti ∩ Tj| and
//!   `ratio` = |Ti ∩ Tj| / |Ti| (1 on the diagonal).
//!
//! `shared_tokens` is written one row group per tile of matrix rows, as the tiles are
//! computed ([`SharedTokensWriter`]), so a 20,000-project matrix (4·10⁸ rows) never sits in
//! memory; it is still one file, renamed into place only when complete. For large tables
//! prefer a lazy scan (`LazyFrame::scan_parquet`) to [`read_shared_tokens`].

use std::path::Path;

use anyhow::{Context, Result};
use polars::io::parquet::write::{BatchedWriter, KeyValueMetadata};
use polars::prelude::*;

use super::{Columns, TableSchema, columns};

/// Bumped whenever a column is added, removed or changes meaning.
pub const SUMMARY_VERSION: u32 = 1;
/// Bumped whenever a column is added, removed or changes meaning.
pub const SHARED_VERSION: u32 = 1;

/// One row of `vocab_summary`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VocabSummaryRow {
    pub project_id: String,
    /// |Ti|: distinct non-keyword tokens of the project's Java files.
    pub unique_tokens: u64,
    /// Position in ascending |Ti| order, from 0.
    pub rank: u64,
}

/// One row of `shared_tokens`.
#[derive(Debug, Clone, PartialEq)]
pub struct SharedTokensRow {
    pub project_i: String,
    pub project_j: String,
    /// |Ti ∩ Tj|.
    pub shared: u64,
    /// |Ti ∩ Tj| / |Ti|.
    pub ratio: f64,
}

columns! {
    VocabSummaryRow {
        project_id,
        unique_tokens,
        rank,
    }
}

columns! {
    SharedTokensRow {
        project_i,
        project_j,
        shared,
        ratio,
    }
}

/// The declared schema of `vocab_summary`.
pub fn summary_schema() -> TableSchema {
    TableSchema::of::<VocabSummaryRow>("vocab_summary", SUMMARY_VERSION)
}

/// The declared schema of `shared_tokens`.
pub fn shared_schema() -> TableSchema {
    TableSchema::of::<SharedTokensRow>("shared_tokens", SHARED_VERSION)
}

/// Builds `vocab_summary`'s DataFrame.
pub fn summary_to_frame(rows: &[VocabSummaryRow]) -> Result<DataFrame> {
    super::to_frame(rows)
}

/// Parses `vocab_summary`'s DataFrame back into rows.
pub fn summary_from_frame(df: &DataFrame) -> Result<Vec<VocabSummaryRow>> {
    VocabSummaryRow::read(df)
}

/// Writes `vocab_summary` atomically.
pub fn write_vocab_summary(rows: &[VocabSummaryRow], path: &Path) -> Result<()> {
    super::write_rows(rows, path, &summary_schema())
}

/// Reads and checks `vocab_summary`.
pub fn read_vocab_summary(path: &Path) -> Result<Vec<VocabSummaryRow>> {
    super::read_rows(path, &summary_schema())
}

/// The DataFrame of one block of `shared_tokens` rows, given as columns (the tiled writer
/// builds them without materialising [`SharedTokensRow`]s); a test holds it to the declared
/// columns.
pub fn shared_frame(
    project_i: Vec<&str>,
    project_j: Vec<&str>,
    shared: Vec<u64>,
    ratio: Vec<f64>,
) -> Result<DataFrame> {
    Ok(DataFrame::new(vec![
        Column::new("project_i".into(), project_i),
        Column::new("project_j".into(), project_j),
        Column::new("shared".into(), shared),
        Column::new("ratio".into(), ratio),
    ])?)
}

/// Builds `shared_tokens`' DataFrame.
pub fn shared_to_frame(rows: &[SharedTokensRow]) -> Result<DataFrame> {
    super::to_frame(rows)
}

/// Parses `shared_tokens`' DataFrame back into rows.
pub fn shared_from_frame(df: &DataFrame) -> Result<Vec<SharedTokensRow>> {
    SharedTokensRow::read(df)
}

/// Writes `shared_tokens` in one go (small matrices, tests).
pub fn write_shared_tokens(rows: &[SharedTokensRow], path: &Path) -> Result<()> {
    super::write_rows(rows, path, &shared_schema())
}

/// Reads the whole of `shared_tokens` (n² rows: mind the size).
pub fn read_shared_tokens(path: &Path) -> Result<Vec<SharedTokensRow>> {
    super::read_rows(path, &shared_schema())
}

/// Writes `shared_tokens` block by block into a temporary file beside `path`, one Parquet
/// row group per block, with the same metadata as [`super::write_table`]; `finish` moves it
/// into place, so an interrupted run leaves no partial table.
pub struct SharedTokensWriter {
    path: std::path::PathBuf,
    tmp: tempfile::NamedTempFile,
    writer: BatchedWriter<std::fs::File>,
    rows: u64,
}

impl SharedTokensWriter {
    pub fn create(path: &Path) -> Result<Self> {
        let schema = shared_schema();
        let dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let tmp = tempfile::NamedTempFile::new_in(dir)
            .with_context(|| format!("creating a temporary file in {}", dir.display()))?;
        let file = tmp
            .as_file()
            .try_clone()
            .with_context(|| format!("opening a temporary file in {}", dir.display()))?;
        let metadata = KeyValueMetadata::from_static(vec![
            (super::TABLE_KEY.to_string(), schema.name.to_string()),
            (super::VERSION_KEY.to_string(), schema.version.to_string()),
        ]);
        let writer = ParquetWriter::new(file)
            .with_compression(ParquetCompression::Zstd(None))
            .with_key_value_metadata(Some(metadata))
            .batched(&schema.polars_schema())
            .with_context(|| format!("starting {}", path.display()))?;
        Ok(SharedTokensWriter {
            path: path.to_path_buf(),
            tmp,
            writer,
            rows: 0,
        })
    }

    /// Appends a block (a row group).
    pub fn write(&mut self, block: &DataFrame) -> Result<()> {
        self.writer
            .write_batch(block)
            .with_context(|| format!("writing {}", self.path.display()))?;
        self.rows += block.height() as u64;
        Ok(())
    }

    /// Finishes the file and moves it into place; returns its rows and bytes.
    pub fn finish(self) -> Result<(u64, u64)> {
        let bytes = self
            .writer
            .finish()
            .with_context(|| format!("finishing {}", self.path.display()))?;
        self.tmp.persist(&self.path).with_context(|| {
            format!("moving the new table into place at {}", self.path.display())
        })?;
        Ok((self.rows, bytes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tables::table_path;

    fn shared(i: &str, j: &str, s: u64, r: f64) -> SharedTokensRow {
        SharedTokensRow {
            project_i: i.into(),
            project_j: j.into(),
            shared: s,
            ratio: r,
        }
    }

    #[test]
    fn vocab_summary_survives_a_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let path = table_path(dir.path(), "vocab_summary");
        let rows = vec![
            VocabSummaryRow {
                project_id: "b".into(),
                unique_tokens: 3,
                rank: 0,
            },
            VocabSummaryRow {
                project_id: "a".into(),
                unique_tokens: 9,
                rank: 1,
            },
        ];
        write_vocab_summary(&rows, &path).unwrap();
        assert_eq!(read_vocab_summary(&path).unwrap(), rows);
    }

    #[test]
    fn shared_tokens_written_in_blocks_read_back_as_one_table() {
        let dir = tempfile::tempdir().unwrap();
        let path = table_path(dir.path(), "shared_tokens");
        let rows = vec![
            shared("b", "b", 3, 1.0),
            shared("b", "a", 2, 2.0 / 3.0),
            shared("a", "b", 2, 2.0 / 9.0),
            shared("a", "a", 9, 1.0),
        ];
        let mut writer = SharedTokensWriter::create(&path).unwrap();
        assert!(!path.exists(), "the table appears only when complete");
        for block in rows.chunks(2) {
            writer.write(&shared_to_frame(block).unwrap()).unwrap();
        }
        let (n, bytes) = writer.finish().unwrap();
        assert_eq!(n, 4);
        assert!(bytes > 0);
        assert_eq!(read_shared_tokens(&path).unwrap(), rows);
        // The one-shot writer gives the same table.
        write_shared_tokens(&rows, &path).unwrap();
        assert_eq!(read_shared_tokens(&path).unwrap(), rows);
    }

    #[test]
    fn the_tiled_writers_blocks_are_the_declared_frame() {
        let rows = vec![shared("b", "b", 3, 1.0), shared("b", "a", 2, 2.0 / 3.0)];
        let block = shared_frame(
            rows.iter().map(|r| r.project_i.as_str()).collect(),
            rows.iter().map(|r| r.project_j.as_str()).collect(),
            rows.iter().map(|r| r.shared).collect(),
            rows.iter().map(|r| r.ratio).collect(),
        )
        .unwrap();
        assert!(block.equals(&shared_to_frame(&rows).unwrap()));
        assert_eq!(**block.schema(), shared_schema().polars_schema());
    }

    #[test]
    fn a_summary_is_not_read_as_shared_tokens() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.parquet");
        write_vocab_summary(&[], &path).unwrap();
        let err = format!("{:#}", read_shared_tokens(&path).unwrap_err());
        assert!(err.contains("expected `shared_tokens`"), "{err}");
    }
}
