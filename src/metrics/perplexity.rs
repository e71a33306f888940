//! Perplexity (§4.2): exp of the mean per-token cross-entropy of the developer's tests under a
//! model, over a test part (one project, strategy and fold).
//!
//! The evaluation loop sums the token negative log-likelihoods (natural log, the same loss the
//! training loop computes, padding excluded) batch by batch; the mean is taken over all tokens of
//! the part, not over batches, so batches of different sizes weigh by their tokens. This module
//! only does that arithmetic; it does not run the model.

/// Running sums of token negative log-likelihood and token count.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Perplexity {
    nll_sum: f64,
    tokens: u64,
}

impl Perplexity {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one batch: the sum of its tokens' NLL (nats) and how many tokens it scored.
    pub fn add(&mut self, nll_sum: f64, tokens: u64) {
        self.nll_sum += nll_sum;
        self.tokens += tokens;
    }

    /// Adds another accumulator's sums (e.g. per-thread parts of one fold).
    pub fn merge(&mut self, other: &Perplexity) {
        self.add(other.nll_sum, other.tokens);
    }

    pub fn tokens(&self) -> u64 {
        self.tokens
    }

    pub fn nll_sum(&self) -> f64 {
        self.nll_sum
    }

    /// The mean token cross-entropy (nats); `None` before any token was scored.
    pub fn mean_loss(&self) -> Option<f64> {
        (self.tokens > 0).then(|| self.nll_sum / self.tokens as f64)
    }

    /// exp(mean token cross-entropy); `None` before any token was scored.
    pub fn perplexity(&self) -> Option<f64> {
        self.mean_loss().map(f64::exp)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn perplexity_is_exp_of_the_mean_token_loss() {
        let mut p = Perplexity::new();
        p.add(2.0, 4);
        assert_eq!(p.mean_loss(), Some(0.5));
        assert_eq!(p.perplexity(), Some(0.5f64.exp()));
    }

    #[test]
    fn batches_weigh_by_their_tokens_not_equally() {
        let mut p = Perplexity::new();
        p.add(1.0, 1); // mean 1.0 over 1 token
        p.add(0.0, 9); // mean 0.0 over 9 tokens
        assert_eq!(p.mean_loss(), Some(0.1));
    }

    #[test]
    fn merging_parts_equals_adding_their_batches() {
        let (mut a, mut b, mut all) = (Perplexity::new(), Perplexity::new(), Perplexity::new());
        a.add(3.0, 10);
        b.add(1.5, 5);
        all.add(3.0, 10);
        all.add(1.5, 5);
        a.merge(&b);
        assert_eq!(a, all);
    }

    #[test]
    fn no_tokens_means_no_perplexity() {
        assert_eq!(Perplexity::new().perplexity(), None);
        assert_eq!(Perplexity::new().mean_loss(), None);
    }

    #[test]
    fn a_perfect_model_has_perplexity_one() {
        let mut p = Perplexity::new();
        p.add(0.0, 100);
        assert_eq!(p.perplexity(), Some(1.0));
    }
}
