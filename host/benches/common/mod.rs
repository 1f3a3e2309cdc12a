//! What the vector-op benches of the Rust host share (host/benches/vector.rs and
//! host/benches/parallel.rs): the sizes, the quick switch, where the guests are, and the
//! criterion settings, so that their ids line up at the same `n` in one report.
#![allow(dead_code)] // each bench uses a different part

use std::path::PathBuf;
use std::time::Duration;

use criterion::Criterion;

/// Sizes of a full run (elements).
pub const NS: [usize; 5] = [1_000, 10_000, 100_000, 1_000_000, 10_000_000];
/// Sizes of a quick run (`OFFLOAD_BENCH_QUICK=1`): the smallest, where call overhead
/// dominates, and the guests' capacity, where the kernels do.
pub const QUICK_NS: [usize; 2] = [1_000, 100_000];
/// From this size on a full run samples flat, 10 samples.
pub const FLAT_FROM: usize = 1_000_000;

/// `OFFLOAD_BENCH_QUICK` set to anything but empty or `0`.
pub fn quick() -> bool {
    std::env::var("OFFLOAD_BENCH_QUICK").is_ok_and(|v| !v.is_empty() && v != "0")
}

/// The sizes of this run: [`QUICK_NS`] or [`NS`].
pub fn sizes() -> &'static [usize] {
    if quick() {
        &QUICK_NS
    } else {
        &NS
    }
}

/// `$OFFLOAD_GUESTS_DIR`, else `<workspace>/build/guests`.
pub fn guests_dir() -> PathBuf {
    match std::env::var_os("OFFLOAD_GUESTS_DIR") {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../build/guests"),
    }
}

/// Criterion's settings: quick (10 samples, 0.15 s warm-up, 0.4 s measurement) or full
/// (30 samples, 0.4 s, 1.2 s); no plots (the report draws its own).
pub fn config() -> Criterion {
    if quick() {
        Criterion::default()
            .sample_size(10)
            .warm_up_time(Duration::from_millis(150))
            .measurement_time(Duration::from_millis(400))
            .without_plots()
    } else {
        Criterion::default()
            .sample_size(30)
            .warm_up_time(Duration::from_millis(400))
            .measurement_time(Duration::from_millis(1200))
            .without_plots()
    }
}
