//! The Rust host of `wasi:gpu` 0.1.0 (`wasm-modules/wit/wasi-gpu`, world `ml-compute`) for
//! components, on wasmtime's component model.
//!
//! - [`Device`]: one [`offload_core::gpu::Backend`] shared by every guest instance of a host
//!   (behind a mutex: calls from several instances are serialised on the device), with a
//!   count of the device buffers the guests hold ([`Device::live_buffers`]).
//! - [`GpuHost`]: an engine with epoch interruption, a [`Linker`] with `wasi:gpu` (the
//!   `bindgen!` traits, implemented on [`GuestState`]) and WASI preview 2 (for components
//!   built for wasm32-wasip2, or wrapped with the preview1 adapter), the [`Limits`] of every
//!   instance, and a ticker thread that advances the epoch.
//! - [`GpuInstance`]: one component instance in its own [`Store`]: its own
//!   [`ResourceTable`] of buffers (a guest's handle is an index into it, so it cannot name
//!   another instance's buffer), its own quota counters; every buffer it still holds is
//!   destroyed on the device when it is dropped.
//!
//! Isolation: the canonical ABI traps on a handle the instance does not own (never
//! created, destroyed, forged), and on a pointer or length outside the guest's linear
//! memory; every offset, size and shape is checked by the backend and returned as a
//! `gpu-error`; quotas are checked before anything is allocated; a guest that runs past
//! [`Limits::deadline`] in one export call traps with an epoch interrupt. None of these
//! harm the host or other instances (a trapped instance cannot be entered again; drop it).
//!
//! Copies: `buffer-write` hands the backend a view of the guest's linear memory
//! (`WasmList<u8>`, no copy in the host); `buffer-read` lets the backend copy the device
//! bytes straight into the list the guest's `cabi_realloc` allocated ([`DeviceRead`]).
//! Both replace the `bindgen!` versions in the linker.
//!
//! [`Linker`]: wasmtime::component::Linker
//! [`Store`]: wasmtime::Store
//! [`ResourceTable`]: wasmtime::component::ResourceTable

mod compute;
mod device;
pub(crate) mod engine;
mod error;
mod host;
mod instance;
mod ml_kernels;
mod read;
mod state;

pub use device::{Device, GpuBuffer, Limits, TICK};
pub use error::{describe, to_wit, Error, Result};
pub use host::GpuHost;
pub use instance::GpuInstance;
pub use read::DeviceRead;
pub use state::GuestState;

pub(crate) use error::setup;

/// The `bindgen!` bindings of world `wasi:gpu/ml-compute`: `compute` and `ml-kernels`
/// (imports; every function trappable, so that a host-side failure to resolve a handle
/// traps the guest instead of panicking).
#[allow(missing_docs)]
pub mod bindings {
    wasmtime::component::bindgen!({
        path: "../wasm-modules/wit/wasi-gpu",
        world: "wasi:gpu/ml-compute",
        imports: { default: trappable },
        with: { "wasi:gpu/compute.buffer": crate::wasi_gpu::GpuBuffer },
    });
}

/// Name of the compute interface instance in a component's imports.
pub const COMPUTE_INTERFACE: &str = "wasi:gpu/compute@0.1.0";

/// `n` f32 uniform in [-1, 1), the data the demo guest makes (offload-core's
/// [`seeded_f32`], which the guest library re-exports), so
/// that the host can check the guest's answers.
pub use offload_core::rng::seeded_f32;

/// Wraps a wasm32-wasip1 core module that carries wit-bindgen's `component-type` custom
/// section into a component, adapting its `wasi_snapshot_preview1` imports with the
/// preview1 **reactor** adapter of wasmtime's release (crate
/// `wasi-preview1-component-adapter-provider`), and validates the result.
/// Errors: [`Error::Setup`] with wit-component's message (no component-type section, an
/// import the world does not declare, ...).
pub fn componentize(core: &[u8]) -> Result<Vec<u8>> {
    use wasi_preview1_component_adapter_provider::{
        WASI_SNAPSHOT_PREVIEW1_ADAPTER_NAME, WASI_SNAPSHOT_PREVIEW1_REACTOR_ADAPTER,
    };
    let component = wit_component::ComponentEncoder::default()
        .module(core)
        .map_err(setup)?
        .adapter(
            WASI_SNAPSHOT_PREVIEW1_ADAPTER_NAME,
            WASI_SNAPSHOT_PREVIEW1_REACTOR_ADAPTER,
        )
        .map_err(setup)?
        .validate(true)
        .encode()
        .map_err(setup)?;
    Ok(component)
}
