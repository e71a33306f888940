//! `tailor bench-heatmap`: benchmark the shared-token matrix on synthetic Zipf corpora
//! ([`crate::bench::heatmap`]; each size runs in a child, `--child N`).

use std::path::PathBuf;

use anyhow::Result;

use crate::bench::heatmap::{self, BenchHeatmapOptions};

/// Benchmark the shared-token matrix on synthetic Zipf corpora.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Numbers of projects to benchmark, comma-separated.
    #[arg(long, value_delimiter = ',', default_values_t = [100, 930, 5_000, 20_000])]
    pub sizes: Vec<usize>,
    /// Keep each size's tables and figure in OUT/n<size>/ (default: a temporary folder,
    /// removed after each size).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Seed of the synthetic corpora.
    #[arg(long, default_value_t = 2022)]
    pub seed: u64,
    /// Vocabulary size the Zipf draws range over.
    #[arg(long, default_value_t = 1_000_000)]
    pub vocabulary: u32,
    /// Zipf exponent of token frequencies.
    #[arg(long, default_value_t = 1.1)]
    pub exponent: f64,
    /// Median unique tokens per project (log-normal, log-sd 1).
    #[arg(long, default_value_t = 1_500.0)]
    pub median_tokens: f64,
    /// Matrix cells per tile of shared_tokens.
    #[arg(long, default_value_t = 2_000_000)]
    pub tile_cells: usize,
    /// Count every token through postings (no bitsets for frequent tokens), for comparison.
    #[arg(long)]
    pub no_bitsets: bool,
    /// Internal: run one size in this process and print its measurements.
    #[arg(long, hide = true)]
    pub child: Option<usize>,
}

pub fn run(args: Args) -> Result<()> {
    heatmap::run(&BenchHeatmapOptions {
        sizes: args.sizes,
        out: args.out,
        seed: args.seed,
        vocabulary: args.vocabulary,
        exponent: args.exponent,
        median_tokens: args.median_tokens,
        tile_cells: args.tile_cells,
        no_bitsets: args.no_bitsets,
        child: args.child,
    })
}
