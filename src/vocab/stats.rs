//! Summaries of the ratio matrix that are built tile by tile, so that neither needs the n²
//! matrix: the distribution of off-diagonal ratios (quantiles, mean, histogram) and the
//! heat-map grid the figure is drawn from.

/// Up to this many off-diagonal ratios (64 MB of f64; n ≤ 2,896 projects) are kept, and the
/// quantiles are exact. Beyond it they come from [`FINE_BINS`] bins over [0, 1].
pub const EXACT_LIMIT: usize = 8 << 20;
/// Bins of the fallback histogram: quantiles to within 1e-6.
pub const FINE_BINS: usize = 1 << 20;

/// Median, quartiles and mean of the off-diagonal ratios.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Summary {
    pub count: u64,
    pub q1: f64,
    pub median: f64,
    pub q3: f64,
    pub mean: f64,
    /// Whether the quantiles are exact (else within 1/FINE_BINS).
    pub exact: bool,
}

/// Accumulates off-diagonal ratios.
#[derive(Debug, Clone)]
pub struct RatioStats {
    exact: Option<Vec<f64>>,
    fine: Vec<u64>,
    count: u64,
    sum: f64,
}

impl Default for RatioStats {
    fn default() -> Self {
        RatioStats {
            exact: Some(Vec::new()),
            fine: vec![0; FINE_BINS],
            count: 0,
            sum: 0.0,
        }
    }
}

fn fine_bin(r: f64) -> usize {
    ((r * FINE_BINS as f64) as usize).min(FINE_BINS - 1)
}

impl RatioStats {
    pub fn push(&mut self, r: f64) {
        self.count += 1;
        self.sum += r;
        self.fine[fine_bin(r)] += 1;
        if let Some(values) = &mut self.exact {
            if values.len() < EXACT_LIMIT {
                values.push(r);
            } else {
                self.exact = None;
            }
        }
    }

    pub fn count(&self) -> u64 {
        self.count
    }

    /// The summary; `None` when there were no off-diagonal ratios (fewer than 2 projects).
    pub fn summary(&self) -> Option<Summary> {
        if self.count == 0 {
            return None;
        }
        let mean = self.sum / self.count as f64;
        let (q1, median, q3, exact) = match &self.exact {
            Some(values) => {
                let mut sorted = values.clone();
                sorted.sort_unstable_by(f64::total_cmp);
                (
                    quantile_sorted(&sorted, 0.25),
                    quantile_sorted(&sorted, 0.5),
                    quantile_sorted(&sorted, 0.75),
                    true,
                )
            }
            None => (
                self.quantile_binned(0.25),
                self.quantile_binned(0.5),
                self.quantile_binned(0.75),
                false,
            ),
        };
        Some(Summary {
            count: self.count,
            q1,
            median,
            q3,
            mean,
            exact,
        })
    }

    /// numpy's default (linear) quantile, approximated by the centre of the fine bin that
    /// holds the lower order statistic.
    fn quantile_binned(&self, p: f64) -> f64 {
        let rank = ((self.count - 1) as f64 * p).floor() as u64;
        let mut seen = 0;
        for (b, &c) in self.fine.iter().enumerate() {
            seen += c;
            if seen > rank {
                return (b as f64 + 0.5) / FINE_BINS as f64;
            }
        }
        1.0
    }

    /// Counts in `bins` equal bins over [0, 1] (1.0 falls into the last).
    pub fn histogram(&self, bins: usize) -> Vec<u64> {
        let mut out = vec![0u64; bins];
        for (b, &c) in self.fine.iter().enumerate() {
            out[b * bins / FINE_BINS] += c;
        }
        out
    }
}

/// numpy's default quantile (linear interpolation between order statistics).
pub fn quantile_sorted(sorted: &[f64], p: f64) -> f64 {
    let h = (sorted.len() - 1) as f64 * p;
    let (lo, hi) = (h.floor() as usize, h.ceil() as usize);
    sorted[lo] + (h - lo as f64) * (sorted[hi] - sorted[lo])
}

/// The heat-map at most `side × side` cells: each cell is the mean ratio of the block of
/// matrix cells it covers (one matrix cell per grid cell when n ≤ side).
#[derive(Debug, Clone)]
pub struct HeatGrid {
    n: usize,
    side: usize,
    /// Grid column of each matrix column (precomputed: `add_row` runs n² times).
    col_cell: Vec<u32>,
    sum: Vec<f64>,
    count: Vec<u32>,
}

impl HeatGrid {
    pub fn new(n: usize, max_side: usize) -> Self {
        let side = n.min(max_side).max(1);
        HeatGrid {
            n,
            side,
            col_cell: (0..n).map(|j| (j * side / n) as u32).collect(),
            sum: vec![0.0; side * side],
            count: vec![0; side * side],
        }
    }

    pub fn side(&self) -> usize {
        self.side
    }

    pub fn n(&self) -> usize {
        self.n
    }

    /// Adds row `i` of the ratio matrix.
    pub fn add_row(&mut self, i: usize, ratios: impl Iterator<Item = f64>) {
        let base = self.col_cell[i] as usize * self.side;
        for (r, &c) in ratios.zip(&self.col_cell) {
            let k = base + c as usize;
            self.sum[k] += r;
            self.count[k] += 1;
        }
    }

    /// Mean ratio of grid cell (row, col); rows are projects i (R's first index).
    pub fn mean(&self, row: usize, col: usize) -> f64 {
        let k = row * self.side + col;
        if self.count[k] == 0 {
            0.0
        } else {
            self.sum[k] / f64::from(self.count[k])
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_quantiles_follow_numpy() {
        let mut s = RatioStats::default();
        for r in [0.5, 0.1, 0.4, 0.2, 0.3] {
            s.push(r);
        }
        let sum = s.summary().unwrap();
        assert!(sum.exact);
        assert_eq!((sum.q1, sum.median, sum.q3), (0.2, 0.3, 0.4));
        assert!((sum.mean - 0.3).abs() < 1e-12);
        // Between order statistics numpy interpolates linearly.
        assert_eq!(quantile_sorted(&[0.0, 1.0], 0.25), 0.25);
    }

    #[test]
    fn binned_quantiles_agree_with_exact_ones_to_the_bin_width() {
        let mut s = RatioStats::default();
        let values: Vec<f64> = (0..10_001).map(|k| (k as f64 / 10_000.0).powi(2)).collect();
        for &r in &values {
            s.push(r);
        }
        let exact = s.summary().unwrap();
        s.exact = None;
        let binned = s.summary().unwrap();
        assert!(!binned.exact);
        for (a, b) in [
            (exact.q1, binned.q1),
            (exact.median, binned.median),
            (exact.q3, binned.q3),
        ] {
            assert!((a - b).abs() <= 1.0 / FINE_BINS as f64, "{a} vs {b}");
        }
    }

    #[test]
    fn no_pairs_no_summary_and_histograms_count_everything() {
        assert!(RatioStats::default().summary().is_none());
        let mut s = RatioStats::default();
        for r in [0.0, 0.49, 0.5, 1.0] {
            s.push(r);
        }
        assert_eq!(s.histogram(2), [2, 2]);
    }

    #[test]
    fn the_grid_averages_blocks_when_there_are_more_projects_than_cells() {
        let mut g = HeatGrid::new(4, 2);
        for i in 0..4 {
            g.add_row(i, (0..4).map(|j| if i == j { 1.0 } else { 0.0 }));
        }
        assert_eq!(g.side(), 2);
        assert_eq!(g.mean(0, 0), 0.5);
        assert_eq!(g.mean(0, 1), 0.0);
        let mut g = HeatGrid::new(3, 930);
        g.add_row(2, [0.1, 0.2, 1.0].into_iter());
        assert_eq!((g.side(), g.mean(2, 1)), (3, 0.2));
    }
}
