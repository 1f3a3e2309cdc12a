//! The C++ forest guest (`cpp-guest/`, an independent CART) in the forest benches. Ids:
//! - `forest-train/wasm-cpp/353`: the guest trains 200 trees on the diabetes training split
//!   inside wasm (its wasi:gpu build on the cpu device; training touches no device);
//! - `forest-predict/<path>/89`: it predicts the 89 diabetes test rows with that forest;
//! - `forest-predict/<path>/<rows>`: it predicts `rows` rows of Friedman #1 (d = 10, seed 2)
//!   with 200 trees it trained on 1000 Friedman #1 rows (seed 1): the data and sizes of
//!   core's `forest_gpu` bench, whose `gpu-wgpu` and `gpu-cuda` rows predict with
//!   offload-core's forest of the same size (the trees differ: two implementations; each
//!   forest's node count is printed).
//!
//! Paths: `wasm-cpp-wasi-gpu-<b>` (build/guests/forest/forest-cpp.wasm: wasi:gpu's
//! `kernel-batch-predict` on the host's cpu, wgpu or cuda device) and
//! `wasm-cpp-wasi-webgpu-wgpu` (build/guests/forest/forest-cpp-webgpu.wasm: the guest's own
//! WGSL through wasi:webgpu; it sums each row's f32 leaves exactly in integers on the device
//! and divides by the tree count with f64 rounding there, 8 bytes a row come back, and walks
//! on the CPU the rows an f64 sum would round).
//! Every predict time includes lowering the rows into linear memory, the guest's uploads,
//! dispatches and readbacks, and lifting the predictions out.
//!
//! Checked before timing: the diabetes test MSE lies in 2700–3300; every path's predictions
//! equal the guest's trees walked on the host (offload-core's `Forest::predict`) bit for bit
//! on wasi:webgpu and on an f64 device through wasi:gpu's cpu backend, within 1e-9 relative
//! on other f64 devices and 1e-5 in f32. A device that does not open or a guest that is not
//! built prints `SKIP <group>/<path>: <reason>`; on a software device (the cpu backend,
//! lavapipe) sizes above [`SOFTWARE_MAX_ROWS`] are skipped by name.
//! `OFFLOAD_FOREST_CPP_GUEST` and `OFFLOAD_FOREST_CPP_WEBGPU_GUEST` override the two
//! components' paths (as in host/tests/forest_cpp_*.rs).

use criterion::{BenchmarkId, Criterion, SamplingMode, Throughput};
use offload_core::data::{diabetes_train_test, friedman1};
use offload_core::forest::{mse, Forest, ForestParams};
use offload_host::forest_gpu_guest::{
    ForestComponent, ForestGpuGuest, ForestHost, ForestWebGpuGuest, CPP_PATH, CPP_WEBGPU_PATH,
};
use offload_host::wasi_gpu::{Device, Limits};
use offload_host::wasi_webgpu::WebGpuDevice;

/// Most rows predicted on a software device (as core's `forest_gpu` bench).
pub const SOFTWARE_MAX_ROWS: usize = 100_000;

/// Features of the Friedman #1 rows.
const D: usize = 10;

/// The component in environment variable `env` (for a bench binary run away from this
/// checkout, e.g. on the GPU machine), else at `rel` relative to the repository root.
fn guest_path(env: &str, rel: &str) -> std::path::PathBuf {
    match std::env::var_os(env) {
        Some(p) if !p.is_empty() => std::path::PathBuf::from(p),
        _ => std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("..")
            .join(rel),
    }
}

/// The wasi:gpu build: `OFFLOAD_FOREST_CPP_GUEST`, else [`CPP_PATH`].
fn cpp_path() -> std::path::PathBuf {
    guest_path("OFFLOAD_FOREST_CPP_GUEST", CPP_PATH)
}

/// The wasi:webgpu build: `OFFLOAD_FOREST_CPP_WEBGPU_GUEST`, else [`CPP_WEBGPU_PATH`].
fn cpp_webgpu_path() -> std::path::PathBuf {
    guest_path("OFFLOAD_FOREST_CPP_WEBGPU_GUEST", CPP_WEBGPU_PATH)
}

/// How a path's predictions must match the trees walked on the host.
#[derive(Clone, Copy)]
enum Match {
    Bits,
    Rel(f64),
}

/// `Ok` when `got` matches `want` as `m` says, else the first row that does not.
fn check(m: Match, got: &[f64], want: &[f64]) -> Result<(), String> {
    if got.len() != want.len() {
        return Err(format!("{} predictions for {} rows", got.len(), want.len()));
    }
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        let ok = match m {
            Match::Bits => g.to_bits() == w.to_bits(),
            Match::Rel(tol) => (g - w).abs() <= tol * w.abs().max(1.0),
        };
        if !ok {
            return Err(format!("row {i}: {g} vs the walked trees' {w}"));
        }
    }
    Ok(())
}

/// `forest-train/wasm-cpp/353`, then the predict rows of every path.
pub fn bench(c: &mut Criterion, quick: bool) {
    bench_train(c);
    for b in ["cpu", "wgpu", "cuda"] {
        let path = format!("wasm-cpp-wasi-gpu-{b}");
        let dev = match Device::open(b) {
            Ok(d) => d,
            Err(e) => {
                skip(&path, &e.to_string());
                continue;
            }
        };
        let (software, f64_ok) = (dev.info().is_software, dev.info().supports_f64);
        let m = match (b, f64_ok) {
            ("cpu", _) => Match::Bits,
            (_, true) => Match::Rel(1e-9),
            _ => Match::Rel(1e-5),
        };
        match ForestGpuGuest::load(cpp_path(), dev, Limits::default()) {
            Ok(mut g) => bench_predict(c, &path, &mut g, software, m, quick, 0),
            Err(e) => skip(
                &path,
                &format!("{e} (build it with scripts/build-cpp-guest.sh)"),
            ),
        }
    }
    let path = "wasm-cpp-wasi-webgpu-wgpu";
    match WebGpuDevice::open() {
        Err(e) => skip(path, &e.to_string()),
        Ok(dev) => {
            let software = dev.is_software();
            let limits = offload_host::wasi_webgpu::Limits::default();
            match ForestWebGpuGuest::load(cpp_webgpu_path(), dev, limits) {
                Ok(mut g) => {
                    // It keeps six buffers between predicts (world forest-webgpu's predict).
                    bench_predict(c, path, &mut g, software, Match::Bits, quick, 6);
                    // Rows its WGSL summed exactly vs rows walked on the CPU in wasm.
                    match g.predict_stats() {
                        Ok(st) => println!(
                            "forest-predict/{path}: last predict: {} rows summed on the \
                             device, {} walked in wasm",
                            st.summed, st.walked
                        ),
                        Err(e) => println!("forest-predict/{path}: predict-stats: {e}"),
                    }
                }
                Err(e) => skip(
                    path,
                    &format!("{e} (build it with scripts/build-cpp-guest.sh)"),
                ),
            }
        }
    }
}

fn skip(path: &str, why: &str) {
    println!("SKIP forest-predict/{path}: {why}");
}

/// `forest-train/wasm-cpp/353`: training inside wasm (the wasi:gpu build on the cpu device).
fn bench_train(c: &mut Criterion) {
    let dev = Device::open("cpu").expect("the cpu backend always opens");
    let mut g = match ForestGpuGuest::load(cpp_path(), dev, Limits::default()) {
        Ok(g) => g,
        Err(e) => {
            println!("SKIP forest-train/wasm-cpp: {e} (build it with scripts/build-cpp-guest.sh)");
            return;
        }
    };
    let (train, test) = diabetes_train_test();
    let p = ForestParams::default();
    g.fit(&train, &p).expect("wasm-cpp fit");
    let forest = g.trees().expect("trees");
    let m = mse(&forest.predict(&test.x).expect("walk"), &test.y);
    assert!(
        (2700.0..=3300.0).contains(&m),
        "wasm-cpp: diabetes test MSE {m}"
    );
    println!(
        "forest diabetes wasm-cpp: test MSE {m:.1}, {} nodes",
        nodes(&forest)
    );
    let mut gr = c.benchmark_group("forest-train");
    gr.sampling_mode(SamplingMode::Flat);
    gr.bench_function(BenchmarkId::new("wasm-cpp", train.n_rows), |b| {
        b.iter(|| g.fit(&train, &p).expect("fit"))
    });
    gr.finish();
}

fn nodes(f: &Forest) -> usize {
    f.trees.iter().map(|t| t.len()).sum()
}

/// The predict rows of one path: diabetes (89 rows), then Friedman #1 at every size; after
/// each the guest must hold `kept` device buffers (0: it frees all it made).
fn bench_predict<H: ForestHost>(
    c: &mut Criterion,
    path: &str,
    g: &mut ForestComponent<H>,
    software: bool,
    m: Match,
    quick: bool,
    kept: usize,
) {
    let p = ForestParams::default();
    let mut gr = c.benchmark_group("forest-predict");
    let (train, test) = diabetes_train_test();
    let sizes: &[usize] = if quick {
        &[1_000, 100_000]
    } else {
        &[1_000, 10_000, 100_000, 1_000_000]
    };
    let friedman = friedman1(1000, D, 1.0, 1);
    for (what, data) in [("diabetes", &train), ("friedman1", &friedman)] {
        if let Err(e) = g.fit(data, &p) {
            skip(path, &format!("fit on {what}: {e}"));
            return;
        }
        let forest = g.trees().expect("trees");
        println!(
            "forest-predict/{path}: the guest's {what} forest has {} nodes",
            nodes(&forest)
        );
        let rows: Vec<(usize, Vec<f32>)> = if what == "diabetes" {
            vec![(test.n_rows, test.x.clone())]
        } else {
            sizes
                .iter()
                .map(|&n| (n, friedman1(n, D, 1.0, 2).x))
                .collect()
        };
        for (n, x) in rows {
            if software && n > SOFTWARE_MAX_ROWS {
                println!(
                    "SKIP forest-predict/{path}/{n}: software device, sizes above \
                     {SOFTWARE_MAX_ROWS} rows left out (they time the CPU, not a GPU)"
                );
                continue;
            }
            let want = forest.predict_par(&x).expect("walk the guest's trees");
            let got = g.predict(&x).map_err(|e| e.to_string());
            if let Err(e) = got.and_then(|got| check(m, &got, &want)) {
                println!("SKIP forest-predict/{path}/{n}: wrong answer or error: {e}");
                continue;
            }
            gr.throughput(Throughput::Elements(n as u64));
            gr.bench_function(BenchmarkId::new(path, n), |b| {
                b.iter(|| g.predict(&x).expect("predict"))
            });
            assert_eq!(
                g.buffers(),
                kept,
                "{path}: the guest left other device buffers"
            );
        }
    }
    gr.finish();
}
