//! SGEMM through the composed matrix client against the same product through
//! `wasi:gpu` directly from one guest (issue 7's target: composed ≤ 1.1× direct).
//!
//! Ids (the project's `<op>/<path>/<n>`, n the matrix side, m = n = k):
//!
//! - `sgemm/composed-gpu-<backend>/<n>`: `run-matmul(n, seed, false)` of
//!   `build/components/composed-gpu.wasm` (matrix-client plugged with provider-gpu):
//!   the client allocates three device buffers through `offload:provider/matrix`, writes
//!   A and B (each list crosses client → provider → host), launches `matmul`
//!   (provider-gpu's `kernel-matmul`, fp32), reads C back (host → provider → client),
//!   frees, and sums C.
//! - `sgemm/wasi-gpu-<backend>/<n>`: `matmul(n, false)` of `build/guests/gpu-guest.wasm`
//!   (the wasi:gpu demo guest): the same steps with the guest calling wasi:gpu itself.
//!
//! Both generate their operands once per size inside the guest, so the timings cover the
//! offload only: data movement in and out and the kernel. Before timing, each path's
//! answer is checked: composed-gpu with `run-matmul(n, seed, true)` (Σ C against
//! Σ_p colsum(A)_p·rowsum(B)_p and 64 entries against f64 dot products), the direct path
//! by Σ C against the same identity on the host's copy of the guest's seeded operands
//! (`wasi_gpu::seeded_f32`, seeds 1 and 2). A mismatch panics before anything is timed.
//!
//! Backends: `$OFFLOAD_COMPOSE_BACKENDS` (comma-separated, default `wgpu,cuda`); one that
//! cannot start is skipped by name with its reason on stderr, as is a missing `.wasm`.
//! Files: `$OFFLOAD_COMPONENTS_DIR` (default `build/components`), `$OFFLOAD_GUESTS_DIR`
//! (default `build/guests`).
//! Sizes: `$OFFLOAD_COMPOSE_SIZES` (default 1024; `OFFLOAD_BENCH_QUICK=1`: 256).
//! Besides criterion's output, each size prints one line to stderr with the median of 15
//! untimed-by-criterion runs of each path and their ratio.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use offload_host::compose::MatrixClient;
use offload_host::wasi_gpu::{self, Device, GpuHost, GpuInstance, Limits};

const SEED: u64 = 2024;
/// Relative tolerance of the direct path's Σ C check (scaled by Σ_p |colsum·rowsum|
/// plus n^1.5 for the rounding of n² f32 entries).
const TOL: f64 = 1e-4;

fn quick() -> bool {
    std::env::var("OFFLOAD_BENCH_QUICK").is_ok_and(|v| !v.is_empty() && v != "0")
}

fn sizes() -> Vec<u32> {
    if let Ok(s) = std::env::var("OFFLOAD_COMPOSE_SIZES") {
        return s
            .split(',')
            .map(|x| {
                x.trim()
                    .parse()
                    .unwrap_or_else(|e| panic!("OFFLOAD_COMPOSE_SIZES: {x:?}: {e}"))
            })
            .collect();
    }
    if quick() {
        vec![256]
    } else {
        vec![1024]
    }
}

fn backends() -> Vec<String> {
    std::env::var("OFFLOAD_COMPOSE_BACKENDS")
        .unwrap_or_else(|_| "wgpu,cuda".into())
        .split(',')
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

/// `$name` when set (e.g. on a machine where the binary was copied), else `build/<sub>`
/// of this checkout.
fn dir(name: &str, sub: &str) -> PathBuf {
    match std::env::var_os(name) {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../build")
            .join(sub),
    }
}

/// Σ C = Σ_p (Σ_i A_ip)(Σ_j B_pj) in f64, with the scale its error is judged by.
fn checksum_identity(a: &[f32], b: &[f32], n: usize) -> (f64, f64) {
    let mut colsum_a = vec![0f64; n];
    let mut rowsum_b = vec![0f64; n];
    for i in 0..n {
        for p in 0..n {
            colsum_a[p] += f64::from(a[i * n + p]);
            rowsum_b[i] += f64::from(b[i * n + p]);
        }
    }
    let (mut want, mut scale) = (0f64, 0f64);
    for p in 0..n {
        want += colsum_a[p] * rowsum_b[p];
        scale += (colsum_a[p] * rowsum_b[p]).abs();
    }
    (want, scale + (n as f64).powf(1.5))
}

fn direct_matmul(inst: &mut GpuInstance, n: u32) -> f64 {
    inst.call::<(u32, bool), (Result<f64, String>,)>("matmul", (n, false))
        .unwrap_or_else(|e| panic!("gpu-guest matmul({n}): {e}"))
        .0
        .unwrap_or_else(|e| panic!("gpu-guest matmul({n}) returned an error: {e}"))
}

fn composed_matmul(client: &mut MatrixClient, n: u32, check: bool) -> f64 {
    client
        .run_matmul(n, SEED, check)
        .unwrap_or_else(|e| panic!("composed-gpu run-matmul({n}): {e}"))
        .unwrap_or_else(|e| panic!("composed-gpu run-matmul({n}) returned an error: {e}"))
}

fn median_ns(mut f: impl FnMut()) -> f64 {
    let mut t: Vec<u128> = (0..15)
        .map(|_| {
            let s = Instant::now();
            f();
            s.elapsed().as_nanos()
        })
        .collect();
    t.sort_unstable();
    t[t.len() / 2] as f64
}

fn bench(c: &mut Criterion) {
    let composed_path = dir("OFFLOAD_COMPONENTS_DIR", "components").join("composed-gpu.wasm");
    let direct_path = dir("OFFLOAD_GUESTS_DIR", "guests").join("gpu-guest.wasm");
    let mut group = c.benchmark_group("sgemm");
    group.sample_size(10);
    group.warm_up_time(Duration::from_millis(if quick() { 200 } else { 1000 }));
    group.measurement_time(Duration::from_secs(if quick() { 1 } else { 3 }));

    for backend in backends() {
        let device = match Device::open(&backend) {
            Ok(d) => d,
            Err(e) => {
                eprintln!(
                    "skipping sgemm/composed-gpu-{backend} and sgemm/wasi-gpu-{backend}: {e}"
                );
                continue;
            }
        };
        let host = GpuHost::new(device.clone(), Limits::default())
            .unwrap_or_else(|e| panic!("wasi:gpu host on {backend}: {e}"));
        eprintln!("backend {backend}: {}", device.info().name);

        let mut composed = if composed_path.is_file() {
            Some(
                MatrixClient::load(&host, &composed_path)
                    .unwrap_or_else(|e| panic!("{}: {e}", composed_path.display())),
            )
        } else {
            eprintln!(
                "skipping sgemm/composed-gpu-{backend}: {} is not built (./build.sh components)",
                composed_path.display()
            );
            None
        };
        let mut direct = if direct_path.is_file() {
            let component = host
                .load(&direct_path)
                .unwrap_or_else(|e| panic!("{}: {e}", direct_path.display()));
            Some(
                host.instantiate(&component)
                    .unwrap_or_else(|e| panic!("{}: {e}", direct_path.display())),
            )
        } else {
            eprintln!(
                "skipping sgemm/wasi-gpu-{backend}: {} is not built",
                direct_path.display()
            );
            None
        };

        for n in sizes() {
            let nn = n as usize * n as usize;
            group.throughput(Throughput::Elements(2 * (n as u64).pow(3)));
            let mut medians = (None, None);
            if let Some(client) = composed.as_mut() {
                // Checked run first (also generates and keeps the operands).
                composed_matmul(client, n, true);
                medians.0 = Some(median_ns(|| {
                    std::hint::black_box(composed_matmul(client, n, false));
                }));
                group.bench_function(
                    BenchmarkId::new(format!("composed-gpu-{backend}"), n),
                    |bch| bch.iter(|| composed_matmul(client, n, false)),
                );
            }
            if let Some(inst) = direct.as_mut() {
                let got = direct_matmul(inst, n);
                let a = wasi_gpu::seeded_f32(1, nn);
                let b = wasi_gpu::seeded_f32(2, nn);
                let (want, scale) = checksum_identity(&a, &b, n as usize);
                assert!(
                    (got - want).abs() <= TOL * scale,
                    "sgemm/wasi-gpu-{backend}/{n}: Σ C = {got}, want {want} (tolerance {:e})",
                    TOL * scale
                );
                medians.1 = Some(median_ns(|| {
                    std::hint::black_box(direct_matmul(inst, n));
                }));
                group.bench_function(BenchmarkId::new(format!("wasi-gpu-{backend}"), n), |bch| {
                    bch.iter(|| direct_matmul(inst, n))
                });
            }
            if let (Some(c), Some(d)) = medians {
                eprintln!(
                    "sgemm {backend} n={n}: composed-gpu {:.3} ms, wasi-gpu direct {:.3} ms, \
                     ratio composed/direct {:.3} (medians of 15; target <= 1.1)",
                    c / 1e6,
                    d / 1e6,
                    c / d
                );
            }
        }
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
