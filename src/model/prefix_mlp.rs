//! Li & Liang's reparameterisation of prefix tuning (2021, §4.3): instead of learning each
//! attention's prefix keys and values directly, learn a small matrix `P'` `[len, d_model]` and
//! an MLP that maps each of its rows to every prefixed attention's key and value
//! (`P = MLP(P')`, `d_model → hidden → tanh → attentions × 2 × d_model`), which they found
//! steadier to optimise than the direct prefix. Laid out as HF PEFT's `PrefixEncoder` with
//! `prefix_projection=True` (`embedding`, then `Linear`, `Tanh`, `Linear`).
//!
//! Training computes the prefixes from the MLP at every call, so gradients reach `P'` and the
//! MLP; afterwards the MLP is dropped and only its output is kept ([`materialize`]), which is
//! what an adapter stores (PEFT also saves the projected prefixes), so a reparameterised
//! adapter loads and runs exactly like a direct one.

use burn::module::Param;
use burn::nn::{Initializer, Linear};
use burn::prelude::*;
use burn::tensor::activation::tanh;

use super::attention::AttentionPrefix;
use super::bart::BartForConditionalGeneration;
use super::mixed::{RowAdapter, RowPrefix};

/// `P'` and the MLP. `targets` lists the prefixed attentions as indices into
/// [`BartForConditionalGeneration::attentions`].
#[derive(Module, Debug)]
pub struct PrefixMlp {
    /// `P'`, `[len, d_model]` (PEFT `prefix_encoder.embedding.weight`).
    pub embedding: Param<Tensor<2>>,
    pub fc1: Linear,
    pub fc2: Linear,
    #[module(skip)]
    pub targets: Vec<usize>,
}

/// PyTorch's `nn.Linear` default initialisation (weight and bias U(±1/√d_in)), as PEFT's
/// `PrefixEncoder` gets it.
fn torch_linear(d_in: usize, d_out: usize, device: &Device) -> Linear {
    let bound = 1.0 / (d_in as f64).sqrt();
    let init = Initializer::Uniform {
        min: -bound,
        max: bound,
    };
    Linear {
        weight: init.init([d_in, d_out], device),
        bias: Some(init.init([d_out], device)),
    }
}

impl PrefixMlp {
    /// A fresh reparameterisation for `targets` of a `d_model` model: `P'` ~ N(0, 1) (PEFT's
    /// `nn.Embedding` default; the prefix strategy's initialisation overwrites it with the
    /// project's most frequent tokens' embeddings), the MLP as PyTorch initialises `nn.Linear`.
    pub fn new(
        len: usize,
        d_model: usize,
        hidden: usize,
        targets: Vec<usize>,
        device: &Device,
    ) -> Self {
        let outputs = targets.len() * 2 * d_model;
        Self {
            embedding: Initializer::Normal {
                mean: 0.0,
                std: 1.0,
            }
            .init([len, d_model], device),
            fc1: torch_linear(d_model, hidden, device),
            fc2: torch_linear(hidden, outputs, device),
            targets,
        }
    }

    /// Every target's `(key, value)`, `[len, d_model]` each, in `targets` order.
    pub fn prefixes(&self) -> Vec<(Tensor<2>, Tensor<2>)> {
        let p = self.embedding.val();
        let [len, d_model] = p.dims();
        let out = self.fc2.forward(tanh(self.fc1.forward(p)));
        let out = out.reshape([len, self.targets.len(), 2, d_model]);
        (0..self.targets.len())
            .map(|i| {
                let part = |kv: usize| {
                    out.clone()
                        .slice([0..len, i..i + 1, kv..kv + 1, 0..d_model])
                        .reshape([len, d_model])
                };
                (part(0), part(1))
            })
            .collect()
    }
}

/// The model with the MLP's current prefixes handed to its attentions as per-call prefixes
/// (gradients flow back to the MLP); the model itself when it has no MLP.
pub fn with_computed_prefixes(
    model: &BartForConditionalGeneration,
) -> Option<BartForConditionalGeneration> {
    let mlp = model.prefix_mlp.as_ref()?;
    let prefixes = mlp.prefixes();
    let targets = mlp.targets.clone();
    let mut computed = model.clone();
    computed.prefix_mlp = None;
    let mut attentions = computed.attentions_mut();
    for (index, (key, value)) in targets.into_iter().zip(prefixes) {
        attentions[index].per_row = Some(RowAdapter {
            prefix: Some(RowPrefix {
                key: key.unsqueeze_dim(0),
                value: value.unsqueeze_dim(0),
                bias: None,
            }),
            q_proj: None,
            k_proj: None,
            v_proj: None,
            out_proj: None,
        });
    }
    Some(computed)
}

/// Replace the MLP by its output: plain prefixes on the target attentions (what an adapter
/// stores and what generation runs). A model without an MLP is returned as it is.
pub fn materialize(mut model: BartForConditionalGeneration) -> BartForConditionalGeneration {
    let Some(mlp) = model.prefix_mlp.take() else {
        return model;
    };
    let prefixes = mlp.prefixes();
    let mut attentions = model.attentions_mut();
    for (&index, (key, value)) in mlp.targets.iter().zip(prefixes) {
        attentions[index].prefix = Some(AttentionPrefix::new(key.detach(), value.detach()));
    }
    model
}
