//! The baseline stage (`tailor baseline`, `make baseline`): the test generator every
//! customization starts from (the paper's AthenaTest, §3.1). We have no pretrained weights, so
//! it is trained here on the train split's examples and early-stopped on the valid split.
//!
//! It builds what is missing first (tokenizer, examples), trains through the one loop
//! ([`super::trainer::train`]), keeps the best model as a HuggingFace folder (`config.json`,
//! `model.safetensors`, `tokenizer.json`, `generation_config.json`) that `transformers` loads,
//! and reports loss, perplexity, tokens, compute and a few generated tests as text. It draws
//! no figure: the stage that calls it ([`crate::pipeline::baseline`]) draws the learning curve.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, ensure};
use burn::prelude::*;
use serde::{Deserialize, Serialize};

use super::settings::Profile;
use super::trainer::{self, BEST_DIR, Outcome, Run, RunModel};
use crate::data::examples::{Example, ensure_examples, read_examples, tokenizer_dir};
use crate::data::tokenizer::CodeTokenizer;
use crate::generate::{GenerationConfig, generate};
use crate::model::{Backend, BartConfig, BartForConditionalGeneration, hf};
use crate::strategy::Strategy;
use crate::tables::curves::CurvePoint;

/// The run folder of a profile's baseline: `OUT/runs/baseline/<profile>`.
pub fn run_dir(out: &Path, profile: &str) -> PathBuf {
    crate::layout::Layout::new(out).runs(profile).baseline_dir()
}

/// The baseline model folder a finished run leaves (`…/best`).
pub fn model_dir(out: &Path, profile: &str) -> PathBuf {
    run_dir(out, profile).join(BEST_DIR)
}

/// `generation_config.json` as `transformers` writes it: beam search as the paper evaluates
/// (5 beams), lengths from the profile.
pub fn write_generation_config(dir: &Path, config: &BartConfig, max_length: usize) -> Result<()> {
    let json = serde_json::json!({
        "_from_model_config": false,
        "bos_token_id": config.bos_token_id,
        "decoder_start_token_id": config.decoder_start_token_id,
        "early_stopping": false,
        "eos_token_id": config.eos_token_id,
        "forced_eos_token_id": config.forced_eos_token_id,
        "length_penalty": 1.0,
        "max_length": max_length,
        "num_beams": 5,
        "pad_token_id": config.pad_token_id,
    });
    super::checkpoint::write_atomic(
        &dir.join("generation_config.json"),
        (serde_json::to_string_pretty(&json)? + "\n").as_bytes(),
    )
}

/// `max_length` for generation: the decoder start token plus the longest target trained on,
/// within the model's positions (the generate loop's own limit).
pub fn generation_max_length(config: &BartConfig, max_target: usize) -> usize {
    (max_target + 1).min(config.max_position_embeddings)
}

/// A complete model folder: HF weights and config, the tokenizer, the generation settings.
pub fn save_model_folder(
    model: &BartForConditionalGeneration,
    tokenizer: &CodeTokenizer,
    max_target: usize,
    dir: &Path,
) -> Result<()> {
    hf::save_dir(model, dir)?;
    tokenizer.save(dir)?;
    write_generation_config(
        dir,
        &model.config,
        generation_max_length(&model.config, max_target),
    )
}

/// What `tailor baseline` reports, also written to `<run>/summary.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BaselineSummary {
    pub profile: String,
    pub backend: String,
    pub model_dir: PathBuf,
    pub parameters: usize,
    pub train_examples: usize,
    pub valid_examples: usize,
    pub steps: u64,
    pub epochs: f64,
    pub tokens: u64,
    pub pf_seconds: f64,
    pub wall_seconds: f64,
    pub best_step: u64,
    pub best_val_loss: f64,
    pub best_val_perplexity: f64,
    /// Loss of the best model on every validation example (the curve may use a sample).
    pub full_val_loss: f64,
    /// Entropy (nats) of the validation targets' unigram distribution: the loss of a model that
    /// knows token frequencies but not the input. A learning model must be far below it.
    pub unigram_entropy: f64,
    /// Whether the best model reads its input: its loss on the first validation examples with
    /// their own inputs and with each input swapped for the next example's. `None` in summaries
    /// written before it was measured.
    #[serde(default)]
    pub input_check: Option<InputCheck>,
    pub stopped: String,
}

/// The loss on the same validation targets with matched and with swapped inputs: about equal
/// when the model does not read its input, far apart when it does.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct InputCheck {
    pub examples: usize,
    pub matched_loss: f64,
    pub swapped_loss: f64,
}

/// Validation examples the input check reads (the first ones, in table order): enough for a
/// difference of hundredths of a nat, a few minutes on a CPU.
pub const INPUT_CHECK_EXAMPLES: usize = 512;

/// What an earlier call measured of the same best model (same best step and step count).
#[derive(Debug, Default, PartialEq)]
struct Earlier {
    full_val_loss: Option<f64>,
    input_check: Option<InputCheck>,
}

/// The measurements in `summary_file` when it describes `outcome`'s best model; none otherwise
/// (no file, another run, or a run that trained on since).
fn earlier_measurements(summary_file: &Path, outcome: &Outcome) -> Earlier {
    let Some(summary) = std::fs::read_to_string(summary_file)
        .ok()
        .and_then(|text| serde_json::from_str::<BaselineSummary>(&text).ok())
    else {
        return Earlier::default();
    };
    if summary.best_step != outcome.state.best_step || summary.steps != outcome.state.step {
        return Earlier::default();
    }
    Earlier {
        full_val_loss: Some(summary.full_val_loss).filter(|l| l.is_finite()),
        input_check: summary.input_check,
    }
}

/// Below this gain (nats per token) from the right input, a model is said not to read it.
pub const READS_INPUT_NATS: f64 = 0.05;

/// Whether the loss with swapped inputs shows that the model reads its input, in words.
pub fn reads_input(matched: f64, swapped: f64) -> &'static str {
    if swapped - matched >= READS_INPUT_NATS {
        "the model reads its input"
    } else {
        "the model does not read its input: it writes the same tests whatever the focal method"
    }
}

/// The validation examples with every input moved to the next example (the last to the first),
/// targets in place: each target is paired with another pair's input.
pub fn swapped_inputs(valid: &[Example]) -> Vec<Example> {
    let n = valid.len();
    (0..n)
        .map(|i| Example {
            input_ids: valid[(i + 1) % n].input_ids.clone(),
            ..valid[i].clone()
        })
        .collect()
}

/// Entropy in nats of the unigram distribution of `sequences`' tokens.
pub fn unigram_entropy<'a>(sequences: impl IntoIterator<Item = &'a [u32]>) -> f64 {
    // A BTreeMap, so the sum runs in token order and the entropy is the same digit for digit on
    // every run (a HashMap's order changed the last digit of `summary.json` between runs).
    let mut counts = std::collections::BTreeMap::<u32, u64>::new();
    let mut total = 0u64;
    for sequence in sequences {
        for &id in sequence {
            *counts.entry(id).or_insert(0) += 1;
            total += 1;
        }
    }
    counts
        .values()
        .map(|&c| {
            let p = c as f64 / total as f64;
            -p * p.ln()
        })
        .sum()
}

/// Training hooks of the baseline: every parameter trains (`custom`), the best model is a full
/// model folder.
struct FullModel<'a> {
    strategy: Strategy,
    tokenizer: &'a CodeTokenizer,
    max_target: usize,
}

impl RunModel for FullModel<'_> {
    fn freeze(&self, model: BartForConditionalGeneration) -> BartForConditionalGeneration {
        self.strategy.freeze(model)
    }
    fn trains(&self, path: &str) -> bool {
        path != "final_logits_bias"
    }
    fn save_best(&self, model: &BartForConditionalGeneration, dir: &Path) -> Result<()> {
        save_model_folder(model, self.tokenizer, self.max_target, dir)
    }
}

/// Options of the baseline stage beside the profile.
#[derive(Debug, Clone)]
pub struct BaselineOptions {
    pub out: PathBuf,
    pub backend: Backend,
    pub cuda: bool,
    pub peak_tflops: Option<f64>,
    /// Validation examples to generate tests for at the end (0: none).
    pub samples: usize,
}

/// A trained baseline as its report needs it: the summary (also in `<run>/summary.json`), the
/// learning curve, and what the sample tests are generated with. Training draws no figure: the
/// stage that calls it draws the curve ([`crate::pipeline::baseline`]).
pub struct TrainedBaseline {
    pub summary: BaselineSummary,
    pub curve: Vec<CurvePoint>,
    /// Whether this call found the baseline already trained.
    pub already_done: bool,
    /// When this call began.
    started: Instant,
    best: BartForConditionalGeneration,
    tokenizer: CodeTokenizer,
    valid: Vec<Example>,
    /// Validation examples to generate tests for, and the longest target trained on.
    samples: usize,
    max_target: usize,
    device: Device,
}

impl TrainedBaseline {
    /// Print the summary, naming `figure` as the learning curve's, then the sample tests.
    pub fn print_report(&self, figure: &Path) -> Result<()> {
        print_summary(
            &self.summary,
            figure,
            self.already_done,
            self.started.elapsed().as_secs_f64(),
        );
        if self.samples > 0 {
            print_samples(
                &self.best,
                &self.tokenizer,
                &self.valid,
                self.samples,
                self.max_target,
                &self.device,
            )?;
        }
        Ok(())
    }
}

/// Train (or resume, or find trained) the baseline of `profile`, measure its best model on the
/// whole valid split and write `<run>/summary.json`.
pub fn train_baseline(profile: &Profile, options: &BaselineOptions) -> Result<TrainedBaseline> {
    let started = Instant::now();
    let examples_summary = ensure_examples(&options.out, &profile.data, true)?;
    println!("{examples_summary}");
    let tokenizer = CodeTokenizer::load(&tokenizer_dir(&options.out))?;
    let (train, valid) = train_and_valid(read_examples(&options.out)?)?;
    let config = model_config(profile, &tokenizer)?;

    options.backend.set_threads(profile.train.threads);
    let device = options.backend.device(options.cuda)?.autodiff();
    device.seed(profile.train.seed);
    let model = BartForConditionalGeneration::new(&config, &device);
    let dir = run_dir(&options.out, &profile.name);
    // The baseline's recipe is everything but the customization section: changing how the
    // sweep customizes must not orphan the baseline it starts from.
    let recipe = Profile {
        finetune: None,
        ..profile.clone()
    };
    // A model without the checkpoint it came from (a copied `best/`) cannot be resumed or
    // re-measured; training would overwrite it with a new model.
    let best_weights = model_dir(&options.out, &profile.name).join(hf::WEIGHTS_FILE);
    ensure!(
        !best_weights.exists() || dir.join(crate::layout::CHECKPOINT_DIR).is_dir(),
        "{} holds a baseline model but {} has no checkpoint to resume it from: training would \
         replace that model; copy the whole run folder, or move it away to train a new baseline",
        best_weights.display(),
        dir.display()
    );
    super::settings::claim_run_dir(&dir, &recipe.to_toml()?)?;
    println!(
        "baseline: {} preset, {} parameters, {} train / {} valid examples → {}",
        profile.model.preset,
        model.num_params(),
        train.len(),
        valid.len(),
        dir.display()
    );
    let hooks = FullModel {
        strategy: Strategy::Custom,
        tokenizer: &tokenizer,
        max_target: profile.data.max_target,
    };
    let run = Run {
        dir: dir.clone(),
        label: format!("baseline/{}", profile.name),
        settings: &profile.train,
        train: &train,
        valid: &valid,
        progress: None,
        peak_tflops: options.peak_tflops,
    };
    let outcome = trainer::train(&run, model, &hooks, &device)?;
    let best_dir = model_dir(&options.out, &profile.name);

    // The best model on the whole valid split.
    let inference_device = options.backend.device(options.cuda)?;
    let best = hf::load_dir(&best_dir, &inference_device)
        .with_context(|| format!("loading the best model from {}", best_dir.display()))?;
    let loss_on = |examples: &[Example]| -> Result<f64> {
        let refs: Vec<&Example> = examples.iter().collect();
        let (loss, _) =
            trainer::evaluate(&best, &refs, profile.train.batch_tokens, &inference_device)?;
        Ok(loss)
    };
    // A finished run measured before keeps its measurements: the whole valid split is minutes
    // of work on a CPU for every re-run otherwise.
    let summary_file = crate::layout::Layout::new(&options.out)
        .runs(&profile.name)
        .baseline_summary();
    let earlier = earlier_measurements(&summary_file, &outcome);
    let full_val_loss = match earlier.full_val_loss {
        Some(loss) => loss,
        None => loss_on(&valid)?,
    };
    // Does the model read its input? The same targets given other pairs' inputs.
    let input_check = match earlier.input_check {
        Some(check) => check,
        None => {
            let sample = &valid[..valid.len().min(INPUT_CHECK_EXAMPLES)];
            InputCheck {
                examples: sample.len(),
                matched_loss: loss_on(sample)?,
                swapped_loss: loss_on(&swapped_inputs(sample))?,
            }
        }
    };
    let summary = summarize(
        profile,
        options,
        &outcome,
        best_dir,
        train.len(),
        &valid,
        (full_val_loss, input_check),
    );
    super::checkpoint::write_atomic(
        &summary_file,
        serde_json::to_string_pretty(&summary)?.as_bytes(),
    )?;
    Ok(TrainedBaseline {
        summary,
        curve: outcome.state.curve,
        already_done: outcome.already_done,
        started,
        best,
        tokenizer,
        valid,
        samples: options.samples,
        max_target: profile.data.max_target,
        device: inference_device,
    })
}

/// The examples of the train and the valid split; the baseline needs both.
fn train_and_valid(examples: Vec<Example>) -> Result<(Vec<Example>, Vec<Example>)> {
    let mut train = Vec::new();
    let mut valid = Vec::new();
    for example in examples {
        match example.split.as_str() {
            "train" => train.push(example),
            "valid" => valid.push(example),
            _ => {}
        }
    }
    ensure!(
        !train.is_empty() && !valid.is_empty(),
        "the examples table has {} train and {} valid examples; the baseline needs both \
         (did `tailor mine` assign splits?)",
        train.len(),
        valid.len()
    );
    Ok((train, valid))
}

/// The profile's model for `tokenizer`'s vocabulary, with positions for the longest input and
/// target.
fn model_config(profile: &Profile, tokenizer: &CodeTokenizer) -> Result<BartConfig> {
    let config = profile.model.config(tokenizer.vocab_size())?;
    ensure!(
        config.max_position_embeddings >= profile.data.max_input.max(profile.data.max_target),
        "model.preset {} has {} positions, fewer than data.max_input {} / data.max_target {}",
        profile.model.preset,
        config.max_position_embeddings,
        profile.data.max_input,
        profile.data.max_target
    );
    Ok(config)
}

/// What a baseline run measured.
fn summarize(
    profile: &Profile,
    options: &BaselineOptions,
    outcome: &Outcome,
    model_dir: PathBuf,
    train_examples: usize,
    valid: &[Example],
    (full_val_loss, input_check): (f64, InputCheck),
) -> BaselineSummary {
    let state = &outcome.state;
    let best_val_loss = state.best_val_loss.unwrap_or(f64::NAN);
    BaselineSummary {
        profile: profile.name.clone(),
        backend: format!(
            "{}{}",
            options.backend,
            if options.cuda { " cuda" } else { "" }
        ),
        model_dir,
        parameters: outcome.total_params,
        train_examples,
        valid_examples: valid.len(),
        steps: state.step,
        epochs: state.curve.last().map_or(0.0, |p| p.epoch),
        tokens: state.tokens,
        pf_seconds: state.flops / 1e15,
        wall_seconds: state.wall_seconds,
        best_step: state.best_step,
        best_val_loss,
        best_val_perplexity: best_val_loss.exp(),
        full_val_loss,
        unigram_entropy: unigram_entropy(valid.iter().map(|e| e.target_ids.as_slice())),
        input_check: Some(input_check),
        stopped: state.stopped.clone().unwrap_or_default(),
    }
}

fn print_summary(summary: &BaselineSummary, figure: &Path, already_done: bool, seconds: f64) {
    if already_done {
        println!(
            "baseline: already trained ({}); reporting it",
            summary.stopped
        );
    }
    println!("baseline model:     {}", summary.model_dir.display());
    println!(
        "best validation:    loss {:.4} (perplexity {:.3}) at step {} of {} (stopped: {})",
        summary.best_val_loss,
        summary.best_val_perplexity,
        summary.best_step,
        summary.steps,
        summary.stopped
    );
    println!(
        "all {} validation examples: loss {:.4} (perplexity {:.3}); unigram entropy of the \
         targets {:.4} nats",
        summary.valid_examples,
        summary.full_val_loss,
        summary.full_val_loss.exp(),
        summary.unigram_entropy
    );
    if let Some(check) = summary.input_check {
        println!(
            "inputs swapped:     first {} validation examples: loss {:.4}, {:.4} with every input \
             another pair's ({:+.4} nats: {})",
            check.examples,
            check.matched_loss,
            check.swapped_loss,
            check.swapped_loss - check.matched_loss,
            reads_input(check.matched_loss, check.swapped_loss)
        );
    }
    println!(
        "compute:            {} tokens, {:.3e} PF-s, {:.2} epochs, {:.0} s training on {} \
         ({:.0} s this call)",
        summary.tokens,
        summary.pf_seconds,
        summary.epochs,
        summary.wall_seconds,
        summary.backend,
        seconds
    );
    println!("learning curve:     {}", figure.display());
}

/// Generate tests for a few validation focal methods (beam search, top 1) and print them as text
/// beside the developer's.
fn print_samples(
    model: &BartForConditionalGeneration,
    tokenizer: &CodeTokenizer,
    valid: &[Example],
    n: usize,
    max_target: usize,
    device: &Device,
) -> Result<()> {
    let step = (valid.len() / n.max(1)).max(1);
    let mut config = GenerationConfig {
        max_length: generation_max_length(&model.config, max_target),
        num_beams: 5,
        num_return_sequences: 1,
        ..GenerationConfig::for_model(model)
    };
    config.forced_eos_token_id = None;
    for example in valid.iter().step_by(step).take(n) {
        let ids: Vec<i64> = example.input_ids.iter().map(|&t| i64::from(t)).collect();
        let len = ids.len();
        let input = Tensor::<2, Int>::from_data(TensorData::new(ids, [1, len]), device);
        let generated = generate(model, input, None, &config)?;
        let text = tokenizer.decode(&generated.sequences[0])?;
        println!("\n── pair {} ({})", example.pair_id, example.project_id);
        println!(
            "focal:     {}",
            one_line(&tokenizer.decode(&example.input_ids)?, 300)
        );
        println!(
            "developer: {}",
            one_line(&tokenizer.decode(&example.target_ids)?, 400)
        );
        println!("generated: {}", one_line(&text, 400));
    }
    Ok(())
}

fn one_line(text: &str, max_chars: usize) -> String {
    let flat: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() > max_chars {
        flat.chars().take(max_chars).collect::<String>() + " …"
    } else {
        flat
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unigram_entropy_of_a_uniform_distribution_is_ln_n() {
        let a: Vec<u32> = vec![1, 2, 3, 4];
        assert!((unigram_entropy([a.as_slice()]) - 4f64.ln()).abs() < 1e-12);
        let b: Vec<u32> = vec![7, 7, 7];
        assert_eq!(unigram_entropy([b.as_slice()]), 0.0);
    }

    #[test]
    fn swapped_inputs_pair_every_target_with_another_examples_input() {
        let example = |i: u32| Example {
            pair_id: format!("p{i}"),
            project_id: "x".into(),
            split: "valid".into(),
            input_ids: vec![0, 10 + i, 2],
            target_ids: vec![0, 20 + i, 2],
            input_truncated: false,
            target_truncated: false,
            retrieved_pair_id: None,
            retrieved_score: None,
        };
        let valid: Vec<Example> = (0..3).map(example).collect();
        let swapped = swapped_inputs(&valid);
        let pairs: Vec<(u32, u32)> = swapped
            .iter()
            .map(|e| (e.input_ids[1], e.target_ids[1]))
            .collect();
        assert_eq!(pairs, vec![(11, 20), (12, 21), (10, 22)]);
        assert_eq!(swapped[0].pair_id, "p0");
        assert!(reads_input(5.0, 5.0 + 2.0 * READS_INPUT_NATS).starts_with("the model reads"));
        assert!(reads_input(5.0, 5.01).contains("does not read"));
    }
}
