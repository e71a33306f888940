//! The `ir` strategy on one customization fold: each test pair's top-k tests retrieved from the
//! fold's *training part only*, adapted to the test pair's focal method, best first.
//!
//! The index is built over the training part alone, so not only the retrieved tests but also
//! BM25's statistics (idf, average length) come from it: nothing of the validation or test part
//! reaches a prediction. Exact duplicates are kept: a test part's test whose body also occurs in
//! the training part (the same test copied between test classes, or generated tests that are
//! identical) is a real test a developer wrote, and removing it would change the test part every
//! model is evaluated on. Each prediction says whether its reference has such a duplicate
//! ([`IrPrediction::duplicate_in_train`]), so `evaluate` can report every metric without them
//! and show how much of the score they account for.

use std::collections::{HashMap, HashSet};

use anyhow::{Context, Result, ensure};
use rayon::prelude::*;
use xxhash_rust::xxh3::xxh3_64;

use super::{FocalNames, ProjectPairs, Scorer};
use crate::data::context::normalize_code;
use crate::mining::Pair;

/// One retrieved test, adapted to the query.
#[derive(Debug, Clone, PartialEq)]
pub struct Retrieved {
    /// The pair whose test was retrieved.
    pub pair_id: String,
    /// Its BM25 score for the query's focal method.
    pub score: f64,
    /// Its test with the focal method's (and class's) name replaced by the query's.
    pub test: String,
}

/// The `ir` outputs for one test pair.
#[derive(Debug, Clone, PartialEq)]
pub struct IrPrediction {
    /// The test pair (query).
    pub pair_id: String,
    /// Up to k retrieved tests, best first.
    pub retrieved: Vec<Retrieved>,
    /// Whether the query's own test occurs verbatim (as [`test_key`] sees it) in the training
    /// part: an exact duplicate across parts.
    pub duplicate_in_train: bool,
}

/// A test's identity for exact-duplicate detection: its text with comments removed and
/// whitespace collapsed ([`normalize_code`], what the models are trained on), hashed.
pub fn test_key(test_body: &str) -> u64 {
    xxh3_64(normalize_code(test_body).as_bytes())
}

/// The `ir` predictions of a fold: for each pair of `test` (ids of `pairs`, one project's), the
/// `k` nearest focal methods among the pairs of `train`, their tests adapted, in `test`'s order.
/// An id in `train` or `test` that is not in `pairs` is an error naming it.
pub fn fold_predictions<'a>(
    pairs: impl IntoIterator<Item = &'a Pair>,
    train: &[String],
    test: &[String],
    k: usize,
    scorer: impl Into<Scorer>,
) -> Result<Vec<IrPrediction>> {
    let by_id: HashMap<&str, &Pair> = pairs.into_iter().map(|p| (p.pair_id.as_str(), p)).collect();
    let lookup = |id: &String, part: &str| {
        by_id
            .get(id.as_str())
            .copied()
            .with_context(|| format!("{part} pair {id} is not in the pairs table"))
    };
    let train_pairs: Vec<&Pair> = train
        .iter()
        .map(|id| lookup(id, "training"))
        .collect::<Result<_>>()?;
    let train_ids: HashSet<&str> = train.iter().map(String::as_str).collect();
    let overlap = test
        .iter()
        .filter(|id| train_ids.contains(id.as_str()))
        .count();
    ensure!(
        overlap == 0,
        "{overlap} test pair(s) are also in the training part: the fold leaks"
    );
    let index = ProjectPairs::new(train_pairs.iter().copied(), scorer);
    let train_tests: HashSet<u64> = train_pairs.iter().map(|p| test_key(&p.test_body)).collect();
    test.par_iter()
        .map(|id| {
            let query = lookup(id, "test")?;
            let names = FocalNames::new(&query.focal_method, &query.focal_class);
            let hits = index
                .index
                .search_text(&query.focal_body, k, super::Allowed::All);
            Ok(IrPrediction {
                pair_id: id.clone(),
                retrieved: hits
                    .iter()
                    .map(|hit| Retrieved {
                        pair_id: hit.pair_id.clone(),
                        score: hit.score,
                        test: index.adapted(hit, names),
                    })
                    .collect(),
                duplicate_in_train: train_tests.contains(&test_key(&query.test_body)),
            })
        })
        .collect()
}
