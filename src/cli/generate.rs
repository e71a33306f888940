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
    /// Beam width; 1 is greedy search [default: the model's generation_config.json, else 5].
    #[arg(long)]
    pub num_beams: Option<usize>,
    /// Sequences returned per input (top-k), at most --num-beams [default: 5, at most
    /// num_beams].
    #[arg(long)]
    pub num_return_sequences: Option<usize>,
    /// Maximum output length, counting the decoder start token [default: generation_config.json,
    /// else 128].
    #[arg(long)]
    pub max_length: Option<usize>,
    /// [default: generation_config.json, else 0]
    #[arg(long)]
    pub min_length: Option<usize>,
    /// Hypothesis score = sum of log-probabilities / generated_length ^ length_penalty
    /// [default: generation_config.json, else 1.0].
    #[arg(long)]
    pub length_penalty: Option<f32>,
    /// [default: generation_config.json, else false]
    #[arg(long, value_enum)]
    pub early_stopping: Option<EarlyStopping>,
    /// Ban repeating n-grams of this size; 0 disables [default: generation_config.json, else
    /// config.json, else 0].
    #[arg(long)]
    pub no_repeat_ngram_size: Option<usize>,
    /// HF repetition penalty on tokens already generated; 1.0 disables [default:
    /// generation_config.json, else 1.0].
    #[arg(long)]
    pub repetition_penalty: Option<f32>,
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
    // Precedence: flags, then the folder's generation_config.json, then tailor's defaults.
    let mut config = GenerationConfig {
        max_length: 128,
        num_beams: 5,
        ..GenerationConfig::for_model(&model)
    };
    let path = args.model.join("generation_config.json");
    if path.exists() {
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        let json: serde_json::Value =
            serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
        config.apply_hf_generation_config(&json);
    }
    if let Some(v) = args.num_beams {
        config.num_beams = v;
    }
    config.num_return_sequences = args
        .num_return_sequences
        .unwrap_or_else(|| config.num_beams.min(5));
    if let Some(v) = args.max_length {
        config.max_length = v;
    }
    if let Some(v) = args.min_length {
        config.min_length = v;
    }
    if let Some(v) = args.length_penalty {
        config.length_penalty = v;
    }
    if let Some(v) = args.early_stopping {
        config.early_stopping = v;
    }
    if let Some(v) = args.no_repeat_ngram_size {
        config.no_repeat_ngram_size = v;
    }
    if let Some(v) = args.repetition_penalty {
        config.repetition_penalty = v;
    }
    let config = config;
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
