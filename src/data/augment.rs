//! Retrieval-augmented examples (issue 17, DESIGN "Retrieval"): an example's input is its focal
//! context followed by the most similar existing test of the same project, so the model can
//! copy and edit a real test instead of writing one from nothing.
//!
//! # Token layout
//!
//! The input is BART's sentence-pair layout, `<s> CONTEXT </s></s> TEST </s>`: the focal
//! context encoded exactly as a plain input (`<s> … </s>`), then the retrieved test encoded on
//! its own with its `<s>` replaced by `</s>`, which makes [`crate::retrieve::SEPARATOR`]
//! (`</s></s>`) between them. The two texts are encoded apart and joined as ids, so the context's
//! tokens are the same as in a plain example and the budget below is exact. The tokenizer is
//! trained on plain inputs and tests only (the separator is a special token it already has):
//! switching retrieval on or off never retrains it.
//!
//! # Truncation
//!
//! When the joined input is longer than `max_input`, the retrieved test gets at most half of
//! it ([`retrieved_budget`]) and the focal context the rest; whichever part is shorter than its
//! share leaves the remainder to the other. So a long retrieved test never pushes out the focal
//! method (what the test must be written for), and a short focal method leaves the retrieved
//! test its whole length. Each part that is cut keeps its head and still ends in `</s>`, like a
//! plain truncated input; the example's full length is the two parts' uncut sum.
//!
//! # What may be retrieved (leakage)
//!
//! - [`crate::data::examples::ensure_examples`] (the baseline's examples): each pair retrieves
//!   from the *other* pairs of its own project, never itself. A train-split project's pairs are
//!   all train-split; a valid- or test-split project is leave-one-out within itself, so no
//!   example sees its own test, and no example of any split sees another project's.
//! - [`augment_fold`] (a customization fold): every example, whatever its part, retrieves from
//!   the fold's training part only, whose pairs alone are indexed, so neither the retrieved
//!   tests nor BM25's statistics come from the validation or test part. The fold's examples are
//!   rebuilt from the pairs, replacing the leave-one-out inputs of the examples table.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;

use anyhow::{Context, Result, bail, ensure};
use rayon::prelude::*;

use super::context::{ContextLevel, PairContext, model_input};
use super::examples::{Example, ExampleSettings, truncate};
use super::tokenizer::{BOS, CodeTokenizer, EOS};
use crate::mining::Pair;
use crate::retrieve::augment::nearest_test;
use crate::retrieve::{Allowed, Bm25, ProjectPairs};
use crate::tables::{pairs, table_path};

/// The most tokens the retrieved test (with its separator and final `</s>`) may take from an
/// input of `max_input` tokens when both parts do not fit: half, rounded down.
pub fn retrieved_budget(max_input: usize) -> usize {
    max_input / 2
}

/// Smallest `max_input` with room for a retrieved test: its share must hold the separator, two
/// tokens of the test and `</s>`.
pub const MIN_AUGMENTED_INPUT: usize = 8;

/// `<s> CONTEXT </s></s> TEST </s>` from the focal context's ids (`<s> … </s>`) and the
/// retrieved test's (`<s> … </s>`), cut to `max_input` tokens as the module documentation says,
/// and the uncut length.
pub fn join_retrieved(context: Vec<u32>, test: &[u32], max_input: usize) -> (Vec<u32>, usize) {
    let body = test.strip_prefix(&[BOS]).unwrap_or(test);
    let body = body.strip_suffix(&[EOS]).unwrap_or(body);
    // The retrieved segment: `</s>` (the separator's second half), the test, `</s>`.
    let mut retrieved = Vec::with_capacity(body.len() + 2);
    retrieved.push(EOS);
    retrieved.extend_from_slice(body);
    retrieved.push(EOS);
    let full = context.len() + retrieved.len();
    if full <= max_input {
        let mut ids = context;
        ids.extend(retrieved);
        return (ids, full);
    }
    let keep_retrieved = retrieved
        .len()
        .min(retrieved_budget(max_input).max(max_input.saturating_sub(context.len())));
    let (mut ids, _) = truncate(context, max_input - keep_retrieved);
    let (retrieved, _) = truncate(retrieved, keep_retrieved);
    ids.extend(retrieved);
    (ids, full)
}

/// One encoded input and what was retrieved for it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct EncodedInput {
    pub ids: Vec<u32>,
    /// Tokens before truncation.
    pub full_len: usize,
    /// The retrieved pair and its BM25 score.
    pub retrieved: Option<(String, f64)>,
}

/// The input ids of `pair` at `level`: the plain focal context when `project` is `None`, else
/// followed by the nearest test of `project` (every pair of its index may be retrieved except
/// `pair` itself). With no pair sharing a term, the input is the plain context.
pub(crate) fn encode_input(
    pair: &Pair,
    level: ContextLevel,
    max_input: usize,
    tokenizer: &CodeTokenizer,
    project: Option<&ProjectPairs<'_>>,
) -> Result<EncodedInput> {
    let context = model_input(&PairContext::from(pair), level);
    let context_ids = tokenizer
        .encode(&context)
        .with_context(|| format!("pair {}", pair.pair_id))?;
    let nearest = project.and_then(|project| nearest_test(project, pair, Allowed::All));
    match nearest {
        None => {
            let full_len = context_ids.len();
            let (ids, _) = truncate(context_ids, max_input);
            Ok(EncodedInput {
                ids,
                full_len,
                retrieved: None,
            })
        }
        Some((hit, test)) => {
            let test_ids = tokenizer.encode(&test).with_context(|| {
                format!(
                    "pair {}'s retrieved test (pair {})",
                    pair.pair_id, hit.pair_id
                )
            })?;
            let (ids, full_len) = join_retrieved(context_ids, &test_ids, max_input);
            Ok(EncodedInput {
                ids,
                full_len,
                retrieved: Some((hit.pair_id, hit.score)),
            })
        }
    }
}

/// One index per project over `pairs` (each pair retrieves from the others of its project).
pub(crate) fn project_indexes<'a>(
    pairs: impl IntoIterator<Item = &'a Pair>,
) -> HashMap<&'a str, ProjectPairs<'a>> {
    let mut by_project: BTreeMap<&str, Vec<&Pair>> = BTreeMap::new();
    for pair in pairs {
        by_project.entry(&pair.project_id).or_default().push(pair);
    }
    by_project
        .into_par_iter()
        .map(|(id, members)| (id, ProjectPairs::new(members, Bm25::default())))
        .collect()
}

/// Every pair of `OUT/tables/pairs.parquet`, grouped by project id, in table order within each:
/// what [`augment_fold`] retrieves from, read once for all target projects of a sweep.
pub fn read_project_pairs(out: &Path) -> Result<BTreeMap<String, Vec<Pair>>> {
    let path = table_path(out, "pairs");
    let all = pairs::read_pairs(&path)
        .with_context(|| format!("reading the pairs to retrieve from ({})", path.display()))?;
    let mut by_project: BTreeMap<String, Vec<Pair>> = BTreeMap::new();
    for pair in all {
        by_project
            .entry(pair.project_id.clone())
            .or_default()
            .push(pair);
    }
    Ok(by_project)
}

/// `examples` (any parts of one customization fold of one project) with their inputs rebuilt so
/// that each retrieves only from the fold's training part `train` (pair ids): a training example
/// from the other training pairs, a validation or test example from all of them. Only the
/// training pairs are indexed, so BM25's statistics do not see the held-out parts either. Targets
/// are kept; each input, its truncation flag and the retrieved pair and score are replaced.
///
/// `pairs` are the project's pairs (e.g. from [`read_project_pairs`]) and must hold every
/// example's and every training id's pair; `settings` and `tokenizer` must be those the examples
/// were built with (the profile's `[data]` and `OUT/tokenizer`). With `settings.retrieved == 0`
/// the examples are returned unchanged, so a sweep may call this for every profile. Examples
/// come back in the order given.
pub fn augment_fold<'a>(
    pairs: impl IntoIterator<Item = &'a Pair>,
    examples: &[Example],
    train: &[String],
    settings: &ExampleSettings,
    tokenizer: &CodeTokenizer,
) -> Result<Vec<Example>> {
    settings.validate()?;
    if settings.retrieved == 0 {
        return Ok(examples.to_vec());
    }
    let by_id: HashMap<&str, &Pair> = pairs.into_iter().map(|p| (p.pair_id.as_str(), p)).collect();
    let project_id = match examples.first() {
        Some(first) => first.project_id.as_str(),
        None => return Ok(Vec::new()),
    };
    if let Some(other) = examples.iter().find(|e| e.project_id != project_id) {
        bail!(
            "a fold is of one project, but its examples are of {project_id} and {}",
            other.project_id
        );
    }
    let lookup = |id: &str, what: &str| -> Result<&Pair> {
        let pair = by_id.get(id).copied().with_context(|| {
            format!("{what} pair {id} is not among the pairs given for project {project_id}")
        })?;
        ensure!(
            pair.project_id == project_id,
            "{what} pair {id} is of project {}, not the fold's project {project_id}",
            pair.project_id
        );
        Ok(pair)
    };
    let train_ids: HashSet<&str> = train.iter().map(String::as_str).collect();
    let train_pairs: Vec<&Pair> = train_ids
        .iter()
        .map(|id| lookup(id, "training"))
        .collect::<Result<_>>()?;
    let index = ProjectPairs::new(train_pairs, Bm25::default());
    examples
        .par_iter()
        .map(|example| {
            let pair = lookup(&example.pair_id, "example")?;
            let input = encode_input(
                pair,
                settings.level,
                settings.max_input,
                tokenizer,
                Some(&index),
            )?;
            let (retrieved_pair_id, retrieved_score) = input.retrieved.unzip();
            Ok(Example {
                input_truncated: input.full_len > input.ids.len(),
                input_ids: input.ids,
                retrieved_pair_id,
                retrieved_score,
                ..example.clone()
            })
        })
        .collect::<Result<Vec<_>>>()
        .with_context(|| format!("augmenting a fold of project {project_id}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seq(body: &[u32]) -> Vec<u32> {
        let mut ids = vec![BOS];
        ids.extend_from_slice(body);
        ids.push(EOS);
        ids
    }

    #[test]
    fn a_short_pair_is_joined_uncut_in_barts_pair_layout() {
        let (ids, full) = join_retrieved(seq(&[10, 11]), &seq(&[20, 21, 22]), 64);
        assert_eq!(ids, [BOS, 10, 11, EOS, EOS, 20, 21, 22, EOS]);
        assert_eq!(full, ids.len());
    }

    #[test]
    fn a_short_context_leaves_the_retrieved_test_more_than_half() {
        let context = seq(&[10, 11, 12]); // 5 tokens
        let test = seq(&(20..40).collect::<Vec<_>>()); // 22 tokens: segment of 22
        let (ids, full) = join_retrieved(context.clone(), &test, 16);
        assert_eq!(full, 5 + 22);
        assert_eq!(ids.len(), 16);
        // The context is short: it is whole, and the test takes the other 11 tokens.
        assert_eq!(ids[..5], context[..]);
        assert_eq!(ids[5..], [EOS, 20, 21, 22, 23, 24, 25, 26, 27, 28, EOS]);
    }

    #[test]
    fn when_both_are_long_each_gets_its_half() {
        let context = seq(&(100..130).collect::<Vec<_>>());
        let test = seq(&(20..50).collect::<Vec<_>>());
        let (ids, full) = join_retrieved(context, &test, 16);
        assert_eq!(full, 32 + 32);
        assert_eq!(
            ids,
            [
                BOS, 100, 101, 102, 103, 104, 105, EOS, EOS, 20, 21, 22, 23, 24, 25, EOS
            ]
        );
    }

    #[test]
    fn a_short_retrieved_test_is_kept_whole_and_the_context_is_cut() {
        let context = seq(&(100..130).collect::<Vec<_>>());
        let (ids, full) = join_retrieved(context, &seq(&[20]), 10);
        assert_eq!(full, 32 + 3);
        assert_eq!(ids, [BOS, 100, 101, 102, 103, 104, EOS, EOS, 20, EOS]);
    }

    #[test]
    fn the_budget_is_half_rounded_down() {
        assert_eq!(retrieved_budget(512), 256);
        assert_eq!(retrieved_budget(9), 4);
        assert!(retrieved_budget(MIN_AUGMENTED_INPUT) >= 4);
    }
}
