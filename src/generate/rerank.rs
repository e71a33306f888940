//! Choosing among candidate tests with a model: each candidate (say, a retrieved test with its
//! names adapted to the query) is scored by the model's mean token negative log-likelihood
//! given the focal input, teacher-forced, and the candidates are returned best first. A model
//! that is weak at writing a test can still be good at telling which existing test fits; the
//! `ir+<strategy>` rows of the evaluation measure exactly that (retrieval issue, "Rerank").
//!
//! The mean, not the sum, is used so that a long candidate is not penalised for its length
//! alone; a model that prefers short, generic tests will still show it, and the evaluation
//! reports whether reranking beats retrieval's own order.

use anyhow::{Result, ensure};
use burn::prelude::*;
use burn::tensor::activation::log_softmax;

use crate::model::BartForConditionalGeneration;
use crate::train::batch::{SeqPair, collate};

/// One candidate's score: its index in the caller's list and its mean token NLL (nats).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Ranked {
    pub index: usize,
    pub mean_nll: f64,
}

struct Candidate<'a> {
    input: &'a [u32],
    target: &'a [u32],
}

impl SeqPair for Candidate<'_> {
    fn input_ids(&self) -> &[u32] {
        self.input
    }
    fn target_ids(&self) -> &[u32] {
        self.target
    }
}

/// Mean token NLL of each `candidates[i]` (target ids, `<s> … </s>`) given `input_ids`, in one
/// batch. The input is encoded once and shared by every candidate row (the encoder was half of
/// the work when each row re-read it). A model with per-row adapters must be bound to one row:
/// its adapters follow the shared input into the rows, as in beam search.
pub fn candidate_losses(
    model: &BartForConditionalGeneration,
    input_ids: &[u32],
    candidates: &[Vec<u32>],
    device: &Device,
) -> Result<Vec<f64>> {
    if candidates.is_empty() {
        return Ok(Vec::new());
    }
    ensure!(
        candidates.iter().all(|c| !c.is_empty()),
        "a candidate test has no tokens"
    );
    let rows: Vec<Candidate<'_>> = candidates
        .iter()
        .map(|c| Candidate {
            input: input_ids,
            target: c,
        })
        .collect();
    let refs: Vec<&Candidate<'_>> = rows.iter().collect();
    let batch = collate(&refs, model.config.decoder_start_token_id, device);
    // Every row's input is the same: encode the first and share it.
    let input = collate(&refs[..1], model.config.decoder_start_token_id, device);
    let encoded = model
        .encode(input.input_ids, Some(input.attention_mask))
        .repeat_interleave(rows.len());
    let expanded;
    let decoder = if model.has_row_adapters() {
        expanded = model.clone().repeat_row_adapters(rows.len());
        &expanded
    } else {
        model
    };
    let logits = decoder.decode(&encoded, batch.decoder_input_ids, None); // [rows, tgt_len, vocab]
    let picked: Tensor<3> = log_softmax(logits, 2).gather(2, batch.labels.unsqueeze_dim::<3>(2));
    let [n, len, _] = picked.dims();
    let per_row: Tensor<1> = (picked.reshape([n, len]) * batch.label_mask)
        .sum_dim(1)
        .reshape([n])
        .neg();
    let sums = per_row
        .into_data()
        .convert::<f32>()
        .try_to_vec::<f32>()
        .map_err(|e| anyhow::anyhow!("reading candidate losses: {e:?}"))?;
    Ok(sums
        .iter()
        .zip(candidates)
        .map(|(&sum, c)| f64::from(sum) / c.len() as f64)
        .collect())
}

/// The candidates ordered by the model's mean token NLL, lowest first; equal losses keep the
/// caller's order (so retrieval's ranking breaks ties).
pub fn rerank(
    model: &BartForConditionalGeneration,
    input_ids: &[u32],
    candidates: &[Vec<u32>],
    device: &Device,
) -> Result<Vec<Ranked>> {
    let losses = candidate_losses(model, input_ids, candidates, device)?;
    let mut ranked: Vec<Ranked> = losses
        .into_iter()
        .enumerate()
        .map(|(index, mean_nll)| Ranked { index, mean_nll })
        .collect();
    ranked.sort_by(|a, b| {
        a.mean_nll
            .total_cmp(&b.mean_nll)
            .then(a.index.cmp(&b.index))
    });
    Ok(ranked)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{BartConfig, Preset};
    use crate::train::batch::nll_sum;

    #[test]
    fn each_candidates_loss_is_its_own_teacher_forced_mean_nll() {
        let device = Device::default();
        let config = BartConfig {
            dropout: 0.0,
            ..BartConfig::preset(Preset::Tiny)
        };
        let model = BartForConditionalGeneration::new(&config, &device);
        let input = vec![0, 11, 12, 13, 2];
        let candidates = vec![
            vec![0, 20, 21, 2],
            vec![0, 30, 2],
            vec![0, 20, 21, 22, 23, 2],
        ];
        let losses = candidate_losses(&model, &input, &candidates, &device).unwrap();
        // Alone, unpadded, through the training loss: the same number per candidate.
        for (candidate, loss) in candidates.iter().zip(&losses) {
            let pair = Candidate {
                input: &input,
                target: candidate,
            };
            let batch = collate(&[&pair], config.decoder_start_token_id, &device);
            let alone =
                f64::from(nll_sum(&model, &batch).into_scalar::<f32>()) / candidate.len() as f64;
            assert!((alone - loss).abs() < 1e-4, "{alone} vs {loss}");
        }
        let ranked = rerank(&model, &input, &candidates, &device).unwrap();
        assert_eq!(ranked.len(), 3);
        assert!(ranked.windows(2).all(|w| w[0].mean_nll <= w[1].mean_nll));
        let mut indices: Vec<usize> = ranked.iter().map(|r| r.index).collect();
        indices.sort_unstable();
        assert_eq!(indices, vec![0, 1, 2]);
        assert!(rerank(&model, &input, &[], &device).unwrap().is_empty());
    }
}
