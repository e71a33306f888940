//! `tailor generate`: greedy or beam-search generation with a HF-format model, from Java text
//! (through the model folder's `tokenizer.json`) or from token ids.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, Result, bail, ensure};
use burn::prelude::*;
use indicatif::{ProgressBar, ProgressStyle};

use crate::data::context::{ContextLevel, PairContext, model_input, normalize_code};
use crate::data::examples::truncate;
use crate::data::tokenizer::CodeTokenizer;
use crate::generate::{EarlyStopping, GenerationConfig, generate};
use crate::java::{ClassKind, JavaParser};
use crate::model::{Backend, hf};

/// Generate test cases with greedy (`--num-beams 1`) or beam search.
///
/// From Java source: `--java FILE --method NAME [--level L]` parses the file, finds the method
/// and assembles the model input at the focal-context level the model was trained at, exactly
/// as `tailor examples` does for mined pairs. From a ready model input: `--focal TEXT`
/// (repeatable) or `--input FILE` (the whole file is one input), laid out as in training (at FM
/// the focal method alone, at FM_FC_MS_FF `Class { method ctors; signatures; fields }`). Text is
/// normalized like the training inputs (comments dropped, whitespace collapsed), encoded with
/// the model folder's `tokenizer.json`, and the top-k tests are printed as text with their
/// scores (`--json`: one JSON line per sequence, {"input", "rank", "score", "ids", "text"}).
///
/// From token ids: `--input-ids "0 345 12 2"` (repeatable) or `--input-file` with one
/// space-separated sequence per line; prints one JSON line per returned sequence:
/// {"input", "rank", "score", "ids"}.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// HF-format model folder (config.json + model.safetensors, + tokenizer.json for text).
    #[arg(long)]
    pub model: PathBuf,
    /// An adapter folder saved for this base (`tailor finetune`'s `best/`): generate with the
    /// customized model (base + the adapter's tensors; an adapter of another base is an error).
    /// Repeat as NAME=DIR with --requests to serve several projects from one base: prefix and
    /// LoRA adapters share batches (one base, many projects).
    #[arg(long, num_args = 1)]
    pub adapter: Vec<String>,
    /// A JSON-lines file of requests, each `{"adapter": NAME, "focal": TEXT}` or `{"adapter":
    /// NAME, "input_ids": [..]}` (NAME from --adapter; may be omitted with one adapter). Prints
    /// one JSON line per returned sequence: {"request", "adapter", "rank", "score", "ids",
    /// "text"}, and the throughput on stderr.
    #[arg(long, conflicts_with_all = ["focal", "input", "java", "input_ids", "input_file"])]
    pub requests: Option<PathBuf>,
    /// With --requests: batch each adapter's requests separately (one project at a time)
    /// instead of mixing projects in a batch; for comparison, the outputs are the same.
    #[arg(long, requires = "requests")]
    pub one_at_a_time: bool,
    /// One model input as Java text, e.g. a focal method (repeat for a batch).
    #[arg(long, num_args = 1, conflicts_with_all = ["input_ids", "input_file", "input"])]
    pub focal: Vec<String>,
    /// A file whose whole content is one model input as Java text.
    #[arg(long, conflicts_with_all = ["input_ids", "input_file"])]
    pub input: Option<PathBuf>,
    /// A Java source file holding the focal method (with --method).
    #[arg(long, requires = "method", conflicts_with_all = ["input_ids", "input_file", "input", "focal"])]
    pub java: Option<PathBuf>,
    /// The focal method's name in --java (the first declaration of that name; a constructor
    /// when it is the class's name).
    #[arg(long, requires = "java")]
    pub method: Option<String>,
    /// Focal context assembled from --java: use the level the model was trained at.
    #[arg(long, value_enum, default_value_t = ContextLevel::FmFcMsFf, requires = "java")]
    pub level: ContextLevel,
    /// One input as space-separated token ids (repeat for a batch).
    #[arg(long, num_args = 1)]
    pub input_ids: Vec<String>,
    /// A file of inputs, one space-separated id sequence per line.
    #[arg(long, conflicts_with = "input_ids")]
    pub input_file: Option<PathBuf>,
    /// With text inputs: print JSON lines (with the decoded "text") instead of plain text.
    #[arg(long)]
    pub json: bool,
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
    /// Inputs generated at once.
    #[arg(long, default_value_t = 8)]
    pub batch_size: usize,
    #[arg(long, value_enum, default_value_t = Backend::Flex)]
    pub backend: Backend,
    /// Run on CUDA GPU 0 (tch backend).
    #[arg(long)]
    pub cuda: bool,
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
fn text_inputs(args: &Args) -> Result<Option<Vec<String>>> {
    if let (Some(path), Some(name)) = (&args.java, &args.method) {
        return Ok(Some(vec![input_from_java(path, name, args.level)?]));
    }
    if let Some(path) = &args.input {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading the input {}", path.display()))?;
        return Ok(Some(vec![text]));
    }
    Ok((!args.focal.is_empty()).then(|| args.focal.clone()))
}

/// Precedence: flags, then the folder's generation_config.json, then tailor's defaults.
fn generation_config(
    args: &Args,
    model: &crate::model::BartForConditionalGeneration,
) -> Result<GenerationConfig> {
    let mut config = GenerationConfig {
        max_length: 128,
        num_beams: 5,
        ..GenerationConfig::for_model(model)
    };
    let path = args.model.join("generation_config.json");
    if path.exists() {
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        let json: serde_json::Value =
            serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
        config.apply_hf_generation_config(&json);
    }
    if let Some(v) = args.num_beams {
        config.num_beams = v;
    }
    config.num_return_sequences = args
        .num_return_sequences
        .unwrap_or_else(|| config.num_beams.min(5));
    if let Some(v) = args.max_length {
        config.max_length = v;
    }
    if let Some(v) = args.min_length {
        config.min_length = v;
    }
    if let Some(v) = args.length_penalty {
        config.length_penalty = v;
    }
    if let Some(v) = args.early_stopping {
        config.early_stopping = v;
    }
    if let Some(v) = args.no_repeat_ngram_size {
        config.no_repeat_ngram_size = v;
    }
    if let Some(v) = args.repetition_penalty {
        config.repetition_penalty = v;
    }
    Ok(config)
}

pub fn run(args: Args) -> Result<()> {
    if let Some(path) = &args.requests {
        return run_requests(&args, path);
    }
    ensure!(
        args.adapter.len() <= 1,
        "several --adapter need --requests FILE naming each request's adapter"
    );
    let texts = text_inputs(&args)?;
    let tokenizer = match &texts {
        Some(_) => Some(CodeTokenizer::load(&args.model).with_context(|| {
            format!(
                "text inputs need the model's tokenizer: {} has none usable",
                args.model.display()
            )
        })?),
        None => None,
    };
    let device = args.backend.device(args.cuda)?;
    let model = hf::load_dir(&args.model, &device)?;
    let model = match args.adapter.first().map(PathBuf::from) {
        Some(adapter) => {
            let (customized, strategy) =
                crate::model::adapter::load_adapter(model, &args.model, &adapter, &device)?;
            eprintln!(
                "generating with the {} adapter {}",
                strategy.name(),
                adapter.display()
            );
            customized
        }
        None => model,
    };
    let inputs: Vec<Vec<i64>> = match (&texts, &tokenizer, &args.input_file) {
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
        _ => args
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
    let config = generation_config(&args, &model)?;
    let pad = model.config.pad_token_id as i64;
    let progress = ProgressBar::new(inputs.len() as u64).with_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} inputs {elapsed} (eta {eta})")
            .expect("valid template"),
    );
    let mut stdout = std::io::stdout().lock();
    for (chunk_index, chunk) in inputs.chunks(args.batch_size.max(1)).enumerate() {
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
        let ids = Tensor::<2, Int>::from_data(TensorData::new(ids, shape), &device);
        let mask = Tensor::<2, Int>::from_data(TensorData::new(mask, shape), &device);
        let generated = generate(&model, ids, Some(mask), &config)?;
        let per_input = config.num_return_sequences;
        for (row, (sequence, score)) in generated
            .sequences
            .iter()
            .zip(&generated.scores)
            .enumerate()
        {
            let input = chunk_index * args.batch_size.max(1) + row / per_input;
            let rank = row % per_input + 1;
            let Some(tokenizer) = &tokenizer else {
                let line = serde_json::json!({
                    "input": input, "rank": rank, "score": score, "ids": sequence,
                });
                writeln!(stdout, "{line}")?;
                continue;
            };
            let text = tokenizer.decode(sequence)?;
            if args.json {
                let line = serde_json::json!({
                    "input": input, "rank": rank, "score": score, "ids": sequence, "text": text,
                });
                writeln!(stdout, "{line}")?;
            } else {
                if rank == 1 {
                    let text = texts.as_ref().and_then(|t| t.get(input)).map_or("", |t| t);
                    writeln!(
                        stdout,
                        "input {}: {}",
                        input + 1,
                        preview(&normalize_code(text))
                    )?;
                }
                writeln!(stdout, "  #{rank} ({score:.4}) {text}")?;
            }
        }
        progress.inc(chunk.len() as u64);
    }
    progress.finish_and_clear();
    Ok(())
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
fn run_requests(args: &Args, path: &std::path::Path) -> Result<()> {
    use crate::generate::requests::{Models, Request, generate_requests};
    use crate::model::AdapterBank;
    use crate::model::mixed::load_named;

    let adapters: Vec<(String, PathBuf)> = args.adapter.iter().map(|s| named_adapter(s)).collect();
    ensure!(
        !adapters.is_empty(),
        "--requests needs at least one --adapter NAME=DIR"
    );
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading requests {}", path.display()))?;
    let device = args.backend.device(args.cuda)?;
    let base = hf::load_dir(&args.model, &device)?;
    let tokenizer = CodeTokenizer::load(&args.model).ok();
    let max = base.config.max_position_embeddings;
    let vocab = base.config.vocab_size as u32;
    let mut inputs: Vec<(usize, Vec<u32>)> = Vec::new();
    for (n, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let at = || format!("{} line {}", path.display(), n + 1);
        let request: RequestLine = serde_json::from_str(line).with_context(at)?;
        let adapter = match &request.adapter {
            Some(name) => adapters
                .iter()
                .position(|(a, _)| a == name)
                .with_context(|| {
                    let known: Vec<&str> = adapters.iter().map(|(a, _)| a.as_str()).collect();
                    format!(
                        "{}: adapter {name:?} is not one of --adapter {known:?}",
                        at()
                    )
                })?,
            None if adapters.len() == 1 => 0,
            None => bail!("{}: no \"adapter\" (needed with several --adapter)", at()),
        };
        let ids = match (request.focal, request.input_ids) {
            (Some(focal), None) => {
                let tokenizer = tokenizer.as_ref().with_context(|| {
                    format!(
                        "{}: text needs {}/tokenizer.json",
                        at(),
                        args.model.display()
                    )
                })?;
                let normalized = normalize_code(&focal);
                ensure!(!normalized.is_empty(), "{}: empty focal text", at());
                truncate(tokenizer.encode(&normalized)?, max).0
            }
            (None, Some(ids)) => {
                ensure!(!ids.is_empty(), "{}: empty input_ids", at());
                if let Some(bad) = ids.iter().find(|&&t| t >= vocab) {
                    bail!(
                        "{}: token id {bad} is outside the vocabulary (0..{vocab})",
                        at()
                    );
                }
                ids
            }
            _ => bail!("{}: give exactly one of \"focal\" and \"input_ids\"", at()),
        };
        inputs.push((adapter, ids));
    }
    ensure!(!inputs.is_empty(), "{} holds no request", path.display());
    let config = generation_config(args, &base)?;
    let requests: Vec<Request<'_>> = inputs
        .iter()
        .map(|(adapter, ids)| Request {
            adapter: *adapter,
            input_ids: ids,
        })
        .collect();
    let progress = ProgressBar::new(requests.len() as u64).with_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} requests {elapsed} (eta {eta})")
            .expect("valid template"),
    );
    let started = std::time::Instant::now();
    let outputs = if args.one_at_a_time || adapters.len() == 1 {
        let models = load_named(&base, &args.model, &adapters, &device)?;
        let refs: Vec<&crate::model::BartForConditionalGeneration> = models.iter().collect();
        let models = Models::Separate(&refs);
        generate_requests(&models, &requests, &config, args.batch_size, &device, |n| {
            progress.inc(n as u64)
        })?
    } else {
        let bank = AdapterBank::load(&base, &args.model, &adapters, &device)?;
        let models = Models::Mixed {
            base: &base,
            bank: &bank,
        };
        generate_requests(&models, &requests, &config, args.batch_size, &device, |n| {
            progress.inc(n as u64)
        })?
    };
    let seconds = started.elapsed().as_secs_f64();
    progress.finish_and_clear();
    let mut stdout = std::io::stdout().lock();
    for (index, ((adapter, _), outs)) in inputs.iter().zip(&outputs).enumerate() {
        for (rank, (ids, score)) in outs.iter().enumerate() {
            let text = match &tokenizer {
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
    eprintln!(
        "{} request(s) for {} adapter(s), {}: {seconds:.2} s, {:.2} requests/s",
        inputs.len(),
        adapters.len(),
        if args.one_at_a_time || adapters.len() == 1 {
            "one adapter at a time"
        } else {
            "batches mixing adapters"
        },
        inputs.len() as f64 / seconds
    );
    Ok(())
}
