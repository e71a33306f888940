//! Training profiles: `pipelines/train/<name>.toml`, every field overridable on the command line
//! with `--set section.key=value`, and the fully resolved profile written beside a run's outputs.
//!
//! A profile is the whole recipe of a run (model size, examples, optimisation, evaluation), so a
//! run folder can say exactly which recipe made it, and resuming a folder with another recipe is
//! an error that names the differing fields rather than a silent mix.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail, ensure};
use serde::{Deserialize, Serialize};

use crate::data::examples::ExampleSettings;
use crate::data::folds::FoldBy;
use crate::model::{BartConfig, Preset};
use crate::strategy::{LoraSettings, PrefixSettings, Strategy, StrategyKind};

/// The learning-rate schedule after warm-up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Schedule {
    /// Linear decay to 0 at the last step (HF `get_linear_schedule_with_warmup`).
    Linear,
    /// Half-cosine decay to 0 (HF `get_cosine_schedule_with_warmup`).
    Cosine,
    /// Constant after warm-up.
    Constant,
}

/// Which model a run trains, and the dropout the profile sets on it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelSettings {
    /// `tiny`, `small`, `base` or `large` (see `tailor model info`).
    pub preset: String,
    pub dropout: f64,
    pub attention_dropout: f64,
    pub activation_dropout: f64,
    /// `hf` (every projection N(0, 0.02)) or `xavier` (fairseq's attention start); only a model
    /// trained from scratch is drawn from it ([`crate::model::AttentionInit`]).
    #[serde(default, skip_serializing_if = "crate::model::AttentionInit::is_hf")]
    pub attention_init: crate::model::AttentionInit,
}

impl ModelSettings {
    /// The model configuration: the preset's shapes, this profile's dropout, and the
    /// tokenizer's vocabulary size.
    pub fn config(&self, vocab_size: usize) -> Result<BartConfig> {
        let preset = <Preset as clap::ValueEnum>::from_str(&self.preset, true).map_err(|_| {
            anyhow::anyhow!(
                "model.preset {:?} is not tiny|small|base|large",
                self.preset
            )
        })?;
        let mut config = BartConfig::preset(preset);
        config.vocab_size = vocab_size;
        config.dropout = self.dropout;
        config.attention_dropout = self.attention_dropout;
        config.activation_dropout = self.activation_dropout;
        config.attention_init = self.attention_init;
        config.validate()?;
        Ok(config)
    }
}

/// Optimisation, evaluation and stopping (issue 11, "The training loop").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainSettings {
    /// Peak learning rate (after warm-up).
    pub lr: f64,
    pub warmup_steps: u64,
    /// Warm-up as a share of the scheduled steps (HF's `warmup_ratio`), replacing
    /// `warmup_steps` when positive, so a run on a small fold is not mostly warm-up.
    #[serde(default, skip_serializing_if = "is_zero_f64")]
    pub warmup_fraction: f64,
    pub schedule: Schedule,
    /// Stop after this many epochs over the training examples.
    pub max_epochs: u64,
    /// Stop after this many optimizer steps (0: no limit; the schedule then spans `max_epochs`).
    pub max_steps: u64,
    /// Stop after this many minutes of training wall time, across resumes (0: no limit).
    pub max_minutes: f64,
    /// Token budget per batch: rows × (longest input + longest target) stays within it.
    pub batch_tokens: usize,
    /// Global gradient-norm clipping (0: off), as PyTorch's `clip_grad_norm_`.
    pub grad_clip: f64,
    /// AdamW (decoupled) weight decay; never applied to biases and layer norms.
    pub weight_decay: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    /// Evaluate on the validation examples every this many steps (unless `evals_per_epoch`).
    pub eval_every_steps: u64,
    /// Evaluations per epoch, replacing `eval_every_steps` when positive: every
    /// `max(1, batches_per_epoch / evals_per_epoch)` steps. Customization folds differ in size,
    /// and patience can only find the best validation loss (paper §4.2) if it is measured
    /// several times an epoch, whatever the fold's size.
    #[serde(default, skip_serializing_if = "is_zero_u64")]
    pub evals_per_epoch: u64,
    /// Validation examples used for those evaluations (0: all), a seeded sample.
    pub eval_examples: usize,
    /// Stop when this many evaluations in a row did not improve the best validation loss.
    pub patience: u64,
    /// Save a resumable checkpoint every this many steps (and at every evaluation).
    pub checkpoint_every_steps: u64,
    /// Seeds the batch order, dropout and the validation sample.
    pub seed: u64,
    /// CPU threads (libtorch's intra-op threads; flex uses rayon's pool).
    pub threads: usize,
}

fn is_zero_u64(value: &u64) -> bool {
    *value == 0
}

fn is_zero_f64(value: &f64) -> bool {
    *value == 0.0
}

impl TrainSettings {
    /// Steps between evaluations for a training set of `batches_per_epoch` batches.
    pub fn eval_every(&self, batches_per_epoch: usize) -> u64 {
        // `evals_per_epoch` 0 means "not set": the fixed step cadence applies.
        (batches_per_epoch as u64)
            .checked_div(self.evals_per_epoch)
            .map_or(self.eval_every_steps, |steps| steps.max(1))
    }

    /// Warm-up steps of a run whose schedule spans `scheduled_steps`.
    pub fn warmup(&self, scheduled_steps: u64) -> u64 {
        if self.warmup_fraction > 0.0 {
            (self.warmup_fraction * scheduled_steps as f64).round() as u64
        } else {
            self.warmup_steps
        }
    }

    pub fn validate(&self) -> Result<()> {
        ensure!(self.lr > 0.0, "train.lr must be positive");
        ensure!(self.batch_tokens > 0, "train.batch_tokens must be positive");
        ensure!(
            self.eval_every_steps > 0 || self.evals_per_epoch > 0,
            "one of train.eval_every_steps and train.evals_per_epoch must be positive"
        );
        ensure!(
            (0.0..1.0).contains(&self.warmup_fraction),
            "train.warmup_fraction must be in [0, 1)"
        );
        ensure!(
            self.max_epochs > 0 || self.max_steps > 0,
            "one of train.max_epochs and train.max_steps must be positive"
        );
        ensure!(
            (0.0..1.0).contains(&self.beta1) && (0.0..1.0).contains(&self.beta2),
            "train.beta1 and train.beta2 must be in [0, 1)"
        );
        Ok(())
    }
}

/// One training profile (`pipelines/train/*.toml`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// The profile's name (its file stem).
    pub name: String,
    pub model: ModelSettings,
    pub data: ExampleSettings,
    pub train: TrainSettings,
    /// Customization (paper §3): which strategies, targets and folds, and the fine-tuning
    /// recipe. Profiles without it can train a baseline but not customize.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finetune: Option<FinetuneSettings>,
}

/// The `[finetune]` section: a sweep of customization runs (strategy × target × fold).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FinetuneSettings {
    /// `custom`, `l-eo`, `l-ldb`, `prefix`, `lora`.
    pub strategies: Vec<StrategyKind>,
    /// Also write an `ir` row per (project, fold): retrieval of the fold's training tests, the
    /// baseline every learned strategy must beat (`crate::retrieve`). No training, no model.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub ir: bool,
    /// Target project ids; empty: the projects table's Table 2 targets.
    pub projects: Vec<String>,
    /// At most this many targets (the smallest first, to fit a budget); 0: all.
    pub max_projects: usize,
    /// Folds of the cross-validation (the paper: 4).
    pub folds: usize,
    /// Which folds to run; empty: all.
    pub run_folds: Vec<usize>,
    /// `pair` (the paper) or `test-class` (keeps a test class's near-copies together).
    pub fold_by: FoldBy,
    /// Share of the non-test folds held out for early stopping (the paper: 10%).
    pub valid_fraction: f64,
    pub fold_seed: u64,
    /// `[finetune.prefix]`: the settings of `prefix` runs.
    pub prefix: PrefixSettings,
    /// `[finetune.lora]`: the settings of `lora` runs.
    pub lora: LoraSettings,
    /// The optimisation recipe of customization runs.
    pub train: TrainSettings,
    /// Learning rate per strategy (`[finetune.lr]`, e.g. `lora = 2e-3`), replacing `train.lr`
    /// for that strategy's runs: a few adapter parameters usually want a larger step than the
    /// whole model. Strategies not named use `train.lr`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub lr: BTreeMap<StrategyKind, f64>,
}

impl FinetuneSettings {
    /// The strategy `kind` with this profile's settings for it (only its own section).
    pub fn strategy(&self, kind: StrategyKind) -> Strategy {
        kind.configure(&self.prefix, &self.lora)
    }

    /// The optimisation recipe of `kind`'s runs: `train` with the strategy's learning rate.
    pub fn train_for(&self, kind: StrategyKind) -> TrainSettings {
        let mut train = self.train.clone();
        if let Some(&lr) = self.lr.get(&kind) {
            train.lr = lr;
        }
        train
    }
}

/// Fields that may differ when a run is resumed: they change speed, not results.
const RESUMABLE_CHANGES: [&str; 4] = [
    "train.threads",
    "train.max_minutes",
    "finetune.train.threads",
    "finetune.train.max_minutes",
];

impl Profile {
    /// The profile file for a name or path: `cpu` → `pipelines/train/cpu.toml`.
    pub fn path_of(name_or_path: &str) -> PathBuf {
        let path = Path::new(name_or_path);
        if path.extension().is_some() || name_or_path.contains('/') {
            path.to_path_buf()
        } else {
            Path::new("pipelines/train").join(format!("{name_or_path}.toml"))
        }
    }

    /// Read a profile and apply `key=value` overrides (`train.lr=3e-4`, `data.level=FM`).
    pub fn load(name_or_path: &str, overrides: &[String]) -> Result<Self> {
        let path = Self::path_of(name_or_path);
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading training profile {}", path.display()))?;
        let mut table: toml::Table = text
            .parse()
            .with_context(|| format!("parsing training profile {}", path.display()))?;
        if !table.contains_key("name") {
            let stem = path
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or("profile");
            table.insert("name".into(), toml::Value::String(stem.to_string()));
        }
        for item in overrides {
            apply_override(&mut table, item)
                .with_context(|| format!("applying --set {item} to {}", path.display()))?;
        }
        let profile: Profile = toml::Value::Table(table)
            .try_into()
            .with_context(|| format!("checking training profile {}", path.display()))?;
        profile
            .train
            .validate()
            .and_then(|()| profile.data.validate())
            .with_context(|| format!("checking {}", path.display()))?;
        if let Some(finetune) = &profile.finetune {
            finetune
                .train
                .validate()
                .and_then(|()| {
                    ensure!(finetune.folds >= 2, "finetune.folds must be at least 2");
                    ensure!(
                        (0.0..1.0).contains(&finetune.valid_fraction),
                        "finetune.valid_fraction must be in [0, 1)"
                    );
                    for (kind, lr) in &finetune.lr {
                        ensure!(
                            lr.is_finite() && *lr > 0.0,
                            "finetune.lr.{kind} must be a positive number, not {lr}"
                        );
                    }
                    Ok(())
                })
                .with_context(|| format!("checking [finetune] of {}", path.display()))?;
        }
        Ok(profile)
    }

    /// The profile as TOML, every field present (what a run folder records).
    pub fn to_toml(&self) -> Result<String> {
        Ok(toml::to_string_pretty(self)?)
    }
}

/// Apply one `section.key=value` override; the value is parsed as TOML (a number, bool, array,
/// quoted string) and otherwise taken as a bare string.
pub fn apply_override(table: &mut toml::Table, item: &str) -> Result<()> {
    let (key, raw) = item
        .split_once('=')
        .with_context(|| format!("{item:?} is not key=value"))?;
    let value = parse_value(raw.trim());
    let parts: Vec<&str> = key.trim().split('.').collect();
    let (last, sections) = parts.split_last().context("empty key")?;
    let mut current = table;
    for section in sections {
        current = current
            .entry(section.to_string())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()))
            .as_table_mut()
            .with_context(|| format!("{section} is not a section"))?;
    }
    current.insert(last.to_string(), value);
    Ok(())
}

fn parse_value(raw: &str) -> toml::Value {
    format!("v = {raw}")
        .parse::<toml::Table>()
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(raw.to_string()))
}

/// Flatten a TOML table into dotted keys → rendered values.
fn flatten(prefix: &str, table: &toml::Table, out: &mut BTreeMap<String, String>) {
    for (key, value) in table {
        let name = if prefix.is_empty() {
            key.clone()
        } else {
            format!("{prefix}.{key}")
        };
        match value {
            toml::Value::Table(inner) => flatten(&name, inner, out),
            other => {
                out.insert(name, other.to_string());
            }
        }
    }
}

/// The fields in which two resolved profiles differ (ignoring [`RESUMABLE_CHANGES`]), as
/// `key: old → new` lines.
pub fn differences(recorded: &str, current: &str) -> Result<Vec<String>> {
    let parse = |text: &str| -> Result<BTreeMap<String, String>> {
        let table: toml::Table = text.parse()?;
        let mut flat = BTreeMap::new();
        flatten("", &table, &mut flat);
        Ok(flat)
    };
    let (old, new) = (parse(recorded)?, parse(current)?);
    let keys: std::collections::BTreeSet<&String> = old.keys().chain(new.keys()).collect();
    let none = "(absent)".to_string();
    Ok(keys
        .into_iter()
        .filter(|k| !RESUMABLE_CHANGES.contains(&k.as_str()))
        .filter(|k| old.get(*k) != new.get(*k))
        .map(|k| {
            format!(
                "{k}: {} → {}",
                old.get(k).unwrap_or(&none),
                new.get(k).unwrap_or(&none)
            )
        })
        .collect())
}

/// Record `resolved` in `dir/config.resolved.toml`, or check that the folder was made by the
/// same recipe. A folder from another recipe is an error naming every differing field.
pub fn claim_run_dir(dir: &Path, resolved: &str) -> Result<()> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("creating run folder {}", dir.display()))?;
    let path = dir.join(RESOLVED_FILE);
    match std::fs::read_to_string(&path) {
        Ok(recorded) => {
            let diff = differences(&recorded, resolved)
                .with_context(|| format!("comparing with {}", path.display()))?;
            if !diff.is_empty() {
                bail!(
                    "run folder {} belongs to a different configuration; remove it or choose \
                     another output folder. Differences (recorded → now):\n  {}",
                    dir.display(),
                    diff.join("\n  ")
                );
            }
            // Fields that may change (threads) are recorded as they are now.
            crate::train::checkpoint::write_atomic(&path, resolved.as_bytes())
        }
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            crate::train::checkpoint::write_atomic(&path, resolved.as_bytes())
        }
        Err(err) => Err(err).with_context(|| format!("reading {}", path.display())),
    }
}

/// The resolved profile beside a run's outputs.
pub const RESOLVED_FILE: &str = crate::layout::RESOLVED_FILE;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_parse_typed_values_and_create_sections() {
        let mut table: toml::Table = "[train]\nlr = 1.0\n".parse().unwrap();
        apply_override(&mut table, "train.lr=3e-4").unwrap();
        apply_override(&mut table, "data.level=FM").unwrap();
        apply_override(&mut table, "train.schedule=\"cosine\"").unwrap();
        assert_eq!(table["train"]["lr"].as_float(), Some(3e-4));
        assert_eq!(table["data"]["level"].as_str(), Some("FM"));
        assert_eq!(table["train"]["schedule"].as_str(), Some("cosine"));
        assert!(apply_override(&mut table, "novalue").is_err());
    }

    #[test]
    fn differences_name_each_changed_field_but_not_threads() {
        let a = "[train]\nlr = 1.0\nthreads = 2\n[data]\nlevel = \"FM\"\n";
        let b = "[train]\nlr = 2.0\nthreads = 8\n[data]\nlevel = \"FM\"\n";
        assert_eq!(differences(a, b).unwrap(), vec!["train.lr: 1.0 → 2.0"]);
        assert!(differences(a, a).unwrap().is_empty());
    }

    #[test]
    fn evaluations_per_epoch_and_warm_up_scale_with_the_fold() {
        let cpu = concat!(env!("CARGO_MANIFEST_DIR"), "/pipelines/train/cpu.toml");
        let mut train = Profile::load(cpu, &[]).unwrap().finetune.unwrap().train;
        train.evals_per_epoch = 4;
        train.warmup_fraction = 0.02;
        assert_eq!(train.eval_every(18), 4);
        assert_eq!(
            train.eval_every(3),
            1,
            "at least one step between evaluations"
        );
        assert_eq!(train.warmup(30 * 18), 11);
        train.evals_per_epoch = 0;
        train.warmup_fraction = 0.0;
        assert_eq!(train.eval_every(18), train.eval_every_steps);
        assert_eq!(train.warmup(540), train.warmup_steps);
        let bad = Profile::load(cpu, &["finetune.train.warmup_fraction=1.5".to_string()]);
        assert!(format!("{:#}", bad.unwrap_err()).contains("warmup_fraction"));
    }

    #[test]
    fn every_shipped_profile_loads() {
        for entry in
            std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/pipelines/train")).unwrap()
        {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "toml") {
                let profile = Profile::load(path.to_str().unwrap(), &[]).unwrap();
                profile.model.config(profile.data.vocab_size).unwrap();
            }
        }
    }

    #[test]
    fn a_strategy_can_have_its_own_learning_rate() {
        let cpu = concat!(env!("CARGO_MANIFEST_DIR"), "/pipelines/train/cpu.toml");
        let overrides = [
            "finetune.lr.lora=3e-3".to_string(),
            "finetune.lr.l-eo=1e-4".to_string(),
        ];
        let profile = Profile::load(cpu, &overrides).unwrap();
        let finetune = profile.finetune.unwrap();
        assert_eq!(finetune.train_for(StrategyKind::Lora).lr, 3e-3);
        assert_eq!(finetune.train_for(StrategyKind::LEo).lr, 1e-4);
        assert_eq!(
            finetune.train_for(StrategyKind::Custom).lr,
            finetune.train.lr
        );
        let bad = Profile::load(cpu, &["finetune.lr.lorra=3e-3".to_string()]).unwrap_err();
        assert!(format!("{bad:#}").contains("lorra"), "{bad:#}");
        let negative = Profile::load(cpu, &["finetune.lr.lora=-1.0".to_string()]).unwrap_err();
        assert!(
            format!("{negative:#}").contains("finetune.lr.lora"),
            "{negative:#}"
        );
    }
}
