//! Forest guest components on the two GPU hosts: [`ForestGpuGuest`], a guest of world
//! `offload:forest-gpu/forest-gpu@0.1.0` on the `wasi:gpu` host ([`GpuHost`], a shared
//! [`Device`]: cpu, wgpu or cuda), and [`ForestWebGpuGuest`], a guest of world
//! `offload:forest-webgpu/forest-webgpu@0.1.0` on the `wasi:webgpu` host ([`WebGpuHost`],
//! wgpu). Both worlds export the same `fit`, `predict` and `trees`, so one type,
//! [`ForestComponent`], calls them on either host.
//!
//! The guests:
//! - `wasm-modules/forest-gpu-guest` ([`DEFAULT_PATH`]): offload-core's `Forest::fit_on` /
//!   `predict_on` compiled for wasm32-wasip1 over a `GpuBackend` whose every call is a
//!   `wasi:gpu` import, so bootstrap-sample, find-split and batch-predict run on the host's
//!   device and the guest's linear memory holds the data, the open nodes and the trees. Its
//!   forest equals the native `Forest::fit`'s bit for bit.
//! - `cpp-guest/` ([`CPP_PATH`], [`CPP_WEBGPU_PATH`]): the C++ forest, an independent CART
//!   that trains inside wasm and batch-predicts through `wasi:gpu`'s `ml-kernels` or, in its
//!   `wasi:webgpu` build, through its own WGSL.
//!
//! [`ForestComponent::trees`] returns the kept forest as an offload-core [`Forest`] so that
//! callers compare with `==` or walk it on the host. Exports are called with the worlds'
//! records as Rust types ([`WitForestParams`], [`WitTree`], [`WitFitInfo`]). A guest `err`
//! is [`ForestGpuGuestError::Guest`] with its message; a trap (deadline, ABI violation) is
//! [`ForestGpuGuestError::Trap`], after which the instance has been rebuilt from the
//! compiled component (its buffers freed on the device, no forest kept), as
//! [`crate::forest_guest`] does for the plain forest guest.
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

mod error;
mod hosts;
mod wit;

use std::path::Path;

use offload_core::data::Dataset;
use offload_core::forest::{Forest, ForestParams};
use wasmtime::component::{Component, Lift, Lower};

pub use error::{ForestGpuGuestError, Result};
pub use hosts::ForestHost;
pub use wit::{forest_from_wit, WitFitInfo, WitForestParams, WitPredictStats, WitTree};

use crate::guest_bytes::{GuestF32s, HostF64s};
use crate::wasi_gpu;
#[cfg(doc)]
use crate::wasi_gpu::{Device, GpuHost};
#[cfg(doc)]
use crate::wasi_webgpu::WebGpuHost;
use error::u32_of;

/// Where `scripts/build-forest-gpu-guest.sh` puts the Rust forest-gpu component, relative to
/// the repository root.
pub const DEFAULT_PATH: &str = "build/guests/forest/forest-gpu.wasm";

/// Where `scripts/build-cpp-guest.sh` puts the C++ forest guest's `wasi:gpu` component
/// (world forest-gpu), relative to the repository root.
pub const CPP_PATH: &str = "build/guests/forest/forest-cpp.wasm";

/// Where `scripts/build-cpp-webgpu-guest.sh` (run by `scripts/build-cpp-guest.sh`) puts the
/// C++ forest guest's `wasi:webgpu` component (world forest-webgpu), relative to the
/// repository root.
pub const CPP_WEBGPU_PATH: &str = "build/guests/forest/forest-cpp-webgpu.wasm";

/// A forest guest of world forest-gpu on the `wasi:gpu` host ([`GpuHost`]).
pub type ForestGpuGuest = ForestComponent<crate::wasi_gpu::GpuHost>;

/// A forest guest of world forest-webgpu on the `wasi:webgpu` host ([`WebGpuHost`]).
pub type ForestWebGpuGuest = ForestComponent<crate::wasi_webgpu::WebGpuHost>;

/// One instance of a forest guest component on host `H`, rebuilt after a trap. Made by
/// [`ForestGpuGuest::load`] or [`ForestWebGpuGuest::load`].
pub struct ForestComponent<H: ForestHost> {
    host: H,
    component: Component,
    instance: H::Instance,
    /// Features of the forest the instance holds (after a successful `fit`).
    n_features: Option<usize>,
    rebuilds: u64,
}

impl<H: ForestHost> std::fmt::Debug for ForestComponent<H> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ForestComponent")
            .field("device", &self.host.device_name())
            .field("n_features", &self.n_features)
            .field("rebuilds", &self.rebuilds)
            .finish()
    }
}

impl<H: ForestHost> ForestComponent<H> {
    /// Loads and instantiates the component at `path` on `host`.
    fn on_host(host: H, path: &Path) -> Result<Self> {
        let component = host
            .load_component(path)
            .map_err(ForestGpuGuestError::Host)?;
        let instance = host
            .instantiate_component(&component)
            .map_err(ForestGpuGuestError::Host)?;
        Ok(ForestComponent {
            host,
            component,
            instance,
            n_features: None,
            rebuilds: 0,
        })
    }

    /// The host the guest runs on (its device, limits).
    pub fn host(&self) -> &H {
        &self.host
    }

    /// The instance now (e.g. [`crate::wasi_webgpu::WebGpuInstance::uncaptured`]); it is
    /// replaced after a trap.
    pub fn instance(&self) -> &H::Instance {
        &self.instance
    }

    /// Device buffers the instance holds now: 0 between calls for the wasi:gpu guests (they
    /// free every buffer a call creates); the wasi:webgpu guest keeps six after a successful
    /// `predict` (its forest, row, sum, read-back and parameter buffers) until the next
    /// `fit` or a failed `predict`.
    pub fn buffers(&self) -> usize {
        H::buffers(&self.instance)
    }

    /// Device bytes the instance holds now.
    pub fn used_bytes(&self) -> u64 {
        H::used_bytes(&self.instance)
    }

    /// How often the instance was rebuilt after a trap.
    pub fn rebuilds(&self) -> u64 {
        self.rebuilds
    }

    /// Trains a forest on `data` with `params` in the guest and keeps it in the instance (a
    /// failed fit keeps none).
    ///
    /// # Errors
    /// [`ForestGpuGuestError::TooLarge`] for counts over `u32`; the guest's `err`
    /// ([`ForestGpuGuestError::Guest`]: empty data, a hyperparameter out of range, a device
    /// error); [`ForestGpuGuestError::Trap`].
    pub fn fit(&mut self, data: &Dataset, params: &ForestParams) -> Result<WitFitInfo> {
        let p = WitForestParams::from_params(params)?;
        let d = u32_of("n_features", data.n_features)?;
        self.fit_raw(&data.x, &data.y, d, p)
    }

    /// `fit` with the world's arguments as they are (no checks on the host side), to test
    /// the guest's own validation: `x` f32 `rows × n_features` row-major, `y` f64 `rows`.
    ///
    /// # Errors
    /// As [`ForestComponent::fit`].
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

    /// Predicts `x` (f32 `n × n_features`, row-major) on the device: `n` values. The Rust
    /// forest-gpu guest's equal [`Forest::predict`] bit for bit where the device has f64
    /// (else they are summed in f32); the C++ guest's wasi:webgpu build sums each row's f32
    /// leaves exactly on the device (and walks in wasm the rows an f64 sum would round), so
    /// they equal its trees walked on the host bit for bit.
    ///
    /// # Errors
    /// The guest's `err` (no forest yet, a width that is not a multiple of the forest's
    /// features, a device error); [`ForestGpuGuestError::Trap`].
    pub fn predict(&mut self, x: &[f32]) -> Result<Vec<f64>> {
        let r = self
            .call::<(GuestF32s<'_>,), (std::result::Result<HostF64s, String>,)>(
                "predict",
                (GuestF32s(x),),
            )?
            .0;
        guest("predict", r.map(|v| v.0))
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
        match H::call::<P, R>(&mut self.instance, op, params) {
            Ok(r) => Ok(r),
            Err(wasi_gpu::Error::Trap {
                message,
                interrupted,
                ..
            }) => {
                self.n_features = None;
                let fresh = self
                    .host
                    .instantiate_component(&self.component)
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
