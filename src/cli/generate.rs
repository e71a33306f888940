//! `tailor generate`: Generate test cases for focal methods with greedy or beam search.

/// Generate test cases for focal methods with greedy or beam search.
#[derive(Debug, clap::Args)]
pub struct Args {}

pub fn run(_args: Args) -> anyhow::Result<()> {
    anyhow::bail!("`tailor generate` is being built")
}
