//! Transfers of the cuda backend: two pinned host staging buffers of [`STAGE_BYTES`] used in
//! turn, so that the host copies one chunk (on several threads, rayon) while the DMA engine
//! moves the other. Ranges arrive checked.

use super::{dev_err, CudaBackend, Stage};
use crate::gpu::{BufferId, GpuError, Result};
use cudarc::driver::{result as drv, sys};
use rayon::prelude::*;
use std::vec::Vec;

/// Size of each pinned staging buffer in bytes (32 MiB).
pub const STAGE_BYTES: usize = 32 << 20;
/// Chunk of a host-side parallel memcpy.
const PAR_CHUNK: usize = 1 << 20;

impl CudaBackend {
    fn stages(&self, flags: u32) -> Result<[Stage; 2]> {
        let mk = || -> Result<Stage> {
            Ok(Stage {
                // SAFETY: contents are written before they are read.
                host: unsafe { self.ctx.alloc_pinned_with_flags::<u8>(STAGE_BYTES, flags) }
                    .map_err(dev_err("cuMemHostAlloc"))?,
                done: self.ctx.new_event(None).map_err(dev_err("event"))?,
            })
        };
        Ok([mk()?, mk()?])
    }

    pub(super) fn write_impl(&mut self, id: BufferId, offset: u64, data: &[u8]) -> Result<()> {
        let dst = self.ptr(id)? + offset;
        self.bind()?;
        if self.up.is_none() {
            // Write-combined: the host only writes these, the DMA engine reads them.
            self.up = Some(self.stages(sys::CU_MEMHOSTALLOC_WRITECOMBINED)?);
        }
        let stream = self.stream.clone();
        let stages = self
            .up
            .as_mut()
            .ok_or_else(|| GpuError::Device("staging".into()))?;
        for (i, chunk) in data.chunks(STAGE_BYTES).enumerate() {
            let st = &mut stages[i % 2];
            st.done.synchronize().map_err(dev_err("event sync"))?;
            let host = &mut st.host.as_mut_slice().map_err(dev_err("pinned"))?[..chunk.len()];
            host.par_chunks_mut(PAR_CHUNK)
                .zip(chunk.par_chunks(PAR_CHUNK))
                .for_each(|(d, s)| d.copy_from_slice(s));
            // SAFETY: dst + i·STAGE .. + len lies inside the buffer (checked by the layer above);
            // the pinned source is not touched again until its event has completed.
            unsafe {
                drv::memcpy_htod_async(dst + (i * STAGE_BYTES) as u64, &*host, stream.cu_stream())
            }
            .map_err(dev_err("cuMemcpyHtoDAsync"))?;
            st.done.record(&stream).map_err(dev_err("event record"))?;
        }
        Ok(())
    }

    pub(super) fn read_impl(&mut self, id: BufferId, offset: u64, out: &mut [u8]) -> Result<()> {
        let src = self.ptr(id)? + offset;
        self.bind()?;
        if self.down.is_none() {
            self.down = Some(self.stages(0)?);
        }
        let stream = self.stream.clone();
        let stages = self
            .down
            .as_mut()
            .ok_or_else(|| GpuError::Device("staging".into()))?;
        let chunks: Vec<&mut [u8]> = out.chunks_mut(STAGE_BYTES).collect();
        let count = chunks.len();
        let mut pending: Option<&mut [u8]> = None;
        let mut it = chunks.into_iter();
        for i in 0..=count {
            let next = it.next();
            if let Some(chunk) = &next {
                let st = &mut stages[i % 2];
                let len = chunk.len();
                // SAFETY: src + i·STAGE .. + len lies inside the buffer (checked by the layer
                // above); the pinned buffer is read only after its event completes.
                let host = st.host.as_mut_slice().map_err(dev_err("pinned"))?;
                unsafe {
                    drv::memcpy_dtoh_async(
                        &mut host[..len],
                        src + (i * STAGE_BYTES) as u64,
                        stream.cu_stream(),
                    )
                }
                .map_err(dev_err("cuMemcpyDtoHAsync"))?;
                st.done.record(&stream).map_err(dev_err("event record"))?;
            }
            if let Some(prev) = pending.take() {
                let st = &mut stages[(i + 1) % 2];
                st.done.synchronize().map_err(dev_err("event sync"))?;
                let host = st.host.as_slice().map_err(dev_err("pinned"))?;
                let len = prev.len();
                prev.par_chunks_mut(PAR_CHUNK)
                    .zip(host[..len].par_chunks(PAR_CHUNK))
                    .for_each(|(d, s)| d.copy_from_slice(s));
            }
            pending = next;
        }
        Ok(())
    }
}
