//! Table 4 (paper §5.1): Kruskal-Wallis tests between every pair of strategies over projects,
//! for BLEU-4 and for perplexity, each p-value with an effect size.
//!
//! Each strategy contributes one value per project (its mean over folds, as in Table 3), and
//! a pair is tested on the projects both have. The paper gives p-values only; a p-value says
//! whether two strategies differ, not by how much, so each cell also has Vargha-Delaney A12
//! (row strategy vs column strategy: the probability that a project's row value exceeds a
//! project's column value; 0.5 = no difference). No correction for multiple comparisons is
//! applied; the report says how many tests the table holds.

use std::path::{Path, PathBuf};

use anyhow::Result;

use super::evaluation::{Evaluation, cell, write_csv, write_text};
use super::plot::label;
use crate::evaluate::metric;
use crate::metrics::{effect_size, kruskal};

/// One tested pair.
#[derive(Debug, Clone, PartialEq)]
pub struct PairTest {
    pub metric: String,
    pub a: String,
    pub b: String,
    /// Projects in each group.
    pub n: usize,
    pub h: Option<f64>,
    pub p_value: Option<f64>,
    pub cliffs_delta: Option<f64>,
    pub a12: Option<f64>,
}

/// The metrics Table 4 tests, with their column titles.
pub const TESTED: [(&str, &str); 2] = [
    (metric::BLEU_CORPUS, "BLEU4"),
    (metric::PERPLEXITY, "Perplexity"),
];

/// Every ordered pair of strategies for `metric`.
pub fn pair_tests(eval: &Evaluation, metric_name: &str) -> Vec<PairTest> {
    let strategies = eval.strategies();
    let mut tests = Vec::new();
    for a in &strategies {
        for b in &strategies {
            if a == b {
                continue;
            }
            let xa = eval.per_project(a, metric_name);
            let xb = eval.per_project(b, metric_name);
            let (va, vb): (Vec<f64>, Vec<f64>) = xa
                .iter()
                .filter_map(|(p, &x)| xb.get(p).map(|&y| (x, y)))
                .unzip();
            let kw = kruskal(&[va.as_slice(), vb.as_slice()]).ok();
            let effect = effect_size(&va, &vb).ok();
            tests.push(PairTest {
                metric: metric_name.to_string(),
                a: a.clone(),
                b: b.clone(),
                n: va.len(),
                h: kw.map(|k| k.h),
                p_value: kw.map(|k| k.p_value),
                cliffs_delta: effect.map(|e| e.cliffs_delta),
                a12: effect.map(|e| e.a12),
            });
        }
    }
    tests
}

/// A p-value as the paper prints them (`3e-08`, `0.4`).
pub fn fmt_p(p: Option<f64>) -> String {
    match p {
        None => "—".into(),
        Some(p) if p < 1e-3 => format!("{p:.0e}"),
        Some(p) if p < 0.1 => format!("{p:.3}"),
        Some(p) => format!("{p:.1}"),
    }
}

/// The smallest p-value a two-group Kruskal-Wallis test can reach with `n` values per group
/// (complete separation): below this nothing can be significant, whatever the models do.
pub fn smallest_p(n: usize) -> Option<f64> {
    let a: Vec<f64> = (0..n).map(|i| i as f64).collect();
    let b: Vec<f64> = (n..2 * n).map(|i| i as f64).collect();
    kruskal(&[a, b]).ok().map(|k| k.p_value)
}

/// Table 4 as Markdown and CSV under `dir`.
pub fn write_table4(eval: &Evaluation, dir: &Path) -> Result<Vec<PathBuf>> {
    let strategies = eval.strategies();
    let projects = eval.projects().len();
    let pairs = strategies.len() * strategies.len().saturating_sub(1) / 2;
    let mut md = format!(
        "# Table 4: Kruskal-Wallis p-values between strategies (profile {})\n\n\
         Over {projects} project(s): each strategy contributes its per-project mean over folds. \
         Cells: p-value (A12 of the row strategy against the column strategy; 0.5 = no \
         difference). {} distinct pairs per metric, uncorrected for multiple comparisons. With \
         {projects} project(s) per group the smallest attainable p-value is {}.\n",
        eval.profile,
        pairs,
        fmt_p(smallest_p(projects)),
    );
    let mut rows = Vec::new();
    for (name, title) in TESTED {
        let tests = pair_tests(eval, name);
        md.push_str(&format!(
            "\n## {title}\n\n| | {} |\n|---|{}\n",
            strategies
                .iter()
                .map(|s| label(s))
                .collect::<Vec<_>>()
                .join(" | "),
            "---:|".repeat(strategies.len())
        ));
        for a in &strategies {
            let cells: Vec<String> = strategies
                .iter()
                .map(|b| {
                    if a == b {
                        return "-".into();
                    }
                    let t = tests.iter().find(|t| &t.a == a && &t.b == b);
                    match t {
                        Some(t) => format!(
                            "{} ({})",
                            fmt_p(t.p_value),
                            t.a12.map_or("—".into(), |v| format!("{v:.2}"))
                        ),
                        None => "—".into(),
                    }
                })
                .collect();
            md.push_str(&format!("| **{}** | {} |\n", label(a), cells.join(" | ")));
        }
        for t in tests {
            rows.push(vec![
                t.metric,
                t.a,
                t.b,
                t.n.to_string(),
                cell(t.h),
                cell(t.p_value),
                cell(t.cliffs_delta),
                cell(t.a12),
            ]);
        }
    }
    Ok(vec![
        write_text(dir, "table4.md", &md)?,
        write_csv(
            dir,
            "table4.csv",
            &[
                "metric",
                "strategy_a",
                "strategy_b",
                "projects",
                "h",
                "p_value",
                "cliffs_delta",
                "a12",
            ],
            &rows,
        )?,
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_smallest_p_value_shrinks_with_more_projects() {
        let one = smallest_p(1).unwrap();
        let twenty = smallest_p(20).unwrap();
        assert!(one > 0.3, "{one}");
        // The paper's 3e-08 (20 projects) is of this order: complete separation.
        assert!(twenty < 1e-7 && twenty > 1e-8, "{twenty}");
    }
}
