//! [`ParallelError`]: what loading or calling a parallel-for guest can fail with (the
//! guest's own calls get error codes instead: [`super::Errno`]).

use std::path::PathBuf;

use super::abi::Errno;

/// An error of [`super::ParallelGuest`] or [`super::VectorOps`].
#[derive(Debug, thiserror::Error)]
pub enum ParallelError {
    /// The guest file could not be read.
    #[error("reading {path}: {error}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        error: std::io::Error,
    },
    /// wasmtime could not decode, validate or compile the module.
    #[error("{origin}: not a valid wasm module: {message}")]
    Compile {
        /// The file or name of the module.
        origin: String,
        /// wasmtime's message.
        message: String,
    },
    /// The module does not import exactly one shared memory.
    #[error("{origin}: a parallel-for guest must import one shared memory (wasm32-wasip1-threads): {message}")]
    NoSharedMemory {
        /// The module.
        origin: String,
        /// What is wrong.
        message: String,
    },
    /// The module has a shadow-stack global the host cannot move per worker.
    #[error("{origin}: its __stack_pointer global is not exported, so workers would share one shadow stack (link with --export=__stack_pointer)")]
    StackNotExported {
        /// The module.
        origin: String,
    },
    /// The engine, the linker, the worker threads or an instantiation failed.
    #[error("{origin}: {message}")]
    Setup {
        /// The module.
        origin: String,
        /// What failed.
        message: String,
    },
    /// The module lacks an export, or it has another type.
    #[error("{origin}: export `{name}`: {message}")]
    Export {
        /// The module.
        origin: String,
        /// The export.
        name: String,
        /// What is wrong.
        message: String,
    },
    /// The main instance trapped (or ran past its deadline); the guest is poisoned.
    #[error("{origin}: `{export}` trapped: {message}")]
    Trap {
        /// The module.
        origin: String,
        /// The export that was called.
        export: String,
        /// The trap.
        message: String,
        /// Whether it was the deadline.
        deadline: bool,
    },
    /// A call after a trap: the guest must be loaded again.
    #[error("{origin}: the guest trapped before and is not entered again")]
    Poisoned {
        /// The module.
        origin: String,
    },
    /// A host access to linear memory outside it.
    #[error("{0}")]
    Memory(#[from] super::context::Fault),
    /// A guest op returned a non-zero errno.
    #[error("`{export}` returned {errno}{}", .message.as_deref().map(|m| format!(": {m}")).unwrap_or_default())]
    Guest {
        /// The export.
        export: String,
        /// The code.
        errno: Errno,
        /// The host's message for the failed import call, if there was one.
        message: Option<String>,
    },
    /// The guest cannot run this op (strict reductions: the parallel guest has only the
    /// fast family).
    #[error("{0}")]
    Unsupported(String),
}
