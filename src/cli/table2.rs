//! `tailor table2`: sample the target projects from the test split and print Table 2.

use std::path::PathBuf;

use anyhow::{Result, bail};

use crate::report::table2::{Table2Options, select_targets};
use crate::tables::{projects, table_path};

/// Sample the target projects from the test split, store them (`target` column of
/// `projects`), and print and write Table 2 (`out/reports/table2.md`, `.csv`).
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Output folder holding `tables/projects.parquet` (written by `tailor mine`).
    #[arg(long, default_value = "out")]
    pub out: PathBuf,
    #[command(flatten)]
    pub table2: Table2Options,
}

pub fn run(args: Args) -> Result<()> {
    let path = table_path(&args.out, "projects");
    let mut rows = projects::read_projects(&path)?;
    let table = select_targets(&mut rows, &args.table2);
    projects::write_projects(&rows, &path)?;
    let reports = crate::layout::Layout::new(&args.out).reports_dir();
    table.write(&reports)?;
    println!("{}", table.to_markdown());
    println!("written to {}", reports.join("table2.md").display());
    if table.targets.is_empty() {
        bail!(
            "no test-split project has ≥ {} pairs: mine a larger corpus or lower --min-pairs",
            args.table2.min_pairs
        );
    }
    Ok(())
}
