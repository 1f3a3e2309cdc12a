//! [`GuestState`]: the data of one instance's store (resource table, WASI context, wasi:gpu
//! state), and the handle, quota and range checks every import goes through.

use std::sync::atomic::Ordering;

use offload_core::gpu::{Backend, BufferId, GpuError};
use wasmtime::component::{Resource, ResourceTable};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use super::bindings::wasi::gpu::compute::GpuError as WitError;
use super::device::{GpuBuffer, GpuCtx};
use super::error::{to_wit, Wit};

/// The data of one instance's [`Store`]: its resource table (wasi:gpu buffers and WASI
/// resources), its WASI context (no preopens, no environment, stdio discarded unless
/// [`GpuHost::inherit_stdio`]), and its wasi:gpu state.
///
/// [`Store`]: wasmtime::Store
/// [`GpuHost::inherit_stdio`]: super::GpuHost::inherit_stdio
pub struct GuestState {
    pub(super) table: ResourceTable,
    pub(super) wasi: WasiCtx,
    pub(super) gpu: GpuCtx,
}

impl WasiView for GuestState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl GuestState {
    /// The backend buffer behind a handle; the canonical ABI already trapped on a handle
    /// the instance does not own, so a miss here is a host bug, reported as a trap.
    pub(super) fn id(&self, r: &Resource<GpuBuffer>) -> wasmtime::Result<BufferId> {
        Ok(self.table.get(r)?.id)
    }

    fn buffer(&self, r: &Resource<GpuBuffer>) -> wasmtime::Result<&GpuBuffer> {
        Ok(self.table.get(r)?)
    }

    pub(super) fn create(&mut self, bytes: u64) -> Wit<Resource<GpuBuffer>> {
        let g = &mut self.gpu;
        if g.held.len() >= g.limits.max_buffers as usize {
            return Ok(Err(WitError::QuotaExceeded(format!(
                "this instance holds {} buffers, its quota is {}",
                g.held.len(),
                g.limits.max_buffers
            ))));
        }
        if bytes > g.limits.max_bytes - g.used_bytes {
            return Ok(Err(WitError::QuotaExceeded(format!(
                "{bytes} bytes asked with {} of the instance's {} bytes in use",
                g.used_bytes, g.limits.max_bytes
            ))));
        }
        let id = match g.device.lock().create_buffer(bytes) {
            Ok(id) => id,
            Err(e) => return Ok(Err(to_wit(e))),
        };
        g.device.live.fetch_add(1, Ordering::SeqCst);
        g.held.insert(id);
        g.used_bytes += bytes;
        match self.table.push(GpuBuffer { id, bytes }) {
            Ok(r) => Ok(Ok(r)),
            Err(e) => {
                let _ = self.gpu.release(&GpuBuffer { id, bytes });
                Err(e.into())
            }
        }
    }

    pub(super) fn destroy(&mut self, r: Resource<GpuBuffer>) -> Wit<()> {
        let b = self.table.delete(r)?;
        Ok(self.gpu.release(&b).map_err(to_wit))
    }

    pub(super) fn check_read(
        &self,
        r: &Resource<GpuBuffer>,
        offset: u64,
        bytes: u64,
    ) -> Wit<BufferId> {
        let b = self.buffer(r)?;
        if bytes > self.gpu.limits.max_bytes {
            return Ok(Err(WitError::QuotaExceeded(format!(
                "a read of {bytes} bytes is over the instance's quota of {} bytes",
                self.gpu.limits.max_bytes
            ))));
        }
        if bytes == 0 {
            return Ok(Err(WitError::ZeroSize("transfer of 0 bytes".into())));
        }
        if offset.checked_add(bytes).is_none_or(|end| end > b.bytes) {
            return Ok(Err(to_wit(GpuError::OutOfBounds {
                id: b.id,
                offset,
                bytes,
                size: b.bytes,
            })));
        }
        if bytes > u32::MAX as u64 {
            return Ok(Err(WitError::TooLarge(format!(
                "a read of {bytes} bytes does not fit a 32-bit linear memory"
            ))));
        }
        Ok(Ok(b.id))
    }

    pub(super) fn with<T>(
        &self,
        f: impl FnOnce(&mut Backend) -> std::result::Result<T, GpuError>,
    ) -> Wit<T> {
        Ok(f(&mut self.gpu.device.lock()).map_err(to_wit))
    }
}
