struct Params { rows: u32, trees: u32, features: u32, nodes: u32, }
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> nodes: array<vec4<u32>>;
@group(0) @binding(2) var<storage, read> tree_start: array<u32>;
@group(0) @binding(3) var<storage, read> x: array<f32>;
@group(0) @binding(4) var<storage, read_write> sums: array<vec2<u32>>;
@group(0) @binding(5) var<storage, read> values: array<f32>;
// Two walks at once (trees t and t+1): twice the loads in flight per thread.
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let row = gid.x;
  if (row >= params.rows) { return; }
  let base = row * params.features;
  var s = 0.0;
  var t = 0u;
  for (; t + 1u < params.trees; t = t + 2u) {
    let ra = tree_start[t];
    let rb = tree_start[t + 1u];
    var a = ra;
    var b = rb;
    var da = false;
    var db = false;
    for (var step = 0u; step < params.nodes; step = step + 1u) {
      if (!da) {
        let na = nodes[a];
        if (i32(na.x) < 0) { da = true; } else if (x[base + na.x] <= bitcast<f32>(na.y)) { a = ra + na.z; } else { a = ra + na.w; }
      }
      if (!db) {
        let nb = nodes[b];
        if (i32(nb.x) < 0) { db = true; } else if (x[base + nb.x] <= bitcast<f32>(nb.y)) { b = rb + nb.z; } else { b = rb + nb.w; }
      }
      if (da && db) { break; }
    }
    s += values[a];
    s += values[b];
  }
  if (t < params.trees) {
    let r = tree_start[t];
    var n = r;
    for (var step = 0u; step < params.nodes; step = step + 1u) {
      let nd = nodes[n];
      if (i32(nd.x) < 0) { break; }
      if (x[base + nd.x] <= bitcast<f32>(nd.y)) { n = r + nd.z; } else { n = r + nd.w; }
    }
    s += values[n];
  }
  sums[row] = vec2<u32>(bitcast<u32>(s / f32(params.trees)), 0u);
}
