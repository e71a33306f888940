//! Helpers of the end-to-end tests that drive the `tailor` binary.

pub mod own;
pub mod perturb;

use std::path::Path;
use std::process::Command;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// The `tailor` binary of this build, run from the repository root (corpus paths are relative
/// to it) with the allocator setting the make targets use.
pub fn tailor() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_tailor"));
    command.current_dir(ROOT).env("MIMALLOC_PURGE_DELAY", "-1");
    command
}

/// Run a command that must succeed; its stdout.
pub fn run_ok(command: &mut Command) -> String {
    let output = command.output().expect("tailor runs");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "tailor failed: {}\nstdout:\n{stdout}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

/// Mine the training fixtures (`pipelines/corpora/train-fixtures.csv`) into `out`.
pub fn mine_training_fixtures(out: &Path) {
    run_ok(
        tailor()
            .args([
                "mine",
                "--corpus",
                "pipelines/corpora/train-fixtures.csv",
                "--jobs",
                "2",
                "--out",
            ])
            .arg(out),
    );
}

/// `tailor finetune --profile smoke --strategy S --set train.max_steps=20 EXTRA --out OUT`: the
/// short customization sweep the end-to-end tests share.
pub fn smoke_finetune(out: &Path, strategy: &str, extra: &[&str]) -> Command {
    let mut command = tailor();
    command
        .args(["finetune", "--profile", "smoke", "--strategy", strategy])
        .args(["--set", "train.max_steps=20"])
        .args(extra)
        .arg("--out")
        .arg(out);
    command
}
