//! The records of the forest worlds (`offload:forest-gpu/forest-gpu@0.1.0` and
//! `offload:forest-webgpu/forest-webgpu@0.1.0` export the same `fit`, `predict` and `trees`)
//! as Rust types, lifted and lowered by wasmtime's canonical ABI derives.

use offload_core::forest::{Forest, ForestParams, Tree};
use wasmtime::component::{ComponentType, Lift, Lower};

use super::error::{u32_of, Result};
#[cfg(doc)]
use super::ForestGpuGuestError;

/// The world's `forest-params` record (field names in WIT spelling; see
/// [`ForestParams`] for their meaning).
#[derive(ComponentType, Lower, Clone, Copy, Debug, PartialEq, Eq)]
#[component(record)]
pub struct WitForestParams {
    /// Trees.
    #[component(name = "n-trees")]
    pub n_trees: u32,
    /// Candidate features per split; `None`: all.
    #[component(name = "max-features")]
    pub max_features: Option<u32>,
    /// `None`: unlimited.
    #[component(name = "max-depth")]
    pub max_depth: Option<u32>,
    /// Least weight a node needs to be split.
    #[component(name = "min-samples-split")]
    pub min_samples_split: u32,
    /// Least weight on each side of a split.
    #[component(name = "min-samples-leaf")]
    pub min_samples_leaf: u32,
    /// Bootstrap sample per tree.
    #[component(name = "bootstrap")]
    pub bootstrap: bool,
    /// Seed of every random choice.
    #[component(name = "seed")]
    pub seed: u64,
}

impl WitForestParams {
    /// Converts offload-core's hyperparameters; a count over `u32::MAX` is
    /// [`ForestGpuGuestError::TooLarge`] (the guest checks the ranges).
    pub fn from_params(p: &ForestParams) -> Result<WitForestParams> {
        Ok(WitForestParams {
            n_trees: u32_of("n_trees", p.n_trees)?,
            max_features: p
                .max_features
                .map(|m| u32_of("max_features", m))
                .transpose()?,
            max_depth: p.max_depth.map(|m| u32_of("max_depth", m)).transpose()?,
            min_samples_split: u32_of("min_samples_split", p.min_samples_split)?,
            min_samples_leaf: u32_of("min_samples_leaf", p.min_samples_leaf)?,
            bootstrap: p.bootstrap,
            seed: p.seed,
        })
    }
}

/// The world's `tree` record: one tree's flat node arrays.
#[derive(ComponentType, Lift, Clone, Debug, PartialEq)]
#[component(record)]
pub struct WitTree {
    /// Split feature per node, -1 at a leaf.
    #[component(name = "feature")]
    pub feature: Vec<i32>,
    /// Threshold per node (`x ≤ threshold` goes left).
    #[component(name = "threshold")]
    pub threshold: Vec<f32>,
    /// Left child per node, -1 at a leaf.
    #[component(name = "left")]
    pub left: Vec<i32>,
    /// Right child per node, -1 at a leaf.
    #[component(name = "right")]
    pub right: Vec<i32>,
    /// Node value (mean target).
    #[component(name = "value")]
    pub value: Vec<f32>,
}

/// The tree records of a forest guest's `trees` export as offload-core's [`Forest`] over
/// `n_features` features: each record's arrays become one [`Tree`]'s, unchanged and in
/// order (to compare with a native forest or walk on the host).
pub fn forest_from_wit(n_features: usize, trees: Vec<WitTree>) -> Forest {
    Forest {
        n_features,
        trees: trees
            .into_iter()
            .map(|t| Tree {
                feature: t.feature,
                threshold: t.threshold,
                left: t.left,
                right: t.right,
                value: t.value,
            })
            .collect(),
    }
}

/// The world's `fit-info` record: what `fit` did.
#[derive(ComponentType, Lift, Clone, Debug, PartialEq, Eq)]
#[component(record)]
pub struct WitFitInfo {
    /// Trees trained.
    #[component(name = "trees")]
    pub trees: u32,
    /// Nodes over all trees.
    #[component(name = "nodes")]
    pub nodes: u32,
    /// `<backend>: <device name>` as the guest saw it through `get-device-info`.
    #[component(name = "device")]
    pub device: String,
}

/// The forest-webgpu world's `predict-stats` record: how the last successful `predict` of
/// the C++ guest's wasi:webgpu build formed its rows.
#[derive(ComponentType, Lift, Clone, Copy, Debug, PartialEq, Eq)]
#[component(record)]
pub struct WitPredictStats {
    /// Rows whose leaf values the device summed exactly (in integers).
    #[component(name = "summed")]
    pub summed: u64,
    /// Rows the guest walked on the CPU in wasm (leaves too far apart in exponent for an
    /// exact sum in 53 bits, or not finite).
    #[component(name = "walked")]
    pub walked: u64,
}
