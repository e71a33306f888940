//! The `finetune` table (`out/tables/finetune.parquet`): one row per (project, strategy, fold)
//! customization run, baseline rows included, written as runs finish. The paper's §4.4 cost
//! comparison and Table 3's perplexity come from it.

use std::path::Path;

use anyhow::{Context, Result};
use polars::prelude::*;
use serde::{Deserialize, Serialize};

use super::{TableSchema, column, read_opt_strings, read_strings, read_table, write_table};

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

pub fn schema() -> TableSchema {
    use DataType::*;
    TableSchema {
        name: NAME,
        version: VERSION,
        columns: vec![
            ("project_id", String),
            ("strategy", String),
            ("fold", UInt32),
            ("status", String),
            ("error", String),
            ("trainable_params", UInt64),
            ("total_params", UInt64),
            ("adapter_bytes", UInt64),
            ("steps", UInt64),
            ("epochs", Float64),
            ("tokens", UInt64),
            ("pf_seconds", Float64),
            ("wall_seconds", Float64),
            ("best_val_loss", Float64),
            ("test_loss", Float64),
            ("test_perplexity", Float64),
            ("test_tokens", UInt64),
            ("train_examples", UInt64),
            ("valid_examples", UInt64),
            ("test_examples", UInt64),
            ("run_dir", String),
            ("stopped", String),
            ("best_step", UInt64),
            ("step0_val_loss", Float64),
            ("fold_hash", String),
            ("base_hash", String),
        ],
    }
}

pub fn write_rows(rows: &[FinetuneRow], path: &Path) -> Result<()> {
    let strs = |f: fn(&FinetuneRow) -> &str| rows.iter().map(f).collect::<Vec<_>>();
    let u64s = |f: fn(&FinetuneRow) -> u64| rows.iter().map(f).collect::<Vec<u64>>();
    let f64s = |f: fn(&FinetuneRow) -> f64| rows.iter().map(f).collect::<Vec<f64>>();
    let mut df = DataFrame::new(vec![
        Column::new("project_id".into(), strs(|r| &r.project_id)),
        Column::new("strategy".into(), strs(|r| &r.strategy)),
        Column::new(
            "fold".into(),
            rows.iter().map(|r| r.fold).collect::<Vec<u32>>(),
        ),
        Column::new("status".into(), strs(|r| &r.status)),
        Column::new(
            "error".into(),
            rows.iter()
                .map(|r| r.error.as_deref())
                .collect::<Vec<Option<&str>>>(),
        ),
        Column::new("trainable_params".into(), u64s(|r| r.trainable_params)),
        Column::new("total_params".into(), u64s(|r| r.total_params)),
        Column::new("adapter_bytes".into(), u64s(|r| r.adapter_bytes)),
        Column::new("steps".into(), u64s(|r| r.steps)),
        Column::new("epochs".into(), f64s(|r| r.epochs)),
        Column::new("tokens".into(), u64s(|r| r.tokens)),
        Column::new("pf_seconds".into(), f64s(|r| r.pf_seconds)),
        Column::new("wall_seconds".into(), f64s(|r| r.wall_seconds)),
        Column::new("best_val_loss".into(), f64s(|r| r.best_val_loss)),
        Column::new("test_loss".into(), f64s(|r| r.test_loss)),
        Column::new("test_perplexity".into(), f64s(|r| r.test_perplexity)),
        Column::new("test_tokens".into(), u64s(|r| r.test_tokens)),
        Column::new("train_examples".into(), u64s(|r| r.train_examples)),
        Column::new("valid_examples".into(), u64s(|r| r.valid_examples)),
        Column::new("test_examples".into(), u64s(|r| r.test_examples)),
        Column::new("run_dir".into(), strs(|r| &r.run_dir)),
        Column::new("stopped".into(), strs(|r| &r.stopped)),
        Column::new("best_step".into(), u64s(|r| r.best_step)),
        Column::new("step0_val_loss".into(), f64s(|r| r.step0_val_loss)),
        Column::new("fold_hash".into(), strs(|r| &r.fold_hash)),
        Column::new("base_hash".into(), strs(|r| &r.base_hash)),
    ])?;
    // An all-null error column is typed Null; the schema says String.
    df.with_column(df.column("error")?.cast(&DataType::String)?)?;
    write_table(&mut df, path, &schema())
}

pub fn read_rows(path: &Path) -> Result<Vec<FinetuneRow>> {
    let df = read_table(path, &schema())?;
    let u64s = |name: &str| super::read_u64s(&df, name);
    let f64s = |name: &str| super::read_f64s(&df, name);
    let folds: Vec<u32> = column(&df, "fold")?
        .u32()
        .context("column `fold`")?
        .into_iter()
        .map(|v| v.unwrap_or_default())
        .collect();
    let (project, strategy, status, run_dir) = (
        read_strings(&df, "project_id")?,
        read_strings(&df, "strategy")?,
        read_strings(&df, "status")?,
        read_strings(&df, "run_dir")?,
    );
    let (stopped, fold_hash, base_hash) = (
        read_strings(&df, "stopped")?,
        read_strings(&df, "fold_hash")?,
        read_strings(&df, "base_hash")?,
    );
    let (best_step, step0) = (u64s("best_step")?, f64s("step0_val_loss")?);
    let error = read_opt_strings(&df, "error")?;
    let (trainable, total, adapter, steps, tokens, test_tokens) = (
        u64s("trainable_params")?,
        u64s("total_params")?,
        u64s("adapter_bytes")?,
        u64s("steps")?,
        u64s("tokens")?,
        u64s("test_tokens")?,
    );
    let (train_n, valid_n, test_n) = (
        u64s("train_examples")?,
        u64s("valid_examples")?,
        u64s("test_examples")?,
    );
    let (epochs, pf, wall, best, test_loss, test_ppl) = (
        f64s("epochs")?,
        f64s("pf_seconds")?,
        f64s("wall_seconds")?,
        f64s("best_val_loss")?,
        f64s("test_loss")?,
        f64s("test_perplexity")?,
    );
    Ok((0..project.len())
        .map(|i| FinetuneRow {
            project_id: project[i].clone(),
            strategy: strategy[i].clone(),
            fold: folds[i],
            status: status[i].clone(),
            error: error[i].clone(),
            trainable_params: trainable[i],
            total_params: total[i],
            adapter_bytes: adapter[i],
            steps: steps[i],
            epochs: epochs[i],
            tokens: tokens[i],
            pf_seconds: pf[i],
            wall_seconds: wall[i],
            best_val_loss: best[i],
            test_loss: test_loss[i],
            test_perplexity: test_ppl[i],
            test_tokens: test_tokens[i],
            train_examples: train_n[i],
            valid_examples: valid_n[i],
            test_examples: test_n[i],
            run_dir: run_dir[i].clone(),
            stopped: stopped[i].clone(),
            best_step: best_step[i],
            step0_val_loss: step0[i],
            fold_hash: fold_hash[i].clone(),
            base_hash: base_hash[i].clone(),
        })
        .collect())
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
