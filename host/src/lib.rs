//! `offload-host`: the Rust wasmtime host of offload.
//!
//! It runs every vector guest (Rust, C, Go; ABI v2, and v1 guests still load: README,
//! "The vector guest ABI") through one type, [`VectorGuest`], and checks them against
//! `offload-core`. Every op ([`Op`]) names its algorithm [`Family`]: strict reductions
//! must give core's bits exactly, fast ones agree within a tolerance.
//!
//! - [`guest`]: [`VectorGuest`] (load, validate, link WASI preview 1 where imported,
//!   call, chunk, rebuild after traps) and the engine configuration;
//! - [`check`]: seeded inputs, the `offload-core` reference and the comparison every
//!   path is held to (CLI, tests and benches share it);
//! - [`compose`]: `offload compose`, plugging provider components into a client
//!   component (wac-graph) and validating the result;
//! - [`guests`]: discovery of built guests (`build/guests/*.wasm` + metadata JSON);
//! - [`error`]: the one error enum, [`Error`];
//! - [`wasi_gpu`]: the `wasi:gpu` host for components (shared device, per-instance
//!   resource tables and quotas, epoch deadline) and `componentize`;
//! - [`wasi_webgpu`]: the compute subset of `wasi:webgpu` for components (guests bring
//!   their own WGSL; per-instance resource tables, error scopes and quotas);
//! - [`forest_gpu_guest`]: the random-forest guest that trains and predicts through
//!   `wasi:gpu` (offload-core's `Forest::fit_on` in the guest, kernels on the host's device).
//!
//! ```no_run
//! let mut g = offload_host::VectorGuest::load("build/guests/wasm-rust.wasm")?;
//! let s = g.sum(&[1.0, 2.0, 3.0])?;
//! assert_eq!(s, 6.0);
//! # Ok::<(), offload_host::Error>(())
//! ```
#![warn(missing_docs)]

pub mod check;
pub mod compose;
pub mod error;
pub mod forest_gpu_guest;
pub mod forest_guest;
pub mod guest;
mod guest_bytes;
pub mod guests;
pub mod parallel;
pub mod wasi_gpu;
pub mod wasi_webgpu;

pub use error::{Error, Result};
pub use guest::{
    compile, compile_file, deadline_engine_config, default_engine, engine_config,
    no_deadline_engine, Buffer, Layout, LoadOptions, VectorGuest, ABI_EXPORTS, ABI_VERSION,
    DEFAULT_DEADLINE, SUPPORTED_ABI_VERSIONS,
};

/// The algorithm family of a reduction (docs/benchmarks.md, "Algorithm families").
///
/// A reduction's result depends on the order its terms are added in, so every
/// reduction comes in two families; element-wise ops (`mul`, `scale`) have none
/// ([`Op::family`] is `None`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Family {
    /// Added strictly left to right: every path that does it returns the same bits as
    /// `offload_core::vector::sum` / `dot` (checked bit for bit).
    Strict,
    /// Any association (SIMD partial sums, unrolled accumulators, threads): compared
    /// with a relative tolerance ([`check::REDUCTION_REL_TOL`]).
    Fast,
}

impl Family {
    /// `strict` or `fast`, as in benchmark ids and CLI output.
    pub fn name(self) -> &'static str {
        match self {
            Family::Strict => "strict",
            Family::Fast => "fast",
        }
    }
}

impl std::fmt::Display for Family {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The operations of the vector guest ABI v2, one per export (v1 has all but
/// [`Op::DotSimd`]; on a v1 guest that op runs the guest's `dot`, which v1 never fixed
/// the order of, and [`Op::Dot`] is refused: see [`VectorGuest`]).
///
/// | op | export | family | benchmark group |
/// | --- | --- | --- | --- |
/// | [`Op::Sum`] | `sum` | strict | `sum-strict` |
/// | [`Op::SumSimd`] | `sum_simd` | fast | `sum-fast` |
/// | [`Op::Dot`] | `dot` | strict | `dot-strict` |
/// | [`Op::DotSimd`] | `dot_simd` | fast | `dot-fast` |
/// | [`Op::Mul`] | `mul` | none | `mul` |
/// | [`Op::Scale`] | `scale` | none | `scale` |
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    /// Σ a\[i\], strictly left to right (strict family).
    Sum,
    /// Σ a\[i\] with 128-bit SIMD partial sums, any order (fast family).
    SumSimd,
    /// Σ a\[i\]·b\[i\], strictly left to right (strict family; ABI v2 only).
    Dot,
    /// Σ a\[i\]·b\[i\], any order (fast family; a v1 guest's `dot`).
    DotSimd,
    /// result\[i\] = a\[i\]·b\[i\].
    Mul,
    /// result\[i\] = s·a\[i\].
    Scale,
}

impl Op {
    /// Every op: the reductions strict then fast, then the element-wise ops.
    pub const ALL: [Op; 6] = [
        Op::Sum,
        Op::SumSimd,
        Op::Dot,
        Op::DotSimd,
        Op::Mul,
        Op::Scale,
    ];

    /// The ABI v2 export name (and CLI name): `sum`, `sum_simd`, `dot`, `dot_simd`,
    /// `mul`, `scale`.
    pub fn export(self) -> &'static str {
        match self {
            Op::Sum => "sum",
            Op::SumSimd => "sum_simd",
            Op::Dot => "dot",
            Op::DotSimd => "dot_simd",
            Op::Mul => "mul",
            Op::Scale => "scale",
        }
    }

    /// The family of a reduction; `None` for the element-wise ops.
    pub fn family(self) -> Option<Family> {
        match self {
            Op::Sum | Op::Dot => Some(Family::Strict),
            Op::SumSimd | Op::DotSimd => Some(Family::Fast),
            Op::Mul | Op::Scale => None,
        }
    }

    /// The kernel without its family: `sum`, `dot`, `mul`, `scale`.
    pub fn kernel(self) -> &'static str {
        match self {
            Op::Sum | Op::SumSimd => "sum",
            Op::Dot | Op::DotSimd => "dot",
            Op::Mul => "mul",
            Op::Scale => "scale",
        }
    }

    /// The benchmark group (docs/benchmarks.md, "Ids"): `<kernel>[-<family>]`, i.e.
    /// `sum-strict`, `sum-fast`, `dot-strict`, `dot-fast`, `mul`, `scale`.
    pub fn group(self) -> String {
        match self.family() {
            Some(f) => format!("{}-{f}", self.kernel()),
            None => self.kernel().to_string(),
        }
    }

    /// Whether the op reads buffer `b`.
    pub fn uses_b(self) -> bool {
        matches!(self, Op::Dot | Op::DotSimd | Op::Mul)
    }

    /// Whether the op returns a scalar (else it writes the result buffer).
    pub fn is_reduction(self) -> bool {
        self.family().is_some()
    }

    /// Bytes the op moves for `n` elements: inputs read plus output written
    /// (sum: 8n, dot: 16n, mul: 24n, scale: 16n). Used for throughput.
    pub fn bytes(self, n: usize) -> u64 {
        let per = match self {
            Op::Sum | Op::SumSimd => 8,
            Op::Dot | Op::DotSimd | Op::Scale => 16,
            Op::Mul => 24,
        };
        per * n as u64
    }
}

impl std::fmt::Display for Op {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.export())
    }
}
