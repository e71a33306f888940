//! `tailor model`: BART models: presets, parameter counts (Table 1), HF import/export.

/// BART models: presets, parameter counts (Table 1), HF import/export.
#[derive(Debug, clap::Args)]
pub struct Args {}

pub fn run(_args: Args) -> anyhow::Result<()> {
    anyhow::bail!("`tailor model` is being built")
}
