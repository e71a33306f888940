//! The `heatmap` stage (paper §2): per-project token sets of the acquired projects (all, or a
//! seeded sample), the shared-token ratio matrix, its summary and Figure 1, with the quartiles of
//! the off-diagonal ratios beside the paper's.
//!
//! Reads the projects table (from `tailor mine` or `tailor acquire --out`) and writes
//! OUT/tables/vocab_summary.parquet, OUT/tables/shared_tokens.parquet (n² rows) and
//! OUT/figures/figure1.{png,svg}. A project that turns out to have no Java token, or cannot be
//! read, is skipped and the next one in the seeded sample takes its place.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use xxhash_rust::xxh3::xxh3_64_with_seed;

use crate::report::figure1::{Figure1, HISTOGRAM_BINS, PAPER_MEDIAN, PAPER_Q3, draw_figure1};
use crate::tables::projects::{ProjectRow, Status, read_projects};
use crate::tables::table_path;
use crate::vocab::stats::Summary;
use crate::vocab::tokenize::Options;
use crate::vocab::{
    Analysis, AnalyzeOptions, ProjectInput, Vocabulary, analyze, peak_rss_bytes, tokenize_projects,
};

/// What `tailor heatmap` analyses and where it writes.
#[derive(Debug, Clone)]
pub struct HeatmapConfig {
    /// Output folder for tables/ and figures/.
    pub out: PathBuf,
    /// Projects table to read [default: OUT/tables/projects.parquet].
    pub projects: Option<PathBuf>,
    /// Analyse a seeded sample of this many projects (the paper used 930).
    pub limit: Option<usize>,
    /// Seed of the sample: the same seed and table give the same projects.
    pub seed: u64,
    /// Keep `_` inside tokens, as gensim's `\w` does (default: `_` splits, as specified).
    pub underscore_joins: bool,
    /// Matrix cells per tile of shared_tokens (memory ≈ 50 bytes per cell).
    pub tile_cells: usize,
}

/// Tokenize the chosen projects, compute the shared-token matrix, write the tables and Figure 1,
/// and print each step's counts and times and the ratios beside the paper's.
pub fn run(config: &HeatmapConfig) -> Result<()> {
    let start = Instant::now();
    let projects_path = config
        .projects
        .clone()
        .unwrap_or_else(|| table_path(&config.out, "projects"));
    let rows = read_projects(&projects_path)?;
    let candidates: Vec<&ProjectRow> = rows
        .iter()
        .filter(|r| r.status == Status::Ok && r.checkout.is_some() && r.java_files > 0)
        .collect();
    let acquired = rows.iter().filter(|r| r.status == Status::Ok).count();
    println!(
        "projects: {} in {}, {acquired} acquired, {} with Java files",
        rows.len(),
        projects_path.display(),
        candidates.len()
    );
    if candidates.len() < 2 {
        bail!(
            "{} has {} acquired project(s) with Java files; the analysis needs at least 2",
            projects_path.display(),
            candidates.len()
        );
    }
    let opts = Options {
        underscore_joins: config.underscore_joins,
    };
    let t0 = Instant::now();
    let chosen = choose_and_tokenize(&candidates, config.limit, config.seed, opts)?;
    let tokenize_seconds = t0.elapsed().as_secs_f64();
    let files: u64 = chosen.iter().map(|c| c.1).sum();
    let bytes: u64 = chosen.iter().map(|c| c.2).sum();
    println!(
        "tokenized {} projects: {files} Java files, {:.1} MB in {tokenize_seconds:.1} s ({:.1} MB/s)",
        chosen.len(),
        bytes as f64 / 1e6,
        bytes as f64 / 1e6 / tokenize_seconds.max(1e-9),
    );
    if let Some(limit) = config.limit
        && chosen.len() < limit
    {
        println!(
            "note: only {} projects with Java tokens exist; asked for {limit}, using all of them",
            chosen.len()
        );
    }
    if chosen.len() < 2 {
        bail!("fewer than 2 projects have Java tokens: no pairs to compare");
    }
    let vocab = Vocabulary::intern(
        chosen
            .into_iter()
            .map(|(id, _, _, tokens)| (id, tokens))
            .collect(),
    );
    let analyze_opts = AnalyzeOptions {
        tile_cells: config.tile_cells,
        ..AnalyzeOptions::default()
    };
    let analysis = analyze(vocab, &config.out, analyze_opts)?;
    let t1 = Instant::now();
    let (summary, png, svg) = draw_analysis(&analysis, &config.out)?;
    let figure_seconds = t1.elapsed().as_secs_f64();
    print!("{}", report(&analysis, summary));
    println!(
        "tables: {}, {} ({} rows, {:.1} MB)",
        table_path(&config.out, "vocab_summary").display(),
        table_path(&config.out, "shared_tokens").display(),
        analysis.shared_rows,
        analysis.shared_bytes as f64 / 1e6
    );
    println!("figure: {}, {}", png.display(), svg.display());
    println!(
        "time: tokenize {tokenize_seconds:.1} s, matrix {:.2} s, tables {:.1} s, figure {figure_seconds:.1} s, total {:.1} s; peak RSS {}",
        analysis.matrix_seconds,
        analysis.write_seconds,
        start.elapsed().as_secs_f64(),
        peak_rss_bytes().map_or("unknown".into(), |b| format!("{:.0} MB", b as f64 / 1e6)),
    );
    Ok(())
}

/// Draw Figure 1 of an analysis into OUT/figures (PNG and SVG); the summary comes back for
/// the report.
pub fn draw_analysis(
    analysis: &Analysis,
    out: &Path,
) -> Result<(Option<Summary>, PathBuf, PathBuf)> {
    let (png, svg) = figure_paths(out);
    let summary = analysis.stats.summary();
    draw_figure1(
        &Figure1 {
            grid: &analysis.grid,
            histogram: analysis.stats.histogram(HISTOGRAM_BINS),
            summary,
        },
        &png,
        &svg,
    )?;
    Ok((summary, png, svg))
}

/// Where Figure 1 goes under an output folder (PNG, SVG).
pub fn figure_paths(out: &Path) -> (PathBuf, PathBuf) {
    crate::layout::Layout::new(out).figure1()
}

/// (project id, Java files, Java bytes, token set) of the analysed projects.
type Chosen = (String, u64, u64, Vec<String>);

/// Tokenizes the candidates in seeded order until `limit` projects with at least one token
/// are found (all of them without a limit). A project that turns out to have no token (all
/// comments) or cannot be read is skipped and the next in the sample takes its place, so
/// the sample has `limit` projects whenever that many qualify.
fn choose_and_tokenize(
    candidates: &[&ProjectRow],
    limit: Option<usize>,
    seed: u64,
    opts: Options,
) -> Result<Vec<Chosen>> {
    let order = seeded_order(candidates, seed);
    let want = limit.unwrap_or(order.len()).min(order.len());
    let mut chosen: Vec<Chosen> = Vec::with_capacity(want);
    let mut next = 0;
    let (mut empty, mut failed) = (0usize, 0usize);
    while chosen.len() < want && next < order.len() {
        let batch: Vec<ProjectInput> = order[next..(next + want - chosen.len()).min(order.len())]
            .iter()
            .map(|&i| {
                let r = candidates[i];
                Ok(ProjectInput {
                    project_id: r.project_id.clone(),
                    checkout: PathBuf::from(r.checkout.as_deref().context("no checkout")?),
                    java_bytes: r.java_bytes,
                })
            })
            .collect::<Result<_>>()?;
        next += batch.len();
        for (input, result) in batch.iter().zip(tokenize_projects(&batch, opts, true)) {
            match result {
                Ok(t) if t.tokens.is_empty() => empty += 1,
                Ok(t) => {
                    for problem in &t.unreadable {
                        eprintln!("warning: {}: skipped {problem}", input.project_id);
                    }
                    chosen.push((
                        input.project_id.clone(),
                        t.java_files,
                        t.java_bytes,
                        t.tokens,
                    ));
                }
                Err(e) => {
                    failed += 1;
                    eprintln!("warning: skipped: {e:#}");
                }
            }
        }
    }
    if empty + failed > 0 {
        println!(
            "skipped {empty} projects without Java tokens and {failed} unreadable ones{}",
            if limit.is_some() {
                " (the next ones in the sample took their place)"
            } else {
                ""
            }
        );
    }
    if let Some(limit) = limit {
        println!(
            "sample: {} of {} candidate projects (seed {seed}, --limit {limit})",
            chosen.len(),
            candidates.len()
        );
    }
    Ok(chosen)
}

/// A seeded permutation that depends on project ids, not on the table's row order.
fn seeded_order(candidates: &[&ProjectRow], seed: u64) -> Vec<usize> {
    let mut order: Vec<usize> = (0..candidates.len()).collect();
    order.sort_by_key(|&i| {
        (
            xxh3_64_with_seed(candidates[i].project_id.as_bytes(), seed),
            candidates[i].project_id.as_str(),
        )
    });
    order
}

/// The statistics beside the paper's.
pub fn report(analysis: &Analysis, summary: Option<Summary>) -> String {
    let n = analysis.ranked.len();
    let sizes: Vec<u64> = analysis.ranked.iter().map(|r| r.unique_tokens).collect();
    let mut out = format!(
        "vocabulary: {} distinct tokens; unique tokens per project: min {}, median {}, max {}\n\
         matrix: {n}×{n} from {} postings; {} frequent tokens as bitsets; {:.3e} increments + {:.3e} popcounts; tiles of {} rows\n",
        analysis.distinct_tokens,
        sizes.first().copied().unwrap_or(0),
        sizes.get(n / 2).copied().unwrap_or(0),
        sizes.last().copied().unwrap_or(0),
        analysis.postings,
        analysis.dense_tokens,
        analysis.work.0 as f64,
        analysis.work.1 as f64,
        analysis.tile_rows,
    );
    let Some(s) = summary else {
        out.push_str("no off-diagonal pairs\n");
        return out;
    };
    let pct = |x: f64| format!("{:.1}%", x * 100.0);
    out.push_str(&format!(
        "off-diagonal ratios R[i][j] = |Ti∩Tj|/|Ti| over {} pairs of {n} projects{}:\n\
         \x20           ours    paper (930 projects)\n\
         \x20 Q1     {:>7}        -\n\
         \x20 median {:>7}    {:>5}\n\
         \x20 Q3     {:>7}    {:>5}\n\
         \x20 mean   {:>7}        -\n",
        s.count,
        if s.exact {
            ""
        } else {
            " (quantiles binned to 1e-6)"
        },
        pct(s.q1),
        pct(s.median),
        pct(PAPER_MEDIAN),
        pct(s.q3),
        pct(PAPER_Q3),
        pct(s.mean),
    ));
    out
}
