//! [`ForestHost`]: what [`ForestComponent`] needs of a component host, for the `wasi:gpu`
//! host ([`GpuHost`]) and the `wasi:webgpu` host ([`WebGpuHost`]); and each host's
//! constructor ([`ForestGpuGuest::load`], [`ForestWebGpuGuest::load`]).

use std::path::Path;
use std::sync::Arc;

use wasmtime::component::{Component, ComponentNamedList, Lift, Lower};

use super::{ForestComponent, ForestGpuGuestError, Result, WitPredictStats};
#[cfg(doc)]
use super::{ForestGpuGuest, ForestWebGpuGuest};
use crate::wasi_gpu::{self, Device, GpuHost, GpuInstance};
use crate::wasi_webgpu::{WebGpuDevice, WebGpuHost, WebGpuInstance};

mod sealed {
    pub trait Sealed {}
    impl Sealed for crate::wasi_gpu::GpuHost {}
    impl Sealed for crate::wasi_webgpu::WebGpuHost {}
}

/// A component host a forest guest runs on: [`GpuHost`] or [`WebGpuHost`] (sealed). Both
/// share the engine, deadline and error type of [`crate::wasi_gpu`].
pub trait ForestHost: sealed::Sealed {
    /// One component instance on this host.
    type Instance;
    /// The device's name, as the host reports it.
    fn device_name(&self) -> String;
    /// Reads and compiles a component file ([`wasi_gpu::Error::Load`]).
    fn load_component(&self, path: &Path) -> wasi_gpu::Result<Component>;
    /// Instantiates `component` in a fresh store ([`wasi_gpu::Error::Setup`]).
    fn instantiate_component(&self, component: &Component) -> wasi_gpu::Result<Self::Instance>;
    /// Calls a typed export under the deadline ([`wasi_gpu::Error::Invoke`],
    /// [`wasi_gpu::Error::Trap`]).
    fn call<P, R>(i: &mut Self::Instance, name: &str, params: P) -> wasi_gpu::Result<R>
    where
        P: ComponentNamedList + Lower + Send + Sync,
        R: ComponentNamedList + Lift + Send + Sync;
    /// Device buffers the instance holds now.
    fn buffers(i: &Self::Instance) -> usize;
    /// Device bytes the instance holds now.
    fn used_bytes(i: &Self::Instance) -> u64;
}

/// `impl ForestHost for $host`: the host's and its instance's own methods of the same
/// names (both hosts have them), and the device name from `$name`.
macro_rules! forest_host {
    ($host:ty, $instance:ty, $name:expr) => {
        impl ForestHost for $host {
            type Instance = $instance;
            fn device_name(&self) -> String {
                $name(self)
            }
            fn load_component(&self, path: &Path) -> wasi_gpu::Result<Component> {
                self.load(path)
            }
            fn instantiate_component(&self, c: &Component) -> wasi_gpu::Result<$instance> {
                self.instantiate(c)
            }
            fn call<P, R>(i: &mut $instance, name: &str, params: P) -> wasi_gpu::Result<R>
            where
                P: ComponentNamedList + Lower + Send + Sync,
                R: ComponentNamedList + Lift + Send + Sync,
            {
                i.call(name, params)
            }
            fn buffers(i: &$instance) -> usize {
                i.buffers()
            }
            fn used_bytes(i: &$instance) -> u64 {
                i.used_bytes()
            }
        }
    };
}

forest_host!(GpuHost, GpuInstance, |h: &GpuHost| {
    let info = h.device().info();
    format!("{} ({})", info.name, info.driver)
});
forest_host!(WebGpuHost, WebGpuInstance, |h: &WebGpuHost| h
    .device()
    .name());

impl ForestComponent<GpuHost> {
    /// Loads the forest-gpu component at `path` into a new [`GpuHost`] on `device` with
    /// `limits` per instance, and instantiates it.
    ///
    /// # Errors
    /// [`ForestGpuGuestError::Host`]: unreadable or invalid component, an import the host
    /// lacks (e.g. a component of another world).
    pub fn load(
        path: impl AsRef<Path>,
        device: Arc<Device>,
        limits: wasi_gpu::Limits,
    ) -> Result<Self> {
        let host = GpuHost::new(device, limits).map_err(ForestGpuGuestError::Host)?;
        Self::on_host(host, path.as_ref())
    }

    /// The shared device the guest's kernels run on.
    pub fn device(&self) -> &Arc<Device> {
        self.host.device()
    }
}

impl ForestComponent<WebGpuHost> {
    /// Loads the forest-webgpu component at `path` into a new [`WebGpuHost`] on `device`
    /// with `limits` per instance, and instantiates it.
    ///
    /// # Errors
    /// [`ForestGpuGuestError::Host`]: unreadable or invalid component, an import the host
    /// lacks (e.g. a component of another world).
    pub fn load(
        path: impl AsRef<Path>,
        device: Arc<WebGpuDevice>,
        limits: crate::wasi_webgpu::Limits,
    ) -> Result<Self> {
        let host = WebGpuHost::new(device, limits).map_err(ForestGpuGuestError::Host)?;
        Self::on_host(host, path.as_ref())
    }

    /// The shared wgpu device the guest's shaders run on.
    pub fn device(&self) -> &Arc<WebGpuDevice> {
        self.host.device()
    }

    /// How the last successful `predict` formed its rows: summed on the device, or walked
    /// on the CPU in wasm (export `predict-stats` of world forest-webgpu; both 0 before any
    /// predict).
    ///
    /// # Errors
    /// [`ForestGpuGuestError::Host`] for a component without the export;
    /// [`ForestGpuGuestError::Trap`].
    pub fn predict_stats(&mut self) -> Result<WitPredictStats> {
        Ok(self.call::<(), (WitPredictStats,)>("predict-stats", ())?.0)
    }
}
