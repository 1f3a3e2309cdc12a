//! `sgemm`: n×n×n f32 matmul on resident data.

use crate::cfg::{host_fits, mem_available, software_skip, Cfg, SOFTWARE_MAX_SGEMM};
use crate::elem::gen;
use crate::{print_kernel_time, print_queued_time};
use criterion::{BenchmarkId, Criterion, Throughput};
use offload_core::gpu::cpu::{matmul_ref, CpuBackend};
use offload_core::gpu::{Backend, GpuBackend, GpuError, MatmulPrecision};
use offload_core::rng::Pcg32;

pub(crate) fn bench_sgemm(c: &mut Criterion, cfg: &Cfg, devs: &mut [(&'static str, Backend)]) {
    if !cfg.wants("sgemm") {
        return;
    }
    let sizes = cfg.sizes(&[256, 512, 1024, 2048, 4096, 8192, 16384], &[256, 1024]);
    let mut variants: Vec<(String, usize, MatmulPrecision, f64)> = Vec::new();
    for (i, (path, dev)) in devs.iter().enumerate() {
        variants.push((path.to_string(), i, MatmulPrecision::Fp32, 1e-4));
        if dev.info().supports_tf32 {
            variants.push((format!("{path}-tf32"), i, MatmulPrecision::Tf32, 5e-3));
        }
    }
    let mut g = c.benchmark_group("sgemm");
    for n in sizes {
        let nu = n as usize;
        let bytes = n * n * 4;
        if let Err(why) = host_fits(2 * bytes, "A and B", mem_available()) {
            println!("SKIP sgemm/cpu/{n}: {why}");
            for (path, ..) in &variants {
                println!("SKIP sgemm/{path}/{n}: {why}");
            }
            continue;
        }
        g.throughput(Throughput::Elements(2 * n * n * n));
        let av: Vec<f32> = gen(n * n, 4);
        let bv: Vec<f32> = gen(n * n, 5);
        // Reference rows of C: all of them up to 1024, else 16 sampled rows.
        let rows: Vec<usize> = if n <= 1024 {
            (0..nu).collect()
        } else {
            let mut r = Pcg32::new(6, 0);
            (0..16).map(|_| r.below(n as u32) as usize).collect()
        };
        let mut want = vec![0f32; rows.len() * nu];
        {
            let a_rows: Vec<f32> = rows
                .iter()
                .flat_map(|&r| av[r * nu..(r + 1) * nu].iter().copied())
                .collect();
            matmul_ref(&a_rows, &bv, &mut want, rows.len(), nu, nu);
        }
        let (ab, bb): (&[u8], &[u8]) = (bytemuck::cast_slice(&av), bytemuck::cast_slice(&bv));
        if n <= 1024 {
            let mut cpu = CpuBackend::new();
            let ids = [0, 1, 2].map(|_| cpu.create_buffer(bytes).unwrap());
            cpu.write(ids[0], 0, ab).unwrap();
            cpu.write(ids[1], 0, bb).unwrap();
            g.bench_function(BenchmarkId::new("cpu", n), |bch| {
                bch.iter(|| {
                    cpu.matmul(MatmulPrecision::Fp32, ids[0], ids[1], ids[2], n, n, n)
                        .unwrap()
                })
            });
        } else {
            println!(
                "sgemm/cpu/{n}: not run (the cpu reference matmul is benchmarked up to 1024 only)"
            );
        }
        for (path, i, prec, tol) in &variants {
            let (prec, tol) = (*prec, *tol);
            let dev: &mut dyn GpuBackend = &mut *devs[*i].1;
            if let Some(why) = software_skip(cfg, dev, n, SOFTWARE_MAX_SGEMM) {
                println!("SKIP sgemm/{path}/{n}: {why}");
                continue;
            }
            let ids = match (|| -> Result<[u64; 3], GpuError> {
                let ids = [
                    dev.create_buffer(bytes)?,
                    dev.create_buffer(bytes)?,
                    dev.create_buffer(bytes)?,
                ];
                dev.write(ids[0], 0, ab)?;
                dev.write(ids[1], 0, bb)?;
                Ok(ids)
            })() {
                Ok(ids) => ids,
                Err(e) => {
                    println!("SKIP sgemm/{path}/{n}: {e}");
                    continue;
                }
            };
            let ok = (|| -> Result<(), String> {
                dev.matmul(prec, ids[0], ids[1], ids[2], n, n, n)
                    .map_err(|e| e.to_string())?;
                let mut got = vec![0f32; want.len()];
                for (k, &r) in rows.iter().enumerate() {
                    dev.read(
                        ids[2],
                        (r * nu * 4) as u64,
                        bytemuck::cast_slice_mut(&mut got[k * nu..(k + 1) * nu]),
                    )
                    .map_err(|e| e.to_string())?;
                }
                let err = rel_err32(&got, &want);
                if err <= tol {
                    Ok(())
                } else {
                    Err(format!("wrong answer: relative error {err:e} > {tol:e}"))
                }
            })();
            match ok {
                Err(why) => println!("SKIP sgemm/{path}/{n}: {why}"),
                Ok(()) => {
                    print_kernel_time(
                        dev,
                        &format!("sgemm/{path}/{n}"),
                        2.0 * (n * n * n) as f64 / 1e3,
                        "TFLOP/s",
                        |d| {
                            let _ = d.matmul(prec, ids[0], ids[1], ids[2], n, n, n);
                        },
                    );
                    print_queued_time(
                        dev,
                        &format!("sgemm/{path}/{n}"),
                        2.0 * (n * n * n) as f64 / 1e3,
                        "TFLOP/s",
                        20,
                        |d| {
                            let _ = d.matmul(prec, ids[0], ids[1], ids[2], n, n, n);
                        },
                    );
                    g.bench_function(BenchmarkId::new(path, n), |bch| {
                        bch.iter(|| {
                            dev.matmul(prec, ids[0], ids[1], ids[2], n, n, n).unwrap();
                            dev.sync().unwrap();
                        })
                    });
                }
            }
            for id in ids {
                let _ = dev.destroy_buffer(id);
            }
        }
    }
    g.finish();
}

/// ‖x − y‖₂ / ‖y‖₂ in f64 (∞ when x holds a NaN).
fn rel_err32(x: &[f32], y: &[f32]) -> f64 {
    let (mut d, mut r) = (0.0f64, 0.0f64);
    for (&a, &b) in x.iter().zip(y) {
        let (a, b) = (a as f64, b as f64);
        d += (a - b) * (a - b);
        r += b * b;
    }
    if d.is_nan() {
        f64::INFINITY
    } else if r == 0.0 {
        d.sqrt()
    } else {
        (d / r).sqrt()
    }
}
