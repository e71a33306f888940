//! The training loop's speed on real batches of the examples table (`tailor bench-train`,
//! `make bench-train`, `make bench-finetune`).
//!
//! Three measurements on the same batches (the first batches of the profile's seeded epoch
//! plan, real lengths, the profile's token budget):
//! - *bare step*: collate, forward, loss, backward, clipping, AdamW, per strategy, with FLOPs
//!   per step from `train::compute` (a strategy the accounting calls cheaper must measure
//!   cheaper);
//! - *loop*: the full [`trainer::train`] (batch plan, progress bar, bookkeeping); its marginal
//!   cost per step is the difference of two runs of different lengths, so start-up and the
//!   final evaluation cancel; the goal is < 5% over the bare step;
//! - *PyTorch*: HF transformers on the same batches (`pipelines/python/bench_train_step.py`).
//!
//! tokens/s counts real (unpadded) input + target tokens.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result, ensure};
use burn::optim::GradientsParams;
use burn::prelude::*;

use crate::data::batches::plan_epoch;
use crate::data::examples::{Example, read_examples};
use crate::data::tokenizer::CodeTokenizer;
use crate::model::params::named_params;
use crate::model::{Backend, BartForConditionalGeneration};
use crate::profile::Profile;
use crate::strategy::{Strategy, StrategyKind};
use crate::train::batch::{collate, nll_sum};
use crate::train::compute::ComputeModel;
use crate::train::trainer::{self, Run, RunModel};

/// What to measure, on which batches.
#[derive(Debug, Clone)]
pub struct BenchTrainOptions {
    /// Output folder holding tables/examples.parquet and tokenizer/ (`make examples`).
    pub out: PathBuf,
    /// The model preset, token budget and (for strategies) the finetune settings.
    pub profile: Profile,
    /// Timed steps (after `warmup` untimed ones).
    pub steps: usize,
    pub warmup: usize,
    /// Backends to measure; empty: every compiled one.
    pub backends: Vec<Backend>,
    /// Strategies whose bare step to measure.
    pub kinds: Vec<StrategyKind>,
    /// Skip the full-loop measurement.
    pub no_loop: bool,
    pub cuda: bool,
    /// A Python with torch + transformers: also run the PyTorch peer on the same batches.
    pub pytorch_python: Option<PathBuf>,
    pub peer_script: PathBuf,
}

struct Row {
    system: String,
    what: String,
    tokens_per_s: f64,
    step_ms: f64,
    gflops_per_step: Option<f64>,
}

/// The first `n` batches of epoch 0's plan, as examples.
fn batches<'a>(train: &'a [Example], profile: &Profile, n: usize) -> Result<Vec<Vec<&'a Example>>> {
    let lengths: Vec<(usize, usize)> = train
        .iter()
        .map(|e| (e.input_ids.len(), e.target_ids.len()))
        .collect();
    let plan = plan_epoch(&lengths, profile.train.batch_tokens, profile.train.seed, 0);
    ensure!(
        plan.batches.len() >= n,
        "the training examples make {} batches, fewer than the {n} needed",
        plan.batches.len()
    );
    Ok(plan.batches[..n]
        .iter()
        .map(|b| b.iter().map(|&i| &train[i]).collect())
        .collect())
}

fn strategy_of(kind: StrategyKind, profile: &Profile) -> Strategy {
    profile
        .finetune
        .as_ref()
        .map_or_else(|| Strategy::new(kind), |finetune| finetune.strategy(kind))
}

/// Bare steps of `strategy` on `batches`: seconds and real tokens of the timed ones, FLOPs/step.
fn bare_steps(
    config: &crate::model::BartConfig,
    strategy: &Strategy,
    batches: &[Vec<&Example>],
    warmup: usize,
    profile: &Profile,
    device: &Device,
) -> Result<(f64, u64, f64)> {
    device.seed(profile.train.seed);
    let model = BartForConditionalGeneration::new(config, device);
    let mut model = strategy.freeze(strategy.attach(model, device));
    let params = named_params(&model);
    let compute = ComputeModel::new(config, &params, &|p| strategy.trains(p, config));
    let trainable: Vec<_> = params
        .iter()
        .filter(|p| strategy.trains(&p.path, config))
        .cloned()
        .collect();
    let mut optim = trainer::optimizer(&profile.train, &params);
    let (mut seconds, mut tokens, mut flops) = (0.0, 0u64, 0.0);
    for (i, rows) in batches.iter().enumerate() {
        let start = Instant::now();
        let batch = collate(rows, config.decoder_start_token_id, device);
        let loss = nll_sum(&model, &batch).div_scalar(batch.target_tokens as f64);
        let mut grads = GradientsParams::from_grads(loss.backward(), &model);
        trainer::clip_global_norm(&mut grads, &trainable, profile.train.grad_clip);
        model = optim.step(1e-4, model, grads);
        let value = loss.into_scalar::<f32>();
        device.sync().ok();
        ensure!(value.is_finite(), "the loss became {value}");
        if i >= warmup {
            seconds += start.elapsed().as_secs_f64();
            tokens += (batch.input_tokens + batch.target_tokens) as u64;
            flops += compute
                .batch(rows.iter().map(|e| (e.input_ids.len(), e.target_ids.len())))
                .total();
        }
    }
    let timed = (batches.len() - warmup).max(1) as f64;
    Ok((seconds, tokens, flops / timed))
}

struct Plain;

impl RunModel for Plain {
    fn freeze(&self, model: BartForConditionalGeneration) -> BartForConditionalGeneration {
        Strategy::Custom.freeze(model)
    }
    fn trains(&self, path: &str) -> bool {
        path != "final_logits_bias"
    }
    fn save_best(&self, model: &BartForConditionalGeneration, dir: &Path) -> Result<()> {
        crate::model::hf::save_dir(model, dir)
    }
}

/// Marginal loop cost: `trainer::train` for `warmup` steps and for `warmup + steps`, fresh.
fn loop_steps(
    config: &crate::model::BartConfig,
    train: &[Example],
    profile: &Profile,
    warmup: usize,
    steps: usize,
    device: &Device,
) -> Result<(f64, u64)> {
    let measure = |n: usize| -> Result<(f64, u64)> {
        let dir = tempfile::tempdir()?;
        let mut settings = profile.train.clone();
        settings.max_steps = n as u64;
        settings.max_minutes = 0.0;
        settings.eval_every_steps = 1_000_000;
        settings.evals_per_epoch = 0;
        settings.checkpoint_every_steps = 0;
        settings.patience = 0;
        let valid = &train[..1];
        let run = Run {
            dir: dir.path().to_path_buf(),
            label: format!("loop {n}"),
            settings: &settings,
            train,
            valid,
            progress: None,
            peak_tflops: None,
        };
        device.seed(profile.train.seed);
        let model = BartForConditionalGeneration::new(config, device);
        let outcome = trainer::train(&run, model, &Plain, device)?;
        Ok((outcome.state.wall_seconds, outcome.state.tokens))
    };
    let (short_s, short_t) = measure(warmup.max(1))?;
    let (long_s, long_t) = measure(warmup.max(1) + steps)?;
    Ok((long_s - short_s, long_t - short_t))
}

fn pytorch(
    python: &Path,
    script: &Path,
    config: &crate::model::BartConfig,
    batches: &[Vec<&Example>],
    warmup: usize,
    threads: usize,
    cuda: bool,
) -> Result<Row> {
    let dir = tempfile::tempdir()?;
    let mut peer_config = config.clone();
    peer_config.forced_eos_token_id = None;
    peer_config.save(&dir.path().join("config.json"))?;
    let json_batches: Vec<serde_json::Value> = batches
        .iter()
        .map(|rows| {
            let src = rows.iter().map(|e| e.input_ids.len()).max().unwrap_or(1);
            let tgt = rows.iter().map(|e| e.target_ids.len()).max().unwrap_or(1);
            let pad = |ids: &[u32], len: usize, with: i64| -> Vec<i64> {
                (0..len).map(|i| ids.get(i).map_or(with, |&t| i64::from(t))).collect()
            };
            serde_json::json!({
                "input_ids": rows.iter().map(|e| pad(&e.input_ids, src, 1)).collect::<Vec<_>>(),
                "attention_mask": rows.iter().map(|e| (0..src).map(|i| i64::from(i < e.input_ids.len())).collect::<Vec<_>>()).collect::<Vec<_>>(),
                "labels": rows.iter().map(|e| pad(&e.target_ids, tgt, -100)).collect::<Vec<_>>(),
            })
        })
        .collect();
    let path = dir.path().join("batches.json");
    std::fs::write(
        &path,
        serde_json::to_string(&serde_json::json!({ "batches": json_batches }))?,
    )?;
    let output = Command::new(python)
        .arg(script)
        .arg("--config")
        .arg(dir.path().join("config.json"))
        .arg("--batches")
        .arg(&path)
        .args([
            "--warmup",
            &warmup.to_string(),
            "--threads",
            &threads.to_string(),
        ])
        .args(["--device", if cuda { "cuda" } else { "cpu" }])
        .output()
        .with_context(|| format!("running {} {}", python.display(), script.display()))?;
    let value = super::peer_result(&output)?;
    Ok(Row {
        system: format!("pytorch {}", value["torch"].as_str().unwrap_or("?")),
        what: "step (HF transformers)".into(),
        tokens_per_s: value["tokens_per_s"].as_f64().context("tokens_per_s")?,
        step_ms: value["step_ms"].as_f64().context("step_ms")?,
        gflops_per_step: None,
    })
}

/// Measure each backend's bare steps and loop (and the PyTorch peer) and print the table.
pub fn run(options: &BenchTrainOptions) -> Result<()> {
    let profile = &options.profile;
    let examples = read_examples(&options.out).with_context(|| {
        format!(
            "bench-train measures real batches: build the examples first (`make examples` or \
             `make baseline`) in {}",
            options.out.display()
        )
    })?;
    let train: Vec<Example> = examples
        .into_iter()
        .filter(|e| e.split == "train")
        .collect();
    ensure!(
        !train.is_empty(),
        "no training examples in {}",
        options.out.display()
    );
    let tokenizer = CodeTokenizer::load(&crate::data::examples::tokenizer_dir(&options.out))?;
    let config = profile.model.config(tokenizer.vocab_size())?;
    let batches = batches(&train, profile, options.warmup + options.steps)?;
    let backends = if options.backends.is_empty() {
        Backend::compiled()
    } else {
        options.backends.clone()
    };
    let threads = profile.train.threads;
    let real: usize = batches
        .iter()
        .flatten()
        .map(|e| e.input_ids.len() + e.target_ids.len())
        .sum();
    println!(
        "bench-train: preset {} · {} batches of ≤ {} padded tokens ({} real tokens, {:.0} per batch) · {} threads",
        profile.model.preset,
        batches.len(),
        profile.train.batch_tokens,
        real,
        real as f64 / batches.len() as f64,
        threads
    );
    let mut rows = Vec::new();
    for &backend in &backends {
        backend.set_threads(threads);
        let device = backend.device(options.cuda)?.autodiff();
        let system = format!(
            "tailor {backend}{}",
            if options.cuda { " cuda" } else { "" }
        );
        for &kind in &options.kinds {
            let strategy = strategy_of(kind, profile);
            let (seconds, tokens, flops) = bare_steps(
                &config,
                &strategy,
                &batches,
                options.warmup,
                profile,
                &device,
            )?;
            rows.push(Row {
                system: system.clone(),
                what: format!("bare step, {}", strategy.name()),
                tokens_per_s: tokens as f64 / seconds,
                step_ms: 1000.0 * seconds / options.steps as f64,
                gflops_per_step: Some(flops / 1e9),
            });
        }
        if !options.no_loop {
            let (seconds, tokens) = loop_steps(
                &config,
                &train,
                profile,
                options.warmup,
                options.steps,
                &device,
            )?;
            rows.push(Row {
                system: system.clone(),
                what: "training loop (marginal)".into(),
                tokens_per_s: tokens as f64 / seconds,
                step_ms: 1000.0 * seconds / options.steps as f64,
                gflops_per_step: None,
            });
        }
    }
    if let Some(python) = &options.pytorch_python {
        rows.push(pytorch(
            python,
            &options.peer_script,
            &config,
            &batches,
            options.warmup,
            threads,
            options.cuda,
        )?);
    }
    let peer = rows
        .iter()
        .find(|r| r.system.starts_with("pytorch"))
        .map(|r| r.tokens_per_s);
    println!(
        "\n| system | measured | tokens/s | ms/step | GFLOP/step | vs PyTorch | vs bare custom |"
    );
    println!("|---|---|---:|---:|---:|---:|---:|");
    for row in &rows {
        let bare = rows
            .iter()
            .find(|r| r.system == row.system && r.what == "bare step, custom")
            .map(|r| r.tokens_per_s);
        let ratio = |other: Option<f64>| {
            other
                .filter(|_| !row.system.starts_with("pytorch"))
                .map_or("—".to_string(), |o| {
                    format!("{:.2}×", row.tokens_per_s / o)
                })
        };
        println!(
            "| {} | {} | {:.0} | {:.1} | {} | {} | {} |",
            row.system,
            row.what,
            row.tokens_per_s,
            row.step_ms,
            row.gflops_per_step
                .map_or("—".into(), |g| format!("{g:.2}")),
            ratio(peer),
            ratio(bare),
        );
    }
    Ok(())
}
