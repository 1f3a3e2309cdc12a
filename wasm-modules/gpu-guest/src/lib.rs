//! The demo guest of `wasi:gpu` (world `offload:gpu-guest/gpu-demo`, `wit/world.wit`).
//!
//! Exports `run` (sum, dot and matmul through the host's device, each checked against the
//! guest's own loop), `call-loop` (import-call overhead), `sum`, `dot`, `matmul` (the
//! benchmark bodies) and `probe` (isolation probes for the hosts' tests). Built for
//! wasm32-wasip1 into one core module that both hosts run (scripts/build-gpu-guest.sh).
//!
//! Seeds: `a` is [`seeded_f32`] with seed 1, `b` with seed 2 (matrices: A seed 1, B seed 2,
//! row-major).
//!
//! Probes (`probe(name, arg)`): a `gpu-error` from the host is returned as `err("<case>:
//! <message>")`, success as `ok(...)`; an ABI violation traps the guest in the host.
//! - `create-keep`: creates a 16-byte buffer, writes [`PATTERN`], keeps it alive in a
//!   guest global; ok: its raw handle in decimal.
//! - `use-raw`: `buffer-read` of 16 bytes on raw handle `arg` (forged or another
//!   instance's); ok: the bytes in hex (the host must instead trap or error).
//! - `destroyed-handle`: destroys a buffer, then reads through its raw handle.
//! - `oob-write`: writes 8 bytes at offset 12 of a 16-byte buffer; expect
//!   `err("out-of-bounds: ...")`.
//! - `over-quota`: allocates `arg` bytes; ok: `allocated <arg> bytes` (freed at once).
//! - `bad-pointer`: calls the core import of `buffer-write` with a pointer and length
//!   outside linear memory: the host must trap.
//! - `loop-forever`: never returns (the host's deadline must interrupt it).

use std::cell::RefCell;
use std::fmt::Write as _;

use wasi_gpu_guest::{
    elementwise_f32, matmul_f32, reduce_f32, seeded_f32, Buffer, ElementwiseOp, MatmulPrecision,
    ReduceOp,
};

wit_bindgen::generate!({
    path: ["../wit/wasi-gpu", "wit"],
    world: "offload:gpu-guest/gpu-demo@0.1.0",
    with: {
        "wasi:gpu/compute@0.1.0": wasi_gpu_guest::bindings::wasi::gpu::compute,
        "wasi:gpu/ml-kernels@0.1.0": wasi_gpu_guest::bindings::wasi::gpu::ml_kernels,
    },
});

/// The 16 bytes `create-keep` writes (0xA0 … 0xAF).
pub const PATTERN: [u8; 16] = [
    0xA0, 0xA1, 0xA2, 0xA3, 0xA4, 0xA5, 0xA6, 0xA7, 0xA8, 0xA9, 0xAA, 0xAB, 0xAC, 0xAD, 0xAE, 0xAF,
];

/// Seeded operands of one size: (n, a, b).
type Operands = Option<(usize, Vec<f32>, Vec<f32>)>;

thread_local! {
    /// Buffers `create-keep` keeps alive until the instance goes away.
    static KEPT: RefCell<Vec<Buffer>> = const { RefCell::new(Vec::new()) };
    /// Seeded operands by size, made once per instance so that benchmarks time the data
    /// movement and the kernel, not the generator: (n, a, b).
    static DATA: RefCell<Operands> = const { RefCell::new(None) };
}

/// Runs `f` on the seeded operands of `n` elements each (seeds 1 and 2).
fn with_data<R>(n: usize, f: impl FnOnce(&[f32], &[f32]) -> R) -> R {
    DATA.with(|d| {
        let mut d = d.borrow_mut();
        if d.as_ref().map(|(m, _, _)| *m) != Some(n) {
            *d = Some((n, seeded_f32(1, n), seeded_f32(2, n)));
        }
        let (_, a, b) = d.as_ref().expect("filled above");
        f(a, b)
    })
}

fn err(e: wasi_gpu_guest::Error) -> String {
    e.to_string()
}

/// Σ C in f64 from the little-endian f32 bytes `buffer-read` returned
/// ([`offload_core::widen::sum_f32_as_f64`], as every SGEMM path sums C). The bytes are
/// viewed as f32 in place where they are 4-aligned (the list's block from the allocator
/// is), else copied first.
fn sum_le_f32(bytes: &[u8]) -> f64 {
    match bytemuck::try_cast_slice::<u8, f32>(bytes) {
        Ok(x) => offload_core::widen::sum_f32_as_f64(x),
        Err(_) => offload_core::widen::sum_f32_as_f64(&bytemuck::pod_collect_to_vec(bytes)),
    }
}

/// Σ x in f64 with 8 accumulators (for Σ C of a large matrix).
fn sum_f64(x: &[f32]) -> f64 {
    let mut acc = [0f64; 8];
    let chunks = x.chunks_exact(8);
    let rest = chunks.remainder();
    for c in chunks {
        for i in 0..8 {
            acc[i] += c[i] as f64;
        }
    }
    acc.iter().sum::<f64>() + rest.iter().map(|&v| v as f64).sum::<f64>()
}

fn gpu_sum(n: u32) -> wasi_gpu_guest::Result<f64> {
    with_data(n as usize, |a, _| {
        let buf = Buffer::from_f32(a)?;
        let s = reduce_f32(ReduceOp::Sum, &buf, n as u64)?;
        buf.destroy()?;
        Ok(s)
    })
}

fn gpu_dot(n: u32) -> wasi_gpu_guest::Result<f64> {
    with_data(n as usize, |a, b| {
        let ba = Buffer::from_f32(a)?;
        let bb = Buffer::from_f32(b)?;
        // out = a·b in place in `ba`, then Σ.
        elementwise_f32(ElementwiseOp::Mul, &ba, Some(&bb), 0.0, &ba, n as u64)?;
        let s = reduce_f32(ReduceOp::Sum, &ba, n as u64)?;
        ba.destroy()?;
        bb.destroy()?;
        Ok(s)
    })
}

/// C = A·B through the device, data movement included; returns C as the little-endian
/// bytes `buffer-read` returned.
fn gpu_matmul_bytes(n: u32, tf32: bool) -> wasi_gpu_guest::Result<Vec<u8>> {
    let nn = n as usize * n as usize;
    with_data(nn, |a, b| {
        let ba = Buffer::from_f32(a)?;
        let bb = Buffer::from_f32(b)?;
        let bc = Buffer::new(4 * nn as u64)?;
        let precision = if tf32 {
            MatmulPrecision::Tf32
        } else {
            MatmulPrecision::Fp32
        };
        matmul_f32(precision, &ba, &bb, &bc, n, n, n)?;
        let c = bc.read(0, 4 * nn as u64)?;
        ba.destroy()?;
        bb.destroy()?;
        bc.destroy()?;
        Ok(c)
    })
}

/// `|got − want| ≤ tol·scale`, with a message naming the op on failure.
fn check(op: &str, got: f64, want: f64, scale: f64, tol: f64) -> Result<(), String> {
    let e = (got - want).abs();
    if e <= tol * scale || (got.is_nan() && want.is_nan()) {
        Ok(())
    } else {
        Err(format!(
            "{op}: device gave {got:e}, guest loop {want:e} (|error| {e:e} > {tol:e}·{scale:e})"
        ))
    }
}

fn run_checked() -> Result<String, String> {
    let mut out = String::new();
    // sum: relative tolerance scaled by Σ|a| (tree vs sequential order).
    let n = 100_000u32;
    let got = gpu_sum(n).map_err(err)?;
    let (want, scale) = with_data(n as usize, |a, _| {
        (
            a.iter().map(|&v| v as f64).sum::<f64>(),
            a.iter().map(|&v| v.abs() as f64).sum::<f64>(),
        )
    });
    check("sum", got, want, scale, 1e-5)?;
    let _ = writeln!(out, "sum n={n}: {got:.6e} (guest loop {want:.6e})");

    let got = gpu_dot(n).map_err(err)?;
    let (want, scale) = with_data(n as usize, |a, b| {
        (
            a.iter().zip(b).map(|(&x, &y)| (x * y) as f64).sum::<f64>(),
            a.iter()
                .zip(b)
                .map(|(&x, &y)| (x * y).abs() as f64)
                .sum::<f64>(),
        )
    });
    check("dot", got, want, scale, 1e-5)?;
    let _ = writeln!(out, "dot n={n}: {got:.6e} (guest loop {want:.6e})");

    // matmul: every element of C against the triple loop, tolerance 1e-4 of Σ_k |a||b|.
    let m = 64u32;
    let c: Vec<f32> = gpu_matmul_bytes(m, false)
        .map_err(err)?
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    let mu = m as usize;
    let mut max_err = 0f64;
    with_data(mu * mu, |a, b| -> Result<(), String> {
        for i in 0..mu {
            for j in 0..mu {
                let (mut want, mut scale) = (0f64, 0f64);
                for k in 0..mu {
                    let p = a[i * mu + k] as f64 * b[k * mu + j] as f64;
                    want += p;
                    scale += p.abs();
                }
                let got = c[i * mu + j] as f64;
                check(&format!("matmul C[{i},{j}]"), got, want, scale, 1e-4)?;
                max_err = max_err.max((got - want).abs() / scale.max(f64::MIN_POSITIVE));
            }
        }
        Ok(())
    })?;
    let _ = write!(
        out,
        "matmul m=k=n={m}: sum C {:.6e} (max rel err {max_err:.1e} vs guest loop)",
        sum_f64(&c)
    );
    Ok(out)
}

/// Hex of bytes, for probe results.
fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// `buffer-read` of 16 bytes through a raw handle this guest did not get from the host
/// (or no longer owns). The borrowed resource is forgotten, never dropped.
fn read_raw(handle: u32) -> Result<String, String> {
    // SAFETY: deliberately unsound use of a handle, to test the host: the canonical ABI
    // traps on a handle the instance does not own, which ends this call.
    let forged =
        unsafe { wasi_gpu_guest::bindings::wasi::gpu::compute::Buffer::from_handle(handle) };
    let r = wasi_gpu_guest::bindings::wasi::gpu::compute::buffer_read(&forged, 0, 16);
    std::mem::forget(forged);
    match r {
        Ok(bytes) => Ok(hex(&bytes)),
        Err(e) => Err(err(e.into())),
    }
}

#[link(wasm_import_module = "wasi:gpu/compute@0.1.0")]
extern "C" {
    /// The core import wit-bindgen lowers `buffer-write` to: (handle, offset, data ptr,
    /// data len, return area ptr).
    #[link_name = "buffer-write"]
    fn raw_buffer_write(handle: i32, offset: i64, ptr: *mut u8, len: usize, ret: *mut u8);
}

fn probe(name: &str, arg: u64) -> Result<String, String> {
    match name {
        "create-keep" => {
            let b = Buffer::new(16).map_err(err)?;
            b.write(0, &PATTERN).map_err(err)?;
            let h = b.raw_handle();
            KEPT.with(|k| k.borrow_mut().push(b));
            Ok(h.to_string())
        }
        "use-raw" => {
            let h = u32::try_from(arg).map_err(|_| format!("handle {arg} is over u32"))?;
            read_raw(h)
        }
        "destroyed-handle" => {
            let b = Buffer::new(16).map_err(err)?;
            let h = b.raw_handle();
            b.destroy().map_err(err)?;
            read_raw(h)
        }
        "oob-write" => {
            let b = Buffer::new(16).map_err(err)?;
            b.write(12, &[1u8; 8]).map_err(err)?;
            Ok("a write of 8 bytes at offset 12 of a 16-byte buffer succeeded".into())
        }
        "over-quota" => {
            let b = Buffer::new(arg).map_err(err)?;
            b.destroy().map_err(err)?;
            Ok(format!("allocated {arg} bytes"))
        }
        "bad-pointer" => {
            let b = Buffer::new(16).map_err(err)?;
            #[repr(align(8))]
            struct Ret([u8; 16]);
            let mut ret = Ret([0; 16]);
            // A pointer near the top of the 32-bit space, far past this guest's memory.
            let ptr = 0xFFFF_FF00usize as *mut u8;
            // SAFETY: the host reads `len` bytes at `ptr` from linear memory, which it must
            // bounds-check and trap on; no Rust memory is touched except `ret`.
            unsafe { raw_buffer_write(b.raw_handle() as i32, 0, ptr, 16, ret.0.as_mut_ptr()) };
            Ok(format!(
                "the host accepted a pointer outside linear memory (result tag {})",
                ret.0[0]
            ))
        }
        "read-order" => {
            // The wasi:gpu policy's order of buffer-read checks, as the guest sees it:
            // `arg` is the instance's byte quota. Each read fails two checks at most; the
            // answer lists the case that won, so both hosts must print the same line.
            let b = Buffer::new(16).map_err(err)?;
            let reads = [(32, 0), (0, arg + 1), (8, 16), (u64::MAX, 1), (0, 16)];
            let cases: Vec<&str> = reads
                .iter()
                .map(|&(offset, bytes)| b.read(offset, bytes).map_or_else(|e| e.case(), |_| "ok"))
                .collect();
            Ok(cases.join(" "))
        }
        "loop-forever" => {
            let mut i = 0u64;
            loop {
                i = std::hint::black_box(i.wrapping_add(1));
            }
        }
        other => Err(format!(
            "unknown probe {other:?} (create-keep, use-raw, destroyed-handle, oob-write, \
             over-quota, read-order, bad-pointer, loop-forever)"
        )),
    }
}

struct Demo;

impl Guest for Demo {
    fn run() -> Result<String, String> {
        run_checked()
    }

    fn call_loop(iterations: u32) -> Result<(), String> {
        let b = Buffer::new(4).map_err(err)?;
        let word = [0u8; 4];
        for _ in 0..iterations {
            b.write(0, &word).map_err(err)?;
        }
        b.destroy().map_err(err)
    }

    fn sum(n: u32) -> Result<f64, String> {
        gpu_sum(n).map_err(err)
    }

    fn dot(n: u32) -> Result<f64, String> {
        gpu_dot(n).map_err(err)
    }

    fn matmul(n: u32, tf32: bool) -> Result<f64, String> {
        gpu_matmul_bytes(n, tf32)
            .map(|c| sum_le_f32(&c))
            .map_err(err)
    }

    fn probe(name: String, arg: u64) -> Result<String, String> {
        probe(&name, arg)
    }
}

export!(Demo);
