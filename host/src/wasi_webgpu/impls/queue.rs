//! `gpu-queue`: `submit` of command buffers (each runs once) and `write-buffer-with-copy`
//! (the guest's bytes copied into a buffer, range checked first). The linker runs
//! [`write_buffer_from_guest`] for the import: it copies the bytes straight from the
//! guest's linear memory into wgpu's staging memory; the trait method (the same checks,
//! from a lifted `Vec<u8>`) serves any other caller of the bindings.

use std::num::NonZeroU64;
use std::ops::Range;

use wasmtime::component::{Resource, WasmList};
use wasmtime::StoreContextMut;

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
        let len = data.len() as u64;
        let t = match self.write_target(&this, &buffer, buffer_offset, len, data_offset, size)? {
            Ok(Some(t)) => t,
            other => return Ok(other.map(|_| ())),
        };
        self.gpu
            .raising(|g| g.queue.write_buffer(&t.buffer, t.offset, &data[t.range]))?;
        Ok(Ok(()))
    }

    label_empty!(Queue);
    drop_deletes!(Queue);
}

/// Where a checked `write-buffer-with-copy` writes: `buffer` at byte `offset`, the bytes
/// `range` of the guest's list (non-empty).
pub(super) struct WriteTarget {
    buffer: wgpu::Buffer,
    offset: u64,
    range: Range<usize>,
}

impl WebGpuState {
    /// The checks of `write-buffer-with-copy` for a list of `len` bytes: `Ok(Err(..))` the
    /// published error (the data range lies outside the list), `Ok(Ok(None))` nothing to
    /// write (a validation error raised into the guest's scopes, or zero bytes), else
    /// where to write. Errors (traps): a handle the table does not hold.
    fn write_target(
        &mut self,
        this: &Resource<Queue>,
        buffer: &Resource<Buffer>,
        buffer_offset: u64,
        len: u64,
        data_offset: Option<u64>,
        size: Option<u64>,
    ) -> R<Result<Option<WriteTarget>, w::WriteBufferError>> {
        let dev = self.table.get(this)?.dev;
        let data_offset = data_offset.unwrap_or(0);
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
            return Ok(Ok(None));
        }
        let Some(buf) = self.use_buffer(buffer, "write-buffer")? else {
            return Ok(Ok(None));
        };
        let b = self.table.get(buffer)?;
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
            return Ok(Ok(None));
        }
        if mapped {
            self.gpu.invalid("write-buffer: the buffer is mapped");
            return Ok(Ok(None));
        }
        if size == 0 {
            return Ok(Ok(None));
        }
        // data_offset + size ≤ len, the length of a list in a 32-bit linear memory.
        Ok(Ok(Some(WriteTarget {
            buffer: buf,
            offset: buffer_offset,
            range: data_offset as usize..(data_offset + size) as usize,
        })))
    }
}

/// The parameters of `[method]gpu-queue.write-buffer-with-copy` as the canonical ABI
/// lifts them, the list left in the guest's linear memory.
pub(crate) type WriteParams = (
    Resource<Queue>,
    Resource<Buffer>,
    u64,
    WasmList<u8>,
    Option<u64>,
    Option<u64>,
);

/// Copies `src` into `view` (same length) on several threads from 2 MiB on
/// ([`offload_core::par::copy_bytes_to`]): wgpu's staging memory may be host-visible device
/// memory, which one thread fills at a few GB/s.
fn copy_into_view(view: &mut wgpu::QueueWriteBufferView, src: &[u8]) {
    assert_eq!(
        view.len(),
        src.len(),
        "staging view and data differ in length"
    );
    let mut w = view.slice(..);
    // SAFETY: the view is src.len() bytes long, lives until after this, and is only
    // written, by this call alone (wgpu's write-only views are not Send: hence the address).
    unsafe { offload_core::par::copy_bytes_to(w.as_raw_element_ptr().as_ptr(), src) }
}

/// `write-buffer-with-copy` as the linker runs it: the checks of the trait method, then
/// the guest's bytes copied once, from its linear memory into the staging memory wgpu
/// hands out (`Queue::write_buffer_with`), instead of lifting them into a `Vec` first and
/// copying that (two copies of every byte; 40 MB of rows a forest predict of 10^6 rows
/// writes). Errors, quotas and traps as the trait method.
pub(crate) fn write_buffer_from_guest(
    mut store: StoreContextMut<'_, WebGpuState>,
    (this, buffer, buffer_offset, data, data_offset, size): WriteParams,
) -> R<(Result<(), w::WriteBufferError>,)> {
    let len = data.len() as u64;
    let t = match store.data_mut().write_target(
        &this,
        &buffer,
        buffer_offset,
        len,
        data_offset,
        size,
    )? {
        Ok(Some(t)) => t,
        other => return Ok((other.map(|_| ()),)),
    };
    let bytes = NonZeroU64::new(t.range.len() as u64)
        .ok_or_else(|| wasmtime::format_err!("write-buffer: an empty range passed its checks"))?;
    let (_, errors) = {
        let src = &data.as_le_slice(&store)[t.range.clone()];
        store.data().gpu.capture(|g| {
            if let Some(mut view) = g.queue.write_buffer_with(&t.buffer, t.offset, bytes) {
                copy_into_view(&mut view, src);
            }
        })?
    };
    store.data_mut().gpu.raise_all(errors);
    Ok((Ok(()),))
}
