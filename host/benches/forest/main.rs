//! Random-forest benchmarks (criterion): training and prediction of 200 trees on each
//! path. Ids:
//! - `forest-train/<path>/353`: fit on the diabetes training split (353 rows × 10);
//! - `forest-predict/<path>/89`: predict its 89 test rows with that forest;
//! - `forest-train/<path>/<rows>`: fit on Friedman #1 data (`offload_core::data::friedman1`,
//!   10 features, noise 1.0, seed 42) of `rows` rows: 1000 and 10000 (1000 only with
//!   `OFFLOAD_BENCH_QUICK`: 10 samples of a 10000-row fit take 20–25 s per path; 100000
//!   takes tens of seconds per fit and path, so it runs only when asked for with
//!   `OFFLOAD_FOREST_ROWS=1000,10000,100000`).
//!
//! Paths: `rust-native` (`Forest::fit` on one thread), `rust-native-rayon`
//! (`Forest::fit_parallel`, one tree per rayon task on every core; it grows the same
//! forest), `wasm-rust` (the forest guest `build/guests/forest/forest-rust.wasm` in
//! wasmtime through `ForestGuest`; the times include copying the inputs into linear
//! memory and the predictions out; every call runs under a deadline, so the engine's
//! compiled code checks the epoch at each function entry and loop header),
//! `wasm-rust-nodeadline` (the same guest on the engine without epoch interruption,
//! `offload_host::guest::no_deadline_engine`: no deadline, no checks: what the guest's code
//! costs by itself). `forest-predict/rust-native-rayon` is `Forest::predict_par` (rows over
//! every core).
//!
//! Before anything is timed each path's answer is checked: the diabetes test MSE must lie
//! in 2700–3300 (where a correct 200-tree forest lands; scikit-learn gets about 2966),
//! the Friedman MSE on 1000 fresh rows must be under half their variance, and the wasm
//! guest's predictions must equal native ones bit for bit. A path that cannot run (the
//! guest is not built) prints `SKIP <group>/<path>: <reason>`.
//!
//! `wasi-gpu-cpu`, `wasi-gpu-wgpu`, `wasi-gpu-cuda` (diabetes only): the forest-gpu guest
//! (`build/guests/forest/forest-gpu.wasm`, offload-core's `Forest::fit_on` / `predict_on`
//! compiled to wasm32) through `ForestGpuGuest`, its ML kernels on the host's cpu reference
//! backend, wgpu or cuda through wasi:gpu. Checked first: the guest's trees equal
//! `Forest::fit`'s, its predictions equal native ones bit for bit where the device has f64
//! (else within 1e-5 relative); an unavailable device or an unbuilt guest prints
//! `SKIP forest-train/wasi-gpu-<b>: <reason>` (and the same for forest-predict).
//!
//! `wasm-cpp` (training) and `wasm-cpp-wasi-gpu-<b>`, `wasm-cpp-wasi-webgpu-wgpu`
//! (prediction, diabetes and Friedman #1 at core's `forest_gpu` sizes): the C++ forest
//! guest, see [`cpp`].
//!
//! Environment: `OFFLOAD_BENCH_QUICK=1` (shorter warm-up and measurement, Friedman
//! 1000 rows only, no criterion plots or HTML: the report draws its own),
//! `OFFLOAD_FOREST_ROWS=1000,10000` (Friedman sizes), `OFFLOAD_FOREST_GUEST=<file>` (the
//! guest module; default `../build/guests/forest/forest-rust.wasm` from `host/`),
//! `OFFLOAD_FOREST_GPU_GUEST=<file>` (the forest-gpu component; default
//! `../build/guests/forest/forest-gpu.wasm` from `host/`).

mod cpp;

use std::path::PathBuf;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, SamplingMode};
use offload_core::data::{diabetes_train_test, friedman1, Dataset};
use offload_core::forest::{mse, r2, Forest, ForestParams};
use offload_host::forest_gpu_guest::ForestGpuGuest;
use offload_host::forest_guest::{ForestGuest, DEFAULT_PATH};
use offload_host::guest::{compile_file, default_engine, no_deadline_engine};
use offload_host::wasi_gpu::{Device, Limits};

const TREES: usize = 200;
const NATIVE: &str = "rust-native";
const RAYON: &str = "rust-native-rayon";
const WASM: &str = "wasm-rust";
/// The same guest compiled without epoch checks: no deadline, the guest's raw speed.
const WASM_RAW: &str = "wasm-rust-nodeadline";

struct Cfg {
    quick: bool,
    rows: Vec<usize>,
    guest: PathBuf,
    gpu_guest: PathBuf,
}

impl Cfg {
    fn from_env() -> Cfg {
        let var = |v: &str| std::env::var(v).ok().filter(|s| !s.is_empty());
        let quick = var("OFFLOAD_BENCH_QUICK").is_some_and(|s| s != "0");
        let rows = match var("OFFLOAD_FOREST_ROWS") {
            Some(s) => s
                .split(',')
                .map(|x| match x.trim().parse::<usize>() {
                    Ok(n) if n >= 2 => n,
                    _ => panic!("OFFLOAD_FOREST_ROWS: {x:?} is not a row count ≥ 2"),
                })
                .collect(),
            None if quick => vec![1000],
            None => vec![1000, 10000],
        };
        Cfg {
            quick,
            rows,
            guest: var("OFFLOAD_FOREST_GUEST")
                .map(PathBuf::from)
                .unwrap_or_else(|| {
                    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                        .join("..")
                        .join(DEFAULT_PATH)
                }),
            gpu_guest: var("OFFLOAD_FOREST_GPU_GUEST")
                .map(PathBuf::from)
                .unwrap_or_else(|| {
                    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                        .join("..")
                        .join(offload_host::forest_gpu_guest::DEFAULT_PATH)
                }),
        }
    }
}

fn params() -> ForestParams {
    ForestParams {
        n_trees: TREES,
        ..ForestParams::default()
    }
}

/// The guest under each of its path names (`wasm-rust` on the deadline engine,
/// `wasm-rust-nodeadline` on the one without epoch checks); a path that cannot load prints
/// why and is left out.
fn load_guests(cfg: &Cfg) -> Vec<(&'static str, ForestGuest)> {
    let mut out = Vec::new();
    for (path, engine) in [(WASM, default_engine()), (WASM_RAW, no_deadline_engine())] {
        let g = engine
            .map_err(|e| e.to_string())
            .and_then(|en| compile_file(&en, &cfg.guest).map_err(|e| e.to_string()))
            .and_then(|m| {
                ForestGuest::from_module(&m, &cfg.guest.display().to_string())
                    .map_err(|e| e.to_string())
            });
        match g {
            Ok(g) => out.push((path, g)),
            Err(e) => {
                println!(
                    "SKIP forest-train/{path}: {e} (build it with scripts/build-forest-guest.sh)"
                );
                println!("SKIP forest-predict/{path}: {e}");
            }
        }
    }
    out
}

/// Panics unless `a` and `b` are equal bit for bit.
fn check_same(what: &str, a: &[f64], b: &[f64]) {
    assert_eq!(a.len(), b.len(), "{what}: lengths differ");
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        assert_eq!(
            x.to_bits(),
            y.to_bits(),
            "{what}: row {i}: {x} vs native {y}"
        );
    }
}

fn bench_diabetes(c: &mut Criterion, guests: &mut [(&'static str, ForestGuest)]) {
    let (train, test) = diabetes_train_test();
    let p = params();
    let n_train = train.n_rows;

    // Check every path before timing.
    let native = Forest::fit(&train, &p).expect("native fit");
    let native_pred = native.predict(&test.x).expect("native predict");
    let m = mse(&native_pred, &test.y);
    assert!(
        (2700.0..3300.0).contains(&m),
        "{NATIVE}: diabetes test MSE {m}"
    );
    let par = Forest::fit_parallel(&train, &p).expect("rayon fit");
    assert!(par == native, "{RAYON}: the forest differs from {NATIVE}'s");
    for (path, g) in guests.iter_mut() {
        g.fit(&train, &p).expect("wasm fit");
        check_same(
            path,
            &g.predict(&test.x).expect("wasm predict"),
            &native_pred,
        );
    }
    println!(
        "forest diabetes: test MSE {m:.1}, R² {:.4} on every path; {} nodes; rayon on {} threads",
        r2(&native_pred, &test.y),
        native.trees.iter().map(|t| t.len()).sum::<usize>(),
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );

    let mut g = c.benchmark_group("forest-train");
    g.sampling_mode(SamplingMode::Flat);
    g.bench_function(BenchmarkId::new(NATIVE, n_train), |b| {
        b.iter(|| Forest::fit(&train, &p).expect("fit"))
    });
    g.bench_function(BenchmarkId::new(RAYON, n_train), |b| {
        b.iter(|| Forest::fit_parallel(&train, &p).expect("fit"))
    });
    for (path, gu) in guests.iter_mut() {
        g.bench_function(BenchmarkId::new(*path, n_train), |b| {
            b.iter(|| gu.fit(&train, &p).expect("fit"))
        });
    }
    g.finish();

    let n_test = test.n_rows;
    let mut g = c.benchmark_group("forest-predict");
    g.bench_function(BenchmarkId::new(NATIVE, n_test), |b| {
        b.iter(|| native.predict(&test.x).expect("predict"))
    });
    check_same(
        RAYON,
        &native.predict_par(&test.x).expect("predict_par"),
        &native_pred,
    );
    g.bench_function(BenchmarkId::new(RAYON, n_test), |b| {
        b.iter(|| native.predict_par(&test.x).expect("predict_par"))
    });
    for (path, gu) in guests.iter_mut() {
        // The guest holds the diabetes forest from the last timed fit.
        check_same(path, &gu.predict(&test.x).expect("predict"), &native_pred);
        g.bench_function(BenchmarkId::new(*path, n_test), |b| {
            b.iter(|| gu.predict(&test.x).expect("predict"))
        });
    }
    g.finish();
}

/// `forest-train/wasi-gpu-<b>/353` and `forest-predict/wasi-gpu-<b>/89` for b in cpu, wgpu,
/// cuda: the forest-gpu guest through wasi:gpu, checked against native first.
fn bench_wasi_gpu(c: &mut Criterion, cfg: &Cfg) {
    let (train, test) = diabetes_train_test();
    let p = params();
    let native = Forest::fit(&train, &p).expect("native fit");
    let native_pred = native.predict(&test.x).expect("native predict");
    for backend in ["cpu", "wgpu", "cuda"] {
        let path = format!("wasi-gpu-{backend}");
        let skip = |why: &str| {
            println!("SKIP forest-train/{path}: {why}");
            println!("SKIP forest-predict/{path}: {why}");
        };
        let dev = match Device::open(backend) {
            Ok(dev) => dev,
            Err(e) => {
                skip(&e.to_string());
                continue;
            }
        };
        let f64_ok = dev.info().supports_f64;
        let mut g = match ForestGpuGuest::load(&cfg.gpu_guest, dev, Limits::default()) {
            Ok(g) => g,
            Err(e) => {
                skip(&format!(
                    "{e} (build it with scripts/build-forest-gpu-guest.sh)"
                ));
                continue;
            }
        };
        // Check before timing: the same forest as native, the same predictions.
        let info = g.fit(&train, &p).expect("wasi-gpu fit");
        assert!(
            g.trees().expect("trees") == native,
            "{path}: the forest differs from {NATIVE}'s"
        );
        let pred = g.predict(&test.x).expect("wasi-gpu predict");
        if f64_ok {
            check_same(&path, &pred, &native_pred);
        } else {
            for (i, (a, b)) in pred.iter().zip(&native_pred).enumerate() {
                assert!(
                    (a - b).abs() <= 1e-5 * b.abs().max(1.0),
                    "{path}: row {i}: {a} vs native {b} (f32 sums, no device f64)"
                );
            }
        }
        println!(
            "forest diabetes {path}: {} ({} nodes), forest identical to native, predictions {}",
            info.device,
            info.nodes,
            if f64_ok {
                "equal bit for bit"
            } else {
                "within 1e-5 (no device f64: f32 sums)"
            }
        );
        let mut gr = c.benchmark_group("forest-train");
        gr.sampling_mode(SamplingMode::Flat);
        gr.bench_function(BenchmarkId::new(&path, train.n_rows), |b| {
            b.iter(|| g.fit(&train, &p).expect("fit"))
        });
        gr.finish();
        let mut gr = c.benchmark_group("forest-predict");
        gr.bench_function(BenchmarkId::new(&path, test.n_rows), |b| {
            b.iter(|| g.predict(&test.x).expect("predict"))
        });
        gr.finish();
        assert_eq!(g.buffers(), 0, "{path}: the guest left device buffers");
    }
}

fn variance(y: &[f64]) -> f64 {
    let mean = y.iter().sum::<f64>() / y.len() as f64;
    y.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / y.len() as f64
}

fn bench_friedman(c: &mut Criterion, cfg: &Cfg, guests: &mut [(&'static str, ForestGuest)]) {
    let probe = friedman1(1000, 10, 1.0, 43);
    let p = params();
    let mut g = c.benchmark_group("forest-train");
    g.sampling_mode(SamplingMode::Flat);
    for &rows in &cfg.rows {
        let data: Dataset = friedman1(rows, 10, 1.0, 42);
        let native = Forest::fit_parallel(&data, &p).expect("fit");
        let pred = native.predict(&probe.x).expect("predict");
        let (m, var) = (mse(&pred, &probe.y), variance(&probe.y));
        assert!(
            m < 0.5 * var,
            "Friedman #1, {rows} rows: MSE {m} is not under half the variance {var}"
        );
        println!("forest friedman1 {rows} rows: probe MSE {m:.3} (variance {var:.3})");
        g.bench_function(BenchmarkId::new(NATIVE, rows), |b| {
            b.iter(|| Forest::fit(&data, &p).expect("fit"))
        });
        g.bench_function(BenchmarkId::new(RAYON, rows), |b| {
            b.iter(|| Forest::fit_parallel(&data, &p).expect("fit"))
        });
        for (path, gu) in guests.iter_mut() {
            gu.fit(&data, &p).expect("wasm fit");
            check_same(path, &gu.predict(&probe.x).expect("wasm predict"), &pred);
            g.bench_function(BenchmarkId::new(*path, rows), |b| {
                b.iter(|| gu.fit(&data, &p).expect("fit"))
            });
        }
    }
    g.finish();
}

fn main() {
    let cfg = Cfg::from_env();
    let mut c = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(if cfg.quick { 100 } else { 500 }))
        .measurement_time(Duration::from_secs(if cfg.quick { 1 } else { 3 }));
    if cfg.quick {
        c = c.without_plots();
    }
    let mut c = c.configure_from_args();
    let mut guests = load_guests(&cfg);
    bench_diabetes(&mut c, &mut guests);
    bench_wasi_gpu(&mut c, &cfg);
    cpp::bench(&mut c, cfg.quick);
    bench_friedman(&mut c, &cfg, &mut guests);
    c.final_summary();
}
