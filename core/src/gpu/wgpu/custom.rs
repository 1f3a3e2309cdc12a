//! Caller-supplied WGSL kernels on this backend's device and buffers:
//! [`WgpuBackend::dispatch_wgsl`], for a host that runs a guest's own shaders (the
//! parallel-for GPU device of `offload-host`), with the same buffers, staged transfers
//! and waits as the built-in kernels.

use super::{WgpuBackend, MAX_GROUPS};
use crate::gpu::{BufferId, GpuError, Result};
use std::format;
use std::vec::Vec;

impl WgpuBackend {
    /// Runs the compute shader `wgsl` (entry point `main`, compiled once per `key`) as
    /// `groups` workgroups along x and waits for it. Binding 0 of group 0 is a uniform
    /// holding the 16 bytes of `params`; bindings 1.. are `buffers` in order (storage
    /// buffers; wgpu derives the layout from the shader, so the shader must use every
    /// binding).
    ///
    /// # Errors
    /// [`GpuError::InvalidArgument`] when `groups` is 0 or over 65535;
    /// [`GpuError::InvalidHandle`] for a buffer that does not exist;
    /// [`GpuError::Device`] naming `key` when the WGSL does not compile or its bindings do
    /// not match `buffers`, or the device fails.
    pub fn dispatch_wgsl(
        &mut self,
        key: &str,
        wgsl: &str,
        params: [u8; 16],
        buffers: &[BufferId],
        groups: u32,
    ) -> Result<()> {
        if groups == 0 || u64::from(groups) > MAX_GROUPS {
            return Err(GpuError::InvalidArgument(format!(
                "kernel {key}: {groups} workgroups (expected 1..={MAX_GROUPS})"
            )));
        }
        let p = self.pipeline(&format!("custom:{key}"), || wgsl.into(), "main")?;
        self.set_params(params, [0; 16])?;
        let mut entries: Vec<(u32, &wgpu::Buffer)> = Vec::with_capacity(buffers.len() + 1);
        entries.push((0, &self.params[0]));
        for (i, &id) in buffers.iter().enumerate() {
            entries.push((i as u32 + 1, &self.buf(id)?.buf));
        }
        let scope = self.device.push_error_scope(wgpu::ErrorFilter::Validation);
        let bg = self.bind(&p, &entries);
        if let Some(e) = pollster::block_on(scope.pop()) {
            return Err(GpuError::Device(format!(
                "kernel {key}: binding {} buffers: {e}",
                buffers.len()
            )));
        }
        let idx = self.run_pass(&[(&p, &bg, (groups, 1))], |_| {})?;
        self.wait(Some(idx))?;
        self.check_uncaptured()
    }
}
