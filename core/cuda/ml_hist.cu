// hist-grow on CUDA: whole trees of the histogram-mode forest (core/src/forest/hist.rs, module
// docs: the rule; core/src/gpu/hist.rs: the operands) grown level by level on the device.
// Compiled by NVRTC at first use with `--fmad=false`; the only floating-point values are the
// split scores, formed with round-to-nearest intrinsics exactly as hist_score in Rust does, so
// every backend picks the same splits. Every sum is an integer (weights u32, Σ w·yq u64, both
// wrapping), so the order in which rows are added, partitioned or enqueued changes nothing.
//
// Kernels (the host loop is in core/src/gpu/cuda/hist.rs):
// - hist_compact: grid (row blocks, trees, grid-stride over trees). Appends each row of weight > 0 to its tree's row
//   list rows[t·n_rows + k] (one atomicAdd per warp on tree_len[t]).
// - hist_roots: one thread per tree. Open entry t = the tree's root (node 0, all its rows);
//   node_count[t] = 1.
// - hist_level: one block of 256 threads per open entry (grid-stride over the entries). Node
//   sums W, S and the least/greatest yq; the leaf rules; for each feature a 256-bin histogram
//   in shared memory, an inclusive scan over the bins, each thread scoring the cut after its
//   bin, a block argmax (lowest cut among equal scores); the best over features (strictly
//   greater wins); then the node's rows are split into the other row list within the node's
//   segment (left from the start up, right from the end down; only when a child is enqueued),
//   two child ids are taken from node_count[t], the node's record and both children's leaf records are written, and each
//   child that may split (depth + 1 < max_depth, W ≥ min_split) is enqueued for the next
//   level, whose launch overwrites its record.
//
// Error bits OR-ed into *err: 1 = a tree needed more than node_cap nodes.

typedef unsigned int u32;
typedef unsigned long long u64;

#define HB 256u
#define LEAF_ID 0xffffffffu
#define ERR_NODE_CAP 1u

struct Open {
    u32 tree;
    u32 node;
    u32 start;  // first row of the node in its tree's row list
    u32 len;    // rows of the node
    u32 depth;
};

struct HistNode {
    int feature;
    u32 cut;
    u32 left;
    u32 weight;
    u32 sum_lo;
    u32 sum_hi;
};

__device__ __forceinline__ HistNode hist_leaf(u32 w, u64 s) {
    HistNode n;
    n.feature = -1;
    n.cut = 0;
    n.left = LEAF_ID;
    n.weight = w;
    n.sum_lo = (u32)s;
    n.sum_hi = (u32)(s >> 32);
    return n;
}

// S_L²/W_L + S_R²/W_R, each sum converted to f64 once (correctly rounded), as hist_score.
__device__ __forceinline__ double hist_score(u32 wl, u64 sl, u32 wr, u64 sr) {
    double a = __ull2double_rn(sl), b = __ull2double_rn(sr);
    return __dadd_rn(__ddiv_rn(__dmul_rn(a, a), __uint2double_rn(wl)),
                     __ddiv_rn(__dmul_rn(b, b), __uint2double_rn(wr)));
}

extern "C" __global__ void hist_compact(const u32* __restrict__ w, u32* __restrict__ rows,
                                        u32* __restrict__ tree_len, u32 n_rows, u32 n_trees) {
    const u32 r = blockIdx.x * blockDim.x + threadIdx.x;
    const u32 lane = threadIdx.x & 31u;
    for (u32 t = blockIdx.y; t < n_trees; t += gridDim.y) {
        const u64 base = (u64)t * n_rows;
        const bool keep = r < n_rows && w[base + r] > 0;
        const u32 mask = __ballot_sync(0xffffffffu, keep);
        u32 first = 0;
        if (lane == 0 && mask != 0) first = atomicAdd(&tree_len[t], (u32)__popc(mask));
        first = __shfl_sync(0xffffffffu, first, 0);
        if (keep) rows[base + first + (u32)__popc(mask & ((1u << lane) - 1u))] = r;
    }
}

extern "C" __global__ void hist_roots(const u32* __restrict__ tree_len, Open* __restrict__ open,
                                      u32* __restrict__ node_count, u32 n_trees) {
    u32 t = blockIdx.x * blockDim.x + threadIdx.x;
    if (t >= n_trees) return;
    Open o;
    o.tree = t;
    o.node = 0;
    o.start = 0;
    o.len = tree_len[t];
    o.depth = 0;
    open[t] = o;
    node_count[t] = 1;
}

// Inclusive scan of (c, s) over the block's 256 threads (thread j holds bin j).
__device__ __forceinline__ void block_scan(u32& c, u64& s, u32* wc, u64* ws) {
    u32 lane = threadIdx.x & 31u, warp = threadIdx.x >> 5;
#pragma unroll
    for (u32 k = 1; k < 32; k <<= 1) {
        u32 oc = __shfl_up_sync(0xffffffffu, c, k);
        u64 os = __shfl_up_sync(0xffffffffu, s, k);
        if (lane >= k) {
            c += oc;
            s += os;
        }
    }
    if (lane == 31) {
        wc[warp] = c;
        ws[warp] = s;
    }
    __syncthreads();
    for (u32 k = 0; k < warp; ++k) {
        c += wc[k];
        s += ws[k];
    }
}

// Block argmax of (score, j): the highest score, the lowest j among equal ones (score < 0:
// no valid cut). Returns the winner to every thread.
__device__ __forceinline__ void block_argmax(double& sc, u32& j, double* bs, u32* bj) {
    u32 lane = threadIdx.x & 31u, warp = threadIdx.x >> 5;
#pragma unroll
    for (u32 k = 16; k > 0; k >>= 1) {
        double os = __shfl_down_sync(0xffffffffu, sc, k);
        u32 oj = __shfl_down_sync(0xffffffffu, j, k);
        if (os > sc || (os == sc && oj < j)) {
            sc = os;
            j = oj;
        }
    }
    if (lane == 0) {
        bs[warp] = sc;
        bj[warp] = j;
    }
    __syncthreads();
    sc = bs[0];
    j = bj[0];
    for (u32 k = 1; k < HB / 32; ++k) {
        if (bs[k] > sc || (bs[k] == sc && bj[k] < j)) {
            sc = bs[k];
            j = bj[k];
        }
    }
}

extern "C" __global__ void __launch_bounds__(256) hist_level(
    const unsigned char* __restrict__ bins, const u32* __restrict__ n_bins,
    const u32* __restrict__ yq, const u32* __restrict__ w, const u32* __restrict__ rows_cur,
    u32* __restrict__ rows_next, const Open* __restrict__ open, const u32* __restrict__ open_count,
    Open* __restrict__ next, u32* __restrict__ next_count, HistNode* __restrict__ nodes,
    u32* __restrict__ node_count, u32 n_rows, u32 d, u32 node_cap, u32 min_split, u32 min_leaf,
    u32 max_depth, u32* __restrict__ err) {
    __shared__ u32 h_cnt[HB];
    __shared__ u64 h_sum[HB];
    __shared__ u32 wc[HB / 32];
    __shared__ u64 ws[HB / 32];
    __shared__ double bs[HB / 32];
    __shared__ u32 bj[HB / 32];
    __shared__ u32 s_w, s_qmin, s_qmax, s_nl, s_nr;
    __shared__ u64 s_s;
    __shared__ double best_score;
    __shared__ int best_f;
    __shared__ u32 best_cut, best_wl;
    __shared__ u64 best_sl;
    const u32 tid = threadIdx.x, lane = tid & 31u;
    const u32 count = *open_count;
    for (u32 e = blockIdx.x; e < count; e += gridDim.x) {
        __syncthreads();  // the previous entry's shared values are read by now
        const Open o = open[e];
        const u64 base = (u64)o.tree * n_rows;
        const u32* R = rows_cur + base + o.start;
        const u32* W = w + base;
        if (tid == 0) {
            s_w = 0;
            s_s = 0;
            s_qmin = 0xffffffffu;
            s_qmax = 0;
            s_nl = 0;
            s_nr = 0;
            best_f = -1;
        }
        __syncthreads();
        u32 lw = 0, lmin = 0xffffffffu, lmax = 0;
        u64 ls = 0;
        for (u32 i = tid; i < o.len; i += HB) {
            u32 r = R[i], wr = W[r], q = yq[r];
            lw += wr;
            ls += (u64)wr * q;
            lmin = min(lmin, q);
            lmax = max(lmax, q);
        }
#pragma unroll
        for (u32 k = 16; k > 0; k >>= 1) {
            lw += __shfl_down_sync(0xffffffffu, lw, k);
            ls += __shfl_down_sync(0xffffffffu, ls, k);
            lmin = min(lmin, __shfl_down_sync(0xffffffffu, lmin, k));
            lmax = max(lmax, __shfl_down_sync(0xffffffffu, lmax, k));
        }
        if (lane == 0) {
            atomicAdd(&s_w, lw);
            atomicAdd(&s_s, ls);
            atomicMin(&s_qmin, lmin);
            atomicMax(&s_qmax, lmax);
        }
        __syncthreads();
        const u32 wn = s_w;
        const u64 sn = s_s;
        const bool leaf = o.depth >= max_depth || wn < min_split || s_qmin == s_qmax;
        if (!leaf) {
            for (u32 f = 0; f < d; ++f) {
                const u32 nb = min(n_bins[f], HB);
                if (nb < 2) continue;
                h_cnt[tid] = 0;
                h_sum[tid] = 0;
                __syncthreads();
                const unsigned char* B = bins + (u64)f * n_rows;
                for (u32 i = tid; i < o.len; i += HB) {
                    u32 r = R[i], b = B[r];
                    if (b < nb) {
                        u32 wr = W[r];
                        atomicAdd(&h_cnt[b], wr);
                        atomicAdd(&h_sum[b], (u64)wr * yq[r]);
                    }
                }
                __syncthreads();
                u32 c = h_cnt[tid];
                u64 s = h_sum[tid];
                block_scan(c, s, wc, ws);
                h_cnt[tid] = c;  // each thread rewrites only its own bin
                h_sum[tid] = s;
                const u32 wr = wn - c;
                double sc = -1.0;
                if (tid + 1 < nb && c >= min_leaf && wr >= min_leaf)
                    sc = hist_score(c, s, wr, sn - s);
                u32 j = tid;
                block_argmax(sc, j, bs, bj);
                if (tid == 0 && sc >= 0.0 && (best_f < 0 || sc > best_score)) {
                    best_score = sc;
                    best_f = (int)f;
                    best_cut = j;
                    best_wl = h_cnt[j];
                    best_sl = h_sum[j];
                }
                __syncthreads();
            }
        }
        __syncthreads();
        HistNode* tree_nodes = nodes + (u64)o.tree * node_cap;
        if (leaf || best_f < 0) {
            if (tid == 0) tree_nodes[o.node] = hist_leaf(wn, sn);
            continue;
        }
        const unsigned char* B = bins + (u64)best_f * n_rows;
        const u32 cut = best_cut;
        u32* Rn = rows_next + base + o.start;
        // The rows move only when a child goes on to the next level.
        const bool deeper = o.depth + 1 < max_depth;
        const bool moved = deeper && (best_wl >= min_split || wn - best_wl >= min_split);
        for (u32 i0 = 0; moved && i0 < o.len; i0 += HB) {
            u32 i = i0 + tid;
            bool in = i < o.len;
            u32 r = in ? R[i] : 0;
            bool left = in && (u32)B[r] <= cut;
            bool right = in && !left;
            u32 ml = __ballot_sync(0xffffffffu, left), mr = __ballot_sync(0xffffffffu, right);
            u32 pl = 0, pr = 0;
            if (lane == 0) {
                if (ml) pl = atomicAdd(&s_nl, (u32)__popc(ml));
                if (mr) pr = atomicAdd(&s_nr, (u32)__popc(mr));
            }
            pl = __shfl_sync(0xffffffffu, pl, 0);
            pr = __shfl_sync(0xffffffffu, pr, 0);
            u32 below = (1u << lane) - 1u;
            if (left) Rn[pl + (u32)__popc(ml & below)] = r;
            if (right) Rn[o.len - 1u - (pr + (u32)__popc(mr & below))] = r;
        }
        __syncthreads();
        if (tid == 0) {
            const u32 nl = s_nl;
            const u32 c = atomicAdd(&node_count[o.tree], 2u);
            if (c >= node_cap || node_cap - c < 2u) {
                atomicOr(err, ERR_NODE_CAP);
                tree_nodes[o.node] = hist_leaf(wn, sn);
            } else {
                HistNode p = hist_leaf(wn, sn);
                p.feature = best_f;
                p.cut = cut;
                p.left = c;
                tree_nodes[o.node] = p;
                const u32 cw[2] = {best_wl, wn - best_wl};
                const u64 cs[2] = {best_sl, sn - best_sl};
                const u32 cst[2] = {o.start, o.start + nl};
                const u32 cln[2] = {nl, o.len - nl};
                for (u32 k = 0; k < 2; ++k) {
                    tree_nodes[c + k] = hist_leaf(cw[k], cs[k]);
                    if (o.depth + 1 < max_depth && cw[k] >= min_split) {
                        Open ch;
                        ch.tree = o.tree;
                        ch.node = c + k;
                        ch.start = cst[k];
                        ch.len = cln[k];
                        ch.depth = o.depth + 1;
                        next[atomicAdd(next_count, 1u)] = ch;
                    }
                }
            }
        }
    }
}
