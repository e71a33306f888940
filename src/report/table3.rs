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

use std::path::{Path, PathBuf};

use anyhow::Result;

use super::evaluation::{Evaluation, cell, fmt, mean, write_csv, write_text};
use super::plot::label;
use crate::evaluate::metric;
use crate::label::RunLabel;

/// Table 3 as Markdown and CSV under `dir`; returns the files written.
pub fn write_table3(eval: &Evaluation, dir: &Path) -> Result<Vec<PathBuf>> {
    let strategies = eval.strategies();
    let projects = eval.projects();
    let bleu = eval.project_means(metric::BLEU_CORPUS);
    let sentence = eval.project_means(metric::BLEU_SENTENCE);
    let ppl = eval.project_means(metric::PERPLEXITY);
    let duplicates = eval.project_means(metric::DUPLICATE_SHARE);
    let [bleu_unique, exact1_unique, _] = metric::UNIQUE.map(|m| eval.project_means(m));
    let exact1 = eval.project_means(&metric::exact(1));
    let get = |map: &std::collections::BTreeMap<(String, String), f64>, p: &str, s: &RunLabel| {
        map.get(&(p.to_string(), s.to_string())).copied()
    };

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
    for project in &projects {
        let folds = eval.folds(project, strategies.first().unwrap_or(&RunLabel::Baseline));
        let b: Vec<String> = strategies
            .iter()
            .map(|s| fmt(get(&bleu, project, s), 1))
            .collect();
        let p: Vec<String> = strategies
            .iter()
            .map(|s| fmt(get(&ppl, project, s), 3))
            .collect();
        md.push_str(&format!(
            "| {project} | {folds} | {} | {} |\n",
            b.join(" | "),
            p.join(" | ")
        ));
    }
    let avg_b: Vec<String> = strategies
        .iter()
        .map(|s| fmt(mean(projects.iter().filter_map(|p| get(&bleu, p, s))), 1))
        .collect();
    let avg_p: Vec<String> = strategies
        .iter()
        .map(|s| fmt(mean(projects.iter().filter_map(|p| get(&ppl, p, s))), 3))
        .collect();
    md.push_str(&format!(
        "| **Average** | | {} | {} |\n",
        avg_b.join(" | "),
        avg_p.join(" | ")
    ));

    if !duplicates.is_empty() {
        md.push_str(
            "\n## Without exact duplicates\n\nAverage over projects: the share of test pairs whose \
             test occurs verbatim (comments and whitespace aside) in the fold's training part, and \
             each score over all test pairs and over the others only.\n\n\
             | Strategy | duplicates | BLEU4 | BLEU4 without | exact@1 | exact@1 without |\n\
             |---|---:|---:|---:|---:|---:|\n",
        );
        for strategy in &strategies {
            let avg = |map: &std::collections::BTreeMap<(String, String), f64>| {
                mean(projects.iter().filter_map(|p| get(map, p, strategy)))
            };
            md.push_str(&format!(
                "| {} | {} | {} | {} | {} | {} |\n",
                label(strategy),
                avg(&duplicates).map_or("—".to_string(), |v| format!("{:.1}%", 100.0 * v)),
                fmt(avg(&bleu), 1),
                fmt(avg(&bleu_unique), 1),
                fmt(avg(&exact1).map(|v| 100.0 * v), 1),
                fmt(avg(&exact1_unique).map(|v| 100.0 * v), 1),
            ));
        }
    }

    let mut rows = Vec::new();
    for project in projects.iter().map(String::as_str).chain(["average"]) {
        for strategy in &strategies {
            let value = |map: &std::collections::BTreeMap<(String, String), f64>| {
                if project == "average" {
                    mean(projects.iter().filter_map(|p| get(map, p, strategy)))
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
                cell(value(&bleu)),
                cell(value(&sentence)),
                cell(value(&ppl)),
                cell(value(&duplicates)),
                cell(value(&bleu_unique)),
                cell(value(&exact1_unique)),
            ]);
        }
    }
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
