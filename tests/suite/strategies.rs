//! The customization strategies (paper §3) as claims about parameters: each trains exactly the
//! set it declares (diffing every parameter around an AdamW step), frozen parameters get no
//! gradient, the trainable counts are Table 1's (computed by hand from the shapes), LoRA starts as the base model, and an adapter
//! saved from a customized model loads back onto its base with bit-identical logits, and only
//! onto its base.

use crate::common::perturb as perturb_common;
use perturb_common::perturb;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::Path;

use burn::module::{Module, ModuleVisitor, Param, ParamId};
use burn::optim::{AdamWConfig, GradientsParams};
use burn::prelude::*;
use tailor::model::adapter::{ADAPTER_INFO, PEFT_CONFIG, PEFT_KEY_PREFIX, PEFT_WEIGHTS};
use tailor::model::hf::{self, read_tensors};
use tailor::model::params::named_params;
use tailor::model::{
    Backend, BartConfig, BartForConditionalGeneration, Preset, shift_tokens_right,
};
use tailor::strategy::adapter::{load_adapter, read_info, save_adapter};
use tailor::strategy::prefix::init::init_prefix_from_tokens;
use tailor::strategy::{LoraSettings, PrefixSettings, Strategy, StrategyKind};

fn device() -> Device {
    Backend::Flex
        .device(false)
        .expect("flex is the default backend")
}

fn tiny() -> BartConfig {
    BartConfig::preset(Preset::Tiny)
}

/// Prefix settings at test size: `len` positions.
fn test_prefix(len: usize) -> PrefixSettings {
    PrefixSettings {
        len,
        ..PrefixSettings::default()
    }
}

/// LoRA at test size: rank 4, α 8 on q and v.
fn test_lora() -> LoraSettings {
    LoraSettings {
        rank: 4,
        alpha: 8.0,
        ..LoraSettings::default()
    }
}

/// The strategies at test size: a 4-position prefix, rank-4 LoRA on q and v.
fn strategy(kind: StrategyKind) -> Strategy {
    kind.configure(&test_prefix(4), &test_lora())
}

/// The prefix settings of a prefix strategy.
fn prefix_of(strategy: &Strategy) -> Option<&PrefixSettings> {
    match strategy {
        Strategy::Prefix { prefix } => Some(prefix),
        _ => None,
    }
}

/// Every strategy, plus prefix tuning with Li & Liang's MLP reparameterisation (hidden 16,
/// cross-attention prefixes too).
fn all_strategies() -> Vec<Strategy> {
    let mut strategies: Vec<Strategy> = StrategyKind::ALL.iter().map(|&k| strategy(k)).collect();
    strategies.push(Strategy::Prefix {
        prefix: PrefixSettings {
            mlp_hidden: 16,
            cross_attention: true,
            ..test_prefix(4)
        },
    });
    strategies
}

struct Batch {
    ids: Tensor<2, Int>,
    mask: Tensor<2, Int>,
    dec: Tensor<2, Int>,
    labels: Tensor<1, Int>,
}

fn batch(device: &Device) -> Batch {
    let ids = Tensor::<2, Int>::from_data([[0, 5, 6, 7, 8, 9, 2], [0, 9, 10, 11, 2, 1, 1]], device);
    let mask = ids.clone().not_equal_elem(1).int();
    let labels = Tensor::<2, Int>::from_data([[0, 8, 7, 12, 2], [0, 10, 9, 2, 1]], device);
    let dec = shift_tokens_right(labels.clone(), 1, 2);
    Batch {
        ids,
        mask,
        dec,
        labels: labels.reshape([10]),
    }
}

fn logits(model: &BartForConditionalGeneration, batch: &Batch) -> Tensor<3> {
    model.forward(
        batch.ids.clone(),
        Some(batch.mask.clone()),
        batch.dec.clone(),
    )
}

/// Every float parameter's values by path.
fn snapshot(model: &BartForConditionalGeneration) -> BTreeMap<String, TensorData> {
    struct Values(HashMap<ParamId, TensorData>);
    impl ModuleVisitor for Values {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            self.0.insert(param.id, param.val().into_data());
        }
    }
    let mut values = Values(HashMap::new());
    model.visit(&mut values);
    named_params(model)
        .into_iter()
        .map(|p| (p.path, values.0.remove(&p.id).expect("visited")))
        .collect()
}

/// Paths of the parameters that have a gradient.
fn with_gradient(
    model: &BartForConditionalGeneration,
    grads: &GradientsParams,
) -> BTreeSet<String> {
    struct Has<'a>(&'a GradientsParams, HashSet<ParamId>);
    impl ModuleVisitor for Has<'_> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            if self.0.get::<D>(param.id).is_some() {
                self.1.insert(param.id);
            }
        }
    }
    let mut has = Has(grads, HashSet::new());
    model.visit(&mut has);
    named_params(model)
        .into_iter()
        .filter(|p| has.1.contains(&p.id))
        .map(|p| p.path)
        .collect()
}

fn declared(model: &BartForConditionalGeneration, strategy: &Strategy) -> BTreeSet<String> {
    named_params(model)
        .into_iter()
        .filter(|p| strategy.trains(&p.path, &model.config))
        .map(|p| p.path)
        .collect()
}

#[test]
fn each_strategy_moves_exactly_its_declared_parameters() {
    let device = device().autodiff();
    let config = tiny();
    let data = batch(&device);
    let loss_fn = burn::nn::loss::CrossEntropyLoss::new(None, &device);
    for strategy in all_strategies() {
        device.seed(1);
        let kind = strategy.kind();
        let base = BartForConditionalGeneration::new(&config, &device);
        let mut model = strategy.attach(base, &device);
        if let Some(prefix) = prefix_of(&strategy) {
            // As the training stage does it (§3.5): prefixes from frequent tokens.
            model = init_prefix_from_tokens(model, &[5, 9, 7], prefix, &device);
        }
        let mut model = strategy.freeze(model);
        let declared = declared(&model, &strategy);
        assert!(!declared.is_empty(), "{kind} declares nothing");
        let before = snapshot(&model);
        let mut optim = AdamWConfig::new()
            .with_epsilon(1e-8)
            .with_weight_decay(0.01)
            .init();
        // Two steps: LoRA's A gets its first gradient once B has left zero.
        for step in 0..2 {
            let out = logits(&model, &data);
            let [b, t, v] = out.dims();
            let loss = loss_fn.forward(out.reshape([b * t, v]), data.labels.clone());
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            if step == 0 {
                let graded = with_gradient(&model, &grads);
                assert_eq!(
                    graded, declared,
                    "{kind}: the parameters with a gradient are not the declared ones"
                );
            }
            model = optim.step(1e-2, model, grads);
        }
        let after = snapshot(&model);
        let moved: BTreeSet<String> = before
            .iter()
            .filter(|(path, data)| after[*path] != **data)
            .map(|(path, _)| path.clone())
            .collect();
        assert_eq!(
            moved, declared,
            "{kind}: moved parameters differ from declared"
        );
    }
}

/// Table 1's counts of a configuration, by hand from the shapes of HF's `BartModel` (no
/// `add_final_layer_norm`, tied embeddings): `(custom total, L-EO, L-LDB, prefix added)`.
fn table1_by_hand(config: &BartConfig, prefix_len: usize) -> (usize, usize, usize, usize) {
    let d = config.d_model;
    let linear = |d_in: usize, d_out: usize| d_in * d_out + d_out;
    let norm = 2 * d;
    let attention = 4 * linear(d, d);
    let encoder_layer = attention
        + norm
        + linear(d, config.encoder_ffn_dim)
        + linear(config.encoder_ffn_dim, d)
        + norm;
    let decoder_layer = 2 * attention
        + 2 * norm
        + linear(d, config.decoder_ffn_dim)
        + linear(config.decoder_ffn_dim, d)
        + norm;
    // Learned positions are offset by 2 in BART: max_position_embeddings + 2 rows each.
    let embeddings = config.vocab_size * d + 2 * (config.max_position_embeddings + 2) * d;
    let total = embeddings
        + 2 * norm
        + config.encoder_layers * encoder_layer
        + config.decoder_layers * decoder_layer;
    // A key and a value prefix per encoder and decoder self-attention.
    let prefix = 2 * prefix_len * d * (config.encoder_layers + config.decoder_layers);
    (total, embeddings, decoder_layer, prefix)
}

/// What each strategy trains, as rules over HF parameter names written out here (not the
/// crate's `ParamGroup`): `(trainable, total)` summed from the model's named parameters.
fn counts_by_name(kind: StrategyKind, model: &BartForConditionalGeneration) -> (usize, usize) {
    let last = format!("model.decoder.layers.{}.", model.config.decoder_layers - 1);
    let trains = |name: &str| match kind {
        StrategyKind::Custom => true,
        StrategyKind::LEo => {
            name == "model.shared.weight"
                || name == "model.encoder.embed_positions.weight"
                || name == "model.decoder.embed_positions.weight"
        }
        StrategyKind::LLdb => name.starts_with(&last),
        StrategyKind::Prefix => name.contains(".prefix."),
        StrategyKind::Lora => name.contains(".lora."),
    };
    let mut counts = (0, 0);
    for param in named_params(model) {
        if param.path == "final_logits_bias" {
            continue; // a buffer in HF, not a parameter
        }
        counts.1 += param.numel();
        if trains(&param.path) {
            counts.0 += param.numel();
        }
    }
    counts
}

#[test]
fn trainable_counts_match_table_1_computed_by_hand() {
    let device = device();
    // bart-large as the paper counts it (Table 1): 406M total, L-EO 53M, L-LDB 17M, and 10M
    // prefix parameters added by 200 positions; HF's `num_parameters()` is 406,291,456.
    let large = BartConfig::preset(Preset::Large);
    assert_eq!(
        table1_by_hand(&large, 200),
        (406_291_456, 53_572_608, 16_796_672, 9_830_400)
    );
    for (config, prefix_len) in [(tiny(), 4), (large, 200)] {
        let (total, leo, lldb, prefix) = table1_by_hand(&config, prefix_len);
        for (kind, trained) in [
            (StrategyKind::Custom, total),
            (StrategyKind::LEo, leo),
            (StrategyKind::LLdb, lldb),
            (StrategyKind::Prefix, prefix),
        ] {
            let strategy = kind.configure(&test_prefix(prefix_len), &test_lora());
            // Parameters are lazy: bart-large is counted without being drawn.
            let model =
                strategy.attach(BartForConditionalGeneration::new(&config, &device), &device);
            let total = if kind == StrategyKind::Prefix {
                total + prefix
            } else {
                total
            };
            assert_eq!(
                strategy.counts(&model),
                (trained, total),
                "{kind}, d_model {}",
                config.d_model
            );
            assert_eq!(
                counts_by_name(kind, &model),
                (trained, total),
                "{kind} by name"
            );
        }
    }

    // LoRA: A [r, d] and B [d, r] per target projection per attention (2 encoder
    // self-attentions, 2 decoder self- and 2 cross-attentions).
    let config = tiny();
    let (total, ..) = table1_by_hand(&config, 0);
    let settings = test_lora();
    let lora = Strategy::Lora {
        lora: settings.clone(),
    };
    let model = lora.attach(BartForConditionalGeneration::new(&config, &device), &device);
    let attentions = config.encoder_layers + 2 * config.decoder_layers;
    let expected = 2 * settings.rank * config.d_model * settings.targets.len() * attentions;
    assert_eq!(lora.counts(&model), (expected, total + expected));
    assert_eq!(
        counts_by_name(StrategyKind::Lora, &model),
        (expected, total + expected)
    );

    // Prefix MLP: P' [len, d] + fc1 (d → h, with bias) + fc2 (h → attentions × 2 × d).
    let mlp = all_strategies().pop().unwrap();
    let model = mlp.attach(BartForConditionalGeneration::new(&config, &device), &device);
    let settings = prefix_of(&mlp).unwrap();
    let (len, d, h) = (settings.len, config.d_model, settings.mlp_hidden);
    let outputs = attentions * 2 * d;
    let expected = len * d + d * h + h + h * outputs + outputs;
    assert_eq!(mlp.counts(&model).0, expected);
}

#[test]
fn lora_with_zero_b_computes_the_base_models_logits_exactly() {
    let device = device();
    device.seed(2);
    let base = BartForConditionalGeneration::new(&tiny(), &device);
    let data = batch(&device);
    let expected = logits(&base, &data).into_data();
    let settings = Strategy::Lora {
        lora: LoraSettings {
            targets: ["q_proj", "k_proj", "v_proj", "out_proj"]
                .map(String::from)
                .to_vec(),
            ..test_lora()
        },
    };
    let adapted = settings.attach(base, &device);
    assert!(adapted.model.decoder.layers[1].encoder_attn.lora.is_some());
    assert_eq!(logits(&adapted, &data).into_data(), expected);
}

fn write_base(dir: &Path, seed: u64) {
    let device = device();
    device.seed(seed);
    hf::save_dir(&BartForConditionalGeneration::new(&tiny(), &device), dir).unwrap();
}

#[test]
fn an_adapter_reproduces_the_customized_models_logits_bit_for_bit() {
    let device = device();
    let tmp = tempfile::tempdir().unwrap();
    let base_dir = tmp.path().join("base");
    write_base(&base_dir, 3);
    let data = batch(&device);
    for strategy in all_strategies() {
        device.seed(4);
        let kind = strategy.kind();
        let base = hf::load_dir(&base_dir, &device).unwrap();
        let tuned = perturb(strategy.attach(base.clone(), &device), &strategy, 0.05);
        let expected = logits(&tuned, &data).into_data();
        assert_ne!(
            expected,
            logits(&base, &data).into_data(),
            "{kind}: no change"
        );

        let mlp_hidden = prefix_of(&strategy).map_or(0, |p| p.mlp_hidden);
        let dir = tmp.path().join(format!("{kind}-{mlp_hidden}"));
        let info = save_adapter(&tuned, &strategy, &base_dir, &dir).unwrap();
        if mlp_hidden > 0 {
            // The MLP's output is stored: the plain prefixes' count, not the MLP's.
            let plain = strategy.stored();
            assert_eq!(prefix_of(&plain).unwrap().mlp_hidden, 0);
            let direct = plain.attach(base.clone(), &device);
            assert_eq!(info.parameters, plain.counts(&direct).0);
            assert!(info.parameters < strategy.counts(&tuned).0);
        } else {
            assert_eq!(info.parameters, strategy.counts(&tuned).0, "{kind}");
        }
        assert_eq!(read_info(&dir).unwrap(), info);
        let stored = read_tensors(&dir.join("adapter.safetensors")).unwrap();
        assert_eq!(stored.len(), info.tensors);

        let base = hf::load_dir(&base_dir, &device).unwrap();
        let (loaded, loaded_strategy) = load_adapter(base, &base_dir, &dir, &device).unwrap();
        assert_eq!(loaded_strategy, strategy);
        assert_eq!(logits(&loaded, &data).into_data(), expected, "{kind}");
    }
}

#[test]
fn an_adapter_refuses_another_base_naming_both_hashes() {
    let device = device();
    let tmp = tempfile::tempdir().unwrap();
    let (base_dir, other_dir) = (tmp.path().join("base"), tmp.path().join("other"));
    write_base(&base_dir, 5);
    write_base(&other_dir, 6);
    let strategy = strategy(StrategyKind::LLdb);
    let tuned = hf::load_dir(&base_dir, &device).unwrap();
    let dir = tmp.path().join("adapter");
    let info = save_adapter(&tuned, &strategy, &base_dir, &dir).unwrap();
    let other = hf::load_dir(&other_dir, &device).unwrap();
    let err = load_adapter(other, &other_dir, &dir, &device)
        .unwrap_err()
        .to_string();
    let other_hash = tailor::model::adapter::base_hash(&other_dir).unwrap();
    for needle in [
        info.base_hash.as_str(),
        other_hash.as_str(),
        &base_dir.display().to_string(),
        &other_dir.display().to_string(),
    ] {
        assert!(err.contains(needle), "{needle} not in: {err}");
    }
}

#[test]
fn loading_names_missing_and_unknown_adapter_keys() {
    let device = device();
    let tmp = tempfile::tempdir().unwrap();
    let base_dir = tmp.path().join("base");
    write_base(&base_dir, 7);
    let dir = tmp.path().join("adapter");
    let base = hf::load_dir(&base_dir, &device).unwrap();
    save_adapter(&base, &strategy(StrategyKind::LLdb), &base_dir, &dir).unwrap();
    // Claim the tensors are an L-EO adapter: every L-EO key is missing, every L-LDB one unknown.
    let path = dir.join(ADAPTER_INFO);
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, text.replace("\"l-ldb\"", "\"l-eo\"")).unwrap();
    let base = hf::load_dir(&base_dir, &device).unwrap();
    let err = load_adapter(base, &base_dir, &dir, &device)
        .unwrap_err()
        .to_string();
    assert!(err.contains("missing key model.shared.weight"), "{err}");
    assert!(
        err.contains("unknown key model.decoder.layers.1.fc1.weight"),
        "{err}"
    );
}

#[test]
fn lora_adapters_are_also_written_in_peft_layout() {
    let device = device();
    let tmp = tempfile::tempdir().unwrap();
    // `make check-peft` keeps the files to load them with `peft` (pipelines/python/check_peft.py).
    let root = std::env::var_os("TAILOR_PEFT_FIXTURE")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| tmp.path().to_path_buf());
    let (base_dir, dir) = (root.join("base"), root.join("adapter"));
    write_base(&base_dir, 8);
    device.seed(9);
    let strategy = strategy(StrategyKind::Lora);
    let base = hf::load_dir(&base_dir, &device).unwrap();
    let tuned = perturb(strategy.attach(base, &device), &strategy, 0.05);
    save_adapter(&tuned, &strategy, &base_dir, &dir).unwrap();

    let config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join(PEFT_CONFIG)).unwrap()).unwrap();
    assert_eq!(config["peft_type"], "LORA");
    assert_eq!(config["task_type"], "SEQ_2_SEQ_LM");
    assert_eq!(config["r"], 4);
    assert_eq!(
        config["target_modules"],
        serde_json::json!(["q_proj", "v_proj"])
    );
    let peft = read_tensors(&dir.join(PEFT_WEIGHTS)).unwrap();
    let d = tiny().d_model;
    let a =
        &peft[&format!("{PEFT_KEY_PREFIX}model.encoder.layers.0.self_attn.q_proj.lora_A.weight")];
    assert_eq!(a.shape().as_slice(), &[4, d]);
    let b = &peft
        [&format!("{PEFT_KEY_PREFIX}model.decoder.layers.1.encoder_attn.v_proj.lora_B.weight")];
    assert_eq!(b.shape().as_slice(), &[d, 4]);
    assert_eq!(peft.len(), 2 * 2 * 6);

    // The logits PEFT must reproduce, with the batch that produced them.
    let data = batch(&device);
    let expected = logits(&tuned, &data);
    tailor::model::inspect::write_logits(
        &root.join("inputs.safetensors"),
        data.ids,
        Some(data.mask),
        data.dec,
        expected,
    )
    .unwrap();
}
