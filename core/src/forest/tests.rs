//! Tests of the forest trainer against its module docs.

use super::*;
use crate::data::{diabetes, diabetes_split, friedman1};

fn small_params(n_trees: usize) -> ForestParams {
    ForestParams {
        n_trees,
        ..ForestParams::default()
    }
}

#[test]
fn diabetes_mse_lands_where_a_correct_forest_lands() {
    let d = diabetes();
    let (tr, te) = diabetes_split();
    let (train, test) = (d.subset(&tr), d.subset(&te));
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
    let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
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
