//! The paper's evaluation metrics (§4.2–4.4) as pure functions over texts and numbers.
//!
//! Each metric is held to its reference implementation by `tests/suite/metrics.rs`, against values the
//! reference computed once (`make fixtures-metrics`, `fixtures/metrics/expected.json`):
//!
//! - [`perplexity`]: exp of the mean token cross-entropy, accumulated over batches;
//! - [`bleu`]: corpus BLEU-4 as sacrebleu 2.6 computes it, and the smoothed sentence-level BLEU-4
//!   of CodeXGLUE's `bleu.py` averaged over test cases;
//! - [`exact`]: top-k exact match ignoring whitespace, and the top-k bookkeeping the abstracted
//!   match shares;
//! - [`abstraction`]: src2abs-style abstraction of Java code on tree-sitter-java's tokens;
//! - [`style`]: coding-style similarity, tf-idf cosine of identifiers as scikit-learn computes it;
//! - [`validity`]: the share of outputs that parse as a method declaration;
//! - [`kruskal`]: Kruskal-Wallis H as `scipy.stats.kruskal`, Cliff's delta and Vargha-Delaney A12;
//! - [`permutation`]: exact (or seeded Monte Carlo) permutation p-values of H, both sides for two
//!   groups, as `scipy.stats.permutation_test` and `mannwhitneyu(method='exact')`.
//!
//! This module does not run models, read tables or write reports: generation (`generate`) and the
//! report stage call these functions on what they already hold.

pub mod abstraction;
pub mod bleu;
pub mod exact;
pub mod kruskal;
pub mod permutation;
pub mod perplexity;
pub mod style;
pub mod tokens;
pub mod validity;

pub use abstraction::{Abstractor, Idioms, idioms_from};
pub use bleu::{CorpusBleu, codexglue_bleu, codexglue_sentence_bleu, corpus_bleu, tokenize_13a};
pub use exact::{TopK, TopKRates, exact_key, top_k_exact, top_k_with};
pub use kruskal::{
    EffectSize, KruskalWallis, cliffs_delta, effect_size, kruskal, vargha_delaney_a12,
};
pub use perplexity::Perplexity;
pub use style::{SparseVector, StyleSimilarity, TfidfVectorizer, cosine, identifier_document};
pub use tokens::{JavaToken, TokenKind, java_tokens};
pub use validity::{Validity, is_valid_method};

/// Why a metric could not be computed from its inputs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MetricError {
    /// Two lists that must pair up element by element have different lengths.
    #[error("{what}: {left} items on one side, {right} on the other")]
    LengthMismatch {
        what: &'static str,
        left: usize,
        right: usize,
    },
    /// A statistic that is undefined for the inputs (e.g. Kruskal-Wallis over one group).
    #[error("{0}")]
    Undefined(String),
}
