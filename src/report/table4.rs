//! Table 4 (paper §5.1): Kruskal-Wallis tests between strategies over projects, for BLEU-4 and
//! for perplexity, each with its exact p-value, the side tested and an effect size.
//!
//! Each strategy contributes one value per project (its mean over folds, as in Table 3), and a
//! pair is tested on the projects both have. The paper printed chi-square p-values; with a few
//! projects per group those are far too small (3 against 3, completely separated: 0.0495, while
//! the exact p is 0.1), so a difference is called significant here only by the exact permutation
//! p-value of H ([`crate::metrics::permutation`]), two-sided as Kruskal-Wallis is. Beside it:
//!
//! - the one-sided exact p that the strategy is *better* than the one it is compared with:
//!   higher BLEU-4, lower perplexity (the paper's "one customization method is superior");
//! - the chi-square p, labelled asymptotic, to set beside the paper's;
//! - Vargha-Delaney A12 of the strategy against the other (the probability that a project's
//!   value under the strategy exceeds a project's value under the other, ties half; 0.5 = no
//!   difference) and Cliff's delta = 2·A12 − 1. A12 is not turned for perplexity: below 0.5
//!   means lower perplexity, i.e. better.
//!
//! Every strategy is compared with each reference present, the baseline and the retrieval run
//! `ir` (compared once with the baseline), and the paper's full matrix between strategies
//! follows. No correction for multiple comparisons is applied; the table says how many tests it
//! holds.

use std::path::{Path, PathBuf};

use anyhow::Result;

use super::evaluation::{Evaluation, cell, write_csv, write_text};
use super::plot::label;
use crate::evaluate::metric;
use crate::label::RunLabel;
use crate::metrics::kruskal::{effect_size, kruskal};
use crate::metrics::permutation::{
    PermutationMethod, PermutationOptions, smallest_two_sided_p, two_sample,
};

/// The level below which an exact two-sided p-value is called significant.
pub const ALPHA: f64 = 0.05;

/// The strategies every other strategy is compared with, when present: the baseline (paper) and
/// retrieval without training (`ir`).
pub const REFERENCES: [RunLabel; 2] = [RunLabel::Baseline, RunLabel::Retrieval];

/// One tested ordered pair: strategy `a` against strategy `b`.
#[derive(Debug, Clone, PartialEq)]
pub struct PairTest {
    pub metric: String,
    pub a: RunLabel,
    pub b: RunLabel,
    /// Projects in each group.
    pub n: usize,
    pub h: Option<f64>,
    /// Exact (or stated Monte Carlo) permutation p of H: two-sided. The p that decides.
    pub p_value: Option<f64>,
    /// The same permutations, one-sided: `a` better than `b` (see [`PairTest::side`]).
    pub p_one_sided: Option<f64>,
    /// The chi-square p of `scipy.stats.kruskal`, as the paper printed.
    pub p_asymptotic: Option<f64>,
    pub method: Option<PermutationMethod>,
    pub cliffs_delta: Option<f64>,
    pub a12: Option<f64>,
}

impl PairTest {
    /// The alternative of [`PairTest::p_one_sided`], e.g. `custom > baseline` for BLEU-4.
    pub fn side(&self) -> String {
        let op = if higher_is_better(&self.metric) {
            ">"
        } else {
            "<"
        };
        format!("{} {op} {}", self.a, self.b)
    }

    /// Whether the exact two-sided p is below [`ALPHA`].
    pub fn significant(&self) -> bool {
        self.p_value.is_some_and(|p| p < ALPHA)
    }
}

/// The metrics Table 4 tests, with their column titles.
pub const TESTED: [(&str, &str); 2] = [
    (metric::BLEU_CORPUS, "BLEU4"),
    (metric::PERPLEXITY, "Perplexity"),
];

/// Whether a larger value of `metric` is better: losses and perplexity are lower-is-better.
pub fn higher_is_better(metric_name: &str) -> bool {
    !matches!(metric_name, metric::PERPLEXITY | metric::TEST_LOSS)
}

/// Every ordered pair of strategies with `metric` on a common project. Each unordered pair is
/// tested once; its mirror swaps the one-sided tails and turns A12 and delta around.
pub fn pair_tests(eval: &Evaluation, metric_name: &str) -> Vec<PairTest> {
    let strategies = eval.strategies();
    let options = PermutationOptions::default();
    let higher = higher_is_better(metric_name);
    let mut tests = Vec::new();
    for (i, a) in strategies.iter().enumerate() {
        for b in &strategies[i + 1..] {
            let xa = eval.per_project(a, metric_name);
            let xb = eval.per_project(b, metric_name);
            let (va, vb): (Vec<f64>, Vec<f64>) = xa
                .iter()
                .filter_map(|(p, &x)| xb.get(p).map(|&y| (x, y)))
                .unzip();
            if va.is_empty() {
                // No project has both (e.g. `ir` has no perplexity): nothing to test.
                continue;
            }
            let asymptotic = kruskal(&[va.as_slice(), vb.as_slice()]).ok();
            let exact = two_sample(&va, &vb, &options).ok();
            let effect = effect_size(&va, &vb).ok();
            let forward = PairTest {
                metric: metric_name.to_string(),
                a: a.clone(),
                b: b.clone(),
                n: va.len(),
                h: exact.map(|t| t.h),
                p_value: exact.map(|t| t.two_sided),
                p_one_sided: exact.map(|t| if higher { t.greater } else { t.less }),
                p_asymptotic: asymptotic.map(|k| k.p_value),
                method: exact.map(|t| t.method),
                cliffs_delta: effect.map(|e| e.cliffs_delta),
                a12: effect.map(|e| e.a12),
            };
            let backward = PairTest {
                a: b.clone(),
                b: a.clone(),
                p_one_sided: exact.map(|t| if higher { t.less } else { t.greater }),
                cliffs_delta: forward.cliffs_delta.map(|d| -d),
                a12: forward.a12.map(|v| 1.0 - v),
                ..forward.clone()
            };
            tests.push(forward);
            tests.push(backward);
        }
    }
    tests
}

/// The comparisons with the references: every strategy against each of [`REFERENCES`] present,
/// `baseline` against `ir` once (as `ir` against `baseline`).
pub fn reference_tests<'t>(tests: &'t [PairTest], strategies: &[RunLabel]) -> Vec<&'t PairTest> {
    let mut rows = Vec::new();
    for (r, reference) in REFERENCES.iter().enumerate() {
        for s in strategies {
            let earlier_reference = REFERENCES[..r].contains(s);
            if s == reference || earlier_reference {
                continue;
            }
            rows.extend(tests.iter().find(|t| &t.a == s && t.b == *reference));
        }
    }
    rows
}

/// A p-value as the paper prints them (`3e-08`, `0.4`), with three significant digits between
/// 0.001 and 0.1 so that a p just below 0.05 does not read as 0.050.
pub fn fmt_p(p: Option<f64>) -> String {
    match p {
        None => "—".into(),
        Some(p) if p < 1e-3 => {
            let s = format!("{p:.0e}");
            match s.split_once('e') {
                Some((mantissa, exponent)) => match exponent.parse::<i32>() {
                    Ok(e) => format!("{mantissa}e{}{:02}", if e < 0 { "-" } else { "+" }, e.abs()),
                    Err(_) => s,
                },
                None => s,
            }
        }
        Some(p) if p < 0.1 => {
            let decimals = (2.0 - p.log10().floor()) as usize;
            format!("{p:.decimals$}")
        }
        Some(p) => format!("{p:.1}"),
    }
}

/// How a p-value was counted, briefly: `exact` or `MC 100000`.
fn fmt_method(method: Option<PermutationMethod>) -> String {
    match method {
        None => "—".into(),
        Some(PermutationMethod::Exact { .. }) => "exact".into(),
        Some(PermutationMethod::MonteCarlo { resamples, seed }) => {
            format!("Monte Carlo, {resamples} resamples, seed {seed}")
        }
    }
}

/// The smallest exact two-sided p-value of two strategies with `n` projects each (complete
/// separation, 2 / C(2n, n)): below this nothing can be significant, whatever the models do.
pub fn smallest_p(n: usize) -> Option<f64> {
    smallest_two_sided_p(n)
}

/// The chi-square p of the same complete separation: what the paper's 3e-08 (20 projects) is.
pub fn smallest_p_asymptotic(n: usize) -> Option<f64> {
    let a: Vec<f64> = (0..n).map(|i| i as f64).collect();
    let b: Vec<f64> = (n..2 * n).map(|i| i as f64).collect();
    kruskal(&[a, b]).ok().map(|k| k.p_value)
}

/// The columns of `table4.csv`, one per field of [`PairTest`] and its derived values.
const CSV_COLUMNS: [&str; 15] = [
    "metric",
    "strategy",
    "versus",
    "versus_is_reference",
    "projects",
    "h",
    "p_exact",
    "p_one_sided",
    "one_sided_alternative",
    "p_asymptotic",
    "method",
    "permutations",
    "cliffs_delta",
    "a12",
    "significant",
];

/// Table 4 as Markdown and CSV under `dir`.
pub fn write_table4(eval: &Evaluation, dir: &Path) -> Result<Vec<PathBuf>> {
    let strategies = eval.strategies();
    let all: Vec<(&str, Vec<PairTest>)> = TESTED
        .into_iter()
        .map(|(name, title)| (title, pair_tests(eval, name)))
        .collect();
    let mut md = preamble(eval, &strategies);
    md.push_str(&reference_section(&all, &strategies));
    let mut rows = Vec::new();
    for (title, tests) in &all {
        md.push_str(&matrix_section(title, tests, &strategies));
        rows.extend(tests.iter().map(csv_row));
    }
    let md_path = write_text(dir, "table4.md", &md)?;
    let csv_path = write_csv(dir, "table4.csv", &CSV_COLUMNS, &rows)?;
    Ok(vec![md_path, csv_path])
}

/// The title and the legend: what each column means and why the exact p decides, with the
/// smallest p-values attainable at this many projects and at the paper's 20, so that a reader
/// can tell a lack of significance that the data could not have avoided.
fn preamble(eval: &Evaluation, strategies: &[RunLabel]) -> String {
    let projects = eval.projects().len();
    let pairs = strategies.len() * strategies.len().saturating_sub(1) / 2;
    format!(
        "# Table 4: Kruskal-Wallis tests between strategies, exact p-values (profile {})\n\n\
         Over {projects} project(s): each strategy contributes its per-project mean over folds; a \
         pair is tested on the projects both have.\n\n\
         - **p exact**: the permutation p-value of H, two-sided (the share of all assignments of \
         the pooled per-project values to the two strategies whose H is at least the observed \
         one; mid-ranks for ties), counted exactly unless the method says Monte Carlo. A \
         difference is called significant only when this p < {ALPHA}.\n\
         - **p one-sided**: the same assignments, testing that the strategy is better than the \
         one it is compared with, as the side says: higher BLEU-4 (`>`), lower perplexity \
         (`<`).\n\
         - **p χ²**: the asymptotic p of `scipy.stats.kruskal`, the kind the paper printed (its \
         3e-08 over 20 projects is of the order of complete separation: χ² {}, exactly {}). With \
         few projects it is too small: 3 against 3, completely separated, gives χ² {} but \
         exactly {}.\n\
         - **A12**: Vargha-Delaney A12 of the strategy against the other, the probability that a \
         project's value under the strategy exceeds one under the other (ties half); 0.5 = no \
         difference; for perplexity below 0.5 favours the strategy. Cliff's delta \
         (= 2·A12 − 1) is in the CSV.\n\
         - {pairs} distinct pairs per metric, uncorrected for multiple comparisons. With \
         {projects} project(s) per group the smallest attainable exact p is {}.\n",
        eval.profile,
        fmt_p(smallest_p_asymptotic(20)),
        fmt_p(smallest_p(20)),
        fmt_p(smallest_p_asymptotic(3)),
        fmt_p(smallest_p(3)),
        fmt_p(smallest_p(projects)),
    )
}

/// The comparisons readers look for first: every strategy against the baseline and `ir`
/// ([`reference_tests`]), for each tested metric, one row each.
fn reference_section(all: &[(&str, Vec<PairTest>)], strategies: &[RunLabel]) -> String {
    let references: Vec<String> = REFERENCES
        .iter()
        .filter(|r| strategies.contains(r))
        .map(RunLabel::to_string)
        .collect();
    let mut md = format!(
        "\n## Against the references ({})\n\n\
         | Metric | Strategy | Reference | Projects | H | p exact (two-sided) | p one-sided | Side \
         | p χ² (asymptotic) | A12 | Method | Significant |\n\
         |---|---|---|---:|---:|---:|---:|---|---:|---:|---|---|\n",
        if references.is_empty() {
            "none present".to_string()
        } else {
            references.join(", ")
        }
    );
    for (title, tests) in all {
        for t in reference_tests(tests, strategies) {
            let op = if higher_is_better(&t.metric) {
                ">"
            } else {
                "<"
            };
            md.push_str(&format!(
                "| {title} | {} | {} | {} | {} | {} | {} | {} {op} {} | {} | {} | {} | {} |\n",
                label(&t.a),
                label(&t.b),
                t.n,
                t.h.map_or("—".into(), |h| format!("{h:.3}")),
                fmt_p(t.p_value),
                fmt_p(t.p_one_sided),
                label(&t.a),
                label(&t.b),
                fmt_p(t.p_asymptotic),
                t.a12.map_or("—".into(), |v| format!("{v:.2}")),
                fmt_method(t.method),
                if t.significant() { "yes" } else { "no" },
            ));
        }
    }
    md
}

/// The paper's full matrix for one metric: row strategy against column strategy, each cell the
/// exact two-sided p with the row's A12 in brackets.
fn matrix_section(title: &str, tests: &[PairTest], strategies: &[RunLabel]) -> String {
    let mut md = format!(
        "\n## {title}: every pair (exact two-sided p, A12 of the row strategy against the \
         column strategy)\n\n| | {} |\n|---|{}\n",
        strategies.iter().map(label).collect::<Vec<_>>().join(" | "),
        "---:|".repeat(strategies.len())
    );
    for a in strategies {
        let cells: Vec<String> = strategies
            .iter()
            .map(|b| {
                if a == b {
                    return "-".into();
                }
                match tests.iter().find(|t| &t.a == a && &t.b == b) {
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
    md
}

/// One test as a row of `table4.csv` ([`CSV_COLUMNS`]): full precision, machine-readable
/// method names, and the count of permutations behind the p.
fn csv_row(t: &PairTest) -> Vec<String> {
    vec![
        t.metric.clone(),
        t.a.to_string(),
        t.b.to_string(),
        REFERENCES.contains(&t.b).to_string(),
        t.n.to_string(),
        cell(t.h),
        cell(t.p_value),
        cell(t.p_one_sided),
        t.side(),
        cell(t.p_asymptotic),
        match t.method {
            Some(PermutationMethod::Exact { .. }) => "exact".into(),
            Some(PermutationMethod::MonteCarlo { .. }) => "monte_carlo".into(),
            None => String::new(),
        },
        match t.method {
            Some(PermutationMethod::Exact { assignments }) => format!("{assignments}"),
            Some(PermutationMethod::MonteCarlo { resamples, .. }) => resamples.to_string(),
            None => String::new(),
        },
        cell(t.cliffs_delta),
        cell(t.a12),
        t.significant().to_string(),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tables::metrics::MetricRow;

    /// BLEU-4 and perplexity of `strategies` on three projects, `strategy i` scoring `base + i`
    /// (BLEU) and `2 − i / 10` (perplexity) plus a small per-project offset.
    fn evaluation(strategies: &[&str]) -> Evaluation {
        let mut metrics = Vec::new();
        for (i, s) in strategies.iter().enumerate() {
            for (p, project) in ["alpha", "beta", "gamma"].into_iter().enumerate() {
                let row = |m: &str, value: f64| MetricRow {
                    project_id: project.into(),
                    strategy: s.to_string(),
                    fold: 0,
                    metric: m.into(),
                    value,
                };
                metrics.push(row(metric::BLEU_CORPUS, 10.0 + 5.0 * i as f64 + p as f64));
                metrics.push(row(
                    metric::PERPLEXITY,
                    2.0 - 0.2 * i as f64 - 0.01 * p as f64,
                ));
            }
        }
        Evaluation {
            profile: "unit".into(),
            metrics,
            ..Default::default()
        }
    }

    #[test]
    fn the_smallest_p_value_shrinks_with_more_projects_and_chi_square_understates_it() {
        assert_eq!(smallest_p(1), Some(1.0));
        assert!((smallest_p(3).unwrap() - 0.1).abs() < 1e-15);
        let chi2 = smallest_p_asymptotic(3).unwrap();
        assert!((chi2 - 0.0495).abs() < 1e-4, "{chi2}");
        // The paper's 3e-08 (20 projects) is of the order of the chi-square p of complete
        // separation; the exact p is 2 / C(40, 20).
        let twenty = smallest_p_asymptotic(20).unwrap();
        assert!(twenty < 1e-7 && twenty > 1e-8, "{twenty}");
        let exact = smallest_p(20).unwrap();
        assert!(
            (exact * 137_846_528_820.0 / 2.0 - 1.0).abs() < 1e-12,
            "{exact}"
        );
    }

    #[test]
    fn p_values_print_as_in_the_paper_and_keep_0_0495_below_0_05() {
        assert_eq!(fmt_p(Some(3e-8)), "3e-08");
        assert_eq!(fmt_p(Some(1.4508889103849684e-11)), "1e-11");
        assert_eq!(fmt_p(Some(0.049534613435626915)), "0.0495");
        assert_eq!(fmt_p(Some(0.05)), "0.0500");
        assert_eq!(fmt_p(Some(0.0031080031)), "0.00311");
        assert_eq!(fmt_p(Some(0.4)), "0.4");
        assert_eq!(fmt_p(None), "—");
    }

    #[test]
    fn three_projects_completely_separated_are_not_significant() {
        let eval = evaluation(&["baseline", "custom"]);
        let bleu = pair_tests(&eval, metric::BLEU_CORPUS);
        let custom = bleu.iter().find(|t| t.a == "custom").unwrap();
        assert_eq!(custom.n, 3);
        assert!((custom.p_value.unwrap() - 0.1).abs() < 1e-15, "{custom:?}");
        assert!(
            (custom.p_one_sided.unwrap() - 0.05).abs() < 1e-15,
            "{custom:?}"
        );
        assert!(custom.p_asymptotic.unwrap() < ALPHA, "{custom:?}");
        assert!(!custom.significant());
        assert_eq!((custom.a12, custom.cliffs_delta), (Some(1.0), Some(1.0)));
        assert_eq!(custom.side(), "custom > baseline");
        // The mirror: the baseline is not better, and its effect is turned around.
        let base = bleu.iter().find(|t| t.a == "baseline").unwrap();
        assert_eq!(base.p_value, custom.p_value);
        assert_eq!(base.p_one_sided, Some(1.0));
        assert_eq!((base.a12, base.cliffs_delta), (Some(0.0), Some(-1.0)));
        // Perplexity: lower is better, so the one-sided test looks the other way.
        let ppl = pair_tests(&eval, metric::PERPLEXITY);
        let custom = ppl.iter().find(|t| t.a == "custom").unwrap();
        assert_eq!(custom.side(), "custom < baseline");
        assert!(
            (custom.p_one_sided.unwrap() - 0.05).abs() < 1e-15,
            "{custom:?}"
        );
        assert_eq!(custom.a12, Some(0.0));
    }

    #[test]
    fn every_strategy_is_compared_with_each_reference_present() {
        let names = |eval: &Evaluation| -> Vec<(String, String)> {
            let tests = pair_tests(eval, metric::BLEU_CORPUS);
            reference_tests(&tests, &eval.strategies())
                .into_iter()
                .map(|t| (t.a.to_string(), t.b.to_string()))
                .collect()
        };
        let pair = |a: &str, b: &str| (a.to_string(), b.to_string());
        assert_eq!(
            names(&evaluation(&["baseline", "custom", "lora"])),
            [pair("custom", "baseline"), pair("lora", "baseline")]
        );
        assert_eq!(
            names(&evaluation(&["baseline", "custom", "lora", "ir"])),
            [
                pair("custom", "baseline"),
                pair("lora", "baseline"),
                pair("ir", "baseline"),
                pair("custom", "ir"),
                pair("lora", "ir"),
            ]
        );
        assert_eq!(
            names(&evaluation(&["custom", "ir"])),
            [pair("custom", "ir")]
        );
    }
}
