//! HuggingFace checkpoints in and out: `config.json` + `model.safetensors` as written by
//! `BartForConditionalGeneration.save_pretrained(..., safe_serialization=True)`.
//!
//! Module paths are HF keys already (see [`super::params`]); the only translations are burn's
//! `Linear` weight layout (`[d_in, d_out]`, PyTorch's transpose) and `LayerNorm`'s
//! `gamma`/`beta` (HF `weight`/`bias`). The tied token embedding is stored once, as
//! `model.shared.weight`, the way `transformers` writes it; on load its aliases
//! (`model.{encoder,decoder}.embed_tokens.weight`, `lm_head.weight`) are accepted in its place
//! and, when present beside it, must equal it. Prefix parameters are not HF's and are never
//! written here (adapters are stored separately).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;

use anyhow::{Context, Result, bail};
use burn::module::{Module, ModuleMapper, ModuleVisitor, Param};
use burn::prelude::*;
use burn::tensor::DType;
use safetensors::{Dtype, SafeTensors, tensor::TensorView};

use super::bart::BartForConditionalGeneration;
use super::config::BartConfig;
use super::params::{PathStack, hf_key};

pub const CONFIG_FILE: &str = "config.json";
pub const WEIGHTS_FILE: &str = "model.safetensors";
const SHARED: &str = "model.shared.weight";
/// Keys HF ties to `model.shared.weight` and may or may not write.
pub const TIED_ALIASES: [&str; 3] = [
    "model.encoder.embed_tokens.weight",
    "model.decoder.embed_tokens.weight",
    "lm_head.weight",
];

/// Load a model directory (`config.json` + `model.safetensors`) onto `device`.
pub fn load_dir(dir: &Path, device: &Device) -> Result<BartForConditionalGeneration> {
    let config = BartConfig::load(&dir.join(CONFIG_FILE))?;
    let model = BartForConditionalGeneration::new(&config, device);
    load_weights(model, &dir.join(WEIGHTS_FILE))
}

/// Save `config.json` + `model.safetensors` into `dir` (created if needed).
pub fn save_dir(model: &BartForConditionalGeneration, dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("creating model folder {}", dir.display()))?;
    model.config.save(&dir.join(CONFIG_FILE))?;
    save_weights(model, &dir.join(WEIGHTS_FILE))
}

/// Replace every HF parameter of `model` with the tensor of the same key in a safetensors file.
/// Missing keys, unknown keys and shape mismatches are errors naming each key.
pub fn load_weights(
    model: BartForConditionalGeneration,
    path: &Path,
) -> Result<BartForConditionalGeneration> {
    let bytes =
        std::fs::read(path).with_context(|| format!("reading weights {}", path.display()))?;
    let file = SafeTensors::deserialize(&bytes)
        .with_context(|| format!("parsing safetensors {}", path.display()))?;
    let mut loader = Loader {
        stack: PathStack::default(),
        file: &file,
        used: HashSet::new(),
        errors: Vec::new(),
    };
    let model = model.map(&mut loader);
    let mut errors = loader.errors;
    let used = loader.used;
    let mut names: Vec<&str> = file.names();
    names.sort_unstable();
    for name in names {
        if used.contains(name) {
            continue;
        }
        if TIED_ALIASES.contains(&name) {
            if let Err(err) = check_tied(&file, name) {
                errors.push(err);
            }
        } else {
            errors.push(format!("unknown key {name} (not a parameter of our BART)"));
        }
    }
    if !errors.is_empty() {
        bail!(
            "{} does not match the model of its config:\n  {}",
            path.display(),
            errors.join("\n  ")
        );
    }
    Ok(model)
}

/// An alias of the tied embedding must hold the same values (an untied head is not BART).
fn check_tied(file: &SafeTensors, alias: &str) -> std::result::Result<(), String> {
    let (Ok(alias_view), Ok(shared)) = (file.tensor(alias), file.tensor(SHARED)) else {
        return Ok(()); // the alias stood in for a missing `model.shared.weight`
    };
    if alias_view.shape() != shared.shape() || alias_view.data() != shared.data() {
        return Err(format!(
            "{alias} differs from {SHARED}: untied output/input embeddings are not supported"
        ));
    }
    Ok(())
}

struct Loader<'a> {
    stack: PathStack,
    file: &'a SafeTensors<'a>,
    used: HashSet<String>,
    errors: Vec<String>,
}

impl Loader<'_> {
    /// The file's key for a parameter's HF key (the shared embedding may be under an alias).
    fn find(&self, key: &str) -> Option<(String, TensorView<'_>)> {
        let candidates: Vec<&str> = if key == SHARED {
            std::iter::once(SHARED).chain(TIED_ALIASES).collect()
        } else {
            vec![key]
        };
        candidates
            .into_iter()
            .find_map(|k| self.file.tensor(k).ok().map(|view| (k.to_string(), view)))
    }
}

impl ModuleMapper for Loader<'_> {
    fn enter_module(&mut self, name: &str, container_type: &str) {
        self.stack.enter(name, container_type);
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.stack.exit();
    }

    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let (path, owner) = self.stack.describe();
        let Some(key) = hf_key(&path, &owner) else {
            return param; // prefix: not part of a HF checkpoint
        };
        let Some((file_key, view)) = self.find(&key) else {
            self.errors.push(format!("missing key {key}"));
            return param;
        };
        let transposed = owner == "Linear" && path.ends_with(".weight");
        let ours: Vec<usize> = param.lazy_shape().dims::<D>().to_vec();
        let mut expected = ours.clone();
        if transposed {
            expected.reverse();
        }
        if view.shape() != expected.as_slice() {
            self.errors.push(format!(
                "shape mismatch for {file_key}: file has {:?}, the config implies {expected:?}",
                view.shape()
            ));
            return param;
        }
        let values = match to_f32(&view) {
            Ok(values) => values,
            Err(err) => {
                self.errors.push(format!("{file_key}: {err}"));
                return param;
            }
        };
        self.used.insert(file_key);
        let device = param.lazy_device();
        let tensor = Tensor::<D>::from_data(TensorData::new(values, expected), &device);
        let tensor = if transposed {
            tensor.transpose()
        } else {
            tensor
        };
        let id = param.id;
        param.transform_for_load(tensor, id)
    }
}

/// A float tensor's values as f32 (HF checkpoints come in f32, f16 or bf16).
fn to_f32(view: &TensorView<'_>) -> Result<Vec<f32>> {
    let dtype = match view.dtype() {
        Dtype::F32 => {
            return Ok(view
                .data()
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect());
        }
        Dtype::F16 => DType::F16,
        Dtype::BF16 => DType::BF16,
        other => bail!("dtype {other:?} is not a float type we load"),
    };
    let data = TensorData::from_bytes_vec(view.data().to_vec(), view.shape().to_vec(), dtype);
    data.convert::<f32>()
        .try_into_vec::<f32>()
        .map_err(|e| anyhow::anyhow!("converting to f32: {e:?}"))
}

/// Write the model's HF parameters as f32 safetensors with `{"format": "pt"}` metadata, as
/// `save_pretrained` does.
pub fn save_weights(model: &BartForConditionalGeneration, path: &Path) -> Result<()> {
    let mut exporter = Exporter {
        stack: PathStack::default(),
        tensors: BTreeMap::new(),
    };
    model.visit(&mut exporter);
    let views: Vec<(String, TensorView<'_>)> = exporter
        .tensors
        .iter()
        .map(|(key, (shape, bytes))| {
            TensorView::new(Dtype::F32, shape.clone(), bytes)
                .map(|view| (key.clone(), view))
                .with_context(|| format!("tensor {key}"))
        })
        .collect::<Result<_>>()?;
    let metadata = HashMap::from([("format".to_string(), "pt".to_string())]);
    safetensors::serialize_to_file(views, Some(metadata), path)
        .with_context(|| format!("writing weights {}", path.display()))
}

struct Exporter {
    stack: PathStack,
    tensors: BTreeMap<String, (Vec<usize>, Vec<u8>)>,
}

impl ModuleVisitor for Exporter {
    fn enter_module(&mut self, name: &str, container_type: &str) {
        self.stack.enter(name, container_type);
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.stack.exit();
    }

    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let (path, owner) = self.stack.describe();
        let Some(key) = hf_key(&path, &owner) else {
            return;
        };
        let tensor = param.val();
        let tensor = if owner == "Linear" && path.ends_with(".weight") {
            tensor.transpose()
        } else {
            tensor
        };
        let data = tensor.into_data().convert::<f32>();
        let shape = data.shape().to_vec();
        let values = data.try_into_vec::<f32>().expect("converted to f32");
        let bytes = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.tensors.insert(key, (shape, bytes));
    }
}

/// All tensors of a safetensors file as burn `TensorData` (f32, f16/bf16 → f32, i64, i32),
/// for fixtures and tools.
pub fn read_tensors(path: &Path) -> Result<BTreeMap<String, TensorData>> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let file = SafeTensors::deserialize(&bytes)
        .with_context(|| format!("parsing safetensors {}", path.display()))?;
    let mut out = BTreeMap::new();
    for (name, view) in file.tensors() {
        let shape = view.shape().to_vec();
        let data = match view.dtype() {
            Dtype::I64 => TensorData::new(
                view.data()
                    .chunks_exact(8)
                    .map(|b| i64::from_le_bytes(b.try_into().expect("8 bytes")))
                    .collect::<Vec<i64>>(),
                shape,
            ),
            Dtype::I32 => TensorData::new(
                view.data()
                    .chunks_exact(4)
                    .map(|b| i32::from_le_bytes(b.try_into().expect("4 bytes")) as i64)
                    .collect::<Vec<i64>>(),
                shape,
            ),
            _ => TensorData::new(
                to_f32(&view).with_context(|| format!("{name} in {}", path.display()))?,
                shape,
            ),
        };
        out.insert(name, data);
    }
    Ok(out)
}
