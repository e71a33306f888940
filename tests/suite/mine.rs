//! `tailor mine` end to end: a local folder, a git repository cloned through `file://`, and a
//! broken source, mined into Parquet tables; a re-run reuses what it has.

use std::path::{Path, PathBuf};
use std::process::Command;

use tailor::tables::projects::Status;
use tailor::tables::{pairs, projects, table_path};

const FOCAL: &str = r#"package com.example.calc;

public class Calculator {
    private int memory;

    public Calculator() {}

    public int add(int a, int b) { return a + b; }

    public int negate(int a) { return -a; }
}
"#;

const TEST: &str = r#"package com.example.calc;

import org.junit.Test;
import static org.junit.Assert.assertEquals;

public class CalculatorTest {
    @Test
    public void testAdd() {
        assertEquals(3, new Calculator().add(1, 2));
    }

    @Test
    public void negatesNumbers() {
        assertEquals(-1, new Calculator().negate(1));
    }
}
"#;

fn write_project(root: &Path) {
    let main = root.join("src/main/java/com/example/calc");
    let test = root.join("src/test/java/com/example/calc");
    std::fs::create_dir_all(&main).unwrap();
    std::fs::create_dir_all(&test).unwrap();
    std::fs::write(main.join("Calculator.java"), FOCAL).unwrap();
    std::fs::write(test.join("CalculatorTest.java"), TEST).unwrap();
}

/// A git repository with the project committed, as a `file://` URL.
fn git_project(root: &Path) -> String {
    write_project(root);
    let repo = git2::Repository::init(root).unwrap();
    let mut index = repo.index().unwrap();
    index
        .add_all(["*"], git2::IndexAddOption::DEFAULT, None)
        .unwrap();
    index.write().unwrap();
    let tree = repo.find_tree(index.write_tree().unwrap()).unwrap();
    let sig = git2::Signature::now("tailor tests", "tests@example.invalid").unwrap();
    repo.commit(Some("HEAD"), &sig, &sig, "calculator", &tree, &[])
        .unwrap();
    format!("file://{}", root.display())
}

fn tailor(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_tailor"))
        .args(args)
        .output()
        .expect("tailor runs")
}

#[test]
fn mine_writes_tables_records_failures_and_resumes() {
    let tmp = tempfile::tempdir().unwrap();
    let local = tmp.path().join("local-calc");
    write_project(&local);
    let git_url = git_project(&tmp.path().join("git-calc"));
    let corpus = tmp.path().join("corpus.csv");
    std::fs::write(
        &corpus,
        format!(
            "id,name,source,revision,stars\n\
             local-calc,Local Calculator,{},,\n\
             git-calc,Git Calculator,{git_url},,42\n\
             missing,Missing Project,{},,\n",
            local.display(),
            tmp.path().join("does-not-exist").display()
        ),
    )
    .unwrap();
    let out: PathBuf = tmp.path().join("out");
    let args = [
        "mine",
        "--corpus",
        corpus.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--min-pairs",
        "1",
    ];

    let first = tailor(&args);
    let stdout = String::from_utf8_lossy(&first.stdout);
    let stderr = String::from_utf8_lossy(&first.stderr);
    assert!(first.status.success(), "mine failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains("projects: 2 ok, 1 failed"), "{stdout}");
    assert!(
        stdout.contains("missing"),
        "the failure is reported: {stdout}"
    );
    assert!(stdout.contains("Table 2"), "{stdout}");

    let rows = projects::read_projects(&table_path(&out, "projects")).unwrap();
    assert_eq!(rows.len(), 3);
    let by_id = |id: &str| rows.iter().find(|r| r.project_id == id).unwrap();
    assert_eq!(by_id("missing").status, Status::Error);
    assert!(by_id("missing").error.is_some());
    let git = by_id("git-calc");
    assert_eq!(git.status, Status::Ok);
    assert_eq!(git.stars, Some(42));
    assert_eq!(
        git.revision.as_deref().map(str::len),
        Some(40),
        "the commit is recorded"
    );
    assert!(git.split.is_some() && git.size_class.as_deref() == Some("small"));

    let mined = pairs::read_pairs(&table_path(&out, "pairs")).unwrap();
    for project in ["local-calc", "git-calc"] {
        let mut found: Vec<(String, String)> = mined
            .iter()
            .filter(|p| p.project_id == project)
            .map(|p| (p.test_method.clone(), p.focal_method.clone()))
            .collect();
        found.sort();
        assert_eq!(
            found,
            vec![
                ("negatesNumbers".to_string(), "negate".to_string()),
                ("testAdd".to_string(), "add".to_string()),
            ],
            "pairs of {project}"
        );
        assert_eq!(by_id(project).pairs, 2);
    }

    // A second run reuses the per-project results instead of mining again.
    let cached = out.join("cache/mined/local-calc.json");
    let before = std::fs::metadata(&cached).unwrap().modified().unwrap();
    let second = tailor(&args);
    assert!(second.status.success());
    let after = std::fs::metadata(&cached).unwrap().modified().unwrap();
    assert_eq!(before, after, "the cached result was reused, not rewritten");
    assert_eq!(
        pairs::read_pairs(&table_path(&out, "pairs")).unwrap().len(),
        mined.len()
    );
    assert!(out.join("reports/table2.md").exists());
}

#[test]
fn mine_fails_when_no_project_succeeds() {
    let tmp = tempfile::tempdir().unwrap();
    let corpus = tmp.path().join("corpus.csv");
    std::fs::write(
        &corpus,
        "id,name,source,revision,stars\nnope,Nope,/nonexistent/tailor/project,,\n",
    )
    .unwrap();
    let out = tmp.path().join("out");
    let run = tailor(&[
        "mine",
        "--corpus",
        corpus.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(!run.status.success());
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(stderr.contains("no project"), "{stderr}");
    // The failure is still recorded.
    let rows = projects::read_projects(&table_path(&out, "projects")).unwrap();
    assert_eq!(rows[0].status, Status::Error);
}

#[test]
fn acquire_out_writes_the_projects_table_with_checkout_measures_and_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let local = tmp.path().join("local-calc");
    write_project(&local);
    let corpus = tmp.path().join("corpus.csv");
    std::fs::write(
        &corpus,
        format!(
            "id,name,source,revision,stars\n\
             local-calc,Local Calculator,{},,7\n\
             missing,Missing Project,{},,\n",
            local.display(),
            tmp.path().join("does-not-exist").display()
        ),
    )
    .unwrap();
    let out = tmp.path().join("out");
    let run = tailor(&[
        "acquire",
        "--corpus",
        corpus.to_str().unwrap(),
        "--cache",
        tmp.path().join("cache").to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let rows = projects::read_projects(&table_path(&out, "projects")).unwrap();
    assert_eq!(rows.len(), 2);
    let ok = rows.iter().find(|r| r.project_id == "local-calc").unwrap();
    assert_eq!(ok.status, Status::Ok);
    assert_eq!((ok.java_files, ok.test_files, ok.stars), (2, 1, Some(7)));
    assert!(ok.checkout.is_some());
    let failed = rows.iter().find(|r| r.project_id == "missing").unwrap();
    assert_eq!(failed.status, Status::Error);
    assert!(failed.error.as_deref().unwrap().contains("does-not-exist"));
}
