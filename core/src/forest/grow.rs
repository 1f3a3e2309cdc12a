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
//! - **Tabulated products, values beside rows.** Per tree, one [`RowStat`] per row holds
//!   `wy = w as f64 · y` (the very product the reference forms inline before adding it to
//!   `S_L` / `S_T`), `wy · y` and `w`, so a scan finds everything it adds about a row in
//!   one place. A feature's list holds each row with its value ([`Entry`]), so scans read
//!   values in list order instead of looking them up by row.
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
//!   so the winner (the first position with the highest `E`) is unchanged. [`bounds`]
//!   already sets aside, in order, the positions whose `B` reaches the floor of the
//!   highest bound seen so far: the final floor is no lower, so they include every
//!   position [`rescan`] must score, and it looks at no other. Where `S_T`
//!   is not finite (NaN or ±∞ targets, overflow) or `B_max` is +∞, the group of features
//!   takes the reference's exact scan instead ([`scan_exact`]).
//! - **Small nodes** (at most [`SMALL_NODE`] rows, most nodes of a deep tree) skip that
//!   set-up and run the reference scan directly ([`scan_small`]).
//! - **Branch-free stable partition** ([`partition`]) of every feature's row list after a
//!   split, from one of two buffers into the same range of the other; the split
//!   feature's list, already left rows first (checked), is copied.
//! - `W`, `S`, `S2` are [`summarize`](super::summarize)'s sums (same terms, same order, from
//!   the tabulated products: [`summarize`]), the leaf rules
//!   [`node_summary`](super::node_summary)'s own code ([`leaf_rule`](super::leaf_rule)).

use alloc::vec::Vec;

use super::{child_key, leaf_rule, node_candidates, presort, ForestParams, Tree};
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
    /// [`presort`] with each row's value: `d × n` entries, feature `f`'s rows in value
    /// order at `f·n..(f+1)·n`.
    sorted: Vec<Entry>,
    /// `inv[w] = 1 / w` for `w` in `1..=n` (`inv[0]` = 0, unused): a node's weight is
    /// at most the tree's, which is `n` (bootstrap counts sum to `n`; else 1 per row).
    inv: Vec<f64>,
}

impl Presorted {
    /// Presorts `data` (`n_rows ≥ 1`, `n_features ≥ 1`) and builds the tables.
    pub(super) fn new(data: &Dataset) -> Self {
        let (n, d) = (data.n_rows, data.n_features);
        let order = presort(data);
        let sorted = order
            .iter()
            .enumerate()
            .map(|(i, &row)| Entry {
                row,
                x: data.x[row as usize * d + i / n],
            })
            .collect();
        let inv = (0..=n)
            .map(|w| if w == 0 { 0.0 } else { 1.0 / w as f64 })
            .collect();
        Presorted { n, d, sorted, inv }
    }
}

/// A row of a feature's list: the row and its value of that feature (the value travels
/// with the row, so that scans read it in list order).
#[derive(Clone, Copy, Default)]
struct Entry {
    row: u32,
    x: f32,
}

/// What the scans need of a row of the tree, in one place: `wy = w as f64 · y` (the
/// product the reference forms before adding it to `S_L` / `S_T`), `wyy = wy · y` (the
/// term of `S2` in [`summarize`](super::summarize)) and the bootstrap weight `w`.
#[derive(Clone, Copy, Default)]
struct RowStat {
    wy: f64,
    wyy: f64,
    w: u64,
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
    /// [`RowStat`] per row (`n`).
    rs: Vec<RowStat>,
    /// The tree's rows (weight > 0) per feature in value order, twice: `2 × (d × m + 1)`.
    /// Feature `f`'s list lies at `f·m..(f+1)·m` of a buffer; a node is a range of each
    /// list, in buffer `depth mod 2` (a split writes its children's lists, partitioned,
    /// into the same range of the other buffer).
    order: [Vec<Entry>; 2],
    /// Per position of up to [`LANES`] features of one node (`LANES × len` each): `S_L`
    /// (prefix sums of `w·y`), `W_L` (prefix sums of `w`), and the positions that
    /// [`bounds`] keeps with their bounds.
    ps: Vec<f64>,
    wlp: Vec<u64>,
    ap: Vec<f64>,
    ak: Vec<u32>,
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
    s.rs.clear();
    s.rs.extend(w_of.iter().zip(&data.y).map(|(&w, &y)| {
        let wy = w as u64 as f64 * y;
        RowStat {
            wy,
            wyy: wy * y,
            w: w as u64,
        }
    }));
    let m = w_of.iter().filter(|&&w| w > 0).count();
    // Keep the rows drawn, in each feature's order. Branch free: every row is written at
    // slot k and k advances only past kept rows; the slot after feature f's m rows is
    // feature f+1's first, written again later (the last feature's is the spare).
    for b in &mut s.order {
        b.clear();
        b.resize(d * m + 1, Entry::default());
    }
    for f in 0..d {
        let mut k = f * m;
        for &e in &pre.sorted[f * n..(f + 1) * n] {
            s.order[0][k] = e;
            k += (w_of[e.row as usize] > 0) as usize;
        }
    }
    s.ps.resize(LANES * m, 0.0);
    s.wlp.resize(LANES * m, 0);
    s.ap.resize(LANES * m, 0.0);
    s.ak.resize(LANES * m, 0);
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
        let (wt, sum, sum2) = summarize(rows_of(0), &s.rs);
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
            scan_small(f, rows_of(f), &s.rs, wt, min_leaf, &mut best);
        }
        for group in s.cand[small..].chunks(LANES) {
            let at = ..group.len() * len;
            let (ps, wlp) = (&mut s.ps[at], &mut s.wlp[at]);
            let (rs, g) = (&s.rs[..], group);
            match *group {
                [a, b, c, e] => gather(
                    [rows_of(a), rows_of(b), rows_of(c), rows_of(e)],
                    rs,
                    ps,
                    wlp,
                ),
                [a, b, c] => gather([rows_of(a), rows_of(b), rows_of(c)], rs, ps, wlp),
                [a, b] => gather([rows_of(a), rows_of(b)], rs, ps, wlp),
                [a] => gather([rows_of(a)], rs, ps, wlp),
                _ => unreachable!("chunks of 1..=LANES"),
            }
            let (ps, wlp) = (&*ps, &*wlp);
            let (ap, ak) = (&mut s.ap[at], &mut s.ak[at]);
            let mut kept = [0usize; LANES];
            // The bound of every position; a non-finite S_T (NaN or ±inf among the
            // targets, or an overflow) or an infinite bound: the exact scan instead.
            let mut exact_all = false;
            for (j, &f) in g.iter().enumerate() {
                let at = j * len..(j + 1) * len;
                let (ps, ap, ak) = (&ps[at.clone()], &mut ap[at.clone()], &mut ak[at.clone()]);
                if ps[len - 1].is_finite() {
                    let es = rows_of(f);
                    let (mx, c) =
                        bounds(es, ps, &wlp[at], wt, min_leaf, &pre.inv, max_bound, ap, ak);
                    max_bound = mx;
                    kept[j] = c;
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
                let (es, ps, wlp) = (rows_of(f), &ps[at.clone()], &wlp[at.clone()]);
                if exact_all {
                    scan_exact(f, es, ps, wlp, wt, min_leaf, &mut best);
                } else {
                    let (ap, ak) = (
                        &ap[j * len..j * len + kept[j]],
                        &ak[j * len..j * len + kept[j]],
                    );
                    rescan(f, es, ps, wlp, ap, ak, wt, min_leaf, floor, &mut best);
                }
            }
        }
        let Some(split) = best else { continue };

        // Apply the split: mark each row's side, then write every list, partitioned
        // stably (left rows first), into the same range of the other buffer.
        let fs = split.feature;
        let (mut n_left, mut seen_right, mut prefix) = (0usize, false, true);
        for &e in rows_of(fs) {
            let gl = e.x <= split.threshold;
            s.goes_left[e.row as usize] = gl;
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
/// node list `lists[j]` (all of length `len`), the running sums of `wy` (`ps`, added left
/// to right from 0, as the reference's `sl`) and of `w` (`wlp`); feature `j`'s position
/// `k` at `j·len + k`.
fn gather<const N: usize>(lists: [&[Entry]; N], rs: &[RowStat], ps: &mut [f64], wlp: &mut [u64]) {
    let len = lists[0].len();
    assert!(lists.iter().all(|r| r.len() == len));
    assert!(ps.len() == N * len && wlp.len() == N * len);
    let mut acc = [0.0f64; N];
    let mut wacc = [0u64; N];
    for k in 0..len {
        for j in 0..N {
            let r = rs[lists[j][k].row as usize];
            acc[j] += r.wy;
            wacc[j] += r.w;
            ps[j * len + k] = acc[j];
            wlp[j * len + k] = wacc[j];
        }
    }
}

/// The score bound `S_L²·(1/W_L) + S_R²·(1/W_R)` at every split position `k` of one
/// feature (between its `k`-th and `k+1`-th entry of `es`; `ps`, `wlp` from [`gather`],
/// `wt` the node's weight, `inv` the reciprocal table, `mx` the node's highest bound
/// before this feature). Branch free: where the reference skips the position (equal
/// values, or a side under `min_leaf`) the bound is multiplied by 0 (giving 0, or NaN from
/// +∞), so [`rescan`] checks those rules again on the positions it scores. Keeps, in
/// order, the positions whose bound reaches the floor of the highest bound seen so far
/// (`ak`, with their bounds in `ap`): every position that can reach the node's final
/// floor. Returns the highest bound so far (`mx` or a scored position's bound, or 0) and
/// how many positions it kept. Needs a finite `S_T = ps[len−1]`: then every `S_L` is
/// finite and the bound is ≥ 0 or +∞ (never NaN) at a scored position.
#[allow(clippy::too_many_arguments)]
fn bounds(
    es: &[Entry],
    ps: &[f64],
    wlp: &[u64],
    wt: u64,
    min_leaf: u64,
    inv: &[f64],
    mx: f64,
    ap: &mut [f64],
    ak: &mut [u32],
) -> (f64, usize) {
    let last = ps.len() - 1;
    let st = ps[last];
    // Every slice as long as the loop, and the table's indices clamped to `wt` (a
    // no-op: `wl ≤ wt` within a node), so no position has a bounds check.
    let (e0, e1) = (&es[..last], &es[1..=last]);
    let (ps, wlp, ap, ak) = (&ps[..last], &wlp[..last], &mut ap[..last], &mut ak[..last]);
    let top = wt as usize;
    let inv = &inv[..=top];
    let mut mx = mx;
    let mut c = 0usize;
    for k in 0..last {
        let (sl, wl) = (ps[k], wlp[k]);
        // wl ≥ 1 (a row weighs ≥ 1) and wr ≥ the last row's weight ≥ 1.
        let wr = wt - wl;
        let sr = st - sl;
        // The reference skips `lo >= hi` (so a NaN neighbour is not skipped).
        let skip = e0[k].x >= e1[k].x;
        let ok = !skip & (wl >= min_leaf) & (wr >= min_leaf);
        // Ties are common (discrete features), so no branch: a product with 0 or 1
        // (which the compiler may not turn into a branch, as v·0 is not always 0).
        let (il, ir) = (inv[(wl as usize).min(top)], inv[(wr as usize).min(top)]);
        let v = (sl * sl * il + sr * sr * ir) * f64::from(u8::from(ok));
        mx = if v > mx { v } else { mx };
        // Kept: positions that reach the floor of the highest bound so far (the final
        // floor is no lower). c ≤ k, so the clamp is a no-op.
        let at = c.min(last - 1);
        ap[at] = v;
        ak[at] = k as u32;
        c += usize::from(v >= mx * (1.0 - REL_SLACK) - ABS_SLACK);
    }
    (mx, c)
}

/// [`scan_feature`](crate::tree::scan_feature) of feature `f` on [`gather`]'s arrays: every
/// position the reference scores, scored exactly, `best` updated as the reference does.
#[allow(clippy::too_many_arguments)]
fn scan_exact(
    f: usize,
    es: &[Entry],
    ps: &[f64],
    wlp: &[u64],
    wt: u64,
    min_leaf: u64,
    best: &mut Option<Split>,
) {
    let st = ps[ps.len() - 1];
    for ((e, &sl), &wl) in es.windows(2).zip(ps).zip(wlp) {
        let (lo, hi) = (e[0].x, e[1].x);
        if lo >= hi {
            continue;
        }
        let Some(score) = split_score(sl, wl, st, wt, min_leaf) else {
            continue;
        };
        offer_split(best, f, lo, hi, score, wl);
    }
}

/// [`scan_feature`](crate::tree::scan_feature) of feature `f` over a node's list `es` (in
/// `f`'s order), with `rs` the rows' sums and `wt` the node's weight: the same sums in the
/// same order, every position scored exactly.
fn scan_small(
    f: usize,
    es: &[Entry],
    rs: &[RowStat],
    wt: u64,
    min_leaf: u64,
    best: &mut Option<Split>,
) {
    let mut st = 0.0f64;
    for e in es {
        st += rs[e.row as usize].wy;
    }
    let (mut wl, mut sl) = (0u64, 0.0f64);
    for pair in es.windows(2) {
        let r = &rs[pair[0].row as usize];
        wl += r.w;
        sl += r.wy;
        let (lo, hi) = (pair[0].x, pair[1].x);
        if lo >= hi {
            continue;
        }
        let Some(score) = split_score(sl, wl, st, wt, min_leaf) else {
            continue;
        };
        offer_split(best, f, lo, hi, score, wl);
    }
}

/// The exact pass of feature `f` after [`bounds`]: of the positions it kept (`ak`, bounds
/// `ap`), those whose bound reaches `floor` (the node's highest bound so far less the
/// slack, finite) are scored exactly and update `best` as in the reference; the others
/// score below the node's best split (see the module docs), so skipping them changes
/// nothing.
#[allow(clippy::too_many_arguments)]
fn rescan(
    f: usize,
    es: &[Entry],
    ps: &[f64],
    wlp: &[u64],
    ap: &[f64],
    ak: &[u32],
    wt: u64,
    min_leaf: u64,
    floor: f64,
    best: &mut Option<Split>,
) {
    let st = ps[ps.len() - 1];
    for (&k, &v) in ak.iter().zip(ap) {
        if v < floor {
            continue;
        }
        let k = k as usize;
        let (lo, hi, sl, wl) = (es[k].x, es[k + 1].x, ps[k], wlp[k]);
        if lo >= hi {
            continue;
        }
        let Some(score) = split_score(sl, wl, st, wt, min_leaf) else {
            continue;
        };
        offer_split(best, f, lo, hi, score, wl);
    }
}

/// The node's weight `W`, `S = Σ w·y` and `S2 = Σ w·y²` over its list `es`, in list
/// order: [`summarize`](super::summarize)'s sums from the tabulated products.
fn summarize(es: &[Entry], rs: &[RowStat]) -> (u64, f64, f64) {
    let (mut w, mut s, mut s2) = (0u64, 0.0f64, 0.0f64);
    for e in es {
        let r = &rs[e.row as usize];
        w += r.w;
        s += r.wy;
        s2 += r.wyy;
    }
    (w, s, s2)
}

/// Stable partition of `src` into `dst` (as long): the `n_left` entries with
/// `goes_left[row]` first, then the others, each side in its former order. Branch free.
fn partition(src: &[Entry], dst: &mut [Entry], n_left: usize, goes_left: &[bool]) {
    let mut k = 0usize;
    for (i, &e) in src.iter().enumerate() {
        let gl = goes_left[e.row as usize];
        // Left rows so far: k; right rows so far: i − k.
        let at = if gl { k } else { n_left + i - k };
        dst[at] = e;
        k += gl as usize;
    }
}
