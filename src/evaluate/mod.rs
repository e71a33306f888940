//! The evaluation stage (`tailor evaluate`, `make evaluate`): beam search over the test part of
//! every finished customization run, and of the baseline on the same parts, then the paper's
//! metrics (§4.2–4.3) per (project, strategy, fold).
//!
//! Runs come from `out/tables/finetune.parquet` (status `done`) and the fold files the finetune
//! stage leaves (`runs/finetune/<profile>/<project>/fold<k>.json`), so exactly the pairs a run
//! was tested on are generated for. Each run's model is the baseline folder plus its adapter
//! (`…/<strategy>/fold<k>/best`). Beam search uses 5 beams and returns 5 sequences, its maximum
//! length from the baseline's `generation_config.json`; references are the decoded target ids
//! the models were trained and tested against (so a test truncated to the profile's
//! `max_target` is compared truncated).
//!
//! The `ir` strategy (retrieval, `crate::retrieve`) takes the same path with no model: its five
//! outputs per test are the tests retrieved from the fold's training part, adapted to the test's
//! focal method, so every metric and report covers it; each such output (and each `ir+<model>`
//! one) names the training pair it was retrieved from. Every run also gets the share of its
//! tests whose developer test occurs verbatim in the fold's training part (exact duplicates
//! across parts) and its BLEU and exact match without them (`metric::UNIQUE`).
//!
//! Writes `predictions`, `metrics` and `test_scores` tables (see `crate::tables`) a run at a
//! time, atomically; `predictions` is the resume marker, written last, so an interrupted
//! evaluation re-does at most the run it was in. This stage does not draw anything: `report`
//! reads its tables.

pub mod idioms;
pub mod score;

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context as _, Result, ensure};
use burn::prelude::*;
use indicatif::{ProgressBar, ProgressStyle};

use crate::data::context::model_target;
use crate::data::examples::truncate;
use crate::data::examples::{Example, read_examples};
use crate::data::folds::FoldInputs;
use crate::data::folds::FoldParts;
use crate::data::tokenizer::CodeTokenizer;
use crate::generate::GenerationConfig;
use crate::generate::requests::{Models, Request, generate_requests};
use crate::generate::rerank::rerank;
use crate::label::RunLabel;
use crate::layout::{Layout, Runs};
use crate::metrics::Abstractor;
use crate::mining::Pair;
use crate::model::{Backend, BartForConditionalGeneration, hf};
use crate::retrieve::{Bm25, fold_predictions, test_key};
use crate::strategy::adapter::{load_adapter, load_bank, read_info};
use crate::tables::finetune::{self as finetune_table, FinetuneRow};
use crate::tables::pairs::read_pairs;
use crate::tables::{metrics as metrics_table, predictions, test_scores};
pub use score::{RunKey, Scored, duplicate_metrics, metric, score_run};

/// Beam width and returned sequences: the paper's top-5 from 5 beams (§4.3).
pub const NUM_BEAMS: usize = 5;
/// How many of the train split's most frequent identifiers and literals abstraction keeps.
pub const DEFAULT_IDIOMS: usize = 200;

/// What one `tailor evaluate` call covers.
#[derive(Debug, Clone)]
pub struct EvaluateOptions {
    pub out: PathBuf,
    /// The training profile whose runs are evaluated (run folders are per profile).
    pub profile: String,
    pub backend: Backend,
    pub cuda: bool,
    /// Evaluate at most this many test pairs per (project, fold) (the first by pair id), for
    /// quick looks; `None`: all.
    pub max_test: Option<usize>,
    /// Test pairs generated at once.
    pub batch_size: usize,
    /// Idioms kept verbatim by the abstracted match.
    pub idioms: usize,
    /// CPU threads (libtorch); flex follows `RAYON_NUM_THREADS`.
    pub threads: usize,
    /// Prefix and LoRA runs evaluated together, up to this many, in batches that mix their
    /// adapters (one base, many projects; the outputs are each run's own); 0 or 1 evaluates one
    /// run at a time.
    pub mix_adapters: usize,
    /// Evaluate only runs of these strategies (`baseline` included by name); `None`: all.
    pub strategies: Option<Vec<String>>,
}

impl EvaluateOptions {
    /// The run folders evaluated.
    fn runs(&self) -> Runs {
        Layout::new(&self.out).runs(&self.profile)
    }
}

/// What `tailor evaluate` did.
#[derive(Debug, Clone, Default)]
pub struct EvaluateSummary {
    pub runs: usize,
    pub evaluated: usize,
    pub skipped: usize,
    pub failed: Vec<String>,
    pub tests: usize,
    pub seconds: f64,
}

/// One (project, strategy, fold) to evaluate.
#[derive(Debug, Clone)]
struct Pending {
    key: RunKey,
    /// `key.strategy`, parsed.
    label: RunLabel,
    /// The adapter folder; `None` for the baseline and `ir`.
    adapter: Option<PathBuf>,
    /// The fold's training part: where `ir` retrieves from, and what a test's exact duplicate
    /// is looked for in.
    train: Vec<String>,
    test: Vec<String>,
    test_loss: f64,
    /// For an `ir+<strategy>` run: that strategy's test loss, so that reranking is evaluated
    /// again when the reranking model was trained again.
    reranker_loss: Option<f64>,
}

pub use crate::label::RERANK_PREFIX;

/// The model a reranking run orders retrieval's candidates by, if `strategy` is one (see
/// [`RunLabel::reranker`] for a parsed label).
pub fn reranker(strategy: &str) -> Option<&str> {
    strategy.strip_prefix(RERANK_PREFIX)
}

/// Where the three tables live.
pub fn predictions_file(out: &Path) -> PathBuf {
    Layout::new(out).table(predictions::NAME)
}
pub fn metrics_file(out: &Path) -> PathBuf {
    Layout::new(out).table(metrics_table::NAME)
}
pub fn test_scores_file(out: &Path) -> PathBuf {
    Layout::new(out).table(test_scores::NAME)
}

/// The runs of `profile` that finetune finished, baseline included, in a stable order.
fn finished_runs(options: &EvaluateOptions, rows: &[FinetuneRow]) -> Result<Vec<Pending>> {
    let mut pending = Vec::new();
    let wanted = |strategy: &str| {
        options
            .strategies
            .as_ref()
            .is_none_or(|names| names.iter().any(|n| n == strategy))
    };
    let runs = options.runs();
    for row in rows.iter().filter(|r| r.status == finetune_table::DONE) {
        let (project, fold) = (row.project_id.as_str(), row.fold as usize);
        let file = runs.fold_file(project, fold);
        if !file.exists() {
            // A run of another profile sharing this output folder.
            continue;
        }
        let label: RunLabel = row.strategy.parse().with_context(|| {
            format!("{} fold {} of the finetune table", row.project_id, row.fold)
        })?;
        let (adapter, record) = if matches!(label, RunLabel::Baseline | RunLabel::Retrieval) {
            (None, file)
        } else {
            let adapter = runs.adapter_dir(project, &row.strategy, fold);
            if !adapter.exists() {
                continue;
            }
            // A customization is tested on the fold it recorded when it trained.
            (
                Some(adapter),
                runs.run_fold_file(project, &row.strategy, fold),
            )
        };
        let parts = FoldParts::read(&record)?;
        ensure!(
            parts.membership_hash() == row.fold_hash,
            "{}: the fold recorded there (membership {}) is not the one the {} row of {} fold {} \
             was measured on ({}); run `tailor finetune` again so that it re-measures or marks \
             the run",
            record.display(),
            parts.membership_hash(),
            row.strategy,
            row.project_id,
            row.fold,
            row.fold_hash
        );
        let mut test = parts.test;
        test.sort();
        if let Some(max) = options.max_test {
            test.truncate(max);
        }
        pending.push(Pending {
            key: RunKey {
                project_id: row.project_id.clone(),
                strategy: row.strategy.clone(),
                fold: row.fold,
            },
            label,
            adapter,
            train: parts.train,
            test,
            test_loss: row.test_loss,
            reranker_loss: None,
        });
    }
    pending.extend(rerank_runs(&pending));
    // Chosen after the reranking runs exist: `ir+custom` alone needs `ir` and `custom`'s rows.
    pending.retain(|p| wanted(&p.key.strategy));
    pending.sort_by(|a, b| a.key.cmp(&b.key));
    Ok(pending)
}

/// One `ir+<model>` run per model run (baseline included) whose (project, fold) also has an `ir`
/// run: the same test part, retrieval's candidates from the same training part, ordered by
/// that model. Its perplexity is not its own (NaN): it writes no new tokens.
fn rerank_runs(pending: &[Pending]) -> Vec<Pending> {
    let with_ir: std::collections::HashSet<(&str, u32)> = pending
        .iter()
        .filter(|p| p.label == RunLabel::Retrieval)
        .map(|p| (p.key.project_id.as_str(), p.key.fold))
        .collect();
    pending
        .iter()
        .filter(|p| with_ir.contains(&(p.key.project_id.as_str(), p.key.fold)))
        .filter_map(|p| {
            let label = p.label.reranked()?;
            Some(Pending {
                key: RunKey {
                    strategy: label.to_string(),
                    ..p.key.clone()
                },
                label,
                test_loss: f64::NAN,
                reranker_loss: Some(p.test_loss),
                ..p.clone()
            })
        })
        .collect()
}

/// The baseline folder's generation settings, beam search forced to the paper's 5 × 5 (public so
/// that measurements scoring outputs as `evaluate` does cut them to the same length).
pub fn generation_config(
    base_dir: &Path,
    model: &BartForConditionalGeneration,
) -> Result<GenerationConfig> {
    let mut config = GenerationConfig::for_model_dir(base_dir, model)?;
    config.num_beams = NUM_BEAMS;
    config.num_return_sequences = NUM_BEAMS;
    config.max_length = config.max_length.min(model.config.max_position_embeddings);
    Ok(config)
}

/// The three tables evaluation writes, a run at a time.
struct Tables {
    predictions: PathBuf,
    metrics: PathBuf,
    scores: PathBuf,
}

impl Tables {
    fn new(out: &Path) -> Self {
        Tables {
            predictions: predictions_file(out),
            metrics: metrics_file(out),
            scores: test_scores_file(out),
        }
    }

    /// Writes one unit's results, counting them in `summary`; a failed run is reported and
    /// skipped, so that one broken adapter does not stop the others.
    fn record(
        &self,
        unit: &[&Pending],
        results: Vec<Result<RunTables>>,
        summary: &mut EvaluateSummary,
        progress: &ProgressBar,
    ) -> Result<()> {
        for (run, result) in unit.iter().zip(results) {
            match result {
                Ok((preds, metrics, scores)) => {
                    // Metrics and scores first: predictions mark the run done.
                    metrics_table::upsert(&self.metrics, &metrics)?;
                    test_scores::upsert(&self.scores, &scores)?;
                    predictions::append(&self.predictions, &preds)?;
                    summary.evaluated += 1;
                    summary.tests += scores.len();
                }
                Err(err) => {
                    let label = label(run);
                    progress.suspend(|| eprintln!("evaluate: {label} failed: {err:#}"));
                    summary.failed.push(format!("{label}: {err:#}"));
                }
            }
        }
        Ok(())
    }
}

/// Per (metric, project, strategy, fold): the test loss, and a reranking run's model's test
/// loss, each run was last evaluated with.
type EvaluatedLosses = HashMap<(String, String, String, u32), f64>;

/// The losses recorded in the metrics table; none before the first evaluation.
fn evaluated_losses(metrics_path: &Path) -> Result<EvaluatedLosses> {
    if !metrics_path.exists() {
        return Ok(HashMap::new());
    }
    Ok(metrics_table::read_rows(metrics_path)?
        .into_iter()
        .filter(|m| m.metric == metric::TEST_LOSS || m.metric == metric::RERANKER_LOSS)
        .map(|m| ((m.metric, m.project_id, m.strategy, m.fold), m.value))
        .collect())
}

/// The finished runs of the profile, split into those evaluated as they are now (skipped) and
/// those to evaluate.
fn runs_to_evaluate(
    options: &EvaluateOptions,
    tables: &Tables,
) -> Result<(Vec<Pending>, Vec<Pending>)> {
    let finetune_file = Layout::new(&options.out).table(finetune_table::NAME);
    let rows = finetune_table::read_rows(&finetune_file)
        .with_context(|| format!("run `tailor finetune --profile {}` first", options.profile))?;
    let all = finished_runs(options, &rows)?;
    ensure!(
        !all.is_empty(),
        "{} has no finished run of profile {} (no `done` row with a fold file under {})",
        finetune_file.display(),
        options.profile,
        options.runs().finetune_dir().display()
    );
    let done = predictions::evaluated_runs(&tables.predictions)?;
    let evaluated_loss = evaluated_losses(&tables.metrics)?;
    Ok(all
        .into_iter()
        .partition(|p| is_current(p, &done, &evaluated_loss)))
}

/// Whether `run` counts as evaluated: it has predictions and was evaluated as it is now. A run
/// trained again since (its test loss in the finetune table changed) is evaluated again.
fn is_current(
    run: &Pending,
    done: &BTreeSet<(String, String, u32)>,
    evaluated_loss: &EvaluatedLosses,
) -> bool {
    let same = |a: f64, b: f64| a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan());
    let key = (
        run.key.project_id.clone(),
        run.key.strategy.clone(),
        run.key.fold,
    );
    let recorded = |name: &str| {
        evaluated_loss
            .get(&(name.to_string(), key.0.clone(), key.1.clone(), key.2))
            .copied()
    };
    // `ir` scores no tokens: its loss is NaN, evaluated once; a reranking run is current
    // while its model's test loss is the one it was evaluated with.
    done.contains(&key)
        && recorded(metric::TEST_LOSS).is_some_and(|loss| same(loss, run.test_loss))
        && run
            .reranker_loss
            .is_none_or(|now| recorded(metric::RERANKER_LOSS).is_some_and(|was| same(was, now)))
}

/// The baseline model and what decodes and limits its outputs, loaded once for every run.
struct Baseline {
    dir: PathBuf,
    device: Device,
    model: BartForConditionalGeneration,
    tokenizer: CodeTokenizer,
    config: GenerationConfig,
}

impl Baseline {
    fn load(options: &EvaluateOptions) -> Result<Self> {
        let dir = options.runs().baseline_model();
        let device = options.backend.device(options.cuda)?;
        options.backend.set_threads(options.threads);
        let model = hf::load_dir(&dir, &device)
            .with_context(|| format!("loading the baseline {}", dir.display()))?;
        let tokenizer = CodeTokenizer::load(&dir)?;
        let config = generation_config(&dir, &model)?;
        Ok(Baseline {
            dir,
            device,
            model,
            tokenizer,
            config,
        })
    }
}

/// The progress bar over every pending test.
fn progress_bar(pending: &[Pending]) -> ProgressBar {
    let total: usize = pending.iter().map(|p| p.test.len()).sum();
    ProgressBar::new(total as u64).with_style(
        ProgressStyle::with_template(
            "evaluate {bar:30} {pos}/{len} tests · {msg} · {elapsed_precise} (ETA {eta})",
        )
        .expect("valid template"),
    )
}

/// The `pairs` table grouped by project: `ir` retrieves within a project only.
fn by_project(pairs: &[Pair]) -> HashMap<&str, Vec<&Pair>> {
    let mut grouped: HashMap<&str, Vec<&Pair>> = HashMap::new();
    for pair in pairs {
        grouped
            .entry(pair.project_id.as_str())
            .or_default()
            .push(pair);
    }
    grouped
}

/// Evaluate every finished run of the profile that has no predictions yet.
pub fn run_evaluate(options: &EvaluateOptions) -> Result<EvaluateSummary> {
    let started = Instant::now();
    let tables = Tables::new(&options.out);
    let (skipped, pending) = runs_to_evaluate(options, &tables)?;
    let mut summary = EvaluateSummary {
        runs: skipped.len() + pending.len(),
        skipped: skipped.len(),
        ..EvaluateSummary::default()
    };
    println!(
        "evaluate: {} run(s) of profile {}, {} already evaluated, {} to go (backend {})",
        summary.runs,
        options.profile,
        summary.skipped,
        pending.len(),
        options.backend
    );
    if pending.is_empty() {
        summary.seconds = started.elapsed().as_secs_f64();
        return Ok(summary);
    }

    let baseline = Baseline::load(options)?;
    let examples = read_examples(&options.out)?;
    let abstractor = Abstractor::new(idioms::train_idioms(
        &options.out,
        &examples,
        &baseline.tokenizer,
        options.idioms,
    )?);
    let by_id: HashMap<&str, &Example> = examples.iter().map(|e| (e.pair_id.as_str(), e)).collect();
    // Inputs with retrieved tests are rebuilt per fold, retrieving from its training part only,
    // exactly as the sweep trained and tested on them.
    let fold_examples = fold_test_inputs(&pending, &by_id, &FoldInputs::load(&options.out)?)?;
    // What `ir` retrieves from and what exact duplicates are looked for in.
    let pairs = read_pairs(&Layout::new(&options.out).table("pairs"))?;
    let pairs_by_project = by_project(&pairs);

    let progress = progress_bar(&pending);
    let context = Context {
        base: &baseline.model,
        base_dir: &baseline.dir,
        by_id: &by_id,
        fold_examples: &fold_examples,
        tokenizer: &baseline.tokenizer,
        config: &baseline.config,
        abstractor: &abstractor,
        pairs: &pairs_by_project,
        options,
        device: &baseline.device,
        progress: &progress,
    };
    for unit in units(&pending, options.mix_adapters) {
        let labels: Vec<String> = unit.iter().map(|run| label(run)).collect();
        progress.set_message(labels.join(", "));
        let results = evaluate_unit(&unit, &context);
        tables.record(&unit, results, &mut summary, &progress)?;
    }
    progress.finish_and_clear();
    summary.seconds = started.elapsed().as_secs_f64();
    Ok(summary)
}

fn label(run: &Pending) -> String {
    format!(
        "{}/{}/fold{}",
        run.key.project_id, run.key.strategy, run.key.fold
    )
}

/// Whether a run's adapter can share batches with other projects' (prefix and LoRA).
fn mixable(run: &Pending) -> bool {
    // A reranking run generates nothing: it scores retrieval's candidates on its own.
    run.reranker_loss.is_none()
        && run
            .adapter
            .as_deref()
            .is_some_and(|dir| read_info(dir).is_ok_and(|info| info.strategy.mixes_in_batch()))
}

/// The runs evaluated together: mixable runs in groups of up to `mix` (in run order), every
/// other run alone.
fn units(pending: &[Pending], mix: usize) -> Vec<Vec<&Pending>> {
    let mut units = Vec::new();
    let mut group: Vec<&Pending> = Vec::new();
    for run in pending {
        if mix > 1 && mixable(run) {
            group.push(run);
            if group.len() == mix {
                units.push(std::mem::take(&mut group));
            }
        } else {
            units.push(vec![run]);
        }
    }
    if !group.is_empty() {
        units.push(group);
    }
    units
}

/// What every unit's evaluation reads.
struct Context<'a> {
    base: &'a BartForConditionalGeneration,
    base_dir: &'a Path,
    by_id: &'a HashMap<&'a str, &'a Example>,
    /// Per (project, fold): test examples whose inputs the fold rebuilt (retrieved tests), which
    /// take the place of the table's.
    fold_examples: &'a FoldExamples,
    tokenizer: &'a CodeTokenizer,
    config: &'a GenerationConfig,
    abstractor: &'a Abstractor,
    /// Every pair of the `pairs` table, by project.
    pairs: &'a HashMap<&'a str, Vec<&'a Pair>>,
    options: &'a EvaluateOptions,
    device: &'a Device,
    progress: &'a ProgressBar,
}

/// One ranked output for one test.
#[derive(Debug, Clone)]
struct Output {
    /// The decoded (or retrieved and adapted) test.
    text: String,
    /// What the run ranks by: beam search's score, BM25 for `ir`, the reranking model's
    /// negative mean NLL for `ir+<model>`.
    score: f64,
    /// For retrieval's outputs: the training pair retrieved and its BM25 score, which the
    /// predictions table records so an output can be traced (`None` for a model's outputs).
    source: Option<(String, f64)>,
}

/// One run's outputs: per test, best first.
type RunOutputs = Vec<Vec<Output>>;

type RunTables = (
    Vec<predictions::PredictionRow>,
    Vec<crate::tables::metrics::MetricRow>,
    Vec<crate::tables::test_scores::TestScoreRow>,
);

type FoldExamples = HashMap<(String, u32), HashMap<String, Example>>;

/// The test examples of every pending (project, fold) with inputs rebuilt for the fold, when
/// the examples carry retrieved tests; empty otherwise.
fn fold_test_inputs(
    pending: &[Pending],
    by_id: &HashMap<&str, &Example>,
    inputs: &FoldInputs,
) -> Result<FoldExamples> {
    let mut rebuilt = FoldExamples::new();
    if !inputs.rebuilds() {
        return Ok(rebuilt);
    }
    for run in pending {
        let key = (run.key.project_id.clone(), run.key.fold);
        if rebuilt.contains_key(&key) {
            continue;
        }
        let tests: Vec<Example> = run
            .test
            .iter()
            .filter_map(|id| by_id.get(id.as_str()).map(|e| (*e).clone()))
            .collect();
        let tests = inputs.rebuild(
            &tests,
            &run.key.project_id,
            run.key.fold as usize,
            &run.train,
        )?;
        rebuilt.insert(
            key,
            tests.into_iter().map(|e| (e.pair_id.clone(), e)).collect(),
        );
    }
    Ok(rebuilt)
}

/// A run's test examples, in its order.
fn run_tests<'a>(run: &Pending, cx: &Context<'a>) -> Result<Vec<&'a Example>> {
    let rebuilt = cx
        .fold_examples
        .get(&(run.key.project_id.clone(), run.key.fold));
    let tests: Vec<&Example> = run
        .test
        .iter()
        .map(|id| {
            let found = match rebuilt {
                Some(fold) => fold.get(id.as_str()),
                None => cx.by_id.get(id.as_str()).copied(),
            };
            found.with_context(|| {
                format!(
                    "test pair {id} of the fold file is not in {} (examples rebuilt since finetune?)",
                    Layout::new(&cx.options.out).table("examples").display()
                )
            })
        })
        .collect::<Result<_>>()?;
    ensure!(!tests.is_empty(), "no test pairs");
    Ok(tests)
}

/// Generate for the test parts of `unit`'s runs (one run, or several mixable ones in mixed
/// batches) and score each; one result per run, so a broken run fails alone.
fn evaluate_unit(unit: &[&Pending], cx: &Context<'_>) -> Vec<Result<RunTables>> {
    if let [run] = unit
        && run.label == RunLabel::Retrieval
    {
        return vec![ir_outputs(run, cx).and_then(|(tests, outputs)| {
            cx.progress.inc(tests.len() as u64);
            score_outputs(run, &tests, outputs, cx)
        })];
    }
    if let [run] = unit
        && let Some(loss) = run.reranker_loss
    {
        return vec![reranked_outputs(run, cx).and_then(|(tests, outputs)| {
            let (preds, mut metrics, scores) = score_outputs(run, &tests, outputs, cx)?;
            metrics.push(crate::tables::metrics::MetricRow {
                project_id: run.key.project_id.clone(),
                strategy: run.key.strategy.clone(),
                fold: run.key.fold,
                metric: metric::RERANKER_LOSS.to_string(),
                value: loss,
            });
            Ok((preds, metrics, scores))
        })];
    }
    let tests: Vec<Result<Vec<&Example>>> = unit.iter().map(|run| run_tests(run, cx)).collect();
    let ready: Vec<usize> = (0..unit.len()).filter(|&i| tests[i].is_ok()).collect();
    let generated = generate_unit(unit, &ready, &tests, cx);
    let mut generated = match generated {
        Ok(outputs) => outputs.into_iter().map(Some).collect::<Vec<_>>(),
        Err(err) => {
            let message = format!("{err:#}");
            return unit
                .iter()
                .zip(tests)
                .map(|(_, t)| t.and_then(|_| Err(anyhow::anyhow!("{message}"))))
                .collect();
        }
    };
    let mut results = Vec::with_capacity(unit.len());
    let mut next = 0;
    for (run, tests) in unit.iter().zip(tests) {
        results.push(tests.and_then(|tests| {
            let outputs = generated[next]
                .take()
                .expect("one output set per ready run");
            next += 1;
            score_outputs(run, &tests, outputs, cx)
        }));
    }
    results
}

/// Beam search over the runs named by `ready` (indices into `unit`), decoded; one
/// `[test][rank] = (text, score)` per ready run.
fn generate_unit(
    unit: &[&Pending],
    ready: &[usize],
    tests: &[Result<Vec<&Example>>],
    cx: &Context<'_>,
) -> Result<Vec<RunOutputs>> {
    let mut requests = Vec::new();
    for (adapter, &i) in ready.iter().enumerate() {
        let tests = tests[i].as_ref().expect("ready runs have tests");
        requests.extend(tests.iter().map(|e| Request {
            adapter,
            input_ids: &e.input_ids,
        }));
    }
    let done = |n: usize| cx.progress.inc(n as u64);
    let outputs = if ready.len() > 1 {
        let adapters: Vec<(String, PathBuf)> = ready
            .iter()
            .map(|&i| {
                let dir = unit[i].adapter.clone().expect("mixable runs have adapters");
                (label(unit[i]), dir)
            })
            .collect();
        let bank = load_bank(cx.base, cx.base_dir, &adapters, cx.device)?;
        let models = Models::Mixed {
            base: cx.base,
            bank: &bank,
        };
        generate_requests(
            &models,
            &requests,
            cx.config,
            cx.options.batch_size,
            cx.device,
            done,
        )?
    } else {
        let customized = customized(ready.first().and_then(|&i| unit[i].adapter.as_deref()), cx)?;
        let models = [customized.as_ref().unwrap_or(cx.base)];
        let models = Models::Separate(&models);
        generate_requests(
            &models,
            &requests,
            cx.config,
            cx.options.batch_size,
            cx.device,
            done,
        )?
    };
    let mut outputs = outputs.into_iter();
    let mut per_run = Vec::with_capacity(ready.len());
    for &i in ready {
        let count = tests[i].as_ref().expect("ready runs have tests").len();
        let run: RunOutputs = outputs
            .by_ref()
            .take(count)
            .map(|outs| {
                outs.into_iter()
                    .map(|(ids, score)| {
                        Ok(Output {
                            text: cx.tokenizer.decode(&ids)?,
                            score: f64::from(score),
                            source: None,
                        })
                    })
                    .collect::<Result<Vec<_>>>()
            })
            .collect::<Result<_>>()?;
        per_run.push(run);
    }
    Ok(per_run)
}

/// The base with a run's adapter loaded onto it; `None` for the base itself.
fn customized(
    adapter: Option<&Path>,
    cx: &Context<'_>,
) -> Result<Option<BartForConditionalGeneration>> {
    adapter
        .map(|dir| {
            load_adapter(cx.base.clone(), cx.base_dir, dir, cx.device)
                .with_context(|| format!("loading adapter {}", dir.display()))
                .map(|(model, _)| model)
        })
        .transpose()
}

/// The `ir` strategy's outputs for a run's test part: the 5 tests retrieved from the fold's
/// training part (BM25 over focal methods, `crate::retrieve`), adapted to each test's focal
/// method, best first, each scored by BM25 and naming its pair. A retrieved test is normalised
/// and cut to the generation length limit exactly as a generated test would be (encoded,
/// truncated, decoded), so it meets the reference on the same terms.
fn ir_outputs<'a>(run: &Pending, cx: &Context<'a>) -> Result<(Vec<&'a Example>, RunOutputs)> {
    let tests = run_tests(run, cx)?;
    let project = cx
        .pairs
        .get(run.key.project_id.as_str())
        .with_context(|| format!("project {} has no pairs", run.key.project_id))?;
    let predictions = fold_predictions(
        project.iter().copied(),
        &run.train,
        &run.test,
        NUM_BEAMS,
        Bm25::default(),
    )?;
    let outputs = predictions
        .iter()
        .map(|p| {
            p.retrieved
                .iter()
                .map(|r| {
                    let ids = cx.tokenizer.encode(&model_target(&r.test))?;
                    let (ids, _) = truncate(ids, cx.config.max_length);
                    Ok(Output {
                        text: cx.tokenizer.decode(&ids)?,
                        score: r.score,
                        source: Some((r.pair_id.clone(), r.score)),
                    })
                })
                .collect::<Result<Vec<_>>>()
        })
        .collect::<Result<_>>()?;
    Ok((tests, outputs))
}

/// An `ir+<model>` run's outputs: retrieval's 5 candidates for each test (as [`ir_outputs`]
/// gives them), ordered by the model's mean token NLL of each given the test's input, lowest
/// first; the score is that NLL's negative, and each keeps the pair it was retrieved from.
fn reranked_outputs<'a>(run: &Pending, cx: &Context<'a>) -> Result<(Vec<&'a Example>, RunOutputs)> {
    let (tests, candidates) = ir_outputs(run, cx)?;
    let customized = customized(run.adapter.as_deref(), cx)?;
    let model = customized.as_ref().unwrap_or(cx.base);
    let mut outputs = Vec::with_capacity(tests.len());
    for (test, retrieved) in tests.iter().zip(candidates) {
        let ids = retrieved
            .iter()
            .map(|candidate| cx.tokenizer.encode(&candidate.text))
            .collect::<Result<Vec<Vec<u32>>>>()?;
        let ranked = rerank(model, &test.input_ids, &ids, cx.device)?;
        outputs.push(
            ranked
                .iter()
                .map(|r| Output {
                    score: -r.mean_nll,
                    ..retrieved[r.index].clone()
                })
                .collect(),
        );
        cx.progress.inc(1);
    }
    Ok((tests, outputs))
}

/// Per test of `run`: whether its test occurs verbatim ([`test_key`]) in the fold's training
/// part, an exact duplicate across parts.
fn duplicates(run: &Pending, tests: &[&Example], cx: &Context<'_>) -> Vec<bool> {
    let project = cx
        .pairs
        .get(run.key.project_id.as_str())
        .map_or(&[][..], Vec::as_slice);
    let keys: HashMap<&str, u64> = project
        .iter()
        .map(|p| (p.pair_id.as_str(), test_key(&p.test_body)))
        .collect();
    let train: std::collections::HashSet<u64> = run
        .train
        .iter()
        .filter_map(|id| keys.get(id.as_str()).copied())
        .collect();
    tests
        .iter()
        .map(|e| {
            keys.get(e.pair_id.as_str())
                .is_some_and(|k| train.contains(k))
        })
        .collect()
}

/// The metrics and table rows of one run from its generated outputs.
fn score_outputs(
    run: &Pending,
    tests: &[&Example],
    outputs: RunOutputs,
    cx: &Context<'_>,
) -> Result<RunTables> {
    let references = tests
        .iter()
        .map(|e| cx.tokenizer.decode(&e.target_ids))
        .collect::<Result<Vec<String>>>()?;
    let scored: Vec<Scored<'_>> = tests
        .iter()
        .zip(&references)
        .zip(&outputs)
        .map(|((e, reference), outs)| Scored {
            pair_id: &e.pair_id,
            reference,
            outputs: outs.iter().map(|o| o.text.as_str()).collect(),
        })
        .collect();
    let (mut metrics, scores) = score_run(&run.key, &scored, cx.abstractor, run.test_loss)?;
    metrics.extend(duplicate_metrics(
        &run.key,
        &scored,
        &duplicates(run, tests, cx),
        cx.abstractor,
    )?);
    let preds = tests
        .iter()
        .zip(&outputs)
        .flat_map(|(e, outs)| {
            outs.iter().enumerate().map(|(rank, output)| {
                let (source_pair_id, source_score) = output.source.clone().unzip();
                predictions::PredictionRow {
                    pair_id: e.pair_id.clone(),
                    project_id: run.key.project_id.clone(),
                    strategy: run.key.strategy.clone(),
                    fold: run.key.fold,
                    rank: rank as u32 + 1,
                    text: output.text.clone(),
                    score: output.score,
                    source_pair_id,
                    source_score,
                }
            })
        })
        .collect();
    Ok((preds, metrics, scores))
}
