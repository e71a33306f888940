//! One base, many projects: prefix and LoRA adapters supplied per batch row, so that one batch
//! can mix requests of several customized projects (paper §3.5 notes this for prefixes; it holds
//! for LoRA too because its update is a per-row matrix product).
//!
//! An [`AdapterBank`] stacks the adapters of several projects trained on one base: for every
//! attention, the prefixes `[adapters, len, d_model]` (shorter ones padded and masked) and the
//! LoRA factors `[adapters, d_in, rank]` / `[adapters, rank, d_out]` (lower ranks padded with
//! zeros, which add exact zeros). [`AdapterBank::bind`] then gives the base model a
//! [`RowAdapter`] per attention holding the rows' own tensors (a `select` by row), and the
//! attention uses them instead of shared ones: a row attends to its own project's prefix only
//! and gets its own project's low-rank update. Padding never changes a row's result: padded
//! prefix keys get [`MASKED`] scores (softmax weight exactly 0) and padded LoRA columns are 0.
//!
//! The same per-call tensors carry prefixes computed by the prefix MLP during training
//! (`prefix_mlp`), with one row broadcast over the batch.
//!
//! Strategies that change base weights (`custom`, `l-eo`, `l-ldb`) cannot share a batch: the
//! bank stacks only prefixes and LoRA updates, and loading a bank from adapter folders
//! (`crate::strategy::adapter::load_bank`) refuses the others, naming the adapter.

use anyhow::{Result, bail, ensure};
use burn::prelude::*;

use super::attention::{BartAttention, MASKED};
use super::bart::{BartForConditionalGeneration, interleaved};
use super::lora::Lora;

/// Prefix keys/values supplied for a call: `[rows, len, d_model]`, `rows` = 1 (broadcast over
/// the batch) or the batch size; `bias` `[rows, 1, 1, len]` masks padded positions (`None`: all
/// open). Plain tensors, not parameters: they are inputs of the call (or, in training, outputs
/// of the prefix MLP that gradients flow through).
#[derive(Module, Debug)]
pub struct RowPrefix {
    pub key: Tensor<3>,
    pub value: Tensor<3>,
    pub bias: Option<Tensor<4>>,
}

/// A LoRA update per row: `a` `[rows, d_in, rank]`, `b` `[rows, rank, d_out]`, `scaling`
/// `[rows, 1, 1]` (α / r of the row's adapter).
#[derive(Module, Debug)]
pub struct RowLora {
    pub a: Tensor<3>,
    pub b: Tensor<3>,
    pub scaling: Tensor<3>,
}

impl RowLora {
    /// `x` `[batch, len, d_in]` → the rows' updates `[batch, len, d_out]` (PEFT's order:
    /// `B(A x) · scaling`; no dropout, as at inference).
    pub fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        x.matmul(self.a.clone())
            .matmul(self.b.clone())
            .mul(self.scaling.clone())
    }
}

/// What one attention receives per call; see the module documentation.
#[derive(Module, Debug)]
pub struct RowAdapter {
    pub prefix: Option<RowPrefix>,
    pub q_proj: Option<RowLora>,
    pub k_proj: Option<RowLora>,
    pub v_proj: Option<RowLora>,
    pub out_proj: Option<RowLora>,
}

impl RowAdapter {
    /// Rows of every tensor repeated in place (`[a, b]` → `[a, a, b, b]`), as beam search
    /// expands each input into its beams. A broadcast adapter (one row) stays as it is.
    pub fn repeat_interleave(self, times: usize) -> Self {
        let first = self.prefix.as_ref().map(|p| p.key.clone()).or_else(|| {
            [&self.q_proj, &self.k_proj, &self.v_proj, &self.out_proj]
                .into_iter()
                .flatten()
                .next()
                .map(|l| l.a.clone())
        });
        match first {
            Some(t) if t.dims()[0] > 1 && times > 1 => {
                let indices = interleaved(t.dims()[0], times, &t.device());
                self.select(&indices)
            }
            _ => self,
        }
    }

    fn select(&self, rows: &Tensor<1, Int>) -> Self {
        let lora = |l: &Option<RowLora>| {
            l.as_ref().map(|l| RowLora {
                a: l.a.clone().select(0, rows.clone()),
                b: l.b.clone().select(0, rows.clone()),
                scaling: l.scaling.clone().select(0, rows.clone()),
            })
        };
        Self {
            prefix: self.prefix.as_ref().map(|p| RowPrefix {
                key: p.key.clone().select(0, rows.clone()),
                value: p.value.clone().select(0, rows.clone()),
                bias: p.bias.clone().map(|b| b.select(0, rows.clone())),
            }),
            q_proj: lora(&self.q_proj),
            k_proj: lora(&self.k_proj),
            v_proj: lora(&self.v_proj),
            out_proj: lora(&self.out_proj),
        }
    }
}

/// Adapters of several projects on one base, stacked per attention (see the module
/// documentation). Build it once per set of adapters; bind it per batch.
#[derive(Debug, Clone)]
pub struct AdapterBank {
    names: Vec<String>,
    /// One stacked [`RowAdapter`] per attention, rows = adapters, in
    /// [`BartForConditionalGeneration::attentions`] order.
    layers: Vec<RowAdapter>,
}

impl AdapterBank {
    /// Stack `adapters` (name, the base with that adapter attached, e.g. loaded from its
    /// adapter folder). Every model must be the same architecture; only their
    /// prefixes and LoRA updates are read, so the caller guarantees the base weights are shared
    /// (strategies `prefix` and `lora`).
    pub fn new(adapters: &[(String, &BartForConditionalGeneration)]) -> Result<Self> {
        ensure!(
            !adapters.is_empty(),
            "an adapter bank needs at least one adapter"
        );
        let per_model: Vec<Vec<&BartAttention>> =
            adapters.iter().map(|(_, m)| m.attentions()).collect();
        let count = per_model[0].len();
        for ((name, _), attentions) in adapters.iter().zip(&per_model) {
            if attentions.len() != count {
                bail!(
                    "adapter {name} has {} attentions, {} has {count}: not the same base",
                    attentions.len(),
                    adapters[0].0
                );
            }
        }
        let device = adapters[0].1.device();
        let layers = (0..count)
            .map(|i| {
                let column: Vec<&BartAttention> = per_model.iter().map(|a| a[i]).collect();
                stack_attention(&column, &device)
            })
            .collect();
        Ok(Self {
            names: adapters.iter().map(|(n, _)| n.clone()).collect(),
            layers,
        })
    }

    pub fn names(&self) -> &[String] {
        &self.names
    }

    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// The base with each batch row given the adapter `rows[row]` (an index into the bank).
    /// `base` must be the plain base model (no prefix or LoRA attached).
    ///
    /// # Panics
    /// On an index outside the bank (callers map names to indices through [`Self::names`]).
    pub fn bind(
        &self,
        base: &BartForConditionalGeneration,
        rows: &[usize],
    ) -> BartForConditionalGeneration {
        for &row in rows {
            assert!(
                row < self.len(),
                "adapter index {row} outside a bank of {}",
                self.len()
            );
        }
        let device = base.device();
        let indices: Vec<i64> = rows.iter().map(|&r| r as i64).collect();
        let indices = Tensor::<1, Int>::from_data(TensorData::new(indices, [rows.len()]), &device);
        let mut model = base.clone();
        for (attention, stacked) in model.attentions_mut().into_iter().zip(&self.layers) {
            let bound = stacked.select(&indices);
            let empty = bound.prefix.is_none()
                && bound.q_proj.is_none()
                && bound.k_proj.is_none()
                && bound.v_proj.is_none()
                && bound.out_proj.is_none();
            attention.per_row = (!empty).then_some(bound);
        }
        model
    }
}

/// Stack one attention's adapters (one per project).
fn stack_attention(attentions: &[&BartAttention], device: &Device) -> RowAdapter {
    let d_model = attentions[0].q_proj.weight.dims()[0];
    let prefix = stack_prefixes(attentions, d_model, device);
    let lora = |pick: fn(&BartAttention) -> Option<&Lora>| -> Option<RowLora> {
        let loras: Vec<Option<&Lora>> = attentions.iter().map(|a| pick(a)).collect();
        stack_loras(&loras, d_model, device)
    };
    RowAdapter {
        prefix,
        q_proj: lora(|a| a.lora.as_ref().and_then(|l| l.q_proj.as_ref())),
        k_proj: lora(|a| a.lora.as_ref().and_then(|l| l.k_proj.as_ref())),
        v_proj: lora(|a| a.lora.as_ref().and_then(|l| l.v_proj.as_ref())),
        out_proj: lora(|a| a.lora.as_ref().and_then(|l| l.out_proj.as_ref())),
    }
}

/// Prefixes padded to the longest with zeros and masked there; `None` when no adapter has one
/// at this attention. A project without a prefix here gets a fully masked one.
fn stack_prefixes(
    attentions: &[&BartAttention],
    d_model: usize,
    device: &Device,
) -> Option<RowPrefix> {
    let lens: Vec<usize> = attentions
        .iter()
        .map(|a| a.prefix.as_ref().map_or(0, |p| p.len()))
        .collect();
    let longest = *lens.iter().max()?;
    if longest == 0 {
        return None;
    }
    let pad = |t: Option<Tensor<2>>, len: usize| -> Tensor<3> {
        let t = match t {
            Some(t) if len == longest => t,
            Some(t) => Tensor::cat(vec![t, Tensor::zeros([longest - len, d_model], device)], 0),
            None => Tensor::zeros([longest, d_model], device),
        };
        t.unsqueeze_dim(0)
    };
    let mut keys = Vec::new();
    let mut values = Vec::new();
    for (a, &len) in attentions.iter().zip(&lens) {
        keys.push(pad(a.prefix.as_ref().map(|p| p.key.val()), len));
        values.push(pad(a.prefix.as_ref().map(|p| p.value.val()), len));
    }
    let bias = lens.iter().any(|&l| l < longest).then(|| {
        let values: Vec<f32> = lens
            .iter()
            .flat_map(|&len| (0..longest).map(move |p| if p < len { 0.0 } else { MASKED }))
            .collect();
        Tensor::from_data(TensorData::new(values, [lens.len(), 1, 1, longest]), device)
    });
    Some(RowPrefix {
        key: Tensor::cat(keys, 0),
        value: Tensor::cat(values, 0),
        bias,
    })
}

/// LoRA factors in burn's layout (`A` `[d_in, r]`, `B` `[r, d_out]`) padded to the
/// highest rank with zeros; a project without LoRA here gets zero factors.
fn stack_loras(loras: &[Option<&Lora>], d_model: usize, device: &Device) -> Option<RowLora> {
    let rank = loras.iter().flatten().map(|l| l.rank()).max()?;
    let mut a = Vec::new();
    let mut b = Vec::new();
    let mut scaling = Vec::new();
    for lora in loras {
        match lora {
            Some(l) => {
                let r = l.rank();
                let (mut la, mut lb) = (l.lora_A.weight.val(), l.lora_B.weight.val());
                let d_out = lb.dims()[1];
                if r < rank {
                    la = Tensor::cat(vec![la, Tensor::zeros([d_model, rank - r], device)], 1);
                    lb = Tensor::cat(vec![lb, Tensor::zeros([rank - r, d_out], device)], 0);
                }
                a.push(la.unsqueeze_dim(0));
                b.push(lb.unsqueeze_dim(0));
                scaling.push(l.scaling as f32);
            }
            None => {
                a.push(Tensor::zeros([1, d_model, rank], device));
                b.push(Tensor::zeros([1, rank, d_model], device));
                scaling.push(0.0);
            }
        }
    }
    let n = scaling.len();
    Some(RowLora {
        a: Tensor::cat(a, 0),
        b: Tensor::cat(b, 0),
        scaling: Tensor::from_data(TensorData::new(scaling, [n, 1, 1]), device),
    })
}
