//! `get-mapped-range-get-with-copy` as the linker runs it: the mapped bytes copied once,
//! from wgpu's mapped range straight into the list the guest receives.
//!
//! Through the `bindgen!` trait the range is first copied into a host `Vec<u8>`, which
//! wasmtime then copies into the guest (the guest's `cabi_realloc`, then a second copy).
//! [`MappedRead`] lowers as a `list<u8>` itself (`crate::guest_bytes`, as wasi:gpu's
//! `DeviceRead`): the list's memory comes from the guest and the mapped range is copied
//! into it inside [`capture_on`] (the device locked, wgpu error scopes, panics caught).
//! The host checked handle, mapping and range before; a wgpu error during the copy cannot
//! become the published error at that point and traps the guest with its message.

use std::ops::Range;
use std::sync::Arc;

use wasmtime::component::Resource;
use wasmtime::StoreContextMut;

use super::super::bindings::wasi::webgpu::webgpu as w;
use super::super::objects::Buffer;
use super::super::state::capture_on;
use super::super::{WebGpuDevice, WebGpuState};
use super::R;
use crate::guest_bytes::lower_as_guest_bytes;

/// The bytes `range` of the mapped wgpu `buffer` (`None`: an empty range), copied when
/// lowered into the guest. Built only after [`WebGpuState::mapped_range`]'s checks.
pub(crate) struct MappedRead {
    device: Arc<WebGpuDevice>,
    buffer: Option<wgpu::Buffer>,
    range: Range<u64>,
}

impl MappedRead {
    fn byte_len(&self) -> usize {
        // A range inside a buffer the host created, so it fits usize.
        (self.range.end - self.range.start) as usize
    }

    /// Copies the mapped range into `dst` (the guest's list), inside [`capture_on`].
    fn fill(&self, dst: &mut [u8]) -> wasmtime::Result<()> {
        let Some(buffer) = &self.buffer else {
            return Ok(());
        };
        let (copied, errors) = capture_on(&self.device, |_| {
            let view = buffer.slice(self.range.clone()).get_mapped_range()?;
            // On several threads from 2 MiB on (8 MB of means per 10^6-row forest predict).
            offload_core::par::copy_bytes(dst, &view);
            Ok::<(), wgpu::MapRangeError>(())
        })?;
        if let Some(e) = errors.first() {
            wasmtime::bail!("get-mapped-range: {}", e.message);
        }
        copied.map_err(|e| wasmtime::format_err!("get-mapped-range: {e}"))
    }
}

lower_as_guest_bytes!(MappedRead);

/// `[method]gpu-buffer.get-mapped-range-get-with-copy` as the linker runs it: the checks
/// of the trait method, then a [`MappedRead`] that copies the range when wasmtime lowers
/// it into the guest. Errors as the trait method.
pub(crate) fn get_mapped_range_into_guest(
    store: StoreContextMut<'_, WebGpuState>,
    (this, offset, size): (Resource<Buffer>, Option<u64>, Option<u64>),
) -> R<(Result<MappedRead, w::GetMappedRangeError>,)> {
    let st = store.data();
    let read = st.mapped_range(&this, offset, size)?.map(|t| match t {
        Some((buffer, range)) => MappedRead {
            device: st.gpu.device.clone(),
            buffer: Some(buffer),
            range,
        },
        None => MappedRead {
            device: st.gpu.device.clone(),
            buffer: None,
            range: 0..0,
        },
    });
    Ok((read,))
}
