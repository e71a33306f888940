//! `tailor suggest` and the suggestion engine on a registry of own projects
//! ([`crate::common::own`]): candidates from both sources, labelled and ranked by the project's
//! model; the method finder's errors; mixed and separate batches agreeing; `--write` never
//! touching a developer's method.

use crate::common::own;

use tailor::adapt::registry;
use tailor::model::adapter::base_hash;
use tailor::strategy::adapter::read_info;

#[test]
fn the_fixture_registers_mixing_and_separate_projects_on_one_base() {
    let out = tempfile::tempdir().unwrap();
    let base = own::registered_projects(out.path());
    let registered = registry::for_base(out.path(), &base_hash(&base).unwrap()).unwrap();
    let names: Vec<&str> = registered
        .iter()
        .map(|r| r.manifest.name.as_str())
        .collect();
    let mut want = own::PROJECTS.to_vec();
    want.sort_unstable();
    assert_eq!(names, want);
    for project in &registered {
        let info = read_info(&project.paths.adapter_dir()).unwrap();
        let name = project.manifest.name.as_str();
        assert_eq!(info.strategy, own::strategy_of(name));
        assert_eq!(
            info.strategy.mixes_in_batch(),
            own::MIXED.contains(&name),
            "{name}"
        );
        assert!(project.paths.pairs().exists());
    }
    let separate = registered.iter().find(|r| r.manifest.name == own::SEPARATE);
    assert_eq!(separate.unwrap().manifest.strategy, "l-ldb");
}

use std::path::Path;

use tailor::model::Backend;
use tailor::suggest::{
    Candidate, Engine, EngineOptions, FocalSpec, Source, SuggestError, SuggestRequest,
};

use crate::common::{run_ok, tailor};

/// The largest k the tests' engines accept.
const MAX_K: usize = 10;

fn load_engine(out: &Path, base: &Path, projects: &[&str]) -> Engine {
    Engine::load(&EngineOptions {
        out: out.to_path_buf(),
        base: base.to_path_buf(),
        projects: projects.iter().map(|p| p.to_string()).collect(),
        backend: Backend::Flex,
        cuda: false,
        batch_size: 8,
        num_beams: None,
        max_length: None,
        stop_loops: tailor::suggest::DEFAULT_STOP_LOOPS,
        max_k: MAX_K,
    })
    .expect("loading the engine")
}

fn java(project: &str, source: &str, method: &str, k: usize) -> SuggestRequest {
    SuggestRequest {
        project: project.into(),
        focal: FocalSpec::Java {
            source: source.into(),
            origin: "Gate.java".into(),
            method: method.into(),
        },
        k,
    }
}

/// A focal class that has no test in the fixture: its methods' names are new to every project.
const GATE: &str = r#"package org.fixture.learnable;

public class Gate {
    private int height;
    private String owner;

    public int getHeight() {
        return height;
    }

    public void setHeight(int height) {
        this.height = height;
    }

    public int add(int x) {
        return height + x;
    }

    public int add(int x, int y) {
        return x + y;
    }
}
"#;

fn assert_ranked(candidates: &[Candidate]) {
    // Well-formed methods with a body first (those calling the focal method before the
    // others), then empty ones, then the rest, each by mean NLL.
    let key = |c: &Candidate| (!c.well_formed, c.empty, !c.calls_focal, c.mean_nll);
    assert!(
        candidates.windows(2).all(|w| key(&w[0]) <= key(&w[1])),
        "not ranked well-formed with a body first, then by mean NLL: {candidates:#?}"
    );
    for c in candidates {
        assert_eq!(
            c.well_formed,
            tailor::suggest::write::parses_as_method(&c.test),
            "{c:?}"
        );
        assert_eq!(
            c.empty,
            tailor::suggest::write::body_is_empty(&c.test),
            "{c:?}"
        );
    }
    assert!(
        candidates
            .iter()
            .all(|c| c.mean_nll.is_finite() && c.mean_nll > 0.0)
    );
}

#[test]
fn candidates_come_from_both_sources_labelled_and_ranked_by_the_model() {
    let out = tempfile::tempdir().unwrap();
    let base = own::registered_projects(out.path());
    let engine = load_engine(out.path(), &base, &[]);
    let names: Vec<String> = engine.projects().into_iter().map(|p| p.name).collect();
    assert_eq!(names, ["alpha", "beta", "delta", "gamma"]);
    for project in own::PROJECTS {
        let results = engine.suggest_batch(&[
            java(project, GATE, "getHeight", 5),
            java(project, GATE, "getHeight", MAX_K),
        ]);
        let five = results[0].as_ref().unwrap();
        assert_eq!(five.len(), 5, "{project}");
        assert_ranked(five);
        // More than the beams: every beam, and the project's distinct retrieved tests (the
        // fixture's getters are tested alike, so fewer than ten remain distinct once adapted).
        let ten = results[1].as_ref().unwrap();
        assert!(
            ten.len() > own::NUM_BEAMS && ten.len() <= MAX_K,
            "{project}"
        );
        assert_ranked(ten);
        let mut beams = Vec::new();
        let mut retrieved = 0;
        for candidate in ten {
            match &candidate.source {
                Source::Generated { beam_rank } => beams.push(*beam_rank),
                Source::Retrieved { pair_id, bm25 } => {
                    retrieved += 1;
                    assert!(!pair_id.is_empty() && *bm25 > 0.0);
                    // Adapted to the query: the method's name and class, not the retrieved ones.
                    assert!(
                        candidate.test.contains("getHeight"),
                        "{project}: {}",
                        candidate.test
                    );
                }
            }
        }
        beams.sort_unstable();
        beams.dedup();
        assert!(beams.iter().all(|&r| (1..=own::NUM_BEAMS).contains(&r)));
        assert_eq!(beams.len(), own::NUM_BEAMS, "{ten:#?}");
        assert_eq!(retrieved, ten.len() - own::NUM_BEAMS);
        // No two candidates are the same test up to whitespace.
        let mut keys: Vec<String> = ten
            .iter()
            .map(|c| c.test.split_whitespace().collect())
            .collect();
        keys.sort();
        keys.dedup();
        assert_eq!(keys.len(), ten.len());
    }
    // The project's model decides: another project ranks the same request differently.
    let alpha = &engine.suggest_batch(&[java("alpha", GATE, "getHeight", 5)])[0];
    let delta = &engine.suggest_batch(&[java("delta", GATE, "getHeight", 5)])[0];
    let nll = |r: &Result<Vec<Candidate>, SuggestError>| -> Vec<f64> {
        r.as_ref().unwrap().iter().map(|c| c.mean_nll).collect()
    };
    assert_ne!(nll(alpha), nll(delta));
}

#[test]
fn bad_requests_fail_alone_with_the_reason() {
    let out = tempfile::tempdir().unwrap();
    let base = own::registered_projects(out.path());
    let engine = load_engine(out.path(), &base, &["alpha", "delta"]);
    let requests = [
        java("alpha", GATE, "add", 3),
        java("alpha", GATE, "add(int, int)", 3),
        java("alpha", GATE, "remove", 3),
        java("alpha", "public class Broken {\n  int f( {\n}\n", "f", 3),
        java("beta", GATE, "getHeight", 3),
        java("delta", GATE, "getHeight", 0),
        java("delta", GATE, "getHeight", MAX_K + 1),
        SuggestRequest {
            project: "delta".into(),
            focal: FocalSpec::Text("  ".into()),
            k: 2,
        },
        SuggestRequest {
            project: "delta".into(),
            focal: FocalSpec::Text("public int getHeight() { return height; }".into()),
            k: 2,
        },
    ];
    let results = engine.suggest_batch(&requests);
    assert_eq!(results.len(), requests.len());
    let message = |i: usize| match &results[i] {
        Err(err) => err.to_string(),
        Ok(c) => panic!("request {i} answered: {c:#?}"),
    };
    assert!(matches!(results[0], Err(SuggestError::Focal(_))));
    let overloaded = message(0);
    assert!(
        overloaded.contains("Gate.java")
            && overloaded.contains("add(int)")
            && overloaded.contains("add(int, int)"),
        "{overloaded}"
    );
    assert_eq!(results[1].as_ref().unwrap().len(), 3);
    assert!(matches!(results[2], Err(SuggestError::Focal(_))));
    assert!(message(2).contains("Gate.java declares no method `remove`"));
    assert!(matches!(results[3], Err(SuggestError::Focal(_))));
    assert!(message(3).contains("does not parse"), "{}", message(3));
    match &results[4] {
        Err(SuggestError::UnknownProject { project, known }) => {
            assert_eq!(project, "beta");
            assert_eq!(known, "alpha, delta");
        }
        other => panic!("{other:?}"),
    }
    for i in [5, 6, 7] {
        assert!(
            matches!(results[i], Err(SuggestError::BadRequest(_))),
            "{i}"
        );
    }
    assert!(message(6).contains(&format!("1 to {MAX_K}")));
    assert_eq!(results[8].as_ref().unwrap().len(), 2);

    let err = Engine::load(&EngineOptions {
        out: out.path().to_path_buf(),
        base: base.clone(),
        projects: vec!["nope".into()],
        backend: Backend::Flex,
        cuda: false,
        batch_size: 8,
        num_beams: None,
        max_length: None,
        stop_loops: tailor::suggest::DEFAULT_STOP_LOOPS,
        max_k: MAX_K,
    })
    .err()
    .expect("an unknown project is refused");
    let err = format!("{err:#}");
    assert!(
        err.contains("\"nope\"") && err.contains("alpha, beta, delta, gamma"),
        "{err}"
    );
}

#[test]
fn a_batch_mixing_projects_answers_each_request_as_asked_alone() {
    let out = tempfile::tempdir().unwrap();
    let base = own::registered_projects(out.path());
    let engine = load_engine(out.path(), &base, &[]);
    let door = std::fs::read_to_string(own::fixture_java("Door")).unwrap();
    let requests = vec![
        java("alpha", GATE, "getHeight", 4),
        java("gamma", &door, "setOwner", 3),
        java("delta", GATE, "setHeight", 5),
        java("beta", &door, "isOpen", 2),
        java("alpha", &door, "getLevel", 3),
        java("gamma", GATE, "add(int)", 4),
        java("delta", &door, "getCode", 1),
    ];
    let together = engine.suggest_batch(&requests);
    // Alone: in a batch of one, of an engine that loaded that project only.
    let singles: Vec<(&str, Engine)> = own::PROJECTS
        .iter()
        .map(|&p| (p, load_engine(out.path(), &base, &[p])))
        .collect();
    for (request, got) in requests.iter().zip(&together) {
        let single = &singles
            .iter()
            .find(|(p, _)| *p == request.project)
            .unwrap()
            .1;
        let alone = single.suggest_batch(std::slice::from_ref(request));
        let (got, alone) = (got.as_ref().unwrap(), alone[0].as_ref().unwrap());
        assert_eq!(got.len(), request.k);
        let labels = |c: &[Candidate]| -> Vec<(String, String)> {
            c.iter()
                .map(|c| (format!("{:?}", c.source), c.test.clone()))
                .collect()
        };
        assert_eq!(labels(got), labels(alone), "{}", request.project);
        for (a, b) in got.iter().zip(alone) {
            assert!((a.mean_nll - b.mean_nll).abs() < 1e-4, "{a:?} vs {b:?}");
        }
    }
}

/// The fixture repository's Door class and its test class, copied into `root`.
fn copy_door(root: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let main = root.join("src/main/java/org/fixture/learnable");
    let test = root.join("src/test/java/org/fixture/learnable");
    std::fs::create_dir_all(&main).unwrap();
    std::fs::create_dir_all(&test).unwrap();
    std::fs::copy(own::fixture_java("Door"), main.join("Door.java")).unwrap();
    std::fs::copy(
        own::fixture_repo().join("src/test/java/org/fixture/learnable/DoorTest.java"),
        test.join("DoorTest.java"),
    )
    .unwrap();
    std::fs::write(main.join("Gate.java"), GATE).unwrap();
    (main, test)
}

fn suggest(out: &Path, java: &Path, method: &str, extra: &[&str]) -> String {
    run_ok(
        tailor()
            .args([
                "suggest",
                "--project",
                "alpha",
                "--method",
                method,
                "-k",
                "8",
            ])
            .arg("--java")
            .arg(java)
            .arg("--out")
            .arg(out)
            .args(extra),
    )
}

#[test]
fn the_cli_prints_labelled_candidates_and_writes_without_touching_existing_tests() {
    let out = tempfile::tempdir().unwrap();
    own::registered_projects(out.path());
    let repo = tempfile::tempdir().unwrap();
    let (main, test) = copy_door(repo.path());
    let door_test = test.join("DoorTest.java");
    let before = std::fs::read_to_string(&door_test).unwrap();

    let printed = suggest(out.path(), &main.join("Door.java"), "getCount", &[]);
    // Random adapters write nonsense: all 5 beams, then the distinct retrieved tests.
    assert!(
        printed.contains("8 candidate(s) for getCount of"),
        "{printed}"
    );
    for rank in 1..=8 {
        assert!(printed.contains(&format!("\n#{rank} [")), "{printed}");
    }
    assert!(printed.contains("mean NLL"), "{printed}");
    assert!(printed.contains("retrieved from pair"), "{printed}");
    assert_eq!(std::fs::read_to_string(&door_test).unwrap(), before);

    // Written into the existing class: every byte of it kept, one method more.
    let methods = |text: &str| text.matches("@Test").count();
    let first = suggest(
        out.path(),
        &main.join("Door.java"),
        "getCount",
        &["--write"],
    );
    assert!(
        first.contains("into ") && first.contains("DoorTest.java"),
        "{first}"
    );
    let once = std::fs::read_to_string(&door_test).unwrap();
    assert_eq!(methods(&once), methods(&before) + 1);
    let close = before.rfind('}').unwrap();
    let added = once.len() - before.len();
    assert_eq!(&once[..close], &before[..close], "{once}");
    assert_eq!(&once[close + added..], &before[close..]);
    // The fixture has a testGetCount already: the new one got another name.
    let name = |printed: &str| -> String {
        let at = printed.find(" as ").unwrap() + 4;
        printed[at..printed[at..].find("()").unwrap() + at].to_string()
    };
    let first_name = name(&first);
    assert!(once.contains(&format!("void {first_name}(")), "{once}");
    // A second write adds another method with a name of its own.
    let second = suggest(
        out.path(),
        &main.join("Door.java"),
        "getCount",
        &["--write"],
    );
    let twice = std::fs::read_to_string(&door_test).unwrap();
    assert_eq!(methods(&twice), methods(&before) + 2);
    assert!(twice.starts_with(&once[..close + added]));
    assert_ne!(name(&second), first_name);
    assert_eq!(
        twice.matches(&format!("void {}(", name(&second))).count(),
        1
    );
    let mut parser = tailor::java::JavaParser::new().unwrap();
    assert!(!parser.parse_tree(&twice).unwrap().root_node().has_error());

    // A class without tests gets a new test class file beside the others.
    let gate = suggest(
        out.path(),
        &main.join("Gate.java"),
        "getHeight",
        &["--write"],
    );
    assert!(gate.contains("(new file)"), "{gate}");
    let created = std::fs::read_to_string(test.join("GateTest.java")).unwrap();
    assert!(
        created.starts_with("package org.fixture.learnable;\n"),
        "{created}"
    );
    assert!(created.contains("import org.junit.Test;"), "{created}");
    assert!(created.contains("public class GateTest {"), "{created}");
    assert!(!parser.parse_tree(&created).unwrap().root_node().has_error());

    // A method that is not there: the error names the file and the method.
    let output = tailor()
        .args(["suggest", "--project", "alpha", "--method", "nothing"])
        .arg("--java")
        .arg(main.join("Door.java"))
        .arg("--out")
        .arg(out.path())
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("Door.java declares no method `nothing`"),
        "{stderr}"
    );
}
