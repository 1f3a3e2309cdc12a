//! A [`Forest`] in XGBoost's JSON model format, so that the peers that read it (XGBoost
//! itself, treelite and through it nvForest / cuML's FIL) can run offload's own trees.
//!
//! The format is XGBoost's `doc/model.schema` (a `gbtree` booster of
//! `reg:squarederror`), the random-forest form XGBoost itself writes for
//! `XGBRFRegressor`: one boosting round of `num_parallel_tree` trees whose leaf values are
//! summed. How offload's forest maps onto it:
//!
//! - **Average, not sum.** XGBoost adds the leaves of all trees (plus `base_score`, here
//!   0); offload averages them. Each leaf value is therefore written divided by the tree
//!   count (in `f32`, as XGBoost stores it), so XGBoost's prediction is offload's mean up
//!   to `f32` rounding of the division and of XGBoost's `f32` sum (not bit for bit: offload
//!   sums in `f64`).
//! - **Split rule.** offload sends a row left when `x <= threshold`; XGBoost when
//!   `x < split_condition`. The condition written is the next `f32` above the threshold
//!   ([`f32::next_up`]), which sends exactly the same `f32` values left.
//! - **Missing values** (NaN) go right in offload, so `default_left` is 0 everywhere.
//! - Nodes keep offload's numbering (root 0; a leaf's children are -1, its value in
//!   `split_conditions` and `base_weights`); statistics XGBoost keeps but does not need
//!   to predict (`loss_changes`, `sum_hessian`) are written as 0.
//!
//! The host serializes [`XgbModel`] with serde_json (`offload forest --export-xgboost`).

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec;
use alloc::vec::Vec;

use serde::Serialize;

use super::{Forest, ForestError, Tree};

/// The JSON document (`{"version": …, "learner": …}`).
#[derive(Debug, Clone, Serialize)]
pub struct XgbModel {
    /// The XGBoost version whose format this follows (`[2, 1, 0]`).
    pub version: [u32; 3],
    /// The model.
    pub learner: Learner,
}

/// `learner` of the document.
#[derive(Debug, Clone, Serialize)]
pub struct Learner {
    /// Free-form attributes: which forest this is.
    pub attributes: Attributes,
    /// No names or types: features are columns 0…d−1 of `f32`.
    pub feature_names: Vec<String>,
    /// As `feature_names`.
    pub feature_types: Vec<String>,
    /// The trees.
    pub gradient_booster: GradientBooster,
    /// Scalars of the model (strings, as XGBoost writes them).
    pub learner_model_param: LearnerModelParam,
    /// Squared error.
    pub objective: Objective,
}

/// `learner.attributes`.
#[derive(Debug, Clone, Serialize)]
pub struct Attributes {
    /// Says that offload trained it and how it maps (module docs).
    pub offload: String,
}

/// `learner.gradient_booster`.
#[derive(Debug, Clone, Serialize)]
pub struct GradientBooster {
    /// The trees of the one boosting round.
    pub model: GbTreeModel,
    /// `gbtree`.
    pub name: String,
}

/// `learner.gradient_booster.model`.
#[derive(Debug, Clone, Serialize)]
pub struct GbTreeModel {
    /// Tree counts.
    pub gbtree_model_param: GbTreeModelParam,
    /// Boosting-round boundaries in `trees`: `[0, n_trees]` (one round).
    pub iteration_indptr: Vec<usize>,
    /// The output group of each tree (all 0: one target).
    pub tree_info: Vec<u32>,
    /// The trees.
    pub trees: Vec<XgbTree>,
}

/// `gbtree_model_param`.
#[derive(Debug, Clone, Serialize)]
pub struct GbTreeModelParam {
    /// Trees per round: the forest's tree count.
    pub num_parallel_tree: String,
    /// All trees.
    pub num_trees: String,
}

/// One tree, column-wise by node id.
#[derive(Debug, Clone, Serialize)]
pub struct XgbTree {
    /// Node values (leaf values for leaves, divided by the tree count).
    pub base_weights: Vec<f32>,
    /// No categorical splits.
    pub categories: Vec<u32>,
    /// As `categories`.
    pub categories_nodes: Vec<u32>,
    /// As `categories`.
    pub categories_segments: Vec<u64>,
    /// As `categories`.
    pub categories_sizes: Vec<u64>,
    /// 0: missing values go right, as in offload.
    pub default_left: Vec<u8>,
    /// Index of the tree.
    pub id: usize,
    /// Left child per node, -1 for a leaf.
    pub left_children: Vec<i32>,
    /// 0 (not kept by offload).
    pub loss_changes: Vec<f32>,
    /// Parent per node, `i32::MAX` for the root.
    pub parents: Vec<i32>,
    /// Right child per node, -1 for a leaf.
    pub right_children: Vec<i32>,
    /// `next_up(threshold)` for a split (left when `x <` it), the leaf value for a leaf.
    pub split_conditions: Vec<f32>,
    /// Split feature per node (0 for a leaf).
    pub split_indices: Vec<u32>,
    /// 0: numerical splits.
    pub split_type: Vec<u8>,
    /// 0 (not kept by offload).
    pub sum_hessian: Vec<f32>,
    /// Counts.
    pub tree_param: TreeParam,
}

/// `tree_param`.
#[derive(Debug, Clone, Serialize)]
pub struct TreeParam {
    /// 0.
    pub num_deleted: String,
    /// Features per row.
    pub num_feature: String,
    /// Nodes of this tree.
    pub num_nodes: String,
    /// 1 (one value per leaf).
    pub size_leaf_vector: String,
}

/// `learner_model_param`.
#[derive(Debug, Clone, Serialize)]
pub struct LearnerModelParam {
    /// 0: the prediction is the sum of the (pre-divided) leaves alone.
    pub base_score: String,
    /// 0: do not re-estimate `base_score`.
    pub boost_from_average: String,
    /// 0 (regression).
    pub num_class: String,
    /// Features per row.
    pub num_feature: String,
    /// 1.
    pub num_target: String,
}

/// `learner.objective`.
#[derive(Debug, Clone, Serialize)]
pub struct Objective {
    /// `reg:squarederror`.
    pub name: String,
    /// Its parameter (unused for prediction).
    pub reg_loss_param: RegLossParam,
}

/// `reg_loss_param`.
#[derive(Debug, Clone, Serialize)]
pub struct RegLossParam {
    /// 1.
    pub scale_pos_weight: String,
}

impl XgbTree {
    fn from_tree(id: usize, tree: &Tree, d: usize, n_trees: usize) -> Result<XgbTree, ForestError> {
        let n = tree.len();
        let bad = |node| ForestError::BadTree { tree: id, node };
        let mut parents = vec![i32::MAX; n];
        let mut split_conditions = Vec::with_capacity(n);
        let mut split_indices = Vec::with_capacity(n);
        let scale = n_trees as f32;
        for i in 0..n {
            let f = tree.feature[i];
            if f < 0 {
                split_conditions.push(tree.value[i] / scale);
                split_indices.push(0);
                continue;
            }
            if f as usize >= d || !tree.threshold[i].is_finite() {
                return Err(bad(i));
            }
            for c in [tree.left[i], tree.right[i]] {
                let c = usize::try_from(c)
                    .ok()
                    .filter(|&c| c < n && c != 0)
                    .ok_or(bad(i))?;
                parents[c] = i as i32;
            }
            split_conditions.push(tree.threshold[i].next_up());
            split_indices.push(f as u32);
        }
        Ok(XgbTree {
            base_weights: tree.value.iter().map(|v| v / scale).collect(),
            categories: vec![],
            categories_nodes: vec![],
            categories_segments: vec![],
            categories_sizes: vec![],
            default_left: vec![0; n],
            id,
            left_children: tree.left.clone(),
            loss_changes: vec![0.0; n],
            parents,
            right_children: tree.right.clone(),
            split_conditions,
            split_indices,
            split_type: vec![0; n],
            sum_hessian: vec![0.0; n],
            tree_param: TreeParam {
                num_deleted: "0".into(),
                num_feature: d.to_string(),
                num_nodes: n.to_string(),
                size_leaf_vector: "1".into(),
            },
        })
    }
}

impl XgbModel {
    /// The forest as an XGBoost `gbtree` model (see the module docs for the mapping).
    ///
    /// # Errors
    /// [`ForestError::NoTrees`] for a forest without trees; [`ForestError::BadTree`] for
    /// a tree whose arrays differ in length, a split feature not below `n_features`, a
    /// non-finite threshold or a child index out of range.
    pub fn from_forest(forest: &Forest) -> Result<XgbModel, ForestError> {
        let t = forest.trees.len();
        if t == 0 {
            return Err(ForestError::NoTrees);
        }
        let d = forest.n_features;
        let mut trees = Vec::with_capacity(t);
        for (i, tree) in forest.trees.iter().enumerate() {
            let n = tree.len();
            if n == 0
                || [
                    tree.threshold.len(),
                    tree.left.len(),
                    tree.right.len(),
                    tree.value.len(),
                ]
                .iter()
                .any(|&l| l != n)
            {
                return Err(ForestError::BadTree { tree: i, node: 0 });
            }
            trees.push(XgbTree::from_tree(i, tree, d, t)?);
        }
        Ok(XgbModel {
            version: [2, 1, 0],
            learner: Learner {
                attributes: Attributes {
                    offload: format!(
                        "random forest of {t} trees trained by offload-core; leaves divided by {t} (XGBoost sums trees), split_conditions = next_up(threshold)"
                    ),
                },
                feature_names: vec![],
                feature_types: vec![],
                gradient_booster: GradientBooster {
                    model: GbTreeModel {
                        gbtree_model_param: GbTreeModelParam {
                            num_parallel_tree: t.to_string(),
                            num_trees: t.to_string(),
                        },
                        iteration_indptr: vec![0, t],
                        tree_info: vec![0; t],
                        trees,
                    },
                    name: "gbtree".into(),
                },
                learner_model_param: LearnerModelParam {
                    base_score: "0".into(),
                    boost_from_average: "0".into(),
                    num_class: "0".into(),
                    num_feature: d.to_string(),
                    num_target: "1".into(),
                },
                objective: Objective {
                    name: "reg:squarederror".into(),
                    reg_loss_param: RegLossParam {
                        scale_pos_weight: "1".into(),
                    },
                },
            },
        })
    }
}

impl Forest {
    /// The forest in XGBoost's JSON model format ([`XgbModel::from_forest`]).
    ///
    /// # Errors
    /// As [`XgbModel::from_forest`].
    pub fn to_xgboost(&self) -> Result<XgbModel, ForestError> {
        XgbModel::from_forest(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::friedman1;
    use crate::forest::ForestParams;

    /// Walks the exported trees as XGBoost does (left when `x < split_condition`, f32
    /// sum of leaves) and checks it against offload's prediction.
    #[test]
    fn the_exported_trees_predict_what_offload_predicts() {
        let data = friedman1(300, 6, 1.0, 5);
        let p = ForestParams {
            n_trees: 11,
            ..ForestParams::default()
        };
        let f = Forest::fit(&data, &p).unwrap();
        let m = f.to_xgboost().unwrap();
        let model = &m.learner.gradient_booster.model;
        assert_eq!(model.trees.len(), 11);
        assert_eq!(model.gbtree_model_param.num_parallel_tree, "11");
        let test = friedman1(200, 6, 1.0, 6);
        let want = f.predict(&test.x).unwrap();
        for (r, row) in test.x.chunks(6).enumerate() {
            let mut sum = 0.0f32;
            for t in &model.trees {
                let mut i = 0usize;
                while t.left_children[i] >= 0 {
                    let v = row[t.split_indices[i] as usize];
                    i = if v < t.split_conditions[i] {
                        t.left_children[i]
                    } else {
                        t.right_children[i]
                    } as usize;
                }
                sum += t.split_conditions[i];
            }
            let w = want[r];
            assert!(
                (f64::from(sum) - w).abs() <= 1e-5 * w.abs().max(1.0),
                "row {r}: {sum} vs {w}"
            );
        }
        // Every child's parent is recorded, the root has none.
        for t in &model.trees {
            assert_eq!(t.parents[0], i32::MAX);
            for (i, (&l, &r)) in t.left_children.iter().zip(&t.right_children).enumerate() {
                if l >= 0 {
                    assert_eq!(t.parents[l as usize], i as i32);
                    assert_eq!(t.parents[r as usize], i as i32);
                }
            }
        }
    }

    #[test]
    fn a_threshold_sends_the_same_values_left_under_both_rules() {
        for thr in [0.0f32, -0.0, 0.5, -0.5, 1e-40, -1e-40, 3.0e38] {
            let cond = thr.next_up();
            for v in [thr, thr.next_down(), cond, f32::MIN_POSITIVE, 0.0, -0.0] {
                assert_eq!(v <= thr, v < cond, "thr {thr}, v {v}");
            }
        }
    }

    #[test]
    fn malformed_forests_are_refused() {
        let mut f = Forest::fit(
            &friedman1(100, 5, 1.0, 1),
            &ForestParams {
                n_trees: 2,
                ..ForestParams::default()
            },
        )
        .unwrap();
        let split = f.trees[0].feature.iter().position(|&x| x >= 0).unwrap();
        let mut g = f.clone();
        g.trees[0].feature[split] = 5;
        assert_eq!(
            g.to_xgboost().unwrap_err(),
            ForestError::BadTree {
                tree: 0,
                node: split
            }
        );
        let mut g = f.clone();
        g.trees[1].left[0] = 0;
        assert!(matches!(
            g.to_xgboost().unwrap_err(),
            ForestError::BadTree { tree: 1, .. }
        ));
        let mut g = f.clone();
        g.trees[0].value.pop();
        assert!(matches!(
            g.to_xgboost().unwrap_err(),
            ForestError::BadTree { tree: 0, node: 0 }
        ));
        f.trees.clear();
        assert_eq!(f.to_xgboost().unwrap_err(), ForestError::NoTrees);
    }
}
