//! Element types of the kernels' operands (`OFFLOAD_GPU_F32`, `OFFLOAD_GPU_F64`).

use offload_core::gpu::{DType, GpuError};

/// Element type IEEE-754 binary32 (4 bytes).
pub const OFFLOAD_GPU_F32: i32 = 0;
/// Element type IEEE-754 binary64 (8 bytes); on wgpu only where `supports_f64`.
pub const OFFLOAD_GPU_F64: i32 = 1;

/// The element type of a C dtype code.
///
/// # Errors
/// [`GpuError::InvalidArgument`] for a code that is neither [`OFFLOAD_GPU_F32`] nor
/// [`OFFLOAD_GPU_F64`].
pub(super) fn dtype(code: i32) -> Result<DType, GpuError> {
    match code {
        OFFLOAD_GPU_F32 => Ok(DType::F32),
        OFFLOAD_GPU_F64 => Ok(DType::F64),
        _ => Err(GpuError::InvalidArgument(format!(
            "unknown dtype {code} (expected OFFLOAD_GPU_F32 or OFFLOAD_GPU_F64)"
        ))),
    }
}
