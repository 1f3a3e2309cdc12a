//! Unit tests of the histogram mode's pieces: the bins' cut invariant, the fixed-point
//! targets, and the two shortcuts of the split search against the full 256-bin scan.

use super::*;
use crate::data::friedman1;
use crate::rng::Pcg32;

#[test]
fn every_training_value_sits_left_of_exactly_the_cuts_at_or_above_its_bin() {
    let mut data = friedman1(700, 5, 1.0, 5);
    // Few distinct values in feature 1, one value in feature 2, ±0 in feature 3.
    for r in 0..700 {
        data.x[r * 5 + 1] = (r % 7) as f32;
        data.x[r * 5 + 2] = 3.5;
        data.x[r * 5 + 3] = if r % 2 == 0 { 0.0 } else { -0.0 };
    }
    for max_bins in [2, 3, 16, 256] {
        let b = HistBins::new(&data, max_bins).unwrap();
        for f in 0..5 {
            let cuts = &b.cuts[f];
            assert!(cuts.len() < max_bins, "feature {f}: {} cuts", cuts.len());
            assert!(cuts.windows(2).all(|w| w[0] < w[1]));
            for r in 0..700 {
                let x = data.x[r * 5 + f];
                let bin = b.bins[f * 700 + r] as usize;
                for (j, &c) in cuts.iter().enumerate() {
                    assert_eq!(x <= c, bin <= j, "feature {f} row {r} cut {j}");
                }
            }
        }
        assert_eq!(b.cuts[1].len(), 6.min(max_bins - 1));
        assert!(b.cuts[2].is_empty() && b.cuts[3].is_empty());
    }
    assert!(matches!(
        HistBins::new(&data, 1),
        Err(ForestError::MaxBins(1))
    ));
    assert!(matches!(
        HistBins::new(&data, 257),
        Err(ForestError::MaxBins(257))
    ));
}

#[test]
fn targets_quantize_within_half_a_step_and_refuse_non_finite() {
    let y = [-3.0, 1.5, 7.25, 7.25, 0.0];
    let q = QuantizedTargets::new(&y).unwrap();
    assert_eq!(q.yq[0], 0);
    assert_eq!(q.yq[2], Y_LEVELS);
    for (&v, &k) in y.iter().zip(&q.yq) {
        assert!((q.min + k as f64 * q.step - v).abs() <= 0.5 * q.step + 1e-12);
        assert!((q.value(3, 3 * k as u64) as f64 - v).abs() < 1e-5);
    }
    assert_eq!(QuantizedTargets::new(&[2.0, 2.0]).unwrap().yq, [0, 0]);
    for bad in [f64::NAN, f64::INFINITY] {
        assert!(matches!(
            QuantizedTargets::new(&[1.0, bad]),
            Err(ForestError::NonFiniteTarget { row: 1 })
        ));
    }
}

#[test]
fn histogram_and_sorting_shortcuts_pick_the_full_scans_cut() {
    let mut r = Pcg32::new(11, 3);
    let (mut cnt, mut sum) = ([0u32; MAX_BINS], [0u64; MAX_BINS]);
    let mut small = Vec::new();
    for case in 0..3000 {
        let n = 1 + r.below(60) as usize;
        let nb = [2, 3, 9, 256][case % 4];
        let span = 1 + r.below(nb as u32 + 2);
        let col: Vec<u8> = (0..n).map(|_| r.below(span).min(255) as u8).collect();
        let weights: Vec<u32> = (0..n).map(|_| 1 + r.below(3)).collect();
        let yq: Vec<u32> = (0..n).map(|_| r.below(4) * 1000).collect();
        let rows: Vec<u32> = (0..n as u32).collect();
        let w: u32 = weights.iter().sum();
        let s: u64 = (0..n).map(|i| weights[i] as u64 * yq[i] as u64).sum();
        let (mut fc, mut fs) = (vec![0u32; nb], vec![0u64; nb]);
        for i in 0..n {
            let b = col[i] as usize;
            if b < nb {
                fc[b] += weights[i];
                fs[b] += weights[i] as u64 * yq[i] as u64;
            }
        }
        let min_leaf = 1 + r.below(3);
        let want = best_cut(&fc, &fs, w, s, min_leaf);
        let node = NodeRows {
            rows: &rows,
            col: &col,
            weights: &weights,
            yq: &yq,
            nb,
        };
        let by_hist = node.best_by_histogram(&mut cnt, &mut sum, w, s, min_leaf);
        let by_sort = node.best_by_sorting(&mut small, w, s, min_leaf);
        assert_eq!(by_hist, want, "case {case}: histogram");
        assert_eq!(by_sort, want, "case {case}: sorting");
        assert!(cnt.iter().all(|&c| c == 0) && sum.iter().all(|&v| v == 0));
    }
}

#[test]
fn hist_tree_refuses_records_that_are_not_a_tree() {
    let data = friedman1(40, 5, 0.5, 1);
    let bins = HistBins::new(&data, 8).unwrap();
    let q = QuantizedTargets::new(&data.y).unwrap();
    let split = |left| HistNode {
        feature: 0,
        cut: 0,
        left,
        weight: 4,
        sum_lo: 8,
        sum_hi: 0,
    };
    let leaf = HistNode::leaf(2, 4);
    assert!(hist_tree(&[split(1), leaf, leaf], &bins, &q).is_ok());
    for bad in [
        vec![split(0), leaf, leaf],                 // child not above its parent
        vec![split(1), leaf],                       // right child past the end
        vec![split(1), split(2), leaf, leaf],       // a node reached twice
        vec![split(1), HistNode::leaf(0, 0), leaf], // weight 0
        vec![
            HistNode {
                feature: 5,
                ..split(1)
            },
            leaf,
            leaf,
        ], // feature out of range
        vec![
            HistNode {
                cut: 99,
                ..split(1)
            },
            leaf,
            leaf,
        ], // cut out of range
    ] {
        assert!(matches!(
            hist_tree(&bad, &bins, &q),
            Err(ForestError::BadTree { .. })
        ));
    }
}
