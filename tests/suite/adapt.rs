//! `tailor adapt` on a repository outside the corpus: a git repository made here from
//! `fixtures/java/learnable` (the regular getter/setter tests a `tiny` model can learn), adapted
//! from a `file://` URL onto a smoke-sized baseline of the training fixtures, which never saw
//! it. The adapter is registered with a manifest that says what it was made from and how it
//! tested; it beats the base on the held-out tests; the base and the corpus tables are left
//! byte for byte; a re-run with nothing new trains nothing; a new commit is reported and
//! registered again. One customization, shared by every assertion about it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Output;

use crate::common::{mine_training_fixtures, run_ok, tailor};

use tailor::adapt::data::Split;
use tailor::adapt::registry;
use tailor::layout::Layout;
use tailor::model::adapter::base_hash;
use tailor::strategy::adapter::read_info;
use tailor::tables::pairs::read_pairs;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
/// The project's name: the repository folder's.
const NAME: &str = "shop";
/// The test class that gets a new test in the second commit, and the test.
const GROWN: &str = "src/test/java/org/fixture/learnable/BellTest.java";
const NEW_TEST: &str = "
    @Test
    public void levelCanBeChangedTwice() {
        bell.setLevel(3);
        bell.setLevel(9);
    }
";

/// Copies the fixture's `src/main` (and `src/test` when `with_tests`) into `dir`.
fn copy_fixture(dir: &Path, with_tests: bool) {
    let fixture = Path::new(ROOT).join("fixtures/java/learnable/src");
    let parts: &[&str] = if with_tests {
        &["main", "test"]
    } else {
        &["main"]
    };
    for part in parts {
        copy_tree(&fixture.join(part), &dir.join("src").join(part));
    }
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let path = entry.path();
        if path.is_dir() {
            copy_tree(&path, &to.join(entry.file_name()));
        } else {
            std::fs::copy(&path, to.join(entry.file_name())).unwrap();
        }
    }
}

/// Commits every file of the repository at `dir` (created if needed); the new HEAD.
fn commit_all(dir: &Path, message: &str) -> String {
    let repo = git2::Repository::open(dir)
        .or_else(|_| git2::Repository::init(dir))
        .unwrap();
    let mut index = repo.index().unwrap();
    index
        .add_all(["*"], git2::IndexAddOption::DEFAULT, None)
        .unwrap();
    index.write().unwrap();
    let tree = repo.find_tree(index.write_tree().unwrap()).unwrap();
    let who = git2::Signature::now("Dev", "dev@example.com").unwrap();
    let parent = repo.head().ok().map(|h| h.peel_to_commit().unwrap());
    let parents: Vec<&git2::Commit> = parent.iter().collect();
    repo.commit(Some("HEAD"), &who, &who, message, &tree, &parents)
        .unwrap()
        .to_string()
}

/// Every file under `dir` with its bytes, by relative path.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut files = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(folder) = stack.pop() {
        for entry in std::fs::read_dir(&folder).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let bytes = std::fs::read(&path).unwrap();
                files.insert(path.strip_prefix(dir).unwrap().to_path_buf(), bytes);
            }
        }
    }
    files
}

/// `tailor adapt --profile learnable` with a short customization (150 steps, about 5 epochs:
/// LoRA lowers the held-out loss by about half a nat) and beam search on 20 held-out tests.
fn adapt(out: &Path, repo: &str, extra: &[&str]) -> Output {
    tailor()
        .args(["adapt", "--profile", "learnable", "--repo", repo])
        .args(["--set", "finetune.train.max_steps=150"])
        .args(["--set", "finetune.train.eval_every_steps=25"])
        .args(["--set", "finetune.train.checkpoint_every_steps=25"])
        .args(["--max-test", "20"])
        .args(extra)
        .arg("--out")
        .arg(out)
        .output()
        .expect("tailor runs")
}

fn stdout_of(output: &Output) -> String {
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "tailor adapt failed: {}\nstdout:\n{stdout}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

fn stderr_of_failure(output: &Output) -> String {
    assert!(
        !output.status.success(),
        "tailor adapt succeeded:\n{}",
        String::from_utf8_lossy(&output.stdout)
    );
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn an_adapted_repository_is_registered_beats_the_base_and_updates_after_a_commit() {
    let out = tempfile::tempdir().unwrap();
    let out = out.path();
    mine_training_fixtures(out);
    // The learnable profile's baseline is the smoke baseline (same model, data and training).
    run_ok(
        tailor()
            .args(["baseline", "--profile", "learnable"])
            .arg("--out")
            .arg(out),
    );
    let base_dir = Layout::new(out).runs("learnable").baseline_model();
    let tables = out.join("tables");
    let (base_before, tables_before) = (snapshot(&base_dir), snapshot(&tables));

    let repos = tempfile::tempdir().unwrap();
    let repo_dir = repos.path().join(NAME);
    copy_fixture(&repo_dir, true);
    let first = commit_all(&repo_dir, "the shop");
    let url = format!("file://{}", repo_dir.display());

    let stdout = stdout_of(&adapt(out, &url, &[]));
    assert!(stdout.contains("strategy lora (the default"), "{stdout}");
    assert!(stdout.contains("| adapted (lora) |"), "{stdout}");
    let registered = registry::read(out, NAME).unwrap();
    let manifest = &registered.manifest;
    let paths = &registered.paths;
    assert_eq!(manifest.commit.as_deref(), Some(first.as_str()));
    assert_eq!(manifest.repo, url);
    assert_eq!(manifest.strategy, "lora");
    assert_eq!(manifest.profile, "learnable");
    assert_eq!(manifest.base_hash, base_hash(&base_dir).unwrap());
    assert_eq!(manifest.base_dir, std::path::absolute(&base_dir).unwrap());
    assert!(manifest.pairs >= 300, "{manifest:?}");
    let parts = manifest.parts;
    assert_eq!(parts.train + parts.valid + parts.test, manifest.pairs);
    assert!(parts.valid > 0 && parts.test > 0 && parts.train > parts.test);
    assert!(manifest.train_seconds > 0.0);
    // The registered files: the clone, the pairs (the retrieval index), the split, the adapter.
    assert!(paths.checkout_dir().join(GROWN).exists());
    let pairs = read_pairs(&paths.pairs()).unwrap();
    assert_eq!(pairs.len() as u64, manifest.pairs);
    assert!(pairs.iter().all(|p| p.project_id == NAME));
    let split = Split::read(&paths.split()).unwrap();
    assert_eq!(split.sizes(), parts);
    let info = read_info(&paths.adapter_dir()).unwrap();
    assert_eq!(info.base_hash, manifest.base_hash);
    assert_eq!(info.strategy.name(), "lora");

    // Held-out numbers for all three, and the adapter is worth it.
    let m = &manifest.metrics;
    for (who, held) in [
        ("adapted", &m.adapted),
        ("base", &m.base),
        ("retrieval", &m.retrieval),
    ] {
        assert!(
            held.bleu.is_some_and(|b| (0.0..=100.0 + 1e-9).contains(&b)),
            "{who}: {held:?}"
        );
        assert!(held.exact_top1 <= held.exact_top5, "{who}: {held:?}");
    }
    assert!(m.retrieval.test_loss.is_none());
    let (adapted, base) = (m.adapted.test_loss.unwrap(), m.base.test_loss.unwrap());
    assert!(
        adapted < base,
        "adapted test loss {adapted} not below the base's {base}"
    );
    eprintln!("held-out: {m:?}");

    // Nothing new: up to date, nothing trained or written.
    let project_before = snapshot(paths.dir());
    let stdout = stdout_of(&adapt(out, &url, &[]));
    assert!(stdout.contains("is up to date"), "{stdout}");
    assert!(!stdout.contains("| adapted"), "{stdout}");
    assert_eq!(snapshot(paths.dir()), project_before);

    // A new commit with one more test: said, trained afresh, registered again.
    let grown = repo_dir.join(GROWN);
    let text = std::fs::read_to_string(&grown).unwrap();
    let end = text.rfind('}').unwrap();
    std::fs::write(
        &grown,
        format!("{}{NEW_TEST}{}", &text[..end], &text[end..]),
    )
    .unwrap();
    let second = commit_all(&repo_dir, "one more test");
    let stdout = stdout_of(&adapt(out, &url, &[]));
    assert!(
        stdout.contains(&format!("commit {} → {}", &first[..12], &second[..12])),
        "{stdout}"
    );
    assert!(
        stdout.contains("1 pair(s) added, 0 removed, 0 changed"),
        "{stdout}"
    );
    assert!(stdout.contains("registered shop"), "{stdout}");
    let updated = registry::read(out, NAME).unwrap().manifest;
    assert_eq!(updated.commit.as_deref(), Some(second.as_str()));
    assert_eq!(updated.pairs, manifest.pairs + 1);

    // The base and the corpus's tables were only read.
    assert!(
        snapshot(&base_dir) == base_before,
        "the base folder changed"
    );
    assert!(snapshot(&tables) == tables_before, "OUT/tables changed");
}

/// A base folder that hashes (what adapt checks before mining), for the tests that fail before
/// anything loads it.
fn fake_base(dir: &Path) -> PathBuf {
    let base = dir.join("base");
    std::fs::create_dir_all(&base).unwrap();
    std::fs::write(base.join("config.json"), "{}").unwrap();
    std::fs::write(base.join("model.safetensors"), "not a model").unwrap();
    base
}

#[test]
fn a_repository_without_tests_a_bad_name_and_a_missing_base_are_refused_naming_them() {
    let work = tempfile::tempdir().unwrap();
    let out = work.path().join("out");
    let base = fake_base(work.path());
    let repo = work.path().join("no-tests");
    copy_fixture(&repo, false);
    let repo_arg = repo.display().to_string();
    let base_arg = base.display().to_string();

    let stderr = stderr_of_failure(&adapt(&out, &repo_arg, &["--base", &base_arg]));
    assert!(stderr.contains(&repo_arg), "{stderr}");
    assert!(
        stderr.contains("no-tests") && stderr.contains("0 focal-method/test pair(s)"),
        "{stderr}"
    );

    let stderr = stderr_of_failure(&adapt(
        &out,
        &repo_arg,
        &["--base", &base_arg, "--name", "my shop"],
    ));
    assert!(
        stderr.contains("\"my shop\"") && stderr.contains("--name"),
        "{stderr}"
    );

    let stderr = stderr_of_failure(&adapt(&out, &repo_arg, &[]));
    assert!(
        stderr.contains("make baseline PROFILE=learnable"),
        "{stderr}"
    );
    assert!(
        !out.join("adapters").exists(),
        "a refused adapt registered something"
    );
}
