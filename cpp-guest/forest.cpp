// The C++ random forest: see forest.hpp for the algorithm.
#include "forest.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "rng.hpp"

namespace cppforest {
namespace {

std::string num(uint64_t v) { return std::to_string(v); }

// What training needs of the data, shared by all trees.
struct Data {
  const double* y;
  uint32_t n;  // rows
  uint32_t d;  // features
  // x column-major (feature f of row r at f*n + r), for the scans of one feature.
  std::vector<float> cols;
  // d lists of the n row ids, list f ordered by (x[row*d + f], row).
  std::vector<uint32_t> presorted;
  float at(uint32_t row, uint32_t f) const { return cols[static_cast<size_t>(f) * n + row]; }
};

struct Summary {
  double w = 0;   // total weight
  double s = 0;   // sum of w*y
  double s2 = 0;  // sum of w*y*y
};

struct Best {
  int32_t feature = -1;
  float threshold = 0;
  uint32_t n_left = 0;  // rows (not weight) going left
  double score = 0;
};

// Grows one tree; state reused across trees.
class Grower {
 public:
  Grower(const Data& data, const Params& p) : data_(data), p_(p) {
    const uint32_t n = data.n, d = data.d;
    weight_.resize(n);
    order_.resize(static_cast<size_t>(n) * d);
    tmp_.resize(n);
    goes_left_.resize(n);
    feats_.resize(d);
  }

  Tree grow(uint32_t t) {
    Rng rng(p_.seed, t);
    const uint32_t n = data_.n, d = data_.d;
    if (p_.bootstrap) {
      std::fill(weight_.begin(), weight_.end(), 0u);
      for (uint32_t i = 0; i < n; ++i) ++weight_[rng.below(n)];
    } else {
      std::fill(weight_.begin(), weight_.end(), 1u);
    }
    // The sample's rows in every feature's order.
    uint32_t m = 0;
    for (uint32_t f = 0; f < d; ++f) {
      const uint32_t* src = &data_.presorted[static_cast<size_t>(f) * n];
      uint32_t* dst = &order_[static_cast<size_t>(f) * n];
      m = 0;
      for (uint32_t i = 0; i < n; ++i)
        if (weight_[src[i]] != 0) dst[m++] = src[i];
    }

    Tree tree;
    new_node(tree);
    struct Open {
      uint32_t id, begin, end, depth;
    };
    std::vector<Open> stack{{0, 0, m, 0}};
    while (!stack.empty()) {
      const Open o = stack.back();
      stack.pop_back();
      const Summary s = summarize(o.begin, o.end);
      tree.value[o.id] = static_cast<float>(s.s / s.w);
      if (p_.has_max_depth && o.depth >= p_.max_depth) continue;
      if (s.w < static_cast<double>(p_.min_samples_split)) continue;
      if (s.s2 - s.s * (s.s / s.w) <= 1e-12 * std::max(std::fabs(s.s2), 1.0)) continue;
      const Best b = best_split(o.begin, o.end, s, rng);
      if (b.feature < 0) continue;
      partition(o.begin, o.end, static_cast<uint32_t>(b.feature), b.threshold);
      const uint32_t l = new_node(tree), r = new_node(tree);
      tree.feature[o.id] = b.feature;
      tree.threshold[o.id] = b.threshold;
      tree.left[o.id] = static_cast<int32_t>(l);
      tree.right[o.id] = static_cast<int32_t>(r);
      const uint32_t mid = o.begin + b.n_left;
      stack.push_back({r, mid, o.end, o.depth + 1});
      stack.push_back({l, o.begin, mid, o.depth + 1});
    }
    return tree;
  }

 private:
  static uint32_t new_node(Tree& t) {
    const uint32_t id = static_cast<uint32_t>(t.size());
    t.feature.push_back(-1);
    t.threshold.push_back(0.0f);
    t.left.push_back(-1);
    t.right.push_back(-1);
    t.value.push_back(0.0f);
    return id;
  }

  Summary summarize(uint32_t begin, uint32_t end) const {
    Summary s;
    const uint32_t* rows = order_.data();  // feature 0's order
    for (uint32_t i = begin; i < end; ++i) {
      const uint32_t r = rows[i];
      const double w = weight_[r], y = data_.y[r];
      s.w += w;
      s.s += w * y;
      s.s2 += w * y * y;
    }
    return s;
  }

  Best best_split(uint32_t begin, uint32_t end, const Summary& node, Rng& rng) {
    const uint32_t d = data_.d;
    std::iota(feats_.begin(), feats_.end(), 0u);
    uint32_t k = d;
    if (p_.has_max_features && p_.max_features < d) {
      k = p_.max_features;
      for (uint32_t i = 0; i < k; ++i) std::swap(feats_[i], feats_[i + rng.below(d - i)]);
    }
    const double min_leaf = p_.min_samples_leaf;
    Best best;
    for (uint32_t c = 0; c < k; ++c) {
      const uint32_t f = feats_[c];
      const uint32_t* rows = &order_[static_cast<size_t>(f) * data_.n];
      double wl = 0, sl = 0;
      for (uint32_t i = begin; i + 1 < end; ++i) {
        const uint32_t r = rows[i];
        const double w = weight_[r];
        wl += w;
        sl += w * data_.y[r];
        const float lo = data_.at(r, f), hi = data_.at(rows[i + 1], f);
        if (!(lo < hi)) continue;
        const double wr = node.w - wl;
        if (wl < min_leaf || wr < min_leaf) continue;
        const double sr = node.s - sl;
        const double score = sl * sl / wl + sr * sr / wr;
        if (best.feature < 0 || score > best.score) {
          float thr = lo + (hi - lo) * 0.5f;
          if (!(thr < hi)) thr = lo;
          best = {static_cast<int32_t>(f), thr, i + 1 - begin, score};
        }
      }
    }
    return best;
  }

  // Stable partition of every feature's segment [begin, end) into rows with
  // x[f] <= thr, then the others.
  void partition(uint32_t begin, uint32_t end, uint32_t f, float thr) {
    const uint32_t n = data_.n;
    for (uint32_t i = begin; i < end; ++i) {
      const uint32_t r = order_[static_cast<size_t>(f) * n + i];
      goes_left_[r] = data_.at(r, f) <= thr ? 1 : 0;
    }
    for (uint32_t g = 0; g < data_.d; ++g) {
      uint32_t* rows = &order_[static_cast<size_t>(g) * n];
      uint32_t l = begin, nr = 0;
      for (uint32_t i = begin; i < end; ++i) {
        const uint32_t r = rows[i];
        if (goes_left_[r])
          rows[l++] = r;
        else
          tmp_[nr++] = r;
      }
      std::copy(tmp_.begin(), tmp_.begin() + nr, rows + l);
    }
  }

  const Data& data_;
  const Params& p_;
  std::vector<uint32_t> weight_;
  std::vector<uint32_t> order_;  // d segments-by-node lists of the sample's rows
  std::vector<uint32_t> tmp_;
  std::vector<uint8_t> goes_left_;
  std::vector<uint32_t> feats_;
};

}  // namespace

std::string Forest::fit(const float* x, size_t x_len, const double* y, size_t n_rows,
                        uint32_t n_features, const Params& p) {
  clear();
  if (n_features == 0) return "n-features must be at least 1";
  if (x_len == 0 || n_rows == 0) return "training data is empty";
  if (x_len % n_features != 0)
    return "x has " + num(x_len) + " values, not a multiple of n-features " + num(n_features);
  if (x_len / n_features != n_rows)
    return "x has " + num(x_len) + " values (" + num(x_len / n_features) + " rows of " +
           num(n_features) + ") but y has " + num(n_rows) + " rows";
  if (n_rows > 0x7fffffffu) return "y has " + num(n_rows) + " rows, over 2^31-1";
  if (p.n_trees == 0) return "n-trees must be at least 1";
  if (p.n_trees > kMaxTrees)
    return "n-trees must be at most " + num(kMaxTrees) + ", got " + num(p.n_trees);
  if (p.has_max_features && (p.max_features == 0 || p.max_features > n_features))
    return "max-features must be in 1..=" + num(n_features) + ", got " + num(p.max_features);
  if (p.min_samples_split < 2)
    return "min-samples-split must be at least 2, got " + num(p.min_samples_split);
  if (p.min_samples_leaf < 1) return "min-samples-leaf must be at least 1, got 0";
  // Bound the forest's size before growing it: a tree of n rows has at most 2n - 1 nodes
  // (2^(max_depth+1) - 1 with a depth limit), each 20 bytes, held twice (the trees and the
  // flat arrays predict uploads); past the cap an allocation could fail, which traps.
  uint64_t per_tree = 2 * static_cast<uint64_t>(n_rows) - 1;
  if (p.has_max_depth && p.max_depth < 40)
    per_tree = std::min<uint64_t>(per_tree, (uint64_t{2} << p.max_depth) - 1);
  if (per_tree * p.n_trees > kMaxNodes)
    return "n-trees " + num(p.n_trees) + " on " + num(n_rows) + " rows may grow " +
           num(per_tree * p.n_trees) + " nodes, over the guest's limit of " + num(kMaxNodes) +
           " (fewer trees or a max-depth)";
  for (size_t i = 0; i < x_len; ++i)
    if (!std::isfinite(x[i])) return "x[" + num(i) + "] is not finite";
  for (size_t i = 0; i < n_rows; ++i)
    if (!std::isfinite(y[i])) return "y[" + num(i) + "] is not finite";

  Data data{y, static_cast<uint32_t>(n_rows), n_features, {}, {}};
  const uint32_t n = data.n;
  data.cols.resize(x_len);
  for (uint32_t r = 0; r < n; ++r)
    for (uint32_t f = 0; f < n_features; ++f)
      data.cols[static_cast<size_t>(f) * n + r] = x[static_cast<size_t>(r) * n_features + f];
  data.presorted.resize(static_cast<size_t>(n) * n_features);
  for (uint32_t f = 0; f < n_features; ++f) {
    uint32_t* rows = &data.presorted[static_cast<size_t>(f) * n];
    std::iota(rows, rows + n, 0u);
    std::sort(rows, rows + n, [&](uint32_t a, uint32_t b) {
      const float va = data.at(a, f), vb = data.at(b, f);
      return va < vb || (va == vb && a < b);
    });
  }
  Grower grower(data, p);
  std::vector<Tree> trees;
  trees.reserve(p.n_trees);
  for (uint32_t t = 0; t < p.n_trees; ++t) trees.push_back(grower.grow(t));
  trees_ = std::move(trees);
  n_features_ = n_features;
  return "";
}

size_t Forest::n_nodes() const {
  size_t n = 0;
  for (const Tree& t : trees_) n += t.size();
  return n;
}

std::vector<double> Forest::predict_cpu(const float* x, size_t n_rows) const {
  std::vector<double> out(n_rows, 0.0);
  for (size_t r = 0; r < n_rows; ++r) {
    const float* row = x + r * n_features_;
    double s = 0;
    for (const Tree& t : trees_) {
      int32_t i = 0;
      while (t.feature[i] >= 0) i = row[t.feature[i]] <= t.threshold[i] ? t.left[i] : t.right[i];
      s += t.value[i];
    }
    out[r] = s / static_cast<double>(trees_.size());
  }
  return out;
}

}  // namespace cppforest
