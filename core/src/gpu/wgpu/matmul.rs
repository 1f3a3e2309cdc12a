//! SGEMM of the wgpu backend: 128×128 tiles with 8×8 register blocks (`matmul.wgsl`, and
//! `matmul_vec4.wgsl` with vec4 loads when k and n are multiples of 4), on checked shapes.

use super::{WgpuBackend, MAX_GROUPS};
use crate::gpu::{BufferId, GpuError, MatmulPrecision, Result};
use std::string::ToString;

const MATMUL_WGSL: &str = include_str!("../../../shaders/matmul.wgsl");
const MATMUL_VEC4_WGSL: &str = include_str!("../../../shaders/matmul_vec4.wgsl");

impl WgpuBackend {
    #[allow(clippy::too_many_arguments)]
    pub(super) fn matmul_impl(
        &mut self,
        precision: MatmulPrecision,
        a: BufferId,
        b: BufferId,
        c: BufferId,
        m: u64,
        k: u64,
        n: u64,
    ) -> Result<()> {
        if precision != MatmulPrecision::Fp32 {
            return Err(GpuError::Unsupported(
                "TF32 matmul on wgpu (WGSL has no TF32)".into(),
            ));
        }
        for (what, e) in [("m·k", m * k), ("k·n", k * n), ("m·n", m * n)] {
            if e > u32::MAX as u64 {
                return Err(GpuError::TooLarge {
                    what,
                    requested: e,
                    limit: u32::MAX as u64,
                });
            }
        }
        let (gx, gy) = (n.div_ceil(128), m.div_ceil(128));
        if gx > MAX_GROUPS || gy > MAX_GROUPS {
            return Err(GpuError::TooLarge {
                what: "matmul dimension",
                requested: m.max(n),
                limit: MAX_GROUPS * 128,
            });
        }
        // vec4 loads when every row of A and B starts on a 16-byte boundary.
        let p = if k.is_multiple_of(4) && n.is_multiple_of(4) {
            self.pipeline("matmul-f32-vec4", || MATMUL_VEC4_WGSL.to_string(), "main")?
        } else {
            self.pipeline("matmul-f32", || MATMUL_WGSL.to_string(), "main")?
        };
        // Each dimension is at most 2^31−1 (checked).
        let (m32, k32, n32) = (m as u32, k as u32, n as u32);
        self.set_params(bytemuck::cast([m32, k32, n32, 0u32]), [0; 16])?;
        let bg = self.bind(
            &p,
            &[
                (0, &self.buf(a)?.buf),
                (1, &self.buf(b)?.buf),
                (2, &self.buf(c)?.buf),
                (3, &self.params[0]),
            ],
        );
        self.run_pass(&[(&p, &bg, (gx as u32, gy as u32))], |_| {})?;
        Ok(())
    }
}
