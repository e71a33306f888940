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
//! Writes `predictions`, `metrics` and `test_scores` tables (see `crate::tables`) a run at a
//! time, atomically; `predictions` is the resume marker, written last, so an interrupted
//! evaluation re-does at most the run it was in. This stage does not draw anything: `report`
//! reads its tables.

pub mod idioms;
pub mod score;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail, ensure};
use burn::prelude::*;
use indicatif::{ProgressBar, ProgressStyle};

use crate::data::examples::{Example, read_examples};
use crate::data::tokenizer::CodeTokenizer;
use crate::generate::{GenerationConfig, generate};
use crate::metrics::Abstractor;
use crate::model::adapter::load_adapter;
use crate::model::{Backend, BartForConditionalGeneration, hf};
use crate::tables::finetune::{self as finetune_table, FinetuneRow};
use crate::tables::{metrics as metrics_table, predictions, table_path, test_scores};
use crate::train::baseline;
use crate::train::finetune::{FoldParts, fold_file, run_dir};
use crate::train::trainer::BEST_DIR;
pub use score::{RunKey, Scored, metric, score_run};

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
    /// The adapter folder; `None` for the baseline.
    adapter: Option<PathBuf>,
    test: Vec<String>,
    test_loss: f64,
}

/// Where the three tables live.
pub fn predictions_file(out: &Path) -> PathBuf {
    table_path(out, predictions::NAME)
}
pub fn metrics_file(out: &Path) -> PathBuf {
    table_path(out, metrics_table::NAME)
}
pub fn test_scores_file(out: &Path) -> PathBuf {
    table_path(out, test_scores::NAME)
}

/// The runs of `profile` that finetune finished, baseline included, in a stable order.
fn finished_runs(options: &EvaluateOptions, rows: &[FinetuneRow]) -> Result<Vec<Pending>> {
    let mut folds: HashMap<(String, u32), FoldParts> = HashMap::new();
    let mut pending = Vec::new();
    for row in rows.iter().filter(|r| r.status == "done") {
        let file = fold_file(
            &options.out,
            &options.profile,
            &row.project_id,
            row.fold as usize,
        );
        if !file.exists() {
            // A run of another profile sharing this output folder.
            continue;
        }
        let adapter = if row.strategy == "baseline" {
            None
        } else {
            let dir = run_dir(
                &options.out,
                &options.profile,
                &row.project_id,
                &row.strategy,
                row.fold as usize,
            )
            .join(BEST_DIR);
            if !dir.exists() {
                continue;
            }
            Some(dir)
        };
        let key = (row.project_id.clone(), row.fold);
        if !folds.contains_key(&key) {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("reading fold file {}", file.display()))?;
            let parts: FoldParts = serde_json::from_str(&text)
                .with_context(|| format!("parsing fold file {}", file.display()))?;
            folds.insert(key.clone(), parts);
        }
        let mut test = folds[&key].test.clone();
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
            adapter,
            test,
            test_loss: row.test_loss,
        });
    }
    pending.sort_by(|a, b| a.key.cmp(&b.key));
    Ok(pending)
}

/// The baseline folder's generation settings, beam search forced to the paper's 5 × 5.
fn generation_config(
    base_dir: &Path,
    model: &BartForConditionalGeneration,
) -> Result<GenerationConfig> {
    let mut config = GenerationConfig {
        max_length: 128,
        ..GenerationConfig::for_model(model)
    };
    let path = base_dir.join("generation_config.json");
    if path.exists() {
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        let json: serde_json::Value =
            serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
        config.apply_hf_generation_config(&json);
    }
    config.num_beams = NUM_BEAMS;
    config.num_return_sequences = NUM_BEAMS;
    config.max_length = config.max_length.min(model.config.max_position_embeddings);
    Ok(config)
}

/// Beam search over `tests` in batches of similar input length; returns the decoded outputs
/// (best first) and their scores per test, in `tests`' order.
fn generate_all(
    model: &BartForConditionalGeneration,
    tests: &[&Example],
    tokenizer: &CodeTokenizer,
    config: &GenerationConfig,
    batch_size: usize,
    device: &Device,
    progress: &ProgressBar,
) -> Result<Vec<Vec<(String, f64)>>> {
    let pad = model.config.pad_token_id;
    let max_input = model.config.max_position_embeddings;
    // Sorting by length keeps padding (wasted encoder and cross-attention work) small.
    let mut order: Vec<usize> = (0..tests.len()).collect();
    order.sort_by_key(|&i| tests[i].input_ids.len());
    let mut outputs: Vec<Vec<(String, f64)>> = vec![Vec::new(); tests.len()];
    for chunk in order.chunks(batch_size.max(1)) {
        let len = chunk
            .iter()
            .map(|&i| tests[i].input_ids.len().min(max_input))
            .max()
            .unwrap_or(1)
            .max(1);
        let mut ids = Vec::with_capacity(chunk.len() * len);
        let mut mask = Vec::with_capacity(chunk.len() * len);
        for &i in chunk {
            let input = &tests[i].input_ids[..tests[i].input_ids.len().min(max_input)];
            for p in 0..len {
                ids.push(i64::from(input.get(p).copied().unwrap_or(pad)));
                mask.push(i64::from(p < input.len()));
            }
        }
        let shape = [chunk.len(), len];
        let ids = Tensor::<2, Int>::from_data(TensorData::new(ids, shape), device);
        let mask = Tensor::<2, Int>::from_data(TensorData::new(mask, shape), device);
        let generated = generate(model, ids, Some(mask), config)?;
        let per_input = config.num_return_sequences;
        for (row, (sequence, score)) in generated
            .sequences
            .iter()
            .zip(&generated.scores)
            .enumerate()
        {
            let text = tokenizer.decode(sequence)?;
            outputs[chunk[row / per_input]].push((text, f64::from(*score)));
        }
        progress.inc(chunk.len() as u64);
    }
    Ok(outputs)
}

/// Evaluate every finished run of the profile that has no predictions yet.
pub fn run_evaluate(options: &EvaluateOptions) -> Result<EvaluateSummary> {
    let started = Instant::now();
    let finetune_file = table_path(&options.out, finetune_table::NAME);
    let rows = finetune_table::read_rows(&finetune_file)
        .with_context(|| format!("run `tailor finetune --profile {}` first", options.profile))?;
    let all = finished_runs(options, &rows)?;
    ensure!(
        !all.is_empty(),
        "{} has no finished run of profile {} (no `done` row with a fold file under {})",
        finetune_file.display(),
        options.profile,
        options
            .out
            .join("runs")
            .join("finetune")
            .join(&options.profile)
            .display()
    );
    let (predictions_path, metrics_path, scores_path) = (
        predictions_file(&options.out),
        metrics_file(&options.out),
        test_scores_file(&options.out),
    );
    let done = predictions::evaluated_runs(&predictions_path)?;
    let (skipped, pending): (Vec<Pending>, Vec<Pending>) = all.into_iter().partition(|p| {
        done.contains(&(p.key.project_id.clone(), p.key.strategy.clone(), p.key.fold))
    });
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

    let base_dir = baseline::model_dir(&options.out, &options.profile);
    let device = options.backend.device(options.cuda)?;
    options.backend.set_threads(options.threads);
    let base = hf::load_dir(&base_dir, &device)
        .with_context(|| format!("loading the baseline {}", base_dir.display()))?;
    let tokenizer = CodeTokenizer::load(&base_dir)?;
    let config = generation_config(&base_dir, &base)?;
    let examples = read_examples(&options.out)?;
    let abstractor = Abstractor::new(idioms::train_idioms(
        &options.out,
        &examples,
        &tokenizer,
        options.idioms,
    )?);
    let by_id: HashMap<&str, &Example> = examples.iter().map(|e| (e.pair_id.as_str(), e)).collect();

    let total: usize = pending.iter().map(|p| p.test.len()).sum();
    let progress = ProgressBar::new(total as u64).with_style(
        ProgressStyle::with_template(
            "evaluate {bar:30} {pos}/{len} tests · {msg} · {elapsed_precise} (ETA {eta})",
        )
        .expect("valid template"),
    );
    for run in &pending {
        let label = format!(
            "{}/{}/fold{}",
            run.key.project_id, run.key.strategy, run.key.fold
        );
        progress.set_message(label.clone());
        match evaluate_run(
            run,
            &base,
            &base_dir,
            &by_id,
            &tokenizer,
            &config,
            &abstractor,
            options,
            &device,
            &progress,
        ) {
            Ok((preds, metrics, scores)) => {
                // Metrics and scores first: predictions mark the run done.
                metrics_table::upsert(&metrics_path, &metrics)?;
                test_scores::upsert(&scores_path, &scores)?;
                predictions::append(&predictions_path, &preds)?;
                summary.evaluated += 1;
                summary.tests += scores.len();
            }
            Err(err) => {
                progress.println(format!("evaluate: {label} failed: {err:#}"));
                summary.failed.push(format!("{label}: {err:#}"));
            }
        }
    }
    progress.finish_and_clear();
    summary.seconds = started.elapsed().as_secs_f64();
    Ok(summary)
}

#[allow(clippy::too_many_arguments)]
fn evaluate_run(
    run: &Pending,
    base: &BartForConditionalGeneration,
    base_dir: &Path,
    by_id: &HashMap<&str, &Example>,
    tokenizer: &CodeTokenizer,
    config: &GenerationConfig,
    abstractor: &Abstractor,
    options: &EvaluateOptions,
    device: &Device,
    progress: &ProgressBar,
) -> Result<(
    Vec<predictions::PredictionRow>,
    Vec<crate::tables::metrics::MetricRow>,
    Vec<crate::tables::test_scores::TestScoreRow>,
)> {
    let tests: Vec<&Example> = run
        .test
        .iter()
        .map(|id| {
            by_id.get(id.as_str()).copied().with_context(|| {
                format!(
                    "test pair {id} of the fold file is not in {} (examples rebuilt since finetune?)",
                    table_path(&options.out, "examples").display()
                )
            })
        })
        .collect::<Result<_>>()?;
    if tests.is_empty() {
        bail!("no test pairs");
    }
    let customized;
    let model = match &run.adapter {
        None => base,
        Some(dir) => {
            customized = load_adapter(base.clone(), base_dir, dir, device)
                .with_context(|| format!("loading adapter {}", dir.display()))?
                .0;
            &customized
        }
    };
    let outputs = generate_all(
        model,
        &tests,
        tokenizer,
        config,
        options.batch_size,
        device,
        progress,
    )?;
    let references = tests
        .iter()
        .map(|e| tokenizer.decode(&e.target_ids))
        .collect::<Result<Vec<String>>>()?;
    let scored: Vec<Scored<'_>> = tests
        .iter()
        .zip(&references)
        .zip(&outputs)
        .map(|((e, reference), outs)| Scored {
            pair_id: &e.pair_id,
            reference,
            outputs: outs.iter().map(|(t, _)| t.as_str()).collect(),
        })
        .collect();
    let (metrics, scores) = score_run(&run.key, &scored, abstractor, run.test_loss)?;
    let preds = tests
        .iter()
        .zip(&outputs)
        .flat_map(|(e, outs)| {
            outs.iter()
                .enumerate()
                .map(|(rank, (text, score))| predictions::PredictionRow {
                    pair_id: e.pair_id.clone(),
                    project_id: run.key.project_id.clone(),
                    strategy: run.key.strategy.clone(),
                    fold: run.key.fold,
                    rank: rank as u32 + 1,
                    text: text.clone(),
                    score: *score,
                })
        })
        .collect();
    Ok((preds, metrics, scores))
}
