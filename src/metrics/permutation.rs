//! Exact permutation p-values for Kruskal-Wallis H, for Table 4, where each group holds a few
//! projects and the chi-square approximation of [`kruskal`](super::kruskal) is far off: with
//! 3 projects per strategy and complete separation, χ² gives p = 0.0495 while only 2 of the 20
//! assignments of the six values reach that H, so the exact p is 0.1.
//!
//! Under the null hypothesis every assignment of the pooled values to groups of the observed
//! sizes is equally likely, so p = #(assignments with H ≥ observed H) / #(assignments), which is
//! what `scipy.stats.permutation_test(..., permutation_type='independent', n_resamples=np.inf,
//! alternative='greater')` computes on H. Ties take mid-ranks and H is tie-corrected; the
//! correction is the same for every assignment, so it does not change which assignments count.
//! Rather than comparing floats within a tolerance (SciPy uses 100 ε relative), H is compared
//! exactly: with doubled mid-ranks (integers) H is increasing in Σ R_i² / n_i, which is compared
//! in integers.
//!
//! - Two groups ([`two_sample`]): the null distribution of the first group's rank sum is counted
//!   by dynamic programming over subsets, exact at every size Table 4 meets (20 vs 20 projects:
//!   C(40, 20) ≈ 1.4e11 assignments, counted in ~10⁶ steps); it also gives both one-sided
//!   p-values (the exact Mann-Whitney test, ties included).
//! - More groups ([`kruskal_permutation`]): every assignment is enumerated when there are at most
//!   [`PermutationOptions::max_exact`] of them; beyond that, a seeded Monte Carlo over
//!   [`PermutationOptions::resamples`] random assignments, p = (hits + 1) / (resamples + 1), the
//!   observed assignment counted as SciPy counts it, so p is never 0.
//!
//! This module does not pick a significance level or correct for multiple comparisons.

use std::fmt;

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

use super::MetricError;
use super::kruskal::{doubled_ranks, kruskal};

/// Two-group counting beyond this many table updates falls back to Monte Carlo: 60 against 60
/// values (7.8e7 updates) took 0.9 s unoptimized, and the limit is reached near 150 values in
/// all, far beyond Table 4's projects.
const MAX_DP_UPDATES: f64 = 2e8;

/// How a permutation p-value was counted.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum PermutationMethod {
    /// Every one of `assignments` distinct assignments of the pooled values to the groups.
    Exact { assignments: f64 },
    /// `resamples` random assignments drawn by ChaCha8 seeded with `seed`.
    MonteCarlo { resamples: usize, seed: u64 },
}

impl fmt::Display for PermutationMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Exact { assignments } => write!(f, "exact ({assignments:.0} assignments)"),
            Self::MonteCarlo { resamples, seed } => {
                write!(f, "Monte Carlo ({resamples} resamples, seed {seed})")
            }
        }
    }
}

/// When to enumerate and how to sample otherwise.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PermutationOptions {
    /// More than two groups: enumerate every assignment when there are at most this many.
    pub max_exact: f64,
    /// Random assignments drawn when enumeration is too long.
    pub resamples: usize,
    /// Seed of the Monte Carlo draws, so a report is reproducible.
    pub seed: u64,
}

impl Default for PermutationOptions {
    /// 10⁶ assignments enumerate in well under a second; 10⁵ resamples put the Monte Carlo
    /// standard error of p = 0.05 near 0.0007.
    fn default() -> Self {
        Self {
            max_exact: 1e6,
            resamples: 100_000,
            seed: 0,
        }
    }
}

/// Kruskal-Wallis H over groups with its permutation p-value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PermutationKruskal {
    /// H, corrected for ties (as [`kruskal`]).
    pub h: f64,
    /// P(H ≥ observed H) over assignments: H has no direction, so this is the two-sided test.
    pub p_value: f64,
    pub method: PermutationMethod,
}

/// Two groups compared by rank: Kruskal-Wallis H and the permutation p-values of both sides.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TwoSample {
    /// H, corrected for ties (as [`kruskal`]).
    pub h: f64,
    /// P(H ≥ observed H): two-sided, the Kruskal-Wallis test of the two groups.
    pub two_sided: f64,
    /// P(rank sum of `x` ≥ observed): one-sided, `x` tends to be larger than `y`.
    pub greater: f64,
    /// P(rank sum of `x` ≤ observed): one-sided, `x` tends to be smaller than `y`.
    pub less: f64,
    pub method: PermutationMethod,
}

/// Permutation test of `x` against `y` (neither empty, no NaN, not all values equal).
pub fn two_sample(
    x: &[f64],
    y: &[f64],
    options: &PermutationOptions,
) -> Result<TwoSample, MetricError> {
    let h = kruskal(&[x, y])?.h;
    let pooled: Vec<f64> = x.iter().chain(y).copied().collect();
    let ranks = doubled_ranks(&pooled);
    let (tally, method) = match counted(&ranks, x.len()) {
        Some(tally) => {
            let method = PermutationMethod::Exact {
                assignments: tally.all,
            };
            (tally, method)
        }
        None => (
            sampled(ranks, x.len(), options.resamples, options.seed),
            PermutationMethod::MonteCarlo {
                resamples: options.resamples,
                seed: options.seed,
            },
        ),
    };
    Ok(TwoSample {
        h,
        two_sided: tally.two_sided / tally.all,
        greater: tally.greater / tally.all,
        less: tally.less / tally.all,
        method,
    })
}

/// Every split of `ranks` into the first `n1` and the rest, counted by rank sum; `None` when
/// that would take more than [`MAX_DP_UPDATES`].
fn counted(ranks: &[u64], n1: usize) -> Option<Tally> {
    let counter = TwoSampleCounter::new(ranks, n1);
    // Count subsets of the smaller group's size: the other group's sum is the rest.
    let k = n1.min(ranks.len() - n1);
    let updates = ranks.len() as f64 * k as f64 * (largest_sum(ranks, k) + 1) as f64;
    if updates > MAX_DP_UPDATES {
        return None;
    }
    let mut tally = Tally::default();
    for (sum, &c) in rank_sum_counts(ranks, k).iter().enumerate() {
        if c > 0.0 {
            let sum = sum as u64;
            let s1 = if k == n1 { sum } else { counter.total - sum };
            counter.add(&mut tally, s1, c);
        }
    }
    Some(tally)
}

/// `resamples` random splits of `ranks`, the observed one counted once more as in SciPy's
/// Monte Carlo p-value, so no p is 0.
fn sampled(mut ranks: Vec<u64>, n1: usize, resamples: usize, seed: u64) -> Tally {
    let counter = TwoSampleCounter::new(&ranks, n1);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut tally = Tally::default();
    counter.add(&mut tally, counter.observed, 1.0);
    for _ in 0..resamples {
        ranks.shuffle(&mut rng);
        counter.add(&mut tally, ranks[..n1].iter().sum(), 1.0);
    }
    tally
}

/// The sum of the `k` largest of `ranks`.
fn largest_sum(ranks: &[u64], k: usize) -> u64 {
    let mut sorted = ranks.to_vec();
    sorted.sort_unstable_by(|a, b| b.cmp(a));
    sorted[..k].iter().sum()
}

/// Kruskal-Wallis H over `groups` with its permutation p-value (at least two groups, none
/// empty, no NaN, not all values equal). Two groups are counted exactly as [`two_sample`] does.
pub fn kruskal_permutation<G: AsRef<[f64]>>(
    groups: &[G],
    options: &PermutationOptions,
) -> Result<PermutationKruskal, MetricError> {
    let h = kruskal(groups)?.h;
    if let [x, y] = groups {
        let t = two_sample(x.as_ref(), y.as_ref(), options)?;
        return Ok(PermutationKruskal {
            h,
            p_value: t.two_sided,
            method: t.method,
        });
    }
    let sizes: Vec<usize> = groups.iter().map(|g| g.as_ref().len()).collect();
    let pooled: Vec<f64> = groups
        .iter()
        .flat_map(|g| g.as_ref().iter().copied())
        .collect();
    let ranks = doubled_ranks(&pooled);
    let statistic = Statistic::new(&sizes)?;
    let observed = statistic.of_ranks(&ranks)?;
    let assignments = multinomial(&sizes);
    if assignments <= options.max_exact {
        let (hits, all) = enumerate(&ranks, &sizes, &statistic, observed)?;
        return Ok(PermutationKruskal {
            h,
            p_value: hits as f64 / all as f64,
            method: PermutationMethod::Exact {
                assignments: all as f64,
            },
        });
    }
    let mut rng = ChaCha8Rng::seed_from_u64(options.seed);
    let mut shuffled = ranks;
    let mut hits = 1u64;
    for _ in 0..options.resamples {
        shuffled.shuffle(&mut rng);
        if statistic.of_ranks(&shuffled)? >= observed {
            hits += 1;
        }
    }
    Ok(PermutationKruskal {
        h,
        p_value: hits as f64 / (options.resamples + 1) as f64,
        method: PermutationMethod::MonteCarlo {
            resamples: options.resamples,
            seed: options.seed,
        },
    })
}

/// The exact two-sided p of two groups of `n` values each, completely separated: the smallest
/// p-value Table 4 can print with `n` projects per strategy (2 / C(2n, n); 1 for n = 1).
pub fn smallest_two_sided_p(n: usize) -> Option<f64> {
    let x: Vec<f64> = (0..n).map(|i| i as f64).collect();
    let y: Vec<f64> = (n..2 * n).map(|i| i as f64).collect();
    two_sample(&x, &y, &PermutationOptions::default())
        .ok()
        .map(|t| t.two_sided)
}

/// Weights of the assignments counted in each tail.
#[derive(Debug, Default, Clone, Copy)]
struct Tally {
    all: f64,
    two_sided: f64,
    greater: f64,
    less: f64,
}

/// Which tails an assignment with first-group rank sum `s1` falls in. H of two groups grows
/// with |s1 − n1·T/N| (T the sum of all ranks), compared here as |N·s1 − n1·T| in integers.
struct TwoSampleCounter {
    n: i128,
    n1_total: i128,
    total: u64,
    observed: u64,
    observed_distance: i128,
}

impl TwoSampleCounter {
    /// `ranks` as observed: the first `n1` are the first group's.
    fn new(ranks: &[u64], n1: usize) -> Self {
        let total: u64 = ranks.iter().sum();
        let observed: u64 = ranks[..n1].iter().sum();
        let n = ranks.len() as i128;
        let n1_total = n1 as i128 * total as i128;
        Self {
            n,
            n1_total,
            total,
            observed,
            observed_distance: (n * observed as i128 - n1_total).abs(),
        }
    }

    fn add(&self, tally: &mut Tally, s1: u64, weight: f64) {
        tally.all += weight;
        if s1 >= self.observed {
            tally.greater += weight;
        }
        if s1 <= self.observed {
            tally.less += weight;
        }
        if (self.n * s1 as i128 - self.n1_total).abs() >= self.observed_distance {
            tally.two_sided += weight;
        }
    }
}

/// counts[s] = the number of `k`-element subsets of `ranks` whose sum is s (as f64: C(N, k)
/// passes u64 near N = 68, and p only needs relative precision).
fn rank_sum_counts(ranks: &[u64], k: usize) -> Vec<f64> {
    let max = largest_sum(ranks, k) as usize;
    // table[j][s]: subsets of size j among the ranks seen so far, summing to s.
    let mut table = vec![vec![0.0f64; max + 1]; k + 1];
    table[0][0] = 1.0;
    for (i, &r) in ranks.iter().enumerate() {
        let r = r as usize;
        for j in (1..=k.min(i + 1)).rev() {
            let (lower, upper) = table.split_at_mut(j);
            let (from, to) = (&lower[j - 1], &mut upper[0]);
            for s in (r..=max).rev() {
                to[s] += from[s - r];
            }
        }
    }
    table.swap_remove(k)
}

/// Σ R_i² · (L / n_i) with L the least common multiple of the group sizes: H is increasing in
/// Σ R_i² / n_i for a fixed pooled sample, and this integer orders assignments the same way.
struct Statistic {
    /// (group size, L / size) per group.
    weights: Vec<(usize, u128)>,
}

impl Statistic {
    fn new(sizes: &[usize]) -> Result<Self, MetricError> {
        let overflow = || MetricError::Undefined("group sizes too varied to compare H".into());
        let mut lcm: u128 = 1;
        for &n in sizes {
            let n = n as u128;
            lcm = (lcm / gcd(lcm, n)).checked_mul(n).ok_or_else(overflow)?;
        }
        Ok(Self {
            weights: sizes.iter().map(|&n| (n, lcm / n as u128)).collect(),
        })
    }

    /// The statistic of rank sums `sums` (one per group).
    fn of_sums(&self, sums: &[u64]) -> Result<u128, MetricError> {
        let overflow = || MetricError::Undefined("rank sums too large to compare H".into());
        let mut total: u128 = 0;
        for (&s, &(_, w)) in sums.iter().zip(&self.weights) {
            let s = s as u128;
            let term = s
                .checked_mul(s)
                .and_then(|q| q.checked_mul(w))
                .ok_or_else(overflow)?;
            total = total.checked_add(term).ok_or_else(overflow)?;
        }
        Ok(total)
    }

    /// The statistic of `ranks` split into consecutive groups of the sizes.
    fn of_ranks(&self, ranks: &[u64]) -> Result<u128, MetricError> {
        let mut sums = Vec::with_capacity(self.weights.len());
        let mut start = 0;
        for &(n, _) in &self.weights {
            sums.push(ranks[start..start + n].iter().sum());
            start += n;
        }
        self.of_sums(&sums)
    }
}

fn gcd(a: u128, b: u128) -> u128 {
    if b == 0 { a } else { gcd(b, a % b) }
}

/// N! / (n_1! ⋯ n_g!): the number of distinct assignments to groups of these sizes.
fn multinomial(sizes: &[usize]) -> f64 {
    let mut placed = 0usize;
    let mut count = 1.0f64;
    for &n in sizes {
        // C(placed + n, n), multiplied in a factor at a time.
        for i in 1..=n {
            count = count * (placed + i) as f64 / i as f64;
        }
        placed += n;
    }
    count
}

/// (assignments whose statistic ≥ `observed`, all assignments), every assignment of `ranks` to
/// groups of `sizes` visited once.
fn enumerate(
    ranks: &[u64],
    sizes: &[usize],
    statistic: &Statistic,
    observed: u128,
) -> Result<(u64, u64), MetricError> {
    struct Walk<'a> {
        ranks: &'a [u64],
        statistic: &'a Statistic,
        observed: u128,
        left: Vec<usize>,
        sums: Vec<u64>,
        hits: u64,
        all: u64,
    }
    impl Walk<'_> {
        /// Places value `i` and the ones after it in every way the free places allow.
        fn visit(&mut self, i: usize) -> Result<(), MetricError> {
            if i == self.ranks.len() {
                self.all += 1;
                if self.statistic.of_sums(&self.sums)? >= self.observed {
                    self.hits += 1;
                }
                return Ok(());
            }
            for g in 0..self.left.len() {
                if self.left[g] > 0 {
                    self.left[g] -= 1;
                    self.sums[g] += self.ranks[i];
                    self.visit(i + 1)?;
                    self.sums[g] -= self.ranks[i];
                    self.left[g] += 1;
                }
            }
            Ok(())
        }
    }
    let mut walk = Walk {
        ranks,
        statistic,
        observed,
        left: sizes.to_vec(),
        sums: vec![0; sizes.len()],
        hits: 0,
        all: 0,
    };
    walk.visit(0)?;
    Ok((walk.hits, walk.all))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exact() -> PermutationOptions {
        PermutationOptions::default()
    }

    /// Two groups by enumeration: the check on the counting by dynamic programming.
    fn enumerated_two_sided(x: &[f64], y: &[f64]) -> f64 {
        let pooled: Vec<f64> = x.iter().chain(y).copied().collect();
        let ranks = doubled_ranks(&pooled);
        let sizes = [x.len(), y.len()];
        let statistic = Statistic::new(&sizes).unwrap();
        let observed = statistic.of_ranks(&ranks).unwrap();
        let (hits, all) = enumerate(&ranks, &sizes, &statistic, observed).unwrap();
        hits as f64 / all as f64
    }

    #[test]
    fn three_against_three_completely_separated_is_p_one_tenth_not_the_chi_square_0_0495() {
        let (low, high) = ([16.1, 15.2, 17.0], [36.0, 38.2, 37.1]);
        let t = two_sample(&high, &low, &exact()).unwrap();
        // Only the observed split and its mirror image reach this H among C(6, 3) = 20.
        assert!((t.two_sided - 0.1).abs() < 1e-15, "{t:?}");
        assert!((t.greater - 0.05).abs() < 1e-15, "{t:?}");
        assert_eq!(t.less, 1.0);
        assert_eq!(t.method, PermutationMethod::Exact { assignments: 20.0 });
        let chi2 = kruskal(&[high, low]).unwrap().p_value;
        assert!((chi2 - 0.0495).abs() < 1e-4, "{chi2}");
    }

    #[test]
    fn swapping_the_groups_swaps_the_one_sided_p_values_and_keeps_the_two_sided() {
        let (x, y) = ([1.0, 2.0, 2.0, 5.0, 7.0], [2.0, 3.0, 4.0, 8.0, 9.0, 9.0]);
        let xy = two_sample(&x, &y, &exact()).unwrap();
        let yx = two_sample(&y, &x, &exact()).unwrap();
        assert!((xy.two_sided - yx.two_sided).abs() < 1e-15);
        assert!((xy.greater - yx.less).abs() < 1e-15);
        assert!((xy.less - yx.greater).abs() < 1e-15);
        assert_eq!(xy.h, yx.h);
    }

    #[test]
    fn hand_counted_small_cases() {
        // x = {1, 3} against y = {2, 4}: rank sums of x over C(4, 2) = 6 splits are 3, 4, 5, 5,
        // 6, 7; observed 4, so P(≥ 4) = 5/6, P(≤ 4) = 2/6, and |s − 5| ≥ 1 in 4 of 6.
        let t = two_sample(&[1.0, 3.0], &[2.0, 4.0], &exact()).unwrap();
        assert!((t.greater - 5.0 / 6.0).abs() < 1e-15, "{t:?}");
        assert!((t.less - 2.0 / 6.0).abs() < 1e-15, "{t:?}");
        assert!((t.two_sided - 4.0 / 6.0).abs() < 1e-15, "{t:?}");
        // Ties: x = {1, 1} against y = {1, 2} has mid-ranks 2, 2 | 2, 4; x's sum is 4 in 3 of
        // the 6 splits and 6 in the other 3, so P(≥ 4) = 1, P(≤ 4) = 1/2 and the two-sided
        // p is 1 (every split is as far from the mean 5 as the observed one).
        let t = two_sample(&[1.0, 1.0], &[1.0, 2.0], &exact()).unwrap();
        assert_eq!((t.greater, t.less, t.two_sided), (1.0, 0.5, 1.0), "{t:?}");
    }

    #[test]
    fn counting_equals_enumeration_with_and_without_ties() {
        let cases: [(&[f64], &[f64]); 4] = [
            (&[1.0, 2.0, 3.0], &[4.0, 5.0, 6.0]),
            (&[1.26, 1.31, 1.26, 1.4, 1.22], &[1.15, 1.18, 1.15, 1.26]),
            (&[1.0, 1.0, 2.0, 2.0, 2.0, 3.0], &[2.0, 3.0, 3.0, 3.0]),
            (&[5.0, 4.0, 9.0, 1.0, 7.0, 3.0, 8.0], &[6.0, 2.0, 10.0, 0.5]),
        ];
        for (x, y) in cases {
            let t = two_sample(x, y, &exact()).unwrap();
            let e = enumerated_two_sided(x, y);
            assert!((t.two_sided - e).abs() < 1e-12, "{x:?} {y:?}: {t:?} vs {e}");
            let k = kruskal_permutation(&[x, y], &exact()).unwrap();
            assert_eq!(k.p_value, t.two_sided);
        }
    }

    #[test]
    fn the_exact_p_is_never_below_the_smallest_attainable() {
        for n in 1..=8 {
            let floor = smallest_two_sided_p(n).unwrap();
            let binomial = multinomial(&[n, n]);
            assert!((floor - (2.0 / binomial).min(1.0)).abs() < 1e-15, "{n}");
        }
        // The paper's 20 projects per group: 2 / C(40, 20).
        let twenty = smallest_two_sided_p(20).unwrap();
        assert!(
            (twenty / (2.0 / 137_846_528_820.0) - 1.0).abs() < 1e-12,
            "{twenty}"
        );
    }

    #[test]
    fn three_groups_enumerated_match_a_hand_count() {
        // {1}, {2}, {3}: every one of the 3! = 6 assignments has the observed H, so p = 1.
        // {1, 2}, {3}, {4}: Σ R²/n is 29.5 when the pair is {1, 2}, {3, 4} or {2, 3} and less
        // otherwise ({1, 3}, {2, 4}: 28; {1, 4}: 25.5): 3 pairs × 2 orders of the singletons
        // among 12 assignments.
        let k = kruskal_permutation(&[vec![1.0], vec![2.0], vec![3.0]], &exact()).unwrap();
        assert_eq!(k.p_value, 1.0);
        assert_eq!(k.method, PermutationMethod::Exact { assignments: 6.0 });
        let k = kruskal_permutation(&[vec![1.0, 2.0], vec![3.0], vec![4.0]], &exact()).unwrap();
        assert!((k.p_value - 6.0 / 12.0).abs() < 1e-15, "{k:?}");
    }

    #[test]
    fn monte_carlo_is_close_to_exact_and_reproducible() {
        let groups = [
            vec![1.26, 1.31, 1.26, 1.4, 1.22],
            vec![1.15, 1.18, 1.15, 1.26],
            vec![1.18, 1.15, 1.2, 1.17],
        ];
        let exact = kruskal_permutation(&groups, &exact()).unwrap();
        assert!(
            matches!(exact.method, PermutationMethod::Exact { assignments } if assignments == 90_090.0)
        );
        let sampled = PermutationOptions {
            max_exact: 1e3,
            resamples: 20_000,
            seed: 7,
        };
        let mc = kruskal_permutation(&groups, &sampled).unwrap();
        assert_eq!(
            mc.method,
            PermutationMethod::MonteCarlo {
                resamples: 20_000,
                seed: 7
            }
        );
        let se = (exact.p_value * (1.0 - exact.p_value) / 20_000.0).sqrt();
        assert!(
            (mc.p_value - exact.p_value).abs() < 4.0 * se + 1e-4,
            "{mc:?} vs {exact:?}"
        );
        assert_eq!(kruskal_permutation(&groups, &sampled).unwrap(), mc);
    }

    #[test]
    fn two_sample_monte_carlo_is_close_to_its_exact_count() {
        let x: Vec<f64> = (0..30).map(|i| ((i * 37) % 53) as f64).collect();
        let y: Vec<f64> = (0..30).map(|i| ((i * 41) % 59) as f64 + 6.0).collect();
        let exact = two_sample(&x, &y, &exact()).unwrap();
        assert!(matches!(exact.method, PermutationMethod::Exact { .. }));
        let pooled: Vec<f64> = x.iter().chain(&y).copied().collect();
        let mc = sampled(doubled_ranks(&pooled), x.len(), 20_000, 3);
        for (e, m) in [
            (exact.two_sided, mc.two_sided / mc.all),
            (exact.greater, mc.greater / mc.all),
            (exact.less, mc.less / mc.all),
        ] {
            let se = (e * (1.0 - e) / 20_000.0).sqrt();
            assert!((e - m).abs() < 4.0 * se + 1e-4, "{exact:?}: {e} vs {m}");
        }
    }

    #[test]
    fn invalid_inputs_are_undefined() {
        assert!(two_sample(&[], &[1.0], &exact()).is_err());
        assert!(two_sample(&[1.0, 1.0], &[1.0], &exact()).is_err());
        assert!(two_sample(&[f64::NAN], &[1.0], &exact()).is_err());
        assert!(kruskal_permutation(&[vec![1.0, 2.0]], &exact()).is_err());
    }
}
