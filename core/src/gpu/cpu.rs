//! The `cpu` backend: host memory and plain Rust kernels, the reference every other backend
//! is checked against.
//!
//! Reductions of f32 accumulate in f64, so the reference is more accurate than any device
//! path; min/max propagate NaN. Matmul is the i-k-j loop order over row-major data (each row
//! of C accumulated in f32 as a sum of scaled rows of B), rows spread over threads by rayon.

use super::{
    check_create, check_elems, check_matmul, check_no_overlap, check_range, elementwise_b,
    BackendKind, BufferId, BufferTable, DType, DeviceInfo, ElementwiseOp, GpuBackend, GpuError,
    MatmulPrecision, ReduceOp, Result,
};
use rayon::prelude::*;
use std::string::ToString;
use std::vec;
use std::vec::Vec;

/// Largest buffer the cpu backend allocates (16 GiB), so a bad size fails cleanly.
pub const CPU_MAX_BUFFER_BYTES: u64 = 16 << 30;

/// A host buffer: u64 words so that f32 and f64 views are aligned.
struct HostBuf {
    words: Vec<u64>,
    bytes: u64,
}

impl HostBuf {
    fn bytes(&self) -> &[u8] {
        &bytemuck::cast_slice(&self.words)[..self.bytes as usize]
    }
    fn bytes_mut(&mut self) -> &mut [u8] {
        &mut bytemuck::cast_slice_mut(&mut self.words)[..self.bytes as usize]
    }
}

/// The reference backend on the host CPU.
pub struct CpuBackend {
    info: DeviceInfo,
    bufs: BufferTable<HostBuf>,
    timing: bool,
    last_ns: Option<u64>,
}

impl Default for CpuBackend {
    fn default() -> Self {
        Self::new()
    }
}

impl CpuBackend {
    /// Opens the cpu backend (cannot fail).
    pub fn new() -> Self {
        CpuBackend {
            info: DeviceInfo {
                backend: BackendKind::Cpu,
                name: std::format!("host CPU ({} threads)", rayon::current_num_threads()),
                driver: "Rust reference kernels".to_string(),
                memory_bytes: None,
                max_buffer_bytes: CPU_MAX_BUFFER_BYTES,
                supports_f64: true,
                supports_tf32: false,
                kernel_timing: true,
                is_software: true,
            },
            bufs: BufferTable::new(),
            timing: false,
            last_ns: None,
        }
    }

    fn timed<T>(&mut self, f: impl FnOnce(&mut Self) -> Result<T>) -> Result<T> {
        let t0 = std::time::Instant::now();
        let r = f(self)?;
        if self.timing {
            self.last_ns = Some(t0.elapsed().as_nanos() as u64);
        }
        Ok(r)
    }

    fn f32s(&self, id: BufferId, n: u64) -> Result<&[f32]> {
        let b = self.bufs.get(id)?;
        check_elems(id, b.bytes, DType::F32, n)?;
        Ok(&bytemuck::cast_slice::<u64, f32>(&b.words)[..n as usize])
    }
    fn f64s(&self, id: BufferId, n: u64) -> Result<&[f64]> {
        let b = self.bufs.get(id)?;
        check_elems(id, b.bytes, DType::F64, n)?;
        Ok(&bytemuck::cast_slice::<u64, f64>(&b.words)[..n as usize])
    }
}

/// Reference reduction in f64 with NaN propagation for min/max.
pub fn reduce_ref(op: ReduceOp, xs: impl Iterator<Item = f64>) -> f64 {
    match op {
        ReduceOp::Sum => xs.sum(),
        ReduceOp::Min => xs.fold(f64::INFINITY, |m, x| {
            if x.is_nan() || m.is_nan() {
                f64::NAN
            } else {
                m.min(x)
            }
        }),
        ReduceOp::Max => xs.fold(f64::NEG_INFINITY, |m, x| {
            if x.is_nan() || m.is_nan() {
                f64::NAN
            } else {
                m.max(x)
            }
        }),
    }
}

/// Reference element-wise op on one element pair.
pub fn elementwise_ref(op: ElementwiseOp, a: f64, b: f64, scalar: f64) -> f64 {
    match op {
        ElementwiseOp::Mul => a * b,
        ElementwiseOp::Add => a + b,
        ElementwiseOp::Scale => scalar * a,
        ElementwiseOp::Relu => {
            if a > 0.0 || a.is_nan() {
                a
            } else {
                0.0
            }
        }
    }
}

/// Reference f32 matmul: `c = a·b`, row-major, a m×k, b k×n, c m×n; rows over rayon threads.
pub fn matmul_ref(a: &[f32], b: &[f32], c: &mut [f32], m: usize, k: usize, n: usize) {
    c[..m * n]
        .par_chunks_mut(n)
        .enumerate()
        .for_each(|(i, row)| {
            row.fill(0.0);
            for p in 0..k {
                let aip = a[i * k + p];
                let brow = &b[p * n..(p + 1) * n];
                for (cj, bj) in row.iter_mut().zip(brow) {
                    *cj += aip * bj;
                }
            }
        });
}

impl GpuBackend for CpuBackend {
    fn info(&self) -> &DeviceInfo {
        &self.info
    }

    fn create_buffer(&mut self, bytes: u64) -> Result<BufferId> {
        check_create(bytes, self.info.max_buffer_bytes)?;
        let words = bytes.div_ceil(8) as usize;
        let mut v = Vec::new();
        v.try_reserve_exact(words)
            .map_err(|e| GpuError::Device(std::format!("host allocation of {bytes} bytes: {e}")))?;
        v.resize(words, 0u64);
        Ok(self.bufs.insert(HostBuf { words: v, bytes }))
    }

    fn destroy_buffer(&mut self, id: BufferId) -> Result<()> {
        self.bufs.remove(id).map(|_| ())
    }

    fn buffer_size(&self, id: BufferId) -> Result<u64> {
        Ok(self.bufs.get(id)?.bytes)
    }

    fn write(&mut self, id: BufferId, offset: u64, data: &[u8]) -> Result<()> {
        let b = self.bufs.get_mut(id)?;
        check_range(id, b.bytes, offset, data.len() as u64)?;
        b.bytes_mut()[offset as usize..offset as usize + data.len()].copy_from_slice(data);
        Ok(())
    }

    fn read(&mut self, id: BufferId, offset: u64, out: &mut [u8]) -> Result<()> {
        let b = self.bufs.get(id)?;
        check_range(id, b.bytes, offset, out.len() as u64)?;
        out.copy_from_slice(&b.bytes()[offset as usize..offset as usize + out.len()]);
        Ok(())
    }

    fn copy(
        &mut self,
        src: BufferId,
        src_offset: u64,
        dst: BufferId,
        dst_offset: u64,
        bytes: u64,
    ) -> Result<()> {
        let s = self.bufs.get(src)?;
        check_range(src, s.bytes, src_offset, bytes)?;
        let d = self.bufs.get(dst)?;
        check_range(dst, d.bytes, dst_offset, bytes)?;
        check_no_overlap(src, src_offset, dst, dst_offset, bytes)?;
        let tmp = s.bytes()[src_offset as usize..(src_offset + bytes) as usize].to_vec();
        self.bufs.get_mut(dst)?.bytes_mut()[dst_offset as usize..(dst_offset + bytes) as usize]
            .copy_from_slice(&tmp);
        Ok(())
    }

    fn sync(&mut self) -> Result<()> {
        Ok(())
    }

    fn reduce(&mut self, op: ReduceOp, dtype: DType, a: BufferId, n: u64) -> Result<f64> {
        self.timed(|s| {
            Ok(match dtype {
                DType::F32 => reduce_ref(op, s.f32s(a, n)?.iter().map(|&x| x as f64)),
                DType::F64 => reduce_ref(op, s.f64s(a, n)?.iter().copied()),
            })
        })
    }

    fn dot(&mut self, dtype: DType, a: BufferId, b: BufferId, n: u64) -> Result<f64> {
        self.timed(|s| {
            Ok(match dtype {
                DType::F32 => {
                    let (x, y) = (s.f32s(a, n)?, s.f32s(b, n)?);
                    x.iter().zip(y).map(|(&p, &q)| p as f64 * q as f64).sum()
                }
                DType::F64 => {
                    let (x, y) = (s.f64s(a, n)?, s.f64s(b, n)?);
                    x.iter().zip(y).map(|(p, q)| p * q).sum()
                }
            })
        })
    }

    fn elementwise(
        &mut self,
        op: ElementwiseOp,
        dtype: DType,
        a: BufferId,
        b: Option<BufferId>,
        scalar: f64,
        out: BufferId,
        n: u64,
    ) -> Result<()> {
        let b = elementwise_b(op, b)?;
        self.timed(|s| {
            let ob = s.bufs.get(out)?;
            check_elems(out, ob.bytes, dtype, n)?;
            let r: Vec<u8> = match dtype {
                DType::F32 => {
                    let x = s.f32s(a, n)?;
                    let y = match b {
                        Some(b) => s.f32s(b, n)?,
                        None => x,
                    };
                    let v: Vec<f32> = x
                        .iter()
                        .zip(y)
                        .map(|(&p, &q)| match op {
                            // f32 arithmetic, as the devices do it.
                            ElementwiseOp::Mul => p * q,
                            ElementwiseOp::Add => p + q,
                            ElementwiseOp::Scale => scalar as f32 * p,
                            ElementwiseOp::Relu => elementwise_ref(op, p as f64, 0.0, 0.0) as f32,
                        })
                        .collect();
                    bytemuck::cast_slice(&v).to_vec()
                }
                DType::F64 => {
                    let x = s.f64s(a, n)?;
                    let y = match b {
                        Some(b) => s.f64s(b, n)?,
                        None => x,
                    };
                    let v: Vec<f64> = x
                        .iter()
                        .zip(y)
                        .map(|(&p, &q)| elementwise_ref(op, p, q, scalar))
                        .collect();
                    bytemuck::cast_slice(&v).to_vec()
                }
            };
            s.bufs.get_mut(out)?.bytes_mut()[..r.len()].copy_from_slice(&r);
            Ok(())
        })
    }

    fn matmul(
        &mut self,
        precision: MatmulPrecision,
        a: BufferId,
        b: BufferId,
        c: BufferId,
        m: u64,
        k: u64,
        n: u64,
    ) -> Result<()> {
        let sizes = [
            (a, self.bufs.get(a)?.bytes),
            (b, self.bufs.get(b)?.bytes),
            (c, self.bufs.get(c)?.bytes),
        ];
        let (m, k, n) = check_matmul(sizes, m, k, n)?;
        if precision != MatmulPrecision::Fp32 {
            return Err(GpuError::Unsupported(
                "TF32 matmul on the cpu backend (FP32 only)".into(),
            ));
        }
        let (m, k, n) = (m as usize, k as usize, n as usize);
        self.timed(|s| {
            let mut out = vec![0f32; m * n];
            {
                let ab = bytemuck::cast_slice::<u64, f32>(&s.bufs.get(a)?.words);
                let bb = bytemuck::cast_slice::<u64, f32>(&s.bufs.get(b)?.words);
                matmul_ref(ab, bb, &mut out, m, k, n);
            }
            s.bufs.get_mut(c)?.bytes_mut()[..m * n * 4].copy_from_slice(bytemuck::cast_slice(&out));
            Ok(())
        })
    }

    fn set_kernel_timing(&mut self, on: bool) -> Result<()> {
        self.timing = on;
        if !on {
            self.last_ns = None;
        }
        Ok(())
    }

    fn last_kernel_ns(&self) -> Option<u64> {
        self.last_ns
    }
}
