// hist-grow: whole trees of the histogram-mode forest grown on the device, level by level,
// exactly by the rule of core/src/forest/hist.rs (module docs; the reference grower is
// grow_hist_tree; operands: HistGrowArgs in core/src/gpu/hist.rs). Needs SHADER_F64 (scores).
//
// Entry points (all workgroups of GROUP = 256 invocations; the first three loop over their
// items with a grid stride, so a 1-D dispatch of at most 65535 groups covers any count):
// - `clear`: zeroes ctl[0 .. 3 + count] (count = n_trees).
// - `compact`: for every (tree t, row r) with weights[t·n_rows + r] > 0, appends r to tree t's
//   row list rows_next[t·n_rows + pos], pos from the atomic counter ctl[3 + t]. The order of
//   a list does not matter: every sum below is an integer sum.
// - `roots`: one open entry per tree, open_next[t] = (t, node 0, first row 0, rows ctl[3 + t]);
//   node_count[t] = 1.
// - `level`: one workgroup per open entry of the current level (entries e = group id, then
//   strides of num_workgroups while e < count): the node's W = Σw (u32), S = Σw·yq (u64 as two
//   u32 with carries), qmin, qmax by workgroup atomics; a leaf when depth ≥ max_depth,
//   W < min_split or qmin == qmax; else per feature f in order a histogram of its first
//   nb = min(n_bins[f], 256) bins in workgroup memory (rows with bin ≥ nb count in no bin),
//   an inclusive scan of the 256 bins (16 chunks of 16 scanned serially by 16 invocations,
//   then each bin adds the chunk totals before it: 1 barrier where a Hillis–Steele scan
//   takes 16), invocation j scoring cut j (valid when j + 1 < nb and W_L, W_R ≥ min_leaf;
//   score S_L²/W_L + S_R²/W_R in f64, each u64 sum converted once: f64(hi)·2^32 + f64(lo)
//   is the correctly rounded value), and an argmax per chunk then over the chunks, a later
//   cut replacing the best only when strictly higher (the lowest cut wins ties); a
//   feature's best replaces the node's best only when strictly higher (lower features win
//   ties). No valid cut: a leaf. A split node partitions its rows into rows_next within its
//   own segment (rows with bin ≤ cut from the segment's start up, the others from its end
//   down; positions from workgroup atomic counters), invocation 0 allocates the children
//   (left = atomicAdd(node_count[t], 2), right = left + 1; error bit 1 instead when that
//   would pass node_cap), writes the node's record and both children as leaves with their
//   W, S, and appends a child to open_next (counter ctl[depth & 1]) only when depth + 1 <
//   max_depth and its W ≥ min_split; the next level overwrites that child's record. The
//   rows are partitioned only when a child is appended. Workgroup 0 also zeroes
//   ctl[(depth + 1) & 1], the next level's counter (the host has read it already).
// Every sum is an integer sum, so the trees do not depend on the order anything runs in.
// Workgroup memory: about 8.4 KB (under WebGPU's default 16 KiB). Values that decide
// barriers or loop trips come from uniforms, read-only storage or workgroupUniformLoad.
//
// Bindings (all u32 words unless said otherwise):
//  0 bins       read   u8 d × n_rows, feature-major (bins[f·n_rows + r]), packed 4 a word
//  1 n_bins     read   d, bins of each feature
//  2 yq         read   n_rows, fixed-point targets
//  3 weights    read   n_trees × n_rows, bootstrap weights (0: row not in the tree)
//  4 nodes      write  Node n_trees × node_cap (HistNode, 24 bytes); tree t's at t·node_cap
//  5 node_count atomic n_trees, records written per tree
//  6 rows_cur   read   n_trees × n_rows, this level's row lists (segment of tree t at t·n_rows)
//  7 rows_next  write  n_trees × n_rows, the next level's row lists (`compact` writes here)
//  8 open_cur   read   vec4 (tree, node id, first row, rows) per open entry of this level
//  9 open_next  write  vec4 entries of the next level (`roots` writes here); holds
//                      min(2·count, n_trees·n_rows) (every open node has a row of its own)
// 10 ctl        atomic [0], [1]: open-entry counters of even and odd levels; [2]: error bits
//                      (1: a tree outgrew node_cap); [3 + t]: rows of tree t (`compact`)
// 11 p0         uniform (n_rows, d, node_cap, count): count = n_trees for clear, compact,
//                      roots, and the open entries of this level for `level`
// 12 p1         uniform (min_split, min_leaf, max_depth, depth of this level)

struct Node {
    feature: i32,
    cut: u32,
    left: u32,
    weight: u32,
    sum_lo: u32,
    sum_hi: u32,
}

@group(0) @binding(0) var<storage, read> bins: array<u32>;
@group(0) @binding(1) var<storage, read> n_bins: array<u32>;
@group(0) @binding(2) var<storage, read> yq: array<u32>;
@group(0) @binding(3) var<storage, read> weights: array<u32>;
@group(0) @binding(4) var<storage, read_write> nodes: array<Node>;
@group(0) @binding(5) var<storage, read_write> node_count: array<atomic<u32>>;
@group(0) @binding(6) var<storage, read> rows_cur: array<u32>;
@group(0) @binding(7) var<storage, read_write> rows_next: array<u32>;
@group(0) @binding(8) var<storage, read> open_cur: array<vec4<u32>>;
@group(0) @binding(9) var<storage, read_write> open_next: array<vec4<u32>>;
@group(0) @binding(10) var<storage, read_write> ctl: array<atomic<u32>>;
@group(0) @binding(11) var<uniform> p0: vec4<u32>;
@group(0) @binding(12) var<uniform> p1: vec4<u32>;

const GROUP: u32 = 256u;
// The 256 bins as CHUNKS chunks of CHUNK for the scan and the argmax.
const CHUNK: u32 = 16u;
const CHUNKS: u32 = 16u;
const NONE: u32 = 0xffffffffu;
const CTL_ERR: u32 = 2u;
const CTL_ROWS: u32 = 3u;

// Histogram of one feature: weight and Σw·yq (low, high word) per bin.
var<workgroup> h_cnt: array<atomic<u32>, 256>;
var<workgroup> h_lo: array<atomic<u32>, 256>;
var<workgroup> h_hi: array<atomic<u32>, 256>;
// Inclusive scan of the histogram within each chunk of CHUNK bins.
var<workgroup> s_cnt: array<u32, 256>;
var<workgroup> s_lo: array<u32, 256>;
var<workgroup> s_hi: array<u32, 256>;
// Argmax over the cuts: score per cut (−1: invalid), then best score and cut per chunk.
var<workgroup> r_score: array<f64, 256>;
var<workgroup> c_score: array<f64, 16>;
var<workgroup> c_cut: array<u32, 16>;
// Node sums: W, S low, S high, qmin, qmax; rows sent left and right by the partition.
var<workgroup> a_w: atomic<u32>;
var<workgroup> a_lo: atomic<u32>;
var<workgroup> a_hi: atomic<u32>;
var<workgroup> a_qmin: atomic<u32>;
var<workgroup> a_qmax: atomic<u32>;
var<workgroup> a_nl: atomic<u32>;
var<workgroup> a_nr: atomic<u32>;
// Published by invocation 0: (W, S low, S high, 1 if qmin == qmax) and the pick
// (feature or NONE, cut, W_L, 1 if the rows must be partitioned).
var<workgroup> stats: vec4<u32>;
var<workgroup> pick: vec4<u32>;


// The full product a·b as (low, high).
fn mul64(a: u32, b: u32) -> vec2<u32> {
    return vec2<u32>(a * b, mulhi32(a, b));
}

// a + b mod 2^64.
fn add64(a: vec2<u32>, b: vec2<u32>) -> vec2<u32> {
    let lo = a.x + b.x;
    return vec2<u32>(lo, a.y + b.y + select(0u, 1u, lo < a.x));
}

// a − b mod 2^64.
fn sub64(a: vec2<u32>, b: vec2<u32>) -> vec2<u32> {
    return vec2<u32>(a.x - b.x, a.y - b.y - select(0u, 1u, a.x < b.x));
}

// The u64 (low, high) as f64, correctly rounded (f64(hi)·2^32 is exact).
fn to_f64(v: vec2<u32>) -> f64 {
    return f64(v.y) * 4294967296.0lf + f64(v.x);
}

// The high word of a 64-bit atomic add of v whose low word found `old`: v's high word plus
// the carry out of the low words.
fn carry_hi(old: u32, v: vec2<u32>) -> u32 {
    return v.y + select(0u, 1u, old + v.x < old);
}

// Bin of byte i of `bins`.
fn bin_at(i: u32) -> u32 {
    return (bins[i >> 2u] >> ((i & 3u) * 8u)) & 0xffu;
}

// Sums over bins 0..=j: (W_L, S_L low, S_L high), from the chunk-wise scan in s_*.
fn prefix(j: u32) -> vec3<u32> {
    var c = s_cnt[j];
    var s = vec2<u32>(s_lo[j], s_hi[j]);
    for (var k = CHUNK - 1u; k < j - j % CHUNK; k += CHUNK) {
        c += s_cnt[k];
        s = add64(s, vec2<u32>(s_lo[k], s_hi[k]));
    }
    return vec3<u32>(c, s.x, s.y);
}

fn leaf(w: u32, s: vec2<u32>) -> Node {
    return Node(-1, 0u, NONE, w, s.x, s.y);
}

@compute @workgroup_size(256)
fn clear(@builtin(global_invocation_id) gid: vec3<u32>,
         @builtin(num_workgroups) nwg: vec3<u32>) {
    for (var i = gid.x; i < CTL_ROWS + p0.w; i += nwg.x * GROUP) {
        atomicStore(&ctl[i], 0u);
    }
}

@compute @workgroup_size(256)
fn compact(@builtin(global_invocation_id) gid: vec3<u32>,
           @builtin(num_workgroups) nwg: vec3<u32>) {
    let n = p0.x;
    for (var i = gid.x; i < p0.w * n; i += nwg.x * GROUP) {
        if weights[i] > 0u {
            let t = i / n;
            let pos = atomicAdd(&ctl[CTL_ROWS + t], 1u);
            rows_next[t * n + pos] = i - t * n;
        }
    }
}

@compute @workgroup_size(256)
fn roots(@builtin(global_invocation_id) gid: vec3<u32>,
         @builtin(num_workgroups) nwg: vec3<u32>) {
    for (var t = gid.x; t < p0.w; t += nwg.x * GROUP) {
        open_next[t] = vec4<u32>(t, 0u, 0u, atomicLoad(&ctl[CTL_ROWS + t]));
        atomicStore(&node_count[t], 1u);
    }
}

@compute @workgroup_size(256)
fn level(@builtin(workgroup_id) wid: vec3<u32>,
         @builtin(local_invocation_index) lid: u32,
         @builtin(num_workgroups) nwg: vec3<u32>) {
    let n = p0.x;
    let d = p0.y;
    let cap = p0.z;
    let count = p0.w;
    let min_split = p1.x;
    let min_leaf = p1.y;
    let max_depth = p1.z;
    let depth = p1.w;
    if wid.x == 0u && lid == 0u {
        atomicStore(&ctl[(depth + 1u) & 1u], 0u);
    }
    for (var e = wid.x; e < count; e += nwg.x) {
        let ent = open_cur[e];
        let t = ent.x;
        let id = ent.y;
        let start = t * n + ent.z;
        let len = ent.w;
        let wbase = t * n;
        if lid == 0u {
            atomicStore(&a_w, 0u);
            atomicStore(&a_lo, 0u);
            atomicStore(&a_hi, 0u);
            atomicStore(&a_qmin, NONE);
            atomicStore(&a_qmax, 0u);
            atomicStore(&a_nl, 0u);
            atomicStore(&a_nr, 0u);
        }
        workgroupBarrier();
        // Node sums.
        var w_acc = 0u;
        var s_acc = vec2<u32>(0u, 0u);
        var qmin = NONE;
        var qmax = 0u;
        for (var k = lid; k < len; k += GROUP) {
            let r = rows_cur[start + k];
            let w = weights[wbase + r];
            let q = yq[r];
            w_acc += w;
            s_acc = add64(s_acc, mul64(w, q));
            qmin = min(qmin, q);
            qmax = max(qmax, q);
        }
        atomicAdd(&a_w, w_acc);
        atomicAdd(&a_hi, carry_hi(atomicAdd(&a_lo, s_acc.x), s_acc));
        atomicMin(&a_qmin, qmin);
        atomicMax(&a_qmax, qmax);
        workgroupBarrier();
        if lid == 0u {
            let same = atomicLoad(&a_qmin) == atomicLoad(&a_qmax);
            stats = vec4<u32>(atomicLoad(&a_w), atomicLoad(&a_lo), atomicLoad(&a_hi),
                              select(0u, 1u, same));
        }
        let st = workgroupUniformLoad(&stats);
        let w_all = st.x;
        let s_all = st.yz;
        if depth >= max_depth || w_all < min_split || st.w != 0u {
            if lid == 0u {
                nodes[t * cap + id] = leaf(w_all, s_all);
            }
            continue;
        }
        // Best split over the features (kept by invocation 0).
        var best_score = -1.0lf;
        var best_f = NONE;
        var best_cut = 0u;
        var best_wl = 0u;
        var best_sl = vec2<u32>(0u, 0u);
        for (var f = 0u; f < d; f++) {
            let nb = min(n_bins[f], 256u);
            atomicStore(&h_cnt[lid], 0u);
            atomicStore(&h_lo[lid], 0u);
            atomicStore(&h_hi[lid], 0u);
            workgroupBarrier();
            let fbase = f * n;
            for (var k = lid; k < len; k += GROUP) {
                let r = rows_cur[start + k];
                let b = bin_at(fbase + r);
                if b < nb {
                    let w = weights[wbase + r];
                    atomicAdd(&h_cnt[b], w);
                    let p = mul64(w, yq[r]);
                    atomicAdd(&h_hi[b], carry_hi(atomicAdd(&h_lo[b], p.x), p));
                }
            }
            workgroupBarrier();
            // Inclusive scan in two steps: each chunk of 16 bins by one invocation, then
            // every bin adds the totals of the chunks before its own (`prefix`).
            if lid < CHUNKS {
                var c = 0u;
                var s = vec2<u32>(0u, 0u);
                for (var i = lid * CHUNK; i < lid * CHUNK + CHUNK; i++) {
                    c += atomicLoad(&h_cnt[i]);
                    s = add64(s, vec2<u32>(atomicLoad(&h_lo[i]), atomicLoad(&h_hi[i])));
                    s_cnt[i] = c;
                    s_lo[i] = s.x;
                    s_hi[i] = s.y;
                }
            }
            workgroupBarrier();
            // Score of cut lid (−1: invalid).
            let pre = prefix(lid);
            let c = pre.x;
            let wr = w_all - c;
            var score = -1.0lf;
            if lid + 1u < nb && c >= min_leaf && wr >= min_leaf {
                let a = to_f64(pre.yz);
                let b = to_f64(sub64(s_all, pre.yz));
                score = a * a / f64(c) + b * b / f64(wr);
            }
            r_score[lid] = score;
            workgroupBarrier();
            // Argmax in two steps (a later cut must be strictly better): per chunk, then over
            // the chunks in order.
            if lid < CHUNKS {
                var bs = r_score[lid * CHUNK];
                var bj = lid * CHUNK;
                for (var i = bj + 1u; i < lid * CHUNK + CHUNK; i++) {
                    if r_score[i] > bs {
                        bs = r_score[i];
                        bj = i;
                    }
                }
                c_score[lid] = bs;
                c_cut[lid] = bj;
            }
            workgroupBarrier();
            if lid == 0u {
                var fs = c_score[0];
                var j = c_cut[0];
                for (var k = 1u; k < CHUNKS; k++) {
                    if c_score[k] > fs {
                        fs = c_score[k];
                        j = c_cut[k];
                    }
                }
                if fs >= 0.0lf && (best_f == NONE || fs > best_score) {
                    let pj = prefix(j);
                    best_score = fs;
                    best_f = f;
                    best_cut = j;
                    best_wl = pj.x;
                    best_sl = pj.yz;
                }
            }
        }
        let cd = depth + 1u;
        if lid == 0u {
            let wr = w_all - best_wl;
            let more = cd < max_depth && (best_wl >= min_split || wr >= min_split);
            pick = vec4<u32>(best_f, best_cut, best_wl, select(0u, 1u, more));
        }
        let pk = workgroupUniformLoad(&pick);
        if pk.x == NONE {
            if lid == 0u {
                nodes[t * cap + id] = leaf(w_all, s_all);
            }
            continue;
        }
        if pk.w != 0u {
            // Partition: rows with bin ≤ cut from the segment's start, the others from its end.
            let fbase = pk.x * n;
            for (var k = lid; k < len; k += GROUP) {
                let r = rows_cur[start + k];
                if bin_at(fbase + r) <= pk.y {
                    rows_next[start + atomicAdd(&a_nl, 1u)] = r;
                } else {
                    rows_next[start + len - 1u - atomicAdd(&a_nr, 1u)] = r;
                }
            }
            workgroupBarrier();
        }
        if lid == 0u {
            let left = atomicAdd(&node_count[t], 2u);
            if left >= cap || cap - left < 2u {
                atomicOr(&ctl[CTL_ERR], 1u);
            } else {
                let base = t * cap;
                let wl = best_wl;
                let wr = w_all - wl;
                nodes[base + id] = Node(i32(best_f), best_cut, left, w_all, s_all.x, s_all.y);
                nodes[base + left] = leaf(wl, best_sl);
                nodes[base + left + 1u] = leaf(wr, sub64(s_all, best_sl));
                if cd < max_depth {
                    let nl = atomicLoad(&a_nl);
                    let slot = depth & 1u;
                    if wl >= min_split {
                        open_next[atomicAdd(&ctl[slot], 1u)] = vec4<u32>(t, left, ent.z, nl);
                    }
                    if wr >= min_split {
                        open_next[atomicAdd(&ctl[slot], 1u)] =
                            vec4<u32>(t, left + 1u, ent.z + nl, len - nl);
                    }
                }
            }
        }
    }
}
