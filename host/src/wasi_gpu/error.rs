//! The host's [`Error`], and the mapping of backend errors onto the WIT `gpu-error` a
//! guest gets.

use offload_core::gpu::policy::{ErrorCase, Refusal};
use offload_core::gpu::GpuError;

use super::bindings::wasi::gpu::compute::GpuError as WitError;

/// Errors of the host (not of a guest's wasi:gpu call, which the guest gets as a
/// `gpu-error`).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The backend could not start or failed.
    #[error(transparent)]
    Gpu(#[from] GpuError),
    /// The file could not be read, or wasmtime rejected the component.
    #[error("cannot load component {path}: {message}")]
    Load {
        /// The file.
        path: String,
        /// Why.
        message: String,
    },
    /// Setting up the engine, linker or instance failed (e.g. an import the host lacks).
    #[error("{0}")]
    Setup(String),
    /// The component has no such export, or the arguments do not fit its type.
    #[error("invoke: {0}")]
    Invoke(String),
    /// The guest trapped (ABI violation, `unreachable`, epoch deadline); the instance
    /// cannot be entered again.
    #[error("guest trapped in {func}: {message}")]
    Trap {
        /// The export called.
        func: String,
        /// wasmtime's description with its causes.
        message: String,
        /// Whether the trap was the epoch deadline ([`Limits::deadline`]).
        ///
        /// [`Limits::deadline`]: super::Limits::deadline
        interrupted: bool,
    },
}

/// Result of this module.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A setup failure (engine, linker, instance) as [`Error::Setup`] with its causes.
pub(crate) fn setup(e: impl std::fmt::Display) -> Error {
    Error::Setup(format!("{e:#}"))
}

/// Maps a backend error onto the WIT `gpu-error`: its case and message are offload-core's
/// wasi:gpu policy ([`ErrorCase::of`], [`ErrorCase::message`]), which the Go host applies
/// too.
pub fn to_wit(e: GpuError) -> WitError {
    wit_case(ErrorCase::of(&e), ErrorCase::message(&e))
}

/// A refusal of the wasi:gpu policy (quota, `buffer-read` limits) as the WIT `gpu-error`.
pub fn refusal(r: Refusal) -> WitError {
    wit_case(r.case, r.message)
}

/// The bindings' `gpu-error` of a case and message.
fn wit_case(case: ErrorCase, m: String) -> WitError {
    match case {
        ErrorCase::Unsupported => WitError::Unsupported(m),
        ErrorCase::OutOfBounds => WitError::OutOfBounds(m),
        ErrorCase::ZeroSize => WitError::ZeroSize(m),
        ErrorCase::TooLarge => WitError::TooLarge(m),
        ErrorCase::ShapeMismatch => WitError::ShapeMismatch(m),
        ErrorCase::InvalidArgument => WitError::InvalidArgument(m),
        ErrorCase::QuotaExceeded => WitError::QuotaExceeded(m),
        ErrorCase::Device => WitError::Device(m),
    }
}

/// The WIT case name and message of a `gpu-error` (`out-of-bounds`, ...).
pub fn describe(e: &WitError) -> (&'static str, &str) {
    let (case, m) = match e {
        WitError::Unsupported(m) => (ErrorCase::Unsupported, m),
        WitError::OutOfBounds(m) => (ErrorCase::OutOfBounds, m),
        WitError::ZeroSize(m) => (ErrorCase::ZeroSize, m),
        WitError::TooLarge(m) => (ErrorCase::TooLarge, m),
        WitError::ShapeMismatch(m) => (ErrorCase::ShapeMismatch, m),
        WitError::InvalidArgument(m) => (ErrorCase::InvalidArgument, m),
        WitError::QuotaExceeded(m) => (ErrorCase::QuotaExceeded, m),
        WitError::Device(m) => (ErrorCase::Device, m),
    };
    (case.name(), m)
}

pub(super) type Wit<T> = wasmtime::Result<std::result::Result<T, WitError>>;
