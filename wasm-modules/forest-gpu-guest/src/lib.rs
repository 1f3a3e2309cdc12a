//! The random-forest guest of `wasi:gpu` (world `offload:forest-gpu/forest-gpu@0.1.0`,
//! `wasm-modules/wit/forest-gpu/world.wit`).
//!
//! offload-core's forest compiled for wasm32-wasip1, driving the host's device through
//! [`WasiGpuBackend`] (offload-core's `GpuBackend` whose every call is a `wasi:gpu` import):
//! - `fit(x, y, n-features, params)`: builds a [`Dataset`] from the lists, runs
//!   [`Forest::fit_on`] (bootstrap-sample and find-split on the host's device; node
//!   bookkeeping in the guest) and keeps the forest in the instance;
//! - `predict(x)`: [`Forest::predict_on`] (batch-predict on the host's device; f64 where the
//!   device has it, then equal bit for bit to the native `Forest::predict`);
//! - `trees()`: the kept forest's flat node arrays.
//!
//! The same Rust code as the native GPU path (`offload forest --path native --backend
//! cuda`), so the guest's forest equals `Forest::fit`'s bit for bit on every device.
//!
//! Errors are `err("<message>")`, never a trap: empty or inconsistent lists, a hyperparameter
//! out of range (offload-core's [`ForestParams::validate`] message), predict before fit, and
//! a `gpu-error` of the host (`GPU backend: <case>: <message>` through offload-core's
//! `ForestError::Gpu`). Every device buffer a call creates is destroyed before it returns.
//!
//! [`ForestParams::validate`]: offload_core::forest::ForestParams::validate

use std::cell::RefCell;

use offload_core::data::Dataset;
use offload_core::forest::{Forest, ForestParams as CoreParams, Tree as CoreTree};
use offload_core::gpu::GpuBackend;
use wasi_gpu_guest::backend::WasiGpuBackend;

/// The wit-bindgen bindings of the world (the `wasi:gpu` interfaces are
/// `wasi-gpu-guest`'s, so that [`WasiGpuBackend`] works on the same resource type). In a
/// module of its own so that the lint allowance covers the generated canonical-ABI glue
/// (`fit`'s flattened parameters are many).
#[allow(clippy::too_many_arguments)]
mod bindings {
    wit_bindgen::generate!({
        path: ["../wit/wasi-gpu", "../wit/forest-gpu"],
        world: "offload:forest-gpu/forest-gpu@0.1.0",
        with: {
            "wasi:gpu/compute@0.1.0": wasi_gpu_guest::bindings::wasi::gpu::compute,
            "wasi:gpu/ml-kernels@0.1.0": wasi_gpu_guest::bindings::wasi::gpu::ml_kernels,
        },
    });

    use super::Component;
    export!(Component);
}

use bindings::{FitInfo, ForestParams, Guest, Tree};

/// Most trees one `fit` accepts. The forest is kept in linear memory (4 GiB at most) and
/// trained within the host's deadline; a larger count is an `err`, not an allocation
/// failure (which would trap).
pub const MAX_TREES: u32 = 1 << 20;

thread_local! {
    /// The forest of the last successful `fit`.
    static FOREST: RefCell<Option<Forest>> = const { RefCell::new(None) };
}

/// The export side of the world.
struct Component;

/// Checks the lists of `fit` and builds the data set: `n-features` > 0, `y` not empty, `x`
/// holding exactly `y.len() · n-features` values.
fn dataset(x: Vec<f32>, y: Vec<f64>, n_features: u32) -> Result<Dataset, String> {
    let d = n_features as usize;
    if d == 0 {
        return Err("n-features must be at least 1".into());
    }
    if y.is_empty() {
        return Err("training data is empty (y has no values)".into());
    }
    let rows = y.len();
    match rows.checked_mul(d) {
        Some(need) if need == x.len() => {}
        _ => {
            return Err(format!(
                "x has {} values but y has {rows} rows of {d} features ({} values expected)",
                x.len(),
                rows as u128 * d as u128
            ))
        }
    }
    Ok(Dataset {
        feature_names: (0..d).map(|f| format!("x{f}")).collect(),
        x,
        y,
        n_rows: rows,
        n_features: d,
    })
}

/// The WIT record as offload-core's [`CoreParams`] (range checks are `Forest::fit_on`'s).
fn params(p: &ForestParams) -> Result<CoreParams, String> {
    if p.n_trees > MAX_TREES {
        return Err(format!(
            "n-trees must be at most {MAX_TREES} in this guest, got {}",
            p.n_trees
        ));
    }
    Ok(CoreParams {
        n_trees: p.n_trees as usize,
        max_features: p.max_features.map(|m| m as usize),
        max_depth: p.max_depth.map(|m| m as usize),
        min_samples_split: p.min_samples_split as usize,
        min_samples_leaf: p.min_samples_leaf as usize,
        bootstrap: p.bootstrap,
        seed: p.seed,
    })
}

fn backend() -> Result<WasiGpuBackend, String> {
    WasiGpuBackend::new().map_err(|e| format!("wasi:gpu device: {e}"))
}

fn to_wit(t: &CoreTree) -> Tree {
    Tree {
        feature: t.feature.clone(),
        threshold: t.threshold.clone(),
        left: t.left.clone(),
        right: t.right.clone(),
        value: t.value.clone(),
    }
}

impl Guest for Component {
    fn fit(x: Vec<f32>, y: Vec<f64>, n_features: u32, p: ForestParams) -> Result<FitInfo, String> {
        FOREST.with(|f| f.borrow_mut().take());
        let data = dataset(x, y, n_features)?;
        let params = params(&p)?;
        let mut b = backend()?;
        let device = format!("{}: {}", b.info().backend.name(), b.info().name);
        let forest = Forest::fit_on(&mut b, &data, &params).map_err(|e| e.to_string())?;
        let nodes: usize = forest.trees.iter().map(CoreTree::len).sum();
        let info = FitInfo {
            trees: forest.trees.len() as u32,
            nodes: u32::try_from(nodes).unwrap_or(u32::MAX),
            device,
        };
        FOREST.with(|f| *f.borrow_mut() = Some(forest));
        Ok(info)
    }

    fn predict(x: Vec<f32>) -> Result<Vec<f64>, String> {
        FOREST.with(|f| {
            let f = f.borrow();
            let forest = f
                .as_ref()
                .ok_or("no forest yet: call fit first (or the last fit failed)")?;
            let mut b = backend()?;
            forest.predict_on(&mut b, &x).map_err(|e| e.to_string())
        })
    }

    fn trees() -> Result<Vec<Tree>, String> {
        FOREST.with(|f| {
            let f = f.borrow();
            let forest = f
                .as_ref()
                .ok_or("no forest yet: call fit first (or the last fit failed)")?;
            Ok(forest.trees.iter().map(to_wit).collect())
        })
    }
}
