//! `tailor bench-mixed` (`make bench-mixed`): requests/s of one base serving many projects'
//! adapters in mixed batches vs one project at a time ([`crate::bench::mixed`]).

use anyhow::Result;

use super::{DeviceArgs, RunArgs};
use crate::bench::mixed::{self, BenchMixedOptions};
use crate::evaluate::NUM_BEAMS;

#[derive(Debug, clap::Args)]
#[command(mut_arg("profile", |a| a.help("The profile whose finetune runs provide the adapters")))]
pub struct Args {
    #[command(flatten)]
    pub run: RunArgs,
    /// Test inputs per adapter (the first by pair id of its fold's test part).
    #[arg(long, default_value_t = 4)]
    pub requests_per_adapter: usize,
    /// Inputs generated at once.
    #[arg(long, default_value_t = 8)]
    pub batch_size: usize,
    /// Beam width (returned sequences = beams).
    #[arg(long, default_value_t = NUM_BEAMS)]
    pub num_beams: usize,
    /// Maximum output length [default: the baseline's generation_config.json, at most 64].
    #[arg(long)]
    pub max_length: Option<usize>,
    #[command(flatten)]
    pub device: DeviceArgs,
    #[arg(long, default_value_t = 2)]
    pub threads: usize,
    /// Timed repetitions of each way (alternating); the median is reported.
    #[arg(long, default_value_t = 3)]
    pub repeat: usize,
}

pub fn run(args: Args) -> Result<()> {
    mixed::run(&BenchMixedOptions {
        out: args.run.out,
        profile: args.run.profile,
        requests_per_adapter: args.requests_per_adapter,
        batch_size: args.batch_size,
        num_beams: args.num_beams,
        max_length: args.max_length,
        backend: args.device.backend,
        cuda: args.device.cuda,
        threads: args.threads,
        repeat: args.repeat,
    })
}
