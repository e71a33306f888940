//! One base, many projects: a batch whose rows use different projects' prefix and LoRA
//! adapters ([`AdapterBank`]) computes, row by row, what each customized model computes alone —
//! logits to float rounding and the same beam-search outputs — whatever the prefix lengths,
//! LoRA ranks and targets; adapters that change base weights are refused.

use crate::common::perturb as perturb_common;
use perturb_common::perturb;

use burn::prelude::*;
use tailor::generate::{GenerationConfig, generate};
use tailor::model::hf;
use tailor::model::{AdapterBank, Backend, BartConfig, BartForConditionalGeneration, Preset};
use tailor::strategy::adapter::{load_bank, save_adapter};
use tailor::strategy::{LoraSettings, PrefixSettings, Strategy, StrategyKind};

fn device() -> Device {
    Backend::Flex
        .device(false)
        .expect("flex is the default backend")
}

/// Four projects' adapters of unlike shapes: prefixes of 3 and 5 positions (the second also on
/// cross-attention), LoRA rank 2 on q/v and rank 4 (α 4) on every projection.
fn strategies() -> Vec<Strategy> {
    let short = PrefixSettings {
        len: 3,
        ..PrefixSettings::default()
    };
    let long = PrefixSettings {
        len: 5,
        cross_attention: true,
        ..PrefixSettings::default()
    };
    let low = LoraSettings {
        rank: 2,
        alpha: 8.0,
        ..LoraSettings::default()
    };
    let high = LoraSettings {
        rank: 4,
        alpha: 4.0,
        targets: ["q_proj", "k_proj", "v_proj", "out_proj"]
            .map(String::from)
            .to_vec(),
        ..LoraSettings::default()
    };
    vec![
        Strategy::Prefix { prefix: short },
        Strategy::Prefix { prefix: long },
        Strategy::Lora { lora: low },
        Strategy::Lora { lora: high },
    ]
}

struct Fixture {
    base: BartForConditionalGeneration,
    adapted: Vec<BartForConditionalGeneration>,
    bank: AdapterBank,
}

fn fixture(device: &Device) -> Fixture {
    device.seed(11);
    let base = BartForConditionalGeneration::new(&BartConfig::preset(Preset::Tiny), device);
    let adapted: Vec<_> = strategies()
        .iter()
        .map(|s| perturb(s.attach(base.clone(), device), s, 0.1))
        .collect();
    let named: Vec<(String, &BartForConditionalGeneration)> = adapted
        .iter()
        .enumerate()
        .map(|(i, m)| (format!("project-{i}"), m))
        .collect();
    let bank = AdapterBank::new(&named).unwrap();
    Fixture {
        base,
        adapted,
        bank,
    }
}

/// Six inputs of unequal lengths (right-padded with 1) and the adapter each row uses.
const INPUTS: [&[i64]; 6] = [
    &[0, 5, 6, 7, 8, 9, 2],
    &[0, 9, 10, 11, 2],
    &[0, 40, 41, 2],
    &[0, 12, 13, 14, 15, 16, 17, 2],
    &[0, 30, 31, 32, 2],
    &[0, 50, 51, 52, 53, 2],
];
const ROWS: [usize; 6] = [0, 1, 2, 3, 1, 2];

fn padded(rows: &[&[i64]], device: &Device) -> (Tensor<2, Int>, Tensor<2, Int>) {
    let len = rows.iter().map(|r| r.len()).max().unwrap();
    let ids: Vec<i64> = rows
        .iter()
        .flat_map(|r| (0..len).map(|p| r.get(p).copied().unwrap_or(1)))
        .collect();
    let ids = Tensor::<2, Int>::from_data(TensorData::new(ids, [rows.len(), len]), device);
    let mask = ids.clone().not_equal_elem(1).int();
    (ids, mask)
}

/// Row `row` of a batch.
fn row_of(t: Tensor<2, Int>, row: usize) -> Tensor<2, Int> {
    let [_, len] = t.dims();
    t.slice([row..row + 1, 0..len])
}

fn max_abs(a: Tensor<3>, b: Tensor<3>) -> f32 {
    (a - b).abs().max().into_scalar()
}

#[test]
fn a_mixed_batch_computes_each_projects_logits() {
    let device = device();
    let f = fixture(&device);
    let (ids, mask) = padded(&INPUTS, &device);
    let dec = Tensor::<2, Int>::from_data([[2, 0, 7, 8, 9]; 6], &device);
    let mixed = f
        .bank
        .bind(&f.base, &ROWS)
        .forward(ids.clone(), Some(mask.clone()), dec.clone());
    let [_, len, vocab] = mixed.dims();
    for (row, &adapter) in ROWS.iter().enumerate() {
        let alone = f.adapted[adapter].forward(
            row_of(ids.clone(), row),
            Some(row_of(mask.clone(), row)),
            row_of(dec.clone(), row),
        );
        let got = mixed.clone().slice([row..row + 1, 0..len, 0..vocab]);
        let diff = max_abs(got.clone(), alone.clone());
        assert!(diff < 1e-5, "row {row} (adapter {adapter}): max |Δ| {diff}");
        // The adapter matters: the plain base differs.
        let plain = f.base.forward(
            row_of(ids.clone(), row),
            Some(row_of(mask.clone(), row)),
            row_of(dec.clone(), row),
        );
        assert!(
            max_abs(got, plain) > 1e-3,
            "row {row}: adapter had no effect"
        );
    }
}

#[test]
fn a_mixed_batch_generates_what_each_project_generates_alone() {
    let device = device();
    let f = fixture(&device);
    let mut config = GenerationConfig::for_model(&f.base);
    config.max_length = 12;
    for beams in [1, 3] {
        config.num_beams = beams;
        config.num_return_sequences = beams;
        let (ids, mask) = padded(&INPUTS, &device);
        let mixed = generate(&f.bank.bind(&f.base, &ROWS), ids, Some(mask), &config).unwrap();
        for (row, &adapter) in ROWS.iter().enumerate() {
            let (ids, mask) = padded(&[INPUTS[row]], &device);
            let alone = generate(&f.adapted[adapter], ids, Some(mask), &config).unwrap();
            let range = row * beams..(row + 1) * beams;
            let mut got = mixed.sequences[range.clone()].to_vec();
            let mut want = alone.sequences.clone();
            // Rows are padded to the batch's longest; compare up to each sequence's own end.
            for s in got.iter_mut().chain(want.iter_mut()) {
                while s.len() > 1 && s.last() == Some(&config.pad_token_id) {
                    s.pop();
                }
            }
            assert_eq!(got, want, "row {row} (adapter {adapter}), {beams} beam(s)");
            for (a, b) in mixed.scores[range].iter().zip(&alone.scores) {
                assert!((a - b).abs() < 1e-4, "row {row}: score {a} vs {b}");
            }
        }
    }
}

#[test]
fn candidates_scored_through_a_bank_row_score_as_the_project_alone() {
    use tailor::generate::rerank::candidate_losses;
    let device = device();
    let f = fixture(&device);
    let input: Vec<u32> = INPUTS[0].iter().map(|&t| t as u32).collect();
    let candidates = vec![
        vec![0, 20, 21, 2],
        vec![0, 30, 2],
        vec![0, 20, 21, 22, 23, 2],
    ];
    for (adapter, alone_model) in f.adapted.iter().enumerate() {
        let bound = f.bank.bind(&f.base, &[adapter]);
        let mixed = candidate_losses(&bound, &input, &candidates, &device).unwrap();
        let alone = candidate_losses(alone_model, &input, &candidates, &device).unwrap();
        let plain = candidate_losses(&f.base, &input, &candidates, &device).unwrap();
        for (i, (m, a)) in mixed.iter().zip(&alone).enumerate() {
            assert!(
                (m - a).abs() < 1e-5,
                "adapter {adapter}, candidate {i}: {m} vs {a}"
            );
        }
        let effect = mixed.iter().zip(&plain).map(|(m, p)| (m - p).abs());
        assert!(
            effect.fold(0.0, f64::max) > 1e-5,
            "adapter {adapter}: scores {mixed:?} equal the base's {plain:?}"
        );
    }
}

#[test]
fn loading_a_bank_refuses_adapters_that_change_base_weights() {
    let device = device();
    let tmp = tempfile::tempdir().unwrap();
    let base_dir = tmp.path().join("base");
    device.seed(3);
    let base = BartForConditionalGeneration::new(&BartConfig::preset(Preset::Tiny), &device);
    hf::save_dir(&base, &base_dir).unwrap();
    let base = hf::load_dir(&base_dir, &device).unwrap();
    let mut dirs = Vec::new();
    for (name, kind) in [
        ("p", StrategyKind::Prefix),
        ("l", StrategyKind::Lora),
        ("d", StrategyKind::LLdb),
    ] {
        let prefix = PrefixSettings {
            len: 2,
            ..PrefixSettings::default()
        };
        let strategy = kind.configure(&prefix, &LoraSettings::default());
        let model = perturb(strategy.attach(base.clone(), &device), &strategy, 0.1);
        let dir = tmp.path().join(name);
        save_adapter(&model, &strategy, &base_dir, &dir).unwrap();
        dirs.push((name.to_string(), dir));
    }
    let bank = load_bank(&base, &base_dir, &dirs[..2], &device).unwrap();
    assert_eq!(bank.names(), ["p", "l"]);
    let err = load_bank(&base, &base_dir, &dirs, &device).unwrap_err();
    let message = format!("{err:#}");
    assert!(
        message.contains("l-ldb") && message.contains("/d"),
        "{message}"
    );
}
