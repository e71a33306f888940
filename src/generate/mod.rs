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
//! candidates per input on the host.
//!
//! Logits processors, in HF's order: repetition penalty and n-gram blocking (on the host, as they
//! read each hypothesis's tokens; see [`processors`]), min_length, forced BOS, forced EOS. As in
//! HF, greedy search processes the raw logits and beam search the log-softmaxed scores.

use anyhow::{Result, ensure};
use burn::prelude::*;
use burn::tensor::activation::log_softmax;

use crate::model::{BartForConditionalGeneration, Encoded};

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
        }
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
        Ok(beam_search(model, encoded, config))
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
            if token == config.eos_token_id {
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

/// A finished hypothesis: its score and tokens (start token … EOS, or cut at `max_length`).
#[derive(Debug, Clone)]
struct Hypothesis {
    score: f32,
    tokens: Vec<u32>,
}

/// One input's beam-search state.
#[derive(Debug, Clone)]
struct BeamState {
    /// Running beams (always `num_beams`): tokens and summed log-probabilities.
    running: Vec<(Vec<u32>, f32)>,
    /// Best finished hypotheses, sorted best first, at most `num_beams`.
    finished: Vec<Hypothesis>,
    /// False once no running beam can improve on the finished ones (HF
    /// `is_early_stop_heuristic_unsatisfied`).
    improvable: bool,
}

fn beam_search(
    model: &BartForConditionalGeneration,
    encoded: Encoded,
    config: &GenerationConfig,
) -> Generated {
    let device = encoded.hidden.device();
    let [batch, ..] = encoded.hidden.dims();
    let beams = config.num_beams;
    let rows = batch * beams;
    let keep = 2 * beams; // HF: max(2, 1 + number of EOS ids) × num_beams
    let encoded = encoded.repeat_interleave(beams);
    // Per-row adapters (a batch mixing projects) follow their inputs into the beams.
    let expanded;
    let model = if model.has_row_adapters() {
        expanded = model.clone().repeat_row_adapters(beams);
        &expanded
    } else {
        model
    };
    let mut cache = model.new_cache();
    let start = config.decoder_start_token_id;
    // Only the first beam of each input is live at the start, the others are -1e9 (HF).
    let mut states: Vec<BeamState> = (0..batch)
        .map(|_| BeamState {
            running: (0..beams)
                .map(|b| (vec![start], if b == 0 { 0.0 } else { -1e9 }))
                .collect(),
            finished: Vec::new(),
            improvable: true,
        })
        .collect();
    let mut next = vec![start; rows];
    let mut cur_len = 1;
    while cur_len < config.max_length {
        let logits = model.decode(&encoded, column(&next, &device), Some(&mut cache));
        let [_, _, vocab] = logits.dims();
        // HF's beam search processes the log-softmaxed scores.
        let history: Vec<&[u32]> = states
            .iter()
            .flat_map(|s| s.running.iter().map(|(tokens, _)| tokens.as_slice()))
            .collect();
        let log_probs = log_softmax(logits.reshape([rows, vocab]), 1);
        let log_probs = process(
            process_history(log_probs, &history, config),
            cur_len,
            config,
        );
        let running: Vec<f32> = states
            .iter()
            .flat_map(|s| s.running.iter().map(|(_, score)| *score))
            .collect();
        let running = Tensor::<2>::from_data(TensorData::new(running, [rows, 1]), &device);
        // The top 2K over `beam × vocab` on the host: burn-flex's `topk` sorts whole rows
        // (27% of a beam step in perf), a bounded insertion is linear and exact.
        let flat = host_f32((log_probs + running).reshape([batch, beams * vocab]));
        let mut values = Vec::with_capacity(batch * keep);
        let mut indices = Vec::with_capacity(batch * keep);
        for row in flat.chunks_exact(beams * vocab) {
            for (index, value) in top_k(row, keep) {
                indices.push(index as i64);
                values.push(value);
            }
        }

        let mut all_stopped = true;
        let mut reorder = Vec::with_capacity(rows);
        for (b, state) in states.iter_mut().enumerate() {
            // The 2K candidates of this input, best first.
            let candidates: Vec<(usize, u32, f32, bool)> = (0..keep)
                .map(|c| {
                    let index = indices[b * keep + c] as usize;
                    let (beam, token) = (index / vocab, (index % vocab) as u32);
                    let stops = token == config.eos_token_id || cur_len + 1 >= config.max_length;
                    (beam, token, values[b * keep + c], stops)
                })
                .collect();
            all_stopped &= candidates.iter().all(|c| c.3);

            // Finished: stopping candidates among the top K, unless this input is closed.
            let closed = !state.improvable
                || (config.early_stopping == EarlyStopping::True && state.finished.len() == beams);
            if !closed {
                let generated_len = cur_len as f32; // cur_len + 1 - decoder_prompt_len(1)
                for &(beam, token, score, stops) in candidates.iter().take(beams) {
                    if stops {
                        let mut tokens = state.running[beam].0.clone();
                        tokens.push(token);
                        let score = score / generated_len.powf(config.length_penalty);
                        insert_hypothesis(&mut state.finished, Hypothesis { score, tokens }, beams);
                    }
                }
            }

            // Running: the best K candidates, stopping ones pushed to the back with -1e9 (HF).
            let mut order: Vec<(f32, usize)> = candidates
                .iter()
                .enumerate()
                .map(|(i, c)| (if c.3 { c.2 - 1e9 } else { c.2 }, i))
                .collect();
            order.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
            let previous = std::mem::take(&mut state.running);
            for &(score, i) in order.iter().take(beams) {
                let (beam, token, _, _) = candidates[i];
                let mut tokens = previous[beam].0.clone();
                tokens.push(token);
                state.running.push((tokens, score));
                reorder.push((b * beams + beam) as i64);
            }
        }
        cur_len += 1;

        // Can any input still improve? (HF `_check_early_stop_heuristic`.)
        for state in &mut states {
            if state.finished.len() < beams {
                continue;
            }
            let best_len = match config.early_stopping {
                EarlyStopping::Never if config.length_penalty > 0.0 => config.max_length - 1,
                _ => cur_len - 1,
            };
            let best_possible = state.running[0].1 / (best_len as f32).powf(config.length_penalty);
            let worst = state.finished.last().map_or(f32::NEG_INFINITY, |h| h.score);
            state.improvable &= best_possible > worst;
        }
        let improvement_possible = states.iter().any(|s| s.improvable);
        let open = !(config.early_stopping == EarlyStopping::True
            && states.iter().all(|s| s.finished.len() == beams));
        if !improvement_possible || !open || all_stopped {
            break;
        }
        let reorder = Tensor::<1, Int>::from_data(TensorData::new(reorder, [rows]), &device);
        cache = cache.reorder_beams(reorder);
        next = states
            .iter()
            .flat_map(|s| {
                s.running
                    .iter()
                    .map(|(tokens, _)| *tokens.last().expect("start"))
            })
            .collect();
    }

    let mut sequences = Vec::with_capacity(batch * config.num_return_sequences);
    let mut scores = Vec::with_capacity(batch * config.num_return_sequences);
    for state in states {
        for hypothesis in state.finished.into_iter().take(config.num_return_sequences) {
            sequences.push(hypothesis.tokens);
            scores.push(hypothesis.score);
        }
    }
    let longest = sequences.iter().map(Vec::len).max().unwrap_or(0);
    for sequence in &mut sequences {
        sequence.resize(longest, config.pad_token_id);
    }
    Generated { sequences, scores }
}

/// The `k` largest values of `row` with their indices, largest first; among equal values the
/// lower index ranks first.
fn top_k(row: &[f32], k: usize) -> Vec<(usize, f32)> {
    let mut best: Vec<(usize, f32)> = Vec::with_capacity(k + 1);
    for (index, &value) in row.iter().enumerate() {
        if best.len() == k && value.total_cmp(&best[k - 1].1).is_le() {
            continue;
        }
        let at = best.partition_point(|&(_, v)| v.total_cmp(&value).is_ge());
        best.insert(at, (index, value));
        best.truncate(k);
    }
    best
}

/// Keep the `capacity` best hypotheses, best first; an equal score does not displace an earlier
/// one (HF's `topk` over [kept, new] prefers the kept on ties in practice).
fn insert_hypothesis(finished: &mut Vec<Hypothesis>, hypothesis: Hypothesis, capacity: usize) {
    let at = finished
        .iter()
        .position(|h| hypothesis.score > h.score)
        .unwrap_or(finished.len());
    if at < capacity {
        finished.insert(at, hypothesis);
        finished.truncate(capacity);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_k_is_largest_first_with_lower_index_on_ties() {
        let row = [0.5, -1.0, 2.0, 0.5, f32::NEG_INFINITY, 2.0, 1.0];
        assert_eq!(top_k(&row, 4), vec![(2, 2.0), (5, 2.0), (6, 1.0), (0, 0.5)]);
        let forced = [f32::NEG_INFINITY, 0.0, f32::NEG_INFINITY];
        assert_eq!(top_k(&forced, 2), vec![(1, 0.0), (0, f32::NEG_INFINITY)]);
    }

    #[test]
    fn hypotheses_keep_the_best_first_and_drop_the_worst() {
        let mut kept = Vec::new();
        for (score, token) in [(-1.0, 1), (-0.5, 2), (-2.0, 3), (-0.7, 4)] {
            let tokens = vec![2, token];
            insert_hypothesis(&mut kept, Hypothesis { score, tokens }, 3);
        }
        let order: Vec<u32> = kept.iter().map(|h| h.tokens[1]).collect();
        assert_eq!(order, vec![2, 4, 1]);
    }
}
