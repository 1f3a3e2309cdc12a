//! The `compute` imports (buffers, transfers, sync, device info) on [`GuestState`], and
//! the zero-copy `buffer-write`/`buffer-read` that replace the `bindgen!` ones in the linker.

use wasmtime::component::{Linker, Resource, WasmList};
use wasmtime::StoreContextMut;

use super::bindings::wasi::gpu::compute;
use super::error::{to_wit, Wit};
use super::{DeviceRead, GpuBuffer, GuestState, COMPUTE_INTERFACE};

impl compute::HostBuffer for GuestState {
    fn drop(&mut self, r: Resource<GpuBuffer>) -> wasmtime::Result<()> {
        let b = self.table.delete(r)?;
        self.gpu
            .release(&b)
            .map_err(|e| wasmtime::format_err!("freeing a dropped buffer: {e}"))
    }
}

impl compute::Host for GuestState {
    fn buffer_create(&mut self, bytes: u64) -> Wit<Resource<GpuBuffer>> {
        self.create(bytes)
    }

    /// The linker replaces this with the zero-copy version ([`GpuHost`]); kept correct.
    ///
    /// [`GpuHost`]: super::GpuHost
    fn buffer_write(&mut self, buf: Resource<GpuBuffer>, offset: u64, data: Vec<u8>) -> Wit<()> {
        let id = self.id(&buf)?;
        self.with(|b| b.write(id, offset, &data))
    }

    /// The linker replaces this with [`DeviceRead`]; kept correct.
    fn buffer_read(&mut self, buf: Resource<GpuBuffer>, offset: u64, bytes: u64) -> Wit<Vec<u8>> {
        let id = match self.check_read(&buf, offset, bytes)? {
            Ok(id) => id,
            Err(e) => return Ok(Err(e)),
        };
        let mut out = vec![0u8; bytes as usize];
        Ok(self.with(|b| b.read(id, offset, &mut out))?.map(|()| out))
    }

    fn buffer_copy(
        &mut self,
        src: Resource<GpuBuffer>,
        src_offset: u64,
        dst: Resource<GpuBuffer>,
        dst_offset: u64,
        bytes: u64,
    ) -> Wit<()> {
        let (s, d) = (self.id(&src)?, self.id(&dst)?);
        self.with(|b| b.copy(s, src_offset, d, dst_offset, bytes))
    }

    fn buffer_destroy(&mut self, buf: Resource<GpuBuffer>) -> Wit<()> {
        self.destroy(buf)
    }

    fn sync(&mut self) -> Wit<()> {
        self.with(|b| b.sync())
    }

    fn get_device_info(&mut self) -> Wit<compute::DeviceInfo> {
        let d = &self.gpu.device.info;
        Ok(Ok(compute::DeviceInfo {
            backend: d.backend.name().to_string(),
            name: d.name.clone(),
            driver: d.driver.clone(),
            memory_bytes: d.memory_bytes,
            max_buffer_bytes: d.max_buffer_bytes,
            supports_f64: d.supports_f64,
            supports_tf32: d.supports_tf32,
            is_software: d.is_software,
        }))
    }
}

/// Replaces `buffer-write` and `buffer-read` of the `bindgen!` linker entries with versions
/// that do not copy through a host `Vec` (see the module docs).
pub(super) fn add_zero_copy(linker: &mut Linker<GuestState>) -> wasmtime::Result<()> {
    linker.allow_shadowing(true);
    let mut inst = linker.instance(COMPUTE_INTERFACE)?;
    inst.func_wrap(
        "buffer-write",
        |store: StoreContextMut<'_, GuestState>,
         (buf, offset, data): (Resource<GpuBuffer>, u64, WasmList<u8>)| {
            let state = store.data();
            let id = state.id(&buf)?;
            let bytes = data.as_le_slice(&store);
            let r = state.gpu.device.lock().write(id, offset, bytes);
            Ok((r.map_err(to_wit),))
        },
    )?;
    inst.func_wrap(
        "buffer-read",
        |store: StoreContextMut<'_, GuestState>,
         (buf, offset, bytes): (Resource<GpuBuffer>, u64, u64)| {
            let state = store.data();
            let r = state.check_read(&buf, offset, bytes)?.map(|id| DeviceRead {
                device: state.gpu.device.clone(),
                id,
                offset,
                len: bytes as usize,
            });
            Ok((r,))
        },
    )?;
    linker.allow_shadowing(false);
    Ok(())
}
