//! The `predictions` table (`out/tables/predictions.parquet`): every ranked output of beam search
//! for every test pair of every evaluated (project, strategy, fold), written by `tailor evaluate`.
//!
//! It is also the evaluation's resume marker: a (project, strategy, fold) with rows here is done.
//! Metrics are recomputed from it, never the other way round, so a metric can change without
//! re-running generation.

use std::collections::BTreeSet;
use std::path::Path;

use anyhow::Result;
use polars::prelude::*;
use serde::{Deserialize, Serialize};

use super::{TableSchema, columns};

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

columns! {
    PredictionRow {
        pair_id,
        project_id,
        strategy,
        fold,
        rank,
        text,
        score,
    }
}

/// The declared schema of `predictions`.
pub fn schema() -> TableSchema {
    TableSchema::of::<PredictionRow>(NAME, VERSION)
}

/// Builds the table's DataFrame.
pub fn to_frame(rows: &[PredictionRow]) -> Result<DataFrame> {
    super::to_frame(rows)
}

/// Writes `predictions` atomically.
pub fn write_rows(rows: &[PredictionRow], path: &Path) -> Result<()> {
    super::write_rows(rows, path, &schema())
}

/// Reads and checks `predictions`.
pub fn read_rows(path: &Path) -> Result<Vec<PredictionRow>> {
    super::read_rows(path, &schema())
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
