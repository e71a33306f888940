//! Figure 5 (paper §5.3): validation loss against training compute (PF-seconds, log scale) for
//! each customization strategy: one light line per (project, fold) run, a bold line for the
//! strategy's mean, and the baseline's validation loss on the same validation parts as a grey
//! dashed reference (where every customization starts).
//!
//! The mean is taken on a common log-spaced compute grid: each run is interpolated linearly in
//! log compute between its evaluations and holds its last value once it has stopped (early
//! stopping ends runs at different computes); the grid starts where every run of the strategy
//! has its first evaluation and ends with the longest run.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use plotters::coord::Shift;
use plotters::prelude::*;

use super::evaluation::{Evaluation, cell, mean, write_csv};
use super::plot::{colour, dashes, label, order, plot_err, render};
use crate::label::RunLabel;
use crate::tables::curves::read_curve;

/// One run's curve: (PF-seconds, validation loss), compute ascending, positive compute only.
pub type Curve = Vec<(f64, f64)>;

/// The curves of every customization run of the profile, per strategy.
pub fn curves(eval: &Evaluation) -> Result<BTreeMap<String, Vec<Curve>>> {
    let mut out: BTreeMap<String, Vec<Curve>> = BTreeMap::new();
    let runs = eval.runs();
    for row in eval
        .finetune
        .iter()
        .filter(|r| RunLabel::Baseline != r.strategy)
    {
        let file = runs.curve_file(&row.project_id, &row.strategy, row.fold as usize);
        if !file.exists() {
            continue;
        }
        let mut curve: Curve = read_curve(&file)?
            .iter()
            .filter(|p| p.val_loss.is_finite() && p.pf_seconds() > 0.0)
            .map(|p| (p.pf_seconds(), p.val_loss))
            .collect();
        curve.sort_by(|a, b| a.0.total_cmp(&b.0));
        if !curve.is_empty() {
            out.entry(row.strategy.clone()).or_default().push(curve);
        }
    }
    Ok(out)
}

/// A run's value at compute `x`: `None` before its first evaluation, its last value after its
/// last, linear in log compute between.
fn value_at(curve: &Curve, x: f64) -> Option<f64> {
    let first = curve.first()?;
    if x < first.0 {
        return None;
    }
    let i = curve.partition_point(|p| p.0 <= x);
    if i >= curve.len() {
        return curve.last().map(|p| p.1);
    }
    let (a, b) = (curve[i - 1], curve[i]);
    let t = (x.ln() - a.0.ln()) / (b.0.ln() - a.0.ln());
    Some(a.1 + t * (b.1 - a.1))
}

/// The mean curve of `runs` on 60 log-spaced points from the latest first evaluation to the
/// largest compute.
pub fn mean_curve(runs: &[Curve]) -> Curve {
    let start = runs
        .iter()
        .filter_map(|c| c.first().map(|p| p.0))
        .fold(0.0f64, f64::max);
    let end = runs
        .iter()
        .filter_map(|c| c.last().map(|p| p.0))
        .fold(0.0f64, f64::max);
    if !(start > 0.0 && end >= start) {
        return Vec::new();
    }
    let steps = 60;
    (0..=steps)
        .map(|i| {
            let x = (start.ln() + (end.ln() - start.ln()) * i as f64 / steps as f64).exp();
            (x, mean(runs.iter().filter_map(|c| value_at(c, x))))
        })
        .filter_map(|(x, y)| y.map(|y| (x, y)))
        .collect()
}

/// Figure 5 (PNG + SVG) and the mean curves as CSV.
pub fn write_figure5(eval: &Evaluation, figures: &Path, reports: &Path) -> Result<Vec<PathBuf>> {
    let mut by_strategy: Vec<(RunLabel, Vec<Curve>)> = curves(eval)?
        .into_iter()
        .map(|(name, curves)| Ok((name.parse()?, curves)))
        .collect::<Result<_>>()?;
    by_strategy.sort_by_key(|(s, _)| order(s));
    let baseline = mean(
        eval.finetune
            .iter()
            .filter(|r| RunLabel::Baseline == r.strategy)
            .map(|r| r.best_val_loss),
    );
    let png = figures.join("figure5.png");
    render!(&png, (1100, 680), |root| draw(
        &root,
        &by_strategy,
        baseline
    ));
    let mut rows = Vec::new();
    for (s, runs) in &by_strategy {
        for (x, y) in mean_curve(runs) {
            rows.push(vec![
                s.to_string(),
                runs.len().to_string(),
                cell(Some(x)),
                cell(Some(y)),
            ]);
        }
    }
    let csv = write_csv(
        reports,
        "figure5.csv",
        &["strategy", "runs", "pf_seconds", "mean_val_loss"],
        &rows,
    )?;
    Ok(vec![png.clone(), png.with_extension("svg"), csv])
}

fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    by_strategy: &[(RunLabel, Vec<Curve>)],
    baseline: Option<f64>,
) -> Result<()> {
    root.fill(&WHITE).map_err(plot_err)?;
    let points = || {
        by_strategy
            .iter()
            .flat_map(|(_, runs)| runs.iter().flatten())
    };
    let (mut x0, mut x1) = (f64::INFINITY, 0.0f64);
    let (mut y0, mut y1) = (f64::INFINITY, f64::NEG_INFINITY);
    for &(x, y) in points() {
        x0 = x0.min(x);
        x1 = x1.max(x);
        y0 = y0.min(y);
        y1 = y1.max(y);
    }
    if let Some(b) = baseline.filter(|b| b.is_finite()) {
        y0 = y0.min(b);
        y1 = y1.max(b);
    }
    if !x0.is_finite() {
        (x0, x1, y0, y1) = (1e-6, 1.0, 0.0, 1.0);
    }
    let pad = ((y1 - y0) * 0.06).max(1e-3);
    let mut chart = ChartBuilder::on(root)
        .caption("Validation loss vs compute", ("sans-serif", 24))
        .margin(16)
        .x_label_area_size(50)
        .y_label_area_size(70)
        .build_cartesian_2d((x0 / 1.3..x1 * 1.3).log_scale(), (y0 - pad)..(y1 + pad))
        .map_err(plot_err)?;
    chart
        .configure_mesh()
        .light_line_style(RGBColor(240, 240, 240))
        .x_desc("compute (PF-seconds, log scale)")
        .y_desc("validation loss (mean token cross-entropy)")
        .x_label_formatter(&|x| format!("{x:.0e}"))
        .y_label_formatter(&|y| format!("{y:.2}"))
        .label_style(("sans-serif", 15))
        .axis_desc_style(("sans-serif", 17))
        .draw()
        .map_err(plot_err)?;
    for (strategy, runs) in by_strategy {
        let c = colour(strategy);
        for run in runs {
            chart
                .draw_series(std::iter::once(PathElement::new(
                    run.clone(),
                    c.mix(0.25).stroke_width(1),
                )))
                .map_err(plot_err)?;
        }
        chart
            .draw_series(std::iter::once(PathElement::new(
                mean_curve(runs),
                c.stroke_width(4),
            )))
            .map_err(plot_err)?
            .label(format!(
                "{} ({} run{})",
                label(strategy),
                runs.len(),
                if runs.len() == 1 { "" } else { "s" }
            ))
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 22, y)], c.stroke_width(4)));
    }
    if let Some(b) = baseline.filter(|b| b.is_finite()) {
        let grey = colour(&RunLabel::Baseline);
        chart
            .draw_series(
                dashes(&[(x0 / 1.3, b), (x1 * 1.3, b)], 40, true)
                    .into_iter()
                    .map(|piece| PathElement::new(piece, grey.stroke_width(2))),
            )
            .map_err(plot_err)?
            .label("Baseline (no customization)")
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 22, y)], grey.stroke_width(2))
            });
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .label_font(("sans-serif", 15))
        // Curves fall from the upper left to the lower right: the lower left stays free.
        .position(SeriesLabelPosition::LowerLeft)
        .draw()
        .map_err(plot_err)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mean_curve_interpolates_in_log_compute_and_holds_stopped_runs() {
        let a: Curve = vec![(1.0, 4.0), (100.0, 2.0)];
        let b: Curve = vec![(1.0, 3.0), (10.0, 1.0)];
        assert_eq!(value_at(&a, 10.0), Some(3.0));
        assert_eq!(value_at(&b, 100.0), Some(1.0));
        assert_eq!(value_at(&a, 0.5), None);
        let m = mean_curve(&[a, b]);
        assert_eq!(m.first().map(|p| p.1), Some(3.5));
        assert!((m.last().unwrap().0 - 100.0).abs() < 1e-9);
        assert!((m.last().unwrap().1 - 1.5).abs() < 1e-12);
    }
}
