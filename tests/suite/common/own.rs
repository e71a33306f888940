//! A registry of own projects for the `suggest` and `serve` tests, built in a second or two
//! with library calls only (no training, no `tailor` process): a tiny base model with its
//! tokenizer, and four projects registered under `OUT/adapters/` whose adapters are random
//! (LoRA's `B` and prefixes perturbed, so each project's model differs from the base and from
//! the others), each with the pairs mined from `fixtures/java/learnable` as its retrieval index.
//!
//! What a test can rely on (everything is deterministic: fixed seeds, sorted pairs):
//! - [`MIXED`]: `alpha` and `beta` (LoRA) and `gamma` (prefix, its inputs augmented with the
//!   nearest retrieved test, `examples.retrieved = 1`): they share batches;
//! - [`SEPARATE`]: `delta` (L-LDB), which changes a base weight and so is served alone;
//! - every project's `pairs.parquet` holds the same 320-odd mined pairs (their `project_id`
//!   renamed to the project), its manifest names the base by its hash, and its `examples`
//!   settings fit the tiny model (inputs of [`MAX_INPUT`] tokens, targets of [`MAX_TARGET`]);
//! - the base's `generation_config.json` asks for [`NUM_BEAMS`] beams and at most
//!   [`MAX_LENGTH`] tokens, so generating is quick.
//!
//! Random adapters make the candidates' text meaningless but their plumbing real: every
//! candidate is still generated, retrieved, scored and ranked through the project's own model.

use std::path::{Path, PathBuf};

use burn::prelude::*;
use tailor::adapt::registry::{AdaptMetrics, HeldOut, Manifest, PartSizes, utc_now};
use tailor::data::context::{ContextLevel, PairContext, model_input, model_target};
use tailor::data::examples::ExampleSettings;
use tailor::data::tokenizer::CodeTokenizer;
use tailor::layout::Layout;
use tailor::mining::{MineOptions, Pair, mine_checkout};
use tailor::model::adapter::base_hash;
use tailor::model::{Backend, BartConfig, BartForConditionalGeneration, Preset, hf};
use tailor::strategy::adapter::save_adapter;
use tailor::strategy::{LoraSettings, PrefixSettings, Strategy};
use tailor::tables::pairs::write_pairs;

use super::perturb::perturb;

/// The registered projects whose adapters share a batch (LoRA, LoRA, prefix).
pub const MIXED: [&str; 3] = ["alpha", "beta", "gamma"];
/// The registered project whose adapter changes a base weight (L-LDB): served on its own.
pub const SEPARATE: &str = "delta";
/// Every registered project, by name.
pub const PROJECTS: [&str; 4] = ["alpha", "beta", "gamma", "delta"];
/// The project whose inputs carry the nearest retrieved test (`examples.retrieved = 1`).
pub const AUGMENTED: &str = "gamma";

/// Input and target lengths of the projects' `examples` settings (and the base's positions).
pub const MAX_INPUT: usize = 128;
pub const MAX_TARGET: usize = 64;
/// The base's `generation_config.json`.
pub const NUM_BEAMS: usize = 5;
pub const MAX_LENGTH: usize = 24;

/// The fixture repository the projects' pairs are mined from.
pub fn fixture_repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/java/learnable")
}

/// A focal class of the fixture repository, with methods every project has tests for.
pub fn fixture_java(class: &str) -> PathBuf {
    fixture_repo()
        .join("src/main/java/org/fixture/learnable")
        .join(format!("{class}.java"))
}

/// Builds the base model folder `out/base` and registers [`PROJECTS`] under
/// `out/adapters/`; returns the base folder. `out` should be an empty (temporary) folder.
///
/// # Panics
/// On any failure, naming the step: this is test set-up.
pub fn registered_projects(out: &Path) -> PathBuf {
    let device = Backend::Flex
        .device(false)
        .expect("flex is the default backend");
    let pairs = mine_checkout("learnable", &fixture_repo(), &MineOptions::default())
        .expect("mining fixtures/java/learnable")
        .pairs;
    assert!(pairs.len() > 100, "the fixture mines {} pairs", pairs.len());
    let level = ContextLevel::default();

    let base_dir = out.join("base");
    let tokenizer = train_tokenizer(&pairs, level);
    let base = save_base(&base_dir, &tokenizer, &device);
    let hash = base_hash(&base_dir).expect("hashing the base");

    let examples = ExampleSettings {
        level,
        max_input: MAX_INPUT,
        max_target: MAX_TARGET,
        vocab_size: tokenizer.vocab_size(),
        min_frequency: 2,
        retrieved: 0,
    };
    let layout = Layout::new(out);
    for (seed, name) in PROJECTS.iter().enumerate() {
        let strategy = strategy_of(name);
        device.seed(100 + seed as u64);
        let adapted = perturb(strategy.attach(base.clone(), &device), &strategy, 0.2);
        let paths = layout.own_project(name);
        save_adapter(&adapted, &strategy, &base_dir, &paths.adapter_dir())
            .unwrap_or_else(|e| panic!("saving {name}'s adapter: {e:#}"));
        let own: Vec<Pair> = pairs
            .iter()
            .map(|p| Pair {
                project_id: name.to_string(),
                ..p.clone()
            })
            .collect();
        write_pairs(&own, &paths.pairs()).unwrap_or_else(|e| panic!("{name}'s pairs: {e:#}"));
        let manifest = Manifest {
            name: name.to_string(),
            base_dir: base_dir.clone(),
            base_hash: hash.clone(),
            strategy: strategy.name().to_string(),
            profile: "smoke".into(),
            examples: ExampleSettings {
                retrieved: usize::from(*name == AUGMENTED),
                ..examples.clone()
            },
            repo: fixture_repo().display().to_string(),
            commit: None,
            pairs: own.len() as u64,
            parts: PartSizes {
                train: own.len() as u64 - 20,
                valid: 10,
                test: 10,
            },
            metrics: AdaptMetrics {
                adapted: HeldOut {
                    test_loss: Some(5.0),
                    ..HeldOut::default()
                },
                ..AdaptMetrics::default()
            },
            train_seconds: 0.0,
            created: utc_now(),
            tailor_version: env!("CARGO_PKG_VERSION").into(),
        };
        manifest
            .write(&paths)
            .unwrap_or_else(|e| panic!("{name}'s manifest: {e:#}"));
    }
    base_dir
}

/// The strategy of each of [`PROJECTS`]: small prefixes and LoRA ranks, unlike each other so
/// the adapter bank pads.
pub fn strategy_of(name: &str) -> Strategy {
    match name {
        "alpha" => Strategy::Lora {
            lora: LoraSettings {
                rank: 2,
                alpha: 4.0,
                ..LoraSettings::default()
            },
        },
        "beta" => Strategy::Lora {
            lora: LoraSettings {
                rank: 4,
                alpha: 4.0,
                targets: ["q_proj", "k_proj", "v_proj", "out_proj"]
                    .map(String::from)
                    .to_vec(),
                ..LoraSettings::default()
            },
        },
        "gamma" => Strategy::Prefix {
            prefix: PrefixSettings {
                len: 4,
                ..PrefixSettings::default()
            },
        },
        "delta" => Strategy::LLdb,
        other => panic!("no fixture project {other:?}"),
    }
}

/// A byte-level BPE trained on the pairs' model inputs and targets, as `tailor examples` trains
/// one on the corpus (small: the fixture's texts are few and repetitive).
fn train_tokenizer(pairs: &[Pair], level: ContextLevel) -> CodeTokenizer {
    let mut texts: Vec<String> = pairs
        .iter()
        .flat_map(|p| {
            [
                model_input(&PairContext::from(p), level),
                model_target(&p.test_body),
            ]
        })
        .collect();
    texts.sort();
    CodeTokenizer::train(texts.into_iter(), 512, 2).expect("training the fixture tokenizer")
}

/// A tiny random BART sized to `tokenizer`, saved with the tokenizer and a short generation
/// config into `dir`; returns the model as loaded back (what an engine will load).
fn save_base(
    dir: &Path,
    tokenizer: &CodeTokenizer,
    device: &Device,
) -> BartForConditionalGeneration {
    device.seed(7);
    let config = BartConfig {
        vocab_size: tokenizer.vocab_size(),
        max_position_embeddings: MAX_INPUT,
        dropout: 0.0,
        ..BartConfig::preset(Preset::Tiny)
    };
    let model = BartForConditionalGeneration::new(&config, device);
    hf::save_dir(&model, dir).expect("saving the base");
    tokenizer.save(dir).expect("saving the base's tokenizer");
    let generation = serde_json::json!({
        "max_length": MAX_LENGTH,
        "num_beams": NUM_BEAMS,
        "decoder_start_token_id": config.decoder_start_token_id,
        "bos_token_id": config.bos_token_id,
        "eos_token_id": config.eos_token_id,
        "pad_token_id": config.pad_token_id,
    });
    std::fs::write(
        dir.join("generation_config.json"),
        serde_json::to_string_pretty(&generation).unwrap(),
    )
    .expect("writing generation_config.json");
    hf::load_dir(dir, device).expect("loading the base back")
}
