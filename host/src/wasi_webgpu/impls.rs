//! The `bindgen!` traits of `wasi:webgpu/webgpu` on [`WebGpuState`]: every import of the
//! compute subset. Conventions: a handle the table cannot resolve is a trap (the canonical
//! ABI already refused foreign handles); functions without a `result` raise their errors
//! into the guest's error scopes (see the module documentation) and return an invalid
//! object; wgpu calls run inside `Ctx::capture` (wgpu error scopes, panics caught).

use std::num::NonZeroU64;

use wasmtime::component::Resource;

use super::bindings::wasi::webgpu::webgpu as w;
use super::objects::*;
use super::{WebGpuState, MAX_WGSL_BYTES};

type R<T> = wasmtime::Result<T>;

/// Alignment of a mapped range's offset (bytes), as WebGPU and wgpu require.
const MAP_OFFSET_ALIGN: u64 = 8;
/// Alignment of mapped sizes and of queue writes (bytes).
const COPY_ALIGN: u64 = 4;

fn usage_to_wgpu(u: w::GpuBufferUsage) -> wgpu::BufferUsages {
    use wgpu::BufferUsages as B;
    let pairs = [
        (w::GpuBufferUsage::MAP_READ, B::MAP_READ),
        (w::GpuBufferUsage::MAP_WRITE, B::MAP_WRITE),
        (w::GpuBufferUsage::COPY_SRC, B::COPY_SRC),
        (w::GpuBufferUsage::COPY_DST, B::COPY_DST),
        (w::GpuBufferUsage::INDEX, B::INDEX),
        (w::GpuBufferUsage::VERTEX, B::VERTEX),
        (w::GpuBufferUsage::UNIFORM, B::UNIFORM),
        (w::GpuBufferUsage::STORAGE, B::STORAGE),
        (w::GpuBufferUsage::INDIRECT, B::INDIRECT),
        (w::GpuBufferUsage::QUERY_RESOLVE, B::QUERY_RESOLVE),
    ];
    pairs
        .iter()
        .filter(|(f, _)| u.contains(*f))
        .fold(B::empty(), |acc, (_, b)| acc | *b)
}

fn usage_from_wgpu(u: wgpu::BufferUsages) -> w::GpuBufferUsage {
    use wgpu::BufferUsages as B;
    let pairs = [
        (B::MAP_READ, w::GpuBufferUsage::MAP_READ),
        (B::MAP_WRITE, w::GpuBufferUsage::MAP_WRITE),
        (B::COPY_SRC, w::GpuBufferUsage::COPY_SRC),
        (B::COPY_DST, w::GpuBufferUsage::COPY_DST),
        (B::INDEX, w::GpuBufferUsage::INDEX),
        (B::VERTEX, w::GpuBufferUsage::VERTEX),
        (B::UNIFORM, w::GpuBufferUsage::UNIFORM),
        (B::STORAGE, w::GpuBufferUsage::STORAGE),
        (B::INDIRECT, w::GpuBufferUsage::INDIRECT),
        (B::QUERY_RESOLVE, w::GpuBufferUsage::QUERY_RESOLVE),
    ];
    pairs
        .iter()
        .filter(|(b, _)| u.contains(*b))
        .fold(w::GpuBufferUsage::empty(), |acc, (_, f)| acc | *f)
}

/// The wgpu feature behind a WebGPU feature name this host can grant; `None` for those it
/// cannot (never on its device).
fn feature(f: w::GpuFeatureName) -> Option<wgpu::Features> {
    use w::GpuFeatureName as N;
    match f {
        N::CoreFeaturesAndLimits => Some(wgpu::Features::empty()),
        N::TimestampQuery => Some(wgpu::Features::TIMESTAMP_QUERY),
        N::ShaderF16 => Some(wgpu::Features::SHADER_F16),
        N::Subgroups => Some(wgpu::Features::SUBGROUP),
        _ => None,
    }
}

/// A device limit by its WebGPU name; `None` for names this host does not know. The
/// second value says whether a larger requirement is stricter (`max-*`) or a smaller one
/// (`min-*` alignments).
fn limit(l: &wgpu::Limits, name: &str) -> Option<(u64, bool)> {
    let v = match name {
        "max-bind-groups" => l.max_bind_groups as u64,
        "max-bindings-per-bind-group" => l.max_bindings_per_bind_group as u64,
        "max-storage-buffers-per-shader-stage" => l.max_storage_buffers_per_shader_stage as u64,
        "max-uniform-buffer-binding-size" => l.max_uniform_buffer_binding_size,
        "max-storage-buffer-binding-size" => l.max_storage_buffer_binding_size,
        "max-buffer-size" => l.max_buffer_size,
        "max-compute-workgroup-storage-size" => l.max_compute_workgroup_storage_size as u64,
        "max-compute-invocations-per-workgroup" => l.max_compute_invocations_per_workgroup as u64,
        "max-compute-workgroup-size-x" => l.max_compute_workgroup_size_x as u64,
        "max-compute-workgroup-size-y" => l.max_compute_workgroup_size_y as u64,
        "max-compute-workgroup-size-z" => l.max_compute_workgroup_size_z as u64,
        "max-compute-workgroups-per-dimension" => l.max_compute_workgroups_per_dimension as u64,
        "min-uniform-buffer-offset-alignment" => {
            return Some((l.min_uniform_buffer_offset_alignment as u64, false))
        }
        "min-storage-buffer-offset-alignment" => {
            return Some((l.min_storage_buffer_offset_alignment as u64, false))
        }
        _ => return None,
    };
    Some((v, true))
}

fn map_err(kind: w::MapAsyncErrorKind, message: impl Into<String>) -> w::MapAsyncError {
    w::MapAsyncError {
        kind,
        message: message.into(),
    }
}

fn range_err(
    kind: w::GetMappedRangeErrorKind,
    message: impl Into<String>,
) -> w::GetMappedRangeError {
    w::GetMappedRangeError {
        kind,
        message: message.into(),
    }
}

impl WebGpuState {
    /// Whether buffer `b` can still be used: valid, not destroyed, its device not
    /// destroyed.
    fn live<'a>(&self, b: &'a Buffer) -> Option<&'a wgpu::Buffer> {
        if b.destroyed || self.gpu.destroyed_devices.contains(&b.dev) {
            return None;
        }
        b.inner.as_ref()
    }

    /// The wgpu buffer behind `r` for use in a command, or a validation error naming
    /// `what`.
    fn use_buffer(&mut self, r: &Resource<Buffer>, what: &str) -> R<Option<wgpu::Buffer>> {
        let b = self.table.get(r)?;
        match self.live(b) {
            Some(inner) => Ok(Some(inner.clone())),
            None => {
                let why = if b.inner.is_none() {
                    "invalid"
                } else {
                    "destroyed"
                };
                let label = b.label.clone();
                self.gpu
                    .invalid(format!("{what}: buffer '{label}' is {why}"));
                Ok(None)
            }
        }
    }

    fn device_dead(&self, dev: u32) -> bool {
        self.gpu.destroyed_devices.contains(&dev)
    }

    fn build_pipeline(
        &mut self,
        dev: u32,
        d: w::GpuComputePipelineDescriptor,
    ) -> R<Result<wgpu::ComputePipeline, Vec<ErrorObject>>> {
        let constants = match d.compute.constants {
            Some(c) => self.delete(c)?.0,
            None => Vec::new(),
        };
        let label = d.label.unwrap_or_default();
        let fail = |m: String| {
            Ok(Err(vec![ErrorObject {
                kind: ErrorKind::Validation,
                message: m,
            }]))
        };
        if self.device_dead(dev) {
            return fail(format!(
                "create-compute-pipeline '{label}': the device is destroyed"
            ));
        }
        if let w::GpuLayoutMode::Specific(_) = d.layout {
            return fail(format!(
                "create-compute-pipeline '{label}': explicit pipeline layouts are not in this \
                 host's subset (use layout auto)"
            ));
        }
        let module = match &self.table.get(&d.compute.module)?.inner {
            Some(m) => m.clone(),
            None => {
                return fail(format!(
                    "create-compute-pipeline '{label}': the shader module is invalid"
                ))
            }
        };
        let entry = d.compute.entry_point;
        let pairs: Vec<(&str, f64)> = constants.iter().map(|(k, v)| (k.as_str(), *v)).collect();
        let (p, errors) = self.gpu.capture(|g| {
            g.device
                .create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                    label: Some(&label),
                    layout: None,
                    module: &module,
                    entry_point: entry.as_deref(),
                    compilation_options: wgpu::PipelineCompilationOptions {
                        constants: &pairs,
                        zero_initialize_workgroup_memory: true,
                    },
                    cache: None,
                })
        })?;
        Ok(if errors.is_empty() {
            Ok(p)
        } else {
            Err(errors)
        })
    }
}

impl w::Host for WebGpuState {
    fn get_gpu(&mut self) -> R<Resource<Gpu>> {
        self.push(Gpu)
    }
}

impl w::HostGpu for WebGpuState {
    fn request_adapter(
        &mut self,
        _this: Resource<Gpu>,
        _options: Option<w::GpuRequestAdapterOptions>,
    ) -> R<Option<Resource<Adapter>>> {
        Ok(Some(self.push(Adapter)?))
    }

    fn drop(&mut self, r: Resource<Gpu>) -> R<()> {
        self.delete(r).map(|_| ())
    }
}

impl w::HostGpuAdapter for WebGpuState {
    fn features(&mut self, _this: Resource<Adapter>) -> R<Resource<Features>> {
        let f = self.gpu.device.device.features();
        self.push(Features(f))
    }

    fn limits(&mut self, _this: Resource<Adapter>) -> R<Resource<SupportedLimits>> {
        let l = self.gpu.device.limits();
        self.push(SupportedLimits(l))
    }

    fn request_device(
        &mut self,
        _this: Resource<Adapter>,
        descriptor: Option<w::GpuDeviceDescriptor>,
    ) -> R<Result<Resource<Device>, w::RequestDeviceError>> {
        let mut label = String::new();
        if let Some(d) = descriptor {
            label = d.label.unwrap_or_default();
            let required = match d.required_limits {
                Some(r) => self.delete(r)?.0,
                None => Vec::new(),
            };
            let have = self.gpu.device.device.features();
            for f in d.required_features.unwrap_or_default() {
                if !feature(f).is_some_and(|wf| have.contains(wf)) {
                    return Ok(Err(w::RequestDeviceError {
                        kind: w::RequestDeviceErrorKind::TypeError,
                        message: format!("feature {f:?} is not available on this host's device"),
                    }));
                }
            }
            let limits = self.gpu.device.limits();
            for (name, value) in required {
                let Some(value) = value else { continue };
                let Some((have, max)) = limit(&limits, &name) else {
                    return Ok(Err(w::RequestDeviceError {
                        kind: w::RequestDeviceErrorKind::OperationError,
                        message: format!("unknown or unsupported limit '{name}'"),
                    }));
                };
                if (max && value > have) || (!max && value < have) {
                    return Ok(Err(w::RequestDeviceError {
                        kind: w::RequestDeviceErrorKind::OperationError,
                        message: format!("limit '{name}' = {value} is beyond the device's {have}"),
                    }));
                }
            }
        }
        let id = self.gpu.next_device;
        self.gpu.next_device += 1;
        Ok(Ok(self.push(Device { id, label })?))
    }

    fn drop(&mut self, r: Resource<Adapter>) -> R<()> {
        self.delete(r).map(|_| ())
    }
}

impl w::HostGpuSupportedFeatures for WebGpuState {
    fn has(&mut self, this: Resource<Features>, value: String) -> R<bool> {
        let f = self.table.get(&this)?.0;
        Ok(match value.as_str() {
            "core-features-and-limits" => true,
            "timestamp-query" => f.contains(wgpu::Features::TIMESTAMP_QUERY),
            "shader-f16" => f.contains(wgpu::Features::SHADER_F16),
            "subgroups" => f.contains(wgpu::Features::SUBGROUP),
            _ => false,
        })
    }

    fn drop(&mut self, r: Resource<Features>) -> R<()> {
        self.delete(r).map(|_| ())
    }
}

macro_rules! limits_methods {
    ($($name:ident: $ty:ty = $field:ident),* $(,)?) => {
        impl w::HostGpuSupportedLimits for WebGpuState {
            $(
                fn $name(&mut self, this: Resource<SupportedLimits>) -> R<$ty> {
                    Ok(self.table.get(&this)?.0.$field as $ty)
                }
            )*

            fn drop(&mut self, r: Resource<SupportedLimits>) -> R<()> {
                self.delete(r).map(|_| ())
            }
        }
    };
}

limits_methods! {
    max_bind_groups: u32 = max_bind_groups,
    max_bindings_per_bind_group: u32 = max_bindings_per_bind_group,
    max_storage_buffers_per_shader_stage: u32 = max_storage_buffers_per_shader_stage,
    max_uniform_buffer_binding_size: u64 = max_uniform_buffer_binding_size,
    max_storage_buffer_binding_size: u64 = max_storage_buffer_binding_size,
    min_uniform_buffer_offset_alignment: u32 = min_uniform_buffer_offset_alignment,
    min_storage_buffer_offset_alignment: u32 = min_storage_buffer_offset_alignment,
    max_buffer_size: u64 = max_buffer_size,
    max_compute_workgroup_storage_size: u32 = max_compute_workgroup_storage_size,
    max_compute_invocations_per_workgroup: u32 = max_compute_invocations_per_workgroup,
    max_compute_workgroup_size_x: u32 = max_compute_workgroup_size_x,
    max_compute_workgroup_size_y: u32 = max_compute_workgroup_size_y,
    max_compute_workgroup_size_z: u32 = max_compute_workgroup_size_z,
    max_compute_workgroups_per_dimension: u32 = max_compute_workgroups_per_dimension,
}

impl w::HostGpuDevice for WebGpuState {
    fn features(&mut self, _this: Resource<Device>) -> R<Resource<Features>> {
        let f = self.gpu.device.device.features();
        self.push(Features(f))
    }

    fn limits(&mut self, _this: Resource<Device>) -> R<Resource<SupportedLimits>> {
        let l = self.gpu.device.limits();
        self.push(SupportedLimits(l))
    }

    fn queue(&mut self, this: Resource<Device>) -> R<Resource<Queue>> {
        let dev = self.table.get(&this)?.id;
        self.push(Queue { dev })
    }

    fn destroy(&mut self, this: Resource<Device>) -> R<()> {
        let dev = self.table.get(&this)?.id;
        if !self.gpu.destroyed_devices.insert(dev) {
            return Ok(());
        }
        let buffers: Vec<wgpu::Buffer> = self
            .gpu
            .held_on(dev)
            .into_iter()
            .filter_map(|s| self.gpu.release(s))
            .collect();
        let (_, errors) = self.gpu.capture(|_| {
            for b in &buffers {
                b.destroy();
            }
        })?;
        self.gpu.raise_all(errors);
        Ok(())
    }

    fn create_buffer(
        &mut self,
        this: Resource<Device>,
        d: w::GpuBufferDescriptor,
    ) -> R<Resource<Buffer>> {
        let dev = self.table.get(&this)?.id;
        let label = d.label.unwrap_or_default();
        let usage = usage_to_wgpu(d.usage);
        let mapped = d.mapped_at_creation.unwrap_or(false);
        let mut buffer = Buffer {
            inner: None,
            dev,
            serial: u64::MAX,
            size: d.size,
            usage,
            map: MapState::Unmapped,
            destroyed: false,
            label: label.clone(),
        };
        if self.device_dead(dev) {
            self.gpu
                .invalid(format!("create-buffer '{label}': the device is destroyed"));
        } else if !self.gpu.admit(d.size) {
            self.gpu.raise(ErrorObject {
                kind: ErrorKind::OutOfMemory,
                message: format!(
                    "create-buffer '{label}': {} bytes would exceed this instance's quota of \
                     {} bytes ({} held)",
                    d.size, self.gpu.limits.max_bytes, self.gpu.used_bytes
                ),
            });
        } else if mapped && !d.size.is_multiple_of(COPY_ALIGN) {
            self.gpu.invalid(format!(
                "create-buffer '{label}': mapped-at-creation needs a size that is a multiple \
                 of 4 (got {})",
                d.size
            ));
        } else {
            let (b, errors) = self.gpu.capture(|g| {
                g.device.create_buffer(&wgpu::BufferDescriptor {
                    label: Some(&label),
                    size: d.size,
                    usage,
                    mapped_at_creation: mapped,
                })
            })?;
            if !self.gpu.raise_all(errors) {
                buffer.serial = self.gpu.hold(dev, b.clone(), d.size);
                buffer.inner = Some(b);
                if mapped {
                    buffer.map = MapState::Mapped(0, d.size);
                }
            }
        }
        self.push(buffer)
    }

    fn create_bind_group(
        &mut self,
        this: Resource<Device>,
        d: w::GpuBindGroupDescriptor,
    ) -> R<Resource<BindGroup>> {
        let dev = self.table.get(&this)?.id;
        let label = d.label.unwrap_or_default();
        let invalid = |s: &mut Self, m: String| {
            s.gpu.invalid(format!("create-bind-group '{label}': {m}"));
            s.push(BindGroup {
                inner: None,
                label: label.clone(),
            })
        };
        if self.device_dead(dev) {
            return invalid(self, "the device is destroyed".into());
        }
        let Some(layout) = self.table.get(&d.layout)?.inner.clone() else {
            return invalid(self, "the bind group layout is invalid".into());
        };
        let mut bound: Vec<(u32, wgpu::Buffer, u64, Option<NonZeroU64>)> = Vec::new();
        for e in d.entries {
            let (r, offset, size) = match e.resource {
                w::GpuBindingResource::GpuBuffer(r) => (r, 0, None),
                w::GpuBindingResource::GpuBufferBinding(b) => {
                    (b.buffer, b.offset.unwrap_or(0), b.size)
                }
                _ => {
                    return invalid(
                        self,
                        format!(
                            "binding {}: samplers and textures are not in this host's subset",
                            e.binding
                        ),
                    )
                }
            };
            let size = match size {
                None => None,
                Some(s) => match NonZeroU64::new(s) {
                    Some(s) => Some(s),
                    None => return invalid(self, format!("binding {}: size 0", e.binding)),
                },
            };
            let Some(buf) = self.use_buffer(&r, &format!("create-bind-group '{label}'"))? else {
                return self.push(BindGroup { inner: None, label });
            };
            bound.push((e.binding, buf, offset, size));
        }
        let (bg, errors) = self.gpu.capture(|g| {
            let entries: Vec<wgpu::BindGroupEntry> = bound
                .iter()
                .map(|(binding, buf, offset, size)| wgpu::BindGroupEntry {
                    binding: *binding,
                    resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                        buffer: buf,
                        offset: *offset,
                        size: *size,
                    }),
                })
                .collect();
            g.device.create_bind_group(&wgpu::BindGroupDescriptor {
                label: Some(&label),
                layout: &layout,
                entries: &entries,
            })
        })?;
        let ok = !self.gpu.raise_all(errors);
        self.push(BindGroup {
            inner: ok.then_some(bg),
            label,
        })
    }

    fn create_shader_module(
        &mut self,
        this: Resource<Device>,
        d: w::GpuShaderModuleDescriptor,
    ) -> R<Resource<ShaderModule>> {
        let dev = self.table.get(&this)?.id;
        let label = d.label.unwrap_or_default();
        let mut module = ShaderModule {
            inner: None,
            label: label.clone(),
        };
        if self.device_dead(dev) {
            self.gpu.invalid(format!(
                "create-shader-module '{label}': the device is destroyed"
            ));
        } else if d.code.len() > MAX_WGSL_BYTES {
            self.gpu.invalid(format!(
                "create-shader-module '{label}': {} bytes of WGSL (at most {MAX_WGSL_BYTES})",
                d.code.len()
            ));
        } else {
            let (m, errors) = self.gpu.capture(|g| {
                g.device.create_shader_module(wgpu::ShaderModuleDescriptor {
                    label: Some(&label),
                    source: wgpu::ShaderSource::Wgsl(d.code.into()),
                })
            })?;
            if !self.gpu.raise_all(errors) {
                module.inner = Some(m);
            }
        }
        self.push(module)
    }

    fn create_compute_pipeline(
        &mut self,
        this: Resource<Device>,
        d: w::GpuComputePipelineDescriptor,
    ) -> R<Resource<ComputePipeline>> {
        let dev = self.table.get(&this)?.id;
        let label = d.label.clone().unwrap_or_default();
        let inner = match self.build_pipeline(dev, d)? {
            Ok(p) => Some(p),
            Err(errors) => {
                self.gpu.raise_all(errors);
                None
            }
        };
        self.push(ComputePipeline { inner, label })
    }

    fn create_compute_pipeline_async(
        &mut self,
        this: Resource<Device>,
        d: w::GpuComputePipelineDescriptor,
    ) -> R<Result<Resource<ComputePipeline>, w::CreatePipelineError>> {
        let dev = self.table.get(&this)?.id;
        let label = d.label.clone().unwrap_or_default();
        match self.build_pipeline(dev, d)? {
            Ok(p) => Ok(Ok(self.push(ComputePipeline {
                inner: Some(p),
                label,
            })?)),
            Err(errors) => {
                let reason = if errors.iter().all(|e| e.kind == ErrorKind::Validation) {
                    w::GpuPipelineErrorReason::Validation
                } else {
                    w::GpuPipelineErrorReason::Internal
                };
                let message = errors
                    .into_iter()
                    .map(|e| e.message)
                    .collect::<Vec<_>>()
                    .join("; ");
                Ok(Err(w::CreatePipelineError {
                    kind: w::CreatePipelineErrorKind::GpuPipelineError(reason),
                    message,
                }))
            }
        }
    }

    fn create_command_encoder(
        &mut self,
        this: Resource<Device>,
        d: Option<w::GpuCommandEncoderDescriptor>,
    ) -> R<Resource<CommandEncoder>> {
        let dev = self.table.get(&this)?.id;
        let label = d.and_then(|d| d.label).unwrap_or_default();
        let inner = if self.device_dead(dev) {
            self.gpu.invalid(format!(
                "create-command-encoder '{label}': the device is destroyed"
            ));
            None
        } else {
            let (e, errors) = self.gpu.capture(|g| {
                g.device
                    .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                        label: Some(&label),
                    })
            })?;
            (!self.gpu.raise_all(errors)).then_some(e)
        };
        self.push(CommandEncoder { inner, dev, label })
    }

    fn label(&mut self, this: Resource<Device>) -> R<String> {
        Ok(self.table.get(&this)?.label.clone())
    }

    fn push_error_scope(&mut self, _this: Resource<Device>, filter: w::GpuErrorFilter) -> R<()> {
        self.gpu.push_scope(match filter {
            w::GpuErrorFilter::Validation => ErrorKind::Validation,
            w::GpuErrorFilter::OutOfMemory => ErrorKind::OutOfMemory,
            w::GpuErrorFilter::Internal => ErrorKind::Internal,
        })
    }

    fn pop_error_scope(
        &mut self,
        _this: Resource<Device>,
    ) -> R<Result<Option<Resource<ErrorObject>>, w::PopErrorScopeError>> {
        match self.gpu.pop_scope() {
            None => Ok(Err(w::PopErrorScopeError {
                kind: w::PopErrorScopeErrorKind::OperationError,
                message: "pop-error-scope: no error scope is open".into(),
            })),
            Some(None) => Ok(Ok(None)),
            Some(Some(e)) => Ok(Ok(Some(self.push(e)?))),
        }
    }

    fn drop(&mut self, r: Resource<Device>) -> R<()> {
        self.delete(r).map(|_| ())
    }
}

impl w::HostGpuError for WebGpuState {
    fn message(&mut self, this: Resource<ErrorObject>) -> R<String> {
        Ok(self.table.get(&this)?.message.clone())
    }

    fn kind(&mut self, this: Resource<ErrorObject>) -> R<w::GpuErrorKind> {
        Ok(match self.table.get(&this)?.kind {
            ErrorKind::Validation => w::GpuErrorKind::ValidationError,
            ErrorKind::OutOfMemory => w::GpuErrorKind::OutOfMemoryError,
            ErrorKind::Internal => w::GpuErrorKind::InternalError,
        })
    }

    fn drop(&mut self, r: Resource<ErrorObject>) -> R<()> {
        self.delete(r).map(|_| ())
    }
}

impl w::HostGpuBuffer for WebGpuState {
    fn size(&mut self, this: Resource<Buffer>) -> R<u64> {
        Ok(self.table.get(&this)?.size)
    }

    fn usage(&mut self, this: Resource<Buffer>) -> R<w::GpuBufferUsage> {
        Ok(usage_from_wgpu(self.table.get(&this)?.usage))
    }

    fn map_state(&mut self, this: Resource<Buffer>) -> R<w::GpuBufferMapState> {
        Ok(match self.table.get(&this)?.map {
            MapState::Unmapped => w::GpuBufferMapState::Unmapped,
            MapState::Mapped(..) => w::GpuBufferMapState::Mapped,
        })
    }

    fn map_async(
        &mut self,
        this: Resource<Buffer>,
        mode: w::GpuMapMode,
        offset: Option<u64>,
        size: Option<u64>,
    ) -> R<Result<(), w::MapAsyncError>> {
        use w::MapAsyncErrorKind as K;
        let b = self.table.get(&this)?;
        let Some(inner) = self.live(b).cloned() else {
            return Ok(Err(map_err(
                K::OperationError,
                format!("map-async: buffer '{}' is invalid or destroyed", b.label),
            )));
        };
        if let MapState::Mapped(..) = b.map {
            return Ok(Err(map_err(
                K::OperationError,
                format!("map-async: buffer '{}' is already mapped", b.label),
            )));
        }
        let (wmode, need) = if mode == w::GpuMapMode::READ {
            (wgpu::MapMode::Read, wgpu::BufferUsages::MAP_READ)
        } else if mode == w::GpuMapMode::WRITE {
            (wgpu::MapMode::Write, wgpu::BufferUsages::MAP_WRITE)
        } else {
            return Ok(Err(map_err(
                K::OperationError,
                "map-async: the mode must be exactly one of read and write",
            )));
        };
        if !b.usage.contains(need) {
            return Ok(Err(map_err(
                K::OperationError,
                format!(
                    "map-async: buffer '{}' lacks usage {need:?} (has {:?})",
                    b.label, b.usage
                ),
            )));
        }
        let offset = offset.unwrap_or(0);
        let size = match size {
            Some(s) => s,
            None => b.size.saturating_sub(offset),
        };
        if !offset.is_multiple_of(MAP_OFFSET_ALIGN)
            || !size.is_multiple_of(COPY_ALIGN)
            || size == 0
            || offset.checked_add(size).is_none_or(|end| end > b.size)
        {
            return Ok(Err(map_err(
                K::RangeError,
                format!(
                    "map-async: range {offset}+{size} of a {}-byte buffer (offset a multiple \
                     of 8, size a nonzero multiple of 4, inside the buffer)",
                    b.size
                ),
            )));
        }
        let (tx, rx) = std::sync::mpsc::channel();
        let (polled, errors) = self.gpu.capture(|g| {
            inner
                .slice(offset..offset + size)
                .map_async(wmode, move |r| {
                    let _ = tx.send(r);
                });
            g.device.poll(wgpu::PollType::wait_indefinitely())
        })?;
        self.gpu.raise_all(errors);
        let mapped = matches!(rx.try_recv(), Ok(Ok(())));
        if !mapped {
            let why = match polled {
                Err(e) => format!("the device poll failed: {e}"),
                Ok(_) => "wgpu refused the mapping (validation error raised)".into(),
            };
            return Ok(Err(map_err(K::OperationError, format!("map-async: {why}"))));
        }
        self.table.get_mut(&this)?.map = MapState::Mapped(offset, size);
        Ok(Ok(()))
    }

    fn get_mapped_range_get_with_copy(
        &mut self,
        this: Resource<Buffer>,
        offset: Option<u64>,
        size: Option<u64>,
    ) -> R<Result<Vec<u8>, w::GetMappedRangeError>> {
        use w::GetMappedRangeErrorKind as K;
        let b = self.table.get(&this)?;
        let (m_off, m_size) = match b.map {
            MapState::Mapped(o, s) => (o, s),
            MapState::Unmapped => {
                return Ok(Err(range_err(
                    K::OperationError,
                    format!("get-mapped-range: buffer '{}' is not mapped", b.label),
                )))
            }
        };
        let Some(inner) = self.live(b).cloned() else {
            return Ok(Err(range_err(
                K::OperationError,
                format!("get-mapped-range: buffer '{}' is destroyed", b.label),
            )));
        };
        let offset = offset.unwrap_or(0);
        let size = match size {
            Some(s) => s,
            None => b.size.saturating_sub(offset),
        };
        if !offset.is_multiple_of(MAP_OFFSET_ALIGN)
            || !size.is_multiple_of(COPY_ALIGN)
            || offset < m_off
            || offset
                .checked_add(size)
                .is_none_or(|end| end > m_off + m_size)
        {
            return Ok(Err(range_err(
                K::OperationError,
                format!(
                    "get-mapped-range: range {offset}+{size} is not inside the mapped range \
                     {m_off}+{m_size} (offset a multiple of 8, size of 4)"
                ),
            )));
        }
        if size == 0 {
            return Ok(Ok(Vec::new()));
        }
        let (copy, errors) = self.gpu.capture(|_| {
            inner
                .slice(offset..offset + size)
                .get_mapped_range()
                .map(|v| v.to_vec())
        })?;
        self.gpu.raise_all(errors);
        Ok(copy.map_err(|e| range_err(K::OperationError, format!("get-mapped-range: {e}"))))
    }

    fn unmap(&mut self, this: Resource<Buffer>) -> R<Result<(), w::UnmapError>> {
        let b = self.table.get(&this)?;
        if let (MapState::Mapped(..), Some(inner)) = (b.map, b.inner.clone()) {
            let destroyed = b.destroyed;
            if !destroyed {
                let (_, errors) = self.gpu.capture(|_| inner.unmap())?;
                self.gpu.raise_all(errors);
            }
        }
        self.table.get_mut(&this)?.map = MapState::Unmapped;
        Ok(Ok(()))
    }

    fn destroy(&mut self, this: Resource<Buffer>) -> R<()> {
        let b = self.table.get_mut(&this)?;
        if b.destroyed {
            return Ok(());
        }
        b.destroyed = true;
        b.map = MapState::Unmapped;
        let serial = b.serial;
        if let Some(inner) = self.gpu.release(serial) {
            let (_, errors) = self.gpu.capture(|_| inner.destroy())?;
            self.gpu.raise_all(errors);
        }
        Ok(())
    }

    fn label(&mut self, this: Resource<Buffer>) -> R<String> {
        Ok(self.table.get(&this)?.label.clone())
    }

    fn drop(&mut self, r: Resource<Buffer>) -> R<()> {
        let b = self.delete(r)?;
        self.gpu.release(b.serial);
        Ok(())
    }
}

impl w::HostGpuShaderModule for WebGpuState {
    fn label(&mut self, this: Resource<ShaderModule>) -> R<String> {
        Ok(self.table.get(&this)?.label.clone())
    }

    fn drop(&mut self, r: Resource<ShaderModule>) -> R<()> {
        self.delete(r).map(|_| ())
    }
}

impl w::HostGpuComputePipeline for WebGpuState {
    fn label(&mut self, this: Resource<ComputePipeline>) -> R<String> {
        Ok(self.table.get(&this)?.label.clone())
    }

    fn get_bind_group_layout(
        &mut self,
        this: Resource<ComputePipeline>,
        index: u32,
    ) -> R<Resource<BindGroupLayout>> {
        let p = self.table.get(&this)?;
        let inner = match p.inner.clone() {
            None => {
                let m = format!("get-bind-group-layout: pipeline '{}' is invalid", p.label);
                self.gpu.invalid(m);
                None
            }
            Some(p) => {
                let (l, errors) = self.gpu.capture(|_| p.get_bind_group_layout(index))?;
                (!self.gpu.raise_all(errors)).then_some(l)
            }
        };
        self.push(BindGroupLayout { inner })
    }

    fn drop(&mut self, r: Resource<ComputePipeline>) -> R<()> {
        self.delete(r).map(|_| ())
    }
}

impl w::HostGpuBindGroupLayout for WebGpuState {
    fn label(&mut self, _this: Resource<BindGroupLayout>) -> R<String> {
        Ok(String::new())
    }

    fn drop(&mut self, r: Resource<BindGroupLayout>) -> R<()> {
        self.delete(r).map(|_| ())
    }
}

impl w::HostGpuBindGroup for WebGpuState {
    fn label(&mut self, this: Resource<BindGroup>) -> R<String> {
        Ok(self.table.get(&this)?.label.clone())
    }

    fn drop(&mut self, r: Resource<BindGroup>) -> R<()> {
        self.delete(r).map(|_| ())
    }
}

impl w::HostGpuCommandEncoder for WebGpuState {
    fn begin_compute_pass(
        &mut self,
        this: Resource<CommandEncoder>,
        d: Option<w::GpuComputePassDescriptor>,
    ) -> R<Resource<ComputePass>> {
        let (timestamps, label) = match d {
            Some(d) => (d.timestamp_writes.is_some(), d.label.unwrap_or_default()),
            None => (false, String::new()),
        };
        let e = self.table.get_mut(&this)?;
        let dead = e.inner.is_none() || self.gpu.destroyed_devices.contains(&e.dev);
        let enc_label = e.label.clone();
        let inner = if dead {
            self.gpu.invalid(format!(
                "begin-compute-pass: encoder '{enc_label}' is finished, invalid or on a \
                 destroyed device"
            ));
            None
        } else if timestamps {
            self.gpu
                .invalid("begin-compute-pass: timestamp writes are not in this host's subset");
            None
        } else {
            let Some(mut enc) = self.table.get_mut(&this)?.inner.take() else {
                return self.push(ComputePass { inner: None, label });
            };
            let (pass, errors) = self.gpu.capture(|_| {
                enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
                    label: Some(&label),
                    timestamp_writes: None,
                })
                .forget_lifetime()
            })?;
            self.table.get_mut(&this)?.inner = Some(enc);
            (!self.gpu.raise_all(errors)).then_some(pass)
        };
        self.push(ComputePass { inner, label })
    }

    fn copy_buffer_to_buffer(
        &mut self,
        this: Resource<CommandEncoder>,
        source: Resource<Buffer>,
        source_offset: Option<u64>,
        destination: Resource<Buffer>,
        destination_offset: Option<u64>,
        size: Option<u64>,
    ) -> R<()> {
        let src = self.use_buffer(&source, "copy-buffer-to-buffer")?;
        let dst = self.use_buffer(&destination, "copy-buffer-to-buffer")?;
        let (Some(src), Some(dst)) = (src, dst) else {
            return Ok(());
        };
        let Some(mut enc) = self.table.get_mut(&this)?.inner.take() else {
            self.gpu
                .invalid("copy-buffer-to-buffer: the encoder is finished or invalid");
            return Ok(());
        };
        let (_, errors) = self.gpu.capture(|_| {
            enc.copy_buffer_to_buffer(
                &src,
                source_offset.unwrap_or(0),
                &dst,
                destination_offset.unwrap_or(0),
                size,
            )
        })?;
        self.gpu.raise_all(errors);
        self.table.get_mut(&this)?.inner = Some(enc);
        Ok(())
    }

    fn clear_buffer(
        &mut self,
        this: Resource<CommandEncoder>,
        buffer: Resource<Buffer>,
        offset: Option<u64>,
        size: Option<u64>,
    ) -> R<()> {
        let Some(buf) = self.use_buffer(&buffer, "clear-buffer")? else {
            return Ok(());
        };
        let Some(mut enc) = self.table.get_mut(&this)?.inner.take() else {
            self.gpu
                .invalid("clear-buffer: the encoder is finished or invalid");
            return Ok(());
        };
        let (_, errors) = self
            .gpu
            .capture(|_| enc.clear_buffer(&buf, offset.unwrap_or(0), size))?;
        self.gpu.raise_all(errors);
        self.table.get_mut(&this)?.inner = Some(enc);
        Ok(())
    }

    fn finish(
        &mut self,
        this: Resource<CommandEncoder>,
        d: Option<w::GpuCommandBufferDescriptor>,
    ) -> R<Resource<CommandBuffer>> {
        let label = d.and_then(|d| d.label).unwrap_or_default();
        let inner = match self.table.get_mut(&this)?.inner.take() {
            None => {
                self.gpu
                    .invalid("finish: the encoder is already finished or invalid");
                None
            }
            Some(enc) => {
                let (cb, errors) = self.gpu.capture(|_| enc.finish())?;
                (!self.gpu.raise_all(errors)).then_some(cb)
            }
        };
        self.push(CommandBuffer { inner, label })
    }

    fn label(&mut self, this: Resource<CommandEncoder>) -> R<String> {
        Ok(self.table.get(&this)?.label.clone())
    }

    fn drop(&mut self, r: Resource<CommandEncoder>) -> R<()> {
        self.delete(r).map(|_| ())
    }
}

impl WebGpuState {
    /// Runs `f` on the open pass `r`, inside error capture; a validation error when the
    /// pass has ended or is invalid.
    fn with_pass(
        &mut self,
        r: &Resource<ComputePass>,
        what: &str,
        f: impl FnOnce(&mut wgpu::ComputePass<'static>),
    ) -> R<()> {
        let Some(mut pass) = self.table.get_mut(r)?.inner.take() else {
            self.gpu
                .invalid(format!("{what}: the compute pass has ended or is invalid"));
            return Ok(());
        };
        let (_, errors) = self.gpu.capture(|_| f(&mut pass))?;
        self.gpu.raise_all(errors);
        self.table.get_mut(r)?.inner = Some(pass);
        Ok(())
    }
}

impl w::HostGpuComputePassEncoder for WebGpuState {
    fn set_pipeline(
        &mut self,
        this: Resource<ComputePass>,
        pipeline: Resource<ComputePipeline>,
    ) -> R<()> {
        let Some(p) = self.table.get(&pipeline)?.inner.clone() else {
            self.gpu.invalid("set-pipeline: the pipeline is invalid");
            return Ok(());
        };
        self.with_pass(&this, "set-pipeline", |pass| pass.set_pipeline(&p))
    }

    fn dispatch_workgroups(
        &mut self,
        this: Resource<ComputePass>,
        x: u32,
        y: Option<u32>,
        z: Option<u32>,
    ) -> R<()> {
        self.with_pass(&this, "dispatch-workgroups", |pass| {
            pass.dispatch_workgroups(x, y.unwrap_or(1), z.unwrap_or(1))
        })
    }

    fn end(&mut self, this: Resource<ComputePass>) -> R<()> {
        match self.table.get_mut(&this)?.inner.take() {
            None => self
                .gpu
                .invalid("end: the compute pass has ended or is invalid"),
            Some(pass) => {
                let (_, errors) = self.gpu.capture(|_| drop(pass))?;
                self.gpu.raise_all(errors);
            }
        }
        Ok(())
    }

    fn label(&mut self, this: Resource<ComputePass>) -> R<String> {
        Ok(self.table.get(&this)?.label.clone())
    }

    fn set_bind_group(
        &mut self,
        this: Resource<ComputePass>,
        index: u32,
        bind_group: Option<Resource<BindGroup>>,
        data: Option<Vec<u32>>,
        start: Option<u64>,
        length: Option<u32>,
    ) -> R<Result<(), w::SetBindGroupError>> {
        let data = data.unwrap_or_default();
        let start = start.unwrap_or(0);
        let len = length
            .map(u64::from)
            .unwrap_or((data.len() as u64).saturating_sub(start));
        if start
            .checked_add(len)
            .is_none_or(|end| end > data.len() as u64)
        {
            return Ok(Err(w::SetBindGroupError {
                kind: w::SetBindGroupErrorKind::RangeError,
                message: format!(
                    "set-bind-group: dynamic offsets {start}+{len} outside the {} given",
                    data.len()
                ),
            }));
        }
        let offsets = data[start as usize..(start + len) as usize].to_vec();
        let bg = match bind_group {
            None => None,
            Some(r) => match self.table.get(&r)?.inner.clone() {
                Some(bg) => Some(bg),
                None => {
                    self.gpu
                        .invalid("set-bind-group: the bind group is invalid");
                    return Ok(Ok(()));
                }
            },
        };
        self.with_pass(&this, "set-bind-group", |pass| {
            pass.set_bind_group(index, bg.as_ref(), &offsets)
        })?;
        Ok(Ok(()))
    }

    fn drop(&mut self, r: Resource<ComputePass>) -> R<()> {
        let p = self.delete(r)?;
        if let Some(pass) = p.inner {
            let (_, errors) = self.gpu.capture(|_| drop(pass))?;
            self.gpu.raise_all(errors);
        }
        Ok(())
    }
}

impl w::HostGpuCommandBuffer for WebGpuState {
    fn label(&mut self, this: Resource<CommandBuffer>) -> R<String> {
        Ok(self.table.get(&this)?.label.clone())
    }

    fn drop(&mut self, r: Resource<CommandBuffer>) -> R<()> {
        self.delete(r).map(|_| ())
    }
}

impl w::HostGpuQueue for WebGpuState {
    fn submit(
        &mut self,
        this: Resource<Queue>,
        command_buffers: Vec<Resource<CommandBuffer>>,
    ) -> R<()> {
        let dev = self.table.get(&this)?.dev;
        let mut cbs = Vec::with_capacity(command_buffers.len());
        for r in &command_buffers {
            match self.table.get_mut(r)?.inner.take() {
                Some(cb) => cbs.push(cb),
                None => {
                    self.gpu.invalid(
                        "submit: a command buffer was already submitted or is invalid \
                         (nothing submitted)",
                    );
                    return Ok(());
                }
            }
        }
        if self.device_dead(dev) {
            self.gpu.invalid("submit: the device is destroyed");
            return Ok(());
        }
        let (_, errors) = self.gpu.capture(|g| g.queue.submit(cbs))?;
        self.gpu.raise_all(errors);
        Ok(())
    }

    fn write_buffer_with_copy(
        &mut self,
        this: Resource<Queue>,
        buffer: Resource<Buffer>,
        buffer_offset: u64,
        data: Vec<u8>,
        data_offset: Option<u64>,
        size: Option<u64>,
    ) -> R<Result<(), w::WriteBufferError>> {
        let dev = self.table.get(&this)?.dev;
        let data_offset = data_offset.unwrap_or(0);
        let len = data.len() as u64;
        let size = size.unwrap_or(len.saturating_sub(data_offset));
        if data_offset.checked_add(size).is_none_or(|end| end > len) {
            return Ok(Err(w::WriteBufferError {
                kind: w::WriteBufferErrorKind::OperationError,
                message: format!(
                    "write-buffer: data range {data_offset}+{size} outside the {len} bytes given"
                ),
            }));
        }
        if self.device_dead(dev) {
            self.gpu.invalid("write-buffer: the device is destroyed");
            return Ok(Ok(()));
        }
        let Some(buf) = self.use_buffer(&buffer, "write-buffer")? else {
            return Ok(Ok(()));
        };
        let b = self.table.get(&buffer)?;
        let bsize = b.size;
        let mapped = b.map != MapState::Unmapped;
        if !buffer_offset.is_multiple_of(COPY_ALIGN)
            || !size.is_multiple_of(COPY_ALIGN)
            || buffer_offset
                .checked_add(size)
                .is_none_or(|end| end > bsize)
        {
            self.gpu.invalid(format!(
                "write-buffer: range {buffer_offset}+{size} of a {bsize}-byte buffer (both \
                 multiples of 4, inside the buffer)"
            ));
            return Ok(Ok(()));
        }
        if mapped {
            self.gpu.invalid("write-buffer: the buffer is mapped");
            return Ok(Ok(()));
        }
        if size == 0 {
            return Ok(Ok(()));
        }
        let bytes = &data[data_offset as usize..(data_offset + size) as usize];
        let (_, errors) = self
            .gpu
            .capture(|g| g.queue.write_buffer(&buf, buffer_offset, bytes))?;
        self.gpu.raise_all(errors);
        Ok(Ok(()))
    }

    fn label(&mut self, _this: Resource<Queue>) -> R<String> {
        Ok(String::new())
    }

    fn drop(&mut self, r: Resource<Queue>) -> R<()> {
        self.delete(r).map(|_| ())
    }
}

impl w::HostRecordGpuPipelineConstantValue for WebGpuState {
    fn new(&mut self) -> R<Resource<Constants>> {
        self.push(Constants::default())
    }

    fn add(&mut self, this: Resource<Constants>, key: String, value: f64) -> R<()> {
        let c = &mut self.table.get_mut(&this)?.0;
        match c.iter_mut().find(|(k, _)| *k == key) {
            Some(e) => e.1 = value,
            None => {
                if c.len() >= 1024 {
                    wasmtime::bail!("wasi:webgpu: more than 1024 pipeline constants");
                }
                c.push((key, value))
            }
        }
        Ok(())
    }

    fn get(&mut self, this: Resource<Constants>, key: String) -> R<Option<f64>> {
        let c = &self.table.get(&this)?.0;
        Ok(c.iter().find(|(k, _)| *k == key).map(|(_, v)| *v))
    }

    fn has(&mut self, this: Resource<Constants>, key: String) -> R<bool> {
        Ok(self.table.get(&this)?.0.iter().any(|(k, _)| *k == key))
    }

    fn drop(&mut self, r: Resource<Constants>) -> R<()> {
        self.delete(r).map(|_| ())
    }
}

impl w::HostRecordOptionGpuSize64 for WebGpuState {
    fn new(&mut self) -> R<Resource<OptionSize64Map>> {
        self.push(OptionSize64Map::default())
    }

    fn add(&mut self, this: Resource<OptionSize64Map>, key: String, value: Option<u64>) -> R<()> {
        let c = &mut self.table.get_mut(&this)?.0;
        match c.iter_mut().find(|(k, _)| *k == key) {
            Some(e) => e.1 = value,
            None => {
                if c.len() >= 1024 {
                    wasmtime::bail!("wasi:webgpu: more than 1024 required limits");
                }
                c.push((key, value))
            }
        }
        Ok(())
    }

    fn get(&mut self, this: Resource<OptionSize64Map>, key: String) -> R<Option<Option<u64>>> {
        let c = &self.table.get(&this)?.0;
        Ok(c.iter().find(|(k, _)| *k == key).map(|(_, v)| *v))
    }

    fn has(&mut self, this: Resource<OptionSize64Map>, key: String) -> R<bool> {
        Ok(self.table.get(&this)?.0.iter().any(|(k, _)| *k == key))
    }

    fn drop(&mut self, r: Resource<OptionSize64Map>) -> R<()> {
        self.delete(r).map(|_| ())
    }
}

macro_rules! unobtainable {
    ($($tr:ident for $ty:ident),* $(,)?) => {
        $(
            impl w::$tr for WebGpuState {
                fn label(&mut self, _this: Resource<$ty>) -> R<String> {
                    Ok(String::new())
                }

                fn drop(&mut self, r: Resource<$ty>) -> R<()> {
                    self.delete(r).map(|_| ())
                }
            }
        )*
    };
}

unobtainable! {
    HostGpuPipelineLayout for PipelineLayout,
    HostGpuSampler for Sampler,
    HostGpuTexture for Texture,
    HostGpuTextureView for TextureView,
    HostGpuQuerySet for QuerySet,
}
