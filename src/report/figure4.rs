//! Figure 4 (paper §5.2): (a) top-k exact (solid) and abstracted (dotted) match rates per
//! strategy for k = 1…5, pooled over every evaluated test of every project and fold; (b) the
//! distribution of coding-style similarity (tf-idf cosine of identifiers, top-1 output vs the
//! developer's test) per strategy, as box plots of the per-test values with each (project,
//! fold)'s value over the whole test part as a dot.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use plotters::coord::Shift;
use plotters::data::Quartiles;
use plotters::prelude::*;

use super::evaluation::{Evaluation, cell, write_csv};
use super::plot::{colour, dashes, label, plot_err, render};
use crate::evaluate::metric;
use crate::label::RunLabel;
use crate::metrics::exact::K;

/// Per strategy: exact and abstracted rates for k = 1…5 (pooled over tests).
pub fn top_k_rates(eval: &Evaluation) -> Vec<(RunLabel, [f64; K], [f64; K])> {
    eval.strategies()
        .into_iter()
        .map(|s| {
            let exact =
                std::array::from_fn(|i| eval.pooled(&s, &metric::exact(i + 1)).unwrap_or(f64::NAN));
            let abstracted = std::array::from_fn(|i| {
                eval.pooled(&s, &metric::abstracted(i + 1))
                    .unwrap_or(f64::NAN)
            });
            (s, exact, abstracted)
        })
        .collect()
}

/// Per strategy: the per-test style similarities (finite ones) and the per-run values.
pub fn style_values(eval: &Evaluation) -> Vec<(RunLabel, Vec<f64>, Vec<f64>)> {
    eval.strategies()
        .into_iter()
        .map(|s| {
            let tests: Vec<f64> = eval
                .scores
                .iter()
                .filter(|r| s == r.strategy && r.style_similarity.is_finite())
                .map(|r| r.style_similarity)
                .collect();
            let runs: Vec<f64> = eval
                .metrics
                .iter()
                .filter(|r| s == r.strategy && r.metric == metric::STYLE && r.value.is_finite())
                .map(|r| r.value)
                .collect();
            (s, tests, runs)
        })
        .collect()
}

/// Figure 4 (PNG + SVG) and the CSVs of both panels.
pub fn write_figure4(eval: &Evaluation, figures: &Path, reports: &Path) -> Result<Vec<PathBuf>> {
    let rates = top_k_rates(eval);
    let style = style_values(eval);
    let png = figures.join("figure4.png");
    render!(&png, (1500, 620), |root| draw(&root, &rates, &style));
    let mut rows = Vec::new();
    for (s, exact, abstracted) in &rates {
        for k in 0..K {
            rows.push(vec![
                s.to_string(),
                (k + 1).to_string(),
                cell(Some(exact[k])),
                cell(Some(abstracted[k])),
                eval.tests(s).to_string(),
            ]);
        }
    }
    let a = write_csv(
        reports,
        "figure4a.csv",
        &["strategy", "k", "exact_rate", "abstract_rate", "tests"],
        &rows,
    )?;
    let mut rows = Vec::new();
    for (s, tests, runs) in &style {
        let q = (!tests.is_empty()).then(|| Quartiles::new(tests));
        let v = q.map(|q| q.values());
        rows.push(vec![
            s.to_string(),
            tests.len().to_string(),
            cell(v.map(|v| f64::from(v[1]))),
            cell(v.map(|v| f64::from(v[2]))),
            cell(v.map(|v| f64::from(v[3]))),
            cell(super::evaluation::mean(tests.iter().copied())),
            cell(super::evaluation::mean(runs.iter().copied())),
        ]);
    }
    let b = write_csv(
        reports,
        "figure4b.csv",
        &[
            "strategy",
            "tests",
            "q1",
            "median",
            "q3",
            "mean_per_test",
            "mean_per_run",
        ],
        &rows,
    )?;
    Ok(vec![png.clone(), png.with_extension("svg"), a, b])
}

fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    rates: &[(RunLabel, [f64; K], [f64; K])],
    style: &[(RunLabel, Vec<f64>, Vec<f64>)],
) -> Result<()> {
    root.fill(&WHITE).map_err(plot_err)?;
    let (left, right) = root.split_horizontally(760);
    draw_top_k(&left, rates)?;
    draw_style(&right, style)?;
    Ok(())
}

fn draw_top_k<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    rates: &[(RunLabel, [f64; K], [f64; K])],
) -> Result<()> {
    let top = rates
        .iter()
        .flat_map(|(_, e, a)| e.iter().chain(a.iter()).copied())
        .filter(|v| v.is_finite())
        .fold(0.0f64, f64::max)
        * 100.0;
    // At least 0–5% so an all-zero panel (an untrained smoke model) still has a readable axis.
    let top = (top * 1.15).max(5.0);
    let mut chart = ChartBuilder::on(area)
        .caption(
            "(a) Top-k exact (solid) and abstracted (dotted) match",
            ("sans-serif", 21),
        )
        .margin(16)
        .x_label_area_size(45)
        .y_label_area_size(60)
        .build_cartesian_2d(0.8f64..(K as f64 + 0.2), 0f64..top)
        .map_err(plot_err)?;
    chart
        .configure_mesh()
        .x_labels(K)
        .x_label_formatter(&|x| format!("{x:.0}"))
        .y_label_formatter(&|y| {
            if top < 20.0 {
                format!("{y:.1}")
            } else {
                format!("{y:.0}")
            }
        })
        .x_desc("Top-K")
        .y_desc("Match %")
        .label_style(("sans-serif", 15))
        .axis_desc_style(("sans-serif", 17))
        .draw()
        .map_err(plot_err)?;
    for (strategy, exact, abstracted) in rates {
        let c = colour(strategy);
        let points = |v: &[f64; K]| -> Vec<(f64, f64)> {
            v.iter()
                .enumerate()
                .filter(|(_, r)| r.is_finite())
                .map(|(k, r)| ((k + 1) as f64, r * 100.0))
                .collect()
        };
        chart
            .draw_series(std::iter::once(PathElement::new(
                points(exact),
                c.stroke_width(3),
            )))
            .map_err(plot_err)?
            .label(label(strategy))
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 22, y)], c.stroke_width(3)));
        chart
            .draw_series(
                points(exact)
                    .into_iter()
                    .map(|p| Circle::new(p, 4, c.filled())),
            )
            .map_err(plot_err)?;
        chart
            .draw_series(
                dashes(&points(abstracted), 8, false)
                    .into_iter()
                    .map(|piece| PathElement::new(piece, c.stroke_width(2))),
            )
            .map_err(plot_err)?;
        chart
            .draw_series(
                points(abstracted)
                    .into_iter()
                    .map(|p| TriangleMarker::new(p, 5, c.filled())),
            )
            .map_err(plot_err)?;
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .label_font(("sans-serif", 15))
        .position(SeriesLabelPosition::UpperLeft)
        .draw()
        .map_err(plot_err)?;
    Ok(())
}

fn draw_style<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    style: &[(RunLabel, Vec<f64>, Vec<f64>)],
) -> Result<()> {
    let names: Vec<String> = style.iter().map(|(s, _, _)| label(s)).collect();
    let n = style.len();
    let mut chart = ChartBuilder::on(area)
        .caption(
            "(b) Coding style: identifier tf-idf cosine",
            ("sans-serif", 21),
        )
        .margin(16)
        .x_label_area_size(45)
        .y_label_area_size(60)
        .build_cartesian_2d(-0.6f64..(n as f64 - 0.4), 0f64..1.02f64)
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
        .y_label_formatter(&|y| format!("{y:.1}"))
        .y_desc("cosine similarity (per test: box; per project and fold: dots)")
        .label_style(("sans-serif", 15))
        .axis_desc_style(("sans-serif", 16))
        .draw()
        .map_err(plot_err)?;
    for (i, (strategy, tests, runs)) in style.iter().enumerate() {
        let c = colour(strategy);
        let x = i as f64;
        if !tests.is_empty() {
            let q = Quartiles::new(tests);
            let [lo, q1, median, q3, hi] = q.values().map(f64::from);
            chart
                .draw_series([
                    Rectangle::new([(x - 0.3, q1), (x + 0.3, q3)], c.mix(0.35).filled()),
                    Rectangle::new([(x - 0.3, q1), (x + 0.3, q3)], c.stroke_width(2)),
                ])
                .map_err(plot_err)?;
            chart
                .draw_series([
                    PathElement::new(
                        vec![(x - 0.3, median), (x + 0.3, median)],
                        c.stroke_width(3),
                    ),
                    PathElement::new(vec![(x, q3), (x, hi)], c.stroke_width(1)),
                    PathElement::new(vec![(x, q1), (x, lo)], c.stroke_width(1)),
                    PathElement::new(vec![(x - 0.12, hi), (x + 0.12, hi)], c.stroke_width(1)),
                    PathElement::new(vec![(x - 0.12, lo), (x + 0.12, lo)], c.stroke_width(1)),
                ])
                .map_err(plot_err)?;
        }
        chart
            .draw_series(runs.iter().enumerate().map(|(j, v)| {
                // A small deterministic spread so overlapping runs stay visible.
                let dx = ((j % 7) as f64 - 3.0) * 0.03;
                Circle::new((x + 0.42 + dx, *v), 4, BLACK.mix(0.7).filled())
            }))
            .map_err(plot_err)?;
    }
    Ok(())
}
