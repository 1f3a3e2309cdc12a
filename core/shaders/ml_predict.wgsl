// average and batch-predict (core/src/gpu/mod.rs, GpuBackend::average / batch_predict): one
// invocation per row. The host prepends `alias T = f32;` (or f64); sums are taken in T in
// tree order, starting from the first tree's term (equal to Rust's `Iterator::sum`, which
// starts from -0.0), then divided by the tree count, so T = f64 equals Forest::predict bit for
// bit.
//
// batch-predict walks each tree from tree_start[t] (children relative to it); a walk stops at
// a leaf (feature < 0), after n_nodes steps, or at an index out of range, so a malformed forest
// gives unspecified predictions but never reads outside its buffers or hangs.

struct P0 {
    n_trees: u32,
    n_rows: u32,
    n_nodes: u32,
    n_features: u32,
}

@group(0) @binding(0) var<storage, read> preds: array<f32>;
@group(0) @binding(1) var<storage, read> feature: array<i32>;
@group(0) @binding(2) var<storage, read> threshold: array<f32>;
@group(0) @binding(3) var<storage, read> left: array<i32>;
@group(0) @binding(4) var<storage, read> right: array<i32>;
@group(0) @binding(5) var<storage, read> value: array<f32>;
@group(0) @binding(6) var<storage, read> tree_start: array<u32>;
@group(0) @binding(7) var<storage, read> x: array<f32>;
@group(0) @binding(8) var<storage, read_write> out: array<T>;
@group(0) @binding(9) var<uniform> p0: P0;

fn flat(wid: vec3<u32>, lid: vec3<u32>, nwg: vec3<u32>) -> u32 {
    return (wid.y * nwg.x + wid.x) * 64u + lid.x;
}

@compute @workgroup_size(64)
fn average(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>,
           @builtin(num_workgroups) nwg: vec3<u32>) {
    let r = flat(wid, lid, nwg);
    let n = p0.n_rows;
    if r >= n {
        return;
    }
    var s = T(preds[r]);
    for (var t = 1u; t < p0.n_trees; t++) {
        s += T(preds[t * n + r]);
    }
    out[r] = s / T(p0.n_trees);
}

fn leaf(start: u32, xb: u32) -> f32 {
    let nn = p0.n_nodes;
    if start >= nn {
        return 0.0;
    }
    var i = start;
    for (var step = 0u; step < nn; step++) {
        let f = feature[i];
        if f < 0 || u32(f) >= p0.n_features {
            break;
        }
        var c: i32;
        if x[xb + u32(f)] <= threshold[i] {
            c = left[i];
        } else {
            c = right[i];
        }
        if c < 0 || u32(c) >= nn - start {
            break;
        }
        i = start + u32(c);
    }
    return value[i];
}

@compute @workgroup_size(64)
fn predict(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>,
           @builtin(num_workgroups) nwg: vec3<u32>) {
    let r = flat(wid, lid, nwg);
    if r >= p0.n_rows {
        return;
    }
    let xb = r * p0.n_features;
    var s = T(leaf(tree_start[0], xb));
    for (var t = 1u; t < p0.n_trees; t++) {
        s += T(leaf(tree_start[t], xb));
    }
    out[r] = s / T(p0.n_trees);
}
