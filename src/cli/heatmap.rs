//! `tailor heatmap`: Per-project token sets, the shared-token ratio matrix, its summary and Figure 1.

/// Per-project token sets, the shared-token ratio matrix, its summary and Figure 1.
#[derive(Debug, clap::Args)]
pub struct Args {}

pub fn run(_args: Args) -> anyhow::Result<()> {
    anyhow::bail!("`tailor heatmap` is being built")
}
