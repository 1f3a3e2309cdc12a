//! Vector kernels on device buffers: reductions (sum, min, max), dot product and the
//! element-wise ops, on `n` elements of a dtype.

use super::device::with_device;
use super::dtype::dtype;
use super::*;
use crate::{guard, CapiError};
use offload_core::gpu::{ElementwiseOp, GpuError, ReduceOp};

/// Reduction Σ a\[i\].
pub const OFFLOAD_GPU_REDUCE_SUM: i32 = 0;
/// Reduction min a\[i\].
pub const OFFLOAD_GPU_REDUCE_MIN: i32 = 1;
/// Reduction max a\[i\].
pub const OFFLOAD_GPU_REDUCE_MAX: i32 = 2;

/// Element-wise out = a·b.
pub const OFFLOAD_GPU_EW_MUL: i32 = 0;
/// Element-wise out = a + b.
pub const OFFLOAD_GPU_EW_ADD: i32 = 1;
/// Element-wise out = scalar·a.
pub const OFFLOAD_GPU_EW_SCALE: i32 = 2;
/// Element-wise out = max(a, 0).
pub const OFFLOAD_GPU_EW_RELU: i32 = 3;

fn reduce_op(code: i32) -> Result<ReduceOp, GpuError> {
    match code {
        OFFLOAD_GPU_REDUCE_SUM => Ok(ReduceOp::Sum),
        OFFLOAD_GPU_REDUCE_MIN => Ok(ReduceOp::Min),
        OFFLOAD_GPU_REDUCE_MAX => Ok(ReduceOp::Max),
        _ => Err(GpuError::InvalidArgument(format!(
            "unknown reduce op {code} (expected OFFLOAD_GPU_REDUCE_*)"
        ))),
    }
}

fn elementwise_op(code: i32) -> Result<ElementwiseOp, GpuError> {
    match code {
        OFFLOAD_GPU_EW_MUL => Ok(ElementwiseOp::Mul),
        OFFLOAD_GPU_EW_ADD => Ok(ElementwiseOp::Add),
        OFFLOAD_GPU_EW_SCALE => Ok(ElementwiseOp::Scale),
        OFFLOAD_GPU_EW_RELU => Ok(ElementwiseOp::Relu),
        _ => Err(GpuError::InvalidArgument(format!(
            "unknown element-wise op {code} (expected OFFLOAD_GPU_EW_*)"
        ))),
    }
}

/// Reduces the first `n` elements of buffer `a` (dtype `OFFLOAD_GPU_F32`/`_F64`) with
/// `op` (`OFFLOAD_GPU_REDUCE_*`) and writes the result, as a double, to `*out`.
///
/// # Safety
/// `out` must point to one writable `double`.
///
/// # Errors
/// [`OFFLOAD_GPU_ERR_ZERO_SIZE`] for `n == 0`, [`OFFLOAD_GPU_ERR_SHAPE_MISMATCH`] when `a`
/// holds fewer than `n` elements, [`OFFLOAD_GPU_ERR_TOO_LARGE`] over 2^32−1 elements,
/// [`OFFLOAD_GPU_ERR_UNSUPPORTED`] for f64 without device f64,
/// [`OFFLOAD_GPU_ERR_INVALID_HANDLE`], [`OFFLOAD_GPU_ERR_INVALID_ARGUMENT`] for an unknown
/// op or dtype, [`OFFLOAD_GPU_ERR_INVALID_DEVICE`],
/// [`OFFLOAD_ERR_NULL_POINTER`](crate::OFFLOAD_ERR_NULL_POINTER).
#[no_mangle]
pub unsafe extern "C" fn offload_gpu_reduce(
    dev: OffloadGpuDevice,
    op: i32,
    dtype_code: i32,
    a: OffloadGpuBuffer,
    n: u64,
    out: *mut f64,
) -> i32 {
    guard(|| {
        if out.is_null() {
            return Err(CapiError::NullPointer { what: "out" });
        }
        let (op, dt) = (reduce_op(op)?, dtype(dtype_code)?);
        let v = with_device(dev, |b| b.reduce(op, dt, a, n))?;
        // SAFETY: checked non-null; writable by the caller's contract.
        unsafe { put("out", out, v) }
    })
}

/// Σ a\[i\]·b\[i\] over the first `n` elements of buffers `a` and `b`, written as a double
/// to `*out`.
///
/// # Safety
/// `out` must point to one writable `double`.
///
/// # Errors
/// As for [`offload_gpu_reduce`].
#[no_mangle]
pub unsafe extern "C" fn offload_gpu_dot(
    dev: OffloadGpuDevice,
    dtype_code: i32,
    a: OffloadGpuBuffer,
    b: OffloadGpuBuffer,
    n: u64,
    out: *mut f64,
) -> i32 {
    guard(|| {
        if out.is_null() {
            return Err(CapiError::NullPointer { what: "out" });
        }
        let dt = dtype(dtype_code)?;
        let v = with_device(dev, |d| d.dot(dt, a, b, n))?;
        // SAFETY: checked non-null; writable by the caller's contract.
        unsafe { put("out", out, v) }
    })
}

/// `out[i] = op(a[i], b[i])` for i < n, with `op` one of `OFFLOAD_GPU_EW_*`: `MUL` and
/// `ADD` read `b` (0 there is an error), `SCALE` uses `scalar` (converted to the dtype),
/// `SCALE` and `RELU` ignore `b`. `out` may be `a` or `b` (in place). Queued: returns
/// before the kernel finishes; read `out` or call [`offload_gpu_sync`] to wait.
///
/// # Errors
/// As for [`offload_gpu_reduce`]; [`OFFLOAD_GPU_ERR_INVALID_ARGUMENT`] for a binary op
/// without `b`.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub extern "C" fn offload_gpu_elementwise(
    dev: OffloadGpuDevice,
    op: i32,
    dtype_code: i32,
    a: OffloadGpuBuffer,
    b: OffloadGpuBuffer,
    scalar: f64,
    out: OffloadGpuBuffer,
    n: u64,
) -> i32 {
    guard(|| {
        let (op, dt) = (elementwise_op(op)?, dtype(dtype_code)?);
        let b = (b != 0).then_some(b);
        with_device(dev, |d| d.elementwise(op, dt, a, b, scalar, out, n))
    })
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::*;
    use crate::*;

    #[test]
    fn cpu_kernels_and_transfers() {
        let d = open_cpu();
        let a = f32_buffer(d, &[1.0, -2.0, 3.0, 4.0]);
        let b = f32_buffer(d, &[0.5, 0.5, 2.0, -1.0]);
        let mut v = 0.0;
        assert_eq!(
            unsafe { offload_gpu_reduce(d, OFFLOAD_GPU_REDUCE_SUM, OFFLOAD_GPU_F32, a, 4, &mut v) },
            OFFLOAD_OK
        );
        assert_eq!(v, 6.0);
        assert_eq!(
            unsafe { offload_gpu_reduce(d, OFFLOAD_GPU_REDUCE_MIN, OFFLOAD_GPU_F32, a, 4, &mut v) },
            OFFLOAD_OK
        );
        assert_eq!(v, -2.0);
        assert_eq!(
            unsafe { offload_gpu_dot(d, OFFLOAD_GPU_F32, a, b, 4, &mut v) },
            OFFLOAD_OK
        );
        assert_eq!(v, 0.5 - 1.0 + 6.0 - 4.0);
        let c = f32_buffer(d, &[9.0; 4]);
        let rc = offload_gpu_elementwise(d, OFFLOAD_GPU_EW_MUL, OFFLOAD_GPU_F32, a, b, 0.0, c, 4);
        assert_eq!(rc, OFFLOAD_OK);
        let mut out = [0f32; 4];
        let rc = unsafe { offload_gpu_buffer_read(d, c, 0, out.as_mut_ptr().cast(), 16) };
        assert_eq!(rc, OFFLOAD_OK);
        assert_eq!(out, [0.5, -1.0, 6.0, -4.0]);
        // 2×2 · 2×2.
        let rc = offload_gpu_matmul(d, OFFLOAD_GPU_MATMUL_FP32, a, b, c, 2, 2, 2);
        assert_eq!(rc, OFFLOAD_OK, "{}", last());
        let rc = unsafe { offload_gpu_buffer_read(d, c, 0, out.as_mut_ptr().cast(), 16) };
        assert_eq!(rc, OFFLOAD_OK);
        assert_eq!(
            out,
            [1.0 * 0.5 - 2.0 * 2.0, 0.5 + 2.0, 1.5 + 8.0, 1.5 - 4.0]
        );
        assert_eq!(offload_gpu_close(d), OFFLOAD_OK);
    }
}
