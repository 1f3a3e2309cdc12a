//! [`GpuHost`]: the engine (epoch interruption), the linker with wasi:gpu and WASI
//! preview 2, the epoch ticker, and instantiating a component in its own store.

use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;

use wasmtime::component::{Component, ResourceTable};
use wasmtime::Engine;

use super::compute::add_zero_copy;
use super::device::GpuCtx;
use super::engine::Runtime;
#[cfg(doc)]
use super::Error;
use super::{bindings, Device, GpuInstance, GuestState, Limits, Result};

/// A host for wasi:gpu components: engine, linker, shared [`Device`], [`Limits`].
pub struct GpuHost {
    rt: Runtime<GuestState>,
    device: Arc<Device>,
    limits: Limits,
}

impl GpuHost {
    /// A host on `device` with `limits` for every instance.
    /// Errors: [`Error::Setup`] when the engine, linker or epoch ticker cannot be made.
    pub fn new(device: Arc<Device>, limits: Limits) -> Result<GpuHost> {
        let rt = Runtime::new("wasi-gpu-epoch", |linker| {
            bindings::MlCompute::add_to_linker::<_, wasmtime::component::HasSelf<GuestState>>(
                linker,
                |s| s,
            )?;
            add_zero_copy(linker)
        })?;
        Ok(GpuHost { rt, device, limits })
    }

    /// Lets guests write to this process's stdout/stderr (off by default: discarded).
    pub fn inherit_stdio(&mut self, on: bool) -> &mut Self {
        self.rt.inherit_stdio = on;
        self
    }

    /// The shared device.
    pub fn device(&self) -> &Arc<Device> {
        &self.device
    }

    /// The limits of every instance.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// The engine (components must be compiled with it).
    pub fn engine(&self) -> &Engine {
        &self.rt.engine
    }

    /// Reads and compiles a component file.
    /// Errors: [`Error::Load`] (unreadable, not a component, invalid).
    pub fn load(&self, path: impl AsRef<Path>) -> Result<Component> {
        self.rt.load(path.as_ref())
    }

    /// Instantiates `component` in a fresh store with its own resource table and quotas.
    /// Errors: [`Error::Setup`] (an import this host does not provide, a start trap).
    pub fn instantiate(&self, component: &Component) -> Result<GpuInstance> {
        let state = GuestState {
            table: ResourceTable::new(),
            wasi: self.rt.wasi_ctx(),
            gpu: GpuCtx {
                device: self.device.clone(),
                limits: self.limits,
                used_bytes: 0,
                held: HashSet::new(),
            },
        };
        let (store, instance, deadline) =
            self.rt
                .instantiate(state, self.limits.deadline, component)?;
        Ok(GpuInstance {
            store,
            instance,
            deadline,
        })
    }
}
