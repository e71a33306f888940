//! The evaluation part of the loop: the validation loss of the model on a seeded sample of the
//! validation set, and at every evaluation a row of the run's learning curve (written at once,
//! and logged as a line, the record of a long run where no bar is drawn).

use std::path::PathBuf;

use anyhow::{Result, ensure};
use burn::prelude::*;

use super::Run;
use super::progress::Progress;
use crate::data::batches::plan_eval;
use crate::model::BartForConditionalGeneration;
use crate::tables::curves::{self, CurvePoint};
use crate::train::batch::{SeqPair, collate, nll_sum};
use crate::train::checkpoint::TrainState;

/// Validation-loss sample: a seeded subset of `n` indices (all when `n` is 0 or larger).
fn eval_indices(len: usize, n: usize, seed: u64) -> Vec<usize> {
    let mut indices: Vec<usize> = (0..len).collect();
    if n == 0 || n >= len {
        return indices;
    }
    let mut state = seed ^ 0x9E37_79B9_7F4A_7C15;
    // Fisher-Yates with splitmix64: deterministic, no OS entropy.
    for i in (1..len).rev() {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        indices.swap(i, (z % (i as u64 + 1)) as usize);
    }
    indices.truncate(n);
    indices.sort_unstable();
    indices
}

/// Mean token cross-entropy of `examples` (no dropout, no gradients), batched by length.
pub fn evaluate<E: SeqPair>(
    model: &BartForConditionalGeneration,
    examples: &[&E],
    batch_tokens: usize,
    device: &Device,
) -> Result<(f64, u64)> {
    let lengths: Vec<(usize, usize)> = examples
        .iter()
        .map(|e| (e.input_ids().len(), e.target_ids().len()))
        .collect();
    let plan = plan_eval(&lengths, batch_tokens);
    let (mut nll, mut tokens) = (0f64, 0u64);
    for indices in &plan.batches {
        let rows: Vec<&E> = indices.iter().map(|&i| examples[i]).collect();
        let batch = collate(&rows, model.config.decoder_start_token_id, device);
        nll += f64::from(nll_sum(model, &batch).into_scalar::<f32>());
        tokens += batch.target_tokens as u64;
    }
    ensure!(tokens > 0, "no validation tokens to evaluate on");
    Ok((nll / tokens as f64, tokens))
}

/// The validation side of one run: its sample (`eval_examples` of the validation set, seeded),
/// measured on the inference device into the run's curve.
pub(super) struct Evaluation<'a, E: SeqPair> {
    label: &'a str,
    curve_file: PathBuf,
    valid: Vec<&'a E>,
    batch_tokens: usize,
    /// For the fractional epoch of a curve row.
    batches_per_epoch: usize,
    device: Device,
}

impl<'a, E: SeqPair> Evaluation<'a, E> {
    /// The evaluation of `run`, whose training device is `device` (evaluation runs on the
    /// device without autodiff).
    pub(super) fn new(run: &'a Run<'a, E>, batches_per_epoch: usize, device: &Device) -> Self {
        let settings = run.settings;
        Self {
            label: &run.label,
            curve_file: run.dir.join(curves::FILE),
            valid: eval_indices(run.valid.len(), settings.eval_examples, settings.seed)
                .into_iter()
                .map(|i| &run.valid[i])
                .collect(),
            batch_tokens: settings.batch_tokens,
            batches_per_epoch,
            device: device.clone().inner(),
        }
    }

    /// Measure `model` (an inference copy) at `state`'s step: a curve row with the mean train
    /// loss since the last evaluation (whose counters restart), the learning rate `lr` and the
    /// wall time; the curve file is rewritten and the row logged. Returns the validation loss.
    pub(super) fn record(
        &self,
        model: &BartForConditionalGeneration,
        state: &mut TrainState,
        lr: f64,
        wall_seconds: f64,
        progress: &Progress,
    ) -> Result<f64> {
        let (val_loss, _) = evaluate(model, &self.valid, self.batch_tokens, &self.device)?;
        let train_loss = if state.train_tokens > 0 {
            state.train_nll / state.train_tokens as f64
        } else {
            f64::NAN
        };
        state.train_nll = 0.0;
        state.train_tokens = 0;
        state.curve.push(CurvePoint {
            step: state.step,
            epoch: state.epoch as f64
                + state.batch_in_epoch as f64 / self.batches_per_epoch.max(1) as f64,
            tokens: state.tokens,
            wall_seconds,
            train_loss,
            val_loss,
            lr,
            flops: state.flops,
        });
        curves::write_curve(&state.curve, &self.curve_file)?;
        let point = state.curve.last().expect("just pushed");
        progress.say(&format!(
            "{}: step {} · epoch {:.2} · train loss {:.4} · val loss {:.4} (ppl {:.2}) · {} tokens · {:.3e} PF-s · {:.0} s",
            self.label,
            point.step,
            point.epoch,
            point.train_loss,
            point.val_loss,
            point.val_loss.exp(),
            point.tokens,
            point.pf_seconds(),
            point.wall_seconds
        ));
        Ok(val_loss)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_validation_sample_is_seeded_and_sorted() {
        let a = eval_indices(100, 10, 1);
        assert_eq!(a, eval_indices(100, 10, 1));
        assert_ne!(a, eval_indices(100, 10, 2));
        assert_eq!(a.len(), 10);
        assert!(a.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(eval_indices(5, 0, 1), vec![0, 1, 2, 3, 4]);
    }
}
