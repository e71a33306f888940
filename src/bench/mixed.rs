//! One base, many projects, measured (`tailor bench-mixed`, `make bench-mixed`). Requests for
//! the prefix and LoRA adapters a finetune sweep left (each adapter's own test inputs, arriving
//! interleaved) are generated twice: one project at a time (each adapter's requests batched
//! together on its own customized model) and in batches that mix projects through an adapter
//! bank. Reports requests/s of both and their ratio, and checks that every request got the same
//! outputs both ways.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail, ensure};
use burn::prelude::Device;

use crate::data::examples::{Example, read_examples};
use crate::generate::GenerationConfig;
use crate::generate::requests::{Models, Outputs, Request, generate_requests};
use crate::model::{AdapterBank, Backend, BartForConditionalGeneration, hf};
use crate::strategy::adapter::{load_named, read_info};
use crate::strategy::{Strategy, StrategyKind};
use crate::train::baseline;
use crate::train::finetune::{FoldParts, fold_file};
use crate::train::trainer::BEST_DIR;

/// Where the adapters are and how to generate.
#[derive(Debug, Clone)]
pub struct BenchMixedOptions {
    pub out: PathBuf,
    /// The profile whose finetune runs provide the adapters.
    pub profile: String,
    /// Test inputs per adapter (the first by pair id of its fold's test part).
    pub requests_per_adapter: usize,
    /// Inputs generated at once.
    pub batch_size: usize,
    /// Beam width (returned sequences = beams).
    pub num_beams: usize,
    /// Maximum output length [default: the baseline's generation_config.json, at most 64].
    pub max_length: Option<usize>,
    pub backend: Backend,
    pub cuda: bool,
    pub threads: usize,
    /// Timed repetitions of each way (alternating); the median is reported.
    pub repeat: usize,
}

/// The prefix and LoRA adapters of the profile's finetune runs: (name, best folder, fold file).
fn adapters(options: &BenchMixedOptions) -> Result<Vec<(String, PathBuf, PathBuf)>> {
    let root = crate::layout::Layout::new(&options.out)
        .runs(&options.profile)
        .finetune_dir();
    let mut found = Vec::new();
    let projects = std::fs::read_dir(&root)
        .with_context(|| format!("reading {} (run `make finetune` first)", root.display()))?;
    for project in projects {
        let project = project?.path();
        let Some(project_id) = project.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        for kind in StrategyKind::ALL
            .into_iter()
            .filter(|&k| Strategy::new(k).mixes_in_batch())
        {
            let strategy = project.join(kind.name());
            let Ok(folds) = std::fs::read_dir(&strategy) else {
                continue;
            };
            for fold in folds {
                let dir = fold?.path();
                let Some(k) = dir
                    .file_name()
                    .and_then(|n| n.to_str())
                    .and_then(|n| n.strip_prefix("fold"))
                    .and_then(|k| k.parse::<usize>().ok())
                else {
                    continue;
                };
                let best = dir.join(BEST_DIR);
                if read_info(&best).is_ok() {
                    found.push((
                        format!("{project_id}/{}/fold{k}", kind.name()),
                        best,
                        fold_file(&options.out, &options.profile, project_id, k),
                    ));
                }
            }
        }
    }
    found.sort();
    ensure!(
        found.len() >= 2,
        "{} has {} finished prefix/lora adapter(s); mixing needs at least 2 (run `make finetune \
         STRATEGY=prefix,lora PROFILE={}`)",
        root.display(),
        found.len(),
        options.profile
    );
    Ok(found)
}

/// Generate the interleaved requests both ways, print requests/s of each and their ratio, and
/// fail if any request's outputs differ between the two.
pub fn run(options: &BenchMixedOptions) -> Result<()> {
    let adapters = adapters(options)?;
    let base_dir = baseline::model_dir(&options.out, &options.profile);
    let device = options.backend.device(options.cuda)?;
    options.backend.set_threads(options.threads);
    let base = hf::load_dir(&base_dir, &device)
        .with_context(|| format!("loading the baseline {}", base_dir.display()))?;
    let examples = read_examples(&options.out)?;
    let requests = interleaved_requests(options, &adapters, &examples)?;
    let config = generation_config(options, &base_dir, &base)?;

    let named: Vec<(String, PathBuf)> = adapters
        .iter()
        .map(|(n, d, _)| (n.clone(), d.clone()))
        .collect();
    // Loaded once: the customized models serve one project at a time and are stacked into the
    // bank (`adapters` holds prefix and LoRA folders only).
    let customized = load_named(&base, &base_dir, &named, &device)?;
    let refs: Vec<&BartForConditionalGeneration> = customized.iter().collect();
    let stacked: Vec<(String, &BartForConditionalGeneration)> = named
        .iter()
        .zip(&customized)
        .map(|((name, _), model)| (name.clone(), model))
        .collect();
    let bank = AdapterBank::new(&stacked)?;
    print_setup(options, &named, requests.len(), &config);
    let bench = Bench {
        requests: &requests,
        config: &config,
        batch_size: options.batch_size,
        device: &device,
    };
    let mixed_models = Models::Mixed {
        base: &base,
        bank: &bank,
    };
    let timed = bench.time_both(&Models::Separate(&refs), &mixed_models, options.repeat)?;
    print_throughput(options, adapters.len(), requests.len(), &timed);
    check_same_outputs(&timed.alone, &timed.mixed, requests.len())
}

/// Each adapter's first test inputs (by pair id of its fold's test part), interleaved as
/// requests arriving from all projects: the first of each adapter, then the second, and so on.
fn interleaved_requests<'a>(
    options: &BenchMixedOptions,
    adapters: &[(String, PathBuf, PathBuf)],
    examples: &'a [Example],
) -> Result<Vec<Request<'a>>> {
    let by_id: HashMap<&str, &[u32]> = examples
        .iter()
        .map(|e| (e.pair_id.as_str(), e.input_ids.as_slice()))
        .collect();
    let mut per_adapter: Vec<Vec<&[u32]>> = Vec::new();
    for (name, _, fold) in adapters {
        let text = std::fs::read_to_string(fold)
            .with_context(|| format!("reading fold file {} ({name})", fold.display()))?;
        let parts: FoldParts = serde_json::from_str(&text)
            .with_context(|| format!("parsing fold file {}", fold.display()))?;
        let mut test = parts.test;
        test.sort();
        let inputs: Vec<&[u32]> = test
            .iter()
            .filter_map(|id| by_id.get(id.as_str()).copied())
            .take(options.requests_per_adapter)
            .collect();
        if inputs.is_empty() {
            bail!(
                "{name}: no test input of {} is in the examples table",
                fold.display()
            );
        }
        per_adapter.push(inputs);
    }
    let mut requests = Vec::new();
    for i in 0..options.requests_per_adapter {
        for (adapter, inputs) in per_adapter.iter().enumerate() {
            if let Some(input_ids) = inputs.get(i) {
                requests.push(Request { adapter, input_ids });
            }
        }
    }
    Ok(requests)
}

/// The baseline's generation settings, with `max_length` capped at 64 (unless given) so that
/// the benchmark stays short, and as many returned sequences as beams.
fn generation_config(
    options: &BenchMixedOptions,
    base_dir: &Path,
    base: &BartForConditionalGeneration,
) -> Result<GenerationConfig> {
    let mut config = GenerationConfig {
        max_length: 64,
        ..GenerationConfig::for_model(base)
    };
    let generation = base_dir.join("generation_config.json");
    if let Ok(text) = std::fs::read_to_string(&generation) {
        let json: serde_json::Value = serde_json::from_str(&text)
            .with_context(|| format!("parsing {}", generation.display()))?;
        config.apply_hf_generation_config(&json);
        config.max_length = config.max_length.min(64);
    }
    if let Some(max) = options.max_length {
        config.max_length = max;
    }
    config.num_beams = options.num_beams;
    config.num_return_sequences = options.num_beams;
    Ok(config)
}

/// The first line of the report: what is measured, so that a result can be read alone.
fn print_setup(
    options: &BenchMixedOptions,
    named: &[(String, PathBuf)],
    requests: usize,
    config: &GenerationConfig,
) {
    println!(
        "bench-mixed: {} adapters ({}), {} requests ({} per adapter, interleaved), batch {}, \
         {} beams, max_length {}, backend {}, median of {} timings per way",
        named.len(),
        named
            .iter()
            .map(|(n, _)| n.as_str())
            .collect::<Vec<_>>()
            .join(", "),
        requests,
        options.requests_per_adapter,
        options.batch_size,
        config.num_beams,
        config.max_length,
        options.backend,
        options.repeat.max(1)
    );
}

/// The requests and settings both ways generate with.
struct Bench<'a> {
    requests: &'a [Request<'a>],
    config: &'a GenerationConfig,
    batch_size: usize,
    device: &'a Device,
}

/// Both ways' outputs (from the last repetition) and median seconds.
struct Timed {
    alone: Vec<Outputs>,
    mixed: Vec<Outputs>,
    alone_s: f64,
    mixed_s: f64,
}

impl Bench<'_> {
    /// Generate every request with `models`, timed.
    fn time(&self, models: &Models<'_>) -> Result<(Vec<Outputs>, f64)> {
        let started = Instant::now();
        let outputs = generate_requests(
            models,
            self.requests,
            self.config,
            self.batch_size,
            self.device,
            |_| {},
        )?;
        Ok((outputs, started.elapsed().as_secs_f64()))
    }

    /// Time both ways `repeat` times (at least once), alternating so that neither gains from
    /// running later, after a warm-up batch so that neither pays one-time costs.
    fn time_both(&self, alone: &Models<'_>, mixed: &Models<'_>, repeat: usize) -> Result<Timed> {
        generate_requests(
            alone,
            &self.requests[..1],
            self.config,
            1,
            self.device,
            |_| {},
        )?;
        let (mut alone_times, mut mixed_times) = (Vec::new(), Vec::new());
        let (mut alone_outputs, mut mixed_outputs) = (Vec::new(), Vec::new());
        for _ in 0..repeat.max(1) {
            let (outputs, seconds) = self.time(alone)?;
            alone_outputs = outputs;
            alone_times.push(seconds);
            let (outputs, seconds) = self.time(mixed)?;
            mixed_outputs = outputs;
            mixed_times.push(seconds);
        }
        let median = |mut times: Vec<f64>| {
            times.sort_by(f64::total_cmp);
            times[times.len() / 2]
        };
        Ok(Timed {
            alone: alone_outputs,
            mixed: mixed_outputs,
            alone_s: median(alone_times),
            mixed_s: median(mixed_times),
        })
    }
}

/// Seconds, requests/s and batches of each way, and their throughput ratio.
fn print_throughput(options: &BenchMixedOptions, adapters: usize, requests: usize, timed: &Timed) {
    let (alone_s, mixed_s) = (timed.alone_s, timed.mixed_s);
    let batches = |groups: usize, per_group: usize| groups * per_group.div_ceil(options.batch_size);
    let n = requests as f64;
    println!(
        "one project at a time: {:>7.2} s  {:>6.2} requests/s  ({} batches)",
        alone_s,
        n / alone_s,
        batches(adapters, options.requests_per_adapter)
    );
    println!(
        "mixed batches:         {:>7.2} s  {:>6.2} requests/s  ({} batches)",
        mixed_s,
        n / mixed_s,
        batches(1, requests)
    );
    println!(
        "mixed / one at a time: {:.2}x throughput",
        alone_s / mixed_s
    );
}

/// Print how many requests got the same tokens both ways (and the largest score difference),
/// and fail unless all did: mixing adapters in a batch must not change what a project gets.
fn check_same_outputs(alone: &[Outputs], mixed: &[Outputs], requests: usize) -> Result<()> {
    let mut differing = 0;
    let mut max_score = 0f32;
    for (a, m) in alone.iter().zip(mixed) {
        let tokens = |o: &Outputs| o.iter().map(|(t, _)| t.clone()).collect::<Vec<_>>();
        if tokens(a) != tokens(m) {
            differing += 1;
        }
        for ((_, x), (_, y)) in a.iter().zip(m) {
            max_score = max_score.max((x - y).abs());
        }
    }
    println!(
        "outputs: {} of {} requests identical in both modes (max |Δscore| {max_score:.2e})",
        requests - differing,
        requests
    );
    ensure!(
        differing == 0,
        "{differing} request(s) got different outputs mixed and alone"
    );
    Ok(())
}
