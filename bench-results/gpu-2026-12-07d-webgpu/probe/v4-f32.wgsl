struct Params { rows: u32, trees: u32, features: u32, nodes: u32, }
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> nodes: array<vec4<u32>>;
@group(0) @binding(2) var<storage, read> tree_start: array<u32>;
@group(0) @binding(3) var<storage, read> x: array<f32>;
@group(0) @binding(4) var<storage, read_write> sums: array<vec2<u32>>;
@group(0) @binding(5) var<storage, read> values: array<f32>;
fn leaf(t: u32, base: u32) -> f32 {
  let root = tree_start[t];
  var n = root;
  for (var step = 0u; step < params.nodes; step = step + 1u) {
    let node = nodes[n];
    let f = i32(node.x);
    if (f < 0) { break; }
    if (x[base + u32(f)] <= bitcast<f32>(node.y)) { n = root + node.z; } else { n = root + node.w; }
  }
  return values[n];
}
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let row = gid.x;
  if (row >= params.rows) { return; }
  let base = row * params.features;
  var s = 0.0;
  for (var t = 0u; t < params.trees; t = t + 1u) { s += leaf(t, base); }
  sums[row] = vec2<u32>(bitcast<u32>(s / f32(params.trees)), 0u);
}
