//! `lora` (beyond the paper; Hu et al. 2021, "LoRA: Low-Rank Adaptation of Large Language
//! Models"), configured and laid out as HF PEFT's `LoraConfig`: low-rank updates of attention
//! projections, beside the frozen base weights (the update modules are
//! `crate::model::lora`'s). Its adapter is also written in PEFT's layout, so
//! `peft.PeftModel.from_pretrained` loads it onto the HF export of the base.

use std::path::Path;

use anyhow::{Result, ensure};
use burn::prelude::*;
use serde::{Deserialize, Serialize};

use super::Method;
use crate::model::lora::{AttentionLora, TARGETS, is_lora};
use crate::model::{BartConfig, BartForConditionalGeneration};

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

impl Method for LoraSettings {
    fn validate(&self) -> Result<()> {
        ensure!(self.rank > 0, "lora.rank must be positive");
        ensure!(
            (0.0..1.0).contains(&self.dropout),
            "lora.dropout {} is not in [0, 1)",
            self.dropout
        );
        ensure!(!self.targets.is_empty(), "lora.targets is empty");
        for target in &self.targets {
            ensure!(
                TARGETS.contains(&target.as_str()),
                "lora.targets: {target:?} is not an attention projection (one of {TARGETS:?})"
            );
        }
        Ok(())
    }

    /// LoRA parameters only.
    fn trains(&self, path: &str, _config: &BartConfig) -> bool {
        is_lora(path)
    }

    /// LoRA on every attention (encoder self, decoder self and cross), as PEFT's suffix match
    /// of `target_modules` does on BART.
    fn attach(
        &self,
        mut model: BartForConditionalGeneration,
        device: &Device,
    ) -> BartForConditionalGeneration {
        let d = model.config.d_model;
        let lora = || {
            Some(AttentionLora::new(
                &self.targets,
                d,
                self.rank,
                self.alpha,
                self.dropout,
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

    /// PEFT's `LoraConfig` as `save_pretrained` writes it (fields PEFT needs to rebuild the
    /// adapter; the rest at PEFT's defaults).
    fn peft_config(&self, base_dir: &Path) -> Option<serde_json::Value> {
        Some(serde_json::json!({
            "peft_type": "LORA",
            "task_type": "SEQ_2_SEQ_LM",
            "base_model_name_or_path": base_dir.display().to_string(),
            "revision": null,
            "r": self.rank,
            "lora_alpha": self.alpha,
            "lora_dropout": self.dropout,
            "target_modules": self.targets,
            "bias": "none",
            "fan_in_fan_out": false,
            "inference_mode": true,
            "init_lora_weights": true,
            "use_rslora": false,
            "use_dora": false,
            "modules_to_save": null,
            "layers_to_transform": null,
            "layers_pattern": null,
            "rank_pattern": {},
            "alpha_pattern": {},
        }))
    }

    /// A per-row matrix product: rows of several projects' updates share a batch.
    fn mixes_in_batch(&self) -> bool {
        true
    }
}
