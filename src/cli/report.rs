//! `tailor report`: the paper's evaluation tables and figures from `tailor evaluate`'s tables.

use anyhow::Result;

use super::RunArgs;
use crate::report::run_report;

/// Write Table 1 (parameters per strategy), Table 3 (BLEU-4 and perplexity per project), Table 4
/// (Kruskal-Wallis p-values with effect sizes), Figures 3 (parameter change per block after
/// Custom), 4 (top-k exact/abstracted match, coding style) and 5 (validation loss vs compute),
/// and results.md (ours beside the paper's) under OUT/reports (Markdown + CSV) and OUT/figures
/// (PNG + SVG). Reads out/tables/{finetune,metrics,test_scores}.parquet and the run folders.
#[derive(Debug, clap::Args)]
#[command(mut_arg("profile", |a| a.help("The training profile whose runs to report (smoke, cpu, paper)")))]
pub struct Args {
    #[command(flatten)]
    pub run: RunArgs,
    /// Another output folder with runs of the same profile (e.g. `out` beside `out/augmented`):
    /// results.md ends with both folders' runs side by side, also written as inputs.csv
    #[arg(long, value_name = "OUT")]
    pub beside: Option<std::path::PathBuf>,
}

pub fn run(args: Args) -> Result<()> {
    let files = run_report(&args.run.out, &args.run.profile, args.beside.as_deref())?;
    for file in &files {
        println!("{}", file.display());
    }
    Ok(())
}
