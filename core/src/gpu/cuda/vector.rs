//! Reductions (two passes: per-block partials, then one block) and element-wise ops of the
//! cuda backend (`core/cuda/kernels.cu`), on checked arguments.

use super::{dev_err, guard, CudaBackend, THREADS};
use crate::gpu::{BufferId, DType, ElementwiseOp, Result};
use cudarc::driver::{result as drv, LaunchConfig, PushKernelArg};
use std::format;

pub(super) const KERNELS_CU: &str = include_str!("../../../cuda/kernels.cu");
/// Blocks of the first reduction pass (at most).
pub(super) const REDUCE_BLOCKS: u32 = 1024;

impl CudaBackend {
    pub(super) fn reduce_impl(
        &mut self,
        kind: &str,
        dtype: DType,
        a: BufferId,
        b: Option<BufferId>,
        n: u64,
    ) -> Result<f64> {
        let pa = self.ptr(a)?;
        let pb = match b {
            Some(b) => self.ptr(b)?,
            None => pa,
        };
        self.bind()?;
        let t = dtype.name();
        let f1 = self.func(&format!("{kind}_{t}"))?;
        let kind2 = if kind == "dot" { "sum" } else { kind };
        let f2 = self.func(&format!("{kind2}_{t}"))?;
        let blocks = (n.div_ceil(THREADS as u64) as u32).clamp(1, REDUCE_BLOCKS);
        let (n32, partials, result) = (n as u32, self.partials, self.result);
        self.begin()?;
        let cfg = |g: u32| LaunchConfig {
            grid_dim: (g, 1, 1),
            block_dim: (THREADS, 1, 1),
            shared_mem_bytes: 0,
        };
        // SAFETY: pointers are live allocations holding at least n elements (checked by the
        // layer above); partials holds REDUCE_BLOCKS elements of 8 bytes.
        unsafe {
            self.stream
                .launch_builder(&f1)
                .arg(&pa)
                .arg(&pb)
                .arg(&partials)
                .arg(&n32)
                .launch(cfg(blocks))
                .map_err(dev_err("launch reduce pass 1"))?;
            self.stream
                .launch_builder(&f2)
                .arg(&partials)
                .arg(&partials)
                .arg(&result)
                .arg(&blocks)
                .launch(cfg(1))
                .map_err(dev_err("launch reduce pass 2"))?;
        }
        self.end()?;
        let mut w = [0u8; 8];
        let len = dtype.size() as usize;
        // SAFETY: result holds 8 bytes; the stream is synchronised before w is read.
        unsafe { drv::memcpy_dtoh_async(&mut w[..len], result, self.stream.cu_stream()) }
            .map_err(dev_err("cuMemcpyDtoHAsync"))?;
        self.stream.synchronize().map_err(dev_err("stream sync"))?;
        Ok(match dtype {
            DType::F32 => f32::from_le_bytes([w[0], w[1], w[2], w[3]]) as f64,
            DType::F64 => f64::from_le_bytes(w),
        })
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn elementwise_impl(
        &mut self,
        op: ElementwiseOp,
        dtype: DType,
        a: BufferId,
        b: Option<BufferId>,
        scalar: f64,
        out: BufferId,
        n: u64,
    ) -> Result<()> {
        let pa = self.ptr(a)?;
        let pb = match b {
            Some(b) => self.ptr(b)?,
            None => pa,
        };
        let po = self.ptr(out)?;
        let name = match op {
            ElementwiseOp::Mul => "mul",
            ElementwiseOp::Add => "add",
            ElementwiseOp::Scale => "scale",
            ElementwiseOp::Relu => "relu",
        };
        guard(|| {
            self.bind()?;
            let f = self.func(&format!("{name}_{}", dtype.name()))?;
            let n32 = n as u32;
            let blocks = (n.div_ceil(THREADS as u64)).clamp(1, 65535 * 4) as u32;
            let cfg = LaunchConfig {
                grid_dim: (blocks, 1, 1),
                block_dim: (THREADS, 1, 1),
                shared_mem_bytes: 0,
            };
            self.begin()?;
            let (s32, s64) = (scalar as f32, scalar);
            let mut l = self.stream.launch_builder(&f);
            l.arg(&pa).arg(&pb).arg(&po);
            match dtype {
                DType::F32 => l.arg(&s32),
                DType::F64 => l.arg(&s64),
            };
            l.arg(&n32);
            // SAFETY: all three pointers hold at least n elements (checked by the layer above).
            unsafe { l.launch(cfg) }.map_err(dev_err("launch elementwise"))?;
            self.end()
        })
    }
}
