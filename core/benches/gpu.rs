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

use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, BenchmarkId, Criterion, Throughput};
use offload_core::fast::{self, Float};
use offload_core::gpu::cpu::{elementwise_ref, matmul_ref, reduce_ref, CpuBackend};
use offload_core::gpu::{
    Backend, BackendKind, BufferId, DType, ElementwiseOp, GpuBackend, GpuError, MatmulPrecision,
    ReduceOp,
};
use offload_core::rng::Pcg32;
use offload_core::{par, vector};
use rayon::prelude::*;
use std::time::Duration;

struct Cfg {
    quick: bool,
    only: Option<Vec<String>>,
    sizes: Option<Vec<u64>>,
    time_ms: u64,
    max_elems: Option<u64>,
}

impl Cfg {
    fn from_env() -> Cfg {
        let list = |v: &str| std::env::var(v).ok().filter(|s| !s.is_empty());
        let quick = list("OFFLOAD_BENCH_QUICK").is_some_and(|s| s != "0");
        Cfg {
            quick,
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
            time_ms: list("OFFLOAD_BENCH_TIME_MS")
                .map(|s| {
                    s.trim()
                        .parse()
                        .ok()
                        .filter(|&ms: &u64| ms > 0)
                        .expect("OFFLOAD_BENCH_TIME_MS: a positive integer (milliseconds)")
                })
                .unwrap_or(if quick { 1000 } else { 2000 }),
            max_elems: list("OFFLOAD_BENCH_MAX_ELEMS").map(|s| {
                s.trim()
                    .parse()
                    .expect("OFFLOAD_BENCH_MAX_ELEMS: an integer (elements)")
            }),
        }
    }
    fn wants(&self, group: &str) -> bool {
        self.only
            .as_ref()
            .is_none_or(|o| o.iter().any(|g| g == group))
    }
    /// The vector groups' sizes: [`Cfg::sizes`] without those above
    /// `OFFLOAD_BENCH_MAX_ELEMS` (a small machine's full run; each one left out is printed
    /// as a SKIP line by the caller's group).
    fn elem_sizes(&self, full: &[u64], quick: &[u64], group: &str, paths: &[&str]) -> Vec<u64> {
        let all = self.sizes(full, quick);
        match self.max_elems {
            Some(max) => {
                for &n in all.iter().filter(|&&n| n > max) {
                    for p in paths {
                        println!(
                            "SKIP {group}/{p}/{n}: above OFFLOAD_BENCH_MAX_ELEMS={max} on this run"
                        );
                    }
                }
                all.into_iter().filter(|&n| n <= max).collect()
            }
            None => all,
        }
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

/// 1e3 … 1e9 by ×10.
const TO_1E9: [u64; 7] = [
    1_000,
    10_000,
    100_000,
    1_000_000,
    10_000_000,
    100_000_000,
    1_000_000_000,
];
/// Sizes of `OFFLOAD_BENCH_QUICK=1` for the vector ops.
const QUICK_ELEMS: [u64; 2] = [1_000, 1_000_000];

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

/// The pinned-memory line of a group with a `gpu-cuda` path.
fn skip_pinned(group: &str) {
    println!(
        "SKIP {group}/gpu-cuda-pinned: the GpuBackend API takes host data as &[u8] from pageable \
         memory and offers no pinned source buffers (cuda stages every transfer through its \
         own pinned buffers), so data starting in pinned host memory is not timed"
    );
}

// ---- host memory ----

/// `MemAvailable` of `/proc/meminfo` in bytes; `None` where it cannot be read.
fn mem_available() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = s.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Ok when `need` bytes fit in `avail` (MemAvailable read before this size allocated
/// anything) less a margin of 10 %, at least 1 GiB; else the reason, naming both.
fn host_fits(need: u64, what: &str, avail: Option<u64>) -> Result<(), String> {
    let Some(avail) = avail else {
        return Ok(());
    };
    let margin = (avail / 10).max(1 << 30);
    let limit = avail.saturating_sub(margin);
    if need <= limit {
        Ok(())
    } else {
        Err(format!(
            "needs {need} bytes of host memory ({what}), limit {limit} bytes \
             (MemAvailable {avail} less a margin of {margin})"
        ))
    }
}

// ---- inputs ----

/// Elements per PCG32 stream of [`gen`].
const GEN_CHUNK: usize = 1 << 16;

/// `n` values uniform in [-1, 1), generated on all cores; the same values for the same
/// `seed` whatever the thread count.
fn gen<T: El>(n: u64, seed: u64) -> Vec<T> {
    let mut v = vec![T::ZERO; n as usize];
    v.par_chunks_mut(GEN_CHUNK).enumerate().for_each(|(i, c)| {
        let mut r = Pcg32::new(seed, i as u64);
        for x in c {
            *x = T::of(r.next_f64() * 2.0 - 1.0);
        }
    });
    v
}

/// `bytes` pseudo-random bytes, generated on all cores.
fn gen_bytes(bytes: u64) -> Vec<u8> {
    let mut v = vec![0u8; bytes as usize];
    v.par_chunks_mut(GEN_CHUNK).enumerate().for_each(|(i, c)| {
        let base = (i * GEN_CHUNK) as u64;
        for (j, x) in c.iter_mut().enumerate() {
            *x = ((base + j as u64).wrapping_mul(2654435761) >> 13) as u8;
        }
    });
    v
}

// ---- element types ----

const SCALAR: f64 = 1.75;

/// An element type of the vector benches with its CPU kernels.
trait El: Float + bytemuck::Pod {
    const DT: DType;
    fn of(x: f64) -> Self;
    fn f(self) -> f64;
    /// The `cpu` backend's element-wise arithmetic on one pair (`q` is `p` for unary ops).
    fn ref_elem(op: ElementwiseOp, p: Self, q: Self) -> Self;
    /// `rust-native-simd`: one thread, fast family.
    fn simd_sum(a: &[Self]) -> f64;
    fn simd_dot(a: &[Self], b: &[Self]) -> f64;
    /// `rust-native-par`.
    fn par_reduce(op: ReduceOp, a: &[Self]) -> f64;
    fn par_dot(a: &[Self], b: &[Self]) -> f64;
    fn par_elem(op: ElementwiseOp, a: &[Self], b: &[Self], out: &mut [Self]);
    /// `rust-native` min/max: one thread, `fast::min`/`max` (lane loops).
    fn one_extremum(op: ReduceOp, a: &[Self]) -> f64;
    /// `rust-native` element-wise: one thread, `fast::map1`/`map2` into `out` (no allocation).
    fn one_elem(op: ElementwiseOp, a: &[Self], b: &[Self], out: &mut [Self]) {
        let s = Self::of(SCALAR);
        match op {
            ElementwiseOp::Mul => fast::map2(a, b, out, |p, q| p * q),
            ElementwiseOp::Add => fast::map2(a, b, out, |p, q| p + q),
            ElementwiseOp::Scale => fast::map1(a, out, |p| s * p),
            ElementwiseOp::Relu => fast::map1(a, out, fast::relu_one),
        }
    }
}

impl El for f32 {
    const DT: DType = DType::F32;
    fn of(x: f64) -> Self {
        x as f32
    }
    fn f(self) -> f64 {
        self as f64
    }
    fn ref_elem(op: ElementwiseOp, p: f32, q: f32) -> f32 {
        // As CpuBackend::elementwise: f32 arithmetic, as the devices do it.
        match op {
            ElementwiseOp::Mul => p * q,
            ElementwiseOp::Add => p + q,
            ElementwiseOp::Scale => SCALAR as f32 * p,
            ElementwiseOp::Relu => elementwise_ref(op, p as f64, 0.0, 0.0) as f32,
        }
    }
    fn simd_sum(a: &[f32]) -> f64 {
        fast::sum_f32(a) as f64
    }
    fn simd_dot(a: &[f32], b: &[f32]) -> f64 {
        fast::dot_f32(a, b).unwrap() as f64
    }
    fn par_reduce(op: ReduceOp, a: &[f32]) -> f64 {
        (match op {
            ReduceOp::Sum => par::sum_f32(a),
            ReduceOp::Min => par::min_f32(a),
            ReduceOp::Max => par::max_f32(a),
        }) as f64
    }
    fn par_dot(a: &[f32], b: &[f32]) -> f64 {
        par::dot_f32(a, b).unwrap() as f64
    }
    fn one_extremum(op: ReduceOp, a: &[f32]) -> f64 {
        (match op {
            ReduceOp::Min => fast::min_f32(a),
            ReduceOp::Max => fast::max_f32(a),
            ReduceOp::Sum => unreachable!("sum has two families"),
        }) as f64
    }
    fn par_elem(op: ElementwiseOp, a: &[f32], b: &[f32], out: &mut [f32]) {
        match op {
            ElementwiseOp::Mul => par::mul_f32(a, b, out),
            ElementwiseOp::Add => par::add_f32(a, b, out),
            ElementwiseOp::Scale => par::scale_f32(SCALAR as f32, a, out),
            ElementwiseOp::Relu => par::relu_f32(a, out),
        }
        .unwrap()
    }
}

impl El for f64 {
    const DT: DType = DType::F64;
    fn of(x: f64) -> Self {
        x
    }
    fn f(self) -> f64 {
        self
    }
    fn ref_elem(op: ElementwiseOp, p: f64, q: f64) -> f64 {
        elementwise_ref(op, p, q, SCALAR)
    }
    fn simd_sum(a: &[f64]) -> f64 {
        vector::sum_simd(a)
    }
    fn simd_dot(a: &[f64], b: &[f64]) -> f64 {
        vector::dot_simd(a, b).unwrap()
    }
    fn par_reduce(op: ReduceOp, a: &[f64]) -> f64 {
        match op {
            ReduceOp::Sum => par::sum(a),
            ReduceOp::Min => par::min(a),
            ReduceOp::Max => par::max(a),
        }
    }
    fn par_dot(a: &[f64], b: &[f64]) -> f64 {
        par::dot(a, b).unwrap()
    }
    fn one_extremum(op: ReduceOp, a: &[f64]) -> f64 {
        match op {
            ReduceOp::Min => fast::min(a),
            ReduceOp::Max => fast::max(a),
            ReduceOp::Sum => unreachable!("sum has two families"),
        }
    }
    fn par_elem(op: ElementwiseOp, a: &[f64], b: &[f64], out: &mut [f64]) {
        match op {
            ElementwiseOp::Mul => par::mul(a, b, out),
            ElementwiseOp::Add => par::add(a, b, out),
            ElementwiseOp::Scale => par::scale(SCALAR, a, out),
            ElementwiseOp::Relu => par::relu(a, out),
        }
        .unwrap()
    }
}

// ---- ops and checks ----

#[derive(Clone, Copy, PartialEq)]
enum Op {
    Reduce(ReduceOp),
    Dot,
    Elem(ElementwiseOp),
}

#[derive(Clone, Copy, PartialEq)]
enum Family {
    /// `<op>-strict_<dt>`: path cpu only.
    Strict,
    /// `<op>-fast_<dt>`: SIMD, par and GPU paths.
    Fast,
    /// `<op>_<dt>`: an op whose result does not depend on the order (cpu, par, GPU).
    One,
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
    /// Input vectors the op reads.
    fn inputs(self) -> u64 {
        match self {
            Op::Dot => 2,
            Op::Elem(e) if e.is_binary() => 2,
            _ => 1,
        }
    }
    fn is_elem(self) -> bool {
        matches!(self, Op::Elem(_))
    }
    /// Bytes the kernel reads and writes, for GB/s.
    fn bytes(self, n: u64, dtype: DType) -> u64 {
        let e = n * dtype.size();
        match self {
            Op::Elem(_) => (self.inputs() + 1) * e,
            _ => self.inputs() * e,
        }
    }
    fn full_sizes(self) -> &'static [u64] {
        match self {
            Op::Reduce(ReduceOp::Sum)
            | Op::Dot
            | Op::Elem(ElementwiseOp::Mul | ElementwiseOp::Scale) => &TO_1E9,
            _ => &TO_1E9[..6],
        }
    }
}

/// The reference answer of one size.
enum Want<T> {
    /// A reduction's value and Σ|terms| (its condition, the scale of the tolerance).
    Scalar(f64, f64),
    /// An element-wise op's output.
    Vector(Vec<T>),
}

/// The reference, with the `cpu` backend's arithmetic (`reduce_ref`, its dot, the
/// `elementwise_ref` of its dtype), computed on the host inputs.
fn reference<T: El>(op: Op, a: &[T], b: &[T]) -> Want<T> {
    match op {
        Op::Reduce(r) => {
            let cond = a.par_iter().map(|x| x.f().abs()).sum();
            Want::Scalar(reduce_ref(r, a.iter().map(|x| x.f())), cond)
        }
        Op::Dot => {
            let cond = a
                .par_iter()
                .zip(b)
                .map(|(x, y)| (x.f() * y.f()).abs())
                .sum();
            let v = reduce_ref(ReduceOp::Sum, a.iter().zip(b).map(|(x, y)| x.f() * y.f()));
            Want::Scalar(v, cond)
        }
        Op::Elem(e) => {
            let mut out = vec![T::ZERO; a.len()];
            let b = if e.is_binary() { b } else { a };
            out.par_iter_mut()
                .zip(a.par_iter().zip(b))
                .for_each(|(o, (&p, &q))| *o = T::ref_elem(e, p, q));
            Want::Vector(out)
        }
    }
}

/// Tolerance of a fast-family reduction or a GPU element-wise output.
fn tol(dtype: DType) -> f64 {
    if dtype == DType::F32 {
        1e-5
    } else {
        1e-12
    }
}

/// A reduction's value against the reference: exactly (`exact`: the strict `cpu` path,
/// min/max) or within `tol` of Σ|terms|.
fn check_scalar(
    op: Op,
    dtype: DType,
    got: f64,
    want: &Want<impl El>,
    exact: bool,
) -> Result<(), String> {
    let Want::Scalar(w, cond) = *want else {
        unreachable!("a reduction has a scalar reference")
    };
    let exact = exact || matches!(op, Op::Reduce(ReduceOp::Min | ReduceOp::Max));
    if exact {
        return if got == w {
            Ok(())
        } else {
            Err(format!("wrong answer: {got:e}, the reference is {w:e}"))
        };
    }
    let err = (got - w).abs() / cond.max(f64::MIN_POSITIVE);
    let t = tol(dtype);
    if err <= t {
        Ok(())
    } else {
        Err(format!("wrong answer: error {err:e} of Σ|terms| > {t:e}"))
    }
}

/// An element-wise output against the reference: bit for bit (`exact`) or within the
/// dtype's relative error (‖got − want‖₂ / ‖want‖₂).
fn check_vector<T: El>(got: &[T], want: &Want<T>, exact: bool) -> Result<(), String> {
    let Want::Vector(w) = want else {
        unreachable!("an element-wise op has a vector reference")
    };
    if exact {
        let (g, w): (&[u8], &[u8]) = (bytemuck::cast_slice(got), bytemuck::cast_slice(w));
        return if g == w {
            Ok(())
        } else {
            Err("wrong answer: output differs from the reference".into())
        };
    }
    let (d, r) = got
        .par_iter()
        .zip(w)
        .map(|(x, y)| ((x.f() - y.f()).powi(2), y.f().powi(2)))
        .reduce(|| (0.0, 0.0), |p, q| (p.0 + q.0, p.1 + q.1));
    let err = if d.is_nan() {
        f64::INFINITY
    } else if r == 0.0 {
        d.sqrt()
    } else {
        (d / r).sqrt()
    };
    let t = tol(T::DT);
    if err <= t {
        Ok(())
    } else {
        Err(format!("wrong answer: relative error {err:e} > {t:e}"))
    }
}

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

/// Buffers of one op on one backend: `b` for dot and binary ops, `out` for element-wise ops.
#[derive(Clone, Copy)]
struct Ids {
    a: BufferId,
    b: Option<BufferId>,
    out: Option<BufferId>,
}

impl Ids {
    fn create(dev: &mut dyn GpuBackend, op: Op, bytes: u64) -> Result<Ids, GpuError> {
        let a = dev.create_buffer(bytes)?;
        let mut ids = Ids {
            a,
            b: None,
            out: None,
        };
        let r: Result<(), GpuError> = (|| {
            if op.inputs() == 2 {
                ids.b = Some(dev.create_buffer(bytes)?);
            }
            if op.is_elem() {
                ids.out = Some(dev.create_buffer(bytes)?);
            }
            Ok(())
        })();
        match r {
            Ok(()) => Ok(ids),
            Err(e) => {
                ids.destroy(dev);
                Err(e)
            }
        }
    }
    /// Copies the host inputs into `a` (and `b`).
    fn upload<T: El>(&self, dev: &mut dyn GpuBackend, a: &[T], b: &[T]) -> Result<(), GpuError> {
        dev.write(self.a, 0, bytemuck::cast_slice(a))?;
        if let Some(id) = self.b {
            dev.write(id, 0, bytemuck::cast_slice(b))?;
        }
        Ok(())
    }
    fn destroy(&self, dev: &mut dyn GpuBackend) {
        for id in [Some(self.a), self.b, self.out].into_iter().flatten() {
            let _ = dev.destroy_buffer(id);
        }
    }
}

/// Runs `op` once on resident buffers: a reduction returns its value; an element-wise op
/// returns 0.0 after a sync, or after reading its output into `out` when given.
fn run_dev<T: El>(
    dev: &mut dyn GpuBackend,
    op: Op,
    ids: Ids,
    n: u64,
    out: Option<&mut [T]>,
) -> Result<f64, GpuError> {
    match op {
        Op::Reduce(r) => dev.reduce(r, T::DT, ids.a, n),
        Op::Dot => dev.dot(T::DT, ids.a, ids.b.unwrap_or(ids.a), n),
        Op::Elem(e) => {
            let o = ids.out.unwrap_or(ids.a);
            dev.elementwise(e, T::DT, ids.a, ids.b, SCALAR, o, n)?;
            match out {
                Some(out) => dev.read(o, 0, bytemuck::cast_slice_mut(out))?,
                None => dev.sync()?,
            }
            Ok(0.0)
        }
    }
}

/// One vector group (op, dtype, family) over its sizes.
fn bench_vector_group<T: El>(
    c: &mut Criterion,
    cfg: &Cfg,
    devs: &mut [(&'static str, Backend)],
    op: Op,
    family: Family,
) {
    let group = match family {
        Family::Strict => format!("{}-strict_{}", op.name(), T::DT.name()),
        Family::Fast => format!("{}-fast_{}", op.name(), T::DT.name()),
        Family::One => format!("{}_{}", op.name(), T::DT.name()),
    };
    if !cfg.wants(&group) {
        return;
    }
    let gpu = family != Family::Strict;
    if gpu {
        skip_pinned(&group);
    }
    // Every path of the group, for the SKIP lines of a size that does not fit.
    let mut paths: Vec<String> = match family {
        Family::Strict => vec!["cpu".into()],
        Family::Fast => vec!["rust-native-simd".into(), "rust-native-par".into()],
        Family::One => vec!["cpu".into(), "rust-native".into(), "rust-native-par".into()],
    };
    if gpu {
        for (p, _) in devs.iter() {
            paths.push(p.to_string());
            paths.push(format!("{p}-resident"));
        }
    }
    let mut g = c.benchmark_group(&group);
    let es = T::DT.size();
    let names: Vec<&str> = paths.iter().map(String::as_str).collect();
    for n in cfg.elem_sizes(op.full_sizes(), &QUICK_ELEMS, &group, &names) {
        let avail = mem_available();
        // Inputs, and for element-wise ops the reference and one output buffer.
        let vecs = op.inputs() + if op.is_elem() { 2 } else { 0 };
        if let Err(why) = host_fits(vecs * n * es, "inputs, reference, output", avail) {
            for p in &paths {
                println!("SKIP {group}/{p}/{n}: {why}");
            }
            continue;
        }
        g.throughput(Throughput::Bytes(op.bytes(n, T::DT)));
        let a: Vec<T> = gen(n, 1);
        let b: Vec<T> = if op.inputs() == 2 {
            gen(n, 2)
        } else {
            Vec::new()
        };
        let want = reference(op, &a, &b);
        let mut out: Vec<T> = if op.is_elem() {
            vec![T::ZERO; n as usize]
        } else {
            Vec::new()
        };
        if family != Family::Fast {
            bench_cpu(&mut g, &group, op, n, &a, &b, &want, &mut out, avail, vecs);
        }
        match family {
            Family::Strict => {}
            Family::Fast => {
                let simd = || match op {
                    Op::Dot => T::simd_dot(&a, &b),
                    _ => T::simd_sum(&a),
                };
                match check_scalar(op, T::DT, simd(), &want, false) {
                    Ok(()) => {
                        g.bench_function(BenchmarkId::new("rust-native-simd", n), |bch| {
                            bch.iter(simd)
                        });
                    }
                    Err(why) => println!("SKIP {group}/rust-native-simd/{n}: {why}"),
                }
                let par = || match op {
                    Op::Dot => T::par_dot(&a, &b),
                    Op::Reduce(r) => T::par_reduce(r, &a),
                    Op::Elem(_) => unreachable!("no fast family for element-wise ops"),
                };
                match check_scalar(op, T::DT, par(), &want, false) {
                    Ok(()) => {
                        g.bench_function(BenchmarkId::new("rust-native-par", n), |bch| {
                            bch.iter(par)
                        });
                    }
                    Err(why) => println!("SKIP {group}/rust-native-par/{n}: {why}"),
                }
            }
            Family::One => match op {
                Op::Elem(e) => {
                    out.fill(T::ZERO);
                    T::one_elem(e, &a, &b, &mut out);
                    match check_vector(&out, &want, true) {
                        Ok(()) => {
                            g.bench_function(BenchmarkId::new("rust-native", n), |bch| {
                                bch.iter(|| T::one_elem(e, &a, &b, &mut out))
                            });
                        }
                        Err(why) => println!("SKIP {group}/rust-native/{n}: {why}"),
                    }
                    out.fill(T::ZERO);
                    T::par_elem(e, &a, &b, &mut out);
                    match check_vector(&out, &want, true) {
                        Ok(()) => {
                            g.bench_function(BenchmarkId::new("rust-native-par", n), |bch| {
                                bch.iter(|| T::par_elem(e, &a, &b, &mut out))
                            });
                        }
                        Err(why) => println!("SKIP {group}/rust-native-par/{n}: {why}"),
                    }
                }
                Op::Reduce(r) => {
                    let one = || T::one_extremum(r, &a);
                    match check_scalar(op, T::DT, one(), &want, true) {
                        Ok(()) => {
                            g.bench_function(BenchmarkId::new("rust-native", n), |bch| {
                                bch.iter(one)
                            });
                        }
                        Err(why) => println!("SKIP {group}/rust-native/{n}: {why}"),
                    }
                    let par = || T::par_reduce(r, &a);
                    match check_scalar(op, T::DT, par(), &want, true) {
                        Ok(()) => {
                            g.bench_function(BenchmarkId::new("rust-native-par", n), |bch| {
                                bch.iter(par)
                            });
                        }
                        Err(why) => println!("SKIP {group}/rust-native-par/{n}: {why}"),
                    }
                }
                Op::Dot => unreachable!("dot has two families"),
            },
        }
        if gpu {
            for (path, dev) in devs.iter_mut() {
                bench_gpu(
                    cfg, &mut g, &group, path, &mut **dev, op, n, &a, &b, &want, &mut out,
                );
            }
        }
    }
    g.finish();
}

/// Largest n of the element-wise `cpu` path (the reference backend allocates per call).
const CPU_ELEM_MAX: u64 = 100_000_000;

/// Path `cpu`: the reference backend, one thread, data in its buffers.
#[allow(clippy::too_many_arguments)]
fn bench_cpu<T: El>(
    g: &mut BenchmarkGroup<'_, WallTime>,
    group: &str,
    op: Op,
    n: u64,
    a: &[T],
    b: &[T],
    want: &Want<T>,
    out: &mut [T],
    avail: Option<u64>,
    vecs: u64,
) {
    if op.is_elem() && n > CPU_ELEM_MAX {
        println!(
            "SKIP {group}/cpu/{n}: the reference backend allocates its result on every call \
             (seconds per call above {CPU_ELEM_MAX} elements); rust-native is the one-thread path"
        );
        return;
    }
    let es = T::DT.size();
    // Its own copies of the inputs (and output), and for element-wise ops the result
    // vector and its byte copy that CpuBackend::elementwise makes.
    let own = op.inputs() + if op.is_elem() { 3 } else { 0 };
    if let Err(why) = host_fits(
        (vecs + own) * n * es,
        "with the cpu backend's copies",
        avail,
    ) {
        println!("SKIP {group}/cpu/{n}: {why}");
        return;
    }
    let mut cpu = CpuBackend::new();
    let ids = match Ids::create(&mut cpu, op, n * es).and_then(|ids| {
        ids.upload(&mut cpu, a, b)?;
        Ok(ids)
    }) {
        Ok(ids) => ids,
        Err(e) => {
            println!("SKIP {group}/cpu/{n}: {e}");
            return;
        }
    };
    let ok = match run_dev(&mut cpu, op, ids, n, op.is_elem().then_some(&mut *out)) {
        Err(e) => Err(e.to_string()),
        Ok(v) if !op.is_elem() => check_scalar(op, T::DT, v, want, true),
        Ok(_) => check_vector(out, want, true),
    };
    match ok {
        Err(why) => println!("SKIP {group}/cpu/{n}: {why}"),
        Ok(()) => {
            g.bench_function(BenchmarkId::new("cpu", n), |bch| {
                bch.iter(|| run_dev::<T>(&mut cpu, op, ids, n, None).unwrap())
            });
        }
    }
    ids.destroy(&mut cpu);
}

/// Paths `<path>-resident` and `<path>` (host data, transfers timed) of one device.
#[allow(clippy::too_many_arguments)]
fn bench_gpu<T: El>(
    cfg: &Cfg,
    g: &mut BenchmarkGroup<'_, WallTime>,
    group: &str,
    path: &str,
    dev: &mut dyn GpuBackend,
    op: Op,
    n: u64,
    a: &[T],
    b: &[T],
    want: &Want<T>,
    out: &mut [T],
) {
    let skip = |why: &str| {
        println!("SKIP {group}/{path}-resident/{n}: {why}");
        println!("SKIP {group}/{path}/{n}: {why}");
    };
    if let Some(why) = software_skip(cfg, dev, n, SOFTWARE_MAX_ELEMS) {
        return skip(&why);
    }
    let ids = match Ids::create(dev, op, n * T::DT.size()) {
        Ok(ids) => ids,
        Err(e) => return skip(&e.to_string()),
    };
    let ok = (|| -> Result<(), String> {
        ids.upload(dev, a, b).map_err(|e| e.to_string())?;
        out.fill(T::ZERO);
        let v = run_dev(dev, op, ids, n, op.is_elem().then_some(&mut *out))
            .map_err(|e| e.to_string())?;
        if op.is_elem() {
            check_vector(out, want, false)
        } else {
            check_scalar(op, T::DT, v, want, false)
        }
    })();
    match ok {
        Err(why) => skip(&why),
        Ok(()) => {
            print_kernel_time(
                dev,
                &format!("{group}/{path}-resident/{n}"),
                op.bytes(n, T::DT) as f64,
                "GB/s",
                |d| {
                    let _ = run_dev::<T>(d, op, ids, n, None);
                },
            );
            g.bench_function(BenchmarkId::new(format!("{path}-resident"), n), |bch| {
                bch.iter(|| run_dev::<T>(dev, op, ids, n, None).unwrap())
            });
            g.bench_function(BenchmarkId::new(path, n), |bch| {
                bch.iter(|| {
                    ids.upload(dev, a, b).unwrap();
                    run_dev(dev, op, ids, n, op.is_elem().then_some(&mut *out)).unwrap()
                })
            });
        }
    }
    ids.destroy(dev);
}

fn bench_vectors(c: &mut Criterion, cfg: &Cfg, devs: &mut [(&'static str, Backend)]) {
    fn one_dtype<T: El>(c: &mut Criterion, cfg: &Cfg, devs: &mut [(&'static str, Backend)]) {
        for op in [Op::Reduce(ReduceOp::Sum), Op::Dot] {
            bench_vector_group::<T>(c, cfg, devs, op, Family::Strict);
            bench_vector_group::<T>(c, cfg, devs, op, Family::Fast);
        }
        for op in [
            Op::Reduce(ReduceOp::Min),
            Op::Reduce(ReduceOp::Max),
            Op::Elem(ElementwiseOp::Mul),
            Op::Elem(ElementwiseOp::Add),
            Op::Elem(ElementwiseOp::Scale),
            Op::Elem(ElementwiseOp::Relu),
        ] {
            bench_vector_group::<T>(c, cfg, devs, op, Family::One);
        }
    }
    one_dtype::<f32>(c, cfg, devs);
    one_dtype::<f64>(c, cfg, devs);
}

/// `copy_f64`: the host's memory bandwidth, one thread and all cores.
fn bench_copy(c: &mut Criterion, cfg: &Cfg) {
    let group = "copy_f64";
    if !cfg.wants(group) {
        return;
    }
    let mut g = c.benchmark_group(group);
    for n in cfg.elem_sizes(
        &TO_1E9,
        &QUICK_ELEMS,
        group,
        &["rust-native", "rust-native-par"],
    ) {
        if let Err(why) = host_fits(16 * n, "source and destination", mem_available()) {
            for p in ["rust-native", "rust-native-par"] {
                println!("SKIP {group}/{p}/{n}: {why}");
            }
            continue;
        }
        g.throughput(Throughput::Bytes(16 * n));
        let a: Vec<f64> = gen(n, 3);
        let mut out = vec![0.0f64; n as usize];
        out.copy_from_slice(&a);
        if bytemuck::cast_slice::<f64, u8>(&out) == bytemuck::cast_slice::<f64, u8>(&a) {
            g.bench_function(BenchmarkId::new("rust-native", n), |bch| {
                bch.iter(|| out.copy_from_slice(&a))
            });
        } else {
            println!("SKIP {group}/rust-native/{n}: copy differs from its source");
        }
        out.fill(0.0);
        par::copy(&a, &mut out).unwrap();
        if bytemuck::cast_slice::<f64, u8>(&out) == bytemuck::cast_slice::<f64, u8>(&a) {
            g.bench_function(BenchmarkId::new("rust-native-par", n), |bch| {
                bch.iter(|| par::copy(&a, &mut out).unwrap())
            });
        } else {
            println!("SKIP {group}/rust-native-par/{n}: copy differs from its source");
        }
    }
    g.finish();
}

fn bench_sgemm(c: &mut Criterion, cfg: &Cfg, devs: &mut [(&'static str, Backend)]) {
    if !cfg.wants("sgemm") {
        return;
    }
    let sizes = cfg.sizes(&[256, 512, 1024, 2048, 4096, 8192, 16384], &[256, 1024]);
    let mut variants: Vec<(String, usize, MatmulPrecision, f64)> = Vec::new();
    for (i, (path, dev)) in devs.iter().enumerate() {
        variants.push((path.to_string(), i, MatmulPrecision::Fp32, 1e-4));
        if dev.info().supports_tf32 {
            variants.push((format!("{path}-tf32"), i, MatmulPrecision::Tf32, 5e-3));
        }
    }
    let mut g = c.benchmark_group("sgemm");
    for n in sizes {
        let nu = n as usize;
        let bytes = n * n * 4;
        if let Err(why) = host_fits(2 * bytes, "A and B", mem_available()) {
            println!("SKIP sgemm/cpu/{n}: {why}");
            for (path, ..) in &variants {
                println!("SKIP sgemm/{path}/{n}: {why}");
            }
            continue;
        }
        g.throughput(Throughput::Elements(2 * n * n * n));
        let av: Vec<f32> = gen(n * n, 4);
        let bv: Vec<f32> = gen(n * n, 5);
        // Reference rows of C: all of them up to 1024, else 16 sampled rows.
        let rows: Vec<usize> = if n <= 1024 {
            (0..nu).collect()
        } else {
            let mut r = Pcg32::new(6, 0);
            (0..16).map(|_| r.below(n as u32) as usize).collect()
        };
        let mut want = vec![0f32; rows.len() * nu];
        {
            let a_rows: Vec<f32> = rows
                .iter()
                .flat_map(|&r| av[r * nu..(r + 1) * nu].iter().copied())
                .collect();
            matmul_ref(&a_rows, &bv, &mut want, rows.len(), nu, nu);
        }
        let (ab, bb): (&[u8], &[u8]) = (bytemuck::cast_slice(&av), bytemuck::cast_slice(&bv));
        if n <= 1024 {
            let mut cpu = CpuBackend::new();
            let ids = [0, 1, 2].map(|_| cpu.create_buffer(bytes).unwrap());
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
        for (path, i, prec, tol) in &variants {
            let (prec, tol) = (*prec, *tol);
            let dev: &mut dyn GpuBackend = &mut *devs[*i].1;
            if let Some(why) = software_skip(cfg, dev, n, SOFTWARE_MAX_SGEMM) {
                println!("SKIP sgemm/{path}/{n}: {why}");
                continue;
            }
            let ids = match (|| -> Result<[u64; 3], GpuError> {
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
                let mut got = vec![0f32; want.len()];
                for (k, &r) in rows.iter().enumerate() {
                    dev.read(
                        ids[2],
                        (r * nu * 4) as u64,
                        bytemuck::cast_slice_mut(&mut got[k * nu..(k + 1) * nu]),
                    )
                    .map_err(|e| e.to_string())?;
                }
                let err = rel_err32(&got, &want);
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
                    g.bench_function(BenchmarkId::new(path, n), |bch| {
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

/// ‖x − y‖₂ / ‖y‖₂ in f64 (∞ when x holds a NaN).
fn rel_err32(x: &[f32], y: &[f32]) -> f64 {
    let (mut d, mut r) = (0.0f64, 0.0f64);
    for (&a, &b) in x.iter().zip(y) {
        let (a, b) = (a as f64, b as f64);
        d += (a - b) * (a - b);
        r += b * b;
    }
    if d.is_nan() {
        f64::INFINITY
    } else if r == 0.0 {
        d.sqrt()
    } else {
        (d / r).sqrt()
    }
}

fn bench_transfers(c: &mut Criterion, cfg: &Cfg, devs: &mut [(&'static str, Backend)]) {
    // 4 KiB … 4 GiB by ×4.
    let full: Vec<u64> = (0..11).map(|k| 4096u64 << (2 * k)).collect();
    let sizes = cfg.sizes(&full, &[1 << 20, 64 << 20]);
    for dir in ["h2d", "d2h"] {
        if !cfg.wants(dir) {
            continue;
        }
        skip_pinned(dir);
        let mut g = c.benchmark_group(dir);
        for &bytes in &sizes {
            if let Err(why) = host_fits(2 * bytes, "source and read-back", mem_available()) {
                for (path, _) in devs.iter() {
                    println!("SKIP {dir}/{path}/{bytes}: {why}");
                }
                continue;
            }
            g.throughput(Throughput::Bytes(bytes));
            let host = gen_bytes(bytes);
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
