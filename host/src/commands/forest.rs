//! `offload forest --path native|wasm|wasm-cpp [--backend cpu|wgpu|cuda]`: trains and tests
//! the random forest on the diabetes split (or `--data friedman1 --rows N`) and prints train
//! ms, predict ms, test MSE and R²
//! (`--path wasm --backend wgpu|cuda`: the forest-gpu guest, its kernels on the device
//! through wasi:gpu). A forest trained through a backend is checked against the native
//! one (exit 1 when it differs). `--path wasm-cpp`: the C++ forest guest (cpp-guest/, same
//! world as the forest-gpu guest, its own forest) trains inside wasm and predicts through
//! wasi:gpu's batch-predict on the backend; its predictions are checked against its own
//! trees walked on the host (exit 1 when they differ). `--path wasm-cpp --via wasi-webgpu`:
//! the same C++ forest built for world forest-webgpu (build/guests/forest/
//! forest-cpp-webgpu.wasm) on the wasi:webgpu host (wgpu), predicting with its own WGSL;
//! its predictions must equal its trees walked on the host bit for bit.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use clap::{Args, ValueEnum};
use offload_core::gpu::BackendKind;
use offload_host::forest_gpu_guest::{
    ForestGpuGuest, ForestWebGpuGuest, CPP_PATH as CPP_GUEST_PATH,
    CPP_WEBGPU_PATH as CPP_WEBGPU_GUEST_PATH,
};
use offload_host::wasi_gpu::{Device, Limits};
use offload_host::wasi_webgpu::WebGpuDevice;
use offload_report::names;

use super::{parse_backend_kind, yes_no};

/// Where the forest runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ForestPath {
    /// offload-core compiled for this machine (one thread, or rayon with --threads).
    Native,
    /// offload-core compiled to wasm32 (build/guests/forest/forest-rust.wasm) in wasmtime.
    Wasm,
    /// The C++ forest guest (build/guests/forest/forest-cpp.wasm, world forest-gpu): trains
    /// in wasm, predicts through wasi:gpu's batch-predict on --backend.
    WasmCpp,
}

/// How the C++ guest (`--path wasm-cpp`) reaches the device for batch prediction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ForestVia {
    /// wasi:gpu's `kernel-batch-predict` on `--backend` (build/guests/forest/forest-cpp.wasm).
    WasiGpu,
    /// wasi:webgpu with the guest's own WGSL (cpp-guest/predict.wgsl) on the host's wgpu
    /// device (build/guests/forest/forest-cpp-webgpu.wasm).
    WasiWebgpu,
}

/// The data a forest trains and tests on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ForestData {
    /// offload's diabetes split (353 train / 89 test rows × 10, core/data/diabetes).
    Diabetes,
    /// Friedman #1 (offload-core's `data::friedman1`, d = 10, noise 1): `--rows` training
    /// rows (seed 1) and `--test-rows` test rows (seed 3).
    Friedman1,
}

/// Features of the Friedman #1 rows of `--data friedman1` (as the and the benches'
/// Friedman #1 data, and scikit-learn's `make_friedman1(n_features=10)`).
const FRIEDMAN_D: usize = 10;

/// Arguments of `offload forest`.
#[derive(Debug, Args)]
pub struct ForestCommand {
    /// Native Rust, the Rust wasm guest, or the C++ wasm guest.
    #[arg(long, value_enum, default_value = "native")]
    path: ForestPath,
    /// Where the ML kernels run: `cpu` (plain Rust), or `wgpu` / `cuda`: training through
    /// bootstrap-sample and find-split, prediction through batch-predict, the forest checked
    /// against the native one. With `--path wasm`, `wgpu` / `cuda` run the forest-gpu guest
    /// (offload-core's `Forest::fit_on` compiled to wasm32) whose kernels reach the device
    /// through wasi:gpu (label `wasi-gpu-<backend>`); `cpu` runs the plain forest guest
    /// (everything inside wasm) unless `--wasi-gpu` is given. With `--path wasm-cpp` every
    /// backend (cpu included) runs batch-predict through wasi:gpu.
    #[arg(long, default_value = "cpu", value_parser = parse_backend_kind)]
    backend: BackendKind,
    /// `--path wasm-cpp`: predict through wasi:gpu's batch-predict on `--backend` (the
    /// default), or through wasi:webgpu with the guest's own WGSL on the host's wgpu device
    /// (`--backend` cpu, the default, or wgpu; cuda is refused).
    #[arg(long, value_enum, default_value = "wasi-gpu")]
    via: ForestVia,
    /// Wasm path: run the forest-gpu guest through wasi:gpu even on `--backend cpu` (the
    /// host's cpu reference backend does the kernels; label `wasi-gpu-cpu`). Implied by
    /// `--backend wgpu|cuda`.
    #[arg(long)]
    wasi_gpu: bool,
    /// Number of trees.
    #[arg(long, default_value_t = 200)]
    trees: usize,
    /// Seed of the bootstrap samples and feature draws.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Features per split (default: all, as scikit-learn's regressor).
    #[arg(long)]
    max_features: Option<usize>,
    /// Maximum depth (default: unlimited).
    #[arg(long)]
    max_depth: Option<usize>,
    /// Native path only: train one tree per rayon task.
    #[arg(long)]
    parallel: bool,
    /// Native path only: histogram mode (offload-core `forest::hist`: splits only at
    /// per-feature bin cuts, fixed-point targets; its own trees, labels `…-hist`), on one
    /// thread, all cores with `--parallel`, or grown whole on the device with `--backend`.
    #[arg(long)]
    hist: bool,
    /// `--hist`: most bins per feature (2..=256).
    #[arg(long, default_value_t = 256)]
    max_bins: usize,
    /// The guest (wasm path). Default: build/guests/forest/forest-rust.wasm (plain forest
    /// guest), or build/guests/forest/forest-gpu.wasm (the forest-gpu component) for the
    /// wasi:gpu runs, or build/guests/forest/forest-cpp.wasm for `--path wasm-cpp`
    /// (build/guests/forest/forest-cpp-webgpu.wasm with `--via wasi-webgpu`).
    #[arg(long)]
    guest: Option<PathBuf>,
    /// Also write the test rows' predictions to FILE as JSON (`path`, `trees`, `seed`,
    /// `test_mse`, `predictions`: 89 f64 in test_idx.txt order, printed so they parse
    /// back bit for bit), to compare hosts (go-host's forest test reads it).
    #[arg(long, value_name = "FILE")]
    predictions: Option<PathBuf>,
    /// Also write the trained forest to FILE in XGBoost's JSON model format
    /// (offload-core's `XgbModel`: one round of `--trees` parallel trees, leaves divided
    /// by the tree count, split conditions `next_up(threshold)`), which XGBoost, treelite
    /// and nvForest load. The forest of `--path native` and `--path wasm` (the same trees);
    /// the C++ guest's forest for `--path wasm-cpp`.
    #[arg(long, value_name = "FILE")]
    export_xgboost: Option<PathBuf>,
    /// The data: the diabetes split, or Friedman #1 rows generated by offload-core.
    #[arg(long, value_enum, default_value = "diabetes")]
    data: ForestData,
    /// `--data friedman1`: training rows.
    #[arg(long, default_value_t = 1000)]
    rows: usize,
    /// `--data friedman1`: test rows (test MSE and R², predict_ms).
    #[arg(long, default_value_t = 1000)]
    test_rows: usize,
    /// `--data friedman1`, `--path native`: also time batch prediction of this many fresh
    /// Friedman #1 rows (seed 2) on the path (one thread, all cores with `--parallel`, or
    /// the backend's batch-predict, rows and predictions moved each call), checked first
    /// against `Forest::predict_par`.
    #[arg(long)]
    predict_rows: Option<usize>,
    /// Timed repetitions of `--predict-rows` after one checked warm-up (median printed).
    #[arg(long, default_value_t = 3)]
    repeat: usize,
}

/// The report's name of a forest run (one of [`names::KNOWN_PATHS`]: `rust-native`,
/// `rust-native-rayon`, `gpu-<backend>`, `wasm-rust`, `wasi-gpu-<backend>`, and
/// `wasm-cpp-wasi-gpu-<backend>` for the C++ guest, which trains in wasm and predicts
/// through wasi:gpu on the backend, or `wasm-cpp-wasi-webgpu-wgpu` with `--via
/// wasi-webgpu`; the native paths with `-hist` in histogram mode), printed on the
/// `forest:` line and written to `--predictions`.
fn path_label(
    path: ForestPath,
    backend: BackendKind,
    wasi_gpu: bool,
    parallel: bool,
    via: ForestVia,
    hist: bool,
) -> &'static str {
    let mut label = match path {
        ForestPath::Native if backend != BackendKind::Cpu => format!("gpu-{}", backend.name()),
        ForestPath::Native if parallel => "rust-native-rayon".to_string(),
        ForestPath::Native => "rust-native".to_string(),
        ForestPath::Wasm if wasi_gpu => format!("wasi-gpu-{}", backend.name()),
        ForestPath::Wasm => "wasm-rust".to_string(),
        ForestPath::WasmCpp if via == ForestVia::WasiWebgpu => {
            "wasm-cpp-wasi-webgpu-wgpu".to_string()
        }
        ForestPath::WasmCpp => format!("wasm-cpp-wasi-gpu-{}", backend.name()),
    };
    if hist {
        label.push_str("-hist");
    }
    names::KNOWN_PATHS
        .iter()
        .copied()
        .find(|known| *known == label)
        .unwrap_or_else(|| panic!("forest path `{label}` is not one of the report's paths"))
}

/// Loads a forest-gpu world guest (`path`, built by `script`) on a fresh `backend`
/// device, fits `train`, predicts `test` and returns the guest, the fit and predict times
/// (ns) and the predictions.
fn fit_predict_wasi_gpu(
    path: &std::path::Path,
    backend: BackendKind,
    script: &str,
    train: &offload_core::data::Dataset,
    test: &offload_core::data::Dataset,
    params: &offload_core::forest::ForestParams,
) -> anyhow::Result<(ForestGpuGuest, u128, u128, Vec<f64>)> {
    let dev = Device::new(offload_core::gpu::Backend::open_kind(backend)?);
    println!("device:      {} ({})", dev.info().name, dev.info().driver);
    let mut g = ForestGpuGuest::load(path, dev, Limits::default())
        .with_context(|| format!("loading {} (build it with {script})", path.display()))?;
    let t0 = Instant::now();
    g.fit(train, params)?;
    let train_ns = t0.elapsed().as_nanos();
    let t1 = Instant::now();
    let pred = g.predict(&test.x)?;
    Ok((g, train_ns, t1.elapsed().as_nanos(), pred))
}

/// Loads the C++ guest's wasi:webgpu build (`path`) on a fresh wasi:webgpu host (wgpu),
/// fits `train`, predicts `test` and returns the guest's trees, the fit and predict times
/// (ns) and the predictions.
fn fit_predict_wasi_webgpu(
    path: &std::path::Path,
    train: &offload_core::data::Dataset,
    test: &offload_core::data::Dataset,
    params: &offload_core::forest::ForestParams,
) -> anyhow::Result<(offload_core::forest::Forest, u128, u128, Vec<f64>)> {
    let device = WebGpuDevice::open()?;
    println!("device:      {} (wasi:webgpu)", device.name());
    let mut g = ForestWebGpuGuest::load(path, device, offload_host::wasi_webgpu::Limits::default())
        .with_context(|| {
            format!(
                "loading {} (build it with scripts/build-cpp-guest.sh)",
                path.display()
            )
        })?;
    let t0 = Instant::now();
    g.fit(train, params)?;
    let train_ns = t0.elapsed().as_nanos();
    let t1 = Instant::now();
    let pred = g.predict(&test.x)?;
    let predict_ns = t1.elapsed().as_nanos();
    let st = g.predict_stats()?;
    println!(
        "rows:        {} summed exactly on the device, {} walked in wasm",
        st.summed, st.walked
    );
    Ok((g.trees()?, train_ns, predict_ns, pred))
}

impl ForestCommand {
    /// Trains and tests the forest on the path and backend asked for, and prints what it
    /// measured.
    pub fn execute(self) -> anyhow::Result<ExitCode> {
        use offload_core::data::{diabetes_train_test, friedman1};
        use offload_core::forest::{mse, r2, Forest, ForestParams};
        let backend = self.backend;
        let wasi_gpu =
            self.path == ForestPath::Wasm && (backend != BackendKind::Cpu || self.wasi_gpu);
        if self.wasi_gpu && self.path == ForestPath::Native {
            anyhow::bail!("--wasi-gpu applies to --path wasm and wasm-cpp only");
        }
        if self.via == ForestVia::WasiWebgpu {
            if self.path != ForestPath::WasmCpp {
                anyhow::bail!("--via wasi-webgpu applies to --path wasm-cpp only");
            }
            if backend == BackendKind::Cuda {
                anyhow::bail!("--via wasi-webgpu runs on wgpu only (--backend cpu or wgpu)");
            }
        }
        if self.hist && self.path != ForestPath::Native {
            anyhow::bail!("--hist applies to --path native only");
        }
        if self.parallel && self.path == ForestPath::WasmCpp {
            anyhow::bail!("--parallel applies to --path native only");
        }
        let guest_path = self.guest.clone().unwrap_or_else(|| {
            PathBuf::from(if self.path == ForestPath::WasmCpp {
                if self.via == ForestVia::WasiWebgpu {
                    CPP_WEBGPU_GUEST_PATH
                } else {
                    CPP_GUEST_PATH
                }
            } else if wasi_gpu {
                offload_host::forest_gpu_guest::DEFAULT_PATH
            } else {
                offload_host::forest_guest::DEFAULT_PATH
            })
        });
        if self.data == ForestData::Diabetes && self.predict_rows.is_some() {
            anyhow::bail!("--predict-rows needs --data friedman1");
        }
        if self.predict_rows.is_some() && self.path != ForestPath::Native {
            anyhow::bail!("--predict-rows applies to --path native only");
        }
        let (train, test) = match self.data {
            ForestData::Diabetes => diabetes_train_test(),
            ForestData::Friedman1 => {
                if self.rows == 0 || self.test_rows == 0 {
                    anyhow::bail!("--rows and --test-rows must be at least 1");
                }
                // x (f32, 10 per row) and y (f64) of both sets, in f64-vector units.
                super::size::ensure_host_fits(
                    "--rows",
                    self.rows.saturating_add(self.test_rows),
                    6,
                )?;
                (
                    friedman1(self.rows, FRIEDMAN_D, 1.0, 1),
                    friedman1(self.test_rows, FRIEDMAN_D, 1.0, 3),
                )
            }
        };
        let params = ForestParams {
            n_trees: self.trees,
            max_features: self.max_features,
            max_depth: self.max_depth,
            seed: self.seed,
            ..ForestParams::default()
        };
        let label = path_label(
            self.path,
            backend,
            wasi_gpu,
            self.parallel,
            self.via,
            self.hist,
        );
        let mut identical = None;
        // The forest --export-xgboost writes when it is not the native one.
        let mut exported: Option<Forest> = None;
        // The forest of the native paths (for --predict-rows and --export-xgboost).
        let mut trained: Option<Forest> = None;
        let (train_ns, predict_ns, pred) = match self.path {
            ForestPath::Native if backend != BackendKind::Cpu => {
                if self.parallel {
                    anyhow::bail!("--parallel applies to --backend cpu only");
                }
                let mut dev = offload_core::gpu::Backend::open_kind(backend)?;
                let t0 = Instant::now();
                let forest = if self.hist {
                    Forest::fit_hist_on(&mut *dev, &train, &params, self.max_bins)?
                } else {
                    Forest::fit_on(&mut *dev, &train, &params)?
                };
                let train_ns = t0.elapsed().as_nanos();
                // Printed before predicting too: a forest too large for the device's
                // buffers fails there, and its training time is still worth having.
                println!("trained:     {:.2} ms", train_ns as f64 / 1e6);
                let t1 = Instant::now();
                let pred = forest.predict_on(&mut *dev, &test.x)?;
                let predict_ns = t1.elapsed().as_nanos();
                println!("device:      {} ({})", dev.info().name, dev.info().driver);
                // The reference: Forest::fit_parallel (the trees of Forest::fit, bit for
                // bit), timed so the run also gives the all-cores native training time.
                let t2 = Instant::now();
                let native = if self.hist {
                    Forest::fit_hist_parallel(&train, &params, self.max_bins)?
                } else {
                    Forest::fit_parallel(&train, &params)?
                };
                println!(
                    "reference:   rust-native-rayon{} fit {:.2} ms ({} cores)",
                    if self.hist { "-hist" } else { "" },
                    t2.elapsed().as_secs_f64() * 1e3,
                    std::thread::available_parallelism().map_or(1, |n| n.get())
                );
                identical = Some(forest == native);
                trained = Some(forest);
                (train_ns, predict_ns, pred)
            }
            ForestPath::Native => {
                let t0 = Instant::now();
                let forest = match (self.hist, self.parallel) {
                    (true, true) => Forest::fit_hist_parallel(&train, &params, self.max_bins)?,
                    (true, false) => Forest::fit_hist(&train, &params, self.max_bins)?,
                    (false, true) => Forest::fit_parallel(&train, &params)?,
                    (false, false) => Forest::fit(&train, &params)?,
                };
                let train_ns = t0.elapsed().as_nanos();
                let t1 = Instant::now();
                let pred = forest.predict(&test.x)?;
                let predict_ns = t1.elapsed().as_nanos();
                trained = Some(forest);
                (train_ns, predict_ns, pred)
            }
            ForestPath::Wasm if wasi_gpu => {
                let (mut g, train_ns, predict_ns, pred) = fit_predict_wasi_gpu(
                    &guest_path,
                    backend,
                    "scripts/build-forest-gpu-guest.sh",
                    &train,
                    &test,
                    &params,
                )?;
                identical = Some(g.trees()? == Forest::fit(&train, &params)?);
                (train_ns, predict_ns, pred)
            }
            ForestPath::WasmCpp if self.via == ForestVia::WasiWebgpu => {
                let (trees, train_ns, predict_ns, pred) =
                    fit_predict_wasi_webgpu(&guest_path, &train, &test, &params)?;
                // The WGSL sums each row's f32 leaves exactly (rows an f64 sum would round
                // are walked in wasm): the same bits as the guest's trees walked here.
                let walked = trees.predict(&test.x)?;
                exported = Some(trees);
                let same = pred.len() == walked.len()
                    && pred
                        .iter()
                        .zip(&walked)
                        .all(|(a, b)| a.to_bits() == b.to_bits());
                println!(
                    "predictions equal the guest's trees walked on the host (bit for bit): {}",
                    yes_no(same)
                );
                if !same {
                    return Ok(ExitCode::FAILURE);
                }
                (train_ns, predict_ns, pred)
            }
            ForestPath::WasmCpp => {
                let (mut g, train_ns, predict_ns, pred) = fit_predict_wasi_gpu(
                    &guest_path,
                    backend,
                    "scripts/build-cpp-guest.sh",
                    &train,
                    &test,
                    &params,
                )?;
                // The device's means against the guest's own trees walked here (f64 sums;
                // a device without f64 sums in f32).
                let trees = g.trees()?;
                let walked = trees.predict(&test.x)?;
                exported = Some(trees);
                let tol = if g.device().info().supports_f64 {
                    1e-9
                } else {
                    1e-5
                };
                let same = pred
                    .iter()
                    .zip(&walked)
                    .all(|(a, b)| (a - b).abs() <= tol * b.abs());
                println!(
                    "predictions equal the guest's trees walked on the host (within {tol:e}): {}",
                    yes_no(same)
                );
                if !same {
                    return Ok(ExitCode::FAILURE);
                }
                (train_ns, predict_ns, pred)
            }
            ForestPath::Wasm => {
                let mut g = offload_host::forest_guest::ForestGuest::load(&guest_path)
                    .with_context(|| {
                        format!(
                            "loading {} (build it with ./build.sh all)",
                            guest_path.display()
                        )
                    })?;
                let t0 = Instant::now();
                g.fit(&train, &params)?;
                let train_ns = t0.elapsed().as_nanos();
                let t1 = Instant::now();
                let pred = g.predict(&test.x)?;
                (train_ns, t1.elapsed().as_nanos(), pred)
            }
        };
        let data = match self.data {
            ForestData::Diabetes => "diabetes split",
            ForestData::Friedman1 => "Friedman #1",
        };
        println!(
            "forest:      {label}, {} trees, seed {}, {data} {} train / {} test",
            self.trees, self.seed, train.n_rows, test.n_rows
        );
        println!("train_ms:    {:.2}", train_ns as f64 / 1e6);
        println!("predict_ms:  {:.3}", predict_ns as f64 / 1e6);
        println!("test_mse:    {:.1}", mse(&pred, &test.y));
        println!("test_r2:     {:.4}", r2(&pred, &test.y));
        if let Some(same) = identical {
            println!("forest identical to native: {}", yes_no(same));
            if !same {
                return Ok(ExitCode::FAILURE);
            }
        }
        if let (Some(rows), Some(forest)) = (self.predict_rows, &trained) {
            let same = super::forest_batch::batch_predict(
                forest,
                rows,
                backend,
                self.parallel,
                self.repeat,
                label,
            )?;
            if !same {
                return Ok(ExitCode::FAILURE);
            }
        }
        if let Some(f) = &self.export_xgboost {
            let forest = match exported.or(trained) {
                Some(forest) => forest,
                None => Forest::fit(&train, &params)?,
            };
            let model = forest.to_xgboost()?;
            std::fs::write(f, serde_json::to_string(&model)? + "\n")
                .with_context(|| format!("writing {}", f.display()))?;
            println!(
                "xgboost:     {} ({} trees, XGBoost JSON)",
                f.display(),
                forest.trees.len()
            );
        }
        if let Some(f) = &self.predictions {
            let json = serde_json::json!({
                "path": label,
                "trees": self.trees,
                "seed": self.seed,
                "test_mse": mse(&pred, &test.y),
                "predictions": pred,
            });
            std::fs::write(f, serde_json::to_string_pretty(&json)? + "\n")
                .with_context(|| format!("writing {}", f.display()))?;
        }
        Ok(ExitCode::SUCCESS)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every combination the command can run has a name the report knows.
    #[test]
    fn every_forest_path_is_a_report_path() {
        for path in [ForestPath::Native, ForestPath::Wasm] {
            for backend in BackendKind::ALL {
                for wasi_gpu in [false, true] {
                    for parallel in [false, true] {
                        path_label(path, backend, wasi_gpu, parallel, ForestVia::WasiGpu, false);
                    }
                }
            }
        }
        for backend in BackendKind::ALL {
            for parallel in [false, true] {
                if backend == BackendKind::Cpu || !parallel {
                    let via = ForestVia::WasiGpu;
                    path_label(ForestPath::Native, backend, false, parallel, via, true);
                }
            }
        }
        assert_eq!(
            path_label(
                ForestPath::Native,
                BackendKind::Wgpu,
                false,
                false,
                ForestVia::WasiGpu,
                false
            ),
            "gpu-wgpu"
        );
        assert_eq!(
            path_label(
                ForestPath::Wasm,
                BackendKind::Cpu,
                true,
                false,
                ForestVia::WasiGpu,
                false
            ),
            "wasi-gpu-cpu"
        );
        assert_eq!(
            path_label(
                ForestPath::Wasm,
                BackendKind::Cpu,
                false,
                false,
                ForestVia::WasiGpu,
                false
            ),
            "wasm-rust"
        );
        assert_eq!(
            path_label(
                ForestPath::WasmCpp,
                BackendKind::Wgpu,
                true,
                false,
                ForestVia::WasiGpu,
                false
            ),
            "wasm-cpp-wasi-gpu-wgpu"
        );
        for backend in [BackendKind::Cpu, BackendKind::Wgpu] {
            assert_eq!(
                path_label(
                    ForestPath::WasmCpp,
                    backend,
                    false,
                    false,
                    ForestVia::WasiWebgpu,
                    false
                ),
                "wasm-cpp-wasi-webgpu-wgpu"
            );
        }
    }
}
