//! Figure 1: the shared-token heat-map (paper §2) and the histogram of its off-diagonal
//! ratios, drawn with plotters into a PNG and an SVG.
//!
//! Rows are projects i, columns projects j, both ascending by unique tokens with rank 0 at
//! the top left, as in the paper (small projects' tokens found in large ones light up the
//! upper right). The colour map is diverging blue–white–red over 0–1 (ColorBrewer RdBu,
//! reversed). The heat-map is one raster image — each pixel is the grid cell under it, and
//! the grid holds one cell per project pair up to 930 projects, block means beyond — so the
//! PNG is cheap to draw and the SVG embeds the raster instead of n² rectangles.

use std::path::Path;

use anyhow::{Context, Result, anyhow};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::colors::colormaps::DerivedColorMap;

use crate::vocab::stats::{HeatGrid, Summary};

/// The paper's figures for comparison (§2): median 13%, third quartile 23%.
pub const PAPER_MEDIAN: f64 = 0.13;
pub const PAPER_Q3: f64 = 0.23;

const WIDTH: u32 = 1800;
const HEIGHT: u32 = 1060;
/// Bins of the histogram panel.
pub const HISTOGRAM_BINS: usize = 50;

/// What Figure 1 shows.
pub struct Figure1<'a> {
    pub grid: &'a HeatGrid,
    /// Counts of off-diagonal ratios in equal bins over [0, 1] (usually [`HISTOGRAM_BINS`]).
    pub histogram: Vec<u64>,
    pub summary: Option<Summary>,
}

/// Draws the figure to `png` and `svg`.
pub fn draw_figure1(fig: &Figure1, png: &Path, svg: &Path) -> Result<()> {
    for path in [png, svg] {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
    }
    {
        let root = BitMapBackend::new(png, (WIDTH, HEIGHT)).into_drawing_area();
        draw(&root, fig).with_context(|| format!("drawing {}", png.display()))?;
        root.present()
            .map_err(|e| anyhow!("{e:?}"))
            .with_context(|| format!("writing {}", png.display()))?;
    }
    let mut text = String::new();
    {
        let root = SVGBackend::with_string(&mut text, (WIDTH, HEIGHT)).into_drawing_area();
        draw(&root, fig).with_context(|| format!("drawing {}", svg.display()))?;
        root.present().map_err(|e| anyhow!("{e:?}"))?;
    }
    // plotters-svg 0.3.7 labels embedded rasters `data:png;base64,`, which is not a media
    // type; strict renderers (Firefox, rsvg) then drop the heat-map. Name it properly.
    let text = text.replace("\"data:png;base64,", "\"data:image/png;base64,");
    std::fs::write(svg, text).with_context(|| format!("writing {}", svg.display()))?;
    Ok(())
}

/// ColorBrewer RdBu (11 classes), reversed so that 0 is dark blue and 1 dark red.
fn colour_map() -> DerivedColorMap<RGBColor> {
    let hex = [
        0x053061, 0x2166ac, 0x4393c3, 0x92c5de, 0xd1e5f0, 0xf7f7f7, 0xfddbc7, 0xf4a582, 0xd6604d,
        0xb2182b, 0x67001f,
    ];
    let colours: Vec<RGBColor> = hex
        .iter()
        .map(|&h| RGBColor((h >> 16) as u8, (h >> 8) as u8, h as u8))
        .collect();
    DerivedColorMap::new(&colours)
}

/// 256 precomputed colours: the raster has up to a million pixels.
fn colour_table() -> Vec<RGBColor> {
    let map = colour_map();
    (0..256).map(|k| map.get_color(k as f32 / 255.0)).collect()
}

fn colour_of(table: &[RGBColor], ratio: f64) -> RGBColor {
    table[(ratio.clamp(0.0, 1.0) * 255.0).round() as usize]
}

fn plot_err<E: std::fmt::Debug>(e: E) -> anyhow::Error {
    anyhow!("plotting failed: {e:?}")
}

fn draw<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, fig: &Figure1) -> Result<()> {
    root.fill(&WHITE).map_err(plot_err)?;
    let (left, right) = root.split_horizontally(1130);
    let (heat, bar) = left.split_horizontally(1020);
    let table = colour_table();
    draw_heatmap(&heat, fig.grid, &table)?;
    draw_colour_bar(&bar, &table)?;
    draw_histogram(&right, fig)?;
    Ok(())
}

fn draw_heatmap<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    grid: &HeatGrid,
    table: &[RGBColor],
) -> Result<()> {
    let n = grid.n() as f64;
    let mut chart = ChartBuilder::on(area)
        .caption(
            format!(
                "Shared-token ratio R[i][j] = |Ti ∩ Tj| / |Ti|, {} projects",
                grid.n()
            ),
            ("sans-serif", 24),
        )
        .margin(12)
        .x_label_area_size(50)
        .y_label_area_size(70)
        .build_cartesian_2d(0f64..n, n..0f64)
        .map_err(plot_err)?;
    chart
        .configure_mesh()
        .disable_mesh()
        .x_desc("project j (rank by unique tokens, ascending)")
        .y_desc("project i (rank by unique tokens, ascending)")
        .x_label_formatter(&|v| format!("{v:.0}"))
        .y_label_formatter(&|v| format!("{v:.0}"))
        .label_style(("sans-serif", 16))
        .axis_desc_style(("sans-serif", 18))
        .draw()
        .map_err(plot_err)?;
    let (w, h) = chart.plotting_area().dim_in_pixel();
    let side = grid.side();
    let cols: Vec<usize> = (0..w as usize).map(|x| x * side / w as usize).collect();
    let mut buf = Vec::with_capacity(w as usize * h as usize * 3);
    for y in 0..h as usize {
        let row = y * side / h as usize;
        for &col in &cols {
            let c = colour_of(table, grid.mean(row, col));
            buf.extend_from_slice(&[c.0, c.1, c.2]);
        }
    }
    let image = BitMapElement::with_owned_buffer((0.0, 0.0), (w, h), buf)
        .context("the heat-map raster has the wrong size")?;
    chart
        .draw_series(std::iter::once(image))
        .map_err(plot_err)?;
    Ok(())
}

fn draw_colour_bar<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    table: &[RGBColor],
) -> Result<()> {
    let mut chart = ChartBuilder::on(area)
        .margin_top(48)
        .margin_bottom(62)
        .margin_left(4)
        .margin_right(8)
        .set_label_area_size(LabelAreaPosition::Right, 56)
        .build_cartesian_2d(0f64..1f64, 0f64..1f64)
        .map_err(plot_err)?;
    chart
        .configure_mesh()
        .disable_mesh()
        .disable_x_axis()
        .y_labels(11)
        .y_label_formatter(&|v| format!("{v:.1}"))
        .label_style(("sans-serif", 16))
        .draw()
        .map_err(plot_err)?;
    let (w, h) = chart.plotting_area().dim_in_pixel();
    let mut buf = Vec::with_capacity(w as usize * h as usize * 3);
    for y in 0..h {
        let c = colour_of(table, 1.0 - f64::from(y) / f64::from(h.max(2) - 1));
        for _ in 0..w {
            buf.extend_from_slice(&[c.0, c.1, c.2]);
        }
    }
    let image = BitMapElement::with_owned_buffer((0.0, 1.0), (w, h), buf)
        .context("the colour bar raster has the wrong size")?;
    chart
        .draw_series(std::iter::once(image))
        .map_err(plot_err)?;
    Ok(())
}

fn draw_histogram<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, fig: &Figure1) -> Result<()> {
    let bins = fig.histogram.len().max(1);
    let total: u64 = fig.histogram.iter().sum();
    let max = fig.histogram.iter().copied().max().unwrap_or(0).max(1);
    let top = max as f64 * 1.12;
    let mut chart = ChartBuilder::on(area)
        .caption(
            format!("Off-diagonal ratios ({total} pairs)"),
            ("sans-serif", 24),
        )
        .margin(12)
        .margin_top(12)
        .margin_bottom(300)
        .x_label_area_size(50)
        .y_label_area_size(80)
        .build_cartesian_2d(0f64..1f64, 0f64..top)
        .map_err(plot_err)?;
    chart
        .configure_mesh()
        .light_line_style(WHITE)
        .x_desc("R[i][j], i ≠ j")
        .y_desc("project pairs")
        .x_label_formatter(&|v| format!("{:.0}%", v * 100.0))
        .y_label_formatter(&|v| format!("{v:.0}"))
        .label_style(("sans-serif", 16))
        .axis_desc_style(("sans-serif", 18))
        .draw()
        .map_err(plot_err)?;
    let fill = RGBColor(0x43, 0x93, 0xc3);
    chart
        .draw_series(fig.histogram.iter().enumerate().map(|(b, &c)| {
            let x0 = b as f64 / bins as f64;
            let x1 = (b + 1) as f64 / bins as f64;
            Rectangle::new([(x0, 0.0), (x1, c as f64)], fill.filled())
        }))
        .map_err(plot_err)?;
    if let Some(s) = fig.summary {
        let ours = RGBColor(0xb2, 0x18, 0x2b);
        let quartile = RGBColor(0xf4, 0xa5, 0x82);
        let vline = |x: f64| [(x, 0.0), (x, top)];
        let marks = [
            (s.q1, quartile, format!("Q1 {:.1}%", s.q1 * 100.0)),
            (s.median, ours, format!("median {:.1}%", s.median * 100.0)),
            (s.q3, quartile, format!("Q3 {:.1}%", s.q3 * 100.0)),
        ];
        for (x, colour, label) in marks {
            chart
                .draw_series(std::iter::once(PathElement::new(
                    vline(x),
                    colour.stroke_width(3),
                )))
                .map_err(plot_err)?
                .label(label)
                .legend(move |(x, y)| {
                    PathElement::new([(x, y), (x + 24, y)], colour.stroke_width(3))
                });
        }
        for (x, label) in [
            (PAPER_MEDIAN, "paper median 13%"),
            (PAPER_Q3, "paper Q3 23%"),
        ] {
            chart
                .draw_series(dashes(x, top).map(|seg| PathElement::new(seg, BLACK.stroke_width(2))))
                .map_err(plot_err)?
                .label(label)
                .legend(|(x, y)| {
                    EmptyElement::at((x, y))
                        + PathElement::new([(0, 0), (9, 0)], BLACK.stroke_width(2))
                        + PathElement::new([(15, 0), (24, 0)], BLACK.stroke_width(2))
                });
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.9))
            .border_style(BLACK)
            .label_font(("sans-serif", 16))
            .draw()
            .map_err(plot_err)?;
        let text = format!(
            "n = {} pairs\nQ1 {:.1}%   median {:.1}%   Q3 {:.1}%   mean {:.1}%\npaper: median 13%, Q3 23%",
            s.count,
            s.q1 * 100.0,
            s.median * 100.0,
            s.q3 * 100.0,
            s.mean * 100.0
        );
        let (_, h) = area.dim_in_pixel();
        for (k, line) in text.lines().enumerate() {
            area.draw(&Text::new(
                line.to_string(),
                (100, h as i32 - 250 + 28 * k as i32),
                ("sans-serif", 20).into_font(),
            ))
            .map_err(plot_err)?;
        }
    }
    Ok(())
}

/// A dashed vertical line at `x` from 0 to `top`, as segments (the `line_series`
/// feature with plotters' dashed series is not enabled).
fn dashes(x: f64, top: f64) -> impl Iterator<Item = [(f64, f64); 2]> {
    let step = top / 60.0;
    (0..60)
        .step_by(2)
        .map(move |k| [(x, k as f64 * step), (x, (k + 1) as f64 * step)])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_colour_map_runs_from_blue_through_white_to_red() {
        let t = colour_table();
        let (lo, mid, hi) = (colour_of(&t, 0.0), colour_of(&t, 0.5), colour_of(&t, 1.0));
        assert!(lo.2 > lo.0, "0 is blue: {lo:?}");
        assert!(
            mid.0 > 240 && mid.1 > 240 && mid.2 > 240,
            "0.5 is white: {mid:?}"
        );
        assert!(hi.0 > hi.2, "1 is red: {hi:?}");
        // Out-of-range values are clamped, not a panic.
        assert_eq!(colour_of(&t, -1.0), lo);
        assert_eq!(colour_of(&t, 2.0), hi);
    }
}
