// offload's random-forest kernels on CUDA (bootstrap-sample, find-split, average,
// batch-predict), compiled by NVRTC at first use with `--fmad=false` (see
// core/src/gpu/cuda.rs). Each must give the same bits as the reference in core/src/forest.rs
// and the cpu backend, so every floating-point operation that decides a result is spelled
// with a round-to-nearest intrinsic (__dadd_rn, __dmul_rn, __ddiv_rn, __fadd_rn, ...): those
// are never contracted into FMAs, whatever the compiler flags, and round exactly as Rust's
// `+ - * /` on f64/f32 do.
//
// Random numbers: PCG32 (PCG-XSH-RR, 64-bit state; M. E. O'Neill, "PCG: A Family of Simple
// Fast Space-Efficient Statistically Good Algorithms for Random Number Generation",
// HMC-CS-2014-0905), seeded like core/src/rng.rs. cuRAND is not used: none of its generators
// reproduces that stream, and the bootstrap counts must equal forest::bootstrap_counts.

typedef unsigned int u32;
typedef unsigned long long u64;

#define PCG_MULT 6364136223846793005ULL
#define NONE_U32 0xffffffffu

// Error bits of find-split, OR-ed into a device word and turned into InvalidArgument by the host.
#define ERR_ORDER_ROW 1u   // order holds a row index >= n_rows
#define ERR_NODE_ID 2u     // node_of holds a node id >= n_nodes (other than u32::MAX)
#define ERR_TWO_TREES 4u   // a node holds rows (weight > 0) of two trees

struct Pcg32 {
    u64 state;
    u64 inc;
};

__device__ __forceinline__ u32 pcg_next(Pcg32& r) {
    u64 old = r.state;
    r.state = old * PCG_MULT + r.inc;
    u32 xorshifted = (u32)(((old >> 18) ^ old) >> 27);
    u32 rot = (u32)(old >> 59);
    return (xorshifted >> rot) | (xorshifted << ((32u - rot) & 31u));
}

// pcg32_srandom_r(seed, stream), as Pcg32::new in core/src/rng.rs.
__device__ __forceinline__ Pcg32 pcg_new(u64 seed, u64 stream) {
    Pcg32 r;
    r.state = 0;
    r.inc = (stream << 1) | 1ULL;
    pcg_next(r);
    r.state += seed;
    pcg_next(r);
    return r;
}

// Advances the LCG by `delta` steps in O(log delta): F. B. Brown, "Random Number Generation
// with Arbitrary Strides", Trans. Am. Nucl. Soc. 71 (1994), as in the PCG reference's
// pcg_advance_lcg_64.
__device__ __forceinline__ void pcg_advance(Pcg32& r, u64 delta) {
    u64 cur_mult = PCG_MULT, cur_plus = r.inc, acc_mult = 1, acc_plus = 0;
    while (delta > 0) {
        if (delta & 1) {
            acc_mult *= cur_mult;
            acc_plus = acc_plus * cur_mult + cur_plus;
        }
        cur_plus = (cur_mult + 1) * cur_plus;
        cur_mult *= cur_mult;
        delta >>= 1;
    }
    r.state = acc_mult * r.state + acc_plus;
}

// bootstrap-sample. One thread per (tree, chunk of `chunk` draws): the thread jumps its tree's
// generator ahead to its first draw and counts its draws into out[t * n_rows + row] with
// atomicAdd (integer counts, so the order of the additions does not matter). `out` must be
// zeroed first. Grid: n_trees * n_chunks threads (1-D, u64 index).
extern "C" __global__ void ml_bootstrap(u64 seed, u32 first_tree, u32 n_trees, u32 n_rows,
                                        u32 chunk, u32 n_chunks, u32* __restrict__ out) {
    u64 g = (u64)blockIdx.x * blockDim.x + threadIdx.x;
    if (g >= (u64)n_trees * n_chunks) return;
    u32 t = (u32)(g / n_chunks), c = (u32)(g % n_chunks);
    u64 first = (u64)c * chunk;
    if (first >= n_rows) return;
    u64 last = first + chunk;
    if (last > n_rows) last = n_rows;
    Pcg32 r = pcg_new(seed, 2ULL * ((u64)first_tree + t));
    pcg_advance(r, first);
    u32* row = out + (u64)t * n_rows;
    for (u64 k = first; k < last; ++k) {
        u32 v = (u32)(((u64)pcg_next(r) * n_rows) >> 32);
        atomicAdd(row + v, 1u);
    }
}

// Result of find-split per (node, feature) in scratch memory (64 bytes), written by
// ml_split_eval for every (node, feature), read by ml_split_pick.
struct SplitState {
    u64 w_tot;        // node weight
    double s_tot;     // Σ w·y in this feature's order
    u64 w_l;          // weight of all rows (pass 2's final running sum)
    double s_l;       // Σ w·y of all rows (pass 2's final running sum, equal to s_tot)
    double best_score;
    u64 best_wl;
    float last;       // value of the node's last row
    float best_thr;
    u32 flags;        // SEEN: the node has rows; BEST: best_* hold a valid split
    u32 pad;
};
#define ST_SEEN 1u
#define ST_BEST 2u

// One SplitRecord of core/src/gpu/mod.rs (24 bytes).
struct SplitRecord {
    double score;
    int feature;
    float threshold;
    u32 weight_left;
    u32 pad;
};

// find-split runs in four kernels over scratch memory the backend owns (see cuda.rs for its
// layout), then ml_split_pick:
// 1. ml_split_count, one thread per (tree, row): counts each node's rows (weight > 0) and
//    checks that every node's rows lie in one tree (owner[j], claimed by atomicCAS).
// 2. ml_split_offsets, one block: exclusive prefix sum of the counts (each node's first slot).
// 3. ml_split_bucket, one warp per (tree t, feature f): walks order[f] 32 rows at a time and
//    writes each row of a node that has f as a candidate into that node's slots of feature f,
//    *stably* (in value order): lanes of one node find each other with __match_any_sync, the
//    group's first lane reserves the group's slots with one atomicAdd on the node's cursor, and
//    each lane takes the slot of its rank within the group. Successive chunks are ordered:
//    an atomic's result is consumed before __syncwarp, so the next chunk's atomic on the same
//    cursor comes after it.
// 4. ml_split_eval, one warp per (node j, feature f): walks the node's rows of feature f 32 at
//    a time. Pass 1 sums the node's weight W and S = Σ w·y in that order; pass 2 evaluates, for
//    every row but the first, the split just before it (between the previous row's value lo and
//    this row's value hi, when lo < hi, as forest::scan_feature does between rows k and k+1):
//    both sides >= min_leaf, score = S_L²/W_L + S_R²/W_R, threshold = lo + (hi − lo)·0.5f, or lo
//    when that rounds to hi. The f64 sums are the exact sequential sums of the reference (the
//    warp adds the 32 values one after the other, never reassociated); the scores of the 32
//    rows are computed in parallel and reduced to the first maximum (a later split replaces an
//    earlier one only with a strictly higher score, the reference's rule; for finite targets).

#define FULL_MASK 0xffffffffu

extern "C" __global__ void ml_split_count(const u32* __restrict__ weights, const u32* __restrict__ node_of,
                                          u32* __restrict__ owner, u32* __restrict__ count, u32 n_rows,
                                          u32 n_trees, u32 n_nodes, u32* __restrict__ err) {
    u32 bad = 0;
    const u64 total = (u64)n_trees * n_rows;
    for (u64 g = (u64)blockIdx.x * blockDim.x + threadIdx.x; g < total; g += (u64)gridDim.x * blockDim.x) {
        u32 j = __ldg(node_of + g);
        if (j == NONE_U32) continue;
        if (j >= n_nodes) { bad |= ERR_NODE_ID; continue; }
        if (__ldg(weights + g) == 0) continue;
        u32 t = (u32)(g / n_rows);
        if (((volatile u32*)owner)[j] != t) {
            u32 o = atomicCAS(owner + j, NONE_U32, t);
            if (o != NONE_U32 && o != t) bad |= ERR_TWO_TREES;
        }
        atomicAdd(count + j, 1u);
    }
    if (bad) atomicOr(err, bad);
}

// One block of 1024 threads: offset[j] = Σ_{i<j} count[i] (Σ count <= n_trees·n_rows < 2^32).
extern "C" __global__ void ml_split_offsets(const u32* __restrict__ count, u32* __restrict__ offset, u32 n_nodes) {
    __shared__ u32 sums[1024];
    const u32 tid = threadIdx.x;
    const u64 per = ((u64)n_nodes + 1023) / 1024;
    u64 lo = tid * per, hi = lo + per;
    if (lo > n_nodes) lo = n_nodes;
    if (hi > n_nodes) hi = n_nodes;
    u32 s = 0;
    for (u64 i = lo; i < hi; ++i) s += count[i];
    sums[tid] = s;
    __syncthreads();
    for (u32 off = 1; off < 1024; off <<= 1) {
        u32 v = tid >= off ? sums[tid - off] : 0;
        __syncthreads();
        sums[tid] += v;
        __syncthreads();
    }
    u32 base = tid > 0 ? sums[tid - 1] : 0;
    for (u64 i = lo; i < hi; ++i) {
        offset[i] = base;
        base += count[i];
    }
}

extern "C" __global__ void ml_split_bucket(const u32* __restrict__ order, const u32* __restrict__ weights,
                                           const u32* __restrict__ node_of, const u32* __restrict__ cand_rank,
                                           const u32* __restrict__ count, const u32* __restrict__ offset,
                                           u32* __restrict__ cursor, u32* __restrict__ rows, u64 cap, u32 n_rows,
                                           u32 d, u32 n_trees, u32 n_nodes, u32* __restrict__ err) {
    const u64 wid = ((u64)blockIdx.x * blockDim.x + threadIdx.x) / 32;
    const u32 lane = threadIdx.x & 31;
    if (wid >= (u64)n_trees * d) return;  // uniform across the warp
    const u32 t = (u32)(wid / d), f = (u32)(wid % d);
    const u32* ord = order + (u64)f * n_rows;
    const u32* wt = weights + (u64)t * n_rows;
    const u32* nd = node_of + (u64)t * n_rows;
    u32* out = rows + (u64)f * cap;
    u32 bad = 0;
    for (u32 k0 = 0; k0 < n_rows; k0 += 32) {
        u32 k = k0 + lane, j = NONE_U32, r = 0;
        if (k < n_rows) {
            r = __ldg(ord + k);
            if (r >= n_rows) {
                bad |= ERR_ORDER_ROW;
            } else {
                u32 jj = __ldg(nd + r);
                if (jj < n_nodes && __ldg(wt + r) > 0 && __ldg(cand_rank + (u64)jj * d + f) != NONE_U32) j = jj;
            }
        }
        const u32 peers = __match_any_sync(FULL_MASK, j);
        if (j != NONE_U32) {
            const u32 leader = __ffs(peers) - 1;
            const u32 rank = __popc(peers & ((1u << lane) - 1u));
            u32 base = 0;
            if (lane == leader) base = atomicAdd(cursor + (u64)j * d + f, (u32)__popc(peers));
            base = __shfl_sync(peers, base, leader);
            const u32 pos = base + rank;
            if (pos < __ldg(count + j)) {
                out[(u64)__ldg(offset + j) + pos] = r;
            } else {
                bad |= ERR_ORDER_ROW;  // order is not a permutation of the rows
            }
        }
        __syncwarp();
    }
    if (bad) atomicOr(err, bad);
}

extern "C" __global__ void ml_split_eval(const float* __restrict__ x, const double* __restrict__ y,
                                         const u32* __restrict__ weights, const u32* __restrict__ cand_rank,
                                         const u32* __restrict__ count, const u32* __restrict__ offset,
                                         const u32* __restrict__ owner, const u32* __restrict__ rows, u64 cap,
                                         SplitState* __restrict__ state, u32 n_rows, u32 d, u32 n_nodes,
                                         u32 min_leaf, u32* __restrict__ err) {
    const u64 wid = ((u64)blockIdx.x * blockDim.x + threadIdx.x) / 32;
    const u32 lane = threadIdx.x & 31;
    if (wid >= (u64)n_nodes * d) return;  // uniform across the warp
    const u32 j = (u32)(wid / d), f = (u32)(wid % d);
    const u32 m = __ldg(count + j);
    SplitState st;
    st.w_tot = 0;
    st.s_tot = 0.0;
    st.w_l = 0;
    st.s_l = 0.0;
    st.best_score = 0.0;
    st.best_wl = 0;
    st.last = 0.0f;
    st.best_thr = 0.0f;
    st.flags = 0;
    st.pad = 0;
    if (m == 0 || __ldg(cand_rank + wid) == NONE_U32) {
        if (lane == 0) state[wid] = st;
        return;
    }
    const u32* rw = rows + (u64)f * cap + __ldg(offset + j);
    const u32* wt = weights + (u64)__ldg(owner + j) * n_rows;
    u32 bad = 0;
    // Pass 1: W and S in this feature's order (S from +0.0, as the reference).
    u64 W = 0;
    double S = 0.0;
    for (u32 k0 = 0; k0 < m; k0 += 32) {
        const u32 k = k0 + lane;
        u32 w = 0;
        double wy = 0.0;
        if (k < m) {
            u32 r = __ldg(rw + k);
            if (r < n_rows) {
                w = __ldg(wt + r);
                wy = __dmul_rn((double)w, __ldg(y + r));
            } else {
                bad |= ERR_ORDER_ROW;
            }
        }
        const u32 valid = m - k0 < 32 ? m - k0 : 32;
#pragma unroll
        for (u32 i = 0; i < 32; ++i) {
            const double v = __shfl_sync(FULL_MASK, wy, i);
            const u32 wi = __shfl_sync(FULL_MASK, w, i);
            if (i < valid) {
                S = __dadd_rn(S, v);
                W += wi;
            }
        }
    }
    // Pass 2: running left sums (exclusive of each lane's row), scores in parallel.
    u64 WL = 0;
    double SL = 0.0;
    float last = 0.0f;
    bool have = false;
    double best_score = 0.0;
    float best_thr = 0.0f;
    u64 best_wl = 0;
    for (u32 k0 = 0; k0 < m; k0 += 32) {
        const u32 k = k0 + lane;
        u32 w = 0;
        double wy = 0.0;
        float hi = 0.0f;
        if (k < m) {
            u32 r = __ldg(rw + k);
            if (r < n_rows) {
                w = __ldg(wt + r);
                wy = __dmul_rn((double)w, __ldg(y + r));
                hi = __ldg(x + (u64)r * d + f);
            }
        }
        const u32 valid = m - k0 < 32 ? m - k0 : 32;
        double my_sl = 0.0;
        u64 my_wl = 0;
#pragma unroll
        for (u32 i = 0; i < 32; ++i) {
            const double v = __shfl_sync(FULL_MASK, wy, i);
            const u32 wi = __shfl_sync(FULL_MASK, w, i);
            if (lane == i) {
                my_sl = SL;
                my_wl = WL;
            }
            if (i < valid) {
                SL = __dadd_rn(SL, v);
                WL += wi;
            }
        }
        const float prev = __shfl_up_sync(FULL_MASK, hi, 1);
        const float lo = lane == 0 ? last : prev;
        int ok = 0;
        double score = 0.0;
        float thr = 0.0f;
        if (k < m && k > 0 && !(lo >= hi)) {
            const u64 wr = W - my_wl;
            if (my_wl >= min_leaf && wr >= min_leaf) {
                const double sr = __dsub_rn(S, my_sl);
                score = __dadd_rn(__ddiv_rn(__dmul_rn(my_sl, my_sl), __ull2double_rn(my_wl)),
                                  __ddiv_rn(__dmul_rn(sr, sr), __ull2double_rn(wr)));
                thr = __fadd_rn(lo, __fmul_rn(__fsub_rn(hi, lo), 0.5f));
                if (thr >= hi) thr = lo;
                ok = 1;
            }
        }
        // First maximum of the chunk: the highest score, the lowest lane (earliest row) among
        // equal scores. A shuffle tree pairs lanes of interleaved sets, so the lane travels
        // with its score and decides ties.
        u64 cwl = my_wl;
        u32 idx = lane;
#pragma unroll
        for (u32 off = 16; off > 0; off >>= 1) {
            const int o_ok = __shfl_down_sync(FULL_MASK, ok, off);
            const double o_score = __shfl_down_sync(FULL_MASK, score, off);
            const float o_thr = __shfl_down_sync(FULL_MASK, thr, off);
            const u64 o_wl = __shfl_down_sync(FULL_MASK, cwl, off);
            const u32 o_idx = __shfl_down_sync(FULL_MASK, idx, off);
            if (lane + off < 32 && o_ok &&
                (!ok || o_score > score || (o_score == score && o_idx < idx))) {
                ok = 1;
                score = o_score;
                thr = o_thr;
                cwl = o_wl;
                idx = o_idx;
            }
        }
        if (lane == 0 && ok && (!have || score > best_score)) {
            have = true;
            best_score = score;
            best_thr = thr;
            best_wl = cwl;
        }
        last = __shfl_sync(FULL_MASK, hi, valid - 1);
    }
    if (lane == 0) {
        st.w_tot = W;
        st.s_tot = S;
        st.w_l = WL;
        st.s_l = SL;
        st.last = last;
        if (have) {
            st.best_score = best_score;
            st.best_thr = best_thr;
            st.best_wl = best_wl;
            st.flags = ST_SEEN | ST_BEST;
        } else {
            st.flags = ST_SEEN;
        }
        state[wid] = st;
        if (bad) atomicOr(err, bad);
    }
}

// find-split, last kernel: one thread per node reduces its candidate features' bests in candidate
// order, i.e. by increasing (rank, feature), keeping a later one only when its score is strictly
// higher (the reference's rule: an exact tie keeps the earlier candidate). The features are
// visited in that order by repeated minimum search, O(d²) per node (d is small).
extern "C" __global__ void ml_split_pick(const SplitState* __restrict__ state,
                                         const u32* __restrict__ cand_rank, SplitRecord* __restrict__ out,
                                         u32 n_nodes, u32 d) {
    u64 j = (u64)blockIdx.x * blockDim.x + threadIdx.x;
    if (j >= n_nodes) return;
    const u32* rank = cand_rank + j * d;
    const SplitState* st = state + j * d;
    SplitRecord rec;
    rec.score = 0.0;
    rec.feature = -1;
    rec.threshold = 0.0f;
    rec.weight_left = 0;
    rec.pad = 0;
    bool have = false;
    // Key of the last feature visited: (rank << 32) | f; visit the next larger key.
    u64 prev = 0;
    bool first = true;
    for (u32 step = 0; step < d; ++step) {
        u64 next = ~0ULL;
        u32 nf = NONE_U32;
        for (u32 f = 0; f < d; ++f) {
            u32 rk = rank[f];
            if (rk == NONE_U32) continue;
            u64 key = ((u64)rk << 32) | f;
            if ((first || key > prev) && key < next) { next = key; nf = f; }
        }
        if (nf == NONE_U32) break;
        prev = next;
        first = false;
        const SplitState& s = st[nf];
        if ((s.flags & ST_BEST) && (!have || s.best_score > rec.score)) {
            have = true;
            rec.score = s.best_score;
            rec.feature = (int)nf;
            rec.threshold = s.best_thr;
            rec.weight_left = s.best_wl > 0xffffffffULL ? 0xffffffffu : (u32)s.best_wl;
        }
    }
    out[j] = rec;
}

// average: out[r] = (Σ_t preds[t·n_rows + r]) / n_trees, summed in tree order from -0.0 (as
// Rust's `Iterator::sum` of floats), in f64 or f32. One thread per row (grid-stride).
extern "C" __global__ void ml_average_f64(const float* __restrict__ preds, u32 n_trees, u32 n_rows,
                                          double* __restrict__ out) {
    for (u64 r = (u64)blockIdx.x * blockDim.x + threadIdx.x; r < n_rows; r += (u64)gridDim.x * blockDim.x) {
        double acc = -0.0;
        for (u32 t = 0; t < n_trees; ++t) acc = __dadd_rn(acc, (double)__ldg(preds + (u64)t * n_rows + r));
        out[r] = __ddiv_rn(acc, (double)n_trees);
    }
}

extern "C" __global__ void ml_average_f32(const float* __restrict__ preds, u32 n_trees, u32 n_rows,
                                          float* __restrict__ out) {
    for (u64 r = (u64)blockIdx.x * blockDim.x + threadIdx.x; r < n_rows; r += (u64)gridDim.x * blockDim.x) {
        float acc = -0.0f;
        for (u32 t = 0; t < n_trees; ++t) acc = __fadd_rn(acc, __ldg(preds + (u64)t * n_rows + r));
        out[r] = __fdiv_rn(acc, (float)n_trees);
    }
}

// The leaf value tree `t` gives row `xr`: walk from the root (x[f] <= threshold goes left).
// A malformed forest never makes the walk read outside the node arrays: a root or child index
// out of range, or a feature index >= n_features, stops the walk at the current node (a bad
// root gives 0), and at most n_nodes steps are taken.
__device__ __forceinline__ float tree_leaf(const int* __restrict__ feature, const float* __restrict__ threshold,
                                           const int* __restrict__ left, const int* __restrict__ right,
                                           const float* __restrict__ value, u32 start, u32 n_nodes,
                                           u32 n_features, const float* __restrict__ xr) {
    if (start >= n_nodes) return 0.0f;
    u32 i = start;
    for (u32 step = 0; step < n_nodes; ++step) {
        int f = __ldg(feature + i);
        if (f < 0 || (u32)f >= n_features) break;
        int c = xr[f] <= __ldg(threshold + i) ? __ldg(left + i) : __ldg(right + i);
        if (c < 0) break;
        u64 ni = (u64)start + (u32)c;
        if (ni >= n_nodes) break;
        i = (u32)ni;
    }
    return __ldg(value + i);
}

// batch-predict: one thread per row (grid-stride) walks every tree and writes the mean of the
// leaf values, summed in tree order from -0.0 in f64 (equal to Forest::predict) or f32.
#define BATCH_PREDICT(SUF, T, ADD, DIV, ZERO)                                                           \
    extern "C" __global__ void ml_batch_predict_##SUF(                                                  \
        const int* __restrict__ feature, const float* __restrict__ threshold, const int* __restrict__ left, \
        const int* __restrict__ right, const float* __restrict__ value, const u32* __restrict__ tree_start, \
        u32 n_trees, u32 n_nodes, u32 n_features, const float* __restrict__ x, u32 n_rows,             \
        T* __restrict__ out) {                                                                          \
        for (u64 r = (u64)blockIdx.x * blockDim.x + threadIdx.x; r < n_rows;                           \
             r += (u64)gridDim.x * blockDim.x) {                                                        \
            const float* xr = x + r * n_features;                                                       \
            T acc = ZERO;                                                                               \
            for (u32 t = 0; t < n_trees; ++t) {                                                         \
                float v = tree_leaf(feature, threshold, left, right, value, __ldg(tree_start + t),      \
                                    n_nodes, n_features, xr);                                           \
                acc = ADD(acc, (T)v);                                                                   \
            }                                                                                           \
            out[r] = DIV(acc, (T)n_trees);                                                              \
        }                                                                                               \
    }

BATCH_PREDICT(f64, double, __dadd_rn, __ddiv_rn, -0.0)
BATCH_PREDICT(f32, float, __fadd_rn, __fdiv_rn, -0.0f)
