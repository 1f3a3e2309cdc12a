//! Matrix product on device buffers (f32, row-major; FP32 or TF32 arithmetic).

use super::device::with_device;
use super::*;
use crate::guard;
use offload_core::gpu::{GpuError, MatmulPrecision};

/// Matmul in plain FP32 arithmetic (the default).
pub const OFFLOAD_GPU_MATMUL_FP32: i32 = 0;
/// Matmul with inputs rounded to TF32 on tensor cores, FP32 accumulation (cuda only).
pub const OFFLOAD_GPU_MATMUL_TF32: i32 = 1;

fn precision(code: i32) -> Result<MatmulPrecision, GpuError> {
    match code {
        OFFLOAD_GPU_MATMUL_FP32 => Ok(MatmulPrecision::Fp32),
        OFFLOAD_GPU_MATMUL_TF32 => Ok(MatmulPrecision::Tf32),
        _ => Err(GpuError::InvalidArgument(format!(
            "unknown matmul precision {code} (expected OFFLOAD_GPU_MATMUL_FP32 or _TF32)"
        ))),
    }
}

/// f32 matrix product `C = A·B`, row-major: A is m×k in buffer `a`, B is k×n in `b`, C is
/// m×n in `c` (which must differ from `a` and `b`); `precision` is
/// [`OFFLOAD_GPU_MATMUL_FP32`] or [`OFFLOAD_GPU_MATMUL_TF32`]. Queued like
/// [`offload_gpu_elementwise`].
///
/// # Errors
/// [`OFFLOAD_GPU_ERR_ZERO_SIZE`], [`OFFLOAD_GPU_ERR_SHAPE_MISMATCH`] if a buffer is too
/// small or `c` aliases an input, [`OFFLOAD_GPU_ERR_TOO_LARGE`] over 2^31−1 per dimension,
/// [`OFFLOAD_GPU_ERR_UNSUPPORTED`] for TF32 off CUDA, [`OFFLOAD_GPU_ERR_INVALID_HANDLE`],
/// [`OFFLOAD_GPU_ERR_INVALID_ARGUMENT`], [`OFFLOAD_GPU_ERR_INVALID_DEVICE`].
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub extern "C" fn offload_gpu_matmul(
    dev: OffloadGpuDevice,
    precision_code: i32,
    a: OffloadGpuBuffer,
    b: OffloadGpuBuffer,
    c: OffloadGpuBuffer,
    m: u64,
    k: u64,
    n: u64,
) -> i32 {
    guard(|| {
        let p = precision(precision_code)?;
        with_device(dev, |d| d.matmul(p, a, b, c, m, k, n))
    })
}
