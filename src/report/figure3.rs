//! Figure 3 (paper §3.4): the mean absolute change of the parameters of each encoder and
//! decoder block (and of everything else: embeddings, positions, embedding norms) after
//! `custom` fine-tuning, from the baseline's `model.safetensors` and each `custom` adapter
//! (which holds every trained tensor under the same HF keys). The paper reads a rise towards
//! the last decoder block from it, which motivated L-LDB; this figure checks it on our runs.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow};
use plotters::coord::Shift;
use plotters::prelude::*;

use super::evaluation::{Evaluation, cell, write_csv};
use super::plot::{colour, plot_err, render};
use crate::label::RunLabel;
use crate::model::adapter::ADAPTER_WEIGHTS;
use crate::model::hf::{WEIGHTS_FILE, read_tensors};

/// A bar of the figure: encoder block i, decoder block i, or the rest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Block {
    Encoder(usize),
    Decoder(usize),
    Other,
}

impl Block {
    /// The block an HF key belongs to; `None` for the never-trained `final_logits_bias`.
    pub fn of(key: &str) -> Option<Block> {
        let parts: Vec<&str> = key.split('.').collect();
        match parts.as_slice() {
            ["final_logits_bias", ..] => None,
            ["model", "encoder", "layers", i, ..] => i.parse().ok().map(Block::Encoder),
            ["model", "decoder", "layers", i, ..] => i.parse().ok().map(Block::Decoder),
            _ => Some(Block::Other),
        }
    }

    pub fn name(self) -> String {
        match self {
            Block::Encoder(i) => format!("E{i}"),
            Block::Decoder(i) => format!("D{i}"),
            Block::Other => "other".into(),
        }
    }
}

/// Per block, the mean |Δ| of one run and the number of parameters in it.
pub fn block_changes(base: &Path, adapter: &Path) -> Result<BTreeMap<Block, (f64, usize)>> {
    let before = read_tensors(base)?;
    let after = read_tensors(adapter)?;
    let mut sums: BTreeMap<Block, (f64, usize)> = BTreeMap::new();
    for (key, tuned) in &after {
        let Some(block) = Block::of(key) else {
            continue;
        };
        let Some(original) = before.get(key) else {
            continue;
        };
        let (a, b) = (
            original
                .as_slice::<f32>()
                .map_err(|e| anyhow!("{key}: {e:?}"))?,
            tuned
                .as_slice::<f32>()
                .map_err(|e| anyhow!("{key}: {e:?}"))?,
        );
        anyhow::ensure!(
            a.len() == b.len(),
            "{key} has {} values in {} but {} in {}",
            a.len(),
            base.display(),
            b.len(),
            adapter.display()
        );
        let entry = sums.entry(block).or_default();
        entry.0 += a
            .iter()
            .zip(b)
            .map(|(x, y)| f64::from((x - y).abs()))
            .sum::<f64>();
        entry.1 += a.len();
    }
    Ok(sums
        .into_iter()
        .map(|(block, (sum, n))| (block, (sum / n.max(1) as f64, n)))
        .collect())
}

/// The figure's data: per block, the mean over runs and the min and max over runs.
#[derive(Debug, Clone, Default)]
pub struct Figure3 {
    pub runs: usize,
    pub blocks: Vec<(Block, f64, f64, f64)>,
}

/// Mean absolute change per block over every `custom` run of the profile.
pub fn figure3_data(eval: &Evaluation) -> Result<Figure3> {
    let folders = eval.runs();
    let base = folders.baseline_model().join(WEIGHTS_FILE);
    let mut per_block: BTreeMap<Block, Vec<f64>> = BTreeMap::new();
    let mut runs = 0;
    let custom = RunLabel::Strategy("custom".into());
    for row in eval.finetune.iter().filter(|r| custom == r.strategy) {
        let adapter = folders
            .adapter_dir(&row.project_id, "custom", row.fold as usize)
            .join(ADAPTER_WEIGHTS);
        if !adapter.exists() {
            continue;
        }
        for (block, (change, _)) in block_changes(&base, &adapter)? {
            per_block.entry(block).or_default().push(change);
        }
        runs += 1;
    }
    let blocks = per_block
        .into_iter()
        .map(|(block, v)| {
            let mean = v.iter().sum::<f64>() / v.len() as f64;
            let min = v.iter().copied().fold(f64::INFINITY, f64::min);
            let max = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            (block, mean, min, max)
        })
        .collect();
    Ok(Figure3 { runs, blocks })
}

/// Figure 3 as PNG + SVG and its CSV; nothing when there is no `custom` run.
pub fn write_figure3(eval: &Evaluation, figures: &Path, reports: &Path) -> Result<Vec<PathBuf>> {
    let data = figure3_data(eval)?;
    if data.runs == 0 {
        return Ok(Vec::new());
    }
    let png = figures.join("figure3.png");
    render!(&png, (1100, 560), |root| draw(&root, &data));
    let rows: Vec<Vec<String>> = data
        .blocks
        .iter()
        .map(|(b, mean, min, max)| {
            vec![
                b.name(),
                cell(Some(*mean)),
                cell(Some(*min)),
                cell(Some(*max)),
                data.runs.to_string(),
            ]
        })
        .collect();
    let csv = write_csv(
        reports,
        "figure3.csv",
        &[
            "block",
            "mean_abs_change",
            "min_over_runs",
            "max_over_runs",
            "runs",
        ],
        &rows,
    )?;
    Ok(vec![png.clone(), png.with_extension("svg"), csv])
}

fn draw<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, data: &Figure3) -> Result<()> {
    root.fill(&WHITE).map_err(plot_err)?;
    let n = data.blocks.len();
    let top = data
        .blocks
        .iter()
        .map(|b| b.3.max(b.1))
        .fold(0.0f64, f64::max)
        .max(1e-12)
        * 1.12;
    let names: Vec<String> = data.blocks.iter().map(|b| b.0.name()).collect();
    let mut chart = ChartBuilder::on(root)
        .caption(
            format!(
                "Mean |Δ parameter| per block after Custom fine-tuning ({} run{})",
                data.runs,
                if data.runs == 1 { "" } else { "s" }
            ),
            ("sans-serif", 22),
        )
        .margin(16)
        .x_label_area_size(45)
        .y_label_area_size(90)
        .build_cartesian_2d(-0.6f64..(n as f64 - 0.4), 0f64..top)
        .map_err(plot_err)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(n.max(1))
        .x_label_formatter(&|x| {
            let i = x.round();
            if (x - i).abs() < 1e-6 && i >= 0.0 {
                names.get(i as usize).cloned().unwrap_or_default()
            } else {
                String::new()
            }
        })
        .y_label_formatter(&|y| format!("{y:.1e}"))
        .x_desc("block (E = encoder, D = decoder, other = embeddings, positions, norms)")
        .y_desc("mean absolute change")
        .label_style(("sans-serif", 15))
        .axis_desc_style(("sans-serif", 17))
        .draw()
        .map_err(plot_err)?;
    let encoder = colour(&RunLabel::Strategy("custom".into()));
    let decoder = colour(&RunLabel::Strategy("prefix".into()));
    let other = colour(&RunLabel::Baseline);
    chart
        .draw_series(
            data.blocks
                .iter()
                .enumerate()
                .map(|(i, (block, mean, _, _))| {
                    let c = match block {
                        Block::Encoder(_) => encoder,
                        Block::Decoder(_) => decoder,
                        Block::Other => other,
                    };
                    let x = i as f64;
                    Rectangle::new([(x - 0.35, 0.0), (x + 0.35, *mean)], c.mix(0.85).filled())
                }),
        )
        .map_err(plot_err)?;
    if data.runs > 1 {
        chart
            .draw_series(data.blocks.iter().enumerate().map(|(i, (_, _, min, max))| {
                PathElement::new(
                    vec![(i as f64, *min), (i as f64, *max)],
                    BLACK.stroke_width(2),
                )
            }))
            .map_err(plot_err)?
            .label("min–max over runs")
            .legend(|(x, y)| PathElement::new(vec![(x, y - 6), (x, y + 6)], BLACK.stroke_width(2)));
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.9))
            .border_style(BLACK)
            .label_font(("sans-serif", 15))
            .position(SeriesLabelPosition::UpperLeft)
            .draw()
            .map_err(plot_err)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_map_to_blocks() {
        assert_eq!(
            Block::of("model.encoder.layers.3.fc1.weight"),
            Some(Block::Encoder(3))
        );
        assert_eq!(
            Block::of("model.decoder.layers.11.self_attn.q_proj.bias"),
            Some(Block::Decoder(11))
        );
        assert_eq!(Block::of("model.shared.weight"), Some(Block::Other));
        assert_eq!(Block::of("final_logits_bias"), None);
        assert!(Block::Encoder(5) < Block::Decoder(0) && Block::Decoder(9) < Block::Other);
    }
}
