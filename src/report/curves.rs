//! Learning curves of one run: train and validation loss against steps, with a reference
//! line (e.g. the unigram entropy of the targets, the loss of a model that ignores its input).
//! PNG and SVG side by side, as every figure of ours.

use std::path::Path;

use anyhow::{Context, Result, anyhow};
use plotters::coord::Shift;
use plotters::prelude::*;

use crate::tables::curves::CurvePoint;

const WIDTH: u32 = 1000;
const HEIGHT: u32 = 620;

fn plot_err<E: std::fmt::Debug>(e: E) -> anyhow::Error {
    anyhow!("plotting failed: {e:?}")
}

/// Draw `curve` to `png` and the same name with `.svg`.
pub fn draw_learning_curve(
    curve: &[CurvePoint],
    reference: f64,
    title: &str,
    png: &Path,
) -> Result<()> {
    if let Some(dir) = png.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    {
        let root = BitMapBackend::new(png, (WIDTH, HEIGHT)).into_drawing_area();
        draw(&root, curve, reference, title)
            .with_context(|| format!("drawing {}", png.display()))?;
        root.present().map_err(plot_err)?;
    }
    let svg = png.with_extension("svg");
    let mut text = String::new();
    {
        let root = SVGBackend::with_string(&mut text, (WIDTH, HEIGHT)).into_drawing_area();
        draw(&root, curve, reference, title)?;
        root.present().map_err(plot_err)?;
    }
    std::fs::write(&svg, text).with_context(|| format!("writing {}", svg.display()))
}

fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    curve: &[CurvePoint],
    reference: f64,
    title: &str,
) -> Result<()> {
    root.fill(&WHITE).map_err(plot_err)?;
    let finite = |v: f64| v.is_finite().then_some(v);
    let values: Vec<f64> = curve
        .iter()
        .flat_map(|p| [finite(p.train_loss), finite(p.val_loss)])
        .flatten()
        .chain(finite(reference))
        .collect();
    let top = values.iter().copied().fold(0.0f64, f64::max).max(1e-3) * 1.05;
    let last = curve.last().map_or(1, |p| p.step).max(1) as f64;
    let mut chart = ChartBuilder::on(root)
        .caption(title, ("sans-serif", 24))
        .margin(16)
        .x_label_area_size(50)
        .y_label_area_size(70)
        .build_cartesian_2d(0f64..last, 0f64..top)
        .map_err(plot_err)?;
    chart
        .configure_mesh()
        .x_desc("optimizer step")
        .y_desc("token cross-entropy (nats)")
        .label_style(("sans-serif", 16))
        .axis_desc_style(("sans-serif", 18))
        .draw()
        .map_err(plot_err)?;
    let train = RGBColor(0x92, 0xc5, 0xde);
    let valid = RGBColor(0xb2, 0x18, 0x2b);
    let series = |f: fn(&CurvePoint) -> f64| -> Vec<(f64, f64)> {
        curve
            .iter()
            .filter(|p| f(p).is_finite())
            .map(|p| (p.step as f64, f(p)))
            .collect()
    };
    chart
        .draw_series(std::iter::once(PathElement::new(
            series(|p| p.train_loss),
            train.stroke_width(3),
        )))
        .map_err(plot_err)?
        .label("train loss (since previous evaluation)")
        .legend(move |(x, y)| PathElement::new([(x, y), (x + 24, y)], train.stroke_width(3)));
    chart
        .draw_series(std::iter::once(PathElement::new(
            series(|p| p.val_loss),
            valid.stroke_width(3),
        )))
        .map_err(plot_err)?
        .label("validation loss")
        .legend(move |(x, y)| PathElement::new([(x, y), (x + 24, y)], valid.stroke_width(3)));
    chart
        .draw_series(
            series(|p| p.val_loss)
                .into_iter()
                .map(|(x, y)| Circle::new((x, y), 4, valid.filled())),
        )
        .map_err(plot_err)?;
    if reference.is_finite() {
        chart
            .draw_series(std::iter::once(PathElement::new(
                [(0.0, reference), (last, reference)],
                BLACK.stroke_width(2),
            )))
            .map_err(plot_err)?
            .label(format!("unigram entropy of the targets ({reference:.2})"))
            .legend(|(x, y)| PathElement::new([(x, y), (x + 24, y)], BLACK.stroke_width(2)));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .label_font(("sans-serif", 16))
        .draw()
        .map_err(plot_err)?;
    Ok(())
}
