//! Tests of the forest trainer against its module docs.

use super::*;
use crate::data::{diabetes_train_test, friedman1};

fn small_params(n_trees: usize) -> ForestParams {
    ForestParams {
        n_trees,
        ..ForestParams::default()
    }
}

#[test]
fn diabetes_mse_lands_where_a_correct_forest_lands() {
    let (train, test) = diabetes_train_test();
    let f = Forest::fit(&train, &ForestParams::default()).unwrap();
    let m = mse(&f.predict(&test.x).unwrap(), &test.y);
    // scikit-learn's RandomForestRegressor(200) gets about 2966–3073 on this split.
    assert!((2700.0..3300.0).contains(&m), "test MSE {m}");
    let r = r2(&f.predict(&test.x).unwrap(), &test.y);
    assert!((0.35..0.55).contains(&r), "R² {r}");
}

#[test]
fn same_seed_same_forest_other_seed_other_forest() {
    let data = friedman1(300, 8, 0.5, 1);
    let p = ForestParams {
        max_features: Some(3),
        ..small_params(5)
    };
    let a = Forest::fit(&data, &p).unwrap();
    assert_eq!(a, Forest::fit(&data, &p).unwrap());
    let q = ForestParams { seed: 7, ..p };
    assert_ne!(a, Forest::fit(&data, &q).unwrap());
}

#[test]
fn presorted_training_picks_the_reference_split_at_the_root() {
    let data = friedman1(200, 6, 0.3, 9);
    for t in 0..5u64 {
        let w = bootstrap_counts(200, 3, t);
        let rows: Vec<u32> = (0..200u32).filter(|&r| w[r as usize] > 0).collect();
        let ws: Vec<u32> = rows.iter().map(|&r| w[r as usize]).collect();
        let cand: Vec<usize> = (0..6).collect();
        let s = find_split(&data, &rows, &ws, &cand, 1).unwrap();
        let p = ForestParams {
            seed: 3,
            ..small_params(t as usize + 1)
        };
        let f = Forest::fit(&data, &p).unwrap();
        let root = &f.trees[t as usize];
        assert_eq!(root.feature[0], s.feature as i32);
        assert_eq!(root.threshold[0], s.threshold);
    }
}

#[test]
fn trees_respect_depth_and_leaf_size() {
    let data = friedman1(400, 5, 0.1, 2);
    let p = ForestParams {
        max_depth: Some(3),
        min_samples_leaf: 5,
        bootstrap: false,
        ..small_params(1)
    };
    let f = Forest::fit(&data, &p).unwrap();
    let t = &f.trees[0];
    assert!(t.len() <= 15);
    // Every leaf's rows: count them by routing the training data.
    let mut count = vec![0usize; t.len()];
    for i in 0..data.n_rows {
        let mut n = 0usize;
        while t.feature[n] >= 0 {
            n = if data.row(i)[t.feature[n] as usize] <= t.threshold[n] {
                t.left[n] as usize
            } else {
                t.right[n] as usize
            };
        }
        count[n] += 1;
    }
    for (n, (&f, &c)) in t.feature.iter().zip(&count).enumerate() {
        if f < 0 {
            assert!(c >= 5, "leaf {n} holds {c}");
        }
    }
}

#[test]
fn non_finite_features_are_refused_before_training() {
    let mut data = friedman1(40, 5, 0.1, 2);
    for (i, bad) in [
        (13usize, f32::NAN),
        (22, f32::NEG_INFINITY),
        (199, f32::INFINITY),
    ] {
        let mut d = data.clone();
        d.x[i] = bad;
        let e = Forest::fit(&d, &small_params(2)).unwrap_err();
        assert_eq!(
            e,
            ForestError::NonFinite {
                row: i / 5,
                feature: i % 5,
                value: alloc::format!("{bad}"),
            }
        );
        assert!(alloc::format!("{e}").contains("not a finite number"), "{e}");
    }
    // Non-finite targets are not refused (they make NaN leaves, and training ends).
    data.y[3] = f64::NAN;
    assert!(Forest::fit(&data, &small_params(2)).is_ok());
}

#[test]
fn bad_hyperparameters_are_errors() {
    let data = friedman1(50, 5, 0.1, 2);
    let fit = |p: ForestParams| Forest::fit(&data, &p).unwrap_err();
    assert_eq!(fit(small_params(0)), ForestError::NoTrees);
    let mf = |m| ForestParams {
        max_features: Some(m),
        ..small_params(1)
    };
    assert_eq!(fit(mf(0)), ForestError::MaxFeatures { got: 0, d: 5 });
    assert_eq!(fit(mf(6)), ForestError::MaxFeatures { got: 6, d: 5 });
    let leaf0 = ForestParams {
        min_samples_leaf: 0,
        ..small_params(1)
    };
    assert_eq!(fit(leaf0), ForestError::MinSamplesLeaf);
    let split1 = ForestParams {
        min_samples_split: 1,
        ..small_params(1)
    };
    assert_eq!(fit(split1), ForestError::MinSamplesSplit(1));
    let f = Forest::fit(&data, &small_params(1)).unwrap();
    assert_eq!(
        f.predict(&[0.0; 7]),
        Err(ForestError::Width { got: 7, d: 5 })
    );
}

/// Tree `t` grown node by node from the public reference blocks (`node_summary`,
/// `node_candidates`, the sorting `find_split`), depth first, left first: what the
/// module docs define, without any of the grower's shortcuts.
fn reference_tree(data: &Dataset, p: &ForestParams, t: u64) -> Tree {
    let n = data.n_rows;
    let w_of = if p.bootstrap {
        bootstrap_counts(n, p.seed, t)
    } else {
        vec![1u32; n]
    };
    let root: Vec<u32> = presort(data)[..n]
        .iter()
        .copied()
        .filter(|&r| w_of[r as usize] > 0)
        .collect();
    let mut tree = Tree::default();
    tree.push_node(0.0);
    let mut cand = Vec::new();
    let mut stack = vec![(0usize, root, 0usize, 0u64)];
    while let Some((id, rows, depth, key)) = stack.pop() {
        let (value, splittable) = node_summary(&data.y, &rows, &w_of, depth, p);
        tree.value[id] = value;
        if !splittable {
            continue;
        }
        node_candidates(data.n_features, p.max_features, p.seed, t, key, &mut cand);
        let ws: Vec<u32> = rows.iter().map(|&r| w_of[r as usize]).collect();
        let min_leaf = p.min_samples_leaf as u64;
        let Some(s) = find_split(data, &rows, &ws, &cand, min_leaf) else {
            continue;
        };
        let goes_left = |r: &&u32| data.row(**r as usize)[s.feature] <= s.threshold;
        let left_rows: Vec<u32> = rows.iter().filter(goes_left).copied().collect();
        let right_rows: Vec<u32> = rows.iter().filter(|r| !goes_left(r)).copied().collect();
        let (left, right) = (tree.push_node(0.0), tree.push_node(0.0));
        tree.feature[id] = s.feature as i32;
        tree.threshold[id] = s.threshold;
        tree.left[id] = left as i32;
        tree.right[id] = right as i32;
        stack.push((right, right_rows, depth + 1, child_key(key, false)));
        stack.push((left, left_rows, depth + 1, child_key(key, true)));
    }
    tree
}

fn assert_same_bits(a: &Tree, b: &Tree, what: &str) {
    assert_eq!(a.feature, b.feature, "{what}: features");
    assert_eq!(a.left, b.left, "{what}: left children");
    assert_eq!(a.right, b.right, "{what}: right children");
    // Every NaN as one: Rust leaves the sign and payload of a NaN that arithmetic returns
    // unspecified (the `f32` docs, "NaN bit patterns"), and the compiler may swap the
    // operands of an addition, so two correct growers can differ there and nowhere else.
    let canonical = |x: &f32| {
        if x.is_nan() {
            f32::NAN.to_bits()
        } else {
            x.to_bits()
        }
    };
    let bits = |v: &[f32]| v.iter().map(canonical).collect::<Vec<_>>();
    assert_eq!(bits(&a.threshold), bits(&b.threshold), "{what}: thresholds");
    assert_eq!(bits(&a.value), bits(&b.value), "{what}: values");
}

#[test]
fn fit_grows_the_reference_trees_bit_for_bit() {
    let plain = friedman1(150, 6, 0.5, 21);
    // Ties in x (coarse values, many equal neighbours) and in the scores.
    let mut coarse = friedman1(150, 6, 0.5, 22);
    coarse.x.iter_mut().for_each(|v| *v = (*v * 3.0).round());
    coarse.y.iter_mut().for_each(|v| *v = (*v * 0.3).round());
    // Non-finite targets (the exact-scan fallback) and targets whose squares overflow.
    let mut nonfinite = friedman1(150, 6, 0.5, 23);
    for (i, y) in nonfinite.y.iter_mut().enumerate().step_by(17) {
        *y = [f64::NAN, f64::INFINITY, f64::NEG_INFINITY][i % 3];
    }
    let mut huge = friedman1(150, 6, 0.5, 24);
    huge.y.iter_mut().for_each(|v| *v *= 1e153);
    let params = [
        ForestParams::default(),
        ForestParams {
            max_features: Some(2),
            seed: 5,
            ..ForestParams::default()
        },
        ForestParams {
            max_depth: Some(4),
            min_samples_split: 6,
            min_samples_leaf: 3,
            bootstrap: false,
            ..ForestParams::default()
        },
    ];
    for (name, data) in [
        ("plain", &plain),
        ("coarse", &coarse),
        ("nonfinite", &nonfinite),
        ("huge", &huge),
    ] {
        for (i, p) in params.iter().enumerate() {
            let p = ForestParams {
                n_trees: 3,
                ..p.clone()
            };
            let f = Forest::fit(data, &p).unwrap();
            for (t, tree) in f.trees.iter().enumerate() {
                let what = alloc::format!("{name}, params {i}, tree {t}");
                assert_same_bits(tree, &reference_tree(data, &p, t as u64), &what);
            }
        }
    }
}

#[test]
fn bootstrap_counts_sum_to_n() {
    let w = bootstrap_counts(353, 42, 0);
    assert_eq!(w.iter().map(|&c| c as usize).sum::<usize>(), 353);
    assert_ne!(w, bootstrap_counts(353, 42, 1));
    // About 1 − 1/e ≈ 63% of rows are drawn at least once.
    let drawn = w.iter().filter(|&&c| c > 0).count();
    assert!((190..260).contains(&drawn), "{drawn}");
}

// ---- Prediction: the packed, blocked paths against the per-row walk ----

/// The straightforward reference of every predict path: per row, the f64 sum of the
/// trees' f32 leaf values in tree order (`Iterator::sum`), divided by the tree count.
fn reference_predict(f: &Forest, x: &[f32]) -> Vec<f64> {
    x.chunks_exact(f.n_features)
        .map(|row| {
            let s: f64 = f.trees.iter().map(|t| t.predict_row(row) as f64).sum();
            s / f.trees.len() as f64
        })
        .collect()
}

fn assert_same_predictions(got: &[f64], want: &[f64], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: prediction count");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert_eq!(g.to_bits(), w.to_bits(), "{what}: row {i}: {g} vs {w}");
    }
}

/// A random tree over `d` features with `inner` inner nodes, its node ids shuffled (root
/// 0), thresholds drawn from a few values (so rows hit them exactly), leaf values of
/// either sign including ±0.
fn random_tree(rng: &mut Pcg32, d: usize, inner: usize) -> Tree {
    let n = 2 * inner + 1;
    // Build in creation order, then renumber nodes 1.. with a shuffle.
    let mut t = Tree::default();
    t.push_node(0.0);
    let mut open = vec![0usize];
    for _ in 0..inner {
        let k = rng.below(open.len() as u32) as usize;
        let node = open.swap_remove(k);
        let (l, r) = (t.push_node(0.0), t.push_node(0.0));
        t.feature[node] = rng.below(d as u32) as i32;
        t.threshold[node] = [0.25f32, 0.5, 0.75, -1.0, 2.0][rng.below(5) as usize];
        t.left[node] = l as i32;
        t.right[node] = r as i32;
        open.push(l);
        open.push(r);
    }
    for v in t.value.iter_mut() {
        *v = match rng.below(6) {
            0 => 0.0,
            1 => -0.0,
            _ => (rng.next_f32() - 0.5) * 100.0,
        };
    }
    let mut perm: Vec<usize> = (1..n).collect();
    for i in (1..perm.len()).rev() {
        perm.swap(i, rng.below(i as u32 + 1) as usize);
    }
    t.renumbered(|old| if old == 0 { 0 } else { perm[old - 1] })
}

fn random_forest(seed: u64, d: usize, trees: usize, max_inner: usize) -> Forest {
    let mut rng = Pcg32::new(seed, 11);
    let trees = (0..trees)
        .map(|_| {
            let inner = rng.below(max_inner as u32 + 1) as usize;
            random_tree(&mut rng, d, inner)
        })
        .collect();
    Forest {
        n_features: d,
        trees,
    }
}

/// `n` rows of `d` values: uniform in [-0.5, 1.5), with exact thresholds, NaN and ±inf
/// mixed in.
fn random_rows(seed: u64, n: usize, d: usize) -> Vec<f32> {
    let mut rng = Pcg32::new(seed, 13);
    (0..n * d)
        .map(|_| match rng.below(40) {
            0 => f32::NAN,
            1 => f32::INFINITY,
            2 => f32::NEG_INFINITY,
            3 => 0.5,
            4 => 0.25,
            5 => -0.0,
            _ => rng.next_f32() * 2.0 - 0.5,
        })
        .collect()
}

/// Row counts around the lane, block and compile edges of `f`.
fn edge_row_counts(f: &Forest) -> Vec<usize> {
    let mut v = vec![0, 1, 2, LANES - 1, LANES, LANES + 1, 3 * LANES + 5];
    let c = (1..).find(|&r| f.worth_compiling(r)).unwrap();
    v.extend([c - 1, c, c + 1]);
    v.extend([
        BLOCK_ROWS - 1,
        BLOCK_ROWS,
        BLOCK_ROWS + 1,
        3 * BLOCK_ROWS + LANES + 3,
    ]);
    v
}

#[test]
fn packed_predict_equals_the_row_walk_on_random_forests() {
    for (seed, d, trees, inner) in [
        (1u64, 1usize, 1usize, 0usize),
        (2, 3, 1, 5),
        (3, 5, 7, 40),
        (4, 10, 23, 200),
        (5, 2, 64, 3),
    ] {
        let f = random_forest(seed, d, trees, inner);
        let p = f.compile().unwrap();
        assert_eq!(p.n_trees(), trees);
        assert_eq!(p.n_features(), d);
        assert_eq!(p.n_nodes(), f.trees.iter().map(Tree::len).sum::<usize>());
        for n in edge_row_counts(&f) {
            let x = random_rows(seed * 100 + n as u64, n, d);
            let want = reference_predict(&f, &x);
            let what = alloc::format!("seed {seed}, d {d}, {trees} trees, {n} rows");
            assert_same_predictions(&f.predict(&x).unwrap(), &want, &what);
            assert_same_predictions(&p.predict(&x).unwrap(), &want, &what);
        }
    }
}

#[test]
fn packed_predict_equals_the_row_walk_on_trained_forests() {
    let data = friedman1(400, 7, 1.0, 5);
    for p in [
        small_params(9),
        ForestParams {
            max_depth: Some(2),
            ..small_params(5)
        },
        ForestParams {
            max_features: Some(2),
            min_samples_leaf: 4,
            ..small_params(12)
        },
    ] {
        let f = Forest::fit(&data, &p).unwrap();
        let packed = f.compile().unwrap();
        for n in [0, 1, 200, 3 * BLOCK_ROWS + 7] {
            let x = friedman1(n.max(1), 7, 1.0, 6).x[..n * 7].to_vec();
            let want = reference_predict(&f, &x);
            assert_same_predictions(&f.predict(&x).unwrap(), &want, "trained, predict");
            assert_same_predictions(&packed.predict(&x).unwrap(), &want, "trained, packed");
        }
    }
}

#[test]
fn predict_compiles_when_the_rows_repay_it() {
    // Three small trees: a few rows repay compiling them, no rows never do.
    let f = random_forest(12, 3, 3, 10);
    let nodes: usize = f.trees.iter().map(Tree::len).sum();
    for rows in 0..10 {
        let want = rows > 0 && rows * COMPILE_NODES_PER_ROW * 3 >= nodes;
        assert_eq!(f.worth_compiling(rows), want, "{rows} rows, {nodes} nodes");
    }
    assert!(f.worth_compiling(usize::MAX));
}

#[test]
fn signed_zero_leaves_sum_as_the_reference_does() {
    let leaf = |v: f32| Tree {
        feature: vec![-1],
        threshold: vec![0.0],
        left: vec![-1],
        right: vec![-1],
        value: vec![v],
    };
    for values in [
        [-0.0f32, -0.0, -0.0],
        [0.0, -0.0, -0.0],
        [-0.0, 1e-30, -1e-30],
    ] {
        let f = Forest {
            n_features: 2,
            trees: values.iter().map(|&v| leaf(v)).collect(),
        };
        let x = vec![0.5f32; 2 * (BLOCK_ROWS + 3)];
        let want = reference_predict(&f, &x);
        assert_same_predictions(&f.predict(&x).unwrap(), &want, "signed zeros");
        assert_same_predictions(&f.compile().unwrap().predict(&x).unwrap(), &want, "packed");
    }
}

#[test]
fn empty_input_and_width_errors_on_every_predict_path() {
    let f = random_forest(7, 4, 3, 10);
    let p = f.compile().unwrap();
    assert_eq!(f.predict(&[]).unwrap(), Vec::<f64>::new());
    assert_eq!(p.predict(&[]).unwrap(), Vec::<f64>::new());
    let width = Err(ForestError::Width { got: 7, d: 4 });
    assert_eq!(f.predict(&[0.0; 7]), width);
    assert_eq!(p.predict(&[0.0; 7]), width);
    // Enough rows to compile but one value short.
    let n = 4 * 1000 - 1;
    let width = Err(ForestError::Width { got: n, d: 4 });
    assert_eq!(f.predict(&vec![0.0; n]), width);
    assert_eq!(p.predict(&vec![0.0; n]), width);
    #[cfg(feature = "std")]
    {
        assert_eq!(f.predict_par(&[]).unwrap(), Vec::<f64>::new());
        assert_eq!(p.predict_par(&[]).unwrap(), Vec::<f64>::new());
        assert_eq!(f.predict_par(&vec![0.0; n]), width);
        assert_eq!(p.predict_par(&vec![0.0; n]), width);
    }
}

#[test]
fn improper_trees_do_not_compile_and_predict_walks_them_row_by_row() {
    let base = random_forest(8, 3, 2, 6);
    let x = random_rows(9, 2 * BLOCK_ROWS, 3);
    // Both children the same node (a DAG): still a valid walk for the row walk.
    let mut dag = base.clone();
    let t = &mut dag.trees[1];
    let i = t.feature.iter().position(|&f| f >= 0).unwrap();
    t.right[i] = t.left[i];
    // A split feature outside the row, on a node no row reaches: the walk never sees it.
    let mut unreachable = base.clone();
    let t = &mut unreachable.trees[0];
    t.push_node(1.0);
    let last = t.len() - 1;
    t.feature[last] = 99;
    // (An unreachable node is fine to compile: it is left out.)
    assert!(unreachable.compile().is_ok());
    let mut bad_feature = base.clone();
    bad_feature.trees[0].feature[0] = 3;
    let mut bad_child = base.clone();
    let t = &mut bad_child.trees[1];
    let i = t.feature.iter().position(|&f| f >= 0).unwrap();
    t.left[i] = t.len() as i32;
    let mut empty_tree = base.clone();
    empty_tree.trees[1] = Tree::default();
    let mut ragged = base.clone();
    ragged.trees[0].value.pop();
    for (f, tree) in [
        (&dag, 1),
        (&bad_feature, 0),
        (&bad_child, 1),
        (&empty_tree, 1),
        (&ragged, 0),
    ] {
        assert!(
            matches!(f.compile(), Err(ForestError::BadTree { tree: t, .. }) if t == tree),
            "{:?}",
            f.compile().map(|p| p.n_nodes())
        );
    }
    assert_eq!(
        Forest {
            n_features: 3,
            trees: vec![]
        }
        .compile(),
        Err(ForestError::NoTrees)
    );
    let want = reference_predict(&dag, &x);
    assert_same_predictions(&dag.predict(&x).unwrap(), &want, "dag");
    #[cfg(feature = "std")]
    assert_same_predictions(&dag.predict_par(&x).unwrap(), &want, "dag, par");
    let want = reference_predict(&unreachable, &x);
    assert_same_predictions(&unreachable.predict(&x).unwrap(), &want, "unreachable");
}

#[cfg(feature = "std")]
#[test]
fn predict_par_equals_the_row_walk_at_any_thread_count() {
    let f = random_forest(10, 6, 17, 120);
    let trained = Forest::fit(&friedman1(300, 6, 1.0, 3), &small_params(6)).unwrap();
    let sizes = [
        0,
        1,
        LANES + 1,
        BLOCK_ROWS,
        2 * BLOCK_ROWS + 1,
        9 * BLOCK_ROWS + 77,
    ];
    for threads in [1, 2, 3, 8] {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        for forest in [&f, &trained] {
            let p = forest.compile().unwrap();
            for n in sizes {
                let x = random_rows(n as u64 + 5, n, 6);
                let want = reference_predict(forest, &x);
                let what = alloc::format!("{threads} threads, {n} rows");
                let (a, b) = pool.install(|| (forest.predict_par(&x), p.predict_par(&x)));
                assert_same_predictions(&a.unwrap(), &want, &what);
                assert_same_predictions(&b.unwrap(), &want, &what);
            }
        }
    }
}

#[cfg(feature = "std")]
#[test]
fn parallel_compile_builds_the_same_packed_forest() {
    let forests = [
        random_forest(20, 5, 40, 150),
        random_forest(21, 2, 3, 0),
        Forest::fit(&friedman1(300, 6, 1.0, 3), &small_params(6)).unwrap(),
    ];
    for threads in [1, 3] {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        for f in &forests {
            let seq = f.compile().unwrap();
            assert_eq!(pool.install(|| PackedForest::new_par(f)).unwrap(), seq);
            assert_eq!(seq, seq.clone(), "equality is bitwise, NaN thresholds too");
        }
        assert_ne!(forests[0].compile(), forests[1].compile());
        let mut bad = forests[0].clone();
        bad.trees[17].feature[0] = 5;
        let want = Err(ForestError::BadTree { tree: 17, node: 0 });
        assert_eq!(bad.compile(), want);
        assert_eq!(pool.install(|| PackedForest::new_par(&bad)), want);
    }
}

#[cfg(feature = "std")]
#[test]
fn par_chunks_are_whole_blocks() {
    use super::predict::par_chunk_rows;
    for (n, threads) in [(1, 1), (1000, 2), (100_000, 16), (10_000_000, 3)] {
        let c = par_chunk_rows(n, threads);
        assert!(
            c.is_multiple_of(BLOCK_ROWS) && c >= 2 * BLOCK_ROWS,
            "{n} rows, {threads}: {c}"
        );
    }
}
