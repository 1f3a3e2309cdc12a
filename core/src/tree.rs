//! Building blocks of tree training and inference that the forest trainer ([`crate::forest`])
//! and the cpu backend's ML kernels ([`crate::gpu::cpu`]) share: the bootstrap counts, the
//! split scan of one feature, and the walk of one tree over flat node arrays.
//!
//! They sit below both users so that neither imports the other: `forest` trains with them
//! and reports GPU errors (it uses `gpu`), and the cpu backend runs them as its reference
//! kernels (it is part of `gpu`). `forest` re-exports [`Split`] and [`bootstrap_counts`] at
//! their old paths; `forest_gpu` re-exports [`NONE`].

use alloc::vec;
use alloc::vec::Vec;

use crate::rng::Pcg32;

/// The "no node" / "no candidate" marker of `node_of` and `cand_rank`.
#[cfg_attr(not(feature = "std"), allow(dead_code))]
pub const NONE: u32 = u32::MAX;

/// The best split of one node (see [`crate::forest`]'s module docs for how it is chosen).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Split {
    /// Feature index.
    pub feature: usize,
    /// Rows with `x[feature] <= threshold` go left.
    pub threshold: f32,
    /// `S_L²/W_L + S_R²/W_R`.
    pub score: f64,
    /// Weight sent left.
    pub weight_left: u64,
}

/// Bootstrap weights of tree `tree`: `n` draws of `Pcg32::new(seed, 2·tree).below(n)`,
/// counted per row. Returns `n` counts summing to `n`.
pub fn bootstrap_counts(n: usize, seed: u64, tree: u64) -> Vec<u32> {
    let mut rng = Pcg32::new(seed, 2 * tree);
    let mut w = vec![0u32; n];
    for _ in 0..n {
        w[rng.below(n as u32) as usize] += 1;
    }
    w
}

/// Sweeps one feature's rows and updates `best` (the scan of [`crate::forest`]'s module
/// docs): `x` is the data set (`n_rows × d` f32, row-major), `y` its targets, `sorted` the
/// node's rows in `(x[row·d + f], row)` order, `w_of` every row's weight (indexed by row).
/// A split replaces `best` only when its score is strictly higher, so calling this for the
/// candidate features in their order gives the tie rule of those docs.
#[allow(clippy::too_many_arguments)]
pub(crate) fn scan_feature(
    x: &[f32],
    y: &[f64],
    d: usize,
    f: usize,
    sorted: &[u32],
    w_of: &[u32],
    min_leaf: u64,
    best: &mut Option<Split>,
) {
    let (mut wt, mut st) = (0u64, 0.0f64);
    for &r in sorted {
        let w = w_of[r as usize] as u64;
        wt += w;
        st += w as f64 * y[r as usize];
    }
    let (mut wl, mut sl) = (0u64, 0.0f64);
    for k in 0..sorted.len().saturating_sub(1) {
        let r = sorted[k] as usize;
        let w = w_of[r] as u64;
        wl += w;
        sl += w as f64 * y[r];
        let lo = x[r * d + f];
        let hi = x[sorted[k + 1] as usize * d + f];
        if lo >= hi {
            continue;
        }
        let Some(score) = split_score(sl, wl, st, wt, min_leaf) else {
            continue;
        };
        offer_split(best, f, lo, hi, score, wl);
    }
}

/// The score of a split whose left side has weight `wl` (bootstrap counts) and weighted
/// target sum `sl`, in a node of weight `wt` and sum `st`: `sl²/wl + sr²/wr`, which
/// ranks splits as their decrease in squared error (MSE) does (Breiman et al., 1984,
/// CART). `None` when either side is lighter than `min_leaf`.
#[inline(always)]
pub(crate) fn split_score(sl: f64, wl: u64, st: f64, wt: u64, min_leaf: u64) -> Option<f64> {
    let wr = wt - wl;
    if wl < min_leaf || wr < min_leaf {
        return None;
    }
    let sr = st - sl;
    Some(sl * sl / wl as f64 + sr * sr / wr as f64)
}

/// The threshold between the consecutive distinct values `lo < hi` of a feature:
/// `lo + (hi − lo)·0.5` in `f32`, or `lo` where that rounds to `hi` (or overflows), so that
/// `lo <= threshold < hi` ([`crate::forest`]'s module docs; the histogram mode's cuts too).
#[inline]
pub(crate) fn split_threshold(lo: f32, hi: f32) -> f32 {
    let threshold = lo + (hi - lo) * 0.5;
    if threshold >= hi {
        lo
    } else {
        threshold
    }
}

/// Offers `best` the split of feature `f` between the consecutive distinct values
/// `lo < hi` with exact `score` and weight `wl` on the left: it replaces `best` only when
/// its score is strictly higher (the tie rule), at the threshold `lo + (hi − lo)·0.5` in
/// `f32`, or `lo` where that rounds to `hi` ([`crate::forest`]'s module docs).
#[inline]
pub(crate) fn offer_split(
    best: &mut Option<Split>,
    f: usize,
    lo: f32,
    hi: f32,
    score: f64,
    wl: u64,
) {
    if best.is_none_or(|b| score > b.score) {
        *best = Some(Split {
            feature: f,
            threshold: split_threshold(lo, hi),
            score,
            weight_left: wl,
        });
    }
}

/// One tree's prediction for `row` over the flat arrays of a `gpu::ForestBuffers` layout (tree
/// root at `start`), as batch-predict defines it for malformed input: a walk stops after
/// `feature.len()` steps or at an index out of range (then the value of the last node in
/// range, 0 if none).
#[cfg_attr(not(feature = "std"), allow(dead_code))]
pub(crate) fn walk_tree(
    feature: &[i32],
    threshold: &[f32],
    left: &[i32],
    right: &[i32],
    value: &[f32],
    start: u32,
    row: &[f32],
) -> f32 {
    let n = feature.len();
    let mut i = start as usize;
    if i >= n {
        return 0.0;
    }
    for _ in 0..n {
        let f = feature[i];
        if f < 0 || f as usize >= row.len() {
            break;
        }
        let c = if row[f as usize] <= threshold[i] {
            left[i]
        } else {
            right[i]
        };
        let next = (start as i64) + c as i64;
        if c < 0 || next as usize >= n {
            break;
        }
        i = next as usize;
    }
    value[i]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walk_tree_survives_malformed_trees() {
        // A cycle (node 0's children are itself) and a child index out of range.
        let feature = [0, 0];
        let threshold = [1.0f32, 1.0];
        let (left, right) = ([0, 7], [0, -5]);
        let value = [2.5f32, 3.5];
        assert_eq!(
            walk_tree(&feature, &threshold, &left, &right, &value, 0, &[0.0]),
            2.5
        );
        assert_eq!(
            walk_tree(&feature, &threshold, &left, &right, &value, 1, &[0.0]),
            3.5
        );
        assert_eq!(
            walk_tree(&feature, &threshold, &left, &right, &value, 9, &[0.0]),
            0.0
        );
    }
}
