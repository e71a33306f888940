//! Throughput of the evaluation metrics on the fixture's developer/generated test pairs,
//! repeated to the size of a test fold (`make bench-metrics`).
//!
//! Evaluation scores every (project, strategy, fold) run's top-5 outputs, so BLEU, abstraction
//! and tf-idf run over tens of thousands of tests per report; these report bytes/s of Java
//! processed.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use serde_json::Value;
use tailor::metrics::{
    Abstractor, StyleSimilarity, codexglue_bleu, corpus_bleu, idioms_from, is_valid_method,
};

/// The fixture's pairs repeated to about `target` pairs: (developer test, top-1 output).
fn pairs(target: usize) -> (Vec<String>, Vec<String>) {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/metrics/inputs.json");
    let inputs: Value = serde_json::from_str(&std::fs::read_to_string(path).expect(path))
        .expect("fixtures/metrics/inputs.json is JSON");
    let base: Vec<(String, String)> = inputs["pairs"]
        .as_array()
        .expect("a `pairs` array")
        .iter()
        .map(|p| {
            let top1 = p["predictions"][0].as_str().unwrap_or("").to_string();
            (
                p["developer"].as_str().expect("developer").to_string(),
                top1,
            )
        })
        .collect();
    base.iter().cycle().take(target).cloned().unzip()
}

fn bench(c: &mut Criterion) {
    let (refs, hyps) = pairs(2_000);
    let bytes: u64 = refs.iter().chain(&hyps).map(|s| s.len() as u64).sum();
    let mut group = c.benchmark_group("metrics");
    group.sample_size(10);
    group.throughput(Throughput::Bytes(bytes));
    group.bench_function("sacrebleu_corpus_bleu", |b| {
        b.iter(|| corpus_bleu(black_box(&hyps), black_box(&refs)).unwrap())
    });
    group.bench_function("codexglue_sentence_bleu", |b| {
        b.iter(|| codexglue_bleu(black_box(&hyps), black_box(&refs)).unwrap())
    });
    let abstractor = Abstractor::new(idioms_from(&refs, 100));
    group.bench_function("abstracted_match", |b| {
        b.iter(|| {
            refs.iter()
                .zip(&hyps)
                .filter(|(r, h)| abstractor.matches(h, r))
                .count()
        })
    });
    group.bench_function("style_tfidf", |b| {
        b.iter(|| StyleSimilarity::from_tests(black_box(&refs), black_box(&hyps)).unwrap())
    });
    // Validity parses only the outputs.
    group.throughput(Throughput::Bytes(hyps.iter().map(|s| s.len() as u64).sum()));
    group.bench_function("validity", |b| {
        b.iter(|| hyps.iter().filter(|h| is_valid_method(h)).count())
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
