//! Customizing the base on an own project: which strategy (`--strategy`, or `auto` from the
//! sweep's measured numbers), the run's recipe, and the run itself through the one training
//! loop ([`crate::train::trainer::train`]) with the hooks the finetune sweep uses, so an own
//! project trains, stops early and resumes exactly as a corpus project's fold does.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, ensure};
use serde::Serialize;

use super::data::{Parts, Split};
use crate::data::examples::ExampleSettings;
use crate::data::folds::FoldBy;
use crate::model::{Backend, hf};
use crate::profile::{FinetuneSettings, TrainSettings};
use crate::strategy::{Strategy, StrategyKind};
use crate::tables::finetune::{self as table, FinetuneRow};
use crate::train::finetune::AdapterRun;
use crate::train::trainer::{self, Outcome, Run};

/// The strategy `adapt` uses unless told otherwise: LoRA, because its adapters share a batch
/// with other projects' in `serve` (the adapter bank) and load in PEFT as they are, and it
/// trains a small share of the parameters, so the adapter is small.
pub const DEFAULT_STRATEGY: StrategyKind = StrategyKind::Lora;

/// What `--strategy` asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StrategyRequest {
    /// This strategy.
    Kind(StrategyKind),
    /// The best strategy by the profile's measured customizations, within its budget
    /// ([`choose`]).
    Auto,
}

impl std::str::FromStr for StrategyRequest {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.eq_ignore_ascii_case("auto") {
            return Ok(StrategyRequest::Auto);
        }
        <StrategyKind as clap::ValueEnum>::from_str(s, true)
            .map(StrategyRequest::Kind)
            .map_err(|_| format!("{s:?} is not lora, prefix, l-ldb, custom, l-eo or auto"))
    }
}

/// The strategy chosen and why, as said to the user.
#[derive(Debug, Clone, PartialEq)]
pub struct Choice {
    pub kind: StrategyKind,
    pub why: String,
}

/// One strategy's measured customizations on this base.
#[derive(Debug, Clone, PartialEq)]
pub struct Measured {
    pub kind: StrategyKind,
    /// Finished runs with a baseline row on the same (project, fold).
    pub runs: usize,
    /// Mean of (baseline test loss − the run's test loss), nats.
    pub mean_drop: f64,
    pub mean_wall_seconds: f64,
    pub mean_pf_seconds: f64,
    /// Runs the wall-time guard stopped before early stopping: they did not fit the budget.
    pub capped: usize,
}

/// The strategy `request` names; for `auto`, the strategy with the largest mean test-loss drop
/// over the base among those measured in `rows` (the finetune table) on this base (`base_hash`)
/// whose mean wall time per run fits `budget_minutes` (the profile's
/// `finetune.train.max_minutes`; 0 is no limit). With no such measurement, [`DEFAULT_STRATEGY`].
pub fn choose(
    request: StrategyRequest,
    rows: &[FinetuneRow],
    base_hash: &str,
    budget_minutes: f64,
) -> Choice {
    match request {
        StrategyRequest::Kind(kind) => Choice {
            kind,
            why: "as asked".to_string(),
        },
        StrategyRequest::Auto => choose_measured(rows, base_hash, budget_minutes),
    }
}

/// `auto`: see [`choose`].
fn choose_measured(rows: &[FinetuneRow], base_hash: &str, budget_minutes: f64) -> Choice {
    let measured = measure(rows, base_hash);
    let budget = if budget_minutes > 0.0 {
        format!(
            "a budget of {budget_minutes} wall minutes per customization (finetune.train.max_minutes)"
        )
    } else {
        "no wall-time budget (finetune.train.max_minutes is 0)".to_string()
    };
    let fits = |m: &Measured| budget_minutes <= 0.0 || m.mean_wall_seconds <= budget_minutes * 60.0;
    let best = measured
        .iter()
        .filter(|m| m.runs > 0 && m.mean_drop > 0.0 && fits(m))
        .max_by(|a, b| a.mean_drop.total_cmp(&b.mean_drop));
    match best {
        Some(m) => Choice {
            kind: m.kind,
            why: format!(
                "auto: the largest mean test-loss drop over the base ({:.4} nats over {} run(s), \
                 {:.0} s and {:.4} PF-s per run) among the strategies measured on this base that \
                 fit {budget}",
                m.mean_drop, m.runs, m.mean_wall_seconds, m.mean_pf_seconds
            ),
        },
        None => Choice {
            kind: DEFAULT_STRATEGY,
            why: format!(
                "auto: no strategy measured on this base lowers the test loss within {budget} \
                 (run `make finetune` for the profile to measure them), so the default {}",
                DEFAULT_STRATEGY
            ),
        },
    }
}

/// Every learned strategy's finished runs on this base, compared with the baseline row of the
/// same (project, fold); strategies without such runs have `runs == 0`.
pub fn measure(rows: &[FinetuneRow], base_hash: &str) -> Vec<Measured> {
    let on_base: Vec<&FinetuneRow> = rows.iter().filter(|r| r.base_hash == base_hash).collect();
    let baseline: HashMap<(&str, u32), f64> = on_base
        .iter()
        .filter(|r| r.strategy == crate::label::BASELINE && r.status == table::DONE)
        .map(|r| ((r.project_id.as_str(), r.fold), r.test_loss))
        .collect();
    StrategyKind::ALL
        .iter()
        .map(|&kind| {
            let of_kind: Vec<&&FinetuneRow> = on_base
                .iter()
                .filter(|r| r.strategy == kind.name())
                .collect();
            let done: Vec<(f64, &FinetuneRow)> = of_kind
                .iter()
                .filter(|r| r.status == table::DONE)
                .filter_map(|r| {
                    let base = baseline.get(&(r.project_id.as_str(), r.fold))?;
                    Some((base - r.test_loss, **r))
                })
                .filter(|(drop, _)| drop.is_finite())
                .collect();
            let n = done.len().max(1) as f64;
            Measured {
                kind,
                runs: done.len(),
                mean_drop: done.iter().map(|(d, _)| d).sum::<f64>() / n,
                mean_wall_seconds: done.iter().map(|(_, r)| r.wall_seconds).sum::<f64>() / n,
                mean_pf_seconds: done.iter().map(|(_, r)| r.pf_seconds).sum::<f64>() / n,
                capped: of_kind.iter().filter(|r| r.status == table::CAPPED).count(),
            }
        })
        .collect()
}

/// The measured strategies as a Markdown table (what `auto` chose from).
pub fn measured_table(measured: &[Measured]) -> String {
    let mut text = String::from(
        "| strategy | runs (capped) | mean test-loss drop | wall s / run | PF-s / run | drop per PF-s |\n\
         |---|---:|---:|---:|---:|---:|\n",
    );
    for m in measured {
        if m.runs == 0 {
            text.push_str(&format!(
                "| {} | 0 ({}) | — | — | — | — |\n",
                m.kind, m.capped
            ));
            continue;
        }
        let per_pf = if m.mean_pf_seconds > 0.0 {
            format!("{:.3}", m.mean_drop / m.mean_pf_seconds)
        } else {
            "—".into()
        };
        text.push_str(&format!(
            "| {} | {} ({}) | {:.4} | {:.0} | {:.5} | {per_pf} |\n",
            m.kind, m.runs, m.capped, m.mean_drop, m.mean_wall_seconds, m.mean_pf_seconds
        ));
    }
    text
}

/// What decides an own project's customization (its run folder's `config.resolved.toml`): the
/// base, the pairs, their split, the inputs, the strategy and the optimisation. A re-run with
/// the same recipe resumes or finds the run finished; any other recipe trains afresh.
#[derive(Debug, Clone)]
pub struct Recipe<'a> {
    pub project: &'a str,
    pub profile: &'a str,
    pub base_hash: &'a str,
    /// [`super::data::pairs_hash`] of the mined pairs.
    pub pairs_hash: &'a str,
    pub split: &'a Split,
    pub data: &'a ExampleSettings,
    pub strategy: &'a Strategy,
    pub train: &'a TrainSettings,
}

/// The split as a recipe records it: how it was drawn, its sizes and its membership hash
/// (the ids themselves are in `split.json`).
#[derive(Debug, Clone, Serialize)]
struct SplitRecord {
    by: FoldBy,
    seed: u64,
    train: usize,
    valid: usize,
    test: usize,
    membership: String,
}

/// [`Recipe`] as written.
#[derive(Debug, Clone, Serialize)]
struct RecipeRecord<'a> {
    project: &'a str,
    profile: &'a str,
    base_hash: &'a str,
    pairs_hash: &'a str,
    split: SplitRecord,
    data: &'a ExampleSettings,
    strategy: &'a Strategy,
    /// Named `train` so that its threads and wall-time guard may change between resumes
    /// (`crate::profile::differences` ignores them).
    train: &'a TrainSettings,
}

impl Recipe<'_> {
    /// The recipe as TOML, under a comment naming the project and strategy.
    pub fn render(&self) -> Result<String> {
        let split = self.split;
        let record = RecipeRecord {
            project: self.project,
            profile: self.profile,
            base_hash: self.base_hash,
            pairs_hash: self.pairs_hash,
            split: SplitRecord {
                by: split.by,
                seed: split.seed,
                train: split.train.len(),
                valid: split.valid.len(),
                test: split.test.len(),
                membership: split.membership_hash(),
            },
            data: self.data,
            strategy: self.strategy,
            train: self.train,
        };
        Ok(format!(
            "# tailor adapt: {} / {}\n{}",
            self.project,
            self.strategy.name(),
            toml::to_string_pretty(&record).context("rendering the adapt recipe")?
        ))
    }
}

/// The differences between the recipe recorded in `run_dir` and `recipe` (`key: old → new`),
/// `None` when the folder records none (a fresh run).
pub fn recorded_differences(run_dir: &Path, recipe: &str) -> Result<Option<Vec<String>>> {
    let path = run_dir.join(crate::layout::RESOLVED_FILE);
    match std::fs::read_to_string(&path) {
        Ok(recorded) => crate::profile::differences(&recorded, recipe)
            .with_context(|| format!("comparing with {}", path.display()))
            .map(Some),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(err) => Err(err).with_context(|| format!("reading {}", path.display())),
    }
}

/// One customization of an own project: all it needs.
pub struct Customization<'a> {
    /// The project's `run/` folder.
    pub run_dir: PathBuf,
    /// Shown before the progress bar.
    pub label: String,
    pub strategy: &'a Strategy,
    pub settings: &'a TrainSettings,
    pub parts: &'a Parts,
    pub base_dir: &'a Path,
    /// [`Recipe::render`], claimed in `run_dir`.
    pub recipe: &'a str,
    pub backend: Backend,
    pub cuda: bool,
}

/// Attaches the strategy to the base, initialises it from the training part and trains it to
/// its best validation loss (resuming from `run_dir`'s checkpoint, or returning at once when
/// the run is finished); the best adapter is in `run_dir/best`.
pub fn customize(run: &Customization<'_>) -> Result<Outcome> {
    ensure!(
        !run.parts.train.is_empty() && !run.parts.valid.is_empty(),
        "{}: {} training and {} validation pairs: too few to customize",
        run.label,
        run.parts.train.len(),
        run.parts.valid.len()
    );
    crate::profile::claim_run_dir(&run.run_dir, run.recipe)?;
    run.backend.set_threads(run.settings.threads);
    let device = run.backend.device(run.cuda)?.autodiff();
    device.seed(run.settings.seed);
    let start = hf::load_dir(run.base_dir, &device)
        .with_context(|| format!("loading the base {}", run.base_dir.display()))?;
    let model = run.strategy.initialise(
        run.strategy.attach(start, &device),
        &run.parts.train,
        &device,
    );
    let hooks = AdapterRun {
        strategy: run.strategy,
        config: model.config.clone(),
        base_dir: run.base_dir,
    };
    trainer::train(
        &Run {
            dir: run.run_dir.clone(),
            label: run.label.clone(),
            settings: run.settings,
            train: &run.parts.train,
            valid: &run.parts.valid,
            progress: None,
            peak_tflops: None,
        },
        model,
        &hooks,
        &device,
    )
}

/// The `[finetune]` section of a profile, or an error saying the profile cannot customize.
pub fn finetune_settings<'a>(
    finetune: Option<&'a FinetuneSettings>,
    profile: &str,
) -> Result<&'a FinetuneSettings> {
    finetune.with_context(|| {
        format!(
            "profile {profile} has no [finetune] section, so it does not say how to customize \
             ({}); choose a profile that has one (cpu, smoke)",
            crate::profile::Profile::path_of(profile).display()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(project: &str, strategy: &str, status: &str, loss: f64, wall: f64) -> FinetuneRow {
        FinetuneRow {
            project_id: project.into(),
            strategy: strategy.into(),
            fold: 0,
            status: status.into(),
            error: None,
            trainable_params: 0,
            total_params: 0,
            adapter_bytes: 0,
            steps: 0,
            epochs: 0.0,
            tokens: 0,
            pf_seconds: wall / 100.0,
            wall_seconds: wall,
            best_val_loss: f64::NAN,
            test_loss: loss,
            test_perplexity: loss.exp(),
            test_tokens: 0,
            train_examples: 0,
            valid_examples: 0,
            test_examples: 0,
            run_dir: String::new(),
            stopped: String::new(),
            best_step: 0,
            step0_val_loss: f64::NAN,
            fold_hash: String::new(),
            base_hash: "b".into(),
        }
    }

    #[test]
    fn auto_takes_the_largest_drop_that_fits_the_budget() {
        let rows = vec![
            row("p", "baseline", "done", 4.0, 0.0),
            row("p", "custom", "done", 3.0, 1200.0),
            row("p", "lora", "done", 3.5, 300.0),
            row("p", "prefix", "capped", 3.9, 1500.0),
            // Another base's runs do not count.
            FinetuneRow {
                base_hash: "other".into(),
                ..row("p", "l-eo", "done", 0.1, 1.0)
            },
        ];
        let auto = |budget| choose(StrategyRequest::Auto, &rows, "b", budget).kind;
        assert_eq!(auto(0.0), StrategyKind::Custom);
        assert_eq!(auto(25.0), StrategyKind::Custom);
        // Custom's 20 minutes do not fit 10: LoRA's drop is the best that does.
        assert_eq!(auto(10.0), StrategyKind::Lora);
        let measured = measure(&rows, "b");
        let prefix = measured
            .iter()
            .find(|m| m.kind == StrategyKind::Prefix)
            .unwrap();
        assert_eq!((prefix.runs, prefix.capped), (0, 1));
        // Nothing measured: the default, with the reason.
        let none = choose(StrategyRequest::Auto, &[], "b", 0.0);
        assert_eq!(none.kind, DEFAULT_STRATEGY);
        assert!(none.why.contains("make finetune"), "{}", none.why);
        let asked = choose(StrategyRequest::Kind(StrategyKind::LLdb), &rows, "b", 0.0);
        assert_eq!(asked.kind, StrategyKind::LLdb);
    }

    #[test]
    fn strategies_parse_as_the_command_line_spells_them() {
        assert_eq!("auto".parse(), Ok(StrategyRequest::Auto));
        assert_eq!(
            "l-ldb".parse(),
            Ok(StrategyRequest::Kind(StrategyKind::LLdb))
        );
        assert_eq!(
            "LoRA".parse(),
            Ok(StrategyRequest::Kind(StrategyKind::Lora))
        );
        assert!("ir".parse::<StrategyRequest>().is_err());
    }
}
