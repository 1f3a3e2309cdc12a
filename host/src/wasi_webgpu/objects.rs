//! What each wasi:webgpu resource stands for on the host. A field `inner: None` is an
//! *invalid* object (WebGPU's term): its creation raised an error (or was refused by a
//! quota), and using it raises a validation error.

/// `gpu`: the entry point (`get-gpu`).
#[derive(Debug)]
pub struct Gpu;

/// `gpu-adapter`: the shared [`WebGpuDevice`](super::WebGpuDevice)'s adapter.
#[derive(Debug)]
pub struct Adapter;

/// `gpu-device`: a guest's view of the shared device. `destroy` is logical: it destroys
/// the buffers this instance created through it and makes later calls on it (and its
/// queue) validation errors, leaving the shared device to the other instances.
#[derive(Debug)]
pub struct Device {
    pub(super) id: u32,
    pub(super) label: String,
}

/// `gpu-queue` of the device with id `dev`.
#[derive(Debug)]
pub struct Queue {
    pub(super) dev: u32,
}

/// Whether a buffer is mapped for the host to copy from (`Mapped`) and which range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum MapState {
    Unmapped,
    /// Mapped: byte offset and size of the mapped range.
    Mapped(u64, u64),
}

/// `gpu-buffer`: `size` bytes (as asked: wgpu's buffer is the same size).
#[derive(Debug)]
pub struct Buffer {
    pub(super) inner: Option<wgpu::Buffer>,
    pub(super) dev: u32,
    /// Serial of the buffer in its instance's ledger (bytes held, device destroy).
    pub(super) serial: u64,
    pub(super) size: u64,
    pub(super) usage: wgpu::BufferUsages,
    pub(super) map: MapState,
    pub(super) destroyed: bool,
    pub(super) label: String,
}

/// `gpu-shader-module`: WGSL compiled by wgpu (invalid when it did not validate).
#[derive(Debug)]
pub struct ShaderModule {
    pub(super) inner: Option<wgpu::ShaderModule>,
    pub(super) label: String,
}

/// `gpu-compute-pipeline` (with the layout wgpu derived from the shader: `auto`).
#[derive(Debug)]
pub struct ComputePipeline {
    pub(super) inner: Option<wgpu::ComputePipeline>,
    pub(super) label: String,
}

/// `gpu-bind-group-layout` (from `get-bind-group-layout` of a pipeline).
#[derive(Debug)]
pub struct BindGroupLayout {
    pub(super) inner: Option<wgpu::BindGroupLayout>,
}

/// `gpu-bind-group`.
#[derive(Debug)]
pub struct BindGroup {
    pub(super) inner: Option<wgpu::BindGroup>,
    pub(super) label: String,
}

/// `gpu-command-encoder`; `inner` is taken by `finish`.
#[derive(Debug)]
pub struct CommandEncoder {
    pub(super) inner: Option<wgpu::CommandEncoder>,
    pub(super) dev: u32,
    pub(super) label: String,
}

/// `gpu-compute-pass-encoder`; `inner` is taken by `end`.
#[derive(Debug)]
pub struct ComputePass {
    pub(super) inner: Option<wgpu::ComputePass<'static>>,
    pub(super) label: String,
}

/// `gpu-command-buffer`; `inner` is taken by `submit` (a command buffer runs once).
#[derive(Debug)]
pub struct CommandBuffer {
    pub(super) inner: Option<wgpu::CommandBuffer>,
    pub(super) label: String,
}

/// The kind of a `gpu-error`, and of an error scope's filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ErrorKind {
    Validation,
    OutOfMemory,
    Internal,
}

/// `gpu-error`: what `pop-error-scope` returns.
#[derive(Debug, Clone)]
pub struct ErrorObject {
    pub(super) kind: ErrorKind,
    pub(super) message: String,
}

/// `gpu-supported-limits`: a copy of the device's limits.
#[derive(Debug)]
pub struct SupportedLimits(pub(super) wgpu::Limits);

/// `gpu-supported-features`: the device's features.
#[derive(Debug)]
pub struct Features(pub(super) wgpu::Features);

/// `record-gpu-pipeline-constant-value`: override constants of a pipeline, by name.
#[derive(Debug, Default)]
pub struct Constants(pub(super) Vec<(String, f64)>);

/// `record-option-gpu-size64`: a device descriptor's required limits, by WebGPU name.
#[derive(Debug, Default)]
pub struct OptionSize64Map(pub(super) Vec<(String, Option<u64>)>);

/// `gpu-pipeline-layout`: this subset has no `create-pipeline-layout`; a guest never holds
/// one.
#[derive(Debug)]
pub struct PipelineLayout;
/// `gpu-sampler`: not creatable in this subset.
#[derive(Debug)]
pub struct Sampler;
/// `gpu-texture`: not creatable in this subset.
#[derive(Debug)]
pub struct Texture;
/// `gpu-texture-view`: not creatable in this subset.
#[derive(Debug)]
pub struct TextureView;
/// `gpu-query-set`: not creatable in this subset.
#[derive(Debug)]
pub struct QuerySet;
