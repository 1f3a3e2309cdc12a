// A random forest of regression trees in C++ (CART, squared error, bootstrap), written for
// the wasm32-wasi guest of world offload:forest-gpu/forest-gpu@0.1.0 but free of any
// binding: plain data in, trees out. Independent of offload-core (its own split search,
// node numbering and random numbers); it implements the same hyperparameters.
//
// Training (Forest::fit), per tree t:
//   - weights: a bootstrap sample (n draws of Rng(seed, t).below(n), w[r] = times row r was
//     drawn) or every row once;
//   - the rows with w > 0, in each feature's presorted order (value, then row), are the
//     root's segment of one index list per feature; a split partitions every feature's
//     segment stably into left rows then right rows, so every node's rows stay sorted by
//     every feature without sorting again;
//   - a node is grown depth first, left child first, from an explicit stack; children are
//     numbered after their parent (left = next free id, right = left + 1);
//   - a node is a leaf when it is at max_depth, holds less than min_samples_split weight,
//     has constant targets (S2 - S*S/W <= 1e-12*max(|S2|, 1)), or has no valid split;
//   - split search: for each candidate feature (all, or max_features drawn by a partial
//     Fisher-Yates shuffle with the tree's Rng), scan the node's rows in that feature's
//     order accumulating W_L = sum w, S_L = sum w*y (double); between consecutive distinct
//     values lo < hi with both sides holding at least min_samples_leaf weight the score is
//     S_L^2/W_L + S_R^2/W_R (maximal where the children's squared error is minimal); the
//     highest score wins (first found on ties); threshold lo + (hi - lo)*0.5f in float, or
//     lo where that rounds to hi; rows with x <= threshold go left.
//   - a node's value is its weighted mean target S/W (stored as float).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace cppforest {

// Hyperparameters (scikit-learn's RandomForestRegressor names).
struct Params {
  uint32_t n_trees = 200;
  bool has_max_features = false;  // false: all features
  uint32_t max_features = 0;
  bool has_max_depth = false;
  uint32_t max_depth = 0;
  uint32_t min_samples_split = 2;
  uint32_t min_samples_leaf = 1;
  bool bootstrap = true;
  uint64_t seed = 42;
};

// Largest forest fit accepts (the guest's memory is 4 GiB at most).
constexpr uint32_t kMaxTrees = 1u << 20;
// Largest forest fit grows (nodes over all trees, bounded before training from the rows,
// the trees and max_depth): 2^25 nodes of 20 bytes, held twice, stay well inside 4 GiB.
constexpr uint64_t kMaxNodes = uint64_t{1} << 25;

// One tree as flat node arrays: node 0 is the root; at a split rows with
// x[feature] <= threshold go to left, the others to right; at a leaf feature, left and
// right are -1 and value is the prediction.
struct Tree {
  std::vector<int32_t> feature;
  std::vector<float> threshold;
  std::vector<int32_t> left;
  std::vector<int32_t> right;
  std::vector<float> value;
  size_t size() const { return feature.size(); }
};

class Forest {
 public:
  // Trains on x (n_rows * n_features floats, row-major) and y (n_rows doubles), replacing
  // the trees this forest held. Returns "" on success, else a one-line reason (the forest
  // is then empty). Every value must be finite.
  std::string fit(const float* x, size_t x_len, const double* y, size_t n_rows,
                  uint32_t n_features, const Params& p);

  bool fitted() const { return !trees_.empty(); }
  uint32_t n_features() const { return n_features_; }
  const std::vector<Tree>& trees() const { return trees_; }
  size_t n_nodes() const;
  void clear() {
    trees_.clear();
    n_features_ = 0;
  }

  // Walks every tree for each row of x (n_rows * n_features) and returns the mean leaf
  // value (summed in double, tree order). For tests outside wasm; the guest predicts on
  // the device.
  std::vector<double> predict_cpu(const float* x, size_t n_rows) const;

 private:
  std::vector<Tree> trees_;
  uint32_t n_features_ = 0;
};

}  // namespace cppforest
