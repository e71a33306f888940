//! `tailor heatmap`: per-project token sets, the shared-token ratio matrix, its summary and
//! Figure 1 (paper §2).

use std::path::PathBuf;

use anyhow::Result;

use crate::pipeline::heatmap::{self, HeatmapConfig};

/// Per-project token sets, the shared-token ratio matrix, its summary and Figure 1.
///
/// Reads the projects table (from `tailor mine` or `tailor acquire --out`), takes every
/// acquired project with Java files (or a seeded sample of --limit of them), and writes
/// OUT/tables/vocab_summary.parquet, OUT/tables/shared_tokens.parquet (n² rows) and
/// OUT/figures/figure1.{png,svg}; prints the quartiles of the off-diagonal ratios beside
/// the paper's.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Output folder for tables/ and figures/.
    #[arg(long, default_value = "out")]
    pub out: PathBuf,
    /// Projects table to read [default: OUT/tables/projects.parquet].
    #[arg(long)]
    pub projects: Option<PathBuf>,
    /// Analyse a seeded sample of this many projects (the paper used 930).
    #[arg(long)]
    pub limit: Option<usize>,
    /// Seed of the sample: the same seed and table give the same projects.
    #[arg(long, default_value_t = 2022)]
    pub seed: u64,
    /// Keep `_` inside tokens, as gensim's `\w` does (default: `_` splits, as specified).
    #[arg(long)]
    pub underscore_joins: bool,
    /// Matrix cells per tile of shared_tokens (memory ≈ 50 bytes per cell).
    #[arg(long, default_value_t = 2_000_000)]
    pub tile_cells: usize,
}

pub fn run(args: Args) -> Result<()> {
    heatmap::run(&HeatmapConfig {
        out: args.out,
        projects: args.projects,
        limit: args.limit,
        seed: args.seed,
        underscore_joins: args.underscore_joins,
        tile_cells: args.tile_cells,
    })
}
