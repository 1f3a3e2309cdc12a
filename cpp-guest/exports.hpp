// The export glue that both builds of the C++ forest guest share: guest.cpp (world
// offload:forest-gpu, predicting through wasi:gpu) and webgpu_predict.cpp (world
// offload:forest-webgpu, predicting through wasi:webgpu). The two worlds export the same
// fit, predict and trees; only the names of the types and functions that `wit-bindgen c`
// generates for them differ, so these take the binding types as template parameters and
// the bindings' free functions (and each build's set_err and predictor) as arguments.
// Exceptions are off; nothing here traps on bad input.
#ifndef OFFLOAD_CPP_GUEST_EXPORTS_HPP
#define OFFLOAD_CPP_GUEST_EXPORTS_HPP

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "forest.hpp"

namespace cppguest {

template <typename T>
size_t bytes_of(const std::vector<T>& v) {
  return v.size() * sizeof(T);
}

// A malloc'd copy of v for a result list (freed by the cabi_post_* of the export).
template <typename T>
T* copy_out(const std::vector<T>& v) {
  if (v.empty()) return nullptr;
  T* p = static_cast<T*>(std::malloc(bytes_of(v)));
  if (p != nullptr) std::memcpy(p, v.data(), bytes_of(v));
  return p;
}

// The fit export's training step: the world's forest-params as cppforest::Params, then
// Forest::fit on x and y, which it frees (free_x, free_y: the bindings' list frees).
// Returns Forest::fit's message ("" on success).
template <typename ListF32, typename ListF64, typename ParamsT>
std::string fit_forest(cppforest::Forest* forest, ListF32* x, ListF64* y, uint32_t n_features,
                       const ParamsT* params, void (*free_x)(ListF32*), void (*free_y)(ListF64*)) {
  cppforest::Params p;
  p.n_trees = params->n_trees;
  p.has_max_features = params->max_features.is_some;
  p.max_features = params->max_features.val;
  p.has_max_depth = params->max_depth.is_some;
  p.max_depth = params->max_depth.val;
  p.min_samples_split = params->min_samples_split;
  p.min_samples_leaf = params->min_samples_leaf;
  p.bootstrap = params->bootstrap;
  p.seed = params->seed;
  std::string msg = forest->fit(x->ptr, x->len, y->ptr, y->len, n_features, p);
  free_x(x);
  free_y(y);
  return msg;
}

// The predict export: checks x against the fitted forest, allocates the result (rows
// doubles from malloc) and runs predict(x, rows, &out) (the build's device predictor,
// returning "" or an error; it fills out, or frees it and puts in its place another
// malloc'ed block of rows doubles that it filled, e.g. a list the host lowered, taken over
// instead of copied); frees x (free_x). True with the predictions in ret, else false with
// the error set through set_err.
template <typename ListF32, typename ListF64, typename Str, typename Predict>
bool predict_export(const cppforest::Forest& forest, ListF32* x, ListF64* ret, Str* err,
                    void (*free_x)(ListF32*), void (*set_err)(Str*, std::string), Predict predict) {
  std::string msg;
  const uint32_t d = forest.n_features();
  double* out = nullptr;
  size_t rows = 0;
  if (!forest.fitted()) {
    msg = "no forest yet: call fit first";
  } else if (x->len % d != 0) {
    msg = "x has " + std::to_string(x->len) + " values, not a multiple of the forest's " +
          std::to_string(d) + " features";
  } else if (x->len == 0) {
    msg = "x has no rows";
  } else {
    rows = x->len / d;
    if (rows > 0xffffffffu / 8) {
      msg = "x has " + std::to_string(rows) + " rows, too many for one call";
    } else {
      out = static_cast<double*>(std::malloc(rows * sizeof(double)));
      msg = out == nullptr ? "out of guest memory for " + std::to_string(rows) + " predictions"
                           : predict(x->ptr, rows, &out);
    }
  }
  free_x(x);
  if (!msg.empty()) {
    std::free(out);
    set_err(err, msg);
    return false;
  }
  ret->ptr = out;
  ret->len = rows;
  return true;
}

// The trees export: copies the fitted forest out as the world's tree records (TreeT, in
// a ListTree; free_list: the bindings' free of that list). True with the trees in ret,
// else false with the error set through set_err.
template <typename TreeT, typename ListTree, typename Str>
bool trees_export(const cppforest::Forest& forest, ListTree* ret, Str* err,
                  void (*free_list)(ListTree*), void (*set_err)(Str*, std::string)) {
  if (!forest.fitted()) {
    set_err(err, "no forest yet: call fit first");
    return false;
  }
  const std::vector<cppforest::Tree>& trees = forest.trees();
  auto* out = static_cast<TreeT*>(std::calloc(trees.size(), sizeof(TreeT)));
  bool ok = out != nullptr;
  for (size_t i = 0; ok && i < trees.size(); ++i) {
    const cppforest::Tree& t = trees[i];
    TreeT& o = out[i];
    o.feature = {copy_out(t.feature), t.feature.size()};
    o.threshold = {copy_out(t.threshold), t.threshold.size()};
    o.left = {copy_out(t.left), t.left.size()};
    o.right = {copy_out(t.right), t.right.size()};
    o.value = {copy_out(t.value), t.value.size()};
    ok = o.feature.ptr && o.threshold.ptr && o.left.ptr && o.right.ptr && o.value.ptr;
  }
  if (!ok) {
    if (out != nullptr) {
      ListTree partial{out, trees.size()};
      for (size_t i = 0; i < trees.size(); ++i) {
        // The bindings' tree free frees a list only when its length is nonzero: zero the
        // lengths of the lists that were not allocated.
        TreeT& o = out[i];
        if (!o.feature.ptr) o.feature.len = 0;
        if (!o.threshold.ptr) o.threshold.len = 0;
        if (!o.left.ptr) o.left.len = 0;
        if (!o.right.ptr) o.right.len = 0;
        if (!o.value.ptr) o.value.len = 0;
      }
      free_list(&partial);
    }
    set_err(err, "out of guest memory copying the trees");
    return false;
  }
  ret->ptr = out;
  ret->len = trees.size();
  return true;
}

}  // namespace cppguest

#endif  // OFFLOAD_CPP_GUEST_EXPORTS_HPP
