//! Our BART against HF `transformers` on the `fixtures/hf-bart-tiny` checkpoint (made by
//! `fixtures/hf-bart-tiny/make.py`): same encoder output and logits within 1e-4, the same greedy
//! and beam-5 generations, and a checkpoint that survives load → save → load bit for bit.
//! The backend is flex by default; `TAILOR_TEST_BACKEND=tch` (see `make test-tch`) runs the same
//! tests on libtorch.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use burn::prelude::*;
use tailor::generate::{EarlyStopping, GenerationConfig, generate};
use tailor::model::hf::{load_dir, read_tensors, save_dir};
use tailor::model::params::with_prefixes;
use tailor::model::{
    Backend, BartConfig, BartForConditionalGeneration, Preset, shift_tokens_right,
};

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/hf-bart-tiny")
}

fn device() -> Device {
    let backend = match std::env::var("TAILOR_TEST_BACKEND").as_deref() {
        Ok("tch") => Backend::Tch,
        _ => Backend::Flex,
    };
    backend.device(false).expect("test backend compiled in")
}

struct Expected {
    tensors: BTreeMap<String, TensorData>,
}

impl Expected {
    fn load() -> Self {
        Self {
            tensors: read_tensors(&fixture().join("expected.safetensors")).unwrap(),
        }
    }

    fn ids(&self, name: &str, device: &Device) -> Tensor<2, Int> {
        Tensor::from_data(self.tensors[name].clone(), device)
    }

    fn floats<const D: usize>(&self, name: &str, device: &Device) -> Tensor<D> {
        Tensor::from_data(self.tensors[name].clone(), device)
    }
}

fn max_abs_diff<const D: usize>(a: Tensor<D>, b: Tensor<D>) -> f32 {
    (a - b).abs().max().into_scalar::<f32>()
}

#[test]
fn our_encoder_output_and_logits_equal_transformers_within_1e_4() {
    let device = device();
    let model = load_dir(&fixture(), &device).unwrap();
    let expected = Expected::load();
    let input_ids = expected.ids("input_ids", &device);
    let mask = expected.ids("attention_mask", &device);
    let decoder_input_ids = expected.ids("decoder_input_ids", &device);

    let encoded = model.encode(input_ids, Some(mask));
    let encoder_diff = max_abs_diff(
        encoded.hidden.clone(),
        expected.floats::<3>("encoder_last_hidden_state", &device),
    );
    assert!(
        encoder_diff < 1e-4,
        "encoder output differs by {encoder_diff}"
    );

    let logits = model.decode(&encoded, decoder_input_ids, None);
    let diff = max_abs_diff(logits, expected.floats::<3>("logits", &device));
    assert!(diff < 1e-4, "logits differ by {diff}");
}

#[test]
fn cached_decoding_equals_the_full_forward() {
    let device = device();
    let model = load_dir(&fixture(), &device).unwrap();
    let expected = Expected::load();
    let encoded = model.encode(
        expected.ids("input_ids", &device),
        Some(expected.ids("attention_mask", &device)),
    );
    let decoder_input_ids = expected.ids("decoder_input_ids", &device);
    let [batch, len] = decoder_input_ids.dims();
    let full = model.decode(&encoded, decoder_input_ids.clone(), None);
    let mut cache = model.new_cache();
    for t in 0..len {
        let step = model.decode(
            &encoded,
            decoder_input_ids.clone().slice([0..batch, t..t + 1]),
            Some(&mut cache),
        );
        let [_, _, vocab] = step.dims();
        let diff = max_abs_diff(step, full.clone().slice([0..batch, t..t + 1, 0..vocab]));
        assert!(
            diff < 1e-5,
            "step {t} differs from the full forward by {diff}"
        );
    }
}

fn generations() -> serde_json::Value {
    let text = std::fs::read_to_string(fixture().join("generations.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn rows(value: &serde_json::Value) -> Vec<Vec<u32>> {
    serde_json::from_value(value.clone()).unwrap()
}

#[test]
fn greedy_search_equals_transformers() {
    let device = device();
    let model = load_dir(&fixture(), &device).unwrap();
    let expected = Expected::load();
    let reference = &generations()["greedy"];
    let config = GenerationConfig {
        max_length: reference["max_length"].as_u64().unwrap() as usize,
        min_length: reference["min_length"].as_u64().unwrap() as usize,
        ..GenerationConfig::for_model(&model)
    };
    let generated = generate(
        &model,
        expected.ids("input_ids", &device),
        Some(expected.ids("attention_mask", &device)),
        &config,
    )
    .unwrap();
    assert_eq!(generated.sequences, rows(&reference["sequences"]));
}

#[test]
fn beam_search_top_5_equals_transformers_with_scores() {
    let device = device();
    let model = load_dir(&fixture(), &device).unwrap();
    let expected = Expected::load();
    let reference = &generations()["beam"];
    let early_stopping = match reference["early_stopping"].as_bool() {
        Some(true) => EarlyStopping::True,
        Some(false) => EarlyStopping::False,
        None => EarlyStopping::Never,
    };
    let config = GenerationConfig {
        max_length: reference["max_length"].as_u64().unwrap() as usize,
        min_length: reference["min_length"].as_u64().unwrap() as usize,
        num_beams: reference["num_beams"].as_u64().unwrap() as usize,
        num_return_sequences: reference["num_return_sequences"].as_u64().unwrap() as usize,
        length_penalty: reference["length_penalty"].as_f64().unwrap() as f32,
        early_stopping,
        ..GenerationConfig::for_model(&model)
    };
    let generated = generate(
        &model,
        expected.ids("input_ids", &device),
        Some(expected.ids("attention_mask", &device)),
        &config,
    )
    .unwrap();
    assert_eq!(generated.sequences, rows(&reference["sequences"]));
    let scores: Vec<f32> = serde_json::from_value(reference["sequences_scores"].clone()).unwrap();
    for (row, (ours, theirs)) in generated.scores.iter().zip(&scores).enumerate() {
        assert!(
            (ours - theirs).abs() < 1e-4,
            "row {row}: score {ours} vs {theirs}"
        );
    }
}

#[test]
fn a_checkpoint_round_trips_bit_identically() {
    let device = device();
    let dir = tempfile::tempdir().unwrap();
    let model = load_dir(&fixture(), &device).unwrap();
    save_dir(&model, dir.path()).unwrap();
    // Every tensor of the HF file comes back with the same bytes.
    let original = read_tensors(&fixture().join("model.safetensors")).unwrap();
    let saved = read_tensors(&dir.path().join("model.safetensors")).unwrap();
    assert_eq!(
        original.keys().collect::<Vec<_>>(),
        saved.keys().collect::<Vec<_>>()
    );
    for (key, data) in &original {
        assert_eq!(data.as_bytes(), saved[key].as_bytes(), "{key} changed");
        assert_eq!(data.shape(), saved[key].shape(), "{key} changed shape");
    }
    let again = load_dir(dir.path(), &device).unwrap();
    let third = tempfile::tempdir().unwrap();
    save_dir(&again, third.path()).unwrap();
    assert_eq!(
        std::fs::read(dir.path().join("model.safetensors")).unwrap(),
        std::fs::read(third.path().join("model.safetensors")).unwrap()
    );
    assert_eq!(
        BartConfig::load(&dir.path().join("config.json")).unwrap(),
        BartConfig::load(&fixture().join("config.json")).unwrap()
    );
}

#[test]
fn loading_names_missing_unknown_and_misshapen_keys() {
    let device = device();
    let dir = tempfile::tempdir().unwrap();
    let mut tensors = read_tensors(&fixture().join("model.safetensors")).unwrap();
    tensors.remove("model.decoder.layers.1.fc1.bias");
    tensors.insert(
        "model.encoder.layers.0.self_attn.rotary.weight".into(),
        TensorData::new(vec![0f32; 4], [2, 2]),
    );
    tensors.insert(
        "model.encoder.layers.1.fc2.weight".into(),
        TensorData::new(vec![0f32; 32 * 63], [32, 63]),
    );
    let views: Vec<(String, safetensors::tensor::TensorView<'_>)> = tensors
        .iter()
        .map(|(k, d)| {
            let shape = d.shape().to_vec();
            let dtype = if d.dtype() == burn::tensor::DType::I64 {
                safetensors::Dtype::I64
            } else {
                safetensors::Dtype::F32
            };
            (
                k.clone(),
                safetensors::tensor::TensorView::new(dtype, shape, d.as_bytes()).unwrap(),
            )
        })
        .collect();
    safetensors::serialize_to_file(views, None, &dir.path().join("model.safetensors")).unwrap();
    std::fs::copy(
        fixture().join("config.json"),
        dir.path().join("config.json"),
    )
    .unwrap();
    let err = format!("{:#}", load_dir(dir.path(), &device).unwrap_err());
    assert!(
        err.contains("missing key model.decoder.layers.1.fc1.bias"),
        "{err}"
    );
    assert!(
        err.contains("unknown key model.encoder.layers.0.self_attn.rotary.weight"),
        "{err}"
    );
    assert!(
        err.contains("shape mismatch for model.encoder.layers.1.fc2.weight"),
        "{err}"
    );
}

#[test]
fn a_fresh_model_saves_in_hf_layout_and_loads_back() {
    let device = device();
    let config = BartConfig::preset(Preset::Tiny);
    let model = BartForConditionalGeneration::new(&config, &device);
    let dir = tempfile::tempdir().unwrap();
    save_dir(&model, dir.path()).unwrap();
    let saved = read_tensors(&dir.path().join("model.safetensors")).unwrap();
    assert_eq!(saved.len(), 92);
    let shared = saved["model.shared.weight"].try_to_vec::<f32>().unwrap();
    let pad = config.pad_token_id as usize * config.d_model;
    assert!(
        shared[pad..pad + config.d_model].iter().all(|v| *v == 0.0),
        "pad row is zero"
    );
    assert_eq!(
        saved["model.encoder.layers.0.fc1.weight"].shape().to_vec(),
        vec![64, 32]
    );
    let back = load_dir(dir.path(), &device).unwrap();
    let ids = Tensor::<2, Int>::from_data([[0, 5, 6, 2]], &device);
    let dec = Tensor::<2, Int>::from_data([[2, 0, 5]], &device);
    let diff = max_abs_diff(
        model.forward(ids.clone(), None, dec.clone()),
        back.forward(ids, None, dec),
    );
    // Same weights (bit for bit, see the round-trip test); libtorch may pick another matmul
    // kernel for the loaded (transposed-view) weights, hence a rounding-level tolerance.
    assert!(diff < 1e-6, "reloaded model differs by {diff}");
}

fn logits_of_row(
    model: &BartForConditionalGeneration,
    expected: &Expected,
    row: usize,
    device: &Device,
) -> Tensor<3> {
    // Example `row` alone, without its padding.
    let mask = expected.ids("attention_mask", device);
    let [_, src] = mask.dims();
    let len = mask
        .clone()
        .slice([row..row + 1, 0..src])
        .sum()
        .into_scalar::<i64>() as usize;
    let ids = expected
        .ids("input_ids", device)
        .slice([row..row + 1, 0..len]);
    let dec = expected.ids("decoder_input_ids", device);
    let [_, tgt] = dec.dims();
    model.forward(ids, None, dec.slice([row..row + 1, 0..tgt]))
}

#[test]
fn prefixes_extend_keys_and_masks_on_every_layer() {
    let device = device();
    let base = load_dir(&fixture(), &device).unwrap();
    let expected = Expected::load();
    device.seed(7);
    let model = with_prefixes(base.clone(), 3, true, &device);
    let input_ids = expected.ids("input_ids", &device);
    let mask = expected.ids("attention_mask", &device);
    let dec = expected.ids("decoder_input_ids", &device);
    let batched = model.forward(input_ids.clone(), Some(mask.clone()), dec.clone());
    let plain = base.forward(input_ids, Some(mask), dec);
    assert!(
        max_abs_diff(batched.clone(), plain) > 1e-4,
        "prefixes change the output"
    );

    // Padding is still masked with prefixes prepended: a padded example equals itself alone.
    let [_, tgt, vocab] = batched.dims();
    let alone = logits_of_row(&model, &expected, 2, &device);
    let diff = max_abs_diff(alone, batched.slice([2..3, 0..tgt, 0..vocab]));
    assert!(
        diff < 1e-5,
        "padded row differs from the example alone by {diff}"
    );

    // The causal mask is extended too: cached decoding equals the full forward.
    let encoded = model.encode(
        expected.ids("input_ids", &device),
        Some(expected.ids("attention_mask", &device)),
    );
    let dec = expected.ids("decoder_input_ids", &device);
    let [batch, _] = dec.dims();
    let full = model.decode(&encoded, dec.clone(), None);
    let mut cache = model.new_cache();
    for t in 0..tgt {
        let step = model.decode(
            &encoded,
            dec.clone().slice([0..batch, t..t + 1]),
            Some(&mut cache),
        );
        let diff = max_abs_diff(step, full.clone().slice([0..batch, t..t + 1, 0..vocab]));
        assert!(diff < 1e-5, "step {t} differs by {diff}");
    }
}

#[test]
fn adamw_steps_reduce_the_loss_and_frozen_parameters_stay_put() {
    let device = device().autodiff();
    device.seed(3);
    let config = BartConfig {
        dropout: 0.0,
        ..BartConfig::preset(Preset::Tiny)
    };
    // Prefix tuning in miniature: the base frozen, only the prefixes train.
    let base = BartForConditionalGeneration::new(&config, &device).no_grad();
    let mut model = with_prefixes(base, 2, false, &device);
    let ids = Tensor::<2, Int>::from_data([[0, 5, 6, 7, 8, 2], [0, 9, 10, 2, 1, 1]], &device);
    let mask = ids.clone().not_equal_elem(1).int();
    let labels = Tensor::<2, Int>::from_data([[0, 8, 7, 2], [0, 10, 9, 2]], &device);
    let dec = shift_tokens_right(labels.clone(), 1, 2);
    let targets = labels.reshape([8]);
    let loss_fn = burn::nn::loss::CrossEntropyLoss::new(None, &device);
    let mut optim = burn::optim::AdamWConfig::new()
        .with_epsilon(1e-8)
        .with_weight_decay(0.0)
        .init();
    let fc1_before = model.model.decoder.layers[1].fc1.weight.val().into_data();
    let mut losses = Vec::new();
    for _ in 0..15 {
        let logits = model.forward(ids.clone(), Some(mask.clone()), dec.clone());
        let loss = loss_fn.forward(logits.reshape([8, config.vocab_size]), targets.clone());
        losses.push(loss.clone().into_scalar::<f32>());
        let grads = burn::optim::GradientsParams::from_grads(loss.backward(), &model);
        model = optim.step(5e-2, model, grads);
    }
    // A random tiny BART barely listens to a 2-vector prefix, but the prefix alone must pull
    // the loss down at every step (no dropout: deterministic).
    assert!(
        losses.windows(2).all(|w| w[1] < w[0]) && losses[14] < losses[0] - 0.01,
        "loss did not fall: {losses:?}"
    );
    let fc1_after = model.model.decoder.layers[1].fc1.weight.val().into_data();
    assert_eq!(fc1_before, fc1_after, "a frozen weight moved");
}

#[test]
fn the_cli_generates_transformers_top_5_from_token_ids() {
    let expected = Expected::load();
    let ids = &expected.tensors["input_ids"];
    let mask = &expected.tensors["attention_mask"];
    let [_, src] = ids.shape().dims::<2>();
    let ids: Vec<i64> = ids.try_to_vec().unwrap();
    let mask: Vec<i64> = mask.try_to_vec().unwrap();
    // Input 1 (padded in the fixture batch) given alone, without its padding.
    let row: Vec<String> = (0..src)
        .filter(|&i| mask[src + i] == 1)
        .map(|i| ids[src + i].to_string())
        .collect();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_tailor"))
        .args(["generate", "--model"])
        .arg(fixture())
        .args(["--input-ids", &row.join(" "), "--max-length", "10"])
        .args(["--num-beams", "5", "--num-return-sequences", "5"])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let lines: Vec<serde_json::Value> = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let reference = rows(&generations()["beam"]["sequences"]);
    assert_eq!(lines.len(), 5);
    for (rank, line) in lines.iter().enumerate() {
        assert_eq!(line["rank"], rank + 1);
        let ids: Vec<u32> = serde_json::from_value(line["ids"].clone()).unwrap();
        // Alone, the rows are padded only to this input's own longest beam.
        let theirs = &reference[5 + rank];
        assert_eq!(ids[..], theirs[..ids.len()], "rank {}", rank + 1);
        assert!(theirs[ids.len()..].iter().all(|&t| t == 1));
    }
}

#[test]
fn the_cli_initialises_and_converts_models_losslessly() {
    let dir = tempfile::tempdir().unwrap();
    let tailor = env!("CARGO_BIN_EXE_tailor");
    let init = std::process::Command::new(tailor)
        .args(["model", "init", "--preset", "tiny", "--out"])
        .arg(dir.path().join("fresh"))
        .output()
        .unwrap();
    assert!(
        init.status.success(),
        "{}",
        String::from_utf8_lossy(&init.stderr)
    );
    let convert = std::process::Command::new(tailor)
        .args(["model", "convert", "--model"])
        .arg(fixture())
        .arg("--out")
        .arg(dir.path().join("converted"))
        .output()
        .unwrap();
    assert!(
        convert.status.success(),
        "{}",
        String::from_utf8_lossy(&convert.stderr)
    );
    let report = String::from_utf8(convert.stdout).unwrap();
    assert!(report.contains("92 tensors identical"), "{report}");
    let device = device();
    load_dir(&dir.path().join("fresh"), &device).unwrap();
}

/// Our generation with a fixture key's settings (`greedy_*` or `beam_*`), checked against
/// transformers: sequences exactly, beam scores within 1e-4.
fn assert_generation_equals_transformers(key: &str) {
    let device = device();
    let model = load_dir(&fixture(), &device).unwrap();
    let expected = Expected::load();
    let reference = &generations()[key];
    let int = |name: &str, default: u64| reference[name].as_u64().unwrap_or(default) as usize;
    let num_beams = int("num_beams", 1);
    let config = GenerationConfig {
        max_length: int("max_length", 20),
        min_length: int("min_length", 0),
        num_beams,
        num_return_sequences: int("num_return_sequences", 1),
        length_penalty: reference["length_penalty"].as_f64().unwrap_or(1.0) as f32,
        early_stopping: EarlyStopping::False,
        no_repeat_ngram_size: int("no_repeat_ngram_size", 0),
        repetition_penalty: reference["repetition_penalty"].as_f64().unwrap_or(1.0) as f32,
        ..GenerationConfig::for_model(&model)
    };
    assert!(!reference["early_stopping"].as_bool().unwrap_or(false));
    let generated = generate(
        &model,
        expected.ids("input_ids", &device),
        Some(expected.ids("attention_mask", &device)),
        &config,
    )
    .unwrap();
    assert_eq!(generated.sequences, rows(&reference["sequences"]), "{key}");
    if num_beams > 1 {
        let scores: Vec<f32> =
            serde_json::from_value(reference["sequences_scores"].clone()).unwrap();
        assert_eq!(generated.scores.len(), scores.len());
        for (row, (ours, theirs)) in generated.scores.iter().zip(&scores).enumerate() {
            assert!(
                (ours - theirs).abs() < 1e-4,
                "{key} row {row}: score {ours} vs {theirs}"
            );
        }
    }
}

#[test]
fn greedy_with_no_repeat_ngram_size_1_equals_transformers() {
    assert_generation_equals_transformers("greedy_nrng1");
}

#[test]
fn beam_search_with_no_repeat_ngram_size_1_equals_transformers() {
    assert_generation_equals_transformers("beam_nrng1");
}

#[test]
fn greedy_with_no_repeat_ngram_size_2_equals_transformers() {
    assert_generation_equals_transformers("greedy_nrng2");
}

#[test]
fn beam_search_with_no_repeat_ngram_size_2_equals_transformers() {
    assert_generation_equals_transformers("beam_nrng2");
}

#[test]
fn greedy_with_repetition_penalty_equals_transformers() {
    assert_generation_equals_transformers("greedy_rep15");
}

#[test]
fn beam_search_with_repetition_penalty_equals_transformers() {
    assert_generation_equals_transformers("beam_rep15");
}

#[test]
fn the_fixture_generation_config_json_is_applied() {
    let device = device();
    let model = load_dir(&fixture(), &device).unwrap();
    let mut config = GenerationConfig {
        num_beams: 5,
        max_length: 128,
        no_repeat_ngram_size: 3,
        repetition_penalty: 2.0,
        forced_eos_token_id: Some(2),
        ..GenerationConfig::for_model(&model)
    };
    let text = std::fs::read_to_string(fixture().join("generation_config.json")).unwrap();
    config.apply_hf_generation_config(&serde_json::from_str(&text).unwrap());
    assert_eq!(config.num_beams, 1);
    assert_eq!(config.max_length, 10);
    assert_eq!(config.no_repeat_ngram_size, 0);
    assert_eq!(config.repetition_penalty, 1.0);
    assert_eq!(config.decoder_start_token_id, 2);
    // Absent from the file: kept.
    assert_eq!(config.forced_eos_token_id, Some(2));
}

/// The tokens of a generated row up to its EOS, else without its trailing padding.
fn up_to_eos(row: &[u32], eos: u32, pad: u32) -> &[u32] {
    match row.iter().skip(1).position(|&t| t == eos) {
        Some(at) => &row[..at + 2],
        None => &row[..row.iter().rposition(|&t| t != pad).map_or(0, |at| at + 1)],
    }
}

#[test]
fn stop_loops_ends_each_hypothesis_at_its_first_loop_and_nowhere_else() {
    use tailor::generate::processors::ends_in_loop;
    let device = device();
    let model = load_dir(&fixture(), &device).unwrap();
    let expected = Expected::load();
    let max_length = model.config.max_position_embeddings.min(64);
    let (eos, pad) = (model.config.eos_token_id, model.config.pad_token_id);
    let repeats = 3;
    for num_beams in [1, 4] {
        // EOS forbidden: the fixture's short outputs run on to the limit.
        let plain = GenerationConfig {
            max_length,
            min_length: max_length,
            num_beams,
            num_return_sequences: num_beams,
            ..GenerationConfig::for_model(&model)
        };
        let stopping = GenerationConfig {
            stop_loops: repeats,
            ..plain.clone()
        };
        let run = |config: &GenerationConfig| {
            generate(
                &model,
                expected.ids("input_ids", &device),
                Some(expected.ids("attention_mask", &device)),
                config,
            )
            .unwrap()
        };
        let (free, stopped) = (run(&plain), run(&stopping));
        let first_loop = |row: &[u32]| (2..=row.len()).find(|&n| ends_in_loop(&row[..n], repeats));
        // The random fixture model loops: otherwise this test would show nothing.
        assert!(
            free.sequences
                .iter()
                .any(|row| first_loop(up_to_eos(row, eos, pad)).is_some()),
            "beams {num_beams}: no free-running output loops"
        );
        let mut ended_in_loop = 0;
        for row in &stopped.sequences {
            let row = up_to_eos(row, eos, pad);
            // A hypothesis ends at its first loop, EOS, or the length limit; never runs past.
            match first_loop(row) {
                Some(n) => {
                    assert_eq!(n, row.len(), "beams {num_beams}: ran past a loop: {row:?}");
                    ended_in_loop += 1;
                }
                None => assert!(row.last() == Some(&eos) || row.len() == max_length),
            }
        }
        assert!(
            ended_in_loop > 0,
            "beams {num_beams}: no output was stopped"
        );
        if num_beams == 1 {
            // Greedy: each row is the free run cut at its first loop.
            for (free_row, row) in free.sequences.iter().zip(&stopped.sequences) {
                let free_row = up_to_eos(free_row, eos, pad);
                let cut = first_loop(free_row).unwrap_or(free_row.len());
                assert_eq!(up_to_eos(row, eos, pad), &free_row[..cut]);
            }
        }
    }
}

#[test]
fn every_weight_of_a_full_model_gets_a_gradient_the_encoder_included() {
    let device = device().autodiff();
    device.seed(5);
    let config = BartConfig {
        dropout: 0.0,
        ..BartConfig::preset(Preset::Tiny)
    };
    // As the baseline and Custom train it: every parameter selected by the strategy.
    let model = tailor::strategy::Strategy::Custom
        .freeze(BartForConditionalGeneration::new(&config, &device));
    let ids = Tensor::<2, Int>::from_data([[0, 5, 6, 7, 8, 2], [0, 9, 10, 2, 1, 1]], &device);
    let mask = ids.clone().not_equal_elem(1).int();
    let labels = Tensor::<2, Int>::from_data([[0, 8, 7, 2], [0, 10, 9, 2]], &device);
    let dec = shift_tokens_right(labels.clone(), 1, 2);
    let logits = model.forward(ids, Some(mask), dec);
    let loss = burn::nn::loss::CrossEntropyLoss::new(None, &device)
        .forward(logits.reshape([8, config.vocab_size]), labels.reshape([8]));
    let grads = burn::optim::GradientsParams::from_grads(loss.backward(), &model);
    let norm = |g: Option<Tensor<2>>| g.map(|g| g.square().sum().into_scalar::<f32>().sqrt());
    let encoder = &model.model.encoder.layers[0];
    let decoder = &model.model.decoder.layers[0];
    for (name, id) in [
        (
            "encoder.layers.0.self_attn.v_proj",
            encoder.self_attn.v_proj.weight.id,
        ),
        ("encoder.layers.0.fc1", encoder.fc1.weight.id),
        (
            "decoder.layers.0.encoder_attn.v_proj",
            decoder.encoder_attn.v_proj.weight.id,
        ),
        (
            "decoder.layers.0.encoder_attn.k_proj",
            decoder.encoder_attn.k_proj.weight.id,
        ),
        (
            "decoder.layers.0.self_attn.v_proj",
            decoder.self_attn.v_proj.weight.id,
        ),
    ] {
        let g = norm(grads.get::<2>(id));
        assert!(g.is_some_and(|g| g > 1e-6), "{name}: gradient {g:?}");
    }
}

#[test]
fn xavier_attention_init_draws_fairseqs_scale_and_is_saved_only_when_chosen() {
    use tailor::model::AttentionInit;
    let device = device();
    device.seed(7);
    let std = |t: Tensor<2>| {
        let n = t.dims().iter().product::<usize>() as f32;
        let mean = t.clone().mean().into_scalar::<f32>();
        ((t - mean).square().sum().into_scalar::<f32>() / n).sqrt()
    };
    let small = BartConfig::preset(Preset::Small);
    for (init, qkv, out) in [
        (AttentionInit::Hf, 0.02f32, 0.02f32),
        (
            AttentionInit::Xavier,
            (0.5f32 / 256.0).sqrt(),
            (1.0f32 / 256.0).sqrt(),
        ),
    ] {
        let config = BartConfig {
            attention_init: init,
            ..small.clone()
        };
        let model = BartForConditionalGeneration::new(&config, &device);
        let cross = &model.model.decoder.layers[0].encoder_attn;
        for (name, got, want) in [
            ("q_proj", std(cross.q_proj.weight.val()), qkv),
            ("out_proj", std(cross.out_proj.weight.val()), out),
            (
                "fc1",
                std(model.model.decoder.layers[0].fc1.weight.val()),
                0.02,
            ),
        ] {
            assert!(
                (got / want - 1.0).abs() < 0.05,
                "{init:?} {name}: std {got}, want {want}"
            );
        }
        let json = serde_json::to_value(&config).unwrap();
        assert_eq!(
            json.get("tailor_attention_init").is_some(),
            init == AttentionInit::Xavier,
            "{json}"
        );
        let back: BartConfig = serde_json::from_value(json).unwrap();
        assert_eq!(back.attention_init, init);
    }
}
