//! `tailor evaluate`: beam search over every finished customization run's test part, and the
//! paper's metrics per (project, strategy, fold).

use anyhow::{Result, bail};

use super::{CUDA_HELP, DeviceArgs, RunArgs};
use crate::evaluate::{
    DEFAULT_IDIOMS, EvaluateOptions, metrics_file, predictions_file, run_evaluate,
};

/// Generate tests (5 beams, 5 returned) for the test part of the baseline and of every finished
/// (project, strategy, fold) run of out/tables/finetune.parquet, then score them: BLEU-4 (corpus
/// and sentence), top-1..5 exact and abstracted match, coding-style similarity, syntactic
/// validity, perplexity. Writes out/tables/{predictions,metrics,test_scores}.parquet a run at a
/// time; a re-run skips runs that already have predictions.
#[derive(Debug, clap::Args)]
#[command(
    mut_arg("profile", |a| a.help("The training profile whose runs to evaluate (smoke, cpu, paper)")),
    mut_arg("cuda", |a| a.help(CUDA_HELP)),
)]
pub struct Args {
    #[command(flatten)]
    pub run: RunArgs,
    #[command(flatten)]
    pub device: DeviceArgs,
    /// At most this many test pairs per (project, fold), the first by pair id [default: all].
    #[arg(long)]
    pub max_test: Option<usize>,
    /// Test pairs generated at once (each becomes 5 beams).
    #[arg(long, default_value_t = 8)]
    pub batch_size: usize,
    /// Most frequent identifiers/literals of the train split kept verbatim by abstraction.
    #[arg(long, default_value_t = DEFAULT_IDIOMS)]
    pub idioms: usize,
    /// CPU threads for libtorch.
    #[arg(long, default_value_t = 2)]
    pub threads: usize,
    /// Evaluate up to this many prefix/LoRA runs together, in batches that mix their adapters
    /// (one base, many projects; each run's outputs are its own). 1: one run at a time.
    #[arg(long, default_value_t = 1)]
    pub mix_adapters: usize,
    /// Only runs of these strategies, comma-separated (baseline, custom, l-eo, l-ldb, prefix,
    /// lora, ir) or `all`.
    #[arg(long, value_delimiter = ',', default_value = "all")]
    pub strategy: Vec<String>,
}

/// `--strategy`: `None` for all, else the names, checked.
fn strategies(names: &[String]) -> Result<Option<Vec<String>>> {
    const KNOWN: [&str; 7] = [
        "baseline", "custom", "l-eo", "l-ldb", "prefix", "lora", "ir",
    ];
    if names.is_empty() || names.iter().any(|n| n == "all") {
        return Ok(None);
    }
    for name in names {
        // `ir+<model>`: retrieval's candidates reranked by that model.
        let model = crate::evaluate::reranker(name).unwrap_or(name);
        if !KNOWN.contains(&model) || model == "ir" && name != "ir" {
            bail!(
                "--strategy: unknown strategy {name:?} (one of {KNOWN:?}, ir+<one of them>, or all)"
            );
        }
    }
    Ok(Some(names.to_vec()))
}

pub fn run(args: Args) -> Result<()> {
    let options = EvaluateOptions {
        out: args.run.out,
        profile: args.run.profile,
        backend: args.device.backend,
        cuda: args.device.cuda,
        max_test: args.max_test,
        batch_size: args.batch_size,
        idioms: args.idioms,
        threads: args.threads,
        mix_adapters: args.mix_adapters,
        strategies: strategies(&args.strategy)?,
    };
    let summary = run_evaluate(&options)?;
    println!(
        "evaluate: {} run(s) evaluated ({} tests), {} skipped (already evaluated), {} failed, {:.1} s",
        summary.evaluated,
        summary.tests,
        summary.skipped,
        summary.failed.len(),
        summary.seconds
    );
    println!(
        "tables: {} {}",
        predictions_file(&options.out).display(),
        metrics_file(&options.out).display()
    );
    if !summary.failed.is_empty() {
        bail!(
            "{} run(s) failed:\n  {}",
            summary.failed.len(),
            summary.failed.join("\n  ")
        );
    }
    Ok(())
}
