//! Scoring one evaluated run: from the developer's tests and the ranked generated tests of a
//! (project, strategy, fold), the run's metrics (paper §4.2–4.3) and per-test scores. Pure: no
//! model, no files, so the report's numbers can be checked on hand-made inputs.

use anyhow::{Context, Result, ensure};

use crate::metrics::{
    Abstractor, StyleSimilarity, TopKRates, codexglue_sentence_bleu, corpus_bleu, is_valid_method,
    top_k_exact,
};
use crate::tables::metrics::MetricRow;
use crate::tables::test_scores::TestScoreRow;

/// Metric names of the `metrics` table.
pub mod metric {
    /// exp of the mean token cross-entropy on the test part (from the finetune table).
    pub const PERPLEXITY: &str = "perplexity";
    /// Mean token cross-entropy on the test part (from the finetune table).
    pub const TEST_LOSS: &str = "test_loss";
    /// Of an `ir+<model>` run: the reranking model's own test loss when it was evaluated, so a
    /// model trained again has its reranking evaluated again.
    pub const RERANKER_LOSS: &str = "reranker_test_loss";
    /// sacrebleu corpus BLEU-4 (13a tokenisation) of the top-1 outputs, 0–100.
    pub const BLEU_CORPUS: &str = "bleu4_corpus";
    /// Mean of CodeXGLUE's smoothed sentence BLEU-4 of the top-1 outputs, 0–100.
    pub const BLEU_SENTENCE: &str = "bleu4_sentence";
    /// tf-idf cosine of the identifiers of all developer tests vs all top-1 outputs.
    pub const STYLE: &str = "style_similarity";
    /// Mean per-test identifier cosine (top-1 output vs its developer test).
    pub const STYLE_MEAN: &str = "style_similarity_mean";
    /// Share of top-1 outputs that parse as one method declaration.
    pub const VALID: &str = "syntax_valid";
    /// Test pairs scored.
    pub const N: &str = "n";
    /// Share of test pairs whose test occurs verbatim (comments and whitespace aside) in the
    /// fold's training part: exact duplicates across parts.
    pub const DUPLICATE_SHARE: &str = "duplicate_share";
    /// The metrics recomputed without those test pairs, to show how much of a score they make.
    pub const UNIQUE: [&str; 3] = [
        "bleu4_corpus_unique",
        "exact_top1_unique",
        "exact_top5_unique",
    ];

    /// `exact_top{k}`: share of tests with an exact match (ignoring whitespace) in the first k.
    pub fn exact(k: usize) -> String {
        format!("exact_top{k}")
    }

    /// `abstract_top{k}`: the same after src2abs-style abstraction of both sides.
    pub fn abstracted(k: usize) -> String {
        format!("abstract_top{k}")
    }
}

/// Which run a score belongs to.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RunKey {
    pub project_id: String,
    pub strategy: String,
    pub fold: u32,
}

/// One test pair of a run: the developer's test and the outputs, best first.
#[derive(Debug, Clone)]
pub struct Scored<'a> {
    pub pair_id: &'a str,
    pub reference: &'a str,
    pub outputs: Vec<&'a str>,
}

/// The metrics of a run and its per-test scores. `test_loss` comes from the finetune table
/// (the loss the training loop computes on the same test part); NaN when it has none.
pub fn score_run(
    key: &RunKey,
    tests: &[Scored<'_>],
    abstractor: &Abstractor,
    test_loss: f64,
) -> Result<(Vec<MetricRow>, Vec<TestScoreRow>)> {
    ensure!(
        !tests.is_empty(),
        "{}/{}/fold{} has no test pairs to score",
        key.project_id,
        key.strategy,
        key.fold
    );
    let references: Vec<&str> = tests.iter().map(|t| t.reference).collect();
    let top1: Vec<&str> = tests
        .iter()
        .map(|t| t.outputs.first().copied().unwrap_or(""))
        .collect();
    let corpus = corpus_bleu(&top1, &references).context("corpus BLEU")?;
    let style = StyleSimilarity::from_tests(&references, &top1);
    let mut exact = TopKRates::default();
    let mut abstracted = TopKRates::default();
    let mut scores = Vec::with_capacity(tests.len());
    for (i, test) in tests.iter().enumerate() {
        let e = top_k_exact(&test.outputs, test.reference);
        let a = abstractor.top_k(&test.outputs, test.reference);
        exact.add(e);
        abstracted.add(a);
        scores.push(TestScoreRow {
            pair_id: test.pair_id.to_string(),
            project_id: key.project_id.clone(),
            strategy: key.strategy.clone(),
            fold: key.fold,
            sentence_bleu: codexglue_sentence_bleu(top1[i], test.reference),
            exact_rank: e.first_rank().map_or(0, |r| r as u32),
            abstract_rank: a.first_rank().map_or(0, |r| r as u32),
            // No identifier anywhere (tf-idf has no vocabulary): similarity is undefined.
            style_similarity: style.as_ref().map_or(f64::NAN, |s| s.per_test[i]),
            valid: is_valid_method(top1[i]),
        });
    }
    let n = tests.len() as f64;
    let mean = |f: fn(&TestScoreRow) -> f64| scores.iter().map(f).sum::<f64>() / n;
    let row = |metric: &str, value: f64| MetricRow {
        project_id: key.project_id.clone(),
        strategy: key.strategy.clone(),
        fold: key.fold,
        metric: metric.to_string(),
        value,
    };
    let mut rows = vec![
        row(metric::N, n),
        row(metric::TEST_LOSS, test_loss),
        row(metric::PERPLEXITY, test_loss.exp()),
        row(metric::BLEU_CORPUS, corpus.score),
        row(metric::BLEU_SENTENCE, mean(|s| s.sentence_bleu)),
        row(
            metric::STYLE,
            style.as_ref().map_or(f64::NAN, |s| s.project),
        ),
        row(metric::STYLE_MEAN, mean(|s| s.style_similarity)),
        row(metric::VALID, mean(|s| f64::from(u8::from(s.valid)))),
    ];
    for k in 1..=crate::metrics::exact::K {
        rows.push(row(&metric::exact(k), exact.rate(k)));
        rows.push(row(&metric::abstracted(k), abstracted.rate(k)));
    }
    Ok((rows, scores))
}

/// The share of `tests` flagged in `duplicate` (tests whose developer test also occurs in the
/// fold's training part) and corpus BLEU-4, top-1 and top-5 exact match over the other tests
/// ([`metric::UNIQUE`]; NaN when every test is a duplicate).
pub fn duplicate_metrics(
    key: &RunKey,
    tests: &[Scored<'_>],
    duplicate: &[bool],
    abstractor: &Abstractor,
) -> Result<Vec<MetricRow>> {
    ensure!(
        tests.len() == duplicate.len(),
        "one duplicate flag per test"
    );
    let row = |metric: &str, value: f64| MetricRow {
        project_id: key.project_id.clone(),
        strategy: key.strategy.clone(),
        fold: key.fold,
        metric: metric.to_string(),
        value,
    };
    let n = tests.len().max(1) as f64;
    let share = duplicate.iter().filter(|&&d| d).count() as f64 / n;
    let unique: Vec<Scored<'_>> = tests
        .iter()
        .zip(duplicate)
        .filter(|(_, d)| !**d)
        .map(|(t, _)| t.clone())
        .collect();
    let values: [f64; 3] = if unique.is_empty() {
        [f64::NAN; 3]
    } else {
        let (rows, _) = score_run(key, &unique, abstractor, f64::NAN)?;
        let get = |name: &str| {
            rows.iter()
                .find(|r| r.metric == name)
                .map_or(f64::NAN, |r| r.value)
        };
        [
            get(metric::BLEU_CORPUS),
            get(&metric::exact(1)),
            get(&metric::exact(5)),
        ]
    };
    let mut rows = vec![row(metric::DUPLICATE_SHARE, share)];
    rows.extend(metric::UNIQUE.iter().zip(values).map(|(m, v)| row(m, v)));
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> RunKey {
        RunKey {
            project_id: "demo".into(),
            strategy: "custom".into(),
            fold: 0,
        }
    }

    fn value(rows: &[MetricRow], metric: &str) -> f64 {
        rows.iter().find(|r| r.metric == metric).unwrap().value
    }

    #[test]
    fn a_test_found_at_rank_two_counts_from_top_two_on() {
        let reference = "@Test public void testAdd() { assertEquals(2, calc.add(1, 1)); }";
        let renamed = "@Test public void testPlus() { assertEquals(2, c.plus(1, 1)); }";
        let spaced = "@Test public void testAdd(){assertEquals(2,calc.add(1,1));}";
        let tests = [
            Scored {
                pair_id: "a",
                reference,
                outputs: vec![renamed, spaced, "x"],
            },
            Scored {
                pair_id: "b",
                reference: "@Test void t() { foo(); }",
                outputs: vec!["@Test void t() {"],
            },
        ];
        let (rows, scores) = score_run(&key(), &tests, &Abstractor::default(), 0.5).unwrap();
        assert_eq!(value(&rows, "n"), 2.0);
        assert_eq!(value(&rows, "exact_top1"), 0.0);
        assert_eq!(value(&rows, "exact_top2"), 0.5);
        assert_eq!(value(&rows, "exact_top5"), 0.5);
        // The renamed test has the same abstract shape at rank 1.
        assert_eq!(value(&rows, "abstract_top1"), 0.5);
        assert!((value(&rows, "perplexity") - 0.5f64.exp()).abs() < 1e-12);
        assert_eq!(scores[0].exact_rank, 2);
        assert_eq!(scores[0].abstract_rank, 1);
        assert_eq!(scores[1].exact_rank, 0);
        assert!(scores[0].valid);
        assert!(!scores[1].valid);
        assert_eq!(value(&rows, "syntax_valid"), 0.5);
        let bleu = value(&rows, "bleu4_corpus");
        assert!(bleu > 0.0 && bleu < 100.0, "{bleu}");
    }

    #[test]
    fn duplicates_are_counted_and_left_out_of_the_unique_scores() {
        let copy = "@Test void a() { x(); }";
        let tests = [
            Scored {
                pair_id: "dup",
                reference: copy,
                outputs: vec![copy],
            },
            Scored {
                pair_id: "new",
                reference: "@Test void b() { y(1); }",
                outputs: vec!["@Test void c() { z(); }", "@Test void b() { y(1); }"],
            },
        ];
        let a = Abstractor::default();
        let rows = duplicate_metrics(&key(), &tests, &[true, false], &a).unwrap();
        assert_eq!(value(&rows, metric::DUPLICATE_SHARE), 0.5);
        // With the copied test: top-1 exact 0.5; without it, 0 (and top-5 finds the other).
        assert_eq!(value(&rows, "exact_top1_unique"), 0.0);
        assert_eq!(value(&rows, "exact_top5_unique"), 1.0);
        let all = duplicate_metrics(&key(), &tests, &[true, true], &a).unwrap();
        assert_eq!(value(&all, metric::DUPLICATE_SHARE), 1.0);
        assert!(value(&all, "bleu4_corpus_unique").is_nan());
        assert!(duplicate_metrics(&key(), &tests, &[true], &a).is_err());
    }

    #[test]
    fn a_run_without_tests_is_an_error() {
        assert!(score_run(&key(), &[], &Abstractor::default(), 1.0).is_err());
    }
}
