//! The host's [`Error`], and the mapping of backend errors onto the WIT `gpu-error` a
//! guest gets.

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

pub(super) fn setup(e: impl std::fmt::Display) -> Error {
    Error::Setup(format!("{e:#}"))
}

/// Maps a backend error onto the WIT `gpu-error` (message without the Rust prefix).
pub fn to_wit(e: GpuError) -> WitError {
    match e {
        GpuError::Unsupported(m) => WitError::Unsupported(m),
        GpuError::ShapeMismatch(m) => WitError::ShapeMismatch(m),
        GpuError::InvalidArgument(m) => WitError::InvalidArgument(m),
        GpuError::Device(m) => WitError::Device(m),
        GpuError::ZeroSize(m) => WitError::ZeroSize(m.to_string()),
        e @ GpuError::OutOfBounds { .. } => WitError::OutOfBounds(e.to_string()),
        e @ GpuError::TooLarge { .. } => WitError::TooLarge(e.to_string()),
        e @ GpuError::InvalidHandle(_) => WitError::InvalidArgument(e.to_string()),
        e @ GpuError::BackendUnavailable { .. } => WitError::Device(e.to_string()),
    }
}

/// The WIT case name and message of a `gpu-error` (`out-of-bounds`, ...).
pub fn describe(e: &WitError) -> (&'static str, &str) {
    match e {
        WitError::Unsupported(m) => ("unsupported", m),
        WitError::OutOfBounds(m) => ("out-of-bounds", m),
        WitError::ZeroSize(m) => ("zero-size", m),
        WitError::TooLarge(m) => ("too-large", m),
        WitError::ShapeMismatch(m) => ("shape-mismatch", m),
        WitError::InvalidArgument(m) => ("invalid-argument", m),
        WitError::QuotaExceeded(m) => ("quota-exceeded", m),
        WitError::Device(m) => ("device", m),
    }
}

pub(super) type Wit<T> = wasmtime::Result<std::result::Result<T, WitError>>;
