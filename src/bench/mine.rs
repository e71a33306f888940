//! Extraction speed (`tailor bench-mine`): MB/s, files/s, share of time in tree-sitter, peak RSS.
//!
//! For each thread count (1, then all), every project is mined as `tailor mine` does
//! (walk, byte scan, parse, map), then the files the miner gave tree-sitter are parsed again
//! with nothing else (read beforehand, not timed). Their ratio is the miner's overhead over
//! pure parsing (target ≤ 1.5×); parse ÷ extraction is the share of time inside tree-sitter.
//! All `.java` files are read once before timing, so both runs see a warm page cache.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use indicatif::{ProgressBar, ProgressStyle};
use rayon::prelude::*;

use crate::mining::{MineOptions, decode, mine_checkout, walk, with_parser};
use crate::tables::projects::{Status, read_projects};
use crate::tables::table_path;

/// Which projects to mine and how.
#[derive(Debug, Clone)]
pub struct BenchMineOptions {
    /// Output folder: projects are read from OUT/tables/projects.parquet, the report is
    /// written to OUT/reports/bench-mine.md.
    pub out: PathBuf,
    /// The projects table whose `ok` checkouts are mined (default OUT/tables/projects.parquet).
    pub projects: Option<PathBuf>,
    /// Mine these folders instead of the projects table (repeatable).
    pub root: Vec<PathBuf>,
    /// Only the first N projects.
    pub limit: Option<usize>,
    /// Threads of the parallel run (default: all cores).
    pub threads: Option<usize>,
    /// Skip `.java` files larger than this many MiB, as `tailor mine` does.
    pub max_file_mib: f64,
}

/// One timed pass over all projects.
#[derive(Debug, Default)]
struct Run {
    threads: usize,
    java_files: u64,
    java_bytes: u64,
    files_parsed: u64,
    bytes_parsed: u64,
    pairs: u64,
    extract_s: f64,
    parse_s: f64,
    /// (project, extraction s, pure parse s, parsed MB), for the slowest projects.
    per_project: Vec<(String, f64, f64, f64)>,
}

/// Mine every project with one thread, then with all; print each run and the report, and write
/// the report to OUT/reports/bench-mine.md.
pub fn run(options: &BenchMineOptions) -> Result<()> {
    let projects = projects(options)?;
    if projects.is_empty() {
        bail!("no projects to benchmark: give --root or mine a corpus first");
    }
    let opts = MineOptions {
        max_file_bytes: (options.max_file_mib * 1024.0 * 1024.0) as u64,
    };
    let all = options
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));

    let warm = bar(projects.len(), "reading");
    let mut total_bytes = 0u64;
    for (_, root) in &projects {
        for file in walk(root)? {
            total_bytes += std::fs::read(&file.abs)
                .with_context(|| format!("reading {}", file.abs.display()))?
                .len() as u64;
        }
        warm.inc(1);
    }
    warm.finish_and_clear();
    println!(
        "{} projects, {:.1} MB of Java (page cache warmed)",
        projects.len(),
        total_bytes as f64 / 1e6
    );

    let mut runs = Vec::new();
    let mut counts = vec![1];
    if all > 1 {
        counts.push(all);
    }
    for threads in counts {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .context("building the thread pool")?;
        let run = pool.install(|| bench(&projects, &opts, threads))?;
        println!("{}", line(&run));
        runs.push(run);
    }
    let report = report(&runs, peak_rss_mib());
    println!("\n{report}");
    let dir = crate::layout::Layout::new(&options.out).reports_dir();
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let path = dir.join("bench-mine.md");
    std::fs::write(&path, &report).with_context(|| format!("writing {}", path.display()))?;
    println!("written to {}", path.display());
    Ok(())
}

fn projects(options: &BenchMineOptions) -> Result<Vec<(String, PathBuf)>> {
    let mut out: Vec<(String, PathBuf)> = if options.root.is_empty() {
        let path = options
            .projects
            .clone()
            .unwrap_or_else(|| table_path(&options.out, "projects"));
        read_projects(&path)?
            .into_iter()
            .filter(|r| r.status == Status::Ok)
            .filter_map(|r| r.checkout.map(|c| (r.project_id, PathBuf::from(c))))
            .collect()
    } else {
        options
            .root
            .iter()
            .map(|r| (r.display().to_string(), r.clone()))
            .collect()
    };
    if let Some(n) = options.limit {
        out.truncate(n);
    }
    Ok(out)
}

fn bar(len: usize, what: &str) -> ProgressBar {
    ProgressBar::new(len as u64).with_style(
        ProgressStyle::with_template(&format!(
            "{what} {{bar:30}} {{pos}}/{{len}} projects [{{elapsed_precise}}, eta {{eta}}]"
        ))
        .expect("valid template"),
    )
}

fn bench(projects: &[(String, PathBuf)], opts: &MineOptions, threads: usize) -> Result<Run> {
    let mut run = Run {
        threads,
        ..Run::default()
    };
    let progress = bar(projects.len(), &format!("{threads} thread(s)"));
    for (id, root) in projects {
        let start = Instant::now();
        let mined = mine_checkout(id, root, opts)?;
        let extract_s = start.elapsed().as_secs_f64();
        let s = &mined.stats;
        run.java_files += s.java_files;
        run.java_bytes += s.java_bytes;
        run.files_parsed += s.files_parsed;
        run.bytes_parsed += s.bytes_parsed;
        run.pairs += mined.pairs.len() as u64;
        run.extract_s += extract_s;
        let texts: Vec<String> = mined
            .parsed_files
            .par_iter()
            .map(|rel| {
                let path = root.join(rel);
                std::fs::read(&path)
                    .map(|b| decode(b).0)
                    .with_context(|| format!("reading {}", path.display()))
            })
            .collect::<Result<_>>()?;
        drop(mined);
        let start = Instant::now();
        texts.par_iter().try_for_each(|text| {
            with_parser(|p| {
                p.parse_tree(text).context("tree-sitter returned no tree")?;
                Ok(())
            })
        })?;
        let parse_s = start.elapsed().as_secs_f64();
        run.parse_s += parse_s;
        let mb = texts.iter().map(|t| t.len()).sum::<usize>() as f64 / 1e6;
        run.per_project.push((id.clone(), extract_s, parse_s, mb));
        progress.inc(1);
    }
    progress.finish_and_clear();
    run.per_project
        .sort_by(|a, b| b.1.partial_cmp(&a.1).unwrap_or(std::cmp::Ordering::Equal));
    run.per_project.truncate(5);
    Ok(run)
}

fn line(run: &Run) -> String {
    format!(
        "{} thread(s): {:.1} MB/s of Java, {:.0} files/s, {:.1} MB parsed in {:.2} s of extraction vs {:.2} s pure parse ({:.2}x)",
        run.threads,
        run.java_bytes as f64 / 1e6 / run.extract_s.max(1e-9),
        run.java_files as f64 / run.extract_s.max(1e-9),
        run.bytes_parsed as f64 / 1e6,
        run.extract_s,
        run.parse_s,
        run.extract_s / run.parse_s.max(1e-9),
    )
}

fn report(runs: &[Run], peak_rss_mib: Option<f64>) -> String {
    let mut out = String::from(
        "| threads | projects' Java (MB) | files | parsed (MB) | parsed files | pairs | extraction (s) | Java MB/s | files/s | parsed MB/s | pure parse (s) | extraction / parse | tree-sitter share |\n\
         |---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for r in runs {
        let e = r.extract_s.max(1e-9);
        let _ = writeln!(
            out,
            "| {} | {:.1} | {} | {:.1} | {} | {} | {:.2} | {:.1} | {:.0} | {:.1} | {:.2} | {:.2}x | {:.0}% |",
            r.threads,
            r.java_bytes as f64 / 1e6,
            r.java_files,
            r.bytes_parsed as f64 / 1e6,
            r.files_parsed,
            r.pairs,
            r.extract_s,
            r.java_bytes as f64 / 1e6 / e,
            r.java_files as f64 / e,
            r.bytes_parsed as f64 / 1e6 / e,
            r.parse_s,
            r.extract_s / r.parse_s.max(1e-9),
            100.0 * r.parse_s / e,
        );
    }
    if let Some(first) = runs.first() {
        let _ = writeln!(
            out,
            "\nSlowest projects ({} thread(s)): project, extraction s, pure parse s, parsed MB",
            first.threads
        );
        for (id, e, p, mb) in &first.per_project {
            let _ = writeln!(out, "- {id}: {e:.2} s, {p:.2} s, {mb:.1} MB");
        }
    }
    match peak_rss_mib {
        Some(mib) => {
            let _ = writeln!(out, "\nPeak RSS (VmHWM, whole run): {mib:.0} MiB");
        }
        None => out.push_str("\nPeak RSS: unavailable (no /proc/self/status)\n"),
    }
    out
}

/// The process's peak resident set size (`VmHWM`), in MiB.
fn peak_rss_mib() -> Option<f64> {
    crate::vocab::peak_rss_bytes().map(|b| b as f64 / (1024.0 * 1024.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peak_rss_is_read_on_linux() {
        if cfg!(target_os = "linux") {
            assert!(peak_rss_mib().is_some_and(|m| m > 0.0));
        }
    }

    #[test]
    fn benchmarks_a_fixture() {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/java/root-layout");
        let run = bench(&[("root-layout".into(), root)], &MineOptions::default(), 1).unwrap();
        assert_eq!((run.java_files, run.files_parsed, run.pairs), (4, 4, 4));
        assert!(run.extract_s > 0.0 && run.parse_s > 0.0);
        let text = report(&[run], Some(12.0));
        assert!(text.contains("| 1 | 0.0 | 4 |"), "{text}");
        assert!(text.contains("Peak RSS (VmHWM, whole run): 12 MiB"));
    }
}
