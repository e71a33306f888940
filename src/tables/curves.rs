//! The `curve` table of a training run (`<run>/curve.parquet`): one row per evaluation, so
//! learning curves and the paper's Figure 5 (validation loss against compute) are queries.

use std::path::Path;

use anyhow::Result;
use serde::{Deserialize, Serialize};

use super::{TableSchema, columns};

/// Bumped whenever a column is added, removed or changes meaning.
pub const VERSION: u32 = 1;
pub const FILE: &str = crate::layout::CURVE_FILE;

/// One evaluation of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CurvePoint {
    pub step: u64,
    /// Epochs completed, fractional (batches done / batches per epoch).
    pub epoch: f64,
    /// Real (unpadded) input + target tokens trained on so far.
    pub tokens: u64,
    pub wall_seconds: f64,
    /// Mean token cross-entropy on the training batches since the previous evaluation (NaN at
    /// step 0, before any training).
    #[serde(with = "nan_as_null")]
    pub train_loss: f64,
    /// Mean token cross-entropy on the validation examples.
    #[serde(with = "nan_as_null")]
    pub val_loss: f64,
    /// Learning rate of the last step.
    pub lr: f64,
    /// Training FLOPs so far (forward + backward, `train::compute`).
    pub flops: f64,
}

/// JSON has no NaN: serde_json writes it as `null`; read `null` back as NaN.
mod nan_as_null {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(value: &f64, serializer: S) -> Result<S::Ok, S::Error> {
        if value.is_finite() {
            serializer.serialize_f64(*value)
        } else {
            serializer.serialize_none()
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<f64, D::Error> {
        Ok(Option::<f64>::deserialize(deserializer)?.unwrap_or(f64::NAN))
    }
}

impl CurvePoint {
    /// The paper's unit of compute (§4.4).
    pub fn pf_seconds(&self) -> f64 {
        self.flops / 1e15
    }
}

columns! {
    CurvePoint {
        step,
        epoch,
        tokens,
        wall_seconds,
        train_loss,
        val_loss,
        val_perplexity = |p| p.val_loss.exp(),
        lr,
        flops,
        pf_seconds = CurvePoint::pf_seconds,
    }
}

/// The declared schema of `curve`.
pub fn schema() -> TableSchema {
    TableSchema::of::<CurvePoint>("curve", VERSION)
}

/// Writes a run's `curve` atomically.
pub fn write_curve(points: &[CurvePoint], path: &Path) -> Result<()> {
    super::write_rows(points, path, &schema())
}

/// Reads and checks a run's `curve`.
pub fn read_curve(path: &Path) -> Result<Vec<CurvePoint>> {
    super::read_rows(path, &schema())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn curve_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE);
        let points = vec![CurvePoint {
            step: 10,
            epoch: 0.5,
            tokens: 1000,
            wall_seconds: 1.5,
            train_loss: 4.0,
            val_loss: 3.5,
            lr: 1e-4,
            flops: 2e12,
        }];
        write_curve(&points, &path).unwrap();
        assert_eq!(read_curve(&path).unwrap(), points);
    }
}
