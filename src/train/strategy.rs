//! Customization strategies as data (paper §3): each names the parameters it trains and, for
//! prefix tuning and LoRA, the modules it adds to the base model. The training loop does not
//! branch on the strategy: it calls [`Strategy::attach`], then [`Strategy::freeze`], and trains
//! whatever still requires a gradient.
//!
//! - `custom` (§3.2): every parameter of the base model.
//! - `l-eo` (§3.3): the token embedding (tied to the output layer) and both position embeddings.
//! - `l-ldb` (§3.4): every parameter of the last decoder block.
//! - `prefix` (§3.5, Li & Liang 2021): key/value prefixes on every encoder and decoder
//!   self-attention (decoder cross-attention as an option), initialised by
//!   [`super::prefix_init`] from the project's most frequent tokens.
//! - `lora` (beyond the paper; Hu et al. 2021, as HF PEFT): low-rank updates of attention
//!   projections (`q_proj`, `v_proj` of every attention by default).
//!
//! Frozen parameters get `require_grad = false`, so autodiff computes no gradient for them and
//! the optimizer keeps no state for them.

use std::fmt;

use anyhow::{Result, ensure};
use burn::module::{Module, ModuleMapper, Param};
use burn::prelude::*;
use serde::{Deserialize, Serialize};

use crate::model::lora::{AttentionLora, TARGETS};
use crate::model::params::{ParamGroup, PathStack, named_params, with_prefixes};
use crate::model::prefix_mlp::PrefixMlp;
use crate::model::{BartConfig, BartForConditionalGeneration};

/// Which customization process (paper §3, Table 1; `lora` beyond the paper).
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

    /// Whether a customized model is stored as an adapter beside its base (all but `custom`,
    /// which stores a whole model).
    pub fn saves_adapter(self) -> bool {
        self != StrategyKind::Custom
    }
}

impl fmt::Display for StrategyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Prefix tuning's settings (paper §3.5: 200 positions on every encoder and decoder
/// self-attention).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrefixSettings {
    /// Prefix positions per attention layer (paper: 200).
    pub len: usize,
    /// Also prefix the decoder's cross-attention, as Li & Liang's BART code does (≈ 1.5× the
    /// parameters; not the paper's count).
    #[serde(default)]
    pub cross_attention: bool,
    /// Li & Liang's reparameterisation (`crate::model::prefix_mlp`): the prefixes are the
    /// output of an MLP with this hidden width over a trained `[len, d_model]` matrix (their
    /// BART setting: 512); 0 learns the prefixes directly, as the paper counts them. Adapters
    /// store the MLP's output either way. Not written when 0, so that recipes and adapters
    /// recorded before the option existed stay the same recipe.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub mlp_hidden: usize,
    /// Where the prefixes start: the paper's project tokens, or small random values. Not
    /// written when it is the paper's, so older recipes stay the same recipe.
    #[serde(default, skip_serializing_if = "PrefixInit::is_paper")]
    pub init: PrefixInit,
}

/// How a prefix is initialised before customization.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum PrefixInit {
    /// The paper (§3.5): each layer's keys and values of the project's most frequent tokens
    /// ([`super::prefix_init`]); with `mlp_hidden`, the MLP's input is their embeddings.
    #[default]
    Tokens,
    /// N(0, init_std) values, as attached: a start close to zero that perturbs the base less.
    Normal,
}

impl PrefixInit {
    fn is_paper(&self) -> bool {
        *self == PrefixInit::Tokens
    }
}

fn is_zero(value: &usize) -> bool {
    *value == 0
}

impl Default for PrefixSettings {
    fn default() -> Self {
        Self {
            len: 200,
            cross_attention: false,
            mlp_hidden: 0,
            init: PrefixInit::Tokens,
        }
    }
}

/// LoRA's settings, named as PEFT's `LoraConfig` (`r`, `lora_alpha`, `lora_dropout`,
/// `target_modules`), with PEFT's defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoraSettings {
    pub rank: usize,
    pub alpha: f64,
    pub dropout: f64,
    /// Attention projections to adapt, a subset of `q_proj`, `k_proj`, `v_proj`, `out_proj`;
    /// applied in every attention (encoder self, decoder self and cross), as PEFT's suffix
    /// match does.
    pub targets: Vec<String>,
}

impl Default for LoraSettings {
    fn default() -> Self {
        Self {
            rank: 8,
            alpha: 8.0,
            dropout: 0.0,
            targets: vec!["q_proj".into(), "v_proj".into()],
        }
    }
}

/// A customization strategy: its kind plus the settings of the kinds that add modules (the
/// settings of the other kind are carried but unused, so a profile can set both once).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Strategy {
    pub kind: StrategyKind,
    #[serde(default)]
    pub prefix: PrefixSettings,
    #[serde(default)]
    pub lora: LoraSettings,
}

impl From<StrategyKind> for Strategy {
    fn from(kind: StrategyKind) -> Self {
        Self::new(kind)
    }
}

impl Strategy {
    /// A strategy with default settings (prefix 200, LoRA r 8 / α 8 on q and v).
    pub fn new(kind: StrategyKind) -> Self {
        Self {
            kind,
            prefix: PrefixSettings::default(),
            lora: LoraSettings::default(),
        }
    }

    pub fn name(&self) -> &'static str {
        self.kind.name()
    }

    /// Reject settings that cannot build a model (zero prefix length or rank, unknown LoRA
    /// targets, dropout outside [0, 1)), naming the setting.
    pub fn validate(&self) -> Result<()> {
        match self.kind {
            StrategyKind::Prefix => ensure!(self.prefix.len > 0, "prefix.len must be positive"),
            StrategyKind::Lora => {
                let lora = &self.lora;
                ensure!(lora.rank > 0, "lora.rank must be positive");
                ensure!(
                    (0.0..1.0).contains(&lora.dropout),
                    "lora.dropout {} is not in [0, 1)",
                    lora.dropout
                );
                ensure!(!lora.targets.is_empty(), "lora.targets is empty");
                for target in &lora.targets {
                    ensure!(
                        TARGETS.contains(&target.as_str()),
                        "lora.targets: {target:?} is not an attention projection (one of {TARGETS:?})"
                    );
                }
            }
            StrategyKind::Custom | StrategyKind::LEo | StrategyKind::LLdb => {}
        }
        Ok(())
    }

    /// Whether the burn parameter `path` trains under this strategy.
    ///
    /// `custom`: everything except `final_logits_bias` (a buffer in HF); `l-eo`: `model.shared`
    /// and both `embed_positions`; `l-ldb`: every parameter of the last decoder block; `prefix`:
    /// prefix parameters only; `lora`: LoRA parameters only.
    pub fn trains(&self, path: &str, config: &BartConfig) -> bool {
        let group = ParamGroup::of(path);
        match self.kind {
            StrategyKind::Custom => group != Some(ParamGroup::LogitsBias),
            StrategyKind::LEo => matches!(
                group,
                Some(ParamGroup::TokenEmbeddings | ParamGroup::Positions)
            ),
            StrategyKind::LLdb => {
                let last = config.decoder_layers.checked_sub(1);
                last.is_some_and(|last| group == Some(ParamGroup::DecoderBlock(last)))
                    && !is_added(path)
            }
            StrategyKind::Prefix => group == Some(ParamGroup::Prefix),
            StrategyKind::Lora => is_lora(path),
        }
    }

    /// Add the strategy's extra modules to a base model: fresh N(0, init_std) prefixes for
    /// `prefix` (see [`super::prefix_init`] for the paper's initialisation), PEFT-initialised
    /// LoRA updates (`A` Kaiming-uniform, `B` zero) for `lora`; the other kinds add nothing.
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
        match self.kind {
            StrategyKind::Prefix if self.prefix.mlp_hidden > 0 => {
                let mut model = model;
                let encoder = model.config.encoder_layers;
                // Attention order: encoder self, then (decoder self, cross) per decoder layer.
                let targets = (0..encoder)
                    .chain((0..model.config.decoder_layers).flat_map(|i| {
                        let at = encoder + 2 * i;
                        std::iter::once(at).chain(self.prefix.cross_attention.then_some(at + 1))
                    }))
                    .collect();
                model.prefix_mlp = Some(PrefixMlp::new(
                    self.prefix.len,
                    model.config.d_model,
                    self.prefix.mlp_hidden,
                    targets,
                    device,
                ));
                model
            }
            StrategyKind::Prefix => {
                with_prefixes(model, self.prefix.len, self.prefix.cross_attention, device)
            }
            StrategyKind::Lora => attach_lora(model, &self.lora, device),
            StrategyKind::Custom | StrategyKind::LEo | StrategyKind::LLdb => model,
        }
    }

    /// The strategy as its adapter is stored and loaded: a reparameterised prefix is kept as
    /// the MLP's output, i.e. as a direct prefix (`mlp_hidden` 0); other strategies as they are.
    pub fn materialized(&self) -> Strategy {
        let mut strategy = self.clone();
        strategy.prefix.mlp_hidden = 0;
        strategy
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

/// A LoRA parameter path (`….lora.q_proj.lora_A.weight`).
pub fn is_lora(path: &str) -> bool {
    path.split('.').any(|part| part == "lora")
}

/// A parameter a strategy adds to the base model (prefix or LoRA).
pub fn is_added(path: &str) -> bool {
    is_lora(path) || ParamGroup::of(path) == Some(ParamGroup::Prefix)
}

/// LoRA on every attention (encoder self, decoder self and cross), as PEFT's suffix match of
/// `target_modules` does on BART.
fn attach_lora(
    mut model: BartForConditionalGeneration,
    settings: &LoraSettings,
    device: &Device,
) -> BartForConditionalGeneration {
    let d = model.config.d_model;
    let lora = || {
        Some(AttentionLora::new(
            &settings.targets,
            d,
            settings.rank,
            settings.alpha,
            settings.dropout,
            device,
        ))
    };
    for layer in &mut model.model.encoder.layers {
        layer.self_attn.lora = lora();
    }
    for layer in &mut model.model.decoder.layers {
        layer.self_attn.lora = lora();
        layer.encoder_attn.lora = lora();
    }
    model
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
    use crate::model::Preset;

    #[test]
    fn names_round_trip_through_serde_and_clap() {
        use clap::ValueEnum;
        for kind in StrategyKind::ALL {
            let json = serde_json::to_string(&kind).unwrap();
            assert_eq!(json, format!("\"{}\"", kind.name()));
            assert_eq!(serde_json::from_str::<StrategyKind>(&json).unwrap(), kind);
            assert_eq!(StrategyKind::from_str(kind.name(), false).unwrap(), kind);
        }
    }

    #[test]
    fn l_ldb_selects_the_last_decoder_block_only() {
        let config = BartConfig::preset(Preset::Tiny);
        let lldb = Strategy::new(StrategyKind::LLdb);
        assert!(lldb.trains("model.decoder.layers.1.fc1.weight", &config));
        assert!(lldb.trains("model.decoder.layers.1.encoder_attn.k_proj.bias", &config));
        assert!(!lldb.trains("model.decoder.layers.0.fc1.weight", &config));
        assert!(!lldb.trains("model.encoder.layers.1.fc1.weight", &config));
        assert!(!lldb.trains("model.shared.weight", &config));
    }

    #[test]
    fn l_eo_selects_embeddings_and_positions() {
        let config = BartConfig::preset(Preset::Tiny);
        let leo = Strategy::new(StrategyKind::LEo);
        assert!(leo.trains("model.shared.weight", &config));
        assert!(leo.trains("model.encoder.embed_positions.weight", &config));
        assert!(leo.trains("model.decoder.embed_positions.weight", &config));
        assert!(!leo.trains("model.encoder.layernorm_embedding.gamma", &config));
        assert!(!leo.trains("final_logits_bias", &config));
    }

    #[test]
    fn invalid_settings_are_named() {
        let mut lora = Strategy::new(StrategyKind::Lora);
        lora.lora.targets = vec!["fc1".into()];
        assert!(lora.validate().unwrap_err().to_string().contains("fc1"));
        let mut prefix = Strategy::new(StrategyKind::Prefix);
        prefix.prefix.len = 0;
        assert!(
            prefix
                .validate()
                .unwrap_err()
                .to_string()
                .contains("prefix.len")
        );
    }
}
