//! A safe Rust API of `wasi:gpu` 0.1.0 for guests (wasm32), over the wit-bindgen bindings
//! of world `wasi:gpu/ml-compute` (`wasm-modules/wit/wasi-gpu`).
//!
//! - [`Buffer`]: a device buffer owned by this component instance (a `buffer` resource),
//!   with typed transfers ([`Buffer::write_f32`], [`Buffer::read_f32`]); dropping it frees
//!   the device memory (the resource's destructor), [`Buffer::destroy`] does so and reports
//!   errors.
//! - Kernels on `&Buffer`: [`reduce_f32`], [`elementwise_f32`], [`matmul_f32`].
//! - [`Error`]: the WIT `gpu-error`, one case per variant case, with `Display`
//!   (`<case>: <message>`, the case in WIT spelling).
//! - [`seeded_f32`]: the seeded data of the demo guest, so that hosts can make the same
//!   numbers to check answers against.
//! - Feature `offload-core`: module `backend`, `WasiGpuBackend`, offload-core's `GpuBackend`
//!   trait over these imports, so that offload-core's GPU algorithms (the random forest's
//!   `fit_on` / `predict_on`) run in a guest on the host's device.
//!
//! Units: sizes and offsets of the byte API are in **bytes**; the typed API takes offsets
//! and counts in **elements**. Multi-byte values are little-endian (wasm is little-endian,
//! so `f32` slices are sent as they lie in linear memory, without a copy).
//!
//! ```ignore
//! let a = wasi_gpu_guest::Buffer::from_f32(&[1.0, 2.0, 3.0])?;
//! let s = wasi_gpu_guest::reduce_f32(wasi_gpu_guest::ReduceOp::Sum, &a, 3)?;
//! assert_eq!(s, 6.0);
//! ```

use std::fmt;

/// The wit-bindgen bindings of world `wasi:gpu/ml-compute` (imports only). A guest with its
/// own world that includes `ml-compute` maps the two interfaces onto these modules with
/// wit-bindgen's `with` option, so the types are shared.
#[allow(missing_docs, clippy::all)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "../wit/wasi-gpu",
        world: "wasi:gpu/ml-compute@0.1.0",
    });
}

#[cfg(feature = "offload-core")]
pub mod backend;

use bindings::wasi::gpu::compute;
use bindings::wasi::gpu::ml_kernels;

pub use compute::DeviceInfo;
pub use ml_kernels::{ElementwiseOp, MatmulPrecision, ReduceOp};

/// Why a `wasi:gpu` call failed: the WIT `gpu-error`, each case with the host's one-line
/// message (which argument, what limit).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Error {
    /// The device cannot run this (f64 without device f64, TF32 off CUDA, a kernel the
    /// backend does not implement).
    Unsupported(String),
    /// `offset + bytes` past the end of a buffer.
    OutOfBounds(String),
    /// A zero-byte buffer or transfer, or a kernel on zero elements.
    ZeroSize(String),
    /// A size over the device's limit.
    TooLarge(String),
    /// Operands that do not fit the kernel's shape, or an aliased output.
    ShapeMismatch(String),
    /// Any other bad argument.
    InvalidArgument(String),
    /// Over this instance's quota of buffers or bytes; nothing was allocated.
    QuotaExceeded(String),
    /// The device or driver failed.
    Device(String),
}

impl Error {
    /// The WIT name of the case (`out-of-bounds`, `quota-exceeded`, ...).
    pub fn case(&self) -> &'static str {
        match self {
            Error::Unsupported(_) => "unsupported",
            Error::OutOfBounds(_) => "out-of-bounds",
            Error::ZeroSize(_) => "zero-size",
            Error::TooLarge(_) => "too-large",
            Error::ShapeMismatch(_) => "shape-mismatch",
            Error::InvalidArgument(_) => "invalid-argument",
            Error::QuotaExceeded(_) => "quota-exceeded",
            Error::Device(_) => "device",
        }
    }

    /// The host's message.
    pub fn message(&self) -> &str {
        match self {
            Error::Unsupported(m)
            | Error::OutOfBounds(m)
            | Error::ZeroSize(m)
            | Error::TooLarge(m)
            | Error::ShapeMismatch(m)
            | Error::InvalidArgument(m)
            | Error::QuotaExceeded(m)
            | Error::Device(m) => m,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.case(), self.message())
    }
}

impl std::error::Error for Error {}

impl From<compute::GpuError> for Error {
    fn from(e: compute::GpuError) -> Self {
        use compute::GpuError as G;
        match e {
            G::Unsupported(m) => Error::Unsupported(m),
            G::OutOfBounds(m) => Error::OutOfBounds(m),
            G::ZeroSize(m) => Error::ZeroSize(m),
            G::TooLarge(m) => Error::TooLarge(m),
            G::ShapeMismatch(m) => Error::ShapeMismatch(m),
            G::InvalidArgument(m) => Error::InvalidArgument(m),
            G::QuotaExceeded(m) => Error::QuotaExceeded(m),
            G::Device(m) => Error::Device(m),
        }
    }
}

/// Result of this crate's calls.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A device buffer of a fixed size in bytes, owned by this component instance.
///
/// Dropping it frees the device memory; [`Buffer::destroy`] does the same and returns the
/// host's error, if any.
#[derive(Debug)]
pub struct Buffer {
    inner: compute::Buffer,
    bytes: u64,
}

impl Buffer {
    /// Allocates `bytes` bytes of device memory (contents unspecified).
    /// Errors: `ZeroSize`, `TooLarge`, `QuotaExceeded`, `Device`.
    pub fn new(bytes: u64) -> Result<Buffer> {
        let inner = compute::buffer_create(bytes)?;
        Ok(Buffer { inner, bytes })
    }

    /// Allocates `4·data.len()` bytes and writes `data` from element 0.
    pub fn from_f32(data: &[f32]) -> Result<Buffer> {
        let b = Buffer::new(4 * data.len() as u64)?;
        b.write_f32(0, data)?;
        Ok(b)
    }

    /// Size in bytes.
    pub fn len_bytes(&self) -> u64 {
        self.bytes
    }

    /// The resource handle: an index into this instance's handle table (for tests of the
    /// host's isolation; it means nothing in another instance).
    pub fn raw_handle(&self) -> u32 {
        self.inner.handle()
    }

    /// The binding's resource, for calling the raw bindings directly.
    pub fn resource(&self) -> &compute::Buffer {
        &self.inner
    }

    /// Copies `data` into the buffer at byte `offset`, straight from linear memory.
    /// Errors: `ZeroSize` (empty `data`), `OutOfBounds`.
    pub fn write(&self, offset: u64, data: &[u8]) -> Result<()> {
        Ok(compute::buffer_write(&self.inner, offset, data)?)
    }

    /// Writes `data` at element `offset` (byte `4·offset`), without a copy in the guest.
    pub fn write_f32(&self, offset: u64, data: &[f32]) -> Result<()> {
        self.write(4 * offset, bytemuck::cast_slice(data))
    }

    /// Reads `bytes` bytes from byte `offset`, after all queued work.
    /// Errors: `ZeroSize`, `OutOfBounds`, `QuotaExceeded` over the instance's byte quota.
    pub fn read(&self, offset: u64, bytes: u64) -> Result<Vec<u8>> {
        Ok(compute::buffer_read(&self.inner, offset, bytes)?)
    }

    /// Reads `n` f32 from element `offset`.
    pub fn read_f32(&self, offset: u64, n: u64) -> Result<Vec<f32>> {
        let bytes = self.read(4 * offset, 4 * n)?;
        Ok(bytes
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect())
    }

    /// Device-to-device copy of `bytes` bytes from `src` at `src_offset` into this buffer at
    /// `dst_offset`. Errors: `ZeroSize`, `OutOfBounds`, `InvalidArgument` (overlap).
    pub fn copy_from(
        &self,
        dst_offset: u64,
        src: &Buffer,
        src_offset: u64,
        bytes: u64,
    ) -> Result<()> {
        Ok(compute::buffer_copy(
            &src.inner,
            src_offset,
            &self.inner,
            dst_offset,
            bytes,
        )?)
    }

    /// Frees the buffer now and returns its bytes to the instance's quota.
    pub fn destroy(self) -> Result<()> {
        Ok(compute::buffer_destroy(self.inner)?)
    }
}

/// Waits until all work the host queued on the device has finished.
pub fn sync() -> Result<()> {
    Ok(compute::sync()?)
}

/// The device behind the host.
pub fn device_info() -> Result<DeviceInfo> {
    Ok(compute::get_device_info()?)
}

/// Reduces the first `n` f32 elements of `a` (sum, min or max), returned as f64. GPU sums
/// are tree reductions: compare with a relative tolerance.
/// Errors: `ZeroSize`, `ShapeMismatch` (`a` shorter than `n` elements), `TooLarge`.
pub fn reduce_f32(op: ReduceOp, a: &Buffer, n: u64) -> Result<f64> {
    Ok(ml_kernels::kernel_reduce(
        op,
        ml_kernels::Dtype::F32,
        &a.inner,
        n,
    )?)
}

/// `out[i] = op(a[i], b[i])` (`scalar·a[i]` for `Scale`) for i < n, all f32. `b` is
/// needed by `Mul` and `Add`. `out` may be `a` or `b`.
pub fn elementwise_f32(
    op: ElementwiseOp,
    a: &Buffer,
    b: Option<&Buffer>,
    scalar: f64,
    out: &Buffer,
    n: u64,
) -> Result<()> {
    Ok(ml_kernels::kernel_elementwise(
        op,
        ml_kernels::Dtype::F32,
        &a.inner,
        b.map(|b| &b.inner),
        scalar,
        &out.inner,
        n,
    )?)
}

/// SGEMM `c = a·b`, row-major f32: `a` m×k, `b` k×n, `c` m×n (`c` distinct from `a`, `b`).
/// Errors: `ZeroSize`, `ShapeMismatch`, `Unsupported` (`Tf32` off CUDA).
pub fn matmul_f32(
    precision: MatmulPrecision,
    a: &Buffer,
    b: &Buffer,
    c: &Buffer,
    m: u32,
    k: u32,
    n: u32,
) -> Result<()> {
    Ok(ml_kernels::kernel_matmul(
        precision, &a.inner, &b.inner, &c.inner, m, k, n,
    )?)
}

/// The demo guest's seeded data (offload-core's [`seeded_f32`](offload_core::rng::seeded_f32),
/// which hosts call too, to check the demo guest's answers).
pub use offload_core::rng::seeded_f32;
