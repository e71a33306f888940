//! A BM25 index over one project's focal methods: an inverted index (term → postings of
//! (document, term frequency)), queried term by term into a score per touched document.
//!
//! BM25 (Robertson & Zaragoza 2009, "The Probabilistic Relevance Framework: BM25 and Beyond")
//! rather than tf-idf cosine: its length normalisation (`b`) keeps a long focal method from
//! matching every query through sheer size, and its saturating term frequency (`k1`) keeps a
//! name repeated ten times from outweighing ten different shared names; both are what retrieval
//! over code needs and what tf-idf cosine lacks. The defaults are Lucene's (k1 = 1.2, b = 0.75)
//! and its idf, `ln(1 + (N − df + 0.5) / (df + 0.5))`, which is never negative, so a term in
//! more than half the documents still counts a little instead of pushing documents away.
//!
//! Documents are stored in pair-id order, so ranking by (score descending, document ascending)
//! breaks ties by pair id: the same index and query always give the same list.

use std::collections::HashMap;

use xxhash_rust::xxh3::Xxh3DefaultBuilder;

use super::terms::for_each_term;

/// BM25's two parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bm25 {
    /// Term-frequency saturation: 0 counts a term once however often it occurs.
    pub k1: f64,
    /// Length normalisation: 0 ignores document length, 1 divides by it fully.
    pub b: f64,
}

impl Default for Bm25 {
    /// Lucene's and Elasticsearch's defaults.
    fn default() -> Self {
        Self { k1: 1.2, b: 0.75 }
    }
}

/// One retrieved document: its position in the index, its pair id and its BM25 score.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    pub doc: usize,
    pub pair_id: String,
    pub score: f64,
}

/// Which documents a search may return, beside the query's own document, which it never does.
#[derive(Debug, Clone, Copy)]
pub enum Allowed<'a> {
    /// Every document of the index.
    All,
    /// Only documents whose flag is set (one flag per document, index order).
    Only(&'a [bool]),
}

impl Allowed<'_> {
    fn admits(&self, doc: usize) -> bool {
        match self {
            Allowed::All => true,
            Allowed::Only(flags) => flags[doc],
        }
    }
}

/// A query: distinct term ids of the index with their counts; terms the index has never seen
/// cannot match anything and are dropped.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Query {
    terms: Vec<(u32, u32)>,
}

impl Query {
    /// Whether no term of the query occurs in the index.
    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }
}

/// The inverted index of one project's focal methods.
#[derive(Debug, Clone)]
pub struct ProjectIndex {
    params: Bm25,
    pair_ids: Vec<String>,
    vocabulary: HashMap<String, u32, Xxh3DefaultBuilder>,
    /// Postings of term `t`: `postings[offsets[t]..offsets[t + 1]]`, documents ascending, each
    /// with the term's whole BM25 weight in that document,
    /// `idf · tf · (k1 + 1) / (tf + k1 · (1 − b + b · len / avg_len))`, computed once here so a
    /// query only adds.
    offsets: Vec<usize>,
    postings: Vec<(u32, f32)>,
    /// Per document: the query built from its own text (a pair's query is its focal method).
    own_queries: Vec<Query>,
}

impl ProjectIndex {
    /// Indexes `documents` (pair id, focal method text). They are sorted by pair id, so ties
    /// break by pair id whatever order they come in. Pair ids are expected to be unique, as in
    /// the `pairs` table.
    pub fn build<'a>(
        documents: impl IntoIterator<Item = (&'a str, &'a str)>,
        params: Bm25,
    ) -> Self {
        let mut documents: Vec<(&str, &str)> = documents.into_iter().collect();
        documents.sort_by(|a, b| a.0.cmp(b.0));
        let mut vocabulary: HashMap<String, u32, Xxh3DefaultBuilder> = HashMap::default();
        let mut doc_terms: Vec<Vec<(u32, u32)>> = Vec::with_capacity(documents.len());
        let mut lengths = Vec::with_capacity(documents.len());
        let mut ids = Vec::new();
        for (_, text) in &documents {
            ids.clear();
            for_each_term(text, |term| {
                let next = vocabulary.len() as u32;
                let id = match vocabulary.get(term) {
                    Some(&id) => id,
                    None => *vocabulary.entry(term.to_string()).or_insert(next),
                };
                ids.push(id);
            });
            lengths.push(ids.len());
            doc_terms.push(counts(&mut ids));
        }
        let n_terms = vocabulary.len();
        let mut df = vec![0usize; n_terms];
        for terms in &doc_terms {
            for &(t, _) in terms {
                df[t as usize] += 1;
            }
        }
        let mut offsets = Vec::with_capacity(n_terms + 1);
        offsets.push(0);
        for d in &df {
            offsets.push(offsets.last().expect("starts with 0") + d);
        }
        let n = documents.len() as f64;
        let idf: Vec<f64> = df
            .iter()
            .map(|&d| (1.0 + (n - d as f64 + 0.5) / (d as f64 + 0.5)).ln())
            .collect();
        let avg_len = lengths.iter().sum::<usize>() as f64 / n.max(1.0);
        let mut fill = offsets.clone();
        let mut postings = vec![(0u32, 0f32); *offsets.last().expect("starts with 0")];
        for (doc, terms) in doc_terms.iter().enumerate() {
            let relative = if avg_len > 0.0 {
                lengths[doc] as f64 / avg_len
            } else {
                0.0
            };
            let norm = params.k1 * (1.0 - params.b + params.b * relative);
            for &(t, tf) in terms {
                let tf = f64::from(tf);
                let weight = idf[t as usize] * tf * (params.k1 + 1.0) / (tf + norm);
                postings[fill[t as usize]] = (doc as u32, weight as f32);
                fill[t as usize] += 1;
            }
        }
        ProjectIndex {
            params,
            pair_ids: documents.iter().map(|(id, _)| id.to_string()).collect(),
            vocabulary,
            offsets,
            postings,
            own_queries: doc_terms.into_iter().map(|terms| Query { terms }).collect(),
        }
    }

    /// Documents indexed.
    pub fn len(&self) -> usize {
        self.pair_ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.pair_ids.is_empty()
    }

    /// Pair ids in index order (ascending).
    pub fn pair_ids(&self) -> &[String] {
        &self.pair_ids
    }

    /// The document of `pair_id`, if indexed.
    pub fn position(&self, pair_id: &str) -> Option<usize> {
        self.pair_ids
            .binary_search_by(|id| id.as_str().cmp(pair_id))
            .ok()
    }

    /// The parameters the index scores with.
    pub fn params(&self) -> Bm25 {
        self.params
    }

    /// The query for a text that is not in the index (a new focal method).
    pub fn query(&self, text: &str) -> Query {
        let mut ids = Vec::new();
        for_each_term(text, |term| {
            if let Some(&id) = self.vocabulary.get(term) {
                ids.push(id);
            }
        });
        Query {
            terms: counts(&mut ids),
        }
    }

    /// The `k` best documents for a free text among `allowed`, best first.
    pub fn search_text(&self, text: &str, k: usize, allowed: Allowed<'_>) -> Vec<Hit> {
        self.search(&self.query(text), None, k, allowed)
    }

    /// The `k` best documents for the indexed document `doc` (its focal method as the query)
    /// among `allowed`, best first; `doc` itself is never among them.
    pub fn search_doc(&self, doc: usize, k: usize, allowed: Allowed<'_>) -> Vec<Hit> {
        self.search(&self.own_queries[doc], Some(doc), k, allowed)
    }

    /// [`Self::search_doc`] reusing `scratch` (one per thread) as the score accumulator, for
    /// many queries in a row.
    pub fn search_doc_with(
        &self,
        doc: usize,
        k: usize,
        allowed: Allowed<'_>,
        scratch: &mut Vec<f64>,
    ) -> Vec<Hit> {
        self.search_with(&self.own_queries[doc], Some(doc), k, allowed, scratch)
    }

    /// The `k` best documents sharing at least one term with `query`, among `allowed` and not
    /// `exclude`, ranked by score descending then document (pair id) ascending.
    pub fn search(
        &self,
        query: &Query,
        exclude: Option<usize>,
        k: usize,
        allowed: Allowed<'_>,
    ) -> Vec<Hit> {
        self.search_with(query, exclude, k, allowed, &mut Vec::new())
    }

    fn search_with(
        &self,
        query: &Query,
        exclude: Option<usize>,
        k: usize,
        allowed: Allowed<'_>,
        scores: &mut Vec<f64>,
    ) -> Vec<Hit> {
        if k == 0 || query.is_empty() {
            return Vec::new();
        }
        // A dense accumulator: documents of one project are few enough (thousands) that
        // scanning them all costs less than tracking which ones a query touched.
        scores.clear();
        scores.resize(self.len(), 0.0);
        for &(term, count) in &query.terms {
            let t = term as usize;
            let count = f64::from(count);
            for &(doc, weight) in &self.postings[self.offsets[t]..self.offsets[t + 1]] {
                scores[doc as usize] += count * f64::from(weight);
            }
        }
        // Top k in one pass over documents in pair-id order: a later document enters only with
        // a strictly higher score, so ties keep the smaller pair id.
        let mut best: Vec<(f64, usize)> = Vec::with_capacity(k + 1);
        for (d, &score) in scores.iter().enumerate() {
            if score <= 0.0 || Some(d) == exclude || !allowed.admits(d) {
                continue;
            }
            if best.len() == k && score <= best[k - 1].0 {
                continue;
            }
            let at = best.partition_point(|&(s, _)| s >= score);
            best.insert(at, (score, d));
            best.truncate(k);
        }
        best.into_iter()
            .map(|(score, d)| Hit {
                doc: d,
                pair_id: self.pair_ids[d].clone(),
                score,
            })
            .collect()
    }
}

/// Sorted distinct ids with their counts; `ids` is sorted in place.
fn counts(ids: &mut [u32]) -> Vec<(u32, u32)> {
    ids.sort_unstable();
    let mut out: Vec<(u32, u32)> = Vec::new();
    for &id in ids.iter() {
        match out.last_mut() {
            Some((last, n)) if *last == id => *n += 1,
            _ => out.push((id, 1)),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn index(docs: &[(&str, &str)]) -> ProjectIndex {
        ProjectIndex::build(docs.iter().copied(), Bm25::default())
    }

    #[test]
    fn the_closest_focal_method_ranks_first() {
        let idx = index(&[
            ("a", "int add(int x, int y) { return x + y; }"),
            ("b", "void clear() { items.clear(); }"),
            (
                "c",
                "int addAll(List<Integer> items) { return items.size(); }",
            ),
        ]);
        let hits = idx.search_text("int add(int a, int b) { return a + b; }", 3, Allowed::All);
        assert_eq!(hits[0].pair_id, "a");
        assert!(hits.windows(2).all(|w| w[0].score >= w[1].score));
    }

    #[test]
    fn a_score_matches_bm25_by_hand() {
        // Two documents, query "alpha": df = 1, N = 2, idf = ln(1 + 1.5 / 1.5) = ln 2.
        let idx = index(&[("a", "alpha alpha beta"), ("b", "gamma")]);
        let hits = idx.search_text("alpha", 5, Allowed::All);
        assert_eq!(hits.len(), 1);
        let (k1, b) = (1.2, 0.75);
        let avg = (3.0 + 1.0) / 2.0;
        let expected = 2f64.ln() * 2.0 * (k1 + 1.0) / (2.0 + k1 * (1.0 - b + b * 3.0 / avg));
        assert!(
            (hits[0].score - expected).abs() < 1e-6 * expected, // weights are stored as f32
            "{}",
            hits[0].score
        );
    }

    #[test]
    fn unknown_terms_match_nothing() {
        let idx = index(&[("a", "alpha")]);
        assert!(idx.search_text("zeta", 5, Allowed::All).is_empty());
        assert!(idx.query("zeta").is_empty());
    }
}
