//! All pairwise shared-token counts |Ti ∩ Tj| as a sparse product of the project×token
//! incidence matrix A with its transpose (A·Aᵀ), computed row by row.
//!
//! Tokens are interned to `u32` ids and each project is a sorted id list. The transpose is
//! stored as postings: for every token, the projects that use it (CSR layout). Row i of
//! A·Aᵀ is then `Σ_{t ∈ Ti} e(postings[t])`: for each token of project i, add one to every
//! project that shares it, in a dense `u32` row of length n. The work is Σ_t df(t)² in
//! total — proportional to the shared postings, never comparing strings or non-sharing
//! pairs — and rows are independent, so they run in parallel.
//!
//! Token frequencies are Zipfian, so that sum is dominated by a few hundred tokens used by
//! most projects (`get`, `string`, `value`), which add about n² increments each. Those
//! tokens are cheaper as bitsets: a token in more than n/8 of the projects goes into a
//! per-project bitset instead of the postings, and its share of |Ti ∩ Tj| is the popcount
//! of two bitsets ANDed — n²/64 word operations per token instead of df² increments (the
//! two cost the same at df = n/8). [`SharedCounts`] holds both parts.
//!
//! Rows are produced in tiles of consecutive rows handed to a callback as soon as a tile
//! is complete, so the caller can write, summarize and forget them: memory is the postings,
//! the bitsets (n × dense tokens / 8 bytes) and one tile (`tile_rows × n × 4` bytes), never
//! the n² matrix. (We do not exploit symmetry: halving the work would need the other half
//! of each row, i.e. the whole matrix in memory, which is what tiling avoids.)

use rayon::prelude::*;

/// The transpose of the incidence matrix: token → sorted projects that use it.
#[derive(Debug, Clone)]
pub struct Postings {
    n_projects: usize,
    /// `projects[offsets[t]..offsets[t + 1]]` are the projects using token t.
    offsets: Vec<usize>,
    projects: Vec<u32>,
}

impl Postings {
    /// Builds the postings of `sets` (each a list of distinct token ids below `n_tokens`)
    /// by a counting sort, so each posting list comes out sorted by project.
    pub fn new(sets: &[Vec<u32>], n_tokens: usize) -> Self {
        let mut offsets = vec![0usize; n_tokens + 1];
        for set in sets {
            for &t in set {
                offsets[t as usize + 1] += 1;
            }
        }
        for t in 0..n_tokens {
            offsets[t + 1] += offsets[t];
        }
        let mut next = offsets[..n_tokens].to_vec();
        let mut projects = vec![0u32; offsets[n_tokens]];
        for (p, set) in sets.iter().enumerate() {
            for &t in set {
                projects[next[t as usize]] = p as u32;
                next[t as usize] += 1;
            }
        }
        Postings {
            n_projects: sets.len(),
            offsets,
            projects,
        }
    }

    pub fn n_projects(&self) -> usize {
        self.n_projects
    }

    /// Total number of (project, token) incidences.
    pub fn len(&self) -> usize {
        self.projects.len()
    }

    pub fn is_empty(&self) -> bool {
        self.projects.is_empty()
    }

    /// The projects using token `t`.
    pub fn of(&self, t: u32) -> &[u32] {
        &self.projects[self.offsets[t as usize]..self.offsets[t as usize + 1]]
    }

    /// Σ_t df(t)²: the number of increments the whole product performs.
    pub fn work(&self) -> u64 {
        self.offsets
            .windows(2)
            .map(|w| ((w[1] - w[0]) as u64).pow(2))
            .sum()
    }

    /// Adds row `set` of A·Aᵀ into `row` (length n): `row[j] += |set ∩ Tj|`.
    pub fn accumulate_row(&self, set: &[u32], row: &mut [u32]) {
        debug_assert_eq!(row.len(), self.n_projects);
        for &t in set {
            for &j in self.of(t) {
                row[j as usize] += 1;
            }
        }
    }
}

/// One tile of consecutive rows of the shared-count matrix.
#[derive(Debug)]
pub struct Tile {
    /// Index of the tile's first row.
    pub first_row: usize,
    /// `rows[k][j] = |T_{first_row + k} ∩ T_j|`.
    pub rows: Vec<Vec<u32>>,
}

/// A tile height that keeps one tile (counts plus the caller's table rows, about 40 bytes
/// per cell) near `cells_per_tile` cells: all rows at once for the paper's 930 projects,
/// about 100 rows per tile for 20,000.
pub fn tile_rows_for(n: usize, cells_per_tile: usize) -> usize {
    (cells_per_tile / n.max(1)).clamp(1, n.max(1))
}

/// The product A·Aᵀ split by token frequency: bitsets for tokens in many projects,
/// postings for the rest.
#[derive(Debug, Clone)]
pub struct SharedCounts {
    n: usize,
    /// Each project's tokens that are not in the bitsets.
    sparse: Vec<Vec<u32>>,
    /// Postings of the sparse tokens.
    postings: Postings,
    /// `bits[i * words..(i + 1) * words]`: project i's dense tokens.
    bits: Vec<u64>,
    words: usize,
    dense_tokens: usize,
}

impl SharedCounts {
    /// The smallest document frequency that puts a token into the bitsets for `n`
    /// projects: n/8, where both representations cost the same.
    pub fn default_min_dense_df(n: usize) -> usize {
        n.div_ceil(8).max(2)
    }

    /// Splits `sets` (distinct token ids below `n_tokens`) into bitsets for tokens used by
    /// at least `min_dense_df` projects and postings for the others (`usize::MAX`: all
    /// postings).
    pub fn new(sets: &[Vec<u32>], n_tokens: usize, min_dense_df: usize) -> Self {
        let n = sets.len();
        let mut df = vec![0u32; n_tokens];
        for set in sets {
            for &t in set {
                df[t as usize] += 1;
            }
        }
        let mut dense_index = vec![u32::MAX; n_tokens];
        let mut dense_tokens = 0usize;
        for (t, &d) in df.iter().enumerate() {
            if d as usize >= min_dense_df {
                dense_index[t] = dense_tokens as u32;
                dense_tokens += 1;
            }
        }
        let words = dense_tokens.div_ceil(64);
        let mut bits = vec![0u64; n * words];
        let sparse: Vec<Vec<u32>> = sets
            .iter()
            .enumerate()
            .map(|(i, set)| {
                let mut rest = Vec::with_capacity(set.len());
                for &t in set {
                    match dense_index[t as usize] {
                        u32::MAX => rest.push(t),
                        d => bits[i * words + d as usize / 64] |= 1u64 << (d % 64),
                    }
                }
                rest
            })
            .collect();
        let postings = Postings::new(&sparse, n_tokens);
        SharedCounts {
            n,
            sparse,
            postings,
            bits,
            words,
            dense_tokens,
        }
    }

    pub fn n_projects(&self) -> usize {
        self.n
    }

    /// Tokens held as bitsets.
    pub fn dense_tokens(&self) -> usize {
        self.dense_tokens
    }

    /// The postings of the tokens not held as bitsets.
    pub fn postings(&self) -> &Postings {
        &self.postings
    }

    /// (increments over postings, 64-bit AND-popcounts over bitsets) of the whole product.
    pub fn work(&self) -> (u64, u64) {
        let n = self.n as u64;
        (self.postings.work(), n * n * self.words as u64)
    }

    /// Writes row i: `row[j] = |Ti ∩ Tj|`.
    pub fn row(&self, i: usize, row: &mut [u32]) {
        debug_assert_eq!(row.len(), self.n);
        if self.words > 0 {
            let mine = &self.bits[i * self.words..(i + 1) * self.words];
            and_popcounts(mine, &self.bits, row);
        } else {
            row.fill(0);
        }
        self.postings.accumulate_row(&self.sparse[i], row);
    }
}

/// `row[j] = popcount(mine & bitset j)` for the bitsets laid end to end in `all`.
///
/// The default x86-64 target has no `popcnt` instruction, so `count_ones` compiles to a
/// dozen bit operations; with the CPU's `popcnt` (checked at run time) it is one, and this
/// loop is most of the product's time.
fn and_popcounts(mine: &[u64], all: &[u64], row: &mut [u32]) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("popcnt") {
        // SAFETY: the CPU supports `popcnt`, checked on the line above.
        unsafe { and_popcounts_popcnt(mine, all, row) };
        return;
    }
    and_popcounts_portable(mine, all, row);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "popcnt")]
fn and_popcounts_popcnt(mine: &[u64], all: &[u64], row: &mut [u32]) {
    and_popcounts_portable(mine, all, row);
}

#[inline(always)]
fn and_popcounts_portable(mine: &[u64], all: &[u64], row: &mut [u32]) {
    for (cell, theirs) in row.iter_mut().zip(all.chunks_exact(mine.len())) {
        *cell = mine
            .iter()
            .zip(theirs)
            .map(|(a, b)| (a & b).count_ones())
            .sum();
    }
}

/// Computes |Ti ∩ Tj| for all i, j, in tiles of `tile_rows` rows, in parallel within each
/// tile; `on_tile` receives them in row order and may stop the run with an error.
pub fn shared_counts_tiled<E>(
    counts: &SharedCounts,
    tile_rows: usize,
    mut on_tile: impl FnMut(Tile) -> Result<(), E>,
) -> Result<(), E> {
    let n = counts.n_projects();
    let tile_rows = tile_rows.max(1);
    for first_row in (0..n).step_by(tile_rows) {
        let last = (first_row + tile_rows).min(n);
        let rows: Vec<Vec<u32>> = (first_row..last)
            .into_par_iter()
            .map(|i| {
                let mut row = vec![0u32; n];
                counts.row(i, &mut row);
                row
            })
            .collect();
        on_tile(Tile { first_row, rows })?;
    }
    Ok(())
}

/// R[i][j] = |Ti ∩ Tj| / |Ti|; 1 on the diagonal (also for an empty Ti, which the
/// pipeline never passes: projects without tokens are left out before).
pub fn ratio(shared: u32, size_i: usize, i: usize, j: usize) -> f64 {
    if i == j || size_i == 0 {
        1.0
    } else {
        f64::from(shared) / size_i as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeSet;

    /// Random projects: each a set of ids drawn from a small vocabulary, so sets overlap.
    fn sets_strategy() -> impl Strategy<Value = (Vec<Vec<u32>>, usize)> {
        (1usize..40).prop_flat_map(|vocab| {
            (
                prop::collection::vec(prop::collection::btree_set(0..vocab as u32, 0..30), 1..25)
                    .prop_map(|sets: Vec<BTreeSet<u32>>| {
                        sets.into_iter().map(|s| s.into_iter().collect()).collect()
                    }),
                Just(vocab),
            )
        })
    }

    fn collect(sets: &[Vec<u32>], tile_rows: usize, min_dense_df: usize) -> Vec<Vec<u32>> {
        let n_tokens = sets.iter().flatten().max().map_or(0, |&m| m as usize + 1);
        let counts = SharedCounts::new(sets, n_tokens, min_dense_df);
        let mut all = Vec::new();
        shared_counts_tiled(&counts, tile_rows, |tile| {
            assert_eq!(tile.first_row, all.len());
            all.extend(tile.rows);
            Ok::<(), ()>(())
        })
        .unwrap();
        all
    }

    proptest! {
        #[test]
        fn the_sparse_product_equals_naive_set_intersection(
            (sets, _vocab) in sets_strategy(),
            tile_rows in 1usize..10,
            min_dense_df in prop_oneof![Just(usize::MAX), 1usize..30],
        ) {
            let counts = collect(&sets, tile_rows, min_dense_df);
            prop_assert_eq!(counts.len(), sets.len());
            for (i, a) in sets.iter().enumerate() {
                for (j, b) in sets.iter().enumerate() {
                    let naive: BTreeSet<u32> = a.iter().copied().filter(|t| b.contains(t)).collect();
                    prop_assert_eq!(counts[i][j] as usize, naive.len(), "cell ({}, {})", i, j);
                }
            }
        }

        #[test]
        fn ratios_satisfy_r_ij_times_ti_equals_r_ji_times_tj((sets, _vocab) in sets_strategy()) {
            let counts = collect(&sets, 3, SharedCounts::default_min_dense_df(sets.len()));
            for i in 0..sets.len() {
                for j in 0..sets.len() {
                    if i == j || sets[i].is_empty() || sets[j].is_empty() {
                        continue;
                    }
                    let r_ij = ratio(counts[i][j], sets[i].len(), i, j);
                    let r_ji = ratio(counts[j][i], sets[j].len(), j, i);
                    let lhs = r_ij * sets[i].len() as f64;
                    let rhs = r_ji * sets[j].len() as f64;
                    prop_assert!((lhs - rhs).abs() < 1e-9, "({}, {}): {} vs {}", i, j, lhs, rhs);
                    prop_assert!((0.0..=1.0).contains(&r_ij));
                }
            }
        }
    }

    #[test]
    fn postings_list_projects_in_order_and_count_the_work() {
        let sets = vec![vec![0, 2], vec![2], vec![0, 1, 2]];
        let p = Postings::new(&sets, 3);
        assert_eq!(p.of(0), [0, 2]);
        assert_eq!(p.of(1), [2]);
        assert_eq!(p.of(2), [0, 1, 2]);
        assert_eq!(p.len(), 6);
        assert_eq!(p.work(), 4 + 1 + 9);
    }

    #[test]
    fn frequent_tokens_go_to_bitsets_and_the_rest_to_postings() {
        // Token 0 is in all 8 projects, token 1 in 2, token 70 in 1.
        let mut sets: Vec<Vec<u32>> = (0..8).map(|_| vec![0]).collect();
        sets[0].extend([1, 70]);
        sets[1].push(1);
        let counts = SharedCounts::new(&sets, 71, SharedCounts::default_min_dense_df(8));
        assert_eq!(
            counts.dense_tokens(),
            2,
            "tokens 0 and 1 are in at least max(n/8, 2) projects"
        );
        assert_eq!(counts.postings().len(), 1);
        let mut row = vec![0; 8];
        counts.row(0, &mut row);
        assert_eq!(row, [3, 2, 1, 1, 1, 1, 1, 1]);
        assert_eq!(counts.work(), (1, 64));
    }

    #[test]
    fn the_diagonal_is_one_and_tiles_cover_every_row_once() {
        assert_eq!(ratio(3, 3, 1, 1), 1.0);
        assert_eq!(ratio(1, 4, 0, 1), 0.25);
        assert_eq!(tile_rows_for(930, 2_000_000), 930);
        assert_eq!(tile_rows_for(20_000, 2_000_000), 100);
        assert_eq!(tile_rows_for(0, 10), 1);
    }
}
