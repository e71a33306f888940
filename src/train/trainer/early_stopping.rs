//! The early-stopping part of the loop: the best model so far (by validation loss) is kept in
//! the run's `best/`, and a run stops once `patience` evaluations in a row have not improved on
//! it (0: never; the run then ends by its step, epoch or time limits).

use std::path::PathBuf;

use anyhow::Result;

use super::RunModel;
use crate::model::BartForConditionalGeneration;
use crate::train::checkpoint::{self, TrainState};

pub(super) struct EarlyStopping<'a> {
    patience: u64,
    best_dir: PathBuf,
    /// Saves the best model in its form (an HF folder, an adapter).
    hooks: &'a dyn RunModel,
}

impl<'a> EarlyStopping<'a> {
    pub(super) fn new(patience: u64, best_dir: PathBuf, hooks: &'a dyn RunModel) -> Self {
        Self {
            patience,
            best_dir,
            hooks,
        }
    }

    /// Take `val_loss`, the validation loss of `model` at `state`'s step: a new best replaces
    /// the kept model, anything else uses up patience. Returns whether patience has run out.
    pub(super) fn update(
        &self,
        model: &BartForConditionalGeneration,
        state: &mut TrainState,
        val_loss: f64,
    ) -> Result<bool> {
        if state.best_val_loss.is_none_or(|best| val_loss < best) {
            state.best_val_loss = Some(val_loss);
            state.best_step = state.step;
            state.evals_since_best = 0;
            checkpoint::replace_dir(&self.best_dir, |dir| self.hooks.save_best(model, dir))?;
        } else {
            state.evals_since_best += 1;
        }
        Ok(self.patience > 0 && state.evals_since_best >= self.patience)
    }
}
