//! Retrieval-augmented model inputs: the focal context of a pair followed by the most similar
//! existing test of its project (adapted to its focal method), behind BART's segment separator.
//!
//! The separator is `</s></s>`, how BART (as RoBERTa) joins the two texts of a sentence pair
//! (`<s> A </s></s> B </s>`): it is a special token the tokenizer already has, so augmenting
//! inputs needs no new vocabulary and no retrained tokenizer. The retrieved test comes last, so
//! when an input is cut to `max_input` tokens the focal context is kept and the retrieved test
//! is what gets shortened.
//!
//! Which pairs may be retrieved is the caller's to say ([`Allowed`]), by the leakage rules of
//! DESIGN "Retrieval": a training example of the baseline retrieves from its project's other
//! training-side pairs; a customization fold's examples retrieve from the fold's training part
//! only. A pair never retrieves itself.

use super::{Allowed, FocalNames, Hit, ProjectPairs};
use crate::data::context::{ContextLevel, PairContext, model_input, model_target};
use crate::mining::Pair;

/// Between the focal context and the retrieved test.
pub const SEPARATOR: &str = "</s></s>";

/// An augmented input and what was retrieved for it (so a prediction can be traced).
#[derive(Debug, Clone, PartialEq)]
pub struct Augmented {
    pub input: String,
    /// The retrieved pair and its BM25 score; `None` when no allowed pair shares a term with
    /// the query, and the input is the plain focal context.
    pub retrieved: Option<(String, f64)>,
}

/// The nearest test among `allowed` pairs of `project` (the query's own project) for `query`'s
/// focal method, adapted to it and normalised as a model target ([`model_target`]), with the
/// hit it came from; `None` when no allowed pair shares a term with the query.
///
/// A query that is indexed is searched as its own document, which a search never returns (a
/// pair never retrieves itself); one that is not (a fold's validation or test pair against an
/// index of the fold's training part) is searched by its focal method's text. This is the one
/// retrieval both [`augmented_input`] and the encoded examples (`crate::data::augment`) use, so
/// the text and the token ids of an augmented input never disagree on what was retrieved.
pub fn nearest_test(
    project: &ProjectPairs<'_>,
    query: &Pair,
    allowed: Allowed<'_>,
) -> Option<(Hit, String)> {
    let hit: Hit = match project.index.position(&query.pair_id) {
        Some(doc) => project.index.search_doc(doc, 1, allowed),
        None => project.index.search_text(&query.focal_body, 1, allowed),
    }
    .into_iter()
    .next()?;
    let names = FocalNames::new(&query.focal_method, &query.focal_class);
    let test = model_target(&project.adapted(&hit, names));
    Some((hit, test))
}

/// The model input of `query` at `level`, followed by [`SEPARATOR`] and the nearest test among
/// `allowed` pairs of `project` (the query's own project), adapted to the query's focal method.
pub fn augmented_input(
    project: &ProjectPairs<'_>,
    query: &Pair,
    level: ContextLevel,
    allowed: Allowed<'_>,
) -> Augmented {
    let context = model_input(&PairContext::from(query), level);
    match nearest_test(project, query, allowed) {
        Some((hit, test)) => Augmented {
            input: format!("{context} {SEPARATOR} {test}"),
            retrieved: Some((hit.pair_id, hit.score)),
        },
        None => Augmented {
            input: context,
            retrieved: None,
        },
    }
}
