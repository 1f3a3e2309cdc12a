//! Vector kernels over `f64` slices: the reference for the vector-guest ABI v1.
//!
//! Lengths are in elements. All kernels follow IEEE-754: NaN and ±Inf propagate.
//!
//! Two families:
//! - the *scalar* kernels [`sum`], [`dot`], [`mul`], [`scale`] add strictly left to
//!   right, so their result is the exact sequential reference;
//! - the *SIMD* kernels [`sum_simd`], [`dot_simd`] keep several partial sums in
//!   vector registers (AVX2 or SSE2 on x86-64, chosen at run time when the `std`
//!   feature is on; simd128 on wasm32 when compiled with `+simd128`; a portable
//!   8-accumulator loop elsewhere). Their summation order differs from the scalar
//!   ones, so compare them with a relative tolerance (see [`rel_close`]).
//!
//! `mul` and `scale` are element-wise and give the same bits on every path.

use thiserror::Error;

/// Slices that must have the same length do not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[error("length mismatch: {what} has {got} elements, expected {expected}")]
pub struct ShapeError {
    /// Which argument was wrong (`"b"`, `"out"`).
    pub what: &'static str,
    /// Its length in elements.
    pub got: usize,
    /// The length it had to have (that of `a`).
    pub expected: usize,
}

fn check_len(what: &'static str, got: usize, expected: usize) -> Result<(), ShapeError> {
    if got == expected {
        Ok(())
    } else {
        Err(ShapeError {
            what,
            got,
            expected,
        })
    }
}

/// Which instruction set the SIMD kernels use on this machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SimdLevel {
    /// x86-64 AVX2: 4 `f64` lanes, 4 independent accumulators.
    Avx2,
    /// x86-64 SSE2: 2 `f64` lanes, 4 independent accumulators.
    Sse2,
    /// WebAssembly simd128: 2 `f64` lanes, 8 independent accumulators for `sum_simd`, 4 for
    /// `dot_simd`.
    Simd128,
    /// No vector unit used: 8 scalar accumulators.
    Portable,
}

impl SimdLevel {
    /// Short lower-case name, e.g. `"avx2"`.
    pub fn name(self) -> &'static str {
        match self {
            SimdLevel::Avx2 => "avx2",
            SimdLevel::Sse2 => "sse2",
            SimdLevel::Simd128 => "simd128",
            SimdLevel::Portable => "portable",
        }
    }
}

/// The instruction set [`sum_simd`] and [`dot_simd`] use on this machine.
pub fn simd_level() -> SimdLevel {
    #[cfg(target_arch = "x86_64")]
    {
        if x86::has_avx2() {
            SimdLevel::Avx2
        } else {
            SimdLevel::Sse2
        }
    }
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    {
        SimdLevel::Simd128
    }
    #[cfg(not(any(
        target_arch = "x86_64",
        all(target_arch = "wasm32", target_feature = "simd128")
    )))]
    {
        SimdLevel::Portable
    }
}

/// Σ a\[i\], added strictly left to right. Returns 0.0 for an empty slice.
pub fn sum(a: &[f64]) -> f64 {
    let mut s = 0.0;
    for &x in a {
        s += x;
    }
    s
}

/// Σ a\[i\]·b\[i\], added strictly left to right.
///
/// # Errors
/// [`ShapeError`] when `b.len() != a.len()`.
pub fn dot(a: &[f64], b: &[f64]) -> Result<f64, ShapeError> {
    check_len("b", b.len(), a.len())?;
    let mut s = 0.0;
    for (&x, &y) in a.iter().zip(b) {
        s += x * y;
    }
    Ok(s)
}

/// out\[i\] = a\[i\]·b\[i\].
///
/// # Errors
/// [`ShapeError`] when `b` or `out` is not as long as `a`; `out` is then untouched.
pub fn mul(a: &[f64], b: &[f64], out: &mut [f64]) -> Result<(), ShapeError> {
    check_len("b", b.len(), a.len())?;
    check_len("out", out.len(), a.len())?;
    for ((o, &x), &y) in out.iter_mut().zip(a).zip(b) {
        *o = x * y;
    }
    Ok(())
}

/// out\[i\] = scalar·a\[i\].
///
/// # Errors
/// [`ShapeError`] when `out` is not as long as `a`; `out` is then untouched.
pub fn scale(scalar: f64, a: &[f64], out: &mut [f64]) -> Result<(), ShapeError> {
    check_len("out", out.len(), a.len())?;
    for (o, &x) in out.iter_mut().zip(a) {
        *o = scalar * x;
    }
    Ok(())
}

/// Σ a\[i\] with SIMD partial sums (see the module docs for the instruction set and
/// why the result may differ from [`sum`] in the last bits).
pub fn sum_simd(a: &[f64]) -> f64 {
    #[cfg(target_arch = "x86_64")]
    {
        if x86::has_avx2() {
            // SAFETY: AVX2 is present (checked at run time or at compile time).
            unsafe { x86::sum_avx2(a) }
        } else {
            // SAFETY: SSE2 is part of the x86-64 baseline.
            unsafe { x86::sum_sse2(a) }
        }
    }
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    {
        wasm::sum_simd128(a)
    }
    #[cfg(not(any(
        target_arch = "x86_64",
        all(target_arch = "wasm32", target_feature = "simd128")
    )))]
    {
        portable::sum8(a)
    }
}

/// Σ a\[i\]·b\[i\] with SIMD partial sums (products and sums are separate roundings,
/// no FMA, so only the order differs from [`dot`]).
///
/// # Errors
/// [`ShapeError`] when `b.len() != a.len()`.
pub fn dot_simd(a: &[f64], b: &[f64]) -> Result<f64, ShapeError> {
    check_len("b", b.len(), a.len())?;
    #[cfg(target_arch = "x86_64")]
    {
        if x86::has_avx2() {
            // SAFETY: AVX2 is present; the lengths are equal.
            Ok(unsafe { x86::dot_avx2(a, b) })
        } else {
            // SAFETY: SSE2 is part of the x86-64 baseline.
            Ok(unsafe { x86::dot_sse2(a, b) })
        }
    }
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    {
        Ok(wasm::dot_simd128(a, b))
    }
    #[cfg(not(any(
        target_arch = "x86_64",
        all(target_arch = "wasm32", target_feature = "simd128")
    )))]
    {
        Ok(portable::dot8(a, b))
    }
}

/// True when `got` is within `rel` of `want`, relative to `max(|want|, scale)`,
/// where `scale` guards results that cancel to near zero (pass e.g. Σ|a\[i\]|).
/// NaN matches only NaN, and an infinity only the same infinity.
pub fn rel_close(got: f64, want: f64, rel: f64, scale: f64) -> bool {
    if want.is_nan() || got.is_nan() {
        return want.is_nan() && got.is_nan();
    }
    if want.is_infinite() || got.is_infinite() {
        return want == got;
    }
    (got - want).abs() <= rel * want.abs().max(scale.abs()).max(f64::MIN_POSITIVE)
}

#[cfg(not(any(
    target_arch = "x86_64",
    all(target_arch = "wasm32", target_feature = "simd128")
)))]
mod portable {
    pub fn sum8(a: &[f64]) -> f64 {
        let mut acc = [0.0f64; 8];
        let chunks = a.chunks_exact(8);
        let tail = chunks.remainder();
        for c in chunks {
            for (s, &x) in acc.iter_mut().zip(c) {
                *s += x;
            }
        }
        let mut s = acc.iter().sum::<f64>();
        for &x in tail {
            s += x;
        }
        s
    }

    pub fn dot8(a: &[f64], b: &[f64]) -> f64 {
        let mut acc = [0.0f64; 8];
        let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
        let (ta, tb) = (ca.remainder(), cb.remainder());
        for (x8, y8) in ca.zip(cb) {
            for i in 0..8 {
                acc[i] += x8[i] * y8[i];
            }
        }
        let mut s = acc.iter().sum::<f64>();
        for (&x, &y) in ta.iter().zip(tb) {
            s += x * y;
        }
        s
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use core::arch::x86_64::*;

    #[inline]
    pub fn has_avx2() -> bool {
        #[cfg(feature = "std")]
        {
            std::is_x86_feature_detected!("avx2")
        }
        #[cfg(not(feature = "std"))]
        {
            cfg!(target_feature = "avx2")
        }
    }

    /// # Safety
    /// The CPU must support AVX2.
    #[target_feature(enable = "avx2")]
    pub unsafe fn sum_avx2(a: &[f64]) -> f64 {
        let n = a.len();
        let p = a.as_ptr();
        let mut acc = [_mm256_setzero_pd(); 4];
        let mut i = 0;
        while i + 16 <= n {
            // SAFETY: i + 16 <= n, loadu has no alignment requirement.
            unsafe {
                acc[0] = _mm256_add_pd(acc[0], _mm256_loadu_pd(p.add(i)));
                acc[1] = _mm256_add_pd(acc[1], _mm256_loadu_pd(p.add(i + 4)));
                acc[2] = _mm256_add_pd(acc[2], _mm256_loadu_pd(p.add(i + 8)));
                acc[3] = _mm256_add_pd(acc[3], _mm256_loadu_pd(p.add(i + 12)));
            }
            i += 16;
        }
        let v = _mm256_add_pd(_mm256_add_pd(acc[0], acc[1]), _mm256_add_pd(acc[2], acc[3]));
        let mut lanes = [0.0f64; 4];
        // SAFETY: lanes has room for 4 f64.
        unsafe { _mm256_storeu_pd(lanes.as_mut_ptr(), v) };
        let mut s = (lanes[0] + lanes[1]) + (lanes[2] + lanes[3]);
        for &x in &a[i..] {
            s += x;
        }
        s
    }

    /// # Safety
    /// The CPU must support AVX2 and `a.len() == b.len()`.
    #[target_feature(enable = "avx2")]
    pub unsafe fn dot_avx2(a: &[f64], b: &[f64]) -> f64 {
        let n = a.len().min(b.len());
        let (pa, pb) = (a.as_ptr(), b.as_ptr());
        let mut acc = [_mm256_setzero_pd(); 4];
        let mut i = 0;
        while i + 16 <= n {
            // SAFETY: i + 16 <= n for both slices.
            unsafe {
                for (k, s) in acc.iter_mut().enumerate() {
                    let x = _mm256_loadu_pd(pa.add(i + 4 * k));
                    let y = _mm256_loadu_pd(pb.add(i + 4 * k));
                    *s = _mm256_add_pd(*s, _mm256_mul_pd(x, y));
                }
            }
            i += 16;
        }
        let v = _mm256_add_pd(_mm256_add_pd(acc[0], acc[1]), _mm256_add_pd(acc[2], acc[3]));
        let mut lanes = [0.0f64; 4];
        // SAFETY: lanes has room for 4 f64.
        unsafe { _mm256_storeu_pd(lanes.as_mut_ptr(), v) };
        let mut s = (lanes[0] + lanes[1]) + (lanes[2] + lanes[3]);
        for k in i..n {
            s += a[k] * b[k];
        }
        s
    }

    /// # Safety
    /// SSE2 is part of the x86-64 baseline, so this is always callable there.
    #[target_feature(enable = "sse2")]
    pub unsafe fn sum_sse2(a: &[f64]) -> f64 {
        let n = a.len();
        let p = a.as_ptr();
        let mut acc = [_mm_setzero_pd(); 4];
        let mut i = 0;
        while i + 8 <= n {
            // SAFETY: i + 8 <= n; SSE2 is part of x86-64.
            unsafe {
                for (k, s) in acc.iter_mut().enumerate() {
                    *s = _mm_add_pd(*s, _mm_loadu_pd(p.add(i + 2 * k)));
                }
            }
            i += 8;
        }
        let v = _mm_add_pd(_mm_add_pd(acc[0], acc[1]), _mm_add_pd(acc[2], acc[3]));
        let mut lanes = [0.0f64; 2];
        // SAFETY: lanes has room for 2 f64.
        unsafe { _mm_storeu_pd(lanes.as_mut_ptr(), v) };
        let mut s = lanes[0] + lanes[1];
        for &x in &a[i..] {
            s += x;
        }
        s
    }

    /// # Safety
    /// SSE2 is part of the x86-64 baseline, so this is always callable there.
    #[target_feature(enable = "sse2")]
    pub unsafe fn dot_sse2(a: &[f64], b: &[f64]) -> f64 {
        let n = a.len().min(b.len());
        let (pa, pb) = (a.as_ptr(), b.as_ptr());
        let mut acc = [_mm_setzero_pd(); 4];
        let mut i = 0;
        while i + 8 <= n {
            // SAFETY: i + 8 <= n for both slices.
            unsafe {
                for (k, s) in acc.iter_mut().enumerate() {
                    let x = _mm_loadu_pd(pa.add(i + 2 * k));
                    let y = _mm_loadu_pd(pb.add(i + 2 * k));
                    *s = _mm_add_pd(*s, _mm_mul_pd(x, y));
                }
            }
            i += 8;
        }
        let v = _mm_add_pd(_mm_add_pd(acc[0], acc[1]), _mm_add_pd(acc[2], acc[3]));
        let mut lanes = [0.0f64; 2];
        // SAFETY: lanes has room for 2 f64.
        unsafe { _mm_storeu_pd(lanes.as_mut_ptr(), v) };
        let mut s = lanes[0] + lanes[1];
        for k in i..n {
            s += a[k] * b[k];
        }
        s
    }
}

#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
mod wasm {
    use core::arch::wasm32::*;

    /// Accumulators of [`sum_simd128`]: 8 × 2 lanes, 16 elements in flight (as AVX2's
    /// 4 × 4).
    const ACC: usize = 8;
    /// Elements per loop iteration of [`sum_simd128`]: four blocks of 16. wasmtime checks
    /// its deadline at every loop header; that check's slow path is a call, so Cranelift
    /// keeps the accumulators in stack slots across iterations (a reload and a store of
    /// each per iteration), and four blocks share one of those.
    const STEP: usize = 4 * 2 * ACC;

    pub fn sum_simd128(a: &[f64]) -> f64 {
        let n = a.len();
        let p = a.as_ptr();
        let mut acc = [f64x2_splat(0.0); ACC];
        let mut i = 0;
        // Each accumulator takes its elements in the same order in both loops (block by
        // block), so the step does not change the result.
        while i + STEP <= n {
            for b in 0..STEP / (2 * ACC) {
                for (k, s) in acc.iter_mut().enumerate() {
                    // SAFETY: i + STEP <= n; v128_load allows unaligned addresses.
                    let x = unsafe { v128_load(p.add(i + 2 * ACC * b + 2 * k) as *const v128) };
                    *s = f64x2_add(*s, x);
                }
            }
            i += STEP;
        }
        while i + 2 * ACC <= n {
            for (k, s) in acc.iter_mut().enumerate() {
                // SAFETY: i + 16 <= n; v128_load allows unaligned addresses.
                let x = unsafe { v128_load(p.add(i + 2 * k) as *const v128) };
                *s = f64x2_add(*s, x);
            }
            i += 2 * ACC;
        }
        // (0+1)+(2+3) + (4+5)+(6+7), then the two lanes.
        let lo = f64x2_add(f64x2_add(acc[0], acc[1]), f64x2_add(acc[2], acc[3]));
        let hi = f64x2_add(f64x2_add(acc[4], acc[5]), f64x2_add(acc[6], acc[7]));
        let v = f64x2_add(lo, hi);
        let mut s = f64x2_extract_lane::<0>(v) + f64x2_extract_lane::<1>(v);
        for &x in &a[i..] {
            s += x;
        }
        s
    }

    pub fn dot_simd128(a: &[f64], b: &[f64]) -> f64 {
        let n = a.len().min(b.len());
        let (pa, pb) = (a.as_ptr(), b.as_ptr());
        let mut acc = [f64x2_splat(0.0); 4];
        let mut i = 0;
        while i + 8 <= n {
            for (k, s) in acc.iter_mut().enumerate() {
                // SAFETY: i + 8 <= n for both slices; unaligned loads are allowed.
                let (x, y) = unsafe {
                    (
                        v128_load(pa.add(i + 2 * k) as *const v128),
                        v128_load(pb.add(i + 2 * k) as *const v128),
                    )
                };
                *s = f64x2_add(*s, f64x2_mul(x, y));
            }
            i += 8;
        }
        let v = f64x2_add(f64x2_add(acc[0], acc[1]), f64x2_add(acc[2], acc[3]));
        let mut s = f64x2_extract_lane::<0>(v) + f64x2_extract_lane::<1>(v);
        for k in i..n {
            s += a[k] * b[k];
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use std::vec::Vec;

    /// xorshift data in [-1, 1): fresh per seed, no external crate needed.
    fn gen(n: usize, seed: u64) -> Vec<f64> {
        let mut x = seed.wrapping_mul(6364136223846793005) | 1;
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
            })
            .collect()
    }

    #[test]
    fn simd_matches_scalar_for_every_tail_length() {
        for n in (0..70).chain([1000, 1023, 4099]) {
            let (a, b) = (gen(n, n as u64 + 1), gen(n, n as u64 + 7));
            let (a, b) = (&a[..], &b[..]);
            let abs: f64 = a.iter().map(|x| x.abs()).sum();
            assert!(rel_close(sum_simd(a), sum(a), 1e-12, abs), "sum n={n}");
            let absd: f64 = a.iter().zip(b).map(|(x, y)| (x * y).abs()).sum();
            let d = dot(a, b).unwrap();
            assert!(
                rel_close(dot_simd(a, b).unwrap(), d, 1e-12, absd),
                "dot n={n}"
            );
        }
    }

    #[test]
    fn known_values() {
        let a = [1.0, 2.0, 3.0, 4.0, 5.0];
        let b = [2.0, 2.0, 2.0, 2.0, 0.5];
        assert_eq!(sum(&a), 15.0);
        assert_eq!(sum_simd(&a), 15.0);
        assert_eq!(dot(&a, &b).unwrap(), 22.5);
        assert_eq!(dot_simd(&a, &b).unwrap(), 22.5);
        let mut out = [0.0; 5];
        mul(&a, &b, &mut out).unwrap();
        assert_eq!(out, [2.0, 4.0, 6.0, 8.0, 2.5]);
        scale(-2.0, &a, &mut out).unwrap();
        assert_eq!(out, [-2.0, -4.0, -6.0, -8.0, -10.0]);
        assert_eq!(sum(&[]), 0.0);
        assert_eq!(sum_simd(&[]), 0.0);
    }

    #[test]
    fn nan_and_inf_propagate() {
        let mut a = [1.0f64; 40];
        a[17] = f64::NAN;
        assert!(sum(&a).is_nan() && sum_simd(&a).is_nan());
        a[17] = f64::INFINITY;
        assert_eq!(sum_simd(&a), f64::INFINITY);
        assert_eq!(dot_simd(&a, &[1.0; 40]).unwrap(), f64::INFINITY);
        a[3] = f64::NEG_INFINITY;
        assert!(sum_simd(&a).is_nan());
    }

    #[test]
    fn shape_errors_leave_out_untouched() {
        let mut out = [7.0; 3];
        let e = mul(&[1.0; 3], &[1.0; 2], &mut out).unwrap_err();
        assert_eq!((e.what, e.got, e.expected), ("b", 2, 3));
        assert_eq!(scale(1.0, &[1.0; 4], &mut out).unwrap_err().what, "out");
        assert_eq!(out, [7.0; 3]);
        assert!(dot(&[1.0], &[]).is_err() && dot_simd(&[1.0], &[]).is_err());
    }

    #[test]
    fn rel_close_semantics() {
        assert!(rel_close(f64::NAN, f64::NAN, 1e-9, 0.0));
        assert!(!rel_close(1.0, f64::NAN, 1e-9, 0.0));
        assert!(!rel_close(f64::INFINITY, f64::NEG_INFINITY, 1e-9, 0.0));
        assert!(rel_close(1.0 + 1e-12, 1.0, 1e-9, 0.0));
        assert!(!rel_close(1.1, 1.0, 1e-9, 0.0));
    }
}
