//! Histogram-mode training on a [`GpuBackend`] ([`Forest::fit_hist_on`]): the data set is
//! binned and its targets quantized once on the host ([`HistSetup`]), uploaded once, and then
//! per batch of trees the backend draws the bootstrap weights (bootstrap-sample) and grows
//! whole trees (hist-grow) without the host; the host reads back each tree's node records
//! and turns them into [`Tree`]s ([`hist_tree`]).

use rayon::prelude::*;
use std::vec;
use std::vec::Vec;

use super::Owned;
use crate::data::Dataset;
use crate::forest::hist::{hist_tree, with_tree, HistSetup};
use crate::forest::{Forest, ForestError, ForestParams, Tree};
use crate::gpu::hist::HIST_NODE_BYTES;
use crate::gpu::{GpuBackend, GpuError, HistGrowArgs, HistNode};

/// Device bytes one batch of trees may take ([`Forest::fit_hist_on`]): bootstrap weights,
/// node records and the backend's scratch (about 40 bytes a row per tree).
pub const HIST_BATCH_BYTES: u64 = 4 << 30;
/// Scratch bytes per row and tree that [`Forest::fit_hist_on`] budgets for a backend's
/// hist-grow (row lists and open-node lists).
pub const HIST_SCRATCH_ROW_BYTES: u64 = 40;

impl Forest {
    /// Trains on `backend` the forest [`Forest::fit_hist`] trains (the same trees): bins and
    /// fixed-point targets made on the host and uploaded once, then per batch of trees
    /// bootstrap-sample and hist-grow on the device and one read-back of the nodes. A batch
    /// holds at most [`HIST_BATCH_BYTES`] of weights, nodes and scratch, and its node buffer
    /// at most the device's `max_buffer_bytes`.
    ///
    /// # Errors
    /// Those of [`HistSetup::new`]; [`ForestError::Gpu`] when a kernel or transfer fails
    /// (`Unsupported` without the kernels or f64, `TooLarge` over 2^31 rows or when one
    /// tree's nodes exceed a buffer); [`ForestError::BadTree`] when the device returns
    /// records that are not a tree.
    pub fn fit_hist_on(
        backend: &mut dyn GpuBackend,
        data: &Dataset,
        params: &ForestParams,
        max_bins: usize,
    ) -> Result<Forest, ForestError> {
        let setup = HistSetup::new(data, params, max_bins)?;
        let mut owned = Owned(Vec::new());
        let r = grow_batches(backend, &setup, params, &mut owned);
        owned.free(backend);
        Ok(Forest {
            n_features: data.n_features,
            trees: r?,
        })
    }
}

/// `data` padded with zeros to a multiple of 4 bytes (the transfer granularity of wgpu).
fn padded(data: &[u8]) -> Vec<u8> {
    let mut v = data.to_vec();
    v.resize(data.len().div_ceil(4) * 4, 0);
    v
}

fn grow_batches(
    b: &mut dyn GpuBackend,
    setup: &HistSetup,
    params: &ForestParams,
    owned: &mut Owned,
) -> Result<Vec<Tree>, ForestError> {
    let (n, d) = (setup.bins.n_rows as u64, setup.bins.n_features as u64);
    let too_large = GpuError::TooLarge {
        what: "hist-grow rows (2·n_rows − 1 node slots must fit u32)",
        requested: n,
        limit: 1 << 31,
    };
    let cap = 2 * n - 1;
    let cap32 = u32::try_from(cap).map_err(|_| too_large.clone())?;
    let n32 = n as u32;
    let bins = owned.new_buf(b, (d * n).div_ceil(4) * 4)?;
    b.write(bins, 0, &padded(&setup.bins.bins))?;
    let n_bins = owned.new_buf(b, 4 * d)?;
    b.write(n_bins, 0, bytemuck::cast_slice(&setup.n_bins))?;
    let yq = owned.new_buf(b, 4 * n)?;
    b.write(yq, 0, bytemuck::cast_slice(&setup.targets.yq))?;

    let nodes_per_tree = cap * HIST_NODE_BYTES;
    let per_tree = 4 * n + nodes_per_tree + HIST_SCRATCH_ROW_BYTES * n;
    let max_buf = b.info().max_buffer_bytes;
    let batch = (HIST_BATCH_BYTES / per_tree)
        .min(max_buf / nodes_per_tree)
        .min(params.n_trees as u64)
        .max(1);
    let weights = owned.new_buf(b, 4 * n * batch)?;
    let nodes = owned.new_buf(b, nodes_per_tree * batch)?;
    let counts = owned.new_buf(b, 4 * batch)?;
    if !params.bootstrap {
        let ones = vec![1u32; (n * batch) as usize];
        b.write(weights, 0, bytemuck::cast_slice(&ones))?;
    }
    let mut trees = Vec::with_capacity(params.n_trees);
    let mut first = 0u64;
    while first < params.n_trees as u64 {
        let nt = batch.min(params.n_trees as u64 - first);
        if params.bootstrap {
            b.bootstrap_sample(params.seed, first as u32, nt as u32, n32, weights)?;
        }
        b.hist_grow(&HistGrowArgs {
            bins,
            n_bins,
            yq,
            weights,
            nodes,
            node_count: counts,
            n_rows: n32,
            d: d as u32,
            n_trees: nt as u32,
            node_cap: cap32,
            min_split: setup.rules.min_split,
            min_leaf: setup.rules.min_leaf,
            max_depth: setup.rules.max_depth,
        })?;
        let mut count = vec![0u32; nt as usize];
        b.read(counts, 0, bytemuck::cast_slice_mut(&mut count))?;
        let mut batch_nodes = Vec::with_capacity(nt as usize);
        for (t, &c) in count.iter().enumerate() {
            if c == 0 || c as u64 > cap {
                let tree = first as usize + t;
                return Err(ForestError::BadTree { tree, node: 0 });
            }
            let mut recs = vec![HistNode::default(); c as usize];
            b.read(
                nodes,
                t as u64 * nodes_per_tree,
                bytemuck::cast_slice_mut(&mut recs),
            )?;
            batch_nodes.push(recs);
        }
        // Checking and renumbering a tree takes about as long as growing it on a GPU at
        // 10^6 rows: one tree per rayon task.
        let batch_trees: Vec<Result<Tree, ForestError>> = batch_nodes
            .par_iter()
            .enumerate()
            .map(|(t, recs)| {
                hist_tree(recs, &setup.bins, &setup.targets)
                    .map_err(|e| with_tree(e, first as usize + t))
            })
            .collect();
        for t in batch_trees {
            trees.push(t?);
        }
        first += nt;
    }
    Ok(trees)
}
