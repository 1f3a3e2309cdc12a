//! `offload webgpu <op> --n N`: one kernel of the wasi:webgpu kernel guest
//! (`build/guests/webgpu-guest.wasm`, its own WGSL) on the wasi:webgpu host, on seeded
//! data, checked against offload-core's cpu backend, with its time per call.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context};
use clap::{Args, ValueEnum};
use offload_core::gpu::{Backend, DType, ElementwiseOp, MatmulPrecision, ReduceOp};
use offload_host::wasi_gpu::seeded_f32;
use offload_host::wasi_webgpu::{Limits, WebGpuDevice, WebGpuHost, WebGpuInstance};

/// A kernel of the guest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Kernel {
    /// Σ a\[i\] (n elements).
    Sum,
    /// Σ a\[i\]·b\[i\] (n elements each).
    Dot,
    /// out\[i\] = a\[i\]·b\[i\] (n elements each).
    Mul,
    /// C = A·B with A, B and C n×n (row-major f32).
    Sgemm,
}

/// The backend of the wasi:webgpu host: wgpu only (the guest's WGSL runs on wgpu).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum WebGpuBackend {
    /// wgpu (Vulkan, Metal, DX12; Mesa's lavapipe without a GPU).
    Wgpu,
}

/// `offload webgpu <kernel> --n N [--repeat R] [--guest FILE]`.
#[derive(Debug, Args)]
pub struct WebGpuCommand {
    /// The kernel.
    #[arg(value_enum)]
    kernel: Kernel,
    /// Elements of each vector (sum, dot, mul) or the side of the square matrices (sgemm).
    #[arg(long, default_value_t = 1_000_000)]
    n: usize,
    /// The device API; wasi:webgpu has one.
    #[arg(long, value_enum, default_value = "wgpu")]
    backend: WebGpuBackend,
    /// Timed calls after the first (which makes the device and the pipeline).
    #[arg(long, default_value_t = 5)]
    repeat: u32,
    /// The guest component.
    #[arg(long, default_value = "build/guests/webgpu-guest.wasm")]
    guest: PathBuf,
}

/// What a call returned: a scalar or a vector.
enum Out {
    Scalar(f32),
    Vector(Vec<f32>),
}

fn call(i: &mut WebGpuInstance, k: Kernel, n: usize, a: &[f32], b: &[f32]) -> anyhow::Result<Out> {
    type R<T> = Result<T, String>;
    let r = match k {
        Kernel::Sum => i
            .call::<(&[f32],), (R<f32>,)>("sum", (a,))?
            .0
            .map(Out::Scalar),
        Kernel::Dot => i
            .call::<(&[f32], &[f32]), (R<f32>,)>("dot", (a, b))?
            .0
            .map(Out::Scalar),
        Kernel::Mul => i
            .call::<(&[f32], &[f32]), (R<Vec<f32>>,)>("mul", (a, b))?
            .0
            .map(Out::Vector),
        Kernel::Sgemm => {
            let s = u32::try_from(n).context("--n")?;
            i.call::<(u32, u32, u32, &[f32], &[f32]), (R<Vec<f32>>,)>("sgemm", (s, s, s, a, b))?
                .0
                .map(Out::Vector)
        }
    };
    r.map_err(|e| anyhow!("the guest returned err: {e}"))
}

/// offload-core's cpu backend's answer, and the largest error allowed per element:
/// 1e-5·Σ|terms| for the reductions and each SGEMM entry, 0 for mul (one rounding).
fn reference(k: Kernel, n: usize, a: &[f32], b: &[f32]) -> anyhow::Result<(Vec<f64>, Vec<f64>)> {
    let mut cpu = Backend::open("cpu")?;
    let put = |cpu: &mut Backend, v: &[f32]| -> anyhow::Result<_> {
        let id = cpu.create_buffer(4 * v.len().max(1) as u64)?;
        cpu.write(id, 0, bytemuck::cast_slice(v))?;
        Ok(id)
    };
    let (x, y) = (put(&mut cpu, a)?, put(&mut cpu, b)?);
    let abs = |i: usize| (a[i] * b[i]).abs() as f64;
    Ok(match k {
        Kernel::Sum => (
            vec![cpu.reduce(ReduceOp::Sum, DType::F32, x, n as u64)?],
            vec![1e-5 * a.iter().map(|v| v.abs() as f64).sum::<f64>()],
        ),
        Kernel::Dot => (
            vec![cpu.dot(DType::F32, x, y, n as u64)?],
            vec![1e-5 * (0..n).map(abs).sum::<f64>()],
        ),
        Kernel::Mul | Kernel::Sgemm => {
            let len = if k == Kernel::Mul { n } else { n * n };
            let out = put(&mut cpu, &vec![0.0; len])?;
            if k == Kernel::Mul {
                cpu.elementwise(
                    ElementwiseOp::Mul,
                    DType::F32,
                    x,
                    Some(y),
                    0.0,
                    out,
                    n as u64,
                )?;
            } else {
                let s = n as u64;
                cpu.matmul(MatmulPrecision::Fp32, x, y, out, s, s, s)?;
            }
            let mut v = vec![0f32; len];
            cpu.read(out, 0, bytemuck::cast_slice_mut(&mut v))?;
            let tol = if k == Kernel::Mul {
                vec![0.0; len]
            } else {
                (0..len)
                    .map(|e| {
                        let (r, c) = (e / n, e % n);
                        1e-5 * (0..n)
                            .map(|p| (a[r * n + p] * b[p * n + c]).abs() as f64)
                            .sum::<f64>()
                    })
                    .collect()
            };
            (v.into_iter().map(f64::from).collect(), tol)
        }
    })
}

impl WebGpuCommand {
    /// Runs the kernel `1 + repeat` times and prints the device, the first call's time,
    /// the best and median of the others, and the check. Exit 1 when the guest's answer
    /// is off (beyond the tolerance printed); errors (no adapter, guest missing, the guest's
    /// `err`) go to `main` (exit 2).
    pub fn execute(self) -> anyhow::Result<ExitCode> {
        let WebGpuBackend::Wgpu = self.backend;
        if !self.guest.is_file() {
            bail!(
                "{} is not built (scripts/build-webgpu-guest.sh)",
                self.guest.display()
            );
        }
        let n = self.n;
        let len = if self.kernel == Kernel::Sgemm {
            n * n
        } else {
            n
        };
        let a = seeded_f32(1, len);
        let b = seeded_f32(2, len);
        let device = WebGpuDevice::open()?;
        println!("device:      {}", device.name());
        let host = WebGpuHost::new(device, Limits::default())?;
        let component = host.load(&self.guest)?;
        let mut inst = host.instantiate(&component)?;
        let t = Instant::now();
        let mut got = call(&mut inst, self.kernel, n, &a, &b)?;
        let first = t.elapsed();
        let mut times: Vec<Duration> = Vec::new();
        for _ in 0..self.repeat {
            let t = Instant::now();
            got = call(&mut inst, self.kernel, n, &a, &b)?;
            times.push(t.elapsed());
        }
        times.sort();
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        println!(
            "kernel:      {:?} n={n} (wasi:webgpu guest, its own WGSL)",
            self.kernel
        );
        println!(
            "first call:  {:.3} ms (opens the device, builds the pipeline)",
            ms(first)
        );
        if let (Some(best), Some(med)) = (times.first(), times.get(times.len() / 2)) {
            println!(
                "per call:    best {:.3} ms, median {:.3} ms of {} (copy in, upload, dispatch, read back)",
                ms(*best),
                ms(*med),
                times.len()
            );
        }
        let (want, tol) = reference(self.kernel, n, &a, &b)?;
        let got: Vec<f64> = match got {
            Out::Scalar(s) => vec![s as f64],
            Out::Vector(v) => v.into_iter().map(f64::from).collect(),
        };
        let bad = got.len() != want.len()
            || got
                .iter()
                .zip(&want)
                .zip(&tol)
                .any(|((g, w), t)| (g - w).abs() > *t);
        println!(
            "result:      {:?}{}",
            &got[..got.len().min(4)],
            if got.len() > 4 { " ..." } else { "" }
        );
        println!(
            "check:       against offload-core cpu, |err| <= 1e-5·Σ|terms| (mul: bit-equal): {}",
            if bad { "MISMATCH" } else { "OK" }
        );
        Ok(if bad {
            ExitCode::from(1)
        } else {
            ExitCode::SUCCESS
        })
    }
}
