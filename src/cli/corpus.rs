//! `tailor corpus`: Build project lists: every Java source package in apt's index, or a default chosen from a census.

/// Build project lists: every Java source package in apt's index, or a default chosen from a census.
#[derive(Debug, clap::Args)]
pub struct Args {}

pub fn run(_args: Args) -> anyhow::Result<()> {
    anyhow::bail!("`tailor corpus` is being built")
}
