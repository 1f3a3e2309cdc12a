//! The native vector ops of `offload-core` over C arrays of `double`.
//!
//! Lengths are in elements. The scalar ops (`offload_sum`, `offload_dot`) add strictly
//! left to right like [`offload_core::vector::sum`]; the `_simd` ops use the SIMD
//! kernels (AVX2 or SSE2 on x86-64, see [`offload_simd_level`]), whose summation order
//! differs, so compare them with a relative tolerance. NaN and ±Inf propagate.
//!
//! The `_par` ops run on all cores ([`offload_core::par`], rayon's global pool of
//! [`offload_par_threads`] threads; `RAYON_NUM_THREADS` sets it): `offload_sum_par` and
//! `offload_dot_par` are in the fast family (SIMD inside each chunk, chunks added in any
//! order), `offload_mul_par` and `offload_scale_par` give the same bits as
//! `offload_mul`/`offload_scale`. Inputs below one chunk (32 Ki elements) run on the
//! calling thread.

use crate::{guard, CapiError};
use offload_core::ShapeError;
use offload_core::{par, vector};
use std::ffi::c_char;

/// Largest array length, in elements, whose size in bytes fits in `isize`.
const MAX_LEN: usize = isize::MAX as usize / std::mem::size_of::<f64>();

fn check_len(what: &'static str, len: usize) -> Result<(), CapiError> {
    if len > MAX_LEN {
        Err(CapiError::TooLarge { what, len })
    } else {
        Ok(())
    }
}

/// Borrows an input array. A null pointer is accepted only with `len == 0`.
///
/// # Safety
/// When non-null, `p` must point to `len` readable `double`s that stay valid and
/// unmodified for `'a`.
unsafe fn input<'a>(what: &'static str, p: *const f64, len: usize) -> Result<&'a [f64], CapiError> {
    if len == 0 {
        return Ok(&[]);
    }
    if p.is_null() {
        return Err(CapiError::NullPointer { what });
    }
    check_len(what, len)?;
    // SAFETY: non-null, length checked against isize::MAX bytes; the caller promises
    // validity (C's `double*` is aligned by definition).
    Ok(unsafe { std::slice::from_raw_parts(p, len) })
}

/// Writes a scalar result through an out-pointer.
///
/// # Safety
/// When non-null, `out` must point to one writable `double`.
unsafe fn write_out(out: *mut f64, v: f64) -> Result<(), CapiError> {
    if out.is_null() {
        return Err(CapiError::NullPointer { what: "out" });
    }
    // SAFETY: non-null; the caller promises it is writable.
    unsafe { out.write(v) };
    Ok(())
}

fn same_len(what: &'static str, got: usize, expected: usize) -> Result<(), CapiError> {
    if got == expected {
        Ok(())
    } else {
        Err(ShapeError {
            what,
            got,
            expected,
        }
        .into())
    }
}

/// How an output array relates to one input array in memory.
#[derive(PartialEq, Eq)]
enum Alias {
    /// No byte in common.
    Disjoint,
    /// The same start and length: an in-place operation.
    Identical,
    /// Anything else: rejected.
    Partial,
}

fn alias(out: *const f64, inp: *const f64, len: usize) -> Alias {
    let bytes = len * std::mem::size_of::<f64>();
    let (o, i) = (out as usize, inp as usize);
    if len == 0 || o + bytes <= i || i + bytes <= o {
        Alias::Disjoint
    } else if o == i {
        Alias::Identical
    } else {
        Alias::Partial
    }
}

/// The one body of every reduction of one array (`offload_sum`, `_simd`, `_par`): checks
/// `a`, then writes `f(a)` to `*out`.
///
/// # Safety
/// As for [`offload_sum`].
unsafe fn sum_with(a: *const f64, len: usize, out: *mut f64, f: impl FnOnce(&[f64]) -> f64) -> i32 {
    guard(|| {
        // SAFETY: forwarded from the caller's contract.
        let a = unsafe { input("a", a, len)? };
        unsafe { write_out(out, f(a)) }
    })
}

/// The one body of every dot product (`offload_dot`, `_simd`, `_par`): checks the lengths
/// and both arrays, then writes `f(a, b)` to `*out`.
///
/// # Safety
/// As for [`offload_dot`].
unsafe fn dot_with(
    a: *const f64,
    a_len: usize,
    b: *const f64,
    b_len: usize,
    out: *mut f64,
    f: impl FnOnce(&[f64], &[f64]) -> Result<f64, ShapeError>,
) -> i32 {
    guard(|| {
        same_len("b", b_len, a_len)?;
        // SAFETY: forwarded from the caller's contract.
        let (a, b) = unsafe { (input("a", a, a_len)?, input("b", b, b_len)?) };
        let v = f(a, b)?;
        unsafe { write_out(out, v) }
    })
}

/// The one body of `offload_mul` and `offload_mul_par`: checks the lengths and the three
/// arrays, then runs `f` on them (or, in place, the loop of [`elementwise`]).
///
/// # Safety
/// As for [`offload_mul`].
unsafe fn mul_with(
    a: *const f64,
    a_len: usize,
    b: *const f64,
    b_len: usize,
    out: *mut f64,
    out_len: usize,
    f: impl FnOnce(&[f64], &[f64], &mut [f64]) -> Result<(), ShapeError>,
) -> i32 {
    guard(|| {
        same_len("b", b_len, a_len)?;
        same_len("out", out_len, a_len)?;
        // SAFETY: forwarded from the caller's contract; validates null/too-large.
        unsafe {
            input("a", a, a_len)?;
            input("b", b, b_len)?;
            input("out", out, out_len)?;
            elementwise(a, b, out, a_len, f, |x, y| x * y)
        }
    })
}

/// The one body of `offload_scale` and `offload_scale_par`: checks the lengths and both
/// arrays, then runs `f(scalar, a, out)` (or, in place, the loop of [`elementwise`]).
///
/// # Safety
/// As for [`offload_scale`].
unsafe fn scale_with(
    scalar: f64,
    a: *const f64,
    a_len: usize,
    out: *mut f64,
    out_len: usize,
    f: impl FnOnce(f64, &[f64], &mut [f64]) -> Result<(), ShapeError>,
) -> i32 {
    guard(|| {
        same_len("out", out_len, a_len)?;
        // SAFETY: forwarded from the caller's contract; validates null/too-large.
        unsafe {
            input("a", a, a_len)?;
            input("out", out, out_len)?;
            // `b` is `a` again: scale reads one input.
            elementwise(
                a,
                a,
                out,
                a_len,
                |x, _, o| f(scalar, x, o),
                |x, _| scalar * x,
            )
        }
    })
}

/// Σ a\[i\] for `len` elements, added left to right; 0.0 when `len == 0`.
///
/// # Safety
/// `a` must point to `len` readable `double`s (or be null with `len == 0`); `out` must
/// point to one writable `double`.
///
/// # Errors
/// [`OFFLOAD_ERR_NULL_POINTER`](crate::OFFLOAD_ERR_NULL_POINTER),
/// [`OFFLOAD_ERR_TOO_LARGE`](crate::OFFLOAD_ERR_TOO_LARGE).
#[no_mangle]
pub unsafe extern "C" fn offload_sum(a: *const f64, len: usize, out: *mut f64) -> i32 {
    // SAFETY: forwarded from the caller's contract.
    unsafe { sum_with(a, len, out, vector::sum) }
}

/// Σ a\[i\] with SIMD partial sums (order differs from [`offload_sum`]).
///
/// # Safety
/// As for [`offload_sum`].
///
/// # Errors
/// As for [`offload_sum`].
#[no_mangle]
pub unsafe extern "C" fn offload_sum_simd(a: *const f64, len: usize, out: *mut f64) -> i32 {
    // SAFETY: forwarded from the caller's contract.
    unsafe { sum_with(a, len, out, vector::sum_simd) }
}

/// Σ a\[i\]·b\[i\], added left to right.
///
/// # Safety
/// `a` and `b` must point to `a_len` and `b_len` readable `double`s (or be null with
/// length 0); `out` must point to one writable `double`.
///
/// # Errors
/// [`OFFLOAD_ERR_LENGTH_MISMATCH`](crate::OFFLOAD_ERR_LENGTH_MISMATCH) when
/// `b_len != a_len`; [`OFFLOAD_ERR_NULL_POINTER`](crate::OFFLOAD_ERR_NULL_POINTER),
/// [`OFFLOAD_ERR_TOO_LARGE`](crate::OFFLOAD_ERR_TOO_LARGE).
#[no_mangle]
pub unsafe extern "C" fn offload_dot(
    a: *const f64,
    a_len: usize,
    b: *const f64,
    b_len: usize,
    out: *mut f64,
) -> i32 {
    // SAFETY: forwarded from the caller's contract.
    unsafe { dot_with(a, a_len, b, b_len, out, vector::dot) }
}

/// Σ a\[i\]·b\[i\] with SIMD partial sums (order differs from [`offload_dot`]; no FMA).
///
/// # Safety
/// As for [`offload_dot`].
///
/// # Errors
/// As for [`offload_dot`].
#[no_mangle]
pub unsafe extern "C" fn offload_dot_simd(
    a: *const f64,
    a_len: usize,
    b: *const f64,
    b_len: usize,
    out: *mut f64,
) -> i32 {
    // SAFETY: forwarded from the caller's contract.
    unsafe { dot_with(a, a_len, b, b_len, out, vector::dot_simd) }
}

/// Applies `f` element-wise, `out[i] = f(a[i], b[i])`, where `out` may be identical to
/// `a` or `b` (in place) but must not partly overlap them.
///
/// # Safety
/// `a`, `b`, `out` each point to `len` valid `double`s (or `len == 0`); `out` writable.
unsafe fn elementwise(
    a: *const f64,
    b: *const f64,
    out: *mut f64,
    len: usize,
    checked: impl FnOnce(&[f64], &[f64], &mut [f64]) -> Result<(), ShapeError>,
    f: impl Fn(f64, f64) -> f64,
) -> Result<(), CapiError> {
    let (aa, ab) = (alias(out, a, len), alias(out, b, len));
    if aa == Alias::Partial || ab == Alias::Partial {
        return Err(CapiError::Overlap { what: "out" });
    }
    if aa == Alias::Identical || ab == Alias::Identical {
        // In place: no Rust references may alias, so go through raw pointers, reading
        // element i before writing it.
        for i in 0..len {
            // SAFETY: i < len; all three point to len valid doubles.
            unsafe { *out.add(i) = f(*a.add(i), *b.add(i)) };
        }
        return Ok(());
    }
    // SAFETY: disjoint, valid for len elements (checked by the callers).
    let (sa, sb, so) = unsafe {
        if len == 0 {
            (&[][..], &[][..], &mut [][..])
        } else {
            (
                std::slice::from_raw_parts(a, len),
                std::slice::from_raw_parts(b, len),
                std::slice::from_raw_parts_mut(out, len),
            )
        }
    };
    checked(sa, sb, so)?;
    Ok(())
}

/// out\[i\] = a\[i\]·b\[i\]. `out` may be `a` or `b` itself (in place); a partial
/// overlap is an error.
///
/// # Safety
/// `a`, `b` must point to `a_len`, `b_len` readable `double`s and `out` to `out_len`
/// writable ones (any may be null with length 0).
///
/// # Errors
/// [`OFFLOAD_ERR_LENGTH_MISMATCH`](crate::OFFLOAD_ERR_LENGTH_MISMATCH) when `b_len` or
/// `out_len` differs from `a_len` (then `out` is untouched);
/// [`OFFLOAD_ERR_OVERLAP`](crate::OFFLOAD_ERR_OVERLAP),
/// [`OFFLOAD_ERR_NULL_POINTER`](crate::OFFLOAD_ERR_NULL_POINTER),
/// [`OFFLOAD_ERR_TOO_LARGE`](crate::OFFLOAD_ERR_TOO_LARGE).
#[no_mangle]
pub unsafe extern "C" fn offload_mul(
    a: *const f64,
    a_len: usize,
    b: *const f64,
    b_len: usize,
    out: *mut f64,
    out_len: usize,
) -> i32 {
    // SAFETY: forwarded from the caller's contract.
    unsafe { mul_with(a, a_len, b, b_len, out, out_len, vector::mul) }
}

/// out\[i\] = scalar·a\[i\]. `out` may be `a` itself (in place); a partial overlap is
/// an error.
///
/// # Safety
/// `a` must point to `a_len` readable `double`s and `out` to `out_len` writable ones
/// (either may be null with length 0).
///
/// # Errors
/// [`OFFLOAD_ERR_LENGTH_MISMATCH`](crate::OFFLOAD_ERR_LENGTH_MISMATCH) when
/// `out_len != a_len` (then `out` is untouched);
/// [`OFFLOAD_ERR_OVERLAP`](crate::OFFLOAD_ERR_OVERLAP),
/// [`OFFLOAD_ERR_NULL_POINTER`](crate::OFFLOAD_ERR_NULL_POINTER),
/// [`OFFLOAD_ERR_TOO_LARGE`](crate::OFFLOAD_ERR_TOO_LARGE).
#[no_mangle]
pub unsafe extern "C" fn offload_scale(
    scalar: f64,
    a: *const f64,
    a_len: usize,
    out: *mut f64,
    out_len: usize,
) -> i32 {
    // SAFETY: forwarded from the caller's contract.
    unsafe { scale_with(scalar, a, a_len, out, out_len, vector::scale) }
}

/// Σ a\[i\] over all cores (fast family: SIMD partial sums per chunk, chunks added in
/// any order; compare with a relative tolerance).
///
/// # Safety
/// As for [`offload_sum`].
///
/// # Errors
/// As for [`offload_sum`].
#[no_mangle]
pub unsafe extern "C" fn offload_sum_par(a: *const f64, len: usize, out: *mut f64) -> i32 {
    // SAFETY: forwarded from the caller's contract.
    unsafe { sum_with(a, len, out, par::sum) }
}

/// Σ a\[i\]·b\[i\] over all cores (fast family, no FMA).
///
/// # Safety
/// As for [`offload_dot`].
///
/// # Errors
/// As for [`offload_dot`].
#[no_mangle]
pub unsafe extern "C" fn offload_dot_par(
    a: *const f64,
    a_len: usize,
    b: *const f64,
    b_len: usize,
    out: *mut f64,
) -> i32 {
    // SAFETY: forwarded from the caller's contract.
    unsafe { dot_with(a, a_len, b, b_len, out, par::dot) }
}

/// out\[i\] = a\[i\]·b\[i\] over all cores; the same bits as [`offload_mul`]. `out` may
/// be `a` or `b` itself (in place: then it runs on the calling thread); a partial
/// overlap is an error.
///
/// # Safety
/// As for [`offload_mul`].
///
/// # Errors
/// As for [`offload_mul`].
#[no_mangle]
pub unsafe extern "C" fn offload_mul_par(
    a: *const f64,
    a_len: usize,
    b: *const f64,
    b_len: usize,
    out: *mut f64,
    out_len: usize,
) -> i32 {
    // SAFETY: forwarded from the caller's contract.
    unsafe { mul_with(a, a_len, b, b_len, out, out_len, par::mul) }
}

/// out\[i\] = scalar·a\[i\] over all cores; the same bits as [`offload_scale`]. `out`
/// may be `a` itself (in place: then it runs on the calling thread); a partial overlap
/// is an error.
///
/// # Safety
/// As for [`offload_scale`].
///
/// # Errors
/// As for [`offload_scale`].
#[no_mangle]
pub unsafe extern "C" fn offload_scale_par(
    scalar: f64,
    a: *const f64,
    a_len: usize,
    out: *mut f64,
    out_len: usize,
) -> i32 {
    // SAFETY: forwarded from the caller's contract.
    unsafe { scale_with(scalar, a, a_len, out, out_len, par::scale) }
}

/// Threads the `_par` ops run on (rayon's global pool: `RAYON_NUM_THREADS`, else one per
/// logical CPU). Never fails.
#[no_mangle]
pub extern "C" fn offload_par_threads() -> usize {
    std::panic::catch_unwind(par::threads).unwrap_or(1)
}

/// The instruction set the `_simd` ops use on this machine (`"avx2"`, `"sse2"`,
/// `"portable"`), as a static NUL-terminated string. Never null.
#[no_mangle]
pub extern "C" fn offload_simd_level() -> *const c_char {
    match vector::simd_level() {
        offload_core::SimdLevel::Avx2 => c"avx2".as_ptr(),
        offload_core::SimdLevel::Sse2 => c"sse2".as_ptr(),
        offload_core::SimdLevel::Simd128 => c"simd128".as_ptr(),
        offload_core::SimdLevel::Portable => c"portable".as_ptr(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::*;
    use offload_core::vector;
    use std::ptr;

    #[test]
    fn sum_and_dot_match_core() {
        let a = [1.0, 2.0, 3.5];
        let b = [2.0, 0.5, -1.0];
        let mut out = 0.0;
        assert_eq!(unsafe { offload_sum(a.as_ptr(), 3, &mut out) }, OFFLOAD_OK);
        assert_eq!(out, 6.5);
        assert_eq!(
            unsafe { offload_dot(a.as_ptr(), 3, b.as_ptr(), 3, &mut out) },
            OFFLOAD_OK
        );
        assert_eq!(out, 2.0 + 1.0 - 3.5);
    }

    #[test]
    fn null_with_zero_len_is_empty_but_not_with_len() {
        let mut out = 7.0;
        assert_eq!(unsafe { offload_sum(ptr::null(), 0, &mut out) }, OFFLOAD_OK);
        assert_eq!(out, 0.0);
        assert_eq!(
            unsafe { offload_sum(ptr::null(), 3, &mut out) },
            OFFLOAD_ERR_NULL_POINTER
        );
        let a = [1.0];
        assert_eq!(
            unsafe { offload_sum(a.as_ptr(), 1, ptr::null_mut()) },
            OFFLOAD_ERR_NULL_POINTER
        );
    }

    #[test]
    fn too_large_is_rejected_before_reading() {
        let a = [1.0];
        let mut out = 0.0;
        assert_eq!(
            unsafe { offload_sum(a.as_ptr(), usize::MAX, &mut out) },
            OFFLOAD_ERR_TOO_LARGE
        );
    }

    #[test]
    fn in_place_and_partial_overlap() {
        let mut v = [1.0, 2.0, 3.0, 4.0];
        let p = v.as_mut_ptr();
        assert_eq!(unsafe { offload_scale(2.0, p, 4, p, 4) }, OFFLOAD_OK);
        assert_eq!(v, [2.0, 4.0, 6.0, 8.0]);
        let p = v.as_mut_ptr();
        assert_eq!(unsafe { offload_mul(p, 4, p, 4, p, 4) }, OFFLOAD_OK);
        assert_eq!(v, [4.0, 16.0, 36.0, 64.0]);
        let p = v.as_mut_ptr();
        assert_eq!(
            unsafe { offload_scale(2.0, p, 3, p.add(1), 3) },
            OFFLOAD_ERR_OVERLAP
        );
        assert_eq!(v, [4.0, 16.0, 36.0, 64.0]);
    }

    #[test]
    fn par_ops_match_core() {
        // Past one chunk (32 Ki elements), so the work is split across threads.
        let n = 3 * 32 * 1024 + 5;
        let a: Vec<f64> = (0..n)
            .map(|i| ((i * 37) % 101) as f64 / 7.0 - 7.0)
            .collect();
        let b: Vec<f64> = (0..n).map(|i| ((i * 13) % 53) as f64 / 5.0 - 5.0).collect();
        let mut out = 0.0;
        assert_eq!(
            unsafe { offload_sum_par(a.as_ptr(), n, &mut out) },
            OFFLOAD_OK
        );
        let mag: f64 = a.iter().map(|x| x.abs()).sum();
        assert!(vector::rel_close(out, vector::sum(&a), 1e-12, mag));
        assert_eq!(
            unsafe { offload_dot_par(a.as_ptr(), n, b.as_ptr(), n, &mut out) },
            OFFLOAD_OK
        );
        let magd: f64 = a.iter().zip(&b).map(|(x, y)| (x * y).abs()).sum();
        assert!(vector::rel_close(
            out,
            vector::dot(&a, &b).unwrap(),
            1e-12,
            magd
        ));
        let (mut o1, mut o2) = (vec![0.0; n], vec![1.0; n]);
        vector::mul(&a, &b, &mut o1).unwrap();
        assert_eq!(
            unsafe { offload_mul_par(a.as_ptr(), n, b.as_ptr(), n, o2.as_mut_ptr(), n) },
            OFFLOAD_OK
        );
        assert_eq!(o1, o2);
        vector::scale(-1.5, &a, &mut o1).unwrap();
        assert_eq!(
            unsafe { offload_scale_par(-1.5, a.as_ptr(), n, o2.as_mut_ptr(), n) },
            OFFLOAD_OK
        );
        assert_eq!(o1, o2);
        // In place gives the same bits.
        let p = o2.as_mut_ptr();
        vector::scale(2.0, &o1.clone(), &mut o1).unwrap();
        assert_eq!(unsafe { offload_scale_par(2.0, p, n, p, n) }, OFFLOAD_OK);
        assert_eq!(o1, o2);
        assert!(offload_par_threads() >= 1);
    }

    #[test]
    fn par_errors() {
        let a = [1.0, f64::NAN, 2.0];
        let mut out = 0.0;
        assert_eq!(
            unsafe { offload_sum_par(a.as_ptr(), 3, &mut out) },
            OFFLOAD_OK
        );
        assert!(out.is_nan());
        assert_eq!(
            unsafe { offload_sum_par(ptr::null(), 0, &mut out) },
            OFFLOAD_OK
        );
        assert_eq!(out, 0.0);
        assert_eq!(
            unsafe { offload_sum_par(ptr::null(), 2, &mut out) },
            OFFLOAD_ERR_NULL_POINTER
        );
        assert_eq!(
            unsafe { offload_dot_par(a.as_ptr(), 3, a.as_ptr(), 2, &mut out) },
            OFFLOAD_ERR_LENGTH_MISMATCH
        );
        assert_eq!(
            unsafe { offload_dot_par(a.as_ptr(), usize::MAX, a.as_ptr(), usize::MAX, &mut out) },
            OFFLOAD_ERR_TOO_LARGE
        );
        let mut v = [1.0, 2.0, 3.0, 4.0];
        let p = v.as_mut_ptr();
        assert_eq!(
            unsafe { offload_mul_par(p, 3, p, 3, p.add(1), 3) },
            OFFLOAD_ERR_OVERLAP
        );
        let mut o = [9.0; 2];
        assert_eq!(
            unsafe { offload_scale_par(2.0, a.as_ptr(), 3, o.as_mut_ptr(), 2) },
            OFFLOAD_ERR_LENGTH_MISMATCH
        );
        assert_eq!(o, [9.0; 2]);
    }

    #[test]
    fn mismatch_leaves_out_untouched() {
        let a = [1.0, 2.0];
        let mut out = [9.0; 3];
        assert_eq!(
            unsafe { offload_mul(a.as_ptr(), 2, a.as_ptr(), 2, out.as_mut_ptr(), 3) },
            OFFLOAD_ERR_LENGTH_MISMATCH
        );
        assert_eq!(out, [9.0; 3]);
    }
}
