//! Generation: greedy and beam search over [`BartForConditionalGeneration`], batched, with the
//! decoder's key/value cache (self-attention grows a step per call, cross-attention keys/values
//! are computed once) reordered by beam after every step.
//!
//! Beam search follows `transformers` 5.x `GenerationMixin._beam_search` exactly (the paper's
//! top-k predictions come from it): each step keeps the best `2 × num_beams` continuations of
//! an input over all its beams; of those, the ones among the best `num_beams` that end with EOS
//! or reach `max_length` become finished hypotheses scored `sum_logprobs / generated_len ^
//! length_penalty` (generated_len counts EOS, not the decoder start token), and the best
//! `num_beams` unfinished ones run on. An input stops taking hypotheses once its best running
//! beam can no longer beat its worst kept hypothesis (`early_stopping`). Scores on the device
//! (log-softmax, top-k over `beam × vocab`); the bookkeeping of at most `2 × num_beams`
//! candidates per input on the host. The search itself is in `beam`.
//!
//! Logits processors, in HF's order: repetition penalty and n-gram blocking (on the host, as they
//! read each hypothesis's tokens; see [`processors`]), min_length, forced BOS, forced EOS. As in
//! HF, greedy search processes the raw logits and beam search the log-softmaxed scores.

use anyhow::{Result, ensure};
use burn::prelude::*;
use burn::tensor::activation::log_softmax;

use crate::model::{BartForConditionalGeneration, Encoded};

mod beam;
pub mod processors;
pub mod requests;
pub mod rerank;
pub mod serve;

/// When beam search stops accepting hypotheses for an input (HF `early_stopping`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum EarlyStopping {
    /// Stop as soon as `num_beams` hypotheses are finished.
    True,
    /// Stop when the best running beam, scored at its current length, cannot beat the worst
    /// finished hypothesis (HF's default heuristic).
    #[default]
    False,
    /// Like `false`, but scoring the running beam at `max_length` when length_penalty > 0.
    Never,
}

/// Decoding settings, named as HF `GenerationConfig`'s.
#[derive(Debug, Clone)]
pub struct GenerationConfig {
    /// Maximum sequence length, counting the decoder start token.
    pub max_length: usize,
    /// EOS is forbidden before this length (HF `MinLengthLogitsProcessor`).
    pub min_length: usize,
    /// 1 = greedy search.
    pub num_beams: usize,
    pub num_return_sequences: usize,
    pub length_penalty: f32,
    pub early_stopping: EarlyStopping,
    pub decoder_start_token_id: u32,
    pub eos_token_id: u32,
    pub pad_token_id: u32,
    /// Token forced right after the start token (bart-large: `<s>`).
    pub forced_bos_token_id: Option<u32>,
    /// Token forced at the last position (`max_length - 1`).
    pub forced_eos_token_id: Option<u32>,
    /// Ban tokens that would repeat an n-gram of the hypothesis (decoder start token included);
    /// 0 disables (HF `NoRepeatNGramLogitsProcessor`).
    pub no_repeat_ngram_size: usize,
    /// Scores of tokens already in the hypothesis: negative ones × penalty, others ÷ penalty;
    /// 1.0 disables (HF `RepetitionPenaltyLogitsProcessor`).
    pub repetition_penalty: f32,
    /// Not in HF: end a hypothesis once it closes the same block of at most
    /// [`processors::MAX_LOOP_PERIOD`] tokens `stop_loops` times in a row (a degenerate loop that
    /// would otherwise run to `max_length`); 0 disables, as evaluation does for HF parity.
    pub stop_loops: usize,
}

impl GenerationConfig {
    /// HF's defaults for a model: greedy, `max_length` 20, the model's special tokens.
    pub fn for_model(model: &BartForConditionalGeneration) -> Self {
        let config = &model.config;
        Self {
            max_length: 20,
            min_length: 0,
            num_beams: 1,
            num_return_sequences: 1,
            length_penalty: 1.0,
            early_stopping: EarlyStopping::False,
            decoder_start_token_id: config.decoder_start_token_id,
            eos_token_id: config.eos_token_id,
            pad_token_id: config.pad_token_id,
            forced_bos_token_id: config.forced_bos_token_id,
            forced_eos_token_id: config.forced_eos_token_id,
            no_repeat_ngram_size: config.no_repeat_ngram_size.unwrap_or(0),
            repetition_penalty: 1.0,
            stop_loops: 0,
        }
    }

    /// What tailor generates with for the model folder `dir` before any flag: 5 beams and 128
    /// tokens, overridden by the folder's `generation_config.json` when it has one (HF's
    /// precedence; `generate`, `suggest` and `serve` start from the same config).
    pub fn for_model_dir(
        dir: &std::path::Path,
        model: &BartForConditionalGeneration,
    ) -> anyhow::Result<Self> {
        use anyhow::Context as _;
        let mut config = Self {
            max_length: 128,
            num_beams: 5,
            ..Self::for_model(model)
        };
        let path = dir.join("generation_config.json");
        if path.exists() {
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("reading {}", path.display()))?;
            let json: serde_json::Value = serde_json::from_str(&text)
                .with_context(|| format!("parsing {}", path.display()))?;
            config.apply_hf_generation_config(&json);
        }
        Ok(config)
    }

    /// Applies a HF `generation_config.json` (the fields tailor uses; absent ones stay).
    pub fn apply_hf_generation_config(&mut self, json: &serde_json::Value) {
        let int = |key: &str| json.get(key).and_then(serde_json::Value::as_u64);
        let float = |key: &str| json.get(key).and_then(serde_json::Value::as_f64);
        // A token id field may be null (switched off) or, for eos, a list (the first counts).
        let token = |key: &str| -> Option<Option<u32>> {
            let value = json.get(key)?;
            match value {
                serde_json::Value::Null => Some(None),
                serde_json::Value::Array(ids) => Some(ids.first()?.as_u64().map(|t| t as u32)),
                _ => Some(value.as_u64().map(|t| t as u32)),
            }
        };
        for (key, slot) in [
            ("num_beams", &mut self.num_beams),
            ("num_return_sequences", &mut self.num_return_sequences),
            ("max_length", &mut self.max_length),
            ("min_length", &mut self.min_length),
            ("no_repeat_ngram_size", &mut self.no_repeat_ngram_size),
        ] {
            if let Some(v) = int(key) {
                *slot = v as usize;
            }
        }
        for (key, slot) in [
            ("repetition_penalty", &mut self.repetition_penalty),
            ("length_penalty", &mut self.length_penalty),
        ] {
            if let Some(v) = float(key) {
                *slot = v as f32;
            }
        }
        match json.get("early_stopping") {
            Some(serde_json::Value::Bool(true)) => self.early_stopping = EarlyStopping::True,
            Some(serde_json::Value::Bool(false)) => self.early_stopping = EarlyStopping::False,
            Some(serde_json::Value::String(s)) if s == "never" => {
                self.early_stopping = EarlyStopping::Never
            }
            _ => {}
        }
        if let Some(v) = token("forced_bos_token_id") {
            self.forced_bos_token_id = v;
        }
        if let Some(v) = token("forced_eos_token_id") {
            self.forced_eos_token_id = v;
        }
        if let Some(Some(v)) = token("decoder_start_token_id") {
            self.decoder_start_token_id = v;
        }
        if let Some(Some(v)) = token("eos_token_id") {
            self.eos_token_id = v;
        }
        if let Some(Some(v)) = token("pad_token_id") {
            self.pad_token_id = v;
        }
    }

    /// Whether a processor needs the hypotheses' tokens (applied on the host).
    fn uses_history(&self) -> bool {
        self.no_repeat_ngram_size > 0 || self.repetition_penalty != 1.0
    }
}

/// Generated sequences: `batch × num_return_sequences` rows, grouped per input, best first, each
/// starting with the decoder start token and right-padded with pad after EOS to the longest row.
#[derive(Debug, Clone, PartialEq)]
pub struct Generated {
    pub sequences: Vec<Vec<u32>>,
    /// Per row: beam search's hypothesis score (length-penalised sum of log-probabilities);
    /// greedy: the sum of the chosen tokens' log-probabilities (log-softmax of the processed
    /// logits, HF `compute_transition_scores(normalize_logits=True)`) divided by the generated
    /// length ^ length_penalty.
    pub scores: Vec<f32>,
}

/// Greedy search (`num_beams` 1) or beam search, as HF `generate` chooses.
pub fn generate(
    model: &BartForConditionalGeneration,
    input_ids: Tensor<2, Int>,
    attention_mask: Option<Tensor<2, Int>>,
    config: &GenerationConfig,
) -> Result<Generated> {
    ensure!(
        config.max_length >= 2,
        "max_length must leave room for one generated token"
    );
    ensure!(
        config.max_length <= model.config.max_position_embeddings,
        "max_length {} exceeds the model's max_position_embeddings {}",
        config.max_length,
        model.config.max_position_embeddings
    );
    ensure!(
        config.num_return_sequences >= 1 && config.num_return_sequences <= config.num_beams,
        "num_return_sequences ({}) must be between 1 and num_beams ({})",
        config.num_return_sequences,
        config.num_beams
    );
    // A prefix MLP still attached (a model mid-training) is run once, not at every step.
    let materialized;
    let model = if model.prefix_mlp.is_some() {
        materialized = crate::model::prefix_mlp::materialize(model.clone());
        &materialized
    } else {
        model
    };
    let encoded = model.encode(input_ids, attention_mask);
    if config.num_beams == 1 {
        Ok(greedy(model, encoded, config))
    } else {
        Ok(beam::beam_search(model, encoded, config))
    }
}

/// HF's logits processors that BART configs use, applied to `[rows, vocab]` scores for the
/// token at position `cur_len`.
fn process(scores: Tensor<2>, cur_len: usize, config: &GenerationConfig) -> Tensor<2> {
    let [rows, vocab] = scores.dims();
    let device = scores.device();
    let force = |token: u32| {
        let t = token as usize;
        Tensor::<2>::full([rows, vocab], f32::NEG_INFINITY, &device)
            .slice_assign([0..rows, t..t + 1], Tensor::zeros([rows, 1], &device))
    };
    let mut scores = scores;
    if cur_len < config.min_length {
        let eos = config.eos_token_id as usize;
        scores = scores.slice_fill([0..rows, eos..eos + 1], f32::NEG_INFINITY);
    }
    if let Some(bos) = config.forced_bos_token_id
        && cur_len == 1
    {
        scores = force(bos);
    }
    if let Some(eos) = config.forced_eos_token_id
        && cur_len + 1 == config.max_length
    {
        scores = force(eos);
    }
    scores
}

/// The processors that read each row's tokens so far (HF order: repetition penalty, then
/// n-gram blocking), on the host; `scores` is `[rows, vocab]`, `sequences` one per row.
fn process_history(
    scores: Tensor<2>,
    sequences: &[&[u32]],
    config: &GenerationConfig,
) -> Tensor<2> {
    if !config.uses_history() {
        return scores;
    }
    let [rows, vocab] = scores.dims();
    let device = scores.device();
    let mut values = host_f32(scores);
    for (row, tokens) in values.chunks_exact_mut(vocab).zip(sequences) {
        processors::repetition_penalty(row, tokens, config.repetition_penalty);
        processors::no_repeat_ngram(row, tokens, config.no_repeat_ngram_size);
    }
    Tensor::from_data(TensorData::new(values, [rows, vocab]), &device)
}

/// A small device tensor's values on the host.
fn host_f32(tensor: Tensor<2>) -> Vec<f32> {
    tensor
        .try_into_vec_as::<f32>()
        .expect("read back f32 scores")
}

fn host_i64(tensor: Tensor<2, Int>) -> Vec<i64> {
    tensor
        .try_into_vec_as::<i64>()
        .expect("read back token ids")
}

fn column(tokens: &[u32], device: &Device) -> Tensor<2, Int> {
    let values: Vec<i64> = tokens.iter().map(|&t| t as i64).collect();
    Tensor::from_data(TensorData::new(values, [tokens.len(), 1]), device)
}

fn greedy(
    model: &BartForConditionalGeneration,
    encoded: Encoded,
    config: &GenerationConfig,
) -> Generated {
    let device = encoded.hidden.device();
    let [batch, ..] = encoded.hidden.dims();
    let mut cache = model.new_cache();
    let mut sequences = vec![vec![config.decoder_start_token_id]; batch];
    let mut sums = vec![0f32; batch];
    let mut generated = vec![0usize; batch];
    let mut unfinished = vec![true; batch];
    let mut next = vec![config.decoder_start_token_id; batch];
    for cur_len in 1..config.max_length {
        let logits = model.decode(&encoded, column(&next, &device), Some(&mut cache));
        let [_, _, vocab] = logits.dims();
        let logits = logits.reshape([batch, vocab]);
        // HF's greedy search processes the raw logits; the score is the processed log-softmax.
        let history: Vec<&[u32]> = sequences.iter().map(Vec::as_slice).collect();
        let logits = process_history(logits, &history, config);
        let scores = log_softmax(process(logits, cur_len, config), 1);
        let (best, tokens) = scores.max_dim_with_indices(1);
        let best: Vec<f32> = host_f32(best);
        let tokens: Vec<i64> = host_i64(tokens);
        for row in 0..batch {
            let token = if unfinished[row] {
                sums[row] += best[row];
                generated[row] += 1;
                tokens[row] as u32
            } else {
                config.pad_token_id
            };
            sequences[row].push(token);
            next[row] = token;
            if token == config.eos_token_id
                || processors::ends_in_loop(&sequences[row], config.stop_loops)
            {
                unfinished[row] = false;
            }
        }
        if unfinished.iter().all(|u| !u) {
            break;
        }
    }
    let scores = sums
        .iter()
        .zip(&generated)
        .map(|(sum, len)| sum / (*len as f32).powf(config.length_penalty))
        .collect();
    Generated { sequences, scores }
}
