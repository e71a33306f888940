//! Customization strategies (paper §3), one module per strategy behind one trait, as HF PEFT's
//! `tuners/<method>/` are: each module holds its own settings and its [`Method`] (which
//! parameters train, what it attaches to the base model, how it initialises from the project's
//! training data, how its adapter is stored, whether it can share a batch), and this file is the
//! registry that maps names to them.
//!
//! - [`custom`] (§3.2): every parameter of the base model.
//! - [`l_eo`] (§3.3): the token embedding (tied to the output layer) and both position embeddings.
//! - [`l_ldb`] (§3.4): every parameter of the last decoder block.
//! - [`prefix`] (§3.5, Li & Liang 2021): key/value prefixes on every encoder and decoder
//!   self-attention (decoder cross-attention as an option), initialised from the project's most
//!   frequent tokens.
//! - [`lora`] (beyond the paper; Hu et al. 2021, as HF PEFT): low-rank updates of attention
//!   projections (`q_proj`, `v_proj` of every attention by default).
//!
//! A run's strategy is a [`Strategy`]: a tagged enum whose variants carry only their own
//! settings, so a LoRA setting cannot appear on a prefix run. The training loop does not branch
//! on it: it calls [`Strategy::attach`], [`Strategy::initialise`], then [`Strategy::freeze`], and
//! trains whatever still requires a gradient. Frozen parameters get `require_grad = false`, so
//! autodiff computes no gradient for them and the optimizer keeps no state for them.
//!
//! Adding a strategy: a module here implementing [`Method`], and its name, variant and dispatch
//! in this file's registry ([`StrategyKind`], [`Strategy`]). A strategy with profile settings
//! also gets a `[finetune.<name>]` section in `crate::profile::FinetuneSettings` (serde
//! cannot flatten sections into a struct that denies unknown fields).
//!
//! The model knows nothing of this module: strategies select and attach the model's parameters
//! from outside ([`adapter`] stores and loads what they select).

pub mod adapter;
pub mod custom;
pub mod l_eo;
pub mod l_ldb;
pub mod lora;
pub mod prefix;

use std::fmt;
use std::path::Path;

use anyhow::Result;
use burn::module::{Module, ModuleMapper, Param};
use burn::prelude::*;
use serde::{Deserialize, Serialize};

use crate::data::examples::Example;
use crate::model::params::{ParamGroup, PathStack, named_params};
use crate::model::{BartConfig, BartForConditionalGeneration};
pub use lora::LoraSettings;
pub use prefix::{PrefixInit, PrefixSettings};

/// One customization method with its settings (a PEFT tuner's config + model). Everything but
/// [`Method::trains`] has a default: a method that only selects base parameters attaches
/// nothing, initialises nothing and is stored as it is.
pub trait Method {
    /// Reject settings that cannot build a model, naming the setting.
    fn validate(&self) -> Result<()> {
        Ok(())
    }

    /// Whether the burn parameter `path` trains under this method.
    fn trains(&self, path: &str, config: &BartConfig) -> bool;

    /// Add the method's modules to a base model (freshly drawn, before [`Method::initialise`]).
    /// Called only with settings [`Method::validate`] accepts.
    fn attach(
        &self,
        model: BartForConditionalGeneration,
        _device: &Device,
    ) -> BartForConditionalGeneration {
        model
    }

    /// Initialise the attached modules from the project's training examples (after
    /// [`Method::attach`], before training).
    fn initialise(
        &self,
        model: BartForConditionalGeneration,
        _train: &[Example],
        _device: &Device,
    ) -> BartForConditionalGeneration {
        model
    }

    /// The adapter layout: the strategy its adapter is stored and loaded as, when that is not
    /// the strategy itself (a reparameterised prefix is stored as its output, a plain prefix).
    fn stored_as(&self) -> Option<Strategy> {
        None
    }

    /// The adapter layout: PEFT's `adapter_config.json` for this method's adapter, when PEFT
    /// has an equivalent that loads our tensors (LoRA); its weights are then written in PEFT's
    /// layout too.
    fn peft_config(&self, _base_dir: &Path) -> Option<serde_json::Value> {
        None
    }

    /// Whether its adapters can share a batch with other projects' through the adapter bank
    /// (`crate::model::AdapterBank`): only methods that leave the base's own weights alone.
    fn mixes_in_batch(&self) -> bool {
        false
    }
}

/// Which customization process (paper §3, Table 1; `lora` beyond the paper): the registry's
/// names, as the command line, profiles, tables and run folders spell them.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    clap::ValueEnum,
    Serialize,
    Deserialize,
)]
pub enum StrategyKind {
    /// Every parameter trains (§3.2).
    #[serde(rename = "custom")]
    #[value(name = "custom")]
    Custom,
    /// Embeddings and (tied) output layer (§3.3).
    #[serde(rename = "l-eo")]
    #[value(name = "l-eo")]
    LEo,
    /// The last decoder block (§3.4).
    #[serde(rename = "l-ldb")]
    #[value(name = "l-ldb")]
    LLdb,
    /// Per-layer key/value prefixes (§3.5).
    #[serde(rename = "prefix")]
    #[value(name = "prefix")]
    Prefix,
    /// Low-rank adapters on attention projections (Hu et al.; not in the paper).
    #[serde(rename = "lora")]
    #[value(name = "lora")]
    Lora,
}

impl StrategyKind {
    /// Every strategy, in the paper's order, LoRA last.
    pub const ALL: [StrategyKind; 5] = [
        StrategyKind::Custom,
        StrategyKind::LEo,
        StrategyKind::LLdb,
        StrategyKind::Prefix,
        StrategyKind::Lora,
    ];

    /// The CLI/serde name (`custom`, `l-eo`, `l-ldb`, `prefix`, `lora`).
    pub fn name(self) -> &'static str {
        match self {
            StrategyKind::Custom => "custom",
            StrategyKind::LEo => "l-eo",
            StrategyKind::LLdb => "l-ldb",
            StrategyKind::Prefix => "prefix",
            StrategyKind::Lora => "lora",
        }
    }

    /// This strategy with the settings a profile gives its kind (`[finetune.prefix]`,
    /// `[finetune.lora]`); strategies without settings take none.
    pub fn configure(self, prefix: &PrefixSettings, lora: &LoraSettings) -> Strategy {
        match self {
            StrategyKind::Custom => Strategy::Custom,
            StrategyKind::LEo => Strategy::LEo,
            StrategyKind::LLdb => Strategy::LLdb,
            StrategyKind::Prefix => Strategy::Prefix {
                prefix: prefix.clone(),
            },
            StrategyKind::Lora => Strategy::Lora { lora: lora.clone() },
        }
    }
}

impl fmt::Display for StrategyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A run's customization strategy with its own settings only.
///
/// Serialised with the kind as a tag and the settings under the kind's section, as a run's
/// recipe and `adapter.json` record it (`kind = "prefix"` and a `[strategy.prefix]` table);
/// fields of other kinds, which records written before this enum carried, are ignored when read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind")]
pub enum Strategy {
    /// [`custom::Custom`]: every parameter.
    #[serde(rename = "custom")]
    Custom,
    /// [`l_eo::LEo`]: embeddings and the tied output layer.
    #[serde(rename = "l-eo")]
    LEo,
    /// [`l_ldb::LLdb`]: the last decoder block.
    #[serde(rename = "l-ldb")]
    LLdb,
    /// [`prefix`]: key/value prefixes, `[strategy.prefix]`.
    #[serde(rename = "prefix")]
    Prefix { prefix: PrefixSettings },
    /// [`lora`]: low-rank updates, `[strategy.lora]`.
    #[serde(rename = "lora")]
    Lora { lora: LoraSettings },
}

impl From<StrategyKind> for Strategy {
    fn from(kind: StrategyKind) -> Self {
        Self::new(kind)
    }
}

impl Strategy {
    /// A strategy with default settings (prefix 200, LoRA r 8 / α 8 on q and v).
    pub fn new(kind: StrategyKind) -> Self {
        kind.configure(&PrefixSettings::default(), &LoraSettings::default())
    }

    /// The registry: each strategy's [`Method`].
    fn method(&self) -> &dyn Method {
        match self {
            Strategy::Custom => &custom::Custom,
            Strategy::LEo => &l_eo::LEo,
            Strategy::LLdb => &l_ldb::LLdb,
            Strategy::Prefix { prefix } => prefix,
            Strategy::Lora { lora } => lora,
        }
    }

    pub fn kind(&self) -> StrategyKind {
        match self {
            Strategy::Custom => StrategyKind::Custom,
            Strategy::LEo => StrategyKind::LEo,
            Strategy::LLdb => StrategyKind::LLdb,
            Strategy::Prefix { .. } => StrategyKind::Prefix,
            Strategy::Lora { .. } => StrategyKind::Lora,
        }
    }

    pub fn name(&self) -> &'static str {
        self.kind().name()
    }

    /// Reject settings that cannot build a model (zero prefix length or rank, unknown LoRA
    /// targets, dropout outside [0, 1)), naming the setting.
    pub fn validate(&self) -> Result<()> {
        self.method().validate()
    }

    /// Whether the burn parameter `path` trains under this strategy.
    pub fn trains(&self, path: &str, config: &BartConfig) -> bool {
        self.method().trains(path, config)
    }

    /// Add the strategy's extra modules to a base model: fresh N(0, init_std) prefixes (or
    /// their MLP) for `prefix`, PEFT-initialised LoRA updates (`A` Kaiming-uniform, `B` zero)
    /// for `lora`; the other kinds add nothing.
    ///
    /// # Panics
    /// On settings [`Strategy::validate`] rejects.
    pub fn attach(
        &self,
        model: BartForConditionalGeneration,
        device: &Device,
    ) -> BartForConditionalGeneration {
        if let Err(err) = self.validate() {
            panic!("invalid {} settings: {err:#}", self.name());
        }
        self.method().attach(model, device)
    }

    /// Initialise what [`Strategy::attach`] added from the project's training examples (the
    /// paper's prefix start from its most frequent tokens); the others are left as attached.
    pub fn initialise(
        &self,
        model: BartForConditionalGeneration,
        train: &[Example],
        device: &Device,
    ) -> BartForConditionalGeneration {
        self.method().initialise(model, train, device)
    }

    /// The strategy as its adapter is stored and loaded: a reparameterised prefix is kept as
    /// the MLP's output, i.e. as a direct prefix (`mlp_hidden` 0); other strategies as they are.
    pub fn stored(&self) -> Strategy {
        self.method().stored_as().unwrap_or_else(|| self.clone())
    }

    /// PEFT's `adapter_config.json` for this strategy's adapter, if PEFT can load it.
    pub fn peft_config(&self, base_dir: &Path) -> Option<serde_json::Value> {
        self.method().peft_config(base_dir)
    }

    /// Whether its adapters can share a batch with other projects' (prefix and LoRA).
    pub fn mixes_in_batch(&self) -> bool {
        self.method().mixes_in_batch()
    }

    /// Set `require_grad = false` on every float parameter [`Strategy::trains`] rejects (so it
    /// gets no gradient and no optimizer state) and `true` on the others. Dropout and other
    /// module flags are left as they are: frozen layers still behave as in training, as in the
    /// paper's fine-tuning. Call once, on the autodiff device's model.
    pub fn freeze(&self, model: BartForConditionalGeneration) -> BartForConditionalGeneration {
        let config = model.config.clone();
        let mut freezer = Freezer {
            stack: PathStack::default(),
            select: |path: &str| self.trains(path, &config),
        };
        model.map(&mut freezer)
    }

    /// `(trainable, total)` parameters of this strategy on `model` (after [`Strategy::attach`]);
    /// the total counts as HF does (without the `final_logits_bias` buffer), plus added
    /// prefix/LoRA parameters: the paper's Table 1.
    pub fn counts(&self, model: &BartForConditionalGeneration) -> (usize, usize) {
        let mut trainable = 0;
        let mut total = 0;
        for param in named_params(model) {
            if ParamGroup::of(&param.path) == Some(ParamGroup::LogitsBias) {
                continue;
            }
            total += param.numel();
            if self.trains(&param.path, &model.config) {
                trainable += param.numel();
            }
        }
        (trainable, total)
    }
}

/// A parameter a strategy adds to the base model (prefix or LoRA), not one of the base's own.
fn is_added(path: &str) -> bool {
    crate::model::lora::is_lora(path) || ParamGroup::of(path) == Some(ParamGroup::Prefix)
}

struct Freezer<F> {
    stack: PathStack,
    select: F,
}

impl<F: Fn(&str) -> bool> ModuleMapper for Freezer<F> {
    fn enter_module(&mut self, name: &str, container_type: &str) {
        self.stack.enter(name, container_type);
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.stack.exit();
    }

    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let (path, _) = self.stack.describe();
        param.set_require_grad((self.select)(&path))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_through_serde_and_clap() {
        use clap::ValueEnum;
        for kind in StrategyKind::ALL {
            let json = serde_json::to_string(&kind).unwrap();
            assert_eq!(json, format!("\"{}\"", kind.name()));
            assert_eq!(serde_json::from_str::<StrategyKind>(&json).unwrap(), kind);
            assert_eq!(StrategyKind::from_str(kind.name(), false).unwrap(), kind);
            assert_eq!(Strategy::new(kind).kind(), kind);
        }
    }

    /// A run's recipe as it was recorded before the tagged enum (a struct of the kind and only
    /// its own settings): the same bytes, so finished runs stay current.
    #[test]
    fn a_strategy_records_its_kind_and_only_its_own_settings() {
        #[derive(Serialize)]
        struct Recipe {
            strategy: Strategy,
        }
        let toml_of = |strategy: Strategy| toml::to_string_pretty(&Recipe { strategy }).unwrap();
        assert_eq!(toml_of(Strategy::LLdb), "[strategy]\nkind = \"l-ldb\"\n");
        let prefix = Strategy::Prefix {
            prefix: PrefixSettings {
                len: 50,
                mlp_hidden: 512,
                ..PrefixSettings::default()
            },
        };
        assert_eq!(
            toml_of(prefix.clone()),
            "[strategy]\nkind = \"prefix\"\n\n[strategy.prefix]\nlen = 50\ncross_attention = \
             false\nmlp_hidden = 512\n"
        );
        assert_eq!(
            toml_of(Strategy::new(StrategyKind::Lora)),
            "[strategy]\nkind = \"lora\"\n\n[strategy.lora]\nrank = 8\nalpha = 8.0\ndropout = \
             0.0\ntargets = [\n    \"q_proj\",\n    \"v_proj\",\n]\n"
        );
        let json = serde_json::to_string(&prefix).unwrap();
        assert_eq!(
            json,
            r#"{"kind":"prefix","prefix":{"len":50,"cross_attention":false,"mlp_hidden":512}}"#
        );
        assert_eq!(serde_json::from_str::<Strategy>(&json).unwrap(), prefix);
    }

    /// `adapter.json` files written before the tagged enum carried every kind's settings.
    #[test]
    fn records_with_other_kinds_settings_still_read() {
        let old = |kind: &str| {
            format!(
                r#"{{"kind":"{kind}","prefix":{{"len":50,"cross_attention":false,"mlp_hidden":512}},
                "lora":{{"rank":8,"alpha":16.0,"dropout":0.05,"targets":["q_proj","v_proj"]}}}}"#
            )
        };
        let read = |kind: &str| serde_json::from_str::<Strategy>(&old(kind)).unwrap();
        assert_eq!(read("custom"), Strategy::Custom);
        assert_eq!(read("l-ldb"), Strategy::LLdb);
        let Strategy::Prefix { prefix } = read("prefix") else {
            panic!("not a prefix");
        };
        assert_eq!((prefix.len, prefix.mlp_hidden), (50, 512));
        let Strategy::Lora { lora } = read("lora") else {
            panic!("not lora");
        };
        assert_eq!((lora.rank, lora.alpha), (8, 16.0));
        assert!(serde_json::from_str::<Strategy>(r#"{"kind":"lorra"}"#).is_err());
    }

    #[test]
    fn invalid_settings_are_named() {
        let lora = Strategy::Lora {
            lora: LoraSettings {
                targets: vec!["fc1".into()],
                ..LoraSettings::default()
            },
        };
        assert!(lora.validate().unwrap_err().to_string().contains("fc1"));
        let prefix = Strategy::Prefix {
            prefix: PrefixSettings {
                len: 0,
                ..PrefixSettings::default()
            },
        };
        let err = prefix.validate().unwrap_err().to_string();
        assert!(err.contains("prefix.len"), "{err}");
    }
}
