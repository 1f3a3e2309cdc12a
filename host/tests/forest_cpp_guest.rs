//! The C++ forest guest (`build/guests/forest/forest-cpp.wasm`, scripts/build-cpp-guest.sh:
//! cpp-guest/, world `offload:forest-gpu/forest-gpu@0.1.0`, the Rust forest-gpu guest's)
//! run by the Rust host's [`ForestGpuGuest`] on cpu, wgpu (Mesa lavapipe without a GPU) and
//! cuda, each skipped by name, with the reason, where its backend does not start. The guest
//! trains its own forest (independent of offload-core) inside wasm and predicts through
//! `kernel-batch-predict`: the test MSE on the diabetes split lies in 2700–3300, the
//! device's predictions equal the guest's own trees walked on the host within 1e-9 relative
//! where the device has f64 (within 1e-5 with f32 sums), every buffer a call creates is
//! freed, and bad input is `err` with a message that leaves the instance usable.
//! `OFFLOAD_FOREST_CPP_GUEST` overrides the component's path.

mod common;

use common::forest_guest::{check_refusals, guest_err, ForestGuestFile};
use offload_core::data::{diabetes_train_test as split, Dataset};
use offload_core::forest::{mse, ForestParams};
use offload_host::forest_gpu_guest::{ForestGpuGuest, WitForestParams};

/// Where scripts/build-cpp-guest.sh puts the component, relative to the repository root.
const GUEST: ForestGuestFile = ForestGuestFile {
    label: "forest-cpp",
    env: "OFFLOAD_FOREST_CPP_GUEST",
    default: offload_host::forest_gpu_guest::CPP_PATH,
    script: "scripts/build-cpp-guest.sh",
};

fn guest_on(backend: &str) -> Option<ForestGpuGuest> {
    GUEST.on(backend)
}

/// Fits `p`, predicts the test rows through batch-predict and checks them against the
/// guest's own trees walked on the host; returns the test MSE.
fn fit_and_check(g: &mut ForestGpuGuest, train: &Dataset, test: &Dataset, p: &ForestParams) -> f64 {
    let info = g.fit(train, p).expect("guest fit");
    assert_eq!(g.buffers(), 0, "fit left device buffers behind");
    assert_eq!(info.trees as usize, p.n_trees);
    let backend = g.device().info().backend.name();
    assert!(
        info.device.starts_with(&format!("{backend}: ")),
        "fit-info device {:?} does not name the {backend} backend",
        info.device
    );
    let forest = g.trees().expect("trees");
    assert_eq!(forest.trees.len(), p.n_trees);
    let nodes: usize = forest.trees.iter().map(|t| t.len()).sum();
    assert_eq!(info.nodes as usize, nodes);
    for (i, t) in forest.trees.iter().enumerate() {
        for n in 0..t.len() {
            let (f, l, r) = (t.feature[n], t.left[n], t.right[n]);
            if f < 0 {
                assert!(
                    f == -1 && l == -1 && r == -1,
                    "tree {i} leaf {n}: {f} {l} {r}"
                );
            } else {
                assert!(
                    (f as usize) < train.n_features,
                    "tree {i} node {n} feature {f}"
                );
                assert!(l as usize > n && r as usize > n && (l.max(r) as usize) < t.len());
            }
        }
    }
    // The guest's trees walked here (offload-core's Forest::predict: f64 sums in tree order).
    let walked = forest.predict(&test.x).expect("walk the guest's trees");
    let got = g.predict(&test.x).expect("guest predict");
    assert_eq!(g.buffers(), 0, "predict left device buffers behind");
    assert_eq!(g.used_bytes(), 0);
    assert_eq!(got.len(), test.n_rows);
    let tol = if g.device().info().supports_f64 {
        1e-9
    } else {
        eprintln!("{backend}: no device f64, batch-predict sums in f32: compared within 1e-5");
        1e-5
    };
    for (i, (a, b)) in got.iter().zip(&walked).enumerate() {
        assert!(
            (a - b).abs() <= tol * b.abs(),
            "{backend}: row {i}: batch-predict {a} vs the trees walked on the host {b}"
        );
    }
    mse(&got, &test.y)
}

fn diabetes_on(backend: &str) {
    let Some(mut g) = guest_on(backend) else {
        return;
    };
    let (train, test) = split();
    let p = ForestParams::default();
    assert_eq!(p.n_trees, 200);
    let t0 = std::time::Instant::now();
    let m = fit_and_check(&mut g, &train, &test, &p);
    assert!(
        (2700.0..=3300.0).contains(&m),
        "{backend}: test MSE {m:.1}, want 2700–3300 (scikit-learn: about 2966)"
    );
    eprintln!(
        "forest-cpp on {backend} ({}): test MSE {m:.1}, fit + predict + checks {:?}",
        g.device().info().name,
        t0.elapsed()
    );
    // Other hyperparameters: depth and feature subsets are honoured.
    let p = ForestParams {
        n_trees: 12,
        max_features: Some(3),
        max_depth: Some(4),
        min_samples_leaf: 3,
        seed: 7,
        ..ForestParams::default()
    };
    fit_and_check(&mut g, &train, &test, &p);
    for t in &g.trees().expect("trees").trees {
        // depth 4 at most: at most 2^5 - 1 nodes
        assert!(t.len() <= 31, "a tree of {} nodes at max depth 4", t.len());
    }
    assert_eq!(g.rebuilds(), 0);
}

#[test]
fn cpp_forest_diabetes_on_cpu() {
    diabetes_on("cpu");
}

#[test]
fn cpp_forest_diabetes_on_wgpu() {
    diabetes_on("wgpu");
}

#[test]
fn cpp_forest_diabetes_on_cuda() {
    diabetes_on("cuda");
}

/// The same seed gives the same forest; another seed another one; without bootstrap every
/// root holds the mean target.
#[test]
fn cpp_forest_is_deterministic_and_bootstraps() {
    let mut g = guest_on("cpu").expect("the cpu backend always starts");
    let (train, _) = split();
    let p = ForestParams {
        n_trees: 5,
        ..ForestParams::default()
    };
    g.fit(&train, &p).expect("fit");
    let a = g.trees().expect("trees");
    g.fit(&train, &p).expect("fit");
    assert!(a == g.trees().expect("trees"), "same seed, other forest");
    g.fit(
        &train,
        &ForestParams {
            seed: 43,
            ..p.clone()
        },
    )
    .expect("fit");
    assert!(a != g.trees().expect("trees"), "another seed, same forest");
    let roots: Vec<f32> = a.trees.iter().map(|t| t.value[0]).collect();
    assert!(
        roots.windows(2).any(|w| w[0] != w[1]),
        "bootstrap roots all {roots:?}"
    );
    g.fit(
        &train,
        &ForestParams {
            bootstrap: false,
            ..p
        },
    )
    .expect("fit");
    let mean = train.y.iter().sum::<f64>() / train.n_rows as f64;
    for t in g.trees().expect("trees").trees {
        assert!(
            (t.value[0] as f64 - mean).abs() <= 1e-5 * mean,
            "root {}",
            t.value[0]
        );
    }
}

#[test]
fn cpp_forest_bad_input_is_an_error_and_the_instance_survives() {
    let mut g = guest_on("cpu").expect("the cpu backend always starts");
    let (train, test) = split();
    let small = ForestParams {
        n_trees: 3,
        ..ForestParams::default()
    };

    // Predict (and trees) before any fit; hyperparameters out of range: the WIT's names.
    check_refusals(&mut g, &train, &test, &small, "-", true);

    // Malformed data.
    let p = WitForestParams::from_params(&small).expect("params");
    let (x, y) = (&train.x, &train.y);
    let msg = guest_err(g.fit_raw(&[], &[], 10, p));
    assert!(msg.contains("training data is empty"), "{msg}");
    let msg = guest_err(g.fit_raw(x, y, 0, p));
    assert!(msg.contains("n-features must be at least 1"), "{msg}");
    let msg = guest_err(g.fit_raw(&x[..x.len() - 1], y, 10, p));
    assert!(msg.contains("x has 3529 values, not a multiple"), "{msg}");
    let msg = guest_err(g.fit_raw(x, &y[..10], 10, p));
    assert!(
        msg.contains("x has 3530 values (353 rows of 10) but y has 10 rows"),
        "{msg}"
    );
    let mut nan = x.clone();
    nan[17] = f32::NAN;
    let msg = guest_err(g.fit_raw(&nan, y, 10, p));
    assert!(msg.contains("x[17] is not finite"), "{msg}");
    let huge = WitForestParams {
        n_trees: u32::MAX,
        ..p
    };
    let msg = guest_err(g.fit_raw(x, y, 10, huge));
    assert!(msg.contains("n-trees must be at most"), "{msg}");
    let big = WitForestParams {
        n_trees: 100_000,
        ..p
    };
    let msg = guest_err(g.fit_raw(x, y, 10, big));
    assert!(msg.contains("over the guest's limit"), "{msg}");
    assert!(guest_err(g.predict(&test.x)).contains("no forest yet"));
    assert_eq!(g.rebuilds(), 0, "bad input must not trap");
    assert_eq!(g.buffers(), 0);

    // The instance still trains and predicts.
    fit_and_check(&mut g, &train, &test, &small);
    // A width that is not a multiple of the forest's features; an empty predict.
    let msg = guest_err(g.predict(&test.x[..15]));
    assert!(
        msg.contains("not a multiple of the forest's 10 features"),
        "{msg}"
    );
    assert!(guest_err(g.predict(&[])).contains("no rows"));
    assert_eq!(g.predict(&test.x[..20]).expect("two rows").len(), 2);
    // A failed fit drops the forest it held.
    guest_err(g.fit(
        &train,
        &ForestParams {
            n_trees: 0,
            ..small.clone()
        },
    ));
    assert!(guest_err(g.predict(&test.x)).contains("no forest yet"));
    assert_eq!(g.rebuilds(), 0);
    assert_eq!(g.buffers(), 0);
}
