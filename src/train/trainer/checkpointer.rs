//! The checkpointing part of the loop: a run resumes from its `checkpoint/` (model, optimizer
//! state, [`TrainState`]) and writes a new one at every evaluation, every
//! `checkpoint_every_steps` steps, and when it stops. Folders are replaced whole
//! ([`checkpoint::replace_dir`]), so a kill leaves a complete checkpoint.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use burn::module::Module;
use burn::optim::ModuleOptimizer;

use super::RunModel;
use crate::model::BartForConditionalGeneration;
use crate::train::checkpoint::{self, CHECKPOINT_DIR, MODEL_FILE, OPTIMIZER_FILE, TrainState};

pub(super) struct Checkpointer {
    /// `<run>/checkpoint`.
    dir: PathBuf,
    /// The checkpoint found when the run started (the folder or its `.old` twin), if any.
    resumed_from: Option<PathBuf>,
    /// Steps between checkpoints besides those at evaluations (0: only at evaluations).
    every: u64,
}

impl Checkpointer {
    /// The checkpointer of the run folder `run_dir`, looking for a checkpoint to resume from.
    pub(super) fn new(run_dir: &Path, every: u64) -> Self {
        let dir = run_dir.join(CHECKPOINT_DIR);
        let resumed_from = checkpoint::existing_dir(&dir);
        Self {
            dir,
            resumed_from,
            every,
        }
    }

    /// Whether the run resumes from a checkpoint.
    pub(super) fn resumes(&self) -> bool {
        self.resumed_from.is_some()
    }

    /// The line that says where a resumed run goes on from.
    pub(super) fn resuming(&self, label: &str, state: &TrainState) -> String {
        format!(
            "{label}: resuming at step {} (epoch {}, batch {}) from {}",
            state.step,
            state.epoch,
            state.batch_in_epoch,
            self.dir.display()
        )
    }

    /// The model and state to start from: the checkpoint's, or `model` and a fresh state. The
    /// strategy's selection is applied after loading (loading keeps parameter ids, and this
    /// keeps the selection whatever the record held).
    pub(super) fn resume(
        &self,
        model: BartForConditionalGeneration,
        hooks: &dyn RunModel,
    ) -> Result<(BartForConditionalGeneration, TrainState)> {
        let model = hooks.freeze(model);
        let Some(dir) = &self.resumed_from else {
            return Ok((model, TrainState::default()));
        };
        let model = model
            .try_load_file(dir.join(MODEL_FILE))
            .with_context(|| format!("loading the checkpoint in {}", dir.display()))?;
        Ok((hooks.freeze(model), checkpoint::read_state(dir)?))
    }

    /// `optim` with the checkpoint's moments, when the run resumes.
    pub(super) fn resume_optimizer(&self, optim: ModuleOptimizer) -> Result<ModuleOptimizer> {
        let Some(dir) = &self.resumed_from else {
            return Ok(optim);
        };
        optim
            .load(dir.join(OPTIMIZER_FILE))
            .with_context(|| format!("loading optimizer state from {}", dir.display()))
    }

    /// Whether a checkpoint is due after `step` between evaluations.
    pub(super) fn due(&self, step: u64) -> bool {
        self.every > 0 && step.is_multiple_of(self.every)
    }

    /// Replace the checkpoint by `model`, `optim` and `state` (with `wall_seconds` as its
    /// training time).
    pub(super) fn save(
        &self,
        model: &BartForConditionalGeneration,
        optim: &ModuleOptimizer,
        state: &TrainState,
        wall_seconds: f64,
    ) -> Result<()> {
        let mut state = state.clone();
        state.wall_seconds = wall_seconds;
        checkpoint::replace_dir(&self.dir, |tmp| {
            model
                .clone()
                .save_file(tmp.join(MODEL_FILE))
                .map_err(|e| anyhow::anyhow!("saving the model checkpoint: {e:?}"))?;
            optim
                .save(tmp.join(OPTIMIZER_FILE))
                .map_err(|e| anyhow::anyhow!("saving the optimizer state: {e:?}"))?;
            checkpoint::write_state(tmp, &state)
        })
    }
}
