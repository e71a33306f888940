//! Parameter names, groups and counts.
//!
//! Every parameter of [`BartForConditionalGeneration`] has a path built from the module's field
//! names, which are HF's (`model.decoder.layers.11.fc1.weight`). A [`ParamGroup`] names the units
//! the paper's customization strategies train (§3.2, Table 1): token embeddings, positions, each
//! encoder/decoder block, prefixes. Counting walks the module without materialising it (burn
//! parameters are lazy), so `tailor model info --preset large` costs nothing.

use std::collections::BTreeMap;
use std::fmt;

use burn::module::{Module, ModuleVisitor, Param, ParamId};
use burn::prelude::*;

use super::attention::AttentionPrefix;
use super::bart::BartForConditionalGeneration;
use super::config::BartConfig;

/// One float parameter of a module: where it is, what it is, its shape.
#[derive(Debug, Clone)]
pub struct NamedParam {
    /// burn path (field names joined with dots).
    pub path: String,
    /// The HF state-dict key (`gamma`/`beta` of a LayerNorm become `weight`/`bias`), or `None`
    /// for parameters HF BART does not have (prefixes).
    pub hf_key: Option<String>,
    /// The module type that owns it (`Linear`, `LayerNorm`, `Embedding`, …).
    pub owner: String,
    pub shape: Vec<usize>,
    pub id: ParamId,
}

impl NamedParam {
    pub fn numel(&self) -> usize {
        self.shape.iter().product()
    }

    /// burn stores a `Linear` weight as `[d_in, d_out]`, PyTorch as `[d_out, d_in]`.
    pub fn is_transposed_in_hf(&self) -> bool {
        self.owner == "Linear" && self.path.ends_with(".weight")
    }
}

/// Tracks the module path during a traversal (shared by the visitor here and the loader in
/// `hf`).
#[derive(Debug, Default)]
pub(crate) struct PathStack {
    names: Vec<String>,
    containers: Vec<String>,
}

impl PathStack {
    pub fn enter(&mut self, name: &str, container_type: &str) {
        self.names.push(name.to_string());
        self.containers.push(container_type.to_string());
    }

    pub fn exit(&mut self) {
        self.names.pop();
        self.containers.pop();
    }

    /// The path of the current parameter and the struct that owns it: burn's derive enters
    /// each field with its struct as container (`enter_module("weight", "Struct:Linear")`).
    pub fn describe(&self) -> (String, String) {
        let path = self.names.join(".");
        let owner = self
            .containers
            .iter()
            .rev()
            .find_map(|c| c.strip_prefix("Struct:"))
            .unwrap_or_default()
            .to_string();
        (path, owner)
    }
}

/// The HF key of a burn path, given the module type owning the parameter.
pub(crate) fn hf_key(path: &str, owner: &str) -> Option<String> {
    // Prefixes and LoRA factors are customizations, stored in adapters, never in a HF checkpoint.
    if path
        .split('.')
        .any(|part| part == "prefix" || part == "lora" || part == "prefix_mlp")
    {
        return None;
    }
    if owner == "LayerNorm" {
        if let Some(stem) = path.strip_suffix(".gamma") {
            return Some(format!("{stem}.weight"));
        }
        if let Some(stem) = path.strip_suffix(".beta") {
            return Some(format!("{stem}.bias"));
        }
    }
    Some(path.to_string())
}

struct Collector {
    stack: PathStack,
    params: Vec<NamedParam>,
}

impl ModuleVisitor for Collector {
    fn enter_module(&mut self, name: &str, container_type: &str) {
        self.stack.enter(name, container_type);
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.stack.exit();
    }

    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let (path, owner) = self.stack.describe();
        self.params.push(NamedParam {
            hf_key: hf_key(&path, &owner),
            path,
            owner,
            shape: param.lazy_shape().dims::<D>().to_vec(),
            id: param.id,
        });
    }
}

/// Every float parameter of a module, in traversal order, without initialising any.
pub fn named_params<M: Module>(module: &M) -> Vec<NamedParam> {
    let mut collector = Collector {
        stack: PathStack::default(),
        params: Vec::new(),
    };
    module.visit(&mut collector);
    collector.params
}

/// The units the customization strategies select (paper §3.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ParamGroup {
    /// `model.shared`: the token embedding, also the (tied) output layer.
    TokenEmbeddings,
    /// Learned positions of encoder and decoder.
    Positions,
    /// `layernorm_embedding` of encoder and decoder.
    EmbeddingNorms,
    EncoderBlock(usize),
    DecoderBlock(usize),
    /// `final_logits_bias`: a buffer in HF, never trained.
    LogitsBias,
    /// Prefix-tuning keys/values (not part of a HF checkpoint).
    Prefix,
    /// LoRA factors (not part of a HF checkpoint).
    Lora,
}

impl fmt::Display for ParamGroup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParamGroup::TokenEmbeddings => write!(f, "token embeddings (= tied output layer)"),
            ParamGroup::Positions => write!(f, "position embeddings"),
            ParamGroup::EmbeddingNorms => write!(f, "embedding layer norms"),
            ParamGroup::EncoderBlock(i) => write!(f, "encoder block {i}"),
            ParamGroup::DecoderBlock(i) => write!(f, "decoder block {i}"),
            ParamGroup::LogitsBias => write!(f, "final_logits_bias (buffer)"),
            ParamGroup::Prefix => write!(f, "prefixes"),
            ParamGroup::Lora => write!(f, "LoRA adapters"),
        }
    }
}

impl ParamGroup {
    /// The group a parameter path belongs to.
    pub fn of(path: &str) -> Option<ParamGroup> {
        let parts: Vec<&str> = path.split('.').collect();
        if parts.contains(&"prefix") || parts.first() == Some(&"prefix_mlp") {
            return Some(ParamGroup::Prefix);
        }
        if parts.contains(&"lora") {
            return Some(ParamGroup::Lora);
        }
        match parts.as_slice() {
            ["final_logits_bias", ..] => Some(ParamGroup::LogitsBias),
            ["model", "shared", ..] => Some(ParamGroup::TokenEmbeddings),
            ["model", _, "embed_positions", ..] => Some(ParamGroup::Positions),
            ["model", _, "layernorm_embedding", ..] => Some(ParamGroup::EmbeddingNorms),
            ["model", "encoder", "layers", i, ..] => i.parse().ok().map(ParamGroup::EncoderBlock),
            ["model", "decoder", "layers", i, ..] => i.parse().ok().map(ParamGroup::DecoderBlock),
            _ => None,
        }
    }
}

/// Parameter counts of a model, per group.
#[derive(Debug, Clone, Default)]
pub struct ParamCounts {
    pub groups: BTreeMap<ParamGroup, usize>,
}

impl ParamCounts {
    pub fn of(model: &BartForConditionalGeneration) -> Self {
        let mut groups = BTreeMap::new();
        for param in named_params(model) {
            let group = ParamGroup::of(&param.path)
                .unwrap_or_else(|| panic!("parameter {} belongs to no group", param.path));
            *groups.entry(group).or_insert(0) += param.numel();
        }
        Self { groups }
    }

    pub fn get(&self, group: ParamGroup) -> usize {
        self.groups.get(&group).copied().unwrap_or(0)
    }

    /// Parameters as HF counts them (`model.num_parameters()`): everything but the
    /// `final_logits_bias` buffer.
    pub fn total(&self) -> usize {
        self.groups
            .iter()
            .filter(|(g, _)| **g != ParamGroup::LogitsBias)
            .map(|(_, n)| n)
            .sum()
    }

    pub fn sum(&self, select: impl Fn(ParamGroup) -> bool) -> usize {
        self.groups
            .iter()
            .filter(|(g, _)| select(**g))
            .map(|(_, n)| n)
            .sum()
    }
}

/// One row of the paper's Table 1.
#[derive(Debug, Clone, PartialEq)]
pub struct Table1Row {
    pub process: &'static str,
    pub total: usize,
    pub trained: usize,
}

/// The paper's Table 1 for a configuration: Custom trains everything, L-EO the embeddings and
/// (tied) output layer, L-LDB the last decoder block, Prefix `prefix_len` key/value vectors per
/// encoder and decoder self-attention (added parameters).
pub fn table1(config: &BartConfig, prefix_len: usize) -> Vec<Table1Row> {
    let device = Device::default();
    let model = BartForConditionalGeneration::new(config, &device);
    let counts = ParamCounts::of(&model);
    let prefixed = ParamCounts::of(&with_prefixes(model, prefix_len, false, &device));
    let total = counts.total();
    let last = config.decoder_layers.saturating_sub(1);
    vec![
        Table1Row {
            process: "Custom",
            total,
            trained: total,
        },
        Table1Row {
            process: "L-EO",
            total,
            trained: counts
                .sum(|g| matches!(g, ParamGroup::TokenEmbeddings | ParamGroup::Positions)),
        },
        Table1Row {
            process: "L-LDB",
            total,
            trained: counts.get(ParamGroup::DecoderBlock(last)),
        },
        Table1Row {
            process: "Prefix",
            total: prefixed.total(),
            trained: prefixed.get(ParamGroup::Prefix),
        },
    ]
}

/// Attach fresh (lazily drawn, N(0, init_std)) key/value prefixes of `len` positions to every
/// encoder and decoder self-attention, and to the decoder cross-attention if `cross`.
pub fn with_prefixes(
    mut model: BartForConditionalGeneration,
    len: usize,
    cross: bool,
    device: &Device,
) -> BartForConditionalGeneration {
    let d = model.config.d_model;
    let std = model.config.init_std;
    let prefix = || AttentionPrefix::random(len, d, std, device);
    for layer in &mut model.model.encoder.layers {
        layer.self_attn.prefix = Some(prefix());
    }
    for layer in &mut model.model.decoder.layers {
        layer.self_attn.prefix = Some(prefix());
        if cross {
            layer.encoder_attn.prefix = Some(prefix());
        }
    }
    model
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::config::Preset;

    #[test]
    fn large_preset_reproduces_table_1() {
        let rows = table1(&BartConfig::preset(Preset::Large), 200);
        let [custom, leo, lldb, prefix] = rows.as_slice() else {
            panic!("four rows")
        };
        // HF's `BartForConditionalGeneration.from_pretrained("facebook/bart-large").num_parameters()`.
        assert_eq!(custom.total, 406_291_456);
        assert_eq!(custom.trained, custom.total);
        // Paper: 53M (13%): shared embedding (= output layer) plus positions.
        assert_eq!(leo.trained, 50265 * 1024 + 2 * 1026 * 1024);
        assert_eq!(leo.trained / 1_000_000, 53);
        // Paper: 17M (4.2%).
        assert_eq!(lldb.trained, 16_796_672);
        // Paper: 10M (2.4%) added, 416M total: 1024 × 200 × 24 × 2.
        assert_eq!(prefix.trained, 1024 * 200 * 24 * 2);
        assert_eq!(prefix.total, custom.total + prefix.trained);
        assert_eq!(prefix.total / 1_000_000, 416);
    }

    #[test]
    fn paths_are_hf_keys() {
        let config = BartConfig::preset(Preset::Tiny);
        let model = BartForConditionalGeneration::new(&config, &Device::default());
        let params = named_params(&model);
        let keys: Vec<String> = params.iter().filter_map(|p| p.hf_key.clone()).collect();
        for key in [
            "model.shared.weight",
            "model.encoder.embed_positions.weight",
            "model.encoder.layernorm_embedding.weight",
            "model.encoder.layers.1.self_attn.k_proj.weight",
            "model.decoder.layers.0.encoder_attn_layer_norm.bias",
            "model.decoder.layers.1.fc2.bias",
            "final_logits_bias",
        ] {
            assert!(keys.iter().any(|k| k == key), "{key} missing from {keys:?}");
        }
        // shared, 2 position tables, 2 layernorm_embedding × 2, final_logits_bias = 8, plus 16
        // per encoder layer and 26 per decoder layer: 92, as in the HF fixture.
        assert_eq!(keys.len(), 8 + 16 * 2 + 26 * 2);
        let q = params
            .iter()
            .find(|p| p.path == "model.encoder.layers.0.self_attn.q_proj.weight")
            .unwrap();
        assert!(q.is_transposed_in_hf());
        assert_eq!(ParamGroup::of(&q.path), Some(ParamGroup::EncoderBlock(0)));
    }

    #[test]
    fn every_parameter_has_a_group_and_counts_add_up() {
        let config = BartConfig::preset(Preset::Small);
        let model = BartForConditionalGeneration::new(&config, &Device::default());
        let counts = ParamCounts::of(&model);
        let sum: usize = counts.groups.values().sum();
        assert_eq!(sum, model.num_params());
        assert!(
            (10_000_000..20_000_000).contains(&counts.total()),
            "{}",
            counts.total()
        );
    }
}
