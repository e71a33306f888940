//! Parameter initialisation as HF `BartPreTrainedModel._init_weights` does it: weights
//! N(0, init_std), biases zero, layer norms one/zero, the padding row of the token embedding zero.
//!
//! Parameters are created lazily by burn, so building a model only to load a checkpoint into it
//! never draws the random values.

use burn::module::Param;
use burn::nn::{Embedding, Initializer, LayerNorm, LayerNormConfig, Linear, LinearConfig};
use burn::prelude::*;

/// A `Linear` with weight `[d_in, d_out]` ~ N(0, std) and a zero bias.
pub fn linear(d_in: usize, d_out: usize, std: f64, device: &Device) -> Linear {
    let weight = LinearConfig::new(d_in, d_out)
        .with_bias(false)
        .with_initializer(Initializer::Normal { mean: 0.0, std })
        .init(device)
        .weight;
    Linear {
        weight,
        bias: Some(Initializer::Zeros.init([d_out], device)),
    }
}

/// An embedding table `[rows, d_model]` ~ N(0, std), with row `padding_idx` zero if given.
pub fn embedding(
    rows: usize,
    d_model: usize,
    std: f64,
    padding_idx: Option<usize>,
    device: &Device,
) -> Embedding {
    let weight: Param<Tensor<2>> =
        Initializer::Normal { mean: 0.0, std }.init([rows, d_model], device);
    let weight = match padding_idx {
        Some(pad) => weight.init_mapper(move |w| {
            let device = w.device();
            w.slice_assign(
                [pad..pad + 1, 0..d_model],
                Tensor::zeros([1, d_model], &device),
            )
        }),
        None => weight,
    };
    Embedding { weight }
}

/// HF's `nn.LayerNorm(d_model)`: eps 1e-5, gamma one, beta zero.
pub fn layer_norm(d_model: usize, device: &Device) -> LayerNorm {
    LayerNormConfig::new(d_model)
        .with_epsilon(1e-5)
        .init(device)
}
