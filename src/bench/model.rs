//! Training-step and beam-search throughput of our BART per compiled
//! backend, optionally against the same step in PyTorch `transformers`
//! (`pipelines/python/bench_bart_step.py`, same config, batch and token accounting).
//!
//! Training: forward + backward + AdamW (lr 1e-4, eps 1e-8, weight decay 0.01, set explicitly:
//! burn's defaults are 1e-5 / 1e-4) on random ids, dropout on; tokens/s counts encoder plus
//! decoder positions, `batch × (src_len + tgt_len)` per step. The forward alone is timed too, to
//! show where the time goes. Beam search: `num_beams` beams, exactly `tgt_len` generated tokens
//! per input (EOS held back), tokens/s counts the best sequence's tokens, `batch × tgt_len`.

use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use burn::nn::loss::CrossEntropyLoss;
use burn::optim::{AdamWConfig, GradientsParams};
use burn::prelude::*;
use indicatif::{ProgressBar, ProgressStyle};

use crate::generate::{EarlyStopping, GenerationConfig, generate};
use crate::model::{Backend, BartConfig, BartForConditionalGeneration, Preset, shift_tokens_right};

/// The model, batch and measurements.
#[derive(Debug, Clone)]
pub struct BenchModelOptions {
    pub preset: Preset,
    /// Backends to measure (repeatable); default: every compiled one.
    pub backend: Vec<Backend>,
    pub batch: usize,
    pub src_len: usize,
    pub tgt_len: usize,
    /// Timed training steps (after --warmup untimed ones).
    pub steps: usize,
    pub warmup: usize,
    pub num_beams: usize,
    /// Timed generate calls (after one untimed); 0 skips beam search.
    pub beam_steps: usize,
    /// CPU threads (libtorch's intra-op threads; flex uses rayon's pool, RAYON_NUM_THREADS).
    pub threads: usize,
    /// Run on CUDA GPU 0 (tch backend).
    pub cuda: bool,
    /// A Python with torch + transformers: also run the PyTorch peer and print ratios.
    pub pytorch_python: Option<PathBuf>,
    pub peer_script: PathBuf,
    pub seed: u64,
    /// Measure every system this many times, alternating, and keep each one's best run: on a
    /// shared machine the best run is the least disturbed one.
    pub repeats: usize,
}

/// One measured configuration.
#[derive(Debug, Clone)]
pub struct Measurement {
    pub system: String,
    pub mode: &'static str,
    pub tokens_per_s: f64,
    pub step_ms: f64,
    /// Training only: milliseconds of the forward pass (with loss) alone.
    pub forward_ms: Option<f64>,
}

/// Deterministic ordinary token ids (never the specials 0..=2), `[rows, len]`.
fn random_ids(rows: usize, len: usize, vocab: usize, seed: u64, device: &Device) -> Tensor<2, Int> {
    let mut state = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    let values: Vec<i64> = (0..rows * len)
        .map(|_| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            3 + ((state >> 33) as usize % (vocab - 3)) as i64
        })
        .collect();
    Tensor::from_data(TensorData::new(values, [rows, len]), device)
}

fn progress(total: usize, what: &str) -> ProgressBar {
    ProgressBar::new(total as u64).with_style(
        ProgressStyle::with_template(&format!("{{bar:30}} {{pos}}/{{len}} {what} {{elapsed}}"))
            .expect("valid template"),
    )
}

/// Training-step throughput on `device` (made autodiff here).
pub fn bench_train(
    config: &BartConfig,
    options: &BenchModelOptions,
    device: &Device,
) -> Result<Measurement> {
    let device = device.clone().autodiff();
    device.seed(options.seed);
    let mut model = BartForConditionalGeneration::new(config, &device);
    let mut optim = AdamWConfig::new()
        .with_epsilon(1e-8)
        .with_weight_decay(0.01)
        .init();
    let input_ids = random_ids(
        options.batch,
        options.src_len,
        config.vocab_size,
        options.seed,
        &device,
    );
    let mask = Tensor::<2, Int>::ones([options.batch, options.src_len], &device);
    let labels = random_ids(
        options.batch,
        options.tgt_len,
        config.vocab_size,
        options.seed + 1,
        &device,
    );
    let decoder_input_ids = shift_tokens_right(
        labels.clone(),
        config.pad_token_id,
        config.decoder_start_token_id,
    );
    let targets = labels.reshape([options.batch * options.tgt_len]);
    let loss_fn = CrossEntropyLoss::new(None, &device);
    let forward = |model: &BartForConditionalGeneration| {
        let logits = model.forward(
            input_ids.clone(),
            Some(mask.clone()),
            decoder_input_ids.clone(),
        );
        let [b, t, v] = logits.dims();
        loss_fn.forward(logits.reshape([b * t, v]), targets.clone())
    };

    let bar = progress(options.warmup + 2 * options.steps, "training steps");
    let mut step_seconds = 0.0;
    let mut forward_seconds = 0.0;
    for step in 0..options.warmup + options.steps {
        let start = Instant::now();
        let loss = forward(&model);
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        model = optim.step(1e-4, model, grads);
        let value = loss.into_scalar::<f32>();
        device.sync().ok();
        if !value.is_finite() {
            bail!("training loss became {value}");
        }
        if step >= options.warmup {
            step_seconds += start.elapsed().as_secs_f64();
        }
        bar.inc(1);
    }
    for _ in 0..options.steps {
        let start = Instant::now();
        let loss = forward(&model).into_scalar::<f32>();
        forward_seconds += start.elapsed().as_secs_f64();
        std::hint::black_box(loss);
        bar.inc(1);
    }
    bar.finish_and_clear();
    let tokens = (options.batch * (options.src_len + options.tgt_len) * options.steps) as f64;
    Ok(Measurement {
        system: String::new(),
        mode: "train",
        tokens_per_s: tokens / step_seconds,
        step_ms: 1000.0 * step_seconds / options.steps as f64,
        forward_ms: Some(1000.0 * forward_seconds / options.steps as f64),
    })
}

/// Beam-search throughput on `device`.
pub fn bench_beam(
    config: &BartConfig,
    options: &BenchModelOptions,
    device: &Device,
) -> Result<Measurement> {
    device.seed(options.seed);
    let model = BartForConditionalGeneration::new(config, device);
    let input_ids = random_ids(
        options.batch,
        options.src_len,
        config.vocab_size,
        options.seed,
        device,
    );
    let mask = Tensor::<2, Int>::ones([options.batch, options.src_len], device);
    let generation = GenerationConfig {
        max_length: options.tgt_len + 1,
        min_length: options.tgt_len + 1,
        num_beams: options.num_beams,
        num_return_sequences: 1,
        length_penalty: 1.0,
        early_stopping: EarlyStopping::False,
        forced_bos_token_id: None,
        forced_eos_token_id: None,
        ..GenerationConfig::for_model(&model)
    };
    let bar = progress(1 + options.beam_steps, "generate calls");
    let mut seconds = 0.0;
    for call in 0..1 + options.beam_steps {
        let start = Instant::now();
        let out = generate(&model, input_ids.clone(), Some(mask.clone()), &generation)?;
        if call > 0 {
            seconds += start.elapsed().as_secs_f64();
        }
        let generated = out.sequences[0].len() - 1;
        if generated != options.tgt_len {
            bail!(
                "beam search generated {generated} tokens, expected {}",
                options.tgt_len
            );
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    let tokens = (options.batch * options.tgt_len * options.beam_steps) as f64;
    Ok(Measurement {
        system: String::new(),
        mode: "beam",
        tokens_per_s: tokens / seconds,
        step_ms: 1000.0 * seconds / options.beam_steps as f64,
        forward_ms: None,
    })
}

/// Run the PyTorch peer script once (training, or beam search with `beam`).
fn bench_pytorch(
    python: &PathBuf,
    config: &BartConfig,
    options: &BenchModelOptions,
    beam: bool,
) -> Result<Measurement> {
    let dir = tempfile::tempdir()?;
    let config_path = dir.path().join("config.json");
    let mut peer_config = config.clone();
    // The peer controls generation itself; keep HF from forcing tokens it was not asked for.
    peer_config.forced_eos_token_id = None;
    peer_config.save(&config_path)?;
    let mut command = Command::new(python);
    command
        .arg(&options.peer_script)
        .arg("--preset-config")
        .arg(&config_path)
        .args(["--batch", &options.batch.to_string()])
        .args(["--src-len", &options.src_len.to_string()])
        .args(["--tgt-len", &options.tgt_len.to_string()])
        .args(["--threads", &options.threads.to_string()])
        .args(["--device", if options.cuda { "cuda" } else { "cpu" }]);
    if beam {
        command
            .args([
                "--steps",
                &options.beam_steps.to_string(),
                "--warmup",
                "1",
                "--beam",
            ])
            .args(["--num-beams", &options.num_beams.to_string()]);
    } else {
        command.args([
            "--steps",
            &options.steps.to_string(),
            "--warmup",
            &options.warmup.to_string(),
        ]);
    }
    let output = command.output().with_context(|| {
        format!(
            "running {} {}",
            python.display(),
            options.peer_script.display()
        )
    })?;
    let value = super::peer_result(&output)?;
    let number = |key: &str| {
        value[key]
            .as_f64()
            .with_context(|| format!("the peer's JSON has no number {key:?}: {value}"))
    };
    Ok(Measurement {
        system: format!(
            "pytorch {} ({})",
            value["torch"].as_str().unwrap_or("?"),
            value["attn_implementation"].as_str().unwrap_or("?")
        ),
        mode: if beam { "beam" } else { "train" },
        tokens_per_s: number("tokens_per_s")?,
        step_ms: number("step_ms")?,
        forward_ms: None,
    })
}

/// Measure every backend (and the PyTorch peer) and print one table row per system and mode.
pub fn run(options: &BenchModelOptions) -> Result<()> {
    let config = BartConfig::preset(options.preset);
    let backends = if options.backend.is_empty() {
        Backend::compiled()
    } else {
        options.backend.clone()
    };
    println!(
        "bench-model: preset {} · batch {} · src {} · tgt {} · {} beams · {} threads · best of {}",
        options.preset,
        options.batch,
        options.src_len,
        options.tgt_len,
        options.num_beams,
        options.threads,
        options.repeats.max(1)
    );
    let mut results: Vec<Measurement> = Vec::new();
    let keep_best = |results: &mut Vec<Measurement>, m: Measurement| match results
        .iter_mut()
        .find(|r| r.system == m.system && r.mode == m.mode)
    {
        Some(best) if best.tokens_per_s >= m.tokens_per_s => {}
        Some(best) => *best = m,
        None => results.push(m),
    };
    for _ in 0..options.repeats.max(1) {
        for &backend in &backends {
            backend.set_threads(options.threads);
            let device = backend.device(options.cuda)?;
            let system = format!(
                "tailor {backend}{}",
                if options.cuda { " cuda" } else { "" }
            );
            let mut train = bench_train(&config, options, &device)?;
            train.system = system.clone();
            keep_best(&mut results, train);
            if options.beam_steps > 0 {
                let mut beam = bench_beam(&config, options, &device)?;
                beam.system = system;
                keep_best(&mut results, beam);
            }
        }
        if let Some(python) = &options.pytorch_python {
            keep_best(
                &mut results,
                bench_pytorch(python, &config, options, false)?,
            );
            if options.beam_steps > 0 {
                keep_best(&mut results, bench_pytorch(python, &config, options, true)?);
            }
        }
    }
    println!(
        "\n| system | mode | tokens/s | ms/step | forward ms | vs PyTorch |\n|---|---|---:|---:|---:|---:|"
    );
    for result in &results {
        let peer = results
            .iter()
            .find(|r| r.mode == result.mode && r.system.starts_with("pytorch"));
        let ratio = match peer {
            Some(peer) if !result.system.starts_with("pytorch") => {
                format!("{:.2}×", result.tokens_per_s / peer.tokens_per_s)
            }
            _ => "—".to_string(),
        };
        println!(
            "| {} | {} | {:.0} | {:.1} | {} | {ratio} |",
            result.system,
            result.mode,
            result.tokens_per_s,
            result.step_ms,
            result
                .forward_ms
                .map_or("—".to_string(), |f| format!("{f:.1}")),
        );
    }
    Ok(())
}
