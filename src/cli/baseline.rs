//! `tailor baseline`: train (or resume, or report) the baseline test generator of a profile.

use anyhow::Result;

use super::{CUDA_HELP, DeviceArgs, ProfileOverrides, RunArgs};
use crate::pipeline::baseline::run_baseline;
use crate::train::baseline::BaselineOptions;

/// Train the baseline test generator: tokenizer and examples first if missing, then the one
/// training loop on the train split, early-stopped on the valid split. Resumes from the run's
/// checkpoint; a finished run is reported, not retrained.
#[derive(Debug, clap::Args)]
#[command(
    mut_arg("out", |a| a.help("Output folder (tables, runs, figures)")),
    mut_arg("profile", |a| a.help(
        "Training profile: a name under pipelines/train/ (smoke, cpu, paper) or a TOML file"
    )),
    mut_arg("overrides", |a| a.help(
        "Override a profile field, `section.key=value` (repeatable): `--set train.lr=3e-4`"
    )),
    mut_arg("cuda", |a| a.help(CUDA_HELP)),
)]
pub struct Args {
    #[command(flatten)]
    pub run: RunArgs,
    #[command(flatten)]
    pub overrides: ProfileOverrides,
    #[command(flatten)]
    pub device: DeviceArgs,
    /// Peak TFLOP/s of the hardware, to report model-FLOP utilisation.
    #[arg(long)]
    pub peak_tflops: Option<f64>,
    /// Validation focal methods to generate tests for at the end, printed beside the real ones.
    #[arg(long, default_value_t = 5)]
    pub samples: usize,
}

pub fn run(args: Args) -> Result<()> {
    let profile = args.overrides.load(&args.run.profile)?;
    run_baseline(
        &profile,
        &BaselineOptions {
            out: args.run.out,
            backend: args.device.backend,
            cuda: args.device.cuda,
            peak_tflops: args.peak_tflops,
            samples: args.samples,
        },
    )?;
    Ok(())
}
