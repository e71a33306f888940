//! `tailor mine`: Acquire a corpus, extract focal-method/test pairs, write projects and pairs tables, print Table 2.

/// Acquire a corpus, extract focal-method/test pairs, write projects and pairs tables, print Table 2.
#[derive(Debug, clap::Args)]
pub struct Args {}

pub fn run(_args: Args) -> anyhow::Result<()> {
    anyhow::bail!("`tailor mine` is being built")
}
