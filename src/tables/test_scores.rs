//! The `test_scores` table (`out/tables/test_scores.parquet`): per test pair of every evaluated
//! run, the scores the run-level metrics aggregate — sentence BLEU, the rank of the first exact
//! and abstracted match, the identifier similarity with the developer's test, top-1 syntactic
//! validity. Figure 4(b) draws its distribution from here; notebooks slice it per project.

use std::path::Path;

use anyhow::Result;
use serde::{Deserialize, Serialize};

use super::{TableSchema, columns};

/// Bumped whenever a column is added, removed or changes meaning.
pub const VERSION: u32 = 1;
pub const NAME: &str = "test_scores";

/// One test pair of one run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TestScoreRow {
    pub pair_id: String,
    pub project_id: String,
    pub strategy: String,
    pub fold: u32,
    /// CodeXGLUE smoothed sentence BLEU-4 of the top-1 output, 0–100.
    pub sentence_bleu: f64,
    /// Rank (1–5) of the first output equal to the developer's test ignoring whitespace; 0: none.
    pub exact_rank: u32,
    /// Rank (1–5) of the first output equal to it after abstraction; 0: none.
    pub abstract_rank: u32,
    /// tf-idf cosine of the identifiers of the top-1 output and of the developer's test.
    pub style_similarity: f64,
    /// Whether the top-1 output parses as one method declaration.
    pub valid: bool,
}

columns! {
    TestScoreRow {
        pair_id,
        project_id,
        strategy,
        fold,
        sentence_bleu,
        exact_rank,
        abstract_rank,
        style_similarity,
        valid,
    }
}

/// The declared schema of `test_scores`.
pub fn schema() -> TableSchema {
    TableSchema::of::<TestScoreRow>(NAME, VERSION)
}

/// Writes `test_scores` atomically.
pub fn write_rows(rows: &[TestScoreRow], path: &Path) -> Result<()> {
    super::write_rows(rows, path, &schema())
}

/// Reads and checks `test_scores`.
pub fn read_rows(path: &Path) -> Result<Vec<TestScoreRow>> {
    super::read_rows(path, &schema())
}

/// Replace the rows of the runs in `rows` and rewrite the table atomically.
pub fn upsert(path: &Path, rows: &[TestScoreRow]) -> Result<()> {
    write_rows(&super::merge_runs(path, rows, read_rows)?, path)
}

impl super::RunRow for TestScoreRow {
    fn run(&self) -> (&str, &str, u32) {
        (&self.project_id, &self.strategy, self.fold)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_scores_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("test_scores.parquet");
        let row = TestScoreRow {
            pair_id: "p".into(),
            project_id: "demo".into(),
            strategy: "lora".into(),
            fold: 2,
            sentence_bleu: 12.5,
            exact_rank: 0,
            abstract_rank: 3,
            style_similarity: 0.4,
            valid: true,
        };
        upsert(&path, std::slice::from_ref(&row)).unwrap();
        upsert(&path, std::slice::from_ref(&row)).unwrap();
        assert_eq!(read_rows(&path).unwrap(), vec![row]);
    }
}
