//! GPU benchmarks (criterion): vector kernels against the fastest CPU paths, SGEMM and
//! transfers on the cpu, wgpu and cuda backends. Ids follow `docs/benchmarks.md`:
//!
//! - `sum-strict_<dt>/cpu/<n>`, `dot-strict_<dt>/cpu/<n>`: the *strict* family (added left to
//!   right), timed on the `cpu` reference backend, one thread, data in its buffers (`f32`
//!   accumulated in `f64`).
//! - `sum-fast_<dt>/<path>/<n>`, `dot-fast_<dt>/<path>/<n>`: the *fast* family (any
//!   association). Paths: `rust-native-simd` (one thread, lane accumulators:
//!   `vector::sum_simd`/`dot_simd` for f64, `fast::sum_f32`/`dot_f32` for f32),
//!   `rust-native-par` (`par::*`, rayon over all cores, SIMD inside each chunk), `gpu-wgpu`,
//!   `gpu-cuda` (inputs uploaded from pageable host memory and the scalar read back inside
//!   each iteration) and `gpu-wgpu-resident`, `gpu-cuda-resident` (inputs already on the
//!   device; the scalar still comes back). f32 is accumulated in f32 on every fast path.
//! - `<op>_<dt>/<path>/<n>` for the one-family ops min, max, mul, add, scale, relu: paths
//!   `cpu` (one thread, reference backend, data in its buffers, no read-back; element-wise
//!   only up to 1e8, as it allocates its result per call), `rust-native` (one thread,
//!   `fast::min`/`max`/`map1`/`map2`, writing into a preallocated output),
//!   `rust-native-par`, and the four GPU paths (host-data paths upload the inputs and read
//!   the output back; resident element-wise ops end with a sync).
//! - `copy_f64/<path>/<n>`: the memory-bandwidth yardstick, `rust-native`
//!   (`copy_from_slice`, one thread) and `rust-native-par` (`par::copy`); throughput counts
//!   the 16·n bytes read and written.
//! - `sgemm/<path>/<n>`: n×n×n f32 matmul, data resident; path cpu (n ≤ 1024 only: the
//!   reference kernel is slow beyond), gpu-wgpu, gpu-cuda (FP32), gpu-cuda-tf32.
//! - `h2d/<path>/<bytes>`, `d2h/<path>/<bytes>`: one transfer of a pageable host buffer
//!   through the backend's staging, waited for.
//!
//! `<dt>` is `f32` or `f64`; `n` counts elements (matrix side for sgemm, bytes for
//! h2d/d2h). Throughput is in bytes the kernel reads and writes (FLOPs for sgemm).
//! `threads rust-native-par: <n>` is printed once.
//!
//! Full sizes: n = 1e3 … 1e9 by ×10 for sum, dot, mul, scale (both dtypes) and copy_f64;
//! 1e3 … 1e8 for min, max, add, relu; SGEMM 256 … 16384 by ×2; transfers 4 KiB … 4 GiB by ×4.
//!
//! Every benchmark checks its answer against the cpu reference (the `reduce_ref` /
//! `elementwise_ref` arithmetic of `gpu::cpu`, which the `cpu` path must match bit for bit)
//! before it is timed: CPU element-wise paths and min/max bit for bit, fast-family
//! reductions within 1e-5 (f32) or 1e-12 (f64) of Σ|terms|, GPU element-wise outputs within
//! that relative error (SGEMM over n > 1024 on 16 sampled rows of C). A path that cannot
//! run prints `SKIP <group>/<path>/<n>: <reason>` and is not timed: a backend or dtype that is
//! not available, a device allocation that fails, or host memory that would not fit
//! (checked against `/proc/meminfo` MemAvailable less 10 %, at least 1 GiB, before anything
//! of that size is allocated). Pinned host source buffers are not offered by the
//! `GpuBackend` API (it takes pageable `&[u8]`; cuda stages through its own pinned buffers),
//! so every group with a `gpu-cuda` path prints `SKIP <group>/gpu-cuda-pinned: …` once.
//!
//! Inputs are uniform in [-1, 1), generated on all cores from PCG32 streams (one per 64 Ki
//! elements, so the values do not depend on the thread count); each size keeps one typed
//! copy of its inputs, plus the reference output and one output buffer for element-wise ops.
//!
//! Environment: `OFFLOAD_BENCH_QUICK=1` picks a small subset of sizes;
//! `OFFLOAD_BENCH_ONLY=sgemm,h2d,sum-fast_f32,mul_f64,copy_f64` registers only those groups
//! (and allocates nothing for the others: use it, not only criterion's filter, to leave out
//! large sizes); `OFFLOAD_BENCH_SIZES=4096,268435456` replaces every group's sizes
//! (elements, matrix n or bytes); `OFFLOAD_BENCH_MAX_ELEMS=10000000` leaves out (by name)
//! the vector and copy sizes above it, caps kept; `OFFLOAD_BENCH_TIME_MS=500` sets
//! criterion's measurement time per benchmark (default 2000, 1000 with QUICK; warm-up a
//! quarter of it; 10 samples).
//!
//! On a software adapter (Mesa's lavapipe: Vulkan on the CPU, what a machine without a GPU
//! offers wgpu) the largest sizes are skipped by name (`SKIP <group>/<path>/<n>: software
//! adapter …`): above [`SOFTWARE_MAX_ELEMS`] elements, [`SOFTWARE_MAX_SGEMM`] matrix side and
//! [`SOFTWARE_MAX_BYTES`] bytes a full run would take hours on a small machine while
//! measuring its CPU, not a GPU. `OFFLOAD_BENCH_SIZES` lifts the caps.

mod cfg;
mod elem;
mod matmul;
mod transfer;
mod vector;

use cfg::Cfg;
use criterion::Criterion;
use matmul::bench_sgemm;
use offload_core::gpu::{Backend, BackendKind, GpuBackend};
use offload_core::par;
use std::time::Duration;
use transfer::{bench_transfers, latency_probe};
use vector::{bench_copy, bench_vectors};

/// Runs `f` once with device kernel timing on and prints the kernel's device time next to
/// the benchmark id, so that the wall-clock result can be split into kernel and overhead.
fn print_kernel_time(
    dev: &mut dyn GpuBackend,
    id: &str,
    work: f64,
    unit: &str,
    f: impl FnOnce(&mut dyn GpuBackend),
) {
    if !dev.info().kernel_timing || dev.set_kernel_timing(true).is_err() {
        return;
    }
    f(dev);
    if let Some(ns) = dev.last_kernel_ns() {
        println!(
            "kernel-time {id}: {ns} ns on the device ({:.1} {unit})",
            work / ns as f64
        );
    }
    let _ = dev.set_kernel_timing(false);
}

/// Prints `queued-time <id>: <ns> ns per call, <reps> queued before one sync (<rate> <unit>)`:
/// `f` runs 3 times, the device syncs, then `f` runs `reps` times back to back and the
/// device syncs once; the wall time over `reps`. This is how PyTorch's figures in
/// scripts/device-check.sh are timed (calls queued on the stream, one wait at the end),
/// while the criterion id beside it waits for the device after every call; each is
/// compared with the peer timed the same way.
fn print_queued_time(
    dev: &mut dyn GpuBackend,
    id: &str,
    work: f64,
    unit: &str,
    reps: u32,
    mut f: impl FnMut(&mut dyn GpuBackend),
) {
    for _ in 0..3 {
        f(dev);
    }
    if let Err(e) = dev.sync() {
        println!("queued-time {id}: not measured ({e})");
        return;
    }
    let t = std::time::Instant::now();
    for _ in 0..reps {
        f(dev);
    }
    if let Err(e) = dev.sync() {
        println!("queued-time {id}: not measured ({e})");
        return;
    }
    let ns = t.elapsed().as_nanos() as f64 / f64::from(reps);
    println!(
        "queued-time {id}: {ns:.0} ns per call, {reps} queued before one sync ({:.1} {unit})",
        work / ns
    );
}

fn main() {
    let cfg = Cfg::from_env();
    let mut c = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis((cfg.time_ms / 4).max(1)))
        .measurement_time(Duration::from_millis(cfg.time_ms))
        .configure_from_args();
    println!("threads rust-native-par: {}", par::threads());
    let mut devs: Vec<(&'static str, Backend)> = Vec::new();
    for (kind, path) in [
        (BackendKind::Wgpu, "gpu-wgpu"),
        (BackendKind::Cuda, "gpu-cuda"),
    ] {
        match Backend::open_kind(kind) {
            Ok(b) => {
                println!("{path}: {} ({})", b.info().name, b.info().driver);
                devs.push((path, b));
            }
            Err(e) => println!("SKIP {path}: {e}"),
        }
    }
    if std::env::var("OFFLOAD_BENCH_LATENCY").is_ok() {
        for (path, dev) in devs.iter_mut() {
            latency_probe(path, dev);
        }
    }
    bench_transfers(&mut c, &cfg, &mut devs);
    bench_sgemm(&mut c, &cfg, &mut devs);
    bench_copy(&mut c, &cfg);
    bench_vectors(&mut c, &cfg, &mut devs);
    c.final_summary();
}
