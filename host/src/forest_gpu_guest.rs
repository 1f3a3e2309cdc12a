//! [`ForestGpuGuest`]: the random-forest guest of `wasi:gpu` (`wasm-modules/forest-gpu-guest`,
//! world `offload:forest-gpu/forest-gpu@0.1.0`) run by the `wasi:gpu` host
//! ([`crate::wasi_gpu::GpuHost`]) on a shared [`Device`].
//!
//! The guest is offload-core's `Forest::fit_on` / `predict_on` compiled for wasm32-wasip1 over
//! a `GpuBackend` whose every call is a `wasi:gpu` import, so bootstrap-sample, find-split and
//! batch-predict run on the host's device (cpu, wgpu or cuda) and the guest's linear memory
//! holds the data, the open nodes and the trees. The forest equals the native
//! `Forest::fit`'s bit for bit; [`ForestGpuGuest::trees`] returns it as an offload-core
//! [`Forest`] so that callers compare with `==`.
//!
//! Exports are called through [`GpuInstance::call`] with the world's records as Rust types
//! ([`WitForestParams`], [`WitTree`], [`WitFitInfo`]; canonical-ABI lifting and lowering
//! derived by wasmtime). A guest `err` is [`ForestGpuGuestError::Guest`] with its message;
//! a trap (deadline, ABI violation) is [`ForestGpuGuestError::Trap`], after which the
//! instance has been rebuilt from the compiled component (its buffers freed on the device,
//! no forest kept), as [`crate::forest_guest`] does for the plain forest guest.
//!
//! ```no_run
//! use offload_core::data::{diabetes, diabetes_split};
//! use offload_core::forest::{Forest, ForestParams};
//! use offload_host::forest_gpu_guest::{ForestGpuGuest, DEFAULT_PATH};
//! use offload_host::wasi_gpu::{Device, Limits};
//! let d = diabetes();
//! let (tr, _) = diabetes_split();
//! let train = d.subset(&tr);
//! let mut g = ForestGpuGuest::load(DEFAULT_PATH, Device::open("wgpu")?, Limits::default())?;
//! let p = ForestParams { n_trees: 20, ..ForestParams::default() };
//! g.fit(&train, &p)?;
//! assert_eq!(g.trees()?, Forest::fit(&train, &p)?);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::path::Path;
use std::sync::Arc;

use offload_core::data::Dataset;
use offload_core::forest::{Forest, ForestParams, Tree};
use wasmtime::component::{Component, ComponentType, Lift, Lower};

use crate::wasi_gpu::{self, Device, GpuHost, GpuInstance, Limits};

/// Where `scripts/build-forest-gpu-guest.sh` puts the component, relative to the repository
/// root.
pub const DEFAULT_PATH: &str = "build/guests/forest/forest-gpu.wasm";

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

/// Errors of [`ForestGpuGuest`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ForestGpuGuestError {
    /// Loading, compiling or instantiating the component, or calling an export with the
    /// wrong type ([`wasi_gpu::Error`] other than a trap).
    #[error(transparent)]
    Host(wasi_gpu::Error),
    /// The guest returned `err(message)` (bad data or hyperparameters, no forest yet, a
    /// `gpu-error` of the device). The instance is intact.
    #[error("guest `{op}` returned an error: {message}")]
    Guest {
        /// The export.
        op: &'static str,
        /// The guest's message.
        message: String,
    },
    /// The guest trapped (deadline, ABI violation); the instance was rebuilt (its device
    /// buffers freed) and holds no forest.
    #[error("guest trapped in `{op}`: {message} (instance rebuilt, forest dropped)")]
    Trap {
        /// The export.
        op: &'static str,
        /// wasmtime's description.
        message: String,
        /// Whether the trap was the epoch deadline ([`Limits::deadline`]).
        interrupted: bool,
    },
    /// A count that the world carries as `u32` is larger.
    #[error("{what} is {value}, over the u32 the forest-gpu world carries")]
    TooLarge {
        /// Which value.
        what: &'static str,
        /// Its value.
        value: usize,
    },
}

/// Result of this module.
pub type Result<T, E = ForestGpuGuestError> = std::result::Result<T, E>;

fn u32_of(what: &'static str, value: usize) -> Result<u32> {
    u32::try_from(value).map_err(|_| ForestGpuGuestError::TooLarge { what, value })
}

/// One instance of the forest-gpu component on a [`GpuHost`], rebuilt after a trap.
pub struct ForestGpuGuest {
    host: GpuHost,
    component: Component,
    instance: GpuInstance,
    /// Features of the forest the instance holds (after a successful `fit`).
    n_features: Option<usize>,
    rebuilds: u64,
}

impl std::fmt::Debug for ForestGpuGuest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ForestGpuGuest")
            .field("device", self.host.device())
            .field("n_features", &self.n_features)
            .field("rebuilds", &self.rebuilds)
            .finish()
    }
}

impl ForestGpuGuest {
    /// Loads the component at `path` into a new [`GpuHost`] on `device` with `limits` per
    /// instance, and instantiates it.
    ///
    /// # Errors
    /// [`ForestGpuGuestError::Host`]: unreadable or invalid component, an import the host
    /// lacks (e.g. a component of another world).
    pub fn load(path: impl AsRef<Path>, device: Arc<Device>, limits: Limits) -> Result<Self> {
        let host = GpuHost::new(device, limits).map_err(ForestGpuGuestError::Host)?;
        let component = host.load(path).map_err(ForestGpuGuestError::Host)?;
        let instance = host
            .instantiate(&component)
            .map_err(ForestGpuGuestError::Host)?;
        Ok(ForestGpuGuest {
            host,
            component,
            instance,
            n_features: None,
            rebuilds: 0,
        })
    }

    /// The shared device the guest's kernels run on.
    pub fn device(&self) -> &Arc<Device> {
        self.host.device()
    }

    /// Device buffers the instance holds now (0 between calls: the guest frees every buffer
    /// a call creates).
    pub fn buffers(&self) -> usize {
        self.instance.buffers()
    }

    /// Device bytes the instance holds now.
    pub fn used_bytes(&self) -> u64 {
        self.instance.used_bytes()
    }

    /// How often the instance was rebuilt after a trap.
    pub fn rebuilds(&self) -> u64 {
        self.rebuilds
    }

    /// Trains a forest on `data` with `params` in the guest, through `wasi:gpu` on the
    /// device, and keeps it in the instance (a failed fit keeps none).
    ///
    /// # Errors
    /// [`ForestGpuGuestError::TooLarge`] for counts over `u32`; the guest's `err`
    /// ([`ForestGpuGuestError::Guest`]: empty data, a hyperparameter out of range, a
    /// `gpu-error`); [`ForestGpuGuestError::Trap`].
    pub fn fit(&mut self, data: &Dataset, params: &ForestParams) -> Result<WitFitInfo> {
        let p = WitForestParams::from_params(params)?;
        let d = u32_of("n_features", data.n_features)?;
        self.fit_raw(&data.x, &data.y, d, p)
    }

    /// `fit` with the world's arguments as they are (no checks on the host side), to test
    /// the guest's own validation: `x` f32 `rows × n_features` row-major, `y` f64 `rows`.
    ///
    /// # Errors
    /// As [`ForestGpuGuest::fit`].
    pub fn fit_raw(
        &mut self,
        x: &[f32],
        y: &[f64],
        n_features: u32,
        params: WitForestParams,
    ) -> Result<WitFitInfo> {
        self.n_features = None;
        type Params<'a> = (&'a [f32], &'a [f64], u32, WitForestParams);
        let r = self
            .call::<Params<'_>, (std::result::Result<WitFitInfo, String>,)>(
                "fit",
                (x, y, n_features, params),
            )?
            .0;
        let info = guest("fit", r)?;
        self.n_features = Some(n_features as usize);
        Ok(info)
    }

    /// Predicts `x` (f32 `n × n_features`, row-major) with batch-predict on the device:
    /// `n` values (f64 where the device has f64, then equal bit for bit to
    /// [`Forest::predict`]; else summed in f32).
    ///
    /// # Errors
    /// The guest's `err` (no forest yet, a width that is not a multiple of the forest's
    /// features, a `gpu-error`); [`ForestGpuGuestError::Trap`].
    pub fn predict(&mut self, x: &[f32]) -> Result<Vec<f64>> {
        let r = self
            .call::<(&[f32],), (std::result::Result<Vec<f64>, String>,)>("predict", (x,))?
            .0;
        guest("predict", r)
    }

    /// The kept forest as offload-core's [`Forest`] (to compare with a native one).
    ///
    /// # Errors
    /// The guest's `err` (no forest yet); [`ForestGpuGuestError::Trap`].
    pub fn trees(&mut self) -> Result<Forest> {
        let r = self
            .call::<(), (std::result::Result<Vec<WitTree>, String>,)>("trees", ())?
            .0;
        let trees = guest("trees", r)?;
        let n_features = self.n_features.ok_or_else(|| ForestGpuGuestError::Guest {
            op: "trees",
            message: "the guest returned trees but no fit succeeded on this instance".into(),
        })?;
        Ok(forest_from_wit(n_features, trees))
    }

    /// Calls an export; a trap rebuilds the instance (dropping the old one frees its device
    /// buffers) and forgets the forest.
    fn call<P, R>(&mut self, op: &'static str, params: P) -> Result<R>
    where
        P: wasmtime::component::ComponentNamedList + Lower + Send + Sync,
        R: wasmtime::component::ComponentNamedList + Lift + Send + Sync,
    {
        match self.instance.call::<P, R>(op, params) {
            Ok(r) => Ok(r),
            Err(wasi_gpu::Error::Trap {
                message,
                interrupted,
                ..
            }) => {
                self.n_features = None;
                let fresh = self
                    .host
                    .instantiate(&self.component)
                    .map_err(ForestGpuGuestError::Host)?;
                self.instance = fresh;
                self.rebuilds += 1;
                Err(ForestGpuGuestError::Trap {
                    op,
                    message,
                    interrupted,
                })
            }
            Err(e) => Err(ForestGpuGuestError::Host(e)),
        }
    }
}

fn guest<T>(op: &'static str, r: std::result::Result<T, String>) -> Result<T> {
    r.map_err(|message| ForestGpuGuestError::Guest { op, message })
}
