//! What the evaluation figures share: every figure is drawn once per backend into a PNG and an
//! SVG of the same name, with "sans-serif" text, and each strategy keeps one colour and label
//! across Figures 3–5 so they read together.

use std::path::Path;

use anyhow::{Context, Result, anyhow};
use plotters::prelude::*;

use crate::label::RunLabel;

/// plotters errors are not `Send + Sync`; keep their text.
pub fn plot_err<E: std::fmt::Debug>(e: E) -> anyhow::Error {
    anyhow!("plotting failed: {e:?}")
}

/// The strategies in the paper's order, then beyond the paper: LoRA, retrieval (`ir`) and
/// retrieval reranked by a model (`ir+<model>`, after these in their model's order).
pub const STRATEGIES: [&str; 7] = [
    "baseline", "custom", "l-eo", "l-ldb", "prefix", "lora", "ir",
];

/// The paper's name of a run (a reranking keeps its stored label, `ir+custom`).
pub fn label(run: &RunLabel) -> String {
    match run {
        RunLabel::Baseline => "Baseline".into(),
        RunLabel::Retrieval => "IR".into(),
        RunLabel::Strategy(name) => match name.as_str() {
            "custom" => "Custom",
            "l-eo" => "L-EO",
            "l-ldb" => "L-LDB",
            "prefix" => "Prefix",
            "lora" => "LoRA",
            other => other,
        }
        .into(),
        RunLabel::Rerank(_) => run.to_string(),
    }
}

/// One colour per strategy (Tableau 10), the baseline grey, rerankings brown.
pub fn colour(run: &RunLabel) -> RGBColor {
    let RunLabel::Strategy(name) = run else {
        return match run {
            RunLabel::Baseline => RGBColor(0x59, 0x59, 0x59),
            RunLabel::Retrieval => RGBColor(0x17, 0xbe, 0xcf),
            _ => OTHER,
        };
    };
    match name.as_str() {
        "custom" => RGBColor(0x1f, 0x77, 0xb4),
        "l-eo" => RGBColor(0xff, 0x7f, 0x0e),
        "l-ldb" => RGBColor(0x2c, 0xa0, 0x2c),
        "prefix" => RGBColor(0xd6, 0x27, 0x28),
        "lora" => RGBColor(0x94, 0x67, 0xbd),
        _ => OTHER,
    }
}

/// The colour of a run beyond the named ones.
const OTHER: RGBColor = RGBColor(0x8c, 0x56, 0x4b);

/// Sort key of a run: the paper's order, rerankings after in their model's order, unknown
/// names last.
pub fn order(run: &RunLabel) -> usize {
    let position = |run: &RunLabel| STRATEGIES.iter().position(|s| run == s);
    match run.reranker() {
        Some(model) => STRATEGIES.len() + position(model).unwrap_or(STRATEGIES.len()),
        None => position(run).unwrap_or(2 * STRATEGIES.len() + 1),
    }
}

/// Draw a figure with `draw` into `png` and the `.svg` beside it.
macro_rules! render {
    ($png:expr, $size:expr, |$root:ident| $body:expr) => {{
        let png: &std::path::Path = $png;
        $crate::report::plot::ensure_parent(png)?;
        {
            let $root = plotters::prelude::BitMapBackend::new(png, $size).into_drawing_area();
            $body.with_context(|| format!("drawing {}", png.display()))?;
            $root
                .present()
                .map_err($crate::report::plot::plot_err)
                .with_context(|| format!("writing {}", png.display()))?;
        }
        let svg = png.with_extension("svg");
        let mut text = String::new();
        {
            let $root =
                plotters::prelude::SVGBackend::with_string(&mut text, $size).into_drawing_area();
            $body.with_context(|| format!("drawing {}", svg.display()))?;
            $root.present().map_err($crate::report::plot::plot_err)?;
        }
        std::fs::write(&svg, text).with_context(|| format!("writing {}", svg.display()))?;
    }};
}
pub(crate) use render;

/// Create the folder of `path`.
pub fn ensure_parent(path: &Path) -> Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    Ok(())
}

/// A dashed line through `points` as separate pieces (every other of `pieces` per segment),
/// interpolated in log x when the axis is logarithmic. plotters' `DashedLineSeries` needs its
/// `line_series` feature; path elements are always there.
pub fn dashes(points: &[(f64, f64)], pieces: usize, log_x: bool) -> Vec<Vec<(f64, f64)>> {
    let to = |x: f64| if log_x { x.ln() } else { x };
    let from = |x: f64| if log_x { x.exp() } else { x };
    let mut out = Vec::new();
    for pair in points.windows(2) {
        let ((x0, y0), (x1, y1)) = (pair[0], pair[1]);
        for i in (0..pieces).step_by(2) {
            let at = |t: f64| (from(to(x0) + (to(x1) - to(x0)) * t), y0 + (y1 - y0) * t);
            out.push(vec![
                at(i as f64 / pieces as f64),
                at((i + 1) as f64 / pieces as f64),
            ]);
        }
    }
    out
}
