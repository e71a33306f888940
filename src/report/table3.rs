//! Table 3 (paper §5.1): BLEU-4 and perplexity per target project and strategy, baseline
//! included, each the mean over the project's evaluated folds, with the average over projects.
//!
//! The Markdown shows corpus BLEU-4 as sacrebleu computes it over the top-1 outputs of a fold
//! (the paper's "BLEU4"); the CSV also has CodeXGLUE's mean smoothed sentence BLEU-4, which
//! code-generation papers often report under the same name and which runs higher on short
//! outputs. Perplexity is exp of the mean token cross-entropy on the fold's test part; `ir`
//! (retrieval, no model) has none.
//!
//! Exact duplicates (a test of the test part that also occurs verbatim in the fold's training
//! part) are kept in every score; a second Markdown table gives their share and BLEU-4 and top-1
//! exact match without them, so it is visible how much of a score (above all `ir`'s, which can
//! return such a test as it is) they make. The CSV has the same columns per project.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Result;

use super::evaluation::{Evaluation, cell, fmt, mean, write_csv, write_text};
use super::plot::label;
use crate::evaluate::metric;
use crate::label::RunLabel;

/// Per (project, strategy): a metric's mean over the project's evaluated folds.
type ProjectMeans = BTreeMap<(String, String), f64>;

/// The per-project means Table 3 reads, each computed once for both files.
struct Means {
    bleu: ProjectMeans,
    sentence: ProjectMeans,
    ppl: ProjectMeans,
    duplicates: ProjectMeans,
    bleu_unique: ProjectMeans,
    exact1: ProjectMeans,
    exact1_unique: ProjectMeans,
}

impl Means {
    fn new(eval: &Evaluation) -> Self {
        let [bleu_unique, exact1_unique, _] = metric::UNIQUE.map(|m| eval.project_means(m));
        Means {
            bleu: eval.project_means(metric::BLEU_CORPUS),
            sentence: eval.project_means(metric::BLEU_SENTENCE),
            ppl: eval.project_means(metric::PERPLEXITY),
            duplicates: eval.project_means(metric::DUPLICATE_SHARE),
            bleu_unique,
            exact1: eval.project_means(&metric::exact(1)),
            exact1_unique,
        }
    }
}

/// `strategy`'s value on `project` in `map`, if it was evaluated there.
fn get(map: &ProjectMeans, project: &str, strategy: &RunLabel) -> Option<f64> {
    map.get(&(project.to_string(), strategy.to_string()))
        .copied()
}

/// `strategy`'s mean over the projects it has a value on: the paper's "Average" row.
fn average(map: &ProjectMeans, projects: &[String], strategy: &RunLabel) -> Option<f64> {
    mean(projects.iter().filter_map(|p| get(map, p, strategy)))
}

/// Table 3 as Markdown and CSV under `dir`; returns the files written.
pub fn write_table3(eval: &Evaluation, dir: &Path) -> Result<Vec<PathBuf>> {
    let strategies = eval.strategies();
    let projects = eval.projects();
    let means = Means::new(eval);
    let mut md = scores_table(eval, &strategies, &projects, &means);
    if !means.duplicates.is_empty() {
        md.push_str(&duplicates_table(&strategies, &projects, &means));
    }
    let rows = csv_rows(eval, &strategies, &projects, &means);
    Ok(vec![
        write_text(dir, "table3.md", &md)?,
        write_csv(
            dir,
            "table3.csv",
            &[
                "project_id",
                "strategy",
                "folds",
                "bleu4_corpus",
                "bleu4_sentence",
                "perplexity",
                "duplicate_share",
                "bleu4_corpus_unique",
                "exact_top1_unique",
            ],
            &rows,
        )?,
    ])
}

/// The paper's table: a row per project with its BLEU-4 and perplexity under every strategy,
/// then the average over projects.
fn scores_table(
    eval: &Evaluation,
    strategies: &[RunLabel],
    projects: &[String],
    means: &Means,
) -> String {
    let mut md = format!(
        "# Table 3: BLEU-4 and perplexity per target project (profile {})\n\n\
         Each cell is the mean over the project's evaluated folds; the last row is the mean over \
         projects. BLEU-4 is sacrebleu's corpus BLEU of the top-1 beam-search outputs (0–100); \
         `table3.csv` also gives CodeXGLUE's mean sentence BLEU. Perplexity is exp of the mean \
         token cross-entropy on the test part.\n\n",
        eval.profile
    );
    let names: Vec<String> = strategies.iter().map(label).collect();
    md.push_str(&format!(
        "| Project | folds | {} | {} |\n",
        names
            .iter()
            .map(|n| format!("BLEU4 {n}"))
            .collect::<Vec<_>>()
            .join(" | "),
        names
            .iter()
            .map(|n| format!("PPL {n}"))
            .collect::<Vec<_>>()
            .join(" | ")
    ));
    md.push_str(&format!(
        "|---|---:|{}\n",
        "---:|".repeat(2 * strategies.len())
    ));
    // One row's cells: BLEU-4 with one decimal, then perplexity with three.
    let cells = |value: &dyn Fn(&ProjectMeans, &RunLabel) -> Option<f64>| {
        let b: Vec<String> = strategies
            .iter()
            .map(|s| fmt(value(&means.bleu, s), 1))
            .collect();
        let p: Vec<String> = strategies
            .iter()
            .map(|s| fmt(value(&means.ppl, s), 3))
            .collect();
        format!("{} | {}", b.join(" | "), p.join(" | "))
    };
    for project in projects {
        let folds = eval.folds(project, strategies.first().unwrap_or(&RunLabel::Baseline));
        let row = cells(&|map, s| get(map, project, s));
        md.push_str(&format!("| {project} | {folds} | {row} |\n"));
    }
    let row = cells(&|map, s| average(map, projects, s));
    md.push_str(&format!("| **Average** | | {row} |\n"));
    md
}

/// How much of each score exact duplicates across parts make: per strategy, their share and
/// BLEU-4 and exact@1 with and without them, averaged over projects.
fn duplicates_table(strategies: &[RunLabel], projects: &[String], means: &Means) -> String {
    let mut md = String::from(
        "\n## Without exact duplicates\n\nAverage over projects: the share of test pairs whose \
         test occurs verbatim (comments and whitespace aside) in the fold's training part, and \
         each score over all test pairs and over the others only.\n\n\
         | Strategy | duplicates | BLEU4 | BLEU4 without | exact@1 | exact@1 without |\n\
         |---|---:|---:|---:|---:|---:|\n",
    );
    for strategy in strategies {
        let avg = |map: &ProjectMeans| average(map, projects, strategy);
        md.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} |\n",
            label(strategy),
            avg(&means.duplicates).map_or("—".to_string(), |v| format!("{:.1}%", 100.0 * v)),
            fmt(avg(&means.bleu), 1),
            fmt(avg(&means.bleu_unique), 1),
            fmt(avg(&means.exact1).map(|v| 100.0 * v), 1),
            fmt(avg(&means.exact1_unique).map(|v| 100.0 * v), 1),
        ));
    }
    md
}

/// The rows of `table3.csv`: every (project, strategy) at full precision, then every
/// strategy's average over projects (project `average`, no fold count).
fn csv_rows(
    eval: &Evaluation,
    strategies: &[RunLabel],
    projects: &[String],
    means: &Means,
) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    for project in projects.iter().map(String::as_str).chain(["average"]) {
        for strategy in strategies {
            let value = |map: &ProjectMeans| {
                if project == "average" {
                    average(map, projects, strategy)
                } else {
                    get(map, project, strategy)
                }
            };
            let folds = if project == "average" {
                String::new()
            } else {
                eval.folds(project, strategy).to_string()
            };
            rows.push(vec![
                project.to_string(),
                strategy.to_string(),
                folds,
                cell(value(&means.bleu)),
                cell(value(&means.sentence)),
                cell(value(&means.ppl)),
                cell(value(&means.duplicates)),
                cell(value(&means.bleu_unique)),
                cell(value(&means.exact1_unique)),
            ]);
        }
    }
    rows
}
