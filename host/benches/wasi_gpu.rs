//! Benchmarks of the `wasi:gpu` Rust host with the demo guest (`gpu-guest.wasm`):
//!
//! - `wasi-gpu-call/wasm-rust/1`: time of one import call from the guest: `call-loop(k)`
//!   makes `k` `buffer-write`s of 4 bytes into a 4-byte buffer (cpu backend), and the time
//!   of the export call divided by `k` is reported per iteration (so the one export call and
//!   the buffer's create/destroy are amortised over `k` = criterion's iteration count).
//! - `sum-fast_f32`, `dot-fast_f32` (GPU reductions: the fast family), `sgemm` through
//!   wasi:gpu (`wasi-gpu-<backend>`: data made once in
//!   the guest, then create, write, kernel(s), read (sgemm: all of C and Σ C in the guest),
//!   destroy, per iteration) against the direct backend path at the same sizes
//!   (`gpu-<backend>`: the same calls on the same `Backend` from native Rust, the data made
//!   once on the host, Σ C on the host). Both answers are checked against each other (and
//!   sum/dot against an f64 host loop) before timing.
//!
//! Sizes: sum/dot n ∈ {1e5, 1e7}, sgemm n ∈ {1024, 4096} on hardware devices; on a
//! software device (lavapipe) or with `OFFLOAD_BENCH_QUICK=1`: sum/dot n = 1e5, sgemm 256.
//! Environment: `OFFLOAD_WASI_GPU_BACKENDS` (comma list of `wgpu`, `cuda`; default both;
//! a backend that does not start is skipped by name with the reason),
//! `OFFLOAD_GPU_GUEST` (the component; default `../build/guests/gpu-guest.wasm` from `host/`).

use std::hint::black_box;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use offload_core::gpu::{Backend, DType, ElementwiseOp, MatmulPrecision, ReduceOp};
use offload_host::wasi_gpu::{seeded_f32, Device, GpuHost, GpuInstance, Limits};

fn quick() -> bool {
    std::env::var("OFFLOAD_BENCH_QUICK").is_ok_and(|v| !v.is_empty() && v != "0")
}

fn guest_path() -> PathBuf {
    std::env::var_os("OFFLOAD_GPU_GUEST")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../build/guests/gpu-guest.wasm")
        })
}

fn backends() -> Vec<String> {
    std::env::var("OFFLOAD_WASI_GPU_BACKENDS")
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "wgpu,cuda".into())
        .split(',')
        .map(|s| s.trim().to_string())
        .collect()
}

/// A host with one instance of the demo guest on `backend`; `None` (said on stderr) when
/// the backend does not start.
fn setup(backend: &str) -> Option<(GpuHost, GpuInstance)> {
    let device = match Device::open(backend) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("offload bench: skipping wasi-gpu-{backend} and gpu-{backend}: {e}");
            return None;
        }
    };
    let limits = Limits {
        max_bytes: 4 << 30,
        ..Limits::default()
    };
    let host = GpuHost::new(device, limits).expect("wasi:gpu host");
    let path = guest_path();
    let component = host.load(&path).unwrap_or_else(|e| {
        panic!("{e} (build it with scripts/build-gpu-guest.sh, or set OFFLOAD_GPU_GUEST)")
    });
    let instance = host
        .instantiate(&component)
        .expect("instantiate the demo guest");
    Some((host, instance))
}

fn call_f64(i: &mut GpuInstance, name: &str, n: u32) -> f64 {
    let (r,) = i
        .call::<(u32,), (Result<f64, String>,)>(name, (n,))
        .unwrap_or_else(|e| panic!("{name}({n}): {e}"));
    r.unwrap_or_else(|e| panic!("{name}({n}): {e}"))
}

fn matmul(i: &mut GpuInstance, n: u32) -> f64 {
    let (r,) = i
        .call::<(u32, bool), (Result<f64, String>,)>("matmul", (n, false))
        .unwrap_or_else(|e| panic!("matmul({n}): {e}"));
    r.unwrap_or_else(|e| panic!("matmul({n}): {e}"))
}

fn direct_sum(b: &mut Backend, a: &[f32]) -> f64 {
    let buf = b.create_buffer(4 * a.len() as u64).unwrap();
    b.write(buf, 0, bytemuck::cast_slice(a)).unwrap();
    let s = b
        .reduce(ReduceOp::Sum, DType::F32, buf, a.len() as u64)
        .unwrap();
    b.destroy_buffer(buf).unwrap();
    s
}

fn direct_dot(b: &mut Backend, x: &[f32], y: &[f32]) -> f64 {
    let n = x.len() as u64;
    let bx = b.create_buffer(4 * n).unwrap();
    let by = b.create_buffer(4 * n).unwrap();
    b.write(bx, 0, bytemuck::cast_slice(x)).unwrap();
    b.write(by, 0, bytemuck::cast_slice(y)).unwrap();
    b.elementwise(ElementwiseOp::Mul, DType::F32, bx, Some(by), 0.0, bx, n)
        .unwrap();
    let s = b.reduce(ReduceOp::Sum, DType::F32, bx, n).unwrap();
    b.destroy_buffer(bx).unwrap();
    b.destroy_buffer(by).unwrap();
    s
}

/// C = A·B with data movement (create, write A and B, SGEMM, read C, destroy) and Σ C.
fn direct_sgemm(b: &mut Backend, a: &[f32], bm: &[f32], c: &mut [f32], n: u64) -> f64 {
    let bytes = 4 * n * n;
    let (ba, bb, bc) = (
        b.create_buffer(bytes).unwrap(),
        b.create_buffer(bytes).unwrap(),
        b.create_buffer(bytes).unwrap(),
    );
    b.write(ba, 0, bytemuck::cast_slice(a)).unwrap();
    b.write(bb, 0, bytemuck::cast_slice(bm)).unwrap();
    b.matmul(MatmulPrecision::Fp32, ba, bb, bc, n, n, n)
        .unwrap();
    b.read(bc, 0, bytemuck::cast_slice_mut(c)).unwrap();
    for id in [ba, bb, bc] {
        b.destroy_buffer(id).unwrap();
    }
    offload_core::widen::sum_f32_as_f64(c)
}

fn assert_close(what: &str, got: f64, want: f64, scale: f64, tol: f64) {
    assert!(
        (got - want).abs() <= tol * scale,
        "{what}: {got:e} vs {want:e} (tolerance {tol:e}·{scale:e})"
    );
    eprintln!("offload bench: {what} checked ({got:e} vs {want:e})");
}

fn bench_call(c: &mut Criterion) {
    let Some((_host, mut i)) = setup("cpu") else {
        return;
    };
    // Check: the loop runs and returns ok.
    let (r,) = i
        .call::<(u32,), (Result<(), String>,)>("call-loop", (1000,))
        .expect("call-loop");
    r.expect("call-loop ok");
    let mut g = c.benchmark_group("wasi-gpu-call");
    g.measurement_time(Duration::from_secs(if quick() { 1 } else { 3 }));
    g.bench_function(BenchmarkId::new("wasm-rust", 1), |b| {
        b.iter_custom(|iters| {
            let k = u32::try_from(iters).expect("iterations fit u32");
            let t = Instant::now();
            let (r,) = i
                .call::<(u32,), (Result<(), String>,)>("call-loop", (k,))
                .expect("call-loop");
            r.expect("call-loop ok");
            t.elapsed()
        })
    });
    g.finish();
}

fn bench_backend(c: &mut Criterion, backend: &str) {
    let Some((host, mut i)) = setup(backend) else {
        return;
    };
    let device = host.device().clone();
    let software = device.info().is_software;
    let small = quick() || software;
    let vec_ns: &[usize] = if small {
        &[100_000]
    } else {
        &[100_000, 10_000_000]
    };
    let mat_ns: &[u64] = if small { &[256] } else { &[1024, 4096] };
    let (wasi, direct) = (format!("wasi-gpu-{backend}"), format!("gpu-{backend}"));
    // The demo guest's own checks on this device first (sum, dot, matmul 64 vs its loops).
    match i.run() {
        Ok(Ok(lines)) => eprintln!("offload bench: run() on {backend}:\n{lines}"),
        other => panic!("run() on {backend}: {other:?}"),
    }

    // GPU reductions add in any order: family `fast` (docs/benchmarks.md).
    for (op, is_dot) in [("sum-fast_f32", false), ("dot-fast_f32", true)] {
        let mut g = c.benchmark_group(op);
        g.sample_size(10)
            .measurement_time(Duration::from_secs(if small { 1 } else { 2 }));
        for &n in vec_ns {
            let (a, b) = (seeded_f32(1, n), seeded_f32(2, n));
            let (want, scale) = if is_dot {
                let p = a.iter().zip(&b).map(|(&x, &y)| x * y);
                (
                    p.clone().map(|v| v as f64).sum::<f64>(),
                    p.map(|v| v.abs() as f64).sum(),
                )
            } else {
                (
                    a.iter().map(|&v| v as f64).sum::<f64>(),
                    a.iter().map(|&v| v.abs() as f64).sum(),
                )
            };
            let name = if is_dot { "dot" } else { "sum" };
            let got = call_f64(&mut i, name, n as u32);
            assert_close(&format!("{op}/{wasi}/{n}"), got, want, scale, 1e-5);
            let got = {
                let mut be = device.lock();
                if is_dot {
                    direct_dot(&mut be, &a, &b)
                } else {
                    direct_sum(&mut be, &a)
                }
            };
            assert_close(&format!("{op}/{direct}/{n}"), got, want, scale, 1e-5);
            let per_elem: u64 = if is_dot { 8 } else { 4 };
            g.throughput(Throughput::Bytes(per_elem * n as u64));
            g.bench_with_input(BenchmarkId::new(&wasi, n), &n, |bch, &n| {
                bch.iter(|| black_box(call_f64(&mut i, name, n as u32)))
            });
            g.bench_with_input(BenchmarkId::new(&direct, n), &n, |bch, _| {
                bch.iter(|| {
                    let mut be = device.lock();
                    black_box(if is_dot {
                        direct_dot(&mut be, &a, &b)
                    } else {
                        direct_sum(&mut be, &a)
                    })
                })
            });
        }
        g.finish();
    }

    let mut g = c.benchmark_group("sgemm");
    g.sample_size(10)
        .measurement_time(Duration::from_secs(if small { 1 } else { 3 }));
    for &n in mat_ns {
        let nn = (n * n) as usize;
        let (a, b) = (seeded_f32(1, nn), seeded_f32(2, nn));
        let mut cbuf = vec![0f32; nn];
        let want = direct_sgemm(&mut device.lock(), &a, &b, &mut cbuf, n);
        // Σ C of random ±1 data is a sum of n² terms of size ~√n: scale by that.
        let scale = (nn as f64) * (n as f64).sqrt();
        let got = matmul(&mut i, n as u32);
        assert_close(
            &format!("sgemm/{wasi}/{n} vs {direct}"),
            got,
            want,
            scale,
            1e-5,
        );
        g.throughput(Throughput::Elements(2 * n * n * n));
        g.bench_with_input(BenchmarkId::new(&wasi, n), &n, |bch, &n| {
            bch.iter(|| black_box(matmul(&mut i, n as u32)))
        });
        g.bench_with_input(BenchmarkId::new(&direct, n), &n, |bch, &n| {
            bch.iter(|| black_box(direct_sgemm(&mut device.lock(), &a, &b, &mut cbuf, n)))
        });
    }
    g.finish();
}

fn benches(c: &mut Criterion) {
    bench_call(c);
    for backend in backends() {
        bench_backend(c, &backend);
    }
}

criterion_group!(wasi_gpu, benches);
criterion_main!(wasi_gpu);
