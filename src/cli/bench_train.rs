//! `tailor bench-train` (`make bench-train`, `make bench-finetune`): the training loop's speed
//! on real batches of the examples table ([`crate::bench::train`]).

use std::path::PathBuf;

use anyhow::Result;

use super::finetune::parse_strategies;
use super::{ProfileOverrides, RunArgs};
use crate::bench::train::{self, BenchTrainOptions};
use crate::model::Backend;
use crate::strategy::StrategyKind;

/// Measure the training loop and each strategy's step on real batches, beside PyTorch.
#[derive(Debug, clap::Args)]
#[command(
    mut_arg("out", |a| a.help(
        "Output folder holding tables/examples.parquet and tokenizer/ (`make examples`)"
    )),
    mut_arg("profile", |a| a.help(
        "Profile for the model preset, token budget and (for strategies) the finetune settings"
    )),
)]
pub struct Args {
    #[command(flatten)]
    pub run: RunArgs,
    #[command(flatten)]
    pub overrides: ProfileOverrides,
    /// Timed steps (after --warmup untimed ones).
    #[arg(long, default_value_t = 8)]
    pub steps: usize,
    #[arg(long, default_value_t = 2)]
    pub warmup: usize,
    /// Backends to measure (repeatable); default: every compiled one.
    #[arg(long, value_enum)]
    pub backend: Vec<Backend>,
    /// Strategies whose bare step to measure, comma-separated (`all` for the five).
    #[arg(long, value_delimiter = ',', default_value = "custom")]
    pub strategies: Vec<String>,
    /// Skip the full-loop measurement.
    #[arg(long)]
    pub no_loop: bool,
    #[arg(long)]
    pub cuda: bool,
    /// A Python with torch + transformers: also run the PyTorch peer on the same batches.
    #[arg(long)]
    pub pytorch_python: Option<PathBuf>,
    #[arg(long, default_value = "pipelines/python/bench_train_step.py")]
    pub peer_script: PathBuf,
}

pub fn run(args: Args) -> Result<()> {
    let profile = args.overrides.load(&args.run.profile)?;
    // Retrieval trains nothing: only the learned strategies have a step to time.
    let kinds = parse_strategies(&args.strategies)?
        .map(|choice| choice.kinds)
        .filter(|kinds| !kinds.is_empty())
        .unwrap_or_else(|| vec![StrategyKind::Custom]);
    train::run(&BenchTrainOptions {
        out: args.run.out,
        profile,
        steps: args.steps,
        warmup: args.warmup,
        backends: args.backend,
        kinds,
        no_loop: args.no_loop,
        cuda: args.cuda,
        pytorch_python: args.pytorch_python,
        peer_script: args.peer_script,
    })
}
