//! `tailor export-check`: texts, ids and logits of real examples for a model folder, for the HF
//! reference check ([`crate::pipeline::export_check`]).

use std::path::PathBuf;

use anyhow::Result;

use crate::model::Backend;
use crate::pipeline::export_check::{self, ExportCheck};

/// Write texts, tailor's ids and tailor's logits of real validation examples for a model folder,
/// for `pipelines/python/check_model_dir.py`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The model folder (config.json, model.safetensors, tokenizer.json).
    #[arg(long)]
    pub model: PathBuf,
    /// Output folder holding tables/examples.parquet.
    #[arg(long, default_value = "out")]
    pub out: PathBuf,
    /// Examples whose texts and ids to compare (untruncated, from the valid split first).
    #[arg(long, default_value_t = 1000)]
    pub texts: usize,
    /// Examples in the logits batch.
    #[arg(long, default_value_t = 8)]
    pub batch: usize,
    /// Where to write `texts.json` and `logits.safetensors`.
    #[arg(long)]
    pub dump: PathBuf,
    #[arg(long, value_enum, default_value_t = Backend::Flex)]
    pub backend: Backend,
}

pub fn run(args: Args) -> Result<()> {
    export_check::run(&ExportCheck {
        model: args.model,
        out: args.out,
        texts: args.texts,
        batch: args.batch,
        dump: args.dump,
        backend: args.backend,
    })
}
