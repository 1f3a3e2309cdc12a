//! The `cuda` backend: NVIDIA GPUs through cudarc, with every CUDA library loaded at run
//! time (building needs no CUDA toolkit).
//!
//! - Kernels: CUDA C in `core/cuda/kernels.cu`, compiled by NVRTC to PTX for the device's
//!   compute capability on first use and cached for the process (per architecture).
//! - Matmul: cuBLAS SGEMM (row-major C = A·B computed as the column-major Cᵀ = Bᵀ·Aᵀ);
//!   FP32 by default (`CUBLAS_DEFAULT_MATH`), TF32 tensor cores as the opt-in
//!   [`MatmulPrecision::Tf32`] (`CUBLAS_TF32_TENSOR_OP_MATH`).
//! - Transfers: two pinned host staging buffers of [`STAGE_BYTES`] used in turn, so that the
//!   host copies one chunk (on several threads, rayon) while the DMA engine moves the other.
//! - Kernel time from CUDA events when timing is on.
//!
//! cudarc panics when a library is missing, so [`CudaBackend::new`] first probes libcuda,
//! libnvrtc and libcublas (`is_culib_present`) and returns `BackendUnavailable` naming the
//! one that is missing; every entry point also runs under `catch_unwind`, so that a panic in
//! cudarc becomes a `Device` error instead of unwinding into a caller (or across the C API).
//!
//! All work runs in order on one stream; device buffers are raw `cuMemAlloc` allocations
//! named by handles.
//!
//! ML kernels of the random forest (`core/cuda/ml_kernels.cu`, a second NVRTC module compiled
//! with `--fmad=false`, every deciding operation an `__*_rn` intrinsic, so that results equal
//! the cpu backend's bit for bit):
//! - bootstrap-sample: PCG32 as `core/src/rng.rs`, one thread per (tree, chunk of
//!   [`BOOTSTRAP_CHUNK`] draws), each jumping its tree's generator ahead to its first draw
//!   (F. B. Brown, "Random Number Generation with Arbitrary Strides", 1994) and counting with
//!   `atomicAdd`. cuRAND is not used: none of its generators reproduces the PCG32 stream that
//!   [`crate::forest::bootstrap_counts`] defines.
//! - find-split: five kernels over a scratch buffer the backend owns (grown on demand; per
//!   launch 68 bytes per (node, feature), 12 per node and 4·d·n_trees·n_rows for row lists):
//!   count each node's rows (one thread per (tree, row)), prefix-sum them into slots (one
//!   block), bucket every node's rows per candidate feature stably in value order (one warp
//!   per (tree, feature), `__match_any_sync` + one `atomicAdd` per node and chunk), evaluate
//!   each (node, feature) (one warp each: the f64 sums added one after the other exactly as
//!   the reference adds them, the 32 scores of a chunk in parallel, first maximum kept), and
//!   pick each node's best candidate in candidate order (strict `>`, ties keep the lower
//!   rank). Equal to the reference for finite targets (a NaN score is not ordered the same).
//! - average and batch-predict: one thread per row, sums in tree order.

use super::{
    check_create, check_elems, check_matmul, check_no_overlap, check_range, elementwise_b,
    panic_message, BackendKind, BufferId, BufferTable, DType, DeviceInfo, ElementwiseOp,
    FindSplitArgs, ForestBuffers, GpuBackend, GpuError, MatmulPrecision, ReduceOp, Result,
};
use crate::forest_gpu::{check_average, check_batch_predict, check_bootstrap, check_find_split};
use cudarc::cublas::{result as blas_result, sys as blas_sys, CudaBlas};
use cudarc::driver::{
    result as drv, sys, CudaContext, CudaEvent, CudaFunction, CudaStream, LaunchConfig,
    PinnedHostSlice, PushKernelArg,
};
use cudarc::nvrtc::{compile_ptx_with_opts, CompileOptions, Ptx};
use rayon::prelude::*;
use std::collections::HashMap;
use std::format;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::string::{String, ToString};
use std::sync::{Arc, Mutex, OnceLock};
use std::vec::Vec;

const KERNELS_CU: &str = include_str!("../../cuda/kernels.cu");
const ML_KERNELS_CU: &str = include_str!("../../cuda/ml_kernels.cu");
/// Kernels of `ml_kernels.cu`.
const ML_KERNELS: [&str; 10] = [
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

/// Size of each pinned staging buffer in bytes (32 MiB).
pub const STAGE_BYTES: usize = 32 << 20;
/// Blocks of the first reduction pass (at most).
const REDUCE_BLOCKS: u32 = 1024;
/// Threads per block of every kernel.
const THREADS: u32 = 256;
/// Chunk of a host-side parallel memcpy.
const PAR_CHUNK: usize = 1 << 20;

fn unavailable(reason: impl Into<String>) -> GpuError {
    GpuError::BackendUnavailable {
        backend: "cuda",
        reason: reason.into(),
    }
}

fn dev_err(what: &str) -> impl FnOnce(drv::DriverError) -> GpuError + '_ {
    move |e| GpuError::Device(format!("{what}: {e}"))
}

/// Runs `f`, turning a panic (cudarc panics on a missing library or symbol) into an error.
fn guard<T>(f: impl FnOnce() -> Result<T>) -> Result<T> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(p) => Err(GpuError::Device(format!(
            "panic in cudarc: {}",
            panic_message(&*p)
        ))),
    }
}

/// PTX per (module, architecture) (`kernels/compute_90`, ...), compiled once per process.
fn ptx_cache() -> &'static Mutex<HashMap<String, Ptx>> {
    static CACHE: OnceLock<Mutex<HashMap<String, Ptx>>> = OnceLock::new();
    CACHE.get_or_init(|| Mutex::new(HashMap::new()))
}

struct DevBuf {
    ptr: sys::CUdeviceptr,
    bytes: u64,
}

/// A host-side staging pair: pinned buffer and the event of its last DMA.
struct Stage {
    host: PinnedHostSlice<u8>,
    done: CudaEvent,
}

/// The cuda backend; see the module documentation.
pub struct CudaBackend {
    info: DeviceInfo,
    ctx: Arc<CudaContext>,
    stream: Arc<CudaStream>,
    blas: CudaBlas,
    funcs: HashMap<String, CudaFunction>,
    bufs: BufferTable<DevBuf>,
    up: Option<[Stage; 2]>,
    down: Option<[Stage; 2]>,
    partials: sys::CUdeviceptr,
    result: sys::CUdeviceptr,
    start: CudaEvent,
    stop: CudaEvent,
    timing: bool,
    last_ns: Option<u64>,
    arch: String,
    /// find-split's scratch state: pointer and size in bytes (0: none yet).
    ml_scratch: (sys::CUdeviceptr, u64),
}

// SAFETY: the raw device pointers are plain integers owned by this backend; all other fields
// (context, stream, cuBLAS handle, pinned memory, events) are used only through `&mut self`,
// one thread at a time, with the context bound to the calling thread first.
unsafe impl Send for CudaBackend {}

impl CudaBackend {
    /// Opens device 0 (`CUDA_VISIBLE_DEVICES` picks it). Errors: `BackendUnavailable` naming
    /// the missing library (libcuda: no NVIDIA driver; libnvrtc or libcublas: no CUDA 13
    /// runtime libraries on the loader path), or the driver's error (no device).
    pub fn new() -> Result<Self> {
        match catch_unwind(Self::open) {
            Ok(r) => r,
            Err(p) => Err(unavailable(format!(
                "panic while opening: {}",
                panic_message(&*p)
            ))),
        }
    }

    fn open() -> Result<Self> {
        // SAFETY: is_culib_present only tries dlopen on the candidate names.
        unsafe {
            if !cudarc::driver::sys::is_culib_present() {
                return Err(unavailable(
                    "libcuda.so not found: no NVIDIA driver on this machine",
                ));
            }
            if !cudarc::nvrtc::sys::is_culib_present() {
                return Err(unavailable(
                    "libnvrtc.so (CUDA 13 NVRTC) not found on the loader path",
                ));
            }
            if !cudarc::cublas::sys::is_culib_present() {
                return Err(unavailable(
                    "libcublas.so (CUDA 13 cuBLAS) not found on the loader path",
                ));
            }
        }
        let n = CudaContext::device_count()
            .map_err(|e| unavailable(format!("cuInit/cuDeviceGetCount: {e}")))?;
        if n < 1 {
            return Err(unavailable("the driver reports no CUDA device"));
        }
        let ctx =
            CudaContext::new(0).map_err(|e| unavailable(format!("context on device 0: {e}")))?;
        // One stream, raw pointers: cudarc's per-allocation event tracking is not needed.
        // SAFETY: no CudaSlice of this context is used with other streams.
        unsafe { ctx.disable_event_tracking() };
        let stream = ctx.new_stream().map_err(dev_err("new_stream"))?;
        let blas =
            CudaBlas::new(stream.clone()).map_err(|e| unavailable(format!("cublasCreate: {e}")))?;
        let name = ctx.name().map_err(dev_err("device name"))?;
        let (major, minor) = ctx
            .compute_capability()
            .map_err(dev_err("compute capability"))?;
        let total = ctx.total_mem().map_err(dev_err("total memory"))? as u64;
        let mut version = 0i32;
        // SAFETY: plain out-parameter query.
        unsafe { sys::cuDriverGetVersion(&mut version) };
        let timing_event =
            |c: &Arc<CudaContext>| c.new_event(Some(sys::CUevent_flags::CU_EVENT_DEFAULT));
        let start = timing_event(&ctx).map_err(dev_err("event"))?;
        let stop = timing_event(&ctx).map_err(dev_err("event"))?;
        ctx.bind_to_thread().map_err(dev_err("bind context"))?;
        // SAFETY: fresh allocations, freed in Drop.
        let partials = unsafe { drv::malloc_sync(REDUCE_BLOCKS as usize * 8) }
            .map_err(dev_err("cuMemAlloc"))?;
        let result = unsafe { drv::malloc_sync(256) }.map_err(dev_err("cuMemAlloc"))?;
        let info = DeviceInfo {
            backend: BackendKind::Cuda,
            name,
            driver: format!(
                "CUDA driver {}.{}, sm_{major}{minor}",
                version / 1000,
                (version % 1000) / 10
            ),
            memory_bytes: Some(total),
            max_buffer_bytes: total,
            supports_f64: true,
            supports_tf32: major >= 8,
            kernel_timing: true,
            is_software: false,
        };
        Ok(CudaBackend {
            info,
            ctx,
            stream,
            blas,
            funcs: HashMap::new(),
            bufs: BufferTable::new(),
            up: None,
            down: None,
            partials,
            result,
            start,
            stop,
            timing: false,
            last_ns: None,
            arch: format!("compute_{major}{minor}"),
            ml_scratch: (0, 0),
        })
    }

    fn bind(&self) -> Result<()> {
        self.ctx.bind_to_thread().map_err(dev_err("bind context"))
    }

    /// The kernel `name` (`sum_f32`, `ml_bootstrap`, ...), compiling its module on first use.
    fn func(&mut self, name: &str) -> Result<CudaFunction> {
        if let Some(f) = self.funcs.get(name) {
            return Ok(f.clone());
        }
        if name.starts_with("ml_") {
            // Without FMA contraction, so that f32/f64 results equal the cpu's bit for bit.
            self.load_module("ml_kernels", ML_KERNELS_CU, &["--fmad=false"], &ML_KERNELS)?;
        } else {
            let mut names = Vec::new();
            for k in ["sum", "min", "max", "dot", "mul", "add", "scale", "relu"] {
                for t in ["f32", "f64"] {
                    names.push(format!("{k}_{t}"));
                }
            }
            let names: Vec<&str> = names.iter().map(String::as_str).collect();
            self.load_module("kernels", KERNELS_CU, &[], &names)?;
        }
        self.funcs
            .get(name)
            .cloned()
            .ok_or_else(|| GpuError::Device(format!("kernel {name} missing from core/cuda/")))
    }

    /// Compiles `core/cuda/{file}.cu` (cached per process and architecture), loads it and
    /// registers its kernels `names`.
    fn load_module(
        &mut self,
        file: &str,
        source: &str,
        extra: &[&str],
        names: &[&str],
    ) -> Result<()> {
        let key = format!("{file}/{}", self.arch);
        let ptx = {
            let mut cache = ptx_cache()
                .lock()
                .map_err(|_| GpuError::Device("PTX cache poisoned".into()))?;
            match cache.get(&key) {
                Some(p) => p.clone(),
                None => {
                    let mut options = std::vec![
                        format!("--gpu-architecture={}", self.arch),
                        "-std=c++17".to_string()
                    ];
                    options.extend(extra.iter().map(|o| o.to_string()));
                    let opts = CompileOptions {
                        options,
                        ..Default::default()
                    };
                    let p = compile_ptx_with_opts(source, opts).map_err(|e| {
                        GpuError::Device(format!("NVRTC compile of core/cuda/{file}.cu: {e}"))
                    })?;
                    cache.insert(key, p.clone());
                    p
                }
            }
        };
        let module = self
            .ctx
            .load_module(ptx)
            .map_err(dev_err("cuModuleLoadData"))?;
        for &n in names {
            let f = module
                .load_function(n)
                .map_err(dev_err("cuModuleGetFunction"))?;
            self.funcs.insert(n.to_string(), f);
        }
        Ok(())
    }

    fn ptr(&self, id: BufferId) -> Result<sys::CUdeviceptr> {
        Ok(self.bufs.get(id)?.ptr)
    }

    fn begin(&self) -> Result<()> {
        if self.timing {
            self.start
                .record(&self.stream)
                .map_err(dev_err("event record"))?;
        }
        Ok(())
    }

    fn end(&mut self) -> Result<()> {
        if self.timing {
            self.stop
                .record(&self.stream)
                .map_err(dev_err("event record"))?;
            self.stop.synchronize().map_err(dev_err("event sync"))?;
            let ms = self
                .start
                .elapsed_ms(&self.stop)
                .map_err(dev_err("event elapsed"))?;
            self.last_ns = Some((ms as f64 * 1e6) as u64);
        }
        Ok(())
    }

    fn stages(&self, flags: u32) -> Result<[Stage; 2]> {
        let mk = || -> Result<Stage> {
            Ok(Stage {
                // SAFETY: contents are written before they are read.
                host: unsafe { self.ctx.alloc_pinned_with_flags::<u8>(STAGE_BYTES, flags) }
                    .map_err(dev_err("cuMemHostAlloc"))?,
                done: self.ctx.new_event(None).map_err(dev_err("event"))?,
            })
        };
        Ok([mk()?, mk()?])
    }

    fn reduce_impl(
        &mut self,
        kind: &str,
        dtype: DType,
        a: BufferId,
        b: Option<BufferId>,
        n: u64,
    ) -> Result<f64> {
        let da = self.bufs.get(a)?;
        check_elems(a, da.bytes, dtype, n)?;
        let pa = da.ptr;
        let pb = match b {
            Some(b) => {
                let db = self.bufs.get(b)?;
                check_elems(b, db.bytes, dtype, n)?;
                db.ptr
            }
            None => pa,
        };
        self.bind()?;
        let t = dtype.name();
        let f1 = self.func(&format!("{kind}_{t}"))?;
        let kind2 = if kind == "dot" { "sum" } else { kind };
        let f2 = self.func(&format!("{kind2}_{t}"))?;
        let blocks = (n.div_ceil(THREADS as u64) as u32).clamp(1, REDUCE_BLOCKS);
        let (n32, partials, result) = (n as u32, self.partials, self.result);
        self.begin()?;
        let cfg = |g: u32| LaunchConfig {
            grid_dim: (g, 1, 1),
            block_dim: (THREADS, 1, 1),
            shared_mem_bytes: 0,
        };
        // SAFETY: pointers are live allocations holding at least n elements (checked above);
        // partials holds REDUCE_BLOCKS elements of 8 bytes.
        unsafe {
            self.stream
                .launch_builder(&f1)
                .arg(&pa)
                .arg(&pb)
                .arg(&partials)
                .arg(&n32)
                .launch(cfg(blocks))
                .map_err(dev_err("launch reduce pass 1"))?;
            self.stream
                .launch_builder(&f2)
                .arg(&partials)
                .arg(&partials)
                .arg(&result)
                .arg(&blocks)
                .launch(cfg(1))
                .map_err(dev_err("launch reduce pass 2"))?;
        }
        self.end()?;
        let mut w = [0u8; 8];
        let len = dtype.size() as usize;
        // SAFETY: result holds 8 bytes; the stream is synchronised before w is read.
        unsafe { drv::memcpy_dtoh_async(&mut w[..len], result, self.stream.cu_stream()) }
            .map_err(dev_err("cuMemcpyDtoHAsync"))?;
        self.stream.synchronize().map_err(dev_err("stream sync"))?;
        Ok(match dtype {
            DType::F32 => f32::from_le_bytes([w[0], w[1], w[2], w[3]]) as f64,
            DType::F64 => f64::from_le_bytes(w),
        })
    }

    fn write_impl(&mut self, id: BufferId, offset: u64, data: &[u8]) -> Result<()> {
        let b = self.bufs.get(id)?;
        check_range(id, b.bytes, offset, data.len() as u64)?;
        let dst = b.ptr + offset;
        self.bind()?;
        if self.up.is_none() {
            // Write-combined: the host only writes these, the DMA engine reads them.
            self.up = Some(self.stages(sys::CU_MEMHOSTALLOC_WRITECOMBINED)?);
        }
        let stream = self.stream.clone();
        let stages = self
            .up
            .as_mut()
            .ok_or_else(|| GpuError::Device("staging".into()))?;
        for (i, chunk) in data.chunks(STAGE_BYTES).enumerate() {
            let st = &mut stages[i % 2];
            st.done.synchronize().map_err(dev_err("event sync"))?;
            let host = &mut st.host.as_mut_slice().map_err(dev_err("pinned"))?[..chunk.len()];
            host.par_chunks_mut(PAR_CHUNK)
                .zip(chunk.par_chunks(PAR_CHUNK))
                .for_each(|(d, s)| d.copy_from_slice(s));
            // SAFETY: dst + i·STAGE .. + len lies inside the buffer (checked); the pinned
            // source is not touched again until its event has completed.
            unsafe {
                drv::memcpy_htod_async(dst + (i * STAGE_BYTES) as u64, &*host, stream.cu_stream())
            }
            .map_err(dev_err("cuMemcpyHtoDAsync"))?;
            st.done.record(&stream).map_err(dev_err("event record"))?;
        }
        Ok(())
    }

    fn read_impl(&mut self, id: BufferId, offset: u64, out: &mut [u8]) -> Result<()> {
        let b = self.bufs.get(id)?;
        check_range(id, b.bytes, offset, out.len() as u64)?;
        let src = b.ptr + offset;
        self.bind()?;
        if self.down.is_none() {
            self.down = Some(self.stages(0)?);
        }
        let stream = self.stream.clone();
        let stages = self
            .down
            .as_mut()
            .ok_or_else(|| GpuError::Device("staging".into()))?;
        let chunks: Vec<&mut [u8]> = out.chunks_mut(STAGE_BYTES).collect();
        let count = chunks.len();
        let mut pending: Option<&mut [u8]> = None;
        let mut it = chunks.into_iter();
        for i in 0..=count {
            let next = it.next();
            if let Some(chunk) = &next {
                let st = &mut stages[i % 2];
                let len = chunk.len();
                // SAFETY: src + i·STAGE .. + len lies inside the buffer (checked); the pinned
                // buffer is read only after its event completes.
                let host = st.host.as_mut_slice().map_err(dev_err("pinned"))?;
                unsafe {
                    drv::memcpy_dtoh_async(
                        &mut host[..len],
                        src + (i * STAGE_BYTES) as u64,
                        stream.cu_stream(),
                    )
                }
                .map_err(dev_err("cuMemcpyDtoHAsync"))?;
                st.done.record(&stream).map_err(dev_err("event record"))?;
            }
            if let Some(prev) = pending.take() {
                let st = &mut stages[(i + 1) % 2];
                st.done.synchronize().map_err(dev_err("event sync"))?;
                let host = st.host.as_slice().map_err(dev_err("pinned"))?;
                let len = prev.len();
                prev.par_chunks_mut(PAR_CHUNK)
                    .zip(host[..len].par_chunks(PAR_CHUNK))
                    .for_each(|(d, s)| d.copy_from_slice(s));
            }
            pending = next;
        }
        Ok(())
    }
}

/// Launch shape of `threads` threads in blocks of [`THREADS`] (1-D).
fn grid(threads: u64) -> Result<LaunchConfig> {
    let blocks = threads.div_ceil(THREADS as u64).max(1);
    if blocks > i32::MAX as u64 {
        return Err(GpuError::TooLarge {
            what: "threads of one launch",
            requested: threads,
            limit: i32::MAX as u64 * THREADS as u64,
        });
    }
    Ok(LaunchConfig {
        grid_dim: (blocks as u32, 1, 1),
        block_dim: (THREADS, 1, 1),
        shared_mem_bytes: 0,
    })
}

/// Blocks of a grid-stride kernel over `n` rows (at most 65535·4 blocks).
fn grid_stride(n: u32) -> Result<LaunchConfig> {
    grid((n as u64).min(65535 * 4 * THREADS as u64))
}

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

    fn bootstrap_impl(
        &mut self,
        seed: u64,
        first_tree: u32,
        n_trees: u32,
        n_rows: u32,
        out: BufferId,
    ) -> Result<()> {
        let elems = check_bootstrap(n_trees, n_rows, out, |id| self.buffer_size(id))?;
        let po = self.ptr(out)?;
        self.bind()?;
        let f = self.func("ml_bootstrap")?;
        let n_chunks = n_rows.div_ceil(BOOTSTRAP_CHUNK);
        let cfg = grid(n_trees as u64 * n_chunks as u64)?;
        let chunk = BOOTSTRAP_CHUNK;
        self.begin()?;
        self.memset(po, 0, elems * 4)?;
        // SAFETY: out holds n_trees·n_rows u32 (checked); the kernel writes only there.
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

    fn find_split_impl(&mut self, a: &FindSplitArgs) -> Result<()> {
        check_find_split(a, |id| self.buffer_size(id))?;
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
        // SAFETY: every operand holds its shape (checked above); the kernels bound-check every
        // row and node index they read from order, node_of and the scratch row lists; the
        // scratch regions have the sizes laid out above; err holds 4 bytes.
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

    fn average_impl(
        &mut self,
        dtype: DType,
        preds: BufferId,
        n_trees: u32,
        n_rows: u32,
        out: BufferId,
    ) -> Result<()> {
        check_average(dtype, preds, n_trees, n_rows, out, |id| {
            self.buffer_size(id)
        })?;
        let (pp, po) = (self.ptr(preds)?, self.ptr(out)?);
        self.bind()?;
        let f = self.func(&format!("ml_average_{}", dtype.name()))?;
        let cfg = grid_stride(n_rows)?;
        self.begin()?;
        // SAFETY: preds holds n_trees·n_rows f32 and out n_rows elements of dtype (checked).
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

    fn batch_predict_impl(
        &mut self,
        dtype: DType,
        fb: &ForestBuffers,
        x: BufferId,
        n_rows: u32,
        out: BufferId,
    ) -> Result<()> {
        check_batch_predict(dtype, fb, x, n_rows, out, |id| self.buffer_size(id))?;
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
        // SAFETY: every operand holds its shape (checked); the kernel bound-checks every node
        // and feature index it follows.
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

impl Drop for CudaBackend {
    fn drop(&mut self) {
        let _ = self.ctx.bind_to_thread();
        let _ = self.stream.synchronize();
        for b in self.bufs.drain() {
            // SAFETY: allocated by malloc_sync, freed once.
            let _ = unsafe { drv::free_sync(b.ptr) };
        }
        // SAFETY: allocated by malloc_sync in open, freed once.
        unsafe {
            let _ = drv::free_sync(self.partials);
            let _ = drv::free_sync(self.result);
            if self.ml_scratch.0 != 0 {
                let _ = drv::free_sync(self.ml_scratch.0);
            }
        }
    }
}

impl GpuBackend for CudaBackend {
    fn info(&self) -> &DeviceInfo {
        &self.info
    }

    fn create_buffer(&mut self, bytes: u64) -> Result<BufferId> {
        check_create(bytes, self.info.max_buffer_bytes)?;
        guard(|| {
            self.bind()?;
            // SAFETY: a fresh allocation owned by the handle table.
            let ptr = unsafe { drv::malloc_sync(bytes as usize) }
                .map_err(|e| GpuError::Device(format!("cuMemAlloc of {bytes} bytes: {e}")))?;
            Ok(self.bufs.insert(DevBuf { ptr, bytes }))
        })
    }

    fn destroy_buffer(&mut self, id: BufferId) -> Result<()> {
        let b = self.bufs.remove(id)?;
        guard(|| {
            self.bind()?;
            // Queued work may still use the buffer.
            self.stream.synchronize().map_err(dev_err("stream sync"))?;
            // SAFETY: allocated by malloc_sync, removed from the table, freed once.
            unsafe { drv::free_sync(b.ptr) }.map_err(dev_err("cuMemFree"))
        })
    }

    fn buffer_size(&self, id: BufferId) -> Result<u64> {
        Ok(self.bufs.get(id)?.bytes)
    }

    fn write(&mut self, id: BufferId, offset: u64, data: &[u8]) -> Result<()> {
        guard(|| self.write_impl(id, offset, data))
    }

    fn read(&mut self, id: BufferId, offset: u64, out: &mut [u8]) -> Result<()> {
        guard(|| self.read_impl(id, offset, out))
    }

    fn copy(
        &mut self,
        src: BufferId,
        src_offset: u64,
        dst: BufferId,
        dst_offset: u64,
        bytes: u64,
    ) -> Result<()> {
        let s = self.bufs.get(src)?;
        check_range(src, s.bytes, src_offset, bytes)?;
        let d = self.bufs.get(dst)?;
        check_range(dst, d.bytes, dst_offset, bytes)?;
        check_no_overlap(src, src_offset, dst, dst_offset, bytes)?;
        let (ps, pd) = (s.ptr + src_offset, d.ptr + dst_offset);
        guard(|| {
            self.bind()?;
            // SAFETY: both ranges checked above, not overlapping.
            unsafe { drv::memcpy_dtod_async(pd, ps, bytes as usize, self.stream.cu_stream()) }
                .map_err(dev_err("cuMemcpyDtoDAsync"))
        })
    }

    fn sync(&mut self) -> Result<()> {
        guard(|| {
            self.bind()?;
            self.stream.synchronize().map_err(dev_err("stream sync"))
        })
    }

    fn reduce(&mut self, op: ReduceOp, dtype: DType, a: BufferId, n: u64) -> Result<f64> {
        let kind = match op {
            ReduceOp::Sum => "sum",
            ReduceOp::Min => "min",
            ReduceOp::Max => "max",
        };
        guard(|| self.reduce_impl(kind, dtype, a, None, n))
    }

    fn dot(&mut self, dtype: DType, a: BufferId, b: BufferId, n: u64) -> Result<f64> {
        guard(|| self.reduce_impl("dot", dtype, a, Some(b), n))
    }

    fn elementwise(
        &mut self,
        op: ElementwiseOp,
        dtype: DType,
        a: BufferId,
        b: Option<BufferId>,
        scalar: f64,
        out: BufferId,
        n: u64,
    ) -> Result<()> {
        let b = elementwise_b(op, b)?;
        for id in [Some(a), b, Some(out)].into_iter().flatten() {
            let d = self.bufs.get(id)?;
            check_elems(id, d.bytes, dtype, n)?;
        }
        let pa = self.ptr(a)?;
        let pb = match b {
            Some(b) => self.ptr(b)?,
            None => pa,
        };
        let po = self.ptr(out)?;
        let name = match op {
            ElementwiseOp::Mul => "mul",
            ElementwiseOp::Add => "add",
            ElementwiseOp::Scale => "scale",
            ElementwiseOp::Relu => "relu",
        };
        guard(|| {
            self.bind()?;
            let f = self.func(&format!("{name}_{}", dtype.name()))?;
            let n32 = n as u32;
            let blocks = (n.div_ceil(THREADS as u64)).clamp(1, 65535 * 4) as u32;
            let cfg = LaunchConfig {
                grid_dim: (blocks, 1, 1),
                block_dim: (THREADS, 1, 1),
                shared_mem_bytes: 0,
            };
            self.begin()?;
            let (s32, s64) = (scalar as f32, scalar);
            let mut l = self.stream.launch_builder(&f);
            l.arg(&pa).arg(&pb).arg(&po);
            match dtype {
                DType::F32 => l.arg(&s32),
                DType::F64 => l.arg(&s64),
            };
            l.arg(&n32);
            // SAFETY: all three pointers hold at least n elements (checked above).
            unsafe { l.launch(cfg) }.map_err(dev_err("launch elementwise"))?;
            self.end()
        })
    }

    fn matmul(
        &mut self,
        precision: MatmulPrecision,
        a: BufferId,
        b: BufferId,
        c: BufferId,
        m: u64,
        k: u64,
        n: u64,
    ) -> Result<()> {
        let sizes = [
            (a, self.bufs.get(a)?.bytes),
            (b, self.bufs.get(b)?.bytes),
            (c, self.bufs.get(c)?.bytes),
        ];
        let (m, k, n) = check_matmul(sizes, m, k, n)?;
        if precision == MatmulPrecision::Tf32 && !self.info.supports_tf32 {
            return Err(GpuError::Unsupported(format!(
                "TF32 on {} (needs sm_80 or newer)",
                self.info.name
            )));
        }
        let (pa, pb, pc) = (self.ptr(a)?, self.ptr(b)?, self.ptr(c)?);
        guard(|| {
            self.bind()?;
            let handle = *self.blas.handle();
            let mode = match precision {
                MatmulPrecision::Fp32 => blas_sys::cublasMath_t::CUBLAS_DEFAULT_MATH,
                MatmulPrecision::Tf32 => blas_sys::cublasMath_t::CUBLAS_TF32_TENSOR_OP_MATH,
            };
            let blas_err = |e: blas_result::CublasError| GpuError::Device(format!("cuBLAS: {e}"));
            // SAFETY: handle is live; mode is a valid enum value.
            unsafe { blas_sys::cublasSetMathMode(handle, mode) }
                .result()
                .map_err(blas_err)?;
            let (alpha, beta) = (1.0f32, 0.0f32);
            let (m, k, n) = (m as i32, k as i32, n as i32);
            self.begin()?;
            // Row-major C (m×n) = A (m×k) · B (k×n) is column-major Cᵀ (n×m) = Bᵀ (n×k) · Aᵀ (k×m).
            // SAFETY: buffer sizes checked by check_matmul; pointers are live allocations.
            unsafe {
                blas_result::sgemm(
                    handle,
                    blas_sys::cublasOperation_t::CUBLAS_OP_N,
                    blas_sys::cublasOperation_t::CUBLAS_OP_N,
                    n,
                    m,
                    k,
                    &alpha,
                    pb as *const f32,
                    n,
                    pa as *const f32,
                    k,
                    &beta,
                    pc as *mut f32,
                    n,
                )
            }
            .map_err(blas_err)?;
            self.end()
        })
    }

    fn bootstrap_sample(
        &mut self,
        seed: u64,
        first_tree: u32,
        n_trees: u32,
        n_rows: u32,
        out: BufferId,
    ) -> Result<()> {
        guard(|| self.bootstrap_impl(seed, first_tree, n_trees, n_rows, out))
    }

    fn find_split(&mut self, args: &FindSplitArgs) -> Result<()> {
        guard(|| self.find_split_impl(args))
    }

    fn average(
        &mut self,
        dtype: DType,
        preds: BufferId,
        n_trees: u32,
        n_rows: u32,
        out: BufferId,
    ) -> Result<()> {
        guard(|| self.average_impl(dtype, preds, n_trees, n_rows, out))
    }

    fn batch_predict(
        &mut self,
        dtype: DType,
        forest: &ForestBuffers,
        x: BufferId,
        n_rows: u32,
        out: BufferId,
    ) -> Result<()> {
        guard(|| self.batch_predict_impl(dtype, forest, x, n_rows, out))
    }

    fn set_kernel_timing(&mut self, on: bool) -> Result<()> {
        self.timing = on;
        self.last_ns = None;
        Ok(())
    }

    fn last_kernel_ns(&self) -> Option<u64> {
        self.last_ns
    }
}

impl core::fmt::Debug for CudaBackend {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("CudaBackend")
            .field("info", &self.info)
            .finish()
    }
}
