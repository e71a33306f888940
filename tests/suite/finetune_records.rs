//! What the customization sweep records about each run, so that no reported number can come
//! from a stale fold, a stale baseline, an untrained (step-0) adapter or a run the wall-time
//! guard cut short (issue 18). Drives the `tailor` binary on the training fixtures with the
//! `smoke` profile.

use crate::common;

use std::path::Path;

use common::{mine_training_fixtures, run_ok, smoke_finetune, tailor};
use tailor::tables::finetune::{FinetuneRow, read_rows};
use tailor::train::finetune::{FoldParts, RUN_FOLD_FILE, fold_file};

fn rows(out: &Path) -> Vec<FinetuneRow> {
    read_rows(&out.join("tables/finetune.parquet")).unwrap()
}

fn row(rows: &[FinetuneRow], strategy: &str) -> FinetuneRow {
    rows.iter()
        .find(|r| r.strategy == strategy && r.project_id == "music-31" && r.fold == 0)
        .unwrap_or_else(|| panic!("no {strategy} row in {rows:?}"))
        .clone()
}

fn fold_hash(path: &Path) -> String {
    FoldParts::read(path).unwrap().membership_hash()
}

#[test]
fn a_changed_fold_marks_finished_runs_stale_and_re_measures_the_baseline() {
    let out = tempfile::tempdir().unwrap();
    mine_training_fixtures(out.path());
    let steps = ["--set", "finetune.train.max_steps=6"];
    run_ok(&mut smoke_finetune(out.path(), "custom,ir", &steps));
    let first = rows(out.path());
    let (baseline, custom, ir) = (
        row(&first, "baseline"),
        row(&first, "custom"),
        row(&first, "ir"),
    );
    let shared = fold_file(out.path(), "smoke", "music-31", 0);
    let run_fold = Path::new(&custom.run_dir).join(RUN_FOLD_FILE);
    // Every row names the fold it was measured on; the run keeps its own record of it.
    assert_eq!(custom.fold_hash, fold_hash(&shared));
    assert_eq!(custom.fold_hash, fold_hash(&run_fold));
    assert_eq!(baseline.fold_hash, custom.fold_hash);
    assert_eq!(ir.fold_hash, custom.fold_hash);
    assert_eq!(baseline.base_hash, custom.base_hash);
    assert!(!custom.base_hash.is_empty());
    // The run records where it started and where its best adapter comes from.
    assert_eq!(custom.status, "done", "{custom:?}");
    assert_eq!(custom.stopped, "max_steps");
    assert!(custom.best_step > 0 && custom.best_step <= custom.steps);
    assert!(custom.step0_val_loss > custom.best_val_loss, "{custom:?}");
    // Retrieval trains nothing and scores no tokens.
    assert_eq!((ir.trainable_params, ir.steps, ir.pf_seconds), (0, 0, 0.0));
    assert!(ir.test_loss.is_nan() && ir.status == "done");

    // A run's recipe holds only its own strategy's settings: another prefix length leaves the
    // finished `custom` run as it is.
    let mut prefix_changed = steps.to_vec();
    prefix_changed.extend(["--set", "finetune.prefix.len=3"]);
    let output = smoke_finetune(out.path(), "custom,ir", &prefix_changed)
        .output()
        .unwrap();
    assert!(output.status.success());
    let said = String::from_utf8_lossy(&output.stderr);
    assert!(!said.contains("another recipe"), "{said}");
    assert_eq!(row(&rows(out.path()), "custom"), custom);

    // Another fold seed moves pairs between the parts: the finished run is no longer
    // comparable with a baseline measured on the new test part.
    let mut moved = steps.to_vec();
    moved.extend(["--set", "finetune.fold_seed=7"]);
    let output = smoke_finetune(out.path(), "custom,ir", &moved)
        .output()
        .unwrap();
    assert!(output.status.success());
    let said = String::from_utf8_lossy(&output.stderr);
    assert!(
        said.contains("trained on another fold or base") && said.contains(&custom.run_dir),
        "{said}"
    );
    let second = rows(out.path());
    let (baseline2, custom2) = (row(&second, "baseline"), row(&second, "custom"));
    assert_eq!(custom2.status, "stale", "{custom2:?}");
    assert!(custom2.error.as_deref().unwrap().contains("fold_seed"));
    assert_eq!(custom2.test_loss.to_bits(), custom.test_loss.to_bits());
    assert_ne!(baseline2.fold_hash, baseline.fold_hash);
    assert_eq!(baseline2.fold_hash, fold_hash(&shared));
    assert_eq!(row(&second, "ir").fold_hash, baseline2.fold_hash);
    // The run's own fold record is untouched by the new fold file.
    assert_eq!(fold_hash(&run_fold), custom.fold_hash);

    // Evaluation never generates for a stale run.
    run_ok(
        tailor()
            .args(["evaluate", "--profile", "smoke", "--max-test", "2"])
            .args(["--strategy", "baseline,custom", "--out"])
            .arg(out.path()),
    );
    let predictions =
        tailor::tables::predictions::read_rows(&out.path().join("tables/predictions.parquet"))
            .unwrap();
    assert!(predictions.iter().any(|p| p.strategy == "baseline"));
    assert!(
        predictions.iter().all(|p| p.strategy != "custom"),
        "a stale run was evaluated"
    );
}

#[test]
fn untrained_and_guard_stopped_runs_are_marked_and_a_capped_run_continues() {
    let out = tempfile::tempdir().unwrap();
    mine_training_fixtures(out.path());
    // A step this small cannot move f32 weights: the best model stays the step-0 start.
    run_ok(&mut smoke_finetune(
        out.path(),
        "l-ldb",
        &[
            "--set",
            "finetune.train.max_steps=4",
            "--set",
            "finetune.lr.l-ldb=1e-12",
        ],
    ));
    let untrained = row(&rows(out.path()), "l-ldb");
    assert_eq!(untrained.status, "untrained", "{untrained:?}");
    assert_eq!(untrained.best_step, 0);
    assert!(untrained.error.as_deref().unwrap().contains("step 0"));

    // The wall-time guard stops LoRA after its first step: marked capped, not reported.
    let guard = |minutes: &str| {
        smoke_finetune(
            out.path(),
            "lora",
            &[
                "--set",
                "finetune.train.max_steps=8",
                "--set",
                &format!("finetune.train.max_minutes={minutes}"),
            ],
        )
    };
    run_ok(&mut guard("0.000001"));
    let capped = row(&rows(out.path()), "lora");
    assert_eq!(capped.status, "capped", "{capped:?}");
    assert_eq!(capped.stopped, "max_minutes");
    assert!(capped.steps < 8, "{capped:?}");
    // Without the guard the same run continues from its checkpoint to the recipe's end.
    run_ok(&mut guard("0.0"));
    let finished = row(&rows(out.path()), "lora");
    assert_eq!(finished.status, "done", "{finished:?}");
    assert_eq!(
        (finished.steps, finished.stopped.as_str()),
        (8, "max_steps")
    );
}

#[test]
fn a_retrieval_augmented_sweep_retrieves_from_each_folds_training_part_only() {
    let out = tempfile::tempdir().unwrap();
    mine_training_fixtures(out.path());
    run_ok(&mut smoke_finetune(
        out.path(),
        "custom,ir",
        &[
            "--set",
            "data.retrieved=1",
            "--set",
            "finetune.train.max_steps=4",
        ],
    ));
    let custom = row(&rows(out.path()), "custom");
    assert_eq!(custom.status, "done", "{custom:?}");
    let recipe =
        std::fs::read_to_string(Path::new(&custom.run_dir).join("config.resolved.toml")).unwrap();
    assert!(recipe.contains("retrieved = 1"), "{recipe}");

    // The examples table retrieves within the whole project (leave one out); the fold's inputs
    // are rebuilt to retrieve from its training part only.
    let parts = FoldParts::read(&Path::new(&custom.run_dir).join(RUN_FOLD_FILE)).unwrap();
    let examples = tailor::data::examples::read_examples(out.path()).unwrap();
    let of = |ids: &[String]| -> Vec<tailor::data::examples::Example> {
        ids.iter()
            .map(|id| examples.iter().find(|e| &e.pair_id == id).unwrap().clone())
            .collect()
    };
    let inputs = tailor::train::finetune::FoldInputs::load(out.path()).unwrap();
    assert!(inputs.rebuilds());
    let table_retrieves_outside_train =
        of(&parts.test)
            .iter()
            .chain(of(&parts.valid).iter())
            .any(|e| {
                e.retrieved_pair_id
                    .as_ref()
                    .is_some_and(|id| !parts.train.contains(id))
            });
    for ids in [&parts.train, &parts.valid, &parts.test] {
        let rebuilt = inputs
            .rebuild(&of(ids), &parts.project_id, parts.fold, &parts.train)
            .unwrap();
        assert_eq!(rebuilt.len(), ids.len());
        for example in &rebuilt {
            let retrieved = example
                .retrieved_pair_id
                .as_ref()
                .expect("a retrieved test");
            assert!(parts.train.contains(retrieved), "{example:?}");
            assert_ne!(retrieved, &example.pair_id);
        }
    }
    assert!(
        table_retrieves_outside_train,
        "the fixture does not tell the fold's inputs from the table's"
    );
    // Evaluation rebuilds the test inputs the same way (FoldInputs) and runs on them.
    run_ok(
        tailor()
            .args(["evaluate", "--profile", "smoke", "--max-test", "2"])
            .args(["--strategy", "baseline,custom,ir"])
            .arg("--out")
            .arg(out.path()),
    );
}

#[test]
fn a_report_leaves_out_rows_measured_on_another_base() {
    let out = tempfile::tempdir().unwrap();
    mine_training_fixtures(out.path());
    run_ok(&mut smoke_finetune(
        out.path(),
        "custom,ir",
        &["--set", "finetune.train.max_steps=4"],
    ));
    run_ok(
        tailor()
            .args(["evaluate", "--profile", "smoke", "--max-test", "2", "--out"])
            .arg(out.path()),
    );
    let report = || {
        let output = tailor()
            .args(["report", "--profile", "smoke", "--out"])
            .arg(out.path())
            .output()
            .unwrap();
        String::from_utf8_lossy(&output.stderr).into_owned()
    };
    assert!(!report().contains("leaving out"));
    // The base is trained again (here: its config rewritten, which changes its content hash)
    // and the sweep has not re-measured this project yet.
    let config = out.path().join("runs/baseline/smoke/best/config.json");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(&config, format!("{text}\n")).unwrap();
    let said = report();
    for strategy in ["baseline", "custom"] {
        assert!(
            said.contains(&format!(
                "leaving out music-31 {strategy} fold 0: measured on another base"
            )),
            "{said}"
        );
    }
    assert!(!said.contains("leaving out music-31 ir "), "{said}");
}

#[test]
fn a_sweep_with_retrieved_inputs_from_a_plain_baseline_rebuilds_the_examples_first() {
    let out = tempfile::tempdir().unwrap();
    mine_training_fixtures(out.path());
    let steps = ["--set", "finetune.train.max_steps=4"];
    run_ok(&mut smoke_finetune(out.path(), "custom", &steps));
    let stamp = || std::fs::read_to_string(out.path().join("tables/examples.stamp.json")).unwrap();
    assert!(!stamp().contains("\"retrieved\": 1"), "{}", stamp());
    let plain_base = rows(out.path())
        .into_iter()
        .find(|r| r.strategy == "baseline")
        .unwrap()
        .base_hash;

    // The baseline exists: the sweep brings the examples to the profile's settings itself.
    let augmented = [steps[0], steps[1], "--set", "data.retrieved=1"];
    run_ok(&mut smoke_finetune(out.path(), "custom", &augmented));
    assert!(stamp().contains("\"retrieved\": 1"), "{}", stamp());
    // The plain run is not mixed in: it is stale, saying why, until its folder is removed.
    let stale = row(&rows(out.path()), "custom");
    assert_eq!(stale.status, "stale", "{stale:?}");
    assert!(
        stale.error.as_deref().unwrap().contains("data.retrieved"),
        "{stale:?}"
    );
    std::fs::remove_dir_all(&stale.run_dir).unwrap();
    run_ok(&mut smoke_finetune(out.path(), "custom", &augmented));
    let custom = row(&rows(out.path()), "custom");
    assert_eq!(custom.status, "done", "{custom:?}");
    assert_eq!(
        custom.base_hash, plain_base,
        "customized from the plain baseline"
    );
    let recipe =
        std::fs::read_to_string(Path::new(&custom.run_dir).join("config.resolved.toml")).unwrap();
    assert!(recipe.contains("retrieved = 1"), "{recipe}");
    let examples = tailor::data::examples::read_examples(out.path()).unwrap();
    assert!(examples.iter().any(|e| e.retrieved_pair_id.is_some()));
}
