//! A whole corpus at once: read the list, acquire every project, and say what happened —
//! the shared first step of `tailor acquire` and `tailor mine`.

use std::path::Path;
use std::time::Instant;

use super::{AcquireOptions, Acquired, acquire_all, read_corpus};

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
