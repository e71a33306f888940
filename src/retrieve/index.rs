//! A retrieval index over one project's focal methods: an inverted index (term → postings of
//! (document, that term's weight in the document)), queried term by term into a score per
//! touched document. Two scorers ([`Scorer`]), both computed into the postings once at indexing
//! so that a query only multiplies and adds:
//!
//! * **BM25** (Robertson & Zaragoza 2009, "The Probabilistic Relevance Framework: BM25 and
//!   Beyond"), the default: its length normalisation (`b`) keeps a long focal method from
//!   matching every query through sheer size, and its saturating term frequency (`k1`) keeps a
//!   name repeated ten times from outweighing ten different shared names. The defaults are
//!   Lucene's (k1 = 1.2, b = 0.75) and its idf, `ln(1 + (N − df + 0.5) / (df + 0.5))`, which is
//!   never negative, so a term in more than half the documents still counts a little instead
//!   of pushing documents away. A query term counted `c` times adds `c` times its weight.
//! * **tf-idf cosine**, exactly what scikit-learn's `TfidfVectorizer(sublinear_tf=…,
//!   smooth_idf=True, norm="l2")` fitted on the project's focal methods and
//!   `cosine_similarity` compute: a term's weight is `tf · idf` (or `(1 + ln tf) · idf` with
//!   sublinear tf), `idf = ln((1 + N) / (1 + df)) + 1`; document and query vectors are each
//!   divided by their L2 norm, the query's over the terms the index knows (scikit-learn's
//!   `transform` drops unknown terms too), and the score is their dot product, in [0, 1].
//!   `fixtures/retrieve/tfidf_sklearn.json` holds scikit-learn's scores for a small corpus
//!   (made by `pipelines/python/retrieve_tfidf_reference.py`) and the tests compare with them.
//!
//! Which one serves retrieval best was measured on the mined corpus (`make compare-retrieval`,
//! `examples/retrieval_scorers.rs`; the table is in docs/retrieval.md, "Scorer: measured").
//!
//! Documents are stored in pair-id order, so ranking by (score descending, document ascending)
//! breaks ties by pair id: the same index and query always give the same list, whichever scorer.

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

/// tf-idf cosine's one choice: raw term frequency or scikit-learn's `sublinear_tf`
/// (`1 + ln tf`), which, like BM25's `k1`, keeps a repeated name from dominating.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TfIdf {
    /// `1 + ln tf` instead of `tf`, in documents and queries alike.
    pub sublinear_tf: bool,
}

/// How an index scores a document for a query (the module documentation gives the formulas).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Scorer {
    Bm25(Bm25),
    /// Cosine of L2-normalised tf-idf vectors with scikit-learn's smoothed idf.
    TfIdf(TfIdf),
}

impl Default for Scorer {
    /// BM25 with Lucene's parameters: the measured choice (docs/retrieval.md, "Scorer:
    /// measured").
    fn default() -> Self {
        Scorer::Bm25(Bm25::default())
    }
}

impl From<Bm25> for Scorer {
    fn from(params: Bm25) -> Self {
        Scorer::Bm25(params)
    }
}

impl From<TfIdf> for Scorer {
    fn from(params: TfIdf) -> Self {
        Scorer::TfIdf(params)
    }
}

impl std::fmt::Display for Scorer {
    /// `bm25(k1=1.2,b=0.75)`, `tfidf` or `tfidf(sublinear)`: a label for tables and logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Scorer::Bm25(Bm25 { k1, b }) => write!(f, "bm25(k1={k1},b={b})"),
            Scorer::TfIdf(TfIdf {
                sublinear_tf: false,
            }) => f.write_str("tfidf"),
            Scorer::TfIdf(TfIdf { sublinear_tf: true }) => f.write_str("tfidf(sublinear)"),
        }
    }
}

impl TfIdf {
    /// A term frequency as tf-idf weighs it.
    fn tf(self, count: u32) -> f64 {
        let tf = f64::from(count);
        if self.sublinear_tf { 1.0 + tf.ln() } else { tf }
    }
}

/// One retrieved document: its position in the index, its pair id and its score (BM25, or
/// tf-idf cosine, as the index's [`Scorer`] computes it).
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
    scorer: Scorer,
    pair_ids: Vec<String>,
    vocabulary: HashMap<String, u32, Xxh3DefaultBuilder>,
    /// Postings of term `t`: `postings[offsets[t]..offsets[t + 1]]`, documents ascending, each
    /// with the term's whole weight in that document, computed once here so a query only
    /// multiplies and adds: for BM25 `idf · tf · (k1 + 1) / (tf + k1 · (1 − b + b · len /
    /// avg_len))`, for tf-idf the document vector's L2-normalised component.
    offsets: Vec<usize>,
    postings: Vec<(u32, f32)>,
    /// Per term, tf-idf's idf, which weighs a query's terms; empty for BM25, whose query
    /// terms weigh their count.
    idf: Vec<f64>,
    /// Per document: the query built from its own text (a pair's query is its focal method).
    own_queries: Vec<Query>,
}

impl ProjectIndex {
    /// Indexes `documents` (pair id, focal method text) for `scorer` (a [`Bm25`] or [`TfIdf`]
    /// converts). They are sorted by pair id, so ties break by pair id whatever order they come
    /// in. Pair ids are expected to be unique, as in the `pairs` table.
    pub fn build<'a>(
        documents: impl IntoIterator<Item = (&'a str, &'a str)>,
        scorer: impl Into<Scorer>,
    ) -> Self {
        let scorer = scorer.into();
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
        let mut fill = offsets.clone();
        let mut postings = vec![(0u32, 0f32); *offsets.last().expect("starts with 0")];
        let mut push = |t: u32, doc: usize, weight: f64| {
            postings[fill[t as usize]] = (doc as u32, weight as f32);
            fill[t as usize] += 1;
        };
        let query_idf = match scorer {
            Scorer::Bm25(params) => {
                let idf: Vec<f64> = df
                    .iter()
                    .map(|&d| (1.0 + (n - d as f64 + 0.5) / (d as f64 + 0.5)).ln())
                    .collect();
                let avg_len = lengths.iter().sum::<usize>() as f64 / n.max(1.0);
                for (doc, terms) in doc_terms.iter().enumerate() {
                    let relative = if avg_len > 0.0 {
                        lengths[doc] as f64 / avg_len
                    } else {
                        0.0
                    };
                    let norm = params.k1 * (1.0 - params.b + params.b * relative);
                    for &(t, tf) in terms {
                        let tf = f64::from(tf);
                        push(
                            t,
                            doc,
                            idf[t as usize] * tf * (params.k1 + 1.0) / (tf + norm),
                        );
                    }
                }
                Vec::new()
            }
            Scorer::TfIdf(params) => {
                let idf: Vec<f64> = df
                    .iter()
                    .map(|&d| ((1.0 + n) / (1.0 + d as f64)).ln() + 1.0)
                    .collect();
                for (doc, terms) in doc_terms.iter().enumerate() {
                    let weight = |&(t, tf): &(u32, u32)| params.tf(tf) * idf[t as usize];
                    let norm = terms.iter().map(|x| weight(x).powi(2)).sum::<f64>().sqrt();
                    for term in terms {
                        push(term.0, doc, weight(term) / norm);
                    }
                }
                idf
            }
        };
        ProjectIndex {
            scorer,
            pair_ids: documents.iter().map(|(id, _)| id.to_string()).collect(),
            vocabulary,
            offsets,
            postings,
            idf: query_idf,
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

    /// How the index scores.
    pub fn scorer(&self) -> Scorer {
        self.scorer
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

    /// The weight of a query term occurring `count` times, before the query's normalisation:
    /// BM25 its count, tf-idf `tf · idf`.
    fn query_weight(&self, term: u32, count: u32) -> f64 {
        match self.scorer {
            Scorer::Bm25(_) => f64::from(count),
            Scorer::TfIdf(params) => params.tf(count) * self.idf[term as usize],
        }
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
        // tf-idf divides the query vector by its L2 norm too, so the sum is the cosine; BM25
        // adds a term's weight as often as the query has it.
        let query_norm = match self.scorer {
            Scorer::Bm25(_) => 1.0,
            Scorer::TfIdf(_) => query
                .terms
                .iter()
                .map(|&(t, count)| self.query_weight(t, count).powi(2))
                .sum::<f64>()
                .sqrt(),
        };
        for &(term, count) in &query.terms {
            let t = term as usize;
            let q = self.query_weight(term, count) / query_norm;
            for &(doc, weight) in &self.postings[self.offsets[t]..self.offsets[t + 1]] {
                scores[doc as usize] += q * f64::from(weight);
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

    /// scikit-learn's scores for a small corpus (`pipelines/python/retrieve_tfidf_reference.py`).
    #[derive(serde::Deserialize)]
    struct SklearnFixture {
        documents: Vec<FixtureDocument>,
        cases: Vec<FixtureCase>,
    }

    #[derive(serde::Deserialize)]
    struct FixtureDocument {
        id: String,
        text: String,
    }

    #[derive(serde::Deserialize)]
    struct FixtureCase {
        sublinear_tf: bool,
        /// A free-text query, or …
        text: Option<String>,
        /// … a document's own text as the query.
        doc: Option<String>,
        /// Cosine per document, the nonzero ones.
        scores: std::collections::BTreeMap<String, f64>,
    }

    fn sklearn_fixture() -> SklearnFixture {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/fixtures/retrieve/tfidf_sklearn.json"
        );
        let text = std::fs::read_to_string(path).expect("fixture present");
        serde_json::from_str(&text).expect("fixture parses")
    }

    #[test]
    fn tfidf_cosine_equals_scikit_learn() {
        let fixture = sklearn_fixture();
        // The fixture's words are their own terms, as scikit-learn's `str.split` sees them.
        for doc in &fixture.documents {
            let mut terms = Vec::new();
            for_each_term(&doc.text, |t| terms.push(t.to_string()));
            assert_eq!(terms, doc.text.split(' ').collect::<Vec<_>>());
        }
        let docs: Vec<(&str, &str)> = fixture
            .documents
            .iter()
            .map(|d| (d.id.as_str(), d.text.as_str()))
            .collect();
        let mut checked = 0;
        for case in &fixture.cases {
            let idx = ProjectIndex::build(
                docs.iter().copied(),
                TfIdf {
                    sublinear_tf: case.sublinear_tf,
                },
            );
            let all = idx.len();
            let (hits, mut expected) = match (&case.text, &case.doc) {
                (Some(text), None) => (
                    idx.search_text(text, all, Allowed::All),
                    case.scores.clone(),
                ),
                (None, Some(id)) => {
                    let doc = idx.position(id).expect("fixture document indexed");
                    let mut others = case.scores.clone();
                    // A document's cosine with itself is 1, and it never retrieves itself.
                    let own = others.remove(id).expect("a document matches itself");
                    assert!((own - 1.0).abs() < 1e-12, "{own}");
                    (idx.search_doc(doc, all, Allowed::All), others)
                }
                _ => panic!("a case has a text or a doc"),
            };
            for hit in &hits {
                let want = expected.remove(&hit.pair_id).unwrap_or_else(|| {
                    panic!("{} scored by tailor, not by scikit-learn", hit.pair_id)
                });
                // Postings hold f32 weights: agreement to about 1e-7.
                assert!(
                    (hit.score - want).abs() < 1e-6,
                    "{} (sublinear {}): {} vs scikit-learn {want}",
                    hit.pair_id,
                    case.sublinear_tf,
                    hit.score
                );
                checked += 1;
            }
            assert!(expected.is_empty(), "missed by tailor: {expected:?}");
            assert!(hits.windows(2).all(|w| w[0].score >= w[1].score));
        }
        assert!(checked > 50, "only {checked} scores compared");
    }

    #[test]
    fn sublinear_tf_damps_a_repeated_term() {
        // "user" ×5 in p3 against ×2 in p1: raw tf prefers the repetition, sublinear less so.
        let docs = [
            ("p1", "user name user"),
            ("p3", "user user user user user name"),
        ];
        let score = |sublinear_tf| {
            let idx = ProjectIndex::build(docs, TfIdf { sublinear_tf });
            let hits = idx.search_text("user", 2, Allowed::All);
            (hits[0].score, hits[1].score)
        };
        let (raw_top, raw_next) = score(false);
        let (sub_top, sub_next) = score(true);
        assert!(raw_top - raw_next > sub_top - sub_next);
    }

    #[test]
    fn ties_break_by_pair_id_with_either_scorer() {
        // Identical documents score the same; the smaller pair id ranks first, wherever the
        // documents came from.
        let docs = [
            ("c", "alpha beta"),
            ("a", "alpha beta"),
            ("b", "alpha beta"),
        ];
        for scorer in [
            Scorer::default(),
            TfIdf::default().into(),
            TfIdf { sublinear_tf: true }.into(),
        ] {
            let idx = ProjectIndex::build(docs, scorer);
            let ids: Vec<String> = idx
                .search_text("alpha", 3, Allowed::All)
                .into_iter()
                .map(|h| h.pair_id)
                .collect();
            assert_eq!(ids, ["a", "b", "c"], "{scorer}");
        }
    }

    #[test]
    fn tfidf_keeps_self_exclusion_and_the_allowed_filter() {
        let docs = [
            ("a", "alpha beta"),
            ("b", "alpha beta"),
            ("c", "alpha gamma"),
        ];
        let idx = ProjectIndex::build(docs, TfIdf::default());
        let only_c = [false, false, true];
        let hits = idx.search_doc(0, 5, Allowed::All);
        assert_eq!(
            hits.iter().map(|h| h.pair_id.as_str()).collect::<Vec<_>>(),
            ["b", "c"]
        );
        let hits = idx.search_doc(0, 5, Allowed::Only(&only_c));
        assert_eq!(
            hits.iter().map(|h| h.pair_id.as_str()).collect::<Vec<_>>(),
            ["c"]
        );
    }

    #[test]
    fn bm25_is_the_default_scorer() {
        assert_eq!(Scorer::default(), Scorer::Bm25(Bm25 { k1: 1.2, b: 0.75 }));
        let idx = index(&[("a", "alpha")]);
        assert_eq!(idx.scorer(), Scorer::default());
    }
}
