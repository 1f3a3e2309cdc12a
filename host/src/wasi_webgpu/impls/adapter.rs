//! The entry points and what the device offers: `get-gpu`, `gpu` (`request-adapter`),
//! `gpu-adapter` (`request-device` checked against the device's features and limits),
//! `gpu-supported-features` and `gpu-supported-limits`.

use wasmtime::component::Resource;

use super::super::bindings::wasi::webgpu::webgpu as w;
use super::super::objects::*;
use super::super::WebGpuState;
use super::R;

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

impl WebGpuState {
    /// A new `gpu-supported-features` of the shared device (`features` of the adapter and
    /// of a device).
    pub(super) fn push_features(&mut self) -> R<Resource<Features>> {
        let f = self.gpu.device.device.features();
        self.push(Features(f))
    }

    /// A new `gpu-supported-limits` of the shared device (`limits` of the adapter and of a
    /// device).
    pub(super) fn push_limits(&mut self) -> R<Resource<SupportedLimits>> {
        let l = self.gpu.device.limits();
        self.push(SupportedLimits(l))
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

    drop_deletes!(Gpu);
}

impl w::HostGpuAdapter for WebGpuState {
    fn features(&mut self, _this: Resource<Adapter>) -> R<Resource<Features>> {
        self.push_features()
    }

    fn limits(&mut self, _this: Resource<Adapter>) -> R<Resource<SupportedLimits>> {
        self.push_limits()
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

    drop_deletes!(Adapter);
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

    drop_deletes!(Features);
}

macro_rules! limits_methods {
    ($($name:ident: $ty:ty = $field:ident),* $(,)?) => {
        impl w::HostGpuSupportedLimits for WebGpuState {
            $(
                fn $name(&mut self, this: Resource<SupportedLimits>) -> R<$ty> {
                    Ok(self.table.get(&this)?.0.$field as $ty)
                }
            )*

            drop_deletes!(SupportedLimits);
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
