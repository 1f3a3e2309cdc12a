//! `offload-core`: the reference kernels of offload.
//!
//! Every other path of the project (wasm guests, Go, cgo, GPU backends) is checked
//! against what this crate computes. The crate is `no_std` so that the Rust vector
//! guest can link it for `wasm32-wasip1` without importing anything; the `std`
//! feature (on by default) adds run-time CPU feature detection on x86-64.
//!
//! Modules:
//! - [`vector`]: `f64` vector kernels (sum, dot, mul, scale) and their SIMD variants.
#![no_std]
#![warn(missing_docs)]

#[cfg(feature = "alloc")]
extern crate alloc;
#[cfg(any(feature = "std", test))]
extern crate std;

pub mod vector;

pub use vector::{ShapeError, SimdLevel};
