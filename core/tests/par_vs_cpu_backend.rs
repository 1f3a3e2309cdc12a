//! `par` and `fast` against the `cpu` backend itself (through the `GpuBackend` API, not a
//! copy of its arithmetic): min/max and the element-wise ops bit for bit, including NaN,
//! −0.0 and ±∞, at lengths around SIMD lanes, blocks and rayon chunks; f32 sum/dot within
//! the fast-family tolerance.

use offload_core::gpu::cpu::CpuBackend;
use offload_core::gpu::{DType, ElementwiseOp, GpuBackend, ReduceOp};
use offload_core::rng::Pcg32;
use offload_core::{fast, par};

const SCALAR: f64 = 1.75;

fn lengths() -> Vec<usize> {
    let c = par::MIN_CHUNK;
    vec![1, 15, 16, 17, 33, 8191, 8193, c - 1, c, c + 1, 4 * c + 5]
}

/// Values in [-1, 1) with a few special values sprinkled in when `specials`.
fn gen(n: usize, seed: u64, specials: bool) -> Vec<f64> {
    let mut r = Pcg32::new(seed, 3);
    let mut v: Vec<f64> = (0..n).map(|_| r.next_f64() * 2.0 - 1.0).collect();
    if specials && n > 4 {
        v[0] = -0.0;
        v[n / 2] = f64::INFINITY;
        v[n - 1] = f64::NEG_INFINITY;
    }
    v
}

fn upload<T: bytemuck::Pod>(cpu: &mut CpuBackend, v: &[T]) -> u64 {
    let bytes: &[u8] = bytemuck::cast_slice(v);
    let id = cpu.create_buffer(bytes.len() as u64).unwrap();
    cpu.write(id, 0, bytes).unwrap();
    id
}

fn download<T: bytemuck::Pod + Default + Clone>(cpu: &mut CpuBackend, id: u64, n: usize) -> Vec<T> {
    let mut v = vec![T::default(); n];
    cpu.read(id, 0, bytemuck::cast_slice_mut(&mut v)).unwrap();
    v
}

#[test]
fn min_max_equal_the_cpu_backend_with_nan_anywhere() {
    let mut cpu = CpuBackend::new();
    for n in lengths() {
        for nan_at in [None, Some(0), Some(n / 3), Some(n - 1)] {
            let mut a = gen(n, n as u64, true);
            if let Some(p) = nan_at {
                a[p] = f64::NAN;
            }
            let a32: Vec<f32> = a.iter().map(|&x| x as f32).collect();
            let (i64_, i32_) = (upload(&mut cpu, &a), upload(&mut cpu, &a32));
            for op in [ReduceOp::Min, ReduceOp::Max] {
                let want64 = cpu.reduce(op, DType::F64, i64_, n as u64).unwrap();
                let want32 = cpu.reduce(op, DType::F32, i32_, n as u64).unwrap();
                let (g64, g32, s64, s32) = match op {
                    ReduceOp::Min => (
                        par::min(&a),
                        par::min_f32(&a32),
                        fast::min(&a),
                        fast::min_f32(&a32),
                    ),
                    _ => (
                        par::max(&a),
                        par::max_f32(&a32),
                        fast::max(&a),
                        fast::max_f32(&a32),
                    ),
                };
                let same = |g: f64, w: f64| (g.is_nan() && w.is_nan()) || g == w;
                assert!(
                    same(g64, want64),
                    "{op:?} f64 n={n} nan={nan_at:?}: {g64} vs {want64}"
                );
                assert!(same(s64, want64), "{op:?} fast f64 n={n} nan={nan_at:?}");
                assert!(
                    same(g32 as f64, want32),
                    "{op:?} f32 n={n} nan={nan_at:?}: {g32} vs {want32}"
                );
                assert!(
                    same(s32 as f64, want32),
                    "{op:?} fast f32 n={n} nan={nan_at:?}"
                );
                assert_eq!(g64.is_nan(), nan_at.is_some());
            }
            cpu.destroy_buffer(i64_).unwrap();
            cpu.destroy_buffer(i32_).unwrap();
        }
    }
}

#[test]
fn elementwise_equals_the_cpu_backend_bit_for_bit() {
    let mut cpu = CpuBackend::new();
    for n in lengths() {
        let mut a = gen(n, 7 + n as u64, true);
        let b = gen(n, 8 + n as u64, false);
        if n > 4 {
            a[1] = f64::NAN;
        }
        let (a32, b32): (Vec<f32>, Vec<f32>) = (
            a.iter().map(|&x| x as f32).collect(),
            b.iter().map(|&x| x as f32).collect(),
        );
        let ids64 = (
            upload(&mut cpu, &a),
            upload(&mut cpu, &b),
            upload(&mut cpu, &b),
        );
        let ids32 = (
            upload(&mut cpu, &a32),
            upload(&mut cpu, &b32),
            upload(&mut cpu, &b32),
        );
        for op in [
            ElementwiseOp::Mul,
            ElementwiseOp::Add,
            ElementwiseOp::Scale,
            ElementwiseOp::Relu,
        ] {
            cpu.elementwise(
                op,
                DType::F64,
                ids64.0,
                Some(ids64.1),
                SCALAR,
                ids64.2,
                n as u64,
            )
            .unwrap();
            let want64: Vec<u64> = download::<u64>(&mut cpu, ids64.2, n);
            cpu.elementwise(
                op,
                DType::F32,
                ids32.0,
                Some(ids32.1),
                SCALAR,
                ids32.2,
                n as u64,
            )
            .unwrap();
            let want32: Vec<u32> = download::<u32>(&mut cpu, ids32.2, n);
            let (mut o64, mut o32) = (vec![9.0f64; n], vec![9.0f32; n]);
            match op {
                ElementwiseOp::Mul => {
                    par::mul(&a, &b, &mut o64).unwrap();
                    par::mul_f32(&a32, &b32, &mut o32).unwrap();
                }
                ElementwiseOp::Add => {
                    par::add(&a, &b, &mut o64).unwrap();
                    par::add_f32(&a32, &b32, &mut o32).unwrap();
                }
                ElementwiseOp::Scale => {
                    par::scale(SCALAR, &a, &mut o64).unwrap();
                    par::scale_f32(SCALAR as f32, &a32, &mut o32).unwrap();
                }
                ElementwiseOp::Relu => {
                    par::relu(&a, &mut o64).unwrap();
                    par::relu_f32(&a32, &mut o32).unwrap();
                }
            }
            let got64: Vec<u64> = o64.iter().map(|x| x.to_bits()).collect();
            let got32: Vec<u32> = o32.iter().map(|x| x.to_bits()).collect();
            assert_eq!(got64, want64, "{op:?} f64 n={n}");
            assert_eq!(got32, want32, "{op:?} f32 n={n}");
        }
        for id in [ids64.0, ids64.1, ids64.2, ids32.0, ids32.1, ids32.2] {
            cpu.destroy_buffer(id).unwrap();
        }
    }
}

#[test]
fn f32_sum_and_dot_within_the_bench_tolerance_of_the_cpu_backend() {
    let mut cpu = CpuBackend::new();
    for n in lengths() {
        let a: Vec<f32> = gen(n, 20 + n as u64, false)
            .iter()
            .map(|&x| x as f32)
            .collect();
        let b: Vec<f32> = gen(n, 30 + n as u64, false)
            .iter()
            .map(|&x| x as f32)
            .collect();
        let (ia, ib) = (upload(&mut cpu, &a), upload(&mut cpu, &b));
        let want_sum = cpu.reduce(ReduceOp::Sum, DType::F32, ia, n as u64).unwrap();
        let want_dot = cpu.dot(DType::F32, ia, ib, n as u64).unwrap();
        let cond_sum: f64 = a.iter().map(|&x| (x as f64).abs()).sum();
        let cond_dot: f64 = a
            .iter()
            .zip(&b)
            .map(|(&x, &y)| (x as f64 * y as f64).abs())
            .sum();
        for (what, got, want, cond) in [
            ("fast sum", fast::sum_f32(&a) as f64, want_sum, cond_sum),
            ("par sum", par::sum_f32(&a) as f64, want_sum, cond_sum),
            (
                "fast dot",
                fast::dot_f32(&a, &b).unwrap() as f64,
                want_dot,
                cond_dot,
            ),
            (
                "par dot",
                par::dot_f32(&a, &b).unwrap() as f64,
                want_dot,
                cond_dot,
            ),
        ] {
            let err = (got - want).abs() / cond.max(f64::MIN_POSITIVE);
            assert!(err <= 1e-6, "{what} n={n}: error {err:e} of Σ|terms|");
        }
        cpu.destroy_buffer(ia).unwrap();
        cpu.destroy_buffer(ib).unwrap();
    }
}
