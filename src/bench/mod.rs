//! Benchmarks: each stage's speed measured on its own code paths, one file per benchmark
//! (`tailor bench-*`, `make bench-*`).
//!
//! They live in the library, not in the command layer, because they drive library internals
//! directly (the trainer's step and loop, the miner, the shared-token matrix, the adapter bank)
//! and their measuring code is tested like the stages themselves; a `tailor bench-*` command only
//! parses its options and calls one `run` here. A benchmark prints its table; none writes a table
//! another stage reads (`mine` keeps its report under `OUT/reports/`).
//!
//! [`model`]: training-step and beam-search throughput per backend, beside PyTorch;
//! [`train`]: the training loop and each strategy's step on real batches; [`mine`]: extraction;
//! [`heatmap`]: the shared-token matrix on synthetic corpora; [`mixed`]: one base serving many
//! projects' adapters in mixed batches vs one project at a time; [`serve`]: `tailor serve` under
//! concurrent HTTP clients.

pub mod heatmap;
pub mod mine;
pub mod mixed;
pub mod model;
pub mod serve;
pub mod train;

/// The result of a PyTorch peer benchmark script: its last stdout line that is a JSON object,
/// parsed (the scripts print progress first). A failed run is an error with its stderr.
pub(crate) fn peer_result(output: &std::process::Output) -> anyhow::Result<serde_json::Value> {
    use anyhow::Context as _;
    if !output.status.success() {
        anyhow::bail!(
            "the PyTorch peer failed ({}):\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = stdout
        .lines()
        .rev()
        .find(|l| l.trim_start().starts_with('{'))
        .context("the PyTorch peer printed no JSON line")?;
    serde_json::from_str(line).with_context(|| format!("parsing the peer's JSON: {line}"))
}

#[cfg(test)]
mod tests {
    use std::os::unix::process::ExitStatusExt;
    use std::process::{ExitStatus, Output};

    fn output(code: i32, stdout: &str) -> Output {
        Output {
            status: ExitStatus::from_raw(code << 8),
            stdout: stdout.as_bytes().to_vec(),
            stderr: b"Traceback: boom".to_vec(),
        }
    }

    #[test]
    fn the_peers_result_is_its_last_json_line() {
        let value =
            super::peer_result(&output(0, "warm-up\n{\"a\": 1}\nstep 2\n{\"a\": 2}\n")).unwrap();
        assert_eq!(value["a"], 2);
        let none = super::peer_result(&output(0, "no json here\n")).unwrap_err();
        assert!(none.to_string().contains("no JSON line"), "{none}");
        let failed = super::peer_result(&output(1, "{\"a\": 1}\n")).unwrap_err();
        assert!(failed.to_string().contains("boom"), "{failed}");
    }
}
