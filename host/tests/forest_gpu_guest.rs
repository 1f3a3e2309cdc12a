//! The forest-gpu guest (`build/guests/forest/forest-gpu.wasm`, scripts/build-forest-gpu-guest.sh)
//! through `wasi:gpu` on cpu, wgpu (Mesa lavapipe without a GPU) and cuda (each skipped by
//! name, with the reason, where its backend does not start): the guest's forest equals
//! `Forest::fit`'s, its predictions equal `Forest::predict`'s bit for bit where the device has
//! f64 (else within 1e-5 relative, f32 sums), bad hyperparameters and malformed lists are
//! `err` with a message and leave the instance usable, predict before fit is an error, and
//! every device buffer a call creates is freed before it returns. `OFFLOAD_FOREST_GPU_GUEST`
//! overrides the component's path.

mod common;

use common::forest_guest::{check_refusals, guest_err, ForestGuestFile};
use offload_core::data::{diabetes_train_test as split, Dataset};
use offload_core::forest::{Forest, ForestParams};
use offload_host::forest_gpu_guest::{ForestGpuGuest, WitForestParams};

/// `OFFLOAD_FOREST_GPU_GUEST` (for a test binary run away from the repository, e.g. on the
/// GPU machine), else the build script's output in this checkout.
const GUEST: ForestGuestFile = ForestGuestFile {
    label: "forest-gpu",
    env: "OFFLOAD_FOREST_GPU_GUEST",
    default: offload_host::forest_gpu_guest::DEFAULT_PATH,
    script: "scripts/build-forest-gpu-guest.sh",
};

fn guest_on(backend: &str) -> Option<ForestGpuGuest> {
    GUEST.on(backend)
}

/// Fits `p` in the guest and checks trees, predictions and buffers against native.
fn check_same_as_native(g: &mut ForestGpuGuest, train: &Dataset, test: &Dataset, p: &ForestParams) {
    let native = Forest::fit(train, p).expect("native fit");
    let info = g.fit(train, p).expect("guest fit");
    assert_eq!(g.buffers(), 0, "fit left device buffers behind");
    assert_eq!(g.used_bytes(), 0);
    assert_eq!(info.trees as usize, p.n_trees);
    let nodes: usize = native.trees.iter().map(|t| t.len()).sum();
    assert_eq!(info.nodes as usize, nodes);
    let backend = g.device().info().backend.name();
    assert!(
        info.device.starts_with(&format!("{backend}: ")),
        "fit-info device {:?} does not name the {backend} backend",
        info.device
    );
    let forest = g.trees().expect("trees");
    assert!(
        forest == native,
        "{backend}: the guest's forest differs from Forest::fit's"
    );
    let want = native.predict(&test.x).expect("native predict");
    let got = g.predict(&test.x).expect("guest predict");
    assert_eq!(g.buffers(), 0, "predict left device buffers behind");
    assert_eq!(got.len(), want.len());
    let f64_ok = g.device().info().supports_f64;
    for (i, (a, b)) in got.iter().zip(&want).enumerate() {
        if f64_ok {
            assert_eq!(
                a.to_bits(),
                b.to_bits(),
                "{backend}: row {i}: {a} vs native {b}"
            );
        } else {
            assert!(
                (a - b).abs() <= 1e-5 * b.abs().max(1.0),
                "{backend}: row {i}: {a} vs native {b} (no device f64: f32 sums)"
            );
        }
    }
    if !f64_ok {
        eprintln!("{backend}: no device f64, predictions compared within 1e-5 (f32 sums)");
    }
}

fn same_as_native_on(backend: &str) {
    let Some(mut g) = guest_on(backend) else {
        return;
    };
    let (train, test) = split();
    // 20 trees keep debug builds fast; the bench checks 200.
    let p = ForestParams {
        n_trees: 20,
        ..ForestParams::default()
    };
    check_same_as_native(&mut g, &train, &test, &p);
    let p = ForestParams {
        n_trees: 12,
        max_features: Some(3),
        max_depth: Some(5),
        min_samples_leaf: 2,
        seed: 7,
        ..ForestParams::default()
    };
    check_same_as_native(&mut g, &train, &test, &p);
    eprintln!("{backend}: {:?}", g.device().info().name);
}

#[test]
fn same_forest_as_native_on_cpu() {
    same_as_native_on("cpu");
}

#[test]
fn same_forest_as_native_on_wgpu() {
    same_as_native_on("wgpu");
}

#[test]
fn same_forest_as_native_on_cuda() {
    same_as_native_on("cuda");
}

#[test]
fn bad_input_is_an_error_and_the_instance_survives() {
    let mut g = guest_on("cpu").expect("the cpu backend always starts");
    let (train, test) = split();
    let small = ForestParams {
        n_trees: 3,
        ..ForestParams::default()
    };

    // Predict (and trees) before any fit; hyperparameters out of range: offload-core's
    // messages.
    check_refusals(&mut g, &train, &test, &small, "_", false);

    // Malformed lists.
    let p = WitForestParams::from_params(&small).expect("params");
    let x = &train.x;
    let y = &train.y;
    let msg = guest_err(g.fit_raw(x, y, 0, p));
    assert!(msg.contains("n-features must be at least 1"), "{msg}");
    let msg = guest_err(g.fit_raw(&x[..x.len() - 1], y, 10, p));
    assert!(msg.contains("x has 3529 values"), "{msg}");
    let msg = guest_err(g.fit_raw(x, &y[..10], 10, p));
    assert!(msg.contains("x has 3530 values but y has 10 rows"), "{msg}");
    let msg = guest_err(g.fit_raw(&[], &[], 10, p));
    assert!(msg.contains("training data is empty"), "{msg}");
    let huge = WitForestParams {
        n_trees: u32::MAX,
        ..p
    };
    let msg = guest_err(g.fit_raw(x, y, 10, huge));
    assert!(msg.contains("n-trees must be at most"), "{msg}");
    assert_eq!(g.rebuilds(), 0, "bad input must not trap");

    // The instance still trains, and a forest it holds is checked against native.
    check_same_as_native(&mut g, &train, &test, &small);

    // A width that is not a multiple of the forest's features.
    let msg = guest_err(g.predict(&test.x[..15]));
    assert!(
        msg.contains("not a multiple of the forest's 10 features"),
        "{msg}"
    );
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
