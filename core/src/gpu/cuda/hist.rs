//! hist-grow on the cuda backend.

use super::CudaBackend;
use crate::gpu::{HistGrowArgs, Result};

impl CudaBackend {
    pub(super) fn hist_grow_impl(&mut self, a: &HistGrowArgs) -> Result<()> {
        let _ = a;
        Err(crate::gpu::GpuError::Unsupported(
            "hist-grow: not yet on cuda".into(),
        ))
    }
}
