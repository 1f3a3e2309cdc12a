// GPU form of predict_kernel: out[r] = the forest's prediction of row r for the rows of
// block thread_id (prelude.wgsl in front). The forest is offload-core's PackedForest words:
// nodes of 4 words (threshold bits, feature, left child, value bits; the right child is
// left + 1; a NaN threshold marks a leaf) and trees of 2 (root, depth). Each tree takes at
// most `depth` steps and stops at a leaf; the sum is taken in f64 in tree order from the
// first tree's term and divided by the tree count, as Forest::predict does. A step
// that would leave the node array stops the walk (forged words give wrong answers, never
// reads outside the buffers). Rows holding NaN are not supported here (WGSL may assume
// there are none); the CPU kernel sends them right.
@group(0) @binding(1) var<storage, read> nodes: array<u32>;
@group(0) @binding(2) var<storage, read> trees: array<u32>;
@group(0) @binding(3) var<storage, read> x: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f64>;

fn is_leaf(bits: u32) -> bool {
    return (bits & 0x7fffffffu) > 0x7f800000u;
}

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
    let rows = arrayLength(&out);
    let r = block(id.x, rows);
    if (id.x >= params.num_threads || rows == 0u) {
        return;
    }
    let d = arrayLength(&x) / rows;
    let n_nodes = arrayLength(&nodes) / 4u;
    let n_trees = arrayLength(&trees) / 2u;
    for (var row = r.x; row < r.y; row = row + 1u) {
        var s: f64 = f64(0.0);
        for (var t = 0u; t < n_trees; t = t + 1u) {
            var i = trees[2u * t];
            let depth = trees[2u * t + 1u];
            for (var k = 0u; k < depth && i < n_nodes; k = k + 1u) {
                let thr = nodes[4u * i];
                if (is_leaf(thr)) {
                    break;
                }
                let v = x[row * d + min(nodes[4u * i + 1u], d - 1u)];
                i = nodes[4u * i + 2u] + select(1u, 0u, v <= bitcast<f32>(thr));
            }
            var leaf = f64(0.0);
            if (i < n_nodes) {
                leaf = f64(bitcast<f32>(nodes[4u * i + 3u]));
            }
            if (t == 0u) {
                s = leaf;
            } else {
                s = s + leaf;
            }
        }
        out[row] = s / f64(n_trees);
    }
}
