//! Training end to end on the training fixtures (`pipelines/corpora/train-fixtures.csv`, the
//! `smoke` profile, the `tiny` preset): the baseline learns, a `kill -9` at any point followed
//! by the same command ends where an uninterrupted run ends, a run folder of another recipe is
//! refused, and every customization strategy runs, stores an adapter and is evaluated.

use crate::common;

use common::{mine_training_fixtures, run_ok, smoke_finetune, tailor};

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use tailor::tables::curves::{self, CurvePoint};
use tailor::tables::finetune::read_rows;

fn baseline_dir(out: &Path) -> PathBuf {
    out.join("runs/baseline/smoke")
}

fn curve(out: &Path) -> Vec<CurvePoint> {
    curves::read_curve(&baseline_dir(out).join(curves::FILE)).unwrap()
}

fn baseline(out: &Path, extra: &[&str]) -> Command {
    let mut command = tailor();
    command
        .args(["baseline", "--profile", "smoke", "--samples", "2", "--out"])
        .arg(out)
        .args(extra);
    command
}

/// Wait until the checkpoint at `state` has reached `min_step`, then SIGKILL `child`.
fn kill_after_step(mut child: std::process::Child, state: &Path, min_step: u64) {
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let step = std::fs::read_to_string(state)
            .ok()
            .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
            .and_then(|v| v["step"].as_u64())
            .unwrap_or(0);
        if step >= min_step {
            break;
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "the run ended before it could be killed"
        );
        assert!(Instant::now() < deadline, "no checkpoint appeared");
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
}

/// [`smoke_finetune`] on the smoke profile's own 150-step baseline instead of the shared
/// helper's 20 steps: a baseline that has learned to begin a test, so that what a customized
/// model generates from it can be checked to look like one.
fn finetune_trained_base(out: &Path, strategy: &str, extra: &[&str]) -> Command {
    let mut args = vec!["--set", "train.max_steps=150"];
    args.extend_from_slice(extra);
    smoke_finetune(out, strategy, &args)
}

/// The tests `tailor generate` printed as text: the TEXT of each `  #k (score) TEXT` line (the
/// lines after an `input i: …` line), without rank and score, which are printed even when the
/// text is empty.
fn generated_tests(stdout: &str) -> Vec<&str> {
    stdout
        .lines()
        .filter_map(|line| {
            let ranked = line.strip_prefix("  #")?;
            let (_, text) = ranked.split_once(") ")?;
            Some(text)
        })
        .collect()
}

/// `stdout` of `tailor generate --num-beams 2` holds two ranked tests for its one input, each
/// beginning as a JUnit test method does.
#[track_caller]
fn assert_generated_java(stdout: &str) {
    let tests = generated_tests(stdout);
    assert_eq!(tests.len(), 2, "{stdout}");
    assert!(
        tests.iter().all(|t| t.starts_with("@Test public void")),
        "not the start of a test method: {stdout}"
    );
}

#[test]
fn the_baseline_learns_and_a_killed_run_resumes_to_the_same_result() {
    let steps = ["--set", "train.checkpoint_every_steps=3"];
    let whole = tempfile::tempdir().unwrap();
    mine_training_fixtures(whole.path());
    let stdout = run_ok(&mut baseline(whole.path(), &steps));
    assert!(stdout.contains("baseline model:"), "{stdout}");
    assert!(stdout.contains("generated:"), "{stdout}");
    let uninterrupted = curve(whole.path());
    assert_eq!(uninterrupted.last().unwrap().step, 150);
    let first = uninterrupted.first().unwrap().val_loss;
    let last = uninterrupted.last().unwrap().val_loss;
    assert!(
        last < 0.7 * first,
        "validation loss {first} → {last} did not fall"
    );
    let model = baseline_dir(whole.path()).join("best");
    for file in [
        "config.json",
        "model.safetensors",
        "tokenizer.json",
        "generation_config.json",
    ] {
        assert!(
            model.join(file).exists(),
            "{file} missing from {}",
            model.display()
        );
    }
    let summary: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(baseline_dir(whole.path()).join("summary.json")).unwrap(),
    )
    .unwrap();
    assert!(
        summary["best_val_loss"].as_f64().unwrap() < summary["unigram_entropy"].as_f64().unwrap(),
        "{summary}"
    );

    // The same run, killed (SIGKILL) once training has checkpointed, then started again.
    let killed = tempfile::tempdir().unwrap();
    mine_training_fixtures(killed.path());
    let child = baseline(killed.path(), &steps)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let state = baseline_dir(killed.path()).join("checkpoint/state.json");
    kill_after_step(child, &state, 10);
    let resumed_stdout = run_ok(&mut baseline(killed.path(), &steps));
    assert!(resumed_stdout.contains("baseline model:"));
    let resumed = curve(killed.path());
    assert_eq!(resumed.len(), uninterrupted.len());
    // Equal to 1e-5, NaN (no training loss before step 1) equal to NaN.
    let close = |x: f64, y: f64| (x.is_nan() && y.is_nan()) || (x - y).abs() < 1e-5;
    for (a, b) in uninterrupted.iter().zip(&resumed) {
        assert_eq!(a.step, b.step);
        assert_eq!(a.tokens, b.tokens);
        assert!(
            close(a.val_loss, b.val_loss),
            "step {}: {} vs {}",
            a.step,
            a.val_loss,
            b.val_loss
        );
        assert!(
            close(a.train_loss, b.train_loss),
            "step {}: {} vs {}",
            a.step,
            a.train_loss,
            b.train_loss
        );
    }

    // A finished run is reported, not retrained; another recipe in the same folder is refused.
    let again = run_ok(&mut baseline(whole.path(), &steps));
    assert!(again.contains("already trained"), "{again}");
    let output = baseline(
        whole.path(),
        &[
            "--set",
            "train.checkpoint_every_steps=3",
            "--set",
            "train.lr=0.5",
        ],
    )
    .output()
    .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("different configuration") && stderr.contains("train.lr"),
        "{stderr}"
    );

    // The input check is measured once and kept by re-runs. (This 150-step baseline does not
    // read its input either: its loss is the same with swapped inputs to 1e-4.)
    let summary = |out: &Path| -> serde_json::Value {
        serde_json::from_str(
            &std::fs::read_to_string(baseline_dir(out).join("summary.json")).unwrap(),
        )
        .unwrap()
    };
    let check = summary(whole.path())["input_check"].clone();
    let (matched, swapped) = (
        check["matched_loss"].as_f64().unwrap(),
        check["swapped_loss"].as_f64().unwrap(),
    );
    assert!(matched.is_finite() && swapped.is_finite(), "{check}");
    assert_eq!(
        check["examples"].as_u64(),
        summary(whole.path())["valid_examples"]
            .as_u64()
            .map(|n| n.min(512))
    );
    assert!(again.contains("inputs swapped:"), "{again}");
    assert_eq!(summary(whole.path())["input_check"], check);

    // A model folder without its checkpoint (a copied best/) is never trained over.
    std::fs::remove_dir_all(baseline_dir(killed.path()).join("checkpoint")).unwrap();
    let before = std::fs::read(baseline_dir(killed.path()).join("best/model.safetensors")).unwrap();
    let output = baseline(killed.path(), &steps).output().unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("no checkpoint"), "{stderr}");
    let after = std::fs::read(baseline_dir(killed.path()).join("best/model.safetensors")).unwrap();
    assert!(before == after, "the copied model was replaced");
}

#[test]
fn every_strategy_customizes_the_baseline_and_stores_only_its_adapter() {
    let out = tempfile::tempdir().unwrap();
    mine_training_fixtures(out.path());
    let stdout = run_ok(&mut finetune_trained_base(out.path(), "all", &[]));
    assert!(stdout.contains("| l-ldb |"), "{stdout}");
    let rows = read_rows(&out.path().join("tables/finetune.parquet")).unwrap();
    let strategies = ["baseline", "custom", "l-eo", "l-ldb", "prefix", "lora"];
    for strategy in strategies {
        let row = rows
            .iter()
            .find(|r| r.strategy == strategy && r.project_id == "music-31" && r.fold == 0)
            .unwrap_or_else(|| panic!("no {strategy} row in {rows:?}"));
        assert_eq!(row.status, "done", "{row:?}");
        assert!(row.test_loss.is_finite() && row.test_tokens > 0, "{row:?}");
        if strategy != "baseline" {
            assert!(row.trainable_params > 0 && row.adapter_bytes > 0, "{row:?}");
            assert!(row.pf_seconds > 0.0 && row.steps > 0, "{row:?}");
            assert!(
                Path::new(&row.run_dir)
                    .join("best/adapter.safetensors")
                    .exists()
            );
        }
    }
    let by = |s: &str| rows.iter().find(|r| r.strategy == s).unwrap();
    // Table 1's ordering: custom trains everything, L-LDB and prefixes a small share.
    assert_eq!(by("custom").trainable_params, by("custom").total_params);
    assert!(by("l-ldb").trainable_params < by("l-eo").trainable_params);
    assert!(by("l-ldb").adapter_bytes < by("custom").adapter_bytes);
    // The accounting charges L-LDB less per token than custom (no backward below its block).
    let per_token = |s: &str| by(s).pf_seconds / by(s).tokens as f64;
    assert!(per_token("l-ldb") < per_token("custom"));

    // A customized model generates tests as text from base + adapter.
    let base = out.path().join("runs/baseline/smoke/best");
    let adapter = Path::new(&by("lora").run_dir).join("best");
    let generated = run_ok(
        tailor()
            .args([
                "generate",
                "--num-beams",
                "2",
                "--max-length",
                "20",
                "--model",
            ])
            .arg(&base)
            .arg("--adapter")
            .arg(&adapter)
            .args([
                "--focal",
                "public int scaleNote(int amount) { return noteValue * amount; }",
            ]),
    );
    assert_generated_java(&generated);

    // One base, many projects: requests for the prefix and LoRA adapters in one mixed batch get
    // what each adapter gives them alone; an adapter that changes base weights cannot mix.
    let requests = out.path().join("requests.jsonl");
    let focal = [
        "public int scaleNote(int amount) { return noteValue * amount; }",
        "public void play() { volume = 3; }",
    ];
    let lines: Vec<String> = ["p", "l", "l", "p"]
        .iter()
        .zip(focal.iter().cycle())
        .map(|(a, f)| serde_json::json!({"adapter": a, "focal": f}).to_string())
        .collect();
    std::fs::write(&requests, lines.join("\n")).unwrap();
    let serve = |adapters: &[(&str, &str)], extra: &[&str]| {
        let mut command = tailor();
        command
            .args([
                "generate",
                "--num-beams",
                "2",
                "--max-length",
                "16",
                "--requests",
            ])
            .arg(&requests)
            .arg("--model")
            .arg(&base);
        for (name, strategy) in adapters {
            let dir = Path::new(&by(strategy).run_dir).join("best");
            command
                .arg("--adapter")
                .arg(format!("{name}={}", dir.display()));
        }
        command.args(extra);
        command
    };
    let ids = |stdout: String| -> Vec<(u64, u64, serde_json::Value)> {
        stdout
            .lines()
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).unwrap();
                (
                    v["request"].as_u64().unwrap(),
                    v["rank"].as_u64().unwrap(),
                    v["ids"].clone(),
                )
            })
            .collect()
    };
    let pair = [("p", "prefix"), ("l", "lora")];
    let mixed = ids(run_ok(&mut serve(&pair, &[])));
    assert_eq!(mixed.len(), 8, "{mixed:?}");
    assert_eq!(mixed, ids(run_ok(&mut serve(&pair, &["--one-at-a-time"]))));
    let refused = serve(&[("p", "prefix"), ("l", "l-ldb")], &[])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        !refused.status.success() && stderr.contains("l-ldb adapter"),
        "{stderr}"
    );

    // A second call finds every run finished and changes no row.
    run_ok(&mut finetune_trained_base(out.path(), "all", &[]));
    let again = read_rows(&out.path().join("tables/finetune.parquet")).unwrap();
    assert_eq!(again.len(), rows.len());
    for (a, b) in rows.iter().zip(&again) {
        assert_eq!(
            (a.wall_seconds, a.test_loss.to_bits()),
            (b.wall_seconds, b.test_loss.to_bits())
        );
    }

    // A finished run whose recipe the profile no longer matches keeps its row and is named; a
    // finished run whose folder is gone is trained again.
    let lora_dir = PathBuf::from(&by("lora").run_dir);
    std::fs::remove_dir_all(&lora_dir).unwrap();
    let output = finetune_trained_base(
        out.path(),
        "lora,prefix",
        &["--set", "finetune.lr.prefix=5e-3"],
    )
    .output()
    .unwrap();
    assert!(output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let said = format!("{stdout}{stderr}");
    assert!(
        said.contains("prefix was trained under another recipe") && said.contains("lr"),
        "{said}"
    );
    assert!(
        lora_dir.join("best/adapter.json").exists(),
        "the lora run was not trained again"
    );
    let third = read_rows(&out.path().join("tables/finetune.parquet")).unwrap();
    let find = |rows: &[tailor::tables::finetune::FinetuneRow], s: &str| {
        rows.iter().find(|r| r.strategy == s).unwrap().clone()
    };
    assert_eq!(
        find(&third, "prefix").test_loss.to_bits(),
        by("prefix").test_loss.to_bits()
    );
    assert_eq!(find(&third, "prefix").status, "done");
}

#[test]
fn a_customization_sweep_killed_mid_run_resumes_and_finishes_every_run() {
    let out = tempfile::tempdir().unwrap();
    mine_training_fixtures(out.path());
    let sweep = |out: &Path| {
        let mut command = tailor();
        command
            .args([
                "finetune",
                "--profile",
                "smoke",
                "--strategy",
                "custom,l-ldb",
                "--out",
            ])
            .arg(out);
        command
    };
    let child = sweep(out.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // The first customization run's checkpoint, once it has taken a few steps.
    let state = out
        .path()
        .join("runs/finetune/smoke/music-31/custom/fold0/checkpoint/state.json");
    kill_after_step(child, &state, 4);
    run_ok(&mut sweep(out.path()));
    let rows = read_rows(&out.path().join("tables/finetune.parquet")).unwrap();
    for strategy in ["baseline", "custom", "l-ldb"] {
        let row = rows.iter().find(|r| r.strategy == strategy).unwrap();
        assert_eq!(row.status, "done", "{row:?}");
    }
    let custom = rows.iter().find(|r| r.strategy == "custom").unwrap();
    // Resumed, not restarted: the curve has one point per evaluation, none repeated.
    let curve = curves::read_curve(&Path::new(&custom.run_dir).join(curves::FILE)).unwrap();
    let steps: Vec<u64> = curve.iter().map(|p| p.step).collect();
    assert!(steps.windows(2).all(|w| w[0] < w[1]), "{steps:?}");
    assert_eq!(custom.steps, 12);
}

#[test]
fn a_reparameterised_prefix_trains_through_its_mlp_and_stores_plain_prefixes() {
    let out = tempfile::tempdir().unwrap();
    mine_training_fixtures(out.path());
    run_ok(&mut finetune_trained_base(
        out.path(),
        "prefix",
        &[
            "--projects",
            "music-31",
            "--set",
            "finetune.prefix.mlp_hidden=24",
        ],
    ));
    let rows = read_rows(&out.path().join("tables/finetune.parquet")).unwrap();
    let row = rows
        .iter()
        .find(|r| r.strategy == "prefix")
        .unwrap_or_else(|| panic!("no prefix row in {rows:?}"));
    assert_eq!(row.status, "done", "{row:?}");
    let best = Path::new(&row.run_dir).join("best");
    let info: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(best.join("adapter.json")).unwrap()).unwrap();
    assert_eq!(info["strategy"]["prefix"]["mlp_hidden"], 24, "{info}");
    // Trained: P' and the MLP; stored: their output, the plain prefixes only.
    assert!(row.trainable_params as u64 > info["parameters"].as_u64().unwrap());
    let stored = tailor::model::hf::read_tensors(&best.join("adapter.safetensors")).unwrap();
    assert!(!stored.is_empty());
    assert!(
        stored
            .keys()
            .all(|k| k.ends_with(".prefix.key") || k.ends_with(".prefix.value")),
        "{:?}",
        stored.keys().collect::<Vec<_>>()
    );
    // The curve accounts the MLP's work too.
    let curve = curves::read_curve(&Path::new(&row.run_dir).join(curves::FILE)).unwrap();
    assert!(curve.len() >= 2 && curve.last().unwrap().pf_seconds() > 0.0);
    let generated = run_ok(
        tailor()
            .args([
                "generate",
                "--num-beams",
                "2",
                "--max-length",
                "12",
                "--model",
            ])
            .arg(out.path().join("runs/baseline/smoke/best"))
            .arg("--adapter")
            .arg(&best)
            .args(["--focal", "public void play() { volume = 3; }"]),
    );
    assert_generated_java(&generated);
}
