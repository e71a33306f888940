//! `prefix` (paper §3.5; Li & Liang 2021, "Prefix-Tuning"): trainable key/value prefixes on
//! every encoder and decoder self-attention (the decoder's cross-attention as an option), the
//! base model frozen. The prefixes start as the model's own keys and values of the project's
//! most frequent tokens ([`init`]), or, as an option, small random values; with Li & Liang's
//! reparameterisation they are the output of an MLP while they train
//! (`crate::model::prefix_mlp`), and are stored as that output either way.

pub mod init;

use anyhow::{Result, ensure};
use burn::prelude::*;
use serde::{Deserialize, Serialize};

use super::{Method, Strategy};
use crate::data::examples::Example;
use crate::model::params::{ParamGroup, with_prefixes};
use crate::model::prefix_mlp::PrefixMlp;
use crate::model::{BartConfig, BartForConditionalGeneration};

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
    /// ([`init`]); with `mlp_hidden`, the MLP's input is their embeddings.
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

impl Method for PrefixSettings {
    fn validate(&self) -> Result<()> {
        ensure!(self.len > 0, "prefix.len must be positive");
        Ok(())
    }

    /// Prefix parameters only (the prefixes, or `P'` and the MLP while reparameterised).
    fn trains(&self, path: &str, _config: &BartConfig) -> bool {
        ParamGroup::of(path) == Some(ParamGroup::Prefix)
    }

    /// Fresh N(0, init_std) prefixes, or with `mlp_hidden` the MLP that computes them (PEFT's
    /// `PrefixEncoder` initialisation); [`Method::initialise`] then sets the paper's start.
    fn attach(
        &self,
        mut model: BartForConditionalGeneration,
        device: &Device,
    ) -> BartForConditionalGeneration {
        if self.mlp_hidden == 0 {
            return with_prefixes(model, self.len, self.cross_attention, device);
        }
        let encoder = model.config.encoder_layers;
        // Attention order: encoder self, then (decoder self, cross) per decoder layer.
        let targets = (0..encoder)
            .chain((0..model.config.decoder_layers).flat_map(|i| {
                let at = encoder + 2 * i;
                std::iter::once(at).chain(self.cross_attention.then_some(at + 1))
            }))
            .collect();
        model.prefix_mlp = Some(PrefixMlp::new(
            self.len,
            model.config.d_model,
            self.mlp_hidden,
            targets,
            device,
        ));
        model
    }

    /// The paper's start (§3.5): the model's own keys and values of the most frequent tokens
    /// of the project's training inputs and targets, special tokens left out ([`init`]). A
    /// `normal` start keeps the prefixes as attached.
    fn initialise(
        &self,
        model: BartForConditionalGeneration,
        train: &[Example],
        device: &Device,
    ) -> BartForConditionalGeneration {
        if self.init != PrefixInit::Tokens {
            return model;
        }
        let sequences: Vec<Vec<u32>> = train
            .iter()
            .flat_map(|e| [e.input_ids.clone(), e.target_ids.clone()])
            .collect();
        let tokens = init::most_frequent_tokens(&sequences, self.len, true);
        init::init_prefix_from_tokens(model, &tokens, self, device)
    }

    /// A reparameterised prefix is stored as the MLP's output: a direct prefix.
    fn stored_as(&self) -> Option<Strategy> {
        (self.mlp_hidden > 0).then(|| Strategy::Prefix {
            prefix: PrefixSettings {
                mlp_hidden: 0,
                ..self.clone()
            },
        })
    }

    /// Per-row keys and values: rows of several projects' prefixes share a batch (§3.5).
    fn mixes_in_batch(&self) -> bool {
        true
    }
}
