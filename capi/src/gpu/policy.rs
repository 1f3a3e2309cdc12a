//! The wasi:gpu policy (`offload_core::gpu::policy`) for hosts written in other languages:
//! the Go host's wasi:gpu imports ask these functions instead of keeping their own copy,
//! so its quotas, the order of its `buffer-read` checks and its error cases are the Rust
//! host's.
//!
//! The functions are pure (no device, no thread-local message): each answers whether a
//! call may go ahead and, when not, writes an [`OffloadWasiGpuRefusal`] with the
//! `gpu-error` case and message to hand the guest.

use super::device::fill;
use super::{Status, OFFLOAD_GPU_STR_BYTES};
use crate::OFFLOAD_ERR_TOO_LARGE;
use offload_core::gpu::policy::{self, ErrorCase, Quota, Refusal};
use std::ffi::{c_char, CStr};

/// gpu-error case `unsupported` (the variant's discriminant, WIT order).
pub const OFFLOAD_WASI_GPU_UNSUPPORTED: i32 = 0;
/// gpu-error case `out-of-bounds`.
pub const OFFLOAD_WASI_GPU_OUT_OF_BOUNDS: i32 = 1;
/// gpu-error case `zero-size`.
pub const OFFLOAD_WASI_GPU_ZERO_SIZE: i32 = 2;
/// gpu-error case `too-large`.
pub const OFFLOAD_WASI_GPU_TOO_LARGE: i32 = 3;
/// gpu-error case `shape-mismatch`.
pub const OFFLOAD_WASI_GPU_SHAPE_MISMATCH: i32 = 4;
/// gpu-error case `invalid-argument`.
pub const OFFLOAD_WASI_GPU_INVALID_ARGUMENT: i32 = 5;
/// gpu-error case `quota-exceeded`.
pub const OFFLOAD_WASI_GPU_QUOTA_EXCEEDED: i32 = 6;
/// gpu-error case `device`.
pub const OFFLOAD_WASI_GPU_DEVICE: i32 = 7;
/// Number of gpu-error cases.
pub const OFFLOAD_WASI_GPU_ERROR_CASES: i32 = 8;

/// Default buffers one instance may hold at once (`Quota::DEFAULT` of the policy).
pub const OFFLOAD_WASI_GPU_DEFAULT_MAX_BUFFERS: u32 = 4096;
/// Default device bytes one instance may hold at once, and the largest `buffer-read`
/// (1 GiB).
pub const OFFLOAD_WASI_GPU_DEFAULT_MAX_BYTES: u64 = 1073741824;
/// Default wall-clock limit of one export call of a guest, in milliseconds (60 s).
pub const OFFLOAD_WASI_GPU_DEFAULT_DEADLINE_MS: u64 = 60000;

/// What one guest instance may hold at once (`offload_core::gpu::policy::Quota`).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct OffloadWasiGpuQuota {
    /// Device buffers held at once.
    pub max_buffers: u32,
    /// Device bytes held at once; also the largest `buffer-read`.
    pub max_bytes: u64,
}

/// A call the policy refuses: the gpu-error case to return to the guest and its message.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct OffloadWasiGpuRefusal {
    /// One of the `OFFLOAD_WASI_GPU_*` cases (0 to [`OFFLOAD_WASI_GPU_ERROR_CASES`] - 1).
    pub error_case: i32,
    /// One line, NUL-terminated UTF-8 (cut to [`OFFLOAD_GPU_STR_BYTES`] bytes).
    pub message: [c_char; OFFLOAD_GPU_STR_BYTES],
}

fn quota(q: OffloadWasiGpuQuota) -> Quota {
    Quota {
        max_buffers: q.max_buffers,
        max_bytes: q.max_bytes,
    }
}

/// `true` when `r` is allowed; otherwise writes the refusal to `out` (when not null).
///
/// # Safety
/// `out` is null or valid for one write.
unsafe fn answer(r: Result<(), Refusal>, out: *mut OffloadWasiGpuRefusal) -> bool {
    let Err(r) = r else { return true };
    if let Some(out) = unsafe { out.as_mut() } {
        out.error_case = r.case as i32;
        fill(&mut out.message, &r.message);
    }
    false
}

/// Whether an instance holding `held` buffers of `used_bytes` bytes in all may create one
/// more buffer of `bytes` bytes under `quota`. Returns `true` when it may; otherwise
/// `false`, with the refusal (`quota-exceeded`) written to `refusal` when it is not null.
///
/// # Safety
/// `refusal` is null or points to writable memory for one [`OffloadWasiGpuRefusal`].
#[no_mangle]
pub unsafe extern "C" fn offload_wasi_gpu_admit_buffer(
    quota_: OffloadWasiGpuQuota,
    held: u64,
    used_bytes: u64,
    bytes: u64,
    refusal: *mut OffloadWasiGpuRefusal,
) -> bool {
    unsafe {
        answer(
            policy::admit_buffer(&quota(quota_), held, used_bytes, bytes),
            refusal,
        )
    }
}

/// Whether `buffer-read` of `bytes` bytes from byte `offset` of a buffer of `size` bytes
/// may go ahead under `quota`. Returns `true` when it may; otherwise `false`, with the
/// refusal written to `refusal` when it is not null. The checks run in one order:
/// `zero-size`, `quota-exceeded`, `out-of-bounds`, `too-large` (over a 32-bit list).
///
/// # Safety
/// `refusal` is null or points to writable memory for one [`OffloadWasiGpuRefusal`].
#[no_mangle]
pub unsafe extern "C" fn offload_wasi_gpu_check_read(
    quota_: OffloadWasiGpuQuota,
    offset: u64,
    bytes: u64,
    size: u64,
    refusal: *mut OffloadWasiGpuRefusal,
) -> bool {
    unsafe {
        answer(
            policy::check_read(&quota(quota_), offset, bytes, size),
            refusal,
        )
    }
}

/// The gpu-error case (`OFFLOAD_WASI_GPU_*`) a failed GPU call's status becomes: the case
/// of the core error behind the status (`OFFLOAD_GPU_ERR_INVALID_HANDLE` is
/// `invalid-argument`, `OFFLOAD_GPU_ERR_BACKEND_UNAVAILABLE` and
/// `OFFLOAD_GPU_ERR_INVALID_DEVICE` are `device`), `too-large` for
/// `OFFLOAD_ERR_TOO_LARGE`, and `device` for any other code.
#[no_mangle]
pub extern "C" fn offload_wasi_gpu_error_case(status: i32) -> i32 {
    if status == OFFLOAD_ERR_TOO_LARGE {
        return ErrorCase::TooLarge as i32;
    }
    let case = match Status::from_code(status) {
        Some(Status::Unsupported) => ErrorCase::Unsupported,
        Some(Status::OutOfBounds) => ErrorCase::OutOfBounds,
        Some(Status::ZeroSize) => ErrorCase::ZeroSize,
        Some(Status::TooLarge) => ErrorCase::TooLarge,
        Some(Status::ShapeMismatch) => ErrorCase::ShapeMismatch,
        Some(Status::InvalidArgument | Status::InvalidHandle) => ErrorCase::InvalidArgument,
        _ => ErrorCase::Device,
    };
    case as i32
}

/// The WIT name of gpu-error case `error_case` (`"out-of-bounds"`, ...), a static
/// NUL-terminated string; null for a number outside 0 to
/// [`OFFLOAD_WASI_GPU_ERROR_CASES`] - 1.
#[no_mangle]
pub extern "C" fn offload_wasi_gpu_error_case_name(error_case: i32) -> *const c_char {
    const NAMES: [&CStr; 8] = [
        c"unsupported",
        c"out-of-bounds",
        c"zero-size",
        c"too-large",
        c"shape-mismatch",
        c"invalid-argument",
        c"quota-exceeded",
        c"device",
    ];
    usize::try_from(error_case)
        .ok()
        .and_then(|i| NAMES.get(i))
        .map_or(std::ptr::null(), |s| s.as_ptr())
}

#[cfg(test)]
mod tests {
    use super::*;
    use offload_core::gpu::GpuError;

    /// The header's numbers are the policy's.
    #[test]
    fn constants_are_the_policy() {
        let cases = [
            OFFLOAD_WASI_GPU_UNSUPPORTED,
            OFFLOAD_WASI_GPU_OUT_OF_BOUNDS,
            OFFLOAD_WASI_GPU_ZERO_SIZE,
            OFFLOAD_WASI_GPU_TOO_LARGE,
            OFFLOAD_WASI_GPU_SHAPE_MISMATCH,
            OFFLOAD_WASI_GPU_INVALID_ARGUMENT,
            OFFLOAD_WASI_GPU_QUOTA_EXCEEDED,
            OFFLOAD_WASI_GPU_DEVICE,
        ];
        assert_eq!(cases.len() as i32, OFFLOAD_WASI_GPU_ERROR_CASES);
        for (c, code) in ErrorCase::ALL.iter().zip(cases) {
            assert_eq!(*c as i32, code, "{c:?}");
            let name = offload_wasi_gpu_error_case_name(code);
            assert_eq!(unsafe { CStr::from_ptr(name) }.to_str().unwrap(), c.name());
        }
        assert!(offload_wasi_gpu_error_case_name(8).is_null());
        assert!(offload_wasi_gpu_error_case_name(-1).is_null());
        assert_eq!(
            OFFLOAD_WASI_GPU_DEFAULT_MAX_BUFFERS,
            Quota::DEFAULT.max_buffers
        );
        assert_eq!(OFFLOAD_WASI_GPU_DEFAULT_MAX_BYTES, Quota::DEFAULT.max_bytes);
        assert_eq!(
            OFFLOAD_WASI_GPU_DEFAULT_DEADLINE_MS,
            policy::DEFAULT_DEADLINE_MS
        );
    }

    /// A core error reaches a Go guest (through its status) as the same case it reaches a
    /// Rust-host guest (directly).
    #[test]
    fn status_case_agrees_with_core() {
        let errors = [
            GpuError::BackendUnavailable {
                backend: "cuda",
                reason: "x".into(),
            },
            GpuError::Unsupported("x".into()),
            GpuError::InvalidHandle(3),
            GpuError::OutOfBounds {
                id: 1,
                offset: 1,
                bytes: 2,
                size: 2,
            },
            GpuError::ZeroSize("x"),
            GpuError::TooLarge {
                what: "x",
                requested: 2,
                limit: 1,
            },
            GpuError::ShapeMismatch("x".into()),
            GpuError::InvalidArgument("x".into()),
            GpuError::Device("x".into()),
        ];
        for e in &errors {
            let status = Status::from(e).code();
            assert_eq!(
                offload_wasi_gpu_error_case(status),
                ErrorCase::of(e) as i32,
                "{e}"
            );
        }
        assert_eq!(
            offload_wasi_gpu_error_case(Status::InvalidDevice.code()),
            OFFLOAD_WASI_GPU_DEVICE
        );
    }

    #[test]
    fn refusals_are_written() {
        let q = OffloadWasiGpuQuota {
            max_buffers: 1,
            max_bytes: 8,
        };
        let mut r = OffloadWasiGpuRefusal {
            error_case: -1,
            message: [0; OFFLOAD_GPU_STR_BYTES],
        };
        assert!(unsafe { offload_wasi_gpu_check_read(q, 0, 8, 8, &mut r) });
        assert_eq!(r.error_case, -1, "nothing written when allowed");
        assert!(!unsafe { offload_wasi_gpu_check_read(q, 0, 0, 8, &mut r) });
        assert_eq!(r.error_case, OFFLOAD_WASI_GPU_ZERO_SIZE);
        assert!(!unsafe { offload_wasi_gpu_admit_buffer(q, 1, 0, 1, &mut r) });
        assert_eq!(r.error_case, OFFLOAD_WASI_GPU_QUOTA_EXCEEDED);
        let msg = unsafe { CStr::from_ptr(r.message.as_ptr()) }
            .to_str()
            .unwrap();
        assert!(msg.contains("quota is 1"), "{msg}");
        assert!(!unsafe { offload_wasi_gpu_admit_buffer(q, 0, 0, 9, std::ptr::null_mut()) });
    }
}
