//! The data stage on the fixture corpus: the BPE tokenizer, the examples table and batch plans.
//!
//! Each test mines `pipelines/corpora/fixtures.csv` (hand-written Java projects) into its own
//! folder and assigns the splits by hand (maven-multi → train, root-layout → valid,
//! edge-cases → test), since three small projects hashed into splits would all land in train.
//! Retrieval-augmented examples (issue 17) are checked here too: what each input carries, what it
//! may retrieve (its own project, never itself, a fold's training part only), and that plain
//! examples are what they were before retrieval existed.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::process::Command;

use tailor::data::augment::{augment_fold, read_project_pairs, retrieved_budget};
use tailor::data::batches::{padding_ratio, plan_epoch, plan_eval};
use tailor::data::context::{ContextLevel, PairContext, model_input, model_target};
use tailor::data::examples::{
    Example, ExampleSettings, ensure_examples, read_examples, tokenizer_dir, truncate,
};
use tailor::data::folds::split_fold;
use tailor::data::tokenizer::{BOS, CodeTokenizer, EOS, PAD, TOKENIZER_FILE, UNK};
use tailor::mining::Pair;
use tailor::profile::Profile;
use tailor::retrieve::{
    Allowed, Bm25, FocalNames, ProjectPairs, adapt_test, augmented_input, fold_predictions,
};
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
        retrieved: 0,
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

#[test]
fn generate_goes_from_java_text_to_test_text_with_the_model_folders_tokenizer() {
    let tmp = mined();
    let out = tmp.path();
    ensure_examples(out, &small(ContextLevel::FmFcMsFf), false).unwrap();
    let tok = CodeTokenizer::load(&tokenizer_dir(out)).unwrap();
    let model = out.join("model");
    let init = tailor(&[
        "model",
        "init",
        "--preset",
        "tiny",
        "--vocab-size",
        &tok.vocab_size().to_string(),
        "--out",
        model.to_str().unwrap(),
    ]);
    assert!(
        init.status.success(),
        "{}",
        String::from_utf8_lossy(&init.stderr)
    );
    tok.save(&model).unwrap();

    let java = "fixtures/java/maven-multi/core/src/main/java/com/acme/core/Calculator.java";
    let common = ["--num-beams", "2", "--max-length", "8"];
    let run = |extra: &[&str]| {
        let mut args = vec!["generate", "--model", model.to_str().unwrap()];
        args.extend_from_slice(extra);
        args.extend_from_slice(&common);
        let result = tailor(&args);
        assert!(
            result.status.success(),
            "{}",
            String::from_utf8_lossy(&result.stderr)
        );
        String::from_utf8_lossy(&result.stdout).into_owned()
    };
    let text = run(&["--java", java, "--method", "add", "--level", "FM_FC"]);
    assert!(
        text.starts_with("input 1: Calculator { public int add(int a, int b) { return a + b; } }"),
        "{text}"
    );
    assert!(text.contains("  #1 (") && text.contains("  #2 ("), "{text}");

    let json = run(&["--focal", "public int one() { return 1; }", "--json"]);
    let rows: Vec<serde_json::Value> = json
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 2);
    for row in &rows {
        let ids: Vec<u32> = serde_json::from_value(row["ids"].clone()).unwrap();
        assert_eq!(row["text"].as_str().unwrap(), tok.decode(&ids).unwrap());
    }

    let ids = run(&["--input-ids", "0 50 60 2"]);
    assert!(
        ids.lines()
            .all(|l| l.contains("\"ids\"") && !l.contains("\"text\""))
    );
}

fn augmented(level: ContextLevel) -> ExampleSettings {
    ExampleSettings {
        retrieved: 1,
        ..small(level)
    }
}

/// `query`'s expected input tail: `</s>`, then `retrieved`'s test adapted to `query`'s names as
/// the tokenizer encodes it alone, then `</s>`.
fn expected_tail(tok: &CodeTokenizer, query: &Pair, retrieved: &Pair) -> Vec<u32> {
    let test = adapt_test(
        &retrieved.test_body,
        FocalNames::new(&retrieved.focal_method, &retrieved.focal_class),
        FocalNames::new(&query.focal_method, &query.focal_class),
    );
    let ids = tok.encode(&model_target(&test)).unwrap();
    assert_eq!(ids[0], BOS);
    let mut tail = vec![EOS];
    tail.extend_from_slice(&ids[1..]);
    tail
}

#[test]
fn plain_examples_are_what_they_were_before_retrieval_existed() {
    let tmp = mined();
    let out = tmp.path();
    let settings = small(ContextLevel::FmFcMsFf);
    ensure_examples(out, &settings, false).unwrap();
    let plain = read_examples(out).unwrap();
    let tok = CodeTokenizer::load(&tokenizer_dir(out)).unwrap();
    let all = pairs::read_pairs(&table_path(out, "pairs")).unwrap();
    let by_id: HashMap<&str, &Pair> = all.iter().map(|p| (p.pair_id.as_str(), p)).collect();
    // What the examples stage encoded before issue 17, term for term.
    for example in &plain {
        let pair = by_id[example.pair_id.as_str()];
        let full = tok
            .encode(&model_input(&PairContext::from(pair), settings.level))
            .unwrap();
        let (ids, cut) = truncate(full, settings.max_input);
        assert_eq!((&example.input_ids, example.input_truncated), (&ids, cut));
        let target = tok.encode(&model_target(&pair.test_body)).unwrap();
        assert_eq!(example.target_ids, truncate(target, settings.max_target).0);
        assert_eq!(
            (&example.retrieved_pair_id, example.retrieved_score),
            (&None, None)
        );
    }
    // A profile or recorded recipe without the field reads as 0 and writes without it.
    let json = serde_json::to_string(&settings).unwrap();
    assert!(!json.contains("retrieved"), "{json}");
    let read: ExampleSettings = serde_json::from_str(&json).unwrap();
    assert_eq!(read, settings);
    assert!(
        serde_json::to_string(&augmented(ContextLevel::Fm))
            .unwrap()
            .contains("\"retrieved\":1")
    );

    // Retrieval on: the same tokenizer (trained on plain texts), re-encoded examples; off
    // again: the plain examples back, the same table bytes.
    let table = table_path(out, "examples");
    let plain_bytes = std::fs::read(&table).unwrap();
    let on = ensure_examples(out, &augmented(settings.level), false).unwrap();
    assert!(!on.tokenizer_rebuilt && on.examples_rebuilt);
    assert_ne!(read_examples(out).unwrap(), plain);
    let off = ensure_examples(out, &settings, false).unwrap();
    assert!(!off.tokenizer_rebuilt && off.examples_rebuilt);
    assert_eq!(read_examples(out).unwrap(), plain);
    assert_eq!(std::fs::read(&table).unwrap(), plain_bytes);
}

#[test]
fn augmented_examples_carry_the_nearest_other_test_of_their_own_project() {
    let tmp = mined();
    let out = tmp.path();
    let settings = augmented(ContextLevel::FmFcMsFf);
    let summary = ensure_examples(out, &settings, false).unwrap();
    let examples = read_examples(out).unwrap();
    let tok = CodeTokenizer::load(&tokenizer_dir(out)).unwrap();
    let all = pairs::read_pairs(&table_path(out, "pairs")).unwrap();
    let by_id: HashMap<&str, &Pair> = all.iter().map(|p| (p.pair_id.as_str(), p)).collect();
    let mut indexes: HashMap<&str, ProjectPairs> = HashMap::new();
    for project in ["maven-multi", "root-layout", "edge-cases"] {
        let members = all.iter().filter(|p| p.project_id == project);
        indexes.insert(project, ProjectPairs::new(members, Bm25::default()));
    }

    let mut with_retrieved = 0;
    for example in &examples {
        let pair = by_id[example.pair_id.as_str()];
        // The retrieval of `crate::retrieve`: every other pair of the project may be retrieved.
        let expected = augmented_input(
            &indexes[pair.project_id.as_str()],
            pair,
            settings.level,
            Allowed::All,
        );
        assert_eq!(
            example
                .retrieved_pair_id
                .clone()
                .zip(example.retrieved_score),
            expected.retrieved,
            "{}",
            example.pair_id
        );
        let context = tok
            .encode(&model_input(&PairContext::from(pair), settings.level))
            .unwrap();
        let Some(id) = &example.retrieved_pair_id else {
            assert_eq!(example.input_ids, truncate(context, settings.max_input).0);
            continue;
        };
        with_retrieved += 1;
        assert_ne!(id, &example.pair_id, "a pair never retrieves itself");
        let retrieved = by_id[id.as_str()];
        assert_eq!(retrieved.project_id, example.project_id);
        assert!(example.retrieved_score.unwrap() > 0.0);
        // `<s> CONTEXT </s></s> TEST </s>`, the test adapted to this focal method.
        let tail = expected_tail(&tok, pair, retrieved);
        assert_eq!(example.input_ids.len(), context.len() + tail.len());
        assert!(!example.input_truncated);
        assert_eq!(example.input_ids[..context.len()], context[..]);
        assert_eq!(example.input_ids[context.len()..], tail[..]);
        assert_eq!(
            example.input_ids[context.len() - 1..context.len() + 1],
            [EOS, EOS]
        );
    }
    // Every fixture project has several pairs with shared names: most inputs are augmented,
    // in every split.
    assert!(with_retrieved * 2 > examples.len(), "{with_retrieved}");
    for split in &summary.splits {
        assert!(split.retrieved > 0, "{}", split.split);
        let n = examples
            .iter()
            .filter(|e| e.split == split.split && e.retrieved_pair_id.is_some())
            .count();
        assert_eq!(split.retrieved, n);
    }
    assert!(summary.to_string().contains("inputs with a retrieved test"));

    // Two builds from the same tables are the same, row for row and byte for byte.
    let again = mined();
    ensure_examples(again.path(), &settings, false).unwrap();
    assert_eq!(read_examples(again.path()).unwrap(), examples);
    let bytes = |dir: &Path| std::fs::read(table_path(dir, "examples")).unwrap();
    assert_eq!(bytes(again.path()), bytes(out));
}

#[test]
fn a_long_retrieved_test_takes_at_most_half_of_the_input() {
    let tmp = mined();
    let out = tmp.path();
    let max_input = 40;
    let settings = ExampleSettings {
        max_input,
        ..augmented(ContextLevel::FmFcMsFf)
    };
    ensure_examples(out, &settings, false).unwrap();
    let tok = CodeTokenizer::load(&tokenizer_dir(out)).unwrap();
    let all = pairs::read_pairs(&table_path(out, "pairs")).unwrap();
    let by_id: HashMap<&str, &Pair> = all.iter().map(|p| (p.pair_id.as_str(), p)).collect();
    let mut both_cut = 0;
    for example in read_examples(out).unwrap() {
        let Some(id) = &example.retrieved_pair_id else {
            continue;
        };
        let pair = by_id[example.pair_id.as_str()];
        let context = tok
            .encode(&model_input(&PairContext::from(pair), settings.level))
            .unwrap();
        let tail = expected_tail(&tok, pair, by_id[id.as_str()]);
        let ids = &example.input_ids;
        assert!(ids.len() <= max_input && ids.ends_with(&[EOS]));
        assert_eq!(
            example.input_truncated,
            context.len() + tail.len() > max_input
        );
        if !example.input_truncated {
            continue;
        }
        assert_eq!(ids.len(), max_input);
        // The context keeps at least its half (or all of itself), cut at its head.
        let kept = context.len().min(max_input - retrieved_budget(max_input));
        let kept = kept.max(max_input - tail.len().min(max_input));
        assert_eq!(ids[..kept - 1], context[..kept - 1]);
        assert_eq!(ids[kept - 1], EOS);
        // Then the retrieved test's head, `</s>` first and last.
        let rest = &ids[kept..];
        assert!(rest.len() <= tail.len());
        assert_eq!(rest[..rest.len() - 1], tail[..rest.len() - 1]);
        if context.len() > kept && tail.len() > rest.len() {
            both_cut += 1;
            assert_eq!(rest.len(), max_input / 2, "the retrieved test gets half");
        }
    }
    assert!(both_cut > 0, "40 tokens cut both parts of some inputs");
}

#[test]
fn a_fold_retrieves_only_from_its_training_part() {
    let tmp = mined();
    let out = tmp.path();
    let settings = augmented(ContextLevel::FmFc);
    ensure_examples(out, &settings, false).unwrap();
    let tok = CodeTokenizer::load(&tokenizer_dir(out)).unwrap();
    let examples = read_examples(out).unwrap();
    let by_project = read_project_pairs(out).unwrap();
    // The project with the most pairs, its examples in pair-id order (as the sweep keeps them).
    let (project, pairs) = by_project
        .iter()
        .max_by_key(|(_, pairs)| pairs.len())
        .unwrap();
    assert!(pairs.iter().all(|p| &p.project_id == project));
    let mut of: Vec<Example> = examples
        .iter()
        .filter(|e| &e.project_id == project)
        .cloned()
        .collect();
    of.sort_by(|a, b| a.pair_id.cmp(&b.pair_id));
    let keys: Vec<String> = of.iter().map(|e| e.pair_id.clone()).collect();
    let split = split_fold(&keys, 0, 2, 0.2, 7);
    let ids = |rows: &[usize]| -> Vec<String> { rows.iter().map(|&i| keys[i].clone()).collect() };
    let (train, valid, test) = (ids(&split.train), ids(&split.valid), ids(&split.test));
    assert!(train.len() >= 2 && !valid.is_empty() && !test.is_empty());
    let train_set: HashSet<&str> = train.iter().map(String::as_str).collect();

    let folded = augment_fold(pairs, &of, &train, &settings, &tok).unwrap();
    assert_eq!(folded.len(), of.len());
    let mut retrieved = 0;
    for (before, after) in of.iter().zip(&folded) {
        assert_eq!(before.pair_id, after.pair_id);
        assert_eq!(before.target_ids, after.target_ids);
        let Some(id) = &after.retrieved_pair_id else {
            continue;
        };
        retrieved += 1;
        assert_ne!(id, &after.pair_id, "a pair never retrieves itself");
        assert!(
            train_set.contains(id.as_str()),
            "{} retrieved {id}, which is not in the fold's training part",
            after.pair_id
        );
    }
    assert!(retrieved * 2 > folded.len(), "{retrieved}");
    // A test example is shown exactly `ir`'s first pick for it (same index, same score).
    let ir = fold_predictions(pairs, &train, &test, 1, Bm25::default()).unwrap();
    for prediction in ir {
        let example = folded
            .iter()
            .find(|e| e.pair_id == prediction.pair_id)
            .unwrap();
        let first = prediction.retrieved.first();
        assert_eq!(
            example.retrieved_pair_id.as_deref(),
            first.map(|r| r.pair_id.as_str())
        );
        assert_eq!(example.retrieved_score, first.map(|r| r.score));
    }
    // Deterministic, and plain settings leave the examples as they are.
    assert_eq!(
        augment_fold(pairs, &of, &train, &settings, &tok).unwrap(),
        folded
    );
    let plain = small(ContextLevel::FmFc);
    assert_eq!(augment_fold(pairs, &of, &train, &plain, &tok).unwrap(), of);
    // A training id that is not a pair of the project is refused, not ignored.
    let mut bad = train.clone();
    bad.push("no-such-pair".into());
    let err = augment_fold(pairs, &of, &bad, &settings, &tok).unwrap_err();
    assert!(format!("{err:#}").contains("no-such-pair"), "{err:#}");
}

#[test]
fn only_zero_or_one_retrieved_test_is_accepted() {
    let tmp = mined();
    let out = tmp.path();
    let two = ExampleSettings {
        retrieved: 2,
        ..small(ContextLevel::Fm)
    };
    let err = ensure_examples(out, &two, false).unwrap_err();
    assert!(
        format!("{err:#}").contains("data.retrieved is 2"),
        "{err:#}"
    );
    let cramped = ExampleSettings {
        max_input: 6,
        ..augmented(ContextLevel::Fm)
    };
    assert!(ensure_examples(out, &cramped, false).is_err());
    assert!(!table_path(out, "examples").exists(), "nothing was built");

    let cli = tailor(&[
        "examples",
        "--out",
        out.to_str().unwrap(),
        "--vocab-size",
        "400",
        "--retrieved",
        "2",
    ]);
    assert!(!cli.status.success());
    let cli = tailor(&[
        "examples",
        "--out",
        out.to_str().unwrap(),
        "--vocab-size",
        "400",
        "--retrieved",
        "1",
    ]);
    let stdout = String::from_utf8_lossy(&cli.stdout);
    assert!(cli.status.success(), "{stdout}");
    assert!(
        stdout.contains("+ the nearest test of the project"),
        "{stdout}"
    );
    assert!(
        read_examples(out)
            .unwrap()
            .iter()
            .any(|e| e.retrieved_pair_id.is_some())
    );
}

#[test]
fn the_profile_field_data_retrieved_reaches_the_examples_settings() {
    // What `tailor baseline` builds its examples with is the profile's `[data]` section.
    let plain = Profile::load("smoke", &[]).unwrap();
    assert_eq!(plain.data.retrieved, 0);
    assert!(!plain.to_toml().unwrap().contains("retrieved"));
    let augmented = Profile::load("smoke", &["data.retrieved=1".to_string()]).unwrap();
    assert_eq!(augmented.data.retrieved, 1);
    assert!(augmented.to_toml().unwrap().contains("retrieved = 1"));
    augmented.data.validate().unwrap();
    let misspelt = Profile::load("smoke", &["data.retreived=1".to_string()]);
    assert!(misspelt.is_err(), "an unknown [data] key is refused");
    // A profile is checked when it is loaded: a bad value never reaches a stage.
    let two = Profile::load("smoke", &["data.retrieved=2".to_string()]).unwrap_err();
    assert!(
        format!("{two:#}").contains("data.retrieved is 2"),
        "{two:#}"
    );
}
