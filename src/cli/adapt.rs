//! `tailor adapt`: customize the base on a developer's own repository and register the adapter.

use std::path::PathBuf;

use anyhow::Result;

use super::{DeviceArgs, ProfileOverrides, RunArgs};
use crate::adapt::train::StrategyRequest;
use crate::adapt::{AdaptOptions, DEFAULT_MAX_TEST, adapt};

/// Adapt the base model to your own repository: mine its tests with the base's tokenizer and
/// the profile's settings (never touching the corpus, its tables or the base), split its pairs
/// into training, validation and test parts, customize on them, compare the adapted model with
/// the base and with retrieval on the held-out tests, and register the adapter under
/// OUT/adapters/NAME for `tailor suggest` and `tailor serve`. Running it again is cheap when
/// nothing changed; after new commits it says what changed and customizes again; an interrupted
/// run resumes from its checkpoint.
#[derive(Debug, clap::Args)]
#[command(
    mut_arg("out", |a| a.help(
        "Output folder: OUT/adapters/NAME is written; the profile's baseline under OUT/runs is \
         the default base"
    )),
    mut_arg("profile", |a| a.help(
        "Training profile (cpu, smoke, … or a TOML file): its [data] builds the inputs, its \
         [finetune] customizes"
    )),
    mut_arg("overrides", |a| a.help(
        "Override a profile field, `section.key=value` (repeatable): \
         `--set finetune.train.max_minutes=0`"
    )),
    mut_arg("cuda", |a| a.help(super::CUDA_HELP)),
)]
pub struct Args {
    #[command(flatten)]
    pub run: RunArgs,
    #[command(flatten)]
    pub overrides: ProfileOverrides,
    /// The repository: a local folder (mined in place) or a git URL (https://, ssh://, file://,
    /// user@host:path; cloned into OUT/adapters/NAME/checkout, fetched again on re-runs).
    #[arg(long, value_name = "PATH|GIT_URL")]
    pub repo: String,
    /// The project's name, as `suggest --project` takes it [default: the repository's folder
    /// or URL name].
    #[arg(long)]
    pub name: Option<String>,
    /// Customization strategy: lora, prefix, l-ldb, custom, l-eo, or auto (the largest mean
    /// test-loss drop measured on this base in OUT/tables/finetune.parquet within the
    /// profile's finetune.train.max_minutes; lora when nothing is measured) [default: lora,
    /// whose adapters share `serve`'s batches with other projects and load in PEFT].
    #[arg(long, value_name = "STRATEGY")]
    pub strategy: Option<StrategyRequest>,
    /// The base model folder [default: OUT/runs/baseline/PROFILE/best].
    #[arg(long, value_name = "DIR")]
    pub base: Option<PathBuf>,
    /// Held-out test pairs to run beam search on (the test loss uses them all).
    #[arg(long, value_name = "N", default_value_t = DEFAULT_MAX_TEST)]
    pub max_test: usize,
    #[command(flatten)]
    pub device: DeviceArgs,
}

pub fn run(args: Args) -> Result<()> {
    let profile = args.overrides.load(&args.run.profile)?;
    adapt(&AdaptOptions {
        out: args.run.out,
        profile,
        repo: args.repo,
        name: args.name,
        strategy: args.strategy,
        base: args.base,
        backend: args.device.backend,
        cuda: args.device.cuda,
        max_test: args.max_test,
    })
    .map(|_| ())
}
