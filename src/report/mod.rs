//! The paper's tables and figures, made from the Parquet tables under `out/`.
//!
//! Tables 2 and Figure 1 describe the corpus ([`table2`], [`figure1`]); the evaluation report
//! ([`run_report`]) reads what `tailor finetune` and `tailor evaluate` wrote and makes Tables 1,
//! 3, 4, Figures 3, 4, 5 and `results.md` under `out/reports/` and `out/figures/`.

pub mod curves;
pub mod evaluation;
pub mod figure1;
pub mod figure3;
pub mod figure4;
pub mod figure5;
pub mod inputs;
pub mod paper;
pub mod plot;
pub mod results;
pub mod samples;
pub mod table1;
pub mod table2;
pub mod table3;
pub mod table4;
#[cfg(test)]
mod test_rows;

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::layout::Layout;
use crate::profile::Profile;
use crate::strategy::LoraSettings;

/// `OUT/reports` and `OUT/figures`.
pub fn report_dirs(out: &Path) -> (PathBuf, PathBuf) {
    let layout = Layout::new(out);
    (layout.reports_dir(), layout.figures_dir())
}

/// Every evaluation table and figure of `profile`'s runs in `out`; returns the files written.
///
/// With `beside` (another output folder with runs of the same profile, e.g. the plain sweep
/// beside the retrieval-augmented one), `results.md` ends with both folders' runs side by side
/// and `inputs.csv` holds that table ([`inputs`]).
pub fn run_report(out: &Path, profile: &str, beside: Option<&Path>) -> Result<Vec<PathBuf>> {
    let eval = evaluation::Evaluation::load(out, profile)?;
    let other = beside
        .map(|dir| {
            anyhow::ensure!(
                dir.join("tables").is_dir(),
                "--beside {}: no tables folder there (an output folder of `tailor evaluate`)",
                dir.display()
            );
            evaluation::Evaluation::load(dir, profile)
                .with_context(|| format!("reading the runs of --beside {}", dir.display()))
        })
        .transpose()?;
    let (reports, figures) = report_dirs(out);
    // LoRA's count for the `large` preset uses the profile's LoRA settings when it has them.
    let lora = Profile::load(profile, &[])
        .ok()
        .and_then(|p| p.finetune)
        .map_or_else(LoraSettings::default, |f| f.lora);
    let mut files = Vec::new();
    files.extend(table1::write_table1(&eval, &lora, &reports)?);
    files.extend(table3::write_table3(&eval, &reports)?);
    files.extend(table4::write_table4(&eval, &reports)?);
    let fig3 = figure3::figure3_data(&eval)?;
    files.extend(figure3::write_figure3(&eval, &figures, &reports)?);
    files.extend(figure4::write_figure4(&eval, &figures, &reports)?);
    files.extend(figure5::write_figure5(&eval, &figures, &reports)?);
    let setup = results::Setup::load(out, profile);
    let mut beside_md = String::new();
    if let (Some(other), Some(dir)) = (&other, beside) {
        let this = inputs::Side::load(out, &eval)?;
        let other = inputs::Side::load(dir, other)?;
        let rows = inputs::compare(&this, &other);
        inputs::write_section(&mut beside_md, &this, &other, &rows);
        files.push(inputs::write_csv(&rows, &reports)?);
    }
    let results_md = results::write_results(&eval, &setup, &fig3, &beside_md, &reports)?;
    files.push(results_md);
    Ok(files)
}
