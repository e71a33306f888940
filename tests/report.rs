//! Evaluation and reports.
//!
//! - On synthetic evaluation tables (a tiny random baseline, adapters whose changes grow with
//!   depth, hand-made metrics and curves): `tailor report` writes every table and figure, Table 3
//!   averages over folds, Figure 3 sees the changes where they were put.
//! - End to end on the training fixtures (`smoke` profile): finetune with every strategy,
//!   evaluate, report — five ranks per test pair, metrics per (project, strategy, fold,
//!   metric), and a second `tailor evaluate` adds nothing.

mod common;

use common::{mine_training_fixtures, run_ok, smoke_finetune, tailor};

use std::collections::BTreeMap;
use std::path::Path;

use burn::prelude::*;
use safetensors::{Dtype, tensor::TensorView};
use tailor::evaluate::metric;
use tailor::model::hf::{self, WEIGHTS_FILE};
use tailor::model::{BartConfig, BartForConditionalGeneration, Preset};
use tailor::tables::curves::{CurvePoint, write_curve};
use tailor::tables::finetune::{FinetuneRow, write_rows as write_finetune};
use tailor::tables::metrics::{MetricRow, read_rows as read_metrics, write_rows as write_metrics};
use tailor::tables::predictions::read_rows as read_predictions;
use tailor::tables::table_path;
use tailor::tables::test_scores::{TestScoreRow, write_rows as write_scores};
use tailor::train::finetune::{FoldParts, fold_file, run_dir};

const STRATEGIES: [&str; 5] = ["custom", "l-eo", "l-ldb", "prefix", "lora"];

/// The files `tailor report` must write.
const REPORT_FILES: [&str; 16] = [
    "reports/table1.md",
    "reports/table1.csv",
    "reports/table3.md",
    "reports/table3.csv",
    "reports/table4.md",
    "reports/table4.csv",
    "reports/figure3.csv",
    "reports/figure4a.csv",
    "reports/figure4b.csv",
    "reports/figure5.csv",
    "reports/results.md",
    "figures/figure3.png",
    "figures/figure3.svg",
    "figures/figure4.png",
    "figures/figure4.svg",
    "figures/figure5.png",
];

fn assert_report_files(out: &Path) {
    for file in REPORT_FILES.iter().chain(&["figures/figure5.svg"]) {
        let path = out.join(file);
        let len = std::fs::metadata(&path)
            .unwrap_or_else(|_| panic!("{} missing", path.display()))
            .len();
        assert!(len > 100, "{} is only {len} bytes", path.display());
    }
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
    let base_dir = out.join("runs/baseline").join(profile).join("best");
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
            let file = fold_file(out, profile, project, fold as usize);
            std::fs::create_dir_all(file.parent().unwrap()).unwrap();
            std::fs::write(&file, serde_json::to_string(&parts).unwrap()).unwrap();
            for (s, strategy) in std::iter::once("baseline").chain(STRATEGIES).enumerate() {
                let gain = s as f64 + p as f64 + f64::from(fold);
                let dir = run_dir(out, profile, project, strategy, fold as usize);
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
    assert_report_files(out);

    // Table 3: the mean over folds 0 and 1 of 10 + 5·(s + p + fold); custom is s = 1.
    let table3 = std::fs::read_to_string(out.join("reports/table3.csv")).unwrap();
    let alpha_custom = table3
        .lines()
        .find(|l| l.starts_with("alpha,custom,"))
        .unwrap_or_else(|| panic!("{table3}"));
    let bleu: f64 = alpha_custom.split(',').nth(3).unwrap().parse().unwrap();
    assert!((bleu - 17.5).abs() < 1e-9, "{alpha_custom}");
    // Every ordered pair of the six strategies, for BLEU and perplexity.
    let table4 = std::fs::read_to_string(out.join("reports/table4.csv")).unwrap();
    assert_eq!(table4.lines().count(), 1 + 2 * 6 * 5, "{table4}");
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
    // Table 1 measures the adapter files: L-LDB is the last decoder block of the tiny preset.
    let table1 = std::fs::read_to_string(out.join("reports/table1.md")).unwrap();
    assert!(table1.contains("| L-LDB |"), "{table1}");
    assert!(table1.contains("406.3M"), "{table1}");
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
    assert_eq!(runs.len(), 6, "{runs:?}");
    for (key, mut r) in ranks {
        r.sort_unstable();
        assert_eq!(r, [1, 2, 3, 4, 5], "{key:?}");
    }
    // Every metric for every run.
    let mut names = vec![
        metric::N.to_string(),
        metric::PERPLEXITY.into(),
        metric::TEST_LOSS.into(),
        metric::BLEU_CORPUS.into(),
        metric::BLEU_SENTENCE.into(),
        metric::STYLE.into(),
        metric::VALID.into(),
    ];
    names.extend((1..=5).flat_map(|k| [metric::exact(k), metric::abstracted(k)]));
    for (project, strategy, fold) in &runs {
        for name in &names {
            let row = metrics.iter().find(|m| {
                &m.project_id == project
                    && &m.strategy == strategy
                    && m.fold == *fold
                    && &m.metric == name
            });
            assert!(
                row.is_some(),
                "no {name} for {project}/{strategy}/fold{fold}"
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
    let stdout = run_ok(evaluate().args(["--mix-adapters", "4"]));
    assert!(stdout.contains("4 run(s) evaluated"), "{stdout}");
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
    let stdout = run_ok(&mut evaluate());
    assert!(stdout.contains("1 run(s) evaluated"), "{stdout}");
    tailor::tables::finetune::upsert(&finetune_path, original).unwrap();
    let stdout = run_ok(&mut evaluate());
    assert!(stdout.contains("1 run(s) evaluated"), "{stdout}");
    let predictions = read_predictions(&table_path(out, "predictions")).unwrap();
    let metrics = read_metrics(&table_path(out, "metrics")).unwrap();

    // A second evaluation finds everything done and adds nothing.
    let stdout = run_ok(&mut evaluate());
    assert!(stdout.contains("0 run(s) evaluated"), "{stdout}");
    assert_eq!(
        read_predictions(&table_path(out, "predictions")).unwrap(),
        predictions
    );
    assert_eq!(read_metrics(&table_path(out, "metrics")).unwrap(), metrics);

    run_ok(
        tailor()
            .args(["report", "--profile", "smoke", "--out"])
            .arg(out),
    );
    assert_report_files(out);
}
