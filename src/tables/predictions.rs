//! The `predictions` table (`out/tables/predictions.parquet`): every ranked output of beam search
//! for every test pair of every evaluated (project, strategy, fold), written by `tailor evaluate`.
//!
//! It is also the evaluation's resume marker: a (project, strategy, fold) with rows here is done.
//! Metrics are recomputed from it, never the other way round, so a metric can change without
//! re-running generation.
//!
//! Retrieval's rows (`ir`, and the `ir+<model>` reranking runs) name the training pair each
//! output was retrieved from, so every such prediction can be traced to its source and checked
//! for leakage.

use std::collections::BTreeSet;
use std::path::Path;

use anyhow::Result;
use polars::prelude::*;
use serde::{Deserialize, Serialize};

use super::{TableSchema, columns};

/// Bumped whenever a column is added, removed or changes meaning. 2: `source_pair_id` and
/// `source_score` (issue 17); version-1 tables still read, with both null ([`schema`]).
pub const VERSION: u32 = 2;
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
    /// Beam search's hypothesis score (length-penalised sum of log-probabilities); for `ir`,
    /// the retrieval score; for `ir+<model>`, the negative mean token NLL the model reranked by.
    pub score: f64,
    /// For retrieval's outputs (`ir` and every `ir+<model>`): the training pair whose test,
    /// names adapted, this output is, so a prediction can be traced to its source (and shown to
    /// come from the fold's training part). `None` for a model's generated outputs, and for
    /// retrieval rows written before version 2.
    pub source_pair_id: Option<String>,
    /// The source pair's retrieval (BM25) score for this test's focal method: `score` itself
    /// for `ir`, the order before reranking for `ir+<model>`. `None` exactly when
    /// `source_pair_id` is.
    pub source_score: Option<f64>,
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
        source_pair_id,
        source_score,
    }
}

/// The declared schema of `predictions`. A version-1 table (before `source_pair_id` and
/// `source_score`) is read with both columns null: its outputs took hours of beam search, and
/// nothing else in it changed, so it is upgraded rather than refused. Its `ir` rows stay
/// untraced until their runs are evaluated again; the next write stores the table as version 2.
pub fn schema() -> TableSchema {
    TableSchema::of::<PredictionRow>(NAME, VERSION).upgrading(1, from_version_1)
}

/// A version-1 frame with the source columns added, all null.
fn from_version_1(mut df: DataFrame) -> PolarsResult<DataFrame> {
    let height = df.height();
    df.with_column(Column::full_null(
        "source_pair_id".into(),
        height,
        &DataType::String,
    ))?;
    df.with_column(Column::full_null(
        "source_score".into(),
        height,
        &DataType::Float64,
    ))?;
    Ok(df)
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
    use crate::tables::{read_table, write_table};

    fn row(strategy: &str, rank: u32) -> PredictionRow {
        PredictionRow {
            pair_id: "p1".into(),
            project_id: "demo".into(),
            strategy: strategy.into(),
            fold: 0,
            rank,
            text: format!("@Test void t{rank}() {{}}"),
            score: -0.5 * f64::from(rank),
            source_pair_id: None,
            source_score: None,
        }
    }

    /// An `ir` output, retrieved from training pair `source`.
    fn retrieved(source: &str, rank: u32) -> PredictionRow {
        PredictionRow {
            score: 10.0 / f64::from(rank),
            source_pair_id: Some(source.into()),
            source_score: Some(10.0 / f64::from(rank)),
            ..row("ir", rank)
        }
    }

    #[test]
    fn a_retrieved_output_keeps_its_source_pair_through_the_table() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("predictions.parquet");
        let rows = vec![retrieved("t7", 1), retrieved("t3", 2), row("baseline", 1)];
        write_rows(&rows, &path).unwrap();
        assert_eq!(read_rows(&path).unwrap(), rows);
    }

    #[test]
    fn a_version_1_table_reads_with_no_sources_and_is_rewritten_as_version_2() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("predictions.parquet");
        // Version 1 as it was written: the columns before the sources, stamped version 1.
        let mut v1 = df!(
            "pair_id" => ["p1", "p1"],
            "project_id" => ["demo", "demo"],
            "strategy" => ["ir", "baseline"],
            "fold" => [0u32, 0],
            "rank" => [1u32, 1],
            "text" => ["@Test void t1() {}", "@Test void t1() {}"],
            "score" => [5.0, -0.5],
        )
        .unwrap();
        let mut old = schema();
        old.version = 1;
        old.columns
            .retain(|(name, _)| !matches!(*name, "source_pair_id" | "source_score"));
        write_table(&mut v1, &path, &old).unwrap();

        let rows = read_rows(&path).unwrap();
        let expected = vec![
            PredictionRow {
                score: 5.0,
                ..row("ir", 1)
            },
            PredictionRow {
                score: -0.5,
                ..row("baseline", 1)
            },
        ];
        assert_eq!(rows, expected);
        assert_eq!(evaluated_runs(&path).unwrap().len(), 2);

        // Evaluating the `ir` run again replaces its untraced rows, keeps the others, and stores
        // the table at the current version.
        append(&path, &[retrieved("t7", 1)]).unwrap();
        let mut current = schema();
        current.upgrades.clear();
        let df = read_table(&path, &current).unwrap();
        assert_eq!(df.height(), 2);
        assert_eq!(df.column("source_pair_id").unwrap().null_count(), 1);
    }

    #[test]
    fn a_version_other_than_1_or_2_is_still_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("predictions.parquet");
        let mut old = schema();
        old.version = 0;
        write_table(&mut to_frame(&[row("ir", 1)]).unwrap(), &path, &old).unwrap();
        let err = format!("{:#}", read_rows(&path).unwrap_err());
        assert!(err.contains("schema version 0"), "{err}");
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
