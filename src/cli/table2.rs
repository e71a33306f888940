//! `tailor table2`: Sample the target projects from the test split and print Table 2.

/// Sample the target projects from the test split and print Table 2.
#[derive(Debug, clap::Args)]
pub struct Args {}

pub fn run(_args: Args) -> anyhow::Result<()> {
    anyhow::bail!("`tailor table2` is being built")
}
