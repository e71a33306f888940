//! LoRA (Hu et al. 2021, "LoRA: Low-Rank Adaptation of Large Language Models") on BART's
//! attention projections, numerically and by name as HF PEFT's `lora.Linear`.
//!
//! A frozen projection `W` gains a trainable low-rank update: `y = W x + B A dropout(x) · α/r`,
//! with `A` `[r, d_in]` drawn as PEFT draws it (Kaiming-uniform, a = √5) and `B` `[d_out, r]`
//! zero, so a freshly attached adapter leaves the model's outputs unchanged. The update is kept
//! beside the projection rather than merged into it, so the base tensors stay untouched (and
//! shared between projects) and the adapter is exactly the trainable tensors.
//!
//! Names follow PEFT: an attention's `q_proj` adapter lives at `…self_attn.lora.q_proj.lora_A`
//! here and is saved by PEFT as `base_model.model.…self_attn.q_proj.lora_A.weight`
//! (`model::adapter` does that translation). What this module does not do: LoRA on embeddings or
//! the feed-forward, rsLoRA/DoRA variants, or merging the update into the base weight.

// `lora_A`/`lora_B` are PEFT's names; burn's derive repeats field names in generated code, so
// the allowance has to cover the module, not only the struct.
#![allow(non_snake_case)]

use burn::nn::{Dropout, DropoutConfig, Initializer, Linear};
use burn::prelude::*;

/// The attention projections LoRA can adapt, by their HF names.
pub const TARGETS: [&str; 4] = ["q_proj", "k_proj", "v_proj", "out_proj"];

/// The low-rank update of one `d_in → d_out` projection (PEFT `lora.Linear`'s adapter part).
#[derive(Module, Debug)]
pub struct Lora {
    /// `d_in → r`; burn stores its weight `[d_in, r]`, PEFT `[r, d_in]`.
    pub lora_A: Linear,
    /// `r → d_out`; burn `[r, d_out]`, PEFT `[d_out, r]`. Zero when attached.
    pub lora_B: Linear,
    /// PEFT's `lora_dropout`, applied to the input of `A` only.
    pub dropout: Dropout,
    /// `alpha / r` (PEFT's `scaling` without rsLoRA).
    pub scaling: f64,
}

impl Lora {
    /// A fresh adapter: `A` ~ U(-1/√d_in, 1/√d_in) (PyTorch's `kaiming_uniform_(a=√5)`, PEFT's
    /// default `init_lora_weights=True`), `B` = 0.
    pub fn new(
        d_in: usize,
        d_out: usize,
        rank: usize,
        alpha: f64,
        dropout: f64,
        device: &Device,
    ) -> Self {
        assert!(rank > 0, "LoRA rank must be positive");
        let bound = 1.0 / (d_in as f64).sqrt();
        Self {
            lora_A: Linear {
                weight: Initializer::Uniform {
                    min: -bound,
                    max: bound,
                }
                .init([d_in, rank], device),
                bias: None,
            },
            lora_B: Linear {
                weight: Initializer::Zeros.init([rank, d_out], device),
                bias: None,
            },
            dropout: DropoutConfig::new(dropout).init(),
            scaling: alpha / rank as f64,
        }
    }

    pub fn rank(&self) -> usize {
        self.lora_A.weight.lazy_shape().dims::<2>()[1]
    }

    /// The update `B A dropout(x) · scaling` for `x` `[batch, len, d_in]` → `[batch, len, d_out]`
    /// (PEFT `lora.Linear.forward`'s added term, in its order of operations).
    pub fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        self.lora_B
            .forward(self.lora_A.forward(self.dropout.forward(x)))
            .mul_scalar(self.scaling)
    }
}

/// LoRA adapters of one attention's projections; `None` where a projection is not a target.
#[derive(Module, Debug)]
pub struct AttentionLora {
    pub q_proj: Option<Lora>,
    pub k_proj: Option<Lora>,
    pub v_proj: Option<Lora>,
    pub out_proj: Option<Lora>,
}

impl AttentionLora {
    /// Adapters on the projections named in `targets` (a subset of [`TARGETS`]) of a `d_model`
    /// attention.
    ///
    /// # Panics
    /// On a target that is not one of [`TARGETS`]; the `lora` strategy's settings check
    /// rejects such targets with an error before a model is built.
    pub fn new(
        targets: &[String],
        d_model: usize,
        rank: usize,
        alpha: f64,
        dropout: f64,
        device: &Device,
    ) -> Self {
        for target in targets {
            assert!(
                TARGETS.contains(&target.as_str()),
                "LoRA target {target:?} is not an attention projection ({TARGETS:?})"
            );
        }
        let make = |name: &str| {
            targets
                .iter()
                .any(|t| t == name)
                .then(|| Lora::new(d_model, d_model, rank, alpha, dropout, device))
        };
        Self {
            q_proj: make("q_proj"),
            k_proj: make("k_proj"),
            v_proj: make("v_proj"),
            out_proj: make("out_proj"),
        }
    }
}

/// Whether a burn parameter path is a LoRA factor (`….lora.q_proj.lora_A.weight`).
pub fn is_lora(path: &str) -> bool {
    path.split('.').any(|part| part == "lora")
}

/// A base projection plus its LoRA update, if any. Without one this is exactly
/// `linear.forward(x)`, so an unadapted model computes bit for bit what it did before LoRA.
pub fn project(linear: &Linear, lora: Option<&Lora>, x: Tensor<3>) -> Tensor<3> {
    match lora {
        Some(lora) => linear.forward(x.clone()) + lora.forward(x),
        None => linear.forward(x),
    }
}
