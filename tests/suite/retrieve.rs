//! Retrieval (issue 17): leakage rules, ties, top-k order, name adaptation, `tailor retrieve`,
//! and the `ir` strategy through evaluate and report on the smoke profile.

use crate::common;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;

use common::{mine_training_fixtures, run_ok, smoke_finetune, tailor};
use tailor::evaluate::metric;
use tailor::mining::{Framework, Heuristic, Pair};
use tailor::retrieve::{
    Allowed, Bm25, FocalNames, FocalQuery, IR_STRATEGY, ProjectIndex, ProjectPairs, adapt_test,
    fold_predictions, nearest_within_projects, retrieve,
};
use tailor::tables::pairs::{read_pairs, write_pairs};
use tailor::tables::predictions::PredictionRow;
use tailor::tables::table_path;

fn pair(id: &str, project: &str, class: &str, method: &str, body: &str, test: &str) -> Pair {
    Pair {
        pair_id: id.into(),
        project_id: project.into(),
        test_file: format!("src/test/{class}Test.java"),
        test_class: format!("{class}Test"),
        test_method: format!("test{method}"),
        test_body: test.into(),
        focal_file: format!("src/main/{class}.java"),
        focal_class: class.into(),
        focal_method: method.into(),
        focal_signature: String::new(),
        focal_body: body.into(),
        heuristic: Heuristic::Name,
        framework: Framework::Junit4,
        class_signature: format!("public class {class}"),
        constructors: vec![],
        method_signatures: vec![],
        fields: vec![],
    }
}

/// A small project: adders, a subtractor, a clearer, and a pair of exact twins.
fn calculator() -> Vec<Pair> {
    let p = |id: &str, method: &str, body: &str| {
        let test = format!(
            "@Test public void test{0}() {{ Calculator calculator = new Calculator(); \
             assertEquals(2, calculator.{method}(1, 1)); }}",
            capitalise(method)
        );
        pair(id, "calc", "Calculator", method, body, &test)
    };
    vec![
        p(
            "p3",
            "add",
            "public int add(int a, int b) { return a + b; }",
        ),
        p(
            "p1",
            "addAll",
            "public int addAll(int[] values) { return sum(values); }",
        ),
        p(
            "p2",
            "subtract",
            "public int subtract(int a, int b) { return a - b; }",
        ),
        p("p4", "clear", "public void clear() { memory.reset(); }"),
        p(
            "t1",
            "twin",
            "public long twin(long first) { return first * first; }",
        ),
        p(
            "t0",
            "twin",
            "public long twin(long first) { return first * first; }",
        ),
    ]
}

fn capitalise(word: &str) -> String {
    let mut chars = word.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

fn index(pairs: &[Pair]) -> ProjectPairs<'_> {
    ProjectPairs::new(pairs, Bm25::default())
}

#[test]
fn a_pair_never_retrieves_itself() {
    let pairs = calculator();
    let project = index(&pairs);
    for doc in 0..project.index.len() {
        let hits = project.index.search_doc(doc, 10, Allowed::All);
        assert!(hits.iter().all(|h| h.doc != doc), "{doc}: {hits:?}");
    }
    // Its exact twin (another pair with the same focal method) is still found, first.
    let t0 = project.index.position("t0").unwrap();
    assert_eq!(
        project.index.search_doc(t0, 1, Allowed::All)[0].pair_id,
        "t1"
    );
    // Over a corpus: never itself, never another project's pair.
    let mut corpus = pairs.clone();
    let mut other = pair("o1", "other", "Calculator", "add", &pairs[0].focal_body, "");
    other.test_body = "@Test public void x() {}".into();
    corpus.push(other);
    let nearest = nearest_within_projects(&corpus, 5, Bm25::default());
    for (query, hits) in corpus.iter().zip(&nearest) {
        let projects: HashSet<&str> = corpus
            .iter()
            .filter(|p| hits.iter().any(|h| h.pair_id == p.pair_id))
            .map(|p| p.project_id.as_str())
            .collect();
        assert!(hits.iter().all(|h| h.pair_id != query.pair_id));
        assert!(
            projects.iter().all(|p| *p == query.project_id),
            "{projects:?}"
        );
    }
    assert!(
        nearest[corpus.len() - 1].is_empty(),
        "o1 is alone in its project"
    );
}

#[test]
fn a_search_returns_only_allowed_pairs() {
    let pairs = calculator();
    let project = index(&pairs);
    let allowed = project.allowed(["p2", "p4"]);
    let add = project.index.position("p3").unwrap();
    let hits = project.index.search_doc(add, 5, Allowed::Only(&allowed));
    let ids: Vec<&str> = hits.iter().map(|h| h.pair_id.as_str()).collect();
    assert_eq!(ids, ["p2"], "p4 shares no term with add; p1 is not allowed");
    let text = project
        .index
        .search_text("int add(int a, int b)", 5, Allowed::Only(&allowed));
    assert!(
        text.iter()
            .all(|h| ["p2", "p4"].contains(&h.pair_id.as_str()))
    );
}

#[test]
fn a_fold_retrieves_from_its_training_part_only() {
    let pairs = calculator();
    let ids = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let (train, test) = (ids(&["p1", "p4", "t0"]), ids(&["p3", "t1"]));
    let predictions = fold_predictions(&pairs, &train, &test, 5, Bm25::default()).unwrap();
    assert_eq!(predictions.len(), 2);
    for (p, id) in predictions.iter().zip(&test) {
        assert_eq!(&p.pair_id, id, "in the test part's order");
        assert!(!p.retrieved.is_empty());
        assert!(
            p.retrieved.iter().all(|r| train.contains(&r.pair_id)),
            "{p:?}"
        );
    }
    // `add` retrieves `addAll`'s test, renamed: a new method name, the class is the same.
    let add = &predictions[0].retrieved[0];
    assert_eq!(add.pair_id, "p1");
    assert!(add.test.contains("testAdd()") && add.test.contains("calculator.add(1, 1)"));
    // The twin's test equals a training test: an exact duplicate across parts.
    let flags: Vec<bool> = predictions.iter().map(|p| p.duplicate_in_train).collect();
    assert_eq!(flags, [false, true]);
    // A fold whose parts overlap is refused; an unknown id is named.
    let leak = fold_predictions(&pairs, &train, &ids(&["p1"]), 5, Bm25::default());
    assert!(format!("{:#}", leak.unwrap_err()).contains("leaks"));
    let unknown = fold_predictions(&pairs, &train, &ids(&["nope"]), 5, Bm25::default());
    assert!(format!("{:#}", unknown.unwrap_err()).contains("nope"));
}

#[test]
fn ties_break_by_pair_id_whatever_the_input_order() {
    let body = "int size() { return count; }";
    let docs = [
        ("b", body),
        ("c", body),
        ("a", body),
        ("d", "void other() {}"),
    ];
    let forward = ProjectIndex::build(docs.iter().copied(), Bm25::default());
    let backward = ProjectIndex::build(docs.iter().rev().copied(), Bm25::default());
    for idx in [&forward, &backward] {
        let hits = idx.search_text(body, 5, Allowed::All);
        let ids: Vec<&str> = hits.iter().map(|h| h.pair_id.as_str()).collect();
        assert_eq!(ids, ["a", "b", "c"]);
        assert!(hits.windows(2).all(|w| w[0].score == w[1].score));
    }
    assert_eq!(forward.pair_ids(), backward.pair_ids());
}

#[test]
fn top_k_is_best_first_and_at_most_k() {
    let pairs = calculator();
    let project = index(&pairs);
    let query = "public int add(int a, int b) { return a + b; }";
    let all = project.index.search_text(query, 100, Allowed::All);
    assert!(
        all.windows(2).all(|w| w[0].score > w[1].score
            || (w[0].score == w[1].score && w[0].pair_id < w[1].pair_id))
    );
    assert_eq!(all[0].pair_id, "p3", "its own text ranks first when it may");
    for k in 0..=all.len() {
        assert_eq!(project.index.search_text(query, k, Allowed::All), all[..k]);
    }
}

#[test]
fn adaptation_renames_the_focal_method_as_a_word() {
    let from = FocalNames::new("add", "Calculator");
    let to = FocalNames::new("sub", "Calculator");
    let test = "@Test public void testAdd() { int address = calc.add(1, 2); \
                assertEquals(3, calc.addAll(x)); assertTrue(shouldAddTwice()); } // add";
    assert_eq!(
        adapt_test(test, from, to),
        "@Test public void testSub() { int address = calc.sub(1, 2); \
         assertEquals(3, calc.addAll(x)); assertTrue(shouldSubTwice()); } // add"
    );
    assert_eq!(
        adapt_test("void test_add() { f(this::add); }", from, to),
        "void test_sub() { f(this::sub); }"
    );
    assert_eq!(
        adapt_test("add_returnsSum(); addOne();", from, to),
        "sub_returnsSum(); addOne();"
    );
    // Literals keep their text; the method name repeated in a string is not code.
    assert_eq!(
        adapt_test(r#"assertEquals("add", add('a'));"#, from, to),
        r#"assertEquals("add", sub('a'));"#
    );
}

#[test]
fn adaptation_renames_the_focal_class_where_it_differs() {
    let from = FocalNames::new("push", "Outer.Stack");
    let to = FocalNames::new("enqueue", "Queue");
    let test = "public void testPush() { Stack stack = new Stack(); stack.push(1); \
                StackTest.helper(stackSize); Stacks.of(); }";
    assert_eq!(
        adapt_test(test, from, to),
        "public void testEnqueue() { Queue queue = new Queue(); queue.enqueue(1); \
         QueueTest.helper(queueSize); Stacks.of(); }"
    );
    // Same names: the test comes back as it is.
    assert_eq!(adapt_test(test, from, from), test);
}

#[test]
fn adaptation_keeps_longer_names_whole() {
    // A method `fooBar` wins over a class `Foo` in `testFooBar`.
    let from = FocalNames::new("fooBar", "Foo");
    let to = FocalNames::new("bazQux", "Zap");
    assert_eq!(
        adapt_test(
            "void testFooBar() { new Foo().fooBar(); food(); }",
            from,
            to
        ),
        "void testBazQux() { new Zap().bazQux(); food(); }"
    );
}

/// A pairs table with `calculator()` under `out`.
fn write_calculator(out: &Path) {
    let path = table_path(out, "pairs");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    write_pairs(&calculator(), &path).unwrap();
}

#[test]
fn retrieve_finds_a_java_files_method_and_names_what_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    write_calculator(dir.path());
    let java = dir.path().join("Abacus.java");
    std::fs::write(
        &java,
        "public class Abacus {\n  public int plus(int a, int b) { return a + b; }\n  \
         int twice(int a) { return 2 * a; }\n  int twice(long a) { return 2 * (int) a; }\n}\n",
    )
    .unwrap();
    let query = |method: &str| FocalQuery::JavaMethod {
        file: java.clone(),
        method: method.into(),
    };
    // `subtract` and `add` share the same terms with `plus` (a, b): a tie, p2 before p3.
    let found = retrieve(dir.path(), "calc", &query("plus"), 2).unwrap();
    let ids: Vec<&str> = found.iter().map(|s| s.pair_id.as_str()).collect();
    assert_eq!(ids, ["p2", "p3"]);
    assert_eq!(found[0].score, found[1].score);
    assert!(
        found[0].adapted.contains("testPlus()"),
        "{}",
        found[0].adapted
    );
    assert!(
        found[0].adapted.contains("abacus.plus(1, 1)"),
        "{}",
        found[0].adapted
    );
    assert!(
        found[0].adapted.contains("Abacus abacus = new Abacus()"),
        "{}",
        found[0].adapted
    );
    let err = |q: &FocalQuery, project: &str| {
        format!("{:#}", retrieve(dir.path(), project, q, 5).unwrap_err())
    };
    assert!(err(&query("minus"), "calc").contains("no method \"minus\""));
    assert!(err(&query("twice"), "calc").contains("overloaded"));
    assert!(err(&query("plus"), "nowhere").contains("\"nowhere\""));

    // The same through the binary, with the method as text.
    let stdout = run_ok(
        tailor()
            .args(["retrieve", "--project", "calc", "-k", "1", "--focal"])
            .arg("public int subtract(int x, int y) { return x - y; }")
            .arg("--out")
            .arg(dir.path()),
    );
    assert!(
        stdout.contains("pair p2") && stdout.contains("testSubtract()"),
        "{stdout}"
    );
}

#[test]
fn ir_predictions_and_metrics_reach_evaluate_and_report_on_the_smoke_profile() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path();
    mine_training_fixtures(out);
    run_ok(&mut smoke_finetune(out, "custom,ir", &[]));
    // The sweep's `ir` row beside each baseline row: 0 parameters, no loss.
    let finetune_path = table_path(out, "finetune");
    let rows = tailor::tables::finetune::read_rows(&finetune_path).unwrap();
    for baseline in rows.iter().filter(|r| r.strategy == "baseline") {
        let ir = rows
            .iter()
            .find(|r| {
                r.strategy == IR_STRATEGY
                    && r.project_id == baseline.project_id
                    && r.fold == baseline.fold
            })
            .expect("an ir row per baseline row");
        assert_eq!((ir.trainable_params, ir.pf_seconds), (0, 0.0));
        assert!(ir.test_loss.is_nan());
    }
    let evaluate = |strategy: &str| {
        let mut command = tailor();
        command
            .args([
                "evaluate",
                "--profile",
                "smoke",
                "--max-test",
                "4",
                "--batch-size",
                "4",
            ])
            .args(["--strategy", strategy, "--out"])
            .arg(out);
        command
    };
    let stdout = run_ok(&mut evaluate("ir"));
    assert!(!stdout.contains(" 0 run(s) evaluated"), "{stdout}");

    // Up to five ranked, non-empty outputs per test pair.
    let predictions =
        tailor::tables::predictions::read_rows(&table_path(out, "predictions")).unwrap();
    let mut ranks: BTreeMap<(String, u32, String), Vec<u32>> = BTreeMap::new();
    for p in predictions.iter().filter(|p| p.strategy == IR_STRATEGY) {
        assert!(!p.text.trim().is_empty() && p.score > 0.0, "{p:?}");
        ranks
            .entry((p.project_id.clone(), p.fold, p.pair_id.clone()))
            .or_default()
            .push(p.rank);
    }
    assert!(!ranks.is_empty());
    for (key, mut r) in ranks.clone() {
        r.sort_unstable();
        assert_eq!(r, (1..=r.len() as u32).collect::<Vec<_>>(), "{key:?}");
        assert!(r.len() <= 5);
    }
    // What was retrieved came from each fold's training part.
    let pairs = read_pairs(&table_path(out, "pairs")).unwrap();
    let (project, fold) = ranks
        .keys()
        .next()
        .map(|(p, f, _)| (p.clone(), *f))
        .unwrap();
    let file = tailor::train::finetune::fold_file(out, "smoke", &project, fold as usize);
    let parts: tailor::train::finetune::FoldParts =
        serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
    let mine = pairs.iter().filter(|p| p.project_id == project);
    let fold_ir = fold_predictions(mine, &parts.train, &parts.test, 5, Bm25::default()).unwrap();
    assert!(
        fold_ir
            .iter()
            .flat_map(|p| &p.retrieved)
            .all(|r| parts.train.contains(&r.pair_id))
    );
    // And every `ir` row says which pair it was retrieved from: a pair of the same project in
    // its fold's training part, never of the test part (no leakage) and never the test itself.
    let project_of: HashMap<&str, &str> = pairs
        .iter()
        .map(|p| (p.pair_id.as_str(), p.project_id.as_str()))
        .collect();
    let mut folds: BTreeMap<(String, u32), tailor::train::finetune::FoldParts> = BTreeMap::new();
    for p in predictions.iter().filter(|p| p.strategy == IR_STRATEGY) {
        let parts = folds
            .entry((p.project_id.clone(), p.fold))
            .or_insert_with(|| {
                let file = tailor::train::finetune::fold_file(
                    out,
                    "smoke",
                    &p.project_id,
                    p.fold as usize,
                );
                serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap()
            });
        let source = p
            .source_pair_id
            .as_deref()
            .unwrap_or_else(|| panic!("an ir row without its source pair: {p:?}"));
        assert_eq!(
            project_of.get(source),
            Some(&p.project_id.as_str()),
            "{p:?}"
        );
        assert!(parts.train.iter().any(|id| id == source), "{p:?}");
        assert!(!parts.test.iter().any(|id| id == source), "{p:?}");
        assert_ne!(source, p.pair_id, "{p:?}");
        assert_eq!(p.source_score, Some(p.score), "{p:?}");
    }

    // Every metric, perplexity undefined (ir scores no tokens), the duplicates' share.
    let metrics = tailor::tables::metrics::read_rows(&table_path(out, "metrics")).unwrap();
    let value = |name: &str| {
        metrics
            .iter()
            .find(|m| {
                m.strategy == IR_STRATEGY
                    && m.project_id == project
                    && m.fold == fold
                    && m.metric == name
            })
            .unwrap_or_else(|| panic!("no {name} for ir"))
            .value
    };
    for name in [
        metric::BLEU_CORPUS,
        metric::BLEU_SENTENCE,
        metric::STYLE,
        metric::VALID,
    ] {
        assert!(value(name).is_finite(), "{name}");
    }
    for k in 1..=5 {
        assert!((0.0..=1.0).contains(&value(&metric::exact(k))));
        assert!(value(&metric::abstracted(k)) >= value(&metric::exact(k)));
    }
    assert!(value(metric::PERPLEXITY).is_nan());
    assert!((0.0..=1.0).contains(&value(metric::DUPLICATE_SHARE)));
    // A second evaluation finds `ir` done.
    assert!(run_ok(&mut evaluate("ir")).contains(" 0 run(s) evaluated"));
    run_ok(&mut evaluate("all"));

    // Reranking: each model orders retrieval's own five candidates by its likelihood.
    let predictions =
        tailor::tables::predictions::read_rows(&table_path(out, "predictions")).unwrap();
    let outputs = |strategy: &str| {
        let mut by_test: BTreeMap<&str, Vec<&PredictionRow>> = BTreeMap::new();
        for p in predictions.iter().filter(|p| p.strategy == strategy) {
            by_test.entry(p.pair_id.as_str()).or_default().push(p);
        }
        by_test
    };
    let retrieved = outputs(IR_STRATEGY);
    for model in ["ir+baseline", "ir+custom"] {
        let reranked = outputs(model);
        assert_eq!(
            reranked.keys().collect::<Vec<_>>(),
            retrieved.keys().collect::<Vec<_>>(),
            "{model}"
        );
        for (pair, mut ranked) in reranked {
            ranked.sort_by_key(|r| r.rank);
            assert!(
                ranked.windows(2).all(|w| w[0].score >= w[1].score),
                "{model} {ranked:?}"
            );
            // The same candidates, each still naming the pair it was retrieved from.
            assert!(
                ranked.iter().all(|r| r.source_pair_id.is_some()),
                "{model} {ranked:?}"
            );
            let candidates = |rows: &[&PredictionRow]| {
                let mut found: Vec<(String, Option<String>)> = rows
                    .iter()
                    .map(|r| (r.text.clone(), r.source_pair_id.clone()))
                    .collect();
                found.sort();
                found
            };
            assert_eq!(
                candidates(&ranked),
                candidates(&retrieved[pair]),
                "{model} reranks other candidates than ir's"
            );
        }
    }
    let metrics = tailor::tables::metrics::read_rows(&table_path(out, "metrics")).unwrap();
    let custom_loss = rows
        .iter()
        .find(|r| r.strategy == "custom" && r.project_id == project && r.fold == fold)
        .unwrap()
        .test_loss;
    let reranker_loss = metrics
        .iter()
        .find(|m| {
            m.strategy == "ir+custom"
                && m.project_id == project
                && m.metric == metric::RERANKER_LOSS
        })
        .expect("ir+custom records its model's test loss")
        .value;
    assert_eq!(reranker_loss.to_bits(), custom_loss.to_bits());
    assert!(run_ok(&mut evaluate("all")).contains(" 0 run(s) evaluated"));

    // Table 3 and Figure 4 have `ir` rows.
    run_ok(
        tailor()
            .args(["report", "--profile", "smoke", "--out"])
            .arg(out),
    );
    let table3 = std::fs::read_to_string(out.join("reports/table3.csv")).unwrap();
    assert!(
        table3.lines().any(|l| l.split(',').nth(1) == Some("ir")),
        "{table3}"
    );
    // The duplicates' share and the scores without them, for every strategy.
    let header = table3.lines().next().unwrap();
    assert!(
        header.ends_with("duplicate_share,bleu4_corpus_unique,exact_top1_unique"),
        "{header}"
    );
    let table3_md = std::fs::read_to_string(out.join("reports/table3.md")).unwrap();
    assert!(
        table3_md.contains("## Without exact duplicates"),
        "{table3_md}"
    );
    assert!(
        table3_md
            .lines()
            .any(|l| l.starts_with("| IR | ") && l.contains('%')),
        "{table3_md}"
    );
    assert!(
        table3
            .lines()
            .any(|l| l.split(',').nth(1) == Some("ir+custom")),
        "{table3}"
    );
    let figure4 = std::fs::read_to_string(out.join("reports/figure4a.csv")).unwrap();
    let ir_ks = figure4.lines().filter(|l| l.starts_with("ir,")).count();
    assert_eq!(ir_ks, 5, "{figure4}");

    // results.md shows sample pairs: the developer's test, then every run's first output, taken
    // from the predictions table as scored.
    let results = std::fs::read_to_string(out.join("reports/results.md")).unwrap();
    // RQ1 reads `ir` by BLEU alone: it has no perplexity to compare.
    let ir_rq1 = results
        .lines()
        .find(|l| l.starts_with("- **IR**: BLEU-4"))
        .unwrap_or_else(|| panic!("an RQ1 line for IR: {results}"));
    assert!(
        ir_rq1.contains("no perplexity") && !ir_rq1.contains("0/0 projects"),
        "{ir_rq1}"
    );
    let samples = results
        .split("## Samples: generated, retrieved and real tests")
        .nth(1)
        .unwrap_or_else(|| panic!("a Samples section: {results}"));
    let first = samples.split("\n### 2. ").next().expect("a first sample");
    let pair_id = first
        .split("(pair ")
        .nth(1)
        .and_then(|s| s.split(')').next())
        .expect("the sample names its pair");
    assert!(first.contains("**Developer's test**"), "{first}");
    let ir_first = retrieved[pair_id]
        .iter()
        .find(|r| r.rank == 1)
        .expect("ir's first pick");
    assert!(first.contains(ir_first.text.trim_end()), "{first}");
    let source = ir_first
        .source_pair_id
        .as_deref()
        .expect("ir's first pick names its source");
    assert!(
        first.contains(&format!("retrieved from training pair `{source}`")),
        "{first}"
    );
    assert!(
        first.contains("**Custom**") && first.contains("**ir+custom**"),
        "{first}"
    );
}

#[test]
fn an_augmented_input_appends_the_nearest_allowed_test_after_the_focal_context() {
    use tailor::data::ContextLevel;
    use tailor::retrieve::{SEPARATOR, augmented_input};
    let pairs = calculator();
    let project = index(&pairs);
    let add = pairs.iter().find(|p| p.pair_id == "p3").unwrap();
    let allowed = project.allowed(["p1", "p2", "p3"]);
    let augmented = augmented_input(
        &project,
        add,
        ContextLevel::default(),
        Allowed::Only(&allowed),
    );
    let (context, test) = augmented.input.split_once(SEPARATOR).unwrap();
    assert!(context.contains("return a + b;"), "{context}");
    let (retrieved, score) = augmented.retrieved.clone().unwrap();
    assert_ne!(retrieved, "p3", "never itself, even when allowed");
    assert!(score > 0.0 && ["p1", "p2"].contains(&retrieved.as_str()));
    assert!(test.contains("testAdd()"), "adapted to the query: {test}");
    // Nothing allowed shares a term: the plain focal context, nothing retrieved.
    let none = project.allowed(["p4"]);
    let plain = augmented_input(&project, add, ContextLevel::default(), Allowed::Only(&none));
    assert_eq!(plain.retrieved, None);
    assert!(!plain.input.contains(SEPARATOR));
}
