// Batch prediction of the C++ forest guest through wasi:webgpu (cpp-guest/webgpu_predict.cpp,
// world offload:forest-webgpu/forest-webgpu): one invocation per row walks every tree and
// writes that tree's leaf value to leaf[row * trees + tree]; the guest then takes each
// row's mean of its leaves in f64, in tree order (the order of Forest::predict_cpu), so the
// predictions equal the CPU walk bit for bit. scripts/build-cpp-guest.sh embeds this file
// in the module.
//
// The forest is every tree's nodes end to end (child ids relative to the tree's root,
// feature -1 at a leaf, rows with x[feature] <= threshold go left) and each root's index.

struct Node {
  feature: i32,
  threshold: f32,
  left: i32,
  right: i32,
  value: f32,
}

struct Params {
  rows: u32,      // rows of x in this dispatch
  trees: u32,     // entries of tree_start
  features: u32,  // values per row of x
  nodes: u32,     // entries of nodes (bounds every walk)
}

@group(0) @binding(0) var<storage, read> nodes: array<Node>;
@group(0) @binding(1) var<storage, read> tree_start: array<u32>;
@group(0) @binding(2) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<storage, read_write> leaf: array<f32>;
@group(0) @binding(4) var<storage, read> params: Params;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let row = gid.x;
  if (row >= params.rows) {
    return;
  }
  let base = row * params.features;
  for (var t = 0u; t < params.trees; t = t + 1u) {
    let root = tree_start[t];
    var n = root;
    // A tree's children come after their parent, so a walk takes fewer steps than there
    // are nodes; the bound only keeps a malformed forest from hanging the device.
    for (var step = 0u; step < params.nodes; step = step + 1u) {
      let node = nodes[n];
      if (node.feature < 0) {
        break;
      }
      if (x[base + u32(node.feature)] <= node.threshold) {
        n = root + u32(node.left);
      } else {
        n = root + u32(node.right);
      }
    }
    leaf[row * params.trees + t] = nodes[n].value;
  }
}
