//! Synthetic token sets for `tailor bench-heatmap`: projects whose vocabularies are drawn
//! from one Zipf-distributed vocabulary, like identifiers across real code bases (a few
//! tokens — `get`, `string`, `value` — in nearly every project, a long tail in one each).
//!
//! Project i's unique-token count |Ti| is log-normal (median `median_tokens`, log-sd
//! `sigma`, clipped to [`min_tokens`, vocabulary/4]); its tokens are Zipf(`exponent`) draws
//! over `vocabulary` ranks, repeated until |Ti| distinct ones are found. Draws use the
//! continuous inverse CDF of the power law, floored (exact Zipf up to the discretisation of
//! the first few ranks, and O(1) per draw). Everything is a pure function of the seed and
//! the project index, so sizes can be generated in parallel and reproduced.
//!
//! Hand-written rather than `rand_distr::Zipf` because tailor has no `rand` dependency and
//! this needs 30 lines.

use rayon::prelude::*;
use std::collections::HashSet;

/// Parameters of the synthetic corpus.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ZipfCorpus {
    pub vocabulary: u32,
    pub exponent: f64,
    pub median_tokens: f64,
    pub sigma: f64,
    pub min_tokens: u32,
    pub seed: u64,
}

impl Default for ZipfCorpus {
    /// Shaped like our Debian Java corpus: median |Ti| about 1,500, from tens to tens of
    /// thousands.
    fn default() -> Self {
        ZipfCorpus {
            vocabulary: 1_000_000,
            exponent: 1.1,
            median_tokens: 1_500.0,
            sigma: 1.0,
            min_tokens: 20,
            seed: 2022,
        }
    }
}

/// SplitMix64 (Steele et al. 2014): tiny, fast and good enough for synthetic data.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Standard normal (Box–Muller).
    fn next_normal(&mut self) -> f64 {
        let u1 = 1.0 - self.next_f64();
        let u2 = self.next_f64();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }
}

impl ZipfCorpus {
    /// Token sets (sorted ids) of `n` projects.
    pub fn generate(&self, n: usize) -> Vec<Vec<u32>> {
        (0..n)
            .into_par_iter()
            .map(|i| self.project(i as u64))
            .collect()
    }

    fn project(&self, i: u64) -> Vec<u32> {
        let mut rng = SplitMix64(self.seed ^ i.wrapping_mul(0xA076_1D64_78BD_642F));
        let max = (self.vocabulary / 4).max(self.min_tokens);
        let size = (self.median_tokens * (self.sigma * rng.next_normal()).exp())
            .round()
            .clamp(f64::from(self.min_tokens), f64::from(max)) as usize;
        let v = f64::from(self.vocabulary) + 1.0;
        let one_minus_s = 1.0 - self.exponent;
        let span = v.powf(one_minus_s) - 1.0;
        let mut set = HashSet::with_capacity(size);
        while set.len() < size {
            let u = rng.next_f64();
            let x = if one_minus_s.abs() < 1e-12 {
                v.powf(u)
            } else {
                (1.0 + u * span).powf(1.0 / one_minus_s)
            };
            let rank = (x.floor() as u32).clamp(1, self.vocabulary);
            set.insert(rank - 1);
        }
        let mut tokens: Vec<u32> = set.into_iter().collect();
        tokens.sort_unstable();
        tokens
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn corpora_are_reproducible_and_zipf_shaped() {
        let corpus = ZipfCorpus {
            vocabulary: 10_000,
            median_tokens: 200.0,
            ..ZipfCorpus::default()
        };
        let a = corpus.generate(50);
        assert_eq!(a, corpus.generate(50));
        assert!(
            a.iter()
                .all(|s| s.len() >= 20 && s.windows(2).all(|w| w[0] < w[1]))
        );
        // The most frequent token is in (almost) every project; a mid-rank one in few.
        let df = |t: u32| a.iter().filter(|s| s.binary_search(&t).is_ok()).count();
        assert!(df(0) >= 45, "df(0) = {}", df(0));
        assert!(df(5_000) <= 10, "df(5000) = {}", df(5_000));
    }
}
