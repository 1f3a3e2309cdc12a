//! The random-forest kernels on device buffers: bootstrap sampling, the best split of every
//! open node of a batch of trees, averaging per-tree predictions, and whole-forest
//! inference.

use super::device::with_device;
use super::dtype::dtype;
use super::*;
use crate::{guard, CapiError};
use offload_core::gpu::{FindSplitArgs, ForestBuffers};

/// Operands and shape of [`offload_gpu_find_split`]: one launch finds the best split of
/// every open node of a batch of `n_trees` trees grown on one data set of `n_rows` rows and
/// `d` features (CART, squared error; `offload_core::gpu::FindSplitArgs`). Buffers may be
/// larger than their shapes; element counts:
/// `x` f32 `n_rows × d` row-major; `y` f64 `n_rows`; `order` u32 `d × n_rows` (the rows of
/// each feature in order of `(x[row·d+f], row)`); `weights` u32 `n_trees × n_rows`
/// (bootstrap weights, 0 = out of the sample); `node_of` u32 `n_trees × n_rows` (open node of
/// each row, `< n_nodes`, or `UINT32_MAX` for none); `cand_rank` u32 `n_nodes × d` (rank of
/// feature f among node j's candidates, or `UINT32_MAX`); `out` receives `n_nodes`
/// [`OffloadGpuSplitRecord`]s (24 bytes each).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct OffloadGpuSplitArgs {
    /// f32 `n_rows × d`.
    pub x: OffloadGpuBuffer,
    /// f64 `n_rows`.
    pub y: OffloadGpuBuffer,
    /// u32 `d × n_rows`.
    pub order: OffloadGpuBuffer,
    /// u32 `n_trees × n_rows`.
    pub weights: OffloadGpuBuffer,
    /// u32 `n_trees × n_rows`.
    pub node_of: OffloadGpuBuffer,
    /// u32 `n_nodes × d`.
    pub cand_rank: OffloadGpuBuffer,
    /// [`OffloadGpuSplitRecord`] × `n_nodes`.
    pub out: OffloadGpuBuffer,
    /// Rows of the data set.
    pub n_rows: u32,
    /// Features per row.
    pub d: u32,
    /// Trees in the batch.
    pub n_trees: u32,
    /// Open nodes in the batch.
    pub n_nodes: u32,
    /// `min_samples_leaf`: least weight on each side of a split (≥ 1).
    pub min_leaf: u32,
}

/// One node's result of [`offload_gpu_find_split`] as laid out in the `out` buffer (24
/// bytes, little-endian): the layout of `offload_core::gpu::SplitRecord`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct OffloadGpuSplitRecord {
    /// `S_L²/W_L + S_R²/W_R` of the best split; 0 when there is none.
    pub score: f64,
    /// Split feature, or -1 when the node has no valid split.
    pub feature: i32,
    /// Rows with `x[feature] <= threshold` go left.
    pub threshold: f32,
    /// Bootstrap weight sent left.
    pub weight_left: u32,
    /// Zero.
    pub pad: u32,
}

const _: () = assert!(
    std::mem::size_of::<OffloadGpuSplitRecord>()
        == std::mem::size_of::<offload_core::gpu::SplitRecord>()
);

/// A forest in device buffers for [`offload_gpu_batch_predict`]: the flat node arrays of
/// all trees laid end to end (`n_nodes` nodes in all): `feature` i32 (-1 at a leaf),
/// `threshold` f32, `left` and `right` i32 (child ids relative to the tree's root), `value`
/// f32, and `tree_start` u32 `n_trees` (index of each root). Element counts, not bytes.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct OffloadGpuForest {
    /// i32 per node, -1 at a leaf.
    pub feature: OffloadGpuBuffer,
    /// f32 per node.
    pub threshold: OffloadGpuBuffer,
    /// i32 per node.
    pub left: OffloadGpuBuffer,
    /// i32 per node.
    pub right: OffloadGpuBuffer,
    /// f32 per node.
    pub value: OffloadGpuBuffer,
    /// u32 per tree.
    pub tree_start: OffloadGpuBuffer,
    /// Trees.
    pub n_trees: u32,
    /// Nodes of all trees together.
    pub n_nodes: u32,
    /// Features per row of `x`.
    pub n_features: u32,
}

/// Bootstrap weights of trees `first_tree … first_tree + n_trees − 1` into buffer `out`
/// (u32, `n_trees × n_rows` elements, row-major): `out[t·n_rows + r]` is how often row `r`
/// is drawn among `n_rows` draws of PCG32 (O'Neill 2014) seeded with `seed` on stream
/// `2·(first_tree + t)`, Lemire's multiply-shift `below(n_rows)` —
/// `offload_core::forest::bootstrap_counts`. Integer results: the same on every backend.
/// Queued like [`offload_gpu_elementwise`].
///
/// # Errors
/// [`OFFLOAD_GPU_ERR_ZERO_SIZE`] for `n_trees` or `n_rows` 0,
/// [`OFFLOAD_GPU_ERR_SHAPE_MISMATCH`] when `out` is too small, [`OFFLOAD_GPU_ERR_TOO_LARGE`]
/// over 2^32−1 elements, [`OFFLOAD_GPU_ERR_UNSUPPORTED`] where the backend lacks the kernel,
/// [`OFFLOAD_GPU_ERR_INVALID_HANDLE`], [`OFFLOAD_GPU_ERR_INVALID_DEVICE`].
#[no_mangle]
pub extern "C" fn offload_gpu_bootstrap_sample(
    dev: OffloadGpuDevice,
    seed: u64,
    first_tree: u32,
    n_trees: u32,
    n_rows: u32,
    out: OffloadGpuBuffer,
) -> i32 {
    guard(|| {
        with_device(dev, |b| {
            b.bootstrap_sample(seed, first_tree, n_trees, n_rows, out)
        })
    })
}

/// Best split of every open node of a batch of trees (see [`OffloadGpuSplitArgs`] for the
/// operands), one [`OffloadGpuSplitRecord`] per node written to `args->out`. A split lies
/// between consecutive distinct values lo < hi of the node's rows, threshold
/// `lo + (hi − lo)·0.5` in f32, each side holding at least `min_leaf` weight; the score
/// `S_L²/W_L + S_R²/W_R` is summed in f64 in sorted order; exact ties go to the lower
/// candidate rank, then the lower threshold. Exact on every backend. Queued.
///
/// # Safety
/// `args` must point to one readable [`OffloadGpuSplitArgs`].
///
/// # Errors
/// [`OFFLOAD_GPU_ERR_ZERO_SIZE`], [`OFFLOAD_GPU_ERR_SHAPE_MISMATCH`] for a buffer smaller
/// than its shape, [`OFFLOAD_GPU_ERR_INVALID_ARGUMENT`] for a feature index ≥ `d` in the
/// inputs, [`OFFLOAD_GPU_ERR_UNSUPPORTED`] without device f64 or where the backend lacks
/// the kernel, [`OFFLOAD_GPU_ERR_INVALID_HANDLE`], [`OFFLOAD_GPU_ERR_INVALID_DEVICE`],
/// [`OFFLOAD_ERR_NULL_POINTER`](crate::OFFLOAD_ERR_NULL_POINTER).
#[no_mangle]
pub unsafe extern "C" fn offload_gpu_find_split(
    dev: OffloadGpuDevice,
    args: *const OffloadGpuSplitArgs,
) -> i32 {
    guard(|| {
        if args.is_null() {
            return Err(CapiError::NullPointer { what: "args" });
        }
        // SAFETY: non-null; readable by the caller's contract.
        let a = unsafe { args.read() };
        let core_args = FindSplitArgs {
            x: a.x,
            y: a.y,
            order: a.order,
            weights: a.weights,
            node_of: a.node_of,
            cand_rank: a.cand_rank,
            out: a.out,
            n_rows: a.n_rows,
            d: a.d,
            n_trees: a.n_trees,
            n_nodes: a.n_nodes,
            min_leaf: a.min_leaf,
        };
        with_device(dev, |b| b.find_split(&core_args))
    })
}

/// `out[r] = (Σ_t preds[t·n_rows + r]) / n_trees` for r < `n_rows`: `preds` f32
/// `n_trees × n_rows`, summed in tree order in `dtype_code` (`OFFLOAD_GPU_F32`/`_F64`),
/// `out` `n_rows` elements of that dtype. Queued.
///
/// # Errors
/// [`OFFLOAD_GPU_ERR_ZERO_SIZE`], [`OFFLOAD_GPU_ERR_SHAPE_MISMATCH`],
/// [`OFFLOAD_GPU_ERR_UNSUPPORTED`] for f64 without device f64 or where the backend lacks
/// the kernel, [`OFFLOAD_GPU_ERR_INVALID_HANDLE`], [`OFFLOAD_GPU_ERR_INVALID_ARGUMENT`] for
/// an unknown dtype, [`OFFLOAD_GPU_ERR_INVALID_DEVICE`].
#[no_mangle]
pub extern "C" fn offload_gpu_average(
    dev: OffloadGpuDevice,
    dtype_code: i32,
    preds: OffloadGpuBuffer,
    n_trees: u32,
    n_rows: u32,
    out: OffloadGpuBuffer,
) -> i32 {
    guard(|| {
        let dt = dtype(dtype_code)?;
        with_device(dev, |b| b.average(dt, preds, n_trees, n_rows, out))
    })
}

/// Whole-forest inference: for each of the `n_rows` rows of `x` (f32,
/// `n_rows × forest->n_features`, row-major) walks every tree of `forest` from its root
/// (`x[feature] <= threshold` goes left) and writes the mean leaf value, summed in tree
/// order in `dtype_code`, to `out` (`n_rows` elements of that dtype). A malformed forest
/// gives unspecified predictions, never an out-of-bounds read or a hang. Queued.
///
/// # Safety
/// `forest` must point to one readable [`OffloadGpuForest`].
///
/// # Errors
/// [`OFFLOAD_GPU_ERR_ZERO_SIZE`], [`OFFLOAD_GPU_ERR_SHAPE_MISMATCH`],
/// [`OFFLOAD_GPU_ERR_UNSUPPORTED`] for f64 without device f64 or where the backend lacks
/// the kernel, [`OFFLOAD_GPU_ERR_INVALID_HANDLE`], [`OFFLOAD_GPU_ERR_INVALID_ARGUMENT`],
/// [`OFFLOAD_GPU_ERR_INVALID_DEVICE`], [`OFFLOAD_ERR_NULL_POINTER`](crate::OFFLOAD_ERR_NULL_POINTER).
#[no_mangle]
pub unsafe extern "C" fn offload_gpu_batch_predict(
    dev: OffloadGpuDevice,
    dtype_code: i32,
    forest: *const OffloadGpuForest,
    x: OffloadGpuBuffer,
    n_rows: u32,
    out: OffloadGpuBuffer,
) -> i32 {
    guard(|| {
        if forest.is_null() {
            return Err(CapiError::NullPointer { what: "forest" });
        }
        // SAFETY: non-null; readable by the caller's contract.
        let f = unsafe { forest.read() };
        let dt = dtype(dtype_code)?;
        let fb = ForestBuffers {
            feature: f.feature,
            threshold: f.threshold,
            left: f.left,
            right: f.right,
            value: f.value,
            tree_start: f.tree_start,
            n_trees: f.n_trees,
            n_nodes: f.n_nodes,
            n_features: f.n_features,
        };
        with_device(dev, |b| b.batch_predict(dt, &fb, x, n_rows, out))
    })
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::*;
    use crate::*;

    #[test]
    fn ml_argument_errors_before_the_backend() {
        let d = open_cpu();
        let split = OffloadGpuSplitArgs {
            x: 1,
            y: 1,
            order: 1,
            weights: 1,
            node_of: 1,
            cand_rank: 1,
            out: 1,
            n_rows: 1,
            d: 1,
            n_trees: 1,
            n_nodes: 1,
            min_leaf: 1,
        };
        assert_eq!(
            unsafe { offload_gpu_find_split(d, std::ptr::null()) },
            OFFLOAD_ERR_NULL_POINTER
        );
        assert!(last().contains("args"), "{}", last());
        let rc =
            unsafe { offload_gpu_batch_predict(d, OFFLOAD_GPU_F32, std::ptr::null(), 1, 1, 1) };
        assert_eq!(rc, OFFLOAD_ERR_NULL_POINTER);
        assert!(last().contains("forest"), "{}", last());
        assert_eq!(
            offload_gpu_average(d, 5, 1, 1, 1, 1),
            OFFLOAD_GPU_ERR_INVALID_ARGUMENT
        );
        assert!(last().contains("dtype 5"), "{}", last());
        assert_eq!(offload_gpu_close(d), OFFLOAD_OK);
        // Closed device: every ML entry says so.
        assert_eq!(
            offload_gpu_bootstrap_sample(d, 1, 0, 1, 1, 1),
            OFFLOAD_GPU_ERR_INVALID_DEVICE
        );
        assert_eq!(
            unsafe { offload_gpu_find_split(d, &split) },
            OFFLOAD_GPU_ERR_INVALID_DEVICE
        );
        assert_eq!(
            offload_gpu_average(d, OFFLOAD_GPU_F64, 1, 1, 1, 1),
            OFFLOAD_GPU_ERR_INVALID_DEVICE
        );
        let forest = OffloadGpuForest {
            feature: 1,
            threshold: 1,
            left: 1,
            right: 1,
            value: 1,
            tree_start: 1,
            n_trees: 1,
            n_nodes: 1,
            n_features: 1,
        };
        let rc = unsafe { offload_gpu_batch_predict(d, OFFLOAD_GPU_F32, &forest, 1, 1, 1) };
        assert_eq!(rc, OFFLOAD_GPU_ERR_INVALID_DEVICE);
    }

    #[test]
    fn ml_bootstrap_sample_matches_reference() {
        let d = open_cpu();
        let (seed, first, trees, rows) = (7u64, 3u32, 2u32, 50u32);
        let out = raw_buffer(d, &vec![0u32; (trees * rows) as usize]);
        let rc = offload_gpu_bootstrap_sample(d, seed, first, trees, rows, out);
        if ran(rc, "bootstrap-sample") {
            let got: Vec<u32> = read_back(d, out, (trees * rows) as usize);
            for t in 0..trees {
                let want = offload_core::forest::bootstrap_counts(
                    rows as usize,
                    seed,
                    u64::from(first + t),
                );
                let row = &got[(t * rows) as usize..((t + 1) * rows) as usize];
                assert_eq!(row, want.as_slice(), "tree {}", first + t);
            }
            // Too small an output buffer.
            let rc = offload_gpu_bootstrap_sample(d, seed, first, trees + 1, rows, out);
            assert_eq!(rc, OFFLOAD_GPU_ERR_SHAPE_MISMATCH, "{}", last());
            assert_eq!(
                offload_gpu_bootstrap_sample(d, seed, first, 0, rows, out),
                OFFLOAD_GPU_ERR_ZERO_SIZE
            );
        }
        assert_eq!(offload_gpu_close(d), OFFLOAD_OK);
    }

    #[test]
    fn ml_average_and_batch_predict_on_cpu() {
        let d = open_cpu();
        // 2 trees × 3 rows of predictions.
        let preds = raw_buffer(d, &[1.0f32, 2.0, 3.0, 3.0, 4.0, 6.0]);
        let out = raw_buffer(d, &[0f64; 3]);
        let rc = offload_gpu_average(d, OFFLOAD_GPU_F64, preds, 2, 3, out);
        if ran(rc, "average") {
            assert_eq!(read_back::<f64>(d, out, 3), [2.0, 3.0, 4.5]);
            let rc = offload_gpu_average(d, OFFLOAD_GPU_F64, preds, 3, 3, out);
            assert_eq!(rc, OFFLOAD_GPU_ERR_SHAPE_MISMATCH, "{}", last());
        }
        // Tree 0: a stump on feature 1 at 0.5 (left leaf 10, right leaf 20); tree 1: one
        // leaf of value 4. Node arrays end to end, children relative to each root.
        let forest = OffloadGpuForest {
            feature: raw_buffer(d, &[1i32, -1, -1, -1]),
            threshold: raw_buffer(d, &[0.5f32, 0.0, 0.0, 0.0]),
            left: raw_buffer(d, &[1i32, -1, -1, -1]),
            right: raw_buffer(d, &[2i32, -1, -1, -1]),
            value: raw_buffer(d, &[0f32, 10.0, 20.0, 4.0]),
            tree_start: raw_buffer(d, &[0u32, 3]),
            n_trees: 2,
            n_nodes: 4,
            n_features: 2,
        };
        let x = raw_buffer(d, &[9.0f32, 0.25, -1.0, 0.75, 0.0, 0.5]);
        let rc = unsafe { offload_gpu_batch_predict(d, OFFLOAD_GPU_F64, &forest, x, 3, out) };
        if ran(rc, "batch-predict") {
            assert_eq!(read_back::<f64>(d, out, 3), [7.0, 12.0, 7.0]);
            let rc = unsafe { offload_gpu_batch_predict(d, OFFLOAD_GPU_F64, &forest, x, 4, out) };
            assert_eq!(rc, OFFLOAD_GPU_ERR_SHAPE_MISMATCH, "{}", last());
        }
        assert_eq!(offload_gpu_close(d), OFFLOAD_OK);
    }

    #[test]
    fn ml_find_split_on_cpu() {
        let d = open_cpu();
        // One tree, one node, one feature: x = 1..4, y = 0 0 10 10 → the split at 2.5
        // with score 0²/2 + 20²/2 = 200 and weight 2 on the left.
        let args = OffloadGpuSplitArgs {
            x: raw_buffer(d, &[1.0f32, 2.0, 3.0, 4.0]),
            y: raw_buffer(d, &[0.0f64, 0.0, 10.0, 10.0]),
            order: raw_buffer(d, &[0u32, 1, 2, 3]),
            weights: raw_buffer(d, &[1u32; 4]),
            node_of: raw_buffer(d, &[0u32; 4]),
            cand_rank: raw_buffer(d, &[0u32]),
            out: raw_buffer(d, &[0u8; 24]),
            n_rows: 4,
            d: 1,
            n_trees: 1,
            n_nodes: 1,
            min_leaf: 1,
        };
        let rc = unsafe { offload_gpu_find_split(d, &args) };
        if ran(rc, "find-split") {
            let rec: Vec<OffloadGpuSplitRecord> = read_back(d, args.out, 1);
            assert_eq!(
                rec[0],
                OffloadGpuSplitRecord {
                    score: 200.0,
                    feature: 0,
                    threshold: 2.5,
                    weight_left: 2,
                    pad: 0
                }
            );
            let bad = OffloadGpuSplitArgs { n_rows: 5, ..args };
            let rc = unsafe { offload_gpu_find_split(d, &bad) };
            assert_eq!(rc, OFFLOAD_GPU_ERR_SHAPE_MISMATCH, "{}", last());
        }
        assert_eq!(offload_gpu_close(d), OFFLOAD_OK);
    }
}
