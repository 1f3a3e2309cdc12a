//! `gpu-queue`: `submit` of command buffers (each runs once) and `write-buffer-with-copy`
//! (the guest's bytes copied into a buffer, range checked first).

use wasmtime::component::Resource;

use super::super::bindings::wasi::webgpu::webgpu as w;
use super::super::objects::*;
use super::super::WebGpuState;
use super::{COPY_ALIGN, R};

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
        self.gpu.raising(|g| {
            g.queue.submit(cbs);
        })
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
        self.gpu
            .raising(|g| g.queue.write_buffer(&buf, buffer_offset, bytes))?;
        Ok(Ok(()))
    }

    label_empty!(Queue);
    drop_deletes!(Queue);
}
