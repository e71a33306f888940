//! The `baseline` stage: train (or resume, or find trained) the baseline
//! ([`crate::train::baseline`]), draw its learning curve (`OUT/figures/baseline-<profile>-curve`,
//! PNG and SVG) and print its report. Training draws no figure; this stage does.

use anyhow::Result;

use crate::layout::Layout;
use crate::profile::Profile;
use crate::report::curves::draw_learning_curve;
use crate::train::baseline::{BaselineOptions, BaselineSummary, train_baseline};

/// Run (or resume, or report) the baseline of `profile`.
pub fn run_baseline(profile: &Profile, options: &BaselineOptions) -> Result<BaselineSummary> {
    let trained = train_baseline(profile, options)?;
    let figure = Layout::new(&options.out).baseline_curve_figure(&profile.name);
    draw_learning_curve(
        &trained.curve,
        trained.summary.unigram_entropy,
        &format!("baseline ({} profile)", profile.name),
        &figure,
    )?;
    trained.print_report(&figure)?;
    Ok(trained.summary)
}
