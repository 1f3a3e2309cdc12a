//! The tree grower behind [`Forest::fit`](super::Forest::fit) and
//! [`Forest::fit_parallel`](super::Forest::fit_parallel): depth first over presorted
//! row lists, with per-forest tables and per-thread buffers reused from tree to tree.
//!
//! It grows the same trees, bit for bit, as calling the reference building blocks
//! ([`node_summary`](super::node_summary), [`node_candidates`],
//! [`scan_feature`](crate::tree::scan_feature)) node by
//! node, because every floating-point value it compares is formed by the same operations
//! in the same order. What it changes is only how the work is scheduled:
//!
//! - **Tabulated products.** Per tree, `wy[r] = w[r] as f64 · y[r]`: the very product the
//!   reference forms inline before adding it to `S_L` / `S_T`.
//! - **Prefix sums, features interleaved** ([`gather`]). For each candidate feature the
//!   running sums `S_L` over the node's rows in that feature's order are computed once
//!   and stored (`ps[k]` = the reference's `sl` after row `k`); `S_T` is the last of them,
//!   i.e. the same additions in the same order as the reference's total pass. Up to
//!   [`LANES`] features are summed in one loop, so their addition chains (each bound by
//!   the latency of an f64 add) run side by side instead of one after the other.
//! - **Bound first, exact score where it can matter** ([`bounds`], [`rescan`]). Every
//!   split position first gets, without a branch or a division, the bound
//!   `B = S_L²·(1/W_L) + S_R²·(1/W_R)` (reciprocals from a per-forest table). `B` differs
//!   from the exact score `E = S_L²/W_L + S_R²/W_R` by at most ~5 ulp relative plus a few
//!   subnormal units absolute (both are sums of two non-negative terms), so a position
//!   with `B < B_max·(1 − 10⁻¹²) − 10⁻³⁰⁰`, `B_max` the highest bound of the node so far,
//!   scores `E` below the `E` of the position holding `B_max`: it can be neither the
//!   node's best split nor tie with it. Only the others (in practice the best position
//!   and its near ties) get `E`, in the reference's order and with its strict `>` test,
//!   so the winner (the first position with the highest `E`) is unchanged. Where `S_T`
//!   is not finite (NaN or ±∞ targets, overflow) or `B_max` is +∞, the group of features
//!   takes the reference's exact scan instead ([`scan_exact`]).
//! - **Small nodes** (at most [`SMALL_NODE`] rows, most nodes of a deep tree) skip that
//!   set-up and run the reference scan directly ([`scan_small`]).
//! - **Branch-free stable partition** ([`partition`]) of every feature's row list after a
//!   split, from one of two buffers into the same range of the other; the split
//!   feature's list, already left rows first (checked), is copied.
//! - `W`, `S`, `S2` and the leaf rules are [`node_summary`](super::node_summary)'s own code
//!   ([`summarize`](super::summarize), [`leaf_rule`](super::leaf_rule)).

use alloc::vec;
use alloc::vec::Vec;

use super::{child_key, leaf_rule, node_candidates, presort, summarize, ForestParams, Tree};
use crate::data::Dataset;
use crate::tree::{bootstrap_counts, offer_split, split_score, Split};

/// Candidate features whose prefix sums are computed in one loop (independent f64
/// addition chains in flight at once).
const LANES: usize = 4;

/// Nodes of at most this many rows are scanned directly ([`scan_small`]): their few
/// positions do not repay the set-up of [`gather`], [`bounds`] and [`rescan`].
const SMALL_NODE: usize = 8;

/// Relative slack of the score bound (its error is below 10⁻¹⁵ relative).
const REL_SLACK: f64 = 1e-12;
/// Absolute slack of the score bound (covers subnormal rounding of the two quotients).
const ABS_SLACK: f64 = 1e-300;

/// Per-forest tables shared (read-only) by every tree.
pub(super) struct Presorted {
    /// Rows (`n_rows`).
    n: usize,
    /// Features.
    d: usize,
    /// [`presort`]: `d × n` row indices, feature `f`'s rows at `f·n..(f+1)·n`.
    order: Vec<u32>,
    /// `x` feature-major: `xt[f·n + r] = x[r·d + f]` (`d × n` f32).
    xt: Vec<f32>,
    /// `inv[w] = 1 / w` for `w` in `1..=n` (`inv[0]` = 0, unused): a node's weight is
    /// at most the tree's, which is `n` (bootstrap counts sum to `n`; else 1 per row).
    inv: Vec<f64>,
}

impl Presorted {
    /// Presorts `data` (`n_rows ≥ 1`, `n_features ≥ 1`) and builds the tables.
    pub(super) fn new(data: &Dataset) -> Self {
        let (n, d) = (data.n_rows, data.n_features);
        let mut xt = vec![0.0f32; n * d];
        for (r, row) in data.x.chunks_exact(d).enumerate() {
            for (f, &v) in row.iter().enumerate() {
                xt[f * n + r] = v;
            }
        }
        let inv = (0..=n)
            .map(|w| if w == 0 { 0.0 } else { 1.0 / w as f64 })
            .collect();
        Presorted {
            n,
            d,
            order: presort(data),
            xt,
            inv,
        }
    }
}

/// A node waiting to be grown: its id, its range `start..end` of every feature's row
/// list, which of the two list buffers holds them, its depth and its path key.
#[derive(Clone, Copy)]
struct Open {
    id: usize,
    start: usize,
    end: usize,
    buf: usize,
    depth: usize,
    key: u64,
}

/// Buffers of one thread, reused from tree to tree (sizes in elements).
#[derive(Default)]
pub(super) struct Scratch {
    /// Bootstrap weight per row (`n`).
    w_of: Vec<u32>,
    /// `w_of[r] as f64 · y[r]` per row (`n`).
    wy: Vec<f64>,
    /// The tree's rows (weight > 0) per feature in value order, twice: `2 × (d × m + 1)`.
    /// Feature `f`'s list lies at `f·m..(f+1)·m` of a buffer; a node is a range of each
    /// list, in buffer `depth mod 2` (a split writes its children's lists, partitioned,
    /// into the same range of the other buffer).
    order: [Vec<u32>; 2],
    /// Per position of up to [`LANES`] features of one node (`LANES × len` each): `S_L`
    /// (prefix sums of `w·y`), `W_L` (prefix sums of `w`), the feature's value, and the
    /// score bound of [`bounds`].
    ps: Vec<f64>,
    wlp: Vec<u64>,
    xs: Vec<f32>,
    ap: Vec<f64>,
    /// Side of each row at the split being applied (`n`).
    goes_left: Vec<bool>,
    /// Candidate features of the node.
    cand: Vec<usize>,
    /// Nodes still to grow.
    stack: Vec<Open>,
}

/// Grows tree `t` of the forest (see the module docs of `forest` for the algorithm).
pub(super) fn grow_tree(
    data: &Dataset,
    pre: &Presorted,
    p: &ForestParams,
    t: u64,
    s: &mut Scratch,
) -> Tree {
    let (n, d) = (pre.n, pre.d);
    if p.bootstrap {
        s.w_of = bootstrap_counts(n, p.seed, t);
    } else {
        s.w_of.clear();
        s.w_of.resize(n, 1);
    }
    let w_of = &s.w_of;
    s.wy.clear();
    s.wy.extend(w_of.iter().zip(&data.y).map(|(&w, &y)| w as u64 as f64 * y));
    let m = w_of.iter().filter(|&&w| w > 0).count();
    // Keep the rows drawn, in each feature's order. Branch free: every row is written at
    // slot k and k advances only past kept rows; the slot after feature f's m rows is
    // feature f+1's first, written again later (the last feature's is the spare).
    for b in &mut s.order {
        b.clear();
        b.resize(d * m + 1, 0);
    }
    for f in 0..d {
        let mut k = f * m;
        for &r in &pre.order[f * n..(f + 1) * n] {
            s.order[0][k] = r;
            k += (w_of[r as usize] > 0) as usize;
        }
    }
    s.ps.resize(LANES * m, 0.0);
    s.wlp.resize(LANES * m, 0);
    s.xs.resize(LANES * m, 0.0);
    s.ap.resize(LANES * m, 0.0);
    s.goes_left.resize(n, false);
    let min_leaf = p.min_samples_leaf as u64;

    let mut tree = Tree::default();
    tree.push_node(0.0);
    s.stack.clear();
    s.stack.push(Open {
        id: 0,
        start: 0,
        end: m,
        buf: 0,
        depth: 0,
        key: 0,
    });
    while let Some(o) = s.stack.pop() {
        let len = o.end - o.start;
        let order = &s.order[o.buf];
        let rows_of = |f: usize| &order[f * m + o.start..f * m + o.end];
        let (wt, sum, sum2) = summarize(&data.y, rows_of(0), w_of);
        let (value, splittable) = leaf_rule(wt, sum, sum2, o.depth, p);
        tree.value[o.id] = value;
        if !splittable || len < 2 {
            // One row (of any weight) has no split position: `scan_feature` finds none.
            continue;
        }
        node_candidates(d, p.max_features, p.seed, t, o.key, &mut s.cand);
        let mut best: Option<Split> = None;
        // The highest score bound seen at this node (see `bounds`).
        let mut max_bound = f64::NEG_INFINITY;
        let small = if len <= SMALL_NODE { s.cand.len() } else { 0 };
        for &f in &s.cand[..small] {
            let xf = &pre.xt[f * n..(f + 1) * n];
            scan_small(f, rows_of(f), xf, &s.wy, w_of, wt, min_leaf, &mut best);
        }
        for group in s.cand[small..].chunks(LANES) {
            let at = ..group.len() * len;
            let (ps, wlp, xs) = (&mut s.ps[at], &mut s.wlp[at], &mut s.xs[at]);
            let col = |f: usize| &pre.xt[f * n..(f + 1) * n];
            let (wy, g) = (&s.wy[..], group);
            match *group {
                [a, b, c, e] => gather(
                    [rows_of(a), rows_of(b), rows_of(c), rows_of(e)],
                    [col(a), col(b), col(c), col(e)],
                    wy,
                    w_of,
                    ps,
                    wlp,
                    xs,
                ),
                [a, b, c] => gather(
                    [rows_of(a), rows_of(b), rows_of(c)],
                    [col(a), col(b), col(c)],
                    wy,
                    w_of,
                    ps,
                    wlp,
                    xs,
                ),
                [a, b] => gather(
                    [rows_of(a), rows_of(b)],
                    [col(a), col(b)],
                    wy,
                    w_of,
                    ps,
                    wlp,
                    xs,
                ),
                [a] => gather([rows_of(a)], [col(a)], wy, w_of, ps, wlp, xs),
                _ => unreachable!("chunks of 1..=LANES"),
            }
            let (ps, wlp, xs) = (&*ps, &*wlp, &*xs);
            let ap = &mut s.ap[at];
            // The bound of every position; a non-finite S_T (NaN or ±inf among the
            // targets, or an overflow) or an infinite bound: the exact scan instead.
            let mut exact_all = false;
            for (j, _) in g.iter().enumerate() {
                let at = j * len..(j + 1) * len;
                let (ps, ap) = (&ps[at.clone()], &mut ap[at.clone()]);
                if ps[len - 1].is_finite() {
                    let mx = bounds(&xs[at.clone()], ps, &wlp[at], wt, min_leaf, &pre.inv, ap);
                    if mx > max_bound {
                        max_bound = mx;
                    }
                } else {
                    exact_all = true;
                }
            }
            if !exact_all && max_bound == f64::NEG_INFINITY {
                continue; // no split position in the group (nor before it)
            }
            exact_all |= max_bound == f64::INFINITY;
            let floor = max_bound * (1.0 - REL_SLACK) - ABS_SLACK;
            for (j, &f) in g.iter().enumerate() {
                let at = j * len..(j + 1) * len;
                let (xs, ps, wlp) = (&xs[at.clone()], &ps[at.clone()], &wlp[at.clone()]);
                if exact_all {
                    scan_exact(f, xs, ps, wlp, wt, min_leaf, &mut best);
                } else {
                    rescan(f, xs, ps, wlp, &ap[at], wt, min_leaf, floor, &mut best);
                }
            }
        }
        let Some(split) = best else { continue };

        // Apply the split: mark each row's side, then write every list, partitioned
        // stably (left rows first), into the same range of the other buffer.
        let fs = split.feature;
        let xf = &pre.xt[fs * n..(fs + 1) * n];
        let (mut n_left, mut seen_right, mut prefix) = (0usize, false, true);
        for &r in rows_of(fs) {
            let gl = xf[r as usize] <= split.threshold;
            s.goes_left[r as usize] = gl;
            n_left += gl as usize;
            prefix &= !(gl && seen_right);
            seen_right |= !gl;
        }
        let [b0, b1] = &mut s.order;
        let (src, dst) = if o.buf == 0 { (&*b0, b1) } else { (&*b1, b0) };
        for f in 0..d {
            let at = f * m + o.start..f * m + o.end;
            if f == fs && prefix {
                dst[at.clone()].copy_from_slice(&src[at]); // already left rows first
            } else {
                partition(&src[at.clone()], &mut dst[at], n_left, &s.goes_left);
            }
        }
        let mid = o.start + n_left;
        let left = tree.push_node(0.0);
        let right = tree.push_node(0.0);
        tree.feature[o.id] = fs as i32;
        tree.threshold[o.id] = split.threshold;
        tree.left[o.id] = left as i32;
        tree.right[o.id] = right as i32;
        let child = |id, start, end, left| Open {
            id,
            start,
            end,
            buf: 1 - o.buf,
            depth: o.depth + 1,
            key: child_key(o.key, left),
        };
        s.stack.push(child(right, mid, o.end, false));
        s.stack.push(child(left, o.start, mid, true));
    }
    tree
}

/// For `N` features at once (their addition chains interleaved): along each feature's
/// node rows `rows[j]` (all of length `len`), the running sums of `wy` (`ps`, added left
/// to right from 0, as the reference's `sl`) and of `w_of` (`wlp`), and the feature's
/// value `cols[j][row]` (`xs`); feature `j`'s position `k` at `j·len + k`.
fn gather<const N: usize>(
    rows: [&[u32]; N],
    cols: [&[f32]; N],
    wy: &[f64],
    w_of: &[u32],
    ps: &mut [f64],
    wlp: &mut [u64],
    xs: &mut [f32],
) {
    let len = rows[0].len();
    assert!(rows.iter().all(|r| r.len() == len));
    assert!(ps.len() == N * len && wlp.len() == N * len && xs.len() == N * len);
    let mut acc = [0.0f64; N];
    let mut wacc = [0u64; N];
    for k in 0..len {
        for j in 0..N {
            let r = rows[j][k] as usize;
            acc[j] += wy[r];
            wacc[j] += w_of[r] as u64;
            ps[j * len + k] = acc[j];
            wlp[j * len + k] = wacc[j];
            xs[j * len + k] = cols[j][r];
        }
    }
}

/// The score bound `S_L²·(1/W_L) + S_R²·(1/W_R)` at every split position `k` of one
/// feature (between its `k`-th and `k+1`-th row; `xs`, `ps`, `wlp` from [`gather`], `wt`
/// the node's weight, `inv` the reciprocal table), written to `ap[k]`; returns the highest
/// value written (a scored position's bound, or 0). Branch free: where the reference skips
/// the position (equal values, or a side under `min_leaf`) the bound is multiplied by 0
/// (giving 0, or NaN from +∞), so [`rescan`] checks those rules again on the positions it
/// scores. Needs a finite `S_T = ps[len−1]`: then every `S_L` is finite and the bound is
/// ≥ 0 or +∞ (never NaN) at a scored position.
fn bounds(
    xs: &[f32],
    ps: &[f64],
    wlp: &[u64],
    wt: u64,
    min_leaf: u64,
    inv: &[f64],
    ap: &mut [f64],
) -> f64 {
    let st = ps[ps.len() - 1];
    let mut mx = f64::NEG_INFINITY;
    for (((x, &sl), &wl), a) in xs.windows(2).zip(ps).zip(wlp).zip(ap) {
        // wl ≥ 1 (a row weighs ≥ 1) and wr ≥ the last row's weight ≥ 1.
        let wr = wt - wl;
        let sr = st - sl;
        // The reference skips `lo >= hi` (so a NaN neighbour is not skipped).
        let skip = x[0] >= x[1];
        let ok = !skip & (wl >= min_leaf) & (wr >= min_leaf);
        // Ties are common (discrete features), so no branch: a product with 0 or 1
        // (which the compiler may not turn into a branch, as v·0 is not always 0).
        let v = (sl * sl * inv[wl as usize] + sr * sr * inv[wr as usize]) * f64::from(u8::from(ok));
        mx = if v > mx { v } else { mx };
        *a = v;
    }
    mx
}

/// [`scan_feature`](crate::tree::scan_feature) of feature `f` on [`gather`]'s arrays: every
/// position the reference scores, scored exactly, `best` updated as the reference does.
#[allow(clippy::too_many_arguments)]
fn scan_exact(
    f: usize,
    xs: &[f32],
    ps: &[f64],
    wlp: &[u64],
    wt: u64,
    min_leaf: u64,
    best: &mut Option<Split>,
) {
    let st = ps[ps.len() - 1];
    for ((x, &sl), &wl) in xs.windows(2).zip(ps).zip(wlp) {
        let (lo, hi) = (x[0], x[1]);
        if lo >= hi {
            continue;
        }
        let Some(score) = split_score(sl, wl, st, wt, min_leaf) else {
            continue;
        };
        offer_split(best, f, lo, hi, score, wl);
    }
}

/// [`scan_feature`](crate::tree::scan_feature) of feature `f` over a node's `rows` (in `f`'s
/// order), with `xf` the feature by row, `wy` the tabulated `w·y` and `wt` the node's
/// weight: the same sums in the same order, every position scored exactly.
#[allow(clippy::too_many_arguments)]
fn scan_small(
    f: usize,
    rows: &[u32],
    xf: &[f32],
    wy: &[f64],
    w_of: &[u32],
    wt: u64,
    min_leaf: u64,
    best: &mut Option<Split>,
) {
    let mut st = 0.0f64;
    for &r in rows {
        st += wy[r as usize];
    }
    let (mut wl, mut sl) = (0u64, 0.0f64);
    for pair in rows.windows(2) {
        let (r, q) = (pair[0] as usize, pair[1] as usize);
        wl += w_of[r] as u64;
        sl += wy[r];
        let (lo, hi) = (xf[r], xf[q]);
        if lo >= hi {
            continue;
        }
        let Some(score) = split_score(sl, wl, st, wt, min_leaf) else {
            continue;
        };
        offer_split(best, f, lo, hi, score, wl);
    }
}

/// The exact pass of feature `f` after [`bounds`]: positions whose bound `ap[k]` reaches
/// `floor` (the node's highest bound so far less the slack, finite) are scored exactly
/// and update `best` as in the reference; the others score below the node's best split
/// (see the module docs), so skipping them changes nothing.
#[allow(clippy::too_many_arguments)]
fn rescan(
    f: usize,
    xs: &[f32],
    ps: &[f64],
    wlp: &[u64],
    ap: &[f64],
    wt: u64,
    min_leaf: u64,
    floor: f64,
    best: &mut Option<Split>,
) {
    let st = ps[ps.len() - 1];
    for (k, &v) in ap[..ps.len() - 1].iter().enumerate() {
        if v < floor {
            continue;
        }
        let (lo, hi, sl, wl) = (xs[k], xs[k + 1], ps[k], wlp[k]);
        if lo >= hi {
            continue;
        }
        let Some(score) = split_score(sl, wl, st, wt, min_leaf) else {
            continue;
        };
        offer_split(best, f, lo, hi, score, wl);
    }
}

/// Stable partition of `src` (row ids) into `dst` (as long): the `n_left` rows with
/// `goes_left[row]` first, then the others, each side in its former order. Branch free.
fn partition(src: &[u32], dst: &mut [u32], n_left: usize, goes_left: &[bool]) {
    let mut k = 0usize;
    for (i, &r) in src.iter().enumerate() {
        let gl = goes_left[r as usize];
        // Left rows so far: k; right rows so far: i − k.
        let at = if gl { k } else { n_left + i - k };
        dst[at] = r;
        k += gl as usize;
    }
}
