//! `tailor bench-model`: Benchmark training-step and beam-search throughput per backend.

/// Benchmark training-step and beam-search throughput per backend.
#[derive(Debug, clap::Args)]
pub struct Args {}

pub fn run(_args: Args) -> anyhow::Result<()> {
    anyhow::bail!("`tailor bench-model` is being built")
}
