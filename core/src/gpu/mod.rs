//! GPU offload: the [`GpuBackend`] trait and its backends.
//!
//! A backend owns a device and a table of device buffers named by integer handles
//! ([`BufferId`], never 0, never reused after `destroy_buffer`), so that an opaque-handle
//! C API (device handle, buffer handles as integers, status codes) maps onto it one to
//! one. Buffers are untyped: sizes and offsets are in **bytes**; kernels read their operands
//! from byte 0 of each buffer and take element counts (`n`) of the given [`DType`].
//!
//! Backends, chosen at run time by [`Backend::open`] (or the `OFFLOAD_BACKEND` environment
//! variable through [`Backend::from_env`]):
//! - `cpu` ([`cpu::CpuBackend`]): the reference every other backend is checked against.
//! - `wgpu` (feature `wgpu`): WGSL compute shaders from `core/shaders/` on Vulkan, Metal or
//!   DX12; Mesa's lavapipe on machines without a GPU.
//! - `cuda` (feature `cuda`): CUDA C kernels from `core/cuda/` compiled by NVRTC for the
//!   device's architecture on first use, cuBLAS SGEMM, all loaded dynamically through cudarc.
//!
//! A backend that cannot start returns [`GpuError::BackendUnavailable`] with a one-line
//! reason; [`probe_all`] lists every backend with its device or that reason.
//!
//! Layers, top to bottom:
//! 1. `GpuBackend`, the API every caller uses (`Backend` boxes one chosen at run time).
//! 2. `validate`: `GpuBackend` is implemented once for every backend by a layer that checks
//!    each call's arguments (handles, transfer ranges, element counts, shapes, aliasing,
//!    dtype) and only then dispatches, so every backend rejects bad input with the same
//!    error, and no backend can be called without the checks.
//! 3. `hal`: the trait each backend implements on checked arguments, and the handle table
//!    the backends keep buffers in (whose sizes the checks ask for).
//! 4. The backends: `cpu`, `wgpu`, `cuda`. They still check what only they can see: the
//!    contents of index buffers, their own launch limits and precisions, device errors.

pub mod cpu;
#[cfg(feature = "cuda")]
pub mod cuda;
mod hal;
pub mod hist;
pub mod policy;
mod validate;
#[cfg(feature = "wgpu")]
pub mod wgpu;

pub use hist::{HistGrowArgs, HistNode};
use std::string::{String, ToString};
use std::vec::Vec;

/// Handle of a device buffer, unique within one backend instance. 0 is never a valid handle
/// (it is the C API's null handle); a destroyed handle is never handed out again.
pub type BufferId = u64;

/// Element type of a kernel's operands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DType {
    /// IEEE-754 binary32.
    F32,
    /// IEEE-754 binary64; on wgpu only where the adapter has `SHADER_F64`.
    F64,
}

impl DType {
    /// Size of one element in bytes.
    pub const fn size(self) -> u64 {
        match self {
            DType::F32 => 4,
            DType::F64 => 8,
        }
    }
    /// Lower-case name (`f32`, `f64`), as used in benchmark ids.
    pub const fn name(self) -> &'static str {
        match self {
            DType::F32 => "f32",
            DType::F64 => "f64",
        }
    }
}

/// Reduction of one vector to a scalar.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ReduceOp {
    /// Σ a\[i\].
    Sum,
    /// min a\[i\] (NaN handling on GPUs follows the device's `min`, not IEEE `minimum`).
    Min,
    /// max a\[i\].
    Max,
}

/// Element-wise kernel `out[i] = f(a[i], b[i])`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ElementwiseOp {
    /// out = a · b (needs `b`).
    Mul,
    /// out = a + b (needs `b`).
    Add,
    /// out = scalar · a.
    Scale,
    /// out = max(a, 0).
    Relu,
}

impl ElementwiseOp {
    /// Whether the op reads a second operand `b`.
    pub const fn is_binary(self) -> bool {
        matches!(self, ElementwiseOp::Mul | ElementwiseOp::Add)
    }
}

/// Arithmetic of an f32 matrix product.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MatmulPrecision {
    /// Plain FP32 FMA arithmetic (the default; relative error ≤ 1e-4 against cpu).
    Fp32,
    /// Inputs rounded to TF32 (10-bit mantissa) on tensor cores, FP32 accumulation; cuda
    /// only, opt-in, reported under its own name (`gpu-cuda-tf32`); error ≤ 5e-3.
    Tf32,
}

/// Which implementation a backend is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BackendKind {
    /// The reference implementation on the host CPU.
    Cpu,
    /// WGSL compute shaders through wgpu.
    Wgpu,
    /// CUDA through cudarc (NVRTC kernels, cuBLAS).
    Cuda,
}

impl BackendKind {
    /// Every kind, in the order [`probe_all`] lists them.
    pub const ALL: [BackendKind; 3] = [BackendKind::Cpu, BackendKind::Wgpu, BackendKind::Cuda];
    /// Name accepted by [`Backend::open`].
    pub const fn name(self) -> &'static str {
        match self {
            BackendKind::Cpu => "cpu",
            BackendKind::Wgpu => "wgpu",
            BackendKind::Cuda => "cuda",
        }
    }
}

/// What a backend reports about its device.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceInfo {
    /// The backend.
    pub backend: BackendKind,
    /// Device name (e.g. `NVIDIA H100 80GB HBM3`, `llvmpipe (LLVM 19.1.7, 256 bits)`).
    pub name: String,
    /// Driver or API details (e.g. `Vulkan, Mesa 25.0.7`, `CUDA driver 13000, sm_90`).
    pub driver: String,
    /// Device memory in bytes, where the API reports it.
    pub memory_bytes: Option<u64>,
    /// Largest single buffer in bytes that `create_buffer` accepts.
    pub max_buffer_bytes: u64,
    /// Whether f64 kernels run (else they return [`GpuError::Unsupported`]).
    pub supports_f64: bool,
    /// Whether [`MatmulPrecision::Tf32`] runs.
    pub supports_tf32: bool,
    /// Whether kernel times are measured on the device (timestamp queries, CUDA events).
    pub kernel_timing: bool,
    /// Whether the device is a software rasteriser (lavapipe) or the host CPU.
    pub is_software: bool,
}

/// Errors of the GPU API. Every bad input is an error, never a panic, and the backend stays
/// usable after it.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum GpuError {
    /// The backend could not start: no Vulkan adapter, no CUDA driver, a missing library
    /// (named), or the crate was built without the backend's feature.
    #[error("backend {backend} unavailable: {reason}")]
    BackendUnavailable {
        /// `cpu`, `wgpu` or `cuda`.
        backend: &'static str,
        /// One line saying why.
        reason: String,
    },
    /// The device cannot run this (f64 without SHADER_F64, TF32 off CUDA, ...).
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// The handle was never created, or was destroyed.
    #[error("invalid buffer handle {0}")]
    InvalidHandle(BufferId),
    /// `offset + bytes` past the end of the buffer.
    #[error(
        "out of bounds: offset {offset} + {bytes} bytes past the end of buffer {id} ({size} bytes)"
    )]
    OutOfBounds {
        /// The buffer.
        id: BufferId,
        /// Offset in bytes.
        offset: u64,
        /// Bytes asked for.
        bytes: u64,
        /// Buffer size in bytes.
        size: u64,
    },
    /// A zero-byte buffer or transfer, or a kernel on zero elements.
    #[error("zero size: {0}")]
    ZeroSize(&'static str),
    /// A size over the device's limit.
    #[error("too large: {what} is {requested}, limit {limit}")]
    TooLarge {
        /// What was too large.
        what: &'static str,
        /// The size asked for.
        requested: u64,
        /// The device's or API's limit.
        limit: u64,
    },
    /// Operands that do not fit the kernel's shape.
    #[error("shape mismatch: {0}")]
    ShapeMismatch(String),
    /// Any other bad argument.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// The device or driver failed.
    #[error("device error: {0}")]
    Device(String),
}

/// Result of the GPU API.
pub type Result<T, E = GpuError> = core::result::Result<T, E>;

/// A compute device with buffers named by handles and the kernels of offload.
///
/// Methods take `&mut self`: one backend instance is used by one thread at a time (a C API
/// wraps it in a mutex). Kernels are queued in order on the device; `read`, `reduce` and
/// `dot` return once their result is on the host, `sync` waits for everything queued.
///
/// The ML kernels of the random forest (bootstrap-sample, find-split, average,
/// batch-predict) default to [`GpuError::Unsupported`], so a backend without them still
/// builds and says so by name.
///
/// The crate's own backends (cpu, wgpu, cuda) get this trait through one checking layer,
/// which validates the arguments of every call before the backend runs it, so that they all
/// return the same errors for the same bad input; an implementation outside this crate does
/// its own checking.
pub trait GpuBackend: Send {
    /// The device this backend runs on.
    fn info(&self) -> &DeviceInfo;

    /// Allocates a device buffer of `bytes` bytes (contents unspecified).
    /// Errors: `ZeroSize`, `TooLarge` over [`DeviceInfo::max_buffer_bytes`], `Device` when
    /// the device is out of memory.
    fn create_buffer(&mut self, bytes: u64) -> Result<BufferId>;
    /// Frees a buffer; its handle becomes invalid. Error: `InvalidHandle`.
    fn destroy_buffer(&mut self, id: BufferId) -> Result<()>;
    /// Size of a buffer in bytes. Error: `InvalidHandle`.
    fn buffer_size(&self, id: BufferId) -> Result<u64>;
    /// Copies `data` from the host to `id` at byte `offset` (through pinned or mapped
    /// staging memory). Errors: `InvalidHandle`, `ZeroSize`, `OutOfBounds`.
    fn write(&mut self, id: BufferId, offset: u64, data: &[u8]) -> Result<()>;
    /// Copies `out.len()` bytes of `id` from byte `offset` to the host, after all queued
    /// work. Errors: `InvalidHandle`, `ZeroSize`, `OutOfBounds`.
    fn read(&mut self, id: BufferId, offset: u64, out: &mut [u8]) -> Result<()>;
    /// Device-to-device copy of `bytes` bytes (`src` and `dst` may be the same buffer only if
    /// the ranges do not overlap). Errors: `InvalidHandle`, `ZeroSize`, `OutOfBounds`,
    /// `InvalidArgument` for overlapping ranges.
    fn copy(
        &mut self,
        src: BufferId,
        src_offset: u64,
        dst: BufferId,
        dst_offset: u64,
        bytes: u64,
    ) -> Result<()>;
    /// Waits until all queued work on the device has finished.
    fn sync(&mut self) -> Result<()>;

    /// Reduces the first `n` elements of `a` to a scalar, returned as f64.
    /// Errors: `InvalidHandle`, `ZeroSize`, `ShapeMismatch` if `a` holds fewer than `n`
    /// elements, `TooLarge` over 2^32−1 elements, `Unsupported` for f64 without device f64.
    fn reduce(&mut self, op: ReduceOp, dtype: DType, a: BufferId, n: u64) -> Result<f64>;
    /// Σ a\[i\]·b\[i\] over the first `n` elements, returned as f64. Errors as for `reduce`.
    fn dot(&mut self, dtype: DType, a: BufferId, b: BufferId, n: u64) -> Result<f64>;
    /// `out[i] = op(a[i], b[i])` for i < n; `b` is needed by `Mul` and `Add`
    /// (`InvalidArgument` without it) and ignored otherwise; `scalar` is used by `Scale`.
    /// `out` may be `a` or `b` (in place). Errors as for `reduce`.
    #[allow(clippy::too_many_arguments)]
    fn elementwise(
        &mut self,
        op: ElementwiseOp,
        dtype: DType,
        a: BufferId,
        b: Option<BufferId>,
        scalar: f64,
        out: BufferId,
        n: u64,
    ) -> Result<()>;
    /// f32 matrix product `C = A·B`, row-major, A m×k, B k×n, C m×n (`c` must differ from
    /// `a` and `b`). Errors: `ZeroSize`, `ShapeMismatch` if a buffer is too small or `c`
    /// aliases an input, `TooLarge` over 2^31−1 per dimension, `Unsupported` for a
    /// precision the device lacks.
    #[allow(clippy::too_many_arguments)]
    fn matmul(
        &mut self,
        precision: MatmulPrecision,
        a: BufferId,
        b: BufferId,
        c: BufferId,
        m: u64,
        k: u64,
        n: u64,
    ) -> Result<()>;

    /// **bootstrap-sample**: the bootstrap weights of `n_trees` trees, tree `first_tree + t`
    /// in row `t` of `out` (u32, `n_trees × n_rows` elements, row-major):
    /// `out[t·n_rows + r]` = how often row `r` is drawn among `n_rows` draws of
    /// `Pcg32::new(seed, 2·(first_tree + t)).below(n_rows)`, i.e. exactly
    /// [`crate::forest::bootstrap_counts`]. Integer results: every backend gives the same bits.
    /// Errors: `InvalidHandle`, `ZeroSize` (`n_trees` or `n_rows` 0), `ShapeMismatch` when `out`
    /// holds fewer than `n_trees·n_rows` u32, `TooLarge` over 2^32−1 elements.
    fn bootstrap_sample(
        &mut self,
        seed: u64,
        first_tree: u32,
        n_trees: u32,
        n_rows: u32,
        out: BufferId,
    ) -> Result<()> {
        let _ = (seed, first_tree, n_trees, n_rows, out);
        Err(self.ml_unsupported("bootstrap-sample"))
    }

    /// **find-split**: the best split of every open node of a batch of trees, chosen exactly as
    /// [`crate::forest::find_split`] chooses it (see [`FindSplitArgs`] for the operands), one
    /// [`SplitRecord`] per node written to `args.out`. Every backend picks the same
    /// (feature, threshold) and the same score bits as `cpu`.
    /// Errors: `InvalidHandle`, `ZeroSize`, `ShapeMismatch` for a buffer smaller than its
    /// shape, `InvalidArgument` for `min_leaf` 0, `out` aliasing an input, or an index out of
    /// range found in the inputs (a row ≥ `n_rows` in `order`, a node ≥ `n_nodes` other than
    /// `u32::MAX` in `node_of`, a node holding rows of two trees), `Unsupported` where the
    /// device lacks f64.
    fn find_split(&mut self, args: &FindSplitArgs) -> Result<()> {
        let _ = args;
        Err(self.ml_unsupported("find-split"))
    }

    /// **hist-grow**: grows whole trees of the histogram-mode forest on the device (operands
    /// and rule: [`HistGrowArgs`]; the same trees as [`crate::forest::hist::grow_hist_tree`],
    /// each node's children numbered in pairs in any order). The host reads back only
    /// `node_count` and the nodes.
    /// Errors: `InvalidHandle`, `ZeroSize`, `ShapeMismatch` for a buffer smaller than its
    /// shape, `InvalidArgument` for `min_leaf` 0, `min_split` < 2, `node_cap` < 2·n_rows − 1,
    /// or an output aliasing an input, `Unsupported` where the device lacks f64, `TooLarge`
    /// when the backend's scratch does not fit.
    fn hist_grow(&mut self, args: &HistGrowArgs) -> Result<()> {
        let _ = args;
        Err(self.ml_unsupported("hist-grow"))
    }

    /// **average**: `out[r] = (Σ_t preds[t·n_rows + r]) / n_trees` for r < `n_rows`, `preds` f32
    /// (`n_trees × n_rows`, one row of predictions per tree), the sum taken in tree order in
    /// `dtype` (F64: equal to [`crate::forest::Forest::predict`]'s mean bit for bit; F32: sum in
    /// f32), `out` of `dtype`. Errors: as `reduce`; `Unsupported` for f64 without device f64.
    fn average(
        &mut self,
        dtype: DType,
        preds: BufferId,
        n_trees: u32,
        n_rows: u32,
        out: BufferId,
    ) -> Result<()> {
        let _ = (dtype, preds, n_trees, n_rows, out);
        Err(self.ml_unsupported("average"))
    }

    /// **batch-predict**: whole-forest inference. For each of the `n_rows` rows of `x` (f32,
    /// `n_rows × forest.n_features`, row-major) walks every tree of `forest` from its root
    /// (`x[f] <= threshold` goes left) and writes the mean of the leaf values, summed in tree
    /// order in `dtype`, to `out` (`n_rows` elements of `dtype`); F64 equals
    /// [`crate::forest::Forest::predict`] bit for bit. Errors: `InvalidHandle`, `ZeroSize`,
    /// `ShapeMismatch` for buffers smaller than their shapes, `Unsupported` for f64 without
    /// device f64. A malformed forest (child or feature index out of range, a cycle) gives
    /// unspecified predictions but never reads outside its buffers or hangs: a walk stops
    /// after `n_nodes` steps.
    fn batch_predict(
        &mut self,
        dtype: DType,
        forest: &ForestBuffers,
        x: BufferId,
        n_rows: u32,
        out: BufferId,
    ) -> Result<()> {
        let _ = (dtype, forest, x, n_rows, out);
        Err(self.ml_unsupported("batch-predict"))
    }

    /// The `Unsupported` error of an ML kernel this backend does not implement.
    fn ml_unsupported(&self, kernel: &str) -> GpuError {
        GpuError::Unsupported(std::format!(
            "{kernel} is not implemented on the {} backend",
            self.info().backend.name()
        ))
    }

    /// Turns on measuring each kernel's device time (timestamp queries on wgpu, CUDA events
    /// on cuda); `Unsupported` where the device has neither. Off by default because reading
    /// timestamps back waits for the kernel.
    fn set_kernel_timing(&mut self, on: bool) -> Result<()>;
    /// Device time of the last kernel in ns (the whole kernel, all its passes), when timing
    /// is on; the cpu backend reports wall-clock time.
    fn last_kernel_ns(&self) -> Option<u64>;
}

/// Operands of [`GpuBackend::find_split`]: one launch finds the best split of every open node
/// of a batch of `n_trees` trees grown on the same data set (`n_rows` rows, `d` features).
///
/// Buffers (element counts; every buffer may be larger than its shape):
/// - `x`: f32 `n_rows × d`, row-major (the data set).
/// - `y`: f64 `n_rows` (targets).
/// - `order`: u32 `d × n_rows`; `order[f·n_rows + k]` is the k-th row when all rows are sorted
///   by `(x[row·d + f], row)` (f32 `total_cmp`, ties by row index): the presort of the data set,
///   made once per forest by [`crate::forest::presort`].
/// - `weights`: u32 `n_trees × n_rows`; bootstrap weight of each row in each tree (0 = not in
///   the tree's sample), as [`GpuBackend::bootstrap_sample`] writes them.
/// - `node_of`: u32 `n_trees × n_rows`; the open node (an id `< n_nodes`, unique across the
///   batch) that row `r` of tree `t` sits in, or `u32::MAX` when it sits in no open node.
/// - `cand_rank`: u32 `n_nodes × d`; for node `j`, `cand_rank[j·d + f]` is the position of
///   feature `f` in the node's candidate order, or `u32::MAX` when `f` is not a candidate.
///   Exact score ties go to the lower rank, then the lower threshold.
/// - `out`: [`SplitRecord`] × `n_nodes` (24 bytes each).
///
/// For each node and candidate feature the node's rows (weight > 0) are visited in `order`,
/// and the threshold, score and tie rule are those of the module docs of
/// [`crate::forest`]: both sides hold at least `min_leaf` weight, sums in f64 in that order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FindSplitArgs {
    /// f32 `n_rows × d`.
    pub x: BufferId,
    /// f64 `n_rows`.
    pub y: BufferId,
    /// u32 `d × n_rows`.
    pub order: BufferId,
    /// u32 `n_trees × n_rows`.
    pub weights: BufferId,
    /// u32 `n_trees × n_rows`.
    pub node_of: BufferId,
    /// u32 `n_nodes × d`.
    pub cand_rank: BufferId,
    /// [`SplitRecord`] `n_nodes`.
    pub out: BufferId,
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

/// One node's result of [`GpuBackend::find_split`], as laid out in device memory (24 bytes,
/// little-endian, 8-byte aligned).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct SplitRecord {
    /// `S_L²/W_L + S_R²/W_R` of the best split; 0 when there is none.
    pub score: f64,
    /// Split feature, or -1 when the node has no valid split.
    pub feature: i32,
    /// Rows with `x[feature] <= threshold` go left.
    pub threshold: f32,
    /// Weight sent left.
    pub weight_left: u32,
    /// Zero.
    pub pad: u32,
}

/// A forest in device buffers, as [`crate::forest::Tree`]'s flat arrays of all trees laid end
/// to end (`n_nodes` nodes in all): `feature` i32, `threshold` f32, `left` i32, `right` i32
/// (child ids relative to the tree's first node, -1 at a leaf), `value` f32, and `tree_start`
/// u32 `n_trees` (index of each tree's root in the node arrays).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ForestBuffers {
    /// i32 per node, -1 at a leaf.
    pub feature: BufferId,
    /// f32 per node.
    pub threshold: BufferId,
    /// i32 per node.
    pub left: BufferId,
    /// i32 per node.
    pub right: BufferId,
    /// f32 per node.
    pub value: BufferId,
    /// u32 per tree.
    pub tree_start: BufferId,
    /// Trees.
    pub n_trees: u32,
    /// Nodes of all trees.
    pub n_nodes: u32,
    /// Features per row of `x`.
    pub n_features: u32,
}

/// An open backend: [`GpuBackend`] behind a box, chosen by name at run time. It dereferences
/// to the backend's checked entry, so every call through it is validated once before the
/// backend runs it.
pub struct Backend {
    inner: std::boxed::Box<dyn GpuBackend>,
}

impl core::fmt::Debug for Backend {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Backend")
            .field("info", self.inner.info())
            .finish()
    }
}

impl core::ops::Deref for Backend {
    type Target = dyn GpuBackend;
    fn deref(&self) -> &Self::Target {
        &*self.inner
    }
}

impl core::ops::DerefMut for Backend {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut *self.inner
    }
}

/// Environment variable read by [`Backend::from_env`]: `cpu`, `wgpu`, `cuda` or `auto`.
pub const BACKEND_ENV: &str = "OFFLOAD_BACKEND";

impl Backend {
    /// Opens a backend by name: `cpu`, `wgpu`, `cuda`, or `auto` (cuda if it starts, else
    /// wgpu on a hardware adapter, else cpu; a software adapter such as lavapipe is not
    /// chosen by `auto`, only by `wgpu`).
    /// Errors: `BackendUnavailable` with the reason, `InvalidArgument` for another name.
    pub fn open(name: &str) -> Result<Backend> {
        let kind = match name.trim().to_ascii_lowercase().as_str() {
            "cpu" => BackendKind::Cpu,
            "wgpu" => BackendKind::Wgpu,
            "cuda" => BackendKind::Cuda,
            "auto" | "" => return Self::open_auto(),
            other => {
                return Err(GpuError::InvalidArgument(std::format!(
                    "unknown backend {other:?} (expected cpu, wgpu, cuda or auto)"
                )))
            }
        };
        Self::open_kind(kind)
    }

    /// Opens the backend named by `OFFLOAD_BACKEND`, `auto` when unset.
    pub fn from_env() -> Result<Backend> {
        match std::env::var(BACKEND_ENV) {
            Ok(v) => Self::open(&v),
            Err(_) => Self::open_auto(),
        }
    }

    /// Opens one kind of backend.
    pub fn open_kind(kind: BackendKind) -> Result<Backend> {
        let inner: std::boxed::Box<dyn GpuBackend> = match kind {
            BackendKind::Cpu => std::boxed::Box::new(cpu::CpuBackend::new()),
            BackendKind::Wgpu => open_wgpu()?,
            BackendKind::Cuda => open_cuda()?,
        };
        Ok(Backend { inner })
    }

    fn open_auto() -> Result<Backend> {
        if let Ok(b) = Self::open_kind(BackendKind::Cuda) {
            return Ok(b);
        }
        if let Ok(b) = Self::open_kind(BackendKind::Wgpu) {
            if !b.info().is_software {
                return Ok(b);
            }
        }
        Self::open_kind(BackendKind::Cpu)
    }

    /// Which backend this is.
    pub fn kind(&self) -> BackendKind {
        self.inner.info().backend
    }
}

#[cfg(feature = "wgpu")]
fn open_wgpu() -> Result<std::boxed::Box<dyn GpuBackend>> {
    Ok(std::boxed::Box::new(wgpu::WgpuBackend::new()?))
}
#[cfg(not(feature = "wgpu"))]
fn open_wgpu() -> Result<std::boxed::Box<dyn GpuBackend>> {
    Err(GpuError::BackendUnavailable {
        backend: "wgpu",
        reason: "offload-core was built without the `wgpu` feature".into(),
    })
}
#[cfg(feature = "cuda")]
fn open_cuda() -> Result<std::boxed::Box<dyn GpuBackend>> {
    Ok(std::boxed::Box::new(cuda::CudaBackend::new()?))
}
#[cfg(not(feature = "cuda"))]
fn open_cuda() -> Result<std::boxed::Box<dyn GpuBackend>> {
    Err(GpuError::BackendUnavailable {
        backend: "cuda",
        reason: "offload-core was built without the `cuda` feature".into(),
    })
}

/// One line of [`probe_all`]: a backend and its device, or why it is unavailable.
#[derive(Clone, Debug)]
pub struct Probe {
    /// The backend.
    pub kind: BackendKind,
    /// Its device, or the reason it did not start.
    pub device: core::result::Result<DeviceInfo, String>,
}

/// Tries every backend (cpu, wgpu, cuda) and reports each one's device or why it is
/// unavailable. Opens and closes each backend in turn.
pub fn probe_all() -> Vec<Probe> {
    BackendKind::ALL
        .iter()
        .map(|&kind| Probe {
            kind,
            device: Backend::open_kind(kind)
                .map(|b| b.info().clone())
                .map_err(|e| e.to_string()),
        })
        .collect()
}
