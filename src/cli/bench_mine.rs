//! `tailor bench-mine`: Benchmark extraction: MB/s, files/s, share of time in tree-sitter, peak RSS.

/// Benchmark extraction: MB/s, files/s, share of time in tree-sitter, peak RSS.
#[derive(Debug, clap::Args)]
pub struct Args {}

pub fn run(_args: Args) -> anyhow::Result<()> {
    anyhow::bail!("`tailor bench-mine` is being built")
}
