//! The status codes of the GPU entry points: the `OFFLOAD_GPU_ERR_*` constants (the
//! header's `#define`s), [`Status`] over them, and the mapping of a core [`GpuError`] onto
//! them ([`Status::from`]).
//!
//! The constants are the one source of the numbers: cbindgen writes a `#define` only for a
//! literal, so each [`Status`] variant takes its value from its constant. The codes are
//! part of the C ABI (the Go host reads them from the header through cgo): never renumber
//! one.

#[cfg(doc)]
use super::OffloadGpuDeviceInfo;
use crate::OFFLOAD_OK;
use offload_core::gpu::GpuError;

/// The backend could not start (no Vulkan adapter, no CUDA driver, a missing library).
pub const OFFLOAD_GPU_ERR_BACKEND_UNAVAILABLE: i32 = 1;
/// The device cannot run this kernel or dtype (f64 without `SHADER_F64`, TF32 off CUDA).
pub const OFFLOAD_GPU_ERR_UNSUPPORTED: i32 = 2;
/// A buffer handle that was never created on this device, or was destroyed.
pub const OFFLOAD_GPU_ERR_INVALID_HANDLE: i32 = 3;
/// An offset + size past the end of a buffer.
pub const OFFLOAD_GPU_ERR_OUT_OF_BOUNDS: i32 = 4;
/// A zero-byte buffer or transfer, or a kernel on zero elements.
pub const OFFLOAD_GPU_ERR_ZERO_SIZE: i32 = 5;
/// A size over the device's limit (see `max_buffer_bytes` of [`OffloadGpuDeviceInfo`]).
pub const OFFLOAD_GPU_ERR_TOO_LARGE: i32 = 6;
/// Operand buffers too small for the kernel's shape, or a matmul output aliasing an input.
pub const OFFLOAD_GPU_ERR_SHAPE_MISMATCH: i32 = 7;
/// Any other bad argument: unknown backend name or op code, missing operand, overlapping
/// copy.
pub const OFFLOAD_GPU_ERR_INVALID_ARGUMENT: i32 = 8;
/// The device or driver failed (out of memory, launch failure, lost device).
pub const OFFLOAD_GPU_ERR_DEVICE: i32 = 9;
/// A device handle that is 0, was never opened, or was closed.
pub const OFFLOAD_GPU_ERR_INVALID_DEVICE: i32 = 10;

/// The status of a GPU entry point as a Rust value: [`Status::code`] is the `int32_t` a C
/// caller sees ([`OFFLOAD_OK`] or one of the positive `OFFLOAD_GPU_ERR_*` codes). The
/// crate-wide negative codes (`OFFLOAD_ERR_*`: null pointer, too large, panic) are not GPU
/// statuses and have no variant.
#[repr(i32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Status {
    /// Success ([`OFFLOAD_OK`]).
    Ok = OFFLOAD_OK,
    /// The backend could not start ([`OFFLOAD_GPU_ERR_BACKEND_UNAVAILABLE`]).
    BackendUnavailable = OFFLOAD_GPU_ERR_BACKEND_UNAVAILABLE,
    /// The device cannot run this kernel or dtype ([`OFFLOAD_GPU_ERR_UNSUPPORTED`]).
    Unsupported = OFFLOAD_GPU_ERR_UNSUPPORTED,
    /// A buffer handle that was never created or was destroyed
    /// ([`OFFLOAD_GPU_ERR_INVALID_HANDLE`]).
    InvalidHandle = OFFLOAD_GPU_ERR_INVALID_HANDLE,
    /// An offset + size past the end of a buffer ([`OFFLOAD_GPU_ERR_OUT_OF_BOUNDS`]).
    OutOfBounds = OFFLOAD_GPU_ERR_OUT_OF_BOUNDS,
    /// A zero size or zero element count ([`OFFLOAD_GPU_ERR_ZERO_SIZE`]).
    ZeroSize = OFFLOAD_GPU_ERR_ZERO_SIZE,
    /// A size over the device's limit ([`OFFLOAD_GPU_ERR_TOO_LARGE`]).
    TooLarge = OFFLOAD_GPU_ERR_TOO_LARGE,
    /// Operand sizes that do not fit the kernel's shape
    /// ([`OFFLOAD_GPU_ERR_SHAPE_MISMATCH`]).
    ShapeMismatch = OFFLOAD_GPU_ERR_SHAPE_MISMATCH,
    /// Any other argument error (unknown backend name, missing operand)
    /// ([`OFFLOAD_GPU_ERR_INVALID_ARGUMENT`]).
    InvalidArgument = OFFLOAD_GPU_ERR_INVALID_ARGUMENT,
    /// The device or driver failed (out of memory, launch failure, lost device)
    /// ([`OFFLOAD_GPU_ERR_DEVICE`]).
    Device = OFFLOAD_GPU_ERR_DEVICE,
    /// A device handle that is 0, was never opened, or was closed
    /// ([`OFFLOAD_GPU_ERR_INVALID_DEVICE`]; no core error has it).
    InvalidDevice = OFFLOAD_GPU_ERR_INVALID_DEVICE,
}

impl Status {
    /// The `int32_t` status code a C caller sees.
    pub const fn code(self) -> i32 {
        self as i32
    }

    /// The status of a code, `None` for a code that is no GPU status (the negative
    /// crate-wide codes, unknown numbers).
    pub const fn from_code(code: i32) -> Option<Status> {
        Some(match code {
            OFFLOAD_OK => Status::Ok,
            OFFLOAD_GPU_ERR_BACKEND_UNAVAILABLE => Status::BackendUnavailable,
            OFFLOAD_GPU_ERR_UNSUPPORTED => Status::Unsupported,
            OFFLOAD_GPU_ERR_INVALID_HANDLE => Status::InvalidHandle,
            OFFLOAD_GPU_ERR_OUT_OF_BOUNDS => Status::OutOfBounds,
            OFFLOAD_GPU_ERR_ZERO_SIZE => Status::ZeroSize,
            OFFLOAD_GPU_ERR_TOO_LARGE => Status::TooLarge,
            OFFLOAD_GPU_ERR_SHAPE_MISMATCH => Status::ShapeMismatch,
            OFFLOAD_GPU_ERR_INVALID_ARGUMENT => Status::InvalidArgument,
            OFFLOAD_GPU_ERR_DEVICE => Status::Device,
            OFFLOAD_GPU_ERR_INVALID_DEVICE => Status::InvalidDevice,
            _ => return None,
        })
    }
}

impl From<&GpuError> for Status {
    /// The status of a core error: one variant per [`GpuError`] kind.
    fn from(e: &GpuError) -> Status {
        match e {
            GpuError::BackendUnavailable { .. } => Status::BackendUnavailable,
            GpuError::Unsupported(_) => Status::Unsupported,
            GpuError::InvalidHandle(_) => Status::InvalidHandle,
            GpuError::OutOfBounds { .. } => Status::OutOfBounds,
            GpuError::ZeroSize(_) => Status::ZeroSize,
            GpuError::TooLarge { .. } => Status::TooLarge,
            GpuError::ShapeMismatch(_) => Status::ShapeMismatch,
            GpuError::InvalidArgument(_) => Status::InvalidArgument,
            GpuError::Device(_) => Status::Device,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The numbers are ABI: C callers and the Go host compile them in.
    #[test]
    fn codes_are_stable() {
        let all = [
            (Status::Ok, 0),
            (Status::BackendUnavailable, 1),
            (Status::Unsupported, 2),
            (Status::InvalidHandle, 3),
            (Status::OutOfBounds, 4),
            (Status::ZeroSize, 5),
            (Status::TooLarge, 6),
            (Status::ShapeMismatch, 7),
            (Status::InvalidArgument, 8),
            (Status::Device, 9),
            (Status::InvalidDevice, 10),
        ];
        for (s, code) in all {
            assert_eq!(s.code(), code, "{s:?}");
            assert_eq!(Status::from_code(code), Some(s));
        }
    }

    #[test]
    fn every_core_error_has_its_code() {
        let cases = [
            (
                GpuError::BackendUnavailable {
                    backend: "cuda",
                    reason: "no driver".into(),
                },
                OFFLOAD_GPU_ERR_BACKEND_UNAVAILABLE,
            ),
            (
                GpuError::Unsupported("f64".into()),
                OFFLOAD_GPU_ERR_UNSUPPORTED,
            ),
            (GpuError::InvalidHandle(7), OFFLOAD_GPU_ERR_INVALID_HANDLE),
            (
                GpuError::OutOfBounds {
                    id: 1,
                    offset: 8,
                    bytes: 8,
                    size: 8,
                },
                OFFLOAD_GPU_ERR_OUT_OF_BOUNDS,
            ),
            (GpuError::ZeroSize("n"), OFFLOAD_GPU_ERR_ZERO_SIZE),
            (
                GpuError::TooLarge {
                    what: "buffer",
                    requested: 2,
                    limit: 1,
                },
                OFFLOAD_GPU_ERR_TOO_LARGE,
            ),
            (
                GpuError::ShapeMismatch("a".into()),
                OFFLOAD_GPU_ERR_SHAPE_MISMATCH,
            ),
            (
                GpuError::InvalidArgument("op".into()),
                OFFLOAD_GPU_ERR_INVALID_ARGUMENT,
            ),
            (GpuError::Device("lost".into()), OFFLOAD_GPU_ERR_DEVICE),
        ];
        for (e, code) in cases {
            assert_eq!(Status::from(&e).code(), code, "{e}");
            assert_eq!(crate::CapiError::Gpu(e).code(), code);
        }
        assert_eq!(
            crate::CapiError::InvalidDevice(3).code(),
            OFFLOAD_GPU_ERR_INVALID_DEVICE
        );
    }
}
