//! The paper's prefix initialisation (§3.5: "the prefix is initialized to the most frequent
//! words in the repository"), done as Li & Liang (2021, §7.2 "initialization with real words")
//! do it: run real tokens through the frozen model and use each layer's own key/value
//! activations of them as that layer's initial prefix. A prefix so initialised starts as the
//! model's view of the project's commonest tokens rather than as noise, which Li & Liang found
//! matters most in low-data settings, as a single project is.

use std::collections::HashMap;

use burn::prelude::*;

use super::PrefixSettings;
use crate::model::attention::{AttentionPrefix, causal_bias};
use crate::model::encoder::positions;
use crate::model::{BartConfig, BartForConditionalGeneration};

/// BART's fixed special ids: `<s>` 0, `<pad>` 1, `</s>` 2, `<unk>` 3 (bart-large's vocabulary
/// and every tailor tokenizer put them first).
pub const SPECIAL_IDS: [u32; 4] = [0, 1, 2, 3];

/// The `n` most frequent token ids over `sequences`, most frequent first, ties broken by the
/// smaller id (deterministic). With `exclude_special`, [`SPECIAL_IDS`] are not counted. Returns
/// fewer than `n` ids when the sequences hold fewer distinct tokens.
pub fn most_frequent_tokens(sequences: &[Vec<u32>], n: usize, exclude_special: bool) -> Vec<u32> {
    let mut counts: HashMap<u32, usize> = HashMap::new();
    for &id in sequences.iter().flatten() {
        if exclude_special && SPECIAL_IDS.contains(&id) {
            continue;
        }
        *counts.entry(id).or_insert(0) += 1;
    }
    let mut ranked: Vec<(u32, usize)> = counts.into_iter().collect();
    ranked.sort_unstable_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    ranked.into_iter().take(n).map(|(id, _)| id).collect()
}

/// Set every prefixed attention's prefix (encoder and decoder self-attention; decoder
/// cross-attention if `settings.cross_attention`) to the model's own keys and values of
/// `token_ids`, `[settings.len, d_model]` each; with the MLP reparameterisation
/// (`settings.mlp_hidden` > 0), set the MLP's input matrix to the tokens' embeddings instead.
///
/// The tokens go through the model as it is without prefixes, with dropout off: once through
/// the encoder as an input sequence, once through the decoder as decoder input (causally, as
/// the decoder reads), attending to the encoder's output of the same tokens. Layer `i`'s prefix
/// is its self-attention's `k_proj`/`v_proj` of its input hidden states; a cross-attention
/// prefix is that attention's projection of the encoder output. Token `j` of the list gives
/// prefix position `j` (most frequent first, from [`most_frequent_tokens`]); a list shorter
/// than the prefix is repeated, and tokens beyond `max_position_embeddings` run as further
/// sequences so any prefix length is possible.
///
/// # Panics
/// If `token_ids` is empty or `settings.len` is zero.
pub fn init_prefix_from_tokens(
    mut model: BartForConditionalGeneration,
    token_ids: &[u32],
    settings: &PrefixSettings,
    device: &Device,
) -> BartForConditionalGeneration {
    assert!(
        !token_ids.is_empty() && settings.len > 0,
        "prefix initialisation needs at least one token and a positive prefix length"
    );
    let tokens: Vec<u32> = token_ids
        .iter()
        .copied()
        .cycle()
        .take(settings.len)
        .collect();
    if let Some(mut mlp) = model.prefix_mlp.take() {
        // Reparameterised: the MLP's input rows start as the tokens' input embeddings (scaled
        // as the encoder scales them), so the prefixes are the MLP's image of the project's
        // commonest tokens; their activations cannot be set directly through a fresh MLP.
        let ids = Tensor::<1, Int>::from_data(
            TensorData::new(tokens.iter().map(|&t| t as i64).collect(), [tokens.len()]),
            device,
        );
        let scale = model.config.embed_scale();
        let rows = model
            .model
            .shared
            .weight
            .val()
            .select(0, ids)
            .mul_scalar(scale)
            .detach();
        mlp.embedding = mlp.embedding.map(|_| rows);
        model.prefix_mlp = Some(mlp);
        return model;
    }
    let activations = activations(&model, &tokens, settings.cross_attention);
    let to_prefix = |(key, value): (Tensor<2>, Tensor<2>)| {
        let move_to = |t: Tensor<2>| Tensor::<2>::from_data(t.into_data(), device);
        Some(AttentionPrefix::new(move_to(key), move_to(value)))
    };
    let mut encoder = activations.encoder.into_iter();
    for layer in &mut model.model.encoder.layers {
        layer.self_attn.prefix = encoder.next().and_then(to_prefix);
    }
    let mut decoder = activations.decoder.into_iter();
    let mut cross = activations.cross.into_iter();
    for layer in &mut model.model.decoder.layers {
        layer.self_attn.prefix = decoder.next().and_then(to_prefix);
        layer.encoder_attn.prefix = cross.next().and_then(to_prefix);
    }
    model
}

/// One `(key, value)` pair per layer, `[len, d_model]` each.
type LayerKeyValues = Vec<(Tensor<2>, Tensor<2>)>;

/// Key/value activations per layer.
struct Activations {
    encoder: LayerKeyValues,
    decoder: LayerKeyValues,
    /// Empty unless cross-attention prefixes are wanted.
    cross: LayerKeyValues,
}

fn activations(model: &BartForConditionalGeneration, tokens: &[u32], cross: bool) -> Activations {
    // The frozen base: no prefixes of its own, no dropout, no autodiff graph.
    let mut frozen = model.valid();
    for layer in &mut frozen.model.encoder.layers {
        layer.self_attn.prefix = None;
    }
    for layer in &mut frozen.model.decoder.layers {
        layer.self_attn.prefix = None;
        layer.encoder_attn.prefix = None;
    }
    let chunk = frozen.config.max_position_embeddings.max(1);
    let chunks: Vec<Activations> = tokens
        .chunks(chunk)
        .map(|part| chunk_activations(&frozen, part, cross))
        .collect();
    let join = |select: fn(&Activations) -> &LayerKeyValues| {
        let layers = chunks.first().map_or(0, |c| select(c).len());
        (0..layers)
            .map(|i| {
                let keys = chunks.iter().map(|c| select(c)[i].0.clone()).collect();
                let values = chunks.iter().map(|c| select(c)[i].1.clone()).collect();
                (Tensor::cat(keys, 0), Tensor::cat(values, 0))
            })
            .collect()
    };
    Activations {
        encoder: join(|a| &a.encoder),
        decoder: join(|a| &a.decoder),
        cross: join(|a| &a.cross),
    }
}

/// One sequence of at most `max_position_embeddings` tokens through encoder and decoder.
fn chunk_activations(
    model: &BartForConditionalGeneration,
    tokens: &[u32],
    cross: bool,
) -> Activations {
    let device = model.device();
    let len = tokens.len();
    let ids = Tensor::<2, Int>::from_data(
        TensorData::new(tokens.iter().map(|&t| t as i64).collect(), [1, len]),
        &device,
    );
    let config: &BartConfig = &model.config;
    let shared = &model.model.shared;
    let flat = |t: Tensor<3>| t.reshape([len, config.d_model]);

    let encoder = &model.model.encoder;
    let mut hidden = encoder.layernorm_embedding.forward(
        shared.forward(ids.clone()).mul_scalar(encoder.embed_scale)
            + positions(&encoder.embed_positions, 0, len),
    );
    let mut encoder_kv = Vec::with_capacity(encoder.layers.len());
    for layer in &encoder.layers {
        let attn = &layer.self_attn;
        encoder_kv.push((
            flat(attn.k_proj.forward(hidden.clone())),
            flat(attn.v_proj.forward(hidden.clone())),
        ));
        hidden = layer.forward(hidden, None);
    }
    let encoder_out = hidden;

    let decoder = &model.model.decoder;
    let mut hidden = decoder.layernorm_embedding.forward(
        shared.forward(ids).mul_scalar(decoder.embed_scale)
            + positions(&decoder.embed_positions, 0, len),
    );
    let self_bias = causal_bias(len, 0, &device);
    let mut decoder_kv = Vec::with_capacity(decoder.layers.len());
    let mut cross_kv = Vec::new();
    for layer in &decoder.layers {
        let attn = &layer.self_attn;
        decoder_kv.push((
            flat(attn.k_proj.forward(hidden.clone())),
            flat(attn.v_proj.forward(hidden.clone())),
        ));
        if cross {
            let attn = &layer.encoder_attn;
            cross_kv.push((
                flat(attn.k_proj.forward(encoder_out.clone())),
                flat(attn.v_proj.forward(encoder_out.clone())),
            ));
        }
        hidden = layer.forward(hidden, self_bias.clone(), &encoder_out, None, None);
    }
    Activations {
        encoder: encoder_kv,
        decoder: decoder_kv,
        cross: cross_kv,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Preset;

    #[test]
    fn most_frequent_tokens_rank_by_count_then_id() {
        let sequences = vec![vec![0, 7, 5, 5, 2], vec![9, 7, 5, 1, 1, 1], vec![9, 3]];
        assert_eq!(most_frequent_tokens(&sequences, 3, true), vec![5, 7, 9]);
        assert_eq!(most_frequent_tokens(&sequences, 2, false), vec![1, 5]);
        assert_eq!(most_frequent_tokens(&sequences, 10, true), vec![5, 7, 9]);
    }

    #[test]
    fn prefixes_are_the_models_own_keys_and_values_of_the_tokens() {
        let device = Device::default();
        let config = BartConfig {
            dropout: 0.0,
            ..BartConfig::preset(Preset::Tiny)
        };
        let base = BartForConditionalGeneration::new(&config, &device);
        let settings = PrefixSettings {
            len: 5,
            cross_attention: true,
            mlp_hidden: 0,
            ..PrefixSettings::default()
        };
        let tokens = [10, 11, 12];
        let model = init_prefix_from_tokens(base.clone(), &tokens, &settings, &device);

        // Layer 0 of the encoder sees the embedded tokens: its prefix is their projection.
        let ids = Tensor::<2, Int>::from_data([[10, 11, 12, 10, 11]], &device);
        let encoder = &base.model.encoder;
        let embedded = encoder.layernorm_embedding.forward(
            base.model.shared.forward(ids.clone()) + positions(&encoder.embed_positions, 0, 5),
        );
        let expected = encoder.layers[0]
            .self_attn
            .k_proj
            .forward(embedded)
            .reshape([5, config.d_model]);
        let prefix = model.model.encoder.layers[0]
            .self_attn
            .prefix
            .as_ref()
            .unwrap();
        assert_eq!(prefix.len(), 5);
        assert_eq!(prefix.key.val().into_data(), expected.into_data());

        // Cross-attention prefixes project the encoder's output of the same tokens.
        let encoded = base.encode(ids, None).hidden;
        let cross = model.model.decoder.layers[1]
            .encoder_attn
            .prefix
            .as_ref()
            .unwrap();
        let expected = base.model.decoder.layers[1]
            .encoder_attn
            .v_proj
            .forward(encoded)
            .reshape([5, config.d_model]);
        assert_eq!(cross.value.val().into_data(), expected.into_data());
        for layer in &model.model.decoder.layers {
            assert_eq!(layer.self_attn.prefix.as_ref().unwrap().len(), 5);
        }
    }

    #[test]
    fn a_prefix_mlp_starts_from_the_tokens_embeddings() {
        use crate::strategy::Method;
        let device = Device::default();
        let config = BartConfig::preset(Preset::Tiny);
        let settings = PrefixSettings {
            len: 4,
            mlp_hidden: 8,
            ..PrefixSettings::default()
        };
        let model = settings.attach(BartForConditionalGeneration::new(&config, &device), &device);
        let model = init_prefix_from_tokens(model, &[10, 11, 12], &settings, &device);
        let embedding = model.prefix_mlp.as_ref().unwrap().embedding.val();
        let shared = model.model.shared.weight.val();
        let scale = config.embed_scale() as f32;
        let d = config.d_model;
        let got: Vec<f32> = embedding.into_data().try_to_vec::<f32>().unwrap();
        let table: Vec<f32> = shared.into_data().try_to_vec::<f32>().unwrap();
        // Rows cycle through the tokens: 10, 11, 12, 10.
        for (row, token) in [10usize, 11, 12, 10].into_iter().enumerate() {
            let want: Vec<f32> = table[token * d..(token + 1) * d]
                .iter()
                .map(|v| v * scale)
                .collect();
            assert_eq!(&got[row * d..(row + 1) * d], want.as_slice(), "row {row}");
        }
        assert!(model.attentions().iter().all(|a| a.prefix.is_none()));
    }
}
