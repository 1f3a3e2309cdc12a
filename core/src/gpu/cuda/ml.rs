//! The random-forest kernels of the cuda backend (`core/cuda/ml_kernels.cu`, compiled with
//! `--fmad=false`; see the module docs of the backend for each kernel), on checked shapes.

use super::{dev_err, grid, grid_stride, CudaBackend, THREADS};
use crate::gpu::validate::check_create;
use crate::gpu::{BufferId, DType, FindSplitArgs, ForestBuffers, GpuError, Result};
use cudarc::driver::{result as drv, sys, LaunchConfig, PushKernelArg};
use std::format;

pub(super) const ML_KERNELS_CU: &str = include_str!("../../../cuda/ml_kernels.cu");
/// Kernels of `ml_kernels.cu`.
pub(super) const ML_KERNELS: [&str; 10] = [
    "ml_bootstrap",
    "ml_split_count",
    "ml_split_offsets",
    "ml_split_bucket",
    "ml_split_eval",
    "ml_split_pick",
    "ml_average_f32",
    "ml_average_f64",
    "ml_batch_predict_f32",
    "ml_batch_predict_f64",
];
/// Draws per thread of the bootstrap-sample kernel.
pub const BOOTSTRAP_CHUNK: u32 = 1024;
/// Bytes of find-split's per-(node, feature) result in scratch (`SplitState` in ml_kernels.cu).
const SPLIT_STATE_BYTES: u64 = 64;

impl CudaBackend {
    /// Grows find-split's scratch buffer to at least `bytes` bytes.
    fn scratch(&mut self, bytes: u64) -> Result<sys::CUdeviceptr> {
        if self.ml_scratch.1 >= bytes {
            return Ok(self.ml_scratch.0);
        }
        check_create(bytes, self.info.max_buffer_bytes)?;
        if self.ml_scratch.0 != 0 {
            self.stream.synchronize().map_err(dev_err("stream sync"))?;
            // SAFETY: allocated by malloc_sync below; no queued work uses it any more.
            unsafe { drv::free_sync(self.ml_scratch.0) }.map_err(dev_err("cuMemFree"))?;
            self.ml_scratch = (0, 0);
        }
        // SAFETY: a fresh allocation owned by the backend, freed in Drop or when it grows.
        let ptr = unsafe { drv::malloc_sync(bytes as usize) }.map_err(|e| {
            GpuError::Device(format!(
                "cuMemAlloc of {bytes} bytes (find-split scratch): {e}"
            ))
        })?;
        self.ml_scratch = (ptr, bytes);
        Ok(ptr)
    }

    /// Queues setting `bytes` bytes at `ptr` to `byte`.
    fn memset(&self, ptr: sys::CUdeviceptr, byte: u8, bytes: u64) -> Result<()> {
        // SAFETY: ptr..ptr+bytes lies inside a live allocation (checked by the callers).
        unsafe { drv::memset_d8_async(ptr, byte, bytes as usize, self.stream.cu_stream()) }
            .map_err(dev_err("cuMemsetD8Async"))
    }

    pub(super) fn bootstrap_impl(
        &mut self,
        seed: u64,
        first_tree: u32,
        n_trees: u32,
        n_rows: u32,
        out: BufferId,
    ) -> Result<()> {
        let elems = n_trees as u64 * n_rows as u64;
        let po = self.ptr(out)?;
        self.bind()?;
        let f = self.func("ml_bootstrap")?;
        let n_chunks = n_rows.div_ceil(BOOTSTRAP_CHUNK);
        let cfg = grid(n_trees as u64 * n_chunks as u64)?;
        let chunk = BOOTSTRAP_CHUNK;
        self.begin()?;
        self.memset(po, 0, elems * 4)?;
        // SAFETY: out holds n_trees·n_rows u32 (checked by the layer above); the kernel writes only
        // there.
        unsafe {
            self.stream
                .launch_builder(&f)
                .arg(&seed)
                .arg(&first_tree)
                .arg(&n_trees)
                .arg(&n_rows)
                .arg(&chunk)
                .arg(&n_chunks)
                .arg(&po)
                .launch(cfg)
        }
        .map_err(dev_err("launch ml_bootstrap"))?;
        self.end()
    }

    pub(super) fn find_split_impl(&mut self, a: &FindSplitArgs) -> Result<()> {
        let (n_rows, d, n_trees, n_nodes, min_leaf) =
            (a.n_rows, a.d, a.n_trees, a.n_nodes, a.min_leaf);
        let (px, py, pord, pw) = (
            self.ptr(a.x)?,
            self.ptr(a.y)?,
            self.ptr(a.order)?,
            self.ptr(a.weights)?,
        );
        let (pnode, prank, pout) = (
            self.ptr(a.node_of)?,
            self.ptr(a.cand_rank)?,
            self.ptr(a.out)?,
        );
        // Scratch layout: SplitState × n_nodes·d | owner, count, offset: u32 × n_nodes each |
        // cursor: u32 × n_nodes·d | rows: u32 × d·cap, feature f's node slots at f·cap (cap =
        // n_trees·n_rows, the most rows all nodes can hold).
        let (nn, dd) = (n_nodes as u64, d as u64);
        let cap = n_trees as u64 * n_rows as u64;
        let states = nn * dd * SPLIT_STATE_BYTES;
        let cursor_bytes = nn * dd * 4;
        let rows_bytes =
            dd.checked_mul(cap)
                .and_then(|v| v.checked_mul(4))
                .ok_or(GpuError::TooLarge {
                    what: "find-split scratch bytes",
                    requested: u64::MAX,
                    limit: self.info.max_buffer_bytes,
                })?;
        let total = states + 3 * nn * 4 + cursor_bytes + rows_bytes;
        self.bind()?;
        let k_count = self.func("ml_split_count")?;
        let k_offsets = self.func("ml_split_offsets")?;
        let k_bucket = self.func("ml_split_bucket")?;
        let k_eval = self.func("ml_split_eval")?;
        let k_pick = self.func("ml_split_pick")?;
        let base = self.scratch(total)?;
        let state = base;
        let owner = state + states;
        let count = owner + nn * 4;
        let offset = count + nn * 4;
        let cursor = offset + nn * 4;
        let rows = cursor + cursor_bytes;
        let err = self.result;
        let cfg_count = grid((cap).min(65535 * 4 * THREADS as u64))?;
        let cfg_offsets = LaunchConfig {
            grid_dim: (1, 1, 1),
            block_dim: (1024, 1, 1),
            shared_mem_bytes: 0,
        };
        let cfg_bucket = grid(n_trees as u64 * dd * 32)?;
        let cfg_eval = grid(nn * dd * 32)?;
        let cfg_pick = grid(nn)?;
        self.begin()?;
        self.memset(owner, 0xff, nn * 4)?;
        self.memset(count, 0, nn * 4)?;
        self.memset(cursor, 0, cursor_bytes)?;
        self.memset(err, 0, 4)?;
        // SAFETY: every operand holds its shape (checked by the layer above); the kernels
        // bound-check every row and node index they read from order, node_of and the scratch row
        // lists; the scratch regions have the sizes laid out above; err holds 4 bytes.
        unsafe {
            self.stream
                .launch_builder(&k_count)
                .arg(&pw)
                .arg(&pnode)
                .arg(&owner)
                .arg(&count)
                .arg(&n_rows)
                .arg(&n_trees)
                .arg(&n_nodes)
                .arg(&err)
                .launch(cfg_count)
                .map_err(dev_err("launch ml_split_count"))?;
            self.stream
                .launch_builder(&k_offsets)
                .arg(&count)
                .arg(&offset)
                .arg(&n_nodes)
                .launch(cfg_offsets)
                .map_err(dev_err("launch ml_split_offsets"))?;
            self.stream
                .launch_builder(&k_bucket)
                .arg(&pord)
                .arg(&pw)
                .arg(&pnode)
                .arg(&prank)
                .arg(&count)
                .arg(&offset)
                .arg(&cursor)
                .arg(&rows)
                .arg(&cap)
                .arg(&n_rows)
                .arg(&d)
                .arg(&n_trees)
                .arg(&n_nodes)
                .arg(&err)
                .launch(cfg_bucket)
                .map_err(dev_err("launch ml_split_bucket"))?;
            self.stream
                .launch_builder(&k_eval)
                .arg(&px)
                .arg(&py)
                .arg(&pw)
                .arg(&prank)
                .arg(&count)
                .arg(&offset)
                .arg(&owner)
                .arg(&rows)
                .arg(&cap)
                .arg(&state)
                .arg(&n_rows)
                .arg(&d)
                .arg(&n_nodes)
                .arg(&min_leaf)
                .arg(&err)
                .launch(cfg_eval)
                .map_err(dev_err("launch ml_split_eval"))?;
            self.stream
                .launch_builder(&k_pick)
                .arg(&state)
                .arg(&prank)
                .arg(&pout)
                .arg(&n_nodes)
                .arg(&d)
                .launch(cfg_pick)
                .map_err(dev_err("launch ml_split_pick"))?;
        }
        self.end()?;
        let mut w = [0u8; 4];
        // SAFETY: err holds 4 bytes; the stream is synchronised before w is read.
        unsafe { drv::memcpy_dtoh_async(&mut w[..], err, self.stream.cu_stream()) }
            .map_err(dev_err("cuMemcpyDtoHAsync"))?;
        self.stream.synchronize().map_err(dev_err("stream sync"))?;
        let bits = u32::from_le_bytes(w);
        if bits & 1 != 0 {
            return Err(GpuError::InvalidArgument(format!(
                "find-split: order holds a row index >= n_rows ({n_rows}) or is not a permutation"
            )));
        }
        if bits & 2 != 0 {
            return Err(GpuError::InvalidArgument(format!(
                "find-split: node_of holds a node id >= n_nodes ({n_nodes}) other than u32::MAX"
            )));
        }
        if bits & 4 != 0 {
            return Err(GpuError::InvalidArgument(
                "find-split: a node holds rows of two trees (node ids must be unique in a batch)"
                    .into(),
            ));
        }
        Ok(())
    }

    pub(super) fn average_impl(
        &mut self,
        dtype: DType,
        preds: BufferId,
        n_trees: u32,
        n_rows: u32,
        out: BufferId,
    ) -> Result<()> {
        let (pp, po) = (self.ptr(preds)?, self.ptr(out)?);
        self.bind()?;
        let f = self.func(&format!("ml_average_{}", dtype.name()))?;
        let cfg = grid_stride(n_rows)?;
        self.begin()?;
        // SAFETY: preds holds n_trees·n_rows f32 and out n_rows elements of dtype (checked by the
        // layer above).
        unsafe {
            self.stream
                .launch_builder(&f)
                .arg(&pp)
                .arg(&n_trees)
                .arg(&n_rows)
                .arg(&po)
                .launch(cfg)
        }
        .map_err(dev_err("launch ml_average"))?;
        self.end()
    }

    pub(super) fn batch_predict_impl(
        &mut self,
        dtype: DType,
        fb: &ForestBuffers,
        x: BufferId,
        n_rows: u32,
        out: BufferId,
    ) -> Result<()> {
        let (pf, pt, pl, pr, pv, ps) = (
            self.ptr(fb.feature)?,
            self.ptr(fb.threshold)?,
            self.ptr(fb.left)?,
            self.ptr(fb.right)?,
            self.ptr(fb.value)?,
            self.ptr(fb.tree_start)?,
        );
        let (px, po) = (self.ptr(x)?, self.ptr(out)?);
        self.bind()?;
        let f = self.func(&format!("ml_batch_predict_{}", dtype.name()))?;
        let cfg = grid_stride(n_rows)?;
        let (n_trees, n_nodes, n_features) = (fb.n_trees, fb.n_nodes, fb.n_features);
        self.begin()?;
        // SAFETY: every operand holds its shape (checked by the layer above); the kernel
        // bound-checks every node and feature index it follows.
        unsafe {
            self.stream
                .launch_builder(&f)
                .arg(&pf)
                .arg(&pt)
                .arg(&pl)
                .arg(&pr)
                .arg(&pv)
                .arg(&ps)
                .arg(&n_trees)
                .arg(&n_nodes)
                .arg(&n_features)
                .arg(&px)
                .arg(&n_rows)
                .arg(&po)
                .launch(cfg)
        }
        .map_err(dev_err("launch ml_batch_predict"))?;
        self.end()
    }
}
