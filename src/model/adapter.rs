//! Adapter files: a customized model stored as a selection of its tensors, beside the base model
//! it was customized from (paper §3.6: the storage a strategy costs is its Table 1 column).
//!
//! An adapter folder holds
//! - `adapter.safetensors`: exactly the tensors the strategy trains, keyed by HF-style paths
//!   (`model.decoder.layers.11.fc1.weight`, `model.encoder.layers.0.self_attn.prefix.key`,
//!   `model.encoder.layers.0.self_attn.q_proj.lora_A.weight`), `Linear` weights in PyTorch's
//!   `[d_out, d_in]` layout as in [`super::hf`];
//! - `adapter.json`: the strategy with its settings, the base folder and its content hash,
//!   tensor and parameter counts, the tailor version;
//! - for `lora` also PEFT's layout (`adapter_config.json` + `adapter_model.safetensors`, keys
//!   `base_model.model.<module>.lora_A.weight`), so `peft.PeftModel.from_pretrained` loads it
//!   onto the HF export of the base (`pipelines/python/check_peft.py`).
//!
//! This module is the tensor side: file names, keys, the base's content hash, and writing or
//! loading the tensors a predicate selects. Which tensors (a strategy's trainable ones) and what
//! `adapter.json` says are the strategies' business (`crate::strategy::adapter`); the model
//! knows nothing of them. Loading overwrites the selected tensors of a model whose modules are
//! already attached, so base + adapter computes the fine-tuned model's logits bit for bit.

use std::collections::{BTreeMap, HashMap};
use std::io::{BufReader, Read};
use std::path::Path;

use anyhow::{Context, Result, bail};
use burn::module::{Module, ModuleMapper, ModuleVisitor, Param};
use burn::prelude::*;
use safetensors::{Dtype, tensor::TensorView};
use xxhash_rust::xxh3::Xxh3;

use super::bart::BartForConditionalGeneration;
use super::hf::{CONFIG_FILE, WEIGHTS_FILE, read_tensors};
use super::lora::is_lora;
use super::params::{PathStack, hf_key};

pub const ADAPTER_WEIGHTS: &str = "adapter.safetensors";
pub const ADAPTER_INFO: &str = "adapter.json";
/// PEFT's file names (`peft.utils.constants`).
pub const PEFT_CONFIG: &str = "adapter_config.json";
pub const PEFT_WEIGHTS: &str = "adapter_model.safetensors";
/// PEFT prefixes state-dict keys with its wrappers (`PeftModel.base_model` → `LoraModel.model`).
pub const PEFT_KEY_PREFIX: &str = "base_model.model.";

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

/// Tensors selected from a model, keyed by adapter key: `key → (shape, little-endian f32
/// bytes)`, in `Linear` weights' PyTorch layout.
#[derive(Debug, Clone, Default)]
pub struct AdapterTensors {
    tensors: BTreeMap<String, (Vec<usize>, Vec<u8>)>,
    parameters: usize,
}

impl AdapterTensors {
    /// The float parameters of `model` whose burn path `select` accepts.
    pub fn select(model: &BartForConditionalGeneration, select: impl Fn(&str) -> bool) -> Self {
        let mut collector = Collector {
            stack: PathStack::default(),
            select,
            tensors: Self::default(),
        };
        model.visit(&mut collector);
        collector.tensors
    }

    /// Tensors selected.
    pub fn len(&self) -> usize {
        self.tensors.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tensors.is_empty()
    }

    /// Parameters in the selected tensors.
    pub fn parameters(&self) -> usize {
        self.parameters
    }

    /// Write them as safetensors with `{"format": "pt"}`, every key behind `key_prefix` (empty,
    /// or [`PEFT_KEY_PREFIX`] for PEFT's layout).
    pub fn write(&self, path: &Path, key_prefix: &str) -> Result<()> {
        write_safetensors(&self.tensors, key_prefix, path)
    }
}

/// Overwrite every float parameter of `model` that `select` accepts with its tensor in the
/// safetensors file `weights` (written by [`AdapterTensors::write`] without a key prefix).
/// Missing, unknown and mis-shaped keys are one error naming each key and `what` the selection
/// is (e.g. `strategy l-ldb`).
pub fn load_tensors(
    model: BartForConditionalGeneration,
    weights: &Path,
    select: impl Fn(&str) -> bool,
    what: &str,
) -> Result<BartForConditionalGeneration> {
    let mut tensors = read_tensors(weights)?;
    let mut loader = Loader {
        stack: PathStack::default(),
        select,
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
            "{} does not match {what} on this base:\n  {}",
            weights.display(),
            errors.join("\n  ")
        );
    }
    Ok(model)
}

/// f32 tensors `key → (shape, little-endian bytes)` as safetensors with `{"format": "pt"}`,
/// each key behind `key_prefix`.
fn write_safetensors(
    tensors: &BTreeMap<String, (Vec<usize>, Vec<u8>)>,
    key_prefix: &str,
    path: &Path,
) -> Result<()> {
    let views: Vec<(String, TensorView<'_>)> = tensors
        .iter()
        .map(|(key, (shape, bytes))| {
            TensorView::new(Dtype::F32, shape.clone(), bytes)
                .map(|view| (format!("{key_prefix}{key}"), view))
                .with_context(|| format!("tensor {key}"))
        })
        .collect::<Result<_>>()?;
    let metadata = HashMap::from([("format".to_string(), "pt".to_string())]);
    safetensors::serialize_to_file(views, Some(metadata), path)
        .with_context(|| format!("writing adapter weights {}", path.display()))
}

struct Collector<F> {
    stack: PathStack,
    select: F,
    tensors: AdapterTensors,
}

impl<F: Fn(&str) -> bool> ModuleVisitor for Collector<F> {
    fn enter_module(&mut self, name: &str, container_type: &str) {
        self.stack.enter(name, container_type);
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.stack.exit();
    }

    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let (path, owner) = self.stack.describe();
        if !(self.select)(&path) {
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
        self.tensors.parameters += values.len();
        let bytes = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.tensors
            .tensors
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
