//! GPU benchmarks (criterion): vector kernels, SGEMM and transfers on the cpu, wgpu and cuda
//! backends. Ids:
//! - `<op>_<dtype>/<path>/<n>`: op sum|min|max|dot|mul|add|scale|relu, dtype f32|f64, n
//!   elements; path `cpu`, `gpu-wgpu`, `gpu-cuda` (inputs uploaded and the result read back
//!   inside each iteration) or `gpu-wgpu-resident`, `gpu-cuda-resident` (inputs already on the
//!   device; reductions still return their scalar, element-wise ops end with a sync).
//! - `sgemm/<path>/<n>`: n×n×n f32 matmul, data resident; path cpu (n ≤ 1024 only: the
//!   reference kernel is slow beyond), gpu-wgpu, gpu-cuda (FP32), gpu-cuda-tf32.
//! - `h2d/<path>/<bytes>`, `d2h/<path>/<bytes>`: one transfer of a pageable host buffer
//!   through the backend's staging, waited for.
//!
//! Every benchmark checks its answer against the cpu backend before it is timed (SGEMM over
//! n > 1024 on 16 sampled rows of C). A backend or dtype that is not available is skipped
//! with its reason printed.
//!
//! Environment: `OFFLOAD_BENCH_QUICK=1` picks a small subset of sizes;
//! `OFFLOAD_BENCH_ONLY=sgemm,h2d,sum_f32` registers only those groups;
//! `OFFLOAD_BENCH_SIZES=4096,268435456` replaces every group's sizes (elements, matrix n or
//! bytes).
//!
//! On a software adapter (Mesa's lavapipe: Vulkan on the CPU, what a machine without a GPU
//! offers wgpu) the largest sizes are skipped by name (`SKIP <group>/<path>/<n>: software
//! adapter …`): above [`SOFTWARE_MAX_ELEMS`] elements, [`SOFTWARE_MAX_SGEMM`] matrix side and
//! [`SOFTWARE_MAX_BYTES`] bytes a full run would take hours on a small machine while
//! measuring its CPU, not a GPU. `OFFLOAD_BENCH_SIZES` lifts the caps.

use criterion::{BenchmarkId, Criterion, Throughput};
use offload_core::gpu::cpu::{matmul_ref, CpuBackend};
use offload_core::gpu::{
    Backend, BackendKind, DType, ElementwiseOp, GpuBackend, MatmulPrecision, ReduceOp,
};
use rand::{Rng, SeedableRng};
use rand_pcg::Pcg64;
use std::time::Duration;

struct Cfg {
    quick: bool,
    only: Option<Vec<String>>,
    sizes: Option<Vec<u64>>,
}

impl Cfg {
    fn from_env() -> Cfg {
        let list = |v: &str| std::env::var(v).ok().filter(|s| !s.is_empty());
        Cfg {
            quick: list("OFFLOAD_BENCH_QUICK").is_some_and(|s| s != "0"),
            only: list("OFFLOAD_BENCH_ONLY")
                .map(|s| s.split(',').map(|x| x.trim().to_string()).collect()),
            sizes: list("OFFLOAD_BENCH_SIZES").map(|s| {
                s.split(',')
                    .map(|x| {
                        x.trim()
                            .parse()
                            .expect("OFFLOAD_BENCH_SIZES: comma-separated integers")
                    })
                    .collect()
            }),
        }
    }
    fn wants(&self, group: &str) -> bool {
        self.only
            .as_ref()
            .is_none_or(|o| o.iter().any(|g| g == group))
    }
    fn sizes(&self, full: &[u64], quick: &[u64]) -> Vec<u64> {
        match &self.sizes {
            Some(s) => s.clone(),
            None if self.quick => quick.to_vec(),
            None => full.to_vec(),
        }
    }
}

/// Largest vector length (elements) benchmarked on a software adapter.
const SOFTWARE_MAX_ELEMS: u64 = 1_000_000;
/// Largest SGEMM side benchmarked on a software adapter.
const SOFTWARE_MAX_SGEMM: u64 = 512;
/// Largest transfer (bytes) benchmarked on a software adapter.
const SOFTWARE_MAX_BYTES: u64 = 16 << 20;

/// `Some(reason)` when `dev` is a software adapter and `n` is above `max` (unless the sizes
/// were given explicitly in `OFFLOAD_BENCH_SIZES`).
fn software_skip(cfg: &Cfg, dev: &dyn GpuBackend, n: u64, max: u64) -> Option<String> {
    let info = dev.info();
    (info.is_software && cfg.sizes.is_none() && n > max).then(|| {
        format!(
            "software adapter ({}), sizes above {max} left out (they time the CPU, not a GPU)",
            info.name
        )
    })
}

fn to_bytes(dtype: DType, v: &[f64]) -> Vec<u8> {
    match dtype {
        DType::F32 => v.iter().flat_map(|&x| (x as f32).to_le_bytes()).collect(),
        DType::F64 => v.iter().flat_map(|&x| x.to_le_bytes()).collect(),
    }
}

fn from_bytes(dtype: DType, b: &[u8]) -> Vec<f64> {
    match dtype {
        DType::F32 => b
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]) as f64)
            .collect(),
        DType::F64 => b
            .chunks_exact(8)
            .map(|c| f64::from_le_bytes(c.try_into().unwrap()))
            .collect(),
    }
}

fn rel_err(x: &[f64], y: &[f64]) -> f64 {
    let (mut d, mut r) = (0.0, 0.0);
    for (a, b) in x.iter().zip(y) {
        d += (a - b) * (a - b);
        r += b * b;
    }
    if d.is_nan() {
        return f64::INFINITY;
    }
    if r == 0.0 {
        d.sqrt()
    } else {
        (d / r).sqrt()
    }
}

#[derive(Clone, Copy)]
enum Op {
    Reduce(ReduceOp),
    Dot,
    Elem(ElementwiseOp),
}

impl Op {
    fn name(self) -> &'static str {
        match self {
            Op::Reduce(ReduceOp::Sum) => "sum",
            Op::Reduce(ReduceOp::Min) => "min",
            Op::Reduce(ReduceOp::Max) => "max",
            Op::Dot => "dot",
            Op::Elem(ElementwiseOp::Mul) => "mul",
            Op::Elem(ElementwiseOp::Add) => "add",
            Op::Elem(ElementwiseOp::Scale) => "scale",
            Op::Elem(ElementwiseOp::Relu) => "relu",
        }
    }
    /// Bytes the kernel reads and writes, for GB/s.
    fn bytes(self, n: u64, dtype: DType) -> u64 {
        let e = n * dtype.size();
        match self {
            Op::Reduce(_) => e,
            Op::Dot => 2 * e,
            Op::Elem(o) if o.is_binary() => 3 * e,
            Op::Elem(_) => 2 * e,
        }
    }
}

const SCALAR: f64 = 1.75;

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

/// Runs `op` once on `dev` with inputs in buffers a, b (and out); returns the scalar or the
/// output vector as f64.
fn run_op(
    dev: &mut dyn GpuBackend,
    op: Op,
    dtype: DType,
    ids: (u64, u64, u64),
    n: u64,
) -> Result<Vec<f64>, String> {
    let (a, b, out) = ids;
    let r = match op {
        Op::Reduce(r) => vec![dev.reduce(r, dtype, a, n).map_err(|e| e.to_string())?],
        Op::Dot => vec![dev.dot(dtype, a, b, n).map_err(|e| e.to_string())?],
        Op::Elem(e) => {
            dev.elementwise(e, dtype, a, Some(b), SCALAR, out, n)
                .map_err(|e| e.to_string())?;
            let mut v = vec![0u8; (n * dtype.size()) as usize];
            dev.read(out, 0, &mut v).map_err(|e| e.to_string())?;
            from_bytes(dtype, &v)
        }
    };
    Ok(r)
}

fn check(op: Op, dtype: DType, got: &[f64], want: &[f64], cond: f64) -> Result<(), String> {
    let tol = if dtype == DType::F32 { 1e-5 } else { 1e-12 };
    let err = match op {
        // Reductions relative to Σ|terms| (the sum's condition); min/max exactly.
        Op::Reduce(ReduceOp::Sum) | Op::Dot => {
            (got[0] - want[0]).abs() / cond.max(f64::MIN_POSITIVE)
        }
        _ => rel_err(got, want),
    };
    if err <= tol {
        Ok(())
    } else {
        Err(format!("wrong answer: relative error {err:e} > {tol:e}"))
    }
}

fn bench_vectors(
    c: &mut Criterion,
    cfg: &Cfg,
    devs: &mut [(&'static str, Backend)],
    rng: &mut Pcg64,
) {
    let ops = [
        Op::Reduce(ReduceOp::Sum),
        Op::Reduce(ReduceOp::Min),
        Op::Reduce(ReduceOp::Max),
        Op::Dot,
        Op::Elem(ElementwiseOp::Mul),
        Op::Elem(ElementwiseOp::Add),
        Op::Elem(ElementwiseOp::Scale),
        Op::Elem(ElementwiseOp::Relu),
    ];
    let mut cpu = CpuBackend::new();
    for dtype in [DType::F32, DType::F64] {
        for op in ops {
            let group = format!("{}_{}", op.name(), dtype.name());
            if !cfg.wants(&group) {
                continue;
            }
            let mut full = vec![1_000, 10_000, 100_000, 1_000_000, 10_000_000, 100_000_000];
            if group == "sum_f32" {
                full.push(1 << 28);
            }
            let sizes = cfg.sizes(&full, &[1_000, 1_000_000]);
            let mut g = c.benchmark_group(&group);
            for n in sizes {
                g.throughput(Throughput::Bytes(op.bytes(n, dtype)));
                let av: Vec<f64> = (0..n).map(|_| rng.random_range(-1.0..1.0)).collect();
                let bv: Vec<f64> = (0..n).map(|_| rng.random_range(-1.0..1.0)).collect();
                let (ab, bb) = (to_bytes(dtype, &av), to_bytes(dtype, &bv));
                let cond = match op {
                    Op::Dot => av.iter().zip(&bv).map(|(x, y)| (x * y).abs()).sum(),
                    _ => av.iter().map(|x| x.abs()).sum(),
                };
                drop((av, bv));
                let bytes = ab.len() as u64;
                // Reference on the cpu backend, also timed as path `cpu`.
                let ids = (
                    cpu.create_buffer(bytes).unwrap(),
                    cpu.create_buffer(bytes).unwrap(),
                    cpu.create_buffer(bytes).unwrap(),
                );
                cpu.write(ids.0, 0, &ab).unwrap();
                cpu.write(ids.1, 0, &bb).unwrap();
                let want = run_op(&mut cpu, op, dtype, ids, n).unwrap();
                g.bench_function(BenchmarkId::new("cpu", n), |bch| {
                    bch.iter(|| run_op(&mut cpu, op, dtype, ids, n).unwrap())
                });
                for id in [ids.0, ids.1, ids.2] {
                    cpu.destroy_buffer(id).unwrap();
                }
                for (path, dev) in devs.iter_mut() {
                    let dev: &mut dyn GpuBackend = &mut **dev;
                    if let Some(why) = software_skip(cfg, dev, n, SOFTWARE_MAX_ELEMS) {
                        println!("SKIP {group}/{path}/{n}: {why}");
                        continue;
                    }
                    let made = (|| -> Result<(u64, u64, u64), String> {
                        let e = |e: offload_core::gpu::GpuError| e.to_string();
                        let ids = (
                            dev.create_buffer(bytes).map_err(e)?,
                            dev.create_buffer(bytes).map_err(e)?,
                            dev.create_buffer(bytes).map_err(e)?,
                        );
                        dev.write(ids.0, 0, &ab).map_err(e)?;
                        dev.write(ids.1, 0, &bb).map_err(e)?;
                        Ok(ids)
                    })();
                    let ids = match made {
                        Ok(ids) => ids,
                        Err(why) => {
                            println!("SKIP {group}/{path}/{n}: {why}");
                            continue;
                        }
                    };
                    match run_op(dev, op, dtype, ids, n)
                        .and_then(|got| check(op, dtype, &got, &want, cond))
                    {
                        Err(why) => println!("SKIP {group}/{path}/{n}: {why}"),
                        Ok(()) => {
                            print_kernel_time(
                                dev,
                                &format!("{group}/{path}-resident/{n}"),
                                op.bytes(n, dtype) as f64,
                                "GB/s",
                                |d| {
                                    let _ = run_op(d, op, dtype, ids, n);
                                },
                            );
                            g.bench_function(
                                BenchmarkId::new(format!("{path}-resident"), n),
                                |bch| {
                                    bch.iter(|| {
                                        let r = match op {
                                            Op::Reduce(r) => {
                                                dev.reduce(r, dtype, ids.0, n).unwrap()
                                            }
                                            Op::Dot => dev.dot(dtype, ids.0, ids.1, n).unwrap(),
                                            Op::Elem(e) => {
                                                dev.elementwise(
                                                    e,
                                                    dtype,
                                                    ids.0,
                                                    Some(ids.1),
                                                    SCALAR,
                                                    ids.2,
                                                    n,
                                                )
                                                .unwrap();
                                                dev.sync().unwrap();
                                                0.0
                                            }
                                        };
                                        std::hint::black_box(r)
                                    })
                                },
                            );
                            g.bench_function(BenchmarkId::new(*path, n), |bch| {
                                bch.iter(|| {
                                    dev.write(ids.0, 0, &ab).unwrap();
                                    if matches!(
                                        op,
                                        Op::Dot | Op::Elem(ElementwiseOp::Mul | ElementwiseOp::Add)
                                    ) {
                                        dev.write(ids.1, 0, &bb).unwrap();
                                    }
                                    run_op(dev, op, dtype, ids, n).unwrap()
                                })
                            });
                        }
                    }
                    for id in [ids.0, ids.1, ids.2] {
                        let _ = dev.destroy_buffer(id);
                    }
                }
            }
            g.finish();
        }
    }
}

fn bench_sgemm(
    c: &mut Criterion,
    cfg: &Cfg,
    devs: &mut [(&'static str, Backend)],
    rng: &mut Pcg64,
) {
    if !cfg.wants("sgemm") {
        return;
    }
    let sizes = cfg.sizes(&[256, 512, 1024, 2048, 4096, 8192], &[256, 1024]);
    let mut g = c.benchmark_group("sgemm");
    for n in sizes {
        let nu = n as usize;
        g.throughput(Throughput::Elements(2 * n * n * n));
        let av: Vec<f32> = (0..nu * nu)
            .map(|_| rng.random_range(-1.0f32..1.0))
            .collect();
        let bv: Vec<f32> = (0..nu * nu)
            .map(|_| rng.random_range(-1.0f32..1.0))
            .collect();
        // Reference rows of C: all of them up to 1024, else 16 sampled rows.
        let rows: Vec<usize> = if n <= 1024 {
            (0..nu).collect()
        } else {
            (0..16).map(|_| rng.random_range(0..nu)).collect()
        };
        let mut want = vec![0f32; rows.len() * nu];
        {
            let a_rows: Vec<f32> = rows
                .iter()
                .flat_map(|&r| av[r * nu..(r + 1) * nu].iter().copied())
                .collect();
            matmul_ref(&a_rows, &bv, &mut want, rows.len(), nu, nu);
        }
        let want: Vec<f64> = want.iter().map(|&x| x as f64).collect();
        let (ab, bb): (&[u8], &[u8]) = (bytemuck_cast(&av), bytemuck_cast(&bv));
        if n <= 1024 {
            let mut cpu = CpuBackend::new();
            let ids = [0, 1, 2].map(|_| cpu.create_buffer((nu * nu * 4) as u64).unwrap());
            cpu.write(ids[0], 0, ab).unwrap();
            cpu.write(ids[1], 0, bb).unwrap();
            g.bench_function(BenchmarkId::new("cpu", n), |bch| {
                bch.iter(|| {
                    cpu.matmul(MatmulPrecision::Fp32, ids[0], ids[1], ids[2], n, n, n)
                        .unwrap()
                })
            });
        } else {
            println!(
                "sgemm/cpu/{n}: not run (the cpu reference matmul is benchmarked up to 1024 only)"
            );
        }
        let mut variants: Vec<(String, usize, MatmulPrecision, f64)> = Vec::new();
        for (i, (path, dev)) in devs.iter().enumerate() {
            variants.push((path.to_string(), i, MatmulPrecision::Fp32, 1e-4));
            if dev.info().supports_tf32 {
                variants.push((format!("{path}-tf32"), i, MatmulPrecision::Tf32, 5e-3));
            }
        }
        for (path, i, prec, tol) in variants {
            let dev: &mut dyn GpuBackend = &mut *devs[i].1;
            if let Some(why) = software_skip(cfg, dev, n, SOFTWARE_MAX_SGEMM) {
                println!("SKIP sgemm/{path}/{n}: {why}");
                continue;
            }
            let bytes = (nu * nu * 4) as u64;
            let ids = match (|| -> Result<[u64; 3], offload_core::gpu::GpuError> {
                let ids = [
                    dev.create_buffer(bytes)?,
                    dev.create_buffer(bytes)?,
                    dev.create_buffer(bytes)?,
                ];
                dev.write(ids[0], 0, ab)?;
                dev.write(ids[1], 0, bb)?;
                Ok(ids)
            })() {
                Ok(ids) => ids,
                Err(e) => {
                    println!("SKIP sgemm/{path}/{n}: {e}");
                    continue;
                }
            };
            let ok = (|| -> Result<(), String> {
                dev.matmul(prec, ids[0], ids[1], ids[2], n, n, n)
                    .map_err(|e| e.to_string())?;
                let mut got = Vec::with_capacity(want.len());
                let mut row = vec![0u8; nu * 4];
                for &r in &rows {
                    dev.read(ids[2], (r * nu * 4) as u64, &mut row)
                        .map_err(|e| e.to_string())?;
                    got.extend(from_bytes(DType::F32, &row));
                }
                let err = rel_err(&got, &want);
                if err <= tol {
                    Ok(())
                } else {
                    Err(format!("wrong answer: relative error {err:e} > {tol:e}"))
                }
            })();
            match ok {
                Err(why) => println!("SKIP sgemm/{path}/{n}: {why}"),
                Ok(()) => {
                    print_kernel_time(
                        dev,
                        &format!("sgemm/{path}/{n}"),
                        2.0 * (n * n * n) as f64 / 1e3,
                        "TFLOP/s",
                        |d| {
                            let _ = d.matmul(prec, ids[0], ids[1], ids[2], n, n, n);
                        },
                    );
                    g.bench_function(BenchmarkId::new(&path, n), |bch| {
                        bch.iter(|| {
                            dev.matmul(prec, ids[0], ids[1], ids[2], n, n, n).unwrap();
                            dev.sync().unwrap();
                        })
                    });
                }
            }
            for id in ids {
                let _ = dev.destroy_buffer(id);
            }
        }
    }
    g.finish();
}

fn bytemuck_cast(v: &[f32]) -> &[u8] {
    // SAFETY: f32 has no padding and any bytes are valid u8; the length is 4·len.
    unsafe { std::slice::from_raw_parts(v.as_ptr().cast::<u8>(), std::mem::size_of_val(v)) }
}

fn bench_transfers(c: &mut Criterion, cfg: &Cfg, devs: &mut [(&'static str, Backend)]) {
    let sizes = cfg.sizes(
        &[1 << 20, 16 << 20, 256 << 20, 1 << 30],
        &[1 << 20, 64 << 20],
    );
    for dir in ["h2d", "d2h"] {
        if !cfg.wants(dir) {
            continue;
        }
        let mut g = c.benchmark_group(dir);
        for &bytes in &sizes {
            g.throughput(Throughput::Bytes(bytes));
            let host: Vec<u8> = (0..bytes)
                .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
                .collect();
            let mut back = vec![0u8; bytes as usize];
            for (path, dev) in devs.iter_mut() {
                if let Some(why) = software_skip(cfg, &**dev, bytes, SOFTWARE_MAX_BYTES) {
                    println!("SKIP {dir}/{path}/{bytes}: {why}");
                    continue;
                }
                let id = match dev.create_buffer(bytes) {
                    Ok(id) => id,
                    Err(e) => {
                        println!("SKIP {dir}/{path}/{bytes}: {e}");
                        continue;
                    }
                };
                back.fill(0);
                let ok = dev
                    .write(id, 0, &host)
                    .and_then(|_| dev.read(id, 0, &mut back));
                match ok {
                    Err(e) => println!("SKIP {dir}/{path}/{bytes}: {e}"),
                    Ok(()) if back != host => println!(
                        "SKIP {dir}/{path}/{bytes}: read back differs from what was written"
                    ),
                    Ok(()) => {
                        g.bench_function(BenchmarkId::new(*path, bytes), |bch| {
                            bch.iter(|| {
                                if dir == "h2d" {
                                    dev.write(id, 0, &host).unwrap();
                                    dev.sync().unwrap();
                                } else {
                                    dev.read(id, 0, &mut back).unwrap();
                                }
                            })
                        });
                    }
                }
                let _ = dev.destroy_buffer(id);
            }
        }
        g.finish();
    }
}

/// Splits a small operation's wall-clock time into its parts (`OFFLOAD_BENCH_LATENCY=1`):
/// a sync with nothing queued, a 4-byte device copy and sync (one submission), a 4-byte
/// write (staging upload) and sync, and a 1-element kernel and sync. Means over 200 runs.
fn latency_probe(path: &str, dev: &mut Backend) {
    let (a, b) = match (dev.create_buffer(4), dev.create_buffer(4)) {
        (Ok(a), Ok(b)) => (a, b),
        _ => return,
    };
    let mut time = |what: &str, f: &mut dyn FnMut(&mut Backend)| {
        f(dev);
        let t0 = std::time::Instant::now();
        for _ in 0..200 {
            f(dev);
        }
        println!(
            "latency {path} {what}: {:.1} µs",
            t0.elapsed().as_secs_f64() * 1e6 / 200.0
        );
    };
    time("sync (idle)", &mut |d| d.sync().unwrap());
    time("copy 4 B + sync", &mut |d| {
        d.copy(a, 0, b, 0, 4).unwrap();
        d.sync().unwrap()
    });
    time("write 4 B + sync", &mut |d| {
        d.write(a, 0, &[0, 0, 128, 63]).unwrap();
        d.sync().unwrap()
    });
    time("relu n=1 + sync", &mut |d| {
        d.elementwise(ElementwiseOp::Relu, DType::F32, a, None, 0.0, b, 1)
            .unwrap();
        d.sync().unwrap()
    });
    time("sum n=1 (result read back)", &mut |d| {
        d.reduce(ReduceOp::Sum, DType::F32, a, 1).unwrap();
    });
    let _ = dev.destroy_buffer(a);
    let _ = dev.destroy_buffer(b);
}

fn main() {
    let cfg = Cfg::from_env();
    let mut c = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(if cfg.quick { 200 } else { 500 }))
        .measurement_time(Duration::from_secs(if cfg.quick { 1 } else { 2 }))
        .configure_from_args();
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
    let mut rng = Pcg64::seed_from_u64(0x0FF10AD);
    bench_transfers(&mut c, &cfg, &mut devs);
    bench_sgemm(&mut c, &cfg, &mut devs, &mut rng);
    bench_vectors(&mut c, &cfg, &mut devs, &mut rng);
    c.final_summary();
}
