//! `tailor generate`: greedy or beam-search generation from token ids with a HF-format model.
//!
//! Input and output are token ids: the BPE tokenizer (`data`) comes in a later stage and will
//! turn focal methods into ids and ids back into test code.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use burn::prelude::*;
use indicatif::{ProgressBar, ProgressStyle};

use crate::generate::{EarlyStopping, GenerationConfig, generate};
use crate::model::{Backend, hf};

/// Generate token sequences with greedy (`--num-beams 1`) or beam search. Inputs are token ids
/// (the tokenizer comes with a later stage): `--input-ids "0 345 12 2"` (repeatable) or
/// `--input-file` with one space-separated sequence per line. Prints one JSON line per returned
/// sequence: {"input", "rank", "score", "ids"}.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// HF-format model folder (config.json + model.safetensors).
    #[arg(long)]
    pub model: PathBuf,
    /// One input as space-separated token ids (repeat for a batch).
    #[arg(long, num_args = 1)]
    pub input_ids: Vec<String>,
    /// A file of inputs, one space-separated id sequence per line.
    #[arg(long, conflicts_with = "input_ids")]
    pub input_file: Option<PathBuf>,
    /// Beam width; 1 is greedy search.
    #[arg(long, default_value_t = 5)]
    pub num_beams: usize,
    /// Sequences returned per input (top-k), at most --num-beams.
    #[arg(long, default_value_t = 5)]
    pub num_return_sequences: usize,
    /// Maximum output length, counting the decoder start token.
    #[arg(long, default_value_t = 128)]
    pub max_length: usize,
    #[arg(long, default_value_t = 0)]
    pub min_length: usize,
    /// Hypothesis score = sum of log-probabilities / generated_length ^ length_penalty.
    #[arg(long, default_value_t = 1.0)]
    pub length_penalty: f32,
    #[arg(long, value_enum, default_value_t = EarlyStopping::False)]
    pub early_stopping: EarlyStopping,
    /// Inputs generated at once.
    #[arg(long, default_value_t = 8)]
    pub batch_size: usize,
    #[arg(long, value_enum, default_value_t = Backend::Flex)]
    pub backend: Backend,
    /// Run on CUDA GPU 0 (tch backend).
    #[arg(long)]
    pub cuda: bool,
}

fn parse_ids(line: &str) -> Result<Vec<i64>> {
    line.split_whitespace()
        .map(|t| {
            t.parse::<i64>()
                .with_context(|| format!("token id {t:?} is not an integer"))
        })
        .collect()
}

pub fn run(args: Args) -> Result<()> {
    let inputs: Vec<Vec<i64>> = match &args.input_file {
        Some(path) => std::fs::read_to_string(path)
            .with_context(|| format!("reading inputs {}", path.display()))?
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(parse_ids)
            .collect::<Result<_>>()?,
        None => args
            .input_ids
            .iter()
            .map(|l| parse_ids(l))
            .collect::<Result<_>>()?,
    };
    if inputs.is_empty() || inputs.iter().any(Vec::is_empty) {
        bail!("no input: give --input-ids or --input-file with non-empty lines");
    }
    let device = args.backend.device(args.cuda)?;
    let model = hf::load_dir(&args.model, &device)?;
    let vocab = model.config.vocab_size as i64;
    if let Some(bad) = inputs.iter().flatten().find(|&&t| t < 0 || t >= vocab) {
        bail!("token id {bad} is outside the model's vocabulary (0..{vocab})");
    }
    let config = GenerationConfig {
        max_length: args.max_length,
        min_length: args.min_length,
        num_beams: args.num_beams,
        num_return_sequences: args.num_return_sequences,
        length_penalty: args.length_penalty,
        early_stopping: args.early_stopping,
        ..GenerationConfig::for_model(&model)
    };
    let pad = model.config.pad_token_id as i64;
    let progress = ProgressBar::new(inputs.len() as u64).with_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} inputs {elapsed} (eta {eta})")
            .expect("valid template"),
    );
    let mut stdout = std::io::stdout().lock();
    for (chunk_index, chunk) in inputs.chunks(args.batch_size.max(1)).enumerate() {
        let len = chunk.iter().map(Vec::len).max().unwrap_or(0);
        let mut ids = Vec::with_capacity(chunk.len() * len);
        let mut mask = Vec::with_capacity(chunk.len() * len);
        for input in chunk {
            for i in 0..len {
                ids.push(input.get(i).copied().unwrap_or(pad));
                mask.push(i64::from(i < input.len()));
            }
        }
        let shape = [chunk.len(), len];
        let ids = Tensor::<2, Int>::from_data(TensorData::new(ids, shape), &device);
        let mask = Tensor::<2, Int>::from_data(TensorData::new(mask, shape), &device);
        let generated = generate(&model, ids, Some(mask), &config)?;
        let per_input = config.num_return_sequences;
        for (row, (sequence, score)) in generated
            .sequences
            .iter()
            .zip(&generated.scores)
            .enumerate()
        {
            let line = serde_json::json!({
                "input": chunk_index * args.batch_size.max(1) + row / per_input,
                "rank": row % per_input + 1,
                "score": score,
                "ids": sequence,
            });
            writeln!(stdout, "{line}")?;
        }
        progress.inc(chunk.len() as u64);
    }
    progress.finish_and_clear();
    Ok(())
}
