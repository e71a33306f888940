//! Vocabulary analysis (paper §2, Figure 1): how many of a project's tokens other projects
//! use too.
//!
//! For each project, Ti is the set of tokens of all its `.java` files with comments removed
//! ([`lexer`]), tokenized like gensim with Java keywords dropped ([`tokenize`],
//! [`project`]). R[i][j] = |Ti ∩ Tj| / |Ti|. Tokens are interned to ids and all |Ti ∩ Tj| are
//! one sparse product over postings ([`matrix`]), consumed tile by tile into the tables,
//! the ratio statistics and the heat-map grid ([`stats`]), so memory stays at the postings
//! plus one tile whatever n is. [`synth`] makes Zipf corpora for the benchmark.
//!
//! This module does not choose projects (the `heatmap` command does, from the projects
//! table) and does not draw (`report::figure1` does).

pub mod lexer;
pub mod matrix;
pub mod project;
pub mod stats;
pub mod synth;
pub mod tokenize;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Result;
use indicatif::{ParallelProgressIterator, ProgressBar, ProgressStyle};
use rayon::prelude::*;

use crate::tables::table_path;
use crate::tables::vocab::{
    SharedTokensWriter, VocabSummaryRow, shared_frame, write_vocab_summary,
};
use matrix::{SharedCounts, shared_counts_tiled, tile_rows_for};
use project::{ProjectTokens, project_tokens};
use stats::{HeatGrid, RatioStats};

/// A project to tokenize.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectInput {
    pub project_id: String,
    pub checkout: PathBuf,
    /// Java bytes as acquisition measured them, to schedule the biggest projects first.
    pub java_bytes: u64,
}

fn bar(len: u64, what: &str, show: bool) -> ProgressBar {
    if !show {
        return ProgressBar::hidden();
    }
    ProgressBar::new(len).with_style(
        ProgressStyle::with_template(&format!(
            "{what} [{{elapsed_precise}}] {{wide_bar}} {{pos}}/{{len}} (eta {{eta}})"
        ))
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    )
}

/// Token sets of `projects`, in parallel (biggest first, so one huge project does not
/// start last); results come back in input order.
pub fn tokenize_projects(
    projects: &[ProjectInput],
    opts: tokenize::Options,
    progress: bool,
) -> Vec<Result<ProjectTokens>> {
    let mut order: Vec<usize> = (0..projects.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(projects[i].java_bytes));
    let pb = bar(projects.len() as u64, "tokenizing", progress);
    let mut done: Vec<(usize, Result<ProjectTokens>)> = order
        .into_par_iter()
        .progress_with(pb.clone())
        .map(|i| {
            let p = &projects[i];
            let tokens = project_tokens(&p.checkout, opts)
                .map_err(|e| e.context(format!("tokenizing project `{}`", p.project_id)));
            (i, tokens)
        })
        .collect();
    pb.finish_and_clear();
    done.sort_by_key(|(i, _)| *i);
    done.into_iter().map(|(_, r)| r).collect()
}

/// Projects' token sets over interned token ids.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vocabulary {
    pub project_ids: Vec<String>,
    /// Sorted distinct token ids of each project.
    pub sets: Vec<Vec<u32>>,
    /// Distinct tokens over all projects (ids are below this).
    pub n_tokens: usize,
}

impl Vocabulary {
    /// Interns the token strings of each project; ids follow first appearance.
    pub fn intern(projects: Vec<(String, Vec<String>)>) -> Self {
        let mut ids: HashMap<String, u32> = HashMap::new();
        let mut project_ids = Vec::with_capacity(projects.len());
        let mut sets = Vec::with_capacity(projects.len());
        for (project_id, tokens) in projects {
            let mut set: Vec<u32> = tokens
                .into_iter()
                .map(|t| {
                    let next = ids.len() as u32;
                    *ids.entry(t).or_insert(next)
                })
                .collect();
            set.sort_unstable();
            set.dedup();
            project_ids.push(project_id);
            sets.push(set);
        }
        Vocabulary {
            project_ids,
            sets,
            n_tokens: ids.len(),
        }
    }
}

/// How the matrix is computed and summarized.
#[derive(Debug, Clone, Copy)]
pub struct AnalyzeOptions {
    /// Matrix cells per tile (see [`tile_rows_for`]).
    pub tile_cells: usize,
    /// Count tokens used by more than n/8 of the projects through bitsets (see
    /// [`matrix`]); off, everything goes through postings.
    pub bitsets: bool,
    /// Largest side of the heat-map grid (the figure's pixels).
    pub grid_side: usize,
    pub progress: bool,
}

impl Default for AnalyzeOptions {
    fn default() -> Self {
        AnalyzeOptions {
            tile_cells: 2_000_000,
            bitsets: true,
            grid_side: 930,
            progress: true,
        }
    }
}

/// Everything the tables, figure and printout need, with the cost of getting it.
#[derive(Debug)]
pub struct Analysis {
    /// Projects in rank order (ascending |Ti|, then id).
    pub ranked: Vec<VocabSummaryRow>,
    pub stats: RatioStats,
    pub grid: HeatGrid,
    pub distinct_tokens: usize,
    /// Σ|Ti|: non-zeros of the incidence matrix.
    pub postings: usize,
    /// Tokens counted through bitsets (in more than n/8 of the projects).
    pub dense_tokens: usize,
    /// (increments over postings, AND-popcounts over bitsets) the product did.
    pub work: (u64, u64),
    pub tile_rows: usize,
    pub shared_rows: u64,
    pub shared_bytes: u64,
    /// Seconds in the sparse product alone, and in summarizing and writing the tiles.
    pub matrix_seconds: f64,
    pub write_seconds: f64,
}

/// Ranks the projects, computes the shared-token matrix tile by tile and writes
/// `OUT/tables/vocab_summary.parquet` and `OUT/tables/shared_tokens.parquet`.
pub fn analyze(vocab: Vocabulary, out: &Path, opts: AnalyzeOptions) -> Result<Analysis> {
    let n = vocab.sets.len();
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| {
        (vocab.sets[a].len(), &vocab.project_ids[a])
            .cmp(&(vocab.sets[b].len(), &vocab.project_ids[b]))
    });
    let mut sets_by_index: Vec<Option<Vec<u32>>> = vocab.sets.into_iter().map(Some).collect();
    let sets: Vec<Vec<u32>> = order
        .iter()
        .map(|&i| sets_by_index[i].take().unwrap_or_default())
        .collect();
    let ranked: Vec<VocabSummaryRow> = order
        .iter()
        .zip(&sets)
        .enumerate()
        .map(|(rank, (&i, set))| VocabSummaryRow {
            project_id: vocab.project_ids[i].clone(),
            unique_tokens: set.len() as u64,
            rank: rank as u64,
        })
        .collect();
    write_vocab_summary(&ranked, &table_path(out, "vocab_summary"))?;

    let postings: usize = sets.iter().map(Vec::len).sum();
    let min_dense_df = if opts.bitsets {
        SharedCounts::default_min_dense_df(n)
    } else {
        usize::MAX
    };
    let counts = SharedCounts::new(&sets, vocab.n_tokens, min_dense_df);
    // From here on only |Ti| is needed; the sets live on, split, inside `counts`.
    let sizes: Vec<usize> = sets.iter().map(Vec::len).collect();
    drop(sets);
    // At least 16 tiles when n allows, so the progress bar moves.
    let tile_rows = tile_rows_for(n, opts.tile_cells).min(n.div_ceil(16).max(1));
    let mut stats = RatioStats::default();
    let mut grid = HeatGrid::new(n, opts.grid_side);
    let mut writer = SharedTokensWriter::create(&table_path(out, "shared_tokens"))?;
    let ids: Vec<&str> = ranked.iter().map(|r| r.project_id.as_str()).collect();
    let pb = bar(n as u64, "shared tokens", opts.progress);
    let start = Instant::now();
    let mut write_seconds = 0.0;
    shared_counts_tiled(&counts, tile_rows, |tile| -> Result<()> {
        let t0 = Instant::now();
        let cells = tile.rows.len() * n;
        let (mut pi, mut pj) = (Vec::with_capacity(cells), Vec::with_capacity(cells));
        let (mut shared, mut ratios) = (Vec::with_capacity(cells), Vec::with_capacity(cells));
        for (k, row) in tile.rows.iter().enumerate() {
            let i = tile.first_row + k;
            let size_i = sizes[i];
            let start = ratios.len();
            for (j, &s) in row.iter().enumerate() {
                let r = matrix::ratio(s, size_i, i, j);
                if i != j {
                    stats.push(r);
                }
                ratios.push(r);
            }
            grid.add_row(i, ratios[start..].iter().copied());
            pi.extend(std::iter::repeat_n(ids[i], n));
            pj.extend_from_slice(&ids);
            shared.extend(row.iter().map(|&s| u64::from(s)));
        }
        writer.write(&shared_frame(pi, pj, shared, ratios)?)?;
        pb.inc(tile.rows.len() as u64);
        write_seconds += t0.elapsed().as_secs_f64();
        Ok(())
    })?;
    let total = start.elapsed().as_secs_f64();
    pb.finish_and_clear();
    let (shared_rows, shared_bytes) = writer.finish()?;
    Ok(Analysis {
        ranked,
        stats,
        grid,
        distinct_tokens: vocab.n_tokens,
        postings,
        dense_tokens: counts.dense_tokens(),
        work: counts.work(),
        tile_rows,
        shared_rows,
        shared_bytes,
        matrix_seconds: total - write_seconds,
        write_seconds,
    })
}

/// Peak resident set size of this process (`VmHWM`), in bytes, where /proc has it.
pub fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tables::vocab::{read_shared_tokens, read_vocab_summary};

    fn tokens(words: &str) -> Vec<String> {
        words.split_whitespace().map(str::to_string).collect()
    }

    #[test]
    fn interning_gives_each_token_one_id_across_projects() {
        let v = Vocabulary::intern(vec![
            ("a".into(), tokens("get value get")),
            ("b".into(), tokens("value size")),
        ]);
        assert_eq!(v.n_tokens, 3);
        assert_eq!(v.sets, [vec![0, 1], vec![1, 2]]);
    }

    #[test]
    fn analysis_ranks_projects_and_writes_the_full_matrix() {
        let dir = tempfile::tempdir().unwrap();
        let v = Vocabulary::intern(vec![
            ("big".into(), tokens("a b c d")),
            ("small".into(), tokens("a b")),
            ("other".into(), tokens("c x y")),
        ]);
        let opts = AnalyzeOptions {
            progress: false,
            tile_cells: 2,
            ..AnalyzeOptions::default()
        };
        let a = analyze(v, dir.path(), opts).unwrap();
        let ranked: Vec<&str> = a.ranked.iter().map(|r| r.project_id.as_str()).collect();
        assert_eq!(ranked, ["small", "other", "big"]);
        assert_eq!(
            read_vocab_summary(&table_path(dir.path(), "vocab_summary")).unwrap(),
            a.ranked
        );
        let shared = read_shared_tokens(&table_path(dir.path(), "shared_tokens")).unwrap();
        assert_eq!(shared.len(), 9);
        let cell = |i: &str, j: &str| {
            shared
                .iter()
                .find(|r| r.project_i == i && r.project_j == j)
                .map(|r| (r.shared, r.ratio))
                .unwrap()
        };
        assert_eq!(cell("small", "big"), (2, 1.0));
        assert_eq!(cell("big", "small"), (2, 0.5));
        assert_eq!(cell("other", "big"), (1, 1.0 / 3.0));
        assert_eq!(cell("small", "other"), (0, 0.0));
        assert_eq!(cell("big", "big"), (4, 1.0));
        // Six off-diagonal ratios: 1, 0, 0, 1/3, 0.5, 0.25.
        let s = a.stats.summary().unwrap();
        assert_eq!(s.count, 6);
        assert!((s.median - (0.25 + 1.0 / 3.0) / 2.0).abs() < 1e-12);
        assert_eq!(a.grid.mean(0, 2), 1.0);
    }

    #[test]
    fn peak_rss_is_read_from_proc() {
        if Path::new("/proc/self/status").exists() {
            assert!(peak_rss_bytes().unwrap() > 1 << 20);
        }
    }
}
