//! `gpu-device`: what it offers (features, limits, queue), its logical `destroy`, and the
//! `create-*` calls, each carried out by the file of its concern (buffers, pipelines,
//! commands, errors).

use wasmtime::component::Resource;

use super::super::bindings::wasi::webgpu::webgpu as w;
use super::super::objects::*;
use super::super::WebGpuState;
use super::R;

/// `create-*` calls of a device: each resolves the device's id and hands the descriptor
/// to `WebGpuState::<name>_on` in the file of its concern.
macro_rules! on_device {
    ($($name:ident($d:ty) -> $ret:ty = $on:ident;)*) => {
        $(
            fn $name(&mut self, this: Resource<Device>, d: $d) -> R<$ret> {
                let dev = self.table.get(&this)?.id;
                self.$on(dev, d)
            }
        )*
    };
}

impl w::HostGpuDevice for WebGpuState {
    fn features(&mut self, _this: Resource<Device>) -> R<Resource<Features>> {
        self.push_features()
    }

    fn limits(&mut self, _this: Resource<Device>) -> R<Resource<SupportedLimits>> {
        self.push_limits()
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
        self.gpu.raising(|_| {
            for b in &buffers {
                b.destroy();
            }
        })
    }

    on_device! {
        create_buffer(w::GpuBufferDescriptor) -> Resource<Buffer> = create_buffer_on;
        create_bind_group(w::GpuBindGroupDescriptor) -> Resource<BindGroup> = create_bind_group_on;
        create_shader_module(w::GpuShaderModuleDescriptor) -> Resource<ShaderModule>
            = create_shader_module_on;
        create_compute_pipeline(w::GpuComputePipelineDescriptor) -> Resource<ComputePipeline>
            = create_compute_pipeline_on;
        create_compute_pipeline_async(w::GpuComputePipelineDescriptor)
            -> Result<Resource<ComputePipeline>, w::CreatePipelineError>
            = create_compute_pipeline_async_on;
        create_command_encoder(Option<w::GpuCommandEncoderDescriptor>) -> Resource<CommandEncoder>
            = create_command_encoder_on;
    }

    label_field!(Device);

    fn push_error_scope(&mut self, _this: Resource<Device>, filter: w::GpuErrorFilter) -> R<()> {
        self.push_error_scope_of(filter)
    }

    fn pop_error_scope(
        &mut self,
        _this: Resource<Device>,
    ) -> R<Result<Option<Resource<ErrorObject>>, w::PopErrorScopeError>> {
        self.pop_error_scope_of()
    }

    drop_deletes!(Device);
}
