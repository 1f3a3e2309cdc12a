//! Waiting for the wgpu device: for a submission (`wait`), for a buffer mapping (`map`),
//! one step of either (`wait_step`), spinning or blocking as `OFFLOAD_WGPU_WAIT` chose.

use super::WgpuBackend;
use crate::gpu::{GpuError, Result};
use std::format;
use std::sync::{Arc, Mutex};

impl WgpuBackend {
    /// Waits for the submission `idx` (all submissions when `None`). In spin mode (the
    /// default) by polling without blocking until the queue is empty, else by a blocking
    /// `poll(Wait)`.
    pub(super) fn wait(&self, idx: Option<wgpu::SubmissionIndex>) -> Result<()> {
        if self.spin {
            loop {
                let st = self
                    .device
                    .poll(wgpu::PollType::Poll)
                    .map_err(|e| GpuError::Device(format!("poll: {e}")))?;
                if st.is_queue_empty() {
                    return Ok(());
                }
                std::thread::yield_now();
            }
        }
        self.device
            .poll(wgpu::PollType::Wait {
                submission_index: idx,
                timeout: None,
            })
            .map(|_| ())
            .map_err(|e| GpuError::Device(format!("poll: {e}")))
    }

    /// Maps `buf[..len]` and waits until the mapping is ready (after submission `after`,
    /// the last one that used the buffer).
    pub(super) fn map(
        &self,
        buf: &wgpu::Buffer,
        len: u64,
        mode: wgpu::MapMode,
        after: Option<wgpu::SubmissionIndex>,
    ) -> Result<()> {
        let done = Arc::new(Mutex::new(None));
        let d2 = done.clone();
        buf.slice(..len).map_async(mode, move |r| {
            if let Ok(mut g) = d2.lock() {
                *g = Some(r);
            }
        });
        if !self.spin {
            self.wait(after)?;
        }
        loop {
            if let Some(r) = done
                .lock()
                .map_err(|_| GpuError::Device("map poisoned".into()))?
                .take()
            {
                return r.map_err(|e| GpuError::Device(format!("map_async: {e}")));
            }
            self.wait_step(None)?;
        }
    }

    /// One step of waiting for a callback: a non-blocking poll and a yield (spin), or a
    /// blocking wait for submission `after` (everything queued when `None`).
    pub(super) fn wait_step(&self, after: Option<wgpu::SubmissionIndex>) -> Result<()> {
        if self.spin {
            self.device
                .poll(wgpu::PollType::Poll)
                .map_err(|e| GpuError::Device(format!("poll: {e}")))?;
            std::thread::yield_now();
            Ok(())
        } else {
            self.wait(after)
        }
    }
}
