//! `BartForConditionalGeneration`: encoder, decoder, and the LM head tied to the token embedding
//! plus `final_logits_bias` (HF `modeling_bart.py`).

use burn::module::Param;
use burn::nn::Embedding;
use burn::prelude::*;

use super::attention::{BartAttention, padding_bias};
use super::config::BartConfig;
use super::decoder::{BartDecoder, DecoderCache};
use super::encoder::BartEncoder;
use super::init::embedding;
use super::prefix_mlp::{PrefixMlp, with_computed_prefixes};

/// HF `BartModel`: the shared token embedding and the two stacks.
#[derive(Module, Debug)]
pub struct BartModel {
    /// `model.shared.weight`, `[vocab_size, d_model]`: the one token embedding, used by encoder,
    /// decoder and (transposed) the LM head.
    pub shared: Embedding,
    pub encoder: BartEncoder,
    pub decoder: BartDecoder,
}

/// HF `BartForConditionalGeneration`. Parameter paths are HF's state-dict keys:
/// `model.encoder.layers.3.self_attn.k_proj.weight`, `final_logits_bias`, …
#[derive(Module, Debug)]
pub struct BartForConditionalGeneration {
    pub model: BartModel,
    /// `[1, vocab_size]`, a buffer in HF (not trained; zero in every released BART).
    pub final_logits_bias: Param<Tensor<2>>,
    /// Prefix tuning's MLP reparameterisation while it trains (`super::prefix_mlp`); `None`
    /// otherwise (and in HF checkpoints and adapters, which hold its output).
    pub prefix_mlp: Option<PrefixMlp>,
    #[module(skip)]
    pub config: BartConfig,
}

/// The encoder's output for a batch, with what the decoder needs to attend to it.
#[derive(Debug, Clone)]
pub struct Encoded {
    /// `[batch, src_len, d_model]`.
    pub hidden: Tensor<3>,
    /// Additive padding mask `[batch, 1, 1, src_len]`, if the batch has an attention mask.
    pub bias: Option<Tensor<4>>,
}

impl Encoded {
    /// Repeat every example `times` times in place (`[a, b]` → `[a, a, b, b]`), as HF's
    /// `_expand_inputs_for_generation` does for beams.
    pub fn repeat_interleave(self, times: usize) -> Self {
        let [batch, ..] = self.hidden.dims();
        let indices = interleaved(batch, times, &self.hidden.device());
        Self {
            hidden: self.hidden.select(0, indices.clone()),
            bias: self.bias.map(|b| b.select(0, indices)),
        }
    }
}

/// Row indices `[0, 0, 1, 1, …]`: each of `rows` rows `times` times in place.
pub(crate) fn interleaved(rows: usize, times: usize, device: &Device) -> Tensor<1, Int> {
    Tensor::<1, Int>::arange(0..rows as i64, device)
        .reshape([rows, 1])
        .repeat_dim(1, times)
        .reshape([rows * times])
}

impl BartForConditionalGeneration {
    /// A randomly initialised model (HF's `_init_weights`; lazily drawn, see `init`).
    pub fn new(config: &BartConfig, device: &Device) -> Self {
        let pad = config.pad_token_id as usize;
        Self {
            model: BartModel {
                shared: embedding(
                    config.vocab_size,
                    config.d_model,
                    config.init_std,
                    Some(pad),
                    device,
                ),
                encoder: BartEncoder::new(config, device),
                decoder: BartDecoder::new(config, device),
            },
            final_logits_bias: Param::from_tensor(Tensor::zeros([1, config.vocab_size], device))
                .set_require_grad(false),
            prefix_mlp: None,
            config: config.clone(),
        }
    }

    pub fn device(&self) -> Device {
        self.final_logits_bias.lazy_device()
    }

    /// Encode `input_ids` `[batch, src_len]` with `attention_mask` (1 = token, 0 = pad).
    pub fn encode(
        &self,
        input_ids: Tensor<2, Int>,
        attention_mask: Option<Tensor<2, Int>>,
    ) -> Encoded {
        if let Some(computed) = with_computed_prefixes(self) {
            return computed.encode(input_ids, attention_mask);
        }
        let bias = attention_mask.clone().map(padding_bias);
        let hidden = self
            .model
            .encoder
            .forward(&self.model.shared, input_ids, attention_mask);
        Encoded { hidden, bias }
    }

    /// Decoder hidden states → vocabulary logits: `[batch, len, d_model]` →
    /// `[batch, len, vocab_size]` (tied LM head plus `final_logits_bias`).
    pub fn lm_head(&self, hidden: Tensor<3>) -> Tensor<3> {
        let weight = self.model.shared.weight.val(); // [vocab, d_model]
        let [vocab, _] = weight.dims();
        hidden.matmul(weight.transpose().unsqueeze::<3>())
            + self.final_logits_bias.val().reshape([1, 1, vocab])
    }

    /// Logits for `decoder_input_ids` `[batch, tgt_len]` given an encoded batch. With a cache,
    /// `decoder_input_ids` holds only the new positions and the cache advances.
    pub fn decode(
        &self,
        encoded: &Encoded,
        decoder_input_ids: Tensor<2, Int>,
        cache: Option<&mut DecoderCache>,
    ) -> Tensor<3> {
        if let Some(computed) = with_computed_prefixes(self) {
            return computed.decode(encoded, decoder_input_ids, cache);
        }
        let hidden = self.model.decoder.forward(
            &self.model.shared,
            decoder_input_ids,
            &encoded.hidden,
            encoded.bias.clone(),
            cache,
        );
        self.lm_head(hidden)
    }

    /// Teacher-forced forward pass: `[batch, src_len]` inputs, `[batch, tgt_len]` decoder inputs
    /// → logits `[batch, tgt_len, vocab_size]`.
    pub fn forward(
        &self,
        input_ids: Tensor<2, Int>,
        attention_mask: Option<Tensor<2, Int>>,
        decoder_input_ids: Tensor<2, Int>,
    ) -> Tensor<3> {
        let encoded = self.encode(input_ids, attention_mask);
        self.decode(&encoded, decoder_input_ids, None)
    }

    /// Every attention, in a fixed order: each encoder layer's self-attention, then each decoder
    /// layer's self-attention and cross-attention (an adapter bank stacks them in this order).
    pub fn attentions(&self) -> Vec<&BartAttention> {
        let encoder = self.model.encoder.layers.iter().map(|l| &l.self_attn);
        let decoder = self
            .model
            .decoder
            .layers
            .iter()
            .flat_map(|l| [&l.self_attn, &l.encoder_attn]);
        encoder.chain(decoder).collect()
    }

    /// [`Self::attentions`], mutable.
    pub fn attentions_mut(&mut self) -> Vec<&mut BartAttention> {
        let encoder = self
            .model
            .encoder
            .layers
            .iter_mut()
            .map(|l| &mut l.self_attn);
        let decoder = self
            .model
            .decoder
            .layers
            .iter_mut()
            .flat_map(|l| [&mut l.self_attn, &mut l.encoder_attn]);
        encoder.chain(decoder).collect()
    }

    /// Whether some attention has per-row adapters bound ([`super::AdapterBank::bind`]).
    pub fn has_row_adapters(&self) -> bool {
        self.attentions().iter().any(|a| a.per_row.is_some())
    }

    /// The model with its per-row adapters repeated `times` in place, to follow inputs expanded
    /// into beams ([`Encoded::repeat_interleave`]).
    pub fn repeat_row_adapters(mut self, times: usize) -> Self {
        for attention in self.attentions_mut() {
            attention.per_row = attention.per_row.take().map(|r| r.repeat_interleave(times));
        }
        self
    }

    /// A fresh decoder cache for generation.
    pub fn new_cache(&self) -> DecoderCache {
        DecoderCache::new(self.model.decoder.layers.len())
    }
}

/// HF `shift_tokens_right`: decoder inputs are the labels shifted one position right, starting
/// with `decoder_start_token_id`; label padding (-100) becomes `pad_token_id`.
pub fn shift_tokens_right(
    labels: Tensor<2, Int>,
    pad_token_id: u32,
    decoder_start_token_id: u32,
) -> Tensor<2, Int> {
    let [batch, len] = labels.dims();
    let device = labels.device();
    let start = Tensor::<2, Int>::full([batch, 1], decoder_start_token_id as i64, &device);
    let shifted = Tensor::cat(vec![start, labels.slice([0..batch, 0..len - 1])], 1);
    let ignored = shifted.clone().equal_elem(-100);
    shifted.mask_fill(ignored, pad_token_id as i64)
}
