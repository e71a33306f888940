//! Training examples: every mined pair of a split project as token ids, with its tokenizer.
//!
//! [`ensure_examples`] is the stage's one entry point. It keeps two things up to date under an
//! output folder, each with a JSON stamp saying what it was built from:
//!
//! - `OUT/tokenizer/` — `tokenizer.json` (+ the `transformers` config files), trained on the
//!   train split's model inputs at the chosen level and their tests; stamp
//!   `tailor_tokenizer_stamp.json` (level, vocabulary size, minimum frequency, a hash of the
//!   `pairs` and `projects` tables, the tokenizer's content hash).
//! - `OUT/tables/examples.parquet` — one row per pair whose project has a split; stamp
//!   `OUT/tables/examples.stamp.json` (all settings, the tokenizer's hash, the tables' hash).
//!
//! Only what is stale is rebuilt, and a line says what and why: changing `max_input` re-encodes
//! the examples with the same tokenizer; a new `pairs` table retrains both. Truncation keeps the
//! first `max − 1` tokens and re-appends `</s>`, so every sequence still ends like one; how many
//! inputs and targets were cut is stored per row and printed per split.
//!
//! With `retrieved = 1` every input also carries the most similar existing test of its project
//! behind a separator, and its row records which pair that was and its score
//! ([`crate::data::augment`], which also says how the two parts share `max_input` and what may be
//! retrieved). The tokenizer is trained on plain inputs either way, so switching retrieval on or
//! off re-encodes the examples but never retrains it.

use std::collections::HashMap;
use std::fmt;
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail, ensure};
use indicatif::{ParallelProgressIterator, ProgressBar, ProgressStyle};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use xxhash_rust::xxh3::Xxh3;

use super::augment::{MIN_AUGMENTED_INPUT, encode_input, project_indexes};
use super::context::{ContextLevel, PairContext, model_input, model_target};
use super::tokenizer::{CodeTokenizer, EOS, TOKENIZER_FILE};
use crate::layout::{Layout, TOKENIZER_STAMP};
use crate::mining::Pair;
use crate::tables::examples::{self as table, ExampleRow};
use crate::tables::projects::{self, Status};
use crate::tables::write_atomic;
use crate::tables::{pairs, table_path};

/// What the examples are built with; the tokenizer depends on `level`, `vocab_size` and
/// `min_frequency` only. Unknown fields are refused, so a misspelt `[data]` key of a profile
/// (`retreived = 1`) is an error rather than a silently plain run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExampleSettings {
    pub level: ContextLevel,
    /// Longest input in tokens, `<s>` and `</s>` included.
    pub max_input: usize,
    /// Longest target in tokens, `<s>` and `</s>` included.
    pub max_target: usize,
    pub vocab_size: usize,
    /// Pairs of symbols seen fewer times than this in the train split are never merged.
    pub min_frequency: u64,
    /// Retrieved tests appended to each input (issue 17): 0, plain inputs (the paper), or 1,
    /// the most similar existing test of the same project behind a separator
    /// ([`crate::data::augment`]). Left out of a profile or recorded recipe when 0, so those
    /// written before it existed read and compare unchanged.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub retrieved: usize,
}

fn is_zero(value: &usize) -> bool {
    *value == 0
}

impl ExampleSettings {
    /// Refuses settings no example can be built with, naming the field, before anything is
    /// trained or encoded: lengths without room for `<s>` and `</s>`, a `retrieved` other than
    /// 0 or 1 (one retrieved test is what the budget and the table's columns are made for), and
    /// a `max_input` too short to hold a retrieved test beside the focal context.
    pub fn validate(&self) -> Result<()> {
        ensure!(
            self.max_input >= 2 && self.max_target >= 2,
            "max input ({}) and max target ({}) must leave room for <s> and </s> (at least 2)",
            self.max_input,
            self.max_target
        );
        ensure!(
            self.retrieved <= 1,
            "data.retrieved is {}; it must be 0 (plain inputs) or 1 (the nearest test of the \
             same project appended)",
            self.retrieved
        );
        ensure!(
            self.retrieved == 0 || self.max_input >= MIN_AUGMENTED_INPUT,
            "data.max_input {} is too short for a retrieved test (data.retrieved = 1 needs at \
             least {MIN_AUGMENTED_INPUT})",
            self.max_input
        );
        Ok(())
    }
}

impl Default for ExampleSettings {
    /// The `cpu` profile's limits (issue 11): inputs 512, targets 256, a 16k vocabulary.
    fn default() -> Self {
        Self {
            level: ContextLevel::default(),
            max_input: 512,
            max_target: 256,
            vocab_size: 16384,
            min_frequency: 2,
            retrieved: 0,
        }
    }
}

/// One training example, as the training loop consumes it.
#[derive(Debug, Clone, PartialEq)]
pub struct Example {
    pub pair_id: String,
    pub project_id: String,
    pub split: String,
    pub input_ids: Vec<u32>,
    pub target_ids: Vec<u32>,
    pub input_truncated: bool,
    pub target_truncated: bool,
    /// The pair whose test the input carries (retrieval-augmented inputs), so a prediction can
    /// be traced to what the model was shown; `None` for plain inputs or when nothing matched.
    pub retrieved_pair_id: Option<String>,
    /// Its BM25 score for this example's focal method; `None` exactly when the id is.
    pub retrieved_score: Option<f64>,
}

impl Example {
    /// (input tokens, target tokens): what batching plans with.
    pub fn lengths(&self) -> (usize, usize) {
        (self.input_ids.len(), self.target_ids.len())
    }
}

/// Per-split counts of one examples table.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SplitSummary {
    pub split: String,
    pub examples: usize,
    pub truncated_inputs: usize,
    pub truncated_targets: usize,
    /// Mean tokens per input after truncation (what the model sees).
    pub mean_input_tokens: f64,
    pub mean_target_tokens: f64,
    /// Mean tokens per input before truncation.
    pub mean_input_tokens_full: f64,
    pub mean_target_tokens_full: f64,
    /// Examples whose input carries a retrieved test (0 with plain inputs).
    pub retrieved: usize,
}

/// What [`ensure_examples`] found or built.
#[derive(Debug, Clone, Serialize)]
pub struct ExamplesSummary {
    pub settings: ExampleSettings,
    /// train, valid, test (those that have examples).
    pub splits: Vec<SplitSummary>,
    /// Pairs left out because their project failed or has no split.
    pub skipped_pairs: usize,
    pub vocab_size: usize,
    pub tokenizer_rebuilt: bool,
    pub examples_rebuilt: bool,
    /// Seconds spent training the tokenizer (0 when reused).
    pub tokenizer_seconds: f64,
    /// Seconds spent assembling and encoding the examples (0 when reused).
    pub encode_seconds: f64,
    pub seconds: f64,
    pub tokenizer_dir: PathBuf,
    pub table: PathBuf,
}

/// Where the tokenizer lives under an output folder.
pub fn tokenizer_dir(out: &Path) -> PathBuf {
    Layout::new(out).tokenizer_dir()
}

fn examples_stamp_path(out: &Path) -> PathBuf {
    Layout::new(out).examples_stamp()
}

/// What the tokenizer in `OUT/tokenizer` was trained from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct TokenizerStamp {
    level: ContextLevel,
    vocab_size: usize,
    min_frequency: u64,
    /// xxh3 of pairs.parquet + projects.parquet.
    inputs_hash: String,
    tokenizer_hash: String,
    train_texts: usize,
}

/// What `examples.parquet` was built from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct ExamplesStamp {
    schema_version: u32,
    settings: ExampleSettings,
    tokenizer_hash: String,
    inputs_hash: String,
    skipped_pairs: usize,
}

/// The settings `OUT/tables/examples.parquet` was built with (its stamp): what decides how a
/// customization fold rebuilds its inputs (e.g. with the fold's retrieved tests) so that the
/// sweep and the evaluation build the very same inputs.
pub fn built_settings(out: &Path) -> Result<ExampleSettings> {
    let path = examples_stamp_path(out);
    read_stamp::<ExamplesStamp>(&path)
        .map(|stamp| stamp.settings)
        .with_context(|| {
            format!(
                "{} is missing or unreadable: run `tailor examples` (or `tailor baseline`) first",
                path.display()
            )
        })
}

fn read_stamp<T: for<'de> Deserialize<'de>>(path: &Path) -> Option<T> {
    let text = std::fs::read_to_string(path).ok()?;
    serde_json::from_str(&text).ok()
}

fn write_stamp<T: Serialize>(path: &Path, stamp: &T) -> Result<()> {
    write_atomic(path, serde_json::to_string_pretty(stamp)?.as_bytes())
}

/// xxh3 of the bytes of the tables the examples derive from, read in chunks.
fn inputs_hash(out: &Path) -> Result<String> {
    let mut hasher = Xxh3::new();
    let mut buffer = vec![0u8; 1 << 20];
    for name in ["pairs", "projects"] {
        let path = table_path(out, name);
        let mut file = std::fs::File::open(&path).with_context(|| {
            format!(
                "reading table `{name}` at {} (run `tailor mine` first)",
                path.display()
            )
        })?;
        hasher.update(name.as_bytes());
        loop {
            let n = file
                .read(&mut buffer)
                .with_context(|| format!("reading {}", path.display()))?;
            if n == 0 {
                break;
            }
            hasher.update(&buffer[..n]);
        }
    }
    Ok(format!("{:016x}", hasher.digest()))
}

/// The tokenizer in `dir` when it is up to date for `settings` and the tables, else why not.
fn tokenizer_staleness(
    dir: &Path,
    settings: &ExampleSettings,
    inputs: &str,
) -> Result<CodeTokenizer, String> {
    let Some(stamp) = read_stamp::<TokenizerStamp>(&dir.join(TOKENIZER_STAMP)) else {
        return Err("no tokenizer yet".into());
    };
    let mut why = Vec::new();
    if stamp.level != settings.level {
        why.push(format!("level {} → {}", stamp.level, settings.level));
    }
    if stamp.vocab_size != settings.vocab_size {
        why.push(format!(
            "vocabulary size {} → {}",
            stamp.vocab_size, settings.vocab_size
        ));
    }
    if stamp.min_frequency != settings.min_frequency {
        why.push(format!(
            "minimum frequency {} → {}",
            stamp.min_frequency, settings.min_frequency
        ));
    }
    if stamp.inputs_hash != inputs {
        why.push("the pairs or projects table changed".into());
    }
    if !why.is_empty() {
        return Err(why.join(", "));
    }
    match CodeTokenizer::load(&dir.join(TOKENIZER_FILE)) {
        Err(e) => Err(format!("{e:#}")),
        Ok(tok) if tok.content_hash() != stamp.tokenizer_hash => {
            Err(format!("{TOKENIZER_FILE} was changed after training"))
        }
        Ok(tok) => Ok(tok),
    }
}

/// The examples' stamp when the table is up to date, else why not.
fn examples_staleness(
    out: &Path,
    settings: &ExampleSettings,
    tokenizer_hash: &str,
    inputs: &str,
) -> Result<ExamplesStamp, String> {
    if !table_path(out, "examples").exists() {
        return Err("no examples table yet".into());
    }
    let Some(stamp) = read_stamp::<ExamplesStamp>(&examples_stamp_path(out)) else {
        return Err("the examples table has no stamp".into());
    };
    let mut why = Vec::new();
    if stamp.schema_version != table::VERSION {
        why.push(format!(
            "schema version {} → {}",
            stamp.schema_version,
            table::VERSION
        ));
    }
    if stamp.settings != *settings {
        let (a, b) = (&stamp.settings, settings);
        for (name, old, new) in [
            ("level", a.level.to_string(), b.level.to_string()),
            (
                "max input",
                a.max_input.to_string(),
                b.max_input.to_string(),
            ),
            (
                "max target",
                a.max_target.to_string(),
                b.max_target.to_string(),
            ),
            (
                "vocabulary size",
                a.vocab_size.to_string(),
                b.vocab_size.to_string(),
            ),
            (
                "minimum frequency",
                a.min_frequency.to_string(),
                b.min_frequency.to_string(),
            ),
            (
                "retrieved tests",
                a.retrieved.to_string(),
                b.retrieved.to_string(),
            ),
        ] {
            if old != new {
                why.push(format!("{name} {old} → {new}"));
            }
        }
    }
    if stamp.tokenizer_hash != tokenizer_hash {
        why.push("the tokenizer changed".into());
    }
    if stamp.inputs_hash != inputs {
        why.push("the pairs or projects table changed".into());
    }
    if why.is_empty() {
        Ok(stamp)
    } else {
        Err(why.join(", "))
    }
}

/// A pair whose project has a split.
struct Usable<'a> {
    pair: &'a Pair,
    split: String,
}

/// The pairs that can become examples (their project is `ok` and has a split), and how many
/// were skipped.
fn usable_pairs<'a>(out: &Path, pairs: &'a [Pair]) -> Result<(Vec<Usable<'a>>, usize)> {
    let path = table_path(out, "projects");
    let rows = projects::read_projects(&path)?;
    let splits: HashMap<&str, &str> = rows
        .iter()
        .filter(|r| r.status == Status::Ok)
        .filter_map(|r| Some((r.project_id.as_str(), r.split.as_deref()?)))
        .collect();
    let mut usable = Vec::with_capacity(pairs.len());
    let mut skipped = 0;
    for pair in pairs {
        match splits.get(pair.project_id.as_str()) {
            Some(split) => usable.push(Usable {
                pair,
                split: (*split).to_string(),
            }),
            None => skipped += 1,
        }
    }
    Ok((usable, skipped))
}

fn bar(progress: bool, len: usize, what: &str) -> ProgressBar {
    if !progress {
        return ProgressBar::hidden();
    }
    ProgressBar::new(len as u64).with_style(
        ProgressStyle::with_template(&format!(
            "{what} {{bar:40}} {{pos}}/{{len}} {{elapsed}} (eta {{eta}})"
        ))
        .expect("valid template"),
    )
}

fn spinner(progress: bool, what: &str) -> ProgressBar {
    if !progress {
        return ProgressBar::hidden();
    }
    let spinner = ProgressBar::new_spinner().with_message(what.to_string());
    spinner.enable_steady_tick(std::time::Duration::from_millis(200));
    spinner
}

/// Cuts `ids` to `max` tokens, keeping the first `max − 1` and re-appending `</s>`.
pub fn truncate(mut ids: Vec<u32>, max: usize) -> (Vec<u32>, bool) {
    if ids.len() <= max {
        return (ids, false);
    }
    ids.truncate(max.saturating_sub(1));
    ids.push(EOS);
    (ids, true)
}

/// Ensures `OUT/tokenizer/` and `OUT/tables/examples.parquet` exist and are up to date for
/// `settings` and the current `pairs`/`projects` tables; trains or rebuilds only what is stale
/// (printing a line saying what and why) and returns the summary.
pub fn ensure_examples(
    out: &Path,
    settings: &ExampleSettings,
    progress: bool,
) -> Result<ExamplesSummary> {
    settings.validate()?;
    let started = Instant::now();
    let inputs = inputs_hash(out)?;
    let dir = tokenizer_dir(out);
    let table_file = table_path(out, "examples");

    // Read only when something must be built, and then once.
    let mut pairs_cache: Option<Vec<Pair>> = None;

    // The tokenizer.
    let (tokenizer, tokenizer_rebuilt, tokenizer_seconds) = match tokenizer_staleness(
        &dir, settings, &inputs,
    ) {
        Ok(tok) => {
            println!(
                "tokenizer: up to date in {} ({} tokens)",
                dir.display(),
                tok.vocab_size()
            );
            (tok, false, 0.0)
        }
        Err(why) => {
            let all = cached_pairs(&mut pairs_cache, out)?;
            let (usable, _) = usable_pairs(out, all)?;
            let train: Vec<&Usable> = usable.iter().filter(|u| u.split == "train").collect();
            if train.is_empty() {
                bail!(
                    "no pairs in the train split of {} to train the tokenizer on",
                    table_path(out, "projects").display()
                );
            }
            println!(
                "tokenizer: training a {}-token byte-level BPE on {} train-split pairs at {} ({why})",
                settings.vocab_size,
                train.len(),
                settings.level
            );
            let spinner = spinner(progress, "training the tokenizer");
            let t = Instant::now();
            let level = settings.level;
            let texts = train.iter().flat_map(|u| {
                let ctx = PairContext::from(u.pair);
                [model_input(&ctx, level), model_target(&u.pair.test_body)]
            });
            let tok = CodeTokenizer::train(texts, settings.vocab_size, settings.min_frequency)?;
            let seconds = t.elapsed().as_secs_f64();
            spinner.finish_and_clear();
            tok.save(&dir)?;
            write_stamp(
                &dir.join(TOKENIZER_STAMP),
                &TokenizerStamp {
                    level,
                    vocab_size: settings.vocab_size,
                    min_frequency: settings.min_frequency,
                    inputs_hash: inputs.clone(),
                    tokenizer_hash: tok.content_hash(),
                    train_texts: 2 * train.len(),
                },
            )?;
            println!(
                "tokenizer: {} tokens in {seconds:.1}s → {}",
                tok.vocab_size(),
                dir.display()
            );
            (tok, true, seconds)
        }
    };

    // The examples.
    let (rows, skipped, examples_rebuilt, encode_seconds) =
        match examples_staleness(out, settings, &tokenizer.content_hash(), &inputs) {
            Ok(stamp) => {
                println!("examples: up to date in {}", table_file.display());
                let rows = table::read_examples(&table_file)?;
                (rows, stamp.skipped_pairs, false, 0.0)
            }
            Err(why) => {
                println!(
                    "examples: encoding all split pairs{} ({why})",
                    if settings.retrieved > 0 {
                        ", each with the nearest other test of its project"
                    } else {
                        ""
                    }
                );
                let all = cached_pairs(&mut pairs_cache, out)?;
                let (usable, skipped) = usable_pairs(out, all)?;
                let t = Instant::now();
                let rows = encode_examples(&usable, settings, &tokenizer, progress)?;
                let seconds = t.elapsed().as_secs_f64();
                table::write_examples(&rows, &table_file)?;
                write_stamp(
                    &examples_stamp_path(out),
                    &ExamplesStamp {
                        schema_version: table::VERSION,
                        settings: settings.clone(),
                        tokenizer_hash: tokenizer.content_hash(),
                        inputs_hash: inputs.clone(),
                        skipped_pairs: skipped,
                    },
                )?;
                println!(
                    "examples: {} rows in {seconds:.1}s → {}",
                    rows.len(),
                    table_file.display()
                );
                (rows, skipped, true, seconds)
            }
        };

    Ok(ExamplesSummary {
        settings: settings.clone(),
        splits: split_summaries(&rows),
        skipped_pairs: skipped,
        vocab_size: tokenizer.vocab_size(),
        tokenizer_rebuilt,
        examples_rebuilt,
        tokenizer_seconds,
        encode_seconds,
        seconds: started.elapsed().as_secs_f64(),
        tokenizer_dir: dir,
        table: table_file,
    })
}

fn cached_pairs<'a>(cache: &'a mut Option<Vec<Pair>>, out: &Path) -> Result<&'a [Pair]> {
    if cache.is_none() {
        *cache = Some(pairs::read_pairs(&table_path(out, "pairs"))?);
    }
    Ok(cache.as_deref().expect("just loaded"))
}

fn encode_examples(
    usable: &[Usable],
    settings: &ExampleSettings,
    tokenizer: &CodeTokenizer,
    progress: bool,
) -> Result<Vec<ExampleRow>> {
    // Leave-one-out within each project: a project's pairs all share its split, so a
    // train-split pair retrieves only train-split pairs and a valid/test pair only its own
    // project's other pairs (`crate::data::augment`).
    let indexes = if settings.retrieved > 0 {
        project_indexes(usable.iter().map(|u| u.pair))
    } else {
        HashMap::new()
    };
    let bar = bar(progress, usable.len(), "encoding");
    let level = settings.level.to_string();
    let rows = usable
        .par_iter()
        .progress_with(bar.clone())
        .map(|u| {
            let project = indexes.get(u.pair.project_id.as_str());
            let input = encode_input(
                u.pair,
                settings.level,
                settings.max_input,
                tokenizer,
                project,
            )?;
            let (target_ids, target_full_len) = encode_target(u.pair, settings, tokenizer)?;
            let (retrieved_pair_id, retrieved_score) = input.retrieved.unzip();
            Ok(ExampleRow {
                pair_id: u.pair.pair_id.clone(),
                project_id: u.pair.project_id.clone(),
                split: u.split.clone(),
                level: level.clone(),
                input_ids: input.ids,
                target_ids,
                input_full_len: input.full_len as u32,
                target_full_len: target_full_len as u32,
                retrieved_pair_id,
                retrieved_score,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    bar.finish_and_clear();
    Ok(rows)
}

/// The target ids of `pair` (its test, normalised as [`model_target`] does), cut to
/// `settings.max_target`, and their length before the cut.
fn encode_target(
    pair: &Pair,
    settings: &ExampleSettings,
    tokenizer: &CodeTokenizer,
) -> Result<(Vec<u32>, usize)> {
    let target_ids = tokenizer
        .encode(&model_target(&pair.test_body))
        .with_context(|| format!("pair {}", pair.pair_id))?;
    let full_len = target_ids.len();
    let (target_ids, _) = truncate(target_ids, settings.max_target);
    Ok((target_ids, full_len))
}

/// One mined pair as an example with plain inputs (no retrieved test), encoded exactly as the
/// examples table encodes a pair: for a project outside the corpus (`tailor adapt`), whose
/// pairs get no row in the table. `split` is the part it belongs to. Retrieval-augmented
/// inputs are added afterwards per part ([`crate::data::augment_fold`]), so that they retrieve
/// from the training part only.
pub fn encode_pair(
    pair: &Pair,
    split: &str,
    settings: &ExampleSettings,
    tokenizer: &CodeTokenizer,
) -> Result<Example> {
    let input = encode_input(pair, settings.level, settings.max_input, tokenizer, None)?;
    let (target_ids, target_full_len) = encode_target(pair, settings, tokenizer)?;
    Ok(Example {
        pair_id: pair.pair_id.clone(),
        project_id: pair.project_id.clone(),
        split: split.to_string(),
        input_truncated: input.full_len > input.ids.len(),
        target_truncated: target_full_len > target_ids.len(),
        input_ids: input.ids,
        target_ids,
        retrieved_pair_id: None,
        retrieved_score: None,
    })
}

fn split_summaries(rows: &[ExampleRow]) -> Vec<SplitSummary> {
    ["train", "valid", "test"]
        .into_iter()
        .filter_map(|split| {
            let of: Vec<&ExampleRow> = rows.iter().filter(|r| r.split == split).collect();
            if of.is_empty() {
                return None;
            }
            let n = of.len() as f64;
            let mean =
                |f: fn(&ExampleRow) -> usize| of.iter().map(|r| f(r)).sum::<usize>() as f64 / n;
            Some(SplitSummary {
                split: split.to_string(),
                examples: of.len(),
                truncated_inputs: of.iter().filter(|r| r.input_truncated()).count(),
                truncated_targets: of.iter().filter(|r| r.target_truncated()).count(),
                mean_input_tokens: mean(|r| r.input_ids.len()),
                mean_target_tokens: mean(|r| r.target_ids.len()),
                mean_input_tokens_full: mean(|r| r.input_full_len as usize),
                mean_target_tokens_full: mean(|r| r.target_full_len as usize),
                retrieved: of.iter().filter(|r| r.retrieved_pair_id.is_some()).count(),
            })
        })
        .collect()
}

impl fmt::Display for ExamplesSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = &self.settings;
        writeln!(
            f,
            "level {}{}, inputs ≤ {} tokens, targets ≤ {} tokens; tokenizer: {} tokens ({}), examples {}",
            s.level,
            if s.retrieved > 0 {
                " + the nearest test of the project"
            } else {
                ""
            },
            s.max_input,
            s.max_target,
            self.vocab_size,
            if self.tokenizer_rebuilt {
                format!("trained in {:.1}s", self.tokenizer_seconds)
            } else {
                "reused".into()
            },
            if self.examples_rebuilt {
                format!("encoded in {:.1}s", self.encode_seconds)
            } else {
                "reused".into()
            },
        )?;
        writeln!(
            f,
            "{:<6} {:>9} {:>17} {:>18} {:>22} {:>22}",
            "split",
            "examples",
            "inputs truncated",
            "targets truncated",
            "input tokens (full)",
            "target tokens (full)"
        )?;
        for sp in &self.splits {
            let pct = |k: usize| 100.0 * k as f64 / sp.examples.max(1) as f64;
            writeln!(
                f,
                "{:<6} {:>9} {:>9} ({:>4.1}%) {:>10} ({:>4.1}%) {:>12.1} ({:>7.1}) {:>12.1} ({:>7.1})",
                sp.split,
                sp.examples,
                sp.truncated_inputs,
                pct(sp.truncated_inputs),
                sp.truncated_targets,
                pct(sp.truncated_targets),
                sp.mean_input_tokens,
                sp.mean_input_tokens_full,
                sp.mean_target_tokens,
                sp.mean_target_tokens_full,
            )?;
        }
        if s.retrieved > 0 {
            let with: Vec<String> = self
                .splits
                .iter()
                .map(|sp| format!("{} {}/{}", sp.split, sp.retrieved, sp.examples))
                .collect();
            writeln!(
                f,
                "inputs with a retrieved test (the rest matched nothing): {}",
                with.join(", ")
            )?;
        }
        writeln!(
            f,
            "{} pairs skipped (project failed or has no split); {:.1}s in all",
            self.skipped_pairs, self.seconds
        )?;
        write!(
            f,
            "tokenizer: {}\nexamples:  {}",
            self.tokenizer_dir.display(),
            self.table.display()
        )
    }
}

/// All rows of `OUT/tables/examples.parquet`, in table order (the pairs table's order).
pub fn read_examples(out: &Path) -> Result<Vec<Example>> {
    Ok(table::read_examples(&table_path(out, "examples"))?
        .into_iter()
        .map(|r| Example {
            input_truncated: r.input_truncated(),
            target_truncated: r.target_truncated(),
            pair_id: r.pair_id,
            project_id: r.project_id,
            split: r.split,
            input_ids: r.input_ids,
            target_ids: r.target_ids,
            retrieved_pair_id: r.retrieved_pair_id,
            retrieved_score: r.retrieved_score,
        })
        .collect())
}

/// Writes `count` real examples' input and target texts with tailor's ids as JSON lines
/// (`{"pair_id", "split", "kind": "input"|"target", "text", "ids"}`, ids untruncated), spread
/// evenly over the table, for `make check-tokenizer` to re-encode in Python. Returns the number
/// of lines written.
pub fn dump_texts(out: &Path, level: ContextLevel, count: usize, file: &Path) -> Result<usize> {
    let tokenizer = CodeTokenizer::load(&tokenizer_dir(out))?;
    let all = pairs::read_pairs(&table_path(out, "pairs"))?;
    let (usable, _) = usable_pairs(out, &all)?;
    let step = (usable.len() / count.max(1)).max(1);
    let chosen: Vec<&Usable> = usable.iter().step_by(step).take(count).collect();
    let lines: Vec<String> = chosen
        .par_iter()
        .map(|u| {
            let input = model_input(&PairContext::from(u.pair), level);
            let target = model_target(&u.pair.test_body);
            [("input", input), ("target", target)]
                .into_iter()
                .map(|(kind, text)| {
                    let ids = tokenizer.encode(&text)?;
                    Ok(serde_json::json!({
                        "pair_id": u.pair.pair_id,
                        "split": u.split,
                        "kind": kind,
                        "text": text,
                        "ids": ids,
                    })
                    .to_string())
                })
                .collect::<Result<Vec<_>>>()
        })
        .collect::<Result<Vec<_>>>()?
        .into_iter()
        .flatten()
        .collect();
    if let Some(dir) = file.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let mut w = BufWriter::new(
        std::fs::File::create(file).with_context(|| format!("creating {}", file.display()))?,
    );
    for line in &lines {
        writeln!(w, "{line}").with_context(|| format!("writing {}", file.display()))?;
    }
    w.flush()
        .with_context(|| format!("writing {}", file.display()))?;
    Ok(lines.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncation_keeps_the_head_and_ends_with_eos() {
        assert_eq!(truncate(vec![0, 5, 6, 2], 4), (vec![0, 5, 6, 2], false));
        assert_eq!(truncate(vec![0, 5, 6, 7, 2], 4), (vec![0, 5, 6, 2], true));
        assert_eq!(truncate(vec![0, 5, 6, 7, 2], 2), (vec![0, 2], true));
    }
}
