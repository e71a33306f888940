//! `BartConfig`: the fields of HuggingFace's `config.json` for BART, and our presets.
//!
//! The struct reads and writes the same JSON `transformers` does, so a model directory moves
//! between tailor and `BartForConditionalGeneration.from_pretrained` unchanged. Fields the model
//! does not use (generation defaults, `architectures`, label maps …) are kept verbatim in
//! [`BartConfig::extra`] so that a load → save round trip loses nothing.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result, bail, ensure};
use serde::{Deserialize, Serialize};

use super::activation::Activation;

/// BART's architecture hyper-parameters, named as in HF `BartConfig` (defaults are HF's, which
/// are bart-large's shapes).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BartConfig {
    #[serde(default = "defaults::model_type")]
    pub model_type: String,
    #[serde(default = "defaults::vocab_size")]
    pub vocab_size: usize,
    #[serde(default = "defaults::max_position_embeddings")]
    pub max_position_embeddings: usize,
    #[serde(default = "defaults::d_model")]
    pub d_model: usize,
    #[serde(default = "defaults::layers")]
    pub encoder_layers: usize,
    #[serde(default = "defaults::layers")]
    pub decoder_layers: usize,
    #[serde(default = "defaults::heads")]
    pub encoder_attention_heads: usize,
    #[serde(default = "defaults::heads")]
    pub decoder_attention_heads: usize,
    #[serde(default = "defaults::ffn_dim")]
    pub encoder_ffn_dim: usize,
    #[serde(default = "defaults::ffn_dim")]
    pub decoder_ffn_dim: usize,
    #[serde(default = "defaults::activation_function")]
    pub activation_function: String,
    #[serde(default = "defaults::dropout")]
    pub dropout: f64,
    #[serde(default)]
    pub attention_dropout: f64,
    #[serde(default)]
    pub activation_dropout: f64,
    #[serde(default = "defaults::init_std")]
    pub init_std: f64,
    #[serde(default)]
    pub scale_embedding: bool,
    #[serde(default = "defaults::pad_token_id")]
    pub pad_token_id: u32,
    #[serde(default)]
    pub bos_token_id: u32,
    #[serde(default = "defaults::eos_token_id")]
    pub eos_token_id: u32,
    #[serde(default = "defaults::eos_token_id")]
    pub decoder_start_token_id: u32,
    /// Generation: token forced right after `decoder_start_token_id` (bart-large: 0), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forced_bos_token_id: Option<u32>,
    /// Generation: token forced at the last position of `max_length` (HF default: eos).
    #[serde(default = "defaults::forced_eos_token_id")]
    pub forced_eos_token_id: Option<u32>,
    /// Generation: n-gram size that may not repeat (bart-large: 3), if the config sets it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub no_repeat_ngram_size: Option<usize>,
    /// How attention projections are drawn when a model is trained from scratch (tailor's key;
    /// written only when not HF's, and ignored when weights are loaded).
    #[serde(
        default,
        rename = "tailor_attention_init",
        skip_serializing_if = "AttentionInit::is_hf"
    )]
    pub attention_init: AttentionInit,
    /// Everything else in `config.json`, kept so that saving writes back what was read.
    #[serde(flatten)]
    pub extra: BTreeMap<String, serde_json::Value>,
}

/// The initial scale of the attention projections of a model trained from scratch.
///
/// HF's `_init_weights` draws every projection from N(0, `init_std` = 0.02): made for
/// fine-tuning pretrained weights, it leaves a from-scratch model's cross-attention uniform over
/// the input (queries and keys too small), so the decoder first learns to ignore the input.
/// BART was pretrained from fairseq's start: Xavier-uniform q/k/v (gain 1/√2) and out
/// projections (gain 1), here drawn normal with Xavier's variance.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AttentionInit {
    #[default]
    Hf,
    Xavier,
}

impl AttentionInit {
    pub fn is_hf(&self) -> bool {
        *self == AttentionInit::Hf
    }
}

mod defaults {
    pub fn model_type() -> String {
        "bart".into()
    }
    pub fn vocab_size() -> usize {
        50265
    }
    pub fn max_position_embeddings() -> usize {
        1024
    }
    pub fn d_model() -> usize {
        1024
    }
    pub fn layers() -> usize {
        12
    }
    pub fn heads() -> usize {
        16
    }
    pub fn ffn_dim() -> usize {
        4096
    }
    pub fn activation_function() -> String {
        "gelu".into()
    }
    pub fn dropout() -> f64 {
        0.1
    }
    pub fn init_std() -> f64 {
        0.02
    }
    pub fn pad_token_id() -> u32 {
        1
    }
    pub fn eos_token_id() -> u32 {
        2
    }
    pub fn forced_eos_token_id() -> Option<u32> {
        Some(2)
    }
}

/// The named model sizes: `tiny` for tests, `small` for CPU experiments, `base` and `large` with
/// bart-base's and bart-large's shapes (the paper customizes a bart-large, §3 / Table 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Preset {
    Tiny,
    Small,
    Base,
    Large,
}

impl std::fmt::Display for Preset {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let name = match self {
            Preset::Tiny => "tiny",
            Preset::Small => "small",
            Preset::Base => "base",
            Preset::Large => "large",
        };
        f.write_str(name)
    }
}

impl Default for BartConfig {
    /// HF's `BartConfig()` defaults: bart-large's shapes.
    fn default() -> Self {
        serde_json::from_str("{}").expect("every BartConfig field has a default")
    }
}

impl BartConfig {
    /// The configuration of a preset. `tiny` and `small` keep the BART vocabulary special ids
    /// (bos 0, pad 1, eos 2) so tokenizers and generation behave the same at every size.
    pub fn preset(preset: Preset) -> Self {
        let large = Self::default();
        let mut extra = BTreeMap::new();
        extra.insert(
            "architectures".to_string(),
            serde_json::json!(["BartForConditionalGeneration"]),
        );
        extra.insert("is_encoder_decoder".to_string(), serde_json::json!(true));
        let base = Self { extra, ..large };
        match preset {
            Preset::Large => base,
            Preset::Base => Self {
                d_model: 768,
                encoder_layers: 6,
                decoder_layers: 6,
                encoder_attention_heads: 12,
                decoder_attention_heads: 12,
                encoder_ffn_dim: 3072,
                decoder_ffn_dim: 3072,
                ..base
            },
            // ~15M parameters: a model a 2-core CPU trains in hours, not weeks.
            Preset::Small => Self {
                vocab_size: 16384,
                max_position_embeddings: 1024,
                d_model: 256,
                encoder_layers: 6,
                decoder_layers: 6,
                encoder_attention_heads: 4,
                decoder_attention_heads: 4,
                encoder_ffn_dim: 1024,
                decoder_ffn_dim: 1024,
                ..base
            },
            Preset::Tiny => Self {
                vocab_size: 128,
                max_position_embeddings: 64,
                d_model: 32,
                encoder_layers: 2,
                decoder_layers: 2,
                encoder_attention_heads: 4,
                decoder_attention_heads: 4,
                encoder_ffn_dim: 64,
                decoder_ffn_dim: 64,
                ..base
            },
        }
    }

    /// Initial standard deviations of the attention's (q/k/v, out) projections.
    pub fn attention_init_stds(&self) -> (f64, f64) {
        let d = self.d_model as f64;
        match self.attention_init {
            AttentionInit::Hf => (self.init_std, self.init_std),
            AttentionInit::Xavier => ((0.5 / d).sqrt(), (1.0 / d).sqrt()),
        }
    }

    /// Read and check a HF `config.json`.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading model config {}", path.display()))?;
        let config: Self = serde_json::from_str(&text)
            .with_context(|| format!("parsing model config {}", path.display()))?;
        config
            .validate()
            .with_context(|| format!("checking model config {}", path.display()))?;
        Ok(config)
    }

    /// Write `config.json` the way `transformers` does (pretty, sorted keys, trailing newline).
    pub fn save(&self, path: &Path) -> Result<()> {
        // HF's `to_json_string` sorts keys; a BTreeMap does the same whatever serde_json's
        // map type is.
        let value = serde_json::to_value(self)?;
        let sorted: BTreeMap<String, serde_json::Value> = serde_json::from_value(value)?;
        let text = serde_json::to_string_pretty(&sorted)? + "\n";
        std::fs::write(path, text)
            .with_context(|| format!("writing model config {}", path.display()))
    }

    /// Reject configurations our BART does not implement, naming the field.
    pub fn validate(&self) -> Result<()> {
        if self.model_type != "bart" {
            bail!(
                "model_type is {:?}; only \"bart\" is supported",
                self.model_type
            );
        }
        self.activation()?;
        for (name, value) in [
            ("normalize_before", "pre-norm (mBART)"),
            ("add_final_layer_norm", "a final layer norm (mBART)"),
        ] {
            if self.extra.get(name).and_then(|v| v.as_bool()) == Some(true) {
                bail!("{name} is true: {value} is not supported");
            }
        }
        ensure!(
            self.d_model > 0 && self.vocab_size > 0,
            "d_model and vocab_size must be positive"
        );
        for (name, heads) in [
            ("encoder_attention_heads", self.encoder_attention_heads),
            ("decoder_attention_heads", self.decoder_attention_heads),
        ] {
            ensure!(
                heads > 0 && self.d_model.is_multiple_of(heads),
                "d_model {} is not divisible by {name} {heads}",
                self.d_model
            );
        }
        ensure!(
            (self.pad_token_id as usize) < self.vocab_size
                && (self.eos_token_id as usize) < self.vocab_size
                && (self.decoder_start_token_id as usize) < self.vocab_size,
            "special token ids must be below vocab_size {}",
            self.vocab_size
        );
        Ok(())
    }

    /// The feed-forward activation `activation_function` names; an error naming the value and
    /// listing the supported ones if we do not implement it.
    pub fn activation(&self) -> Result<Activation> {
        self.activation_function.parse()
    }

    /// BART multiplies token embeddings by sqrt(d_model) when `scale_embedding` is set.
    pub fn embed_scale(&self) -> f64 {
        if self.scale_embedding {
            (self.d_model as f64).sqrt()
        } else {
            1.0
        }
    }
}

/// BART's learned positions start at index 2 (fairseq reserved two rows), so the table has
/// `max_position_embeddings + 2` rows.
pub const POSITION_OFFSET: usize = 2;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hf_config_json_round_trips_with_unknown_fields() {
        let json = r#"{
            "activation_function": "gelu", "architectures": ["BartForConditionalGeneration"],
            "d_model": 16, "decoder_attention_heads": 4, "decoder_ffn_dim": 8, "decoder_layers": 2,
            "encoder_attention_heads": 4, "encoder_ffn_dim": 8, "encoder_layers": 2,
            "max_position_embeddings": 100, "vocab_size": 99, "num_beams": 4,
            "forced_bos_token_id": 0, "torch_dtype": "float32"
        }"#;
        let config: BartConfig = serde_json::from_str(json).unwrap();
        assert_eq!(config.d_model, 16);
        assert_eq!(config.pad_token_id, 1);
        assert_eq!(config.forced_bos_token_id, Some(0));
        assert_eq!(config.extra["num_beams"], serde_json::json!(4));
        config.validate().unwrap();
        let back: BartConfig =
            serde_json::from_value(serde_json::to_value(&config).unwrap()).unwrap();
        assert_eq!(back, config);
    }

    #[test]
    fn defaults_are_bart_large() {
        let large = BartConfig::preset(Preset::Large);
        assert_eq!(
            (large.d_model, large.encoder_layers, large.decoder_layers),
            (1024, 12, 12)
        );
        assert_eq!(large.vocab_size, 50265);
        for preset in [Preset::Tiny, Preset::Small, Preset::Base, Preset::Large] {
            BartConfig::preset(preset).validate().unwrap();
        }
    }

    #[test]
    fn every_supported_activation_validates() {
        let mut config = BartConfig::preset(Preset::Tiny);
        for (name, activation) in Activation::NAMES {
            config.activation_function = name.into();
            config.validate().unwrap();
            assert_eq!(config.activation().unwrap(), activation);
        }
    }

    #[test]
    fn unsupported_variants_are_rejected_by_name() {
        let mut config = BartConfig::preset(Preset::Tiny);
        config.activation_function = "mish".into();
        let message = config.validate().unwrap_err().to_string();
        assert!(
            message.contains("activation_function") && message.contains("\"mish\""),
            "{message}"
        );
        let mut config = BartConfig::preset(Preset::Tiny);
        config
            .extra
            .insert("normalize_before".into(), serde_json::json!(true));
        assert!(
            config
                .validate()
                .unwrap_err()
                .to_string()
                .contains("normalize_before")
        );
    }
}
