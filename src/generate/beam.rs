//! Beam search, as `transformers` 5.x `GenerationMixin._beam_search` (the rules are in the
//! parent module's doc). One [`BeamState`] per input holds its running beams and its finished
//! hypotheses; a step scores each input's continuations on the device, keeps the best
//! `2 × num_beams` of them on the host ([`BeamSearch::candidates`]), closes the stopping ones
//! among the best `num_beams` into hypotheses ([`BeamState::finish`]), runs on with the best
//! `num_beams` unfinished ones ([`BeamState::run_on`]) and reorders the decoder cache to them.

use burn::prelude::*;
use burn::tensor::activation::log_softmax;

use super::{
    EarlyStopping, Generated, GenerationConfig, column, host_f32, process, process_history,
};
use crate::model::{BartForConditionalGeneration, Encoded};

/// Beam search over `encoded` (`[batch, src_len, d_model]`): `num_return_sequences` hypotheses
/// per input, best first.
pub(super) fn beam_search(
    model: &BartForConditionalGeneration,
    encoded: Encoded,
    config: &GenerationConfig,
) -> Generated {
    let device = encoded.hidden.device();
    let [batch, ..] = encoded.hidden.dims();
    let beams = config.num_beams;
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
    let mut search = BeamSearch::new(batch, config, device.clone());
    let mut next = vec![config.decoder_start_token_id; batch * beams];
    let mut cur_len = 1;
    while cur_len < config.max_length {
        let logits = model.decode(&encoded, column(&next, &device), Some(&mut cache));
        let candidates = search.candidates(logits, cur_len);
        let all_stopped = candidates.iter().flatten().all(|c| c.stops);
        let reorder = search.step(&candidates, cur_len);
        cur_len += 1;
        if search.settled(cur_len) || all_stopped {
            break;
        }
        let reorder =
            Tensor::<1, Int>::from_data(TensorData::new(reorder, [batch * beams]), &device);
        cache = cache.reorder_beams(reorder);
        next = search.last_tokens();
    }
    search.into_generated()
}

/// A finished hypothesis: its score and tokens (start token … EOS, or cut at `max_length`).
#[derive(Debug, Clone)]
struct Hypothesis {
    score: f32,
    tokens: Vec<u32>,
}

/// A continuation of a running beam: the beam, the token, the beam's summed log-probability
/// with the token's, and whether it ends the hypothesis (EOS, or the last position).
#[derive(Debug, Clone, Copy)]
struct Candidate {
    beam: usize,
    token: u32,
    score: f32,
    stops: bool,
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

impl BeamState {
    /// `beams` beams at the start token; only the first is live, the others are -1e9 (HF).
    fn new(beams: usize, start: u32) -> Self {
        Self {
            running: (0..beams)
                .map(|b| (vec![start], if b == 0 { 0.0 } else { -1e9 }))
                .collect(),
            finished: Vec::new(),
            improvable: true,
        }
    }

    /// Whether this input is full: it has `num_beams` hypotheses and `early_stopping` is true.
    fn full(&self, config: &GenerationConfig) -> bool {
        config.early_stopping == EarlyStopping::True && self.finished.len() == config.num_beams
    }

    /// Keep the stopping candidates among the best `num_beams` as hypotheses scored
    /// `sum_logprobs / generated_len ^ length_penalty`, unless this input takes no more.
    fn finish(&mut self, candidates: &[Candidate], cur_len: usize, config: &GenerationConfig) {
        if !self.improvable || self.full(config) {
            return;
        }
        let beams = config.num_beams;
        let generated_len = cur_len as f32; // cur_len + 1 - decoder_prompt_len(1)
        for candidate in candidates.iter().take(beams).filter(|c| c.stops) {
            let mut tokens = self.running[candidate.beam].0.clone();
            tokens.push(candidate.token);
            let score = candidate.score / generated_len.powf(config.length_penalty);
            insert_hypothesis(&mut self.finished, Hypothesis { score, tokens }, beams);
        }
    }

    /// Run on with the best `beams` candidates, stopping ones pushed to the back with -1e9
    /// (HF). Returns the beam each new running beam continues.
    fn run_on(&mut self, candidates: &[Candidate], beams: usize) -> Vec<usize> {
        let mut order: Vec<(f32, usize)> = candidates
            .iter()
            .enumerate()
            .map(|(i, c)| (if c.stops { c.score - 1e9 } else { c.score }, i))
            .collect();
        order.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        let previous = std::mem::take(&mut self.running);
        order
            .iter()
            .take(beams)
            .map(|&(score, i)| {
                let Candidate { beam, token, .. } = candidates[i];
                let mut tokens = previous[beam].0.clone();
                tokens.push(token);
                self.running.push((tokens, score));
                beam
            })
            .collect()
    }

    /// Once full of hypotheses: whether its best running beam could still beat the worst one
    /// at `cur_len` (HF `_check_early_stop_heuristic`). It stays unimprovable once it is not.
    fn check_improvable(&mut self, cur_len: usize, config: &GenerationConfig) {
        if self.finished.len() < config.num_beams {
            return;
        }
        let best_len = match config.early_stopping {
            EarlyStopping::Never if config.length_penalty > 0.0 => config.max_length - 1,
            _ => cur_len - 1,
        };
        let best_possible = self.running[0].1 / (best_len as f32).powf(config.length_penalty);
        let worst = self.finished.last().map_or(f32::NEG_INFINITY, |h| h.score);
        self.improvable &= best_possible > worst;
    }
}

/// The search over a batch: one [`BeamState`] per input, `num_beams` decoder rows each.
struct BeamSearch<'a> {
    config: &'a GenerationConfig,
    states: Vec<BeamState>,
    device: Device,
}

impl<'a> BeamSearch<'a> {
    fn new(batch: usize, config: &'a GenerationConfig, device: Device) -> Self {
        Self {
            config,
            states: (0..batch)
                .map(|_| BeamState::new(config.num_beams, config.decoder_start_token_id))
                .collect(),
            device,
        }
    }

    /// Each input's best `2 × num_beams` continuations over all its beams, best first: the
    /// processed log-probabilities of `logits` (`[batch × beams, 1, vocab]`) plus each beam's
    /// running score.
    fn candidates(&self, logits: Tensor<3>, cur_len: usize) -> Vec<Vec<Candidate>> {
        let config = self.config;
        let beams = config.num_beams;
        let keep = 2 * beams; // HF: max(2, 1 + number of EOS ids) × num_beams
        let [rows, _, vocab] = logits.dims();
        // HF's beam search processes the log-softmaxed scores.
        let history: Vec<&[u32]> = self
            .states
            .iter()
            .flat_map(|s| s.running.iter().map(|(tokens, _)| tokens.as_slice()))
            .collect();
        let log_probs = log_softmax(logits.reshape([rows, vocab]), 1);
        let log_probs = process(
            process_history(log_probs, &history, config),
            cur_len,
            config,
        );
        let running: Vec<f32> = self
            .states
            .iter()
            .flat_map(|s| s.running.iter().map(|(_, score)| *score))
            .collect();
        let running = Tensor::<2>::from_data(TensorData::new(running, [rows, 1]), &self.device);
        // The top 2K over `beam × vocab` on the host: burn-flex's `topk` sorts whole rows
        // (27% of a beam step in perf), a bounded insertion is linear and exact.
        let flat = host_f32((log_probs + running).reshape([self.states.len(), beams * vocab]));
        flat.chunks_exact(beams * vocab)
            .enumerate()
            .map(|(input, row)| {
                top_k(row, keep)
                    .into_iter()
                    .map(|(index, score)| {
                        let (beam, token) = (index / vocab, (index % vocab) as u32);
                        let stops = token == config.eos_token_id
                            || cur_len + 1 >= config.max_length
                            || closes_loop(history[input * beams + beam], token, config);
                        Candidate {
                            beam,
                            token,
                            score,
                            stops,
                        }
                    })
                    .collect()
            })
            .collect()
    }

    /// Take each input's `candidates` at `cur_len`: hypotheses finished, beams run on. Returns
    /// the decoder row each new row continues, for reordering the cache.
    fn step(&mut self, candidates: &[Vec<Candidate>], cur_len: usize) -> Vec<i64> {
        let beams = self.config.num_beams;
        let mut reorder = Vec::with_capacity(self.states.len() * beams);
        for (b, (state, candidates)) in self.states.iter_mut().zip(candidates).enumerate() {
            state.finish(candidates, cur_len, self.config);
            let continued = state.run_on(candidates, beams);
            reorder.extend(continued.into_iter().map(|beam| (b * beams + beam) as i64));
        }
        reorder
    }

    /// Whether the search is over before the token at `cur_len`: no input can improve, or
    /// (`early_stopping` true) every input is full.
    fn settled(&mut self, cur_len: usize) -> bool {
        for state in &mut self.states {
            state.check_improvable(cur_len, self.config);
        }
        let improvement_possible = self.states.iter().any(|s| s.improvable);
        let all_full = self.config.early_stopping == EarlyStopping::True
            && self
                .states
                .iter()
                .all(|s| s.finished.len() == self.config.num_beams);
        !improvement_possible || all_full
    }

    /// The last token of every running beam: the decoder's next input.
    fn last_tokens(&self) -> Vec<u32> {
        self.states
            .iter()
            .flat_map(|s| {
                s.running
                    .iter()
                    .map(|(tokens, _)| *tokens.last().expect("start"))
            })
            .collect()
    }

    /// The best `num_return_sequences` hypotheses of each input, padded to the longest.
    fn into_generated(self) -> Generated {
        let n = self.config.num_return_sequences;
        let mut sequences = Vec::with_capacity(self.states.len() * n);
        let mut scores = Vec::with_capacity(self.states.len() * n);
        for state in self.states {
            for hypothesis in state.finished.into_iter().take(n) {
                sequences.push(hypothesis.tokens);
                scores.push(hypothesis.score);
            }
        }
        let longest = sequences.iter().map(Vec::len).max().unwrap_or(0);
        for sequence in &mut sequences {
            sequence.resize(longest, self.config.pad_token_id);
        }
        Generated { sequences, scores }
    }
}

/// Whether `tokens` followed by `token` ends in a degenerate loop (`config.stop_loops`).
fn closes_loop(tokens: &[u32], token: u32, config: &GenerationConfig) -> bool {
    if config.stop_loops == 0 {
        return false;
    }
    let mut continued = Vec::with_capacity(tokens.len() + 1);
    continued.extend_from_slice(tokens);
    continued.push(token);
    super::processors::ends_in_loop(&continued, config.stop_loops)
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
