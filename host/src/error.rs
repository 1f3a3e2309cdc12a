//! The one error type of the host: every way loading or calling a guest can fail.

use std::path::PathBuf;
use std::time::Duration;

/// Everything that can go wrong while loading a vector guest or calling it.
///
/// Every message names the problem (the file, the export, the op, the numbers), so
/// that it can be shown to a user as is. None of these leaves the [`VectorGuest`]
/// unusable: after [`Error::Trap`], [`Error::Deadline`] and [`Error::ProcExit`] the
/// instance has already been rebuilt (see [`VectorGuest`]).
///
/// [`VectorGuest`]: crate::VectorGuest
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// wasmtime rejected the engine configuration on this machine.
    #[error("cannot create the wasmtime engine: {message}")]
    Engine {
        /// wasmtime's message.
        message: String,
    },

    /// A file could not be read.
    #[error("cannot read {}: {error}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What the OS said (part of the message, so not also a `source()`).
        error: std::io::Error,
    },

    /// The bytes do not start with the WebAssembly magic number `\0asm`.
    #[error("{origin} is not a WebAssembly binary: it does not start with the magic bytes \\0asm")]
    NotWasm {
        /// Where the bytes came from (a path, or `<bytes>`).
        origin: String,
    },

    /// wasmtime refused to decode, validate or compile the module.
    #[error("malformed WebAssembly module {origin}: {message}")]
    Malformed {
        /// Where the bytes came from.
        origin: String,
        /// wasmtime's message, with its chain of causes.
        message: String,
    },

    /// The module imports something this host does not provide (only
    /// `wasi_snapshot_preview1` is provided), or instantiation failed.
    #[error("cannot instantiate {origin}: {message}")]
    Instantiate {
        /// Where the module came from.
        origin: String,
        /// wasmtime's message (e.g. the unknown import).
        message: String,
    },

    /// A required export of the vector guest ABI (the version the guest reports) is
    /// absent.
    #[error("missing export `{name}`: the vector guest ABI requires it")]
    MissingExport {
        /// The export's name.
        name: &'static str,
    },

    /// An export exists but is not of the ABI's type.
    #[error("export `{name}` has the wrong type: expected {expected}, found {found}")]
    WrongExportType {
        /// The export's name.
        name: &'static str,
        /// The type the ABI prescribes, e.g. `func (i32) -> f64`.
        expected: &'static str,
        /// What the module has, e.g. `func (i32) -> i32` or `global`.
        found: String,
    },

    /// `abi_version()` is not a version this host speaks
    /// ([`crate::SUPPORTED_ABI_VERSIONS`]).
    #[error("ABI version mismatch: the guest's abi_version() is {found}, this host speaks versions 1 to {expected}")]
    AbiVersion {
        /// What the guest returned.
        found: i32,
        /// The newest version this host speaks, [`crate::ABI_VERSION`] (it speaks every
        /// one from 1).
        expected: i32,
    },

    /// The guest's ABI version has no export for the op in the family asked for: a v1
    /// guest has no strict `dot` (its `dot` counts as fast, so it runs as `dot_simd`).
    #[error("{origin} speaks vector guest ABI v{abi}, which has no {family} `{op}`: {reason}")]
    Unsupported {
        /// Where the module came from.
        origin: String,
        /// The guest's `abi_version()`.
        abi: i32,
        /// The op asked for (its ABI v2 export name).
        op: &'static str,
        /// Its family (`strict`).
        family: &'static str,
        /// Why, and what to use instead.
        reason: &'static str,
    },

    /// The capacity or a buffer offset the guest reported is unusable.
    #[error("bad buffer layout: {reason}")]
    BadLayout {
        /// Which value, and why (misaligned, out of bounds, overlapping, negative).
        reason: String,
    },

    /// Slices that must have the same length do not (lengths in elements).
    #[error("length mismatch: {what} has {got} elements, expected {expected}")]
    LengthMismatch {
        /// Which argument (`"b"`, `"out"`).
        what: &'static str,
        /// Its length in elements.
        got: usize,
        /// The length of `a`.
        expected: usize,
    },

    /// A direct buffer access or a checked resident call asked for more elements than
    /// the guest's buffers hold (the user-facing ops chunk instead).
    #[error("length {len} is over the guest's capacity of {capacity} elements")]
    OverCapacity {
        /// Requested length in elements.
        len: usize,
        /// The guest's capacity in elements.
        capacity: usize,
    },

    /// The guest trapped (e.g. `unreachable` on a bad length, out-of-bounds access).
    #[error("guest trapped in `{op}`: {message}")]
    Trap {
        /// The export that was running.
        op: &'static str,
        /// wasmtime's description of the trap.
        message: String,
    },

    /// One call into the guest ran past its deadline ([`LoadOptions::deadline`], 60 s by
    /// default) and was interrupted (epoch deadline); the instance was rebuilt.
    ///
    /// [`LoadOptions::deadline`]: crate::LoadOptions::deadline
    #[error("guest ran past its deadline of {deadline:?} in `{op}` and was interrupted (the instance was rebuilt)")]
    Deadline {
        /// The export that was running.
        op: &'static str,
        /// The deadline of one call.
        deadline: Duration,
    },

    /// The guest called WASI `proc_exit` (the Go port's way to end on a panic).
    #[error("guest called proc_exit({code}) in `{op}`")]
    ProcExit {
        /// The export that was running.
        op: &'static str,
        /// The exit code the guest passed.
        code: i32,
    },

    /// A guest metadata file (`<name>.json`) is not valid JSON of the expected shape.
    #[error("bad guest metadata {}: {message}", path.display())]
    Metadata {
        /// The JSON file.
        path: PathBuf,
        /// serde's message.
        message: String,
    },

    /// After a trap the instance could not be rebuilt; the next call tries again.
    #[error("cannot rebuild the instance of {origin} after a trap: {message}")]
    Rebuild {
        /// Where the module came from.
        origin: String,
        /// Why the fresh instance failed.
        message: String,
    },
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl From<offload_core::ShapeError> for Error {
    fn from(e: offload_core::ShapeError) -> Self {
        Error::LengthMismatch {
            what: e.what,
            got: e.got,
            expected: e.expected,
        }
    }
}
