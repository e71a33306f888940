//! Resumable checkpoints: a run folder's `checkpoint/` holds the module (burnpack, which keeps
//! parameter ids so the optimizer's state still matches), the AdamW moments, and `state.json`
//! (step, epoch, position in the epoch, counters, best loss, curve). Every write goes to a
//! temporary name first and is renamed into place, so a `kill -9` at any moment leaves either
//! the previous checkpoint or the new one, never half of one.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::tables::curves::CurvePoint;

pub const CHECKPOINT_DIR: &str = crate::layout::CHECKPOINT_DIR;
pub const MODEL_FILE: &str = "model.bpk";
pub const OPTIMIZER_FILE: &str = "optimizer.bpk";
pub const STATE_FILE: &str = "state.json";

/// Everything besides tensors that a resumed run needs to continue exactly where it stopped.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TrainState {
    /// Optimizer steps taken.
    pub step: u64,
    /// The epoch in progress and the next batch of its plan.
    pub epoch: u64,
    pub batch_in_epoch: usize,
    /// Real (unpadded) input + target tokens trained on.
    pub tokens: u64,
    /// Training FLOPs so far (forward + backward, see `compute`).
    pub flops: f64,
    /// Wall seconds of training, summed over resumes.
    pub wall_seconds: f64,
    /// Train loss accumulated since the last evaluation: NLL sum and target tokens.
    pub train_nll: f64,
    pub train_tokens: u64,
    pub best_val_loss: Option<f64>,
    pub best_step: u64,
    /// Evaluations since the best one (early stopping).
    pub evals_since_best: u64,
    pub curve: Vec<CurvePoint>,
    /// Why the run stopped, once it has.
    pub stopped: Option<String>,
}

pub use crate::tables::write_atomic;

/// Replace folder `dir` by what `fill` writes into a fresh temporary folder beside it. Between
/// the two renames the old folder survives as `<dir>.old`, which [`existing_dir`] falls back to.
pub fn replace_dir(dir: &Path, fill: impl FnOnce(&Path) -> Result<()>) -> Result<()> {
    let parent = dir.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    let tmp = sibling(dir, "tmp");
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp).with_context(|| format!("removing {}", tmp.display()))?;
    }
    std::fs::create_dir_all(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
    fill(&tmp)?;
    let old = sibling(dir, "old");
    if old.exists() {
        std::fs::remove_dir_all(&old).with_context(|| format!("removing {}", old.display()))?;
    }
    if dir.exists() {
        std::fs::rename(dir, &old).with_context(|| format!("moving {} aside", dir.display()))?;
    }
    std::fs::rename(&tmp, dir).with_context(|| format!("moving {} into place", dir.display()))?;
    if old.exists() {
        std::fs::remove_dir_all(&old).ok();
    }
    Ok(())
}

/// The folder written by [`replace_dir`], or its previous version if a kill fell between the
/// two renames.
pub fn existing_dir(dir: &Path) -> Option<PathBuf> {
    // `dir` only ever appears by renaming a complete temporary folder.
    if dir.exists() {
        return Some(dir.to_path_buf());
    }
    let old = sibling(dir, "old");
    old.exists().then_some(old)
}

fn sibling(dir: &Path, suffix: &str) -> PathBuf {
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    dir.with_file_name(format!("{name}.{suffix}"))
}

/// Read `state.json` of a checkpoint folder.
pub fn read_state(dir: &Path) -> Result<TrainState> {
    let path = dir.join(STATE_FILE);
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))
}

pub fn write_state(dir: &Path, state: &TrainState) -> Result<()> {
    write_atomic(
        &dir.join(STATE_FILE),
        serde_json::to_string_pretty(state)?.as_bytes(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replacing_a_folder_keeps_either_the_old_or_the_new_version() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("checkpoint");
        replace_dir(&dir, |tmp| write_atomic(&tmp.join("a"), b"1")).unwrap();
        assert_eq!(std::fs::read(dir.join("a")).unwrap(), b"1");
        replace_dir(&dir, |tmp| write_atomic(&tmp.join("a"), b"2")).unwrap();
        assert_eq!(std::fs::read(dir.join("a")).unwrap(), b"2");
        // A kill between the renames: only `.old` exists.
        std::fs::rename(&dir, root.path().join("checkpoint.old")).unwrap();
        let found = existing_dir(&dir).unwrap();
        assert_eq!(std::fs::read(found.join("a")).unwrap(), b"2");
        // A failed fill leaves the current version alone.
        let failed = replace_dir(&dir, |_| anyhow::bail!("disk full"));
        assert!(failed.is_err());
    }

    #[test]
    fn state_round_trips_exactly() {
        let root = tempfile::tempdir().unwrap();
        let state = TrainState {
            step: 7,
            train_nll: 0.1 + 0.2,
            flops: 1.234_567_890_123e15,
            best_val_loss: Some(std::f64::consts::PI),
            ..Default::default()
        };
        write_state(root.path(), &state).unwrap();
        assert_eq!(read_state(root.path()).unwrap(), state);
    }
}
