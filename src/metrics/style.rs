//! Coding-style similarity (§4.3): how close the names a model writes are to the names the
//! project's developers write, as tf-idf cosine similarity of identifiers.
//!
//! Definitions (the Python reference, `pipelines/python/metrics_reference.py`, computes the same):
//! - a test's *document* is its variable and method names (identifiers that `abstraction` would
//!   turn into `VAR_n` or `METHOD_n`; types, annotations and static qualifiers excluded), in
//!   source order, repeats kept, joined by spaces ([`identifier_document`]);
//! - for one (project, strategy, fold), the vectorizer is fit on the union of both sides'
//!   documents: the developer's tests of the test part and the model's top-1 outputs for them;
//! - *per test*: the cosine of a developer test's vector and its generated test's vector;
//! - *per project*: the cosine of the two sides' summed documents (each side's documents joined
//!   into one, i.e. summed term counts), transformed by the same fitted vectorizer.
//!
//! The vectorizer is scikit-learn 1.9's `TfidfVectorizer()` with its defaults: lowercase, tokens
//! matching `(?u)\b\w\w+\b` (so one-letter names such as `i` do not count), raw counts,
//! idf = ln((1 + n) / (1 + df)) + 1, rows scaled to unit l2 norm; the cosine is
//! `sklearn.metrics.pairwise.cosine_similarity` (0 when a side has no known term). Ports
//! `sklearn/feature_extraction/text.py` (`CountVectorizer._count_vocab`,
//! `TfidfTransformer.fit`/`transform`). It does not plot distributions; the report does.

use std::collections::{BTreeSet, HashMap};
use std::sync::OnceLock;

use regex::Regex;

use super::MetricError;
use super::abstraction::{Category, category};
use super::tokens::{TokenKind, java_tokens};

/// A test's variable and method names, in order, joined by spaces: its style document.
pub fn identifier_document(java: &str) -> String {
    let tokens: Vec<_> = java_tokens(java)
        .into_iter()
        .filter(|t| t.kind != TokenKind::Comment)
        .collect();
    (0..tokens.len())
        .filter(|&i| {
            tokens[i].kind == TokenKind::Identifier
                && matches!(category(&tokens, i), Some(Category::Var | Category::Method))
        })
        .map(|i| tokens[i].text)
        .collect::<Vec<_>>()
        .join(" ")
}

/// scikit-learn's default analyzer: lowercase, then `(?u)\b\w\w+\b`.
fn analyze(document: &str) -> Vec<String> {
    static RE: OnceLock<Regex> = OnceLock::new();
    let re = RE.get_or_init(|| Regex::new(r"\b\w\w+\b").expect("valid token pattern"));
    let lower = document.to_lowercase();
    re.find_iter(&lower)
        .map(|m| m.as_str().to_string())
        .collect()
}

/// A sparse row: (column, value) pairs sorted by column.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SparseVector(pub Vec<(usize, f64)>);

impl SparseVector {
    fn norm(&self) -> f64 {
        self.0.iter().map(|(_, v)| v * v).sum::<f64>().sqrt()
    }
}

/// A fitted tf-idf vectorizer (scikit-learn `TfidfVectorizer()` defaults).
#[derive(Debug, Clone)]
pub struct TfidfVectorizer {
    /// Term → column, columns in sorted term order as scikit-learn assigns them.
    vocabulary: HashMap<String, usize>,
    idf: Vec<f64>,
}

impl TfidfVectorizer {
    /// Learns the vocabulary and idf of `documents`; an error when they hold no token at all
    /// (scikit-learn raises "empty vocabulary" then).
    pub fn fit<S: AsRef<str>>(documents: &[S]) -> Result<Self, MetricError> {
        let analyzed: Vec<BTreeSet<String>> = documents
            .iter()
            .map(|d| analyze(d.as_ref()).into_iter().collect())
            .collect();
        let terms: BTreeSet<&String> = analyzed.iter().flatten().collect();
        if terms.is_empty() {
            return Err(MetricError::Undefined(
                "tf-idf over documents without any token (empty vocabulary)".into(),
            ));
        }
        let vocabulary: HashMap<String, usize> = terms
            .into_iter()
            .enumerate()
            .map(|(i, t)| (t.clone(), i))
            .collect();
        let mut df = vec![0u64; vocabulary.len()];
        for doc in &analyzed {
            for term in doc {
                df[vocabulary[term]] += 1;
            }
        }
        // smooth_idf: one extra document containing every term once.
        let n = documents.len() as f64 + 1.0;
        let idf = df
            .iter()
            .map(|&d| (n / (d as f64 + 1.0)).ln() + 1.0)
            .collect();
        Ok(Self { vocabulary, idf })
    }

    pub fn vocabulary_len(&self) -> usize {
        self.idf.len()
    }

    /// The l2-normalised tf-idf row of `document` (empty when it has no known term).
    pub fn transform(&self, document: &str) -> SparseVector {
        let mut counts: HashMap<usize, u64> = HashMap::new();
        for term in analyze(document) {
            if let Some(&col) = self.vocabulary.get(&term) {
                *counts.entry(col).or_insert(0) += 1;
            }
        }
        let mut row: Vec<(usize, f64)> = counts
            .into_iter()
            .map(|(col, tf)| (col, tf as f64 * self.idf[col]))
            .collect();
        row.sort_unstable_by_key(|&(col, _)| col);
        let mut row = SparseVector(row);
        let norm = row.norm();
        if norm > 0.0 {
            row.0.iter_mut().for_each(|(_, v)| *v /= norm);
        }
        row
    }
}

/// Cosine similarity of two sparse rows; 0 when either is all zeros (as scikit-learn's
/// `cosine_similarity`, which leaves zero rows at zero when normalising).
pub fn cosine(a: &SparseVector, b: &SparseVector) -> f64 {
    let (na, nb) = (a.norm(), b.norm());
    if na == 0.0 || nb == 0.0 {
        return 0.0;
    }
    let (mut i, mut j, mut dot) = (0, 0, 0.0);
    while i < a.0.len() && j < b.0.len() {
        match a.0[i].0.cmp(&b.0[j].0) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                dot += (a.0[i].1 / na) * (b.0[j].1 / nb);
                i += 1;
                j += 1;
            }
        }
    }
    dot
}

/// Coding-style similarity of one (project, strategy, fold).
#[derive(Debug, Clone, PartialEq)]
pub struct StyleSimilarity {
    /// Cosine of the developer side's and the generated side's summed documents.
    pub project: f64,
    /// Per test: cosine of the developer test and its generated test.
    pub per_test: Vec<f64>,
}

impl StyleSimilarity {
    /// From style documents (see [`identifier_document`]); `developer[i]` pairs with
    /// `generated[i]`.
    pub fn from_documents<D: AsRef<str>, G: AsRef<str>>(
        developer: &[D],
        generated: &[G],
    ) -> Result<Self, MetricError> {
        if developer.len() != generated.len() {
            return Err(MetricError::LengthMismatch {
                what: "developer and generated tests",
                left: developer.len(),
                right: generated.len(),
            });
        }
        let all: Vec<&str> = developer
            .iter()
            .map(AsRef::as_ref)
            .chain(generated.iter().map(AsRef::as_ref))
            .collect();
        let vectorizer = TfidfVectorizer::fit(&all)?;
        let per_test = developer
            .iter()
            .zip(generated)
            .map(|(d, g)| {
                cosine(
                    &vectorizer.transform(d.as_ref()),
                    &vectorizer.transform(g.as_ref()),
                )
            })
            .collect();
        let join = |docs: &[&str]| docs.join(" ");
        let (dev, gen_) = all.split_at(developer.len());
        let project = cosine(
            &vectorizer.transform(&join(dev)),
            &vectorizer.transform(&join(gen_)),
        );
        Ok(Self { project, per_test })
    }

    /// From Java tests: extracts each test's identifiers, then [`Self::from_documents`].
    pub fn from_tests<D: AsRef<str>, G: AsRef<str>>(
        developer_tests: &[D],
        generated_tests: &[G],
    ) -> Result<Self, MetricError> {
        let dev: Vec<String> = developer_tests
            .iter()
            .map(|t| identifier_document(t.as_ref()))
            .collect();
        let gen_: Vec<String> = generated_tests
            .iter()
            .map(|t| identifier_document(t.as_ref()))
            .collect();
        Self::from_documents(&dev, &gen_)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_document_holds_variable_and_method_names_only() {
        assert_eq!(
            identifier_document(
                "@Test public void testParse() { List<String> items = Parser.parse(input); \
                 assertEquals(2, items.size()); }"
            ),
            "testParse items parse input assertEquals items size"
        );
    }

    #[test]
    fn idf_and_normalisation_follow_sklearn_defaults() {
        // Two documents: "aa" in both (idf 1), "bb" in one (idf ln(3/2) + 1).
        let v = TfidfVectorizer::fit(&["aa bb", "aa"]).unwrap();
        let row = v.transform("aa bb");
        let (a, b) = (1.0, (3.0f64 / 2.0).ln() + 1.0);
        let norm = (a * a + b * b).sqrt();
        assert_eq!(row.0.len(), 2);
        assert!((row.0[0].1 - a / norm).abs() < 1e-15);
        assert!((row.0[1].1 - b / norm).abs() < 1e-15);
    }

    #[test]
    fn tokens_are_lowercased_and_single_letters_dropped() {
        let v = TfidfVectorizer::fit(&["Foo x fooBar"]).unwrap();
        assert_eq!(v.vocabulary_len(), 2); // "foo", "foobar"
        assert!((cosine(&v.transform("FOO"), &v.transform("foo")) - 1.0).abs() < 1e-15);
    }

    #[test]
    fn no_shared_term_means_zero_and_empty_documents_are_zero() {
        let s = StyleSimilarity::from_documents(&["alpha beta", ""], &["gamma", "alpha"]).unwrap();
        assert_eq!(s.per_test, [0.0, 0.0]);
        assert!(s.project > 0.0);
        assert!(TfidfVectorizer::fit(&["", "x"]).is_err());
    }

    #[test]
    fn identical_sides_have_similarity_one() {
        let docs = ["testAdd calc add", "testSub calc sub"];
        let s = StyleSimilarity::from_documents(&docs, &docs).unwrap();
        assert!((s.project - 1.0).abs() < 1e-12);
        assert!(s.per_test.iter().all(|c| (c - 1.0).abs() < 1e-12));
    }
}
