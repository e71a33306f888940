//! One file per subcommand: each parses its arguments and calls one library function.
//!
//! Every stage's logic lives in the library (`pipeline`, `train`, `evaluate`, `generate`,
//! `bench`, …); a file here turns flags into that function's options, so `tailor` is a thin
//! shell over `tailor::*` and nothing outside this folder and `main.rs` imports it.
//!
//! Options several commands share are the flattened structs below. They give each flag its name,
//! default and value name once; its help is the command's own (`#[command(mut_arg(..))]` in the
//! command's `Args`), because what `--out` must hold or which runs `--profile` names differs from
//! one command to the next.

use std::path::PathBuf;

use anyhow::Result;

use crate::model::Backend;
use crate::profile::Profile;

pub mod acquire;
pub mod adapt;
pub mod baseline;
pub mod bench_heatmap;
pub mod bench_mine;
pub mod bench_mixed;
pub mod bench_model;
pub mod bench_serve;
pub mod bench_train;
pub mod corpus;
pub mod evaluate;
pub mod examples;
pub mod export_check;
pub mod finetune;
pub mod generate;
pub mod heatmap;
pub mod mine;
pub mod model;
pub mod report;
pub mod retrieve;
pub mod serve;
pub mod suggest;
pub mod table2;

/// The help of `--cuda` where a command documents it.
pub const CUDA_HELP: &str = "Run on CUDA GPU 0 (tch backend)";

/// `--out` and `--profile`: the output folder a command works in and the training profile whose
/// runs it trains, evaluates, measures or reports.
#[derive(Debug, Clone, clap::Args)]
pub struct RunArgs {
    #[arg(long, default_value = "out")]
    pub out: PathBuf,
    #[arg(long, default_value = "cpu")]
    pub profile: String,
}

/// `--set KEY=VALUE` (repeatable): profile fields overridden for this run.
#[derive(Debug, Clone, clap::Args)]
pub struct ProfileOverrides {
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub overrides: Vec<String>,
}

impl ProfileOverrides {
    /// The profile `name_or_path` with these overrides applied.
    pub fn load(&self, name_or_path: &str) -> Result<Profile> {
        Profile::load(name_or_path, &self.overrides)
    }
}

/// `--backend` and `--cuda`: where a command's models run.
#[derive(Debug, Clone, Copy, clap::Args)]
pub struct DeviceArgs {
    #[arg(long, value_enum, default_value_t = Backend::Flex)]
    pub backend: Backend,
    #[arg(long)]
    pub cuda: bool,
}
