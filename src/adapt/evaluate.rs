//! The held-out test part of an own project measured three ways: the adapted model, the
//! un-customized base, and retrieval from the training part (the `ir` strategy's top-5 adapted
//! tests), with the metrics `tailor evaluate` reports for the corpus (test loss, sacrebleu
//! corpus BLEU-4 of the top-1 outputs, top-1 and top-5 exact match ignoring whitespace), so a
//! user sees whether the adapter is worth it before using it.
//!
//! Generation is beam search with the base's `generation_config.json` forced to 5 × 5, as
//! `evaluate` does; references are the decoded target ids (a test cut to `max_target` is
//! compared cut), and a retrieved test is normalised and cut to the generation length as a
//! generated one would be. Beam search is the slow part, so it runs on at most `max_test` test
//! pairs (the first by pair id, a hash, so an unbiased sample); the test loss uses them all.

use anyhow::{Context, Result, ensure};
use burn::prelude::*;
use indicatif::{ProgressBar, ProgressStyle};

use super::data::Split;
use super::registry::{AdaptMetrics, HeldOut};
use crate::data::context::model_target;
use crate::data::examples::{Example, truncate};
use crate::data::tokenizer::CodeTokenizer;
use crate::generate::GenerationConfig;
use crate::generate::requests::{Models, Request, generate_requests};
use crate::metrics::{TopKRates, corpus_bleu, top_k_exact};
use crate::mining::Pair;
use crate::model::BartForConditionalGeneration;
use crate::retrieve::{Bm25, TOP_K, fold_predictions};
use crate::train::trainer;

/// Inputs generated for at once.
const BATCH_SIZE: usize = 16;

/// What the evaluation runs on.
pub struct HeldOutRun<'a> {
    pub base: &'a BartForConditionalGeneration,
    pub adapted: &'a BartForConditionalGeneration,
    /// The base's generation settings ([`crate::evaluate::generation_config`]).
    pub config: &'a GenerationConfig,
    pub tokenizer: &'a CodeTokenizer,
    /// Every mined pair (retrieval indexes the training part's).
    pub pairs: &'a [Pair],
    pub split: &'a Split,
    /// The test part's examples, in the split's order.
    pub test: &'a [Example],
    /// Test pairs generated for (the test loss uses all).
    pub max_test: usize,
    /// Token budget of a loss batch (the profile's `finetune.train.batch_tokens`).
    pub batch_tokens: usize,
    pub device: &'a Device,
}

/// Generated (or retrieved) outputs of each test pair, best first.
type Outputs = Vec<Vec<String>>;

/// Measures the adapted model, the base and retrieval on the test part.
pub fn held_out(run: &HeldOutRun<'_>) -> Result<AdaptMetrics> {
    ensure!(!run.test.is_empty(), "the test part is empty");
    let all: Vec<&Example> = run.test.iter().collect();
    let loss = |model: &BartForConditionalGeneration| -> Result<f64> {
        Ok(trainer::evaluate(model, &all, run.batch_tokens, run.device)?.0)
    };
    let adapted_loss = loss(run.adapted).context("test loss of the adapted model")?;
    let base_loss = loss(run.base).context("test loss of the base")?;

    let generated: Vec<&Example> = all.iter().copied().take(run.max_test).collect();
    if generated.len() < all.len() {
        eprintln!(
            "adapt: beam search on the first {} of {} test pairs (--max-test); the test loss \
             uses all of them",
            generated.len(),
            all.len()
        );
    }
    let references = generated
        .iter()
        .map(|e| run.tokenizer.decode(&e.target_ids))
        .collect::<Result<Vec<String>>>()?;
    let bar = ProgressBar::new(2 * generated.len() as u64).with_style(
        ProgressStyle::with_template(
            "adapt: beam search {bar:30} {pos}/{len} {elapsed} (eta {eta})",
        )
        .expect("valid template"),
    );
    let adapted_outputs = beam_outputs(run, run.adapted, &generated, &bar)?;
    let base_outputs = beam_outputs(run, run.base, &generated, &bar)?;
    bar.finish_and_clear();
    let retrieved = retrieval_outputs(run, &generated)?;

    Ok(AdaptMetrics {
        adapted: score(&adapted_outputs, &references, Some(adapted_loss))?,
        base: score(&base_outputs, &references, Some(base_loss))?,
        retrieval: score(&retrieved, &references, None)?,
    })
}

/// Beam search's 5 outputs per test with `model`, decoded.
fn beam_outputs(
    run: &HeldOutRun<'_>,
    model: &BartForConditionalGeneration,
    tests: &[&Example],
    bar: &ProgressBar,
) -> Result<Outputs> {
    let requests: Vec<Request<'_>> = tests
        .iter()
        .map(|e| Request {
            adapter: 0,
            input_ids: &e.input_ids,
        })
        .collect();
    let models = [model];
    let outputs = generate_requests(
        &Models::Separate(&models),
        &requests,
        run.config,
        BATCH_SIZE,
        run.device,
        |n| bar.inc(n as u64),
    )?;
    outputs
        .into_iter()
        .map(|outs| {
            outs.into_iter()
                .map(|(ids, _)| run.tokenizer.decode(&ids))
                .collect()
        })
        .collect()
}

/// Retrieval's 5 outputs per test: the tests of the training part whose focal methods are the
/// nearest (BM25), adapted to the test's focal method, cut as a generated test would be.
fn retrieval_outputs(run: &HeldOutRun<'_>, tests: &[&Example]) -> Result<Outputs> {
    let ids: Vec<String> = tests.iter().map(|e| e.pair_id.clone()).collect();
    let predictions = fold_predictions(run.pairs, &run.split.train, &ids, TOP_K, Bm25::default())?;
    predictions
        .iter()
        .map(|p| {
            p.retrieved
                .iter()
                .map(|r| {
                    let ids = run.tokenizer.encode(&model_target(&r.test))?;
                    let (ids, _) = truncate(ids, run.config.max_length);
                    run.tokenizer.decode(&ids)
                })
                .collect()
        })
        .collect()
}

/// BLEU-4 of the top-1 outputs and top-1/top-5 exact match against `references`.
fn score(outputs: &Outputs, references: &[String], test_loss: Option<f64>) -> Result<HeldOut> {
    let top1: Vec<&str> = outputs
        .iter()
        .map(|outs| outs.first().map_or("", String::as_str))
        .collect();
    let bleu = corpus_bleu(&top1, references).context("corpus BLEU")?;
    let mut exact = TopKRates::default();
    for (outs, reference) in outputs.iter().zip(references) {
        exact.add(top_k_exact(outs, reference));
    }
    Ok(HeldOut {
        test_loss,
        bleu: Some(bleu.score),
        exact_top1: Some(exact.rate(1)),
        exact_top5: Some(exact.rate(5)),
    })
}

/// The comparison as a Markdown table: one row per way of writing tests.
pub fn comparison_table(metrics: &AdaptMetrics, strategy: &str) -> String {
    let cell = |value: Option<f64>, digits: usize| {
        value.map_or("—".to_string(), |v| format!("{v:.digits$}"))
    };
    let percent =
        |value: Option<f64>| value.map_or("—".to_string(), |v| format!("{:.1}%", 100.0 * v));
    let mut text = String::from(
        "| held-out tests | test loss | BLEU-4 | exact top-1 | exact top-5 |\n|---|---:|---:|---:|---:|\n",
    );
    for (name, m) in [
        (format!("adapted ({strategy})"), &metrics.adapted),
        ("base".to_string(), &metrics.base),
        ("retrieval (training part)".to_string(), &metrics.retrieval),
    ] {
        text.push_str(&format!(
            "| {name} | {} | {} | {} | {} |\n",
            cell(m.test_loss, 4),
            cell(m.bleu, 2),
            percent(m.exact_top1),
            percent(m.exact_top5)
        ));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outputs_score_bleu_and_exact_match_ignoring_whitespace() {
        let references = vec![
            "@Test void a() { x(); }".to_string(),
            "@Test void b() { y(1); }".to_string(),
        ];
        let outputs = vec![
            vec!["@Test void a(){ x(); }".to_string()],
            vec!["@Test void c() { z(); }".to_string(), references[1].clone()],
        ];
        let held = score(&outputs, &references, Some(1.5)).unwrap();
        assert_eq!(held.exact_top1, Some(0.5));
        assert_eq!(held.exact_top5, Some(1.0));
        assert_eq!(held.test_loss, Some(1.5));
        let bleu = held.bleu.unwrap();
        assert!(bleu > 0.0 && bleu < 100.0, "{bleu}");
        let table = comparison_table(
            &AdaptMetrics {
                adapted: held.clone(),
                base: held,
                retrieval: HeldOut::default(),
            },
            "lora",
        );
        assert!(table.contains("| adapted (lora) | 1.5000 |"), "{table}");
        assert!(
            table.contains("| retrieval (training part) | — | — | — | — |"),
            "{table}"
        );
    }
}
