// find-split: the best split of every open node of a batch of trees, chosen exactly as
// forest::find_split chooses it (core/src/forest.rs, module docs; operands: FindSplitArgs in
// core/src/gpu/mod.rs). Needs SHADER_F64.
//
// Three dispatches in one pass:
// - `init`: clears the scratch entry of every (node, feature) pair and the node owners.
// - `scan`: one invocation per (tree t, feature f) walks order[f] (the presort) twice. Rows of
//   tree t with weight > 0 in an open node j for which f is a candidate are, in that walk, the
//   node's rows in (x[row·d + f], row) order, i.e. the reference's `sorted`. Walk 1 sums the
//   node's weight W and Σw·y (in that order, as the reference does); walk 2 keeps the running
//   W_L, S_L and the previous value, and evaluates the split between the previous value `lo`
//   and the row's value `hi` *before* adding a row whose value is not `<= lo`, which is the
//   reference's test `lo < hi` after adding row k. A split replaces the entry's best only when
//   its score is strictly higher (lower thresholds win ties within a feature).
// - `reduce`: one invocation per node picks, over its candidate features, the highest score,
//   an exact tie going to the lower candidate rank, and writes the SplitRecord.
//
// Bit-exactness: sums and scores are f64 adds, multiplies and divides in the reference's order.
// Each product w·y is multiplied by `one` (1.0 from the uniform block, unknown to the
// compiler) before it is added, so a driver that contracts a multiply and an add into an FMA
// can only fuse the exact `·one`, never w·y, and the sum keeps the reference's rounding.
//
// Errors found in the inputs set bits of aux[2·n_nodes] (1: an order entry ≥ n_rows, 2: a
// node id ≥ n_nodes and not u32::MAX, 4: a node holding rows of two trees); aux[j] and
// aux[n_nodes + j] are the least and greatest tree seen in node j.

struct Acc {
    st: f64,      // Σ w·y over the node (walk 1)
    sl: f64,      // running Σ w·y left of the cut (walk 2)
    best: f64,    // best score so far
    wt: u32,      // Σ w over the node
    wl: u32,      // running Σ w left of the cut
    last: f32,    // value of the previous row
    flags: u32,   // 1: seen in walk 1, 2: has a previous row, 4: has a best split
    thr: f32,     // best threshold
    bwl: u32,     // weight left of the best split
}

struct SplitRecord {
    score: f64,
    feature: i32,
    threshold: f32,
    weight_left: u32,
    pad: u32,
}

struct P0 {
    n_rows: u32,
    d: u32,
    n_trees: u32,
    n_nodes: u32,
}

struct P1 {
    one: f64,
    min_leaf: u32,
    pad: u32,
}

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> y: array<f64>;
@group(0) @binding(2) var<storage, read> order: array<u32>;
@group(0) @binding(3) var<storage, read> weights: array<u32>;
@group(0) @binding(4) var<storage, read> node_of: array<u32>;
@group(0) @binding(5) var<storage, read> cand_rank: array<u32>;
@group(0) @binding(6) var<storage, read_write> out: array<SplitRecord>;
@group(0) @binding(7) var<storage, read_write> scratch: array<Acc>;
@group(0) @binding(8) var<storage, read_write> aux: array<atomic<u32>>;
@group(0) @binding(9) var<uniform> p0: P0;
@group(0) @binding(10) var<uniform> p1: P1;

const NONE: u32 = 0xffffffffu;

fn flat(wid: vec3<u32>, lid: vec3<u32>, nwg: vec3<u32>) -> u32 {
    return (wid.y * nwg.x + wid.x) * 64u + lid.x;
}

@compute @workgroup_size(64)
fn init(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>,
        @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat(wid, lid, nwg);
    if i < p0.n_nodes * p0.d {
        scratch[i] = Acc(0.0lf, 0.0lf, 0.0lf, 0u, 0u, 0.0, 0u, 0.0, 0u);
    }
    if i < p0.n_nodes {
        atomicStore(&aux[i], NONE);
        atomicStore(&aux[p0.n_nodes + i], 0u);
    }
    if i == 0u {
        atomicStore(&aux[2u * p0.n_nodes], 0u);
    }
}

@compute @workgroup_size(64)
fn scan(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>,
        @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = flat(wid, lid, nwg);
    let n = p0.n_rows;
    let d = p0.d;
    if i >= p0.n_trees * d {
        return;
    }
    let t = i / d;
    let f = i % d;
    let base = t * n;
    let obase = f * n;
    let status = 2u * p0.n_nodes;
    // Walk 1: node totals in this feature's order.
    for (var k = 0u; k < n; k++) {
        let r = order[obase + k];
        if r >= n {
            atomicOr(&aux[status], 1u);
            continue;
        }
        let w = weights[base + r];
        let j = node_of[base + r];
        if w == 0u || j == NONE {
            continue;
        }
        if j >= p0.n_nodes {
            atomicOr(&aux[status], 2u);
            continue;
        }
        let e = j * d + f;
        if cand_rank[e] == NONE {
            continue;
        }
        if (scratch[e].flags & 1u) == 0u {
            scratch[e].flags = 1u;
            atomicMin(&aux[j], t);
            atomicMax(&aux[p0.n_nodes + j], t);
        }
        scratch[e].wt += w;
        scratch[e].st += (f64(w) * y[r]) * p1.one;
    }
    // Walk 2: the sweep.
    for (var k = 0u; k < n; k++) {
        let r = order[obase + k];
        if r >= n {
            continue;
        }
        let w = weights[base + r];
        let j = node_of[base + r];
        if w == 0u || j >= p0.n_nodes {
            continue;
        }
        let e = j * d + f;
        if cand_rank[e] == NONE {
            continue;
        }
        var a = scratch[e];
        let v = x[r * d + f];
        if (a.flags & 2u) != 0u && !(a.last >= v) {
            let wr = a.wt - a.wl;
            if a.wl >= p1.min_leaf && wr >= p1.min_leaf {
                let sr = a.st - a.sl;
                let score = a.sl * a.sl / f64(a.wl) + sr * sr / f64(wr);
                if (a.flags & 4u) == 0u || score > a.best {
                    var thr = a.last + (v - a.last) * 0.5;
                    if thr >= v {
                        thr = a.last;
                    }
                    a.best = score;
                    a.thr = thr;
                    a.bwl = a.wl;
                    a.flags |= 4u;
                }
            }
        }
        a.wl += w;
        a.sl += (f64(w) * y[r]) * p1.one;
        a.last = v;
        a.flags |= 2u;
        scratch[e] = a;
    }
}

@compute @workgroup_size(64)
fn reduce(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>,
          @builtin(num_workgroups) nwg: vec3<u32>) {
    let j = flat(wid, lid, nwg);
    let d = p0.d;
    if j >= p0.n_nodes {
        return;
    }
    let lo = atomicLoad(&aux[j]);
    if lo != NONE && lo != atomicLoad(&aux[p0.n_nodes + j]) {
        atomicOr(&aux[2u * p0.n_nodes], 4u);
    }
    var rec = SplitRecord(0.0lf, -1, 0.0, 0u, 0u);
    var brank = NONE;
    for (var f = 0u; f < d; f++) {
        let rank = cand_rank[j * d + f];
        if rank == NONE {
            continue;
        }
        let a = scratch[j * d + f];
        if (a.flags & 4u) == 0u {
            continue;
        }
        if rec.feature < 0 || a.best > rec.score || (a.best == rec.score && rank < brank) {
            rec = SplitRecord(a.best, i32(f), a.thr, a.bwl, 0u);
            brank = rank;
        }
    }
    out[j] = rec;
}
