//! The random forest's ML kernels (bootstrap-sample, find-split, average, batch-predict) and
//! GPU training/prediction (`Forest::fit_on`, `Forest::predict_on`) on every backend that
//! starts (cpu, wgpu, cuda), against the reference code of `offload_core::forest`, bit for bit.
//!
//! A backend that cannot start is skipped with its reason printed; a backend whose device
//! lacks f64 skips the f64 checks by name. Random inputs come from a seed printed at the start
//! (`OFFLOAD_TEST_SEED` repeats a run). Sizes are small: lavapipe runs these in CI.
//! `cargo test -p offload-core --features wgpu,cuda --test ml_kernels -- --nocapture` shows
//! what ran where.

use offload_core::data::{diabetes, diabetes_split, friedman1, Dataset};
use offload_core::forest::{
    bootstrap_counts, find_split, presort, Forest, ForestError, ForestParams,
};
use offload_core::forest_gpu::{DeviceForest, NONE};
use offload_core::gpu::{Backend, DType, FindSplitArgs, ForestBuffers, GpuError, SplitRecord};
use rand::Rng;
use rand_pcg::Pcg64;

mod common;
use common::{backends, download, has_f64, poisoned, rng, same_forest_on_every_backend, upload};

#[test]
fn bootstrap_sample_equals_bootstrap_counts() {
    for mut b in backends() {
        for (seed, first, n_trees, n_rows) in [
            (42u64, 0u32, 3u32, 353u32),
            (7, 5, 2, 1),
            (u64::MAX - 3, 1000, 2, 257),
            (0x1234_5678_9abc_def0, u32::MAX - 1, 2, 1000),
            (1, 0, 1, 5000),
        ] {
            let out = poisoned(&mut *b, (n_trees * n_rows * 4) as usize);
            b.bootstrap_sample(seed, first, n_trees, n_rows, out)
                .unwrap();
            let got: Vec<u32> = download(&mut *b, out, (n_trees * n_rows) as usize);
            for t in 0..n_trees {
                let want = bootstrap_counts(n_rows as usize, seed, first as u64 + t as u64);
                let row = &got[(t * n_rows) as usize..((t + 1) * n_rows) as usize];
                assert!(
                    row == want.as_slice(),
                    "{}: seed {seed} tree {} n {n_rows}",
                    b.kind().name(),
                    first as u64 + t as u64
                );
            }
            b.destroy_buffer(out).unwrap();
        }
    }
}

/// A random find-split problem: a data set with duplicate x values and integer targets
/// (ties), several trees with random weights, random nodes (disjoint row subsets per tree),
/// random candidate subsets.
struct Problem {
    data: Dataset,
    n_trees: usize,
    weights: Vec<u32>,
    node_of: Vec<u32>,
    cand_rank: Vec<u32>,
    n_nodes: usize,
    /// Per node: (tree, candidate features in rank order).
    nodes: Vec<(usize, Vec<usize>)>,
    min_leaf: u32,
}

fn problem(r: &mut Pcg64, n: usize, d: usize, n_trees: usize) -> Problem {
    let levels = r.random_range(2..6);
    let x: Vec<f32> = (0..n * d)
        .map(|_| r.random_range(0..levels * 3) as f32 * 0.25 - 1.0)
        .collect();
    let y: Vec<f64> = (0..n)
        .map(|_| {
            if r.random_bool(0.5) {
                r.random_range(0..4) as f64
            } else {
                r.random_range(-1.0..1.0)
            }
        })
        .collect();
    let data = Dataset {
        feature_names: (0..d).map(|f| format!("x{f}")).collect(),
        x,
        y,
        n_rows: n,
        n_features: d,
    };
    let mut weights = vec![0u32; n_trees * n];
    let mut node_of = vec![NONE; n_trees * n];
    let mut nodes = Vec::new();
    for t in 0..n_trees {
        let k = r.random_range(1..4);
        let first = nodes.len();
        for _ in 0..k {
            let m = r.random_range(1..=d);
            let mut feats: Vec<usize> = (0..d).collect();
            for i in 0..m {
                let j = r.random_range(i..d);
                feats.swap(i, j);
            }
            feats.truncate(m);
            nodes.push((t, feats));
        }
        for row in 0..n {
            weights[t * n + row] = if r.random_bool(0.3) {
                0
            } else {
                r.random_range(1..4)
            };
            if r.random_bool(0.9) {
                node_of[t * n + row] = r.random_range(first..first + k) as u32;
            }
        }
    }
    let n_nodes = nodes.len();
    let mut cand_rank = vec![NONE; n_nodes * d];
    for (j, (_, feats)) in nodes.iter().enumerate() {
        for (k, &f) in feats.iter().enumerate() {
            cand_rank[j * d + f] = k as u32;
        }
    }
    Problem {
        data,
        n_trees,
        weights,
        node_of,
        cand_rank,
        n_nodes,
        nodes,
        min_leaf: r.random_range(1..4),
    }
}

struct SplitBufs {
    args: FindSplitArgs,
}

fn upload_problem(b: &mut Backend, p: &Problem) -> SplitBufs {
    let d = &p.data;
    let args = FindSplitArgs {
        x: upload(&mut **b, &d.x),
        y: upload(&mut **b, &d.y),
        order: upload(&mut **b, &presort(d)),
        weights: upload(&mut **b, &p.weights),
        node_of: upload(&mut **b, &p.node_of),
        cand_rank: upload(&mut **b, &p.cand_rank),
        out: poisoned(&mut **b, p.n_nodes * 24),
        n_rows: d.n_rows as u32,
        d: d.n_features as u32,
        n_trees: p.n_trees as u32,
        n_nodes: p.n_nodes as u32,
        min_leaf: p.min_leaf,
    };
    SplitBufs { args }
}

fn free(b: &mut Backend, s: &SplitBufs) {
    let a = &s.args;
    for id in [a.x, a.y, a.order, a.weights, a.node_of, a.cand_rank, a.out] {
        b.destroy_buffer(id).unwrap();
    }
}

/// The reference answer of node `j`.
fn reference(p: &Problem, j: usize) -> SplitRecord {
    let (t, feats) = &p.nodes[j];
    let n = p.data.n_rows;
    let mut rows = Vec::new();
    let mut ws = Vec::new();
    for r in 0..n {
        let w = p.weights[t * n + r];
        if p.node_of[t * n + r] == j as u32 && w > 0 {
            rows.push(r as u32);
            ws.push(w);
        }
    }
    match find_split(&p.data, &rows, &ws, feats, p.min_leaf as u64) {
        Some(s) => SplitRecord {
            score: s.score,
            feature: s.feature as i32,
            threshold: s.threshold,
            weight_left: s.weight_left as u32,
            pad: 0,
        },
        None => SplitRecord {
            feature: -1,
            ..SplitRecord::default()
        },
    }
}

#[test]
fn find_split_equals_the_reference_on_random_nodes() {
    let mut r = rng();
    let problems: Vec<Problem> = (0..12)
        .map(|i| {
            let n = [1, 2, 7, 40, 150, 300][i % 6];
            let d = r.random_range(1..7);
            let t = r.random_range(1..5);
            problem(&mut r, n, d, t)
        })
        .collect();
    for mut b in backends() {
        if !has_f64(&b, "find-split") {
            continue;
        }
        let mut checked = 0;
        for (pi, p) in problems.iter().enumerate() {
            let s = upload_problem(&mut b, p);
            b.find_split(&s.args).unwrap();
            let got: Vec<SplitRecord> = download(&mut *b, s.args.out, p.n_nodes);
            for (j, g) in got.iter().enumerate() {
                let want = reference(p, j);
                let same = g.feature == want.feature
                    && g.threshold.to_bits() == want.threshold.to_bits()
                    && g.score.to_bits() == want.score.to_bits()
                    && g.weight_left == want.weight_left;
                assert!(
                    same,
                    "{}: problem {pi} node {j}: got {g:?}, want {want:?}",
                    b.kind().name()
                );
                checked += (want.feature >= 0) as usize;
            }
            free(&mut b, &s);
        }
        assert!(checked > 10, "only {checked} nodes had a split");
    }
}

#[test]
fn find_split_rejects_bad_input_and_keeps_working() {
    let mut r = rng();
    let p = problem(&mut r, 50, 3, 2);
    for mut b in backends() {
        if !has_f64(&b, "find-split bad input") {
            continue;
        }
        let s = upload_problem(&mut b, &p);
        let a = s.args;
        let e = |b: &mut Backend, a: FindSplitArgs| b.find_split(&a).unwrap_err();
        assert!(matches!(
            e(&mut b, FindSplitArgs { n_nodes: 0, ..a }),
            GpuError::ZeroSize(_)
        ));
        assert!(matches!(
            e(&mut b, FindSplitArgs { n_rows: 0, ..a }),
            GpuError::ZeroSize(_)
        ));
        assert!(matches!(
            e(&mut b, FindSplitArgs { n_rows: 51, ..a }),
            GpuError::ShapeMismatch(_)
        ));
        assert!(matches!(
            e(
                &mut b,
                FindSplitArgs {
                    n_nodes: a.n_nodes + 100,
                    ..a
                }
            ),
            GpuError::ShapeMismatch(_)
        ));
        assert!(matches!(
            e(
                &mut b,
                FindSplitArgs {
                    weights: 999_999,
                    ..a
                }
            ),
            GpuError::InvalidHandle(999_999)
        ));
        assert!(matches!(
            e(&mut b, FindSplitArgs { min_leaf: 0, ..a }),
            GpuError::InvalidArgument(_)
        ));
        assert!(matches!(
            e(&mut b, FindSplitArgs { out: a.x, ..a }),
            GpuError::InvalidArgument(_) | GpuError::ShapeMismatch(_)
        ));
        // A node id out of range in node_of.
        let mut bad = p.node_of.clone();
        bad[3] = p.n_nodes as u32 + 5;
        let wb = p.weights[3];
        let bad_node = upload(&mut *b, &bad);
        let got = b.find_split(&FindSplitArgs {
            node_of: bad_node,
            ..a
        });
        if wb > 0 {
            assert!(matches!(got, Err(GpuError::InvalidArgument(_))), "{got:?}");
        }
        // A row index out of range in order.
        let mut order = presort(&p.data);
        order[0] = 1_000_000;
        let bad_order = upload(&mut *b, &order);
        let got = b.find_split(&FindSplitArgs {
            order: bad_order,
            ..a
        });
        assert!(matches!(got, Err(GpuError::InvalidArgument(_))), "{got:?}");
        // Still working, with the right answer.
        b.find_split(&a).unwrap();
        let got: Vec<SplitRecord> = download(&mut *b, a.out, p.n_nodes);
        for (j, g) in got.iter().enumerate() {
            assert_eq!(g.score.to_bits(), reference(&p, j).score.to_bits());
        }
        b.destroy_buffer(bad_node).unwrap();
        b.destroy_buffer(bad_order).unwrap();
        free(&mut b, &s);
    }
}

fn small_forest() -> (Forest, Vec<f32>) {
    let data = friedman1(300, 6, 0.5, 11);
    let p = ForestParams {
        n_trees: 7,
        max_features: Some(4),
        ..ForestParams::default()
    };
    let f = Forest::fit(&data, &p).unwrap();
    let test = friedman1(333, 6, 0.5, 12);
    (f, test.x)
}

#[test]
fn average_and_batch_predict_equal_forest_predict() {
    let (forest, x) = small_forest();
    let want = forest.predict(&x).unwrap();
    let n = want.len();
    let nt = forest.trees.len();
    // Per-tree predictions, tree-major, for average.
    let mut preds = Vec::with_capacity(nt * n);
    for t in &forest.trees {
        preds.extend(x.chunks_exact(6).map(|row| t.predict_row(row)));
    }
    for mut b in backends() {
        let name = b.kind().name();
        let pb = upload(&mut *b, &preds);
        for dtype in [DType::F64, DType::F32] {
            if dtype == DType::F64 && !has_f64(&b, "f64 average/batch-predict") {
                continue;
            }
            let out = poisoned(&mut *b, n * 8);
            b.average(dtype, pb, nt as u32, n as u32, out).unwrap();
            let got: Vec<f64> = match dtype {
                DType::F64 => download(&mut *b, out, n),
                DType::F32 => download::<f32>(&mut *b, out, n)
                    .iter()
                    .map(|&v| v as f64)
                    .collect(),
            };
            check_preds(name, "average", dtype, &got, &want);
            b.destroy_buffer(out).unwrap();
        }
        b.destroy_buffer(pb).unwrap();
        // batch-predict through DeviceForest (and its chunking) and predict_on.
        let mut dev = DeviceForest::upload(&forest, &mut *b).unwrap();
        let got = dev.predict(&mut *b, &x).unwrap();
        check_preds(name, "batch-predict", dev.dtype, &got, &want);
        let got = dev.predict(&mut *b, &x[..6 * 10]).unwrap();
        check_preds(
            name,
            "batch-predict (10 rows)",
            dev.dtype,
            &got,
            &want[..10],
        );
        dev.free(&mut *b);
        let got = forest.predict_on(&mut *b, &x).unwrap();
        let dtype = if b.info().supports_f64 {
            DType::F64
        } else {
            DType::F32
        };
        check_preds(name, "predict_on", dtype, &got, &want);
    }
}

fn check_preds(backend: &str, what: &str, dtype: DType, got: &[f64], want: &[f64]) {
    assert_eq!(got.len(), want.len());
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        match dtype {
            DType::F64 => assert!(
                g.to_bits() == w.to_bits(),
                "{backend} {what} f64 row {i}: {g} != {w}"
            ),
            DType::F32 => assert!(
                (g - w).abs() <= 1e-5 * w.abs().max(1.0),
                "{backend} {what} f32 row {i}: {g} vs {w}"
            ),
        }
    }
}

#[test]
fn batch_predict_and_average_reject_bad_input_and_survive_malformed_forests() {
    let (forest, x) = small_forest();
    for mut b in backends() {
        let dtype = if b.info().supports_f64 {
            DType::F64
        } else {
            DType::F32
        };
        let mut dev = DeviceForest::upload(&forest, &mut *b).unwrap();
        let xb = upload(&mut *b, &x);
        let out = b.create_buffer(333 * 8).unwrap();
        let f = dev.buffers;
        let e = |b: &mut Backend, f: ForestBuffers, n: u32| b.batch_predict(dtype, &f, xb, n, out);
        assert!(matches!(e(&mut b, f, 0), Err(GpuError::ZeroSize(_))));
        assert!(matches!(e(&mut b, f, 334), Err(GpuError::ShapeMismatch(_))));
        let big = ForestBuffers {
            n_nodes: f.n_nodes + 1,
            ..f
        };
        assert!(matches!(
            e(&mut b, big, 10),
            Err(GpuError::ShapeMismatch(_))
        ));
        let gone = ForestBuffers { left: 777_777, ..f };
        assert!(matches!(
            e(&mut b, gone, 10),
            Err(GpuError::InvalidHandle(777_777))
        ));
        assert!(matches!(
            b.average(dtype, xb, 0, 10, out),
            Err(GpuError::ZeroSize(_))
        ));
        assert!(matches!(
            b.average(dtype, xb, 7, 1000, out),
            Err(GpuError::ShapeMismatch(_))
        ));
        // A malformed forest: cycles and children out of range; must return, not hang.
        let nn = f.n_nodes as usize;
        let cyc: Vec<i32> = (0..nn)
            .map(|i| if i % 2 == 0 { 0 } else { 1 << 30 })
            .collect();
        let cb = upload(&mut *b, &cyc);
        let bad = ForestBuffers {
            left: cb,
            right: cb,
            ..f
        };
        e(&mut b, bad, 333).unwrap();
        // Still working.
        let got = dev.predict(&mut *b, &x).unwrap();
        check_preds(
            b.kind().name(),
            "batch-predict after errors",
            dtype,
            &got,
            &forest.predict(&x).unwrap(),
        );
        for id in [xb, out, cb] {
            b.destroy_buffer(id).unwrap();
        }
        assert!(matches!(
            b.bootstrap_sample(1, 0, 0, 10, out),
            Err(GpuError::InvalidHandle(_))
        ));
        let o = b.create_buffer(40).unwrap();
        assert!(matches!(
            b.bootstrap_sample(1, 0, 0, 10, o),
            Err(GpuError::ZeroSize(_))
        ));
        assert!(matches!(
            b.bootstrap_sample(1, 0, 2, 10, o),
            Err(GpuError::ShapeMismatch(_))
        ));
        assert!(matches!(
            b.bootstrap_sample(1, 0, 1 << 20, 1 << 20, o),
            Err(GpuError::TooLarge { .. })
        ));
        b.bootstrap_sample(1, 0, 1, 10, o).unwrap();
        b.destroy_buffer(o).unwrap();
        dev.free(&mut *b);
    }
}

fn fit_on_equals_fit(data: &Dataset, p: &ForestParams, what: &str) {
    let want = Forest::fit(data, p).unwrap();
    same_forest_on_every_backend(&want, "fit_on", what, |b| Forest::fit_on(b, data, p));
}

#[test]
fn fit_on_equals_fit_on_friedman() {
    let data = friedman1(200, 5, 0.5, 3);
    for max_features in [None, Some(2)] {
        let p = ForestParams {
            n_trees: 4,
            max_features,
            ..ForestParams::default()
        };
        fit_on_equals_fit(
            &data,
            &p,
            &format!("friedman max_features {max_features:?}"),
        );
    }
    let p = ForestParams {
        n_trees: 3,
        max_depth: Some(4),
        min_samples_leaf: 3,
        min_samples_split: 7,
        bootstrap: false,
        seed: 9,
        ..ForestParams::default()
    };
    fit_on_equals_fit(&data, &p, "friedman depth 4, leaf 3, split 7, no bootstrap");
}

#[test]
fn fit_on_equals_fit_on_diabetes() {
    let d = diabetes();
    let (tr, _) = diabetes_split();
    let train = d.subset(&tr);
    for max_features in [None, Some(3)] {
        let p = ForestParams {
            n_trees: 6,
            max_features,
            ..ForestParams::default()
        };
        fit_on_equals_fit(
            &train,
            &p,
            &format!("diabetes max_features {max_features:?}"),
        );
    }
}

#[test]
fn fit_on_rejects_bad_hyperparameters() {
    let data = friedman1(30, 5, 0.1, 1);
    for mut b in backends() {
        let p = ForestParams {
            n_trees: 0,
            ..ForestParams::default()
        };
        assert_eq!(
            Forest::fit_on(&mut *b, &data, &p),
            Err(ForestError::NoTrees)
        );
        let (f, _) = small_forest();
        assert_eq!(
            f.predict_on(&mut *b, &[0.0; 7]),
            Err(ForestError::Width { got: 7, d: 6 })
        );
    }
}
