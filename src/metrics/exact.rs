//! Top-k exact match (§4.2): does any of the model's k best outputs equal the developer's test?
//!
//! Beam search returns up to five ranked outputs per test (`K`); a test counts as a top-k hit
//! when one of the first k matches, so hits are monotone in k. The paper compares "ignoring
//! whitespace": we remove every whitespace character (Unicode `White_Space`) from both sides and
//! compare the rest byte for byte. That also ignores whitespace inside string literals, which
//! a model almost never gets wrong alone; comments still count.
//!
//! The same bookkeeping serves the abstracted match (`abstraction`) through [`top_k_with`]. This
//! module does not rank or generate outputs.

/// How many ranked outputs are scored per test (the paper's beam search returns five).
pub const K: usize = 5;

/// The comparison key of exact match: the text without any whitespace.
pub fn exact_key(text: &str) -> String {
    text.chars().filter(|c| !c.is_whitespace()).collect()
}

/// For one test, `hits[k - 1]` says whether one of the first `k` outputs matches.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TopK {
    pub hits: [bool; K],
}

impl TopK {
    /// Whether one of the first `k` (1..=5) outputs matches; `k` above 5 means all five.
    pub fn hit_at(&self, k: usize) -> bool {
        assert!(k >= 1, "top-k starts at k = 1");
        self.hits[k.min(K) - 1]
    }

    /// The rank (1-based) of the first matching output, if any.
    pub fn first_rank(&self) -> Option<usize> {
        self.hits.iter().position(|&h| h).map(|i| i + 1)
    }
}

/// Top-k hits of ranked `predictions` (best first; fewer than five is fine, extra ones are
/// ignored) against `reference`, comparing the keys `key` computes: for exact match
/// [`exact_key`], for abstracted match the abstracted token sequence.
pub fn top_k_with<S, K2, F>(predictions: &[S], reference: &str, mut key: F) -> TopK
where
    S: AsRef<str>,
    K2: PartialEq,
    F: FnMut(&str) -> K2,
{
    let target = key(reference);
    let first = predictions
        .iter()
        .take(K)
        .position(|p| key(p.as_ref()) == target);
    let mut hits = [false; K];
    if let Some(rank) = first {
        hits[rank..].iter_mut().for_each(|h| *h = true);
    }
    TopK { hits }
}

/// Top-k exact match ignoring whitespace.
pub fn top_k_exact<S: AsRef<str>>(predictions: &[S], reference: &str) -> TopK {
    top_k_with(predictions, reference, exact_key)
}

/// Hit counts over many tests, for the rates of Figure 4.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TopKRates {
    pub hits: [u64; K],
    pub tests: u64,
}

impl TopKRates {
    pub fn add(&mut self, top_k: TopK) {
        self.tests += 1;
        for (count, hit) in self.hits.iter_mut().zip(top_k.hits) {
            *count += u64::from(hit);
        }
    }

    /// Merges counts from another part (a batch, a fold).
    pub fn merge(&mut self, other: &TopKRates) {
        self.tests += other.tests;
        for (a, b) in self.hits.iter_mut().zip(other.hits) {
            *a += b;
        }
    }

    /// The share of tests with a hit in the first `k` outputs (0 when there are no tests).
    pub fn rate(&self, k: usize) -> f64 {
        assert!(k >= 1, "top-k starts at k = 1");
        if self.tests == 0 {
            0.0
        } else {
            self.hits[k.min(K) - 1] as f64 / self.tests as f64
        }
    }

    /// The rates for k = 1..=5.
    pub fn rates(&self) -> [f64; K] {
        std::array::from_fn(|i| self.rate(i + 1))
    }
}

impl FromIterator<TopK> for TopKRates {
    fn from_iter<I: IntoIterator<Item = TopK>>(iter: I) -> Self {
        let mut rates = TopKRates::default();
        iter.into_iter().for_each(|t| rates.add(t));
        rates
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEV: &str = "@Test\npublic void testAdd() {\n    assertEquals(2, add(1, 1));\n}";

    #[test]
    fn a_prediction_that_differs_only_in_whitespace_matches() {
        let pred = "@Test public void testAdd() { assertEquals(2, add(1,1)); }";
        assert_eq!(top_k_exact(&[pred], DEV).hits, [true; 5]);
    }

    #[test]
    fn a_different_token_does_not_match() {
        let pred = "@Test public void testAdd() { assertEquals(3, add(1,1)); }";
        assert_eq!(top_k_exact(&[pred], DEV).hits, [false; 5]);
    }

    #[test]
    fn a_match_at_rank_three_counts_from_top_3_on() {
        let preds = ["x", "y", DEV, DEV, "z"];
        let t = top_k_exact(&preds, DEV);
        assert_eq!(t.hits, [false, false, true, true, true]);
        assert_eq!(t.first_rank(), Some(3));
        assert!(!t.hit_at(2) && t.hit_at(3));
    }

    #[test]
    fn outputs_beyond_the_fifth_are_ignored() {
        let preds = ["a", "b", "c", "d", "e", DEV];
        assert_eq!(top_k_exact(&preds, DEV).first_rank(), None);
    }

    #[test]
    fn an_empty_output_matches_only_an_empty_reference() {
        assert!(!top_k_exact(&[""], DEV).hit_at(1));
        assert!(top_k_exact(&[" \n"], "").hit_at(1));
        assert!(!top_k_exact::<&str>(&[], "").hit_at(5));
    }

    #[test]
    fn rates_are_shares_of_tests() {
        let rates: TopKRates = [
            TopK { hits: [true; 5] },
            TopK {
                hits: [false, true, true, true, true],
            },
            TopK::default(),
            TopK::default(),
        ]
        .into_iter()
        .collect();
        assert_eq!(rates.rates(), [0.25, 0.5, 0.5, 0.5, 0.5]);
        assert_eq!(TopKRates::default().rate(1), 0.0);
    }
}
