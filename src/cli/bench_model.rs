//! `tailor bench-model`: training-step and beam-search throughput per backend
//! ([`crate::bench::model`]).

use std::path::PathBuf;

use anyhow::Result;

use crate::bench::model::{self, BenchModelOptions};
use crate::model::{Backend, Preset};

/// Benchmark training-step and beam-search throughput per backend (and against PyTorch).
#[derive(Debug, clap::Args)]
pub struct Args {
    #[arg(long, default_value = "small")]
    pub preset: Preset,
    /// Backends to measure (repeatable); default: every compiled one.
    #[arg(long, value_enum)]
    pub backend: Vec<Backend>,
    #[arg(long, default_value_t = 8)]
    pub batch: usize,
    #[arg(long, default_value_t = 128)]
    pub src_len: usize,
    #[arg(long, default_value_t = 64)]
    pub tgt_len: usize,
    /// Timed training steps (after --warmup untimed ones).
    #[arg(long, default_value_t = 5)]
    pub steps: usize,
    #[arg(long, default_value_t = 2)]
    pub warmup: usize,
    #[arg(long, default_value_t = 5)]
    pub num_beams: usize,
    /// Timed generate calls (after one untimed); 0 skips beam search.
    #[arg(long, default_value_t = 2)]
    pub beam_steps: usize,
    /// CPU threads (libtorch's intra-op threads; flex uses rayon's pool, RAYON_NUM_THREADS).
    #[arg(long, default_value_t = 2)]
    pub threads: usize,
    /// Run on CUDA GPU 0 (tch backend).
    #[arg(long)]
    pub cuda: bool,
    /// A Python with torch + transformers: also run the PyTorch peer and print ratios.
    #[arg(long)]
    pub pytorch_python: Option<PathBuf>,
    #[arg(long, default_value = "pipelines/python/bench_bart_step.py")]
    pub peer_script: PathBuf,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Measure every system this many times, alternating, and keep each one's best run: on a
    /// shared machine the best run is the least disturbed one.
    #[arg(long, default_value_t = 1)]
    pub repeats: usize,
}

pub fn run(args: Args) -> Result<()> {
    model::run(&BenchModelOptions {
        preset: args.preset,
        backend: args.backend,
        batch: args.batch,
        src_len: args.src_len,
        tgt_len: args.tgt_len,
        steps: args.steps,
        warmup: args.warmup,
        num_beams: args.num_beams,
        beam_steps: args.beam_steps,
        threads: args.threads,
        cuda: args.cuda,
        pytorch_python: args.pytorch_python,
        peer_script: args.peer_script,
        seed: args.seed,
        repeats: args.repeats,
    })
}
