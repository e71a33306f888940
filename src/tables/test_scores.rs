//! The `test_scores` table (`out/tables/test_scores.parquet`): per test pair of every evaluated
//! run, the scores the run-level metrics aggregate — sentence BLEU, the rank of the first exact
//! and abstracted match, the identifier similarity with the developer's test, top-1 syntactic
//! validity. Figure 4(b) draws its distribution from here; notebooks slice it per project.

use std::path::Path;

use anyhow::{Context, Result};
use polars::prelude::*;
use serde::{Deserialize, Serialize};

use super::{TableSchema, column, read_strings, read_table, write_table};

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

pub fn schema() -> TableSchema {
    use DataType::*;
    TableSchema {
        name: NAME,
        version: VERSION,
        columns: vec![
            ("pair_id", String),
            ("project_id", String),
            ("strategy", String),
            ("fold", UInt32),
            ("sentence_bleu", Float64),
            ("exact_rank", UInt32),
            ("abstract_rank", UInt32),
            ("style_similarity", Float64),
            ("valid", Boolean),
        ],
    }
}

pub fn write_rows(rows: &[TestScoreRow], path: &Path) -> Result<()> {
    let strs = |f: fn(&TestScoreRow) -> &str| rows.iter().map(f).collect::<Vec<_>>();
    let u32s = |f: fn(&TestScoreRow) -> u32| rows.iter().map(f).collect::<Vec<u32>>();
    let f64s = |f: fn(&TestScoreRow) -> f64| rows.iter().map(f).collect::<Vec<f64>>();
    let mut df = DataFrame::new(vec![
        Column::new("pair_id".into(), strs(|r| &r.pair_id)),
        Column::new("project_id".into(), strs(|r| &r.project_id)),
        Column::new("strategy".into(), strs(|r| &r.strategy)),
        Column::new("fold".into(), u32s(|r| r.fold)),
        Column::new("sentence_bleu".into(), f64s(|r| r.sentence_bleu)),
        Column::new("exact_rank".into(), u32s(|r| r.exact_rank)),
        Column::new("abstract_rank".into(), u32s(|r| r.abstract_rank)),
        Column::new("style_similarity".into(), f64s(|r| r.style_similarity)),
        Column::new(
            "valid".into(),
            rows.iter().map(|r| r.valid).collect::<Vec<bool>>(),
        ),
    ])?;
    write_table(&mut df, path, &schema())
}

pub fn read_rows(path: &Path) -> Result<Vec<TestScoreRow>> {
    let df = read_table(path, &schema())?;
    let u32s = |name: &str| super::read_u32s(&df, name);
    let f64s = |name: &str| super::read_f64s(&df, name);
    let valid: Vec<bool> = column(&df, "valid")?
        .bool()
        .with_context(|| format!("column `valid` in {}", path.display()))?
        .into_iter()
        .map(Option::unwrap_or_default)
        .collect();
    let (pair, project, strategy) = (
        read_strings(&df, "pair_id")?,
        read_strings(&df, "project_id")?,
        read_strings(&df, "strategy")?,
    );
    let (fold, exact, abstracted) = (u32s("fold")?, u32s("exact_rank")?, u32s("abstract_rank")?);
    let (bleu, style) = (f64s("sentence_bleu")?, f64s("style_similarity")?);
    Ok((0..pair.len())
        .map(|i| TestScoreRow {
            pair_id: pair[i].clone(),
            project_id: project[i].clone(),
            strategy: strategy[i].clone(),
            fold: fold[i],
            sentence_bleu: bleu[i],
            exact_rank: exact[i],
            abstract_rank: abstracted[i],
            style_similarity: style[i],
            valid: valid[i],
        })
        .collect())
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
