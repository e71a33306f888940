//! A strategy's adapter folder (layout in `crate::model::adapter`): saving exactly the tensors
//! the strategy trains with `adapter.json` naming the strategy and its base, loading them back
//! onto that base (and no other), and stacking several projects' adapters into one
//! [`AdapterBank`] when their strategies can share a batch.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use burn::prelude::*;
use serde::{Deserialize, Serialize};

use super::Strategy;
use crate::model::adapter::{
    ADAPTER_INFO, ADAPTER_WEIGHTS, AdapterTensors, PEFT_CONFIG, PEFT_KEY_PREFIX, PEFT_WEIGHTS,
    base_hash, load_tensors,
};
use crate::model::{AdapterBank, BartForConditionalGeneration};

/// What `adapter.json` says about an adapter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AdapterInfo {
    /// The strategy and its settings (which modules to attach before loading).
    pub strategy: Strategy,
    /// The base model folder as given when saving (informational; the hash decides).
    pub base_model: String,
    /// [`base_hash`] of the base folder.
    pub base_hash: String,
    /// Tensors in `adapter.safetensors`.
    pub tensors: usize,
    /// Parameters in `adapter.safetensors` (the strategy's trainable count).
    pub parameters: usize,
    /// Size of `adapter.safetensors` in bytes.
    pub bytes: u64,
    pub tailor_version: String,
}

/// Write `model`'s trainable tensors under `strategy` into `dir` (created if needed) as
/// `adapter.safetensors` + `adapter.json`, and where the strategy has a PEFT equivalent (LoRA)
/// also PEFT's `adapter_config.json` + `adapter_model.safetensors`. `base_dir` is the base model
/// folder the model was customized from (hashed into `adapter.json`).
pub fn save_adapter(
    model: &BartForConditionalGeneration,
    strategy: &Strategy,
    base_dir: &Path,
    dir: &Path,
) -> Result<AdapterInfo> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("creating adapter folder {}", dir.display()))?;
    // A reparameterised prefix is stored as the MLP's output (as PEFT does).
    let materialized;
    let model = if model.prefix_mlp.is_some() {
        materialized = crate::model::prefix_mlp::materialize(model.clone());
        &materialized
    } else {
        model
    };
    let stored = strategy.stored();
    let tensors = AdapterTensors::select(model, |path| stored.trains(path, &model.config));
    if tensors.is_empty() {
        bail!(
            "the model has no parameters that strategy {} trains; was it attached?",
            strategy.name()
        );
    }
    let weights = dir.join(ADAPTER_WEIGHTS);
    tensors.write(&weights, "")?;
    if let Some(config) = strategy.peft_config(base_dir) {
        tensors.write(&dir.join(PEFT_WEIGHTS), PEFT_KEY_PREFIX)?;
        write_json(&config, &dir.join(PEFT_CONFIG))?;
    }
    let info = AdapterInfo {
        strategy: strategy.clone(),
        base_model: base_dir.display().to_string(),
        base_hash: base_hash(base_dir)?,
        tensors: tensors.len(),
        parameters: tensors.parameters(),
        bytes: std::fs::metadata(&weights)
            .with_context(|| format!("reading {}", weights.display()))?
            .len(),
        tailor_version: env!("CARGO_PKG_VERSION").to_string(),
    };
    write_json(&info, &dir.join(ADAPTER_INFO))?;
    Ok(info)
}

/// Read an adapter folder's `adapter.json`.
pub fn read_info(dir: &Path) -> Result<AdapterInfo> {
    let path = dir.join(ADAPTER_INFO);
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("reading adapter info {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("parsing adapter info {}", path.display()))
}

/// Base + adapter: check that `base_dir` is the adapter's base (by content hash), attach the
/// strategy's modules to `base` (which must be the model of `base_dir`) and overwrite every
/// stored tensor. Missing, unknown and mis-shaped keys are errors naming each key.
pub fn load_adapter(
    base: BartForConditionalGeneration,
    base_dir: &Path,
    dir: &Path,
    device: &Device,
) -> Result<(BartForConditionalGeneration, Strategy)> {
    let info = read_info(dir)?;
    let hash = base_hash(base_dir)?;
    if hash != info.base_hash {
        bail!(
            "adapter {} was trained on base {} (hash {}), but the given base {} has hash {hash}",
            dir.display(),
            info.base_model,
            info.base_hash,
            base_dir.display()
        );
    }
    let strategy = info.strategy;
    strategy
        .validate()
        .with_context(|| format!("strategy settings in {}", dir.join(ADAPTER_INFO).display()))?;
    // What was stored: a reparameterised prefix as plain prefixes.
    let stored = strategy.stored();
    let model = stored.attach(base, device);
    let config = model.config.clone();
    let model = load_tensors(
        model,
        &dir.join(ADAPTER_WEIGHTS),
        |path| stored.trains(path, &config),
        &format!("strategy {}", strategy.name()),
    )?;
    Ok((model, strategy))
}

/// Load adapter folders (name, folder) saved for the base at `base_dir` (`base` is its model)
/// and stack them into one bank. Only strategies that can share a batch (prefix and LoRA) can;
/// any other is an error naming the folder, as is an adapter of another base.
pub fn load_bank(
    base: &BartForConditionalGeneration,
    base_dir: &Path,
    adapters: &[(String, PathBuf)],
    device: &Device,
) -> Result<AdapterBank> {
    for (name, dir) in adapters {
        let info = read_info(dir)?;
        if !info.strategy.mixes_in_batch() {
            bail!(
                "adapter {} ({name}) is a {} adapter: it changes the base's own weights, so \
                 its requests cannot share a batch with other projects (only prefix and \
                 lora adapters can); generate with it alone",
                dir.display(),
                info.strategy.name()
            );
        }
    }
    let models = load_named(base, base_dir, adapters, device)?;
    let refs: Vec<(String, &BartForConditionalGeneration)> = adapters
        .iter()
        .zip(&models)
        .map(|((name, _), model)| (name.clone(), model))
        .collect();
    AdapterBank::new(&refs)
}

/// Each named adapter folder loaded onto the base at `base_dir` (`base` is its model), in order;
/// an error names the adapter that failed.
pub fn load_named(
    base: &BartForConditionalGeneration,
    base_dir: &Path,
    adapters: &[(String, PathBuf)],
    device: &Device,
) -> Result<Vec<BartForConditionalGeneration>> {
    adapters
        .iter()
        .map(|(name, dir)| {
            load_adapter(base.clone(), base_dir, dir, device)
                .map(|(model, _)| model)
                .with_context(|| format!("loading adapter {} ({name})", dir.display()))
        })
        .collect()
}

fn write_json<T: Serialize>(value: &T, path: &Path) -> Result<()> {
    let text = serde_json::to_string_pretty(value)? + "\n";
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))
}

/// A model folder on the flex device with, if given, one adapter attached: what `tailor model
/// logits` inspects.
pub fn load_flex_with_adapter(
    model_dir: &Path,
    adapter: Option<&Path>,
) -> Result<BartForConditionalGeneration> {
    let device = crate::model::Backend::Flex.device(false)?;
    let model = crate::model::hf::load_dir(model_dir, &device)?;
    match adapter {
        Some(adapter) => Ok(load_adapter(model, model_dir, adapter, &device)?.0),
        None => Ok(model),
    }
}
