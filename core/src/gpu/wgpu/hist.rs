//! hist-grow on the wgpu backend.

use super::WgpuBackend;
use crate::gpu::{HistGrowArgs, Result};

impl WgpuBackend {
    pub(super) fn hist_grow_impl(&mut self, a: &HistGrowArgs) -> Result<()> {
        let _ = a;
        Err(crate::gpu::GpuError::Unsupported(
            "hist-grow: not yet on wgpu".into(),
        ))
    }
}
