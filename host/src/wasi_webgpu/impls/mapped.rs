//! `get-mapped-range-get-with-copy` as the linker runs it: the mapped bytes copied once,
//! from wgpu's mapped range straight into the list the guest receives.
//!
//! Through the `bindgen!` trait the range is first copied into a host `Vec<u8>`, which
//! wasmtime then copies into the guest (the guest's `cabi_realloc`, then a second copy).
//! [`MappedRead`] lowers a `list<u8>` itself, as wasi:gpu's `DeviceRead`
//! (`host/src/wasi_gpu/read.rs`) does: it asks the guest for the list's memory and copies
//! the mapped range into it inside [`capture_on`] (the device locked, wgpu error scopes,
//! panics caught). The host checked handle, mapping and range before; a wgpu error during
//! the copy cannot become the published error at that point and traps the guest with its
//! message. It uses wasmtime's `ComponentType`/`Lower` traits, whose items are
//! `#[doc(hidden)]` (the host pins wasmtime 48, as for `DeviceRead`).

use std::mem::MaybeUninit;
use std::ops::Range;
use std::sync::Arc;

use wasmtime::component::__internal::{
    CanonicalAbiInfo, InstanceType, InterfaceType, LowerContext,
};
use wasmtime::component::{ComponentType, Lower, Resource};
use wasmtime::{StoreContextMut, ValRaw};

use super::super::bindings::wasi::webgpu::webgpu as w;
use super::super::objects::Buffer;
use super::super::state::capture_on;
use super::super::{WebGpuDevice, WebGpuState};
use super::R;

/// The bytes `range` of the mapped wgpu `buffer` (`None`: an empty range), copied when
/// lowered into the guest. Built only after [`WebGpuState::mapped_range`]'s checks.
pub(crate) struct MappedRead {
    device: Arc<WebGpuDevice>,
    buffer: Option<wgpu::Buffer>,
    range: Range<u64>,
}

impl MappedRead {
    /// Allocates the list in the guest and copies the mapped bytes into it; (pointer,
    /// length).
    fn lower_list<T>(&self, cx: &mut LowerContext<'_, T>) -> wasmtime::Result<(usize, usize)> {
        let len = usize::try_from(self.range.end - self.range.start)?;
        let ptr = cx.realloc(0, 0, 1, len)?;
        let Some(buffer) = &self.buffer else {
            return Ok((ptr, 0));
        };
        // `realloc` checked that ptr..ptr+len lies inside linear memory.
        let dst = &mut cx.as_slice_mut()[ptr..ptr + len];
        let (copied, errors) = capture_on(&self.device, |_| {
            let view = buffer.slice(self.range.clone()).get_mapped_range()?;
            dst.copy_from_slice(&view);
            Ok::<(), wgpu::MapRangeError>(())
        })?;
        if let Some(e) = errors.first() {
            wasmtime::bail!("get-mapped-range: {}", e.message);
        }
        copied.map_err(|e| wasmtime::format_err!("get-mapped-range: {e}"))?;
        Ok((ptr, len))
    }
}

// SAFETY: the representation of `[u8]` (`list<u8>`: a pointer pair), whose ABI and type
// check this delegates to.
unsafe impl ComponentType for MappedRead {
    type Lower = [ValRaw; 2];
    const ABI: CanonicalAbiInfo = <[u8] as ComponentType>::ABI;

    fn typecheck(ty: &InterfaceType, types: &InstanceType<'_>) -> wasmtime::Result<()> {
        <[u8] as ComponentType>::typecheck(ty, types)
    }
}

// SAFETY: writes exactly a (pointer, length) pair as `[u8]`'s lowering does: flat as two
// i64 `ValRaw`s, in memory as two little-endian u32 (memory32).
unsafe impl Lower for MappedRead {
    fn linear_lower_to_flat<T>(
        &self,
        cx: &mut LowerContext<'_, T>,
        _ty: InterfaceType,
        dst: &mut MaybeUninit<[ValRaw; 2]>,
    ) -> wasmtime::Result<()> {
        let (ptr, len) = self.lower_list(cx)?;
        dst.write([ValRaw::i64(ptr as i64), ValRaw::i64(len as i64)]);
        Ok(())
    }

    fn linear_lower_to_memory<T>(
        &self,
        cx: &mut LowerContext<'_, T>,
        _ty: InterfaceType,
        offset: usize,
    ) -> wasmtime::Result<()> {
        let (ptr, len) = self.lower_list(cx)?;
        *cx.get::<4>(offset) = u32::try_from(ptr)?.to_le_bytes();
        *cx.get::<4>(offset + 4) = u32::try_from(len)?.to_le_bytes();
        Ok(())
    }
}

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
