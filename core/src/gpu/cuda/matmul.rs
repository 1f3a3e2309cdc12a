//! SGEMM of the cuda backend through cuBLAS (row-major C = A·B computed as the column-major
//! Cᵀ = Bᵀ·Aᵀ), FP32 or TF32, on checked shapes (each dimension at most 2^31−1).

use super::{guard, CudaBackend};
use crate::gpu::{BufferId, GpuError, MatmulPrecision, Result};
use cudarc::cublas::{result as blas_result, sys as blas_sys};
use std::format;

impl CudaBackend {
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
        if precision == MatmulPrecision::Tf32 && !self.info.supports_tf32 {
            return Err(GpuError::Unsupported(format!(
                "TF32 on {} (needs sm_80 or newer)",
                self.info.name
            )));
        }
        let (pa, pb, pc) = (self.ptr(a)?, self.ptr(b)?, self.ptr(c)?);
        guard(|| {
            self.bind()?;
            let handle = *self.blas.handle();
            let mode = match precision {
                MatmulPrecision::Fp32 => blas_sys::cublasMath_t::CUBLAS_DEFAULT_MATH,
                MatmulPrecision::Tf32 => blas_sys::cublasMath_t::CUBLAS_TF32_TENSOR_OP_MATH,
            };
            let blas_err = |e: blas_result::CublasError| GpuError::Device(format!("cuBLAS: {e}"));
            // SAFETY: handle is live; mode is a valid enum value.
            unsafe { blas_sys::cublasSetMathMode(handle, mode) }
                .result()
                .map_err(blas_err)?;
            let (alpha, beta) = (1.0f32, 0.0f32);
            let (m, k, n) = (m as i32, k as i32, n as i32);
            self.begin()?;
            // Row-major C (m×n) = A (m×k) · B (k×n) is column-major Cᵀ (n×m) = Bᵀ (n×k) · Aᵀ (k×m).
            // SAFETY: buffer sizes checked by the layer above; pointers are live allocations.
            unsafe {
                blas_result::sgemm(
                    handle,
                    blas_sys::cublasOperation_t::CUBLAS_OP_N,
                    blas_sys::cublasOperation_t::CUBLAS_OP_N,
                    n,
                    m,
                    k,
                    &alpha,
                    pb as *const f32,
                    n,
                    pa as *const f32,
                    k,
                    &beta,
                    pc as *mut f32,
                    n,
                )
            }
            .map_err(blas_err)?;
            self.end()
        })
    }
}
