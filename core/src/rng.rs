//! PCG32, the one random-number generator every path of offload uses.
//!
//! The generator is PCG-XSH-RR with 64-bit state and 32-bit output, as defined by
//! M. E. O'Neill, "PCG: A Family of Simple Fast Space-Efficient Statistically Good
//! Algorithms for Random Number Generation" (HMC-CS-2014-0905), with the reference
//! implementation's multiplier and seeding (`pcg32_srandom_r`). It is spelled out here,
//! rather than taken from a crate, because the GPU kernels (WGSL, CUDA C) reimplement
//! it bit for bit: the same seed and stream give the same bootstrap samples on every
//! backend.

/// The LCG multiplier of the reference PCG32.
pub const PCG_MULTIPLIER: u64 = 6364136223846793005;

/// A PCG32 generator: 64-bit state, an odd 64-bit increment selecting the stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pcg32 {
    state: u64,
    inc: u64,
}

impl Pcg32 {
    /// Seeds like the reference `pcg32_srandom_r(seed, stream)`: streams with different
    /// `stream` values are independent sequences for the same `seed`.
    pub fn new(seed: u64, stream: u64) -> Self {
        let mut r = Pcg32 {
            state: 0,
            inc: (stream << 1) | 1,
        };
        r.next_u32();
        r.state = r.state.wrapping_add(seed);
        r.next_u32();
        r
    }

    /// The next 32 uniformly distributed bits.
    pub fn next_u32(&mut self) -> u32 {
        let old = self.state;
        self.state = old.wrapping_mul(PCG_MULTIPLIER).wrapping_add(self.inc);
        let xorshifted = (((old >> 18) ^ old) >> 27) as u32;
        let rot = (old >> 59) as u32;
        xorshifted.rotate_right(rot)
    }

    /// A value in `0..n` by multiply-shift (`(next_u32 · n) >> 32`; D. Lemire, "Fast
    /// Random Integer Generation in an Interval", 2019, without the rejection step, so
    /// the bias is below n / 2³²). Returns 0 when `n == 0`.
    pub fn below(&mut self, n: u32) -> u32 {
        ((self.next_u32() as u64 * n as u64) >> 32) as u32
    }

    /// A value in `[0, 1)` with 24 random bits (exact in `f32`).
    pub fn next_f32(&mut self) -> f32 {
        (self.next_u32() >> 8) as f32 * (1.0 / (1u32 << 24) as f32)
    }

    /// A value in `[0, 1)` with 53 random bits (two draws).
    pub fn next_f64(&mut self) -> f64 {
        let hi = (self.next_u32() >> 5) as u64; // 27 bits
        let lo = (self.next_u32() >> 6) as u64; // 26 bits
        ((hi << 26) | lo) as f64 * (1.0 / (1u64 << 53) as f64)
    }
}

/// `n` f32 uniform in [-1, 1) from xorshift32 (G. Marsaglia, "Xorshift RNGs", Journal of
/// Statistical Software 8(14), 2003; shifts 13/17/5) seeded with `seed` (0 is replaced by
/// 1): each value is `(x >> 8)·2^-23 − 1` of the next state `x`, exact in f32. The wasi:gpu
/// demo guest makes its inputs with it and the hosts make the same numbers to check its
/// answers (the Go host's tests have a port, `seededF32`).
#[cfg(feature = "alloc")]
pub fn seeded_f32(seed: u32, n: usize) -> alloc::vec::Vec<f32> {
    let mut x = if seed == 0 { 1 } else { seed };
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            (x >> 8) as f32 * (1.0 / (1u32 << 23) as f32) - 1.0
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_reference_sequence() {
        // pcg32-demo from the reference C implementation: pcg32_srandom_r(&rng, 42u, 54u)
        // prints 0xa15c02b7 0x7b47f409 0xba1d3330 0x83d2f293 0xbfa4784b 0xcbed606e.
        let mut r = Pcg32::new(42, 54);
        let got: [u32; 6] = core::array::from_fn(|_| r.next_u32());
        assert_eq!(
            got,
            [0xa15c02b7, 0x7b47f409, 0xba1d3330, 0x83d2f293, 0xbfa4784b, 0xcbed606e]
        );
    }

    #[test]
    fn below_and_floats_stay_in_range() {
        let mut r = Pcg32::new(7, 1);
        for _ in 0..10_000 {
            assert!(r.below(353) < 353);
            let f = r.next_f32();
            assert!((0.0..1.0).contains(&f));
            let d = r.next_f64();
            assert!((0.0..1.0).contains(&d));
        }
        assert_eq!(r.below(0), 0);
    }
}
