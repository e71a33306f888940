//! The `finetune` table (`out/tables/finetune.parquet`): one row per (project, strategy, fold)
//! customization run, baseline rows included, written as runs finish. The paper's §4.4 cost
//! comparison and Table 3's perplexity come from it.

use std::path::Path;

use anyhow::Result;
use serde::{Deserialize, Serialize};

use super::{TableSchema, columns};

/// Bumped whenever a column is added, removed or changes meaning.
pub const VERSION: u32 = 2;
pub const NAME: &str = "finetune";

/// One customization run (or the baseline evaluated on the same test part).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FinetuneRow {
    pub project_id: String,
    /// `baseline`, `custom`, `l-eo`, `l-ldb`, `prefix` or `lora`.
    pub strategy: String,
    pub fold: u32,
    /// [`DONE`], [`ERROR`], [`UNTRAINED`], [`CAPPED`] or [`STALE`]: only `done` rows are
    /// evaluated and reported.
    pub status: String,
    pub error: Option<String>,
    pub trainable_params: u64,
    pub total_params: u64,
    /// Bytes of the stored adapter (`adapter.safetensors`); 0 for the baseline.
    pub adapter_bytes: u64,
    pub steps: u64,
    pub epochs: f64,
    pub tokens: u64,
    pub pf_seconds: f64,
    pub wall_seconds: f64,
    pub best_val_loss: f64,
    pub test_loss: f64,
    pub test_perplexity: f64,
    pub test_tokens: u64,
    pub train_examples: u64,
    pub valid_examples: u64,
    pub test_examples: u64,
    /// The run folder (adapter under `best/`); empty for the baseline.
    pub run_dir: String,
    /// Why training stopped (`early_stopping`, `max_epochs`, `max_steps`, `max_minutes`);
    /// empty for the baseline and for errors.
    pub stopped: String,
    /// The step of the best validation loss, whose model the adapter holds (0: the untrained
    /// start).
    pub best_step: u64,
    /// Validation loss before the first step (the base with the strategy's modules attached).
    pub step0_val_loss: f64,
    /// Hash of the fold's membership (settings and train/valid/test pair ids) the run was
    /// trained and tested on: a row whose fold changed since is never reported.
    pub fold_hash: String,
    /// Content hash of the base model folder the run customized (or, for the baseline row,
    /// evaluated).
    pub base_hash: String,
}

/// A finished run whose numbers are reported.
pub const DONE: &str = "done";
/// A run that failed; `error` says why.
pub const ERROR: &str = "error";
/// A run whose best validation loss is its step-0 loss: its adapter is the untrained start, so
/// it is not a customization and is not reported as one.
pub const UNTRAINED: &str = "untrained";
/// A run the wall-time guard (`max_minutes`) stopped before early stopping: not trained to its
/// best validation loss as the recipe says, so it is not reported; a re-run with a larger guard
/// continues it.
pub const CAPPED: &str = "capped";
/// A finished run whose fold or base has changed since it was trained: kept for the record,
/// never evaluated or reported; `error` names its folder and the differences.
pub const STALE: &str = "stale";

columns! {
    FinetuneRow {
        project_id,
        strategy,
        fold,
        status,
        error,
        trainable_params,
        total_params,
        adapter_bytes,
        steps,
        epochs,
        tokens,
        pf_seconds,
        wall_seconds,
        best_val_loss,
        test_loss,
        test_perplexity,
        test_tokens,
        train_examples,
        valid_examples,
        test_examples,
        run_dir,
        stopped,
        best_step,
        step0_val_loss,
        fold_hash,
        base_hash,
    }
}

/// The declared schema of `finetune`.
pub fn schema() -> TableSchema {
    TableSchema::of::<FinetuneRow>(NAME, VERSION)
}

/// Writes `finetune` atomically.
pub fn write_rows(rows: &[FinetuneRow], path: &Path) -> Result<()> {
    super::write_rows(rows, path, &schema())
}

/// Reads and checks `finetune`.
pub fn read_rows(path: &Path) -> Result<Vec<FinetuneRow>> {
    super::read_rows(path, &schema())
}

/// Insert or replace the row of (project, strategy, fold) and rewrite the table atomically, so
/// an interrupted sweep keeps every finished row.
pub fn upsert(path: &Path, row: FinetuneRow) -> Result<()> {
    let mut rows = super::merge_runs(path, std::slice::from_ref(&row), read_rows)?;
    rows.sort_by(|a, b| {
        (&a.project_id, &a.strategy, a.fold).cmp(&(&b.project_id, &b.strategy, b.fold))
    });
    write_rows(&rows, path)
}

impl super::RunRow for FinetuneRow {
    fn run(&self) -> (&str, &str, u32) {
        (&self.project_id, &self.strategy, self.fold)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(project: &str, strategy: &str, fold: u32, loss: f64) -> FinetuneRow {
        FinetuneRow {
            project_id: project.into(),
            strategy: strategy.into(),
            fold,
            status: "done".into(),
            error: None,
            trainable_params: 10,
            total_params: 100,
            adapter_bytes: 40,
            steps: 5,
            epochs: 1.5,
            tokens: 1000,
            pf_seconds: 1e-6,
            wall_seconds: 2.0,
            best_val_loss: loss,
            test_loss: loss,
            test_perplexity: loss.exp(),
            test_tokens: 50,
            train_examples: 30,
            valid_examples: 3,
            test_examples: 10,
            run_dir: "out/runs/x".into(),
            stopped: "early_stopping".into(),
            best_step: 4,
            step0_val_loss: loss + 1.0,
            fold_hash: "f".into(),
            base_hash: "b".into(),
        }
    }

    #[test]
    fn upsert_replaces_the_same_run_and_keeps_the_others() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("finetune.parquet");
        upsert(&path, row("a", "l-ldb", 0, 2.0)).unwrap();
        upsert(&path, row("a", "l-ldb", 1, 3.0)).unwrap();
        let mut failed = row("a", "l-ldb", 0, f64::NAN);
        failed.status = "error".into();
        failed.error = Some("boom".into());
        upsert(&path, failed.clone()).unwrap();
        let rows = read_rows(&path).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].error.as_deref(), Some("boom"));
        assert_eq!(rows[1], row("a", "l-ldb", 1, 3.0));
    }
}
