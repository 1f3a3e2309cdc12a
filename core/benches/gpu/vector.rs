//! The vector groups (sum, dot, min, max, mul, add, scale, relu) and `copy_f64`.

use crate::cfg::{
    host_fits, mem_available, skip_pinned, software_skip, Cfg, QUICK_ELEMS, SOFTWARE_MAX_ELEMS,
    TO_1E9,
};
use crate::elem::{check_scalar, check_vector, gen, reference, El, Family, Op, Want, SCALAR};
use crate::print_kernel_time;
use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, BenchmarkId, Criterion, Throughput};
use offload_core::gpu::cpu::CpuBackend;
use offload_core::gpu::{Backend, BufferId, ElementwiseOp, GpuBackend, GpuError, ReduceOp};
use offload_core::par;

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

pub(crate) fn bench_vectors(c: &mut Criterion, cfg: &Cfg, devs: &mut [(&'static str, Backend)]) {
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
pub(crate) fn bench_copy(c: &mut Criterion, cfg: &Cfg) {
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
