//! Inputs, the element-type trait [`El`] with its CPU kernels, ops and answer checks.

use crate::cfg::TO_1E9;
use offload_core::fast::{self, Float};
use offload_core::gpu::cpu::{elementwise_ref, reduce_ref};
use offload_core::gpu::{DType, ElementwiseOp, ReduceOp};
use offload_core::rng::Pcg32;
use offload_core::{par, vector};
use rayon::prelude::*;

// ---- inputs ----

/// Elements per PCG32 stream of [`gen`].
const GEN_CHUNK: usize = 1 << 16;

/// `n` values uniform in [-1, 1), generated on all cores; the same values for the same
/// `seed` whatever the thread count.
pub(crate) fn gen<T: El>(n: u64, seed: u64) -> Vec<T> {
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
pub(crate) fn gen_bytes(bytes: u64) -> Vec<u8> {
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

pub(crate) const SCALAR: f64 = 1.75;

/// An element type of the vector benches with its CPU kernels.
pub(crate) trait El: Float + bytemuck::Pod {
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
pub(crate) enum Op {
    Reduce(ReduceOp),
    Dot,
    Elem(ElementwiseOp),
}

#[derive(Clone, Copy, PartialEq)]
pub(crate) enum Family {
    /// `<op>-strict_<dt>`: path cpu only.
    Strict,
    /// `<op>-fast_<dt>`: SIMD, par and GPU paths.
    Fast,
    /// `<op>_<dt>`: an op whose result does not depend on the order (cpu, par, GPU).
    One,
}

impl Op {
    pub(crate) fn name(self) -> &'static str {
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
    pub(crate) fn inputs(self) -> u64 {
        match self {
            Op::Dot => 2,
            Op::Elem(e) if e.is_binary() => 2,
            _ => 1,
        }
    }
    pub(crate) fn is_elem(self) -> bool {
        matches!(self, Op::Elem(_))
    }
    /// Bytes the kernel reads and writes, for GB/s.
    pub(crate) fn bytes(self, n: u64, dtype: DType) -> u64 {
        let e = n * dtype.size();
        match self {
            Op::Elem(_) => (self.inputs() + 1) * e,
            _ => self.inputs() * e,
        }
    }
    pub(crate) fn full_sizes(self) -> &'static [u64] {
        match self {
            Op::Reduce(ReduceOp::Sum)
            | Op::Dot
            | Op::Elem(ElementwiseOp::Mul | ElementwiseOp::Scale) => &TO_1E9,
            _ => &TO_1E9[..6],
        }
    }
}

/// The reference answer of one size.
pub(crate) enum Want<T> {
    /// A reduction's value and Σ|terms| (its condition, the scale of the tolerance).
    Scalar(f64, f64),
    /// An element-wise op's output.
    Vector(Vec<T>),
}

/// The reference, with the `cpu` backend's arithmetic (`reduce_ref`, its dot, the
/// `elementwise_ref` of its dtype), computed on the host inputs.
pub(crate) fn reference<T: El>(op: Op, a: &[T], b: &[T]) -> Want<T> {
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
pub(crate) fn check_scalar(
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
pub(crate) fn check_vector<T: El>(got: &[T], want: &Want<T>, exact: bool) -> Result<(), String> {
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
