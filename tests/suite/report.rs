//! Evaluation and reports.
//!
//! - On synthetic evaluation tables (a tiny random baseline, adapters whose changes grow with
//!   depth, hand-made metrics and curves): `tailor report` writes every table and figure, Table 3
//!   averages over folds, Table 4 holds the exact p-values, sides and A12 worked out by hand for
//!   the synthetic values, Figure 3 sees the changes where they were put.
//! - `tailor report --beside OTHER`: both folders' runs side by side in `inputs.csv` and
//!   `results.md`, with each run's recorded `data.retrieved`; a missing folder is named.
//! - Table 4 on in-memory metrics with an `ir` run: every strategy against the baseline and
//!   `ir`, the paper's 3-project case (χ² 0.0495, exact 0.1) not called significant.
//! - End to end on the training fixtures (`smoke` profile): finetune with every strategy,
//!   evaluate, report — five ranks per test pair, metrics per (project, strategy, fold,
//!   metric) consistent with their definitions and with Tables 3 and 4, and a second
//!   `tailor evaluate` adds nothing.

use crate::common;

use common::{mine_training_fixtures, run_ok, smoke_finetune, tailor};

use std::collections::BTreeMap;
use std::path::Path;

use burn::prelude::*;
use safetensors::{Dtype, tensor::TensorView};
use tailor::data::folds::FoldParts;
use tailor::evaluate::metric;
use tailor::layout::Layout;
use tailor::model::hf::{self, WEIGHTS_FILE};
use tailor::model::{BartConfig, BartForConditionalGeneration, Preset};
use tailor::report::evaluation::Evaluation;
use tailor::report::table4::write_table4;
use tailor::tables::curves::{CurvePoint, write_curve};
use tailor::tables::finetune::{FinetuneRow, write_rows as write_finetune};
use tailor::tables::metrics::{MetricRow, read_rows as read_metrics, write_rows as write_metrics};
use tailor::tables::predictions::read_rows as read_predictions;
use tailor::tables::table_path;
use tailor::tables::test_scores::{TestScoreRow, write_rows as write_scores};

const STRATEGIES: [&str; 5] = ["custom", "l-eo", "l-ldb", "prefix", "lora"];

/// The figures `tailor report` draws, each as PNG and SVG.
const FIGURES: [&str; 3] = ["figure3", "figure4", "figure5"];

/// Every figure is a PNG (by its signature) and an SVG document, not merely a file.
fn assert_figures(out: &Path) {
    for name in FIGURES {
        let png = out.join(format!("figures/{name}.png"));
        let bytes = std::fs::read(&png).unwrap_or_else(|e| panic!("{}: {e}", png.display()));
        assert!(
            bytes.starts_with(b"\x89PNG\r\n\x1a\n"),
            "{} is not a PNG",
            png.display()
        );
        let svg = out.join(format!("figures/{name}.svg"));
        let text =
            std::fs::read_to_string(&svg).unwrap_or_else(|e| panic!("{}: {e}", svg.display()));
        assert!(
            text.contains("<svg") && text.trim_end().ends_with("</svg>"),
            "{} is not an SVG document",
            svg.display()
        );
    }
}

/// A CSV the report wrote, as rows of (column → cell).
fn csv_rows(path: &Path) -> Vec<BTreeMap<String, String>> {
    let mut reader =
        csv::Reader::from_path(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let header: Vec<String> = reader
        .headers()
        .unwrap()
        .iter()
        .map(str::to_string)
        .collect();
    reader
        .records()
        .map(|r| {
            header
                .iter()
                .cloned()
                .zip(r.unwrap().iter().map(str::to_string))
                .collect()
        })
        .collect()
}

/// The one row of `rows` whose `keys` columns hold these values.
#[track_caller]
fn row<'r>(
    rows: &'r [BTreeMap<String, String>],
    keys: &[(&str, &str)],
) -> &'r BTreeMap<String, String> {
    let found: Vec<_> = rows
        .iter()
        .filter(|r| keys.iter().all(|(k, v)| r[*k] == *v))
        .collect();
    assert_eq!(found.len(), 1, "{keys:?} in {rows:?}");
    found[0]
}

/// A numeric cell.
#[track_caller]
fn num(row: &BTreeMap<String, String>, column: &str) -> f64 {
    row[column]
        .parse()
        .unwrap_or_else(|_| panic!("{column} = {:?} in {row:?}", row[column]))
}

/// The one value of metric `name` for a run.
#[track_caller]
fn metric_value(
    metrics: &[MetricRow],
    project: &str,
    strategy: &str,
    fold: u32,
    name: &str,
) -> f64 {
    let found: Vec<f64> = metrics
        .iter()
        .filter(|m| {
            m.project_id == project && m.strategy == strategy && m.fold == fold && m.metric == name
        })
        .map(|m| m.value)
        .collect();
    assert_eq!(
        found.len(),
        1,
        "{name} for {project}/{strategy}/fold{fold}: {found:?}"
    );
    found[0]
}

#[track_caller]
fn assert_near(actual: f64, expected: f64, what: &str) {
    assert!(
        (actual - expected).abs() <= 1e-9 * expected.abs().max(1.0),
        "{what}: {actual} vs {expected}"
    );
}

fn write_safetensors(tensors: &BTreeMap<String, (Vec<usize>, Vec<f32>)>, path: &Path) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let bytes: BTreeMap<&String, Vec<u8>> = tensors
        .iter()
        .map(|(k, (_, v))| (k, v.iter().flat_map(|x| x.to_le_bytes()).collect()))
        .collect();
    let views: Vec<(String, TensorView<'_>)> = tensors
        .iter()
        .map(|(k, (shape, _))| {
            (
                k.clone(),
                TensorView::new(Dtype::F32, shape.clone(), &bytes[k]).unwrap(),
            )
        })
        .collect();
    safetensors::serialize_to_file(views, None, path).unwrap();
}

/// Depth of a key for the synthetic change: encoder blocks 1.., decoder blocks after them.
fn depth(key: &str, layers: usize) -> Option<usize> {
    let parts: Vec<&str> = key.split('.').collect();
    match parts.as_slice() {
        ["model", "encoder", "layers", i, ..] => i.parse::<usize>().ok().map(|i| i + 1),
        ["model", "decoder", "layers", i, ..] => i.parse::<usize>().ok().map(|i| layers + i + 1),
        _ => None,
    }
}

/// A synthetic profile output: a tiny baseline, two projects × two folds × every strategy, with
/// metrics in which customization helps, adapters and curves.
fn synthetic(out: &Path, profile: &str) {
    let config = BartConfig::preset(Preset::Tiny);
    let model = BartForConditionalGeneration::new(&config, &Device::default());
    let runs = Layout::new(out).runs(profile);
    let base_dir = runs.baseline_model();
    hf::save_dir(&model, &base_dir).unwrap();
    let base = hf::read_tensors(&base_dir.join(WEIGHTS_FILE)).unwrap();
    let base: BTreeMap<String, (Vec<usize>, Vec<f32>)> = base
        .into_iter()
        .map(|(k, d)| (k, (d.shape().to_vec(), d.try_to_vec::<f32>().unwrap())))
        .collect();
    let mut finetune = Vec::new();
    let mut metrics = Vec::new();
    let mut scores = Vec::new();
    for (p, project) in ["alpha", "beta"].into_iter().enumerate() {
        for fold in 0..2u32 {
            let parts = FoldParts {
                project_id: project.into(),
                fold: fold as usize,
                folds: 2,
                fold_by: "Pair".into(),
                train: vec!["t".into()],
                valid: vec!["v".into()],
                test: vec!["a".into(), "b".into()],
            };
            let file = runs.fold_file(project, fold as usize);
            std::fs::create_dir_all(file.parent().unwrap()).unwrap();
            std::fs::write(&file, serde_json::to_string(&parts).unwrap()).unwrap();
            for (s, strategy) in std::iter::once("baseline").chain(STRATEGIES).enumerate() {
                let gain = s as f64 + p as f64 + f64::from(fold);
                let dir = runs.run_dir(project, strategy, fold as usize);
                let adapter: BTreeMap<String, (Vec<usize>, Vec<f32>)> = match strategy {
                    "custom" => base
                        .iter()
                        .filter(|(k, _)| *k != "final_logits_bias")
                        .map(|(k, (shape, v))| {
                            let step = depth(k, config.encoder_layers).unwrap_or(0) as f32 * 1e-3;
                            (
                                k.clone(),
                                (shape.clone(), v.iter().map(|x| x + step).collect()),
                            )
                        })
                        .collect(),
                    "l-ldb" => base
                        .iter()
                        .filter(|(k, _)| k.starts_with("model.decoder.layers.1."))
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect(),
                    "l-eo" => base
                        .iter()
                        .filter(|(k, _)| k.contains("shared") || k.contains("embed_positions"))
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect(),
                    "prefix" => BTreeMap::from([(
                        "model.encoder.layers.0.self_attn.prefix.key".to_string(),
                        (vec![8, config.d_model], vec![0.0; 8 * config.d_model]),
                    )]),
                    "lora" => BTreeMap::from([(
                        "model.encoder.layers.0.self_attn.q_proj.lora_A.weight".to_string(),
                        (vec![4, config.d_model], vec![0.0; 4 * config.d_model]),
                    )]),
                    _ => BTreeMap::new(),
                };
                let trainable: usize = adapter
                    .values()
                    .map(|(s, _)| s.iter().product::<usize>())
                    .sum();
                if strategy != "baseline" {
                    write_safetensors(&adapter, &dir.join("best/adapter.safetensors"));
                    let curve: Vec<CurvePoint> = (1..=5)
                        .map(|i| CurvePoint {
                            step: i * 4,
                            epoch: i as f64,
                            tokens: i * 1000,
                            wall_seconds: i as f64,
                            train_loss: 3.0 - 0.2 * i as f64,
                            val_loss: 3.0 - 0.1 * gain.sqrt() * i as f64,
                            lr: 1e-3,
                            flops: 1e9 * (s as f64) * i as f64,
                        })
                        .collect();
                    write_curve(&curve, &dir.join("curve.parquet")).unwrap();
                }
                let loss = 1.0 / (1.0 + gain);
                finetune.push(FinetuneRow {
                    project_id: project.into(),
                    strategy: strategy.into(),
                    fold,
                    status: "done".into(),
                    error: None,
                    trainable_params: trainable as u64,
                    total_params: 1000,
                    adapter_bytes: 4 * trainable as u64,
                    steps: 20,
                    epochs: 5.0,
                    tokens: 5000,
                    pf_seconds: 5e-6 * s as f64,
                    wall_seconds: 5.0,
                    best_val_loss: loss,
                    test_loss: loss,
                    test_perplexity: loss.exp(),
                    test_tokens: 100,
                    train_examples: 1,
                    valid_examples: 1,
                    test_examples: 2,
                    run_dir: dir.to_string_lossy().into_owned(),
                    stopped: "early_stopping".into(),
                    best_step: 10,
                    step0_val_loss: 1.0,
                    fold_hash: parts.membership_hash(),
                    base_hash: String::new(),
                });
                let row = |metric: &str, value: f64| MetricRow {
                    project_id: project.into(),
                    strategy: strategy.into(),
                    fold,
                    metric: metric.into(),
                    value,
                };
                metrics.push(row(metric::N, 2.0));
                metrics.push(row(metric::BLEU_CORPUS, 10.0 + 5.0 * gain));
                metrics.push(row(metric::BLEU_SENTENCE, 12.0 + 5.0 * gain));
                metrics.push(row(metric::PERPLEXITY, loss.exp()));
                metrics.push(row(metric::STYLE, 0.1 * gain.min(9.0)));
                metrics.push(row(metric::VALID, 0.5));
                for k in 1..=5 {
                    let rate = (0.02 * gain + 0.01 * k as f64).min(1.0);
                    metrics.push(row(&metric::exact(k), rate));
                    metrics.push(row(&metric::abstracted(k), (2.0 * rate).min(1.0)));
                }
                for (i, pair) in ["a", "b"].into_iter().enumerate() {
                    scores.push(TestScoreRow {
                        pair_id: pair.into(),
                        project_id: project.into(),
                        strategy: strategy.into(),
                        fold,
                        sentence_bleu: 10.0 * gain,
                        exact_rank: 0,
                        abstract_rank: i as u32,
                        style_similarity: (0.1 * gain + 0.05 * i as f64).min(1.0),
                        valid: i == 0,
                    });
                }
            }
        }
    }
    write_finetune(&finetune, &table_path(out, "finetune")).unwrap();
    write_metrics(&metrics, &table_path(out, "metrics")).unwrap();
    write_scores(&scores, &table_path(out, "test_scores")).unwrap();
}

#[test]
fn the_report_writes_every_table_and_figure_from_the_evaluation_tables() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path();
    synthetic(out, "synthetic");
    run_ok(
        tailor()
            .args(["report", "--profile", "synthetic", "--out"])
            .arg(out),
    );
    assert_figures(out);

    // Table 3: the mean over folds 0 and 1 of 10 + 5·(s + p + fold) and of exp(1 / (1 + gain));
    // custom is s = 1, alpha p = 0.
    let table3 = csv_rows(&out.join("reports/table3.csv"));
    assert_eq!(table3.len(), 3 * 6, "{table3:?}"); // two projects and their average
    let alpha_custom = row(&table3, &[("project_id", "alpha"), ("strategy", "custom")]);
    assert_eq!(alpha_custom["folds"], "2");
    assert_near(num(alpha_custom, "bleu4_corpus"), 17.5, "BLEU alpha/custom");
    assert_near(
        num(alpha_custom, "bleu4_sentence"),
        19.5,
        "sentence BLEU alpha/custom",
    );
    let ppl = ((0.5f64).exp() + (1.0f64 / 3.0).exp()) / 2.0;
    assert_near(
        num(alpha_custom, "perplexity"),
        ppl,
        "perplexity alpha/custom",
    );
    let average = row(
        &table3,
        &[("project_id", "average"), ("strategy", "custom")],
    );
    assert_near(num(average, "bleu4_corpus"), 20.0, "BLEU average/custom");

    // Table 4: every ordered pair of the six strategies, for BLEU and perplexity, over the two
    // projects. Custom against the baseline in BLEU-4: {17.5, 22.5} against {12.5, 17.5}, one
    // tie; mid-ranks give custom 6.5, and 4 of the C(4, 2) = 6 splits are as far from the mean
    // (two-sided p = 2/3), 2 as high (one-sided p = 1/3); H = 1.35 / 0.9 (tie correction).
    let table4 = csv_rows(&out.join("reports/table4.csv"));
    assert_eq!(table4.len(), 2 * 6 * 5, "{table4:?}");
    let t = row(
        &table4,
        &[
            ("metric", metric::BLEU_CORPUS),
            ("strategy", "custom"),
            ("versus", "baseline"),
        ],
    );
    assert_eq!(t["projects"], "2");
    assert_near(num(t, "h"), 1.5, "H");
    assert_near(num(t, "p_exact"), 2.0 / 3.0, "exact p");
    assert_near(num(t, "p_one_sided"), 1.0 / 3.0, "one-sided p");
    assert_eq!(t["one_sided_alternative"], "custom > baseline");
    assert_near(
        num(t, "p_asymptotic"),
        0.220_671_361_919_843_24,
        "chi-square p",
    );
    assert_eq!(
        (t["method"].as_str(), t["permutations"].as_str()),
        ("exact", "6")
    );
    assert_near(num(t, "a12"), 3.5 / 4.0, "A12");
    assert_near(num(t, "cliffs_delta"), 0.75, "Cliff's delta");
    assert_eq!(t["versus_is_reference"], "true");
    // LoRA is above the baseline on both projects: the best two projects can do, 2/6 two-sided
    // (χ² says 0.12), and not significant. In perplexity lower is better, so the one-sided test
    // looks the other way and A12 (the chance LoRA's perplexity is the higher) is 0.
    let t = row(
        &table4,
        &[
            ("metric", metric::BLEU_CORPUS),
            ("strategy", "lora"),
            ("versus", "baseline"),
        ],
    );
    assert_near(num(t, "p_exact"), 1.0 / 3.0, "exact p");
    assert_near(num(t, "p_one_sided"), 1.0 / 6.0, "one-sided p");
    assert_near(
        num(t, "p_asymptotic"),
        0.121_335_250_358_482_08,
        "chi-square p",
    );
    assert_eq!(
        (t["a12"].as_str(), t["significant"].as_str()),
        ("1", "false")
    );
    let t = row(
        &table4,
        &[
            ("metric", metric::PERPLEXITY),
            ("strategy", "lora"),
            ("versus", "baseline"),
        ],
    );
    assert_eq!(t["one_sided_alternative"], "lora < baseline");
    assert_near(num(t, "p_one_sided"), 1.0 / 6.0, "one-sided p");
    assert_eq!(t["a12"], "0");
    // Its mirror: the baseline is not better than LoRA.
    let t = row(
        &table4,
        &[
            ("metric", metric::PERPLEXITY),
            ("strategy", "baseline"),
            ("versus", "lora"),
        ],
    );
    assert_eq!((t["p_one_sided"].as_str(), t["a12"].as_str()), ("1", "1"));
    assert!(table4.iter().all(|r| r["significant"] == "false"));
    let md = std::fs::read_to_string(out.join("reports/table4.md")).unwrap();
    assert!(
        md.contains(
            "| BLEU4 | LoRA | Baseline | 2 | 2.400 | 0.3 | 0.2 | LoRA > Baseline | 0.1 | 1.00 | exact | no |"
        ),
        "{md}"
    );
    // Figure 4a pools the runs by their tests (two each): exact@k = 0.02·(s + 1) + 0.01·k on
    // average over projects and folds, abstracted twice that.
    let figure4 = csv_rows(&out.join("reports/figure4a.csv"));
    let lora = row(&figure4, &[("strategy", "lora"), ("k", "1")]);
    assert_near(num(lora, "exact_rate"), 0.13, "LoRA exact@1");
    assert_near(num(lora, "abstract_rate"), 0.26, "LoRA abstracted@1");
    assert_eq!(lora["tests"], "8");
    // Figure 3: the synthetic change grows with depth, so the last decoder block moved most.
    let figure3 = std::fs::read_to_string(out.join("reports/figure3.csv")).unwrap();
    let change = |block: &str| -> f64 {
        figure3
            .lines()
            .find(|l| l.starts_with(&format!("{block},")))
            .unwrap_or_else(|| panic!("{block} in {figure3}"))
            .split(',')
            .nth(1)
            .unwrap()
            .parse()
            .unwrap()
    };
    assert!(
        change("D1") > change("D0") && change("D0") > change("E1") && change("E1") > change("E0")
    );
    let results = std::fs::read_to_string(out.join("reports/results.md")).unwrap();
    assert!(
        results.contains("the last decoder block, as in the paper"),
        "{results}"
    );
    assert!(results.contains("*paper*"), "{results}");
    // results.md lists every run: where it started (step-0 validation loss), where its best
    // came from, how it stopped, and that none was left out.
    let runs = results
        .split("## Runs")
        .nth(1)
        .expect("a Runs section")
        .split("\n## ")
        .next()
        .unwrap();
    let custom: Vec<&str> = runs
        .lines()
        .find(|l| l.starts_with("| Custom |"))
        .unwrap_or_else(|| panic!("{runs}"))
        .split(" | ")
        .collect();
    assert_eq!(custom[2], "—", "nothing left out: {runs}");
    assert_eq!(custom[3], "1.000", "step-0 validation loss: {runs}");
    assert_eq!(custom[5], "10 / 20", "best step / steps: {runs}");
    assert_eq!(custom[6], "5.0", "epochs: {runs}");
    assert!(custom[9].starts_with("early_stopping"), "{runs}");
    // results.md shows Table 4's exact p and A12 beside the paper's χ² p.
    assert!(results.contains("| 0.3 (1.00) | 0.3 (0.00) |"), "{results}");
    // Table 1 measures the adapter files: L-LDB is the last decoder block of the tiny preset.
    let table1 = std::fs::read_to_string(out.join("reports/table1.md")).unwrap();
    assert!(table1.contains("| L-LDB |"), "{table1}");
    assert!(table1.contains("406.3M"), "{table1}");
}

#[test]
fn report_beside_another_folder_puts_both_folders_runs_side_by_side() {
    let dir = tempfile::tempdir().unwrap();
    let (augmented, plain) = (dir.path().join("augmented"), dir.path().join("plain"));
    synthetic(&augmented, "synthetic");
    synthetic(&plain, "synthetic");
    // The augmented folder's runs record `data.retrieved = 1`, the plain ones nothing (0).
    let runs = Layout::new(&augmented).runs("synthetic");
    for project in ["alpha", "beta"] {
        for fold in 0..2 {
            let run = runs.run_dir(project, "custom", fold);
            std::fs::write(
                run.join("config.resolved.toml"),
                "profile = \"synthetic\"\n\n[data]\nretrieved = 1\n",
            )
            .unwrap();
        }
    }
    run_ok(
        tailor()
            .args(["report", "--profile", "synthetic", "--out"])
            .arg(&augmented)
            .arg("--beside")
            .arg(&plain),
    );
    let rows = csv_rows(&augmented.join("reports/inputs.csv"));
    // Six labels (baseline and five strategies), each once per folder.
    assert_eq!(rows.len(), 12, "{rows:?}");
    let custom: Vec<_> = rows.iter().filter(|r| r["run"] == "Custom").collect();
    assert_eq!(custom.len(), 2);
    assert_eq!(custom[0]["retrieved"], "1");
    assert_eq!(
        custom[1]["retrieved"], "?",
        "no recipe in the synthetic plain runs"
    );
    assert_eq!(custom[0]["bleu4_corpus"], custom[1]["bleu4_corpus"]);
    let results = std::fs::read_to_string(augmented.join("reports/results.md")).unwrap();
    assert!(
        results.contains(&format!("## Beside `{}`", plain.display())),
        "{results}"
    );

    let missing = dir.path().join("nowhere");
    let output = tailor()
        .args(["report", "--profile", "synthetic", "--out"])
        .arg(&augmented)
        .arg("--beside")
        .arg(&missing)
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("--beside") && stderr.contains("nowhere"),
        "{stderr}"
    );
}

#[test]
fn table4_tests_every_strategy_against_the_baseline_and_ir_by_exact_p_values() {
    // Three projects; `ir` (retrieval, no model) has BLEU-4 but no perplexity.
    let bleu = [
        ("baseline", [10.0, 11.0, 12.0]),
        ("custom", [30.0, 31.0, 32.0]),
        ("lora", [13.0, 33.0, 21.0]),
        ("ir", [14.0, 20.0, 25.0]),
    ];
    let perplexity = [
        ("baseline", [3.0, 3.1, 3.2]),
        ("custom", [2.0, 2.1, 2.2]),
        ("lora", [2.5, 3.15, 2.05]),
    ];
    let mut metrics = Vec::new();
    for (name, table) in [
        (metric::BLEU_CORPUS, &bleu[..]),
        (metric::PERPLEXITY, &perplexity[..]),
    ] {
        for (strategy, values) in table {
            for (project, value) in ["alpha", "beta", "gamma"].into_iter().zip(values) {
                metrics.push(MetricRow {
                    project_id: project.into(),
                    strategy: strategy.to_string(),
                    fold: 0,
                    metric: name.into(),
                    value: *value,
                });
            }
        }
    }
    let eval = Evaluation {
        profile: "unit".into(),
        metrics,
        ..Default::default()
    };
    let dir = tempfile::tempdir().unwrap();
    write_table4(&eval, dir.path()).unwrap();
    let rows = csv_rows(&dir.path().join("table4.csv"));
    // Ordered pairs: four strategies in BLEU-4, three in perplexity (none with `ir`).
    assert_eq!(rows.len(), 4 * 3 + 3 * 2, "{rows:?}");
    assert!(
        rows.iter().all(|r| r["metric"] == metric::BLEU_CORPUS
            || (r["strategy"] != "ir" && r["versus"] != "ir"))
    );
    let bleu_row = |a: &str, b: &str| {
        row(
            &rows,
            &[
                ("metric", metric::BLEU_CORPUS),
                ("strategy", a),
                ("versus", b),
            ],
        )
    };
    // The paper's situation with 3 projects: complete separation is χ²-significant (0.0495)
    // but its exact p is 2 / C(6, 3) = 0.1, so it is not called significant.
    for (a, b) in [("custom", "baseline"), ("ir", "baseline"), ("custom", "ir")] {
        let t = bleu_row(a, b);
        assert_near(num(t, "p_exact"), 0.1, &format!("{a} vs {b}"));
        assert_near(num(t, "p_one_sided"), 0.05, &format!("{a} vs {b}"));
        assert_near(
            num(t, "p_asymptotic"),
            0.049_534_613_435_626_915,
            &format!("{a} vs {b}"),
        );
        assert_near(num(t, "h"), 27.0 / 7.0, &format!("{a} vs {b}"));
        assert_eq!(
            [
                &t["a12"],
                &t["significant"],
                &t["permutations"],
                &t["versus_is_reference"]
            ],
            ["1", "false", "20", "true"],
            "{a} vs {b}"
        );
    }
    // LoRA against ir: rank sums 11 against 10, as close to even as three each can be.
    let t = bleu_row("lora", "ir");
    assert_near(num(t, "p_exact"), 1.0, "LoRA vs ir");
    assert_near(num(t, "p_one_sided"), 0.5, "LoRA vs ir");
    assert_near(num(t, "a12"), 5.0 / 9.0, "LoRA vs ir");
    assert_eq!(bleu_row("lora", "custom")["versus_is_reference"], "false");

    let md = std::fs::read_to_string(dir.path().join("table4.md")).unwrap();
    for line in [
        "| BLEU4 | Custom | Baseline | 3 | 3.857 | 0.1 | 0.0500 | Custom > Baseline | 0.0495 | 1.00 | exact | no |",
        "| BLEU4 | IR | Baseline | 3 | 3.857 | 0.1 | 0.0500 | IR > Baseline | 0.0495 | 1.00 | exact | no |",
        "| BLEU4 | LoRA | IR | 3 | 0.048 | 1.0 | 0.5 | LoRA > IR | 0.8 | 0.56 | exact | no |",
        "| Perplexity | Custom | Baseline | 3 | 3.857 | 0.1 | 0.0500 | Custom < Baseline | 0.0495 | 0.00 | exact | no |",
    ] {
        assert!(md.contains(line), "{line}\nnot in\n{md}");
    }
    assert!(!md.contains("| Perplexity | Custom | IR |"), "{md}");
    assert!(!md.contains("| BLEU4 | Baseline | IR |"), "{md}");
}

#[test]
fn finetune_evaluate_report_on_the_smoke_profile_and_evaluate_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path();
    mine_training_fixtures(out);
    run_ok(&mut smoke_finetune(out, "all", &[]));
    let evaluate = || {
        let mut command = tailor();
        command
            .args([
                "evaluate",
                "--profile",
                "smoke",
                "--max-test",
                "6",
                "--batch-size",
                "6",
                "--out",
            ])
            .arg(out);
        command
    };
    run_ok(&mut evaluate());
    let predictions = read_predictions(&table_path(out, "predictions")).unwrap();
    let metrics = read_metrics(&table_path(out, "metrics")).unwrap();

    // Every run (baseline and five strategies, one fold) has five ranks per test pair.
    let mut ranks: BTreeMap<(String, String, u32, String), Vec<u32>> = BTreeMap::new();
    for p in &predictions {
        ranks
            .entry((
                p.project_id.clone(),
                p.strategy.clone(),
                p.fold,
                p.pair_id.clone(),
            ))
            .or_default()
            .push(p.rank);
    }
    let runs: std::collections::BTreeSet<(String, String, u32)> = ranks
        .keys()
        .map(|(p, s, f, _)| (p.clone(), s.clone(), *f))
        .collect();
    // The baseline, the five strategies and retrieval (`ir`), one fold.
    let strategies: std::collections::BTreeSet<&str> =
        runs.iter().map(|(_, s, _)| s.as_str()).collect();
    assert_eq!(
        strategies,
        std::collections::BTreeSet::from([
            "baseline",
            "custom",
            "ir",
            "ir+baseline",
            "ir+custom",
            "ir+l-eo",
            "ir+l-ldb",
            "ir+lora",
            "ir+prefix",
            "l-eo",
            "l-ldb",
            "lora",
            "prefix"
        ]),
        "{runs:?}"
    );
    assert_eq!(runs.len(), 13, "{runs:?}");
    for (key, mut r) in ranks {
        r.sort_unstable();
        assert_eq!(r, [1, 2, 3, 4, 5], "{key:?}");
    }
    // Every metric for every run, each consistent with its definition: perplexity is exp of the
    // test loss (undefined for retrieval alone, which scores no tokens), BLEU a percentage,
    // top-k rates in [0, 1] and never falling as k grows.
    for (project, strategy, fold) in &runs {
        let at = |name: &str| metric_value(&metrics, project, strategy, *fold, name);
        let n = at(metric::N);
        assert!((1.0..=6.0).contains(&n) && n.fract() == 0.0, "n = {n}");
        let (perplexity, loss) = (at(metric::PERPLEXITY), at(metric::TEST_LOSS));
        // Retrieval and its reranking by a model write no tokens of their own.
        if strategy == "ir" || strategy.starts_with("ir+") {
            assert!(
                perplexity.is_nan() && loss.is_nan(),
                "ir: {perplexity} {loss}"
            );
        } else {
            assert_near(perplexity, loss.exp(), "perplexity");
        }
        for name in [metric::BLEU_CORPUS, metric::BLEU_SENTENCE] {
            let bleu = at(name);
            assert!((0.0..=100.0).contains(&bleu), "{name} = {bleu}");
        }
        let valid = at(metric::VALID);
        assert!((0.0..=1.0).contains(&valid), "valid = {valid}");
        let style = at(metric::STYLE);
        // A cosine, to float rounding (identical documents give 1 + 2e-16 here as in sklearn).
        assert!(
            style.is_nan() || (0.0..=1.0 + 1e-12).contains(&style),
            "style = {style}"
        );
        for rate in [metric::exact, metric::abstracted] {
            let rates: Vec<f64> = (1..=5).map(|k| at(&rate(k))).collect();
            assert!(
                rates.iter().all(|r| (0.0..=1.0).contains(r)) && rates.is_sorted(),
                "{strategy}: {rates:?}"
            );
        }
    }

    // Evaluated again with the prefix and LoRA runs in batches that mix their adapters: the
    // same outputs (tokens equal, scores to float rounding).
    for table in ["predictions", "metrics", "test_scores"] {
        std::fs::remove_file(table_path(out, table)).unwrap();
    }
    let stdout = run_ok(evaluate().args(["--mix-adapters", "4", "--strategy", "prefix,lora"]));
    assert!(stdout.contains("2 run(s) evaluated"), "{stdout}");
    // The rest: the baseline, custom, L-EO, L-LDB, ir and the six reranking runs.
    let stdout = run_ok(evaluate().args(["--mix-adapters", "4"]));
    assert!(stdout.contains("11 run(s) evaluated"), "{stdout}");
    let unknown = evaluate().args(["--strategy", "prefx"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&unknown.stderr);
    assert!(
        !unknown.status.success() && stderr.contains("\"prefx\""),
        "{stderr}"
    );
    let mixed = read_predictions(&table_path(out, "predictions")).unwrap();
    let keyed = |rows: &[tailor::tables::predictions::PredictionRow]| {
        rows.iter()
            .map(|p| {
                let key = (
                    p.project_id.clone(),
                    p.strategy.clone(),
                    p.fold,
                    p.pair_id.clone(),
                    p.rank,
                );
                (key, (p.text.clone(), p.score))
            })
            .collect::<BTreeMap<_, _>>()
    };
    let (alone, mixed) = (keyed(&predictions), keyed(&mixed));
    assert_eq!(alone.len(), mixed.len());
    for ((key, (text, score)), (_, (mixed_text, mixed_score))) in alone.iter().zip(&mixed) {
        assert_eq!(text, mixed_text, "{key:?}");
        assert!(
            (score - mixed_score).abs() < 1e-4,
            "{key:?}: {score} vs {mixed_score}"
        );
    }

    // The serving benchmark runs on the sweep's prefix and LoRA adapters and checks equality.
    let bench = run_ok(
        tailor()
            .args([
                "bench-mixed",
                "--profile",
                "smoke",
                "--requests-per-adapter",
                "3",
                "--batch-size",
                "4",
                "--max-length",
                "10",
                "--out",
            ])
            .arg(out),
    );
    assert!(
        bench.contains("2 adapters") && bench.contains("6 of 6 requests identical"),
        "{bench}"
    );

    // A run trained again (its test loss in the finetune table changed) is evaluated again.
    let finetune_path = table_path(out, "finetune");
    let rows = tailor::tables::finetune::read_rows(&finetune_path).unwrap();
    let mut lora = rows.iter().find(|r| r.strategy == "lora").unwrap().clone();
    let original = lora.clone();
    lora.test_loss += 0.125;
    tailor::tables::finetune::upsert(&finetune_path, lora).unwrap();
    // LoRA and its reranking of retrieval's candidates.
    let stdout = run_ok(&mut evaluate());
    assert!(stdout.contains("2 run(s) evaluated"), "{stdout}");
    tailor::tables::finetune::upsert(&finetune_path, original).unwrap();
    let stdout = run_ok(&mut evaluate());
    assert!(stdout.contains("2 run(s) evaluated"), "{stdout}");
    let predictions = read_predictions(&table_path(out, "predictions")).unwrap();
    let metrics = read_metrics(&table_path(out, "metrics")).unwrap();

    // A second evaluation finds everything done and adds nothing.
    let stdout = run_ok(&mut evaluate());
    assert!(stdout.contains("0 run(s) evaluated"), "{stdout}");
    assert_eq!(
        read_predictions(&table_path(out, "predictions")).unwrap(),
        predictions
    );
    // Bit for bit: retrieval's undefined perplexity is NaN, which `==` never equals.
    let bits = |rows: &[MetricRow]| -> Vec<(String, String, u32, String, u64)> {
        rows.iter()
            .map(|m| {
                let key = (m.project_id.clone(), m.strategy.clone(), m.fold);
                (key.0, key.1, key.2, m.metric.clone(), m.value.to_bits())
            })
            .collect()
    };
    assert_eq!(
        bits(&read_metrics(&table_path(out, "metrics")).unwrap()),
        bits(&metrics)
    );

    run_ok(
        tailor()
            .args(["report", "--profile", "smoke", "--out"])
            .arg(out),
    );
    assert_figures(out);
    // Table 3 is the evaluation's BLEU-4 and perplexity, one fold per run.
    let table3 = csv_rows(&out.join("reports/table3.csv"));
    assert_eq!(table3.len(), 2 * runs.len()); // the project and the average
    for (project, strategy, fold) in &runs {
        let r = row(&table3, &[("project_id", project), ("strategy", strategy)]);
        assert_eq!(r["folds"], "1");
        for name in [metric::BLEU_CORPUS, metric::PERPLEXITY] {
            let expected = metric_value(&metrics, project, strategy, *fold, name);
            if expected.is_finite() {
                assert_near(num(r, name), expected, name);
            } else {
                assert_eq!(r[name], "", "{name} of {strategy}");
            }
        }
    }
    // One project per strategy: a rank test over one value each cannot tell strategies apart
    // (every exact p is 1, or empty where both values are equal), so nothing is significant.
    let table4 = csv_rows(&out.join("reports/table4.csv"));
    assert!(!table4.is_empty());
    for t in &table4 {
        assert_eq!(t["projects"], "1", "{t:?}");
        assert!(t["p_exact"].is_empty() || t["p_exact"] == "1", "{t:?}");
        assert_eq!(t["significant"], "false", "{t:?}");
    }
}
