//! One-thread *fast-family* kernels over `f32` and `f64` slices: the `rust-native-simd` path
//! of the GPU benches and the per-chunk kernels of [`crate::par`].
//!
//! Each kernel keeps several independent accumulators in vector registers, so the order of
//! every addition is fixed by the code, not by the compiler (no reassociation is needed):
//!
//! - [`sum_f32`], [`dot_f32`]: explicit x86-64 intrinsics, 4 accumulators of 8 lanes (AVX2,
//!   picked at run time) or of 4 lanes (SSE2, the baseline); a portable 32-lane array
//!   elsewhere. They **accumulate in `f32`**, as the GPU kernels do (the `cpu` reference
//!   backend accumulates `f32` in `f64`). The input is taken in blocks of [`BLOCK`]
//!   elements; each block is added in the lanes and the block sums are added in order,
//!   which keeps the error within `(BLOCK/lanes + n/BLOCK)·ε·Σ|a[i]|` (ε = `f32::EPSILON`)
//!   rather than `n·ε·Σ|a[i]|`. Fast family: compare with a relative tolerance
//!   ([`crate::vector::rel_close`]), never bit for bit. `dot_f32` rounds each product and
//!   each sum separately (no FMA). For `f64` use [`crate::vector::sum_simd`] and
//!   [`crate::vector::dot_simd`].
//! - [`min`], [`max`] (`f64`) and [`min_f32`], [`max_f32`]: [`LANES`]-wide lane arrays that
//!   LLVM vectorises (compiled for SSE2 and for AVX2, picked at run time), with the
//!   semantics of the `cpu` backend's `reduce_ref`: any NaN in the input gives NaN; an
//!   empty slice gives +∞ (min) or −∞ (max). Which zero comes back when both −0.0 and +0.0
//!   are the extremum is unspecified (they compare equal). The result is exact (no
//!   rounding), so it equals the reference up to that sign of zero.
//! - The element-wise loops behind [`crate::par`]'s `mul`, `add`, `scale`, `relu` are
//!   compiled the same two ways.
//!
//! Lengths are in elements. Requires the `std` feature (run-time CPU detection).

use crate::vector::ShapeError;
use core::ops::{Add, Mul};

/// Lanes of the generic min/max and element-wise loops (16: two AVX2 registers of `f32`,
/// four of `f64`).
pub const LANES: usize = 16;

/// Elements per block of [`sum_f32`] and [`dot_f32`] (8 Ki `f32` = 32 KiB, one L1 data
/// cache): each block is added in lanes, then the block sums in order.
pub const BLOCK: usize = 8 * 1024;

/// Lanes of the portable [`sum_f32`] and [`dot_f32`] (targets other than x86-64).
const LANES32: usize = 32;

mod sealed {
    pub trait Sealed {}
    impl Sealed for f32 {}
    impl Sealed for f64 {}
}

/// The element types of the fast kernels: `f32` and `f64` (sealed).
pub trait Float:
    sealed::Sealed + Copy + Send + Sync + PartialOrd + Add<Output = Self> + Mul<Output = Self> + 'static
{
    /// 0.0.
    const ZERO: Self;
    /// +∞ (the identity of min).
    const INFINITY: Self;
    /// −∞ (the identity of max).
    const NEG_INFINITY: Self;
    /// Whether the value is NaN.
    fn is_nan(self) -> bool;
}

impl Float for f32 {
    const ZERO: Self = 0.0;
    const INFINITY: Self = f32::INFINITY;
    const NEG_INFINITY: Self = f32::NEG_INFINITY;
    #[inline(always)]
    fn is_nan(self) -> bool {
        f32::is_nan(self)
    }
}

impl Float for f64 {
    const ZERO: Self = 0.0;
    const INFINITY: Self = f64::INFINITY;
    const NEG_INFINITY: Self = f64::NEG_INFINITY;
    #[inline(always)]
    fn is_nan(self) -> bool {
        f64::is_nan(self)
    }
}

pub(crate) fn check_len(what: &'static str, got: usize, expected: usize) -> Result<(), ShapeError> {
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

#[cfg(target_arch = "x86_64")]
#[inline]
fn has_avx2() -> bool {
    std::is_x86_feature_detected!("avx2")
}

/// Runs `$generic(args)` through its AVX2 copy `$avx2` when the CPU has AVX2.
macro_rules! dispatch {
    ($generic:ident, $avx2:ident, $($arg:expr),*) => {{
        #[cfg(target_arch = "x86_64")]
        {
            if has_avx2() {
                // SAFETY: the CPU has AVX2 (checked at run time).
                return unsafe { avx2::$avx2($($arg),*) };
            }
        }
        $generic($($arg),*)
    }};
}

// ---- the generic bodies (inlined into each instruction-set copy) ----

/// Adds 32 lanes pairwise into one value.
#[cfg_attr(all(target_arch = "x86_64", not(test)), allow(dead_code))]
#[inline(always)]
fn fold_lanes32(mut acc: [f32; LANES32]) -> f32 {
    let mut w = LANES32;
    while w > 1 {
        w /= 2;
        let (lo, hi) = acc[..2 * w].split_at_mut(w);
        for (l, &h) in lo.iter_mut().zip(hi.iter()) {
            *l += h;
        }
    }
    acc[0]
}

#[cfg_attr(all(target_arch = "x86_64", not(test)), allow(dead_code))]
#[inline(always)]
fn sum32_block(a: &[f32]) -> f32 {
    let mut acc = [0.0f32; LANES32];
    let chunks = a.chunks_exact(LANES32);
    let tail = chunks.remainder();
    for c in chunks {
        for (s, &x) in acc.iter_mut().zip(c) {
            *s += x;
        }
    }
    let mut s = fold_lanes32(acc);
    for &x in tail {
        s += x;
    }
    s
}

#[cfg_attr(all(target_arch = "x86_64", not(test)), allow(dead_code))]
#[inline(always)]
fn dot32_block(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0.0f32; LANES32];
    let (ca, cb) = (a.chunks_exact(LANES32), b.chunks_exact(LANES32));
    let (ta, tb) = (ca.remainder(), cb.remainder());
    for (x8, y8) in ca.zip(cb) {
        for ((s, &x), &y) in acc.iter_mut().zip(x8).zip(y8) {
            *s += x * y;
        }
    }
    let mut s = fold_lanes32(acc);
    for (&x, &y) in ta.iter().zip(tb) {
        s += x * y;
    }
    s
}

/// The portable blocked sum (targets other than x86-64; tested everywhere).
#[cfg_attr(all(target_arch = "x86_64", not(test)), allow(dead_code))]
fn sum32_portable(a: &[f32]) -> f32 {
    let mut s = 0.0f32;
    for blk in a.chunks(BLOCK) {
        s += sum32_block(blk);
    }
    s
}

/// The portable blocked dot (targets other than x86-64; tested everywhere).
#[cfg_attr(all(target_arch = "x86_64", not(test)), allow(dead_code))]
fn dot32_portable(a: &[f32], b: &[f32]) -> f32 {
    let mut s = 0.0f32;
    for (x, y) in a.chunks(BLOCK).zip(b.chunks(BLOCK)) {
        s += dot32_block(x, y);
    }
    s
}

/// `m` after seeing `x`: `x` if it is below `m` or NaN, so a NaN, once taken, stays (no
/// value compares below NaN, and NaN is not NaN-checked on the `m` side).
#[inline(always)]
fn min_step<T: Float>(m: T, x: T) -> T {
    if x < m || x.is_nan() {
        x
    } else {
        m
    }
}

#[inline(always)]
fn max_step<T: Float>(m: T, x: T) -> T {
    if x > m || x.is_nan() {
        x
    } else {
        m
    }
}

#[inline(always)]
fn extremum_generic<T: Float>(a: &[T], init: T, step: impl Fn(T, T) -> T) -> T {
    let mut acc = [init; LANES];
    let chunks = a.chunks_exact(LANES);
    let tail = chunks.remainder();
    for c in chunks {
        for (m, &x) in acc.iter_mut().zip(c) {
            *m = step(*m, x);
        }
    }
    let mut m = init;
    for &x in acc.iter().chain(tail) {
        m = step(m, x);
    }
    m
}

#[inline(always)]
fn min_generic<T: Float>(a: &[T]) -> T {
    extremum_generic(a, T::INFINITY, min_step)
}

#[inline(always)]
fn max_generic<T: Float>(a: &[T]) -> T {
    extremum_generic(a, T::NEG_INFINITY, max_step)
}

#[inline(always)]
fn map2_generic<T: Float>(a: &[T], b: &[T], out: &mut [T], f: impl Fn(T, T) -> T) {
    for ((o, &x), &y) in out.iter_mut().zip(a).zip(b) {
        *o = f(x, y);
    }
}

#[inline(always)]
fn map1_generic<T: Float>(a: &[T], out: &mut [T], f: impl Fn(T) -> T) {
    for (o, &x) in out.iter_mut().zip(a) {
        *o = f(x);
    }
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    //! The AVX2 copies: each only calls its `#[inline(always)]` generic body, which LLVM
    //! then vectorises with 256-bit registers.
    use super::*;

    #[target_feature(enable = "avx2")]
    pub unsafe fn min<T: Float>(a: &[T]) -> T {
        min_generic(a)
    }
    #[target_feature(enable = "avx2")]
    pub unsafe fn max<T: Float>(a: &[T]) -> T {
        max_generic(a)
    }
    #[target_feature(enable = "avx2")]
    pub unsafe fn map2<T: Float, F: Fn(T, T) -> T>(a: &[T], b: &[T], out: &mut [T], f: F) {
        map2_generic(a, b, out, f)
    }
    #[target_feature(enable = "avx2")]
    pub unsafe fn map1<T: Float, F: Fn(T) -> T>(a: &[T], out: &mut [T], f: F) {
        map1_generic(a, out, f)
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    //! `f32` sum and dot with explicit vector registers: 4 accumulators of 8 lanes (AVX2)
    //! or of 4 lanes (SSE2), per block of [`BLOCK`] elements; block sums added in order.
    use super::BLOCK;
    use core::arch::x86_64::*;

    macro_rules! blocked {
        ($block:ident, $a:expr) => {{
            let mut s = 0.0f32;
            for blk in $a.chunks(BLOCK) {
                // SAFETY: same target features as the caller.
                s += unsafe { $block(blk) };
            }
            s
        }};
        ($block:ident, $a:expr, $b:expr) => {{
            let mut s = 0.0f32;
            for (x, y) in $a.chunks(BLOCK).zip($b.chunks(BLOCK)) {
                // SAFETY: same target features as the caller; equal lengths.
                s += unsafe { $block(x, y) };
            }
            s
        }};
    }

    /// # Safety
    /// The CPU must support AVX2.
    #[target_feature(enable = "avx2")]
    unsafe fn sum_block_avx2(a: &[f32]) -> f32 {
        let (n, p) = (a.len(), a.as_ptr());
        let mut acc = [_mm256_setzero_ps(); 4];
        let mut i = 0;
        while i + 32 <= n {
            for (k, s) in acc.iter_mut().enumerate() {
                // SAFETY: i + 32 <= n; loadu has no alignment requirement.
                *s = _mm256_add_ps(*s, unsafe { _mm256_loadu_ps(p.add(i + 8 * k)) });
            }
            i += 32;
        }
        let v = _mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3]));
        let mut l = [0.0f32; 8];
        // SAFETY: l has room for 8 f32.
        unsafe { _mm256_storeu_ps(l.as_mut_ptr(), v) };
        let mut s = ((l[0] + l[4]) + (l[1] + l[5])) + ((l[2] + l[6]) + (l[3] + l[7]));
        for &x in &a[i..] {
            s += x;
        }
        s
    }

    /// # Safety
    /// The CPU must support AVX2 and `a.len() == b.len()`.
    #[target_feature(enable = "avx2")]
    unsafe fn dot_block_avx2(a: &[f32], b: &[f32]) -> f32 {
        let n = a.len().min(b.len());
        let (pa, pb) = (a.as_ptr(), b.as_ptr());
        let mut acc = [_mm256_setzero_ps(); 4];
        let mut i = 0;
        while i + 32 <= n {
            for (k, s) in acc.iter_mut().enumerate() {
                // SAFETY: i + 32 <= n for both slices.
                let (x, y) = unsafe {
                    (
                        _mm256_loadu_ps(pa.add(i + 8 * k)),
                        _mm256_loadu_ps(pb.add(i + 8 * k)),
                    )
                };
                *s = _mm256_add_ps(*s, _mm256_mul_ps(x, y));
            }
            i += 32;
        }
        let v = _mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3]));
        let mut l = [0.0f32; 8];
        // SAFETY: l has room for 8 f32.
        unsafe { _mm256_storeu_ps(l.as_mut_ptr(), v) };
        let mut s = ((l[0] + l[4]) + (l[1] + l[5])) + ((l[2] + l[6]) + (l[3] + l[7]));
        for k in i..n {
            s += a[k] * b[k];
        }
        s
    }

    /// # Safety
    /// SSE2 is part of the x86-64 baseline, so this is always callable there.
    #[target_feature(enable = "sse2")]
    unsafe fn sum_block_sse2(a: &[f32]) -> f32 {
        let (n, p) = (a.len(), a.as_ptr());
        let mut acc = [_mm_setzero_ps(); 4];
        let mut i = 0;
        while i + 16 <= n {
            for (k, s) in acc.iter_mut().enumerate() {
                // SAFETY: i + 16 <= n; loadu has no alignment requirement.
                *s = _mm_add_ps(*s, unsafe { _mm_loadu_ps(p.add(i + 4 * k)) });
            }
            i += 16;
        }
        let v = _mm_add_ps(_mm_add_ps(acc[0], acc[1]), _mm_add_ps(acc[2], acc[3]));
        let mut l = [0.0f32; 4];
        // SAFETY: l has room for 4 f32.
        unsafe { _mm_storeu_ps(l.as_mut_ptr(), v) };
        let mut s = (l[0] + l[2]) + (l[1] + l[3]);
        for &x in &a[i..] {
            s += x;
        }
        s
    }

    /// # Safety
    /// SSE2 is part of the x86-64 baseline; `a.len() == b.len()`.
    #[target_feature(enable = "sse2")]
    unsafe fn dot_block_sse2(a: &[f32], b: &[f32]) -> f32 {
        let n = a.len().min(b.len());
        let (pa, pb) = (a.as_ptr(), b.as_ptr());
        let mut acc = [_mm_setzero_ps(); 4];
        let mut i = 0;
        while i + 16 <= n {
            for (k, s) in acc.iter_mut().enumerate() {
                // SAFETY: i + 16 <= n for both slices.
                let (x, y) = unsafe {
                    (
                        _mm_loadu_ps(pa.add(i + 4 * k)),
                        _mm_loadu_ps(pb.add(i + 4 * k)),
                    )
                };
                *s = _mm_add_ps(*s, _mm_mul_ps(x, y));
            }
            i += 16;
        }
        let v = _mm_add_ps(_mm_add_ps(acc[0], acc[1]), _mm_add_ps(acc[2], acc[3]));
        let mut l = [0.0f32; 4];
        // SAFETY: l has room for 4 f32.
        unsafe { _mm_storeu_ps(l.as_mut_ptr(), v) };
        let mut s = (l[0] + l[2]) + (l[1] + l[3]);
        for k in i..n {
            s += a[k] * b[k];
        }
        s
    }

    /// # Safety
    /// The CPU must support AVX2.
    #[target_feature(enable = "avx2")]
    pub unsafe fn sum_avx2(a: &[f32]) -> f32 {
        blocked!(sum_block_avx2, a)
    }
    /// # Safety
    /// The CPU must support AVX2 and `a.len() == b.len()`.
    #[target_feature(enable = "avx2")]
    pub unsafe fn dot_avx2(a: &[f32], b: &[f32]) -> f32 {
        blocked!(dot_block_avx2, a, b)
    }
    /// # Safety
    /// Always callable on x86-64.
    #[target_feature(enable = "sse2")]
    pub unsafe fn sum_sse2(a: &[f32]) -> f32 {
        blocked!(sum_block_sse2, a)
    }
    /// # Safety
    /// Always callable on x86-64; `a.len() == b.len()`.
    #[target_feature(enable = "sse2")]
    pub unsafe fn dot_sse2(a: &[f32], b: &[f32]) -> f32 {
        blocked!(dot_block_sse2, a, b)
    }
}

// ---- dispatchers ----

pub(crate) fn min_t<T: Float>(a: &[T]) -> T {
    dispatch!(min_generic, min, a)
}

pub(crate) fn max_t<T: Float>(a: &[T]) -> T {
    dispatch!(max_generic, max, a)
}

/// `out[i] = f(a[i], b[i])` on one thread, vectorised with AVX2 where the CPU has it
/// (element-wise ops have one family: every path gives the same bits for the same `f`).
/// Works over the shortest of the three slices; the caller checks the lengths (the
/// `par::*` wrappers return [`ShapeError`](crate::ShapeError) when they differ).
pub fn map2<T: Float, F: Fn(T, T) -> T>(a: &[T], b: &[T], out: &mut [T], f: F) {
    dispatch!(map2_generic, map2, a, b, out, f)
}

/// `out[i] = f(a[i])` on one thread, as [`map2`]; works over the shorter slice.
pub fn map1<T: Float, F: Fn(T) -> T>(a: &[T], out: &mut [T], f: F) {
    dispatch!(map1_generic, map1, a, out, f)
}

/// ReLU with the `cpu` backend's semantics: `x` if `x > 0` or NaN, else +0.0 (so −0.0 → +0.0).
#[inline(always)]
pub fn relu_one<T: Float>(x: T) -> T {
    if x > T::ZERO || x.is_nan() {
        x
    } else {
        T::ZERO
    }
}

// ---- public one-thread kernels ----

/// Σ a\[i\] in `f32` arithmetic, SIMD lanes per block of [`BLOCK`] (fast family, see the
/// module docs). Returns 0.0 for an empty slice; NaN and ±∞ propagate.
pub fn sum_f32(a: &[f32]) -> f32 {
    #[cfg(target_arch = "x86_64")]
    {
        if has_avx2() {
            // SAFETY: the CPU has AVX2 (checked at run time).
            unsafe { x86::sum_avx2(a) }
        } else {
            // SAFETY: SSE2 is part of the x86-64 baseline.
            unsafe { x86::sum_sse2(a) }
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        sum32_portable(a)
    }
}

/// Σ a\[i\]·b\[i\] in `f32` arithmetic, SIMD lanes per block of [`BLOCK`], no FMA (fast
/// family). NaN and ±∞ propagate.
///
/// # Errors
/// [`ShapeError`] when `b.len() != a.len()`.
pub fn dot_f32(a: &[f32], b: &[f32]) -> Result<f32, ShapeError> {
    check_len("b", b.len(), a.len())?;
    Ok(dot32_dispatch(a, b))
}

fn dot32_dispatch(a: &[f32], b: &[f32]) -> f32 {
    #[cfg(target_arch = "x86_64")]
    {
        if has_avx2() {
            // SAFETY: the CPU has AVX2; the caller checked the lengths.
            unsafe { x86::dot_avx2(a, b) }
        } else {
            // SAFETY: SSE2 is part of the x86-64 baseline; lengths checked.
            unsafe { x86::dot_sse2(a, b) }
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        dot32_portable(a, b)
    }
}

/// min a\[i\] over `f64`: NaN if any element is NaN, +∞ for an empty slice (the `cpu`
/// backend's `reduce_ref(Min, …)`).
pub fn min(a: &[f64]) -> f64 {
    min_t(a)
}

/// max a\[i\] over `f64`: NaN if any element is NaN, −∞ for an empty slice.
pub fn max(a: &[f64]) -> f64 {
    max_t(a)
}

/// min a\[i\] over `f32`: NaN if any element is NaN, +∞ for an empty slice.
pub fn min_f32(a: &[f32]) -> f32 {
    min_t(a)
}

/// max a\[i\] over `f32`: NaN if any element is NaN, −∞ for an empty slice.
pub fn max_f32(a: &[f32]) -> f32 {
    max_t(a)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gpu::cpu::reduce_ref;
    use crate::gpu::ReduceOp;
    use std::vec::Vec;

    fn gen(n: usize, seed: u64) -> Vec<f32> {
        let mut r = crate::rng::Pcg32::new(seed, 11);
        (0..n).map(|_| r.next_f32() * 2.0 - 1.0).collect()
    }

    /// The lengths around every edge: lanes, blocks, tails.
    const NS: [usize; 12] = [
        0,
        1,
        15,
        31,
        32,
        33,
        LANES32 * 3 + 7,
        BLOCK - 1,
        BLOCK,
        BLOCK + 1,
        3 * BLOCK + 31,
        100_003,
    ];

    #[test]
    fn sum_and_dot_f32_match_the_f64_reference() {
        for n in NS {
            let (a, b) = (gen(n, 1), gen(n, 2));
            let want = reduce_ref(ReduceOp::Sum, a.iter().map(|&x| x as f64));
            let mag: f64 = a.iter().map(|&x| (x as f64).abs()).sum();
            let got = sum_f32(&a) as f64;
            assert!(
                (got - want).abs() <= 1e-6 * mag.max(1.0),
                "sum n={n}: {got} vs {want}"
            );
            let want: f64 = a.iter().zip(&b).map(|(&x, &y)| x as f64 * y as f64).sum();
            let mag: f64 = a
                .iter()
                .zip(&b)
                .map(|(&x, &y)| (x as f64 * y as f64).abs())
                .sum();
            let got = dot_f32(&a, &b).unwrap() as f64;
            assert!(
                (got - want).abs() <= 1e-6 * mag.max(1.0),
                "dot n={n}: {got} vs {want}"
            );
            let got = dot32_portable(&a, &b) as f64;
            assert!(
                (got - want).abs() <= 1e-6 * mag.max(1.0),
                "portable dot n={n}"
            );
            let got = sum32_portable(&a) as f64;
            let want = reduce_ref(ReduceOp::Sum, a.iter().map(|&x| x as f64));
            let mag: f64 = a.iter().map(|&x| (x as f64).abs()).sum();
            assert!(
                (got - want).abs() <= 1e-6 * mag.max(1.0),
                "portable sum n={n}"
            );
        }
    }

    #[test]
    fn every_element_counts() {
        // A single 1.0 at each position of the lanes, the block edge and the tail.
        for n in [1, 33, BLOCK + 40] {
            for pos in [0, n / 2, n - 1] {
                let mut a = std::vec![0.0f32; n];
                a[pos] = 1.0;
                assert_eq!(sum_f32(&a), 1.0, "sum n={n} pos={pos}");
                assert_eq!(dot_f32(&a, &a).unwrap(), 1.0, "dot n={n} pos={pos}");
                a[pos] = -3.0;
                assert_eq!(min_f32(&a), -3.0, "min n={n} pos={pos}");
                a[pos] = 3.0;
                assert_eq!(max_f32(&a), 3.0, "max n={n} pos={pos}");
            }
        }
    }

    #[test]
    fn sum_f32_meets_the_documented_error_bound() {
        // 2^22 copies of 0.1: every rounding goes the same way, the worst case for a bound
        // (16 lanes: the fewest any instruction set uses).
        let n = 1usize << 22;
        let a = std::vec![0.1f32; n];
        let want = 0.1f32 as f64 * n as f64;
        let bound = (BLOCK / 16 + n / BLOCK) as f64 * f32::EPSILON as f64 * want;
        let err = (sum_f32(&a) as f64 - want).abs();
        assert!(err <= bound, "error {err} > bound {bound}");
        // A plain left-to-right f32 loop is far off here (it stalls once the sum is large).
        let naive = a.iter().fold(0.0f32, |s, &x| s + x) as f64;
        assert!(
            (naive - want).abs() > 10.0 * err,
            "naive {naive}, blocked error {err}"
        );
    }

    #[test]
    fn min_max_match_reduce_ref_with_nan_and_infinities() {
        for n in NS {
            let mut a = gen(n, 3);
            for (op, got) in [(ReduceOp::Min, min_f32(&a)), (ReduceOp::Max, max_f32(&a))] {
                let want = reduce_ref(op, a.iter().map(|&x| x as f64));
                assert_eq!(got as f64, want, "{op:?} n={n}");
            }
            let a64: Vec<f64> = a.iter().map(|&x| x as f64).collect();
            assert_eq!(min(&a64), reduce_ref(ReduceOp::Min, a64.iter().copied()));
            assert_eq!(max(&a64), reduce_ref(ReduceOp::Max, a64.iter().copied()));
            if n == 0 {
                assert_eq!(min_f32(&a), f32::INFINITY);
                assert_eq!(max(&a64), f64::NEG_INFINITY);
                continue;
            }
            // A NaN anywhere (first, inside the lanes, in the tail) wins.
            for pos in [0, n / 2, n - 1] {
                let keep = a[pos];
                a[pos] = f32::NAN;
                assert!(
                    min_f32(&a).is_nan() && max_f32(&a).is_nan(),
                    "NaN n={n} pos={pos}"
                );
                let mut b: Vec<f64> = a.iter().map(|&x| x as f64).collect();
                assert!(min(&b).is_nan() && max(&b).is_nan());
                b[pos] = f64::NEG_INFINITY;
                assert_eq!(min(&b), f64::NEG_INFINITY);
                a[pos] = keep;
            }
        }
    }

    #[test]
    fn nan_propagates_through_sum_and_dot() {
        let mut a = gen(3 * BLOCK, 4);
        a[BLOCK + 5] = f32::NAN;
        assert!(sum_f32(&a).is_nan());
        assert!(dot_f32(&a, &a).unwrap().is_nan());
        assert!(dot_f32(&a, &a[1..]).is_err());
    }
}
