//! [`ForestGpuGuestError`]: what a forest guest component's calls can fail with.

#[cfg(doc)]
use super::{ForestComponent, ForestGpuGuest, ForestWebGpuGuest};
use crate::wasi_gpu;
#[cfg(doc)]
use crate::wasi_gpu::Limits;

/// Errors of [`ForestComponent`] (both [`ForestGpuGuest`] and [`ForestWebGpuGuest`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ForestGpuGuestError {
    /// Loading, compiling or instantiating the component, or calling an export with the
    /// wrong type ([`wasi_gpu::Error`] other than a trap).
    #[error(transparent)]
    Host(wasi_gpu::Error),
    /// The guest returned `err(message)` (bad data or hyperparameters, no forest yet, a
    /// `gpu-error` of the device). The instance is intact.
    #[error("guest `{op}` returned an error: {message}")]
    Guest {
        /// The export.
        op: &'static str,
        /// The guest's message.
        message: String,
    },
    /// The guest trapped (deadline, ABI violation); the instance was rebuilt (its device
    /// buffers freed) and holds no forest.
    #[error("guest trapped in `{op}`: {message} (instance rebuilt, forest dropped)")]
    Trap {
        /// The export.
        op: &'static str,
        /// wasmtime's description.
        message: String,
        /// Whether the trap was the epoch deadline ([`Limits::deadline`]).
        interrupted: bool,
    },
    /// A count that the world carries as `u32` is larger.
    #[error("{what} is {value}, over the u32 the forest-gpu world carries")]
    TooLarge {
        /// Which value.
        what: &'static str,
        /// Its value.
        value: usize,
    },
}

/// Result of this module.
pub type Result<T, E = ForestGpuGuestError> = std::result::Result<T, E>;

/// `value` as the `u32` the worlds carry, else [`ForestGpuGuestError::TooLarge`].
pub(super) fn u32_of(what: &'static str, value: usize) -> Result<u32> {
    u32::try_from(value).map_err(|_| ForestGpuGuestError::TooLarge { what, value })
}
