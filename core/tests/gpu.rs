//! Every kernel of every available GPU backend against the cpu reference, and bad input.
//!
//! Inputs are fresh random numbers each run (the seed is printed; `OFFLOAD_TEST_SEED`
//! repeats a run). Outputs are poisoned with NaN before each kernel so that an unwritten
//! element fails. Errors are relative in the 2-norm: f32 element-wise and reductions
//! ≤ 1e-5, FP32 matmul ≤ 1e-4, TF32 ≤ 5e-3, f64 ≤ 1e-12.
//!
//! A backend that cannot start is skipped with its reason printed (the cuda tests on a
//! machine without a driver; wgpu where there is no Vulkan loader). Run with
//! `cargo test -p offload-core --features wgpu,cuda --test gpu -- --nocapture` to see the
//! adapter names.

use offload_core::gpu::cpu::CpuBackend;
use offload_core::gpu::{
    probe_all, Backend, BackendKind, DType, ElementwiseOp, GpuBackend, GpuError, MatmulPrecision,
    ReduceOp,
};
use rand::Rng;
use rand_pcg::Pcg64;

mod common;
use common::rng;

/// Asserts that `$r` is an `Err` matching the [`GpuError`] pattern `$p`.
macro_rules! assert_err {
    ($r:expr, $p:pat) => {
        match $r {
            Err(e) => assert!(matches!(e, $p), "expected {}, got {e:?}", stringify!($p)),
            Ok(_) => panic!("expected {}, got Ok", stringify!($p)),
        }
    };
}

const SIZES: [usize; 6] = [1, 3, 255, 1023, 1025, 70_001];
const MATMUL_SHAPES: [(usize, usize, usize); 7] = [
    (1, 1, 1),
    (3, 5, 7),
    (64, 128, 64),
    (129, 65, 130),
    (200, 17, 257),
    (132, 68, 260),
    (256, 32, 128),
];

/// Opens a backend or prints why it is skipped.
fn open(kind: BackendKind) -> Option<Backend> {
    match Backend::open_kind(kind) {
        Ok(b) => {
            let i = b.info();
            println!(
                "{}: running on {} ({}), f64 {}, timestamps {}",
                kind.name(),
                i.name,
                i.driver,
                i.supports_f64,
                i.kernel_timing
            );
            Some(b)
        }
        Err(e) => {
            println!("SKIP {}: {e}", kind.name());
            None
        }
    }
}

/// ‖x − y‖₂ / ‖y‖₂ (‖x − y‖₂ when y is 0); infinite when x holds NaN where y does not.
fn rel_err(x: &[f64], y: &[f64]) -> f64 {
    assert_eq!(x.len(), y.len());
    let (mut d, mut r) = (0.0, 0.0);
    for (a, b) in x.iter().zip(y) {
        if a.is_nan() != b.is_nan() {
            return f64::INFINITY;
        }
        if a.is_nan() {
            continue;
        }
        d += (a - b) * (a - b);
        r += b * b;
    }
    if r == 0.0 {
        d.sqrt()
    } else {
        (d / r).sqrt()
    }
}

fn to_bytes(dtype: DType, v: &[f64]) -> Vec<u8> {
    match dtype {
        DType::F32 => v.iter().flat_map(|&x| (x as f32).to_le_bytes()).collect(),
        DType::F64 => v.iter().flat_map(|&x| x.to_le_bytes()).collect(),
    }
}

fn from_bytes(dtype: DType, b: &[u8]) -> Vec<f64> {
    match dtype {
        DType::F32 => b
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]) as f64)
            .collect(),
        DType::F64 => b
            .chunks_exact(8)
            .map(|c| f64::from_le_bytes(c.try_into().unwrap()))
            .collect(),
    }
}

fn upload(b: &mut dyn GpuBackend, dtype: DType, v: &[f64]) -> u64 {
    let bytes = to_bytes(dtype, v);
    let id = b.create_buffer(bytes.len() as u64).unwrap();
    b.write(id, 0, &bytes).unwrap();
    id
}

fn poisoned(b: &mut dyn GpuBackend, bytes: usize) -> u64 {
    let id = b.create_buffer(bytes as u64).unwrap();
    b.write(id, 0, &vec![0xFF; bytes]).unwrap(); // all-ones bits: NaN in f32 and f64
    id
}

fn download(b: &mut dyn GpuBackend, dtype: DType, id: u64, n: usize) -> Vec<f64> {
    let mut out = vec![0u8; n * dtype.size() as usize];
    b.read(id, 0, &mut out).unwrap();
    from_bytes(dtype, &out)
}

fn tol(dtype: DType) -> f64 {
    match dtype {
        DType::F32 => 1e-5,
        DType::F64 => 1e-12,
    }
}

fn random(r: &mut Pcg64, n: usize) -> Vec<f64> {
    (0..n).map(|_| r.random_range(-1.0..1.0)).collect()
}

/// Runs every vector kernel and matmul on `dev` and on the cpu reference, same inputs.
fn kernels_match_cpu(dev: &mut Backend) {
    let mut r = rng();
    let mut cpu = CpuBackend::new();
    let mut dtypes = vec![DType::F32];
    if dev.info().supports_f64 {
        dtypes.push(DType::F64);
    } else {
        // f64 without device support is an error, never a silent f32.
        let a = upload(&mut **dev, DType::F64, &[1.0, 2.0]);
        let e = dev.reduce(ReduceOp::Sum, DType::F64, a, 2).unwrap_err();
        assert!(matches!(e, GpuError::Unsupported(_)), "{e}");
        println!("f64 on {}: {e}", dev.info().name);
        dev.destroy_buffer(a).unwrap();
    }
    for &dtype in &dtypes {
        for &n in &SIZES {
            let av = random(&mut r, n);
            let bv = random(&mut r, n);
            let scalar = r.random_range(-3.0..3.0);
            let (a, b) = (
                upload(&mut **dev, dtype, &av),
                upload(&mut **dev, dtype, &bv),
            );
            let (ca, cb) = (upload(&mut cpu, dtype, &av), upload(&mut cpu, dtype, &bv));
            for op in [ReduceOp::Sum, ReduceOp::Min, ReduceOp::Max] {
                let got = dev.reduce(op, dtype, a, n as u64).unwrap();
                let want = cpu.reduce(op, dtype, ca, n as u64).unwrap();
                // Sums are compared relative to Σ|a| (the condition of the sum).
                let scale = av
                    .iter()
                    .map(|x| x.abs())
                    .sum::<f64>()
                    .max(f64::MIN_POSITIVE);
                let err = (got - want).abs()
                    / if op == ReduceOp::Sum {
                        scale
                    } else {
                        want.abs().max(1e-30)
                    };
                assert!(
                    err <= tol(dtype),
                    "{op:?} {dtype:?} n={n}: {got} vs {want} (err {err:e})"
                );
            }
            let got = dev.dot(dtype, a, b, n as u64).unwrap();
            let want = cpu.dot(dtype, ca, cb, n as u64).unwrap();
            let cond: f64 = av.iter().zip(&bv).map(|(x, y)| (x * y).abs()).sum();
            let err = (got - want).abs() / cond.max(f64::MIN_POSITIVE);
            assert!(
                err <= tol(dtype),
                "dot {dtype:?} n={n}: {got} vs {want} (err {err:e})"
            );

            for op in [
                ElementwiseOp::Mul,
                ElementwiseOp::Add,
                ElementwiseOp::Scale,
                ElementwiseOp::Relu,
            ] {
                let bytes = n * dtype.size() as usize;
                let out = poisoned(&mut **dev, bytes);
                let cout = poisoned(&mut cpu, bytes);
                dev.elementwise(op, dtype, a, Some(b), scalar, out, n as u64)
                    .unwrap();
                cpu.elementwise(op, dtype, ca, Some(cb), scalar, cout, n as u64)
                    .unwrap();
                let got = download(&mut **dev, dtype, out, n);
                let want = download(&mut cpu, dtype, cout, n);
                let err = rel_err(&got, &want);
                assert!(err <= tol(dtype), "{op:?} {dtype:?} n={n}: rel err {err:e}");
                dev.destroy_buffer(out).unwrap();
            }
            // In place: a ← a · b.
            dev.elementwise(ElementwiseOp::Mul, dtype, a, Some(b), 0.0, a, n as u64)
                .unwrap();
            let got = download(&mut **dev, dtype, a, n);
            let want: Vec<f64> = to_bytes(
                dtype,
                &av.iter().zip(&bv).map(|(x, y)| x * y).collect::<Vec<_>>(),
            )
            .chunks(dtype.size() as usize)
            .flat_map(|c| from_bytes(dtype, c))
            .collect();
            assert!(rel_err(&got, &want) <= 1e-6, "in-place mul {dtype:?} n={n}");
            dev.destroy_buffer(a).unwrap();
            dev.destroy_buffer(b).unwrap();
        }
    }
    // Copy device to device, then read part of it at an unaligned offset.
    let v: Vec<u8> = (0..1001u32).map(|i| (i * 7 % 251) as u8).collect();
    let s = dev.create_buffer(1001).unwrap();
    let d = dev.create_buffer(1001).unwrap();
    dev.write(s, 0, &v).unwrap();
    dev.copy(s, 0, d, 0, 1000).unwrap();
    dev.write(d, 1000, &[42]).unwrap();
    let mut back = vec![0u8; 999];
    dev.read(d, 1, &mut back).unwrap();
    assert_eq!(&back[..998], &v[1..999]);
    assert_eq!(back[998], v[999]);
    let mut last = [0u8; 1];
    dev.read(d, 1000, &mut last).unwrap();
    assert_eq!(last[0], 42);
    dev.write(s, 3, &[9, 8, 7, 6, 5]).unwrap();
    let mut mid = [0u8; 5];
    dev.read(s, 3, &mut mid).unwrap();
    assert_eq!(mid, [9, 8, 7, 6, 5]);

    let mut precisions = vec![(MatmulPrecision::Fp32, 1e-4)];
    if dev.info().supports_tf32 {
        precisions.push((MatmulPrecision::Tf32, 5e-3));
    }
    for (prec, tol) in precisions {
        for &(m, k, n) in &MATMUL_SHAPES {
            let av = random(&mut r, m * k);
            let bv = random(&mut r, k * n);
            let (a, b) = (
                upload(&mut **dev, DType::F32, &av),
                upload(&mut **dev, DType::F32, &bv),
            );
            let c = poisoned(&mut **dev, m * n * 4);
            let (ca, cb) = (
                upload(&mut cpu, DType::F32, &av),
                upload(&mut cpu, DType::F32, &bv),
            );
            let cc = poisoned(&mut cpu, m * n * 4);
            dev.matmul(prec, a, b, c, m as u64, k as u64, n as u64)
                .unwrap();
            cpu.matmul(
                MatmulPrecision::Fp32,
                ca,
                cb,
                cc,
                m as u64,
                k as u64,
                n as u64,
            )
            .unwrap();
            let err = rel_err(
                &download(&mut **dev, DType::F32, c, m * n),
                &download(&mut cpu, DType::F32, cc, m * n),
            );
            assert!(err <= tol, "matmul {prec:?} {m}x{k}x{n}: rel err {err:e}");
            for id in [a, b, c] {
                dev.destroy_buffer(id).unwrap();
            }
        }
    }
    if dev.info().kernel_timing {
        dev.set_kernel_timing(true).unwrap();
        let a = upload(&mut **dev, DType::F32, &random(&mut r, 4096));
        dev.reduce(ReduceOp::Sum, DType::F32, a, 4096).unwrap();
        let ns = dev.last_kernel_ns().expect("kernel time with timing on");
        println!(
            "{}: sum of 4096 f32 took {ns} ns on the device",
            dev.info().name
        );
        dev.set_kernel_timing(false).unwrap();
    }
}

/// Every kind of bad input is an error of the right kind, and the device stays usable.
fn bad_input(dev: &mut Backend) {
    let a = dev.create_buffer(64).unwrap();
    let b = dev.create_buffer(64).unwrap();
    assert_err!(dev.write(0, 0, &[1]), GpuError::InvalidHandle(_));
    assert_err!(dev.write(9999, 0, &[1]), GpuError::InvalidHandle(_));
    let gone = dev.create_buffer(16).unwrap();
    dev.destroy_buffer(gone).unwrap();
    assert_err!(dev.destroy_buffer(gone), GpuError::InvalidHandle(_));
    assert_err!(dev.read(gone, 0, &mut [0u8; 4]), GpuError::InvalidHandle(_));
    assert_err!(
        dev.reduce(ReduceOp::Sum, DType::F32, gone, 1),
        GpuError::InvalidHandle(_)
    );
    assert_err!(dev.write(a, 60, &[0u8; 8]), GpuError::OutOfBounds { .. });
    assert_err!(
        dev.read(a, u64::MAX, &mut [0u8; 2]),
        GpuError::OutOfBounds { .. }
    );
    assert_err!(dev.copy(a, 0, b, 32, 64), GpuError::OutOfBounds { .. });
    assert_err!(dev.copy(a, 0, a, 8, 16), GpuError::InvalidArgument(_));
    assert_err!(dev.create_buffer(0), GpuError::ZeroSize(_));
    assert_err!(dev.write(a, 0, &[]), GpuError::ZeroSize(_));
    assert_err!(
        dev.reduce(ReduceOp::Max, DType::F32, a, 0),
        GpuError::ZeroSize(_)
    );
    let limit = dev.info().max_buffer_bytes;
    assert_err!(dev.create_buffer(limit + 1), GpuError::TooLarge { .. });
    assert_err!(dev.create_buffer(u64::MAX), GpuError::TooLarge { .. });
    // 17 f32 do not fit in 64 bytes.
    assert_err!(
        dev.reduce(ReduceOp::Sum, DType::F32, a, 17),
        GpuError::ShapeMismatch(_)
    );
    assert_err!(dev.dot(DType::F32, a, b, 17), GpuError::ShapeMismatch(_));
    assert_err!(
        dev.elementwise(ElementwiseOp::Add, DType::F32, a, None, 0.0, b, 4),
        GpuError::InvalidArgument(_)
    );
    // 4×4 · 4×4 needs 64 bytes each: 5×4 does not fit, and C may not alias A.
    assert_err!(
        dev.matmul(MatmulPrecision::Fp32, a, b, b, 4, 4, 4),
        GpuError::ShapeMismatch(_)
    );
    let c = dev.create_buffer(64).unwrap();
    assert_err!(
        dev.matmul(MatmulPrecision::Fp32, a, b, c, 5, 4, 4),
        GpuError::ShapeMismatch(_)
    );
    assert_err!(
        dev.matmul(MatmulPrecision::Fp32, a, b, c, 0, 4, 4),
        GpuError::ZeroSize(_)
    );
    assert!(Backend::open("opencl").is_err());
    // Still usable: a correct sum after all of that.
    dev.write(a, 0, &to_bytes(DType::F32, &[1.0, 2.0, 3.0, 4.5]))
        .unwrap();
    assert_eq!(dev.reduce(ReduceOp::Sum, DType::F32, a, 4).unwrap(), 10.5);
    dev.sync().unwrap();
}

#[test]
fn probe_lists_every_backend() {
    let probes = probe_all();
    assert_eq!(probes.len(), 3);
    for p in &probes {
        match &p.device {
            Ok(i) => println!("{}: {} ({})", p.kind.name(), i.name, i.driver),
            Err(why) => println!("{}: unavailable: {why}", p.kind.name()),
        }
    }
    assert!(probes[0].device.is_ok(), "cpu always opens");
}

#[test]
fn cpu_bad_input() {
    bad_input(&mut Backend::open("cpu").unwrap());
}

#[test]
fn wgpu_kernels_match_cpu() {
    if let Some(mut b) = open(BackendKind::Wgpu) {
        kernels_match_cpu(&mut b);
    }
}

#[test]
fn wgpu_bad_input() {
    if let Some(mut b) = open(BackendKind::Wgpu) {
        bad_input(&mut b);
    }
}

#[test]
fn cuda_kernels_match_cpu() {
    if let Some(mut b) = open(BackendKind::Cuda) {
        kernels_match_cpu(&mut b);
    }
}

#[test]
fn cuda_bad_input() {
    if let Some(mut b) = open(BackendKind::Cuda) {
        bad_input(&mut b);
    }
}

/// A transfer longer than two of a backend's staging buffers of `stage` bytes each (as
/// long as the device's largest buffer where that is less: lavapipe's 128 MiB against
/// wgpu's 64 MiB staging, two chunks), read back byte for byte; every 4-byte word differs
/// from its neighbours, so a chunk copied to or from the wrong place fails. Then an
/// unaligned read of more than one chunk that starts just before a chunk boundary.
#[cfg(any(feature = "wgpu", feature = "cuda"))]
fn transfers_span_staging_chunks(dev: &mut Backend, stage: usize) {
    let max = dev.info().max_buffer_bytes as usize;
    let words = (2 * stage + (3 << 20) + 12).min(max) / 4;
    let data: Vec<u32> = (0..words as u32)
        .map(|i| i.wrapping_mul(2_654_435_761))
        .collect();
    let bytes: &[u8] = bytemuck::cast_slice(&data);
    let id = dev.create_buffer(bytes.len() as u64).unwrap();
    dev.write(id, 0, bytes).unwrap();
    let mut back = vec![0u8; bytes.len()];
    dev.read(id, 0, &mut back).unwrap();
    if let Some(i) = back.iter().zip(bytes).position(|(a, b)| a != b) {
        panic!("byte {i} of {} read back wrong", bytes.len());
    }
    let at = stage - 5;
    let mut part = vec![0u8; (stage + 11).min(bytes.len() - at)];
    dev.read(id, at as u64, &mut part).unwrap();
    assert!(
        part == bytes[at..at + part.len()],
        "unaligned read across a chunk"
    );
    dev.destroy_buffer(id).unwrap();
}

#[cfg(feature = "wgpu")]
#[test]
fn wgpu_transfers_span_staging_chunks() {
    if let Some(mut b) = open(BackendKind::Wgpu) {
        transfers_span_staging_chunks(&mut b, offload_core::gpu::wgpu::STAGE_BYTES as usize);
    }
}

#[cfg(feature = "cuda")]
#[test]
fn cuda_transfers_span_staging_chunks() {
    if let Some(mut b) = open(BackendKind::Cuda) {
        transfers_span_staging_chunks(&mut b, offload_core::gpu::cuda::STAGE_BYTES);
    }
}
