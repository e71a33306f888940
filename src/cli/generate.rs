//! `tailor generate`: greedy or beam-search generation with a HF-format model, from Java text
//! (through the model folder's `tokenizer.json`) or from token ids ([`crate::generate::serve`]).

use std::path::PathBuf;

use anyhow::Result;

use super::{CUDA_HELP, DeviceArgs};
use crate::data::context::ContextLevel;
use crate::generate::serve::{self, GenerateOptions, GenerationOverrides};

/// Generate test cases with greedy (`--num-beams 1`) or beam search.
///
/// From Java source: `--java FILE --method NAME [--level L]` parses the file, finds the method
/// and assembles the model input at the focal-context level the model was trained at, exactly
/// as `tailor examples` does for mined pairs. From a ready model input: `--focal TEXT`
/// (repeatable) or `--input FILE` (the whole file is one input), laid out as in training (at FM
/// the focal method alone, at FM_FC_MS_FF `Class { method ctors; signatures; fields }`). Text is
/// normalized like the training inputs (comments dropped, whitespace collapsed), encoded with
/// the model folder's `tokenizer.json`, and the top-k tests are printed as text with their
/// scores (`--json`: one JSON line per sequence, {"input", "rank", "score", "ids", "text"}).
///
/// From token ids: `--input-ids "0 345 12 2"` (repeatable) or `--input-file` with one
/// space-separated sequence per line; prints one JSON line per returned sequence:
/// {"input", "rank", "score", "ids"}.
#[derive(Debug, clap::Args)]
#[command(mut_arg("cuda", |a| a.help(CUDA_HELP)))]
pub struct Args {
    /// HF-format model folder (config.json + model.safetensors, + tokenizer.json for text).
    #[arg(long)]
    pub model: PathBuf,
    /// An adapter folder saved for this base (`tailor finetune`'s `best/`): generate with the
    /// customized model (base + the adapter's tensors; an adapter of another base is an error).
    /// Repeat as NAME=DIR with --requests to serve several projects from one base: prefix and
    /// LoRA adapters share batches (one base, many projects).
    #[arg(long, num_args = 1)]
    pub adapter: Vec<String>,
    /// A JSON-lines file of requests, each `{"adapter": NAME, "focal": TEXT}` or `{"adapter":
    /// NAME, "input_ids": [..]}` (NAME from --adapter; may be omitted with one adapter). Prints
    /// one JSON line per returned sequence: {"request", "adapter", "rank", "score", "ids",
    /// "text"}, and the throughput on stderr.
    #[arg(long, conflicts_with_all = ["focal", "input", "java", "input_ids", "input_file"])]
    pub requests: Option<PathBuf>,
    /// With --requests: batch each adapter's requests separately (one project at a time)
    /// instead of mixing projects in a batch; for comparison, the outputs are the same.
    #[arg(long, requires = "requests")]
    pub one_at_a_time: bool,
    /// One model input as Java text, e.g. a focal method (repeat for a batch).
    #[arg(long, num_args = 1, conflicts_with_all = ["input_ids", "input_file", "input"])]
    pub focal: Vec<String>,
    /// A file whose whole content is one model input as Java text.
    #[arg(long, conflicts_with_all = ["input_ids", "input_file"])]
    pub input: Option<PathBuf>,
    /// A Java source file holding the focal method (with --method).
    #[arg(long, requires = "method", conflicts_with_all = ["input_ids", "input_file", "input", "focal"])]
    pub java: Option<PathBuf>,
    /// The focal method's name in --java (the first declaration of that name; a constructor
    /// when it is the class's name).
    #[arg(long, requires = "java")]
    pub method: Option<String>,
    /// Focal context assembled from --java: use the level the model was trained at.
    #[arg(long, value_enum, default_value_t = ContextLevel::FmFcMsFf, requires = "java")]
    pub level: ContextLevel,
    /// One input as space-separated token ids (repeat for a batch).
    #[arg(long, num_args = 1)]
    pub input_ids: Vec<String>,
    /// A file of inputs, one space-separated id sequence per line.
    #[arg(long, conflicts_with = "input_ids")]
    pub input_file: Option<PathBuf>,
    /// With text inputs: print JSON lines (with the decoded "text") instead of plain text.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub generation: GenerationOverrides,
    /// Inputs generated at once.
    #[arg(long, default_value_t = 8)]
    pub batch_size: usize,
    #[command(flatten)]
    pub device: DeviceArgs,
}

pub fn run(args: Args) -> Result<()> {
    serve::run(&GenerateOptions {
        model: args.model,
        adapter: args.adapter,
        requests: args.requests,
        one_at_a_time: args.one_at_a_time,
        focal: args.focal,
        input: args.input,
        java: args.java,
        method: args.method,
        level: args.level,
        input_ids: args.input_ids,
        input_file: args.input_file,
        json: args.json,
        generation: args.generation,
        batch_size: args.batch_size,
        backend: args.device.backend,
        cuda: args.device.cuda,
    })
}
