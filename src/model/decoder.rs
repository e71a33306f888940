//! The BART decoder (HF `BartDecoder`, `BartDecoderLayer`): causal self-attention with a
//! key/value cache, cross-attention over the encoder output with its keys/values computed once,
//! and a feed-forward (the activation `config.json` names; GELU for BART), each post-norm.

use burn::nn::{Dropout, DropoutConfig, Embedding, LayerNorm, Linear};
use burn::prelude::*;

use super::activation::Activation;
use super::attention::{BartAttention, KeyValue, causal_bias};
use super::config::BartConfig;
use super::encoder::positions;
use super::init::{embedding, layer_norm, linear};

/// One decoder block; fields are HF's parameter names (`model.decoder.layers.N.<field>`).
#[derive(Module, Debug)]
pub struct BartDecoderLayer {
    pub self_attn: BartAttention,
    pub self_attn_layer_norm: LayerNorm,
    pub encoder_attn: BartAttention,
    pub encoder_attn_layer_norm: LayerNorm,
    pub fc1: Linear,
    pub fc2: Linear,
    pub final_layer_norm: LayerNorm,
    pub dropout: Dropout,
    pub activation_dropout: Dropout,
    /// The feed-forward activation (`activation_function`); not a parameter, so the module
    /// derive skips it (the config it comes from is saved with the weights).
    #[module(skip)]
    pub activation: Activation,
}

/// Cached keys/values of one decoder layer during generation.
#[derive(Debug, Clone, Default)]
pub struct LayerCache {
    /// Self-attention keys/values of every position decoded so far.
    pub self_attn: Option<KeyValue>,
    /// Cross-attention keys/values of the encoder output (fixed for the whole generation).
    pub cross_attn: Option<KeyValue>,
}

/// The decoder's state between generation steps.
#[derive(Debug, Clone)]
pub struct DecoderCache {
    pub layers: Vec<LayerCache>,
    /// Number of positions already decoded (the next position's index).
    pub past_len: usize,
}

impl DecoderCache {
    pub fn new(layers: usize) -> Self {
        Self {
            layers: vec![LayerCache::default(); layers],
            past_len: 0,
        }
    }

    /// Follow the beams that survive a beam-search step: row `i` of the new cache is row
    /// `indices[i]` of the old. Only self-attention keys/values move, as in HF's
    /// `_reorder_cache`: beams never leave their input's group, and within a group every row
    /// holds the same encoder output, so the cross-attention cache is already right.
    pub fn reorder_beams(self, indices: Tensor<1, Int>) -> Self {
        let layers = self
            .layers
            .into_iter()
            .map(|layer| LayerCache {
                self_attn: layer.self_attn.map(|kv| kv.reorder(indices.clone())),
                cross_attn: layer.cross_attn,
            })
            .collect();
        Self {
            layers,
            past_len: self.past_len,
        }
    }
}

impl BartDecoderLayer {
    /// A randomly initialised block.
    ///
    /// # Panics
    /// If `config.activation_function` is not one we implement ([`BartConfig::validate`],
    /// which every loaded config passes, rejects it first).
    pub fn new(config: &BartConfig, device: &Device) -> Self {
        let d = config.d_model;
        let std = config.init_std;
        let heads = config.decoder_attention_heads;
        let (attention_dropout, attention_stds) =
            (config.attention_dropout, config.attention_init_stds());
        Self {
            self_attn: BartAttention::new(d, heads, attention_dropout, attention_stds, device),
            self_attn_layer_norm: layer_norm(d, device),
            encoder_attn: BartAttention::new(d, heads, attention_dropout, attention_stds, device),
            encoder_attn_layer_norm: layer_norm(d, device),
            fc1: linear(d, config.decoder_ffn_dim, std, device),
            fc2: linear(config.decoder_ffn_dim, d, std, device),
            final_layer_norm: layer_norm(d, device),
            dropout: DropoutConfig::new(config.dropout).init(),
            activation_dropout: DropoutConfig::new(config.activation_dropout).init(),
            activation: config
                .activation()
                .unwrap_or_else(|err| panic!("{err}: check the config with BartConfig::validate")),
        }
    }

    /// `hidden` `[batch, tgt_len, d_model]` → same shape.
    pub fn forward(
        &self,
        hidden: Tensor<3>,
        self_bias: Tensor<4>,
        encoder_hidden: &Tensor<3>,
        encoder_bias: Option<Tensor<4>>,
        cache: Option<&mut LayerCache>,
    ) -> Tensor<3> {
        let (self_cache, cross_cache) = match cache {
            Some(cache) => (Some(&mut cache.self_attn), Some(&mut cache.cross_attn)),
            None => (None, None),
        };
        let attended = self
            .self_attn
            .forward(hidden.clone(), None, Some(self_bias), self_cache);
        let hidden = self
            .self_attn_layer_norm
            .forward(hidden + self.dropout.forward(attended));
        let attended = self.encoder_attn.forward(
            hidden.clone(),
            Some(encoder_hidden),
            encoder_bias,
            cross_cache,
        );
        let hidden = self
            .encoder_attn_layer_norm
            .forward(hidden + self.dropout.forward(attended));
        let ffn = self
            .activation_dropout
            .forward(self.activation.forward(self.fc1.forward(hidden.clone())));
        let ffn = self.dropout.forward(self.fc2.forward(ffn));
        self.final_layer_norm.forward(hidden + ffn)
    }
}

/// The decoder stack; its token embedding is `model.shared`, passed in.
#[derive(Module, Debug)]
pub struct BartDecoder {
    pub embed_positions: Embedding,
    pub layers: Vec<BartDecoderLayer>,
    pub layernorm_embedding: LayerNorm,
    pub dropout: Dropout,
    pub embed_scale: f64,
}

impl BartDecoder {
    pub fn new(config: &BartConfig, device: &Device) -> Self {
        Self {
            embed_positions: embedding(
                config.max_position_embeddings + super::config::POSITION_OFFSET,
                config.d_model,
                config.init_std,
                None,
                device,
            ),
            layers: (0..config.decoder_layers)
                .map(|_| BartDecoderLayer::new(config, device))
                .collect(),
            layernorm_embedding: layer_norm(config.d_model, device),
            dropout: DropoutConfig::new(config.dropout).init(),
            embed_scale: config.embed_scale(),
        }
    }

    /// `decoder_input_ids` `[batch, tgt_len]` (with a cache: only the new positions) →
    /// `[batch, tgt_len, d_model]`. `encoder_bias` hides padded source positions.
    pub fn forward(
        &self,
        embed_tokens: &Embedding,
        decoder_input_ids: Tensor<2, Int>,
        encoder_hidden: &Tensor<3>,
        encoder_bias: Option<Tensor<4>>,
        mut cache: Option<&mut DecoderCache>,
    ) -> Tensor<3> {
        let [_, len] = decoder_input_ids.dims();
        let past_len = cache.as_ref().map_or(0, |c| c.past_len);
        let device = decoder_input_ids.device();
        let tokens = embed_tokens
            .forward(decoder_input_ids)
            .mul_scalar(self.embed_scale);
        let positions = positions(&self.embed_positions, past_len, len);
        let mut hidden = self
            .dropout
            .forward(self.layernorm_embedding.forward(tokens + positions));
        let self_bias = causal_bias(len, past_len, &device);
        for (index, layer) in self.layers.iter().enumerate() {
            let layer_cache = cache.as_deref_mut().map(|c| &mut c.layers[index]);
            hidden = layer.forward(
                hidden,
                self_bias.clone(),
                encoder_hidden,
                encoder_bias.clone(),
                layer_cache,
            );
        }
        if let Some(cache) = cache {
            cache.past_len += len;
        }
        hidden
    }
}
