//! `tailor model`: BART presets and their parameter counts (the paper's Table 1), fresh models
//! in HF layout, HF checkpoint conversion with a round-trip check, and the logits of a model (with
//! an adapter) for reference checks such as `make check-peft`.

use std::path::PathBuf;

use anyhow::Result;

use crate::model::Preset;
use crate::model::inspect;
use crate::strategy::adapter::load_flex_with_adapter;

/// BART models: presets, parameter counts (Table 1), HF import/export.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Print a model's shape, its parameters per group and the paper's Table 1 (trainable
    /// parameters per customization process) for it.
    Info {
        /// A preset (`large` is the paper's bart-large: 406M parameters).
        #[arg(long, conflicts_with = "model")]
        preset: Option<Preset>,
        /// A model folder (its config.json) instead of a preset.
        #[arg(long)]
        model: Option<PathBuf>,
        /// Prefix length for the Prefix row (paper: 200 virtual tokens).
        #[arg(long, default_value_t = 200)]
        prefix_len: usize,
    },
    /// Write a randomly initialised model (HF's init: N(0, init_std)) as config.json +
    /// model.safetensors, loadable by `transformers`' `from_pretrained`.
    Init {
        #[arg(long, default_value = "small")]
        preset: Preset,
        /// Override the preset's vocabulary size (to match a trained tokenizer).
        #[arg(long)]
        vocab_size: Option<usize>,
        #[arg(long)]
        out: PathBuf,
        #[arg(long, default_value_t = 0)]
        seed: u64,
    },
    /// Load a HF model folder (config.json + model.safetensors), write it back out, and check
    /// that every tensor survives bit for bit and the written folder loads again.
    Convert {
        /// HF model folder to read.
        #[arg(long)]
        model: PathBuf,
        /// Folder to write.
        #[arg(long)]
        out: PathBuf,
    },
    /// Compute a model's logits (with an adapter, if given) for token ids and write inputs and
    /// logits as safetensors (`input_ids`, `attention_mask`, `decoder_input_ids` as i64,
    /// `logits` as f32), for a reference implementation to compare with
    /// (`pipelines/python/check_peft.py`).
    Logits {
        /// Base model folder (config.json + model.safetensors).
        #[arg(long)]
        model: PathBuf,
        /// Adapter folder saved for this base (adapter.json + adapter.safetensors).
        #[arg(long)]
        adapter: Option<PathBuf>,
        /// Encoder input ids: numbers separated by commas or spaces; rows separated by `;`
        /// (shorter rows are padded and masked).
        #[arg(long)]
        input_ids: String,
        /// Decoder input ids in the same format; default: the input ids shifted right
        /// (HF `shift_tokens_right`).
        #[arg(long)]
        decoder_input_ids: Option<String>,
        #[arg(long)]
        out: PathBuf,
    },
}

pub fn run(args: Args) -> Result<()> {
    match args.command {
        Command::Info {
            preset,
            model,
            prefix_len,
        } => {
            let config = inspect::config_of(preset, model.as_deref())?;
            print!("{}", inspect::info(&config, prefix_len));
            Ok(())
        }
        Command::Init {
            preset,
            vocab_size,
            out,
            seed,
        } => inspect::init(preset, vocab_size, &out, seed),
        Command::Convert { model, out } => inspect::convert(&model, &out),
        Command::Logits {
            model,
            adapter,
            input_ids,
            decoder_input_ids,
            out,
        } => inspect::logits(
            load_flex_with_adapter(&model, adapter.as_deref())?,
            &input_ids,
            decoder_input_ids.as_deref(),
            &out,
        ),
    }
}
