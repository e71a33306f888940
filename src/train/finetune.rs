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
use serde::Serialize;

use super::baseline;
use super::checkpoint::TrainState;
use super::settings::TrainSettings;
use super::settings::{FinetuneSettings, Profile};
use super::trainer::{self, BEST_DIR, Outcome, Run, RunModel};
use crate::data::examples::{Example, ExampleSettings, read_examples};
pub use crate::data::folds::FoldInputs;
use crate::data::folds::{FoldBy, split_fold};
use crate::model::adapter::ADAPTER_WEIGHTS;
use crate::model::{Backend, BartForConditionalGeneration, hf};
use crate::strategy::adapter::{load_adapter, save_adapter};
use crate::strategy::{Strategy, StrategyKind};
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
    crate::layout::Layout::new(out)
        .runs(profile)
        .run_dir(project, strategy, fold)
}

/// The pair ids of each part of one (project, fold): a data record, kept in `data::folds`.
pub use crate::data::folds::FoldParts;

/// A run folder's own record of the fold it was trained and tested on: evaluation reads the
/// test part from here, so a later change of the fold settings cannot move a run's test part.
pub const RUN_FOLD_FILE: &str = crate::layout::RUN_FOLD_FILE;

/// `OUT/runs/finetune/<profile>/<project>/fold<k>.json`.
pub fn fold_file(out: &Path, profile: &str, project: &str, fold: usize) -> PathBuf {
    crate::layout::Layout::new(out)
        .runs(profile)
        .fold_file(project, fold)
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
/// an adapter (its trainable tensors) beside the base's content hash. Shared with `tailor
/// adapt`, which customizes an own project through the same loop.
pub(crate) struct AdapterRun<'a> {
    pub(crate) strategy: &'a Strategy,
    pub(crate) config: crate::model::BartConfig,
    pub(crate) base_dir: &'a Path,
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
    kinds.iter().map(|&kind| settings.strategy(kind)).collect()
}

/// Run every (project, fold, strategy) of the profile's `finetune` section (narrowed by the
/// caller through `settings`) on the profile's baseline, then print the comparison with it.
/// The baseline must exist: the `finetune` stage ([`crate::pipeline::finetune`]) trains it
/// first when it does not.
pub fn run_sweep(
    profile: &Profile,
    settings: &FinetuneSettings,
    options: &FinetuneOptions,
) -> Result<()> {
    let base_dir = baseline::model_dir(&options.out, &profile.name);
    let sweep = Sweep::open(profile, settings, options, base_dir)?;
    for project in &sweep.targets {
        let Some((pairs, keys)) = sweep.pairs_of(project) else {
            continue;
        };
        for &k in &sweep.folds {
            let fold = sweep.fold(project, &pairs, &keys, k)?;
            sweep.measure_references(&fold)?;
            for strategy in &sweep.strategies {
                sweep.run(&fold, strategy)?;
            }
        }
    }
    sweep.finish()
}

/// The folds a sweep runs: the settings' `run_folds`, else all.
fn run_folds(settings: &FinetuneSettings) -> Result<Vec<usize>> {
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
    Ok(folds)
}

/// Examples grouped by project, in table order within each.
fn examples_by_project(examples: Vec<Example>) -> BTreeMap<String, Vec<Example>> {
    let mut by_project: BTreeMap<String, Vec<Example>> = BTreeMap::new();
    for example in examples {
        by_project
            .entry(example.project_id.clone())
            .or_default()
            .push(example);
    }
    by_project
}

/// What every run of a sweep shares, loaded once: the plan (targets × folds × strategies), the
/// examples, the base (loaded, and hashed by content: every run's recipe names it so), the
/// finetune table's rows when the sweep began, and the progress bars.
struct Sweep<'a> {
    profile: &'a Profile,
    settings: &'a FinetuneSettings,
    options: &'a FinetuneOptions,
    targets: Vec<String>,
    folds: Vec<usize>,
    strategies: Vec<Strategy>,
    by_project: BTreeMap<String, Vec<Example>>,
    fold_inputs: FoldInputs,
    /// Test class of every target pair, when folds are drawn by test class.
    classes: HashMap<String, String>,
    base_dir: PathBuf,
    base_hash: String,
    base: BartForConditionalGeneration,
    /// The device the base and the adapters are evaluated on.
    inference: Device,
    table_file: PathBuf,
    /// The table's rows when the sweep began.
    done: Vec<FinetuneRow>,
    multi: MultiProgress,
    /// One tick per (project, fold, strategy).
    overall: ProgressBar,
}

impl<'a> Sweep<'a> {
    /// Load what the runs share and announce the sweep.
    fn open(
        profile: &'a Profile,
        settings: &'a FinetuneSettings,
        options: &'a FinetuneOptions,
        base_dir: PathBuf,
    ) -> Result<Self> {
        let out = &options.out;
        // Every run's recipe names the base by content: hashed once for the whole sweep.
        let base_hash = crate::model::adapter::base_hash(&base_dir)?;
        let targets = target_projects(out, settings)?;
        let folds = run_folds(settings)?;
        let strategies = strategies(settings, &settings.strategies);
        let examples = read_examples(out)?;
        let fold_inputs = FoldInputs::load(out)?;
        let by_project = examples_by_project(examples);
        let classes = if settings.fold_by == FoldBy::TestClass {
            test_classes(out, &targets)?
        } else {
            HashMap::new()
        };
        let table_file = table_file(out);
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
        let done = if table_file.exists() {
            table::read_rows(&table_file)?
        } else {
            Vec::new()
        };
        Ok(Self {
            profile,
            settings,
            options,
            targets,
            folds,
            strategies,
            by_project,
            fold_inputs,
            classes,
            base_dir,
            base_hash,
            base,
            inference,
            table_file,
            done,
            multi,
            overall,
        })
    }

    /// The row the table had for a run when the sweep began.
    fn recorded(&self, project: &str, strategy: &str, fold: usize) -> Option<&FinetuneRow> {
        self.done
            .iter()
            .find(|r| r.project_id == project && r.strategy == strategy && r.fold as usize == fold)
    }

    /// Print `line` to stderr above the bars.
    fn say(&self, line: &str) {
        self.multi.suspend(|| eprintln!("{line}"));
    }

    /// `project`'s pairs sorted by id, with the key each is folded by. A project without
    /// examples is said and its runs counted as passed.
    fn pairs_of(&self, project: &str) -> Option<(Vec<&Example>, Vec<String>)> {
        let Some(pairs) = self.by_project.get(project) else {
            self.say(&format!(
                "finetune: project {project} has no examples in {} (is it in the corpus and mined?); skipped",
                table_path(&self.options.out, "examples").display()
            ));
            self.overall
                .inc((self.folds.len() * self.strategies.len()) as u64);
            return None;
        };
        let mut pairs: Vec<&Example> = pairs.iter().collect();
        pairs.sort_by(|a, b| a.pair_id.cmp(&b.pair_id));
        let keys: Vec<String> = pairs
            .iter()
            .map(|e| match self.settings.fold_by {
                FoldBy::Pair => e.pair_id.clone(),
                // `test_classes` keys each pair by `FoldBy::key`'s `file#class`.
                FoldBy::TestClass => self
                    .classes
                    .get(&e.pair_id)
                    .cloned()
                    .unwrap_or_else(|| e.pair_id.clone()),
            })
            .collect();
        Some((pairs, keys))
    }

    /// Fold `k` of `project`'s `pairs` (folded by `keys`): its parts with their inputs, its
    /// record written beside the project's runs.
    fn fold(&self, project: &str, pairs: &[&Example], keys: &[String], k: usize) -> Result<Fold> {
        let settings = self.settings;
        let split = split_fold(
            keys,
            k,
            settings.folds,
            settings.valid_fraction,
            settings.fold_seed,
        );
        let part = |indices: &[usize]| -> Vec<Example> {
            indices.iter().map(|&i| pairs[i].clone()).collect()
        };
        let (train, valid, test) = (part(&split.train), part(&split.valid), part(&split.test));
        let parts = FoldParts {
            project_id: project.to_string(),
            fold: k,
            folds: settings.folds,
            fold_by: format!("{:?}", settings.fold_by),
            train: train.iter().map(|e| e.pair_id.clone()).collect(),
            valid: valid.iter().map(|e| e.pair_id.clone()).collect(),
            test: test.iter().map(|e| e.pair_id.clone()).collect(),
        };
        // Retrieval-augmented inputs retrieve from this fold's training part only: the
        // three parts in one call, so the training part is indexed once.
        let (n_train, n_valid) = (train.len(), valid.len());
        let mut all =
            self.fold_inputs
                .rebuild(&[train, valid, test].concat(), project, k, &parts.train)?;
        let test = all.split_off(n_train + n_valid);
        let valid = all.split_off(n_train);
        let hash = parts.membership_hash();
        super::checkpoint::write_atomic(
            &fold_file(&self.options.out, &self.profile.name, project, k),
            serde_json::to_string_pretty(&parts)?.as_bytes(),
        )?;
        Ok(Fold {
            parts,
            hash,
            train: all,
            valid,
            test,
        })
    }

    /// The rows a fold's customizations are compared with: the baseline's, measured again
    /// unless current (for this fold's pairs and this base), and retrieval's when asked for.
    fn measure_references(&self, fold: &Fold) -> Result<()> {
        let parts = &fold.parts;
        let baseline_current = self
            .recorded(&parts.project_id, BASELINE, parts.fold)
            .is_some_and(|r| {
                r.status == table::DONE && r.fold_hash == fold.hash && r.base_hash == self.base_hash
            });
        if !baseline_current {
            let row = evaluate_baseline(
                &self.base,
                parts,
                &fold.valid,
                &fold.test,
                self.settings,
                &self.inference,
            )
            .map(|mut row| {
                row.base_hash = self.base_hash.clone();
                row
            })
            .unwrap_or_else(|err| error_row(parts, BASELINE, &err, "", &self.base_hash));
            table::upsert(&self.table_file, row)?;
        }
        if self.settings.ir {
            table::upsert(&self.table_file, ir_row(parts))?;
        }
        Ok(())
    }

    /// One strategy on one fold: passed when the table's row for it stands, else customized
    /// (resumed when interrupted) and its row written, a failure as an `error` row.
    fn run(&self, fold: &Fold, strategy: &Strategy) -> Result<()> {
        let (project, k, name) = (&fold.parts.project_id, fold.parts.fold, strategy.name());
        self.overall
            .set_message(format!("{project} fold {k} {name}"));
        let spec = RunSpec {
            sweep: self,
            fold,
            strategy,
            dir: run_dir(&self.options.out, &self.profile.name, project, name, k),
            recipe: run_recipe(
                self.profile,
                self.settings,
                strategy,
                project,
                k,
                &self.base_hash,
            )?,
        };
        if let Some(row) = self.recorded(project, name, k)
            && !self.runs_again(row, &spec)?
        {
            self.overall.inc(1);
            return Ok(());
        }
        let row = customize(&spec).unwrap_or_else(|err| {
            self.say(&format!(
                "finetune: {project} fold {k} {name} failed: {err:#}"
            ));
            error_row(
                &fold.parts,
                name,
                &err,
                &spec.dir.to_string_lossy(),
                &self.base_hash,
            )
        });
        if row.status != table::DONE && row.status != table::ERROR {
            self.say(&format!(
                "finetune: {project} fold {k} {name} is {}: {}",
                row.status,
                row.error.as_deref().unwrap_or_default()
            ));
        }
        table::upsert(&self.table_file, row)?;
        self.overall.inc(1);
        Ok(())
    }

    /// Whether the run of `spec`, which the table has `row` for, trains (on). A run that does
    /// not is current, or stale (said, and its row marked so), or of another recipe (said).
    fn runs_again(&self, row: &FinetuneRow, spec: &RunSpec<'_>) -> Result<bool> {
        let parts = &spec.fold.parts;
        let (project, fold, name) = (&parts.project_id, parts.fold, spec.strategy.name());
        match done_run(row, &spec.dir, &spec.recipe, &spec.fold.hash) {
            DoneRun::Current => Ok(false),
            DoneRun::Stale(why) => {
                self.say(&format!("finetune: {project} fold {fold} {name}: {why}"));
                if row.status != table::STALE {
                    let mut stale = row.clone();
                    stale.status = table::STALE.into();
                    stale.error = Some(why);
                    table::upsert(&self.table_file, stale)?;
                }
                Ok(false)
            }
            DoneRun::OtherRecipe(diff) => {
                self.say(&format!(
                    "finetune: {project} fold {fold} {name} was trained under another \
                     recipe on the same fold and base; its row is kept. Remove {} (or \
                     choose another --out) to run it as the profile now says. \
                     Differences (recorded → now):\n  {}",
                    spec.dir.display(),
                    diff.join("\n  ")
                ));
                Ok(false)
            }
            DoneRun::Resume => Ok(true),
        }
    }

    /// Clear the bars and print the comparison of the sweep's runs, read back from the table.
    fn finish(self) -> Result<()> {
        self.overall.finish_and_clear();
        let rows = table::read_rows(&self.table_file)?;
        print_comparison(
            &rows,
            &self.targets,
            &self.folds,
            &self.strategies,
            self.settings.ir,
        );
        println!("table: {}", self.table_file.display());
        Ok(())
    }
}

/// One fold of a target project: its parts as pair ids (as recorded) and as examples with
/// their inputs.
struct Fold {
    parts: FoldParts,
    /// [`FoldParts::membership_hash`].
    hash: String,
    train: Vec<Example>,
    valid: Vec<Example>,
    test: Vec<Example>,
}

/// The run label of the un-customized base evaluated on a fold's parts.
pub const BASELINE: &str = crate::label::BASELINE;
/// The run label of retrieval (the fold's most similar training test, no model).
pub const IR: &str = crate::label::RETRIEVAL;

/// A row with the fold's sizes and hash and nothing measured yet.
fn fold_row(parts: &FoldParts, strategy: &str, status: &str) -> FinetuneRow {
    FinetuneRow {
        project_id: parts.project_id.clone(),
        strategy: strategy.to_string(),
        fold: parts.fold as u32,
        status: status.into(),
        error: None,
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
        train_examples: parts.train.len() as u64,
        valid_examples: parts.valid.len() as u64,
        test_examples: parts.test.len() as u64,
        run_dir: String::new(),
        stopped: String::new(),
        best_step: 0,
        step0_val_loss: f64::NAN,
        fold_hash: parts.membership_hash(),
        base_hash: String::new(),
    }
}

fn error_row(
    parts: &FoldParts,
    strategy: &str,
    err: &anyhow::Error,
    dir: &str,
    base_hash: &str,
) -> FinetuneRow {
    FinetuneRow {
        error: Some(format!("{err:#}")),
        run_dir: dir.to_string(),
        base_hash: base_hash.to_string(),
        ..fold_row(parts, strategy, table::ERROR)
    }
}

/// Retrieval's row: no parameters, no compute, no perplexity (it scores no tokens); its
/// predictions come from `tailor evaluate`, retrieved from the fold's training part only.
fn ir_row(parts: &FoldParts) -> FinetuneRow {
    fold_row(parts, IR, table::DONE)
}

fn evaluate_baseline(
    base: &BartForConditionalGeneration,
    parts: &FoldParts,
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
        total_params: total as u64,
        best_val_loss: val_loss,
        step0_val_loss: val_loss,
        test_loss,
        test_perplexity: test_loss.exp(),
        test_tokens,
        ..fold_row(parts, BASELINE, table::DONE)
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
            train: settings.train_for(strategy.kind()),
            base_hash: base_hash.to_string(),
            data: profile.data.clone(),
            strategy: strategy.clone(),
        })?
    ))
}

/// What became of a run the table has a row for.
enum DoneRun {
    /// Finished on the current recipe, fold and base (done, or untrained by its own recipe):
    /// skip it.
    Current,
    /// Not finished (failed, capped by the guard, or its folder is gone): run it (on).
    Resume,
    /// Trained on another fold membership or base: its numbers cannot be compared with the
    /// current baseline row, so it is marked stale (this says why) and never reported.
    Stale(String),
    /// Its folder records another recipe on the same fold and base (these differences): keep
    /// its row, say so.
    OtherRecipe(Vec<String>),
}

/// Recipe fields that decide the fold's membership or the base: a difference in one of them
/// makes a finished run incomparable with the current baseline row.
const FOLD_AND_BASE_FIELDS: [&str; 6] = [
    "fold",
    "folds",
    "fold_by",
    "valid_fraction",
    "fold_seed",
    "base_hash",
];

fn done_run(row: &FinetuneRow, dir: &Path, recipe: &str, fold_hash: &str) -> DoneRun {
    let finished = row.status == table::DONE || row.status == table::UNTRAINED;
    let adapter = dir.join(BEST_DIR).join(crate::model::adapter::ADAPTER_INFO);
    let Ok(recorded) = std::fs::read_to_string(dir.join(super::settings::RESOLVED_FILE)) else {
        return DoneRun::Resume;
    };
    if !adapter.exists() {
        return DoneRun::Resume;
    }
    let diff = match super::settings::differences(&recorded, recipe) {
        Ok(diff) => diff,
        Err(err) => vec![format!("unreadable recipe: {err:#}")],
    };
    let run_fold = FoldParts::read(&dir.join(RUN_FOLD_FILE)).map(|p| p.membership_hash());
    // A different fold, base or set of inputs: the run cannot be compared with the rows now.
    let moved: Vec<&String> = diff
        .iter()
        .filter(|d| {
            d.starts_with("data.")
                || FOLD_AND_BASE_FIELDS
                    .iter()
                    .any(|f| d.starts_with(&format!("{f}:")))
        })
        .collect();
    let fold_changed = !matches!(&run_fold, Ok(hash) if hash == fold_hash);
    if row.status == table::STALE || fold_changed || !moved.is_empty() {
        let mut why = vec![];
        if fold_changed {
            why.push(match run_fold {
                Ok(hash) => format!(
                    "its fold record (membership {hash}) differs from the fold now ({fold_hash})"
                ),
                Err(err) => format!("it has no readable fold record: {err:#}"),
            });
        }
        why.extend(moved.iter().map(|d| d.to_string()));
        return DoneRun::Stale(format!(
            "{} was trained on another fold or base, so it is not reported; remove the folder \
             to train it again ({})",
            dir.display(),
            why.join("; ")
        ));
    }
    // Another recipe on the same fold and base keeps its row, whatever it says (done, capped,
    // failed): the sweep never overwrites a run's record with one of a run it cannot resume.
    if !diff.is_empty() {
        return DoneRun::OtherRecipe(diff);
    }
    if finished {
        DoneRun::Current
    } else {
        DoneRun::Resume
    }
}

/// One customization run of a sweep, all it needs: a strategy on one fold, in its run folder,
/// under its recipe.
struct RunSpec<'a> {
    sweep: &'a Sweep<'a>,
    fold: &'a Fold,
    strategy: &'a Strategy,
    dir: PathBuf,
    /// Its [`run_recipe`], claimed in `dir`.
    recipe: String,
}

/// One customization run: attach, initialise, train, evaluate the best adapter on the test
/// part. The row says whether it is reportable: `done` only when training improved on the start
/// and the recipe's own stopping rules (not the wall-time guard) ended it.
fn customize(spec: &RunSpec<'_>) -> Result<FinetuneRow> {
    let RunSpec {
        sweep,
        fold,
        strategy,
        dir,
        ..
    } = spec;
    let options = sweep.options;
    spec.check_parts()?;
    let train_settings = sweep.settings.train_for(strategy.kind());
    super::settings::claim_run_dir(dir, &spec.recipe)?;
    // The run's own record of its fold, read back by evaluation (never the shared fold file).
    super::checkpoint::write_atomic(
        &dir.join(RUN_FOLD_FILE),
        serde_json::to_string_pretty(&fold.parts)?.as_bytes(),
    )?;
    let device = options.backend.device(options.cuda)?.autodiff();
    device.seed(sweep.settings.train.seed);
    let start = hf::load_dir(&sweep.base_dir, &device)?;
    let model = strategy.initialise(strategy.attach(start, &device), &fold.train, &device);
    let hooks = AdapterRun {
        strategy,
        config: model.config.clone(),
        base_dir: &sweep.base_dir,
    };
    let outcome = trainer::train(&spec.training(&train_settings), model, &hooks, &device)?;
    let tested = spec.test_best()?;
    Ok(spec.row(&outcome, &train_settings, tested))
}

/// The best adapter of a run on its fold's test part.
struct Tested {
    loss: f64,
    tokens: u64,
    adapter_bytes: u64,
}

impl RunSpec<'_> {
    /// A fold too small to customize on is an error of this run, not of the sweep.
    fn check_parts(&self) -> Result<()> {
        let Fold {
            parts,
            train,
            valid,
            test,
            ..
        } = self.fold;
        let (project, fold) = (&parts.project_id, parts.fold);
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
        Ok(())
    }

    /// What the training loop runs: the fold's training and validation parts under `settings`.
    fn training<'s>(&'s self, settings: &'s TrainSettings) -> Run<'s, Example> {
        let parts = &self.fold.parts;
        Run {
            dir: self.dir.clone(),
            label: format!(
                "{}/{}/fold{}",
                parts.project_id,
                self.strategy.name(),
                parts.fold
            ),
            settings,
            train: &self.fold.train,
            valid: &self.fold.valid,
            progress: Some(&self.sweep.multi),
            peak_tflops: self.sweep.options.peak_tflops,
        }
    }

    /// The best adapter, loaded back onto the (already loaded) base, on the test part.
    fn test_best(&self) -> Result<Tested> {
        let sweep = self.sweep;
        let inference = sweep.options.backend.device(sweep.options.cuda)?;
        let best = self.dir.join(BEST_DIR);
        let (customized, _) = load_adapter(sweep.base.clone(), &sweep.base_dir, &best, &inference)
            .with_context(|| format!("loading the best adapter {}", best.display()))?;
        let refs: Vec<&Example> = self.fold.test.iter().collect();
        let (loss, tokens) = trainer::evaluate(
            &customized,
            &refs,
            sweep.settings.train.batch_tokens,
            &inference,
        )?;
        let weights = best.join(ADAPTER_WEIGHTS);
        let adapter_bytes = std::fs::metadata(&weights)
            .with_context(|| format!("reading the size of {}", weights.display()))?
            .len();
        Ok(Tested {
            loss,
            tokens,
            adapter_bytes,
        })
    }

    /// The run's row: how it trained (`outcome`, under `settings`) and how its best adapter
    /// tested.
    fn row(&self, outcome: &Outcome, settings: &TrainSettings, tested: Tested) -> FinetuneRow {
        let state = &outcome.state;
        let step0 = state.curve.first().map_or(f64::NAN, |p| p.val_loss);
        let (status, note) = run_status(state, settings.max_minutes, step0);
        FinetuneRow {
            error: note,
            trainable_params: outcome.trainable_params as u64,
            total_params: outcome.total_params as u64,
            adapter_bytes: tested.adapter_bytes,
            steps: state.step,
            epochs: state.curve.last().map_or(0.0, |p| p.epoch),
            tokens: state.tokens,
            pf_seconds: state.flops / 1e15,
            wall_seconds: state.wall_seconds,
            best_val_loss: state.best_val_loss.unwrap_or(f64::NAN),
            test_loss: tested.loss,
            test_perplexity: tested.loss.exp(),
            test_tokens: tested.tokens,
            run_dir: self.dir.to_string_lossy().into_owned(),
            stopped: state.stopped.clone().unwrap_or_default(),
            best_step: state.best_step,
            step0_val_loss: step0,
            base_hash: self.sweep.base_hash.clone(),
            ..fold_row(&self.fold.parts, self.strategy.name(), status)
        }
    }
}

/// A trained run's status, with a note unless it is `done`. A guard stop comes first: it is not
/// final (a re-run continues it), being untrained is.
fn run_status(state: &TrainState, max_minutes: f64, step0: f64) -> (&'static str, Option<String>) {
    if state.stopped.as_deref() == Some(trainer::STOPPED_BY_GUARD) {
        (
            table::CAPPED,
            Some(format!(
                "stopped by the {}-minute guard at step {} before early stopping; run again \
                 with a larger finetune.train.max_minutes (or 0) to continue it",
                max_minutes, state.step
            )),
        )
    } else if state.best_step == 0 {
        (
            table::UNTRAINED,
            Some(format!(
                "no step improved on the start (validation loss {step0:.4} at step 0): the \
                 adapter is the untrained start, not a customization"
            )),
        )
    } else {
        (table::DONE, None)
    }
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
    /// The examples' settings (context level, lengths, retrieved tests): what the inputs are.
    data: ExampleSettings,
    /// The kind and only the settings that kind uses, so that changing the profile's prefix
    /// settings leaves a `custom` run's recipe as it was.
    strategy: Strategy,
    train: super::settings::TrainSettings,
}

/// One line per strategy: means over the chosen (project, fold) of the reported (`done`) runs
/// against the baseline's, with the runs that are not reported counted by why.
fn print_comparison(
    rows: &[FinetuneRow],
    projects: &[String],
    folds: &[usize],
    strategies: &[Strategy],
    ir: bool,
) {
    let chosen =
        |r: &&FinetuneRow| projects.contains(&r.project_id) && folds.contains(&(r.fold as usize));
    let baseline: HashMap<(String, u32), f64> = rows
        .iter()
        .filter(chosen)
        .filter(|r| r.strategy == BASELINE && r.status == table::DONE)
        .map(|r| ((r.project_id.clone(), r.fold), r.test_loss))
        .collect();
    println!(
        "\n| strategy | runs | test loss | perplexity | beats baseline | step-0 val loss | best step / steps | trainable params | adapter | tokens | PF-s | wall s |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    let mut names = vec![BASELINE.to_string()];
    if ir {
        names.push(IR.to_string());
    }
    names.extend(strategies.iter().map(|s| s.name().to_string()));
    for name in names {
        let of_name: Vec<&FinetuneRow> = rows
            .iter()
            .filter(chosen)
            .filter(|r| r.strategy == name)
            .collect();
        let done: Vec<&FinetuneRow> = of_name
            .iter()
            .copied()
            .filter(|r| r.status == table::DONE)
            .collect();
        let not_reported: Vec<String> =
            [table::ERROR, table::UNTRAINED, table::CAPPED, table::STALE]
                .iter()
                .filter_map(|status| {
                    let n = of_name.iter().filter(|r| r.status == *status).count();
                    (n > 0).then(|| format!("{n} {status}"))
                })
                .collect();
        let runs = if not_reported.is_empty() {
            done.len().to_string()
        } else {
            format!("{} ({})", done.len(), not_reported.join(", "))
        };
        if done.is_empty() {
            println!("| {name} | {runs} | — | — | — | — | — | — | — | — | — | — |");
            continue;
        }
        let n = done.len() as f64;
        let mean = |f: fn(&FinetuneRow) -> f64| done.iter().map(|r| f(r)).sum::<f64>() / n;
        if name == IR {
            println!("| {name} | {runs} | — | — | — | — | — | 0 | — | 0 | 0 | 0 |");
            continue;
        }
        let wins = done
            .iter()
            .filter(|r| {
                baseline
                    .get(&(r.project_id.clone(), r.fold))
                    .is_some_and(|&b| r.test_loss < b)
            })
            .count();
        println!(
            "| {name} | {runs} | {:.4} | {:.3} | {} | {:.4} | {:.0} / {:.0} | {:.0} | {} | {:.0} | {:.5} | {:.0} |",
            mean(|r| r.test_loss),
            mean(|r| r.test_perplexity),
            if name == BASELINE {
                "—".to_string()
            } else {
                format!("{wins}/{}", done.len())
            },
            mean(|r| r.step0_val_loss),
            mean(|r| r.best_step as f64),
            mean(|r| r.steps as f64),
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
