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
//!
//! Arguments arrive checked (see the `gpu` module's layers); this backend still checks its
//! launch limits, TF32 support, and find-split's index contents (an error word the kernels
//! set). Files: this one holds the device, its buffers and the module loader; `transfer.rs`
//! the staged copies; `vector.rs` the reductions and element-wise ops, `matmul.rs` cuBLAS
//! SGEMM, `ml.rs` the random-forest kernels, each with its CUDA sources.

use super::hal::{panic_message, BufferTable, RawBackend};
use super::{
    BackendKind, BufferId, DType, DeviceInfo, ElementwiseOp, FindSplitArgs, ForestBuffers,
    GpuError, HistGrowArgs, MatmulPrecision, ReduceOp, Result,
};
use cudarc::cublas::CudaBlas;
use cudarc::driver::{
    result as drv, sys, CudaContext, CudaEvent, CudaFunction, CudaStream, LaunchConfig,
    PinnedHostSlice,
};
use cudarc::nvrtc::{compile_ptx_with_opts, CompileOptions, Ptx};
use std::collections::HashMap;
use std::format;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::string::{String, ToString};
use std::sync::{Arc, Mutex, OnceLock};
use std::vec::Vec;

mod hist;
mod matmul;
mod ml;
mod transfer;
mod vector;

pub use ml::BOOTSTRAP_CHUNK;
pub use transfer::STAGE_BYTES;
use vector::REDUCE_BLOCKS;

/// Threads per block of every kernel.
const THREADS: u32 = 256;

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
        if name.starts_with("hist_") {
            self.load_module(
                "ml_hist",
                hist::ML_HIST_CU,
                &["--fmad=false"],
                &hist::HIST_KERNELS,
            )?;
        } else if name.starts_with("ml_") {
            // Without FMA contraction, so that f32/f64 results equal the cpu's bit for bit.
            self.load_module(
                "ml_kernels",
                ml::ML_KERNELS_CU,
                &["--fmad=false"],
                &ml::ML_KERNELS,
            )?;
        } else {
            let mut names = Vec::new();
            for k in ["sum", "min", "max", "dot", "mul", "add", "scale", "relu"] {
                for t in ["f32", "f64"] {
                    names.push(format!("{k}_{t}"));
                }
            }
            let names: Vec<&str> = names.iter().map(String::as_str).collect();
            self.load_module("kernels", vector::KERNELS_CU, &[], &names)?;
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

impl RawBackend for CudaBackend {
    fn info(&self) -> &DeviceInfo {
        &self.info
    }

    fn check_dtype(&self, _dtype: DType) -> Result<()> {
        // Every CUDA device runs f64 kernels.
        Ok(())
    }

    fn create_buffer(&mut self, bytes: u64) -> Result<BufferId> {
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
        let (ps, pd) = (self.ptr(src)? + src_offset, self.ptr(dst)? + dst_offset);
        guard(|| {
            self.bind()?;
            // SAFETY: both ranges checked by the layer above, not overlapping.
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
        self.elementwise_impl(op, dtype, a, b, scalar, out, n)
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
        self.matmul_impl(precision, a, b, c, m, k, n)
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

    fn hist_grow(&mut self, a: &HistGrowArgs) -> Result<()> {
        self.hist_grow_impl(a)
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
