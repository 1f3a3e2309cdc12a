//! `offload-core`: the reference kernels of offload.
//!
//! Every other path of the project (wasm guests, Go, cgo, GPU backends) is checked
//! against what this crate computes. The crate is `no_std` so that the Rust vector
//! guest can link it for `wasm32-wasip1` without importing anything; the `std`
//! feature (on by default) adds run-time CPU feature detection on x86-64.
//!
//! Modules:
//! - [`vector`]: `f64` vector kernels (sum, dot, mul, scale) and their SIMD variants.
//! - `par` (feature `std`): the same vector kernels over all cores (rayon), `f64` and `f32`.
//! - `fast` (feature `std`): one-thread lane-array (SIMD) kernels: `f32` sum/dot, min/max.
//! - [`rng`]: PCG32, the generator every path shares.
//! - [`widen`]: Σ of `f32` values in `f64`, the check every SGEMM path makes of its product.
//! - `data`: the diabetes data set, a strict CSV loader, Friedman #1 data (`alloc`).
//! - `forest`: random-forest regression, CART trees on bootstrap samples (`alloc`).
//! - `tree`: the bootstrap counts, split scan and tree walk that `forest` and the cpu
//!   backend's ML kernels share (`alloc`), below both so that neither imports the other.
//! - `gpu` (feature `std`): the `GpuBackend` trait, the argument checks every call passes
//!   once (`gpu::validate`), and its cpu, wgpu and cuda backends below them.
//! - `forest_gpu` (feature `std`): forest training and prediction through the ML kernels.
#![no_std]
#![warn(missing_docs)]

#[cfg(feature = "alloc")]
extern crate alloc;
#[cfg(any(feature = "std", test))]
extern crate std;

pub mod rng;
pub mod vector;
pub mod widen;

#[cfg(feature = "alloc")]
pub mod data;
#[cfg(feature = "alloc")]
pub mod forest;
/// Shared building blocks of `forest` and the cpu backend (re-exported at their old paths).
#[cfg(feature = "alloc")]
mod tree;

/// GPU offload: the `GpuBackend` trait, the `cpu` reference backend, and the `wgpu` and
/// `cuda` backends behind their features.
#[cfg(feature = "std")]
pub mod gpu;

#[cfg(feature = "std")]
pub mod forest_gpu;

/// All-cores (rayon) vector kernels: the `rust-native-par` path, fast family.
#[cfg(feature = "std")]
pub mod par;

/// One-thread fast-family kernels (lane arrays, AVX2 at run time): the `rust-native-simd` path.
#[cfg(feature = "std")]
pub mod fast;

pub use vector::{ShapeError, SimdLevel};
