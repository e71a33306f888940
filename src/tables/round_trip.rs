//! Every table's rows survive a write and a read: sample rows with the awkward values (nulls,
//! NaN, empty lists, long and non-ASCII strings), a one-row table and an empty one.

use std::path::Path;

use super::curves::{self, CurvePoint};
use super::examples::{self, ExampleRow};
use super::finetune::{self, FinetuneRow};
use super::metrics::{self, MetricRow};
use super::predictions::{self, PredictionRow};
use super::projects::{self, ProjectRow, Status};
use super::test_scores::{self, TestScoreRow};
use super::vocab::{self, SharedTokensRow, VocabSummaryRow};
use super::{pairs, table_path};
use crate::mining::{Framework, Heuristic, MiningStats, Pair};

/// A string longer than polars' 12-byte inline view, and one that is not ASCII.
fn long(i: usize) -> String {
    format!("@Test public void tëst{i}() {{ assertEquals({i}, new Foo().bar()); }}")
}

fn examples() -> Vec<ExampleRow> {
    (0..3)
        .map(|i| ExampleRow {
            pair_id: format!("{i:016x}"),
            project_id: "demo".into(),
            split: ["train", "valid", "test"][i].into(),
            level: "FM_FC_MS_FF".into(),
            input_ids: (0..i as u32 * 3).collect(),
            target_ids: vec![0, 40 + i as u32, 2],
            input_full_len: i as u32 * 5,
            target_full_len: 3,
            retrieved_pair_id: (i == 1).then(|| "0000000000000009".into()),
            retrieved_score: (i == 1).then_some(7.125),
        })
        .collect()
}

fn pairs() -> Vec<Pair> {
    (0..3)
        .map(|i| Pair {
            pair_id: format!("{i:016x}"),
            project_id: "demo".into(),
            test_file: "src/test/java/p/FooTest.java".into(),
            test_class: "FooTest".into(),
            test_method: format!("testBar{i}"),
            test_body: long(i),
            focal_file: "src/main/java/p/Foo.java".into(),
            focal_class: "Foo".into(),
            focal_method: "bar".into(),
            focal_signature: "public int bar()".into(),
            focal_body: "public int bar() { return 1; }".into(),
            heuristic: [Heuristic::Name, Heuristic::UniqueCall][i % 2],
            framework: [Framework::Junit3, Framework::Junit5, Framework::Testng][i],
            class_signature: "public class Foo".into(),
            constructors: if i == 0 {
                vec![]
            } else {
                vec!["public Foo()".into()]
            },
            method_signatures: vec!["public int bar()".into(), long(i)],
            fields: (0..i).map(|k| format!("private int x{k};")).collect(),
        })
        .collect()
}

fn projects() -> Vec<ProjectRow> {
    (0..3)
        .map(|i| {
            let ok = i != 1;
            ProjectRow {
                project_id: format!("p{i}"),
                name: format!("project {i}"),
                source: format!("deb:p{i}=1.0-{i}"),
                revision: (i != 2).then(|| format!("1.0-{i}")),
                checkout: ok.then(|| format!("out/cache/checkouts/p{i}")),
                size_bytes: 1000 + i as u64,
                java_files: 10,
                java_bytes: 999,
                test_files: 3,
                download_bytes: u64::MAX - i as u64,
                stars: (i == 0).then_some(42),
                status: if ok { Status::Ok } else { Status::Error },
                error: (!ok).then(|| "404 for the upstream tarball".into()),
                split: ok.then(|| "train".into()),
                size_class: ok.then(|| "small".into()),
                target: i == 2,
                mining: MiningStats {
                    files_parsed: 1,
                    bytes_parsed: 2,
                    files_too_large: 3,
                    files_lossy_utf8: 4,
                    files_with_syntax_errors: 5,
                    test_classes: 6,
                    mapped_test_classes: 7,
                    test_cases: 8 + i as u64,
                    mapped_test_cases: 9,
                    duplicate_pairs: 10,
                    // Not columns of `projects`: the checkout's measures are.
                    java_files: 0,
                    java_bytes: 0,
                },
                pairs: 4,
            }
        })
        .collect()
}

fn predictions() -> Vec<PredictionRow> {
    (0..3)
        .map(|i| PredictionRow {
            pair_id: format!("{i:016x}"),
            project_id: "demo".into(),
            // A generated output, then reranked retrieved ones that name their source.
            strategy: if i == 0 { "lora" } else { "ir+lora" }.into(),
            fold: 1,
            rank: i as u32 + 1,
            text: long(i),
            score: -0.25 * i as f64,
            source_pair_id: (i > 0).then(|| format!("{:016x}", i + 10)),
            source_score: (i > 0).then_some(2.5 * i as f64),
        })
        .collect()
}

fn test_scores() -> Vec<TestScoreRow> {
    (0..3)
        .map(|i| TestScoreRow {
            pair_id: format!("{i:016x}"),
            project_id: "demo".into(),
            strategy: "custom".into(),
            fold: 0,
            sentence_bleu: 12.5 * i as f64,
            exact_rank: i as u32,
            abstract_rank: 5 - i as u32,
            style_similarity: 0.125,
            valid: i != 1,
        })
        .collect()
}

fn summary() -> Vec<VocabSummaryRow> {
    (0..3)
        .map(|i| VocabSummaryRow {
            project_id: format!("p{i}"),
            unique_tokens: 100 * i as u64,
            rank: i as u64,
        })
        .collect()
}

fn shared() -> Vec<SharedTokensRow> {
    (0..4)
        .map(|i| SharedTokensRow {
            project_i: format!("p{}", i / 2),
            project_j: format!("p{}", i % 2),
            shared: 3 * i as u64,
            ratio: i as f64 / 3.0,
        })
        .collect()
}

fn curve() -> Vec<CurvePoint> {
    (0..3)
        .map(|i| CurvePoint {
            step: 10 * i as u64,
            epoch: 0.5 * i as f64,
            tokens: 1000 * i as u64,
            wall_seconds: 1.5 * i as f64,
            // NaN at step 0, before any training.
            train_loss: if i == 0 { f64::NAN } else { 4.0 / i as f64 },
            val_loss: 3.5 - i as f64,
            lr: 1e-4,
            flops: 2e12 * i as f64,
        })
        .collect()
}

fn finetune() -> Vec<FinetuneRow> {
    (0..3)
        .map(|i| FinetuneRow {
            project_id: "demo".into(),
            strategy: ["baseline", "l-ldb", "lora"][i].into(),
            fold: i as u32,
            status: if i == 1 { "error" } else { "done" }.into(),
            error: (i == 1).then(|| "boom".into()),
            trainable_params: 10,
            total_params: 100,
            adapter_bytes: 40 * i as u64,
            steps: 5,
            epochs: 1.5,
            tokens: 1000,
            pf_seconds: 1e-6,
            wall_seconds: 2.0,
            best_val_loss: if i == 1 { f64::NAN } else { 2.0 },
            test_loss: 2.5,
            test_perplexity: 2.5f64.exp(),
            test_tokens: 50,
            train_examples: 30,
            valid_examples: 3,
            test_examples: 10,
            run_dir: if i == 0 {
                String::new()
            } else {
                "out/runs/x".into()
            },
            stopped: "early_stopping".into(),
            best_step: 4,
            step0_val_loss: 3.0,
            fold_hash: "f".into(),
            base_hash: "b".into(),
        })
        .collect()
}

fn metrics() -> Vec<MetricRow> {
    (0..3)
        .map(|i| MetricRow {
            project_id: "demo".into(),
            strategy: "prefix".into(),
            fold: 0,
            metric: ["n", "bleu4_corpus", "valid_rate"][i].into(),
            value: [3.0, 10.5, f64::NAN][i],
        })
        .collect()
}

/// Writes every table three times (all sample rows, the first row alone, no rows) under
/// `dir`, one file per table and size, and returns what each file should read back as.
fn write_all(dir: &Path) -> Vec<(std::path::PathBuf, String)> {
    let mut written = Vec::new();
    for (size, most) in [("all", usize::MAX), ("one", 1), ("none", 0)] {
        let path = |name: &str| table_path(dir, &format!("{name}-{size}"));
        macro_rules! write {
            ($name:literal, $rows:expr, $write:path) => {{
                let rows = $rows;
                let rows = &rows[..rows.len().min(most)];
                let at = path($name);
                $write(rows, &at).unwrap();
                written.push((at, format!("{rows:?}")));
            }};
        }
        write!("examples", examples(), examples::write_examples);
        write!("pairs", pairs(), pairs::write_pairs);
        write!("projects", projects(), projects::write_projects);
        write!("predictions", predictions(), predictions::write_rows);
        write!("test_scores", test_scores(), test_scores::write_rows);
        write!("vocab_summary", summary(), vocab::write_vocab_summary);
        write!("shared_tokens", shared(), vocab::write_shared_tokens);
        write!("curve", curve(), curves::write_curve);
        write!("finetune", finetune(), finetune::write_rows);
        write!("metrics", metrics(), metrics::write_rows);
    }
    written
}

/// Reads a file `write_all` wrote, by its table, into the rows' debug text.
fn read_back(path: &Path) -> String {
    let stem = path.file_stem().unwrap().to_str().unwrap();
    let table = stem.rsplit_once('-').unwrap().0;
    match table {
        "examples" => format!("{:?}", examples::read_examples(path).unwrap()),
        "pairs" => format!("{:?}", pairs::read_pairs(path).unwrap()),
        "projects" => format!("{:?}", projects::read_projects(path).unwrap()),
        "predictions" => format!("{:?}", predictions::read_rows(path).unwrap()),
        "test_scores" => format!("{:?}", test_scores::read_rows(path).unwrap()),
        "vocab_summary" => format!("{:?}", vocab::read_vocab_summary(path).unwrap()),
        "shared_tokens" => format!("{:?}", vocab::read_shared_tokens(path).unwrap()),
        "curve" => format!("{:?}", curves::read_curve(path).unwrap()),
        "finetune" => format!("{:?}", finetune::read_rows(path).unwrap()),
        "metrics" => format!("{:?}", metrics::read_rows(path).unwrap()),
        other => panic!("no table `{other}`"),
    }
}

/// Compared by their debug text, so NaN (which is not equal to itself) compares too.
#[test]
fn every_table_reads_back_the_rows_it_was_written_with() {
    let dir = tempfile::tempdir().unwrap();
    for (path, rows) in write_all(dir.path()) {
        assert_eq!(read_back(&path), rows, "{}", path.display());
    }
}

#[test]
fn an_unknown_label_is_an_error_naming_its_column_and_row() {
    let mut df = pairs::to_frame(&pairs()).unwrap();
    df.with_column(polars::prelude::Column::new(
        "heuristic".into(),
        ["name", "by_guess", "name"],
    ))
    .unwrap();
    let err = format!("{:#}", pairs::from_frame(&df).unwrap_err());
    assert!(
        err.contains("column `heuristic`, row 1") && err.contains("unknown heuristic `by_guess`"),
        "{err}"
    );
}
