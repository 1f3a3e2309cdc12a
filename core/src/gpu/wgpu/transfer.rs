//! Transfers of the wgpu backend: uploads through the two `MAP_WRITE` staging buffers in
//! turn, downloads through the `MAP_READ` one, each mapping filled or emptied on several
//! threads (rayon).

use super::{map_err, WgpuBackend};
use crate::gpu::{BufferId, Result};
use rayon::prelude::*;

/// Chunk of a host-side parallel memcpy into or out of a mapping.
const PAR_CHUNK: usize = 1 << 20;

impl WgpuBackend {
    /// Upload of an aligned range (offset and length multiples of 4) through the two
    /// staging buffers in turn.
    pub(super) fn write_aligned(&mut self, dst: BufferId, offset: u64, data: &[u8]) -> Result<()> {
        let stage = self.stage as usize;
        for (i, chunk) in data.chunks(stage).enumerate() {
            let s = i % 2;
            let len = chunk.len() as u64;
            let last = self.up_last[s].take();
            self.map(&self.up[s], len, wgpu::MapMode::Write, last)?;
            {
                let mut view = self.up[s]
                    .slice(..len)
                    .get_mapped_range_mut()
                    .map_err(map_err)?;
                let mut w = view.slice(..);
                // wgpu's WriteOnly views are not Send, so the parallel copy goes through the
                // mapping's base address (as an integer, to cross threads).
                let base = w.as_raw_element_ptr().as_ptr() as usize;
                chunk
                    .par_chunks(PAR_CHUNK)
                    .enumerate()
                    .for_each(|(j, src)| {
                        // SAFETY: the mapping is `len` = chunk.len() bytes long and stays mapped
                        // until `view` drops after this loop; the destination ranges
                        // [j·PAR_CHUNK, j·PAR_CHUNK + src.len()) are disjoint and in bounds; it
                        // is only written, never read.
                        unsafe {
                            std::ptr::copy_nonoverlapping(
                                src.as_ptr(),
                                (base as *mut u8).add(j * PAR_CHUNK),
                                src.len(),
                            )
                        }
                    });
            }
            self.up[s].unmap();
            let mut enc = self.device.create_command_encoder(&Default::default());
            enc.copy_buffer_to_buffer(
                &self.up[s],
                0,
                &self.buf(dst)?.buf,
                offset + (i * stage) as u64,
                len,
            );
            self.up_last[s] = Some(self.queue.submit([enc.finish()]));
        }
        self.check_uncaptured()
    }

    /// Download of an aligned range through the staging buffer.
    pub(super) fn read_aligned(
        &mut self,
        src: BufferId,
        offset: u64,
        out: &mut [u8],
    ) -> Result<()> {
        let stage = self.stage as usize;
        for (i, chunk) in out.chunks_mut(stage).enumerate() {
            let len = chunk.len() as u64;
            let mut enc = self.device.create_command_encoder(&Default::default());
            enc.copy_buffer_to_buffer(
                &self.buf(src)?.buf,
                offset + (i * stage) as u64,
                &self.down,
                0,
                len,
            );
            let idx = self.queue.submit([enc.finish()]);
            self.map(&self.down, len, wgpu::MapMode::Read, Some(idx))?;
            {
                let view = self.down.slice(..len).get_mapped_range().map_err(map_err)?;
                chunk
                    .par_chunks_mut(PAR_CHUNK)
                    .zip(view.par_chunks(PAR_CHUNK))
                    .for_each(|(d, src)| d.copy_from_slice(src));
            }
            self.down.unmap();
        }
        self.check_uncaptured()
    }
}

/// The 4-aligned range `[start, end)` that covers `[offset, offset + len)`.
pub(super) fn aligned(offset: u64, len: u64) -> (u64, u64) {
    (offset & !3, (offset + len).div_ceil(4) * 4)
}
