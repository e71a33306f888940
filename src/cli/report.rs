//! `tailor report`: the paper's evaluation tables and figures from `tailor evaluate`'s tables.

use std::path::PathBuf;

use anyhow::Result;

use crate::report::run_report;

/// Write Table 1 (parameters per strategy), Table 3 (BLEU-4 and perplexity per project), Table 4
/// (Kruskal-Wallis p-values with effect sizes), Figures 3 (parameter change per block after
/// Custom), 4 (top-k exact/abstracted match, coding style) and 5 (validation loss vs compute),
/// and results.md (ours beside the paper's) under OUT/reports (Markdown + CSV) and OUT/figures
/// (PNG + SVG). Reads out/tables/{finetune,metrics,test_scores}.parquet and the run folders.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[arg(long, default_value = "out")]
    pub out: PathBuf,
    /// The training profile whose runs to report (smoke, cpu, paper).
    #[arg(long, default_value = "cpu")]
    pub profile: String,
}

pub fn run(args: Args) -> Result<()> {
    let files = run_report(&args.out, &args.profile)?;
    for file in &files {
        println!("{}", file.display());
    }
    Ok(())
}
