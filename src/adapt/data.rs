//! An own project's data: its mined pairs, their split into training, validation and test
//! parts, and the parts as examples encoded with the base's tokenizer and the profile's
//! `[data]` settings.
//!
//! The split is the project's own, never the corpus's: a pair's part is a pure function of its
//! grouping key and the profile's fold seed (a stable xxh3 hash, as `data::folds` draws folds),
//! so adding commits moves no old pair between parts and a re-run tests on (almost) the same
//! pairs. Pairs are grouped by test class where that leaves a usable training part, so the near
//! copies one class holds are never on both sides; otherwise each pair is its own group.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use anyhow::{Context, Result, bail};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use xxhash_rust::xxh3::{xxh3_64, xxh3_64_with_seed};

use super::registry::PartSizes;
use crate::data::examples::{Example, ExampleSettings, encode_pair};
use crate::data::folds::FoldBy;
use crate::data::tokenizer::CodeTokenizer;
use crate::mining::{MineOptions, MiningStats, Pair, mine_checkout};

/// Fewest pairs a repository must have: one validation and one test pair, and enough left to
/// train on for the held-out numbers to mean something.
pub const MIN_PAIRS: usize = 10;
/// Share of the pairs (by group) held out for testing, and for validation (early stopping).
pub const TEST_SHARE: f64 = 0.1;
pub const VALID_SHARE: f64 = 0.1;
/// Grouping by test class is kept only while the training part keeps at least this share of
/// the pairs (one class holding most of the tests would otherwise leave little to train on).
const MIN_TRAIN_SHARE: f64 = 0.5;
/// ... and while the validation and test parts each hold at least this fraction of their
/// share: with few large test classes, hashing classes can leave 2 validation pairs of 234
/// (measured on opencsv), too few for early stopping to mean anything.
const MIN_HELD_OUT_OF_SHARE: f64 = 0.4;

/// The pairs of a repository, sorted by pair id, and the mining counters.
#[derive(Debug, Clone)]
pub struct Mined {
    pub pairs: Vec<Pair>,
    pub stats: MiningStats,
}

/// Mines `root` as project `name` (pair ids are hashed with it). Fewer than [`MIN_PAIRS`] pairs
/// is an error naming the repository and what was found.
pub fn mine(name: &str, root: &Path, repo: &str) -> Result<Mined> {
    let mined = mine_checkout(name, root, &MineOptions::default())?;
    let mut pairs = mined.pairs;
    pairs.sort_by(|a, b| a.pair_id.cmp(&b.pair_id));
    let stats = mined.stats;
    if pairs.len() < MIN_PAIRS {
        bail!(
            "repository {repo} (project {name}) has {} focal-method/test pair(s), fewer than the \
             {MIN_PAIRS} adapt needs: {} Java file(s), {} test class(es) ({} mapped to a focal \
             class), {} test case(s) ({} mapped to a focal method). Tests are found by @Test-style \
             annotations or JUnit 3 naming, and map to `Foo` from `FooTest`/`TestFoo` in the same \
             package",
            pairs.len(),
            stats.java_files,
            stats.test_classes,
            stats.mapped_test_classes,
            stats.test_cases,
            stats.mapped_test_cases
        );
    }
    Ok(Mined { pairs, stats })
}

/// What identifies the mined pairs: xxh3-64 (hex) of every pair's every field, in pair-id
/// order. Equal hashes: the repository has the same tests of the same methods in the same
/// classes.
pub fn pairs_hash(pairs: &[Pair]) -> String {
    let mut sorted: Vec<&Pair> = pairs.iter().collect();
    sorted.sort_by(|a, b| a.pair_id.cmp(&b.pair_id));
    let json = serde_json::to_vec(&sorted).expect("pairs serialise");
    format!("{:016x}", xxh3_64(&json))
}

/// How the pairs of two minings of a repository differ, by pair id.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PairChanges {
    pub added: usize,
    pub removed: usize,
    /// Same pair id (test file, class, method and line), different text.
    pub changed: usize,
}

impl PairChanges {
    /// `old` → `new`.
    pub fn between(old: &[Pair], new: &[Pair]) -> Self {
        let old: HashMap<&str, &Pair> = old.iter().map(|p| (p.pair_id.as_str(), p)).collect();
        let new: HashMap<&str, &Pair> = new.iter().map(|p| (p.pair_id.as_str(), p)).collect();
        let mut changes = PairChanges::default();
        for (id, pair) in &new {
            match old.get(id) {
                None => changes.added += 1,
                Some(before) if before != pair => changes.changed += 1,
                Some(_) => {}
            }
        }
        changes.removed = old.keys().filter(|id| !new.contains_key(*id)).count();
        changes
    }

    pub fn is_empty(&self) -> bool {
        *self == PairChanges::default()
    }
}

impl std::fmt::Display for PairChanges {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} pair(s) added, {} removed, {} changed",
            self.added, self.removed, self.changed
        )
    }
}

/// `split.json`: the pair ids of each part, and how they were drawn.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Split {
    /// `test-class` or `pair`: what a group is.
    pub by: FoldBy,
    /// The profile's `finetune.fold_seed`.
    pub seed: u64,
    pub train: Vec<String>,
    pub valid: Vec<String>,
    pub test: Vec<String>,
}

impl Split {
    /// Splits `pairs` by test class when that leaves at least half of them to train on and
    /// validation and test parts of at least 40% of their 10% share, else by pair (see the module docs). Every part is non-empty for 3 or more pairs; ids are
    /// sorted within each part.
    pub fn draw(pairs: &[Pair], seed: u64) -> Self {
        let by_class = draw_groups(pairs, FoldBy::TestClass, seed);
        let n = pairs.len() as f64;
        let enough = |part: &[String], share: f64| {
            !part.is_empty() && part.len() as f64 >= MIN_HELD_OUT_OF_SHARE * share * n
        };
        let usable = |split: &Split| {
            enough(&split.test, TEST_SHARE)
                && enough(&split.valid, VALID_SHARE)
                && split.train.len() as f64 >= MIN_TRAIN_SHARE * n
        };
        if usable(&by_class) {
            by_class
        } else {
            draw_groups(pairs, FoldBy::Pair, seed)
        }
    }

    pub fn sizes(&self) -> PartSizes {
        PartSizes {
            train: self.train.len() as u64,
            valid: self.valid.len() as u64,
            test: self.test.len() as u64,
        }
    }

    /// xxh3-64 (hex) of the split as written: two runs with the same hash trained, stopped and
    /// tested on the same pairs.
    pub fn membership_hash(&self) -> String {
        let json = serde_json::to_vec(self).expect("split serialises");
        format!("{:016x}", xxh3_64(&json))
    }

    /// Writes the split as JSON, atomically.
    pub fn write(&self, path: &Path) -> Result<()> {
        let json = serde_json::to_string_pretty(self)?;
        crate::tables::write_atomic(path, json.as_bytes())
    }

    /// Reads a split written by [`Split::write`].
    pub fn read(path: &Path) -> Result<Self> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))
    }
}

/// The part of a group whose key hashes to `u` in [0, 1): test below [`TEST_SHARE`], validation
/// below that plus [`VALID_SHARE`], else training.
fn draw_groups(pairs: &[Pair], by: FoldBy, seed: u64) -> Split {
    let mut groups: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    for pair in pairs {
        let key = by.key(&pair.pair_id, &pair.test_file, &pair.test_class);
        groups.entry(key).or_default().push(&pair.pair_id);
    }
    let unit = |key: &str| xxh3_64_with_seed(key.as_bytes(), seed) as f64 / (u64::MAX as f64 + 1.0);
    // Groups in hash order, each with its part: 0 test, 1 validation, 2 training.
    let mut order: Vec<(f64, &String, u8)> = groups
        .keys()
        .map(|key| {
            let u = unit(key);
            let part = if u < TEST_SHARE {
                0
            } else if u < TEST_SHARE + VALID_SHARE {
                1
            } else {
                2
            };
            (u, key, part)
        })
        .collect();
    order.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(b.1)));
    // A small repository may draw no test or validation group: the lowest-hashed training
    // groups take their place, so both parts always exist.
    for wanted in [0u8, 1] {
        if !order.iter().any(|g| g.2 == wanted)
            && let Some(group) = order.iter_mut().find(|g| g.2 == 2)
        {
            group.2 = wanted;
        }
    }
    let mut split = Split {
        by,
        seed,
        train: Vec::new(),
        valid: Vec::new(),
        test: Vec::new(),
    };
    for (_, key, part) in order {
        let ids = groups[key].iter().map(|id| id.to_string());
        match part {
            0 => split.test.extend(ids),
            1 => split.valid.extend(ids),
            _ => split.train.extend(ids),
        }
    }
    for part in [&mut split.train, &mut split.valid, &mut split.test] {
        part.sort();
    }
    split
}

/// The three parts as examples.
#[derive(Debug, Clone)]
pub struct Parts {
    pub train: Vec<Example>,
    pub valid: Vec<Example>,
    pub test: Vec<Example>,
}

/// Encodes every pair of `split` with `tokenizer` (the base's) and `settings` (the profile's
/// `[data]`), in the split's order. With `settings.retrieved == 1` every input also carries the
/// nearest test of the *training part* ([`crate::data::augment_fold`], as a customization fold
/// builds its inputs), so no held-out test is ever shown to the model.
pub fn encode(
    pairs: &[Pair],
    split: &Split,
    settings: &ExampleSettings,
    tokenizer: &CodeTokenizer,
) -> Result<Parts> {
    settings.validate()?;
    let by_id: HashMap<&str, &Pair> = pairs.iter().map(|p| (p.pair_id.as_str(), p)).collect();
    let part = |ids: &[String], name: &str| -> Result<Vec<Example>> {
        ids.par_iter()
            .map(|id| {
                let pair = by_id
                    .get(id.as_str())
                    .with_context(|| format!("{name} pair {id} is not among the mined pairs"))?;
                encode_pair(pair, name, settings, tokenizer)
            })
            .collect()
    };
    let (train, valid, test) = (
        part(&split.train, "train")?,
        part(&split.valid, "valid")?,
        part(&split.test, "test")?,
    );
    if settings.retrieved == 0 {
        return Ok(Parts { train, valid, test });
    }
    let (n_train, n_valid) = (train.len(), valid.len());
    let mut all = crate::data::augment_fold(
        pairs,
        &[train, valid, test].concat(),
        &split.train,
        settings,
        tokenizer,
    )?;
    let test = all.split_off(n_train + n_valid);
    let valid = all.split_off(n_train);
    Ok(Parts {
        train: all,
        valid,
        test,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mining::{Framework, Heuristic};

    fn pair(id: usize, class: usize) -> Pair {
        Pair {
            pair_id: format!("p{id:04}"),
            project_id: "demo".into(),
            test_file: format!("src/test/java/C{class}Test.java"),
            test_class: format!("C{class}Test"),
            test_method: format!("test{id}"),
            test_body: format!("@Test void test{id}() {{ c.m{id}(); }}"),
            focal_file: format!("src/main/java/C{class}.java"),
            focal_class: format!("C{class}"),
            focal_method: format!("m{id}"),
            focal_signature: format!("void m{id}()"),
            focal_body: format!("void m{id}() {{}}"),
            heuristic: Heuristic::Name,
            framework: Framework::Junit4,
            class_signature: format!("class C{class}"),
            constructors: vec![],
            method_signatures: vec![],
            fields: vec![],
        }
    }

    fn parts_of(split: &Split) -> HashMap<&str, u8> {
        let mut of = HashMap::new();
        for (part, ids) in [(0u8, &split.test), (1, &split.valid), (2, &split.train)] {
            for id in ids {
                of.insert(id.as_str(), part);
            }
        }
        of
    }

    #[test]
    fn a_test_class_stays_in_one_part_and_every_part_has_pairs() {
        // 40 classes of 1–8 tests.
        let pairs: Vec<Pair> = (0..40)
            .flat_map(|class| (0..1 + class % 8).map(move |i| pair(class * 10 + i, class)))
            .collect();
        let split = Split::draw(&pairs, 7);
        assert_eq!(split.by, FoldBy::TestClass);
        let of = parts_of(&split);
        assert_eq!(of.len(), pairs.len());
        for a in &pairs {
            for b in &pairs {
                if a.test_class == b.test_class {
                    assert_eq!(of[a.pair_id.as_str()], of[b.pair_id.as_str()]);
                }
            }
        }
        assert!(!split.test.is_empty() && !split.valid.is_empty());
        assert!(split.train.len() * 2 >= pairs.len());
        assert_eq!(Split::draw(&pairs, 7), split, "deterministic");
        assert_ne!(Split::draw(&pairs, 8), split, "seeded");
    }

    #[test]
    fn one_big_class_is_split_by_pair_and_small_repositories_still_get_every_part() {
        let one_class: Vec<Pair> = (0..50).map(|i| pair(i, 0)).collect();
        let split = Split::draw(&one_class, 1);
        assert_eq!(split.by, FoldBy::Pair);
        assert_eq!(
            split.sizes().train + split.sizes().valid + split.sizes().test,
            50
        );
        for seed in 0..20 {
            let tiny: Vec<Pair> = (0..MIN_PAIRS).map(|i| pair(i, i)).collect();
            let split = Split::draw(&tiny, seed);
            assert!(
                !split.test.is_empty() && !split.valid.is_empty() && !split.train.is_empty(),
                "seed {seed}: {split:?}"
            );
        }
    }

    #[test]
    fn a_class_split_with_a_token_validation_part_falls_back_to_pairs() {
        // Ten classes of 20 tests and five of one: hashing classes often leaves validation or
        // test with a single one-test class.
        let pairs: Vec<Pair> = (0..10)
            .flat_map(|class| (0..20).map(move |i| pair(class * 100 + i, class)))
            .chain((10..15).map(|class| pair(class * 100, class)))
            .collect();
        let n = pairs.len() as f64;
        let mut by = Vec::new();
        for seed in 0..60 {
            let split = Split::draw(&pairs, seed);
            if split.by == FoldBy::TestClass {
                assert!(split.valid.len() as f64 >= MIN_HELD_OUT_OF_SHARE * VALID_SHARE * n);
                assert!(split.test.len() as f64 >= MIN_HELD_OUT_OF_SHARE * TEST_SHARE * n);
            }
            by.push(split.by);
        }
        assert!(
            by.contains(&FoldBy::TestClass) && by.contains(&FoldBy::Pair),
            "{by:?}"
        );
    }

    #[test]
    fn adding_pairs_moves_no_old_pair_between_parts() {
        let before: Vec<Pair> = (0..200).map(|i| pair(i, i / 3)).collect();
        let mut after = before.clone();
        after.extend((200..230).map(|i| pair(i, i / 3)));
        let (a, b) = (Split::draw(&before, 3), Split::draw(&after, 3));
        let (a, b) = (parts_of(&a), parts_of(&b));
        assert!(a.iter().all(|(id, part)| b[id] == *part));
    }

    #[test]
    fn changes_between_minings_are_counted_by_pair_id() {
        let old: Vec<Pair> = (0..5).map(|i| pair(i, 0)).collect();
        let mut new: Vec<Pair> = old[1..].to_vec();
        new[0].test_body.push_str(" // edited");
        new.push(pair(9, 0));
        let changes = PairChanges::between(&old, &new);
        assert_eq!(
            changes,
            PairChanges {
                added: 1,
                removed: 1,
                changed: 1
            }
        );
        assert!(PairChanges::between(&old, &old).is_empty());
        assert_ne!(pairs_hash(&old), pairs_hash(&new));
        let mut shuffled = old.clone();
        shuffled.reverse();
        assert_eq!(pairs_hash(&old), pairs_hash(&shuffled));
    }
}
