//! [`WebGpuHost`]: the engine (epoch interruption), the linker with wasi:webgpu and WASI
//! preview 2, the epoch ticker; [`WebGpuInstance`]: one component instance and calls into
//! it under the deadline.

use std::path::Path;
use std::sync::Arc;

use wasmtime::component::{Component, Instance, ResourceTable};
use wasmtime::Store;

use super::impls::{get_mapped_range_into_guest, write_buffer_from_guest};
use super::state::Ctx;
use super::{bindings, Limits, WebGpuDevice, WebGpuState, WEBGPU_INTERFACE};
use crate::wasi_gpu::engine::{self, Runtime};
#[cfg(doc)]
use crate::wasi_gpu::Error;
use crate::wasi_gpu::Result;

/// A host for wasi:webgpu components: engine, linker, shared [`WebGpuDevice`], [`Limits`].
pub struct WebGpuHost {
    rt: Runtime<WebGpuState>,
    device: Arc<WebGpuDevice>,
    limits: Limits,
}

impl WebGpuHost {
    /// A host on `device` with `limits` for every instance.
    /// Errors: [`Error::Setup`] when the engine, linker or ticker cannot be made.
    pub fn new(device: Arc<WebGpuDevice>, limits: Limits) -> Result<WebGpuHost> {
        let rt = Runtime::new("wasi-webgpu-epoch", |linker| {
            bindings::Imports::add_to_linker::<_, wasmtime::component::HasSelf<WebGpuState>>(
                linker,
                |s| s,
            )?;
            // write-buffer-with-copy and get-mapped-range-get-with-copy again, in place of
            // the bindings' ones: each copies the bytes once, between the guest's linear
            // memory and wgpu's staging or mapped memory.
            linker.allow_shadowing(true);
            let mut inst = linker.instance(WEBGPU_INTERFACE)?;
            inst.func_wrap(
                "[method]gpu-queue.write-buffer-with-copy",
                write_buffer_from_guest,
            )?;
            inst.func_wrap(
                "[method]gpu-buffer.get-mapped-range-get-with-copy",
                get_mapped_range_into_guest,
            )?;
            linker.allow_shadowing(false);
            Ok(())
        })?;
        Ok(WebGpuHost { rt, device, limits })
    }

    /// Lets guests write to this process's stdout/stderr (off by default: discarded).
    pub fn inherit_stdio(&mut self, on: bool) -> &mut Self {
        self.rt.inherit_stdio = on;
        self
    }

    /// The shared device.
    pub fn device(&self) -> &Arc<WebGpuDevice> {
        &self.device
    }

    /// The limits of every instance.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Reads and compiles a component file.
    /// Errors: [`Error::Load`] (unreadable, not a component, invalid).
    pub fn load(&self, path: impl AsRef<Path>) -> Result<Component> {
        self.rt.load(path.as_ref())
    }

    /// Instantiates `component` in a fresh store with its own resource table, error
    /// scopes and quotas.
    /// Errors: [`Error::Setup`] (an import this host does not provide, a start trap).
    pub fn instantiate(&self, component: &Component) -> Result<WebGpuInstance> {
        let state = WebGpuState {
            table: ResourceTable::new(),
            wasi: self.rt.wasi_ctx(),
            gpu: Ctx::new(self.device.clone(), self.limits),
        };
        let (store, instance, deadline) =
            self.rt
                .instantiate(state, self.limits.deadline, component)?;
        Ok(WebGpuInstance {
            store,
            instance,
            deadline,
        })
    }
}

/// One component instance with its own store, table, error scopes and quotas. Dropping it
/// releases every buffer it still holds.
pub struct WebGpuInstance {
    store: Store<WebGpuState>,
    instance: Instance,
    deadline: u64,
}

impl WebGpuInstance {
    /// Bytes of buffers this instance holds now (the byte quota's count).
    pub fn used_bytes(&self) -> u64 {
        self.store.data().gpu.used_bytes
    }

    /// Buffers this instance holds now (created, not destroyed or dropped).
    pub fn buffers(&self) -> usize {
        self.store.data().gpu.buffers()
    }

    /// wasi:webgpu objects this instance holds now (the object quota's count).
    pub fn objects(&self) -> u32 {
        self.store.data().gpu.objects
    }

    /// Errors raised outside any error scope the guest pushed: how many, and the
    /// messages of the last [`UNCAPTURED_KEPT`](super::UNCAPTURED_KEPT).
    pub fn uncaptured(&self) -> (u64, Vec<String>) {
        let g = &self.store.data().gpu;
        (g.uncaptured_count, g.uncaptured.iter().cloned().collect())
    }

    /// Calls a typed export `name` (e.g. `sum` as `(&[f32],) -> (Result<f32, String>,)`).
    /// Errors: [`Error::Invoke`] for a missing export or a type mismatch; [`Error::Trap`]
    /// (with `interrupted` for the epoch deadline).
    pub fn call<P, R>(&mut self, name: &str, params: P) -> Result<R>
    where
        P: wasmtime::component::ComponentNamedList + wasmtime::component::Lower + Send + Sync,
        R: wasmtime::component::ComponentNamedList + wasmtime::component::Lift + Send + Sync,
    {
        engine::call(&mut self.store, &self.instance, self.deadline, name, params)
    }
}
