//! Histogram-mode training (`offload_core::forest::hist`) on every backend that starts
//! (cpu, wgpu, cuda): `Forest::fit_hist_on` against the reference grower `Forest::fit_hist`,
//! tree for tree, on random data sets built to force ties (features with few distinct
//! values, small integer targets, few bins) and on the diabetes split, whose test MSE must
//! land where a correct forest lands; and hist-grow's errors on bad input.
//!
//! Backends that cannot start, or lack f64, are skipped by name. The seed is printed
//! (`OFFLOAD_TEST_SEED` repeats a run). Sizes are small: lavapipe runs these in CI.
//! `cargo test -p offload-core --features wgpu,cuda --test hist_grow -- --nocapture`.

use offload_core::data::{diabetes, diabetes_split, Dataset};
use offload_core::forest::{mse, Forest, ForestParams};
use offload_core::gpu::HistGrowArgs;
use rand::Rng;
use rand_pcg::Pcg64;

mod common;
use common::{backends, has_f64, poisoned, rng, same_forest_on_every_backend, upload};

/// A data set of `n` rows and `d` features, feature `f` taking at most `levels[f]` values,
/// targets small integers (ties in scores and constant nodes are common).
fn tied(r: &mut Pcg64, n: usize, d: usize) -> Dataset {
    let levels: Vec<u32> = (0..d).map(|_| r.random_range(1..12)).collect();
    let mut x = Vec::with_capacity(n * d);
    for _ in 0..n {
        for &l in &levels {
            x.push(r.random_range(0..l) as f32 * 0.25 - 1.0);
        }
    }
    let y = (0..n).map(|_| r.random_range(0..5) as f64 * 1.5).collect();
    Dataset {
        feature_names: (0..d).map(|f| format!("x{f}")).collect(),
        x,
        y,
        n_rows: n,
        n_features: d,
    }
}

fn fit_hist_on_equals_fit_hist(data: &Dataset, p: &ForestParams, bins: usize, what: &str) {
    let want = Forest::fit_hist(data, p, bins).unwrap();
    same_forest_on_every_backend(&want, "fit_hist_on", what, |b| {
        Forest::fit_hist_on(b, data, p, bins)
    });
}

#[test]
fn fit_hist_on_equals_fit_hist_on_tied_data() {
    let mut r = rng();
    for case in 0..6 {
        let n = r.random_range(1..400);
        let d = r.random_range(1..6);
        let data = tied(&mut r, n, d);
        let p = ForestParams {
            n_trees: r.random_range(1..5),
            max_depth: [None, Some(0), Some(3)][case % 3],
            min_samples_split: r.random_range(2..6),
            min_samples_leaf: r.random_range(1..4),
            bootstrap: case != 4,
            seed: r.random(),
            ..ForestParams::default()
        };
        let bins = [256, 2, 5][case % 3];
        fit_hist_on_equals_fit_hist(&data, &p, bins, &format!("case {case}: {n}×{d}, {p:?}"));
    }
}

#[test]
fn fit_hist_on_diabetes_equals_fit_hist_and_lands_in_range() {
    let data = diabetes();
    let (tr, te) = diabetes_split();
    let (train, test) = (data.subset(&tr), data.subset(&te));
    let p = ForestParams {
        n_trees: 20,
        ..ForestParams::default()
    };
    fit_hist_on_equals_fit_hist(&train, &p, 256, "diabetes, 20 trees");
    let f = Forest::fit_hist(&train, &ForestParams::default(), 256).unwrap();
    let m = mse(&f.predict(&test.x).unwrap(), &test.y);
    println!("diabetes hist, 200 trees: test MSE {m:.1}");
    assert!((2700.0..=3300.0).contains(&m), "test MSE {m}");
}

#[test]
fn hist_grow_rejects_bad_input_and_keeps_working() {
    let mut r = rng();
    let data = tied(&mut r, 50, 3);
    let p = ForestParams {
        n_trees: 2,
        ..ForestParams::default()
    };
    for mut b in backends() {
        if !has_f64(&b, "hist-grow errors") {
            continue;
        }
        let (n, d) = (50u32, 3u32);
        let bins = upload(&mut *b, &[0u8; 152]);
        let n_bins = upload(&mut *b, &[4u32; 3]);
        let yq = upload(&mut *b, &[1u32; 50]);
        let w = upload(&mut *b, &[1u32; 100]);
        let nodes = poisoned(&mut *b, 2 * 99 * 24);
        let count = poisoned(&mut *b, 8);
        let good = HistGrowArgs {
            bins,
            n_bins,
            yq,
            weights: w,
            nodes,
            node_count: count,
            n_rows: n,
            d,
            n_trees: 2,
            node_cap: 2 * n - 1,
            min_split: 2,
            min_leaf: 1,
            max_depth: u32::MAX,
        };
        let bad = [
            HistGrowArgs {
                min_leaf: 0,
                ..good
            },
            HistGrowArgs {
                min_split: 1,
                ..good
            },
            HistGrowArgs {
                node_cap: 2 * n - 2,
                ..good
            },
            HistGrowArgs { n_trees: 3, ..good },
            HistGrowArgs { n_rows: 0, ..good },
            HistGrowArgs { nodes: w, ..good },
            HistGrowArgs {
                node_count: nodes,
                ..good
            },
            HistGrowArgs {
                bins: 999_999,
                ..good
            },
        ];
        for (i, a) in bad.iter().enumerate() {
            let e = b.hist_grow(a).unwrap_err();
            println!("{}: bad hist-grow {i}: {e}", b.kind().name());
        }
        // Constant targets: every tree is one leaf of weight 50.
        b.hist_grow(&good).unwrap();
        let c: Vec<u32> = common::download(&mut *b, count, 2);
        assert_eq!(c, [1, 1], "{}", b.kind().name());
        for id in [bins, n_bins, yq, w, nodes, count] {
            b.destroy_buffer(id).unwrap();
        }
        // And the backend still trains.
        let got = Forest::fit_hist_on(&mut *b, &data, &p, 256).unwrap();
        assert_eq!(got, Forest::fit_hist(&data, &p, 256).unwrap());
    }
}
