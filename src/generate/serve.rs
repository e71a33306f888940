//! `tailor generate`'s work: turn Java text or token ids into model inputs, generate with greedy
//! or beam search in batches, and print the top sequences; or serve a file of requests for
//! several projects' adapters over one base, in batches that mix prefix and LoRA adapters
//! ([`requests`](super::requests)) or one project at a time.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, Result, bail, ensure};
use burn::prelude::*;
use indicatif::{ProgressBar, ProgressStyle};

use crate::data::context::{ContextLevel, PairContext, model_input, normalize_code};
use crate::data::examples::truncate;
use crate::data::tokenizer::CodeTokenizer;
use crate::generate::requests::{Models, Outputs, Request, generate_requests};
use crate::generate::{EarlyStopping, Generated, GenerationConfig, generate};
use crate::java::{ClassKind, JavaParser};
use crate::model::{Backend, BartForConditionalGeneration, hf};
use crate::strategy::adapter::{load_bank, load_named};

/// What to generate from, with which model, and how.
///
/// Text inputs come from `java` + `method` (the model input assembled at `level` from a Java
/// file, as `tailor examples` does for mined pairs), else `input` (a file's whole content), else
/// `focal`; they are normalized like the training inputs and encoded with the model folder's
/// `tokenizer.json`. Otherwise `input_file` or `input_ids` give token ids. With `requests`, a
/// JSON-lines file of requests is served across the `adapter`s instead.
#[derive(Debug, Clone)]
pub struct GenerateOptions {
    /// HF-format model folder (config.json + model.safetensors, + tokenizer.json for text).
    pub model: PathBuf,
    /// Adapter folders for this base; with `requests`, `NAME=DIR` (or a bare `DIR`).
    pub adapter: Vec<String>,
    /// A JSON-lines file of requests, each `{"adapter": NAME, "focal": TEXT}` or `{"adapter":
    /// NAME, "input_ids": [..]}`.
    pub requests: Option<PathBuf>,
    /// With `requests`: batch each adapter's requests separately instead of mixing projects.
    pub one_at_a_time: bool,
    /// Model inputs as Java text.
    pub focal: Vec<String>,
    /// A file whose whole content is one model input as Java text.
    pub input: Option<PathBuf>,
    /// A Java source file holding the focal method `method`.
    pub java: Option<PathBuf>,
    pub method: Option<String>,
    /// Focal context assembled from `java`.
    pub level: ContextLevel,
    /// Inputs as space-separated token ids.
    pub input_ids: Vec<String>,
    /// A file of inputs, one space-separated id sequence per line.
    pub input_file: Option<PathBuf>,
    /// With text inputs: print JSON lines (with the decoded "text") instead of plain text.
    pub json: bool,
    pub generation: GenerationOverrides,
    /// Inputs generated at once.
    pub batch_size: usize,
    pub backend: Backend,
    pub cuda: bool,
}

/// The flags of `tailor generate` that override a model folder's `generation_config.json`
/// (precedence: these, then that file, then tailor's defaults); flattened into the command's
/// options, as `Table2Options` is into `mine`'s.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct GenerationOverrides {
    /// Beam width; 1 is greedy search [default: the model's generation_config.json, else 5].
    #[arg(long)]
    pub num_beams: Option<usize>,
    /// Sequences returned per input (top-k), at most --num-beams [default: 5, at most
    /// num_beams].
    #[arg(long)]
    pub num_return_sequences: Option<usize>,
    /// Maximum output length, counting the decoder start token [default: generation_config.json,
    /// else 128].
    #[arg(long)]
    pub max_length: Option<usize>,
    /// [default: generation_config.json, else 0]
    #[arg(long)]
    pub min_length: Option<usize>,
    /// Hypothesis score = sum of log-probabilities / generated_length ^ length_penalty
    /// [default: generation_config.json, else 1.0].
    #[arg(long)]
    pub length_penalty: Option<f32>,
    /// [default: generation_config.json, else false]
    #[arg(long, value_enum)]
    pub early_stopping: Option<EarlyStopping>,
    /// Ban repeating n-grams of this size; 0 disables [default: generation_config.json, else
    /// config.json, else 0].
    #[arg(long)]
    pub no_repeat_ngram_size: Option<usize>,
    /// HF repetition penalty on tokens already generated; 1.0 disables [default:
    /// generation_config.json, else 1.0].
    #[arg(long)]
    pub repetition_penalty: Option<f32>,
}

fn parse_ids(line: &str) -> Result<Vec<i64>> {
    line.split_whitespace()
        .map(|t| {
            t.parse::<i64>()
                .with_context(|| format!("token id {t:?} is not an integer"))
        })
        .collect()
}

/// The model input for method `name` of the Java file at `path`, at `level`: the same columns
/// the miner records (the class's declaration, constructors, public method signatures, fields),
/// assembled by the same [`model_input`].
fn input_from_java(path: &std::path::Path, name: &str, level: ContextLevel) -> Result<String> {
    let source = std::fs::read_to_string(path)
        .with_context(|| format!("reading the Java file {}", path.display()))?;
    let file = JavaParser::new()?
        .parse(&path.display().to_string(), &source)
        .with_context(|| format!("parsing {}", path.display()))?;
    for class in &file.classes {
        let focal = class
            .methods
            .iter()
            .chain(&class.constructors)
            .find(|m| m.name == name && m.has_body);
        let Some(focal) = focal else { continue };
        let interface = class.kind == ClassKind::Interface;
        // Public methods, as the miner's focal context has them (src/mining/map.rs).
        let method_signatures: Vec<String> = class
            .methods
            .iter()
            .filter(|m| m.has_modifier("public") || (interface && !m.has_modifier("private")))
            .map(|m| m.signature.clone())
            .collect();
        let constructors: Vec<String> = class
            .constructors
            .iter()
            .map(|c| c.signature.clone())
            .collect();
        let context = PairContext {
            focal_class: &class.nested_name,
            class_signature: &class.signature,
            focal_signature: &focal.signature,
            focal_body: &focal.text,
            constructors: &constructors,
            method_signatures: &method_signatures,
            fields: &class.fields,
        };
        return Ok(model_input(&context, level));
    }
    bail!(
        "{} declares no method or constructor `{name}` with a body",
        path.display()
    )
}

/// The first 120 characters of a model input, for the plain-text report.
fn preview(text: &str) -> String {
    match text.char_indices().nth(120) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_string(),
    }
}

/// The Java text inputs, when the inputs are text.
fn text_inputs(options: &GenerateOptions) -> Result<Option<Vec<String>>> {
    if let (Some(path), Some(name)) = (&options.java, &options.method) {
        return Ok(Some(vec![input_from_java(path, name, options.level)?]));
    }
    if let Some(path) = &options.input {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading the input {}", path.display()))?;
        return Ok(Some(vec![text]));
    }
    Ok((!options.focal.is_empty()).then(|| options.focal.clone()))
}

/// Precedence: flags, then the folder's generation_config.json, then tailor's defaults.
fn generation_config(
    options: &GenerateOptions,
    model: &BartForConditionalGeneration,
) -> Result<GenerationConfig> {
    let mut config = GenerationConfig::for_model_dir(&options.model, model)?;
    if let Some(v) = options.generation.num_beams {
        config.num_beams = v;
    }
    config.num_return_sequences = options
        .generation
        .num_return_sequences
        .unwrap_or_else(|| config.num_beams.min(5));
    if let Some(v) = options.generation.max_length {
        config.max_length = v;
    }
    if let Some(v) = options.generation.min_length {
        config.min_length = v;
    }
    if let Some(v) = options.generation.length_penalty {
        config.length_penalty = v;
    }
    if let Some(v) = options.generation.early_stopping {
        config.early_stopping = v;
    }
    if let Some(v) = options.generation.no_repeat_ngram_size {
        config.no_repeat_ngram_size = v;
    }
    if let Some(v) = options.generation.repetition_penalty {
        config.repetition_penalty = v;
    }
    Ok(config)
}

/// Generate for the inputs of `options` and print the top sequences of each (text, or JSON
/// lines), or serve its file of requests across its adapters.
pub fn run(options: &GenerateOptions) -> Result<()> {
    if let Some(path) = &options.requests {
        return run_requests(options, path);
    }
    ensure!(
        options.adapter.len() <= 1,
        "several --adapter need --requests FILE naming each request's adapter"
    );
    let texts = text_inputs(options)?;
    let tokenizer = match &texts {
        Some(_) => Some(CodeTokenizer::load(&options.model).with_context(|| {
            format!(
                "text inputs need the model's tokenizer: {} has none usable",
                options.model.display()
            )
        })?),
        None => None,
    };
    let device = options.backend.device(options.cuda)?;
    let model = load_model(options, &device)?;
    let inputs = model_inputs(options, texts.as_deref(), tokenizer.as_ref(), &model)?;
    let config = generation_config(options, &model)?;
    let progress = progress_bar(inputs.len(), "inputs");
    let report = Report {
        tokenizer: tokenizer.as_ref(),
        texts: texts.as_deref(),
        json: options.json,
    };
    let mut stdout = std::io::stdout().lock();
    let batch_size = options.batch_size.max(1);
    for (chunk_index, chunk) in inputs.chunks(batch_size).enumerate() {
        let generated = generate_batch(&model, chunk, &config, &device)?;
        report.print(
            &mut stdout,
            &generated,
            chunk_index * batch_size,
            config.num_return_sequences,
        )?;
        progress.inc(chunk.len() as u64);
    }
    progress.finish_and_clear();
    Ok(())
}

/// A progress bar over `len` inputs or requests (`what`), on stderr so stdout stays the
/// generated sequences only.
fn progress_bar(len: usize, what: &str) -> ProgressBar {
    ProgressBar::new(len as u64).with_style(
        ProgressStyle::with_template(&format!(
            "{{bar:40}} {{pos}}/{{len}} {what} {{elapsed}} (eta {{eta}})"
        ))
        .expect("valid template"),
    )
}

/// The model at `options.model`, customized by its one `--adapter` if given (without
/// `--requests` there is at most one).
fn load_model(options: &GenerateOptions, device: &Device) -> Result<BartForConditionalGeneration> {
    let model = hf::load_dir(&options.model, device)?;
    Ok(match options.adapter.first().map(PathBuf::from) {
        Some(adapter) => {
            let (customized, strategy) =
                crate::strategy::adapter::load_adapter(model, &options.model, &adapter, device)?;
            eprintln!(
                "generating with the {} adapter {}",
                strategy.name(),
                adapter.display()
            );
            customized
        }
        None => model,
    })
}

/// The token ids of each input: the `texts` normalized and encoded like training inputs, else
/// the id lines of `--input-file` or `--input-ids`; checked non-empty and inside the model's
/// vocabulary, so that a bad input fails here rather than inside generation.
fn model_inputs(
    options: &GenerateOptions,
    texts: Option<&[String]>,
    tokenizer: Option<&CodeTokenizer>,
    model: &BartForConditionalGeneration,
) -> Result<Vec<Vec<i64>>> {
    let inputs: Vec<Vec<i64>> = match (texts, tokenizer, &options.input_file) {
        (Some(texts), Some(tokenizer), _) => {
            // Positions beyond the model's table do not exist: cut like training inputs.
            let max = model.config.max_position_embeddings;
            let mut ids = Vec::with_capacity(texts.len());
            for (i, text) in texts.iter().enumerate() {
                let normalized = normalize_code(text);
                if normalized.is_empty() {
                    bail!("input {} is empty", i + 1);
                }
                let (encoded, cut) = truncate(tokenizer.encode(&normalized)?, max);
                if cut {
                    eprintln!("input {}: truncated to the model's {max} positions", i + 1);
                }
                ids.push(encoded.into_iter().map(i64::from).collect());
            }
            ids
        }
        (_, _, Some(path)) => std::fs::read_to_string(path)
            .with_context(|| format!("reading inputs {}", path.display()))?
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(parse_ids)
            .collect::<Result<_>>()?,
        _ => options
            .input_ids
            .iter()
            .map(|l| parse_ids(l))
            .collect::<Result<_>>()?,
    };
    if inputs.is_empty() || inputs.iter().any(Vec::is_empty) {
        bail!("no input: give --focal, --input, --input-ids or --input-file with non-empty lines");
    }
    let vocab = model.config.vocab_size as i64;
    if let Some(bad) = inputs.iter().flatten().find(|&&t| t < 0 || t >= vocab) {
        bail!("token id {bad} is outside the model's vocabulary (0..{vocab})");
    }
    Ok(inputs)
}

/// Generate for one batch of inputs, padded on the right to the longest with the model's pad
/// token and masked, as the tokenizer pads a training batch.
fn generate_batch(
    model: &BartForConditionalGeneration,
    chunk: &[Vec<i64>],
    config: &GenerationConfig,
    device: &Device,
) -> Result<Generated> {
    let pad = model.config.pad_token_id as i64;
    let len = chunk.iter().map(Vec::len).max().unwrap_or(0);
    let mut ids = Vec::with_capacity(chunk.len() * len);
    let mut mask = Vec::with_capacity(chunk.len() * len);
    for input in chunk {
        for i in 0..len {
            ids.push(input.get(i).copied().unwrap_or(pad));
            mask.push(i64::from(i < input.len()));
        }
    }
    let shape = [chunk.len(), len];
    let ids = Tensor::<2, Int>::from_data(TensorData::new(ids, shape), device);
    let mask = Tensor::<2, Int>::from_data(TensorData::new(mask, shape), device);
    generate(model, ids, Some(mask), config)
}

/// How `tailor generate` prints sequences without `--requests`: JSON lines of ids for id
/// inputs; for text inputs the decoded text, as JSON lines (`--json`) or as a plain report that
/// heads each input's sequences with a preview of the input.
struct Report<'a> {
    tokenizer: Option<&'a CodeTokenizer>,
    texts: Option<&'a [String]>,
    json: bool,
}

impl Report<'_> {
    /// Print one batch's rows (`per_input` per input, best first); its first input is input
    /// number `first` of the whole run.
    fn print(
        &self,
        out: &mut impl Write,
        generated: &Generated,
        first: usize,
        per_input: usize,
    ) -> Result<()> {
        for (row, (sequence, score)) in generated
            .sequences
            .iter()
            .zip(&generated.scores)
            .enumerate()
        {
            let input = first + row / per_input;
            let rank = row % per_input + 1;
            let Some(tokenizer) = self.tokenizer else {
                let line = serde_json::json!({
                    "input": input, "rank": rank, "score": score, "ids": sequence,
                });
                writeln!(out, "{line}")?;
                continue;
            };
            let text = tokenizer.decode(sequence)?;
            if self.json {
                let line = serde_json::json!({
                    "input": input, "rank": rank, "score": score, "ids": sequence, "text": text,
                });
                writeln!(out, "{line}")?;
            } else {
                if rank == 1 {
                    let text = self.texts.and_then(|t| t.get(input)).map_or("", |t| t);
                    writeln!(
                        out,
                        "input {}: {}",
                        input + 1,
                        preview(&normalize_code(text))
                    )?;
                }
                writeln!(out, "  #{rank} ({score:.4}) {text}")?;
            }
        }
        Ok(())
    }
}

/// One line of a --requests file.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RequestLine {
    adapter: Option<String>,
    focal: Option<String>,
    input_ids: Option<Vec<u32>>,
}

/// `NAME=DIR` (or a bare `DIR`, named by itself).
fn named_adapter(spec: &str) -> (String, PathBuf) {
    match spec.split_once('=') {
        Some((name, dir)) if !name.is_empty() => (name.to_string(), PathBuf::from(dir)),
        _ => (spec.to_string(), PathBuf::from(spec)),
    }
}

/// Generate for a file of requests, each for one of the --adapter models of one base.
fn run_requests(options: &GenerateOptions, path: &std::path::Path) -> Result<()> {
    let adapters: Vec<(String, PathBuf)> =
        options.adapter.iter().map(|s| named_adapter(s)).collect();
    ensure!(
        !adapters.is_empty(),
        "--requests needs at least one --adapter NAME=DIR"
    );
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading requests {}", path.display()))?;
    let device = options.backend.device(options.cuda)?;
    let base = hf::load_dir(&options.model, &device)?;
    let tokenizer = CodeTokenizer::load(&options.model).ok();
    let reader = RequestReader {
        adapters: &adapters,
        tokenizer: tokenizer.as_ref(),
        model_dir: &options.model,
        max: base.config.max_position_embeddings,
        vocab: base.config.vocab_size as u32,
    };
    let mut inputs: Vec<(usize, Vec<u32>)> = Vec::new();
    for (n, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        inputs.push(reader.read(line, &format!("{} line {}", path.display(), n + 1))?);
    }
    ensure!(!inputs.is_empty(), "{} holds no request", path.display());
    let config = generation_config(options, &base)?;
    let requests: Vec<Request<'_>> = inputs
        .iter()
        .map(|(adapter, ids)| Request {
            adapter: *adapter,
            input_ids: ids,
        })
        .collect();
    let progress = progress_bar(requests.len(), "requests");
    let started = std::time::Instant::now();
    let outputs = serve(
        options, &base, &adapters, &requests, &config, &device, &progress,
    )?;
    let seconds = started.elapsed().as_secs_f64();
    progress.finish_and_clear();
    print_outputs(&inputs, &outputs, &adapters, tokenizer.as_ref())?;
    eprintln!(
        "{} request(s) for {} adapter(s), {}: {seconds:.2} s, {:.2} requests/s",
        inputs.len(),
        adapters.len(),
        if one_adapter_at_a_time(options, adapters.len()) {
            "one adapter at a time"
        } else {
            "batches mixing adapters"
        },
        inputs.len() as f64 / seconds
    );
    Ok(())
}

/// Turns lines of a --requests file into (adapter index, token ids), checked against the
/// `--adapter` names and the base's vocabulary so that a bad line is reported by its number.
struct RequestReader<'a> {
    adapters: &'a [(String, PathBuf)],
    /// The base's tokenizer, needed only by requests given as text.
    tokenizer: Option<&'a CodeTokenizer>,
    model_dir: &'a std::path::Path,
    /// The base's positions: longer text inputs are cut like training inputs.
    max: usize,
    vocab: u32,
}

impl RequestReader<'_> {
    /// Read one line; `at` names it (`FILE line N`) in errors.
    fn read(&self, line: &str, at: &str) -> Result<(usize, Vec<u32>)> {
        let request: RequestLine = serde_json::from_str(line).with_context(|| at.to_string())?;
        let adapters = self.adapters;
        let adapter = match &request.adapter {
            Some(name) => adapters
                .iter()
                .position(|(a, _)| a == name)
                .with_context(|| {
                    let known: Vec<&str> = adapters.iter().map(|(a, _)| a.as_str()).collect();
                    format!("{at}: adapter {name:?} is not one of --adapter {known:?}")
                })?,
            None if adapters.len() == 1 => 0,
            None => bail!("{at}: no \"adapter\" (needed with several --adapter)"),
        };
        let ids = match (request.focal, request.input_ids) {
            (Some(focal), None) => {
                let tokenizer = self.tokenizer.with_context(|| {
                    format!(
                        "{at}: text needs {}/tokenizer.json",
                        self.model_dir.display()
                    )
                })?;
                let normalized = normalize_code(&focal);
                ensure!(!normalized.is_empty(), "{at}: empty focal text");
                truncate(tokenizer.encode(&normalized)?, self.max).0
            }
            (None, Some(ids)) => {
                ensure!(!ids.is_empty(), "{at}: empty input_ids");
                let vocab = self.vocab;
                if let Some(bad) = ids.iter().find(|&&t| t >= vocab) {
                    bail!("{at}: token id {bad} is outside the vocabulary (0..{vocab})");
                }
                ids
            }
            _ => bail!("{at}: give exactly one of \"focal\" and \"input_ids\""),
        };
        Ok((adapter, ids))
    }
}

/// Whether requests are served one adapter at a time (asked for, or nothing to mix) rather
/// than in batches mixing adapters.
fn one_adapter_at_a_time(options: &GenerateOptions, adapters: usize) -> bool {
    options.one_at_a_time || adapters == 1
}

/// Generate for `requests` one adapter at a time (each adapter's customized model, batches of
/// one adapter) or in batches mixing adapters through a bank over `base`.
fn serve(
    options: &GenerateOptions,
    base: &BartForConditionalGeneration,
    adapters: &[(String, PathBuf)],
    requests: &[Request<'_>],
    config: &GenerationConfig,
    device: &Device,
    progress: &ProgressBar,
) -> Result<Vec<Outputs>> {
    let (customized, refs, bank);
    let models = if one_adapter_at_a_time(options, adapters.len()) {
        customized = load_named(base, &options.model, adapters, device)?;
        refs = customized.iter().collect::<Vec<_>>();
        Models::Separate(&refs)
    } else {
        bank = load_bank(base, &options.model, adapters, device)?;
        Models::Mixed { base, bank: &bank }
    };
    generate_requests(&models, requests, config, options.batch_size, device, |n| {
        progress.inc(n as u64)
    })
}

/// Print each request's sequences as JSON lines, in request order, with the decoded text when
/// the base has a tokenizer.
fn print_outputs(
    inputs: &[(usize, Vec<u32>)],
    outputs: &[Outputs],
    adapters: &[(String, PathBuf)],
    tokenizer: Option<&CodeTokenizer>,
) -> Result<()> {
    let mut stdout = std::io::stdout().lock();
    for (index, ((adapter, _), outs)) in inputs.iter().zip(outputs).enumerate() {
        for (rank, (ids, score)) in outs.iter().enumerate() {
            let text = match tokenizer {
                Some(t) => Some(t.decode(ids)?),
                None => None,
            };
            let line = serde_json::json!({
                "request": index, "adapter": adapters[*adapter].0, "rank": rank + 1,
                "score": score, "ids": ids, "text": text,
            });
            writeln!(stdout, "{line}")?;
        }
    }
    Ok(())
}
