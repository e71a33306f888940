//! The customization stage (`tailor finetune`, `make finetune STRATEGY=…`): the baseline
//! customized to one target project at a time with each strategy, in k-fold cross-validation
//! (paper §3, §4.4), every run through the one training loop.
//!
//! For each target project and fold: fold k of the project's pairs is the test part, a seeded
//! share of the others the validation set (early stopping), the rest the training set. The
//! baseline is evaluated on the same test part (a `baseline` row). Each strategy attaches its
//! modules to the baseline, freezes what it does not train, trains to its best validation
//! loss, and stores only its trainable tensors (an adapter). Rows of
//! `out/tables/finetune.parquet` are written as runs finish; a re-run skips finished runs and
//! resumes an interrupted one from its checkpoint; a failing run is recorded and the sweep goes
//! on.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail, ensure};
use burn::prelude::*;
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use polars::prelude::*;
use serde::{Deserialize, Serialize};

use super::baseline::{self, BaselineOptions};
use super::settings::{FinetuneSettings, Profile};
use super::strategy::{Strategy, StrategyKind};
use super::trainer::{self, BEST_DIR, Run, RunModel};
use crate::data::examples::{Example, read_examples};
use crate::data::folds::{FoldBy, split_fold};
use crate::model::adapter::{ADAPTER_WEIGHTS, load_adapter, save_adapter};
use crate::model::{Backend, BartForConditionalGeneration, hf};
use crate::tables::finetune::{self as table, FinetuneRow};
use crate::tables::{projects, table_path};

/// Which runs a `tailor finetune` call covers, beside the profile's recipe.
#[derive(Debug, Clone)]
pub struct FinetuneOptions {
    pub out: PathBuf,
    pub backend: Backend,
    pub cuda: bool,
    pub peak_tflops: Option<f64>,
}

/// The folder of one run: `OUT/runs/finetune/<profile>/<project>/<strategy>/fold<k>`.
pub fn run_dir(out: &Path, profile: &str, project: &str, strategy: &str, fold: usize) -> PathBuf {
    out.join("runs")
        .join("finetune")
        .join(profile)
        .join(project)
        .join(strategy)
        .join(format!("fold{fold}"))
}

/// The pair ids of each part of one (project, fold), as `make evaluate` reads them back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FoldParts {
    pub project_id: String,
    pub fold: usize,
    pub folds: usize,
    pub fold_by: String,
    pub train: Vec<String>,
    pub valid: Vec<String>,
    pub test: Vec<String>,
}

/// `OUT/runs/finetune/<profile>/<project>/fold<k>.json`.
pub fn fold_file(out: &Path, profile: &str, project: &str, fold: usize) -> PathBuf {
    out.join("runs")
        .join("finetune")
        .join(profile)
        .join(project)
        .join(format!("fold{fold}.json"))
}

/// The finetune table of a profile: `OUT/tables/finetune.parquet` for the default profile's
/// outputs, one table per output folder (rows carry their run folder).
pub fn table_file(out: &Path) -> PathBuf {
    table_path(out, table::NAME)
}

/// The target projects: the profile's list, else the projects table's Table 2 targets.
fn target_projects(out: &Path, settings: &FinetuneSettings) -> Result<Vec<String>> {
    if !settings.projects.is_empty() {
        return Ok(settings.projects.clone());
    }
    let rows = projects::read_projects(&table_path(out, "projects"))?;
    let mut targets: Vec<(u64, String)> = rows
        .into_iter()
        .filter(|r| r.target)
        .map(|r| (r.pairs, r.project_id))
        .collect();
    ensure!(
        !targets.is_empty(),
        "no target project in {} (Table 2 marks them; run `tailor table2`), and the profile's \
         finetune.projects is empty: give PROJECTS=id,id",
        table_path(out, "projects").display()
    );
    // Smallest first, so a sweep capped by `max_projects` fits a compute budget.
    targets.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.cmp(&b.1)));
    let mut ids: Vec<String> = targets.into_iter().map(|(_, id)| id).collect();
    if settings.max_projects > 0 {
        ids.truncate(settings.max_projects);
    }
    Ok(ids)
}

/// Test class of every pair of the given projects (for `--fold-by test-class`).
fn test_classes(out: &Path, projects: &[String]) -> Result<HashMap<String, String>> {
    let path = table_path(out, "pairs");
    let df = LazyFrame::scan_parquet(
        PlPath::new(path.to_str().context("non-UTF-8 path")?),
        Default::default(),
    )
    .with_context(|| format!("opening {}", path.display()))?
    .select([
        col("project_id"),
        col("pair_id"),
        col("test_file"),
        col("test_class"),
    ])
    .collect()
    .with_context(|| format!("reading {}", path.display()))?;
    let owners = crate::tables::read_strings(&df, "project_id")?;
    let ids = crate::tables::read_strings(&df, "pair_id")?;
    let files = crate::tables::read_strings(&df, "test_file")?;
    let classes = crate::tables::read_strings(&df, "test_class")?;
    Ok((0..ids.len())
        .filter(|&i| projects.contains(&owners[i]))
        .map(|i| (ids[i].clone(), format!("{}#{}", files[i], classes[i])))
        .collect())
}

/// Hooks of a customization run: the strategy decides what trains; the best model is stored as
/// an adapter (its trainable tensors) beside the base's content hash.
struct AdapterRun<'a> {
    strategy: &'a Strategy,
    config: crate::model::BartConfig,
    base_dir: &'a Path,
}

impl RunModel for AdapterRun<'_> {
    fn freeze(&self, model: BartForConditionalGeneration) -> BartForConditionalGeneration {
        self.strategy.freeze(model)
    }
    fn trains(&self, path: &str) -> bool {
        self.strategy.trains(path, &self.config)
    }
    fn save_best(&self, model: &BartForConditionalGeneration, dir: &Path) -> Result<()> {
        save_adapter(model, self.strategy, self.base_dir, dir).map(|_| ())
    }
}

/// The strategies of the sweep with the profile's prefix and LoRA settings.
pub fn strategies(settings: &FinetuneSettings, kinds: &[StrategyKind]) -> Vec<Strategy> {
    kinds
        .iter()
        .map(|&kind| Strategy {
            kind,
            prefix: settings.prefix.clone(),
            lora: settings.lora.clone(),
        })
        .collect()
}

/// Run every (project, fold, strategy) of the profile's `finetune` section (narrowed by the
/// caller through `settings`), then print the comparison with the baseline.
pub fn run_finetune(
    profile: &Profile,
    settings: &FinetuneSettings,
    options: &FinetuneOptions,
) -> Result<()> {
    let base_dir = baseline::model_dir(&options.out, &profile.name);
    if !base_dir.join(hf::WEIGHTS_FILE).exists() {
        println!(
            "finetune: no baseline at {} yet: training it first (profile {})",
            base_dir.display(),
            profile.name
        );
        baseline::run_baseline(
            profile,
            &BaselineOptions {
                out: options.out.clone(),
                backend: options.backend,
                cuda: options.cuda,
                peak_tflops: options.peak_tflops,
                samples: 0,
            },
        )?;
    }
    // Every run's recipe names the base by content: hashed once for the whole sweep.
    let base_hash = crate::model::adapter::base_hash(&base_dir)?;
    let targets = target_projects(&options.out, settings)?;
    let folds: Vec<usize> = if settings.run_folds.is_empty() {
        (0..settings.folds).collect()
    } else {
        settings.run_folds.clone()
    };
    ensure!(
        folds.iter().all(|&f| f < settings.folds),
        "finetune.run_folds {:?} must be below finetune.folds {}",
        folds,
        settings.folds
    );
    let strategies = strategies(settings, &settings.strategies);
    let examples = read_examples(&options.out)?;
    let mut by_project: BTreeMap<&str, Vec<&Example>> = BTreeMap::new();
    for example in &examples {
        by_project
            .entry(example.project_id.as_str())
            .or_default()
            .push(example);
    }
    let classes = if settings.fold_by == FoldBy::TestClass {
        test_classes(&options.out, &targets)?
    } else {
        HashMap::new()
    };
    let table_file = table_file(&options.out);
    let inference = options.backend.device(options.cuda)?;
    options.backend.set_threads(settings.train.threads);
    let base = hf::load_dir(&base_dir, &inference)
        .with_context(|| format!("loading the baseline {}", base_dir.display()))?;

    println!(
        "finetune: {} target project(s) × {} fold(s) × {} strateg{} (profile {}, backend {}), baseline {}",
        targets.len(),
        folds.len(),
        strategies.len(),
        if strategies.len() == 1 { "y" } else { "ies" },
        profile.name,
        options.backend,
        base_dir.display()
    );
    let multi = MultiProgress::new();
    let overall = multi.add(ProgressBar::new(
        (targets.len() * folds.len() * strategies.len()) as u64,
    ));
    overall.set_style(
        ProgressStyle::with_template(
            "runs {bar:30} {pos}/{len} · {msg} · {elapsed_precise} (ETA {eta})",
        )
        .expect("valid template"),
    );
    let done: Vec<FinetuneRow> = if table_file.exists() {
        table::read_rows(&table_file)?
    } else {
        Vec::new()
    };
    let finished = |project: &str, strategy: &str, fold: usize| {
        done.iter().any(|r| {
            r.project_id == project
                && r.strategy == strategy
                && r.fold as usize == fold
                && r.status == "done"
        })
    };

    for project in &targets {
        let Some(pairs) = by_project.get(project.as_str()) else {
            multi.suspend(|| eprintln!(
                "finetune: project {project} has no examples in {} (is it in the corpus and mined?); skipped",
                table_path(&options.out, "examples").display()
            ));
            overall.inc((folds.len() * strategies.len()) as u64);
            continue;
        };
        let mut pairs: Vec<&Example> = pairs.clone();
        pairs.sort_by(|a, b| a.pair_id.cmp(&b.pair_id));
        let keys: Vec<String> = pairs
            .iter()
            .map(|e| match settings.fold_by {
                FoldBy::Pair => e.pair_id.clone(),
                // `test_classes` keys each pair by `FoldBy::key`'s `file#class`.
                FoldBy::TestClass => classes
                    .get(&e.pair_id)
                    .cloned()
                    .unwrap_or_else(|| e.pair_id.clone()),
            })
            .collect();
        for &fold in &folds {
            let split = split_fold(
                &keys,
                fold,
                settings.folds,
                settings.valid_fraction,
                settings.fold_seed,
            );
            let part = |indices: &[usize]| -> Vec<Example> {
                indices.iter().map(|&i| pairs[i].clone()).collect()
            };
            let (train, valid, test) = (part(&split.train), part(&split.valid), part(&split.test));
            let parts = FoldParts {
                project_id: project.clone(),
                fold,
                folds: settings.folds,
                fold_by: format!("{:?}", settings.fold_by),
                train: train.iter().map(|e| e.pair_id.clone()).collect(),
                valid: valid.iter().map(|e| e.pair_id.clone()).collect(),
                test: test.iter().map(|e| e.pair_id.clone()).collect(),
            };
            super::checkpoint::write_atomic(
                &fold_file(&options.out, &profile.name, project, fold),
                serde_json::to_string_pretty(&parts)?.as_bytes(),
            )?;
            if !finished(project, "baseline", fold) {
                let row = evaluate_baseline(
                    &base, project, fold, &train, &valid, &test, settings, &inference,
                )
                .unwrap_or_else(|err| {
                    error_row(project, "baseline", fold, &err, &train, &valid, &test, "")
                });
                table::upsert(&table_file, row)?;
            }
            for strategy in &strategies {
                let name = strategy.name();
                overall.set_message(format!("{project} fold {fold} {name}"));
                let dir = run_dir(&options.out, &profile.name, project, name, fold);
                let recipe = run_recipe(profile, settings, strategy, project, fold, &base_hash)?;
                if finished(project, name, fold) {
                    match done_run(&dir, &recipe) {
                        DoneRun::Current => {
                            overall.inc(1);
                            continue;
                        }
                        DoneRun::OtherRecipe(diff) => {
                            multi.suspend(|| eprintln!(
                                "finetune: {project} fold {fold} {name} finished under another \
                                 recipe; its row is kept. Remove {} (or choose another --out) to \
                                 run it as the profile now says. Differences (recorded → now):\n  {}",
                                dir.display(),
                                diff.join("\n  ")
                            ));
                            overall.inc(1);
                            continue;
                        }
                        DoneRun::Missing => {} // trained again below
                    }
                }
                let row = match customize(
                    &recipe, settings, strategy, &base, &base_dir, &dir, project, fold, &train,
                    &valid, &test, options, &multi,
                ) {
                    Ok(row) => row,
                    Err(err) => {
                        multi.suspend(|| {
                            eprintln!("finetune: {project} fold {fold} {name} failed: {err:#}")
                        });
                        error_row(
                            project,
                            name,
                            fold,
                            &err,
                            &train,
                            &valid,
                            &test,
                            &dir.to_string_lossy(),
                        )
                    }
                };
                table::upsert(&table_file, row)?;
                overall.inc(1);
            }
        }
    }
    overall.finish_and_clear();
    let rows = table::read_rows(&table_file)?;
    print_comparison(&rows, &targets, &folds, &strategies);
    println!("table: {}", table_file.display());
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn error_row(
    project: &str,
    strategy: &str,
    fold: usize,
    err: &anyhow::Error,
    train: &[Example],
    valid: &[Example],
    test: &[Example],
    dir: &str,
) -> FinetuneRow {
    FinetuneRow {
        project_id: project.to_string(),
        strategy: strategy.to_string(),
        fold: fold as u32,
        status: "error".into(),
        error: Some(format!("{err:#}")),
        trainable_params: 0,
        total_params: 0,
        adapter_bytes: 0,
        steps: 0,
        epochs: 0.0,
        tokens: 0,
        pf_seconds: 0.0,
        wall_seconds: 0.0,
        best_val_loss: f64::NAN,
        test_loss: f64::NAN,
        test_perplexity: f64::NAN,
        test_tokens: 0,
        train_examples: train.len() as u64,
        valid_examples: valid.len() as u64,
        test_examples: test.len() as u64,
        run_dir: dir.to_string(),
    }
}

#[allow(clippy::too_many_arguments)]
fn evaluate_baseline(
    base: &BartForConditionalGeneration,
    project: &str,
    fold: usize,
    train: &[Example],
    valid: &[Example],
    test: &[Example],
    settings: &FinetuneSettings,
    device: &Device,
) -> Result<FinetuneRow> {
    let (test_refs, valid_refs): (Vec<&Example>, Vec<&Example>) =
        (test.iter().collect(), valid.iter().collect());
    let (test_loss, test_tokens) =
        trainer::evaluate(base, &test_refs, settings.train.batch_tokens, device)?;
    let (val_loss, _) = trainer::evaluate(base, &valid_refs, settings.train.batch_tokens, device)?;
    let total = base.num_params() - base.config.vocab_size; // final_logits_bias is a buffer
    Ok(FinetuneRow {
        project_id: project.to_string(),
        strategy: "baseline".into(),
        fold: fold as u32,
        status: "done".into(),
        error: None,
        trainable_params: 0,
        total_params: total as u64,
        adapter_bytes: 0,
        steps: 0,
        epochs: 0.0,
        tokens: 0,
        pf_seconds: 0.0,
        wall_seconds: 0.0,
        best_val_loss: val_loss,
        test_loss,
        test_perplexity: test_loss.exp(),
        test_tokens,
        train_examples: train.len() as u64,
        valid_examples: valid.len() as u64,
        test_examples: test.len() as u64,
        run_dir: String::new(),
    })
}

/// The recipe a run folder records (`config.resolved.toml`): what decides its result.
fn run_recipe(
    profile: &Profile,
    settings: &FinetuneSettings,
    strategy: &Strategy,
    project: &str,
    fold: usize,
    base_hash: &str,
) -> Result<String> {
    Ok(format!(
        "# customization run: {project} / {} / fold {fold}\n{}",
        strategy.name(),
        toml::to_string_pretty(&RunRecipe {
            profile: profile.name.clone(),
            project: project.to_string(),
            fold,
            folds: settings.folds,
            fold_by: format!("{:?}", settings.fold_by),
            valid_fraction: settings.valid_fraction,
            fold_seed: settings.fold_seed,
            strategy: strategy.clone(),
            train: settings.train_for(strategy.kind),
            base_hash: base_hash.to_string(),
        })?
    ))
}

/// What became of a run the table calls done.
enum DoneRun {
    /// Its adapter is there and its folder records the current recipe: skip it.
    Current,
    /// Its adapter or folder is gone: run it again.
    Missing,
    /// Its folder records another recipe (these differences): keep its row, say so.
    OtherRecipe(Vec<String>),
}

fn done_run(dir: &Path, recipe: &str) -> DoneRun {
    let adapter = dir.join(BEST_DIR).join(crate::model::adapter::ADAPTER_INFO);
    let Ok(recorded) = std::fs::read_to_string(dir.join(super::settings::RESOLVED_FILE)) else {
        return DoneRun::Missing;
    };
    if !adapter.exists() {
        return DoneRun::Missing;
    }
    match super::settings::differences(&recorded, recipe) {
        Ok(diff) if diff.is_empty() => DoneRun::Current,
        Ok(diff) => DoneRun::OtherRecipe(diff),
        Err(err) => DoneRun::OtherRecipe(vec![format!("unreadable recipe: {err:#}")]),
    }
}

/// One customization run: attach, (prefix) initialise, train, evaluate the best adapter on the
/// test part. `recipe` is its [`run_recipe`], claimed in `dir`.
#[allow(clippy::too_many_arguments)]
fn customize(
    recipe: &str,
    settings: &FinetuneSettings,
    strategy: &Strategy,
    base: &BartForConditionalGeneration,
    base_dir: &Path,
    dir: &Path,
    project: &str,
    fold: usize,
    train: &[Example],
    valid: &[Example],
    test: &[Example],
    options: &FinetuneOptions,
    multi: &MultiProgress,
) -> Result<FinetuneRow> {
    ensure!(
        !test.is_empty(),
        "fold {fold} of {project} has no test pairs"
    );
    if train.is_empty() || valid.is_empty() {
        bail!(
            "{project} fold {fold} has {} training and {} validation pairs: too few to customize",
            train.len(),
            valid.len()
        );
    }
    let train_settings = settings.train_for(strategy.kind);
    super::settings::claim_run_dir(dir, recipe)?;
    let device = options.backend.device(options.cuda)?.autodiff();
    device.seed(settings.train.seed);
    let start = hf::load_dir(base_dir, &device)?;
    let mut model = strategy.attach(start, &device);
    if strategy.kind == StrategyKind::Prefix {
        let sequences: Vec<Vec<u32>> = train
            .iter()
            .flat_map(|e| [e.input_ids.clone(), e.target_ids.clone()])
            .collect();
        let tokens =
            super::prefix_init::most_frequent_tokens(&sequences, strategy.prefix.len, true);
        model =
            super::prefix_init::init_prefix_from_tokens(model, &tokens, &strategy.prefix, &device);
    }
    let hooks = AdapterRun {
        strategy,
        config: model.config.clone(),
        base_dir,
    };
    let run = Run {
        dir: dir.to_path_buf(),
        label: format!("{project}/{}/fold{fold}", strategy.name()),
        settings: &train_settings,
        train,
        valid,
        progress: Some(multi),
        peak_tflops: options.peak_tflops,
    };
    let outcome = trainer::train(&run, model, &hooks, &device)?;
    let state = &outcome.state;

    // The best adapter, loaded back onto the (already loaded) base, on the test part.
    let inference = options.backend.device(options.cuda)?;
    let best = dir.join(BEST_DIR);
    let (customized, _) = load_adapter(base.clone(), base_dir, &best, &inference)
        .with_context(|| format!("loading the best adapter {}", best.display()))?;
    let refs: Vec<&Example> = test.iter().collect();
    let (test_loss, test_tokens) =
        trainer::evaluate(&customized, &refs, settings.train.batch_tokens, &inference)?;
    let adapter_bytes = std::fs::metadata(best.join(ADAPTER_WEIGHTS))
        .with_context(|| {
            format!(
                "reading the size of {}",
                best.join(ADAPTER_WEIGHTS).display()
            )
        })?
        .len();
    Ok(FinetuneRow {
        project_id: project.to_string(),
        strategy: strategy.name().to_string(),
        fold: fold as u32,
        status: "done".into(),
        error: None,
        trainable_params: outcome.trainable_params as u64,
        total_params: outcome.total_params as u64,
        adapter_bytes,
        steps: state.step,
        epochs: state.curve.last().map_or(0.0, |p| p.epoch),
        tokens: state.tokens,
        pf_seconds: state.flops / 1e15,
        wall_seconds: state.wall_seconds,
        best_val_loss: state.best_val_loss.unwrap_or(f64::NAN),
        test_loss,
        test_perplexity: test_loss.exp(),
        test_tokens,
        train_examples: train.len() as u64,
        valid_examples: valid.len() as u64,
        test_examples: test.len() as u64,
        run_dir: dir.to_string_lossy().into_owned(),
    })
}

/// What identifies a customization run (recorded as its resolved config): not the rest of the
/// sweep, so adding strategies or projects later reuses finished runs.
#[derive(Debug, Clone, Serialize)]
struct RunRecipe {
    profile: String,
    project: String,
    fold: usize,
    folds: usize,
    fold_by: String,
    valid_fraction: f64,
    fold_seed: u64,
    base_hash: String,
    strategy: Strategy,
    train: super::settings::TrainSettings,
}

/// One line per strategy: means over the chosen (project, fold) against the baseline's.
fn print_comparison(
    rows: &[FinetuneRow],
    projects: &[String],
    folds: &[usize],
    strategies: &[Strategy],
) {
    let chosen =
        |r: &&FinetuneRow| projects.contains(&r.project_id) && folds.contains(&(r.fold as usize));
    let baseline: HashMap<(String, u32), f64> = rows
        .iter()
        .filter(chosen)
        .filter(|r| r.strategy == "baseline" && r.status == "done")
        .map(|r| ((r.project_id.clone(), r.fold), r.test_loss))
        .collect();
    println!(
        "\n| strategy | runs | test loss | perplexity | beats baseline | trainable params | adapter | tokens | PF-s | wall s |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    let mut names = vec!["baseline".to_string()];
    names.extend(strategies.iter().map(|s| s.name().to_string()));
    for name in names {
        let done: Vec<&FinetuneRow> = rows
            .iter()
            .filter(chosen)
            .filter(|r| r.strategy == name && r.status == "done")
            .collect();
        let errors = rows
            .iter()
            .filter(chosen)
            .filter(|r| r.strategy == name && r.status == "error")
            .count();
        if done.is_empty() {
            println!("| {name} | 0 ({errors} failed) | — | — | — | — | — | — | — | — |");
            continue;
        }
        let n = done.len() as f64;
        let mean = |f: fn(&FinetuneRow) -> f64| done.iter().map(|r| f(r)).sum::<f64>() / n;
        let wins = done
            .iter()
            .filter(|r| {
                baseline
                    .get(&(r.project_id.clone(), r.fold))
                    .is_some_and(|&b| r.test_loss < b)
            })
            .count();
        println!(
            "| {name} | {}{} | {:.4} | {:.3} | {} | {:.0} | {} | {:.0} | {:.5} | {:.0} |",
            done.len(),
            if errors > 0 {
                format!(" ({errors} failed)")
            } else {
                String::new()
            },
            mean(|r| r.test_loss),
            mean(|r| r.test_perplexity),
            if name == "baseline" {
                "—".to_string()
            } else {
                format!("{wins}/{}", done.len())
            },
            mean(|r| r.trainable_params as f64),
            human_bytes(mean(|r| r.adapter_bytes as f64)),
            mean(|r| r.tokens as f64),
            mean(|r| r.pf_seconds),
            mean(|r| r.wall_seconds),
        );
    }
}

fn human_bytes(bytes: f64) -> String {
    match bytes {
        b if b >= 1e9 => format!("{:.2} GB", b / 1e9),
        b if b >= 1e6 => format!("{:.1} MB", b / 1e6),
        b if b >= 1e3 => format!("{:.1} kB", b / 1e3),
        b => format!("{b:.0} B"),
    }
}
