//! The `predictions` table (`out/tables/predictions.parquet`): every ranked output of beam search
//! for every test pair of every evaluated (project, strategy, fold), written by `tailor evaluate`.
//!
//! It is also the evaluation's resume marker: a (project, strategy, fold) with rows here is done.
//! Metrics are recomputed from it, never the other way round, so a metric can change without
//! re-running generation.

use std::collections::BTreeSet;
use std::path::Path;

use anyhow::{Context, Result};
use polars::prelude::*;
use serde::{Deserialize, Serialize};

use super::{TableSchema, column, read_strings, read_table, write_table};

/// Bumped whenever a column is added, removed or changes meaning.
pub const VERSION: u32 = 1;
pub const NAME: &str = "predictions";

/// One returned sequence of beam search.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PredictionRow {
    pub pair_id: String,
    pub project_id: String,
    /// `baseline`, `custom`, `l-eo`, `l-ldb`, `prefix` or `lora`.
    pub strategy: String,
    pub fold: u32,
    /// 1 = the best hypothesis.
    pub rank: u32,
    /// The decoded test, special tokens removed.
    pub text: String,
    /// Beam search's hypothesis score (length-penalised sum of log-probabilities).
    pub score: f64,
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
            ("rank", UInt32),
            ("text", String),
            ("score", Float64),
        ],
    }
}

pub fn to_frame(rows: &[PredictionRow]) -> Result<DataFrame> {
    let strs = |f: fn(&PredictionRow) -> &str| rows.iter().map(f).collect::<Vec<_>>();
    let u32s = |f: fn(&PredictionRow) -> u32| rows.iter().map(f).collect::<Vec<u32>>();
    Ok(DataFrame::new(vec![
        Column::new("pair_id".into(), strs(|r| &r.pair_id)),
        Column::new("project_id".into(), strs(|r| &r.project_id)),
        Column::new("strategy".into(), strs(|r| &r.strategy)),
        Column::new("fold".into(), u32s(|r| r.fold)),
        Column::new("rank".into(), u32s(|r| r.rank)),
        Column::new("text".into(), strs(|r| &r.text)),
        Column::new(
            "score".into(),
            rows.iter().map(|r| r.score).collect::<Vec<f64>>(),
        ),
    ])?)
}

pub fn write_rows(rows: &[PredictionRow], path: &Path) -> Result<()> {
    write_table(&mut to_frame(rows)?, path, &schema())
}

pub fn read_rows(path: &Path) -> Result<Vec<PredictionRow>> {
    let df = read_table(path, &schema())?;
    let u32s = |name: &str| super::read_u32s(&df, name);
    let scores: Vec<f64> = column(&df, "score")?
        .f64()
        .with_context(|| format!("column `score` in {}", path.display()))?
        .into_iter()
        .map(|v| v.unwrap_or(f64::NAN))
        .collect();
    let (pair, project, strategy, text) = (
        read_strings(&df, "pair_id")?,
        read_strings(&df, "project_id")?,
        read_strings(&df, "strategy")?,
        read_strings(&df, "text")?,
    );
    let (fold, rank) = (u32s("fold")?, u32s("rank")?);
    Ok((0..pair.len())
        .map(|i| PredictionRow {
            pair_id: pair[i].clone(),
            project_id: project[i].clone(),
            strategy: strategy[i].clone(),
            fold: fold[i],
            rank: rank[i],
            text: text[i].clone(),
            score: scores[i],
        })
        .collect())
}

/// The (project, strategy, fold) runs that already have predictions: what a re-run skips.
pub fn evaluated_runs(path: &Path) -> Result<BTreeSet<(String, String, u32)>> {
    if !path.exists() {
        return Ok(BTreeSet::new());
    }
    Ok(read_rows(path)?
        .into_iter()
        .map(|r| (r.project_id, r.strategy, r.fold))
        .collect())
}

/// Replace the rows of the runs in `rows` (by project, strategy, fold) and rewrite the table
/// atomically, so an interrupted evaluation keeps every finished run and never half of one.
pub fn append(path: &Path, rows: &[PredictionRow]) -> Result<()> {
    write_rows(&super::merge_runs(path, rows, read_rows)?, path)
}

impl super::RunRow for PredictionRow {
    fn run(&self) -> (&str, &str, u32) {
        (&self.project_id, &self.strategy, self.fold)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(strategy: &str, rank: u32) -> PredictionRow {
        PredictionRow {
            pair_id: "p1".into(),
            project_id: "demo".into(),
            strategy: strategy.into(),
            fold: 0,
            rank,
            text: format!("@Test void t{rank}() {{}}"),
            score: -0.5 * f64::from(rank),
        }
    }

    #[test]
    fn appending_a_run_again_replaces_it_and_keeps_the_others() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("predictions.parquet");
        append(&path, &[row("baseline", 1), row("baseline", 2)]).unwrap();
        append(&path, &[row("custom", 1)]).unwrap();
        append(&path, &[row("baseline", 1)]).unwrap();
        let rows = read_rows(&path).unwrap();
        assert_eq!(rows, vec![row("custom", 1), row("baseline", 1)]);
        let runs = evaluated_runs(&path).unwrap();
        assert_eq!(runs.len(), 2);
    }
}
