//! The matrix client component (world `offload:provider/client`).
//!
//! It imports `offload:provider/matrix@0.1.0` and exports `run-matrix-example` and
//! `run-matmul`: it builds seeded matrices in its own linear memory, allocates
//! `device-buffer`s in the provider's context, copies the operands there, launches
//! `matmul` on the handles, reads the product back, frees the buffers and checks the
//! product against its own loop. Which provider answers is decided at composition time
//! (`offload compose matrix-client.wasm --plug provider-cpu.wasm`), not here.

use std::cell::RefCell;

use offload::provider::matrix::{self, MatrixError};

wit_bindgen::generate!({
    path: "../wit/offload-provider",
    world: "client",
});

/// Shape of `run-matrix-example`: (m, k) · (k, n).
const EXAMPLE_M: usize = 64;
const EXAMPLE_K: usize = 48;
const EXAMPLE_N: usize = 32;
/// Seed of the example's matrices.
const EXAMPLE_SEED: u64 = 7;
/// Tolerance of the example's check, relative to Σ_p |a_ip·b_pj| of each entry.
const EXAMPLE_TOL: f64 = 1e-5;
/// Tolerance of `run-matmul`'s check (f32 sums of up to n terms; TF32 never used).
const MATMUL_TOL: f64 = 1e-4;
/// Entries of C that `run-matmul` checks against f64 dot products.
const MATMUL_SPOT_CHECKS: usize = 64;

/// SplitMix64 (Steele, Lea & Flood, "Fast splittable pseudorandom number generators",
/// OOPSLA 2014): a tiny seeded generator, enough for test matrices.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in [-1, 1) with 24 random bits (exact in f32).
    fn uniform(&mut self) -> f32 {
        ((self.next_u64() >> 40) as f32) * (2.0 / (1u64 << 24) as f32) - 1.0
    }

    /// A multiple of 1/8 in [-1, 1]: products and sums of a few thousand of them are
    /// exact in f32, so every correct provider returns the same bits.
    fn eighths(&mut self) -> f32 {
        ((self.next_u64() % 17) as f32 - 8.0) / 8.0
    }
}

fn describe(e: &MatrixError) -> String {
    match e {
        MatrixError::OutOfBounds(s) => format!("out-of-bounds: {s}"),
        MatrixError::ShapeMismatch(s) => format!("shape-mismatch: {s}"),
        MatrixError::ZeroSize(s) => format!("zero-size: {s}"),
        MatrixError::InvalidArgument(s) => format!("invalid-argument: {s}"),
        MatrixError::Device(s) => format!("device: {s}"),
    }
}

fn to_u32(x: usize, what: &str) -> Result<u32, String> {
    u32::try_from(x).map_err(|_| format!("{what} = {x} does not fit in u32"))
}

/// `c = a·b` (a m×k, b k×n, row-major) through the provider: allocate, write, matmul,
/// read, free. Returns c (m×n).
fn offload_matmul(a: &[f32], b: &[f32], m: usize, k: usize, n: usize) -> Result<Vec<f32>, String> {
    let step = |what: &'static str| move |e: MatrixError| format!("{what}: {}", describe(&e));
    let da = matrix::allocate(to_u32(m * k, "m·k")?).map_err(step("allocate a"))?;
    let db = matrix::allocate(to_u32(k * n, "k·n")?).map_err(step("allocate b"))?;
    let dc = matrix::allocate(to_u32(m * n, "m·n")?).map_err(step("allocate c"))?;
    da.write(0, a).map_err(step("write a"))?;
    db.write(0, b).map_err(step("write b"))?;
    matrix::matmul(
        &da,
        &db,
        &dc,
        to_u32(m, "m")?,
        to_u32(n, "n")?,
        to_u32(k, "k")?,
    )
    .map_err(step("matmul"))?;
    let c = dc.read(0, to_u32(m * n, "m·n")?).map_err(step("read c"))?;
    for buf in [da, db, dc] {
        matrix::free(buf);
    }
    if c.len() != m * n {
        return Err(format!(
            "read c: the provider returned {} elements, asked for {}",
            c.len(),
            m * n
        ));
    }
    Ok(c)
}

/// Entry (i, j) of a·b in f64, and Σ_p |a_ip·b_pj| (the scale its error is judged by).
fn dot_entry(a: &[f32], b: &[f32], k: usize, n: usize, i: usize, j: usize) -> (f64, f64) {
    let (mut s, mut abs) = (0.0f64, 0.0f64);
    for p in 0..k {
        let t = f64::from(a[i * k + p]) * f64::from(b[p * n + j]);
        s += t;
        abs += t.abs();
    }
    (s, abs)
}

/// The operands of `run-matmul`, kept between calls so that benchmarks time the
/// offload only.
struct Operands {
    n: usize,
    seed: u64,
    a: Vec<f32>,
    b: Vec<f32>,
}

thread_local! {
    static OPERANDS: RefCell<Option<Operands>> = const { RefCell::new(None) };
}

struct Client;

impl Guest for Client {
    fn run_matrix_example() -> Result<String, String> {
        let (m, k, n) = (EXAMPLE_M, EXAMPLE_K, EXAMPLE_N);
        let mut rng = SplitMix64(EXAMPLE_SEED);
        let a: Vec<f32> = (0..m * k).map(|_| rng.eighths()).collect();
        let b: Vec<f32> = (0..k * n).map(|_| rng.eighths()).collect();
        let c = offload_matmul(&a, &b, m, k, n)?;
        let mut max_err = 0.0f64;
        for i in 0..m {
            for j in 0..n {
                let (want, scale) = dot_entry(&a, &b, k, n, i, j);
                let err = (f64::from(c[i * n + j]) - want).abs() / scale.max(f64::MIN_POSITIVE);
                // NaN from the provider must fail the check, not slip past max().
                if err.is_nan() || err > max_err {
                    max_err = if err.is_nan() { f64::INFINITY } else { err };
                }
            }
        }
        let checksum = offload_core::widen::sum_f32_as_f64(&c);
        let provider = matrix::provider_name();
        if max_err > EXAMPLE_TOL {
            return Err(format!(
                "matmul {m}x{k} * {k}x{n} by {provider}: max relative error {max_err:e} over the tolerance {EXAMPLE_TOL:e}"
            ));
        }
        Ok(format!(
            "matmul {m}x{k} * {k}x{n} = {m}x{n}: max_rel_err {max_err:e}, checksum {checksum:.6}, provider {provider}"
        ))
    }

    fn run_matmul(n: u32, seed: u64, check: bool) -> Result<f64, String> {
        let n = n as usize;
        if n == 0 {
            return Err("run-matmul: n must be at least 1".into());
        }
        OPERANDS.with(|cell| {
            let mut slot = cell.borrow_mut();
            if !matches!(&*slot, Some(o) if o.n == n && o.seed == seed) {
                let mut rng = SplitMix64(seed);
                let a = (0..n * n).map(|_| rng.uniform()).collect();
                let b = (0..n * n).map(|_| rng.uniform()).collect();
                *slot = Some(Operands { n, seed, a, b });
            }
            let ops = slot.as_ref().expect("operands were just generated");
            let c = offload_matmul(&ops.a, &ops.b, n, n, n)?;
            let checksum = offload_core::widen::sum_f32_as_f64(&c);
            if check {
                check_product(&ops.a, &ops.b, &c, n, checksum, seed)?;
            }
            Ok(checksum)
        })
    }
}

/// `run-matmul`'s check: Σ c = Σ_p (Σ_i a_ip)(Σ_j b_pj) in O(n²), and
/// [`MATMUL_SPOT_CHECKS`] seeded entries against f64 dot products.
fn check_product(
    a: &[f32],
    b: &[f32],
    c: &[f32],
    n: usize,
    checksum: f64,
    seed: u64,
) -> Result<(), String> {
    let mut colsum_a = vec![0.0f64; n];
    let mut rowsum_b = vec![0.0f64; n];
    let mut scale = 0.0f64;
    for i in 0..n {
        for p in 0..n {
            colsum_a[p] += f64::from(a[i * n + p]);
            rowsum_b[i] += f64::from(b[i * n + p]);
        }
    }
    let mut want = 0.0f64;
    for p in 0..n {
        want += colsum_a[p] * rowsum_b[p];
        scale += (colsum_a[p] * rowsum_b[p]).abs();
    }
    // Σ c sums n² f32 entries each rounded at ~n·2^-24 relative to Σ|a·b|.
    let entry_scale = (n as f64).sqrt() * n as f64;
    let tol = MATMUL_TOL * (scale + entry_scale);
    // NaN fails the check too.
    if (checksum - want).abs().is_nan() || (checksum - want).abs() > tol {
        return Err(format!(
            "run-matmul n={n}: checksum {checksum} differs from Σ_p colsum(a)·rowsum(b) = {want} by more than {tol:e}"
        ));
    }
    let mut rng = SplitMix64(seed ^ 0x5eed);
    for _ in 0..MATMUL_SPOT_CHECKS {
        let i = (rng.next_u64() % n as u64) as usize;
        let j = (rng.next_u64() % n as u64) as usize;
        let (want, abs) = dot_entry(a, b, n, n, i, j);
        let got = f64::from(c[i * n + j]);
        let err = (got - want).abs() / abs.max(f64::MIN_POSITIVE);
        if err.is_nan() || err > MATMUL_TOL {
            return Err(format!(
                "run-matmul n={n}: c[{i}][{j}] = {got}, want {want} (relative error {err:e} over {MATMUL_TOL:e})"
            ));
        }
    }
    Ok(())
}

export!(Client);
