//! The BART encoder (HF `BartEncoder`, `BartEncoderLayer`): token + learned position embeddings,
//! `layernorm_embedding`, then post-norm self-attention / feed-forward blocks (the activation
//! `config.json` names; GELU for BART).

use burn::nn::{Dropout, DropoutConfig, Embedding, LayerNorm, Linear};
use burn::prelude::*;

use super::activation::Activation;
use super::attention::{BartAttention, padding_bias};
use super::config::{BartConfig, POSITION_OFFSET};
use super::init::{embedding, layer_norm, linear};

/// One encoder block; fields are HF's parameter names (`model.encoder.layers.N.<field>`).
#[derive(Module, Debug)]
pub struct BartEncoderLayer {
    pub self_attn: BartAttention,
    pub self_attn_layer_norm: LayerNorm,
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

impl BartEncoderLayer {
    /// A randomly initialised block.
    ///
    /// # Panics
    /// If `config.activation_function` is not one we implement ([`BartConfig::validate`],
    /// which every loaded config passes, rejects it first).
    pub fn new(config: &BartConfig, device: &Device) -> Self {
        let d = config.d_model;
        let std = config.init_std;
        Self {
            self_attn: BartAttention::new(
                d,
                config.encoder_attention_heads,
                config.attention_dropout,
                config.attention_init_stds(),
                device,
            ),
            self_attn_layer_norm: layer_norm(d, device),
            fc1: linear(d, config.encoder_ffn_dim, std, device),
            fc2: linear(config.encoder_ffn_dim, d, std, device),
            final_layer_norm: layer_norm(d, device),
            dropout: DropoutConfig::new(config.dropout).init(),
            activation_dropout: DropoutConfig::new(config.activation_dropout).init(),
            activation: config
                .activation()
                .unwrap_or_else(|err| panic!("{err}: check the config with BartConfig::validate")),
        }
    }

    /// `hidden` `[batch, src_len, d_model]`, `bias` `[batch, 1, 1, src_len]` → same shape.
    pub fn forward(&self, hidden: Tensor<3>, bias: Option<Tensor<4>>) -> Tensor<3> {
        let attended = self.self_attn.forward(hidden.clone(), None, bias, None);
        let hidden = self
            .self_attn_layer_norm
            .forward(hidden + self.dropout.forward(attended));
        let ffn = self
            .activation_dropout
            .forward(self.activation.forward(self.fc1.forward(hidden.clone())));
        let ffn = self.dropout.forward(self.fc2.forward(ffn));
        self.final_layer_norm.forward(hidden + ffn)
    }
}

/// The encoder stack. The token embedding is `model.shared`, owned by [`super::BartModel`] and
/// passed in, so it exists once (HF ties `model.encoder.embed_tokens` to it).
#[derive(Module, Debug)]
pub struct BartEncoder {
    pub embed_positions: Embedding,
    pub layers: Vec<BartEncoderLayer>,
    pub layernorm_embedding: LayerNorm,
    pub dropout: Dropout,
    pub embed_scale: f64,
}

impl BartEncoder {
    pub fn new(config: &BartConfig, device: &Device) -> Self {
        Self {
            embed_positions: embedding(
                config.max_position_embeddings + POSITION_OFFSET,
                config.d_model,
                config.init_std,
                None,
                device,
            ),
            layers: (0..config.encoder_layers)
                .map(|_| BartEncoderLayer::new(config, device))
                .collect(),
            layernorm_embedding: layer_norm(config.d_model, device),
            dropout: DropoutConfig::new(config.dropout).init(),
            embed_scale: config.embed_scale(),
        }
    }

    /// `input_ids` `[batch, src_len]`, `attention_mask` `[batch, src_len]` (1 = token) →
    /// `[batch, src_len, d_model]`.
    pub fn forward(
        &self,
        embed_tokens: &Embedding,
        input_ids: Tensor<2, Int>,
        attention_mask: Option<Tensor<2, Int>>,
    ) -> Tensor<3> {
        let [_, len] = input_ids.dims();
        let tokens = embed_tokens.forward(input_ids).mul_scalar(self.embed_scale);
        let positions = positions(&self.embed_positions, 0, len);
        let mut hidden = self
            .dropout
            .forward(self.layernorm_embedding.forward(tokens + positions));
        let bias = attention_mask.map(padding_bias);
        for layer in &self.layers {
            hidden = layer.forward(hidden, bias.clone());
        }
        hidden
    }
}

/// Learned position embeddings for positions `past_len..past_len + len`, `[1, len, d_model]`
/// (HF `BartLearnedPositionalEmbedding`: row = position + 2).
pub fn positions(table: &Embedding, past_len: usize, len: usize) -> Tensor<3> {
    let weight = table.weight.val();
    let [rows, d_model] = weight.dims();
    let start = past_len + POSITION_OFFSET;
    assert!(
        start + len <= rows,
        "sequence of {} positions exceeds max_position_embeddings {}",
        past_len + len,
        rows - POSITION_OFFSET
    );
    weight
        .slice([start..start + len, 0..d_model])
        .reshape([1, len, d_model])
}
