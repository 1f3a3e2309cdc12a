//! Histogram mode ("hist"): an approximate split rule that GPUs run without sorting, after
//! the `hist` tree method of XGBoost (T. Chen, C. Guestrin, "XGBoost: A Scalable Tree
//! Boosting System", KDD 2016, §3.2) and LightGBM, with fixed-point target sums as XGBoost's
//! GPU histograms use them so that every backend adds in any order and gets the same bits
//! (R. Shi et al., "Quantized Training of Gradient Boosting Decision Trees", NeurIPS 2022).
//!
//! It grows its own forest, not [`Forest::fit`]'s: same bootstrap samples, leaf rules and
//! score, but only the thresholds of a fixed per-feature grid are tried, and the targets
//! are rounded to 2^24 − 1 levels. Its paths carry their own names (`…-hist`) and its test
//! MSE is reported beside the exact mode's.
//!
//! ## The rule, exactly
//! - **Bins** ([`HistBins`]): per feature, the distinct training values `v_0 < … < v_{m−1}`.
//!   With `m ≤ max_bins` each value is a bin; otherwise the upper edges are the values at
//!   ranks `⌊k·n/max_bins⌋ − 1` (k = 1 … max_bins − 1) of the sorted column (duplicates
//!   kept), deduplicated, the largest value dropped. The cut after an edge `e` is
//!   [`split_threshold`]`(e, next distinct value)`; a value's bin is the number of cuts
//!   below it, so `x <= cut[j]` ⇔ `bin <= j` for every training value, and a trained tree
//!   predicts raw rows with the cuts as thresholds.
//! - **Targets** ([`QuantizedTargets`]): `yq = round((y − min)/step)`, `step = (max −
//!   min)/(2^24 − 1)`, so `0 ≤ yq < 2^24`.
//! - **Node sums**: `W = Σ w` (u32) and `S = Σ w·yq` (u64) over the node's rows, wrapping
//!   (no wrap happens while the weights of a tree total below 2^32). Integer sums are the
//!   same in every order.
//! - **Leaf rules**, in order: depth reached `max_depth`; `W < min_samples_split`; every
//!   row's `yq` equal; else the best split, and a leaf when there is none.
//! - **Split**: for every feature `f` in order and every cut `j < n_bins[f] − 1`, `W_L`,
//!   `S_L` are the sums over rows with `bin <= j`, `W_R = W − W_L`, `S_R = S − S_L`; the
//!   cut is valid when both weights are at least `min_samples_leaf`; its score is
//!   `S_L²/W_L + S_R²/W_R` in f64 ([`hist_score`]: each sum converted once, correctly
//!   rounded). The highest score wins; an exact tie keeps the lower feature, then the
//!   lower cut. Every feature is a candidate (`max_features` must be `None` or `d`).
//! - **Node value**: `min + (S/W)·step` in f64, stored as f32 ([`QuantizedTargets::value`]).
//!
//! The growth order does not change the tree: a node depends only on its rows. Growers
//! number nodes as they like ([`HistNode`]: children in pairs); [`hist_tree`] checks the
//! records and returns the tree in [`Forest::fit`]'s depth-first numbering.

use alloc::vec;
use alloc::vec::Vec;

use super::{renumber_depth_first, Forest, ForestError, ForestParams, Tree};
use crate::data::Dataset;
use crate::tree::{bootstrap_counts, split_threshold};

/// Most bins per feature (bins are stored as bytes).
pub const MAX_BINS: usize = 256;
/// Levels of the fixed-point targets: `yq ≤ Y_LEVELS`.
pub const Y_LEVELS: u32 = (1 << 24) - 1;
/// `HistNode::left` of a leaf.
pub const LEAF: u32 = u32::MAX;

/// One node as the histogram growers write it (24 bytes, little-endian; also the device
/// layout of [`crate::gpu::GpuBackend::hist_grow`]'s output).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "std", derive(bytemuck::Pod, bytemuck::Zeroable))]
pub struct HistNode {
    /// Split feature, -1 at a leaf.
    pub feature: i32,
    /// Rows with `bin <= cut` go left (0 at a leaf).
    pub cut: u32,
    /// Id of the left child; the right child is `left + 1`. [`LEAF`] at a leaf.
    pub left: u32,
    /// `W`: the node's weight.
    pub weight: u32,
    /// Low 32 bits of `S = Σ w·yq`.
    pub sum_lo: u32,
    /// High 32 bits of `S`.
    pub sum_hi: u32,
}

impl HistNode {
    /// A leaf of weight `w` and sum `s`.
    pub fn leaf(w: u32, s: u64) -> Self {
        HistNode {
            feature: -1,
            cut: 0,
            left: LEAF,
            weight: w,
            sum_lo: s as u32,
            sum_hi: (s >> 32) as u32,
        }
    }

    /// `S` as one number.
    pub fn sum(&self) -> u64 {
        (self.sum_hi as u64) << 32 | self.sum_lo as u64
    }
}

/// The per-feature bins of a training set (module docs).
#[derive(Debug, Clone, PartialEq)]
pub struct HistBins {
    /// Rows.
    pub n_rows: usize,
    /// Features.
    pub n_features: usize,
    /// Bin of every value, feature-major: `bins[f·n_rows + r]` (`n_features × n_rows` bytes).
    pub bins: Vec<u8>,
    /// Ascending cuts of each feature (`n_bins − 1` of them; empty for a constant feature).
    pub cuts: Vec<Vec<f32>>,
}

impl HistBins {
    /// Bins every feature of `data` into at most `max_bins` bins.
    ///
    /// # Errors
    /// [`ForestError::MaxBins`] unless `2 ≤ max_bins ≤ 256`; [`ForestError::EmptyData`];
    /// [`ForestError::NonFinite`] for a NaN or infinite feature value.
    pub fn new(data: &Dataset, max_bins: usize) -> Result<Self, ForestError> {
        if !(2..=MAX_BINS).contains(&max_bins) {
            return Err(ForestError::MaxBins(max_bins));
        }
        Forest::check_data(data)?;
        let (n, d) = (data.n_rows, data.n_features);
        let mut bins = vec![0u8; n * d];
        let mut cuts = Vec::with_capacity(d);
        let mut col = vec![0f32; n];
        for f in 0..d {
            for (r, c) in col.iter_mut().enumerate() {
                *c = data.x[r * d + f];
            }
            col.sort_unstable_by(f32::total_cmp);
            let c = feature_cuts(&col, max_bins);
            for r in 0..n {
                bins[f * n + r] = Self::bin_of(&c, data.x[r * d + f]);
            }
            cuts.push(c);
        }
        Ok(HistBins {
            n_rows: n,
            n_features: d,
            bins,
            cuts,
        })
    }

    /// The bin of `x` under `cuts`: how many cuts lie below it.
    pub fn bin_of(cuts: &[f32], x: f32) -> u8 {
        cuts.partition_point(|&c| c < x) as u8
    }

    /// Bins of each feature (`cuts + 1`), as the kernels take them.
    pub fn n_bins(&self) -> Vec<u32> {
        self.cuts.iter().map(|c| c.len() as u32 + 1).collect()
    }
}

/// The cuts of one sorted column (module docs).
fn feature_cuts(sorted: &[f32], max_bins: usize) -> Vec<f32> {
    let n = sorted.len();
    let mut distinct: Vec<f32> = Vec::new();
    for &v in sorted {
        if distinct.last().is_none_or(|&l| l != v) {
            distinct.push(v);
        }
    }
    let edges: Vec<f32> = if distinct.len() <= max_bins {
        distinct[..distinct.len() - 1].to_vec()
    } else {
        let mut e: Vec<f32> = Vec::with_capacity(max_bins);
        for k in 1..max_bins {
            let v = sorted[(k * n / max_bins).max(1) - 1];
            if e.last().is_none_or(|&l| l != v) && v != distinct[distinct.len() - 1] {
                e.push(v);
            }
        }
        e
    };
    edges
        .iter()
        .map(|&e| {
            let next = distinct[distinct.partition_point(|&v| v <= e)];
            split_threshold(e, next)
        })
        .collect()
}

/// Targets rounded to [`Y_LEVELS`] + 1 fixed-point levels (module docs).
#[derive(Debug, Clone, PartialEq)]
pub struct QuantizedTargets {
    /// `round((y − min)/step)` per row, each `≤ Y_LEVELS`.
    pub yq: Vec<u32>,
    /// Least target.
    pub min: f64,
    /// Target units per level (0 when every target is equal).
    pub step: f64,
}

impl QuantizedTargets {
    /// Quantizes `y`.
    ///
    /// # Errors
    /// [`ForestError::NonFiniteTarget`] for a NaN or infinite target, or targets whose
    /// range overflows f64.
    pub fn new(y: &[f64]) -> Result<Self, ForestError> {
        if let Some(row) = y.iter().position(|v| !v.is_finite()) {
            return Err(ForestError::NonFiniteTarget { row });
        }
        let min = y.iter().copied().fold(f64::INFINITY, f64::min);
        let max = y.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let step = (max - min) / Y_LEVELS as f64;
        if !step.is_finite() {
            return Err(ForestError::NonFiniteTarget { row: 0 });
        }
        let yq = y
            .iter()
            .map(|&v| {
                if step == 0.0 {
                    0
                } else {
                    libm::round((v - min) / step).clamp(0.0, Y_LEVELS as f64) as u32
                }
            })
            .collect();
        Ok(QuantizedTargets { yq, min, step })
    }

    /// The value of a node of weight `w` (> 0) and sum `s`: `min + (s/w)·step`, as f32.
    pub fn value(&self, w: u32, s: u64) -> f32 {
        (self.min + (s as f64 / w as f64) * self.step) as f32
    }
}

/// The score of a cut (module docs): `S_L²/W_L + S_R²/W_R`, each sum converted to f64 once.
#[inline]
pub fn hist_score(wl: u32, sl: u64, wr: u32, sr: u64) -> f64 {
    let (a, b) = (sl as f64, sr as f64);
    a * a / wl as f64 + b * b / wr as f64
}

/// Best cut of one feature from its histogram (`cnt[b]`, `sum[b]`: weight and `Σ w·yq` of
/// the node's rows in bin `b`, `b < n_bins`), for a node of weight `w` and sum `s`: `(score,
/// cut, W_L, S_L)`, the lowest cut among equal scores; `None` when no cut is valid.
pub fn best_cut(
    cnt: &[u32],
    sum: &[u64],
    w: u32,
    s: u64,
    min_leaf: u32,
) -> Option<(f64, u32, u32, u64)> {
    let mut best: Option<(f64, u32, u32, u64)> = None;
    let (mut wl, mut sl) = (0u32, 0u64);
    for j in 0..cnt.len().saturating_sub(1) {
        wl = wl.wrapping_add(cnt[j]);
        sl = sl.wrapping_add(sum[j]);
        let wr = w.wrapping_sub(wl);
        if wl < min_leaf || wr < min_leaf {
            continue;
        }
        let score = hist_score(wl, sl, wr, s.wrapping_sub(sl));
        if best.is_none_or(|b| score > b.0) {
            best = Some((score, j as u32, wl, sl));
        }
    }
    best
}

/// The leaf rules and sizes of a histogram grower.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HistRules {
    /// `min_samples_split` (≥ 2).
    pub min_split: u32,
    /// `min_samples_leaf` (≥ 1).
    pub min_leaf: u32,
    /// `max_depth`, `u32::MAX` for none.
    pub max_depth: u32,
}

impl HistRules {
    /// The rules of `p` (sizes above u32 saturate).
    pub fn of(p: &ForestParams) -> Self {
        let sat = |v: usize| u32::try_from(v).unwrap_or(u32::MAX);
        HistRules {
            min_split: sat(p.min_samples_split),
            min_leaf: sat(p.min_samples_leaf),
            max_depth: p.max_depth.map_or(u32::MAX, sat),
        }
    }
}

/// Nodes of at most this many rows find each feature's best cut by sorting their rows by
/// bin instead of filling a 256-bin histogram (the same cut: see [`NodeRows`]).
const SMALL_HIST_NODE: usize = 32;

/// One node's rows seen through one feature's bins (`col`, `nb` bins used).
struct NodeRows<'a> {
    rows: &'a [u32],
    col: &'a [u8],
    weights: &'a [u32],
    yq: &'a [u32],
    nb: usize,
}

impl NodeRows<'_> {
    /// [`best_cut`] of the node's histogram, filling and scanning only the bins its rows
    /// occupy: cuts below the lowest occupied bin leave no weight left, and the cuts from
    /// the highest one up all give the same split, of which the lowest is scanned.
    /// `cnt` and `sum` are all zeros on entry and on return.
    fn best_by_histogram(
        &self,
        cnt: &mut [u32; MAX_BINS],
        sum: &mut [u64; MAX_BINS],
        w: u32,
        s: u64,
        min_leaf: u32,
    ) -> Option<(f64, u32, u32, u64)> {
        let (mut lo, mut hi) = (MAX_BINS, 0usize);
        for &r in self.rows {
            let b = self.col[r as usize] as usize;
            if b < self.nb {
                let wr = self.weights[r as usize];
                cnt[b] = cnt[b].wrapping_add(wr);
                sum[b] = sum[b].wrapping_add(wr as u64 * self.yq[r as usize] as u64);
                lo = lo.min(b);
                hi = hi.max(b);
            }
        }
        if lo > hi {
            return None;
        }
        let top = (hi + 1).min(self.nb - 1);
        let found = best_cut(&cnt[lo..=top], &sum[lo..=top], w, s, min_leaf)
            .map(|(score, j, wl, sl)| (score, j + lo as u32, wl, sl));
        cnt[lo..=hi].fill(0);
        sum[lo..=hi].fill(0);
        found
    }

    /// The same cut as [`best_cut`] of the full histogram, from the rows sorted by bin: a cut
    /// between two occupied bins splits like the cut right after the lower one, the lowest
    /// cut of that split, so only cuts at occupied bins (below `nb − 1`) are scored.
    fn best_by_sorting(
        &self,
        buf: &mut Vec<(u8, u32, u64)>,
        w: u32,
        s: u64,
        min_leaf: u32,
    ) -> Option<(f64, u32, u32, u64)> {
        buf.clear();
        for &r in self.rows {
            let b = self.col[r as usize];
            if (b as usize) < self.nb {
                let wr = self.weights[r as usize];
                buf.push((b, wr, wr as u64 * self.yq[r as usize] as u64));
            }
        }
        buf.sort_unstable_by_key(|e| e.0);
        let mut best: Option<(f64, u32, u32, u64)> = None;
        let (mut wl, mut sl) = (0u32, 0u64);
        for (k, &(b, wr, p)) in buf.iter().enumerate() {
            wl = wl.wrapping_add(wr);
            sl = sl.wrapping_add(p);
            let last_of_bin = buf.get(k + 1).is_none_or(|e| e.0 != b);
            let wr_side = w.wrapping_sub(wl);
            if !last_of_bin || b as usize + 1 >= self.nb || wl < min_leaf || wr_side < min_leaf {
                continue;
            }
            let score = hist_score(wl, sl, wr_side, s.wrapping_sub(sl));
            if best.is_none_or(|x| score > x.0) {
                best = Some((score, b as u32, wl, sl));
            }
        }
        best
    }
}

/// The reference histogram grower: grows one tree over `bins` (feature-major, `d × n`
/// bytes), `n_bins` (per feature, at most 256 used), `yq` (`n`) and the tree's bootstrap
/// `weights` (`n`; rows of weight 0 are out), depth first. Returns the nodes, root first,
/// children numbered in pairs as created.
pub fn grow_hist_tree(
    bins: &[u8],
    n_bins: &[u32],
    yq: &[u32],
    weights: &[u32],
    rules: HistRules,
) -> Vec<HistNode> {
    let n = yq.len();
    let mut rows: Vec<u32> = (0..n as u32).filter(|&r| weights[r as usize] > 0).collect();
    let mut nodes = vec![HistNode::default()];
    let mut cnt = [0u32; MAX_BINS];
    let mut sum = [0u64; MAX_BINS];
    let mut small: Vec<(u8, u32, u64)> = Vec::with_capacity(SMALL_HIST_NODE);
    // (node id, first row, rows, depth)
    let mut stack = vec![(0usize, 0usize, rows.len(), 0u32)];
    while let Some((id, start, len, depth)) = stack.pop() {
        let node_rows = &mut rows[start..start + len];
        let (mut w, mut s) = (0u32, 0u64);
        let (mut qmin, mut qmax) = (u32::MAX, 0u32);
        for &r in node_rows.iter() {
            let (wr, q) = (weights[r as usize], yq[r as usize]);
            w = w.wrapping_add(wr);
            s = s.wrapping_add(wr as u64 * q as u64);
            qmin = qmin.min(q);
            qmax = qmax.max(q);
        }
        nodes[id] = HistNode::leaf(w, s);
        if depth >= rules.max_depth || w < rules.min_split || qmin == qmax {
            continue;
        }
        let mut best: Option<(f64, usize, u32, u32, u64)> = None;
        for (f, &nb) in n_bins.iter().enumerate() {
            let nb = (nb as usize).min(MAX_BINS);
            let col = &bins[f * n..(f + 1) * n];
            let node = NodeRows {
                rows: node_rows,
                col,
                weights,
                yq,
                nb,
            };
            let found = if len <= SMALL_HIST_NODE {
                node.best_by_sorting(&mut small, w, s, rules.min_leaf)
            } else {
                node.best_by_histogram(&mut cnt, &mut sum, w, s, rules.min_leaf)
            };
            if let Some((score, cut, wl, sl)) = found {
                if best.is_none_or(|b| score > b.0) {
                    best = Some((score, f, cut, wl, sl));
                }
            }
        }
        let Some((_, f, cut, _, _)) = best else {
            continue;
        };
        let col = &bins[f * n..(f + 1) * n];
        let mut l = 0;
        for k in 0..len {
            if col[node_rows[k] as usize] as u32 <= cut {
                node_rows.swap(l, k);
                l += 1;
            }
        }
        let left = nodes.len();
        nodes.push(HistNode::default());
        nodes.push(HistNode::default());
        nodes[id].feature = f as i32;
        nodes[id].cut = cut;
        nodes[id].left = left as u32;
        stack.push((left + 1, start + l, len - l, depth + 1));
        stack.push((left, start, l, depth + 1));
    }
    nodes
}

/// The tree that `nodes` (one grower's records, root at 0) describe, with thresholds from
/// `bins`' cuts and values from `q`, in [`Forest::fit`]'s depth-first numbering.
///
/// # Errors
/// [`ForestError::BadTree`] when the records are not a tree: a child id not above its
/// parent's or past the end, a node reached twice, a feature or cut out of range, or a
/// reached node of weight 0.
pub fn hist_tree(
    nodes: &[HistNode],
    bins: &HistBins,
    q: &QuantizedTargets,
) -> Result<Tree, ForestError> {
    let bad = |node: usize| ForestError::BadTree { tree: 0, node };
    if nodes.is_empty() {
        return Err(bad(0));
    }
    let mut t = Tree::default();
    let mut seen = vec![false; nodes.len()];
    let mut stack = vec![0usize];
    seen[0] = true;
    for _ in 0..nodes.len() {
        t.feature.push(-1);
        t.threshold.push(0.0);
        t.left.push(-1);
        t.right.push(-1);
        t.value.push(0.0);
    }
    while let Some(i) = stack.pop() {
        let nd = &nodes[i];
        if nd.weight == 0 {
            return Err(bad(i));
        }
        t.value[i] = q.value(nd.weight, nd.sum());
        if nd.feature < 0 {
            continue;
        }
        let f = nd.feature as usize;
        let l = nd.left as usize;
        let cut = bins.cuts.get(f).and_then(|c| c.get(nd.cut as usize));
        let Some(&threshold) = cut else {
            return Err(bad(i));
        };
        if l <= i || l + 1 >= nodes.len() || seen[l] || seen[l + 1] {
            return Err(bad(i));
        }
        seen[l] = true;
        seen[l + 1] = true;
        t.feature[i] = nd.feature;
        t.threshold[i] = threshold;
        t.left[i] = l as i32;
        t.right[i] = l as i32 + 1;
        stack.push(l);
        stack.push(l + 1);
    }
    Ok(renumber_depth_first(&t))
}

/// Everything a histogram grower needs of one training set, made once per forest.
#[derive(Debug, Clone)]
pub struct HistSetup {
    /// The bins.
    pub bins: HistBins,
    /// Bins of each feature (`bins.n_bins()`, made once).
    pub n_bins: Vec<u32>,
    /// The quantized targets.
    pub targets: QuantizedTargets,
    /// The rules.
    pub rules: HistRules,
}

impl HistSetup {
    /// Checks `data` and `params` for histogram mode and bins and quantizes the data.
    ///
    /// # Errors
    /// Those of [`Forest::fit`], [`HistBins::new`] and [`QuantizedTargets::new`];
    /// [`ForestError::HistMaxFeatures`] unless `max_features` is `None` or `d`.
    pub fn new(
        data: &Dataset,
        params: &ForestParams,
        max_bins: usize,
    ) -> Result<Self, ForestError> {
        Forest::check(data, params)?;
        if params.max_features.is_some_and(|m| m != data.n_features) {
            return Err(ForestError::HistMaxFeatures);
        }
        let bins = HistBins::new(data, max_bins)?;
        Ok(HistSetup {
            n_bins: bins.n_bins(),
            bins,
            targets: QuantizedTargets::new(&data.y)?,
            rules: HistRules::of(params),
        })
    }

    /// Bootstrap weights of tree `t` (all ones without bootstrap).
    pub fn weights(&self, params: &ForestParams, t: usize) -> Vec<u32> {
        if params.bootstrap {
            bootstrap_counts(self.bins.n_rows, params.seed, t as u64)
        } else {
            vec![1; self.bins.n_rows]
        }
    }

    /// Grows tree `t` with the reference grower.
    pub fn grow(&self, params: &ForestParams, t: usize) -> Result<Tree, ForestError> {
        let nodes = grow_hist_tree(
            &self.bins.bins,
            &self.n_bins,
            &self.targets.yq,
            &self.weights(params, t),
            self.rules,
        );
        hist_tree(&nodes, &self.bins, &self.targets).map_err(|e| with_tree(e, t))
    }
}

/// `e` with its tree index set to `t` (for [`ForestError::BadTree`]).
pub(crate) fn with_tree(e: ForestError, t: usize) -> ForestError {
    match e {
        ForestError::BadTree { node, .. } => ForestError::BadTree { tree: t, node },
        e => e,
    }
}

impl Forest {
    /// Trains a forest in histogram mode (module docs) on one thread, at most `max_bins`
    /// bins per feature (256 is XGBoost's default).
    ///
    /// # Errors
    /// Those of [`HistSetup::new`].
    pub fn fit_hist(
        data: &Dataset,
        params: &ForestParams,
        max_bins: usize,
    ) -> Result<Forest, ForestError> {
        Self::fit_hist_with(data, params, max_bins, |setup| {
            (0..params.n_trees).map(|t| setup.grow(params, t)).collect()
        })
    }

    /// The forest of the trees `grow_all` grows from the checked, binned data.
    fn fit_hist_with(
        data: &Dataset,
        params: &ForestParams,
        max_bins: usize,
        grow_all: impl FnOnce(&HistSetup) -> Result<Vec<Tree>, ForestError>,
    ) -> Result<Forest, ForestError> {
        let setup = HistSetup::new(data, params, max_bins)?;
        Ok(Forest {
            n_features: data.n_features,
            trees: grow_all(&setup)?,
        })
    }

    /// [`Forest::fit_hist`], one tree per rayon task (the same forest).
    ///
    /// # Errors
    /// As [`Forest::fit_hist`].
    #[cfg(feature = "std")]
    pub fn fit_hist_parallel(
        data: &Dataset,
        params: &ForestParams,
        max_bins: usize,
    ) -> Result<Forest, ForestError> {
        use rayon::prelude::*;
        Self::fit_hist_with(data, params, max_bins, |setup| {
            (0..params.n_trees)
                .into_par_iter()
                .map(|t| setup.grow(params, t))
                .collect()
        })
    }
}

#[cfg(test)]
#[path = "hist_tests.rs"]
mod tests;
