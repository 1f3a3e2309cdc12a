//! [`VectorGuest`]: one instance of a vector guest (ABI v2, or v1) in wasmtime.
//!
//! ABI v2 (README.md, "The vector guest ABI") is v1 plus `dot_simd`, with the families
//! fixed: `sum` and `dot` add strictly left to right (strict), `sum_simd` and `dot_simd`
//! in any order (fast). v1 guests still load: their `sum` is taken as strict (every v1
//! guest added it left to right) and their `dot`, whose order v1 never fixed, as fast,
//! so [`Op::DotSimd`] runs a v1 guest's `dot` and [`Op::Dot`] is refused with
//! [`Error::Unsupported`] rather than silently answered by the fast kernel.
//!
//! [`Op::DotSimd`]: crate::Op::DotSimd
//! [`Op::Dot`]: crate::Op::Dot
//! [`Error::Unsupported`]: crate::Error::Unsupported

pub mod deadline;
mod engine;
mod instantiate;
mod layout;
mod vector_guest;

pub use deadline::DEFAULT_DEADLINE;
pub use engine::{
    compile, compile_file, deadline_engine_config, default_engine, engine_config,
    no_deadline_engine, LoadOptions,
};
pub use layout::{Buffer, Layout};
pub use vector_guest::VectorGuest;

// The buffers are reinterpreted in place as `f64`; wasm linear memory is little-endian.
#[cfg(target_endian = "big")]
compile_error!("offload-host views wasm linear memory as host f64 and needs a little-endian host");

/// The newest vector guest ABI version this host speaks.
pub const ABI_VERSION: i32 = 2;

/// Every version `abi_version()` may return: v1 (no `dot_simd`; its `dot` counts as
/// fast) and v2.
pub const SUPPORTED_ABI_VERSIONS: [i32; 2] = [1, 2];

/// The WASI preview 1 import module name; a guest importing from it gets WASI linked.
pub const WASI_P1_MODULE: &str = "wasi_snapshot_preview1";

const T_GETTER: &str = "func () -> i32";
const T_REDUCE: &str = "func (i32) -> f64";
const T_MUL: &str = "func (i32)";
const T_SCALE: &str = "func (f64, i32)";

/// The exports ABI v2 requires, with their types (in the notation of
/// [`Error::WrongExportType`]). ABI v1 requires all of them but the last, `dot_simd`.
///
/// [`Error::WrongExportType`]: crate::Error::WrongExportType
pub const ABI_EXPORTS: [(&str, &str); 12] = [
    ("memory", "memory"),
    ("abi_version", T_GETTER),
    ("get_capacity", T_GETTER),
    ("get_buffer_a_offset", T_GETTER),
    ("get_buffer_b_offset", T_GETTER),
    ("get_result_offset", T_GETTER),
    ("sum", T_REDUCE),
    ("dot", T_REDUCE),
    ("mul", T_MUL),
    ("scale", T_SCALE),
    ("sum_simd", T_REDUCE),
    ("dot_simd", T_REDUCE),
];
