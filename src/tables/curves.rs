//! The `curve` table of a training run (`<run>/curve.parquet`): one row per evaluation, so
//! learning curves and the paper's Figure 5 (validation loss against compute) are queries.

use std::path::Path;

use anyhow::Result;
use polars::prelude::*;
use serde::{Deserialize, Serialize};

use super::{TableSchema, read_table, write_table};

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

pub fn schema() -> TableSchema {
    TableSchema {
        name: "curve",
        version: VERSION,
        columns: vec![
            ("step", DataType::UInt64),
            ("epoch", DataType::Float64),
            ("tokens", DataType::UInt64),
            ("wall_seconds", DataType::Float64),
            ("train_loss", DataType::Float64),
            ("val_loss", DataType::Float64),
            ("val_perplexity", DataType::Float64),
            ("lr", DataType::Float64),
            ("flops", DataType::Float64),
            ("pf_seconds", DataType::Float64),
        ],
    }
}

pub fn write_curve(points: &[CurvePoint], path: &Path) -> Result<()> {
    let f64s = |f: fn(&CurvePoint) -> f64| points.iter().map(f).collect::<Vec<f64>>();
    let mut df = DataFrame::new(vec![
        Column::new(
            "step".into(),
            points.iter().map(|p| p.step).collect::<Vec<u64>>(),
        ),
        Column::new("epoch".into(), f64s(|p| p.epoch)),
        Column::new(
            "tokens".into(),
            points.iter().map(|p| p.tokens).collect::<Vec<u64>>(),
        ),
        Column::new("wall_seconds".into(), f64s(|p| p.wall_seconds)),
        Column::new("train_loss".into(), f64s(|p| p.train_loss)),
        Column::new("val_loss".into(), f64s(|p| p.val_loss)),
        Column::new("val_perplexity".into(), f64s(|p| p.val_loss.exp())),
        Column::new("lr".into(), f64s(|p| p.lr)),
        Column::new("flops".into(), f64s(|p| p.flops)),
        Column::new("pf_seconds".into(), f64s(CurvePoint::pf_seconds)),
    ])?;
    write_table(&mut df, path, &schema())
}

pub fn read_curve(path: &Path) -> Result<Vec<CurvePoint>> {
    let df = read_table(path, &schema())?;
    let u64s = |name: &str| super::read_u64s(&df, name);
    let f64s = |name: &str| super::read_f64s(&df, name);
    let (step, tokens) = (u64s("step")?, u64s("tokens")?);
    let (epoch, wall, train, val, lr, flops) = (
        f64s("epoch")?,
        f64s("wall_seconds")?,
        f64s("train_loss")?,
        f64s("val_loss")?,
        f64s("lr")?,
        f64s("flops")?,
    );
    Ok((0..step.len())
        .map(|i| CurvePoint {
            step: step[i],
            epoch: epoch[i],
            tokens: tokens[i],
            wall_seconds: wall[i],
            train_loss: train[i],
            val_loss: val[i],
            lr: lr[i],
            flops: flops[i],
        })
        .collect())
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
