//! `offload:provider/matrix@0.1.0` over `wasi:gpu@0.1.0` (world
//! `offload:provider-gpu/provider-gpu`).
//!
//! A `device-buffer` of `len` f32 elements is a `wasi:gpu` buffer of 4·`len` bytes
//! owned by this component instance; `write`/`read` are `buffer-write`/`buffer-read`
//! at byte offset 4·`offset` (f32 little-endian, as wasm stores them), and `matmul`
//! is `kernel-matmul` in `fp32` (cuBLAS SGEMM on cuda, a WGSL shader on wgpu, the
//! offload-core loop on cpu). The host's GPU does the work; this component only
//! checks arguments and translates errors.

use exports::offload::provider::matrix::{
    DeviceBuffer, DeviceBufferBorrow, Guest, GuestDeviceBuffer, MatrixError,
};
use wasi::gpu::compute::{self, GpuError};
use wasi::gpu::ml_kernels::{self, MatmulPrecision};

wit_bindgen::generate!({
    path: ["../wit/wasi-gpu", "../wit/offload-provider", "wit"],
    world: "offload:provider-gpu/provider-gpu",
    // Bindings for the imported wasi:gpu interfaces are generated here too.
    generate_all,
});

/// Bytes per f32 element.
const F32: u64 = 4;

/// A `wasi:gpu` buffer holding `len` f32 elements.
struct GpuBuffer {
    buf: compute::Buffer,
    len: u32,
}

/// A `wasi:gpu` error as a `matrix-error`, keeping its kind in the message.
fn from_gpu(what: &str, e: GpuError) -> MatrixError {
    match e {
        GpuError::OutOfBounds(s) => MatrixError::OutOfBounds(format!("{what}: {s}")),
        GpuError::ShapeMismatch(s) => MatrixError::ShapeMismatch(format!("{what}: {s}")),
        GpuError::ZeroSize(s) => MatrixError::ZeroSize(format!("{what}: {s}")),
        GpuError::InvalidArgument(s) => MatrixError::InvalidArgument(format!("{what}: {s}")),
        GpuError::Unsupported(s) => MatrixError::Device(format!("{what}: unsupported: {s}")),
        GpuError::TooLarge(s) => MatrixError::Device(format!("{what}: too-large: {s}")),
        GpuError::QuotaExceeded(s) => MatrixError::Device(format!("{what}: quota-exceeded: {s}")),
        GpuError::Device(s) => MatrixError::Device(format!("{what}: {s}")),
    }
}

/// Checks `offset + len ≤ size` (elements) before the host sees the call, so that the
/// message speaks in elements rather than bytes.
fn in_bounds(offset: u32, len: u64, size: u32) -> Result<(), MatrixError> {
    if u64::from(offset) + len > u64::from(size) {
        return Err(MatrixError::OutOfBounds(format!(
            "offset {offset} + {len} elements is past the end of a buffer of {size} elements"
        )));
    }
    Ok(())
}

impl GuestDeviceBuffer for GpuBuffer {
    fn len(&self) -> u32 {
        self.len
    }

    fn write(&self, offset: u32, data: Vec<f32>) -> Result<(), MatrixError> {
        if data.is_empty() {
            return Err(MatrixError::ZeroSize("write of 0 elements".into()));
        }
        in_bounds(offset, data.len() as u64, self.len)?;
        compute::buffer_write(
            &self.buf,
            u64::from(offset) * F32,
            bytemuck::cast_slice(&data),
        )
        .map_err(|e| from_gpu("buffer-write", e))
    }

    fn read(&self, offset: u32, len: u32) -> Result<Vec<f32>, MatrixError> {
        if len == 0 {
            return Err(MatrixError::ZeroSize("read of 0 elements".into()));
        }
        in_bounds(offset, u64::from(len), self.len)?;
        let bytes = compute::buffer_read(&self.buf, u64::from(offset) * F32, u64::from(len) * F32)
            .map_err(|e| from_gpu("buffer-read", e))?;
        if bytes.len() as u64 != u64::from(len) * F32 {
            return Err(MatrixError::Device(format!(
                "buffer-read returned {} bytes, asked for {}",
                bytes.len(),
                u64::from(len) * F32
            )));
        }
        // The list arrives 1-byte aligned: copy into f32s rather than cast.
        Ok(bytemuck::pod_collect_to_vec(&bytes))
    }
}

/// Checks that a buffer of `have` elements holds a `rows`×`cols` matrix.
fn holds(name: &str, have: u32, rows: u32, cols: u32) -> Result<(), MatrixError> {
    let need = u64::from(rows) * u64::from(cols);
    if u64::from(have) < need {
        return Err(MatrixError::ShapeMismatch(format!(
            "{name} holds {have} elements, a {rows}x{cols} matrix needs {need}"
        )));
    }
    Ok(())
}

struct Provider;

impl Guest for Provider {
    type DeviceBuffer = GpuBuffer;

    fn allocate(elements: u32) -> Result<DeviceBuffer, MatrixError> {
        if elements == 0 {
            return Err(MatrixError::ZeroSize("allocate of 0 elements".into()));
        }
        let buf = compute::buffer_create(u64::from(elements) * F32)
            .map_err(|e| from_gpu("buffer-create", e))?;
        Ok(DeviceBuffer::new(GpuBuffer { buf, len: elements }))
    }

    fn matmul(
        a: DeviceBufferBorrow<'_>,
        b: DeviceBufferBorrow<'_>,
        c: DeviceBufferBorrow<'_>,
        m: u32,
        n: u32,
        k: u32,
    ) -> Result<(), MatrixError> {
        if m == 0 || n == 0 || k == 0 {
            return Err(MatrixError::ZeroSize(format!(
                "matmul with m={m}, n={n}, k={k}"
            )));
        }
        let (a, b, c) = (
            a.get::<GpuBuffer>(),
            b.get::<GpuBuffer>(),
            c.get::<GpuBuffer>(),
        );
        if std::ptr::eq(c, a) || std::ptr::eq(c, b) {
            return Err(MatrixError::ShapeMismatch(
                "c is the same buffer as a or b".into(),
            ));
        }
        holds("a", a.len, m, k)?;
        holds("b", b.len, k, n)?;
        holds("c", c.len, m, n)?;
        ml_kernels::kernel_matmul(MatmulPrecision::Fp32, &a.buf, &b.buf, &c.buf, m, k, n)
            .map_err(|e| from_gpu("kernel-matmul", e))
    }

    fn free(buf: DeviceBuffer) {
        // Dropping the wasi:gpu handle frees the device memory (buffer-destroy).
        drop(buf);
    }

    fn provider_name() -> String {
        match compute::get_device_info() {
            Ok(d) => format!("provider-gpu (wasi:gpu {}: {})", d.backend, d.name),
            Err(e) => format!("provider-gpu (wasi:gpu, device info unavailable: {e:?})"),
        }
    }
}

export!(Provider);
