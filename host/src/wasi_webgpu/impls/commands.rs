//! Recording commands: `create-command-encoder`, `gpu-command-encoder` (compute passes,
//! buffer copies and clears, `finish`), `gpu-compute-pass-encoder` (pipeline, bind groups,
//! dispatches, `end`) and `gpu-command-buffer`.

use wasmtime::component::Resource;

use super::super::bindings::wasi::webgpu::webgpu as w;
use super::super::objects::*;
use super::super::WebGpuState;
use super::R;

/// An encoder whose wgpu object a recording call takes out and puts back (`finish` and
/// `end` take it for good).
trait Open: 'static {
    type Inner;
    /// What a call on it finds when the object is gone (after `what: `).
    const GONE: &'static str;
    fn slot(&mut self) -> &mut Option<Self::Inner>;
}

impl Open for CommandEncoder {
    type Inner = wgpu::CommandEncoder;
    const GONE: &'static str = "the encoder is finished or invalid";
    fn slot(&mut self) -> &mut Option<wgpu::CommandEncoder> {
        &mut self.inner
    }
}

impl Open for ComputePass {
    type Inner = wgpu::ComputePass<'static>;
    const GONE: &'static str = "the compute pass has ended or is invalid";
    fn slot(&mut self) -> &mut Option<wgpu::ComputePass<'static>> {
        &mut self.inner
    }
}

impl WebGpuState {
    /// Runs `f` on the open encoder or pass `r`, inside error capture; a validation error
    /// naming `what` when it is finished, has ended or is invalid.
    fn with_open<O: Open>(
        &mut self,
        r: &Resource<O>,
        what: &str,
        f: impl FnOnce(&mut O::Inner),
    ) -> R<()> {
        let Some(mut inner) = self.table.get_mut(r)?.slot().take() else {
            self.gpu.invalid(format!("{what}: {}", O::GONE));
            return Ok(());
        };
        self.gpu.raising(|_| f(&mut inner))?;
        *self.table.get_mut(r)?.slot() = Some(inner);
        Ok(())
    }

    /// Ends a compute pass (`end`, or dropping it open), raising what wgpu raises.
    fn end_pass(&mut self, pass: wgpu::ComputePass<'static>) -> R<()> {
        self.gpu.raising(|_| drop(pass))
    }

    /// `create-command-encoder` on device `dev`.
    pub(super) fn create_command_encoder_on(
        &mut self,
        dev: u32,
        d: Option<w::GpuCommandEncoderDescriptor>,
    ) -> R<Resource<CommandEncoder>> {
        let label = d.and_then(|d| d.label).unwrap_or_default();
        let inner = if self.device_dead(dev) {
            self.gpu.invalid(format!(
                "create-command-encoder '{label}': the device is destroyed"
            ));
            None
        } else {
            self.gpu.checked(|g| {
                g.device
                    .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                        label: Some(&label),
                    })
            })?
        };
        self.push(CommandEncoder { inner, dev, label })
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
        self.with_open(&this, "copy-buffer-to-buffer", |enc| {
            enc.copy_buffer_to_buffer(
                &src,
                source_offset.unwrap_or(0),
                &dst,
                destination_offset.unwrap_or(0),
                size,
            )
        })
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
        self.with_open(&this, "clear-buffer", |enc| {
            enc.clear_buffer(&buf, offset.unwrap_or(0), size)
        })
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
            Some(enc) => self.gpu.checked(|_| enc.finish())?,
        };
        self.push(CommandBuffer { inner, label })
    }

    label_field!(CommandEncoder);
    drop_deletes!(CommandEncoder);
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
        self.with_open(&this, "set-pipeline", |pass| pass.set_pipeline(&p))
    }

    fn dispatch_workgroups(
        &mut self,
        this: Resource<ComputePass>,
        x: u32,
        y: Option<u32>,
        z: Option<u32>,
    ) -> R<()> {
        self.with_open(&this, "dispatch-workgroups", |pass| {
            pass.dispatch_workgroups(x, y.unwrap_or(1), z.unwrap_or(1))
        })
    }

    fn end(&mut self, this: Resource<ComputePass>) -> R<()> {
        match self.table.get_mut(&this)?.inner.take() {
            None => self
                .gpu
                .invalid("end: the compute pass has ended or is invalid"),
            Some(pass) => self.end_pass(pass)?,
        }
        Ok(())
    }

    label_field!(ComputePass);

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
        self.with_open(&this, "set-bind-group", |pass| {
            pass.set_bind_group(index, bg.as_ref(), &offsets)
        })?;
        Ok(Ok(()))
    }

    fn drop(&mut self, r: Resource<ComputePass>) -> R<()> {
        let p = self.delete(r)?;
        if let Some(pass) = p.inner {
            self.end_pass(pass)?;
        }
        Ok(())
    }
}

impl w::HostGpuCommandBuffer for WebGpuState {
    label_field!(CommandBuffer);
    drop_deletes!(CommandBuffer);
}
