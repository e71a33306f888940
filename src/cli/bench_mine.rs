//! `tailor bench-mine`: benchmark extraction ([`crate::bench::mine`]).

use std::path::PathBuf;

use anyhow::Result;

use crate::bench::mine::{self, BenchMineOptions};

/// Benchmark extraction: MB/s, files/s, share of time in tree-sitter, peak RSS.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Output folder: projects are read from OUT/tables/projects.parquet, the report is
    /// written to OUT/reports/bench-mine.md.
    #[arg(long, default_value = "out")]
    pub out: PathBuf,
    /// The projects table whose `ok` checkouts are mined (default OUT/tables/projects.parquet).
    #[arg(long)]
    pub projects: Option<PathBuf>,
    /// Mine these folders instead of the projects table (repeatable).
    #[arg(long)]
    pub root: Vec<PathBuf>,
    /// Only the first N projects.
    #[arg(long)]
    pub limit: Option<usize>,
    /// Threads of the parallel run (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Skip `.java` files larger than this many MiB, as `tailor mine` does.
    #[arg(long, default_value_t = 2.0)]
    pub max_file_mib: f64,
}

pub fn run(args: Args) -> Result<()> {
    mine::run(&BenchMineOptions {
        out: args.out,
        projects: args.projects,
        root: args.root,
        limit: args.limit,
        threads: args.threads,
        max_file_mib: args.max_file_mib,
    })
}
