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
use super::lora::{AttentionLora, Lora, project};
use super::mixed::{RowAdapter, RowLora, RowPrefix};

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
    /// Prefixes and LoRA updates supplied per call (a batch mixing projects, or prefixes the
    /// prefix MLP computed); see [`super::mixed`]. Not parameters: never saved.
    pub per_row: Option<RowAdapter>,
    pub dropout: Dropout,
    pub num_heads: usize,
}

impl BartAttention {
    pub fn new(
        d_model: usize,
        num_heads: usize,
        attention_dropout: f64,
        (qkv_std, out_std): (f64, f64),
        device: &Device,
    ) -> Self {
        Self {
            k_proj: linear(d_model, d_model, qkv_std, device),
            v_proj: linear(d_model, d_model, qkv_std, device),
            q_proj: linear(d_model, d_model, qkv_std, device),
            out_proj: linear(d_model, d_model, out_std, device),
            prefix: None,
            lora: None,
            per_row: None,
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

    /// One projection with its LoRA update (shared or per row), if any.
    fn projected(
        &self,
        linear: &Linear,
        lora: fn(&AttentionLora) -> Option<&Lora>,
        row: fn(&RowAdapter) -> Option<&RowLora>,
        x: Tensor<3>,
    ) -> Tensor<3> {
        let shared = self.lora.as_ref().and_then(lora);
        match self.per_row.as_ref().and_then(row) {
            Some(row) => project(linear, shared, x.clone()) + row.forward(x),
            None => project(linear, shared, x),
        }
    }

    fn project_kv(&self, states: Tensor<3>) -> KeyValue {
        KeyValue {
            key: self.split_heads(self.projected(
                &self.k_proj,
                |l| l.k_proj.as_ref(),
                |r| r.k_proj.as_ref(),
                states.clone(),
            )),
            value: self.split_heads(self.projected(
                &self.v_proj,
                |l| l.v_proj.as_ref(),
                |r| r.v_proj.as_ref(),
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
        let query = self
            .split_heads(self.projected(
                &self.q_proj,
                |l| l.q_proj.as_ref(),
                |r| r.q_proj.as_ref(),
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
        let (key, value, bias) = match self.per_row.as_ref().and_then(|r| r.prefix.as_ref()) {
            Some(prefix) => self.prepend_row_prefix(prefix, key, value, bias, q_len),
            None => (key, value, bias),
        };

        let mut scores = query.matmul(key.swap_dims(2, 3));
        if let Some(bias) = bias {
            scores = scores + bias;
        }
        let probs = self.dropout.forward(softmax(scores, 3));
        let context = probs.matmul(value); // [batch, heads, q_len, head_dim]
        self.projected(
            &self.out_proj,
            |l| l.out_proj.as_ref(),
            |r| r.out_proj.as_ref(),
            context.swap_dims(1, 2).reshape([batch, q_len, d_model]),
        )
    }

    /// Prepend per-call prefixes (`[rows, len, d_model]`, rows 1 or batch) to the keys and
    /// values `[batch, heads, kv_len, head_dim]`, with their padding bias in front of the
    /// layer's.
    fn prepend_row_prefix(
        &self,
        prefix: &RowPrefix,
        key: Tensor<4>,
        value: Tensor<4>,
        bias: Option<Tensor<4>>,
        q_len: usize,
    ) -> (Tensor<4>, Tensor<4>, Option<Tensor<4>>) {
        let [batch, heads, kv_len, head_dim] = key.dims();
        let [rows, len, _] = prefix.key.dims();
        let split = |p: Tensor<3>| {
            let p = p.reshape([rows, len, heads, head_dim]).swap_dims(1, 2);
            if rows == batch {
                p
            } else {
                p.repeat_dim(0, batch)
            }
        };
        let key = Tensor::cat(vec![split(prefix.key.clone()), key], 2);
        let value = Tensor::cat(vec![split(prefix.value.clone()), value], 2);
        let bias = match (&prefix.bias, bias) {
            (None, None) => None,
            (open, own) => {
                let device = key.device();
                let front = match open {
                    Some(b) => b.clone().expand([batch, 1, q_len, len]),
                    None => Tensor::zeros([batch, 1, q_len, len], &device),
                };
                let own = match own {
                    Some(b) => b.expand([batch, 1, q_len, kv_len]),
                    None => Tensor::zeros([batch, 1, q_len, kv_len], &device),
                };
                Some(Tensor::cat(vec![front, own], 3))
            }
        };
        (key, value, bias)
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
