//! Cross-validation folds within one target project (paper §4: each customization is trained
//! and evaluated in 4-fold cross-validation over the project's pairs).
//!
//! A pair's fold is a pure function of its grouping key and a seed (a stable xxh3 hash), so
//! folds never depend on row order, adding pairs never moves old ones, and the baseline is
//! evaluated on exactly the test parts the strategies are. For fold `k`, fold `k` is the test
//! part and a seeded tenth of the other folds' groups the validation set for early stopping;
//! the rest trains. Grouping by test class (`--fold-by test-class`) keeps the tests of one
//! class, often near-copies of each other, on one side of every split; the paper's default
//! groups by pair.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use xxhash_rust::xxh3::{xxh3_64, xxh3_64_with_seed};

use crate::data::examples::{Example, ExampleSettings};
use crate::data::tokenizer::CodeTokenizer;

/// Distinguishes the validation draw from the fold draw made with the same seed.
const VALID_SALT: u64 = 0x7a11_0f01_d5a1_7000;

/// What a fold holds together.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, clap::ValueEnum, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum FoldBy {
    /// Each pair on its own (the paper's default).
    Pair,
    /// All pairs of one test class (same test file and class) together.
    TestClass,
}

impl FoldBy {
    /// The grouping key of a pair: its `pair_id`, or its test file and class.
    pub fn key(self, pair_id: &str, test_file: &str, test_class: &str) -> String {
        match self {
            FoldBy::Pair => pair_id.to_string(),
            FoldBy::TestClass => format!("{test_file}#{test_class}"),
        }
    }
}

/// The fold (`0..folds`) of a grouping key: xxh3-64 of the key with `seed`, modulo `folds`.
pub fn fold_of(key: &str, seed: u64, folds: usize) -> usize {
    assert!(folds > 0, "at least one fold");
    (xxh3_64_with_seed(key.as_bytes(), seed) % folds as u64) as usize
}

/// Row indices of one fold's three parts, each ascending.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FoldSplit {
    pub train: Vec<usize>,
    pub valid: Vec<usize>,
    pub test: Vec<usize>,
}

/// Split rows, given each row's grouping key, for fold `fold` of `folds`: rows whose key falls
/// in fold `fold` are the test part; of the other rows' keys, those first in a seeded order
/// (xxh3 of key and seed) make up the validation part until it holds `valid_fraction` of those
/// rows (whole groups, so at least the fraction); the rest train.
pub fn split_fold(
    keys: &[String],
    fold: usize,
    folds: usize,
    valid_fraction: f64,
    seed: u64,
) -> FoldSplit {
    assert!(fold < folds, "fold {fold} is not below {folds}");
    assert!(
        (0.0..1.0).contains(&valid_fraction),
        "valid_fraction {valid_fraction} is not in [0, 1)"
    );
    let mut split = FoldSplit::default();
    // Rows of the non-test groups, by key.
    let mut groups: HashMap<&str, Vec<usize>> = HashMap::new();
    for (row, key) in keys.iter().enumerate() {
        if fold_of(key, seed, folds) == fold {
            split.test.push(row);
        } else {
            groups.entry(key.as_str()).or_default().push(row);
        }
    }
    let rest: usize = groups.values().map(Vec::len).sum();
    let wanted = (valid_fraction * rest as f64).round() as usize;
    let mut order: Vec<(&str, Vec<usize>)> = groups.into_iter().collect();
    let salted = seed ^ VALID_SALT;
    order.sort_unstable_by_key(|(key, _)| (xxh3_64_with_seed(key.as_bytes(), salted), *key));
    for (_, rows) in order {
        if split.valid.len() < wanted {
            split.valid.extend(rows);
        } else {
            split.train.extend(rows);
        }
    }
    split.valid.sort_unstable();
    split.train.sort_unstable();
    split
}

/// The pair ids of each part of one (project, fold), as `make evaluate` reads them back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FoldParts {
    pub project_id: String,
    pub fold: usize,
    pub folds: usize,
    pub fold_by: String,
    pub train: Vec<String>,
    pub valid: Vec<String>,
    pub test: Vec<String>,
}

impl FoldParts {
    /// What identifies the fold's membership: xxh3-64 (hex) of its settings and its three
    /// lists of pair ids. Two runs with the same hash were trained and tested on the same pairs.
    pub fn membership_hash(&self) -> String {
        let json = serde_json::to_vec(self).expect("fold parts serialise");
        format!("{:016x}", xxh3_64(&json))
    }

    /// Read a fold record (`fold<k>.json` beside the runs, or a run folder's `fold.json`; see
    /// [`crate::layout`]).
    pub fn read(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading fold record {}", path.display()))?;
        serde_json::from_str(&text)
            .with_context(|| format!("parsing fold record {}", path.display()))
    }
}

/// How a fold's examples get their inputs: as the examples table has them, or, when the table
/// was built with retrieved tests (`data.retrieved`), rebuilt so that every part retrieves from
/// the fold's training part only (never its validation or test part). Evaluation builds the
/// test inputs the same way.
pub struct FoldInputs {
    settings: ExampleSettings,
    /// With retrieval: every project's pairs and the tokenizer the examples were built with.
    retrieval: Option<(BTreeMap<String, Vec<crate::mining::Pair>>, CodeTokenizer)>,
}

impl FoldInputs {
    /// The examples table's own settings decide (its stamp), so the sweep and `evaluate` agree.
    pub fn load(out: &Path) -> Result<Self> {
        let settings = crate::data::examples::built_settings(out)?;
        let retrieval = if settings.retrieved > 0 {
            Some((
                crate::data::read_project_pairs(out)?,
                CodeTokenizer::load(&crate::data::examples::tokenizer_dir(out))?,
            ))
        } else {
            None
        };
        Ok(Self {
            settings,
            retrieval,
        })
    }

    /// Whether inputs are rebuilt per fold (the examples carry retrieved tests).
    pub fn rebuilds(&self) -> bool {
        self.retrieval.is_some()
    }

    /// `examples` of `project` with inputs for the fold whose training part is `train` (one
    /// index over that part serves every example given).
    pub fn rebuild(
        &self,
        examples: &[Example],
        project: &str,
        fold: usize,
        train: &[String],
    ) -> Result<Vec<Example>> {
        let Some((pairs, tokenizer)) = &self.retrieval else {
            return Ok(examples.to_vec());
        };
        let of_project = pairs.get(project).map_or(&[][..], Vec::as_slice);
        crate::data::augment_fold(of_project, examples, train, &self.settings, tokenizer)
            .with_context(|| format!("retrieving from the training part of {project} fold {fold}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIRST_FOLDS: [usize; 8] = [1, 1, 0, 2, 3, 3, 3, 0];

    fn pair_keys(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("pair-{i:05}")).collect()
    }

    #[test]
    fn parts_are_disjoint_and_cover_every_row() {
        let keys = pair_keys(1000);
        for fold in 0..4 {
            let split = split_fold(&keys, fold, 4, 0.1, 7);
            let mut all: Vec<usize> = [&split.train, &split.valid, &split.test]
                .into_iter()
                .flatten()
                .copied()
                .collect();
            all.sort_unstable();
            assert_eq!(all, (0..1000).collect::<Vec<_>>(), "fold {fold}");
            let rest = 1000 - split.test.len();
            assert_eq!(split.valid.len(), (0.1 * rest as f64).round() as usize);
            assert!(
                (200..300).contains(&split.test.len()),
                "{}",
                split.test.len()
            );
        }
    }

    #[test]
    fn every_row_is_test_in_exactly_one_fold() {
        let keys = pair_keys(500);
        let mut times = vec![0; keys.len()];
        for fold in 0..4 {
            for row in split_fold(&keys, fold, 4, 0.1, 3).test {
                times[row] += 1;
            }
        }
        assert!(times.iter().all(|&t| t == 1));
    }

    #[test]
    fn folds_are_stable_and_seeded() {
        let keys = pair_keys(300);
        assert_eq!(
            split_fold(&keys, 2, 4, 0.1, 11),
            split_fold(&keys, 2, 4, 0.1, 11)
        );
        // Fixed values, so a change of hash or rule shows up as a failing test (folds written
        // by an earlier run must still mean the same rows).
        let first: Vec<usize> = keys[..8].iter().map(|k| fold_of(k, 0, 4)).collect();
        assert_eq!(first, FIRST_FOLDS);
        assert_ne!(
            split_fold(&keys, 2, 4, 0.1, 11),
            split_fold(&keys, 2, 4, 0.1, 12)
        );
        // Row order does not matter: a key's part is the same wherever it sits.
        let mut reversed = keys.clone();
        reversed.reverse();
        let a = split_fold(&keys, 1, 4, 0.1, 5);
        let b = split_fold(&reversed, 1, 4, 0.1, 5);
        let names = |rows: &[usize], keys: &[String]| {
            let mut v: Vec<String> = rows.iter().map(|&r| keys[r].clone()).collect();
            v.sort();
            v
        };
        assert_eq!(names(&a.test, &keys), names(&b.test, &reversed));
        assert_eq!(names(&a.valid, &keys), names(&b.valid, &reversed));
    }

    #[test]
    fn grouping_by_test_class_keeps_a_class_together() {
        // 40 classes of 1–9 tests each.
        let keys: Vec<String> = (0..40)
            .flat_map(|class| {
                let key = FoldBy::TestClass.key("", &format!("src/T{class}.java"), "T");
                std::iter::repeat_n(key, 1 + class % 9)
            })
            .collect();
        for fold in 0..4 {
            let split = split_fold(&keys, fold, 4, 0.1, 1);
            let part_of = |row: usize| {
                if split.test.contains(&row) {
                    0
                } else if split.valid.contains(&row) {
                    1
                } else {
                    2
                }
            };
            for (i, key) in keys.iter().enumerate() {
                for (j, other) in keys.iter().enumerate() {
                    if key == other {
                        assert_eq!(part_of(i), part_of(j), "{key} split in fold {fold}");
                    }
                }
            }
            assert!(
                !split.valid.is_empty(),
                "fold {fold} has no validation rows"
            );
        }
    }
}
