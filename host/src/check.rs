//! Seeded inputs, the `offload-core` reference, and how results are compared.
//!
//! How a result must agree with offload-core depends on the op's [`Family`]
//! (docs/benchmarks.md):
//!
//! - **strict** reductions (`sum`, `dot`) add left to right on every path, so they must
//!   give core's `vector::sum` / `vector::dot` *bit for bit* (NaN matches any NaN, as
//!   wasm does not fix NaN payloads; the sign of a zero counts);
//! - **fast** reductions (`sum_simd`, `dot_simd`) may add in any order (chunks, SIMD
//!   lanes, threads), so they are compared with a relative tolerance scaled by
//!   Σ|terms|: |got − want| ≤ [`REDUCTION_REL_TOL`]·max(|want|, Σ|terms|). The bound
//!   follows the classic error analysis of recursive summation (Higham, *Accuracy and
//!   Stability of Numerical Algorithms*, 2nd ed., §4.2: |error| ≤ (n−1)·u·Σ|terms| to
//!   first order), far below it for random data;
//! - element-wise ops (`mul`, `scale`) are one IEEE-754 rounding per element and must
//!   match exactly (NaN matches NaN).

use rand::{Rng, SeedableRng};
use rand_pcg::Pcg64;

use crate::{Family, Op, Result, VectorGuest};

/// Relative tolerance for fast reductions, scaled by Σ|terms| (see the module docs).
pub const REDUCTION_REL_TOL: f64 = 1e-12;

/// The inputs of one op: `a`, `b` (same length, elements) and the `scale` scalar.
#[derive(Debug, Clone, PartialEq)]
pub struct Inputs {
    /// First operand.
    pub a: Vec<f64>,
    /// Second operand (used by `dot` and `mul`).
    pub b: Vec<f64>,
    /// Multiplier of `scale`.
    pub scalar: f64,
}

impl Inputs {
    /// `n` elements each of `a` and `b`, uniform in [−1, 1), and a scalar in
    /// [−2, 2), from a PCG-64 generator seeded with `seed` (same seed, same data, on
    /// every machine).
    pub fn generate(n: usize, seed: u64) -> Self {
        let mut rng = Pcg64::seed_from_u64(seed);
        let a = (0..n).map(|_| rng.random_range(-1.0..1.0)).collect();
        let b = (0..n).map(|_| rng.random_range(-1.0..1.0)).collect();
        let scalar = rng.random_range(-2.0..2.0);
        Inputs { a, b, scalar }
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.a.len()
    }

    /// Whether there are no elements.
    pub fn is_empty(&self) -> bool {
        self.a.is_empty()
    }

    /// Σ|terms| of `op` (Σ|a| or Σ|a·b|): the scale of the reduction tolerance.
    pub fn magnitude(&self, op: Op) -> f64 {
        match op {
            Op::Dot | Op::DotSimd => self.a.iter().zip(&self.b).map(|(x, y)| (x * y).abs()).sum(),
            _ => self.a.iter().map(|x| x.abs()).sum(),
        }
    }
}

/// The result of one op.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// The reductions.
    Scalar(f64),
    /// `mul`, `scale`: one element per input element.
    Vector(Vec<f64>),
}

/// What `offload-core` computes for `op`: `vector::sum` / `dot` for the strict
/// reductions, `vector::sum_simd` / `dot_simd` (this CPU's SIMD) for the fast ones,
/// `vector::mul` / `scale`.
pub fn reference(op: Op, x: &Inputs) -> Answer {
    use offload_core::vector as v;
    match op {
        Op::Sum => Answer::Scalar(v::sum(&x.a)),
        Op::SumSimd => Answer::Scalar(v::sum_simd(&x.a)),
        // Inputs always have equal lengths; a mismatch would be a bug here.
        Op::Dot => Answer::Scalar(v::dot(&x.a, &x.b).unwrap_or(f64::NAN)),
        Op::DotSimd => Answer::Scalar(v::dot_simd(&x.a, &x.b).unwrap_or(f64::NAN)),
        Op::Mul => {
            let mut out = vec![0.0; x.len()];
            if v::mul(&x.a, &x.b, &mut out).is_err() {
                out.fill(f64::NAN);
            }
            Answer::Vector(out)
        }
        Op::Scale => {
            let mut out = vec![0.0; x.len()];
            if v::scale(x.scalar, &x.a, &mut out).is_err() {
                out.fill(f64::NAN);
            }
            Answer::Vector(out)
        }
    }
}

/// Runs `op` on `guest` through its user-facing method (copy in, call, copy out,
/// chunked).
///
/// # Errors
/// What the guest call returns ([`crate::Error::Unsupported`] for a strict `dot` on a
/// v1 guest).
pub fn run_guest(guest: &mut VectorGuest, op: Op, x: &Inputs) -> Result<Answer> {
    Ok(match op {
        Op::Sum => Answer::Scalar(guest.sum(&x.a)?),
        Op::SumSimd => Answer::Scalar(guest.sum_simd(&x.a)?),
        Op::Dot => Answer::Scalar(guest.dot(&x.a, &x.b)?),
        Op::DotSimd => Answer::Scalar(guest.dot_simd(&x.a, &x.b)?),
        Op::Mul => {
            let mut out = vec![0.0; x.len()];
            guest.mul(&x.a, &x.b, &mut out)?;
            Answer::Vector(out)
        }
        Op::Scale => {
            let mut out = vec![0.0; x.len()];
            guest.scale(x.scalar, &x.a, &mut out)?;
            Answer::Vector(out)
        }
    })
}

/// How far `got` is from `want`, relative: for a scalar |got − want| /
/// max(|want|, `magnitude`) (see [`Inputs::magnitude`]); for a vector the largest
/// |got\[i\] − want\[i\]| / |want\[i\]|. Equal values, NaN against NaN and equal
/// infinities count 0; NaN against a number, differing infinities or different
/// shapes count +∞.
pub fn rel_error(got: &Answer, want: &Answer, magnitude: f64) -> f64 {
    match (got, want) {
        (Answer::Scalar(g), Answer::Scalar(w)) => rel1(*g, *w, magnitude),
        (Answer::Vector(g), Answer::Vector(w)) if g.len() == w.len() => g
            .iter()
            .zip(w)
            .map(|(g, w)| rel1(*g, *w, 0.0))
            .fold(0.0, f64::max),
        _ => f64::INFINITY,
    }
}

fn rel1(got: f64, want: f64, magnitude: f64) -> f64 {
    if got == want || (got.is_nan() && want.is_nan()) {
        return 0.0;
    }
    if !got.is_finite() || !want.is_finite() {
        return f64::INFINITY;
    }
    (got - want).abs() / want.abs().max(magnitude).max(f64::MIN_POSITIVE)
}

/// Whether `got` has the same bits as `want` (every element for a vector): NaN
/// matches any NaN, and +0.0 does not match −0.0.
pub fn bit_equal(got: &Answer, want: &Answer) -> bool {
    fn same(g: f64, w: f64) -> bool {
        g.to_bits() == w.to_bits() || (g.is_nan() && w.is_nan())
    }
    match (got, want) {
        (Answer::Scalar(g), Answer::Scalar(w)) => same(*g, *w),
        (Answer::Vector(g), Answer::Vector(w)) => {
            g.len() == w.len() && g.iter().zip(w).all(|(g, w)| same(*g, *w))
        }
        _ => false,
    }
}

/// How `op`'s result is held to core's, in words (for CLI output and messages):
/// `bit-equal`, `rel 1e-12 scaled by sum|terms|` or `exact`.
pub fn criterion(op: Op) -> String {
    match op.family() {
        Some(Family::Strict) => "bit-equal to offload-core".to_string(),
        Some(Family::Fast) => format!("relative {REDUCTION_REL_TOL:e} scaled by sum|terms|"),
        None => "exact".to_string(),
    }
}

/// Whether `got` passes for `op`: strict reductions bit for bit ([`bit_equal`]), fast
/// reductions within [`REDUCTION_REL_TOL`] (scaled as in [`rel_error`]), element-wise
/// ops exactly.
pub fn agrees(op: Op, got: &Answer, want: &Answer, magnitude: f64) -> bool {
    match op.family() {
        Some(Family::Strict) => bit_equal(got, want),
        Some(Family::Fast) => rel_error(got, want, magnitude) <= REDUCTION_REL_TOL,
        None => rel_error(got, want, magnitude) == 0.0,
    }
}
