//! Kruskal-Wallis H test and effect sizes, for the paper's Table 4 (strategy vs strategy over
//! projects, for BLEU and for perplexity).
//!
//! [`kruskal`] computes H with the tie correction and its chi-square p-value exactly as
//! `scipy.stats.kruskal` (SciPy 1.17, `scipy/stats/_stats_py.py`): average ranks over the pooled
//! sample, H = 12 / (N (N + 1)) · Σ R_i² / n_i − 3 (N + 1), divided by
//! 1 − Σ (t³ − t) / (N³ − N) over tie groups t, and p = P(χ²_{g−1} ≥ H). The chi-square survival
//! function is statrs's (the regularized upper incomplete gamma), the well-kept crate for it.
//!
//! With a few values per group the chi-square p is far from the exact one (3 against 3, completely
//! separated: 0.0495 here, 0.1 exactly); `super::permutation` counts the exact p-value.
//!
//! A p-value says whether two strategies differ, not by how much, so each comes with an effect
//! size: Cliff's delta and the Vargha-Delaney A12 (Vargha & Delaney, 2000), computed from all
//! pairs of values. This module does not correct for multiple comparisons; the report says
//! how many tests Table 4 holds.

use statrs::distribution::{ChiSquared, ContinuousCDF};

use super::MetricError;

/// The result of a Kruskal-Wallis test.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct KruskalWallis {
    /// H, corrected for ties.
    pub h: f64,
    /// P(χ² ≥ H) with `df` degrees of freedom.
    pub p_value: f64,
    /// Groups − 1.
    pub df: usize,
}

/// Kruskal-Wallis H test over `groups` (at least two, none empty, no NaN, not all values equal).
pub fn kruskal<G: AsRef<[f64]>>(groups: &[G]) -> Result<KruskalWallis, MetricError> {
    if groups.len() < 2 {
        return Err(MetricError::Undefined(
            "Kruskal-Wallis needs at least two groups".into(),
        ));
    }
    if groups.iter().any(|g| g.as_ref().is_empty()) {
        return Err(MetricError::Undefined(
            "Kruskal-Wallis over an empty group".into(),
        ));
    }
    let all: Vec<f64> = groups
        .iter()
        .flat_map(|g| g.as_ref().iter().copied())
        .collect();
    if all.iter().any(|x| x.is_nan()) {
        return Err(MetricError::Undefined(
            "Kruskal-Wallis over NaN values".into(),
        ));
    }
    let (ranks, tie_sum) = average_ranks(&all);
    let n_total = all.len() as f64;
    let ties = 1.0 - tie_sum / (n_total.powi(3) - n_total);
    if ties == 0.0 {
        return Err(MetricError::Undefined(
            "Kruskal-Wallis over values that are all identical".into(),
        ));
    }
    let mut ssbn = 0.0;
    let mut start = 0;
    for g in groups {
        let n = g.as_ref().len();
        let rank_sum: f64 = ranks[start..start + n].iter().sum();
        ssbn += rank_sum * rank_sum / n as f64;
        start += n;
    }
    // Same operation order as SciPy, so H agrees to the last bits.
    let h = 12.0 / (n_total * (n_total + 1.0)) * ssbn - 3.0 * (n_total + 1.0);
    let h = h / ties;
    let df = groups.len() - 1;
    let chi2 = ChiSquared::new(df as f64)
        .map_err(|e| MetricError::Undefined(format!("chi-square with {df} df: {e}")))?;
    Ok(KruskalWallis {
        h,
        p_value: chi2.sf(h),
        df,
    })
}

/// Twice the average (1-based) ranks of `values`: integers (a mid-rank is a whole or half
/// number), so permutation tests compare rank sums exactly.
pub(crate) fn doubled_ranks(values: &[f64]) -> Vec<u64> {
    average_ranks(values)
        .0
        .iter()
        .map(|&r| (2.0 * r) as u64)
        .collect()
}

/// Average (1-based) ranks of `values`, and Σ (t³ − t) over groups of tied values.
fn average_ranks(values: &[f64]) -> (Vec<f64>, f64) {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&a, &b| values[a].total_cmp(&values[b]));
    let mut ranks = vec![0.0; values.len()];
    let mut tie_sum = 0.0;
    let mut i = 0;
    while i < order.len() {
        let mut j = i + 1;
        // -0.0 and 0.0 are one value, as in NumPy's comparison.
        while j < order.len() && values[order[j]] == values[order[i]] {
            j += 1;
        }
        // Positions i..j (0-based) share the mean of ranks i+1..=j.
        let rank = (i + 1 + j) as f64 / 2.0;
        order[i..j].iter().for_each(|&k| ranks[k] = rank);
        let t = (j - i) as f64;
        tie_sum += t * t * t - t;
        i = j;
    }
    (ranks, tie_sum)
}

/// Cliff's delta and Vargha-Delaney A12 of `x` against `y`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EffectSize {
    /// (#(x > y) − #(x < y)) / (n·m), in [−1, 1]; positive when `x` tends to be larger.
    pub cliffs_delta: f64,
    /// (#(x > y) + ½ #(x = y)) / (n·m), in [0, 1]: the probability that a value of `x` exceeds
    /// one of `y`, ties counting half. A12 = (delta + 1) / 2.
    pub a12: f64,
}

/// Both effect sizes of `x` against `y` (neither empty; NaN compares as neither larger nor
/// smaller nor equal, so avoid it).
pub fn effect_size(x: &[f64], y: &[f64]) -> Result<EffectSize, MetricError> {
    if x.is_empty() || y.is_empty() {
        return Err(MetricError::Undefined(
            "effect size of an empty group".into(),
        ));
    }
    let (mut greater, mut less, mut equal) = (0u64, 0u64, 0u64);
    for a in x {
        for b in y {
            if a > b {
                greater += 1;
            } else if a < b {
                less += 1;
            } else if a == b {
                equal += 1;
            }
        }
    }
    let pairs = (x.len() * y.len()) as f64;
    Ok(EffectSize {
        cliffs_delta: (greater as f64 - less as f64) / pairs,
        a12: (greater as f64 + 0.5 * equal as f64) / pairs,
    })
}

/// Cliff's delta of `x` against `y`.
pub fn cliffs_delta(x: &[f64], y: &[f64]) -> Result<f64, MetricError> {
    effect_size(x, y).map(|e| e.cliffs_delta)
}

/// Vargha-Delaney A12 of `x` against `y`.
pub fn vargha_delaney_a12(x: &[f64], y: &[f64]) -> Result<f64, MetricError> {
    effect_size(x, y).map(|e| e.a12)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scipy_docstring_examples() {
        // scipy.stats.kruskal's own examples: H = 0.2727…, p = 0.6015…; H = 7.0, p = 0.0301…
        let r = kruskal(&[
            vec![1.0, 3.0, 5.0, 7.0, 9.0],
            vec![2.0, 4.0, 6.0, 8.0, 10.0],
        ])
        .unwrap();
        assert!((r.h - 0.2727272727272734).abs() < 1e-12, "{r:?}");
        assert!((r.p_value - 0.6015081344405895).abs() < 1e-12, "{r:?}");
        let r = kruskal(&[vec![1.0, 1.0, 1.0], vec![2.0, 2.0, 2.0], vec![2.0, 2.0]]).unwrap();
        assert!((r.h - 7.0).abs() < 1e-12, "{r:?}");
        assert!((r.p_value - 0.0301973834223185).abs() < 1e-12, "{r:?}");
        assert_eq!(r.df, 2);
    }

    #[test]
    fn ties_get_average_ranks() {
        let (ranks, tie_sum) = average_ranks(&[10.0, 20.0, 10.0, 30.0, 10.0]);
        assert_eq!(ranks, [2.0, 4.0, 2.0, 5.0, 2.0]);
        assert_eq!(tie_sum, 24.0); // one group of three: 27 − 3
        assert_eq!(doubled_ranks(&[10.0, 20.0, 20.0, 5.0]), [4, 7, 7, 2]);
    }

    #[test]
    fn fewer_than_two_groups_empty_groups_and_constant_data_are_undefined() {
        assert!(kruskal(&[vec![1.0, 2.0]]).is_err());
        assert!(kruskal(&[vec![1.0, 2.0], vec![]]).is_err());
        assert!(kruskal(&[vec![1.0, 1.0], vec![1.0]]).is_err());
        assert!(kruskal(&[vec![1.0, f64::NAN], vec![2.0]]).is_err());
    }

    #[test]
    fn identical_groups_have_no_effect() {
        let e = effect_size(&[1.0, 2.0, 3.0], &[1.0, 2.0, 3.0]).unwrap();
        assert_eq!(e.cliffs_delta, 0.0);
        assert_eq!(e.a12, 0.5);
    }

    #[test]
    fn a_group_entirely_above_another_has_delta_one() {
        let e = effect_size(&[5.0, 6.0], &[1.0, 2.0, 3.0]).unwrap();
        assert_eq!(e.cliffs_delta, 1.0);
        assert_eq!(e.a12, 1.0);
        assert_eq!(cliffs_delta(&[1.0, 2.0, 3.0], &[5.0, 6.0]).unwrap(), -1.0);
        assert_eq!(
            vargha_delaney_a12(&[1.0, 2.0, 3.0], &[5.0, 6.0]).unwrap(),
            0.0
        );
    }

    #[test]
    fn a12_is_delta_rescaled() {
        let (x, y) = ([1.0, 4.0, 4.0, 7.0], [2.0, 4.0, 9.0]);
        let e = effect_size(&x, &y).unwrap();
        assert!((e.a12 - (e.cliffs_delta + 1.0) / 2.0).abs() < 1e-15);
    }
}
