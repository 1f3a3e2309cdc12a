//! `offload-capi`: the C ABI of offload, for C and Go (cgo) callers.
//!
//! Built as a `cdylib` (`liboffload_capi.so`), a `staticlib` (`liboffload_capi.a`) and
//! an `rlib`. The header `capi/include/offload.h` is generated from this crate by
//! cbindgen and checked in; `tests/header.rs` fails when it is stale.
//!
//! Conventions, shared by every function:
//! - Each function returns an `int32_t` status: [`OFFLOAD_OK`] (0) on success, one of
//!   the negative `OFFLOAD_ERR_*` codes otherwise. Results come back through
//!   out-pointers, which are written only on success.
//! - After a failure, [`offload_last_error`] returns a message for the calling thread.
//! - Arrays are `const double*` plus a length in **elements** (not bytes). A null
//!   pointer is allowed only with length 0.
//! - No Rust panic unwinds across the boundary: every entry point runs under
//!   `catch_unwind` and turns a panic into [`OFFLOAD_ERR_PANIC`].
//!
//! GPU calls ([`gpu`]) use the same convention with their own positive status codes
//! (`OFFLOAD_GPU_ERR_*`, the values of [`gpu::Status`], which maps each
//! `offload_core::gpu::GpuError` to one).
//!
//! Areas, one module each: [`vector`] (the native vector ops of `offload-core`) and
//! [`gpu`] (the GPU backends: devices and buffers as integer handles, kernels).
#![warn(missing_docs)]

use std::cell::RefCell;
use std::ffi::{c_char, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};

pub mod gpu;
pub mod vector;

pub use vector::{
    offload_dot, offload_dot_par, offload_dot_simd, offload_mul, offload_mul_par,
    offload_par_threads, offload_scale, offload_scale_par, offload_simd_level, offload_sum,
    offload_sum_par, offload_sum_simd,
};

/// Success.
pub const OFFLOAD_OK: i32 = 0;
/// A pointer argument was null where a value was needed (an array with length > 0,
/// or an out-pointer).
pub const OFFLOAD_ERR_NULL_POINTER: i32 = -1;
/// Two arrays that must have the same length do not.
pub const OFFLOAD_ERR_LENGTH_MISMATCH: i32 = -2;
/// An output array partly overlaps an input array (identical arrays, i.e. in place,
/// are allowed).
pub const OFFLOAD_ERR_OVERLAP: i32 = -3;
/// A length is too large to describe memory: `len * sizeof(double)` exceeds
/// `PTRDIFF_MAX`.
pub const OFFLOAD_ERR_TOO_LARGE: i32 = -4;
/// A Rust panic was caught at the boundary (a bug in offload; the message says where).
pub const OFFLOAD_ERR_PANIC: i32 = -99;

/// An error of a C entry point: its status code and the message kept for
/// [`offload_last_error`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CapiError {
    /// See [`OFFLOAD_ERR_NULL_POINTER`].
    #[error("{what} is a null pointer")]
    NullPointer {
        /// The argument's name.
        what: &'static str,
    },
    /// See [`OFFLOAD_ERR_LENGTH_MISMATCH`].
    #[error(transparent)]
    Shape(#[from] offload_core::ShapeError),
    /// See [`OFFLOAD_ERR_OVERLAP`].
    #[error(
        "{what} partly overlaps an input array (only an identical array, in place, is allowed)"
    )]
    Overlap {
        /// The output argument's name.
        what: &'static str,
    },
    /// See [`OFFLOAD_ERR_TOO_LARGE`].
    #[error("{what} has {len} elements, too many to address")]
    TooLarge {
        /// The argument's name.
        what: &'static str,
        /// Its length in elements.
        len: usize,
    },
    /// See [`OFFLOAD_ERR_PANIC`].
    #[error("panic inside offload: {0}")]
    Panic(String),
    /// A GPU backend's error; its code is its [`gpu::Status`] (1–9).
    #[error(transparent)]
    Gpu(#[from] offload_core::gpu::GpuError),
    /// See [`gpu::OFFLOAD_GPU_ERR_INVALID_DEVICE`].
    #[error("invalid device handle {0} (0, never opened, or closed)")]
    InvalidDevice(u64),
}

impl CapiError {
    /// The status code a C caller sees for this error.
    pub fn code(&self) -> i32 {
        match self {
            CapiError::NullPointer { .. } => OFFLOAD_ERR_NULL_POINTER,
            CapiError::Shape(_) => OFFLOAD_ERR_LENGTH_MISMATCH,
            CapiError::Overlap { .. } => OFFLOAD_ERR_OVERLAP,
            CapiError::TooLarge { .. } => OFFLOAD_ERR_TOO_LARGE,
            CapiError::Panic(_) => OFFLOAD_ERR_PANIC,
            CapiError::Gpu(e) => gpu::Status::from(e).code(),
            CapiError::InvalidDevice(_) => gpu::Status::InvalidDevice.code(),
        }
    }
}

thread_local! {
    /// The last error message of this thread, NUL-terminated; empty when none.
    static LAST_ERROR: RefCell<CString> = RefCell::new(CString::default());
}

fn set_last_error(msg: &str) {
    // Interior NULs cannot come from our own messages, but strip them to be safe.
    let c = CString::new(msg.replace('\0', " ")).unwrap_or_default();
    LAST_ERROR.with(|e| *e.borrow_mut() = c);
}

/// Empties the thread's last error message; a no-op when it is empty already, so a
/// successful call does not allocate (`CString::default` allocates its one NUL byte).
fn clear_last_error() {
    LAST_ERROR.with(|e| {
        if !e.borrow().as_bytes().is_empty() {
            *e.borrow_mut() = CString::default();
        }
    });
}

/// Runs one C entry point: catches panics, records the error message and returns the
/// status code.
pub(crate) fn guard(f: impl FnOnce() -> Result<(), CapiError>) -> i32 {
    let res = catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|p| {
        let msg = p
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| p.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown payload".to_string());
        Err(CapiError::Panic(msg))
    });
    match res {
        Ok(()) => {
            clear_last_error();
            OFFLOAD_OK
        }
        Err(e) => {
            set_last_error(&e.to_string());
            e.code()
        }
    }
}

/// The message of the last failed call on the calling thread, NUL-terminated UTF-8;
/// an empty string when the last call succeeded or none was made.
///
/// The pointer stays valid until the next `offload_*` call on the same thread; copy
/// the string to keep it. Never null.
#[no_mangle]
pub extern "C" fn offload_last_error() -> *const c_char {
    catch_unwind(|| LAST_ERROR.with(|e| e.borrow().as_ptr())).unwrap_or(c"".as_ptr())
}

/// The version of this library, e.g. `"0.1.0"`, as a static NUL-terminated string.
#[no_mangle]
pub extern "C" fn offload_version() -> *const c_char {
    const V: &str = concat!(env!("CARGO_PKG_VERSION"), "\0");
    V.as_ptr().cast()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CStr;

    fn last() -> String {
        // SAFETY: offload_last_error never returns null and the string is NUL-terminated.
        unsafe { CStr::from_ptr(offload_last_error()) }
            .to_str()
            .unwrap()
            .to_string()
    }

    #[test]
    fn panic_becomes_status_and_message() {
        let code = guard(|| panic!("boom"));
        assert_eq!(code, OFFLOAD_ERR_PANIC);
        assert!(last().contains("boom"), "{}", last());
        assert_eq!(guard(|| Ok(())), OFFLOAD_OK);
        assert_eq!(last(), "");
    }

    #[test]
    fn version_matches_crate() {
        // SAFETY: static NUL-terminated string.
        let v = unsafe { CStr::from_ptr(offload_version()) };
        assert_eq!(v.to_str().unwrap(), env!("CARGO_PKG_VERSION"));
    }
}
