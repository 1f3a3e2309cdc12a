//! [`GuestState`]: the data of one instance's store (resource table, WASI context, wasi:gpu
//! state), and the handle checks every import goes through; quotas and `buffer-read`
//! checks are offload-core's wasi:gpu policy (`offload_core::gpu::policy`).

use std::sync::atomic::Ordering;

use offload_core::gpu::policy;
use offload_core::gpu::{Backend, BufferId, GpuError};
use wasmtime::component::{Resource, ResourceTable};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use super::device::{GpuBuffer, GpuCtx};
use super::error::{refusal, to_wit, Wit};

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
        let quota = g.limits.quota();
        if let Err(r) = policy::admit_buffer(&quota, g.held.len() as u64, g.used_bytes, bytes) {
            return Ok(Err(refusal(r)));
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
        match policy::check_read(&self.gpu.limits.quota(), offset, bytes, b.bytes) {
            Ok(()) => {}
            Err(r) => return Ok(Err(refusal(r))),
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
