//! [`DeviceRead`]: the result of `buffer-read`, lowered by copying the device bytes straight
//! into the guest's list.
//!
//! wasmtime lowers a `Vec<u8>` result by calling the guest's `cabi_realloc` and copying the
//! vector into linear memory: for a read that means device → host vector → guest, and a
//! fresh host allocation (page faults) per call. `DeviceRead` implements the lowering of a
//! `list<u8>` itself: it calls `cabi_realloc` for `len` bytes (align 1) and has the backend
//! copy device → guest memory in one step, so a read costs what the direct backend read
//! into a host slice costs.
//!
//! It implements wasmtime's `ComponentType`/`Lower` traits, whose items are
//! `#[doc(hidden)]` and outside wasmtime's API stability promise (the same ones
//! `#[derive(Lower)]` uses): the host pins wasmtime 48. A backend failure during the copy
//! (after the host already checked handle, offset, size and quota) cannot become a
//! `gpu-error` at that point and traps the guest with the backend's message.

use std::mem::MaybeUninit;
use std::sync::Arc;

use offload_core::gpu::BufferId;
use wasmtime::component::__internal::{
    CanonicalAbiInfo, InstanceType, InterfaceType, LowerContext,
};
use wasmtime::component::{ComponentType, Lower};
use wasmtime::ValRaw;

use super::Device;

/// `len` bytes of device buffer `id` from byte `offset`, read when lowered into the guest
/// (see the module docs). Built by the host only after the range was checked.
pub struct DeviceRead {
    pub(super) device: Arc<Device>,
    pub(super) id: BufferId,
    pub(super) offset: u64,
    pub(super) len: usize,
}

impl DeviceRead {
    /// Allocates the list in the guest and reads into it; returns (pointer, length).
    fn lower_list<T>(&self, cx: &mut LowerContext<'_, T>) -> wasmtime::Result<(usize, usize)> {
        let ptr = cx.realloc(0, 0, 1, self.len)?;
        // `realloc` checked that ptr..ptr+len lies inside linear memory.
        let dst = &mut cx.as_slice_mut()[ptr..ptr + self.len];
        self.device
            .lock()
            .read(self.id, self.offset, dst)
            .map_err(|e| wasmtime::format_err!("buffer-read: {e}"))?;
        Ok((ptr, self.len))
    }
}

// SAFETY: the same representation as `[u8]`'s (`list<u8>`: a pointer pair), whose ABI and
// type check this delegates to.
unsafe impl ComponentType for DeviceRead {
    type Lower = [ValRaw; 2];
    const ABI: CanonicalAbiInfo = <[u8] as ComponentType>::ABI;

    fn typecheck(ty: &InterfaceType, types: &InstanceType<'_>) -> wasmtime::Result<()> {
        <[u8] as ComponentType>::typecheck(ty, types)
    }
}

// SAFETY: writes exactly a (pointer, length) pair as `[u8]`'s lowering does: flat as two
// i64 `ValRaw`s, in memory as two little-endian u32 (memory32).
unsafe impl Lower for DeviceRead {
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
