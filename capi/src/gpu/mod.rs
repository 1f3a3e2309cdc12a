//! The GPU API: `offload-core`'s [`GpuBackend`]s (cpu, wgpu, cuda) behind integer handles.
//!
//! - A **device** is an [`OffloadGpuDevice`], an integer handle (never 0, never reused)
//!   into a process-wide table, opened by [`offload_gpu_open`] and closed by
//!   [`offload_gpu_close`]. Using a handle that is 0, was never opened or was closed gives
//!   [`OFFLOAD_GPU_ERR_INVALID_DEVICE`], never undefined behaviour. A device may be used
//!   from several threads: calls on one device are serialised by a mutex.
//! - A **buffer** is an [`OffloadGpuBuffer`], an integer handle owned by one device
//!   (never 0, never reused after [`offload_gpu_buffer_destroy`]). Buffers are untyped:
//!   sizes and offsets are in **bytes**; kernels read their operands from byte 0 of each
//!   buffer and take element counts `n` of the given dtype ([`OFFLOAD_GPU_F32`],
//!   [`OFFLOAD_GPU_F64`]).
//! - Every function returns an `int32_t` status: [`OFFLOAD_OK`](crate::OFFLOAD_OK), one
//!   of the positive `OFFLOAD_GPU_ERR_*` codes of [`Status`] (1–9 for the kinds of
//!   `offload_core::gpu::GpuError`, 10 for an invalid device handle), or the crate-wide
//!   [`OFFLOAD_ERR_NULL_POINTER`](crate::OFFLOAD_ERR_NULL_POINTER) /
//!   [`OFFLOAD_ERR_TOO_LARGE`](crate::OFFLOAD_ERR_TOO_LARGE) /
//!   [`OFFLOAD_ERR_PANIC`](crate::OFFLOAD_ERR_PANIC). The message of a failure is kept per
//!   thread for [`offload_last_error`](crate::offload_last_error). Out-pointers are written
//!   only on success. Every bad input is an error and the device stays usable after it.
//!
//! The backends are loaded at run time (Vulkan through the system's loader, CUDA through
//! cudarc's dynamic loading), so this library loads and runs `cpu` on machines with
//! neither; [`offload_gpu_probe`] says why a backend is unavailable.
//!
//! One file per concept (below). Every entry point runs its body under the crate's `guard`,
//! the one place where a `Result` becomes a status code (through
//! [`CapiError::code`](crate::CapiError::code) and, for a core error, [`Status`]).

use crate::CapiError;

// The order of these modules is the order of their items in `capi/include/offload.h`
// (cbindgen reads a module's items, then its submodules in declaration order).

// Status codes (`OFFLOAD_GPU_ERR_*`, [`Status`]) and the mapping of a core error onto them.
mod status;

// Device handles: open, close, info, probe, sync, kernel timing.
mod device;

// Buffer handles: create, destroy, size, host transfers, device copies.
mod buffer;

// Element types (`OFFLOAD_GPU_F32`, `OFFLOAD_GPU_F64`).
mod dtype;

// Reductions, dot product, element-wise ops.
mod vector;

// Matrix product.
mod matmul;

// The random-forest kernels.
mod ml;

// The wasi:gpu policy (quotas, `buffer-read` checks, gpu-error cases) for the Go host.
mod policy;

#[cfg(test)]
mod testutil;

pub use buffer::{
    offload_gpu_buffer_copy, offload_gpu_buffer_create, offload_gpu_buffer_destroy,
    offload_gpu_buffer_read, offload_gpu_buffer_size, offload_gpu_buffer_write, OffloadGpuBuffer,
};
pub use device::{
    offload_gpu_close, offload_gpu_info, offload_gpu_last_kernel_ns, offload_gpu_open,
    offload_gpu_probe, offload_gpu_set_kernel_timing, offload_gpu_sync, OffloadGpuDevice,
    OffloadGpuDeviceInfo, OffloadGpuProbe, OFFLOAD_GPU_BACKEND_CPU, OFFLOAD_GPU_BACKEND_CUDA,
    OFFLOAD_GPU_BACKEND_WGPU, OFFLOAD_GPU_STR_BYTES,
};
pub use dtype::{OFFLOAD_GPU_F32, OFFLOAD_GPU_F64};
pub use matmul::{offload_gpu_matmul, OFFLOAD_GPU_MATMUL_FP32, OFFLOAD_GPU_MATMUL_TF32};
pub use ml::{
    offload_gpu_average, offload_gpu_batch_predict, offload_gpu_bootstrap_sample,
    offload_gpu_find_split, OffloadGpuForest, OffloadGpuSplitArgs, OffloadGpuSplitRecord,
};
pub use policy::{
    offload_wasi_gpu_admit_buffer, offload_wasi_gpu_check_read, offload_wasi_gpu_error_case,
    offload_wasi_gpu_error_case_name, OffloadWasiGpuQuota, OffloadWasiGpuRefusal,
    OFFLOAD_WASI_GPU_DEFAULT_DEADLINE_MS, OFFLOAD_WASI_GPU_DEFAULT_MAX_BUFFERS,
    OFFLOAD_WASI_GPU_DEFAULT_MAX_BYTES, OFFLOAD_WASI_GPU_DEVICE, OFFLOAD_WASI_GPU_ERROR_CASES,
    OFFLOAD_WASI_GPU_INVALID_ARGUMENT, OFFLOAD_WASI_GPU_OUT_OF_BOUNDS,
    OFFLOAD_WASI_GPU_QUOTA_EXCEEDED, OFFLOAD_WASI_GPU_SHAPE_MISMATCH, OFFLOAD_WASI_GPU_TOO_LARGE,
    OFFLOAD_WASI_GPU_UNSUPPORTED, OFFLOAD_WASI_GPU_ZERO_SIZE,
};
pub use status::{
    Status, OFFLOAD_GPU_ERR_BACKEND_UNAVAILABLE, OFFLOAD_GPU_ERR_DEVICE,
    OFFLOAD_GPU_ERR_INVALID_ARGUMENT, OFFLOAD_GPU_ERR_INVALID_DEVICE,
    OFFLOAD_GPU_ERR_INVALID_HANDLE, OFFLOAD_GPU_ERR_OUT_OF_BOUNDS, OFFLOAD_GPU_ERR_SHAPE_MISMATCH,
    OFFLOAD_GPU_ERR_TOO_LARGE, OFFLOAD_GPU_ERR_UNSUPPORTED, OFFLOAD_GPU_ERR_ZERO_SIZE,
};
pub use vector::{
    offload_gpu_dot, offload_gpu_elementwise, offload_gpu_reduce, OFFLOAD_GPU_EW_ADD,
    OFFLOAD_GPU_EW_MUL, OFFLOAD_GPU_EW_RELU, OFFLOAD_GPU_EW_SCALE, OFFLOAD_GPU_REDUCE_MAX,
    OFFLOAD_GPU_REDUCE_MIN, OFFLOAD_GPU_REDUCE_SUM,
};

/// Writes `v` through the out-pointer `p` named `what`.
///
/// # Safety
/// When non-null, `p` must point to one writable `T`.
unsafe fn put<T>(what: &'static str, p: *mut T, v: T) -> Result<(), CapiError> {
    if p.is_null() {
        return Err(CapiError::NullPointer { what });
    }
    // SAFETY: non-null; the caller promises it is writable.
    unsafe { p.write(v) };
    Ok(())
}
