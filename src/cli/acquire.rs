//! `tailor acquire`: fetch the projects of a corpus into checkouts (git, local folders, Debian
//! source packages), then print what succeeded and why the rest failed.

use std::path::PathBuf;

use crate::acquire::{AcquireOptions, acquire_corpus};
use crate::tables::projects::{ProjectRow, write_projects};
use crate::tables::table_path;

/// Fetch the projects of a corpus into checkouts (git, local folders, Debian source packages).
///
/// Checkouts land in CACHE/checkouts/<id>; a project already acquired at the same source and
/// revision is reused, so an interrupted run resumes. Exits non-zero only when nothing was
/// acquired (or, with --strict, when anything failed).
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Project list: CSV with columns id,name,source,revision,stars.
    #[arg(long, env = "CORPUS")]
    pub corpus: PathBuf,
    /// Cache folder: checkouts/, deb/ (downloads) and apt/ (project-local apt configuration).
    #[arg(long, default_value = "out/cache")]
    pub cache: PathBuf,
    /// Projects fetched at once.
    #[arg(long, default_value_t = 4)]
    pub jobs: usize,
    /// Fail when any project fails, not only when all do.
    #[arg(long)]
    pub strict: bool,
    /// Also write OUT/tables/projects.parquet: one row per project with its checkout, its
    /// measures (Java files, test files, sizes, download bytes) or its error. `tailor heatmap`
    /// reads it; `tailor mine` writes the same table with the mining columns filled in.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let opts = AcquireOptions::new(&args.cache, args.jobs);
    let acquired = acquire_corpus(&args.corpus, &opts)?;
    if let Some(out) = &args.out {
        let rows: Vec<ProjectRow> = acquired.iter().map(ProjectRow::from_acquired).collect();
        let path = table_path(out, "projects");
        write_projects(&rows, &path)?;
        println!("projects table: {}", path.display());
    }
    let failed = acquired.iter().filter(|a| a.result.is_err()).count();
    if !acquired.is_empty() && failed == acquired.len() {
        anyhow::bail!("no project of {} could be acquired", args.corpus.display());
    }
    if args.strict && failed > 0 {
        anyhow::bail!("{failed} of {} projects failed (--strict)", acquired.len());
    }
    Ok(())
}
