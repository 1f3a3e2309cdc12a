//! Fast prediction (re-exported in [`crate::forest`]): the forest compiled once into a
//! cache-friendly node array ([`PackedForest`]), walked a block of rows at a time, on
//! one thread ([`PackedForest::predict`], behind [`Forest::predict`]) or on all cores
//! ([`PackedForest::predict_par`], [`Forest::predict_par`]; feature `std`).
//!
//! ## Layout
//! Every tree of the forest lives in one array of 16-byte nodes (threshold, feature,
//! left child, value), four to a 64-byte cache line, the trees one after the other, each
//! in as many slots as it has nodes (unreachable ones leave unused slots). A node's two children are adjacent (the right child is `left + 1`), so one
//! index names both, and the pairs are placed depth first, left subtree first (as the
//! depth-first layout of cuML's Forest Inference Library): the root, the root's pair,
//! then the pairs of the left child's subtree, then those of the right child's. A step
//! is therefore `next = left + !(x[feature] <= threshold)` with no branch. A leaf points
//! at itself (`left` = its own index − 1, `threshold` = NaN, so the comparison is always
//! false and `next` = itself), so a row may take more steps than its path is long. Each
//! tree also records its depth (root to deepest leaf).
//!
//! ## Blocking
//! Rows are taken [`BLOCK_ROWS`] at a time: the block goes through tree 0, then tree 1,
//! …, so one tree (about 20 KiB for 1,264 nodes) stays in L1/L2 while every row of the
//! block walks it, and the block's rows (`BLOCK_ROWS · d` `f32`, 20 KiB for d = 10) stay
//! in L2 across trees. Inside the block [`LANES`] rows walk a tree together: all of them
//! take exactly the tree's depth in steps, interleaved, so the CPU overlaps their
//! independent chains of loads, and no branch depends on where a row goes (the loop trip
//! count is fixed per tree; waiting for the last row to stop moving costs a mispredicted
//! exit per group and measured slower). Rows left over at the end (fewer than
//! [`LANES`]) walk one at a time until they stay put.
//!
//! ## Threads
//! [`PackedForest::predict_par`] hands rayon chunks of whole blocks, about four per
//! thread; every row is still walked by one thread only, in tree order.
//!
//! ## Same answers
//! Each row keeps its own `f64` accumulator, to which tree `t`'s leaf value (as `f64`) is
//! added after tree `t − 1`'s: the sum is formed in tree order from the same start as
//! [`Forest::predict_row`] (`Iterator::sum` of `f64`), then divided by the tree count, so
//! every prediction equals the per-row walk bit for bit, on any number of threads.
//!
//! ## Building it
//! [`Forest::compile`] builds the packed form (one pass over the nodes, a few
//! milliseconds for 250,000 nodes; [`PackedForest::new_par`] packs the trees in
//! parallel, as [`Forest::predict_par`] does). [`Forest::predict`] compiles on every call
//! with enough rows to repay it ([`COMPILE_NODES_PER_ROW`]; with fewer the per-row walk
//! is faster) and keeps nothing (a [`Forest`] has public fields, so a cached copy could
//! go stale); call [`Forest::compile`] once and predict through the [`PackedForest`] to
//! pay for it once. A forest whose trees are not proper trees (a child index out of
//! range, a node reached twice, a feature outside the row, an empty tree, over 2³¹
//! nodes) does not compile ([`ForestError::BadTree`]); `Forest::predict` and
//! `Forest::predict_par` then use the per-row walk, which behaves as it always did.

use alloc::vec;
use alloc::vec::Vec;

use super::{Forest, ForestError, Tree};

/// Rows walked through one tree before the next tree is taken (see the module docs; 512
/// and 1024 measured about equal, 128 slower).
pub const BLOCK_ROWS: usize = 512;

/// Rows that walk one tree in lock step (16 measured best of 4, 8, 12, 16, 32).
pub const LANES: usize = 16;

/// [`Forest::predict`] compiles the forest when the input has at least one row per
/// `COMPILE_NODES_PER_ROW` nodes of the average tree (rows · 16 · trees ≥ nodes); fewer
/// rows go row by row. About where compiling starts to pay: compiling costs some 8 ns a
/// node, while the per-row walk spends over 100 ns per row and tree that the packed walk
/// mostly saves (a 2-core x86-64 VM, 200-tree forests of 435 and 1,264 nodes a tree).
pub const COMPILE_NODES_PER_ROW: usize = 16;

/// One node of a [`PackedForest`]: 16 bytes. Equality is bitwise (leaf thresholds are
/// NaN).
#[derive(Debug, Clone, Copy)]
#[repr(C)]
pub(super) struct Node {
    /// Split threshold (a row goes left when `x[feature] <= threshold`); NaN for a leaf.
    pub(super) threshold: f32,
    /// Split feature; 0 for a leaf.
    pub(super) feature: u32,
    /// Index of the left child in the packed node array (the right one is `left + 1`);
    /// for a leaf its own index − 1 (wrapping), so that a step stays on it.
    pub(super) left: u32,
    /// The node's value as trained (the prediction at a leaf).
    pub(super) value: f32,
}

impl PartialEq for Node {
    fn eq(&self, o: &Node) -> bool {
        self.threshold.to_bits() == o.threshold.to_bits()
            && self.feature == o.feature
            && self.left == o.left
            && self.value.to_bits() == o.value.to_bits()
    }
}

impl Node {
    /// The node a row with value `v` at this node's feature goes to: the left child when
    /// `v <= threshold`, else the right one (`left + 1`), so NaN goes right, as in
    /// [`Tree::predict_row`]; a leaf (NaN threshold) gives itself.
    #[inline(always)]
    #[allow(clippy::neg_cmp_op_on_partial_ord)] // `!(v <= t)` is true for NaN, `v > t` is not
    fn step(self, v: f32) -> u32 {
        self.left.wrapping_add(u32::from(!(v <= self.threshold)))
    }
}

/// A [`Forest`] compiled for fast prediction (see the module docs for the layout): built
/// by [`Forest::compile`], it predicts exactly what [`Forest::predict`] does. Two are
/// equal when their node arrays are bit for bit.
#[derive(Debug, Clone, PartialEq)]
pub struct PackedForest {
    n_features: usize,
    /// All trees' nodes.
    nodes: Vec<Node>,
    /// Each tree's root (index in `nodes`) and depth (steps from the root to its
    /// deepest leaf), in tree order.
    roots: Vec<[u32; 2]>,
}

/// Most nodes a packed forest holds (indices are `u32`, and a leaf's `left` is one less
/// than its own index).
const MAX_NODES: usize = i32::MAX as usize;

impl PackedForest {
    /// Compiles `forest` (see [`Forest::compile`]).
    ///
    /// # Errors
    /// [`ForestError::NoTrees`] for a forest without trees, [`ForestError::BadTree`] for a
    /// tree that is not a proper tree over `n_features` features.
    pub fn new(forest: &Forest) -> Result<PackedForest, ForestError> {
        Self::build(forest, |parts| {
            let mut scratch = Scratch::default();
            parts
                .into_iter()
                .map(|p| p.pack(forest.n_features, &mut scratch))
                .collect()
        })
    }

    /// Compiles `forest` as [`PackedForest::new`] does (the same result), its trees
    /// packed in parallel on rayon's current pool.
    ///
    /// # Errors
    /// As [`PackedForest::new`] (when several trees are bad, which one is named may
    /// differ).
    #[cfg(feature = "std")]
    pub fn new_par(forest: &Forest) -> Result<PackedForest, ForestError> {
        use rayon::prelude::*;
        Self::build(forest, |parts| {
            parts
                .into_par_iter()
                .map_init(Scratch::default, |s, p| p.pack(forest.n_features, s))
                .collect()
        })
    }

    /// Lays out the node array (each tree gets as many slots as it has nodes, in tree
    /// order) and has `pack` fill every tree's slots, returning the depths in tree order.
    fn build(
        forest: &Forest,
        pack: impl FnOnce(Vec<Part<'_>>) -> Result<Vec<u32>, ForestError>,
    ) -> Result<PackedForest, ForestError> {
        if forest.trees.is_empty() {
            return Err(ForestError::NoTrees);
        }
        let total: usize = forest.trees.iter().map(Tree::len).sum();
        if total > MAX_NODES {
            return Err(ForestError::BadTree {
                tree: 0,
                node: MAX_NODES,
            });
        }
        let mut nodes = vec![FILLER; total];
        let mut bases = Vec::with_capacity(forest.trees.len());
        let mut parts = Vec::with_capacity(forest.trees.len());
        let mut rest = &mut nodes[..];
        let mut base = 0usize;
        for (index, tree) in forest.trees.iter().enumerate() {
            let (out, tail) = rest.split_at_mut(tree.len());
            rest = tail;
            bases.push(base as u32);
            parts.push(Part {
                index,
                tree,
                out,
                base: base as u32,
            });
            base += tree.len();
        }
        let depths = pack(parts)?;
        Ok(PackedForest {
            n_features: forest.n_features,
            nodes,
            roots: bases.into_iter().zip(depths).map(|(b, d)| [b, d]).collect(),
        })
    }

    /// Features per row.
    pub fn n_features(&self) -> usize {
        self.n_features
    }

    /// Number of trees.
    pub fn n_trees(&self) -> usize {
        self.roots.len()
    }

    /// Number of node slots, all trees together: each tree's node count (slots of nodes
    /// no row can reach stay unused).
    pub fn n_nodes(&self) -> usize {
        self.nodes.len()
    }

    /// Predicts `x` (`n × n_features` values, row-major) on the calling thread: the same
    /// `n` values as [`Forest::predict`], bit for bit.
    ///
    /// # Errors
    /// [`ForestError::Width`] when `x.len()` is not a multiple of `n_features`.
    pub fn predict(&self, x: &[f32]) -> Result<Vec<f64>, ForestError> {
        let n = self.rows(x)?;
        let mut out = vec![0.0; n];
        self.view().predict_into(x, &mut out);
        Ok(out)
    }

    /// Predicts `x` as [`PackedForest::predict`] does (the same bits), its rows split
    /// into chunks of whole blocks over the threads of rayon's current pool (one rayon
    /// task per chunk; each row is still summed on one thread in tree order, so the answer
    /// does not depend on the number of threads). Below two blocks of rows it runs on the
    /// calling thread.
    ///
    /// # Errors
    /// [`ForestError::Width`] when `x.len()` is not a multiple of `n_features`.
    #[cfg(feature = "std")]
    pub fn predict_par(&self, x: &[f32]) -> Result<Vec<f64>, ForestError> {
        use rayon::prelude::*;
        let n = self.rows(x)?;
        let mut out = vec![0.0; n];
        let chunk = par_chunk_rows(n, rayon::current_num_threads());
        let view = self.view();
        if n <= chunk {
            view.predict_into(x, &mut out);
        } else {
            let d = self.n_features;
            out.par_chunks_mut(chunk)
                .zip(x.par_chunks(chunk * d))
                .for_each(|(o, xs)| view.predict_into(xs, o));
        }
        Ok(out)
    }

    /// Rows in `x`, or the width error.
    fn rows(&self, x: &[f32]) -> Result<usize, ForestError> {
        let d = self.n_features;
        if d == 0 || !x.len().is_multiple_of(d) {
            return Err(ForestError::Width { got: x.len(), d });
        }
        Ok(x.len() / d)
    }

    /// The borrowed form every walk goes through.
    pub(super) fn view(&self) -> View<'_> {
        View {
            d: self.n_features,
            nodes: &self.nodes,
            roots: &self.roots,
        }
    }
}

/// A packed forest borrowed: from a [`PackedForest`] or from words
/// ([`super::words::PackedWords`]). Invariant (what the walk's unchecked reads rely on):
/// every root is below `nodes.len()`, every node's feature is below `d`, and every
/// node's `left + 1` (wrapping where the threshold is NaN, as a leaf's is) is below
/// `nodes.len()`, so that every step stays inside `nodes`.
#[derive(Clone, Copy)]
pub(super) struct View<'a> {
    pub(super) d: usize,
    pub(super) nodes: &'a [Node],
    pub(super) roots: &'a [[u32; 2]],
}

impl View<'_> {
    /// Writes the predictions of the rows of `x` (a whole number of rows) to `out`.
    pub(super) fn predict_into(&self, x: &[f32], out: &mut [f64]) {
        let d = self.d;
        debug_assert_eq!(x.len(), out.len() * d);
        let trees = self.roots.len() as f64;
        // The start of `Iterator::sum` for f64 (the reference's), so empty sums and
        // signed zeros come out the same.
        let zero: f64 = core::iter::empty::<f64>().sum();
        let mut acc = [0.0f64; BLOCK_ROWS];
        for (xb, ob) in x.chunks(BLOCK_ROWS * d).zip(out.chunks_mut(BLOCK_ROWS)) {
            let rows = ob.len();
            let acc = &mut acc[..rows];
            acc.fill(zero);
            for &[root, depth] in self.roots {
                self.walk_block(root, depth, xb, acc);
            }
            for (o, a) in ob.iter_mut().zip(acc.iter()) {
                *o = *a / trees;
            }
        }
    }

    /// Adds the leaf value of the tree at `root` (of depth `depth`) to `acc[i]` for each
    /// row `i` of `xb`. Groups of [`LANES`] rows take `depth` steps in lock step (a row
    /// that reaches its leaf earlier stays on it): a fixed trip count, so no branch
    /// depends on where the rows go.
    #[inline]
    fn walk_block(&self, root: u32, depth: u32, xb: &[f32], acc: &mut [f64]) {
        let d = self.d;
        let nodes = self.nodes;
        let mut lanes = xb.chunks_exact(LANES * d);
        let mut accs = acc.chunks_exact_mut(LANES);
        for (xs, a) in (&mut lanes).zip(&mut accs) {
            let mut idx = [root; LANES];
            for _ in 0..depth {
                for (k, i) in idx.iter_mut().enumerate() {
                    debug_assert!((*i as usize) < nodes.len());
                    // SAFETY: `i` starts at a root and each step goes to a child or stays
                    // on a leaf, in range by the invariant of `View`.
                    let n = unsafe { *nodes.get_unchecked(*i as usize) };
                    debug_assert!(k * d + (n.feature as usize) < xs.len());
                    // SAFETY: `xs` holds LANES rows of d values, k < LANES, and every
                    // feature is below d by the invariant of `View`.
                    let v = unsafe { *xs.get_unchecked(k * d + n.feature as usize) };
                    *i = n.step(v);
                }
            }
            for (a, &i) in a.iter_mut().zip(&idx) {
                *a += nodes[i as usize].value as f64;
            }
        }
        // The rows left over take the same `depth` steps, one row at a time (a valid
        // tree's rows all sit on their leaves by then; a bound, not a loop until still,
        // so a forest from words with a cycle cannot hang here).
        for (row, a) in lanes.remainder().chunks_exact(d).zip(accs.into_remainder()) {
            let mut i = root;
            for _ in 0..depth {
                let n = nodes[i as usize];
                i = n.step(row[n.feature as usize]);
            }
            *a += nodes[i as usize].value as f64;
        }
    }
}

/// Rows per rayon task for `n` rows on `threads` threads: about four tasks per thread,
/// a whole number of blocks, at least two blocks.
#[cfg(feature = "std")]
pub(super) fn par_chunk_rows(n: usize, threads: usize) -> usize {
    let per = n.div_ceil(4 * threads.max(1));
    per.div_ceil(BLOCK_ROWS).max(2) * BLOCK_ROWS
}

/// Packs `tree` into `out` (as long as the tree; slots past its reachable nodes stay
/// filler) in the packed layout, `base` being the index of `out[0]` in the forest's node
/// array, and returns its depth (steps from the root to the deepest leaf). `Err(node)`
/// names the first node (index in `tree`) found that makes it no proper tree.
fn pack_tree(
    tree: &Tree,
    d: usize,
    out: &mut [Node],
    base: u32,
    scratch: &mut Scratch,
) -> Result<u32, usize> {
    let len = tree.len();
    if len == 0
        || tree.threshold.len() != len
        || tree.left.len() != len
        || tree.right.len() != len
        || tree.value.len() != len
    {
        return Err(0);
    }
    debug_assert_eq!(out.len(), len);
    let Scratch { seen, stack } = scratch;
    seen.clear();
    seen.resize(len, false);
    seen[0] = true;
    stack.clear();
    // (node of `tree`, its slot in `out`, its depth), children pushed right first so the
    // left subtree's pairs come first. Each slot handed out belongs to a distinct node of
    // `tree`, so at most `len` are.
    stack.push((0, 0, 0));
    let mut used = 1usize;
    let mut max_depth = 0;
    while let Some((i, slot, depth)) = stack.pop() {
        let f = tree.feature[i];
        if f < 0 {
            out[slot] = leaf(base, slot, tree.value[i]);
            max_depth = max_depth.max(depth);
            continue;
        }
        if f as usize >= d {
            return Err(i);
        }
        let mut child = |c: i32| -> Result<usize, usize> {
            let c = usize::try_from(c).map_err(|_| i)?;
            match seen.get_mut(c) {
                Some(s) if !*s => {
                    *s = true;
                    Ok(c)
                }
                _ => Err(i),
            }
        };
        let (l, r) = (child(tree.left[i])?, child(tree.right[i])?);
        let pair = used;
        used += 2;
        out[slot] = Node {
            threshold: tree.threshold[i],
            feature: f as u32,
            left: base + pair as u32,
            value: tree.value[i],
        };
        stack.push((r, pair + 1, depth + 1));
        stack.push((l, pair, depth + 1));
    }
    Ok(max_depth)
}

/// One tree to pack: its index, the tree, its slots and the index of the first.
struct Part<'a> {
    index: usize,
    tree: &'a Tree,
    out: &'a mut [Node],
    base: u32,
}

impl Part<'_> {
    /// Packs the tree ([`pack_tree`]): its depth, or the error naming it.
    fn pack(self, d: usize, scratch: &mut Scratch) -> Result<u32, ForestError> {
        pack_tree(self.tree, d, self.out, self.base, scratch).map_err(|node| ForestError::BadTree {
            tree: self.index,
            node,
        })
    }
}

/// Reusable buffers of [`pack_tree`].
#[derive(Default)]
struct Scratch {
    seen: Vec<bool>,
    stack: Vec<(usize, usize, u32)>,
}

/// A slot no walk reaches (a tree's slots past its reachable nodes).
const FILLER: Node = Node {
    threshold: f32::NAN,
    feature: 0,
    left: 0,
    value: 0.0,
};

/// A leaf at index `base + slot` with value `value`: it steps to itself.
fn leaf(base: u32, slot: usize, value: f32) -> Node {
    Node {
        threshold: f32::NAN,
        feature: 0,
        left: (base + slot as u32).wrapping_sub(1),
        value,
    }
}

impl Forest {
    /// Whether [`Forest::predict`] compiles the forest for `rows` rows
    /// ([`COMPILE_NODES_PER_ROW`]).
    pub(super) fn worth_compiling(&self, rows: usize) -> bool {
        let nodes: usize = self.trees.iter().map(Tree::len).sum();
        rows.saturating_mul(COMPILE_NODES_PER_ROW)
            .saturating_mul(self.trees.len())
            >= nodes
            && rows > 0
    }

    /// Compiles the forest into a [`PackedForest`] for fast prediction (see the module
    /// docs of `forest::predict` for the layout); predicting through it gives the same
    /// bits as [`Forest::predict`]. Build it once and keep it when predicting many
    /// batches: [`Forest::predict`] compiles anew on every call.
    ///
    /// # Errors
    /// [`ForestError::NoTrees`] for a forest without trees; [`ForestError::BadTree`] when
    /// a tree is not a proper tree (an empty tree, arrays of unequal length, a child index
    /// out of range or reached twice, a split feature not below `n_features`).
    pub fn compile(&self) -> Result<PackedForest, ForestError> {
        PackedForest::new(self)
    }

    /// Predicts `x` (`n × n_features` values, row-major) over all cores of rayon's
    /// current pool: the same `n` values as [`Forest::predict`], bit for bit, whatever
    /// the number of threads. It compiles the forest on each call (the trees in
    /// parallel, [`PackedForest::new_par`]), then runs [`PackedForest::predict_par`]; for
    /// repeated calls compile once and call that. A forest that does not compile is predicted row by row over the threads.
    ///
    /// # Errors
    /// [`ForestError::Width`] when `x.len()` is not a multiple of `n_features`.
    #[cfg(feature = "std")]
    pub fn predict_par(&self, x: &[f32]) -> Result<Vec<f64>, ForestError> {
        use rayon::prelude::*;
        let d = self.n_features;
        if d == 0 || !x.len().is_multiple_of(d) {
            return Err(ForestError::Width { got: x.len(), d });
        }
        match PackedForest::new_par(self) {
            Ok(p) => p.predict_par(x),
            Err(_) => Ok(x
                .par_chunks_exact(d)
                .map(|row| self.predict_row(row))
                .collect()),
        }
    }
}
