//! Transfers of the wgpu backend: uploads through two host-memory staging buffers in turn
//! (`host_stage.rs`; else the two `MAP_WRITE` staging buffers), downloads through the two
//! `MAP_READ` ones in turn, each staging buffer filled or emptied on several threads
//! ([`crate::par::copy_bytes`]).

use super::{map_err, WgpuBackend};
use crate::gpu::{BufferId, Result};
use crate::par;
use core::sync::atomic::Ordering;

impl WgpuBackend {
    /// Upload of an aligned range (offset and length multiples of 4) through the two
    /// staging buffers in turn.
    pub(super) fn write_aligned(&mut self, dst: BufferId, offset: u64, data: &[u8]) -> Result<()> {
        if self.host_up.is_some() {
            return self.write_host_staged(dst, offset, data);
        }
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
                // SAFETY: the mapping is chunk.len() bytes and stays mapped, written by
                // nothing else, until `view` drops after this.
                unsafe { par::copy_bytes_to(w.as_raw_element_ptr().as_ptr(), chunk) };
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

    /// Upload of an aligned range through the two host-memory staging buffers in turn
    /// (`host_stage.rs`): each is filled once the device's last copy out of it has
    /// finished (`Queue::on_submitted_work_done`), then copied to `dst` by the device.
    fn write_host_staged(&mut self, dst: BufferId, offset: u64, data: &[u8]) -> Result<()> {
        let stage = self.stage as usize;
        for (i, chunk) in data.chunks(stage).enumerate() {
            let s = i % 2;
            let last = self.up_last[s].take();
            let st = &self.host_up.as_ref().expect("checked by the caller")[s];
            while !st.is_idle() {
                self.wait_step(last.clone())?;
            }
            st.fill(chunk);
            let mut enc = self.device.create_command_encoder(&Default::default());
            enc.copy_buffer_to_buffer(
                &st.buf,
                0,
                &self.buf(dst)?.buf,
                offset + (i * stage) as u64,
                chunk.len() as u64,
            );
            st.idle.store(false, Ordering::Release);
            let idx = self.queue.submit([enc.finish()]);
            let flag = st.idle.clone();
            self.queue
                .on_submitted_work_done(move || flag.store(true, Ordering::Release));
            self.up_last[s] = Some(idx);
        }
        self.check_uncaptured()
    }

    /// Download of an aligned range through the two staging buffers in turn: the copy of
    /// chunk i + 1 is submitted before chunk i is copied out, so the device's copy and the
    /// host's overlap. On an error the pending copy is waited for by the next map of its
    /// buffer (wgpu orders the map after the submission), so no buffer is left mapped.
    pub(super) fn read_aligned(
        &mut self,
        src: BufferId,
        offset: u64,
        out: &mut [u8],
    ) -> Result<()> {
        let stage = self.stage as usize;
        let total = out.len();
        let n = total.div_ceil(stage);
        // Submits the device copy of chunk `i` into staging buffer `i % 2`.
        let submit = |me: &Self, i: usize| -> Result<wgpu::SubmissionIndex> {
            let len = (total - i * stage).min(stage) as u64;
            let mut enc = me.device.create_command_encoder(&Default::default());
            enc.copy_buffer_to_buffer(
                &me.buf(src)?.buf,
                offset + (i * stage) as u64,
                &me.down[i % 2],
                0,
                len,
            );
            Ok(me.queue.submit([enc.finish()]))
        };
        let mut next = if n > 0 { Some(submit(self, 0)?) } else { None };
        for (i, chunk) in out.chunks_mut(stage).enumerate() {
            let len = chunk.len() as u64;
            let idx = next.take();
            if i + 1 < n {
                next = Some(submit(self, i + 1)?);
            }
            let down = &self.down[i % 2];
            self.map(down, len, wgpu::MapMode::Read, idx)?;
            {
                let view = down.slice(..len).get_mapped_range().map_err(map_err)?;
                par::copy_bytes(chunk, &view);
            }
            down.unmap();
        }
        self.check_uncaptured()
    }
}

/// The 4-aligned range `[start, end)` that covers `[offset, offset + len)`.
pub(super) fn aligned(offset: u64, len: u64) -> (u64, u64) {
    (offset & !3, (offset + len).div_ceil(4) * 4)
}
