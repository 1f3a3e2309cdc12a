//! Random-forest training and prediction through the ML kernels of a [`GpuBackend`]
//! (bootstrap-sample, find-split, batch-predict), giving **the same forest bit for bit** as
//! [`Forest::fit`] and the same predictions as [`Forest::predict`].
//!
//! Training ([`Forest::fit_on`]) grows a batch of trees level by level:
//! 1. the data set `x` (f32), the targets `y` (f64) and the presort
//!    ([`crate::forest::presort`]) are uploaded once;
//! 2. per batch of trees the bootstrap weights come from the bootstrap-sample kernel and are
//!    read back (the host needs them for node values and partitions);
//! 3. per level the host computes each open node's value and leaf tests exactly as
//!    `grow_tree` does ([`node_summary`]: sums over the node's rows in feature 0's order),
//!    draws its candidate features ([`node_candidates`], traversal independent), writes
//!    `node_of` and `cand_rank`, launches find-split (in chunks of nodes bounded by the
//!    device's buffer limit), reads the [`SplitRecord`]s and partitions the rows stably;
//! 4. each tree, numbered level by level while grown, is renumbered into `grow_tree`'s
//!    depth-first creation order by [`renumber_depth_first`].
//!
//! Prediction ([`Forest::predict_on`], [`DeviceForest`]) uploads the trees as
//! [`ForestBuffers`] and runs batch-predict; in f64 where the device has it (equal to
//! [`Forest::predict`] bit for bit), else in f32 (sums of the leaf values in f32; close to,
//! not equal to, the f64 mean).
//!
//! This module is a user of [`GpuBackend`], above the backends: the argument checks of the
//! ML kernels live with the other checks in the `gpu` module's checking layer, and the tree
//! walk and the "no node" marker [`NONE`] that the cpu backend shares with it in the
//! crate's `tree` module.

mod hist;
pub use hist::{HIST_BATCH_BYTES, HIST_SCRATCH_ROW_BYTES};

use std::format;
use std::vec;
use std::vec::Vec;

use crate::data::Dataset;
use crate::forest::{
    child_key, node_candidates, node_summary, presort, Forest, ForestError, ForestParams, Tree,
};
use crate::gpu::{
    BufferId, DType, FindSplitArgs, ForestBuffers, GpuBackend, GpuError, Result as GpuResult,
    SplitRecord,
};

/// Bytes per (node, feature) pair that [`Forest::fit_on`] budgets for one find-split launch:
/// `cand_rank` (4), the node's share of the [`SplitRecord`]s, and a backend's scratch for
/// the per-(node, feature) running sums (the wgpu backend uses 48). Launches hold at most
/// `max_buffer_bytes / (64 · d)` nodes.
pub const NODE_FEATURE_BYTES: u64 = 64;

pub use crate::forest::renumber_depth_first;
pub use crate::tree::NONE;

// ---------------------------------------------------------------------------------------
// Training.

/// Frees the buffers it holds on every exit path of [`Forest::fit_on`].
struct Owned(Vec<BufferId>);

impl Owned {
    fn new_buf(&mut self, b: &mut dyn GpuBackend, bytes: u64) -> GpuResult<BufferId> {
        let id = b.create_buffer(bytes.max(4))?;
        self.0.push(id);
        Ok(id)
    }
    /// A buffer of at least `bytes`, replacing `*id` when it is too small.
    fn ensure(&mut self, b: &mut dyn GpuBackend, id: &mut BufferId, bytes: u64) -> GpuResult<()> {
        if *id != 0 && b.buffer_size(*id)? >= bytes {
            return Ok(());
        }
        if *id != 0 {
            b.destroy_buffer(*id)?;
            self.0.retain(|&x| x != *id);
        }
        *id = self.new_buf(b, bytes)?;
        Ok(())
    }
    fn free(self, b: &mut dyn GpuBackend) {
        for id in self.0 {
            let _ = b.destroy_buffer(id);
        }
    }
}

/// An open node of the level being grown.
struct Open {
    /// Tree within the batch.
    tree: usize,
    /// Node id in the tree's level-order numbering.
    node: usize,
    /// The node's rows (weight > 0) in feature 0's order.
    rows: Vec<u32>,
    depth: usize,
    key: u64,
}

impl From<GpuError> for ForestError {
    fn from(e: GpuError) -> Self {
        ForestError::Gpu(e)
    }
}

impl Forest {
    /// Trains on `backend` the forest [`Forest::fit`] trains (the same arrays, bit for bit),
    /// with the bootstrap weights and every node's split computed by the backend's ML kernels
    /// (see the module docs for the steps). Trees are grown in batches of at most
    /// `max_buffer_bytes / (4·n_rows)` trees; a level's find-split launch holds at most
    /// `max_buffer_bytes / (`[`NODE_FEATURE_BYTES`]`·d)` nodes.
    ///
    /// # Errors
    /// [`ForestError`] for bad hyperparameters or empty data (as `fit`), and
    /// [`ForestError::Gpu`] when a kernel or transfer fails (`Unsupported` on a backend
    /// without the ML kernels or without f64).
    pub fn fit_on(
        backend: &mut dyn GpuBackend,
        data: &Dataset,
        params: &ForestParams,
    ) -> Result<Forest, ForestError> {
        Self::check(data, params)?;
        let mut owned = Owned(Vec::new());
        let r = fit_batches(backend, data, params, &mut owned);
        owned.free(backend);
        r
    }

    /// Predicts `x` (`n × n_features` f32, row-major) with batch-predict on `backend`: the
    /// forest is uploaded, used and freed. In f64 where the device supports it (then equal to
    /// [`Forest::predict`] bit for bit), else in f32. Returns `n` values.
    ///
    /// # Errors
    /// [`ForestError::Width`] as `predict`; [`ForestError::Gpu`] from the backend.
    pub fn predict_on(
        &self,
        backend: &mut dyn GpuBackend,
        x: &[f32],
    ) -> Result<Vec<f64>, ForestError> {
        let d = self.n_features;
        if d == 0 || !x.len().is_multiple_of(d) {
            return Err(ForestError::Width { got: x.len(), d });
        }
        let mut dev = DeviceForest::upload(self, backend)?;
        let r = dev.predict(backend, x);
        dev.free(backend);
        r
    }
}

fn fit_batches(
    b: &mut dyn GpuBackend,
    data: &Dataset,
    p: &ForestParams,
    owned: &mut Owned,
) -> Result<Forest, ForestError> {
    let (n, d) = (data.n_rows, data.n_features);
    let max_buf = b.info().max_buffer_bytes;
    let x = owned.new_buf(b, (n * d * 4) as u64)?;
    b.write(x, 0, bytemuck::cast_slice(&data.x))?;
    let y = owned.new_buf(b, (n * 8) as u64)?;
    b.write(y, 0, bytemuck::cast_slice(&data.y))?;
    let order_host = presort(data);
    let order = owned.new_buf(b, (n * d * 4) as u64)?;
    b.write(order, 0, bytemuck::cast_slice(&order_host))?;
    let batch = ((max_buf / (4 * n as u64)).max(1) as usize).min(p.n_trees);
    let max_nodes = (max_buf / (NODE_FEATURE_BYTES * d as u64)).clamp(1, u32::MAX as u64) as usize;
    let (mut weights, mut node_of, mut cand_rank, mut out) = (0, 0, 0, 0);
    let mut trees = Vec::with_capacity(p.n_trees);
    let mut t0 = 0usize;
    while t0 < p.n_trees {
        let bt = batch.min(p.n_trees - t0);
        let tn = (bt * n) as u64;
        owned.ensure(b, &mut weights, tn * 4)?;
        owned.ensure(b, &mut node_of, tn * 4)?;
        let mut w_host = vec![0u32; bt * n];
        if p.bootstrap {
            b.bootstrap_sample(p.seed, t0 as u32, bt as u32, n as u32, weights)?;
            b.read(weights, 0, bytemuck::cast_slice_mut(&mut w_host))?;
        } else {
            w_host.fill(1);
            b.write(weights, 0, bytemuck::cast_slice(&w_host))?;
        }
        let mut batch_trees: Vec<Tree> = vec![Tree::default(); bt];
        let mut open: Vec<Open> = (0..bt)
            .map(|t| {
                let w = &w_host[t * n..(t + 1) * n];
                push_node(&mut batch_trees[t]);
                Open {
                    tree: t,
                    node: 0,
                    rows: order_host[..n]
                        .iter()
                        .copied()
                        .filter(|&r| w[r as usize] > 0)
                        .collect(),
                    depth: 0,
                    key: 0,
                }
            })
            .collect();
        let mut cand = Vec::with_capacity(d);
        while !open.is_empty() {
            // Node values and leaf tests; the nodes left are split candidates.
            let mut to_split: Vec<(Open, Vec<usize>)> = Vec::new();
            for o in open.drain(..) {
                let w = &w_host[o.tree * n..(o.tree + 1) * n];
                let (value, splittable) = node_summary(&data.y, &o.rows, w, o.depth, p);
                batch_trees[o.tree].value[o.node] = value;
                if splittable {
                    let t = (t0 + o.tree) as u64;
                    node_candidates(d, p.max_features, p.seed, t, o.key, &mut cand);
                    to_split.push((o, cand.clone()));
                }
            }
            let mut next = Vec::new();
            for chunk in to_split.chunks(max_nodes) {
                let jn = chunk.len();
                let mut node_host = vec![NONE; bt * n];
                let mut rank_host = vec![NONE; jn * d];
                for (j, (o, c)) in chunk.iter().enumerate() {
                    for &r in &o.rows {
                        node_host[o.tree * n + r as usize] = j as u32;
                    }
                    for (k, &f) in c.iter().enumerate() {
                        rank_host[j * d + f] = k as u32;
                    }
                }
                owned.ensure(b, &mut cand_rank, (jn * d * 4) as u64)?;
                owned.ensure(b, &mut out, (jn * 24) as u64)?;
                b.write(node_of, 0, bytemuck::cast_slice(&node_host))?;
                b.write(cand_rank, 0, bytemuck::cast_slice(&rank_host))?;
                b.find_split(&FindSplitArgs {
                    x,
                    y,
                    order,
                    weights,
                    node_of,
                    cand_rank,
                    out,
                    n_rows: n as u32,
                    d: d as u32,
                    n_trees: bt as u32,
                    n_nodes: jn as u32,
                    min_leaf: p.min_samples_leaf.min(u32::MAX as usize) as u32,
                })?;
                let mut recs = vec![SplitRecord::default(); jn];
                b.read(out, 0, bytemuck::cast_slice_mut(&mut recs))?;
                for ((o, _), rec) in chunk.iter().zip(&recs) {
                    if rec.feature < 0 {
                        continue;
                    }
                    let f = rec.feature as usize;
                    if f >= d {
                        return Err(GpuError::Device(format!(
                            "find-split returned feature {f} of {d}"
                        ))
                        .into());
                    }
                    let (mut lrows, mut rrows) = (Vec::new(), Vec::new());
                    for &r in &o.rows {
                        if data.x[r as usize * d + f] <= rec.threshold {
                            lrows.push(r);
                        } else {
                            rrows.push(r);
                        }
                    }
                    let tree = &mut batch_trees[o.tree];
                    let l = push_node(tree);
                    let r = push_node(tree);
                    tree.feature[o.node] = f as i32;
                    tree.threshold[o.node] = rec.threshold;
                    tree.left[o.node] = l as i32;
                    tree.right[o.node] = r as i32;
                    for (node, rows, left) in [(l, lrows, true), (r, rrows, false)] {
                        next.push(Open {
                            tree: o.tree,
                            node,
                            rows,
                            depth: o.depth + 1,
                            key: child_key(o.key, left),
                        });
                    }
                }
            }
            open = next;
        }
        trees.extend(batch_trees.iter().map(renumber_depth_first));
        t0 += bt;
    }
    Ok(Forest {
        n_features: d,
        trees,
    })
}

fn push_node(t: &mut Tree) -> usize {
    t.feature.push(-1);
    t.threshold.push(0.0);
    t.left.push(-1);
    t.right.push(-1);
    t.value.push(0.0);
    t.len() - 1
}

// ---------------------------------------------------------------------------------------
// Prediction.

/// A forest uploaded to a backend as [`ForestBuffers`], with input/output buffers kept
/// between calls (grown as needed), so that repeated predictions pay only for moving `x` in
/// and the predictions out. Free it with [`DeviceForest::free`] on the same backend.
#[derive(Debug)]
pub struct DeviceForest {
    /// The forest's buffers.
    pub buffers: ForestBuffers,
    /// Element type of the predictions: F64 where the device has it, else F32.
    pub dtype: DType,
    x: BufferId,
    out: BufferId,
}

impl DeviceForest {
    /// Uploads `forest` to `b` (the trees' arrays laid end to end, `tree_start` per tree).
    ///
    /// # Errors
    /// [`ForestError::Gpu`] from the backend; `TooLarge` over 2^32−1 nodes.
    pub fn upload(forest: &Forest, b: &mut dyn GpuBackend) -> Result<Self, ForestError> {
        let n_nodes: usize = forest.trees.iter().map(Tree::len).sum();
        let n_trees = forest.trees.len();
        let limit = u32::MAX as u64;
        for (what, v) in [("forest nodes", n_nodes), ("forest trees", n_trees)] {
            if v as u64 > limit {
                return Err(GpuError::TooLarge {
                    what,
                    requested: v as u64,
                    limit,
                }
                .into());
            }
        }
        let (mut feature, mut threshold, mut left, mut right, mut value) =
            (vec![], vec![], vec![], vec![], vec![]);
        let mut tree_start = Vec::with_capacity(n_trees);
        for t in &forest.trees {
            tree_start.push(feature.len() as u32);
            feature.extend_from_slice(&t.feature);
            threshold.extend_from_slice(&t.threshold);
            left.extend_from_slice(&t.left);
            right.extend_from_slice(&t.right);
            value.extend_from_slice(&t.value);
        }
        let mut ids = Vec::with_capacity(6);
        let arrays: [&[u8]; 6] = [
            bytemuck::cast_slice(&feature),
            bytemuck::cast_slice(&threshold),
            bytemuck::cast_slice(&left),
            bytemuck::cast_slice(&right),
            bytemuck::cast_slice(&value),
            bytemuck::cast_slice(&tree_start),
        ];
        let mut up = || -> GpuResult<()> {
            for a in arrays {
                let id = b.create_buffer(a.len() as u64)?;
                ids.push(id);
                b.write(id, 0, a)?;
            }
            Ok(())
        };
        if let Err(e) = up() {
            for id in ids {
                let _ = b.destroy_buffer(id);
            }
            return Err(e.into());
        }
        let dtype = if b.info().supports_f64 {
            DType::F64
        } else {
            DType::F32
        };
        Ok(DeviceForest {
            buffers: ForestBuffers {
                feature: ids[0],
                threshold: ids[1],
                left: ids[2],
                right: ids[3],
                value: ids[4],
                tree_start: ids[5],
                n_trees: n_trees as u32,
                n_nodes: n_nodes as u32,
                n_features: forest.n_features as u32,
            },
            dtype,
            x: 0,
            out: 0,
        })
    }

    /// Predicts `x` (`n × n_features` f32, row-major): uploads `x`, runs batch-predict and
    /// reads the `n` predictions back, in chunks of rows when `x` exceeds the device's
    /// largest buffer.
    ///
    /// # Errors
    /// [`ForestError::Width`] for a bad `x` length, [`ForestError::Gpu`] from the backend.
    pub fn predict(&mut self, b: &mut dyn GpuBackend, x: &[f32]) -> Result<Vec<f64>, ForestError> {
        let d = self.buffers.n_features as usize;
        if d == 0 || !x.len().is_multiple_of(d) {
            return Err(ForestError::Width { got: x.len(), d });
        }
        let n = x.len() / d;
        let max_buf = b.info().max_buffer_bytes;
        let es = self.dtype.size();
        let chunk = (max_buf / (d as u64 * 4).max(es))
            .min(u32::MAX as u64)
            .max(1) as usize;
        let mut res = Vec::with_capacity(n);
        let mut start = 0;
        while start < n {
            let rows = chunk.min(n - start);
            self.ensure(b, rows, d)?;
            b.write(
                self.x,
                0,
                bytemuck::cast_slice(&x[start * d..(start + rows) * d]),
            )?;
            b.batch_predict(self.dtype, &self.buffers, self.x, rows as u32, self.out)?;
            match self.dtype {
                // Straight into the result (no staging vector, no second copy).
                DType::F64 => {
                    res.resize(start + rows, 0.0);
                    b.read(self.out, 0, bytemuck::cast_slice_mut(&mut res[start..]))?;
                }
                DType::F32 => {
                    let mut o = vec![0f32; rows];
                    b.read(self.out, 0, bytemuck::cast_slice_mut(&mut o))?;
                    res.extend(o.iter().map(|&v| v as f64));
                }
            }
            start += rows;
        }
        Ok(res)
    }

    fn ensure(&mut self, b: &mut dyn GpuBackend, rows: usize, d: usize) -> GpuResult<()> {
        let (xb, ob) = ((rows * d * 4) as u64, rows as u64 * self.dtype.size());
        for (id, bytes) in [(&mut self.x, xb), (&mut self.out, ob)] {
            if *id != 0 && b.buffer_size(*id)? >= bytes {
                continue;
            }
            if *id != 0 {
                b.destroy_buffer(*id)?;
                *id = 0;
            }
            *id = b.create_buffer(bytes)?;
        }
        Ok(())
    }

    /// Frees every buffer of this forest on `b`.
    pub fn free(self, b: &mut dyn GpuBackend) {
        let f = self.buffers;
        for id in [
            f.feature,
            f.threshold,
            f.left,
            f.right,
            f.value,
            f.tree_start,
            self.x,
            self.out,
        ] {
            if id != 0 {
                let _ = b.destroy_buffer(id);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::friedman1;

    /// Reverses a tree's non-root node ids (a renumbering that keeps root 0).
    fn scramble(t: &Tree) -> Tree {
        let n = t.len();
        t.renumbered(|i| if i == 0 { 0 } else { n - i })
    }

    #[test]
    fn renumbering_restores_grow_tree_order() {
        let data = friedman1(300, 5, 0.5, 4);
        let f = Forest::fit(
            &data,
            &ForestParams {
                n_trees: 3,
                ..ForestParams::default()
            },
        )
        .unwrap();
        for t in &f.trees {
            assert!(t.len() > 20);
            let s = scramble(t);
            assert_ne!(&s, t);
            assert_eq!(&renumber_depth_first(&s), t);
            assert_eq!(&renumber_depth_first(t), t);
        }
    }
}
