//! Random-forest regression: CART trees with the squared-error criterion, grown on
//! bootstrap samples (L. Breiman, "Random Forests", Machine Learning 45, 2001; CART:
//! Breiman, Friedman, Olshen, Stone, "Classification and Regression Trees", 1984).
//!
//! Everything here is deterministic for a given [`ForestParams::seed`], so every path
//! (native, wasm guest, GPU kernels) grows the same forest. The building blocks are
//! the reference for the ML kernels of the GPU backends and of `wasi:gpu`:
//!
//! - **bootstrap-sample** ([`bootstrap_counts`]): tree `t` draws `n` row indices with
//!   `Pcg32::new(seed, 2·t)`, each `below(n)`; the counts are the sample weights.
//! - **find-split** ([`find_split`]): the best (feature, threshold) of one node, defined
//!   exactly below so that every backend picks the same one.
//! - **average** / **batch-predict** ([`Forest::predict`]): the mean of the trees'
//!   leaf values for each row.
//!
//! `Forest::fit_on` / `Forest::predict_on` (module `forest_gpu`, feature `std`) train and
//! predict through a GPU backend's kernels and give the same forest and predictions.
//! On the CPU, [`Forest::predict`] (one thread) and [`Forest::predict_par`] (rayon,
//! feature `std`) walk a packed, cache-friendly copy of the trees (module [`predict`],
//! [`PackedForest`]) and give [`Forest::predict_row`]'s answers bit for bit.
//!
//! ## How a split is chosen
//! A node holds rows with weights (bootstrap counts). For each candidate feature, in
//! the order drawn, rows are ordered by value (`f32`, ties by row index); a split may
//! fall between two consecutive *distinct* values `lo < hi`, at the threshold
//! `lo + (hi − lo)·0.5` computed in `f32` (or `lo` if rounding reaches `hi`); rows with
//! `x ≤ threshold` go left. Both sides must hold at least `min_samples_leaf` weight.
//! The score is `S_L²/W_L + S_R²/W_R` (S: weighted sum of targets, W: weight; sums in
//! `f64` added in that order), which is maximal where the summed squared error of the
//! children is minimal. The highest score wins; an exact tie keeps the earlier one
//! (earlier candidate feature, then lower threshold).
//!
//! Candidate features: all `d` in order `0..d` when `max_features` is `None` or `d`,
//! else `max_features` distinct features drawn per node by a partial Fisher–Yates
//! shuffle with a generator of the node's own, `Pcg32::new(seed ^ key, 2·t + 1)`, where
//! `key` names the node's path from the root: the root's key is 0 and a child's key is
//! [`child_key`]`(parent key, side)` (a splitmix64 hash of the parent's key and the side).
//! The draw therefore depends only on (seed, tree, path), not on the order in which nodes
//! are grown, so a level-by-level grower (GPU training, `forest_gpu`) draws the
//! same candidates as the depth-first one here.
//!
//! A node becomes a leaf when it reaches `max_depth`, holds less than
//! `min_samples_split` weight, has (numerically) constant targets, or has no valid
//! split. The node's value is the weighted mean of its targets, with the sums
//! `W = Σw`, `S = Σw·y`, `S2 = Σw·y²` taken in `f64` over its rows in feature 0's
//! order; "constant" means `S2 − S·(S/W) ≤ 1e-12·max(|S2|, 1)` ([`node_summary`]).
//! Nodes are numbered in creation order (children after their parent, left then right)
//! and grown depth first, left first.

use alloc::vec;
use alloc::vec::Vec;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::data::Dataset;
use crate::rng::Pcg32;
use crate::tree::scan_feature;
pub use crate::tree::{bootstrap_counts, Split};

mod grow;
pub mod hist;
use grow::{grow_tree, Presorted, Scratch};

pub mod predict;
pub mod words;
pub mod xgboost;
pub use hist::{HistBins, HistNode, HistRules, HistSetup, QuantizedTargets};
pub use predict::{PackedForest, BLOCK_ROWS, COMPILE_NODES_PER_ROW, LANES};
pub use words::{PackedWords, NODE_WORDS, TREE_WORDS};
pub use xgboost::XgbModel;

/// Hyperparameters of [`Forest::fit`] (names as in scikit-learn's
/// `RandomForestRegressor`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ForestParams {
    /// Number of trees (default 200).
    pub n_trees: usize,
    /// Features considered per node: `None` = all (scikit-learn's default for
    /// regression), else `1..=d`.
    pub max_features: Option<usize>,
    /// Maximum depth (root = 0): `None` = unlimited.
    pub max_depth: Option<usize>,
    /// A node with less weight than this is not split (default 2, at least 2).
    pub min_samples_split: usize,
    /// Least weight on each side of a split (default 1, at least 1).
    pub min_samples_leaf: usize,
    /// Draw a bootstrap sample per tree (default true); false = every row once.
    pub bootstrap: bool,
    /// Seed of every random choice.
    pub seed: u64,
}

impl Default for ForestParams {
    fn default() -> Self {
        ForestParams {
            n_trees: 200,
            max_features: None,
            max_depth: None,
            min_samples_split: 2,
            min_samples_leaf: 1,
            bootstrap: true,
            seed: 42,
        }
    }
}

/// Why a forest could not be trained or used.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ForestError {
    /// `n_trees` is 0.
    #[error("n_trees must be at least 1")]
    NoTrees,
    /// `max_features` is 0 or over the number of features.
    #[error("max_features must be in 1..={d}, got {got}")]
    MaxFeatures {
        /// Given value.
        got: usize,
        /// Number of features.
        d: usize,
    },
    /// `min_samples_leaf` is 0.
    #[error("min_samples_leaf must be at least 1")]
    MinSamplesLeaf,
    /// `min_samples_split` is below 2.
    #[error("min_samples_split must be at least 2, got {0}")]
    MinSamplesSplit(usize),
    /// The training set has no rows or no features.
    #[error("training data is empty ({rows} rows, {features} features)")]
    EmptyData {
        /// Rows.
        rows: usize,
        /// Features.
        features: usize,
    },
    /// A training feature value is NaN or infinite: no threshold separates it (the split
    /// rule's midpoint would be NaN), so such data are refused before training.
    #[error("training data: x[{row}][{feature}] is {value}, not a finite number")]
    NonFinite {
        /// Row (0-based).
        row: usize,
        /// Feature (0-based).
        feature: usize,
        /// The value, as text (`NaN`, `inf`, `-inf`).
        value: alloc::string::String,
    },
    /// A target is NaN or infinite (or the targets' range overflows f64), which histogram
    /// mode cannot quantize ([`hist::QuantizedTargets`]).
    #[error("training data: y[{row}] is not a finite number (or the targets' range overflows)")]
    NonFiniteTarget {
        /// Row (0-based).
        row: usize,
    },
    /// Histogram mode was asked for fewer or more than 2..=256 bins per feature.
    #[error("max_bins must be in 2..=256, got {0}")]
    MaxBins(usize),
    /// Histogram mode considers every feature at each node, so `max_features` must be
    /// `None` or the number of features.
    #[error(
        "histogram mode considers every feature at each node: max_features must be unset or d"
    )]
    HistMaxFeatures,
    /// Rows given to predict have the wrong width.
    #[error("input has {got} values, not a multiple of the forest's {d} features")]
    Width {
        /// Values given.
        got: usize,
        /// Features the forest was trained on.
        d: usize,
    },
    /// A tree is not a proper tree, so the forest does not compile into a
    /// [`PackedForest`] ([`Forest::compile`]): an empty tree, arrays of unequal length, a
    /// child index out of range or reached twice, a split feature not below
    /// `n_features`, or more nodes than a packed forest indexes.
    #[error("tree {tree}, node {node}: not a proper tree over the forest's features")]
    BadTree {
        /// Tree (0-based).
        tree: usize,
        /// Node of that tree (0-based) where the problem was found.
        node: usize,
    },
    /// A GPU backend failed while training or predicting ([`Forest::fit_on`],
    /// [`Forest::predict_on`]).
    #[cfg(feature = "std")]
    #[error("GPU backend: {0}")]
    Gpu(crate::gpu::GpuError),
}

/// One regression tree as flat arrays indexed by node id (root = 0). A leaf has
/// `feature == -1` and `left == right == -1`; an inner node sends a row left when
/// `x[feature] <= threshold`. Children ids are absolute within the tree.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Tree {
    /// Split feature per node, -1 for a leaf.
    pub feature: Vec<i32>,
    /// Split threshold per node (0 for a leaf).
    pub threshold: Vec<f32>,
    /// Left child per node, -1 for a leaf.
    pub left: Vec<i32>,
    /// Right child per node, -1 for a leaf.
    pub right: Vec<i32>,
    /// Mean target of the node's (weighted) rows: the prediction at a leaf.
    pub value: Vec<f32>,
}

impl Tree {
    /// Number of nodes.
    pub fn len(&self) -> usize {
        self.feature.len()
    }

    /// True when the tree has no node (never the case for a trained tree).
    pub fn is_empty(&self) -> bool {
        self.feature.is_empty()
    }

    /// The leaf value this tree gives `row` (`row.len()` ≥ the features used).
    pub fn predict_row(&self, row: &[f32]) -> f32 {
        let mut i = 0usize;
        while self.feature[i] >= 0 {
            let f = self.feature[i] as usize;
            i = if row[f] <= self.threshold[i] {
                self.left[i] as usize
            } else {
                self.right[i] as usize
            };
        }
        self.value[i]
    }

    fn push_node(&mut self, value: f32) -> usize {
        self.feature.push(-1);
        self.threshold.push(0.0);
        self.left.push(-1);
        self.right.push(-1);
        self.value.push(value);
        self.feature.len() - 1
    }

    /// The same tree with node `i` moved to `id(i)` (`id` a permutation of `0..len` that
    /// keeps the root at 0); tests use it to check that nothing depends on node order.
    #[cfg(test)]
    pub(crate) fn renumbered(&self, id: impl Fn(usize) -> usize) -> Tree {
        let n = self.len();
        let mut s = Tree {
            feature: vec![0; n],
            threshold: vec![0.0; n],
            left: vec![0; n],
            right: vec![0; n],
            value: vec![0.0; n],
        };
        let child = |c: i32| if c < 0 { -1 } else { id(c as usize) as i32 };
        for old in 0..n {
            let new = id(old);
            s.feature[new] = self.feature[old];
            s.threshold[new] = self.threshold[old];
            s.value[new] = self.value[old];
            s.left[new] = child(self.left[old]);
            s.right[new] = child(self.right[old]);
        }
        s
    }
}

/// A trained forest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Forest {
    /// Features per row the forest expects.
    pub n_features: usize,
    /// The trees, in training order.
    pub trees: Vec<Tree>,
}

/// Renumbers a tree whose root is node 0 into `grow_tree`'s order: nodes in creation order
/// of a depth-first, left-first growth, the two children of a node numbered together when
/// the node is split. Node contents (feature, threshold, value) are unchanged; nodes not
/// reachable from the root are dropped. A pure function: `renumber_depth_first` of any
/// renumbering of a trained tree gives the trained tree back.
pub fn renumber_depth_first(t: &Tree) -> Tree {
    let mut out = Tree::default();
    if t.is_empty() {
        return out;
    }
    out.feature.push(-1);
    out.threshold.push(0.0);
    out.left.push(-1);
    out.right.push(-1);
    out.value.push(t.value[0]);
    let mut stack = vec![(0usize, 0usize)];
    while let Some((old, new)) = stack.pop() {
        if t.feature[old] < 0 {
            continue;
        }
        let (lo, ro) = (t.left[old] as usize, t.right[old] as usize);
        let l = out.len();
        for &c in &[lo, ro] {
            out.feature.push(-1);
            out.threshold.push(0.0);
            out.left.push(-1);
            out.right.push(-1);
            out.value.push(t.value[c]);
        }
        out.feature[new] = t.feature[old];
        out.threshold[new] = t.threshold[old];
        out.left[new] = l as i32;
        out.right[new] = l as i32 + 1;
        stack.push((ro, l + 1));
        stack.push((lo, l));
    }
    out
}

/// The reference find-split: the best split of the node holding `rows` (row indices of
/// `data`, weights `weights[i]` for `rows[i]`, all > 0) over `candidates` (feature
/// indices, in that order), each side holding at least `min_leaf` weight. `None` when
/// no split is valid. Sorts per call; training uses an equivalent presorted version.
///
/// # Panics
/// When `rows` and `weights` differ in length or an index is out of range.
pub fn find_split(
    data: &Dataset,
    rows: &[u32],
    weights: &[u32],
    candidates: &[usize],
    min_leaf: u64,
) -> Option<Split> {
    assert_eq!(
        rows.len(),
        weights.len(),
        "rows and weights differ in length"
    );
    let mut w_of = vec![0u32; data.n_rows];
    for (&r, &w) in rows.iter().zip(weights) {
        w_of[r as usize] = w;
    }
    let mut best: Option<Split> = None;
    let mut sorted: Vec<u32> = rows.to_vec();
    for &f in candidates {
        sorted.sort_by(|&a, &b| {
            data.x[a as usize * data.n_features + f]
                .total_cmp(&data.x[b as usize * data.n_features + f])
                .then(a.cmp(&b))
        });
        scan_feature(
            &data.x,
            &data.y,
            data.n_features,
            f,
            &sorted,
            &w_of,
            min_leaf,
            &mut best,
        );
    }
    best
}

impl ForestParams {
    /// Checks the hyperparameters against a data set with `d` features.
    ///
    /// # Errors
    /// The first [`ForestError`] found.
    pub fn validate(&self, d: usize) -> Result<(), ForestError> {
        if self.n_trees == 0 {
            return Err(ForestError::NoTrees);
        }
        if let Some(m) = self.max_features {
            if m == 0 || m > d {
                return Err(ForestError::MaxFeatures { got: m, d });
            }
        }
        if self.min_samples_leaf == 0 {
            return Err(ForestError::MinSamplesLeaf);
        }
        if self.min_samples_split < 2 {
            return Err(ForestError::MinSamplesSplit(self.min_samples_split));
        }
        Ok(())
    }
}

/// Each feature's rows in value order: `d × n_rows` row indices, where entry `f·n_rows + k`
/// is the k-th row when all rows are sorted by `(x[row·d + f], row)` (f32 `total_cmp`, ties by
/// row index). The `order` operand of the find-split kernel
/// ([`crate::gpu::FindSplitArgs`]); training presorts once per forest.
pub fn presort(data: &Dataset) -> Vec<u32> {
    let (n, d) = (data.n_rows, data.n_features);
    let mut out = Vec::with_capacity(n * d);
    for f in 0..d {
        let mut idx: Vec<u32> = (0..n as u32).collect();
        idx.sort_by(|&a, &b| {
            data.x[a as usize * d + f]
                .total_cmp(&data.x[b as usize * d + f])
                .then(a.cmp(&b))
        });
        out.extend_from_slice(&idx);
    }
    out
}

impl Forest {
    /// Trains a forest on `data` on the calling thread.
    ///
    /// # Errors
    /// [`ForestError`] for bad hyperparameters or empty data.
    pub fn fit(data: &Dataset, params: &ForestParams) -> Result<Forest, ForestError> {
        Self::check(data, params)?;
        let pre = Presorted::new(data);
        let mut scratch = Scratch::default();
        let trees = (0..params.n_trees)
            .map(|t| grow_tree(data, &pre, params, t as u64, &mut scratch))
            .collect();
        Ok(Forest {
            n_features: data.n_features,
            trees,
        })
    }

    /// Trains the same forest as [`Forest::fit`] (bit for bit), one tree per rayon task.
    ///
    /// # Errors
    /// As [`Forest::fit`].
    #[cfg(feature = "std")]
    pub fn fit_parallel(data: &Dataset, params: &ForestParams) -> Result<Forest, ForestError> {
        use rayon::prelude::*;
        Self::check(data, params)?;
        let pre = Presorted::new(data);
        let trees = (0..params.n_trees)
            .into_par_iter()
            .map_init(Scratch::default, |s, t| {
                grow_tree(data, &pre, params, t as u64, s)
            })
            .collect();
        Ok(Forest {
            n_features: data.n_features,
            trees,
        })
    }

    pub(crate) fn check(data: &Dataset, params: &ForestParams) -> Result<(), ForestError> {
        Self::check_data(data)?;
        params.validate(data.n_features)
    }

    /// Refuses an empty data set or a non-finite feature value.
    pub(crate) fn check_data(data: &Dataset) -> Result<(), ForestError> {
        if data.n_rows == 0 || data.n_features == 0 {
            return Err(ForestError::EmptyData {
                rows: data.n_rows,
                features: data.n_features,
            });
        }
        if let Some(i) = data.x.iter().position(|v| !v.is_finite()) {
            return Err(ForestError::NonFinite {
                row: i / data.n_features,
                feature: i % data.n_features,
                value: alloc::format!("{}", data.x[i]),
            });
        }
        Ok(())
    }

    /// Predicts `x` (`n × n_features` values, row-major) on the calling thread: for each
    /// row the mean over trees of the leaf values, summed in `f64` in tree order
    /// ([`Forest::predict_row`]'s value, bit for bit). Returns `n` values.
    ///
    /// With enough rows to repay it ([`COMPILE_NODES_PER_ROW`]) it compiles the forest
    /// ([`Forest::compile`]) and walks blocks of rows through one tree at a time (module
    /// `forest::predict`); fewer rows, or a forest that does not compile, go row by row.
    /// To predict many batches, compile once and use [`PackedForest::predict`].
    ///
    /// # Errors
    /// [`ForestError::Width`] when `x.len()` is not a multiple of `n_features`.
    pub fn predict(&self, x: &[f32]) -> Result<Vec<f64>, ForestError> {
        let d = self.n_features;
        if d == 0 || !x.len().is_multiple_of(d) {
            return Err(ForestError::Width { got: x.len(), d });
        }
        if self.worth_compiling(x.len() / d) {
            if let Ok(p) = self.compile() {
                return p.predict(x);
            }
        }
        Ok(x.chunks_exact(d).map(|row| self.predict_row(row)).collect())
    }

    /// The prediction for one row of `n_features` values.
    pub fn predict_row(&self, row: &[f32]) -> f64 {
        let s: f64 = self.trees.iter().map(|t| t.predict_row(row) as f64).sum();
        s / self.trees.len() as f64
    }
}

/// Mean squared error of `pred` against `y` (equal lengths; 0 for empty input).
pub fn mse(pred: &[f64], y: &[f64]) -> f64 {
    if y.is_empty() {
        return 0.0;
    }
    pred.iter()
        .zip(y)
        .map(|(p, t)| (p - t) * (p - t))
        .sum::<f64>()
        / y.len() as f64
}

/// Coefficient of determination R² = 1 − SS_res / SS_tot.
pub fn r2(pred: &[f64], y: &[f64]) -> f64 {
    let mean = y.iter().sum::<f64>() / y.len() as f64;
    let ss_tot: f64 = y.iter().map(|t| (t - mean) * (t - mean)).sum();
    1.0 - mse(pred, y) * y.len() as f64 / ss_tot
}

/// The key of a node's child (see the module docs): splitmix64 (S. Vigna's finaliser of
/// `SplittableRandom`, G. Steele, D. Lea, C. Flood, "Fast Splittable Pseudorandom Number
/// Generators", OOPSLA 2014) of the parent's key plus a constant per side
/// (`left` = true for the left child). The root's key is 0.
pub fn child_key(parent: u64, left: bool) -> u64 {
    let side = if left {
        0x9E37_79B9_7F4A_7C15
    } else {
        0xD1B5_4A32_D192_ED03
    };
    let mut z = parent.wrapping_add(side);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The candidate features of the node with path key `key` in tree `tree` (see the module
/// docs), in draw order, written to `out` (cleared first): `0..d` when `max_features` is
/// `None` or at least `d`, else `max_features` features drawn with
/// `Pcg32::new(seed ^ key, 2·tree + 1)`.
pub fn node_candidates(
    d: usize,
    max_features: Option<usize>,
    seed: u64,
    tree: u64,
    key: u64,
    out: &mut Vec<usize>,
) {
    out.clear();
    out.extend(0..d);
    let m = max_features.unwrap_or(d);
    if m >= d {
        return;
    }
    let mut rng = Pcg32::new(seed ^ key, 2 * tree + 1);
    let rng = &mut rng;
    for i in 0..m {
        let j = i + rng.below((d - i) as u32) as usize;
        out.swap(i, j);
    }
    out.truncate(m);
}

/// A node's value and whether it may be split (the leaf rules of the module docs):
/// `rows` are the node's rows in feature 0's order (weights `w_of[row]` > 0), `depth` its
/// depth (root 0). Returns the weighted mean of the targets as f32 and `false` when the
/// node reaches `max_depth`, holds less than `min_samples_split` weight or has
/// (numerically) constant targets.
pub fn node_summary(
    y: &[f64],
    rows: &[u32],
    w_of: &[u32],
    depth: usize,
    p: &ForestParams,
) -> (f32, bool) {
    let (w, s, s2) = summarize(y, rows, w_of);
    leaf_rule(w, s, s2, depth, p)
}

/// `(W, S, S2) = (Σw, Σw·y, Σw·y²)` over `rows` in the given order (`S`, `S2` in `f64`,
/// added left to right from 0): the sums of [`node_summary`].
fn summarize(y: &[f64], rows: &[u32], w_of: &[u32]) -> (u64, f64, f64) {
    let (mut w, mut s, mut s2) = (0u64, 0.0f64, 0.0f64);
    for &r in rows {
        let (wr, y) = (w_of[r as usize] as u64, y[r as usize]);
        w += wr;
        s += wr as f64 * y;
        s2 += wr as f64 * y * y;
    }
    (w, s, s2)
}

/// The leaf rules of [`node_summary`] on a node's sums (`w` weight, `s` = Σw·y,
/// `s2` = Σw·y²) at depth `depth`: (weighted mean as f32, may be split).
fn leaf_rule(w: u64, s: f64, s2: f64, depth: usize, p: &ForestParams) -> (f32, bool) {
    let mean = s / w as f64;
    let sse = s2 - s * mean;
    let leaf = p.max_depth.is_some_and(|md| depth >= md)
        || w < p.min_samples_split as u64
        || sse <= 1e-12 * s2.abs().max(1.0);
    (mean as f32, !leaf)
}

#[cfg(test)]
mod tests;
