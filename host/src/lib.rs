//! `offload-host`: the Rust wasmtime host of offload.
//!
//! It runs every vector guest (Rust, C, Go; ABI v1 in `shared/DESIGN.md`) through one
//! type, [`VectorGuest`], and checks them against `offload-core`.
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
pub mod guests;
pub mod wasi_gpu;

pub use error::{Error, Result};
pub use guest::{
    compile, compile_file, default_engine, engine_config, Buffer, Layout, LoadOptions, VectorGuest,
    ABI_EXPORTS, ABI_VERSION,
};

/// The five operations of the vector guest ABI v1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, clap::ValueEnum)]
pub enum Op {
    /// Σ a\[i\].
    Sum,
    /// Σ a\[i\]·b\[i\].
    Dot,
    /// result\[i\] = a\[i\]·b\[i\].
    Mul,
    /// result\[i\] = s·a\[i\].
    Scale,
    /// Σ a\[i\] with 128-bit SIMD partial sums.
    #[value(name = "sum_simd")]
    SumSimd,
}

impl Op {
    /// Every op, in ABI order.
    pub const ALL: [Op; 5] = [Op::Sum, Op::Dot, Op::Mul, Op::Scale, Op::SumSimd];

    /// The guest export (and benchmark group) name: `sum`, `dot`, `mul`, `scale`,
    /// `sum_simd`.
    pub fn export(self) -> &'static str {
        match self {
            Op::Sum => "sum",
            Op::Dot => "dot",
            Op::Mul => "mul",
            Op::Scale => "scale",
            Op::SumSimd => "sum_simd",
        }
    }

    /// Whether the op reads buffer `b`.
    pub fn uses_b(self) -> bool {
        matches!(self, Op::Dot | Op::Mul)
    }

    /// Whether the op returns a scalar (else it writes the result buffer).
    pub fn is_reduction(self) -> bool {
        matches!(self, Op::Sum | Op::Dot | Op::SumSimd)
    }

    /// Bytes the op moves for `n` elements: inputs read plus output written
    /// (sum: 8n, dot: 16n, mul: 24n, scale: 16n, sum_simd: 8n). Used for throughput.
    pub fn bytes(self, n: usize) -> u64 {
        let per = match self {
            Op::Sum | Op::SumSimd => 8,
            Op::Dot | Op::Scale => 16,
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
