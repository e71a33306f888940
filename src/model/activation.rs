//! The feed-forward activation named by `config.json`'s `activation_function`.
//!
//! HF `transformers` looks the name up in `ACT2FN` (`activations.py`); this is the part of that
//! table BART-family checkpoints use, each computed as HF computes it so that logits keep
//! parity (`tests/suite/model_activations.rs` on `fixtures/hf-bart-act/`). Other `ACT2FN` entries
//! (`mish`, `relu6`, `gelu_10`, …) are rejected by name rather than approximated.

use std::fmt;
use std::str::FromStr;

use anyhow::{Error, bail};
use burn::prelude::*;
use burn::tensor::activation::{gelu, gelu_approximate, relu, sigmoid, silu};

/// An activation of HF's `ACT2FN`, as the encoder and decoder feed-forward blocks apply it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    /// `gelu`: exact GELU, `x · Φ(x)` with the erf-based normal CDF (`nn.functional.gelu`).
    Gelu,
    /// `gelu_new` and `gelu_pytorch_tanh`: the tanh approximation
    /// `0.5 · x · (1 + tanh(√(2/π) · (x + 0.044715 · x³)))` (GPT-2's GELU). HF computes the
    /// first by that formula and the second with PyTorch's `approximate="tanh"` kernel; the two
    /// differ only by float rounding.
    GeluTanh,
    /// `gelu_fast`: the same tanh approximation written as
    /// `0.5 · x · (1 + tanh(0.7978845608 · x · (1 + 0.044715 · x²)))`, with HF's rounded constant.
    GeluFast,
    /// `quick_gelu`: `x · sigmoid(1.702 · x)` (CLIP's approximation).
    QuickGelu,
    /// `relu`: `max(0, x)`.
    Relu,
    /// `silu` and `swish`: `x · sigmoid(x)`.
    Silu,
    /// `tanh`.
    Tanh,
}

impl Activation {
    /// The `activation_function` values we accept, each with the activation HF maps it to.
    pub const NAMES: [(&'static str, Activation); 9] = [
        ("gelu", Activation::Gelu),
        ("gelu_new", Activation::GeluTanh),
        ("gelu_pytorch_tanh", Activation::GeluTanh),
        ("gelu_fast", Activation::GeluFast),
        ("quick_gelu", Activation::QuickGelu),
        ("relu", Activation::Relu),
        ("silu", Activation::Silu),
        ("swish", Activation::Silu),
        ("tanh", Activation::Tanh),
    ];

    /// Apply the activation element-wise.
    pub fn forward<const D: usize>(self, x: Tensor<D>) -> Tensor<D> {
        match self {
            Activation::Gelu => gelu(x),
            Activation::GeluTanh => gelu_approximate(x),
            Activation::GeluFast => {
                // HF's `FastGELUActivation`: 0.7978845608 is √(2/π) rounded to 10 digits.
                let inner = x.clone() * (x.clone().square() * 0.044715 + 1.0) * 0.7978845608;
                x * (inner.tanh() + 1.0) * 0.5
            }
            Activation::QuickGelu => x.clone() * sigmoid(x * 1.702),
            Activation::Relu => relu(x),
            Activation::Silu => silu(x),
            Activation::Tanh => x.tanh(),
        }
    }
}

impl FromStr for Activation {
    type Err = Error;

    /// Parse an `activation_function` value; an unknown one is an error that names it and lists
    /// the supported values.
    fn from_str(name: &str) -> Result<Self, Self::Err> {
        match Self::NAMES.iter().find(|(known, _)| *known == name) {
            Some(&(_, activation)) => Ok(activation),
            None => {
                let supported: Vec<&str> = Self::NAMES.iter().map(|(known, _)| *known).collect();
                bail!(
                    "activation_function is {name:?}; supported: {}",
                    supported.join(", ")
                )
            }
        }
    }
}

impl fmt::Display for Activation {
    /// The canonical `ACT2FN` name (the first of [`Activation::NAMES`] that maps to it).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (name, _) = Self::NAMES
            .iter()
            .find(|(_, activation)| activation == self)
            .expect("every activation has a name");
        f.write_str(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Points on both sides of zero, out to where the GELU variants visibly part.
    const POINTS: [f64; 5] = [-3.0, -1.0, -0.25, 0.5, 2.0];

    fn apply(activation: Activation) -> Vec<f32> {
        let device = Device::default();
        let x = Tensor::<1>::from_floats(POINTS.map(|p| p as f32), &device);
        activation.forward(x).into_data().try_into_vec().unwrap()
    }

    fn assert_close(activation: Activation, expected: impl Fn(f64) -> f64) {
        for (got, x) in apply(activation).into_iter().zip(POINTS) {
            let want = expected(x);
            assert!(
                (f64::from(got) - want).abs() < 1e-6,
                "{activation}({x}) = {got}, expected {want}"
            );
        }
    }

    fn sigmoid(x: f64) -> f64 {
        1.0 / (1.0 + (-x).exp())
    }

    fn gelu_tanh(x: f64) -> f64 {
        let c = (2.0 / std::f64::consts::PI).sqrt();
        0.5 * x * (1.0 + (c * (x + 0.044715 * x.powi(3))).tanh())
    }

    #[test]
    fn exact_gelu_uses_the_normal_cdf() {
        // x · Φ(x) at POINTS: Python's `x * 0.5 * (1 + math.erf(x / math.sqrt(2)))`.
        let expected = [
            -0.004_049_694_094_890_31,
            -0.158_655_253_931_457_07,
            -0.100_323_418_579_269_07,
            0.345_731_230_637_006_56,
            1.954_499_736_103_641_6,
        ];
        for ((got, want), x) in apply(Activation::Gelu)
            .into_iter()
            .zip(expected)
            .zip(POINTS)
        {
            assert!(
                (f64::from(got) - want).abs() < 1e-6,
                "gelu({x}) = {got}, expected {want}"
            );
        }
    }

    #[test]
    fn tanh_approximations_follow_their_formulas() {
        assert_close(Activation::GeluTanh, gelu_tanh);
        assert_close(Activation::GeluFast, |x| {
            0.5 * x * (1.0 + (x * 0.7978845608 * (1.0 + 0.044715 * x * x)).tanh())
        });
        // The approximation is close to exact GELU but not equal to it: at -3 it is off by
        // ~4e-4, which is why `gelu` and `gelu_new` are different activations.
        let exact = apply(Activation::Gelu);
        let approx = apply(Activation::GeluTanh);
        assert!((exact[0] - approx[0]).abs() > 1e-4);
    }

    #[test]
    fn sigmoid_gated_activations_follow_their_formulas() {
        assert_close(Activation::QuickGelu, |x| x * sigmoid(1.702 * x));
        assert_close(Activation::Silu, |x| x * sigmoid(x));
    }

    #[test]
    fn relu_and_tanh_are_the_plain_functions() {
        assert_close(Activation::Relu, |x| x.max(0.0));
        assert_close(Activation::Tanh, f64::tanh);
    }

    #[test]
    fn names_parse_as_hf_maps_them_and_unknown_names_are_listed() {
        assert_eq!("gelu".parse::<Activation>().unwrap(), Activation::Gelu);
        assert_eq!(
            "gelu_pytorch_tanh".parse::<Activation>().unwrap(),
            Activation::GeluTanh
        );
        assert_eq!("swish".parse::<Activation>().unwrap(), Activation::Silu);
        for (name, activation) in Activation::NAMES {
            assert_eq!(name.parse::<Activation>().unwrap(), activation);
        }
        let message = "mish".parse::<Activation>().unwrap_err().to_string();
        assert!(message.contains("\"mish\""), "{message}");
        assert!(message.contains("gelu_new") && message.contains("quick_gelu"));
        assert_eq!(Activation::GeluTanh.to_string(), "gelu_new");
    }
}
