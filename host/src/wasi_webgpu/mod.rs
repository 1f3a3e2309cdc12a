//! The Rust host of the compute subset of `wasi:webgpu` (`wasm-modules/wit/wasi-webgpu`,
//! package `wasi:webgpu@0.3.0-rc.2`, world `imports`) for components, on the project's
//! wgpu (the version offload-core's wgpu backend uses). Why not the published host crate
//! `wasi-webgpu-wasmtime`, and the one way the WIT differs from the published one (five
//! `async func`s are plain `func`s): docs/wasi-webgpu.md.
//!
//! - [`WebGpuDevice`]: one wgpu adapter and device shared by every instance of a host
//!   (calls from several instances are serialised on it, so that one instance's error
//!   scopes never catch another's errors).
//! - [`WebGpuHost`]: an engine with epoch interruption, a linker with `wasi:webgpu` (the
//!   `bindgen!` traits, implemented on [`WebGpuState`]) and WASI preview 2, the
//!   [`Limits`] of every instance, and a ticker thread that advances the epoch.
//! - [`WebGpuInstance`]: one component instance in its own store: its own resource table
//!   (a guest's handle is an index into it, so it cannot name another instance's object),
//!   its own error scopes and quota counters.
//!
//! Errors follow WebGPU's model, and every one is defined:
//! - functions with a `result` (map-async, get-mapped-range, unmap, write-buffer,
//!   set-bind-group, request-device, create-compute-pipeline-async, pop-error-scope)
//!   return the published error records;
//! - the others (create-buffer, create-shader-module with invalid WGSL,
//!   create-bind-group, dispatches over the device's limits, submit of a destroyed
//!   buffer, ...) return an *invalid* object and raise a `gpu-error` (validation,
//!   out-of-memory or internal) into the innermost matching error scope the guest pushed
//!   (`push-error-scope` / `pop-error-scope`); with no such scope the error is
//!   "uncaptured": counted and kept (the last [`UNCAPTURED_KEPT`]) for the embedder
//!   ([`WebGpuInstance::uncaptured`]); using an invalid object raises a validation error;
//! - the byte quota ([`Limits::max_bytes`]) refuses a buffer with an out-of-memory error
//!   (and an invalid buffer); the object quota ([`Limits::max_objects`]) and the error
//!   scope depth ([`MAX_ERROR_SCOPES`]) trap the instance, as do handles it does not own
//!   (canonical ABI), the epoch deadline ([`Limits::deadline`]) and a panic inside wgpu
//!   (caught at the boundary). A trapped instance cannot be entered again; the host and
//!   every other instance carry on.
//!
//! Everything a guest maps is copied, once: `write-buffer-with-copy` from its linear memory
//! into wgpu's staging memory, `get-mapped-range-get-with-copy` from the mapped range into
//! the guest's list (the linker runs the host's own functions for both, see
//! `impls/queue.rs` and `impls/mapped.rs`).

mod device;
mod host;
mod impls;
mod objects;
mod state;

pub use device::{Limits, WebGpuDevice, MAX_WGSL_BYTES};
pub use host::{WebGpuHost, WebGpuInstance};
pub use objects::{
    Adapter, BindGroup, BindGroupLayout, Buffer, CommandBuffer, CommandEncoder, ComputePass,
    ComputePipeline, Constants, Device, ErrorObject, Features, Gpu, OptionSize64Map,
    PipelineLayout, QuerySet, Queue, Sampler, ShaderModule, SupportedLimits, Texture, TextureView,
};
pub use state::{WebGpuState, MAX_ERROR_SCOPES, UNCAPTURED_KEPT};

/// The `bindgen!` bindings of world `wasi:webgpu/imports` (every import trappable, so a
/// host-side failure to resolve a handle or a wgpu panic traps the guest instead of
/// panicking the host).
#[allow(missing_docs)]
pub mod bindings {
    wasmtime::component::bindgen!({
        path: "../wasm-modules/wit/wasi-webgpu",
        world: "wasi:webgpu/imports",
        imports: { default: trappable },
        with: {
            "wasi:webgpu/webgpu.gpu": crate::wasi_webgpu::Gpu,
            "wasi:webgpu/webgpu.gpu-adapter": crate::wasi_webgpu::Adapter,
            "wasi:webgpu/webgpu.gpu-device": crate::wasi_webgpu::Device,
            "wasi:webgpu/webgpu.gpu-queue": crate::wasi_webgpu::Queue,
            "wasi:webgpu/webgpu.gpu-buffer": crate::wasi_webgpu::Buffer,
            "wasi:webgpu/webgpu.gpu-shader-module": crate::wasi_webgpu::ShaderModule,
            "wasi:webgpu/webgpu.gpu-compute-pipeline": crate::wasi_webgpu::ComputePipeline,
            "wasi:webgpu/webgpu.gpu-bind-group-layout": crate::wasi_webgpu::BindGroupLayout,
            "wasi:webgpu/webgpu.gpu-bind-group": crate::wasi_webgpu::BindGroup,
            "wasi:webgpu/webgpu.gpu-pipeline-layout": crate::wasi_webgpu::PipelineLayout,
            "wasi:webgpu/webgpu.gpu-command-encoder": crate::wasi_webgpu::CommandEncoder,
            "wasi:webgpu/webgpu.gpu-compute-pass-encoder": crate::wasi_webgpu::ComputePass,
            "wasi:webgpu/webgpu.gpu-command-buffer": crate::wasi_webgpu::CommandBuffer,
            "wasi:webgpu/webgpu.gpu-error": crate::wasi_webgpu::ErrorObject,
            "wasi:webgpu/webgpu.gpu-supported-limits": crate::wasi_webgpu::SupportedLimits,
            "wasi:webgpu/webgpu.gpu-supported-features": crate::wasi_webgpu::Features,
            "wasi:webgpu/webgpu.gpu-sampler": crate::wasi_webgpu::Sampler,
            "wasi:webgpu/webgpu.gpu-texture": crate::wasi_webgpu::Texture,
            "wasi:webgpu/webgpu.gpu-texture-view": crate::wasi_webgpu::TextureView,
            "wasi:webgpu/webgpu.gpu-query-set": crate::wasi_webgpu::QuerySet,
            "wasi:webgpu/webgpu.record-gpu-pipeline-constant-value": crate::wasi_webgpu::Constants,
            "wasi:webgpu/webgpu.record-option-gpu-size64": crate::wasi_webgpu::OptionSize64Map,
        },
    });
}

/// Name of the interface instance in a component's imports.
pub const WEBGPU_INTERFACE: &str = "wasi:webgpu/webgpu@0.3.0-rc.2";
