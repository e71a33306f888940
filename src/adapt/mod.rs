//! `tailor adapt`: a developer's own repository, outside the corpus, mined with the base's
//! tokenizer and settings, indexed for retrieval, customized on its own pairs and registered
//! under `OUT/adapters/<name>/` ([`registry`]).
//!
//! The steps, each its own module: [`repo`] (a local folder used in place, or a git URL cloned
//! and later fetched again), [`data`] (mining, the project's own train/validation/test split,
//! examples with the base's tokenizer and the profile's `[data]`), [`train`] (the strategy, the
//! run's recipe, the one training loop with early stopping on the validation part), and
//! [`evaluate`] (the held-out test part: adapted model vs base vs retrieval). [`adapt`] chains
//! them and registers the result: the adapter, `pairs.parquet` (the retrieval index `suggest`
//! and `serve` use), `split.json`, and `manifest.json` last.
//!
//! What it never does: touch `OUT/tables`, the corpus split, the tokenizer or the base folder
//! (it reads them); train on a held-out pair or retrieve from one. Re-running is cheap when
//! nothing changed (the repository is mined again and compared), trains afresh when the
//! repository or the recipe changed, resumes an interrupted customization from its checkpoint,
//! and keeps the previous registration valid until the new one replaces it.

pub mod data;
pub mod evaluate;
pub mod registry;
pub mod repo;
pub mod train;

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail, ensure};
use indicatif::ProgressBar;

use crate::data::tokenizer::CodeTokenizer;
use crate::layout::{Layout, OwnProject};
use crate::model::adapter::base_hash;
use crate::model::{Backend, hf};
use crate::profile::{Profile, TrainSettings};
use crate::strategy::adapter::load_adapter;
use crate::tables::finetune as finetune_table;
use crate::train::checkpoint::{existing_dir, read_state, replace_dir};
use data::{PairChanges, Split};
use registry::{Manifest, check_name};
use repo::{RepoSpec, short};
use train::{Choice, Customization, DEFAULT_STRATEGY, StrategyRequest};

/// Test pairs beam search runs on unless told otherwise (`--max-test`): enough for BLEU and
/// exact match to say something, few enough to take minutes, not hours, on a CPU.
pub const DEFAULT_MAX_TEST: usize = 100;

/// What `tailor adapt` is asked to do.
#[derive(Debug, Clone)]
pub struct AdaptOptions {
    /// The output folder: `OUT/adapters/<name>/` is written, `OUT/tables/finetune.parquet`
    /// read (for `--strategy auto`), the profile's baseline the default base.
    pub out: PathBuf,
    pub profile: Profile,
    /// A local folder or a git URL, as given.
    pub repo: String,
    /// The project's name; the repository's folder or URL name when `None`.
    pub name: Option<String>,
    /// The strategy; [`DEFAULT_STRATEGY`] when `None`.
    pub strategy: Option<StrategyRequest>,
    /// The base model folder; the profile's baseline when `None`.
    pub base: Option<PathBuf>,
    pub backend: Backend,
    pub cuda: bool,
    /// Test pairs beam search runs on (the test loss uses all).
    pub max_test: usize,
}

/// What a call did.
#[derive(Debug, Clone, PartialEq)]
pub enum AdaptOutcome {
    /// Registered before, and neither the repository, the base nor the recipe changed.
    UpToDate(Manifest),
    /// Registered now: trained (afresh or resumed), or, when only the commit or the repository's
    /// address changed and its pairs did not, the standing adapter registered again.
    Registered { manifest: Manifest, trained: bool },
}

/// Everything about the project known before training: the repository mined, the base, the
/// strategy, the split and the recipe.
struct Plan {
    name: String,
    /// The repository as given.
    repo: String,
    paths: OwnProject,
    checkout: repo::Checkout,
    pairs: Vec<crate::mining::Pair>,
    base_dir: PathBuf,
    base_hash: String,
    choice: Choice,
    strategy: crate::strategy::Strategy,
    settings: TrainSettings,
    split: Split,
    recipe: String,
}

/// Adapts the base to the repository and registers the adapter (see the module docs). Progress
/// goes to stderr, results (the strategy chosen, the comparison, the registration) to stdout.
pub fn adapt(options: &AdaptOptions) -> Result<AdaptOutcome> {
    let plan = plan(options)?;
    let previous = previous_manifest(&plan.paths);
    let recorded = train::recorded_differences(&plan.paths.run_dir(), &plan.recipe)?;
    let run_finished = recorded.as_ref().is_some_and(Vec::is_empty)
        && !goes_on(&plan.paths.run_dir(), &plan.settings);

    if let Some(old) = &previous {
        let changes = report_changes(old, &plan, recorded.as_deref());
        let registered_files = plan.paths.adapter_dir().exists() && plan.paths.pairs().exists();
        if run_finished && registered_files && old.base_hash == plan.base_hash {
            if changes.is_empty() {
                println!(
                    "adapt: {} is up to date ({}, {} pairs, commit {}, strategy {}, base {})",
                    plan.name,
                    old.repo,
                    old.pairs,
                    old.commit.as_deref().map_or("none", short),
                    old.strategy,
                    plan.base_dir.display()
                );
                return Ok(AdaptOutcome::UpToDate(old.clone()));
            }
            // Same pairs, base and recipe: the trained adapter and its numbers stand.
            let manifest = Manifest {
                repo: plan.repo.clone(),
                commit: plan.checkout.commit.clone(),
                created: registry::utc_now(),
                ..old.clone()
            };
            manifest.write(&plan.paths)?;
            println!(
                "adapt: {}: {}; its pairs are unchanged, so the adapter stands: registered again \
                 in {}",
                plan.name,
                changes.join("; "),
                plan.paths.dir().display()
            );
            return Ok(AdaptOutcome::Registered {
                manifest,
                trained: false,
            });
        }
        if changes.is_empty() {
            println!(
                "adapt: {}: its customization in {} has not finished; going on",
                plan.name,
                plan.paths.run_dir().display()
            );
        } else {
            println!(
                "adapt: {}: {}; customizing again",
                plan.name,
                changes.join("; ")
            );
        }
    }
    match &recorded {
        Some(diff) if !diff.is_empty() => {
            // With a registration the differences were said with the other changes.
            if previous.is_none() {
                eprintln!(
                    "adapt: {} holds a run of another recipe (recorded → now):\n  {}",
                    plan.paths.run_dir().display(),
                    diff.join("\n  ")
                );
            }
            eprintln!(
                "adapt: {}: training afresh in {}",
                plan.name,
                plan.paths.run_dir().display()
            );
            let run_dir = plan.paths.run_dir();
            std::fs::remove_dir_all(&run_dir)
                .with_context(|| format!("removing the stale run folder {}", run_dir.display()))?;
        }
        Some(_) if previous.is_none() => eprintln!(
            "adapt: {}: a customization of the same recipe is in {}; going on from it",
            plan.name,
            plan.paths.run_dir().display()
        ),
        _ => {}
    }
    let manifest = customize_and_register(options, &plan)?;
    Ok(AdaptOutcome::Registered {
        manifest,
        trained: true,
    })
}

/// Resolves the name, the profile's settings, the base and the repository; mines it, chooses
/// the strategy, splits the pairs and writes the recipe down.
fn plan(options: &AdaptOptions) -> Result<Plan> {
    let profile = &options.profile;
    let spec = RepoSpec::parse(&options.repo)?;
    let name = match &options.name {
        Some(name) => {
            check_name(name).context("--name")?;
            name.clone()
        }
        None => {
            let name = spec.default_name()?;
            check_name(&name).with_context(|| {
                format!("the project name taken from {spec} is not usable; give --name")
            })?;
            name
        }
    };
    let finetune = train::finetune_settings(profile.finetune.as_ref(), &profile.name)?;
    let layout = Layout::new(&options.out);
    let base_dir = match &options.base {
        Some(dir) => dir.clone(),
        None => layout.runs(&profile.name).baseline_model(),
    };
    if !base_dir.join(crate::model::hf::CONFIG_FILE).exists() {
        bail!(
            "the base model {} does not exist (no {}): train it with `make baseline \
             PROFILE={}`, or give --base",
            base_dir.display(),
            crate::model::hf::CONFIG_FILE,
            profile.name
        );
    }
    let base_dir = std::path::absolute(&base_dir)
        .with_context(|| format!("resolving {}", base_dir.display()))?;
    let base_hash = base_hash(&base_dir)?;
    let paths = layout.own_project(&name);

    let checkout = repo::resolve(&spec, &paths)
        .with_context(|| format!("project {name}: repository {spec}"))?;
    eprintln!(
        "adapt: {name}: {spec} {}{}",
        checkout.how,
        checkout
            .commit
            .as_deref()
            .map_or(String::new(), |c| format!(", commit {}", short(c)))
    );
    let spinner =
        ProgressBar::new_spinner().with_message(format!("mining {}", checkout.root.display()));
    spinner.enable_steady_tick(Duration::from_millis(200));
    let mined = data::mine(&name, &checkout.root, &options.repo);
    spinner.finish_and_clear();
    let mined = mined?;
    eprintln!(
        "adapt: {name}: {} pairs from {} test cases ({} Java files)",
        mined.pairs.len(),
        mined.stats.test_cases,
        mined.stats.java_files
    );

    let choice = match options.strategy {
        None => Choice {
            kind: DEFAULT_STRATEGY,
            why: "the default: LoRA adapters share serve's batches with other projects and \
                  load in PEFT"
                .into(),
        },
        Some(request @ StrategyRequest::Auto) => {
            let table = layout.table(finetune_table::NAME);
            let rows = if table.exists() {
                finetune_table::read_rows(&table)?
            } else {
                Vec::new()
            };
            println!(
                "adapt: --strategy auto: customizations measured on this base in {}:\n{}",
                table.display(),
                train::measured_table(&train::measure(&rows, &base_hash))
            );
            train::choose(request, &rows, &base_hash, finetune.train.max_minutes)
        }
        Some(request) => train::choose(request, &[], &base_hash, 0.0),
    };
    println!("adapt: strategy {} ({})", choice.kind, choice.why);
    let strategy = finetune.strategy(choice.kind);
    let settings = finetune.train_for(choice.kind);
    let split = Split::draw(&mined.pairs, finetune.fold_seed);
    let recipe = train::Recipe {
        project: &name,
        profile: &profile.name,
        base_hash: &base_hash,
        pairs_hash: &data::pairs_hash(&mined.pairs),
        split: &split,
        data: &profile.data,
        strategy: &strategy,
        train: &settings,
    }
    .render()?;
    Ok(Plan {
        name,
        repo: options.repo.clone(),
        paths,
        checkout,
        pairs: mined.pairs,
        base_dir,
        base_hash,
        choice,
        strategy,
        settings,
        split,
        recipe,
    })
}

/// The registered manifest of the project, if it has a readable one (an unreadable one is said
/// and treated as none: the project is registered again).
fn previous_manifest(paths: &OwnProject) -> Option<Manifest> {
    if !paths.manifest().exists() {
        return None;
    }
    match Manifest::read(&paths.manifest()) {
        Ok(manifest) => Some(manifest),
        Err(err) => {
            eprintln!("adapt: {err:#}; registering the project again");
            None
        }
    }
}

/// What changed since `old` was registered, one phrase each (empty: nothing).
fn report_changes(old: &Manifest, plan: &Plan, recorded: Option<&[String]>) -> Vec<String> {
    let mut changes = Vec::new();
    if old.commit != plan.checkout.commit {
        changes.push(format!(
            "commit {} → {}",
            old.commit.as_deref().map_or("none", short),
            plan.checkout.commit.as_deref().map_or("none", short)
        ));
    }
    match crate::tables::pairs::read_pairs(&plan.paths.pairs()) {
        Ok(before) => {
            let pairs = PairChanges::between(&before, &plan.pairs);
            if !pairs.is_empty() {
                changes.push(format!("{pairs} ({} → {})", before.len(), plan.pairs.len()));
            }
        }
        Err(err) => changes.push(format!("the registered pairs are unreadable ({err:#})")),
    }
    if old.base_hash != plan.base_hash {
        changes.push(format!(
            "base {} → {} ({})",
            old.base_hash,
            plan.base_hash,
            plan.base_dir.display()
        ));
    }
    if old.strategy != plan.choice.kind.name() {
        changes.push(format!("strategy {} → {}", old.strategy, plan.choice.kind));
    }
    match recorded {
        None => changes.push(format!(
            "its run folder {} is gone",
            plan.paths.run_dir().display()
        )),
        Some(diff) => {
            // The pairs, base and strategy are said above; the rest of the recipe here.
            let other: Vec<&String> = diff
                .iter()
                .filter(|d| {
                    !["pairs_hash:", "split.", "base_hash:", "strategy."]
                        .iter()
                        .any(|p| d.starts_with(p))
                })
                .collect();
            if !other.is_empty() {
                changes.push(format!(
                    "the recipe changed ({})",
                    other
                        .iter()
                        .map(|d| d.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
        }
    }
    if old.repo != plan.repo {
        changes.push(format!("repository {} → {}", old.repo, plan.repo));
    }
    changes
}

/// Whether the run in `run_dir` would train on: its wall-time guard stopped it and `settings`
/// now allow more time (the loop's own rule, read from the checkpoint without loading it).
fn goes_on(run_dir: &Path, settings: &TrainSettings) -> bool {
    let Some(checkpoint) = existing_dir(&run_dir.join(crate::layout::CHECKPOINT_DIR)) else {
        return true;
    };
    read_state(&checkpoint).map_or(true, |state| {
        crate::train::trainer::would_go_on(&state, settings)
    })
}

/// Encodes, customizes, evaluates and registers: the expensive part of [`adapt`].
fn customize_and_register(options: &AdaptOptions, plan: &Plan) -> Result<Manifest> {
    let profile = &options.profile;
    let name = &plan.name;
    let tokenizer = CodeTokenizer::load(&plan.base_dir)
        .with_context(|| format!("the base's tokenizer in {}", plan.base_dir.display()))?;
    let inference = options.backend.device(options.cuda)?;
    let base = hf::load_dir(&plan.base_dir, &inference)
        .with_context(|| format!("loading the base {}", plan.base_dir.display()))?;
    let positions = base.config.max_position_embeddings;
    ensure!(
        profile.data.max_input <= positions && profile.data.max_target <= positions,
        "profile {} builds inputs of {} and targets of {} tokens, but the base {} has {positions} \
         positions: adapt with the profile the base was trained with",
        profile.name,
        profile.data.max_input,
        profile.data.max_target,
        plan.base_dir.display()
    );
    let parts = data::encode(&plan.pairs, &plan.split, &profile.data, &tokenizer)
        .with_context(|| format!("encoding the pairs of {name}"))?;
    eprintln!(
        "adapt: {name}: {} training, {} validation, {} test pairs (split by {})",
        parts.train.len(),
        parts.valid.len(),
        parts.test.len(),
        match plan.split.by {
            crate::data::folds::FoldBy::TestClass => "test class",
            crate::data::folds::FoldBy::Pair => "pair",
        }
    );

    let run_dir = plan.paths.run_dir();
    let outcome = train::customize(&Customization {
        run_dir: run_dir.clone(),
        label: format!("adapt {name}/{}", plan.strategy.name()),
        strategy: &plan.strategy,
        settings: &plan.settings,
        parts: &parts,
        base_dir: &plan.base_dir,
        recipe: &plan.recipe,
        backend: options.backend,
        cuda: options.cuda,
    })
    .with_context(|| format!("customizing {} on {name}", plan.base_dir.display()))?;
    let state = &outcome.state;
    if state.stopped.as_deref() == Some(crate::train::trainer::STOPPED_BY_GUARD) {
        eprintln!(
            "adapt: {name}: the {}-minute guard stopped training at step {} before its best \
             validation loss; the best adapter so far is registered. Run again with \
             `--set finetune.train.max_minutes=0` (or more minutes) to go on",
            plan.settings.max_minutes, state.step
        );
    }
    if state.best_step == 0 {
        eprintln!(
            "adapt: {name}: no step improved the validation loss of the base; the adapter is \
             the untrained start"
        );
    }
    eprintln!(
        "adapt: {name}: trained {} steps in {:.0} s (best validation loss {:.4} at step {})",
        state.step,
        state.wall_seconds,
        state.best_val_loss.unwrap_or(f64::NAN),
        state.best_step
    );

    let best = run_dir.join(crate::layout::BEST_DIR);
    let (adapted, _) = load_adapter(base.clone(), &plan.base_dir, &best, &inference)
        .with_context(|| format!("loading the adapter {}", best.display()))?;
    let config = crate::evaluate::generation_config(&plan.base_dir, &base)?;
    let metrics = evaluate::held_out(&evaluate::HeldOutRun {
        base: &base,
        adapted: &adapted,
        config: &config,
        tokenizer: &tokenizer,
        pairs: &plan.pairs,
        split: &plan.split,
        test: &parts.test,
        max_test: options.max_test,
        batch_tokens: plan.settings.batch_tokens,
        device: &inference,
    })
    .with_context(|| format!("evaluating {name} on its test part"))?;
    println!(
        "\n{}",
        evaluate::comparison_table(&metrics, plan.strategy.name())
    );

    let manifest = Manifest {
        name: name.clone(),
        base_dir: plan.base_dir.clone(),
        base_hash: plan.base_hash.clone(),
        strategy: plan.strategy.name().to_string(),
        profile: profile.name.clone(),
        examples: profile.data.clone(),
        repo: options.repo.clone(),
        commit: plan.checkout.commit.clone(),
        pairs: plan.pairs.len() as u64,
        parts: plan.split.sizes(),
        metrics,
        train_seconds: state.wall_seconds,
        created: registry::utc_now(),
        tailor_version: env!("CARGO_PKG_VERSION").to_string(),
    };
    register(&plan.paths, &best, &plan.pairs, &plan.split, &manifest)?;
    println!(
        "adapt: registered {name} in {} ({} adapter, {} pairs; `tailor suggest --project {name} …`)",
        plan.paths.dir().display(),
        manifest.strategy,
        manifest.pairs
    );
    Ok(manifest)
}

/// Writes the project's registered files, the manifest last. A previous manifest is removed
/// first, so an interruption leaves the project unregistered rather than registered with
/// files it does not describe.
fn register(
    paths: &OwnProject,
    best: &Path,
    pairs: &[crate::mining::Pair],
    split: &Split,
    manifest: &Manifest,
) -> Result<()> {
    let manifest_path = paths.manifest();
    if manifest_path.exists() {
        std::fs::remove_file(&manifest_path)
            .with_context(|| format!("removing {}", manifest_path.display()))?;
    }
    crate::tables::pairs::write_pairs(pairs, &paths.pairs())
        .with_context(|| format!("writing {}", paths.pairs().display()))?;
    split.write(&paths.split())?;
    replace_dir(&paths.adapter_dir(), |tmp| copy_files(best, tmp))?;
    manifest.write(paths)
}

/// Copies the files of folder `from` (an adapter folder holds files only) into `to`.
fn copy_files(from: &Path, to: &Path) -> Result<()> {
    for entry in std::fs::read_dir(from).with_context(|| format!("listing {}", from.display()))? {
        let entry = entry.with_context(|| format!("listing {}", from.display()))?;
        let path = entry.path();
        if path.is_file() {
            std::fs::copy(&path, to.join(entry.file_name()))
                .with_context(|| format!("copying {} to {}", path.display(), to.display()))?;
        }
    }
    Ok(())
}
