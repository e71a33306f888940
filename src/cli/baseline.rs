//! `tailor baseline`: train (or resume, or report) the baseline test generator of a profile.

use std::path::PathBuf;

use anyhow::Result;

use crate::model::Backend;
use crate::train::baseline::{BaselineOptions, run_baseline};
use crate::train::settings::Profile;

/// Train the baseline test generator: tokenizer and examples first if missing, then the one
/// training loop on the train split, early-stopped on the valid split. Resumes from the run's
/// checkpoint; a finished run is reported, not retrained.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Output folder (tables, runs, figures).
    #[arg(long, default_value = "out")]
    pub out: PathBuf,
    /// Training profile: a name under pipelines/train/ (smoke, cpu, paper) or a TOML file.
    #[arg(long, default_value = "cpu")]
    pub profile: String,
    /// Override a profile field, `section.key=value` (repeatable): `--set train.lr=3e-4`.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub overrides: Vec<String>,
    #[arg(long, value_enum, default_value_t = Backend::Flex)]
    pub backend: Backend,
    /// Run on CUDA GPU 0 (tch backend).
    #[arg(long)]
    pub cuda: bool,
    /// Peak TFLOP/s of the hardware, to report model-FLOP utilisation.
    #[arg(long)]
    pub peak_tflops: Option<f64>,
    /// Validation focal methods to generate tests for at the end, printed beside the real ones.
    #[arg(long, default_value_t = 5)]
    pub samples: usize,
}

pub fn run(args: Args) -> Result<()> {
    let profile = Profile::load(&args.profile, &args.overrides)?;
    run_baseline(
        &profile,
        &BaselineOptions {
            out: args.out,
            backend: args.backend,
            cuda: args.cuda,
            peak_tflops: args.peak_tflops,
            samples: args.samples,
        },
    )?;
    Ok(())
}
