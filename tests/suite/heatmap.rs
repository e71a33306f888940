//! `tailor heatmap` end to end: a projects table over small Java folders in, the vocabulary
//! tables, the statistics and Figure 1 out.

use std::path::Path;
use std::process::Command;

use tailor::mining::MiningStats;
use tailor::tables::projects::{ProjectRow, Status, write_projects};
use tailor::tables::table_path;
use tailor::tables::vocab::{read_shared_tokens, read_vocab_summary};

fn row(id: &str, checkout: Option<&Path>, java_files: u64, status: Status) -> ProjectRow {
    ProjectRow {
        project_id: id.into(),
        name: id.into(),
        source: format!("deb:{id}=1.0-1"),
        revision: Some("1.0-1".into()),
        checkout: checkout.map(|p| p.display().to_string()),
        size_bytes: 100,
        java_files,
        java_bytes: 100,
        test_files: 0,
        download_bytes: 0,
        stars: None,
        status,
        error: (status == Status::Error).then(|| "404".into()),
        split: None,
        size_class: None,
        target: false,
        mining: MiningStats::default(),
        pairs: 0,
    }
}

fn write(root: &Path, rel: &str, text: &str) {
    let path = root.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// Three projects with known token sets (keywords and comments must not count):
/// - `tiny`:  {alpha, beta}
/// - `mid`:   {alpha, beta, gamma, delta}
/// - `large`: {alpha, gamma, omega, sigma, http, host}
fn corpus(root: &Path) -> Vec<ProjectRow> {
    let tiny = root.join("tiny");
    write(
        &tiny,
        "src/Alpha.java",
        "/* Copyright ACME. Licensed under the Apache License. */\n\
         public class Alpha { int beta; } // gamma in a comment",
    );
    let mid = root.join("mid");
    write(
        &mid,
        "a/Alpha.java",
        "class Alpha { static final int BETA = 1; }",
    );
    write(
        &mid,
        "b/Gamma.java",
        "interface Gamma { void delta(); /* omega */ }",
    );
    let large = root.join("large");
    write(
        &large,
        "x/Omega.java",
        "package alpha; public record Omega(int sigma) { static { Omega.sigma(\"http://host\"); } }",
    );
    write(&large, "x/Gamma2.java", "enum Gamma2 { SIGMA }");
    let empty = root.join("empty");
    write(&empty, "README", "no java here");
    vec![
        row("tiny", Some(&tiny), 1, Status::Ok),
        row("mid", Some(&mid), 2, Status::Ok),
        row("large", Some(&large), 2, Status::Ok),
        row("empty", Some(&empty), 0, Status::Ok),
        row("broken", None, 0, Status::Error),
    ]
}

fn heatmap(out: &Path, extra: &[&str]) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_tailor"))
        .arg("heatmap")
        .arg("--out")
        .arg(out)
        .args(extra)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "stdout:\n{stdout}\nstderr:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

#[test]
fn heatmap_writes_the_tables_statistics_and_figure() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    write_projects(&corpus(dir.path()), &table_path(&out, "projects")).unwrap();
    let stdout = heatmap(&out, &[]);

    let summary = read_vocab_summary(&table_path(&out, "vocab_summary")).unwrap();
    let ranked: Vec<(&str, u64, u64)> = summary
        .iter()
        .map(|r| (r.project_id.as_str(), r.unique_tokens, r.rank))
        .collect();
    assert_eq!(ranked, [("tiny", 2, 0), ("mid", 4, 1), ("large", 6, 2)]);

    let shared = read_shared_tokens(&table_path(&out, "shared_tokens")).unwrap();
    assert_eq!(shared.len(), 9, "n² rows, diagonal included");
    let cell = |i: &str, j: &str| {
        let r = shared
            .iter()
            .find(|r| r.project_i == i && r.project_j == j)
            .unwrap();
        (r.shared, r.ratio)
    };
    assert_eq!(cell("tiny", "mid"), (2, 1.0));
    assert_eq!(cell("mid", "tiny"), (2, 0.5));
    assert_eq!(cell("tiny", "large"), (1, 0.5));
    assert_eq!(cell("large", "mid"), (2, 2.0 / 6.0));
    assert_eq!(cell("large", "large"), (6, 1.0));
    // Rows are in rank order.
    assert_eq!(shared[0].project_i, "tiny");
    assert_eq!(shared[8].project_i, "large");

    // Off-diagonal ratios: 1, 1/2, 1/2, 1/2, 1/6, 1/3 → Q1 3/8 (numpy), median 1/2, mean 1/2.
    assert!(stdout.contains("with Java files"), "{stdout}");
    let line = |name: &str| {
        stdout
            .lines()
            .find(|l| l.trim_start().starts_with(name))
            .unwrap_or_else(|| panic!("no `{name}` line in:\n{stdout}"))
            .split_whitespace()
            .skip(1)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        line("median"),
        ["50.0%", "13.0%"],
        "ours beside the paper's"
    );
    assert_eq!(line("Q1"), ["37.5%", "-"]);
    assert_eq!(line("mean"), ["50.0%", "-"]);

    let png = std::fs::read(out.join("figures/figure1.png")).unwrap();
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 20_000,
        "{} bytes",
        png.len()
    );
    let svg = std::fs::read_to_string(out.join("figures/figure1.svg")).unwrap();
    assert!(
        svg.contains("<svg") && svg.contains("<image"),
        "the heat-map is an embedded raster"
    );
    assert!(svg.contains("Off-diagonal ratios"));
    assert!(svg.contains("\"data:image/png;base64,") && !svg.contains("\"data:png;"));
}

#[test]
fn a_seeded_limit_samples_and_says_when_too_few_projects_have_java() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    write_projects(&corpus(dir.path()), &table_path(&out, "projects")).unwrap();

    let stdout = heatmap(&out, &["--limit", "2", "--seed", "7"]);
    let first = read_vocab_summary(&table_path(&out, "vocab_summary")).unwrap();
    assert_eq!(first.len(), 2, "{stdout}");
    heatmap(&out, &["--limit", "2", "--seed", "7"]);
    assert_eq!(
        read_vocab_summary(&table_path(&out, "vocab_summary")).unwrap(),
        first
    );

    let stdout = heatmap(&out, &["--limit", "930"]);
    assert!(
        stdout.contains("only 3 projects with Java tokens exist; asked for 930"),
        "{stdout}"
    );
}

#[test]
fn a_missing_projects_table_names_the_stage_to_run() {
    let dir = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_tailor"))
        .args(["heatmap", "--out"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("projects.parquet"), "{stderr}");
}

#[test]
fn a_sampled_project_without_tokens_is_replaced_by_the_next_in_the_sample() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let mut rows = corpus(dir.path());
    let comments = dir.path().join("comments");
    write(
        &comments,
        "Only.java",
        "// nothing but a comment\n/* and another */\n",
    );
    rows.push(row("comments", Some(&comments), 1, Status::Ok));
    write_projects(&rows, &table_path(&out, "projects")).unwrap();
    let mut replaced = 0;
    for seed in ["1", "2", "3", "4"] {
        let stdout = heatmap(&out, &["--limit", "3", "--seed", seed]);
        if stdout.contains("skipped 1 projects without Java tokens") {
            replaced += 1;
        }
        let ids: Vec<String> = read_vocab_summary(&table_path(&out, "vocab_summary"))
            .unwrap()
            .into_iter()
            .map(|r| r.project_id)
            .collect();
        assert_eq!(ids.len(), 3, "seed {seed}: {stdout}");
        assert!(!ids.contains(&"comments".to_string()), "seed {seed}");
    }
    assert!(
        replaced > 0,
        "no seed sampled the comment-only project: the test proves nothing"
    );
}
