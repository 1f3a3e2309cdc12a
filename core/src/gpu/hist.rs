//! Operands of the **hist-grow** kernel ([`super::GpuBackend::hist_grow`]): whole trees of the
//! histogram-mode forest ([`crate::forest::hist`]) grown on the device, and the shape checks
//! the checking layer runs before any backend sees them.

use super::validate::{check_count, check_holds};
use super::{BufferId, GpuError, Result};
use std::format;

pub use crate::forest::hist::{HistNode, LEAF, MAX_BINS};

/// Bytes of one [`HistNode`].
pub const HIST_NODE_BYTES: u64 = 24;

/// Operands of [`super::GpuBackend::hist_grow`]: grow `n_trees` trees of one data set of
/// `n_rows` rows and `d` features, each from its own bootstrap weights, exactly by the rule
/// of [`crate::forest::hist`] (the same trees as
/// [`crate::forest::hist::grow_hist_tree`], numbered as the backend likes).
///
/// Buffers (element counts; each may be larger than its shape):
/// - `bins`: u8 `d × n_rows`, feature-major: `bins[f·n_rows + r]` is row `r`'s bin of feature
///   `f` ([`crate::forest::HistBins::bins`]).
/// - `n_bins`: u32 `d`, bins of each feature; cuts `j < min(n_bins[f], 256) − 1` are tried.
/// - `yq`: u32 `n_rows`, the fixed-point targets (below 2^24 for sums that cannot wrap).
/// - `weights`: u32 `n_trees × n_rows`, bootstrap weights (0 = row not in the tree), as
///   [`super::GpuBackend::bootstrap_sample`] writes them.
/// - `nodes` (out): [`HistNode`] `n_trees × node_cap`; tree `t`'s nodes at `t·node_cap`,
///   root at 0, children in pairs.
/// - `node_count` (out): u32 `n_trees`, the nodes written per tree.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HistGrowArgs {
    /// u8 `d × n_rows`.
    pub bins: BufferId,
    /// u32 `d`.
    pub n_bins: BufferId,
    /// u32 `n_rows`.
    pub yq: BufferId,
    /// u32 `n_trees × n_rows`.
    pub weights: BufferId,
    /// [`HistNode`] `n_trees × node_cap` (written).
    pub nodes: BufferId,
    /// u32 `n_trees` (written).
    pub node_count: BufferId,
    /// Rows of the data set.
    pub n_rows: u32,
    /// Features per row.
    pub d: u32,
    /// Trees grown by this call.
    pub n_trees: u32,
    /// Node slots per tree: at least `2·n_rows − 1` (a tree of `m` rows has at most
    /// `2m − 1` nodes).
    pub node_cap: u32,
    /// `min_samples_split` (≥ 2).
    pub min_split: u32,
    /// `min_samples_leaf` (≥ 1).
    pub min_leaf: u32,
    /// `max_depth`, `u32::MAX` for none.
    pub max_depth: u32,
}

/// Checks hist-grow's shapes and rules (the contents are the backend's to check).
pub(super) fn check_hist_grow(
    a: &HistGrowArgs,
    size_of: impl Fn(BufferId) -> Result<u64>,
) -> Result<()> {
    let ids = [a.bins, a.n_bins, a.yq, a.weights, a.nodes, a.node_count];
    let mut sizes = [0u64; 6];
    for (s, &id) in sizes.iter_mut().zip(&ids) {
        *s = size_of(id)?;
    }
    if a.n_rows == 0 || a.d == 0 || a.n_trees == 0 {
        return Err(GpuError::ZeroSize(
            "hist-grow with 0 rows, features or trees",
        ));
    }
    if a.min_leaf == 0 || a.min_split < 2 {
        return Err(GpuError::InvalidArgument(format!(
            "hist-grow: min_leaf must be ≥ 1 and min_split ≥ 2 (got {}, {})",
            a.min_leaf, a.min_split
        )));
    }
    let n = a.n_rows as u64;
    if (a.node_cap as u64) < 2 * n - 1 {
        return Err(GpuError::InvalidArgument(format!(
            "hist-grow: node_cap {} is below 2·n_rows − 1 = {}",
            a.node_cap,
            2 * n - 1
        )));
    }
    let dn = check_count("d·n_rows", a.d as u64, n)?;
    let tn = check_count("n_trees·n_rows", a.n_trees as u64, n)?;
    let tc = check_count("n_trees·node_cap", a.n_trees as u64, a.node_cap as u64)?;
    let shapes: [(u64, u64, &str); 6] = [
        (dn, 1, "bins (u8 d×n_rows)"),
        (a.d as u64, 4, "n_bins (u32 d)"),
        (n, 4, "yq (u32 n_rows)"),
        (tn, 4, "weights (u32 n_trees×n_rows)"),
        (tc, HIST_NODE_BYTES, "nodes (HistNode n_trees×node_cap)"),
        (a.n_trees as u64, 4, "node_count (u32 n_trees)"),
    ];
    for ((&id, &size), (elems, eb, what)) in ids.iter().zip(&sizes).zip(shapes) {
        check_holds(id, size, elems, eb, what)?;
    }
    for out in [a.nodes, a.node_count] {
        if ids[..4].contains(&out) {
            return Err(GpuError::InvalidArgument(
                "hist-grow: nodes and node_count must not alias an input buffer".into(),
            ));
        }
    }
    if a.nodes == a.node_count {
        return Err(GpuError::InvalidArgument(
            "hist-grow: nodes and node_count must be different buffers".into(),
        ));
    }
    Ok(())
}
