//! Table rows for the report's unit tests: a finished customization run and a metric value,
//! with the fields a test does not care about set once here.

use crate::tables::finetune::{DONE, FinetuneRow};
use crate::tables::metrics::MetricRow;

/// A `done` fold-0 run of `strategy` on `project` that ended by early stopping; tests set the
/// fields they read (`pf_seconds`, `run_dir`, …) with struct update syntax.
pub fn finetune_row(project: &str, strategy: &str) -> FinetuneRow {
    FinetuneRow {
        project_id: project.into(),
        strategy: strategy.into(),
        fold: 0,
        status: DONE.into(),
        error: None,
        trainable_params: 10,
        total_params: 100,
        adapter_bytes: 40,
        steps: 30,
        epochs: 3.0,
        tokens: 3000,
        pf_seconds: 0.01,
        wall_seconds: 1.0,
        best_val_loss: 2.5,
        test_loss: 2.5,
        test_perplexity: 2.5f64.exp(),
        test_tokens: 100,
        train_examples: 8,
        valid_examples: 2,
        test_examples: 2,
        run_dir: String::new(),
        stopped: "early_stopping".into(),
        best_step: 20,
        step0_val_loss: 5.0,
        fold_hash: String::new(),
        base_hash: String::new(),
    }
}

/// A fold-0 value of `metric` for (`project`, `strategy`).
pub fn metric_row(project: &str, strategy: &str, metric: &str, value: f64) -> MetricRow {
    MetricRow {
        project_id: project.into(),
        strategy: strategy.into(),
        fold: 0,
        metric: metric.into(),
        value,
    }
}
