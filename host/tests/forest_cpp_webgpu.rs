//! The C++ forest guest's wasi:webgpu build (`build/guests/forest/forest-cpp-webgpu.wasm`,
//! scripts/build-cpp-webgpu-guest.sh, run by scripts/build-cpp-guest.sh: cpp-guest/ with
//! webgpu_predict.cpp and its own WGSL predict.wgsl, world
//! `offload:forest-webgpu/forest-webgpu@0.1.0`) on the Rust host's wasi:webgpu (wgpu; Mesa
//! lavapipe without a GPU), each test skipped by name, with wgpu's reason, where no adapter
//! opens. The guest trains its own forest inside wasm; its WGSL sums every row's f32 leaves
//! exactly in integers and divides by the tree count with f64 rounding (rows an f64 sum in
//! tree order would round, or with a subnormal mean, are walked in wasm), so
//! its predictions equal its trees walked on the host (offload-core's `Forest::predict`) bit
//! for bit, on both of those routes (`predict-stats` counts them); the test MSE on
//! the diabetes split lies in 2700–3300; its forest and predictions equal the wasi:gpu build
//! of the same C++ guest (forest-cpp.wasm) on the cpu backend (f64 batch-predict, the same
//! order: bit for bit). `OFFLOAD_FOREST_CPP_WEBGPU_GUEST` and `OFFLOAD_FOREST_CPP_GUEST`
//! override the components' paths.

mod common;

use common::forest_guest::ForestGuestFile;
use offload_core::data::{diabetes_train_test as split, Dataset};
use offload_core::forest::{mse, Forest, ForestParams};
use offload_host::forest_gpu_guest::{ForestGpuGuestError, ForestWebGpuGuest, WitFitInfo};
use offload_host::wasi_webgpu::{Limits, WebGpuDevice};

/// The wasi:webgpu build.
const GUEST: ForestGuestFile = ForestGuestFile {
    label: "forest-cpp-webgpu",
    env: "OFFLOAD_FOREST_CPP_WEBGPU_GUEST",
    default: offload_host::forest_gpu_guest::CPP_WEBGPU_PATH,
    script: "scripts/build-cpp-guest.sh",
};

/// The wasi:gpu build of the same C++ forest.
const GPU_GUEST: ForestGuestFile = ForestGuestFile {
    label: "forest-cpp",
    env: "OFFLOAD_FOREST_CPP_GUEST",
    default: offload_host::forest_gpu_guest::CPP_PATH,
    script: "scripts/build-cpp-guest.sh",
};

/// A fresh instance of the guest on a fresh wasi:webgpu host, or `None` (the reason on
/// stderr) when no adapter opens.
fn guest(test: &str) -> Option<ForestWebGpuGuest> {
    guest_with(test, Limits::default())
}

/// As [`guest`], with the instance's quotas `limits`.
fn guest_with(test: &str, limits: Limits) -> Option<ForestWebGpuGuest> {
    let device = match WebGpuDevice::open() {
        Ok(d) => d,
        Err(e) => {
            eprintln!("skipping {test} (wasi:webgpu): {e}");
            return None;
        }
    };
    let path = GUEST.path();
    assert!(
        path.is_file(),
        "{} is not built: run {}",
        path.display(),
        GUEST.script
    );
    Some(ForestWebGpuGuest::load(&path, device, limits).expect("the guest loads"))
}

/// The guest's `err` message as `Err`; fails the test on a host error or a trap.
fn guest_result<T>(r: Result<T, ForestGpuGuestError>) -> Result<T, String> {
    match r {
        Ok(v) => Ok(v),
        Err(ForestGpuGuestError::Guest { message, .. }) => Err(message),
        Err(e) => panic!("not the guest's err: {e}"),
    }
}

fn fit(g: &mut ForestWebGpuGuest, data: &Dataset, p: &ForestParams) -> Result<WitFitInfo, String> {
    guest_result(g.fit(data, p))
}

fn predict(g: &mut ForestWebGpuGuest, x: &[f32]) -> Result<Vec<f64>, String> {
    guest_result(g.predict(x))
}

fn trees(g: &mut ForestWebGpuGuest, n_features: usize) -> Forest {
    let f = g.trees().expect("trees");
    assert_eq!(f.n_features, n_features);
    f
}

/// Asserts `got` equals `want` bit for bit, naming the first row that differs.
fn assert_bits(what: &str, got: &[f64], want: &[f64]) {
    assert_eq!(got.len(), want.len(), "{what}: lengths");
    for (r, (a, b)) in got.iter().zip(want).enumerate() {
        assert!(a.to_bits() == b.to_bits(), "{what}: row {r}: {a} vs {b}");
    }
}

/// `n` rows of diabetes features (10 a row): the rows of `x` repeated.
fn repeated(x: &[f32], n: usize) -> Vec<f32> {
    x.iter().copied().cycle().take(n * 10).collect()
}

/// `n_trees` trees fitted on the diabetes training split; the test split and the guest's
/// trees.
fn fitted(g: &mut ForestWebGpuGuest, n_trees: usize) -> (Dataset, Forest) {
    let (train, test) = split();
    let p = ForestParams {
        n_trees,
        ..ForestParams::default()
    };
    fit(g, &train, &p).expect("fit");
    let forest = trees(g, train.n_features);
    (test, forest)
}

/// Buffers the guest keeps after a successful predict (webgpu_predict.cpp's `Kept`: the
/// forest's nodes and tree starts, rows, sums, read-back, parameters).
const KEPT_BUFFERS: usize = 6;

/// Nothing escaped an error scope, and no buffer beyond the kept ones is left.
fn assert_clean(g: &ForestWebGpuGuest) {
    let (n, last) = g.instance().uncaptured();
    assert_eq!(n, 0, "uncaptured: {last:?}");
    assert_eq!(
        g.buffers(),
        KEPT_BUFFERS,
        "predict left other buffers behind"
    );
}

/// Predicts `x`, then asserts the instance is clean and the predictions equal `forest`
/// walked on the host bit for bit; returns them.
fn predict_checked(g: &mut ForestWebGpuGuest, forest: &Forest, x: &[f32], what: &str) -> Vec<f64> {
    let got = predict(g, x).expect(what);
    assert_clean(g);
    assert_bits(what, &got, &forest.predict(x).expect("walk"));
    got
}

/// 200 trees on the diabetes split: MSE in range, predictions equal the trees walked on
/// the host and the wasi:gpu build's forest and predictions (cpu backend) bit for bit.
#[test]
fn cpp_webgpu_forest_diabetes_matches_cpu_and_wasi_gpu() {
    let Some(mut g) = guest("cpp_webgpu_forest_diabetes_matches_cpu_and_wasi_gpu") else {
        return;
    };
    let (train, test) = split();
    let p = ForestParams::default();
    assert_eq!(p.n_trees, 200);
    let t0 = std::time::Instant::now();
    let info = fit(&mut g, &train, &p).expect("fit");
    assert_eq!(info.trees, 200);
    assert!(info.device.starts_with("wasi-webgpu: "), "{}", info.device);
    let forest = trees(&mut g, train.n_features);
    assert_eq!(forest.trees.len(), 200);
    let nodes: usize = forest.trees.iter().map(|t| t.len()).sum();
    assert_eq!(info.nodes as usize, nodes);
    let got = predict(&mut g, &test.x).expect("predict");
    assert_clean(&g);
    // Diabetes leaves lie within a few binades: every row is summed on the device.
    let stats = g.predict_stats().expect("predict-stats");
    assert_eq!((stats.summed, stats.walked), (89, 0));
    // A second predict reuses the kept buffers (none made, none grown); fewer rows too.
    let bytes = g.used_bytes();
    let again = predict(&mut g, &test.x).expect("predict again");
    assert_bits("the second predict vs the first", &again, &got);
    predict(&mut g, &test.x[..10 * 5]).expect("predict 5 rows");
    assert_eq!((g.buffers(), g.used_bytes()), (KEPT_BUFFERS, bytes));
    let walked = forest.predict(&test.x).expect("walk the guest's trees");
    assert_bits("wasi:webgpu vs the trees walked on the host", &got, &walked);
    let m = mse(&got, &test.y);
    assert!(
        (2700.0..=3300.0).contains(&m),
        "test MSE {m:.1}, want 2700–3300 (scikit-learn: about 2966)"
    );
    eprintln!(
        "forest-cpp-webgpu: test MSE {m:.1}, fit + predict {:?}",
        t0.elapsed()
    );
    // Predicting again gives the same bits (the pipeline is reused).
    assert_bits(
        "second predict",
        &predict(&mut g, &test.x).expect("predict"),
        &got,
    );

    // The wasi:gpu build of the same C++ forest: the same trees; its cpu backend's f64
    // batch-predict sums in the same order, so the same predictions.
    let mut cpu = GPU_GUEST.on("cpu").expect("the cpu backend always starts");
    cpu.fit(&train, &p).expect("wasi:gpu fit");
    assert!(
        cpu.trees().expect("trees") == forest,
        "the wasi:gpu build grew another forest"
    );
    let via_gpu = cpu.predict(&test.x).expect("wasi:gpu predict");
    assert_bits("wasi:webgpu vs wasi:gpu (cpu backend)", &got, &via_gpu);
}

/// Many trees (2000), other hyperparameters, and rows that reach every leaf boundary case
/// (NaN goes right).
#[test]
fn cpp_webgpu_forest_predicts_in_chunks() {
    let Some(mut g) = guest("cpp_webgpu_forest_predicts_in_chunks") else {
        return;
    };
    let (train, test) = split();
    let p = ForestParams {
        n_trees: 2000,
        max_features: Some(4),
        max_depth: Some(3),
        min_samples_leaf: 2,
        seed: 11,
        ..ForestParams::default()
    };
    fit(&mut g, &train, &p).expect("fit");
    let forest = trees(&mut g, train.n_features);
    for t in &forest.trees {
        assert!(t.len() <= 15, "a tree of {} nodes at max depth 3", t.len());
    }
    // 20 000 rows: the test rows repeated, every 7th value NaN in one row of 97.
    let mut x = repeated(&test.x, 20_000);
    for r in (0..20_000).step_by(97) {
        x[r * 10 + r % 10] = f32::NAN;
    }
    let got = predict_checked(
        &mut g,
        &forest,
        &x,
        "20 000 rows vs the trees walked on the host",
    );
    assert_eq!(got.len(), 20_000);
}

/// The kept buffers are made again, larger, for more rows than they hold, and rows over
/// 4 MiB go to the device in several write-buffer pieces: 110 000 rows (4.4 MB) after 1000.
#[test]
fn cpp_webgpu_forest_grows_its_buffers_and_writes_in_pieces() {
    let Some(mut g) = guest("cpp_webgpu_forest_grows_its_buffers_and_writes_in_pieces") else {
        return;
    };
    let (test, forest) = fitted(&mut g, 5);
    for rows in [1000, 110_000] {
        let x = repeated(&test.x, rows);
        predict_checked(
            &mut g,
            &forest,
            &x,
            &format!("{rows} rows vs the trees walked on the host"),
        );
    }
}

/// A predict whose larger buffers pass the instance's byte quota is an error naming the
/// out-of-memory error, destroys every kept buffer (nothing is left held), and the next
/// predict that fits works: 2 MB of quota, 1000 rows (about 0.1 MB kept), then 110 000
/// rows (about 8 MB), then 1000 rows again.
#[test]
fn cpp_webgpu_forest_over_quota_keeps_nothing_and_recovers() {
    let limits = Limits {
        max_bytes: 2 << 20,
        ..Limits::default()
    };
    let Some(mut g) = guest_with(
        "cpp_webgpu_forest_over_quota_keeps_nothing_and_recovers",
        limits,
    ) else {
        return;
    };
    let (test, forest) = fitted(&mut g, 5);
    let small = repeated(&test.x, 1000);
    let want = predict_checked(&mut g, &forest, &small, "1000 rows under the quota");
    let e =
        predict(&mut g, &repeated(&test.x, 110_000)).expect_err("110 000 rows over a 2 MB quota");
    assert!(e.contains("out-of-memory-error"), "{e}");
    let (n, last) = g.instance().uncaptured();
    assert_eq!(n, 0, "uncaptured: {last:?}");
    assert_eq!(
        (g.buffers(), g.used_bytes()),
        (0, 0),
        "the failed predict kept buffers"
    );
    let again = predict_checked(&mut g, &forest, &small, "1000 rows after the failure");
    assert_bits("1000 rows before and after the failure", &again, &want);
}

/// Leaves whose exponents lie too far apart for an exact 53-bit sum (targets from 1e-30 to
/// 1e30) are walked on the CPU, the others summed on the device, and every prediction is
/// still the bits of the trees walked on the host; signed leaves are summed exactly too.
#[test]
fn cpp_webgpu_forest_sums_exactly_or_walks_on_the_cpu() {
    let Some(mut g) = guest("cpp_webgpu_forest_sums_exactly_or_walks_on_the_cpu") else {
        return;
    };
    let (train, test) = split();
    let p = ForestParams {
        n_trees: 50,
        ..ForestParams::default()
    };
    for what in ["wide", "signed"] {
        let scale = |i: usize, y: f64| match what {
            // Every fifth target tiny, every seventh huge: many rows mix them.
            "wide" if i.is_multiple_of(5) => y * 1e-30,
            "wide" if i.is_multiple_of(7) => y * 1e30,
            "wide" => y,
            // Centred targets: leaves of both signs, sums that cancel.
            _ => y - 150.0,
        };
        let y: Vec<f64> = train
            .y
            .iter()
            .enumerate()
            .map(|(i, &v)| scale(i, v))
            .collect();
        let data = Dataset { y, ..train.clone() };
        fit(&mut g, &data, &p).expect("fit");
        assert_eq!(
            g.buffers(),
            0,
            "a fit destroys the buffers the last predict kept"
        );
        let forest = trees(&mut g, data.n_features);
        predict_checked(&mut g, &forest, &test.x, what);
        let stats = g.predict_stats().expect("predict-stats");
        assert_eq!(stats.summed + stats.walked, 89, "{what}: {stats:?}");
        if what == "wide" {
            assert!(stats.walked > 0 && stats.summed > 0, "{what}: {stats:?}");
        } else {
            assert_eq!(stats.walked, 0, "{what}: {stats:?}");
        }
        eprintln!("forest-cpp-webgpu, {what} targets: {stats:?}");
    }
}

/// Bad input is `err` with a message, and the instance carries on.
#[test]
fn cpp_webgpu_forest_bad_input_is_an_error() {
    let Some(mut g) = guest("cpp_webgpu_forest_bad_input_is_an_error") else {
        return;
    };
    let (train, test) = split();
    let e = predict(&mut g, &test.x).expect_err("predict before fit");
    assert!(e.contains("no forest yet"), "{e}");
    let small = ForestParams {
        n_trees: 3,
        ..ForestParams::default()
    };
    let e = fit(
        &mut g,
        &train,
        &ForestParams {
            n_trees: 0,
            ..small.clone()
        },
    )
    .expect_err("0 trees");
    assert!(e.contains("n-trees"), "{e}");
    fit(&mut g, &train, &small).expect("fit");
    let e = predict(&mut g, &test.x[..15]).expect_err("15 values");
    assert!(
        e.contains("not a multiple of the forest's 10 features"),
        "{e}"
    );
    let e = predict(&mut g, &[]).expect_err("no rows");
    assert!(e.contains("no rows"), "{e}");
    let two = predict(&mut g, &test.x[..20]).expect("two rows");
    let walked = trees(&mut g, 10).predict(&test.x[..20]).expect("walk");
    assert_bits("two rows", &two, &walked);
    assert_clean(&g);
}

/// `offload forest --path wasm-cpp --via wasi-webgpu` prints the times and MSE and checks
/// the predictions; `--via wasi-webgpu` with cuda or another path is refused.
#[test]
fn cli_forest_via_wasi_webgpu() {
    if let Err(e) = WebGpuDevice::open() {
        eprintln!("skipping cli_forest_via_wasi_webgpu (wasi:webgpu): {e}");
        return;
    }
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_offload"))
            .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
            .arg("forest")
            .args(args)
            .output()
            .expect("run offload")
    };
    let guest = GUEST.path();
    let guest = guest.to_str().expect("utf-8 path");
    let out = run(&[
        "--path",
        "wasm-cpp",
        "--via",
        "wasi-webgpu",
        "--trees",
        "20",
        "--guest",
        guest,
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for want in [
        "forest:      wasm-cpp-wasi-webgpu-wgpu, 20 trees",
        "train_ms:",
        "predict_ms:",
        "test_mse:",
        "predictions equal the guest's trees walked on the host (bit for bit): yes",
        "rows:        89 summed exactly on the device, 0 walked in wasm",
    ] {
        assert!(stdout.contains(want), "missing {want:?} in:\n{stdout}");
    }
    for bad in [
        &[
            "--path",
            "wasm-cpp",
            "--via",
            "wasi-webgpu",
            "--backend",
            "cuda",
        ][..],
        &["--path", "native", "--via", "wasi-webgpu"][..],
    ] {
        let out = run(bad);
        assert!(!out.status.success(), "{bad:?} was accepted");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("--via wasi-webgpu"), "{bad:?}: {err}");
    }
}
