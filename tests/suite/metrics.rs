//! The evaluation metrics against their reference implementations: values computed once by
//! sacrebleu 2.6, CodeXGLUE's `bleu.py`, scikit-learn 1.9 and SciPy 1.17
//! (`make fixtures-metrics`, `pipelines/python/metrics_reference.py`) on the hand-written test
//! pairs of `fixtures/metrics/inputs.json`, committed as `fixtures/metrics/expected.json`; the
//! permutation p-values of Table 4 against SciPy's exact counts on the groups of
//! `fixtures/metrics/permutation_inputs.json` (`permutation_expected.json`).

use std::collections::BTreeMap;

use serde_json::Value;
use tailor::metrics::permutation::{
    PermutationMethod, PermutationOptions, kruskal_permutation, two_sample,
};
use tailor::metrics::{
    Abstractor, Idioms, Perplexity, StyleSimilarity, TopKRates, Validity, codexglue_bleu,
    codexglue_sentence_bleu, corpus_bleu, effect_size, identifier_document, idioms_from,
    is_valid_method, kruskal, tokenize_13a, top_k_exact,
};

fn load(name: &str) -> Value {
    let path = format!("{}/fixtures/metrics/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).expect(&path)).expect(&path)
}

struct Pair {
    id: String,
    project: String,
    developer: String,
    predictions: Vec<String>,
    top1_valid: bool,
}

impl Pair {
    fn top1(&self) -> &str {
        self.predictions.first().map_or("", String::as_str)
    }
}

fn pairs(inputs: &Value) -> Vec<Pair> {
    inputs["pairs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| Pair {
            id: p["id"].as_str().unwrap().into(),
            project: p["project"].as_str().unwrap().into(),
            developer: p["developer"].as_str().unwrap().into(),
            predictions: p["predictions"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| s.as_str().unwrap().into())
                .collect(),
            top1_valid: p["top1_valid"].as_bool().unwrap(),
        })
        .collect()
}

fn f(v: &Value) -> f64 {
    v.as_f64()
        .unwrap_or_else(|| panic!("expected a number, got {v}"))
}

/// `actual` equals `expected` within `rel` relative error (exactly, when expected is 0).
#[track_caller]
fn assert_close(actual: f64, expected: f64, rel: f64, what: &str) {
    let ok = if expected == 0.0 {
        actual == 0.0
    } else {
        ((actual - expected) / expected).abs() <= rel
    };
    assert!(
        ok,
        "{what}: {actual:e} vs reference {expected:e} (relative error {:e})",
        ((actual - expected) / expected).abs()
    );
}

#[track_caller]
fn assert_sacrebleu(b: &tailor::metrics::CorpusBleu, e: &Value, what: &str) {
    assert_close(b.score, f(&e["score"]), 1e-12, &format!("{what} score"));
    assert_close(b.brevity_penalty, f(&e["bp"]), 1e-12, &format!("{what} bp"));
    assert_eq!(b.sys_len, e["sys_len"].as_u64().unwrap(), "{what} sys_len");
    assert_eq!(b.ref_len, e["ref_len"].as_u64().unwrap(), "{what} ref_len");
    for n in 0..4 {
        assert_eq!(
            b.counts[n],
            e["counts"][n].as_u64().unwrap(),
            "{what} counts[{n}]"
        );
        assert_eq!(
            b.totals[n],
            e["totals"][n].as_u64().unwrap(),
            "{what} totals[{n}]"
        );
        let p = f(&e["precisions"][n]);
        assert_close(
            b.precisions[n],
            p,
            1e-12,
            &format!("{what} precisions[{n}]"),
        );
    }
}

#[test]
fn tokenizer_13a_equals_sacrebleu_on_every_text() {
    let expected = load("expected.json");
    let texts = expected["tokenize_13a"].as_object().unwrap();
    assert!(texts.len() > 40);
    for (text, tokens) in texts {
        assert_eq!(
            tokenize_13a(text.trim_end()),
            tokens.as_str().unwrap(),
            "13a tokens of {text:?}"
        );
    }
}

#[test]
fn corpus_bleu_equals_sacrebleu_over_all_and_per_project() {
    let (inputs, expected) = (load("inputs.json"), load("expected.json"));
    let pairs = pairs(&inputs);
    let hyps: Vec<&str> = pairs.iter().map(Pair::top1).collect();
    let refs: Vec<&str> = pairs.iter().map(|p| p.developer.as_str()).collect();
    let all = corpus_bleu(&hyps, &refs).unwrap();
    assert_sacrebleu(&all, &expected["sacrebleu"]["all_top1"], "all top-1");
    let per_project = expected["sacrebleu"]["per_project_top1"]
        .as_object()
        .unwrap();
    assert_eq!(per_project.len(), 4);
    for (project, e) in per_project {
        let (h, r): (Vec<&str>, Vec<&str>) = pairs
            .iter()
            .filter(|p| &p.project == project)
            .map(|p| (p.top1(), p.developer.as_str()))
            .unzip();
        assert_sacrebleu(&corpus_bleu(&h, &r).unwrap(), e, project);
    }
}

#[test]
fn both_bleus_equal_their_references_on_every_single_prediction() {
    // Empty, one-token, truncated and whitespace-only outputs included.
    let (inputs, expected) = (load("inputs.json"), load("expected.json"));
    let by_id: BTreeMap<String, Pair> = pairs(&inputs)
        .into_iter()
        .map(|p| (p.id.clone(), p))
        .collect();
    let rows = expected["per_prediction"].as_array().unwrap();
    assert_eq!(
        rows.len(),
        by_id.values().map(|p| p.predictions.len()).sum::<usize>()
    );
    for row in rows {
        let pair = &by_id[row["id"].as_str().unwrap()];
        let rank = row["rank"].as_u64().unwrap() as usize;
        let pred = &pair.predictions[rank - 1];
        let what = format!("{} rank {rank}", pair.id);
        let b = corpus_bleu(&[pred], &[&pair.developer]).unwrap();
        assert_sacrebleu(&b, &row["sacrebleu"], &what);
        assert_close(
            codexglue_sentence_bleu(pred, &pair.developer),
            f(&row["codexglue"]),
            1e-12,
            &format!("{what} CodeXGLUE"),
        );
    }
}

#[test]
fn both_bleus_handle_empty_short_and_odd_segments_as_their_references_do() {
    let expected = load("expected.json");
    let cases = expected["bleu_edge_cases"].as_array().unwrap();
    assert!(cases.len() >= 15);
    for case in cases {
        let (hyp, reference) = (case["hyp"].as_str().unwrap(), case["ref"].as_str().unwrap());
        let what = format!("{hyp:?} vs {reference:?}");
        assert_sacrebleu(
            &corpus_bleu(&[hyp], &[reference]).unwrap(),
            &case["sacrebleu"],
            &what,
        );
        assert_close(
            codexglue_sentence_bleu(hyp, reference),
            f(&case["codexglue"]),
            1e-12,
            &format!("{what} CodeXGLUE"),
        );
    }
}

#[test]
fn mean_sentence_bleu_equals_codexglue_over_all_and_per_project() {
    let (inputs, expected) = (load("inputs.json"), load("expected.json"));
    let pairs = pairs(&inputs);
    let hyps: Vec<&str> = pairs.iter().map(Pair::top1).collect();
    let refs: Vec<&str> = pairs.iter().map(|p| p.developer.as_str()).collect();
    let e = &expected["codexglue"];
    assert_close(
        codexglue_bleu(&hyps, &refs).unwrap(),
        f(&e["all_top1"]),
        1e-12,
        "all",
    );
    for (project, value) in e["per_project_top1"].as_object().unwrap() {
        let (h, r): (Vec<&str>, Vec<&str>) = pairs
            .iter()
            .filter(|p| &p.project == project)
            .map(|p| (p.top1(), p.developer.as_str()))
            .unzip();
        assert_close(codexglue_bleu(&h, &r).unwrap(), f(value), 1e-12, project);
    }
}

#[test]
fn top_k_exact_match_ignores_whitespace_as_the_reference_does() {
    let (inputs, expected) = (load("inputs.json"), load("expected.json"));
    let mut rates = TopKRates::default();
    for pair in pairs(&inputs) {
        let hits = top_k_exact(&pair.predictions, &pair.developer);
        let want: Vec<bool> = expected["top_k_exact"][&pair.id]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b.as_bool().unwrap())
            .collect();
        assert_eq!(hits.hits.to_vec(), want, "{}", pair.id);
        rates.add(hits);
    }
    // The fixture holds top-1 hits (identical and whitespace-only differences) and later ones.
    assert!(
        rates.rate(1) > 0.0 && rates.rate(5) > rates.rate(1),
        "{rates:?}"
    );
}

#[test]
fn validity_agrees_with_the_hand_labels() {
    let inputs = load("inputs.json");
    let pairs = pairs(&inputs);
    for pair in &pairs {
        assert!(
            is_valid_method(&pair.developer),
            "developer test {} is valid",
            pair.id
        );
        assert_eq!(
            is_valid_method(pair.top1()),
            pair.top1_valid,
            "top-1 of {}: {:?}",
            pair.id,
            pair.top1()
        );
    }
    let v = Validity::of(&pairs.iter().map(Pair::top1).collect::<Vec<_>>());
    let labelled = pairs.iter().filter(|p| p.top1_valid).count() as u64;
    assert_eq!((v.valid, v.total), (labelled, pairs.len() as u64));
}

#[test]
fn identifier_documents_equal_the_reviewed_ones() {
    let inputs = load("inputs.json");
    let docs = &inputs["style_documents"];
    for pair in pairs(&inputs) {
        assert_eq!(
            identifier_document(&pair.developer),
            docs[&pair.id]["developer"].as_str().unwrap(),
            "{} developer",
            pair.id
        );
        assert_eq!(
            identifier_document(pair.top1()),
            docs[&pair.id]["generated"].as_str().unwrap(),
            "{} generated",
            pair.id
        );
    }
}

#[test]
fn style_similarity_equals_sklearn_per_project_and_per_test() {
    let (inputs, expected) = (load("inputs.json"), load("expected.json"));
    let docs = &inputs["style_documents"];
    let groups = expected["style"].as_array().unwrap();
    assert!(!groups.is_empty());
    for group in groups {
        let ids: Vec<&str> = group["pairs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        let dev: Vec<&str> = ids
            .iter()
            .map(|i| docs[i]["developer"].as_str().unwrap())
            .collect();
        let gen_: Vec<&str> = ids
            .iter()
            .map(|i| docs[i]["generated"].as_str().unwrap())
            .collect();
        let what = format!(
            "{} {} fold {}",
            group["project"], group["strategy"], group["fold"]
        );
        let s = StyleSimilarity::from_documents(&dev, &gen_).unwrap();
        assert_close(s.project, f(&group["project"]), 1e-9, &what);
        let want = group["per_test"].as_array().unwrap();
        assert_eq!(s.per_test.len(), want.len());
        for ((id, got), want) in ids.iter().zip(&s.per_test).zip(want) {
            assert_close(*got, f(want), 1e-9, &format!("{what} {id}"));
        }
    }
}

#[test]
fn kruskal_wallis_and_effect_sizes_equal_scipy() {
    let (inputs, expected) = (load("inputs.json"), load("expected.json"));
    for (set, want) in inputs["kruskal"]
        .as_array()
        .unwrap()
        .iter()
        .zip(expected["kruskal"].as_array().unwrap())
    {
        let groups: Vec<Vec<f64>> = set["groups"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| g.as_array().unwrap().iter().map(f).collect())
            .collect();
        let name = want["name"].as_str().unwrap();
        let r = kruskal(&groups).unwrap();
        assert_close(r.h, f(&want["h"]), 1e-12, &format!("{name} H"));
        assert_close(r.p_value, f(&want["p_value"]), 1e-9, &format!("{name} p"));
        assert_eq!(r.df as u64, want["df"].as_u64().unwrap());
        for e in want["effects"].as_array().unwrap() {
            let (i, j) = (
                e["i"].as_u64().unwrap() as usize,
                e["j"].as_u64().unwrap() as usize,
            );
            let got = effect_size(&groups[i], &groups[j]).unwrap();
            assert_close(got.cliffs_delta, f(&e["cliffs_delta"]), 1e-15, name);
            assert_close(got.a12, f(&e["a12"]), 1e-15, name);
        }
    }
}

fn groups_of(case: &Value) -> Vec<Vec<f64>> {
    case["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g.as_array().unwrap().iter().map(f).collect())
        .collect()
}

#[test]
fn permutation_p_values_equal_scipy_exact_counts() {
    let (inputs, expected) = (
        load("permutation_inputs.json"),
        load("permutation_expected.json"),
    );
    let (cases, wants) = (
        inputs["cases"].as_array().unwrap(),
        expected["cases"].as_array().unwrap(),
    );
    assert_eq!(cases.len(), wants.len());
    let options = PermutationOptions::default();
    let (mut exact, mut sampled, mut with_ties) = (0, 0, 0);
    for (case, want) in cases.iter().zip(wants) {
        let name = want["name"].as_str().unwrap();
        assert_eq!(case["name"], want["name"]);
        let groups = groups_of(case);
        with_ties += usize::from(want["ties"].as_bool().unwrap());
        let r = kruskal_permutation(&groups, &options).unwrap();
        assert_close(r.h, f(&want["h"]), 1e-12, &format!("{name} H"));
        let p = f(&want["two_sided"]);
        match r.method {
            PermutationMethod::Exact { assignments } => {
                exact += 1;
                assert_eq!(assignments, f(&want["assignments"]), "{name}");
                assert_close(r.p_value, p, 1e-9, &format!("{name} two-sided p"));
            }
            PermutationMethod::MonteCarlo { resamples, .. } => {
                // Sampled only past the enumeration limit; within 4 standard errors of SciPy's
                // exact count.
                sampled += 1;
                assert!(f(&want["assignments"]) > options.max_exact, "{name}");
                let se = (p * (1.0 - p) / resamples as f64).sqrt();
                assert!(
                    (r.p_value - p).abs() < 4.0 * se,
                    "{name}: Monte Carlo {} vs exact {p} (se {se:e})",
                    r.p_value
                );
            }
        }
        if let [x, y] = groups.as_slice() {
            let t = two_sample(x, y, &options).unwrap();
            assert!(
                matches!(t.method, PermutationMethod::Exact { .. }),
                "{name}"
            );
            assert_close(t.two_sided, p, 1e-9, &format!("{name} two-sided p"));
            assert_close(t.greater, f(&want["greater"]), 1e-9, &format!("{name} >"));
            assert_close(t.less, f(&want["less"]), 1e-9, &format!("{name} <"));
            if let Some(m) = want.get("mannwhitneyu_exact") {
                assert_close(t.two_sided, f(&m["two-sided"]), 1e-9, name);
                assert_close(t.greater, f(&m["greater"]), 1e-9, name);
                assert_close(t.less, f(&m["less"]), 1e-9, name);
            }
            let e = effect_size(x, y).unwrap();
            assert_close(e.a12, f(&want["effect"]["a12"]), 1e-15, name);
            assert_close(
                e.cliffs_delta,
                f(&want["effect"]["cliffs_delta"]),
                1e-15,
                name,
            );
        }
    }
    assert!(
        exact >= 10 && sampled >= 1 && with_ties >= 5,
        "{exact} {sampled} {with_ties}"
    );
}

#[test]
fn the_papers_three_projects_are_significant_only_by_the_chi_square_approximation() {
    let expected = load("permutation_expected.json");
    let case = expected["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "paper-3v3-complete-separation")
        .unwrap();
    let (inputs, want) = (load("permutation_inputs.json"), case);
    let groups = groups_of(&inputs["cases"][0]);
    assert_eq!(inputs["cases"][0]["name"], want["name"]);
    let chi2 = kruskal(&groups).unwrap().p_value;
    assert_close(chi2, f(&want["p_asymptotic"]), 1e-9, "chi-square p");
    assert!(chi2 < 0.05, "{chi2}");
    let t = two_sample(&groups[0], &groups[1], &PermutationOptions::default()).unwrap();
    assert_close(t.two_sided, 0.1, 1e-12, "exact two-sided p");
    assert_close(t.greater, 0.05, 1e-12, "exact one-sided p");
}

#[test]
fn perplexity_is_exp_of_the_mean_token_loss_as_computed_in_python() {
    let (inputs, expected) = (load("inputs.json"), load("expected.json"));
    for (set, want) in inputs["perplexity"]
        .as_array()
        .unwrap()
        .iter()
        .zip(expected["perplexity"].as_array().unwrap())
    {
        let mut p = Perplexity::new();
        for batch in set["batches"].as_array().unwrap() {
            p.add(f(&batch[0]), batch[1].as_u64().unwrap());
        }
        assert_close(
            p.mean_loss().unwrap(),
            f(&want["mean_loss"]),
            1e-15,
            "mean loss",
        );
        assert_close(
            p.perplexity().unwrap(),
            f(&want["perplexity"]),
            1e-15,
            "perplexity",
        );
    }
}

#[test]
fn abstracted_match_sees_through_renamed_names_and_changed_literals() {
    let inputs = load("inputs.json");
    let pairs: BTreeMap<String, Pair> = pairs(&inputs)
        .into_iter()
        .map(|p| (p.id.clone(), p))
        .collect();
    let training: Vec<&str> = inputs["training"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    let idioms = idioms_from(&training, inputs["idioms_top_n"].as_u64().unwrap() as usize);
    assert!(
        idioms.contains("assertEquals") && idioms.contains("Test"),
        "{:?}",
        idioms.sorted()
    );
    let a = Abstractor::new(idioms);
    // Renamed variables, other strings and numbers, same structure: abstracted match, not exact.
    for id in ["jsoup-02", "jsoup-05", "joda-06", "io-06"] {
        let p = &pairs[id];
        assert!(a.top_k(&p.predictions, &p.developer).hit_at(1), "{id}");
        assert!(!top_k_exact(&p.predictions, &p.developer).hit_at(1), "{id}");
    }
    // Not an abstracted match: a literal used twice in the test but once in the output
    // (joda-02); an idiom (`a`, `1`) the output renamed (joda-04, lang-05).
    for id in ["joda-02", "joda-04", "lang-05"] {
        let p = &pairs[id];
        assert!(!a.top_k(&p.predictions, &p.developer).hit_at(1), "{id}");
    }
    // Without idioms, joda-04 and lang-05 match.
    let bare = Abstractor::new(Idioms::default());
    for id in ["joda-04", "lang-05"] {
        let p = &pairs[id];
        assert!(bare.top_k(&p.predictions, &p.developer).hit_at(1), "{id}");
    }
    // Every exact match is an abstracted match.
    for p in pairs.values() {
        let exact = top_k_exact(&p.predictions, &p.developer);
        let abstracted = a.top_k(&p.predictions, &p.developer);
        for k in 1..=5 {
            assert!(!exact.hit_at(k) || abstracted.hit_at(k), "{} k={k}", p.id);
        }
    }
    // Broken output still abstracts, token by token.
    assert_eq!(
        Abstractor::new(Idioms::default()).abstract_code(pairs["io-04"].top1()),
        "@ TYPE_1 public void METHOD_1 ( ) { METHOD_2 ( STRING_1 , TYPE_2 . METHOD_3 ( STRING_2 , \
         true ) ) ; METHOD_4 ( TYPE_2 . METHOD_3 ( STRING_3 ) )"
    );
}
