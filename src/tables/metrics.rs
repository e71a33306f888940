//! The `metrics` table (`out/tables/metrics.parquet`): one row per (project, strategy, fold,
//! metric), long format, so a report or a notebook pivots whichever metrics it needs and a new
//! metric is a new name, not a schema change.
//!
//! Metric names are the constants of `crate::evaluate::metric`; values are on the scale the
//! name says (`bleu4_*` 0–100, rates 0–1, `n` a count).

use std::path::Path;

use anyhow::Result;
use serde::{Deserialize, Serialize};

use super::{TableSchema, columns};

/// Bumped whenever a column is added, removed or changes meaning.
pub const VERSION: u32 = 1;
pub const NAME: &str = "metrics";

/// One metric of one evaluated run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricRow {
    pub project_id: String,
    pub strategy: String,
    pub fold: u32,
    pub metric: String,
    pub value: f64,
}

columns! {
    MetricRow {
        project_id,
        strategy,
        fold,
        metric,
        value,
    }
}

/// The declared schema of `metrics`.
pub fn schema() -> TableSchema {
    TableSchema::of::<MetricRow>(NAME, VERSION)
}

/// Writes `metrics` atomically.
pub fn write_rows(rows: &[MetricRow], path: &Path) -> Result<()> {
    super::write_rows(rows, path, &schema())
}

/// Reads and checks `metrics`.
pub fn read_rows(path: &Path) -> Result<Vec<MetricRow>> {
    super::read_rows(path, &schema())
}

/// Replace every metric of the runs in `rows` and rewrite the table atomically (sorted, so the
/// file does not depend on the order runs finished in).
pub fn upsert(path: &Path, rows: &[MetricRow]) -> Result<()> {
    let mut all = super::merge_runs(path, rows, read_rows)?;
    all.sort_by(|a, b| {
        (&a.project_id, &a.strategy, a.fold, &a.metric).cmp(&(
            &b.project_id,
            &b.strategy,
            b.fold,
            &b.metric,
        ))
    });
    write_rows(&all, path)
}

impl super::RunRow for MetricRow {
    fn run(&self) -> (&str, &str, u32) {
        (&self.project_id, &self.strategy, self.fold)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(strategy: &str, metric: &str, value: f64) -> MetricRow {
        MetricRow {
            project_id: "demo".into(),
            strategy: strategy.into(),
            fold: 1,
            metric: metric.into(),
            value,
        }
    }

    #[test]
    fn upsert_replaces_a_runs_metrics_and_keeps_the_others() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("metrics.parquet");
        upsert(
            &path,
            &[row("custom", "n", 3.0), row("custom", "bleu4_corpus", 10.0)],
        )
        .unwrap();
        upsert(&path, &[row("baseline", "n", 3.0)]).unwrap();
        upsert(&path, &[row("custom", "n", 4.0)]).unwrap();
        assert_eq!(
            read_rows(&path).unwrap(),
            vec![row("baseline", "n", 3.0), row("custom", "n", 4.0)]
        );
    }
}
