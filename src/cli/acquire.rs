//! `tailor acquire`: Fetch the projects of a corpus into checkouts (git, local folders, Debian source packages).

/// Fetch the projects of a corpus into checkouts (git, local folders, Debian source packages).
#[derive(Debug, clap::Args)]
pub struct Args {}

pub fn run(_args: Args) -> anyhow::Result<()> {
    anyhow::bail!("`tailor acquire` is being built")
}
