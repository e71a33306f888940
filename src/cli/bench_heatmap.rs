//! `tailor bench-heatmap`: Benchmark the shared-token matrix on synthetic Zipf corpora.

/// Benchmark the shared-token matrix on synthetic Zipf corpora.
#[derive(Debug, clap::Args)]
pub struct Args {}

pub fn run(_args: Args) -> anyhow::Result<()> {
    anyhow::bail!("`tailor bench-heatmap` is being built")
}
