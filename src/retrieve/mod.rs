//! Retrieval (DESIGN "Retrieval"; issue 17): for a focal method, the most similar focal methods
//! of the same project and their tests, with the retrieved focal method's name adapted to the
//! query's. It is the `ir` strategy (the top-5 adapted tests as its five outputs, no training)
//! and the building block of `tailor retrieve`.
//!
//! Parts: [`terms`] (what a focal method is indexed by), [`index`] (BM25 over one project),
//! [`adapt`] (name adaptation), [`ir`] (a fold's `ir` predictions, exact duplicates),
//! [`augment`] (retrieval-augmented model inputs) and [`query`] (a focal method given as text or
//! as a method of a Java file, for the CLI).
//!
//! Leakage is the caller's to state and this module's to enforce: a pair never retrieves
//! itself ([`ProjectIndex::search_doc`]), and every search takes the set of pairs it may return
//! ([`Allowed`]), so a customization fold retrieves only from its training part and a training
//! example only from its project's training-side pairs. This module does not read or write
//! tables except through `crate::tables`, and does not score predictions (`evaluate` does).

pub mod adapt;
pub mod augment;
pub mod index;
pub mod ir;
pub mod query;
pub mod terms;

use rayon::prelude::*;

pub use adapt::{FocalNames, adapt_test};
pub use augment::{Augmented, SEPARATOR, augmented_input};
pub use index::{Allowed, Bm25, Hit, ProjectIndex, Query, Scorer, TfIdf};
pub use ir::{IrPrediction, Retrieved, fold_predictions, test_key};
pub use query::{FocalQuery, Suggestion, retrieve};

use crate::mining::Pair;

/// Retrieved tests per query: the paper's top-5 (§4.3), so `ir` has five ranked outputs like a
/// 5-beam model.
pub const TOP_K: usize = 5;

/// The `ir` strategy's name in the finetune, predictions and metrics tables.
pub const IR_STRATEGY: &str = crate::label::RETRIEVAL;

/// One project's pairs and the index over their focal methods, documents in pair-id order.
#[derive(Debug, Clone)]
pub struct ProjectPairs<'a> {
    /// The pairs, in index (pair-id) order: `pairs[hit.doc]` is a hit's pair.
    pub pairs: Vec<&'a Pair>,
    pub index: ProjectIndex,
}

impl<'a> ProjectPairs<'a> {
    /// Indexes the focal methods (`focal_body`) of `pairs`, all of one project, for `scorer`
    /// (BM25 by default; tf-idf in `make compare-retrieval`).
    pub fn new(pairs: impl IntoIterator<Item = &'a Pair>, scorer: impl Into<Scorer>) -> Self {
        let mut pairs: Vec<&Pair> = pairs.into_iter().collect();
        pairs.sort_by(|a, b| a.pair_id.cmp(&b.pair_id));
        let index = ProjectIndex::build(
            pairs
                .iter()
                .map(|p| (p.pair_id.as_str(), p.focal_body.as_str())),
            scorer,
        );
        ProjectPairs { pairs, index }
    }

    /// One flag per document: whether its pair id is in `ids` (the pairs a search may return).
    pub fn allowed<'s>(&self, ids: impl IntoIterator<Item = &'s str>) -> Vec<bool> {
        let mut flags = vec![false; self.pairs.len()];
        for id in ids {
            if let Some(doc) = self.index.position(id) {
                flags[doc] = true;
            }
        }
        flags
    }

    /// The retrieved pair of `hit`'s test adapted to `query`'s focal method and class.
    pub fn adapted(&self, hit: &Hit, query: FocalNames<'_>) -> String {
        let pair = self.pairs[hit.doc];
        adapt_test(
            &pair.test_body,
            FocalNames::new(&pair.focal_method, &pair.focal_class),
            query,
        )
    }
}

/// For every pair, its `k` nearest other pairs of the same project (by focal method), best
/// first, in the order of `pairs`. Each project is indexed once; projects and queries run in
/// parallel (rayon). This is the all-pairs workload `benches/retrieve.rs` measures.
pub fn nearest_within_projects(pairs: &[Pair], k: usize, params: Bm25) -> Vec<Vec<Hit>> {
    let mut by_project: std::collections::BTreeMap<&str, Vec<usize>> = Default::default();
    for (i, pair) in pairs.iter().enumerate() {
        by_project.entry(&pair.project_id).or_default().push(i);
    }
    let groups: Vec<Vec<usize>> = by_project.into_values().collect();
    let per_project: Vec<Vec<(usize, Vec<Hit>)>> = groups
        .par_iter()
        .map(|members| {
            let project = ProjectPairs::new(members.iter().map(|&i| &pairs[i]), params);
            members
                .par_iter()
                .map_init(Vec::new, |scratch, &i| {
                    let doc = project
                        .index
                        .position(&pairs[i].pair_id)
                        .expect("every member is indexed");
                    let hits = project.index.search_doc_with(doc, k, Allowed::All, scratch);
                    (i, hits)
                })
                .collect()
        })
        .collect();
    let mut out = vec![Vec::new(); pairs.len()];
    for (i, hits) in per_project.into_iter().flatten() {
        out[i] = hits;
    }
    out
}
