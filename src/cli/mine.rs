//! `tailor mine`: acquire a corpus, extract focal-method/test pairs, write the `projects` and
//! `pairs` tables, and print the summary and Table 2.

use std::path::PathBuf;

use anyhow::{Result, bail};

use crate::acquire::AcquireOptions;
use crate::mining::MineOptions;
use crate::pipeline::mine::{self as stage, MineConfig};
use crate::report::table2::Table2Options;

/// Acquire a corpus, extract focal-method/test pairs, write `out/tables/projects.parquet` and
/// `out/tables/pairs.parquet`, and print a summary and Table 2. Re-runs reuse checkouts and
/// per-project results that are up to date.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Project list: CSV with `id,name,source,revision,stars` (see pipelines/corpora/).
    #[arg(long, default_value = "pipelines/corpora/debian-java-default.csv")]
    pub corpus: PathBuf,
    /// Output folder: tables/, reports/ go here.
    #[arg(long, default_value = "out")]
    pub out: PathBuf,
    /// Checkouts, downloads and per-project results (default: OUT/cache).
    #[arg(long)]
    pub cache: Option<PathBuf>,
    /// Projects acquired at once.
    #[arg(long, default_value_t = 4)]
    pub jobs: usize,
    /// Skip `.java` files larger than this many MiB (they are counted).
    #[arg(long, default_value_t = 2.0)]
    pub max_file_mib: f64,
    /// Fail (exit non-zero) if any project fails; by default only if none succeeds.
    #[arg(long)]
    pub strict: bool,
    #[command(flatten)]
    pub table2: Table2Options,
}

pub fn run(args: Args) -> Result<()> {
    let cache = args
        .cache
        .unwrap_or_else(|| crate::layout::Layout::new(&args.out).cache_dir());
    let config = MineConfig {
        corpus: args.corpus,
        out: args.out.clone(),
        acquire: AcquireOptions::new(cache, args.jobs),
        mine: MineOptions {
            max_file_bytes: (args.max_file_mib * 1024.0 * 1024.0) as u64,
        },
        table2: args.table2,
    };
    let report = stage::run(&config)?;
    println!("{}", stage::summary(&report));
    println!("{}", report.table2.to_markdown());
    println!(
        "tables: {} and {}; Table 2: {}",
        crate::tables::table_path(&args.out, "projects").display(),
        crate::tables::table_path(&args.out, "pairs").display(),
        crate::layout::Layout::new(&args.out)
            .reports_dir()
            .join("table2.md")
            .display()
    );
    let failed = report.failed().count();
    if report.ok() == 0 {
        bail!(
            "no project of {} could be acquired and mined",
            config.corpus.display()
        );
    }
    if args.strict && failed > 0 {
        bail!("{failed} project(s) failed (--strict)");
    }
    Ok(())
}
