//! Adapters: a customized model stored as its trainable tensors only, beside the base model it
//! was customized from (paper §3.6: the storage a strategy costs is its Table 1 column).
//!
//! An adapter folder holds
//! - `adapter.safetensors`: exactly the tensors the strategy trains, keyed by HF-style paths
//!   (`model.decoder.layers.11.fc1.weight`, `model.encoder.layers.0.self_attn.prefix.key`,
//!   `model.encoder.layers.0.self_attn.q_proj.lora_A.weight`), `Linear` weights in PyTorch's
//!   `[d_out, d_in]` layout as in [`super::hf`];
//! - `adapter.json` ([`AdapterInfo`]): the strategy with its settings, the base folder and its
//!   content hash, tensor and parameter counts, the tailor version;
//! - for `lora` also PEFT's layout (`adapter_config.json` + `adapter_model.safetensors`, keys
//!   `base_model.model.<module>.lora_A.weight`), so `peft.PeftModel.from_pretrained` loads it
//!   onto the HF export of the base (`pipelines/python/check_peft.py`).
//!
//! Loading attaches the strategy's modules to the base and overwrites the stored tensors, so
//! base + adapter computes the fine-tuned model's logits bit for bit. An adapter refuses a base
//! whose `config.json` + `model.safetensors` differ from the one it was trained on.

use std::collections::{BTreeMap, HashMap};
use std::io::{BufReader, Read};
use std::path::Path;

use anyhow::{Context, Result, bail};
use burn::module::{Module, ModuleMapper, ModuleVisitor, Param};
use burn::prelude::*;
use safetensors::{Dtype, tensor::TensorView};
use serde::{Deserialize, Serialize};
use xxhash_rust::xxh3::Xxh3;

use super::bart::BartForConditionalGeneration;
use super::hf::{CONFIG_FILE, WEIGHTS_FILE, read_tensors};
use super::params::{PathStack, hf_key};
use crate::train::strategy::{Strategy, StrategyKind, is_lora};

pub const ADAPTER_WEIGHTS: &str = "adapter.safetensors";
pub const ADAPTER_INFO: &str = "adapter.json";
/// PEFT's file names (`peft.utils.constants`).
pub const PEFT_CONFIG: &str = "adapter_config.json";
pub const PEFT_WEIGHTS: &str = "adapter_model.safetensors";
/// PEFT prefixes state-dict keys with its wrappers (`PeftModel.base_model` → `LoraModel.model`).
pub const PEFT_KEY_PREFIX: &str = "base_model.model.";

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

/// The content hash of a model folder: xxh3-64 (hex) of `config.json` then `model.safetensors`
/// (each preceded by its length), so a renamed or copied base still matches and a retrained
/// one does not.
pub fn base_hash(base_dir: &Path) -> Result<String> {
    let mut hasher = Xxh3::new();
    for name in [CONFIG_FILE, WEIGHTS_FILE] {
        let path = base_dir.join(name);
        let file = std::fs::File::open(&path)
            .with_context(|| format!("opening base model file {}", path.display()))?;
        let len = file
            .metadata()
            .with_context(|| format!("reading {}", path.display()))?
            .len();
        hasher.update(&len.to_le_bytes());
        let mut reader = BufReader::with_capacity(1 << 20, file);
        let mut buffer = vec![0u8; 1 << 20];
        loop {
            let n = reader
                .read(&mut buffer)
                .with_context(|| format!("reading {}", path.display()))?;
            if n == 0 {
                break;
            }
            hasher.update(&buffer[..n]);
        }
    }
    Ok(format!("{:016x}", hasher.digest()))
}

/// The adapter key of a burn parameter path: HF's key for base parameters (`LayerNorm`
/// gamma/beta → weight/bias), the path itself for prefixes, and PEFT's module path for LoRA
/// (`…self_attn.lora.q_proj.lora_A.weight` → `…self_attn.q_proj.lora_A.weight`).
pub fn adapter_key(path: &str, owner: &str) -> String {
    if is_lora(path) {
        return path.replace(".lora.", ".");
    }
    hf_key(path, owner).unwrap_or_else(|| path.to_string())
}

/// burn keeps `Linear` weights `[d_in, d_out]`; PyTorch (and so HF and PEFT) `[d_out, d_in]`.
fn transposed(path: &str, owner: &str) -> bool {
    owner == "Linear" && path.ends_with(".weight")
}

/// Write `model`'s trainable tensors under `strategy` into `dir` (created if needed) as
/// `adapter.safetensors` + `adapter.json`, and for `lora` also PEFT's
/// `adapter_config.json` + `adapter_model.safetensors`. `base_dir` is the base model folder the
/// model was customized from (hashed into `adapter.json`).
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
        materialized = super::prefix_mlp::materialize(model.clone());
        &materialized
    } else {
        model
    };
    let stored = strategy.materialized();
    let mut collector = Collector {
        stack: PathStack::default(),
        strategy: &stored,
        config: &model.config,
        tensors: BTreeMap::new(),
        parameters: 0,
    };
    model.visit(&mut collector);
    let Collector {
        tensors,
        parameters,
        ..
    } = collector;
    if tensors.is_empty() {
        bail!(
            "the model has no parameters that strategy {} trains; was it attached?",
            strategy.name()
        );
    }
    let weights = dir.join(ADAPTER_WEIGHTS);
    write_safetensors(&tensors, &weights)?;
    if strategy.kind == StrategyKind::Lora {
        let peft: BTreeMap<String, (Vec<usize>, Vec<u8>)> = tensors
            .iter()
            .map(|(key, value)| (format!("{PEFT_KEY_PREFIX}{key}"), value.clone()))
            .collect();
        write_safetensors(&peft, &dir.join(PEFT_WEIGHTS))?;
        write_json(&peft_config(strategy, base_dir), &dir.join(PEFT_CONFIG))?;
    }
    let info = AdapterInfo {
        strategy: strategy.clone(),
        base_model: base_dir.display().to_string(),
        base_hash: base_hash(base_dir)?,
        tensors: tensors.len(),
        parameters,
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
    let weights = dir.join(ADAPTER_WEIGHTS);
    let mut tensors = read_tensors(&weights)?;
    // What was stored: a reparameterised prefix as plain prefixes.
    let stored = strategy.materialized();
    let model = stored.attach(base, device);
    let config = model.config.clone();
    let mut loader = Loader {
        stack: PathStack::default(),
        select: |path: &str| stored.trains(path, &config),
        tensors: &mut tensors,
        errors: Vec::new(),
    };
    let model = model.map(&mut loader);
    let mut errors = loader.errors;
    errors.extend(
        tensors
            .keys()
            .map(|key| format!("unknown key {key} (not a trainable parameter of the strategy)")),
    );
    if !errors.is_empty() {
        bail!(
            "{} does not match strategy {} on this base:\n  {}",
            weights.display(),
            strategy.name(),
            errors.join("\n  ")
        );
    }
    Ok((model, strategy))
}

/// PEFT's `LoraConfig` as `save_pretrained` writes it (fields PEFT needs to rebuild the
/// adapter; the rest at PEFT's defaults).
fn peft_config(strategy: &Strategy, base_dir: &Path) -> serde_json::Value {
    let lora = &strategy.lora;
    serde_json::json!({
        "peft_type": "LORA",
        "task_type": "SEQ_2_SEQ_LM",
        "base_model_name_or_path": base_dir.display().to_string(),
        "revision": null,
        "r": lora.rank,
        "lora_alpha": lora.alpha,
        "lora_dropout": lora.dropout,
        "target_modules": lora.targets,
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
    })
}

fn write_json<T: Serialize>(value: &T, path: &Path) -> Result<()> {
    let text = serde_json::to_string_pretty(value)? + "\n";
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))
}

/// f32 tensors `key → (shape, little-endian bytes)` as safetensors with `{"format": "pt"}`.
fn write_safetensors(tensors: &BTreeMap<String, (Vec<usize>, Vec<u8>)>, path: &Path) -> Result<()> {
    let views: Vec<(String, TensorView<'_>)> = tensors
        .iter()
        .map(|(key, (shape, bytes))| {
            TensorView::new(Dtype::F32, shape.clone(), bytes)
                .map(|view| (key.clone(), view))
                .with_context(|| format!("tensor {key}"))
        })
        .collect::<Result<_>>()?;
    let metadata = HashMap::from([("format".to_string(), "pt".to_string())]);
    safetensors::serialize_to_file(views, Some(metadata), path)
        .with_context(|| format!("writing adapter weights {}", path.display()))
}

struct Collector<'a> {
    stack: PathStack,
    strategy: &'a Strategy,
    config: &'a super::BartConfig,
    tensors: BTreeMap<String, (Vec<usize>, Vec<u8>)>,
    parameters: usize,
}

impl ModuleVisitor for Collector<'_> {
    fn enter_module(&mut self, name: &str, container_type: &str) {
        self.stack.enter(name, container_type);
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.stack.exit();
    }

    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let (path, owner) = self.stack.describe();
        if !self.strategy.trains(&path, self.config) {
            return;
        }
        let tensor = param.val();
        let tensor = if transposed(&path, &owner) {
            tensor.transpose()
        } else {
            tensor
        };
        let data = tensor.into_data().convert::<f32>();
        let shape = data.shape().to_vec();
        let values = data.try_into_vec::<f32>().expect("converted to f32");
        self.parameters += values.len();
        let bytes = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.tensors
            .insert(adapter_key(&path, &owner), (shape, bytes));
    }
}

struct Loader<'a, F> {
    stack: PathStack,
    select: F,
    tensors: &'a mut BTreeMap<String, TensorData>,
    errors: Vec<String>,
}

impl<F: Fn(&str) -> bool> ModuleMapper for Loader<'_, F> {
    fn enter_module(&mut self, name: &str, container_type: &str) {
        self.stack.enter(name, container_type);
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.stack.exit();
    }

    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let (path, owner) = self.stack.describe();
        if !(self.select)(&path) {
            return param;
        }
        let key = adapter_key(&path, &owner);
        let Some(data) = self.tensors.remove(&key) else {
            self.errors.push(format!("missing key {key}"));
            return param;
        };
        let transposed = transposed(&path, &owner);
        let mut expected: Vec<usize> = param.lazy_shape().dims::<D>().to_vec();
        if transposed {
            expected.reverse();
        }
        if data.shape().as_slice() != expected.as_slice() {
            self.errors.push(format!(
                "shape mismatch for {key}: file has {:?}, the model needs {expected:?}",
                data.shape()
            ));
            return param;
        }
        let device = param.lazy_device();
        let tensor = Tensor::<D>::from_data(data, &device);
        let tensor = if transposed {
            tensor.transpose()
        } else {
            tensor
        };
        let id = param.id;
        param.transform_for_load(tensor, id)
    }
}
