//! Shaders, pipelines and bind groups: `create-shader-module` (WGSL), the compute
//! pipeline (layout `auto`, override constants) both ways, `create-bind-group` (buffers
//! only), and the `gpu-shader-module`, `gpu-compute-pipeline`, `gpu-bind-group-layout` and
//! `gpu-bind-group` resources.

use std::num::NonZeroU64;

use wasmtime::component::Resource;

use super::super::bindings::wasi::webgpu::webgpu as w;
use super::super::objects::*;
use super::super::{WebGpuState, MAX_WGSL_BYTES};
use super::R;

impl WebGpuState {
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

    /// `create-bind-group` on device `dev`.
    pub(super) fn create_bind_group_on(
        &mut self,
        dev: u32,
        d: w::GpuBindGroupDescriptor,
    ) -> R<Resource<BindGroup>> {
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
        let inner = self.gpu.checked(|g| {
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
        self.push(BindGroup { inner, label })
    }

    /// `create-shader-module` on device `dev` (at most [`MAX_WGSL_BYTES`] of WGSL).
    pub(super) fn create_shader_module_on(
        &mut self,
        dev: u32,
        d: w::GpuShaderModuleDescriptor,
    ) -> R<Resource<ShaderModule>> {
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
            module.inner = self.gpu.checked(|g| {
                g.device.create_shader_module(wgpu::ShaderModuleDescriptor {
                    label: Some(&label),
                    source: wgpu::ShaderSource::Wgsl(d.code.into()),
                })
            })?;
        }
        self.push(module)
    }

    /// `create-compute-pipeline` on device `dev`: errors raised, an invalid pipeline.
    pub(super) fn create_compute_pipeline_on(
        &mut self,
        dev: u32,
        d: w::GpuComputePipelineDescriptor,
    ) -> R<Resource<ComputePipeline>> {
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

    /// `create-compute-pipeline-async` on device `dev`: errors returned as a
    /// `create-pipeline-error` (validation when all were, else internal), none raised.
    pub(super) fn create_compute_pipeline_async_on(
        &mut self,
        dev: u32,
        d: w::GpuComputePipelineDescriptor,
    ) -> R<Result<Resource<ComputePipeline>, w::CreatePipelineError>> {
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
}

impl w::HostGpuShaderModule for WebGpuState {
    label_field!(ShaderModule);
    drop_deletes!(ShaderModule);
}

impl w::HostGpuComputePipeline for WebGpuState {
    label_field!(ComputePipeline);

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
            Some(p) => self.gpu.checked(|_| p.get_bind_group_layout(index))?,
        };
        self.push(BindGroupLayout { inner })
    }

    drop_deletes!(ComputePipeline);
}

impl w::HostGpuBindGroupLayout for WebGpuState {
    label_empty!(BindGroupLayout);
    drop_deletes!(BindGroupLayout);
}

impl w::HostGpuBindGroup for WebGpuState {
    label_field!(BindGroup);
    drop_deletes!(BindGroup);
}
