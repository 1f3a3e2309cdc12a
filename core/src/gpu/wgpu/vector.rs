//! Reductions (two-pass tree reduction, `reduce.wgsl`) and element-wise ops
//! (`elementwise.wgsl`) of the wgpu backend, on checked arguments.

use super::{map_err, WgpuBackend, MAX_GROUPS};
use crate::gpu::{BufferId, DType, ElementwiseOp, Result};
use std::format;

const REDUCE_WGSL: &str = include_str!("../../../shaders/reduce.wgsl");
const ELEMENTWISE_WGSL: &str = include_str!("../../../shaders/elementwise.wgsl");
/// Workgroups of the first reduction pass (at most; fewer for small inputs).
pub(super) const REDUCE_GROUPS: u64 = 2048;

impl WgpuBackend {
    /// Reads one scalar of `dtype` from the start of `self.result` (after `idx`).
    pub(super) fn read_result(&mut self, dtype: DType) -> Result<f64> {
        let mut enc = self.device.create_command_encoder(&Default::default());
        enc.copy_buffer_to_buffer(&self.result, 0, &self.down[0], 0, 8);
        let idx = self.queue.submit([enc.finish()]);
        self.map(&self.down[0], 8, wgpu::MapMode::Read, Some(idx))?;
        let mut w = [0u8; 8];
        w.copy_from_slice(
            &self.down[0]
                .slice(..8)
                .get_mapped_range()
                .map_err(map_err)?,
        );
        self.down[0].unmap();
        Ok(match dtype {
            DType::F32 => f32::from_le_bytes([w[0], w[1], w[2], w[3]]) as f64,
            DType::F64 => f64::from_le_bytes(w),
        })
    }

    pub(super) fn reduce_impl(
        &mut self,
        kind: &str,
        dtype: DType,
        a: BufferId,
        b: Option<BufferId>,
        n: u64,
    ) -> Result<f64> {
        let (combine, load, identity) = match kind {
            "sum" => ("x + y", "a[i]", "T(0)"),
            "min" => ("min(x, y)", "a[i]", "load(0u)"),
            "max" => ("max(x, y)", "a[i]", "load(0u)"),
            _ => ("x + y", "a[i] * b[i]", "T(0)"),
        };
        let t = dtype.name();
        let mk = |load: &'static str| {
            move || {
                format!("alias T = {t};\n")
                    + &REDUCE_WGSL
                        .replace("COMBINE", combine)
                        .replace("LOAD", load)
                        .replace("IDENTITY", identity)
            }
        };
        let p1 = self.pipeline(&format!("reduce-{kind}-{t}"), mk(load), "main")?;
        // Pass 2 folds the partials with the plain a[i] load (sum for dot).
        let kind2 = if kind == "dot" { "sum" } else { kind };
        let p2 = self.pipeline(&format!("reduce-{kind2}-{t}"), mk("a[i]"), "main")?;
        let groups = n.div_ceil(256).clamp(1, REDUCE_GROUPS);
        self.set_params(
            bytemuck::cast([n as u32, 0, 0, 0]),
            bytemuck::cast([groups as u32, 0u32, 0, 0]),
        )?;
        let abuf = &self.buf(a)?.buf;
        let mut e1 = std::vec![(0, abuf), (2, &self.partials), (3, &self.params[0])];
        if let Some(b) = b {
            e1.push((1, &self.buf(b)?.buf));
        }
        let bg1 = self.bind(&p1, &e1);
        let bg2 = self.bind(
            &p2,
            &[(0, &self.partials), (2, &self.result), (3, &self.params[1])],
        );
        self.run_pass(
            &[(&p1, &bg1, (groups as u32, 1)), (&p2, &bg2, (1, 1))],
            |_| {},
        )?;
        self.read_result(dtype)
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
        let entry = match op {
            ElementwiseOp::Mul => "mul",
            ElementwiseOp::Add => "add",
            ElementwiseOp::Scale => "scale",
            ElementwiseOp::Relu => "relu",
        };
        let t = dtype.name();
        let p = self.pipeline(
            &format!("elementwise-{entry}-{t}"),
            || format!("alias T = {t};\n{ELEMENTWISE_WGSL}"),
            entry,
        )?;
        let mut params = [0u8; 16];
        match dtype {
            DType::F32 => {
                params[0..4].copy_from_slice(&(scalar as f32).to_le_bytes());
                params[4..8].copy_from_slice(&(n as u32).to_le_bytes());
            }
            DType::F64 => {
                params[0..8].copy_from_slice(&scalar.to_le_bytes());
                params[8..12].copy_from_slice(&(n as u32).to_le_bytes());
            }
        }
        self.set_params(params, [0; 16])?;
        let mut entries = std::vec![
            (0, &self.buf(a)?.buf),
            (2, &self.buf(out)?.buf),
            (3, &self.params[0])
        ];
        if let Some(b) = b {
            entries.push((1, &self.buf(b)?.buf));
        }
        let bg = self.bind(&p, &entries);
        let groups = n.div_ceil(256).clamp(1, MAX_GROUPS) as u32;
        self.run_pass(&[(&p, &bg, (groups, 1))], |_| {})?;
        Ok(())
    }
}
