//! Σ of `f32` values in `f64`, any order (the fast family): how the SGEMM paths check their
//! product C, once for all of them (the wasi:gpu demo guest, the matrix client component
//! and the host's direct path), so that no path sums C with a slower algorithm than its
//! rival.
//!
//! Every `f32` widens to `f64` exactly; the additions are rounded in `f64`, in an order
//! that depends on the target (below), so two targets may differ in the last bits.

/// Σ `x[i]` in `f64`, each `f32` widened exactly. Any order: on wasm32 with simd128, eight
/// `f64x2` accumulators (16 partial sums) over blocks of 64 values, then the accumulators
/// pairwise and the tail (< 64 values) in order; elsewhere eight scalar accumulators over
/// blocks of 8 values, then the tail. Returns 0.0 for an empty slice; NaN and ±∞
/// propagate.
///
/// 64 values per loop iteration on wasm because wasmtime's deadline check at each loop
/// header makes Cranelift store and reload every accumulator once per iteration (see
/// [`crate::vector`]'s `sum_simd`): one iteration per 64 values shares that cost.
pub fn sum_f32_as_f64(x: &[f32]) -> f64 {
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    {
        simd128(x)
    }
    #[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
    {
        scalar8(x)
    }
}

#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
fn simd128(x: &[f32]) -> f64 {
    use core::arch::wasm32::*;
    let mut acc = [f64x2_splat(0.0); 8];
    let blocks = x.chunks_exact(64);
    let rest = blocks.remainder();
    for blk in blocks {
        for q in 0..4 {
            for h in 0..4 {
                // SAFETY: the block holds 64 f32; the 4 at 16·q + 4·h lie inside it;
                // v128_load allows unaligned addresses.
                let v = unsafe { v128_load(blk.as_ptr().add(16 * q + 4 * h) as *const v128) };
                let hi = i32x4_shuffle::<2, 3, 0, 1>(v, v);
                acc[2 * h] = f64x2_add(acc[2 * h], f64x2_promote_low_f32x4(v));
                acc[2 * h + 1] = f64x2_add(acc[2 * h + 1], f64x2_promote_low_f32x4(hi));
            }
        }
    }
    let lo = f64x2_add(f64x2_add(acc[0], acc[1]), f64x2_add(acc[2], acc[3]));
    let hi = f64x2_add(f64x2_add(acc[4], acc[5]), f64x2_add(acc[6], acc[7]));
    let v = f64x2_add(lo, hi);
    let tail: f64 = rest.iter().map(|&v| f64::from(v)).sum();
    f64x2_extract_lane::<0>(v) + f64x2_extract_lane::<1>(v) + tail
}

#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
fn scalar8(x: &[f32]) -> f64 {
    let mut acc = [0f64; 8];
    let chunks = x.chunks_exact(8);
    let rest = chunks.remainder();
    for c in chunks {
        for (a, &v) in acc.iter_mut().zip(c) {
            *a += f64::from(v);
        }
    }
    acc.iter().sum::<f64>() + rest.iter().map(|&v| f64::from(v)).sum::<f64>()
}

#[cfg(test)]
mod tests {
    use super::sum_f32_as_f64;

    #[test]
    fn sums_exactly_where_f64_is_exact_and_propagates_non_finite() {
        assert_eq!(sum_f32_as_f64(&[]), 0.0);
        // Integers up to 2^24 and their sums (< 2^53) are exact in any order.
        for n in [1usize, 7, 8, 9, 63, 64, 65, 1000] {
            let x: std::vec::Vec<f32> = (0..n).map(|i| (i * 37 % 1001) as f32 - 500.0).collect();
            let want: i64 = (0..n).map(|i| (i * 37 % 1001) as i64 - 500).sum();
            assert_eq!(sum_f32_as_f64(&x), want as f64, "n = {n}");
        }
        // Values f32 would round away: 2^24 + 1 is not an f32 sum, but is exact in f64.
        assert_eq!(sum_f32_as_f64(&[16_777_216.0, 1.0]), 16_777_217.0);
        assert!(sum_f32_as_f64(&[1.0, f32::NAN, 2.0]).is_nan());
        assert_eq!(sum_f32_as_f64(&[1.0, f32::INFINITY]), f64::INFINITY);
    }
}
