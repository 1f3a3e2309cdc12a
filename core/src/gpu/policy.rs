//! The wasi:gpu policy: what a host of wasi:gpu (`wasm-modules/wit/wasi-gpu`) lets one
//! guest instance do, and how a refusal or a backend error reaches the guest.
//!
//! Both hosts apply it: the Rust host (`host/src/wasi_gpu/`) calls these functions
//! directly; the Go host (`go-host/wasigpu_imports.go`) calls them through the C ABI
//! (`offload_wasi_gpu_*` in capi), so the two cannot drift. What stays each host's own is
//! the handle table (the Rust host's is wasmtime's `ResourceTable`, the Go host's a map
//! from `u32` handles), because the component model owns it in one and the host in the
//! other.
//!
//! The rules:
//! - **Quotas** ([`Quota`]): an instance holds at most `max_buffers` buffers and
//!   `max_bytes` device bytes at once ([`admit_buffer`], before the backend allocates).
//! - **`buffer-read`** ([`check_read`]) is checked in one order: zero size, then the byte
//!   quota (the copy lands in the guest's linear memory), then the buffer's bounds, then
//!   the canonical ABI's 32-bit list length ([`MAX_LIST_BYTES`]).
//! - **Errors**: every [`GpuError`] becomes one `gpu-error` case ([`ErrorCase::of`]); a
//!   refusal of the policy itself is a [`Refusal`] with its case and message.
//!
//! Kernel and transfer arguments (shapes, bounds of writes and copies, zero sizes) are not
//! policy: the backend validation layer checks them for every caller (`gpu/validate.rs`).

use alloc::format;
use alloc::string::String;

use super::GpuError;

/// The cases of wasi:gpu's `gpu-error` variant, in WIT order: the discriminant is the
/// case index the canonical ABI stores (`compute.wit`, `variant gpu-error`).
#[repr(u8)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorCase {
    /// `unsupported`: the device cannot run this.
    Unsupported = 0,
    /// `out-of-bounds`: `offset + bytes` past the end of a buffer.
    OutOfBounds = 1,
    /// `zero-size`: a zero-byte buffer or transfer, a kernel on zero elements.
    ZeroSize = 2,
    /// `too-large`: a size over the device's or the ABI's limit.
    TooLarge = 3,
    /// `shape-mismatch`: operands that do not fit the kernel's shape.
    ShapeMismatch = 4,
    /// `invalid-argument`: any other bad argument (also a handle the backend does not
    /// know, which a host's own handle table should have caught first).
    InvalidArgument = 5,
    /// `quota-exceeded`: over the instance's [`Quota`]; nothing was allocated.
    QuotaExceeded = 6,
    /// `device`: the device or driver failed (also a backend that could not start).
    Device = 7,
}

impl ErrorCase {
    /// Every case, in WIT order (`ALL[c as usize] == c`).
    pub const ALL: [ErrorCase; 8] = [
        ErrorCase::Unsupported,
        ErrorCase::OutOfBounds,
        ErrorCase::ZeroSize,
        ErrorCase::TooLarge,
        ErrorCase::ShapeMismatch,
        ErrorCase::InvalidArgument,
        ErrorCase::QuotaExceeded,
        ErrorCase::Device,
    ];

    /// The case's WIT name (`out-of-bounds`, ...).
    pub const fn name(self) -> &'static str {
        match self {
            ErrorCase::Unsupported => "unsupported",
            ErrorCase::OutOfBounds => "out-of-bounds",
            ErrorCase::ZeroSize => "zero-size",
            ErrorCase::TooLarge => "too-large",
            ErrorCase::ShapeMismatch => "shape-mismatch",
            ErrorCase::InvalidArgument => "invalid-argument",
            ErrorCase::QuotaExceeded => "quota-exceeded",
            ErrorCase::Device => "device",
        }
    }

    /// The case a backend error reaches the guest as: one case per [`GpuError`] kind.
    pub fn of(e: &GpuError) -> ErrorCase {
        match e {
            GpuError::Unsupported(_) => ErrorCase::Unsupported,
            GpuError::OutOfBounds { .. } => ErrorCase::OutOfBounds,
            GpuError::ZeroSize(_) => ErrorCase::ZeroSize,
            GpuError::TooLarge { .. } => ErrorCase::TooLarge,
            GpuError::ShapeMismatch(_) => ErrorCase::ShapeMismatch,
            GpuError::InvalidArgument(_) | GpuError::InvalidHandle(_) => ErrorCase::InvalidArgument,
            GpuError::Device(_) | GpuError::BackendUnavailable { .. } => ErrorCase::Device,
        }
    }

    /// The message a guest gets with a backend error: the error's text without the
    /// prefix its case already says (`zero size: ` and the like), for the kinds whose
    /// text is only that prefix and a caller's string.
    pub fn message(e: &GpuError) -> String {
        match e {
            GpuError::Unsupported(m)
            | GpuError::ShapeMismatch(m)
            | GpuError::InvalidArgument(m)
            | GpuError::Device(m) => m.clone(),
            GpuError::ZeroSize(m) => String::from(*m),
            e => format!("{e}"),
        }
    }
}

/// A call the policy refuses: the `gpu-error` case and its message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    /// The case the guest gets.
    pub case: ErrorCase,
    /// One line saying which limit and by how much.
    pub message: String,
}

impl core::fmt::Display for Refusal {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{}: {}", self.case.name(), self.message)
    }
}

/// What one guest instance may hold at once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Quota {
    /// Device buffers held at once.
    pub max_buffers: u32,
    /// Device bytes held at once; also the largest `buffer-read` (its copy lands in the
    /// guest's linear memory).
    pub max_bytes: u64,
}

impl Quota {
    /// Both hosts' default: 4096 buffers, 1 GiB.
    pub const DEFAULT: Quota = Quota {
        max_buffers: 4096,
        max_bytes: 1 << 30,
    };
}

impl Default for Quota {
    fn default() -> Self {
        Quota::DEFAULT
    }
}

/// Both hosts' default wall-clock limit of one export call of a guest, in milliseconds
/// (60 s); a guest still running then is interrupted (an epoch deadline).
pub const DEFAULT_DEADLINE_MS: u64 = 60_000;

/// The largest list the canonical ABI can lower into a 32-bit linear memory, in bytes:
/// a list's length is a `u32`.
pub const MAX_LIST_BYTES: u64 = u32::MAX as u64;

/// Whether an instance holding `held` buffers of `used_bytes` bytes in all may create one
/// more of `bytes` bytes. Checked before the backend allocates, so a refusal allocates
/// nothing. Errors: `quota-exceeded` (buffers first, then bytes).
pub fn admit_buffer(quota: &Quota, held: u64, used_bytes: u64, bytes: u64) -> Result<(), Refusal> {
    if held >= u64::from(quota.max_buffers) {
        return Err(Refusal {
            case: ErrorCase::QuotaExceeded,
            message: format!(
                "this instance holds {held} buffers, its quota is {}",
                quota.max_buffers
            ),
        });
    }
    if bytes > quota.max_bytes.saturating_sub(used_bytes) {
        return Err(Refusal {
            case: ErrorCase::QuotaExceeded,
            message: format!(
                "{bytes} bytes asked with {used_bytes} of the instance's {} bytes in use",
                quota.max_bytes
            ),
        });
    }
    Ok(())
}

/// Whether `buffer-read` of `bytes` bytes from byte `offset` of a buffer of `size` bytes
/// may go ahead. Errors, in this order: `zero-size`; `quota-exceeded` (`bytes` over
/// `max_bytes`); `out-of-bounds` (`offset + bytes` past `size`, overflow included);
/// `too-large` (over [`MAX_LIST_BYTES`]).
pub fn check_read(quota: &Quota, offset: u64, bytes: u64, size: u64) -> Result<(), Refusal> {
    let refuse = |case, message| Err(Refusal { case, message });
    if bytes == 0 {
        return refuse(ErrorCase::ZeroSize, String::from("buffer-read of 0 bytes"));
    }
    if bytes > quota.max_bytes {
        return refuse(
            ErrorCase::QuotaExceeded,
            format!(
                "a read of {bytes} bytes is over the instance's quota of {} bytes",
                quota.max_bytes
            ),
        );
    }
    if offset.checked_add(bytes).is_none_or(|end| end > size) {
        return refuse(
            ErrorCase::OutOfBounds,
            format!("a read of {bytes} bytes at offset {offset} is past the end of a {size}-byte buffer"),
        );
    }
    if bytes > MAX_LIST_BYTES {
        return refuse(
            ErrorCase::TooLarge,
            format!("a read of {bytes} bytes does not fit a 32-bit linear memory"),
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const Q: Quota = Quota {
        max_buffers: 2,
        max_bytes: 100,
    };

    fn case<T>(r: Result<T, Refusal>) -> Option<ErrorCase> {
        r.err().map(|e| e.case)
    }

    #[test]
    fn cases_are_in_wit_order() {
        for (i, c) in ErrorCase::ALL.iter().enumerate() {
            assert_eq!(*c as usize, i, "{c:?}");
        }
        assert_eq!(ErrorCase::ALL.map(ErrorCase::name).len(), 8);
    }

    #[test]
    fn admit_counts_buffers_then_bytes() {
        assert_eq!(case(admit_buffer(&Q, 0, 0, 100)), None);
        assert_eq!(case(admit_buffer(&Q, 1, 60, 40)), None);
        assert_eq!(
            case(admit_buffer(&Q, 1, 60, 41)),
            Some(ErrorCase::QuotaExceeded)
        );
        assert_eq!(
            case(admit_buffer(&Q, 2, 0, 1)),
            Some(ErrorCase::QuotaExceeded)
        );
        assert_eq!(
            case(admit_buffer(&Q, 0, 0, u64::MAX)),
            Some(ErrorCase::QuotaExceeded)
        );
        // Used bytes over the quota (a host that lowered it) never underflows.
        assert_eq!(
            case(admit_buffer(&Q, 0, 200, 1)),
            Some(ErrorCase::QuotaExceeded)
        );
    }

    #[test]
    fn read_checks_in_one_order() {
        // zero before quota and bounds
        assert_eq!(case(check_read(&Q, 500, 0, 10)), Some(ErrorCase::ZeroSize));
        // quota before bounds
        assert_eq!(
            case(check_read(&Q, 0, 101, 10)),
            Some(ErrorCase::QuotaExceeded)
        );
        // bounds, with overflow
        assert_eq!(case(check_read(&Q, 5, 6, 10)), Some(ErrorCase::OutOfBounds));
        assert_eq!(
            case(check_read(&Q, u64::MAX, 1, 10)),
            Some(ErrorCase::OutOfBounds)
        );
        assert_eq!(case(check_read(&Q, 5, 5, 10)), None);
        // the 32-bit list length, when the quota allows more
        let big = Quota {
            max_buffers: 1,
            max_bytes: u64::MAX,
        };
        let n = MAX_LIST_BYTES + 1;
        assert_eq!(case(check_read(&big, 0, n, n)), Some(ErrorCase::TooLarge));
    }

    #[test]
    fn every_backend_error_has_one_case() {
        let e = GpuError::ZeroSize("transfer of 0 bytes");
        assert_eq!(ErrorCase::of(&e), ErrorCase::ZeroSize);
        assert_eq!(ErrorCase::message(&e), "transfer of 0 bytes");
        let e = GpuError::InvalidHandle(7);
        assert_eq!(ErrorCase::of(&e), ErrorCase::InvalidArgument);
        let e = GpuError::BackendUnavailable {
            backend: "cuda",
            reason: "no driver".into(),
        };
        assert_eq!(ErrorCase::of(&e), ErrorCase::Device);
        assert!(ErrorCase::message(&e).contains("no driver"));
    }
}
