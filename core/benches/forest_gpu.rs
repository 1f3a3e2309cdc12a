//! Random-forest benchmarks on the GPU backends (criterion). Ids:
//! - `forest-predict/<path>/<n>`: predict n rows of Friedman #1 data (d = 10) with a 200-tree
//!   forest trained on 1000 Friedman #1 rows; n ∈ {1e3, 1e4, 1e5, 1e6} (1e3, 1e5 with
//!   `OFFLOAD_BENCH_QUICK=1`). Paths: `rust-native` (`Forest::predict`, one thread; up to
//!   [`NATIVE_MAX_ROWS`] rows, above that skipped by name, `OFFLOAD_FOREST_NATIVE_MAX=<rows>`
//!   raises the cap; likewise a software adapter such as lavapipe above
//!   [`SOFTWARE_MAX_ROWS`]),
//!   `rust-native-rayon` (`Forest::predict_par`, over rayon's threads), `gpu-wgpu`, `gpu-cuda`
//!   (batch-predict in f64, or f32 where the device lacks f64; each iteration uploads x, runs
//!   the kernel and reads the predictions back; the forest is uploaded once, outside the timing).
//! - `forest-train/<path>/353`: `Forest::fit_on` of 200 trees on the diabetes training split
//!   (353 rows × 10) on `gpu-wgpu` and `gpu-cuda` (everything included: uploads, kernels,
//!   host-side level bookkeeping).
//!
//! Every path's answer is checked before it is timed (f64 paths equal to `Forest::predict` bit
//! for bit, f32 within 1e-5 relative; trained forests equal to `Forest::fit`). A backend that
//! does not start, or fails the check, is skipped with its reason printed.
//! `OFFLOAD_BENCH_ONLY=forest-predict` (or `forest-train`) registers only that group;
//! `OFFLOAD_BENCH_SIZES=1000000` replaces the row counts of `forest-predict`. Criterion's
//! filter argument picks paths (e.g. `-- 'forest-predict/gpu-'`).

use criterion::{BenchmarkId, Criterion, Throughput};
use offload_core::data::{diabetes, diabetes_split, friedman1};
use offload_core::forest::{Forest, ForestParams};
use offload_core::forest_gpu::DeviceForest;
use offload_core::gpu::{Backend, BackendKind, DType};
use rayon::prelude::*;
use std::time::Duration;

const D: usize = 10;

/// Most rows `rust-native` (one thread) predicts in this bench unless
/// `OFFLOAD_FOREST_NATIVE_MAX` says otherwise: 1e6 rows take about 3 s per call with the
/// packed layout (2-core VM; the per-row walk took about 30 s on an H200 host), so ten
/// samples take half a minute; larger sizes would take minutes.
const NATIVE_MAX_ROWS: usize = 1_000_000;

/// Most rows predicted on a software adapter (lavapipe, Vulkan on the CPU: what wgpu finds on
/// a machine without a GPU); larger sizes are skipped by name.
const SOFTWARE_MAX_ROWS: usize = 100_000;

fn env_on(name: &str) -> bool {
    std::env::var(name).is_ok_and(|s| !s.is_empty() && s != "0")
}

fn only(group: &str) -> bool {
    match std::env::var("OFFLOAD_BENCH_ONLY") {
        Ok(v) if !v.is_empty() => v.split(',').any(|g| g.trim() == group),
        _ => true,
    }
}

fn gpu_paths() -> Vec<(&'static str, Result<Backend, String>)> {
    [BackendKind::Wgpu, BackendKind::Cuda]
        .into_iter()
        .map(|k| {
            let path = if k == BackendKind::Wgpu {
                "gpu-wgpu"
            } else {
                "gpu-cuda"
            };
            (path, Backend::open_kind(k).map_err(|e| e.to_string()))
        })
        .collect()
}

fn close_enough(dtype: DType, got: &[f64], want: &[f64]) -> Result<(), String> {
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        let ok = match dtype {
            DType::F64 => g.to_bits() == w.to_bits(),
            DType::F32 => (g - w).abs() <= 1e-5 * w.abs().max(1.0),
        };
        if !ok {
            return Err(format!("row {i}: {g} vs native {w} ({})", dtype.name()));
        }
    }
    if got.len() != want.len() {
        return Err(format!("{} predictions for {} rows", got.len(), want.len()));
    }
    Ok(())
}

fn bench_predict(c: &mut Criterion, quick: bool) {
    let train = friedman1(1000, D, 1.0, 1);
    let forest = Forest::fit_parallel(&train, &ForestParams::default()).expect("training");
    let sizes: Vec<usize> = match std::env::var("OFFLOAD_BENCH_SIZES") {
        Ok(v) if !v.trim().is_empty() => v
            .split(',')
            .map(|s| {
                s.trim()
                    .parse()
                    .expect("OFFLOAD_BENCH_SIZES: comma-separated row counts")
            })
            .collect(),
        _ if quick => vec![1_000, 100_000],
        _ => vec![1_000, 10_000, 100_000, 1_000_000],
    };
    let native_max = match std::env::var("OFFLOAD_FOREST_NATIVE_MAX") {
        Ok(v) if !v.trim().is_empty() => v
            .trim()
            .parse()
            .expect("OFFLOAD_FOREST_NATIVE_MAX: a row count"),
        _ => NATIVE_MAX_ROWS,
    };
    let mut g = c.benchmark_group("forest-predict");
    let mut gpus = gpu_paths();
    for &n in &sizes {
        let x = friedman1(n, D, 1.0, 2).x;
        let want: Vec<f64> = x
            .par_chunks_exact(D)
            .map(|r| forest.predict_row(r))
            .collect();
        g.throughput(Throughput::Elements(n as u64));
        // rust-native is `Forest::predict`, the reference itself; check it on a slice only
        // (one thread at 1e6 rows takes tens of seconds).
        let head = 1000.min(n);
        let native = forest.predict(&x[..head * D]).expect("predict");
        assert_eq!(
            native,
            want[..head],
            "rust-native differs from the rayon walk"
        );
        if n <= native_max {
            g.bench_with_input(BenchmarkId::new("rust-native", n), &n, |b, _| {
                b.iter(|| forest.predict(&x).expect("predict"))
            });
        } else {
            println!(
                "SKIP forest-predict/rust-native/{n}: one thread takes tens of seconds per call \
                 above {native_max} rows (OFFLOAD_FOREST_NATIVE_MAX raises the cap)"
            );
        }
        let par = forest.predict_par(&x).expect("predict_par");
        assert!(
            par.iter()
                .zip(&want)
                .all(|(p, w)| p.to_bits() == w.to_bits()),
            "rust-native-rayon differs from the per-row walk"
        );
        g.bench_with_input(BenchmarkId::new("rust-native-rayon", n), &n, |b, _| {
            b.iter(|| forest.predict_par(&x).expect("predict_par"))
        });
        for (path, dev) in gpus.iter_mut() {
            let dev = match dev {
                Ok(d) => d,
                Err(why) => {
                    println!("SKIP forest-predict/{path}/{n}: {why}");
                    continue;
                }
            };
            if dev.info().is_software && n > SOFTWARE_MAX_ROWS {
                println!(
                    "SKIP forest-predict/{path}/{n}: software adapter ({}), sizes above \
                     {SOFTWARE_MAX_ROWS} rows left out (they time the CPU, not a GPU)",
                    dev.info().name
                );
                continue;
            }
            let mut df = match DeviceForest::upload(&forest, &mut **dev) {
                Ok(f) => f,
                Err(e) => {
                    println!("SKIP forest-predict/{path}/{n}: upload: {e}");
                    continue;
                }
            };
            let check = df
                .predict(&mut **dev, &x)
                .map_err(|e| e.to_string())
                .and_then(|got| close_enough(df.dtype, &got, &want));
            match check {
                Ok(()) => {
                    println!(
                        "forest-predict/{path}: batch-predict in {}",
                        df.dtype.name()
                    );
                    g.bench_with_input(BenchmarkId::new(*path, n), &n, |b, _| {
                        b.iter(|| df.predict(&mut **dev, &x).expect("batch-predict"))
                    });
                }
                Err(e) => println!("SKIP forest-predict/{path}/{n}: wrong answer: {e}"),
            }
            df.free(&mut **dev);
        }
    }
    g.finish();
}

fn bench_train(c: &mut Criterion) {
    let data = diabetes();
    let (tr, _) = diabetes_split();
    let train = data.subset(&tr);
    let p = ForestParams::default();
    let want = Forest::fit_parallel(&train, &p).expect("training");
    let mut g = c.benchmark_group("forest-train");
    g.sample_size(10);
    for (path, dev) in gpu_paths().iter_mut() {
        let n = train.n_rows;
        let dev = match dev {
            Ok(d) => d,
            Err(why) => {
                println!("SKIP forest-train/{path}/{n}: {why}");
                continue;
            }
        };
        match Forest::fit_on(&mut **dev, &train, &p) {
            Ok(f) if f == want => {
                g.bench_with_input(BenchmarkId::new(*path, n), &n, |b, _| {
                    b.iter(|| Forest::fit_on(&mut **dev, &train, &p).expect("fit_on"))
                });
            }
            Ok(_) => println!("SKIP forest-train/{path}/{n}: forest differs from Forest::fit"),
            Err(e) => println!("SKIP forest-train/{path}/{n}: {e}"),
        }
    }
    g.finish();
}

fn main() {
    let quick = env_on("OFFLOAD_BENCH_QUICK");
    let mut c = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(if quick { 300 } else { 1000 }))
        .measurement_time(Duration::from_secs(if quick { 1 } else { 3 }))
        .configure_from_args();
    if only("forest-predict") {
        bench_predict(&mut c, quick);
    }
    if only("forest-train") {
        bench_train(&mut c);
    }
    c.final_summary();
}
