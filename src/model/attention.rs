//! `BartAttention`: multi-head attention as in HF `modeling_bart.BartAttention`, with an optional
//! key/value cache and optional learned key/value prefixes.
//!
//! burn's `MultiHeadAttention` projects keys and values inside `forward` and keeps its cache
//! private, so neither prefix tuning (extra key/value vectors per layer, Li & Liang 2021) nor a
//! beam search that reorders cached keys by beam is possible with it. This one attention serves
//! the encoder's self-attention, the decoder's self-attention (cache grows by one step per call)
//! and the decoder's cross-attention (cache computed once from the encoder states). An optional
//! LoRA update per projection (`super::lora`, Hu et al. 2021) serves the `lora` strategy.

use burn::module::Param;
use burn::nn::{Dropout, DropoutConfig, Linear};
use burn::prelude::*;
use burn::tensor::activation::softmax;

use super::init::linear;
use super::lora::{AttentionLora, project};

/// The value masked attention scores take. HF adds `torch.finfo(dtype).min`; filling (rather than
/// adding) keeps a row finite even when causal and padding masks both hit it.
pub const MASKED: f32 = f32::MIN;

/// Projected keys and values of one attention layer, split into heads: `[batch, heads, len,
/// head_dim]` each.
#[derive(Debug, Clone)]
pub struct KeyValue {
    pub key: Tensor<4>,
    pub value: Tensor<4>,
}

impl KeyValue {
    /// Keep the rows of the batch named by `indices` (beam search: follow each surviving beam).
    pub fn reorder(self, indices: Tensor<1, Int>) -> Self {
        Self {
            key: self.key.select(0, indices.clone()),
            value: self.value.select(0, indices),
        }
    }
}

/// Learned keys and values prepended to an attention's own (prefix tuning). Stored already
/// projected, `[prefix_len, d_model]` each, so a 200-token prefix on bart-large costs
/// 2 × 200 × 1024 parameters per layer, the paper's count (Table 1).
#[derive(Module, Debug)]
pub struct AttentionPrefix {
    pub key: Param<Tensor<2>>,
    pub value: Param<Tensor<2>>,
}

impl AttentionPrefix {
    /// Prefix keys and values from initial values `[prefix_len, d_model]` (e.g. the projected
    /// keys/values of a project's most frequent tokens).
    pub fn new(key: Tensor<2>, value: Tensor<2>) -> Self {
        Self {
            key: Param::from_tensor(key),
            value: Param::from_tensor(value),
        }
    }

    /// A prefix drawn from N(0, std) (lazily), for counting or as a neutral starting point.
    pub fn random(len: usize, d_model: usize, std: f64, device: &Device) -> Self {
        let init = burn::nn::Initializer::Normal { mean: 0.0, std };
        Self {
            key: init.init([len, d_model], device),
            value: init.init([len, d_model], device),
        }
    }

    pub fn len(&self) -> usize {
        self.key.lazy_shape().dims::<2>()[0]
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Multi-head attention with HF BART's parameter names (`k_proj`, `v_proj`, `q_proj`,
/// `out_proj`).
#[derive(Module, Debug)]
pub struct BartAttention {
    pub k_proj: Linear,
    pub v_proj: Linear,
    pub q_proj: Linear,
    pub out_proj: Linear,
    /// Prefix-tuning keys/values; `None` for a plain BART (and in HF checkpoints).
    pub prefix: Option<AttentionPrefix>,
    /// LoRA updates of the projections; `None` for a plain BART (and in HF checkpoints).
    pub lora: Option<AttentionLora>,
    pub dropout: Dropout,
    pub num_heads: usize,
}

impl BartAttention {
    pub fn new(
        d_model: usize,
        num_heads: usize,
        attention_dropout: f64,
        init_std: f64,
        device: &Device,
    ) -> Self {
        Self {
            k_proj: linear(d_model, d_model, init_std, device),
            v_proj: linear(d_model, d_model, init_std, device),
            q_proj: linear(d_model, d_model, init_std, device),
            out_proj: linear(d_model, d_model, init_std, device),
            prefix: None,
            lora: None,
            dropout: DropoutConfig::new(attention_dropout).init(),
            num_heads,
        }
    }

    /// `[batch, len, d_model]` → `[batch, heads, len, head_dim]`.
    fn split_heads(&self, x: Tensor<3>) -> Tensor<4> {
        let [batch, len, d_model] = x.dims();
        x.reshape([batch, len, self.num_heads, d_model / self.num_heads])
            .swap_dims(1, 2)
    }

    fn project_kv(&self, states: Tensor<3>) -> KeyValue {
        let lora = self.lora.as_ref();
        KeyValue {
            key: self.split_heads(project(
                &self.k_proj,
                lora.and_then(|l| l.k_proj.as_ref()),
                states.clone(),
            )),
            value: self.split_heads(project(
                &self.v_proj,
                lora.and_then(|l| l.v_proj.as_ref()),
                states,
            )),
        }
    }

    /// Attend from `hidden` `[batch, q_len, d_model]` to keys/values and return
    /// `[batch, q_len, d_model]`.
    ///
    /// - `cross`: encoder states `[batch, src_len, d_model]` for cross-attention; `None` for
    ///   self-attention.
    /// - `bias`: additive mask `[batch | 1, 1, q_len, kv_len]` (0 or [`MASKED`]) over the
    ///   layer's own keys (cached and new, prefix excluded: prefix positions are never masked).
    /// - `cache`: self-attention appends this call's keys/values to it; cross-attention fills
    ///   it on the first call and reuses it afterwards.
    pub fn forward(
        &self,
        hidden: Tensor<3>,
        cross: Option<&Tensor<3>>,
        bias: Option<Tensor<4>>,
        cache: Option<&mut Option<KeyValue>>,
    ) -> Tensor<3> {
        let [batch, q_len, d_model] = hidden.dims();
        let head_dim = d_model / self.num_heads;
        // Scaling the queries (as HF's BART did before 4.48) touches head_dim values per query
        // instead of kv_len scores; the results agree to float rounding.
        let lora = self.lora.as_ref();
        let query = self
            .split_heads(project(
                &self.q_proj,
                lora.and_then(|l| l.q_proj.as_ref()),
                hidden.clone(),
            ))
            .mul_scalar((head_dim as f64).powf(-0.5));

        let kv = match (cross, cache) {
            (Some(states), Some(cache)) => cache
                .get_or_insert_with(|| self.project_kv(states.clone()))
                .clone(),
            (Some(states), None) => self.project_kv(states.clone()),
            (None, Some(cache)) => {
                let new = self.project_kv(hidden);
                let kv = match cache.take() {
                    Some(past) => KeyValue {
                        key: Tensor::cat(vec![past.key, new.key], 2),
                        value: Tensor::cat(vec![past.value, new.value], 2),
                    },
                    None => new,
                };
                *cache = Some(kv.clone());
                kv
            }
            (None, None) => self.project_kv(hidden),
        };
        let (key, value, bias) = match &self.prefix {
            Some(prefix) => self.prepend_prefix(prefix, kv, bias, batch),
            None => (kv.key, kv.value, bias),
        };

        let mut scores = query.matmul(key.swap_dims(2, 3));
        if let Some(bias) = bias {
            scores = scores + bias;
        }
        let probs = self.dropout.forward(softmax(scores, 3));
        let context = probs.matmul(value); // [batch, heads, q_len, head_dim]
        project(
            &self.out_proj,
            lora.and_then(|l| l.out_proj.as_ref()),
            context.swap_dims(1, 2).reshape([batch, q_len, d_model]),
        )
    }

    fn prepend_prefix(
        &self,
        prefix: &AttentionPrefix,
        kv: KeyValue,
        bias: Option<Tensor<4>>,
        batch: usize,
    ) -> (Tensor<4>, Tensor<4>, Option<Tensor<4>>) {
        let len = prefix.len();
        let heads = |p: Tensor<2>| {
            let [_, d_model] = p.dims();
            p.reshape([1, len, self.num_heads, d_model / self.num_heads])
                .swap_dims(1, 2)
                .repeat_dim(0, batch)
        };
        let key = Tensor::cat(vec![heads(prefix.key.val()), kv.key], 2);
        let value = Tensor::cat(vec![heads(prefix.value.val()), kv.value], 2);
        // The bias may broadcast over batch or queries (`[1 | batch, 1, 1 | q_len, kv_len]`);
        // prefix positions are open to every query.
        let bias = bias.map(|bias| {
            let [b, _, q, _] = bias.dims();
            let open = Tensor::zeros([b, 1, q, len], &bias.device());
            Tensor::cat(vec![open, bias], 3)
        });
        (key, value, bias)
    }
}

/// Additive mask hiding padded keys: `attention_mask` `[batch, src_len]` (1 = token, 0 = pad)
/// → `[batch, 1, 1, src_len]`.
pub fn padding_bias(attention_mask: Tensor<2, Int>) -> Tensor<4> {
    let [batch, len] = attention_mask.dims();
    let pad = attention_mask.equal_elem(0).reshape([batch, 1, 1, len]);
    Tensor::zeros([batch, 1, 1, len], &pad.device()).mask_fill(pad, MASKED)
}

/// Additive causal mask for `q_len` new queries after `past_len` cached positions:
/// `[1, 1, q_len, past_len + q_len]`, query i sees keys up to `past_len + i`.
pub fn causal_bias(q_len: usize, past_len: usize, device: &Device) -> Tensor<4> {
    let kv_len = past_len + q_len;
    let rows = Tensor::<1, Int>::arange(0..q_len as i64, device)
        .reshape([q_len, 1])
        .add_scalar(past_len as i64);
    let cols = Tensor::<1, Int>::arange(0..kv_len as i64, device)
        .reshape([1, kv_len])
        .repeat_dim(0, q_len);
    let future = cols
        .greater(rows.repeat_dim(1, kv_len))
        .reshape([1, 1, q_len, kv_len]);
    Tensor::zeros([1, 1, q_len, kv_len], device).mask_fill(future, MASKED)
}
