//! hist-grow on the cuda backend (`core/cuda/ml_hist.cu`, compiled with `--fmad=false`; the
//! device design is in that file's header): compact each tree's rows, one open entry per root,
//! then one `hist_level` launch per tree level until no node is open, reading back only the
//! next level's entry count and the error word.

use super::{dev_err, grid, CudaBackend, THREADS};
use crate::gpu::validate::check_create;
use crate::gpu::{GpuError, HistGrowArgs, Result};
use cudarc::driver::{result as drv, sys, CudaStream, LaunchConfig, PushKernelArg};
use std::format;
use std::sync::Arc;
use std::vec::Vec;

pub(super) const ML_HIST_CU: &str = include_str!("../../../cuda/ml_hist.cu");
/// Kernels of `ml_hist.cu`.
pub(super) const HIST_KERNELS: [&str; 3] = ["hist_compact", "hist_roots", "hist_level"];
/// Bytes of one open entry (`Open` in `ml_hist.cu`).
const OPEN_BYTES: u64 = 20;
/// Most blocks of one `hist_level` launch (each loops over entries with that stride).
const LEVEL_BLOCKS: u64 = 1 << 17;

/// Device memory of one hist-grow call, freed (after the stream drains) when dropped, so
/// every exit path releases it.
struct Scratch {
    ptrs: Vec<sys::CUdeviceptr>,
    stream: Arc<CudaStream>,
    limit: u64,
}

impl Scratch {
    fn alloc(&mut self, bytes: u64, what: &str) -> Result<sys::CUdeviceptr> {
        let bytes = bytes.max(4);
        check_create(bytes, self.limit)?;
        // SAFETY: a fresh allocation, owned by self and freed once in Drop or `free`.
        let p = unsafe { drv::malloc_sync(bytes as usize) }
            .map_err(|e| GpuError::Device(format!("cuMemAlloc of {bytes} bytes ({what}): {e}")))?;
        self.ptrs.push(p);
        Ok(p)
    }

    /// Frees `p` (allocated by `alloc`) once no queued work uses it.
    fn free(&mut self, p: sys::CUdeviceptr) -> Result<()> {
        self.stream.synchronize().map_err(dev_err("stream sync"))?;
        self.ptrs.retain(|&q| q != p);
        // SAFETY: allocated by alloc, removed from ptrs so freed once; the stream is drained.
        unsafe { drv::free_sync(p) }.map_err(dev_err("cuMemFree"))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = self.stream.synchronize();
        for &p in &self.ptrs {
            // SAFETY: allocated by alloc, freed once; the stream is drained.
            let _ = unsafe { drv::free_sync(p) };
        }
    }
}

impl CudaBackend {
    /// Queues setting `n` u32 words at `ptr` to `v`.
    fn fill_u32(&self, ptr: sys::CUdeviceptr, v: u32, n: u64) -> Result<()> {
        // SAFETY: ptr..ptr+4n lies inside a live allocation (the callers' sizes).
        unsafe { sys::cuMemsetD32Async(ptr, v, n as usize, self.stream.cu_stream()) }
            .result()
            .map_err(dev_err("cuMemsetD32Async"))
    }

    pub(super) fn hist_grow_impl(&mut self, a: &HistGrowArgs) -> Result<()> {
        let (n, nt) = (a.n_rows as u64, a.n_trees as u64);
        let (p_bins, p_nbins, p_yq, p_w) = (
            self.ptr(a.bins)?,
            self.ptr(a.n_bins)?,
            self.ptr(a.yq)?,
            self.ptr(a.weights)?,
        );
        let (p_nodes, p_count) = (self.ptr(a.nodes)?, self.ptr(a.node_count)?);
        self.bind()?;
        let k_compact = self.func("hist_compact")?;
        let k_roots = self.func("hist_roots")?;
        let k_level = self.func("hist_level")?;
        let mut s = Scratch {
            ptrs: Vec::new(),
            stream: self.stream.clone(),
            limit: self.info.max_buffer_bytes,
        };
        let rows = [
            s.alloc(4 * n * nt, "hist-grow row list")?,
            s.alloc(4 * n * nt, "hist-grow row list")?,
        ];
        let tree_len = s.alloc(4 * nt, "hist-grow tree sizes")?;
        // [open count of list 0, open count of list 1, error bits]
        let words = s.alloc(12, "hist-grow counters")?;
        let mut open = [
            s.alloc(OPEN_BYTES * nt, "hist-grow open list")?,
            s.alloc(OPEN_BYTES * 2 * nt, "hist-grow open list")?,
        ];
        let mut open_cap = [nt, 2 * nt];
        let err = words + 8;
        self.begin()?;
        self.fill_u32(tree_len, 0, nt)?;
        self.fill_u32(words, nt as u32, 1)?;
        self.fill_u32(err, 0, 1)?;
        let cfg_compact = LaunchConfig {
            grid_dim: (n.div_ceil(THREADS as u64) as u32, nt.min(65535) as u32, 1),
            block_dim: (THREADS, 1, 1),
            shared_mem_bytes: 0,
        };
        // SAFETY: weights hold n_trees·n_rows u32 (checked by the layer above); rows[0] and
        // tree_len were allocated for n_trees·n_rows and n_trees u32; open[0] holds n_trees
        // entries and node_count n_trees u32.
        unsafe {
            self.stream
                .launch_builder(&k_compact)
                .arg(&p_w)
                .arg(&rows[0])
                .arg(&tree_len)
                .arg(&a.n_rows)
                .arg(&a.n_trees)
                .launch(cfg_compact)
                .map_err(dev_err("launch hist_compact"))?;
            self.stream
                .launch_builder(&k_roots)
                .arg(&tree_len)
                .arg(&open[0])
                .arg(&p_count)
                .arg(&a.n_trees)
                .launch(grid(nt)?)
                .map_err(dev_err("launch hist_roots"))?;
        }
        let (mut cur, mut count, mut level) = (0usize, nt, 0u64);
        while count > 0 {
            let nx = 1 - cur;
            if open_cap[nx] < 2 * count {
                s.free(open[nx])?;
                open_cap[nx] = (2 * count).max(2 * open_cap[nx]);
                open[nx] = s.alloc(OPEN_BYTES * open_cap[nx], "hist-grow open list")?;
            }
            let nx_count = words + 4 * nx as u64;
            let cur_count = words + 4 * cur as u64;
            self.fill_u32(nx_count, 0, 1)?;
            let cfg = LaunchConfig {
                grid_dim: (count.min(LEVEL_BLOCKS) as u32, 1, 1),
                block_dim: (THREADS, 1, 1),
                shared_mem_bytes: 0,
            };
            // SAFETY: every operand holds its shape (checked above and by the layer above);
            // open[cur] holds `count` entries written by the previous launch, open[nx] room
            // for 2·count (each entry enqueues at most two); row lists hold n_trees·n_rows
            // u32 and entries address only their own tree's segment; the kernel checks child
            // ids against node_cap.
            unsafe {
                self.stream
                    .launch_builder(&k_level)
                    .arg(&p_bins)
                    .arg(&p_nbins)
                    .arg(&p_yq)
                    .arg(&p_w)
                    .arg(&rows[cur])
                    .arg(&rows[nx])
                    .arg(&open[cur])
                    .arg(&cur_count)
                    .arg(&open[nx])
                    .arg(&nx_count)
                    .arg(&p_nodes)
                    .arg(&p_count)
                    .arg(&a.n_rows)
                    .arg(&a.d)
                    .arg(&a.node_cap)
                    .arg(&a.min_split)
                    .arg(&a.min_leaf)
                    .arg(&a.max_depth)
                    .arg(&err)
                    .launch(cfg)
                    .map_err(dev_err("launch hist_level"))?;
            }
            let mut w = [0u32; 3];
            // SAFETY: words holds 3 u32; the stream is synchronised before w is read.
            unsafe { drv::memcpy_dtoh_async(&mut w[..], words, self.stream.cu_stream()) }
                .map_err(dev_err("cuMemcpyDtoHAsync"))?;
            self.stream.synchronize().map_err(dev_err("stream sync"))?;
            if w[2] != 0 {
                return Err(GpuError::InvalidArgument(format!(
                    "hist-grow: a tree needed more than node_cap = {} nodes",
                    a.node_cap
                )));
            }
            count = w[nx] as u64;
            cur = nx;
            level += 1;
            if level > n + 1 {
                return Err(GpuError::Device(format!(
                    "hist-grow: {level} levels for {n} rows: the device's trees do not shrink"
                )));
            }
        }
        self.end()
    }
}
