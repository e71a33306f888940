//! The data stage on the fixture corpus: the BPE tokenizer, the examples table and batch plans.
//!
//! Each test mines `pipelines/corpora/fixtures.csv` (hand-written Java projects) into its own
//! folder and assigns the splits by hand (maven-multi → train, root-layout → valid,
//! edge-cases → test), since three small projects hashed into splits would all land in train.

use std::path::Path;
use std::process::Command;

use tailor::data::batches::{padding_ratio, plan_epoch, plan_eval};
use tailor::data::context::{ContextLevel, PairContext, model_input, model_target};
use tailor::data::examples::{ExampleSettings, ensure_examples, read_examples, tokenizer_dir};
use tailor::data::tokenizer::{BOS, CodeTokenizer, EOS, PAD, TOKENIZER_FILE, UNK};
use tailor::tables::{pairs, projects, table_path};

fn tailor(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_tailor"))
        .args(args)
        .output()
        .expect("tailor runs")
}

/// Mines the fixtures into `out` and sets each project's split.
fn mine_fixtures(out: &Path, splits: &[(&str, Option<&str>)]) {
    let result = tailor(&[
        "mine",
        "--corpus",
        "pipelines/corpora/fixtures.csv",
        "--out",
        out.to_str().unwrap(),
        "--jobs",
        "2",
    ]);
    assert!(
        result.status.success(),
        "mine failed: {}",
        String::from_utf8_lossy(&result.stderr)
    );
    let path = table_path(out, "projects");
    let mut rows = projects::read_projects(&path).unwrap();
    for row in &mut rows {
        if let Some((_, split)) = splits.iter().find(|(id, _)| *id == row.project_id) {
            row.split = split.map(str::to_string);
        }
    }
    projects::write_projects(&rows, &path).unwrap();
}

const SPLITS: [(&str, Option<&str>); 3] = [
    ("maven-multi", Some("train")),
    ("root-layout", Some("valid")),
    ("edge-cases", Some("test")),
];

fn small(level: ContextLevel) -> ExampleSettings {
    ExampleSettings {
        level,
        max_input: 512,
        max_target: 256,
        vocab_size: 400,
        min_frequency: 2,
    }
}

fn mined() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    mine_fixtures(tmp.path(), &SPLITS);
    tmp
}

#[test]
fn the_tokenizer_has_barts_special_ids_and_round_trips_real_java() {
    let tmp = mined();
    let out = tmp.path();
    let summary = ensure_examples(out, &small(ContextLevel::FmFcMsFf), false).unwrap();
    assert!(summary.tokenizer_rebuilt && summary.examples_rebuilt);
    let tok = CodeTokenizer::load(&tokenizer_dir(out)).unwrap();
    assert_eq!(summary.vocab_size, tok.vocab_size());
    assert!(tok.vocab_size() <= 400);
    for (token, id) in [("<s>", BOS), ("<pad>", PAD), ("</s>", EOS), ("<unk>", UNK)] {
        assert_eq!(tok.token_to_id(token), Some(id), "{token}");
    }
    assert_eq!(tok.token_to_id("<mask>"), Some(tok.vocab_size() as u32 - 1));
    for file in ["tokenizer_config.json", "special_tokens_map.json"] {
        assert!(tokenizer_dir(out).join(file).is_file(), "{file}");
    }

    // Every real input and target, of every split (valid/test text was never trained on).
    let all = pairs::read_pairs(&table_path(out, "pairs")).unwrap();
    assert!(all.len() >= 20, "fixtures mined {} pairs", all.len());
    for pair in &all {
        for level in ContextLevel::ALL {
            let text = model_input(&PairContext::from(pair), level);
            let ids = tok.encode(&text).unwrap();
            assert_eq!((ids[0], *ids.last().unwrap()), (BOS, EOS));
            assert_eq!(tok.decode(&ids).unwrap(), text);
        }
        let target = model_target(&pair.test_body);
        assert_eq!(tok.decode(&tok.encode(&target).unwrap()).unwrap(), target);
    }
    // Bytes the corpus never showed still round-trip: byte-level BPE has no unknown token.
    let unseen = "String s = \"héllo wörld ✓ 漢字\"; // ₂";
    let ids = tok.encode(unseen).unwrap();
    assert!(!ids.contains(&UNK));
    assert_eq!(tok.decode(&ids).unwrap(), unseen);
    let batch = tok
        .encode_batch(&[unseen.to_string(), "int x;".to_string()])
        .unwrap();
    assert_eq!(batch[0], ids);
}

#[test]
fn training_twice_gives_the_same_tokenizer_json_bytes() {
    let a = mined();
    let b = mined();
    let settings = small(ContextLevel::FmFcMsFf);
    ensure_examples(a.path(), &settings, false).unwrap();
    ensure_examples(b.path(), &settings, false).unwrap();
    let read = |dir: &Path| std::fs::read(tokenizer_dir(dir).join(TOKENIZER_FILE)).unwrap();
    assert_eq!(read(a.path()), read(b.path()));

    // The order of the training texts does not matter either.
    let all = pairs::read_pairs(&table_path(a.path(), "pairs")).unwrap();
    let texts: Vec<String> = all
        .iter()
        .flat_map(|p| {
            [
                model_input(&PairContext::from(p), ContextLevel::FmFc),
                model_target(&p.test_body),
            ]
        })
        .collect();
    let forward = CodeTokenizer::train(texts.clone().into_iter(), 350, 2).unwrap();
    let backward = CodeTokenizer::train(texts.into_iter().rev(), 350, 2).unwrap();
    assert_eq!(forward.content_hash(), backward.content_hash());
}

#[test]
fn truncation_keeps_the_head_ends_with_eos_and_is_counted_per_split() {
    let tmp = mined();
    let out = tmp.path();
    let settings = ExampleSettings {
        max_input: 24,
        max_target: 20,
        ..small(ContextLevel::FmFcMsFf)
    };
    let summary = ensure_examples(out, &settings, false).unwrap();
    let examples = read_examples(out).unwrap();
    let splits: Vec<&str> = summary.splits.iter().map(|s| s.split.as_str()).collect();
    assert_eq!(splits, ["train", "valid", "test"]);
    assert_eq!(
        summary.splits.iter().map(|s| s.examples).sum::<usize>(),
        examples.len()
    );
    let tok = CodeTokenizer::load(&tokenizer_dir(out)).unwrap();
    let all = pairs::read_pairs(&table_path(out, "pairs")).unwrap();
    for example in &examples {
        let pair = all.iter().find(|p| p.pair_id == example.pair_id).unwrap();
        let full = tok
            .encode(&model_input(&PairContext::from(pair), settings.level))
            .unwrap();
        assert!(example.input_ids.len() <= 24);
        assert_eq!(example.input_truncated, full.len() > 24);
        assert_eq!(*example.input_ids.last().unwrap(), EOS);
        let kept = example.input_ids.len() - 1;
        assert_eq!(example.input_ids[..kept], full[..kept]);
        assert!(example.target_ids.len() <= 20 && example.target_ids.ends_with(&[EOS]));
    }
    for split in &summary.splits {
        let of = examples.iter().filter(|e| e.split == split.split);
        let (inputs, targets) = of.fold((0, 0), |(i, t), e| {
            (
                i + usize::from(e.input_truncated),
                t + usize::from(e.target_truncated),
            )
        });
        assert_eq!(
            (split.truncated_inputs, split.truncated_targets),
            (inputs, targets)
        );
    }
    assert!(summary.splits[0].truncated_inputs > 0, "24 tokens cut some");
}

#[test]
fn a_second_call_reuses_and_a_changed_setting_rebuilds_only_what_depends_on_it() {
    let tmp = mined();
    let out = tmp.path();
    let settings = small(ContextLevel::FmFc);
    let first = ensure_examples(out, &settings, false).unwrap();
    assert!(first.tokenizer_rebuilt && first.examples_rebuilt);

    let again = ensure_examples(out, &settings, false).unwrap();
    assert!(!again.tokenizer_rebuilt && !again.examples_rebuilt);
    assert_eq!(again.splits, first.splits);

    let shorter = ExampleSettings {
        max_input: 64,
        ..settings.clone()
    };
    let cut = ensure_examples(out, &shorter, false).unwrap();
    assert!(!cut.tokenizer_rebuilt && cut.examples_rebuilt);

    let richer = ExampleSettings {
        level: ContextLevel::FmFcMsFf,
        ..shorter.clone()
    };
    let retrained = ensure_examples(out, &richer, false).unwrap();
    assert!(retrained.tokenizer_rebuilt && retrained.examples_rebuilt);

    // New pairs (one dropped) retrain the tokenizer too.
    let path = table_path(out, "pairs");
    let mut all = pairs::read_pairs(&path).unwrap();
    all.pop();
    pairs::write_pairs(&all, &path).unwrap();
    let fresh = ensure_examples(out, &richer, false).unwrap();
    assert!(fresh.tokenizer_rebuilt && fresh.examples_rebuilt);
    assert_eq!(
        fresh.splits.iter().map(|s| s.examples).sum::<usize>(),
        all.len()
    );
}

#[test]
fn pairs_of_projects_without_a_split_are_skipped_and_counted() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path();
    mine_fixtures(
        out,
        &[
            ("maven-multi", Some("train")),
            ("root-layout", None),
            ("edge-cases", Some("valid")),
        ],
    );
    let summary = ensure_examples(out, &small(ContextLevel::Fm), false).unwrap();
    let all = pairs::read_pairs(&table_path(out, "pairs")).unwrap();
    let skipped = all.iter().filter(|p| p.project_id == "root-layout").count();
    assert!(skipped > 0);
    assert_eq!(summary.skipped_pairs, skipped);
    let examples = read_examples(out).unwrap();
    assert_eq!(examples.len(), all.len() - skipped);
    assert!(examples.iter().all(|e| e.project_id != "root-layout"));
}

#[test]
fn batch_plans_cover_the_real_examples_once_within_the_budget() {
    let tmp = mined();
    let out = tmp.path();
    ensure_examples(out, &small(ContextLevel::FmFcMsFf), false).unwrap();
    let examples = read_examples(out).unwrap();
    let lengths: Vec<(usize, usize)> = examples.iter().map(|e| e.lengths()).collect();
    for plan in [plan_epoch(&lengths, 2048, 5, 0), plan_eval(&lengths, 2048)] {
        let mut seen: Vec<usize> = plan.batches.iter().flatten().copied().collect();
        seen.sort_unstable();
        assert_eq!(seen, (0..examples.len()).collect::<Vec<_>>());
        assert!(padding_ratio(&plan, &lengths) >= 0.0);
    }
    assert_eq!(
        plan_epoch(&lengths, 2048, 5, 1),
        plan_epoch(&lengths, 2048, 5, 1)
    );
}

#[test]
fn the_examples_command_prints_the_summary_and_dumps_texts_with_tailors_ids() {
    let tmp = mined();
    let out = tmp.path();
    let dump = out.join("texts.jsonl");
    let result = tailor(&[
        "examples",
        "--out",
        out.to_str().unwrap(),
        "--level",
        "FM_FC_CO",
        "--vocab-size",
        "400",
        "--max-input",
        "128",
        "--dump-texts",
        dump.to_str().unwrap(),
        "--dump-count",
        "5",
    ]);
    let stdout = String::from_utf8_lossy(&result.stdout);
    assert!(
        result.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&result.stderr)
    );
    assert!(stdout.contains("tokenizer: training"), "{stdout}");
    assert!(stdout.contains("inputs truncated"), "{stdout}");
    assert!(stdout.contains("level FM_FC_CO"), "{stdout}");
    let tok = CodeTokenizer::load(&tokenizer_dir(out)).unwrap();
    let lines: Vec<serde_json::Value> = std::fs::read_to_string(&dump)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 10);
    for line in &lines {
        let ids: Vec<u32> = serde_json::from_value(line["ids"].clone()).unwrap();
        assert_eq!(tok.encode(line["text"].as_str().unwrap()).unwrap(), ids);
    }

    let again = tailor(&["examples", "--out", out.to_str().unwrap(), "--level", "FM"]);
    let stdout = String::from_utf8_lossy(&again.stdout);
    assert!(stdout.contains("level FM_FC_CO → FM"), "{stdout}");

    let bad = tailor(&["examples", "--out", out.join("nowhere").to_str().unwrap()]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("run `tailor mine` first"));
}
