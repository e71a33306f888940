//! `tailor acquire`: fetch the projects of a corpus into checkouts (git, local folders, Debian
//! source packages), then print what succeeded and why the rest failed.

use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::acquire::{AcquireOptions, Acquired, acquire_all, read_corpus};
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

/// Read `corpus`, acquire every project and print the summary; the rows come back in corpus
/// order for the caller (`tailor mine`) to record.
pub fn acquire_corpus(corpus: &Path, opts: &AcquireOptions) -> anyhow::Result<Vec<Acquired>> {
    let specs = read_corpus(corpus)?;
    anyhow::ensure!(
        !specs.is_empty(),
        "corpus {} lists no project",
        corpus.display()
    );
    let start = Instant::now();
    let acquired = acquire_all(&specs, opts);
    print!("{}", summary(&acquired, start.elapsed().as_secs_f64()));
    Ok(acquired)
}

/// The human summary: counts, sizes, then one line per failure with its cause.
pub fn summary(acquired: &[Acquired], seconds: f64) -> String {
    let ok: Vec<_> = acquired
        .iter()
        .filter_map(|a| a.result.as_ref().ok())
        .collect();
    let reused = ok.iter().filter(|c| c.reused).count();
    let downloaded: u64 = ok
        .iter()
        .filter(|c| !c.reused)
        .map(|c| c.download_bytes)
        .sum();
    let size: u64 = ok.iter().map(|c| c.stats.size_bytes).sum();
    let java: u64 = ok.iter().map(|c| c.stats.java_bytes).sum();
    let with_java = ok.iter().filter(|c| c.stats.java_files > 0).count();
    let warned = ok.iter().filter(|c| !c.warnings.is_empty()).count();
    let failed: Vec<_> = acquired
        .iter()
        .filter_map(|a| a.result.as_ref().err().map(|e| (&a.spec, e)))
        .collect();
    let mb = |b: u64| b as f64 / 1e6;
    let mut out = format!(
        "acquired {} of {} projects ({} reused from the cache) in {seconds:.0} s; {} failed\n\
         downloaded {:.1} MB; checkouts {:.1} MB, of which Java {:.1} MB; {} projects have Java files; {} have warnings\n",
        ok.len(),
        acquired.len(),
        reused,
        failed.len(),
        mb(downloaded),
        mb(size),
        mb(java),
        with_java,
        warned,
    );
    for (spec, error) in failed {
        out.push_str(&format!(
            "  failed {} ({}): {error}\n",
            spec.id, spec.source
        ));
    }
    out
}
