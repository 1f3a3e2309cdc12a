//! The cuda backend's ML kernels (bootstrap-sample, find-split, average, batch-predict)
//! against the forest reference (`offload_core::forest`) and the cpu backend, bit for bit,
//! their errors on bad input, and the GPU training driver (`Forest::fit_on`) on cuda: the same
//! forest as `Forest::fit`, every find-split call of it checked against the cpu backend.
//!
//! Every test opens the cuda backend first and returns with the reason printed when it is
//! unavailable (no NVIDIA driver, no NVRTC: the case on CI). Inputs are random (the seed is
//! printed; `OFFLOAD_TEST_SEED` repeats a run), with ties forced: features that take few
//! distinct values, integer targets, weights from 0 to 3, nodes of a few rows.
//!
//! On a GPU machine: `cargo test -p offload-core --features cuda --release --test ml_cuda --
//! --nocapture`; the timings (batch-predict at 10⁶ rows, find-split on one level, training)
//! are `#[ignore]`d: add `--include-ignored`.

use offload_core::data::{friedman1, Dataset};
use offload_core::forest::{self, bootstrap_counts, Forest, ForestParams, Split};
use offload_core::gpu::cpu::CpuBackend;
use offload_core::gpu::{
    Backend, BufferId, DType, FindSplitArgs, ForestBuffers, GpuBackend, GpuError, SplitRecord,
};
use rand::Rng;
use rand_pcg::Pcg64;

mod common;
use common::{download, poisoned, rng, upload};

const NONE: u32 = u32::MAX;

fn cuda() -> Option<Backend> {
    match Backend::open("cuda") {
        Ok(b) => {
            eprintln!("cuda: {} ({})", b.info().name, b.info().driver);
            Some(b)
        }
        Err(e) => {
            eprintln!("skipping the cuda ML kernel tests: {e}");
            None
        }
    }
}

#[test]
fn bootstrap_sample_equals_bootstrap_counts() {
    let Some(mut g) = cuda() else { return };
    // One chunk, several chunks (1024 draws each) with a partial last one, one row, big seeds.
    for (seed, first, n_trees, n_rows) in [
        (42u64, 0u32, 5u32, 353u32),
        (7, 3, 4, 3000),
        (u64::MAX, 1000, 2, 1),
        (1, 0, 3, 1024),
        (0x9e37_79b9_7f4a_7c15, 77, 2, 100_003),
    ] {
        let n = n_trees as usize * n_rows as usize;
        let out = poisoned(&mut *g, n * 4);
        g.bootstrap_sample(seed, first, n_trees, n_rows, out)
            .unwrap();
        let got: Vec<u32> = download(&mut *g, out, n);
        for t in 0..n_trees as usize {
            let want = bootstrap_counts(n_rows as usize, seed, first as u64 + t as u64);
            let row = &got[t * n_rows as usize..(t + 1) * n_rows as usize];
            assert!(
                row == want.as_slice(),
                "seed {seed} tree {} of {n_rows} rows differs",
                first as usize + t
            );
        }
        g.destroy_buffer(out).unwrap();
    }
}

/// A random find-split batch: data with ties, `n_trees` trees, nodes with random rows.
struct Batch {
    data: Dataset,
    order: Vec<u32>,
    weights: Vec<u32>,
    node_of: Vec<u32>,
    cand_rank: Vec<u32>,
    n_trees: usize,
    n_nodes: usize,
    min_leaf: u32,
}

fn random_batch(r: &mut Pcg64, n: usize, d: usize, n_trees: usize, per_tree: usize) -> Batch {
    let mut x = vec![0f32; n * d];
    for f in 0..d {
        // Feature 0: few distinct values (ties); 1: many duplicates incl. ±0; others: uniform.
        for i in 0..n {
            x[i * d + f] = match f % 3 {
                0 => r.random_range(0..4) as f32 * 0.25,
                1 => [-0.0f32, 0.0, 1.5, -2.0][r.random_range(0..4)],
                _ => r.random::<f32>() * 10.0 - 5.0,
            };
        }
    }
    // Integer targets make exact score ties between features likely.
    let y: Vec<f64> = (0..n).map(|_| r.random_range(0..5) as f64).collect();
    let data = Dataset {
        feature_names: (0..d).map(|f| format!("x{f}")).collect(),
        x,
        y,
        n_rows: n,
        n_features: d,
    };
    let order = forest::presort(&data);
    let n_nodes = n_trees * per_tree;
    let mut weights = vec![0u32; n_trees * n];
    let mut node_of = vec![NONE; n_trees * n];
    for t in 0..n_trees {
        for i in 0..n {
            weights[t * n + i] = r.random_range(0..4);
            // Node ids of tree t interleaved with the other trees'; some rows in no node.
            if r.random_range(0..10) > 0 {
                node_of[t * n + i] = (r.random_range(0..per_tree) * n_trees + t) as u32;
            }
        }
    }
    let mut cand_rank = vec![NONE; n_nodes * d];
    for j in 0..n_nodes {
        let m = r.random_range(1..=d);
        let mut feats: Vec<usize> = (0..d).collect();
        for i in 0..d {
            let k = r.random_range(i..d);
            feats.swap(i, k);
        }
        // Ranks with gaps (only their order matters).
        for (k, &f) in feats[..m].iter().enumerate() {
            cand_rank[j * d + f] = (3 * k + r.random_range(0..2)) as u32;
        }
    }
    Batch {
        data,
        order,
        weights,
        node_of,
        cand_rank,
        n_trees,
        n_nodes,
        min_leaf: r.random_range(1..4),
    }
}

/// The reference answer of every node of `b` through `forest::find_split`.
fn reference(b: &Batch) -> Vec<Option<Split>> {
    let (n, d) = (b.data.n_rows, b.data.n_features);
    (0..b.n_nodes)
        .map(|j| {
            let t = (0..b.n_trees)
                .find(|&t| (0..n).any(|i| b.node_of[t * n + i] == j as u32))
                .unwrap_or(0);
            let rows: Vec<u32> = (0..n as u32)
                .filter(|&i| {
                    let k = t * n + i as usize;
                    b.node_of[k] == j as u32 && b.weights[k] > 0
                })
                .collect();
            let ws: Vec<u32> = rows
                .iter()
                .map(|&i| b.weights[t * n + i as usize])
                .collect();
            let mut cands: Vec<(u32, usize)> = (0..d)
                .filter(|&f| b.cand_rank[j * d + f] != NONE)
                .map(|f| (b.cand_rank[j * d + f], f))
                .collect();
            cands.sort_unstable();
            let cands: Vec<usize> = cands.into_iter().map(|(_, f)| f).collect();
            if rows.is_empty() {
                return None;
            }
            forest::find_split(&b.data, &rows, &ws, &cands, b.min_leaf as u64)
        })
        .collect()
}

struct Uploaded {
    args: FindSplitArgs,
    bufs: Vec<BufferId>,
}

fn upload_batch(g: &mut dyn GpuBackend, b: &Batch) -> Uploaded {
    let x = upload(g, &b.data.x);
    let y = upload(g, &b.data.y);
    let order = upload(g, &b.order);
    let weights = upload(g, &b.weights);
    let node_of = upload(g, &b.node_of);
    let cand_rank = upload(g, &b.cand_rank);
    let out = poisoned(g, b.n_nodes * 24);
    Uploaded {
        args: FindSplitArgs {
            x,
            y,
            order,
            weights,
            node_of,
            cand_rank,
            out,
            n_rows: b.data.n_rows as u32,
            d: b.data.n_features as u32,
            n_trees: b.n_trees as u32,
            n_nodes: b.n_nodes as u32,
            min_leaf: b.min_leaf,
        },
        bufs: vec![x, y, order, weights, node_of, cand_rank, out],
    }
}

fn run_find_split(g: &mut dyn GpuBackend, b: &Batch) -> Vec<SplitRecord> {
    let u = upload_batch(g, b);
    g.find_split(&u.args).unwrap();
    let recs: Vec<SplitRecord> = download(g, u.args.out, b.n_nodes);
    for id in u.bufs {
        g.destroy_buffer(id).unwrap();
    }
    recs
}

#[test]
fn find_split_equals_the_reference_on_random_nodes_with_ties() {
    let Some(mut g) = cuda() else { return };
    let mut cpu = CpuBackend::new();
    let mut r = rng();
    let mut checked = (0usize, 0usize);
    for (n, d, n_trees, per_tree) in [
        (40, 3, 1, 1),
        (200, 5, 3, 4),
        (500, 7, 4, 9),
        (1000, 10, 8, 16),
        (3, 2, 2, 2),
        // Many nodes of 1 to 5 rows: exact score ties between thresholds of one feature.
        (300, 3, 2, 80),
        (500, 2, 3, 120),
    ] {
        for _ in 0..3 {
            let b = random_batch(&mut r, n, d, n_trees, per_tree);
            let want = reference(&b);
            let got = run_find_split(&mut *g, &b);
            let on_cpu = run_find_split(&mut cpu, &b);
            for (j, (w, rec)) in want.iter().zip(&got).enumerate() {
                let ctx = format!("n {n} d {d} node {j} min_leaf {}", b.min_leaf);
                match w {
                    None => {
                        assert_eq!(rec.feature, -1, "{ctx}: split where none is valid");
                        assert_eq!(rec.score.to_bits(), 0, "{ctx}");
                    }
                    Some(s) => {
                        assert_eq!(rec.feature, s.feature as i32, "{ctx}: feature");
                        assert_eq!(rec.threshold.to_bits(), s.threshold.to_bits(), "{ctx}");
                        assert_eq!(rec.score.to_bits(), s.score.to_bits(), "{ctx}: score");
                        assert_eq!(rec.weight_left as u64, s.weight_left, "{ctx}");
                        checked.0 += 1;
                    }
                }
                checked.1 += 1;
            }
            // Byte-identical records to the cpu backend's (pad and no-split nodes included).
            assert!(
                bytemuck::cast_slice::<_, u8>(&got) == bytemuck::cast_slice::<_, u8>(&on_cpu),
                "cuda and cpu records differ (n {n} d {d})"
            );
        }
    }
    eprintln!(
        "{} nodes with a split, {} nodes in all",
        checked.0, checked.1
    );
    assert!(checked.0 > 50, "too few nodes had a split to test");
}

#[test]
fn find_split_picks_the_roots_of_a_trained_forest() {
    // The root of each tree of Forest::fit (all features, default params) is find-split on
    // the bootstrap sample with candidates 0..d.
    let Some(mut g) = cuda() else { return };
    let data = friedman1(700, 8, 0.5, 5);
    let (n, d, n_trees) = (700usize, 8usize, 6usize);
    let params = ForestParams {
        n_trees,
        max_depth: Some(1),
        seed: 11,
        ..ForestParams::default()
    };
    let forest = Forest::fit(&data, &params).unwrap();
    let wbuf = g.create_buffer((n_trees * n * 4) as u64).unwrap();
    g.bootstrap_sample(11, 0, n_trees as u32, n as u32, wbuf)
        .unwrap();
    let weights: Vec<u32> = download(&mut *g, wbuf, n_trees * n);
    let node_of: Vec<u32> = (0..n_trees * n).map(|k| (k / n) as u32).collect();
    let cand_rank: Vec<u32> = (0..n_trees * d).map(|k| (k % d) as u32).collect();
    let b = Batch {
        order: forest::presort(&data),
        data,
        weights,
        node_of,
        cand_rank,
        n_trees,
        n_nodes: n_trees,
        min_leaf: 1,
    };
    let recs = run_find_split(&mut *g, &b);
    for (t, rec) in recs.iter().enumerate() {
        let tree = &forest.trees[t];
        assert_eq!(rec.feature, tree.feature[0], "tree {t}");
        assert_eq!(
            rec.threshold.to_bits(),
            tree.threshold[0].to_bits(),
            "tree {t}"
        );
    }
}

#[test]
fn average_equals_the_cpu_backend_and_the_f64_mean() {
    let Some(mut g) = cuda() else { return };
    let mut cpu = CpuBackend::new();
    let mut r = rng();
    for (n_trees, n_rows) in [(1usize, 1usize), (200, 1000), (7, 70_001), (3, 5)] {
        let mut preds: Vec<f32> = (0..n_trees * n_rows)
            .map(|_| r.random::<f32>() * 300.0 - 100.0)
            .collect();
        // Signed zeros: a row of -0.0 must average to -0.0 as Rust's float sum does.
        for t in 0..n_trees {
            preds[t * n_rows] = -0.0;
        }
        for dtype in [DType::F64, DType::F32] {
            let bytes = n_rows * dtype.size() as usize;
            let run = |b: &mut dyn GpuBackend| -> Vec<u8> {
                let p = upload(b, &preds);
                let out = poisoned(b, bytes);
                b.average(dtype, p, n_trees as u32, n_rows as u32, out)
                    .unwrap();
                let v: Vec<u8> = download(b, out, bytes);
                b.destroy_buffer(p).unwrap();
                b.destroy_buffer(out).unwrap();
                v
            };
            let got = run(&mut *g);
            assert!(
                got == run(&mut cpu),
                "{dtype:?} {n_trees}×{n_rows}: cuda differs from cpu"
            );
            if dtype == DType::F64 {
                let got: &[f64] = bytemuck::cast_slice(&got);
                for (i, v) in got.iter().enumerate() {
                    let s: f64 = (0..n_trees).map(|t| preds[t * n_rows + i] as f64).sum();
                    assert_eq!(v.to_bits(), (s / n_trees as f64).to_bits(), "row {i}");
                }
            }
        }
    }
}

/// The trees of `forest` as [`ForestBuffers`] (children relative to each tree's root).
fn upload_forest(b: &mut dyn GpuBackend, forest: &Forest) -> (ForestBuffers, Vec<BufferId>) {
    let (mut feature, mut threshold, mut left, mut right, mut value, mut start) =
        (vec![], vec![], vec![], vec![], vec![], vec![]);
    for t in &forest.trees {
        start.push(feature.len() as u32);
        feature.extend_from_slice(&t.feature);
        threshold.extend_from_slice(&t.threshold);
        left.extend_from_slice(&t.left);
        right.extend_from_slice(&t.right);
        value.extend_from_slice(&t.value);
    }
    let ids = vec![
        upload(b, &feature),
        upload(b, &threshold),
        upload(b, &left),
        upload(b, &right),
        upload(b, &value),
        upload(b, &start),
    ];
    let fb = ForestBuffers {
        feature: ids[0],
        threshold: ids[1],
        left: ids[2],
        right: ids[3],
        value: ids[4],
        tree_start: ids[5],
        n_trees: forest.trees.len() as u32,
        n_nodes: feature.len() as u32,
        n_features: forest.n_features as u32,
    };
    (fb, ids)
}

fn predict_bytes(
    b: &mut dyn GpuBackend,
    forest: &Forest,
    x: &[f32],
    dtype: DType,
) -> Result<Vec<u8>, GpuError> {
    let n_rows = x.len() / forest.n_features;
    let (fb, ids) = upload_forest(b, forest);
    let xb = upload(b, x);
    let bytes = n_rows * dtype.size() as usize;
    let out = poisoned(b, bytes);
    let r = b.batch_predict(dtype, &fb, xb, n_rows as u32, out);
    let v = r.map(|_| download(b, out, bytes));
    for id in ids.into_iter().chain([xb, out]) {
        b.destroy_buffer(id).unwrap();
    }
    v
}

#[test]
fn batch_predict_equals_forest_predict() {
    let Some(mut g) = cuda() else { return };
    let mut cpu = CpuBackend::new();
    let data = friedman1(400, 6, 0.5, 3);
    let forest = Forest::fit(
        &data,
        &ForestParams {
            n_trees: 12,
            max_features: Some(3),
            ..ForestParams::default()
        },
    )
    .unwrap();
    let test = friedman1(5000, 6, 0.5, 4);
    let want = forest.predict(&test.x).unwrap();
    let got = predict_bytes(&mut *g, &forest, &test.x, DType::F64).unwrap();
    let got: &[f64] = bytemuck::cast_slice(&got);
    for (i, (a, b)) in got.iter().zip(&want).enumerate() {
        assert_eq!(a.to_bits(), b.to_bits(), "row {i}: {a} vs {b}");
    }
    let g32 = predict_bytes(&mut *g, &forest, &test.x, DType::F32).unwrap();
    let c32 = predict_bytes(&mut cpu, &forest, &test.x, DType::F32).unwrap();
    assert!(g32 == c32, "f32 batch-predict differs from cpu");
}

#[test]
fn malformed_forests_give_the_cpu_backends_answer_without_hanging() {
    let Some(mut g) = cuda() else { return };
    let mut cpu = CpuBackend::new();
    let data = friedman1(100, 5, 0.1, 8);
    let mut forest = Forest::fit(
        &data,
        &ForestParams {
            n_trees: 4,
            ..ForestParams::default()
        },
    )
    .unwrap();
    // A cycle (root's left child back to the root), a child far out of range, a negative
    // child other than -1, a feature index >= n_features.
    forest.trees[0].left[0] = 0;
    forest.trees[1].right[0] = 1 << 30;
    forest.trees[2].left[0] = -7;
    forest.trees[3].feature[0] = 99;
    for dtype in [DType::F64, DType::F32] {
        let a = predict_bytes(&mut *g, &forest, &data.x, dtype).unwrap();
        let b = predict_bytes(&mut cpu, &forest, &data.x, dtype).unwrap();
        assert!(
            a == b,
            "{dtype:?}: cuda and cpu differ on a malformed forest"
        );
    }
}

#[test]
fn bad_inputs_are_errors_and_the_backend_keeps_working() {
    let Some(mut g) = cuda() else { return };
    let mut r = rng();
    let small = g.create_buffer(8).unwrap();
    // bootstrap-sample
    assert!(matches!(
        g.bootstrap_sample(1, 0, 0, 10, small),
        Err(GpuError::ZeroSize(_))
    ));
    assert!(matches!(
        g.bootstrap_sample(1, 0, 2, 10, small),
        Err(GpuError::ShapeMismatch(_))
    ));
    assert!(matches!(
        g.bootstrap_sample(1, 0, 1, 2, 9999),
        Err(GpuError::InvalidHandle(9999))
    ));
    assert!(matches!(
        g.bootstrap_sample(1, 0, 1 << 20, 1 << 20, small),
        Err(GpuError::TooLarge { .. })
    ));
    // average
    assert!(matches!(
        g.average(DType::F64, small, 1, 0, small),
        Err(GpuError::ZeroSize(_))
    ));
    assert!(matches!(
        g.average(DType::F64, small, 4, 2, small),
        Err(GpuError::ShapeMismatch(_))
    ));
    // find-split: shapes, then contents
    let b = random_batch(&mut r, 50, 3, 2, 3);
    let u = upload_batch(&mut *g, &b);
    let a = u.args;
    let with = |f: &dyn Fn(&mut FindSplitArgs)| {
        let mut x = a;
        f(&mut x);
        x
    };
    assert!(matches!(
        g.find_split(&with(&|x| x.n_nodes = 0)),
        Err(GpuError::ZeroSize(_))
    ));
    assert!(matches!(
        g.find_split(&with(&|x| x.y = small)),
        Err(GpuError::ShapeMismatch(_))
    ));
    assert!(matches!(
        g.find_split(&with(&|x| x.min_leaf = 0)),
        Err(GpuError::InvalidArgument(_))
    ));
    assert!(matches!(
        g.find_split(&with(&|x| x.out = x.weights)),
        Err(GpuError::InvalidArgument(_))
    ));
    assert!(matches!(
        g.find_split(&with(&|x| x.cand_rank = 12345)),
        Err(GpuError::InvalidHandle(12345))
    ));
    let n = b.data.n_rows;
    let mut bad_node = b.node_of.clone();
    bad_node[7] = b.n_nodes as u32; // out of range
    let mut bad_order = b.order.clone();
    bad_order[3] = n as u32;
    let mut two_trees = b.node_of.clone();
    let mut w = b.weights.clone();
    two_trees[n + 5] = two_trees[0]; // a node of tree 0 in tree 1
    if two_trees[0] == NONE {
        two_trees[0] = 0;
        two_trees[n + 5] = 0;
    }
    w[0] = 1;
    w[n + 5] = 1;
    g.write(a.weights, 0, bytemuck::cast_slice(&w)).unwrap();
    for (buf, data, what) in [
        (a.node_of, &bad_node, "node id out of range"),
        (a.order, &bad_order, "row index out of range"),
        (a.node_of, &two_trees, "node in two trees"),
    ] {
        g.write(buf, 0, bytemuck::cast_slice(data)).unwrap();
        let e = g.find_split(&a);
        assert!(
            matches!(e, Err(GpuError::InvalidArgument(_))),
            "{what}: {e:?}"
        );
        let good = if buf == a.order { &b.order } else { &b.node_of };
        g.write(buf, 0, bytemuck::cast_slice(good)).unwrap();
    }
    for id in u.bufs {
        g.destroy_buffer(id).unwrap();
    }
    // Still working.
    let out = g.create_buffer(4 * 100).unwrap();
    g.bootstrap_sample(5, 2, 1, 100, out).unwrap();
    let got: Vec<u32> = download(&mut *g, out, 100);
    assert_eq!(got, bootstrap_counts(100, 5, 2));
}

/// batch-predict at 10⁶ rows: 200 trees trained on Friedman #1 (d = 10, 1000 rows), cuda
/// (x uploaded, kernel, predictions read back; the forest uploaded once before timing) vs
/// `Forest::predict` on one thread. Prints both and the ratio.
#[test]
#[ignore = "timing; run on a GPU machine with --ignored --nocapture"]
fn batch_predict_timing_1e6_rows() {
    let Some(mut g) = cuda() else { return };
    let data = friedman1(1000, 10, 1.0, 42);
    let forest = Forest::fit(&data, &ForestParams::default()).unwrap();
    let n_rows = 1_000_000usize;
    let x = friedman1(n_rows, 10, 1.0, 43).x;
    let t = std::time::Instant::now();
    let want = forest.predict(&x).unwrap();
    let cpu_s = t.elapsed().as_secs_f64();
    let (fb, _ids) = upload_forest(&mut *g, &forest);
    let xb = g.create_buffer((x.len() * 4) as u64).unwrap();
    let out = g.create_buffer((n_rows * 8) as u64).unwrap();
    let mut got = vec![0f64; n_rows];
    let mut best = f64::INFINITY;
    let mut kernel_ns = u64::MAX;
    for rep in 0..6 {
        g.set_kernel_timing(rep == 5).unwrap();
        let t = std::time::Instant::now();
        g.write(xb, 0, bytemuck::cast_slice(&x)).unwrap();
        g.batch_predict(DType::F64, &fb, xb, n_rows as u32, out)
            .unwrap();
        g.read(out, 0, bytemuck::cast_slice_mut(&mut got)).unwrap();
        let s = t.elapsed().as_secs_f64();
        if rep < 5 {
            best = best.min(s);
        } else {
            kernel_ns = g.last_kernel_ns().unwrap_or(0);
        }
        assert!(
            got.iter()
                .zip(&want)
                .all(|(a, b)| a.to_bits() == b.to_bits()),
            "cuda predictions differ from Forest::predict"
        );
    }
    let nodes: usize = forest.trees.iter().map(|t| t.len()).sum();
    eprintln!(
        "batch-predict 1e6 rows, 200 trees ({nodes} nodes), d=10: Forest::predict one thread {:.1} ms; \
         cuda f64 with transfers {:.2} ms (best of 5), kernel alone {:.2} ms; speed-up {:.0}x",
        cpu_s * 1e3,
        best * 1e3,
        kernel_ns as f64 / 1e6,
        cpu_s / best
    );
}

/// find-split on one level of 200 trees of Friedman #1 (d = 10), bootstrap weights, all
/// features: the root level (one node per tree) and a deep level (each row of a tree in one of
/// 64 nodes at random), checked against the cpu backend before timing; prints the cuda kernel
/// time (CUDA events, best of 3) and the cpu backend's wall time (rayon).
#[test]
#[ignore = "timing; run on a GPU machine with --ignored --nocapture"]
fn find_split_timing_one_level() {
    let Some(mut g) = cuda() else { return };
    let mut cpu = CpuBackend::new();
    let mut r = rng();
    let (d, n_trees) = (10usize, 200usize);
    for (n, per_tree) in [
        (1_000usize, 1usize),
        (10_000, 1),
        (100_000, 1),
        (10_000, 64),
        (100_000, 64),
    ] {
        let data = friedman1(n, d, 1.0, 42);
        let weights: Vec<u32> = (0..n_trees as u64)
            .flat_map(|t| bootstrap_counts(n, 42, t))
            .collect();
        let node_of = (0..n_trees * n)
            .map(|k| ((k / n) * per_tree + r.random_range(0..per_tree)) as u32)
            .collect();
        let b = Batch {
            order: forest::presort(&data),
            data,
            weights,
            node_of,
            cand_rank: (0..n_trees * per_tree * d)
                .map(|k| (k % d) as u32)
                .collect(),
            n_trees,
            n_nodes: n_trees * per_tree,
            min_leaf: 1,
        };
        let t = std::time::Instant::now();
        let want = run_find_split(&mut cpu, &b);
        let cpu_ms = t.elapsed().as_secs_f64() * 1e3;
        let u = upload_batch(&mut *g, &b);
        g.find_split(&u.args).unwrap(); // compile and warm up
        g.set_kernel_timing(true).unwrap();
        let mut best = u64::MAX;
        for _ in 0..3 {
            g.find_split(&u.args).unwrap();
            best = best.min(g.last_kernel_ns().unwrap_or(u64::MAX));
        }
        g.set_kernel_timing(false).unwrap();
        let got: Vec<SplitRecord> = download(&mut *g, u.args.out, b.n_nodes);
        assert!(
            bytemuck::cast_slice::<_, u8>(&got) == bytemuck::cast_slice::<_, u8>(&want),
            "cuda and cpu records differ at {n} rows"
        );
        for id in u.bufs {
            g.destroy_buffer(id).unwrap();
        }
        eprintln!(
            "find-split, one level of {n_trees} trees × {per_tree} nodes, {n} rows, d={d}: \
             cuda kernel {:.2} ms, cpu backend (rayon) {cpu_ms:.1} ms",
            best as f64 / 1e6
        );
    }
}

#[test]
fn fit_on_cuda_equals_fit() {
    // The kernels through the GPU training driver (forest_gpu): the same forest, bit for bit.
    let Some(mut g) = cuda() else { return };
    let data = friedman1(300, 8, 0.5, 21);
    for max_features in [None, Some(3)] {
        let p = ForestParams {
            n_trees: 8,
            max_features,
            seed: 5,
            ..ForestParams::default()
        };
        let want = Forest::fit(&data, &p).unwrap();
        let got = Forest::fit_on(&mut *g, &data, &p).unwrap();
        assert!(
            got == want,
            "max_features {max_features:?}: cuda forest differs"
        );
    }
}

/// Training 200 trees on the diabetes training split (353 rows) and on Friedman #1 (10⁴ rows,
/// d = 10): `Forest::fit` (one thread) vs `Forest::fit_on` the cuda backend (bootstrap and
/// find-split on the device, the rest on the host); checks the forests are equal.
#[test]
#[ignore = "timing; run on a GPU machine with --ignored --nocapture"]
fn fit_on_cuda_timing() {
    let Some(mut g) = cuda() else { return };
    let d = offload_core::data::diabetes();
    let (tr, _) = offload_core::data::diabetes_split();
    let sets = [
        ("diabetes train (353×10)", d.subset(&tr)),
        ("friedman1 (10000×10)", friedman1(10_000, 10, 1.0, 42)),
    ];
    let p = ForestParams::default();
    // Compile the kernels outside the timing.
    Forest::fit_on(
        &mut *g,
        &sets[0].1,
        &ForestParams {
            n_trees: 1,
            ..p.clone()
        },
    )
    .unwrap();
    for (name, data) in sets {
        let t = std::time::Instant::now();
        let want = Forest::fit(&data, &p).unwrap();
        let native_ms = t.elapsed().as_secs_f64() * 1e3;
        let t = std::time::Instant::now();
        let got = Forest::fit_on(&mut *g, &data, &p).unwrap();
        let cuda_ms = t.elapsed().as_secs_f64() * 1e3;
        assert!(got == want, "{name}: cuda forest differs from Forest::fit");
        eprintln!(
            "train 200 trees on {name}: Forest::fit one thread {native_ms:.0} ms, \
             fit_on(cuda) {cuda_ms:.0} ms"
        );
    }
}

/// The cuda backend inside a checker that reruns every find-split on the cpu backend with the
/// same inputs (read back from the device) and panics at the first record that differs,
/// naming the node.
struct Checked<'a> {
    inner: &'a mut dyn GpuBackend,
    calls: usize,
}

fn rd<T: bytemuck::Pod>(b: &mut dyn GpuBackend, id: BufferId, n: usize) -> Vec<T> {
    download(b, id, n)
}

impl GpuBackend for Checked<'_> {
    fn info(&self) -> &offload_core::gpu::DeviceInfo {
        self.inner.info()
    }
    fn create_buffer(&mut self, bytes: u64) -> offload_core::gpu::Result<BufferId> {
        self.inner.create_buffer(bytes)
    }
    fn destroy_buffer(&mut self, id: BufferId) -> offload_core::gpu::Result<()> {
        self.inner.destroy_buffer(id)
    }
    fn buffer_size(&self, id: BufferId) -> offload_core::gpu::Result<u64> {
        self.inner.buffer_size(id)
    }
    fn write(&mut self, id: BufferId, o: u64, data: &[u8]) -> offload_core::gpu::Result<()> {
        self.inner.write(id, o, data)
    }
    fn read(&mut self, id: BufferId, o: u64, out: &mut [u8]) -> offload_core::gpu::Result<()> {
        self.inner.read(id, o, out)
    }
    fn copy(
        &mut self,
        s: BufferId,
        so: u64,
        d: BufferId,
        dof: u64,
        n: u64,
    ) -> offload_core::gpu::Result<()> {
        self.inner.copy(s, so, d, dof, n)
    }
    fn sync(&mut self) -> offload_core::gpu::Result<()> {
        self.inner.sync()
    }
    fn reduce(
        &mut self,
        op: offload_core::gpu::ReduceOp,
        t: DType,
        a: BufferId,
        n: u64,
    ) -> offload_core::gpu::Result<f64> {
        self.inner.reduce(op, t, a, n)
    }
    fn dot(
        &mut self,
        t: DType,
        a: BufferId,
        b: BufferId,
        n: u64,
    ) -> offload_core::gpu::Result<f64> {
        self.inner.dot(t, a, b, n)
    }
    fn elementwise(
        &mut self,
        op: offload_core::gpu::ElementwiseOp,
        t: DType,
        a: BufferId,
        b: Option<BufferId>,
        s: f64,
        o: BufferId,
        n: u64,
    ) -> offload_core::gpu::Result<()> {
        self.inner.elementwise(op, t, a, b, s, o, n)
    }
    fn matmul(
        &mut self,
        p: offload_core::gpu::MatmulPrecision,
        a: BufferId,
        b: BufferId,
        c: BufferId,
        m: u64,
        k: u64,
        n: u64,
    ) -> offload_core::gpu::Result<()> {
        self.inner.matmul(p, a, b, c, m, k, n)
    }
    fn bootstrap_sample(
        &mut self,
        seed: u64,
        ft: u32,
        nt: u32,
        nr: u32,
        out: BufferId,
    ) -> offload_core::gpu::Result<()> {
        self.inner.bootstrap_sample(seed, ft, nt, nr, out)
    }
    fn find_split(&mut self, a: &FindSplitArgs) -> offload_core::gpu::Result<()> {
        self.inner.find_split(a)?;
        self.calls += 1;
        let (n, d, nt, nn) = (
            a.n_rows as usize,
            a.d as usize,
            a.n_trees as usize,
            a.n_nodes as usize,
        );
        let g = &mut *self.inner;
        let x: Vec<f32> = rd(g, a.x, n * d);
        let b = Batch {
            data: Dataset {
                feature_names: (0..d).map(|f| format!("x{f}")).collect(),
                x,
                y: rd(g, a.y, n),
                n_rows: n,
                n_features: d,
            },
            order: rd(g, a.order, n * d),
            weights: rd(g, a.weights, nt * n),
            node_of: rd(g, a.node_of, nt * n),
            cand_rank: rd(g, a.cand_rank, nn * d),
            n_trees: nt,
            n_nodes: nn,
            min_leaf: a.min_leaf,
        };
        let got: Vec<SplitRecord> = rd(g, a.out, nn);
        let want = run_find_split(&mut CpuBackend::new(), &b);
        for j in 0..nn {
            if bytemuck::bytes_of(&got[j]) != bytemuck::bytes_of(&want[j]) {
                let t = (0..nt).find(|&t| {
                    (0..n).any(|r| b.node_of[t * n + r] == j as u32 && b.weights[t * n + r] > 0)
                });
                let rows = t.map(|t| {
                    (0..n)
                        .filter(|&r| b.node_of[t * n + r] == j as u32 && b.weights[t * n + r] > 0)
                        .count()
                });
                let ranks: Vec<u32> = b.cand_rank[j * d..(j + 1) * d].to_vec();
                panic!("call {} (n {n} d {d} trees {nt} nodes {nn}): node {j} (tree {t:?}, {rows:?} rows, ranks {ranks:?}): cuda {:?} cpu {:?}", self.calls, got[j], want[j]);
            }
        }
        Ok(())
    }
    fn set_kernel_timing(&mut self, on: bool) -> offload_core::gpu::Result<()> {
        self.inner.set_kernel_timing(on)
    }
    fn last_kernel_ns(&self) -> Option<u64> {
        self.inner.last_kernel_ns()
    }
}

#[test]
fn fit_on_cuda_diabetes_every_find_split_equals_cpu() {
    let Some(mut g) = cuda() else { return };
    let d = offload_core::data::diabetes();
    let (tr, _) = offload_core::data::diabetes_split();
    let data = d.subset(&tr);
    for n_trees in [1usize, 20, 200] {
        let p = ForestParams {
            n_trees,
            ..ForestParams::default()
        };
        let want = Forest::fit(&data, &p).unwrap();
        let mut c = Checked {
            inner: &mut *g,
            calls: 0,
        };
        let got = Forest::fit_on(&mut c, &data, &p).unwrap();
        let bad: Vec<usize> = (0..want.trees.len())
            .filter(|&t| want.trees[t] != got.trees[t])
            .collect();
        eprintln!("{n_trees} trees: {} find-split calls checked", c.calls);
        assert!(bad.is_empty(), "{n_trees} trees: trees {bad:?} differ");
    }
}
