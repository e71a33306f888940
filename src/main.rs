//! The `tailor` command line: one subcommand per pipeline stage.

use clap::{Parser, Subcommand};
use tailor::cli;

// flex allocates a buffer per tensor op; mimalloc makes that cheap (measured: flex matmul 0.8x -> 1.0x of PyTorch).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Mine Java focal-method/test pairs, measure shared vocabulary, and train and customize BART
/// test generators per project.
#[derive(Debug, Parser)]
#[command(name = "tailor", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Build project lists: every Java source package in apt's index, or a default chosen from a census.
    Corpus(cli::corpus::Args),
    /// Fetch the projects of a corpus into checkouts (git, local folders, Debian source packages).
    Acquire(cli::acquire::Args),
    /// Acquire a corpus, extract focal-method/test pairs, write projects and pairs tables, print Table 2.
    Mine(cli::mine::Args),
    /// Sample the target projects from the test split and print Table 2.
    Table2(cli::table2::Args),
    /// Per-project token sets, the shared-token ratio matrix, its summary and Figure 1.
    Heatmap(cli::heatmap::Args),
    /// Train the BPE tokenizer and encode every split pair as token ids (examples table).
    Examples(cli::examples::Args),
    /// BART models: presets, parameter counts (Table 1), HF import/export.
    Model(cli::model::Args),
    /// Train the baseline test generator (tokenizer and examples first if missing).
    Baseline(cli::baseline::Args),
    /// Customize the baseline per target project with each strategy, k-fold (trains it first if missing).
    Finetune(cli::finetune::Args),
    /// Write texts, ids and logits of real examples for a model folder, for the HF reference check.
    ExportCheck(cli::export_check::Args),
    /// Generate test cases for focal methods with greedy or beam search.
    Generate(cli::generate::Args),
    /// Beam search over every finished run's test part; BLEU, top-k match, style, validity per run.
    Evaluate(cli::evaluate::Args),
    /// Tables 1, 3, 4, Figures 3, 4, 5 and results.md from the evaluation tables.
    Report(cli::report::Args),
    /// The nearest existing tests of a project for a focal method (BM25), adapted to its name.
    Retrieve(cli::retrieve::Args),
    /// Your own repository: mine it with the base's tokenizer, customize, register an adapter.
    Adapt(cli::adapt::Args),
    /// Candidate tests for one method of a registered project, generated and retrieved, ranked.
    Suggest(cli::suggest::Args),
    /// HTTP/JSON service answering suggestions for every registered project of one base.
    Serve(cli::serve::Args),
    /// Benchmark extraction: MB/s, files/s, share of time in tree-sitter, peak RSS.
    BenchMine(cli::bench_mine::Args),
    /// Benchmark the shared-token matrix on synthetic Zipf corpora.
    BenchHeatmap(cli::bench_heatmap::Args),
    /// Benchmark training-step and beam-search throughput per backend.
    BenchModel(cli::bench_model::Args),
    /// Benchmark the training loop and each strategy's step on real batches, beside PyTorch.
    BenchTrain(cli::bench_train::Args),
    /// One base, many projects: requests/s of batches mixing prefix/LoRA adapters vs one project at a time.
    BenchMixed(cli::bench_mixed::Args),
    /// Load test of `tailor serve` on 127.0.0.1: throughput and p50/p99, mixed vs one project at a time.
    BenchServe(cli::bench_serve::Args),
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Corpus(args) => cli::corpus::run(args),
        Command::Acquire(args) => cli::acquire::run(args),
        Command::Mine(args) => cli::mine::run(args),
        Command::Table2(args) => cli::table2::run(args),
        Command::Heatmap(args) => cli::heatmap::run(args),
        Command::Examples(args) => cli::examples::run(args),
        Command::Model(args) => cli::model::run(args),
        Command::Baseline(args) => cli::baseline::run(args),
        Command::Finetune(args) => cli::finetune::run(args),
        Command::ExportCheck(args) => cli::export_check::run(args),
        Command::Generate(args) => cli::generate::run(args),
        Command::Evaluate(args) => cli::evaluate::run(args),
        Command::Report(args) => cli::report::run(args),
        Command::Retrieve(args) => cli::retrieve::run(args),
        Command::Adapt(args) => cli::adapt::run(args),
        Command::Suggest(args) => cli::suggest::run(args),
        Command::Serve(args) => cli::serve::run(args),
        Command::BenchMine(args) => cli::bench_mine::run(args),
        Command::BenchHeatmap(args) => cli::bench_heatmap::run(args),
        Command::BenchModel(args) => cli::bench_model::run(args),
        Command::BenchTrain(args) => cli::bench_train::run(args),
        Command::BenchMixed(args) => cli::bench_mixed::run(args),
        Command::BenchServe(args) => cli::bench_serve::run(args),
    }
}
