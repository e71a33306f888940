//! Every supported `activation_function` against HF `transformers`, on `fixtures/hf-bart-act`
//! (made by `fixtures/hf-bart-act/make.py`): one tiny random BART whose weights are shared by
//! all activations, one `<activation>/config.json` each, so the logits differ by the activation
//! alone. Ours must equal transformers' within 1e-4 max-abs for each; the backend is flex unless
//! `TAILOR_TEST_BACKEND=tch`, as in `tests/model.rs`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use burn::prelude::*;
use tailor::model::hf::{load_weights, read_tensors};
use tailor::model::{Activation, Backend, BartConfig, BartForConditionalGeneration};

/// The parity bound, as in `tests/model.rs`.
const TOLERANCE: f32 = 1e-4;

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/hf-bart-act")
}

fn device() -> Device {
    let backend = match std::env::var("TAILOR_TEST_BACKEND").as_deref() {
        Ok("tch") => Backend::Tch,
        _ => Backend::Flex,
    };
    backend.device(false).expect("test backend compiled in")
}

/// The fixture's model with the `activation_function` of `<config_of>/config.json` (what
/// `hf::load_dir` does for a folder holding both files; the fixture stores the weights once).
fn load(config_of: &str, device: &Device) -> BartForConditionalGeneration {
    let config = BartConfig::load(&fixture().join(config_of).join("config.json")).unwrap();
    assert_eq!(config.activation_function, config_of);
    let model = BartForConditionalGeneration::new(&config, device);
    load_weights(model, &fixture().join("model.safetensors")).unwrap()
}

struct Expected(BTreeMap<String, TensorData>);

impl Expected {
    fn load() -> Self {
        Self(read_tensors(&fixture().join("expected.safetensors")).unwrap())
    }

    fn ids(&self, name: &str, device: &Device) -> Tensor<2, Int> {
        Tensor::from_data(self.0[name].clone(), device)
    }

    fn floats<const D: usize>(&self, name: &str, device: &Device) -> Tensor<D> {
        Tensor::from_data(self.0[name].clone(), device)
    }
}

/// Max-abs differences of our encoder output and logits from transformers' for `activation`,
/// the model configured with `config_of`'s activation.
fn diffs(config_of: &str, activation: &str, expected: &Expected, device: &Device) -> (f32, f32) {
    let model = load(config_of, device);
    let encoded = model.encode(
        expected.ids("input_ids", device),
        Some(expected.ids("attention_mask", device)),
    );
    let logits = model.decode(&encoded, expected.ids("decoder_input_ids", device), None);
    let max_abs = |a: Tensor<3>, b: Tensor<3>| (a - b).abs().max().into_scalar::<f32>();
    let encoder = max_abs(
        encoded.hidden,
        expected.floats(&format!("encoder_last_hidden_state.{activation}"), device),
    );
    let logits = max_abs(
        logits,
        expected.floats(&format!("logits.{activation}"), device),
    );
    (encoder, logits)
}

#[test]
fn every_supported_activation_gives_transformers_logits_within_1e_4() {
    let device = device();
    let expected = Expected::load();
    let mut failures = Vec::new();
    for (name, _) in Activation::NAMES {
        let (encoder, logits) = diffs(name, name, &expected, &device);
        println!("{name}: encoder output {encoder:.2e}, logits {logits:.2e}");
        if !(encoder < TOLERANCE && logits < TOLERANCE) {
            failures.push(format!("{name}: encoder {encoder}, logits {logits}"));
        }
    }
    assert!(
        failures.is_empty(),
        "differ from transformers: {failures:?}"
    );
}

#[test]
fn the_fixture_tells_exact_gelu_from_its_tanh_approximation() {
    // The closest pair of different activations: if our exact GELU were the approximation (or
    // the other way round) the parity test above would have to fail.
    let device = device();
    let expected = Expected::load();
    for (ours, theirs) in [("gelu", "gelu_new"), ("gelu_new", "gelu")] {
        let (_, logits) = diffs(ours, theirs, &expected, &device);
        println!("ours with {ours} vs transformers' {theirs}: logits {logits:.2e}");
        assert!(
            logits > 10.0 * TOLERANCE,
            "{ours} is within {logits} of transformers' {theirs}"
        );
    }
}
