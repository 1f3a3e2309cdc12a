//! All-cores vector kernels over `f64` and `f32` slices: the `rust-native-par` path.
//!
//! Each kernel splits its input into contiguous chunks of at least [`MIN_CHUNK`]
//! elements, runs them on rayon's global pool, and (for reductions) combines the chunks'
//! partial results. Inside a chunk the kernels use the one-thread SIMD kernels:
//! [`crate::vector::sum_simd`] / [`crate::vector::dot_simd`] for `f64`,
//! [`crate::fast::sum_f32`] / [`crate::fast::dot_f32`] for `f32`, and the lane loops of
//! [`crate::fast`] (AVX2 where the CPU has it) for min, max and the element-wise ops.
//!
//! - [`sum`], [`dot`] (`f64`) and [`sum_f32`], [`dot_f32`] are in the *fast* family (any
//!   association): compare them with [`crate::vector::rel_close`], never bit for bit.
//!   The `f32` ones **accumulate in `f32`** (chunk sums and their total too), as the GPU
//!   kernels do; the `cpu` reference backend accumulates `f32` in `f64`.
//! - [`min`], [`max`], [`min_f32`], [`max_f32`] have the `cpu` backend's semantics
//!   (`reduce_ref`): NaN anywhere gives NaN, an empty slice +∞ (min) / −∞ (max). They are
//!   exact, so they equal the reference (up to the sign of a zero extremum).
//! - The element-wise kernels [`mul`], [`add`], [`scale`], [`relu`] and their `_f32`
//!   versions give the same bits as the `cpu` backend's `elementwise` (`f32` in `f32`
//!   arithmetic, `scale_f32` with an `f32` scalar) and as [`crate::vector`]'s `mul`/`scale`.
//!   `relu` is `x` for `x > 0` or NaN, else +0.0.
//!
//! Below [`MIN_CHUNK`] elements there is one chunk and it runs on the calling thread:
//! waking other cores costs more than it saves there.
//!
//! Lengths are in elements. IEEE-754: NaN and ±Inf propagate.

use crate::fast::{self, Float};
use crate::vector::{self, ShapeError};
use rayon::prelude::*;
use std::vec::Vec;

/// Smallest chunk (elements) handed to one rayon task: 32 Ki `f64` = 256 KiB, about the
/// size of one core's L2 share, so a task's work outweighs its scheduling.
pub const MIN_CHUNK: usize = 32 * 1024;

/// Threads in the pool the kernels run on (rayon's global pool: `RAYON_NUM_THREADS`, else
/// one per logical CPU).
pub fn threads() -> usize {
    rayon::current_num_threads()
}

/// Chunk length for `n` elements: about four chunks per thread, at least [`MIN_CHUNK`].
fn chunk_len(n: usize) -> usize {
    let per = n.div_ceil(4 * threads().max(1));
    per.max(MIN_CHUNK)
}

use crate::fast::check_len;

/// Σ a\[i\] over all cores (fast family). Returns 0.0 for an empty slice.
pub fn sum(a: &[f64]) -> f64 {
    let c = chunk_len(a.len());
    if a.len() <= c {
        return vector::sum_simd(a);
    }
    a.par_chunks(c).map(vector::sum_simd).sum()
}

/// Σ a\[i\]·b\[i\] over all cores (fast family; no FMA, products and sums are separate
/// roundings).
///
/// # Errors
/// [`ShapeError`] when `b.len() != a.len()`.
pub fn dot(a: &[f64], b: &[f64]) -> Result<f64, ShapeError> {
    check_len("b", b.len(), a.len())?;
    let c = chunk_len(a.len());
    if a.len() <= c {
        return vector::dot_simd(a, b);
    }
    Ok(a.par_chunks(c)
        .zip(b.par_chunks(c))
        .map(|(x, y)| vector::dot_simd(x, y).unwrap_or(f64::NAN))
        .sum())
}

/// `out[i] = f(a[i], b[i])` over all cores, after the length checks.
fn map2_par<T: Float>(
    a: &[T],
    b: &[T],
    out: &mut [T],
    f: impl Fn(T, T) -> T + Sync + Send + Copy,
) -> Result<(), ShapeError> {
    check_len("b", b.len(), a.len())?;
    check_len("out", out.len(), a.len())?;
    let c = chunk_len(a.len());
    if a.len() <= c {
        fast::map2(a, b, out, f);
        return Ok(());
    }
    out.par_chunks_mut(c)
        .zip(a.par_chunks(c).zip(b.par_chunks(c)))
        .for_each(|(o, (x, y))| fast::map2(x, y, o, f));
    Ok(())
}

/// `out[i] = f(a[i])` over all cores, after the length check.
fn map1_par<T: Float>(
    a: &[T],
    out: &mut [T],
    f: impl Fn(T) -> T + Sync + Send + Copy,
) -> Result<(), ShapeError> {
    check_len("out", out.len(), a.len())?;
    let c = chunk_len(a.len());
    if a.len() <= c {
        fast::map1(a, out, f);
        return Ok(());
    }
    out.par_chunks_mut(c)
        .zip(a.par_chunks(c))
        .for_each(|(o, x)| fast::map1(x, o, f));
    Ok(())
}

/// min or max over all cores: the chunks' extrema, combined with the same rule.
fn extremum_par<T: Float>(a: &[T], one: fn(&[T]) -> T) -> T {
    let c = chunk_len(a.len());
    if a.len() <= c {
        return one(a);
    }
    let parts: Vec<T> = a.par_chunks(c).map(one).collect();
    one(&parts)
}

/// out\[i\] = a\[i\]·b\[i\] over all cores; the same bits as [`vector::mul`].
///
/// # Errors
/// [`ShapeError`] when `b` or `out` is not as long as `a`; `out` is then untouched.
pub fn mul(a: &[f64], b: &[f64], out: &mut [f64]) -> Result<(), ShapeError> {
    map2_par(a, b, out, |x, y| x * y)
}

/// out\[i\] = scalar·a\[i\] over all cores; the same bits as [`vector::scale`].
///
/// # Errors
/// [`ShapeError`] when `out` is not as long as `a`; `out` is then untouched.
pub fn scale(scalar: f64, a: &[f64], out: &mut [f64]) -> Result<(), ShapeError> {
    map1_par(a, out, move |x| scalar * x)
}

/// out\[i\] = a\[i\] + b\[i\] over all cores (`f64`).
///
/// # Errors
/// [`ShapeError`] when `b` or `out` is not as long as `a`; `out` is then untouched.
pub fn add(a: &[f64], b: &[f64], out: &mut [f64]) -> Result<(), ShapeError> {
    map2_par(a, b, out, |x, y| x + y)
}

/// out\[i\] = relu(a\[i\]) over all cores (`f64`): `a[i]` if it is > 0 or NaN, else +0.0.
///
/// # Errors
/// [`ShapeError`] when `out` is not as long as `a`; `out` is then untouched.
pub fn relu(a: &[f64], out: &mut [f64]) -> Result<(), ShapeError> {
    map1_par(a, out, fast::relu_one)
}

/// min a\[i\] over all cores (`f64`): NaN if any element is NaN, +∞ for an empty slice.
pub fn min(a: &[f64]) -> f64 {
    extremum_par(a, fast::min)
}

/// max a\[i\] over all cores (`f64`): NaN if any element is NaN, −∞ for an empty slice.
pub fn max(a: &[f64]) -> f64 {
    extremum_par(a, fast::max)
}

/// Σ a\[i\] over all cores in `f32` arithmetic (fast family; chunk sums from
/// [`fast::sum_f32`], added in `f32`). Returns 0.0 for an empty slice.
pub fn sum_f32(a: &[f32]) -> f32 {
    let c = chunk_len(a.len());
    if a.len() <= c {
        return fast::sum_f32(a);
    }
    a.par_chunks(c).map(fast::sum_f32).sum()
}

/// Σ a\[i\]·b\[i\] over all cores in `f32` arithmetic (fast family; no FMA).
///
/// # Errors
/// [`ShapeError`] when `b.len() != a.len()`.
pub fn dot_f32(a: &[f32], b: &[f32]) -> Result<f32, ShapeError> {
    check_len("b", b.len(), a.len())?;
    let c = chunk_len(a.len());
    if a.len() <= c {
        return fast::dot_f32(a, b);
    }
    Ok(a.par_chunks(c)
        .zip(b.par_chunks(c))
        .map(|(x, y)| fast::dot_f32(x, y).unwrap_or(f32::NAN))
        .sum())
}

/// out\[i\] = a\[i\]·b\[i\] over all cores in `f32` arithmetic.
///
/// # Errors
/// [`ShapeError`] when `b` or `out` is not as long as `a`; `out` is then untouched.
pub fn mul_f32(a: &[f32], b: &[f32], out: &mut [f32]) -> Result<(), ShapeError> {
    map2_par(a, b, out, |x, y| x * y)
}

/// out\[i\] = a\[i\] + b\[i\] over all cores in `f32` arithmetic.
///
/// # Errors
/// [`ShapeError`] when `b` or `out` is not as long as `a`; `out` is then untouched.
pub fn add_f32(a: &[f32], b: &[f32], out: &mut [f32]) -> Result<(), ShapeError> {
    map2_par(a, b, out, |x, y| x + y)
}

/// out\[i\] = scalar·a\[i\] over all cores in `f32` arithmetic (the `cpu` backend rounds
/// its `f64` scalar to `f32` first; pass that `f32`).
///
/// # Errors
/// [`ShapeError`] when `out` is not as long as `a`; `out` is then untouched.
pub fn scale_f32(scalar: f32, a: &[f32], out: &mut [f32]) -> Result<(), ShapeError> {
    map1_par(a, out, move |x| scalar * x)
}

/// out\[i\] = relu(a\[i\]) over all cores (`f32`): `a[i]` if it is > 0 or NaN, else +0.0.
///
/// # Errors
/// [`ShapeError`] when `out` is not as long as `a`; `out` is then untouched.
pub fn relu_f32(a: &[f32], out: &mut [f32]) -> Result<(), ShapeError> {
    map1_par(a, out, fast::relu_one)
}

/// min a\[i\] over all cores (`f32`): NaN if any element is NaN, +∞ for an empty slice.
pub fn min_f32(a: &[f32]) -> f32 {
    extremum_par(a, fast::min_f32)
}

/// max a\[i\] over all cores (`f32`): NaN if any element is NaN, −∞ for an empty slice.
pub fn max_f32(a: &[f32]) -> f32 {
    extremum_par(a, fast::max_f32)
}

/// out\[i\] = a\[i\] over all cores: the memory-bandwidth yardstick of the benches (reads
/// and writes `8·n` bytes each).
///
/// # Errors
/// [`ShapeError`] when `out` is not as long as `a`; `out` is then untouched.
pub fn copy(a: &[f64], out: &mut [f64]) -> Result<(), ShapeError> {
    check_len("out", out.len(), a.len())?;
    let c = chunk_len(a.len());
    out.par_chunks_mut(c)
        .zip(a.par_chunks(c))
        .for_each(|(o, x)| o.copy_from_slice(x));
    Ok(())
}

/// Bytes of each piece of [`copy_bytes`] and [`copy_bytes_to`] (1 MiB).
pub const COPY_PIECE: usize = 1 << 20;

/// `dst.copy_from_slice(src)` on several threads (rayon), in [`COPY_PIECE`] pieces, from two
/// pieces on (below that on the calling thread): for copies into and out of staging
/// memory and linear memory (tens of MB a call), which one thread moves at a few GB/s.
/// Panics if the lengths differ.
pub fn copy_bytes(dst: &mut [u8], src: &[u8]) {
    assert_eq!(dst.len(), src.len(), "copy_bytes: lengths differ");
    if src.len() < 2 * COPY_PIECE {
        dst.copy_from_slice(src);
        return;
    }
    dst.par_chunks_mut(COPY_PIECE)
        .zip(src.par_chunks(COPY_PIECE))
        .for_each(|(d, s)| d.copy_from_slice(s));
}

/// [`copy_bytes`] into memory given by its address: for destinations whose owner cannot
/// cross threads (wgpu's write-only mapped views), or raw mappings.
///
/// # Safety
/// `dst` must be valid for writes of `src.len()` bytes, must not overlap `src`, and
/// nothing else may read or write it until this returns.
pub unsafe fn copy_bytes_to(dst: *mut u8, src: &[u8]) {
    if src.len() < 2 * COPY_PIECE {
        // SAFETY: the caller's contract.
        unsafe { core::ptr::copy_nonoverlapping(src.as_ptr(), dst, src.len()) };
        return;
    }
    // An address as an integer crosses threads; each piece writes only its own range.
    let base = dst as usize;
    src.par_chunks(COPY_PIECE).enumerate().for_each(|(j, s)| {
        // SAFETY: [j·COPY_PIECE, j·COPY_PIECE + s.len()) lies inside dst's src.len() bytes
        // (the caller's contract); the pieces are disjoint.
        unsafe {
            core::ptr::copy_nonoverlapping(
                s.as_ptr(),
                (base as *mut u8).add(j * COPY_PIECE),
                s.len(),
            )
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec::Vec;

    fn gen(n: usize, seed: u64) -> Vec<f64> {
        let mut r = crate::rng::Pcg32::new(seed, 7);
        (0..n).map(|_| r.next_f64() * 2.0 - 1.0).collect()
    }

    #[test]
    fn par_matches_reference_across_chunk_edges() {
        for n in [
            0,
            1,
            17,
            MIN_CHUNK - 1,
            MIN_CHUNK,
            MIN_CHUNK + 1,
            5 * MIN_CHUNK + 3,
        ] {
            let (a, b) = (gen(n, 1), gen(n, 2));
            let mag: f64 = a.iter().map(|x| x.abs()).sum();
            assert!(
                vector::rel_close(sum(&a), vector::sum(&a), 1e-12, mag),
                "sum n={n}"
            );
            let magd: f64 = a.iter().zip(&b).map(|(x, y)| (x * y).abs()).sum();
            let want = vector::dot(&a, &b).unwrap();
            assert!(
                vector::rel_close(dot(&a, &b).unwrap(), want, 1e-12, magd),
                "dot n={n}"
            );
            let (mut o1, mut o2) = (std::vec![0.0; n], std::vec![1.0; n]);
            vector::mul(&a, &b, &mut o1).unwrap();
            mul(&a, &b, &mut o2).unwrap();
            assert_eq!(o1, o2, "mul n={n}");
            vector::scale(1.75, &a, &mut o1).unwrap();
            scale(1.75, &a, &mut o2).unwrap();
            assert_eq!(o1, o2, "scale n={n}");
            copy(&b, &mut o2).unwrap();
            assert_eq!(o2, b, "copy n={n}");
        }
    }

    #[test]
    fn nan_propagates_and_shapes_are_checked() {
        let mut a = gen(3 * MIN_CHUNK, 3);
        a[2 * MIN_CHUNK + 5] = f64::NAN;
        assert!(sum(&a).is_nan());
        assert!(dot(&a, &a).unwrap().is_nan());
        let mut out = std::vec![7.0; 2];
        assert!(dot(&a, &a[1..]).is_err());
        assert!(mul(&a[..3], &a[..3], &mut out).is_err());
        assert!(scale(2.0, &a[..3], &mut out).is_err());
        assert!(copy(&a[..3], &mut out).is_err());
        assert_eq!(out, [7.0, 7.0], "out untouched on a shape error");
    }

    fn gen32(n: usize, seed: u64) -> Vec<f32> {
        let mut r = crate::rng::Pcg32::new(seed, 9);
        (0..n).map(|_| r.next_f32() * 2.0 - 1.0).collect()
    }

    /// Lengths around the one-chunk threshold and chunk edges.
    fn edge_lengths() -> [usize; 8] {
        let c = chunk_len(5 * MIN_CHUNK + 3);
        [
            0,
            1,
            17,
            MIN_CHUNK - 1,
            MIN_CHUNK,
            MIN_CHUNK + 1,
            5 * MIN_CHUNK + 3,
            3 * c + 1,
        ]
    }

    #[test]
    fn f32_reductions_match_the_f64_reference() {
        use crate::gpu::cpu::reduce_ref;
        use crate::gpu::ReduceOp;
        for n in edge_lengths() {
            let (a, b) = (gen32(n, 1), gen32(n, 2));
            let want = reduce_ref(ReduceOp::Sum, a.iter().map(|&x| x as f64));
            let mag: f64 = a.iter().map(|&x| (x as f64).abs()).sum();
            assert!(
                vector::rel_close(sum_f32(&a) as f64, want, 1e-6, mag),
                "sum_f32 n={n}"
            );
            let want: f64 = a.iter().zip(&b).map(|(&x, &y)| x as f64 * y as f64).sum();
            let mag: f64 = a
                .iter()
                .zip(&b)
                .map(|(&x, &y)| (x as f64 * y as f64).abs())
                .sum();
            let got = dot_f32(&a, &b).unwrap() as f64;
            assert!(vector::rel_close(got, want, 1e-6, mag), "dot_f32 n={n}");
            let a64: Vec<f64> = a.iter().map(|&x| x as f64).collect();
            for (op, g32, g64) in [
                (ReduceOp::Min, min_f32(&a), min(&a64)),
                (ReduceOp::Max, max_f32(&a), max(&a64)),
            ] {
                let want = reduce_ref(op, a64.iter().copied());
                assert_eq!(g32 as f64, want, "{op:?} f32 n={n}");
                assert_eq!(g64, want, "{op:?} f64 n={n}");
            }
        }
    }

    #[test]
    fn elementwise_matches_the_cpu_backend_bit_for_bit() {
        use crate::gpu::cpu::elementwise_ref;
        use crate::gpu::ElementwiseOp as E;
        for n in edge_lengths() {
            let (mut a, b) = (gen32(n, 3), gen32(n, 4));
            if n > 2 {
                a[0] = -0.0;
                a[n - 1] = f32::NAN;
            }
            let (a64, b64): (Vec<f64>, Vec<f64>) = (
                a.iter().map(|&x| x as f64).collect(),
                b.iter().map(|&x| x as f64).collect(),
            );
            let bits32 = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            let bits64 = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            let (mut o32, mut o64) = (std::vec![9.0f32; n], std::vec![9.0f64; n]);
            for op in [E::Mul, E::Add, E::Scale, E::Relu] {
                match op {
                    E::Mul => mul_f32(&a, &b, &mut o32).unwrap(),
                    E::Add => add_f32(&a, &b, &mut o32).unwrap(),
                    E::Scale => scale_f32(1.75, &a, &mut o32).unwrap(),
                    E::Relu => relu_f32(&a, &mut o32).unwrap(),
                }
                // The cpu backend's f32 arithmetic: f32 ops, relu through elementwise_ref.
                let want32: Vec<f32> = a
                    .iter()
                    .zip(&b)
                    .map(|(&p, &q)| match op {
                        E::Mul => p * q,
                        E::Add => p + q,
                        E::Scale => 1.75f32 * p,
                        E::Relu => elementwise_ref(op, p as f64, 0.0, 0.0) as f32,
                    })
                    .collect();
                assert_eq!(bits32(&o32), bits32(&want32), "{op:?} f32 n={n}");
                match op {
                    E::Mul => mul(&a64, &b64, &mut o64).unwrap(),
                    E::Add => add(&a64, &b64, &mut o64).unwrap(),
                    E::Scale => scale(1.75, &a64, &mut o64).unwrap(),
                    E::Relu => relu(&a64, &mut o64).unwrap(),
                }
                let want64: Vec<f64> = a64
                    .iter()
                    .zip(&b64)
                    .map(|(&p, &q)| elementwise_ref(op, p, q, 1.75))
                    .collect();
                assert_eq!(bits64(&o64), bits64(&want64), "{op:?} f64 n={n}");
            }
            if n > 2 {
                assert_eq!(o32[0].to_bits(), 0, "relu(-0.0) is +0.0");
                assert!(o32[n - 1].is_nan(), "relu(NaN) is NaN");
            }
        }
    }

    #[test]
    fn f32_nan_in_any_chunk_propagates_and_shapes_are_checked() {
        for pos in [0, MIN_CHUNK - 1, MIN_CHUNK, 3 * MIN_CHUNK + 2] {
            let mut a = gen32(3 * MIN_CHUNK + 3, 5);
            a[pos] = f32::NAN;
            assert!(
                sum_f32(&a).is_nan() && dot_f32(&a, &a).unwrap().is_nan(),
                "pos={pos}"
            );
            assert!(min_f32(&a).is_nan() && max_f32(&a).is_nan(), "pos={pos}");
            let a64: Vec<f64> = a.iter().map(|&x| x as f64).collect();
            assert!(min(&a64).is_nan() && max(&a64).is_nan(), "pos={pos}");
        }
        assert_eq!(min_f32(&[]), f32::INFINITY);
        assert_eq!(max(&[]), f64::NEG_INFINITY);
        let a = gen32(10, 6);
        let mut out = std::vec![7.0f32; 2];
        assert!(dot_f32(&a, &a[1..]).is_err());
        assert!(mul_f32(&a[..3], &a[..3], &mut out).is_err());
        assert!(add_f32(&a[..2], &a[..3], &mut out).is_err());
        assert!(scale_f32(2.0, &a[..3], &mut out).is_err());
        assert!(relu_f32(&a[..3], &mut out).is_err());
        assert_eq!(out, [7.0, 7.0], "out untouched on a shape error");
        let mut o64 = std::vec![7.0f64; 2];
        assert!(add(&[1.0; 3], &[1.0; 3], &mut o64).is_err());
        assert!(relu(&[1.0; 3], &mut o64).is_err());
        assert_eq!(o64, [7.0, 7.0]);
    }

    /// Both copies, below and above the parallel threshold and with a last piece shorter
    /// than the others: byte for byte, every byte differing from its neighbours'.
    #[test]
    fn copy_bytes_copies_every_piece_in_place() {
        for n in [
            0,
            5,
            2 * COPY_PIECE - 1,
            2 * COPY_PIECE + COPY_PIECE / 2 + 3,
        ] {
            let src: Vec<u8> = (0..n).map(|i| (i * 131 % 251) as u8).collect();
            let mut a = std::vec![0u8; n];
            copy_bytes(&mut a, &src);
            assert!(a == src, "copy_bytes, {n} bytes");
            let mut b = std::vec![0u8; n];
            // SAFETY: b is n bytes, distinct from src, and used by nothing else meanwhile.
            unsafe { copy_bytes_to(b.as_mut_ptr(), &src) };
            assert!(b == src, "copy_bytes_to, {n} bytes");
        }
    }
}
