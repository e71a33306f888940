//! The shared-token matrix on synthetic Zipf corpora (`tailor bench-heatmap`).
//!
//! Each size runs in a child process of this same binary (`tailor bench-heatmap --child N`), so the peak RSS
//! (`VmHWM`) it reports belongs to that size alone. A child generates the corpus
//! (`vocab::synth`), runs the same `vocab::analyze` as `tailor heatmap` — sparse product,
//! tiles written to shared_tokens.parquet as they finish, vocab_summary — and draws
//! Figure 1. The parent prints one row per size and the growth exponent of time in n from a
//! least-squares fit of log time on log n (2 for an all-pairs computation).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

use crate::pipeline::heatmap::draw_analysis;
use crate::vocab::synth::ZipfCorpus;
use crate::vocab::{AnalyzeOptions, Vocabulary, analyze, peak_rss_bytes};

/// The corpora to generate and how to analyse them.
#[derive(Debug, Clone)]
pub struct BenchHeatmapOptions {
    /// Numbers of projects to benchmark, comma-separated.
    pub sizes: Vec<usize>,
    /// Keep each size's tables and figure in OUT/n<size>/ (default: a temporary folder,
    /// removed after each size).
    pub out: Option<PathBuf>,
    /// Seed of the synthetic corpora.
    pub seed: u64,
    /// Vocabulary size the Zipf draws range over.
    pub vocabulary: u32,
    /// Zipf exponent of token frequencies.
    pub exponent: f64,
    /// Median unique tokens per project (log-normal, log-sd 1).
    pub median_tokens: f64,
    /// Matrix cells per tile of shared_tokens.
    pub tile_cells: usize,
    /// Count every token through postings (no bitsets for frequent tokens), for comparison.
    pub no_bitsets: bool,
    /// Run one size in this process and print its measurements (the child of [`run`]).
    pub child: Option<usize>,
}

/// One size's measurements, passed from child to parent as a JSON line.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Measurement {
    projects: usize,
    median_unique_tokens: u64,
    postings: usize,
    dense_tokens: usize,
    increments: u64,
    popcounts: u64,
    generate_s: f64,
    matrix_s: f64,
    tables_s: f64,
    figure_s: f64,
    shared_rows: u64,
    shared_mb: f64,
    peak_rss_mb: f64,
    median_ratio: f64,
}

const TAG: &str = "bench-heatmap-result ";

/// Measure every size (each in a child process), or, as the child, one size; print the table.
pub fn run(options: &BenchHeatmapOptions) -> Result<()> {
    if let Some(n) = options.child {
        let out = options.out.clone().context("--child needs --out")?;
        let m = measure(options, n, &out)?;
        println!("{TAG}{}", serde_json::to_string(&m)?);
        return Ok(());
    }
    let tmp;
    let root = match &options.out {
        Some(out) => out.clone(),
        None => {
            tmp = tempfile::tempdir().context("creating a temporary folder")?;
            tmp.path().to_path_buf()
        }
    };
    let exe = std::env::current_exe().context("finding the tailor binary")?;
    let mut results = Vec::new();
    for &n in &options.sizes {
        let dir = root.join(format!("n{n}"));
        eprintln!("bench-heatmap: {n} projects …");
        let output = Command::new(&exe)
            .arg("bench-heatmap")
            .args(["--child", &n.to_string()])
            .arg("--out")
            .arg(&dir)
            .args(["--seed", &options.seed.to_string()])
            .args(["--vocabulary", &options.vocabulary.to_string()])
            .args(["--exponent", &options.exponent.to_string()])
            .args(["--median-tokens", &options.median_tokens.to_string()])
            .args(["--tile-cells", &options.tile_cells.to_string()])
            .args(options.no_bitsets.then_some("--no-bitsets"))
            .stderr(std::process::Stdio::inherit())
            .output()
            .with_context(|| format!("running {} for {n} projects", exe.display()))?;
        if !output.status.success() {
            bail!("the {n}-project run failed ({})", output.status);
        }
        let stdout = String::from_utf8_lossy(&output.stdout);
        let line = stdout
            .lines()
            .find_map(|l| l.strip_prefix(TAG))
            .with_context(|| format!("the {n}-project run printed no result"))?;
        let m: Measurement = serde_json::from_str(line).context("parsing a child's result")?;
        eprintln!(
            "  {n} projects: matrix {:.2} s, tables {:.1} s, peak RSS {:.0} MB",
            m.matrix_s, m.tables_s, m.peak_rss_mb
        );
        results.push(m);
        if options.out.is_none() {
            std::fs::remove_dir_all(&dir).ok();
        }
    }
    print!("{}", table(&results, options));
    Ok(())
}

fn measure(options: &BenchHeatmapOptions, n: usize, out: &Path) -> Result<Measurement> {
    let corpus = ZipfCorpus {
        vocabulary: options.vocabulary,
        exponent: options.exponent,
        median_tokens: options.median_tokens,
        seed: options.seed,
        ..ZipfCorpus::default()
    };
    let t0 = Instant::now();
    let sets = corpus.generate(n);
    let generate_s = t0.elapsed().as_secs_f64();
    let vocab = Vocabulary {
        project_ids: (0..n).map(|i| format!("p{i:05}")).collect(),
        sets,
        n_tokens: options.vocabulary as usize,
    };
    let opts = AnalyzeOptions {
        tile_cells: options.tile_cells,
        bitsets: !options.no_bitsets,
        ..AnalyzeOptions::default()
    };
    let analysis = analyze(vocab, out, opts)?;
    let t1 = Instant::now();
    let (summary, _, _) = draw_analysis(&analysis, out)?;
    let figure_s = t1.elapsed().as_secs_f64();
    let sizes = &analysis.ranked;
    Ok(Measurement {
        projects: n,
        median_unique_tokens: sizes.get(n / 2).map_or(0, |r| r.unique_tokens),
        postings: analysis.postings,
        dense_tokens: analysis.dense_tokens,
        increments: analysis.work.0,
        popcounts: analysis.work.1,
        generate_s,
        matrix_s: analysis.matrix_seconds,
        tables_s: analysis.write_seconds,
        figure_s,
        shared_rows: analysis.shared_rows,
        shared_mb: analysis.shared_bytes as f64 / 1e6,
        peak_rss_mb: peak_rss_bytes().unwrap_or(0) as f64 / 1e6,
        median_ratio: summary.map_or(f64::NAN, |s| s.median),
    })
}

/// Least-squares slope of log y on log x.
fn loglog_slope(points: &[(f64, f64)]) -> Option<f64> {
    let pts: Vec<(f64, f64)> = points
        .iter()
        .filter(|(x, y)| *x > 0.0 && *y > 0.0)
        .map(|(x, y)| (x.ln(), y.ln()))
        .collect();
    if pts.len() < 2 {
        return None;
    }
    let k = pts.len() as f64;
    let mx = pts.iter().map(|p| p.0).sum::<f64>() / k;
    let my = pts.iter().map(|p| p.1).sum::<f64>() / k;
    let sxx: f64 = pts.iter().map(|p| (p.0 - mx).powi(2)).sum();
    let sxy: f64 = pts.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    (sxx > 0.0).then(|| sxy / sxx)
}

fn table(results: &[Measurement], options: &BenchHeatmapOptions) -> String {
    let mut out = format!(
        "Synthetic Zipf corpora (vocabulary {}, exponent {}, median {} unique tokens/project, seed {}):\n\
         {:>8} {:>8} {:>11} {:>6} {:>10} {:>10} {:>7} {:>9} {:>9} {:>8} {:>12} {:>9} {:>9} {:>7}\n",
        options.vocabulary,
        options.exponent,
        options.median_tokens,
        options.seed,
        "projects",
        "|Ti| med",
        "postings",
        "dense",
        "increments",
        "popcounts",
        "gen s",
        "matrix s",
        "tables s",
        "figure s",
        "rows",
        "table MB",
        "peak MB",
        "median"
    );
    for m in results {
        out.push_str(&format!(
            "{:>8} {:>8} {:>11} {:>6} {:>10.2e} {:>10.2e} {:>7.2} {:>9.2} {:>9.2} {:>8.2} {:>12} {:>9.1} {:>9.0} {:>6.1}%\n",
            m.projects,
            m.median_unique_tokens,
            m.postings,
            m.dense_tokens,
            m.increments as f64,
            m.popcounts as f64,
            m.generate_s,
            m.matrix_s,
            m.tables_s,
            m.figure_s,
            m.shared_rows,
            m.shared_mb,
            m.peak_rss_mb,
            m.median_ratio * 100.0,
        ));
    }
    let fit = |f: fn(&Measurement) -> f64| {
        loglog_slope(
            &results
                .iter()
                .map(|m| (m.projects as f64, f(m)))
                .collect::<Vec<_>>(),
        )
        .map_or("n/a".to_string(), |s| format!("{s:.2}"))
    };
    out.push_str(&format!(
        "growth exponent (log-log fit over n): matrix time {}, tables time {}, increments {}, popcounts {}, peak RSS {}\n",
        fit(|m| m.matrix_s),
        fit(|m| m.tables_s),
        fit(|m| m.increments as f64),
        fit(|m| m.popcounts as f64),
        fit(|m| m.peak_rss_mb),
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_loglog_slope_recovers_a_power_law() {
        let pts: Vec<(f64, f64)> = [10.0, 100.0, 1000.0]
            .iter()
            .map(|&n| (n, 3.0 * n * n))
            .collect();
        assert!((loglog_slope(&pts).unwrap() - 2.0).abs() < 1e-9);
        assert!(loglog_slope(&pts[..1]).is_none());
    }
}
