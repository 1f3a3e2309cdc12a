//! [`WasiGpuBackend`]: offload-core's [`GpuBackend`] trait implemented by `wasi:gpu` imports,
//! so that any offload-core algorithm written against `GpuBackend` (the random forest's
//! [`offload_core::forest::Forest::fit_on`] / `predict_on`, ...) runs unchanged inside a
//! guest, with its kernels on the host's device. One implementation, no copy of the
//! algorithms: the guest links offload-core itself (feature `offload-core` of this crate).
//!
//! Every method is one import call (plus, for `read`, one copy out of the list the import
//! returned in linear memory):
//!
//! | `GpuBackend` | `wasi:gpu` import |
//! |---|---|
//! | `info` | `get-device-info` (once, in [`WasiGpuBackend::new`]) |
//! | `create_buffer` / `destroy_buffer` | `buffer-create` / `buffer-destroy` |
//! | `buffer_size` | none: the size kept beside the handle |
//! | `write` / `read` / `copy` / `sync` | `buffer-write` / `buffer-read` / `buffer-copy` / `sync` |
//! | `reduce` / `elementwise` / `matmul` | `kernel-reduce` / `kernel-elementwise` / `kernel-matmul` (`fp32`, `tf32`) |
//! | `bootstrap_sample` / `find_split` / `average` / `batch_predict` | `kernel-bootstrap-sample` / `kernel-find-split` / `kernel-average` / `kernel-batch-predict` |
//! | `dot` | none: [`GpuError::Unsupported`] (see below) |
//! | `set_kernel_timing` / `last_kernel_ns` | none: `Unsupported` / `None` |
//!
//! `dot` is not emulated: `wasi:gpu` 0.1.0 has no dot kernel, and `elementwise(mul)` followed
//! by `reduce(sum)` rounds each product to the operand type before summing, which is not the
//! rounding of offload-core's `dot` (products taken in f64). It returns `Unsupported` naming
//! the missing kernel instead of a different number.
//!
//! **Handles.** A [`BufferId`] (from 1, never reused) names an owned `buffer` resource in a
//! map; an id the map does not hold is [`GpuError::InvalidHandle`] without an import call (the
//! host would trap the guest on a stale resource handle, so the adapter never passes one).
//! Dropping the backend drops every buffer still held, which frees them on the device (the
//! resource destructor).
//!
//! **Errors.** A `gpu-error` from the host maps to the [`GpuError`] case of the same name:
//! - `unsupported`, `shape-mismatch`, `invalid-argument`, `device` → the same case with the
//!   host's message;
//! - `out-of-bounds` → [`GpuError::OutOfBounds`] with the buffer, offset, byte count and
//!   size the adapter passed (transfers); from a kernel (no such fields) →
//!   `InvalidArgument("out-of-bounds: <message>")`;
//! - `zero-size` → [`GpuError::ZeroSize`] with offload-core's fixed text for the call kind
//!   (`buffer of 0 bytes`, `transfer of 0 bytes`, `kernel on 0 elements`; the field is a
//!   `&'static str`, so the host's message is not kept);
//! - `too-large` → [`GpuError::TooLarge`] with what was asked and the limit the adapter knows
//!   (`max_buffer_bytes` for buffers, 2^32−1 elements for kernels); where the adapter knows no
//!   limit, `InvalidArgument("too-large: <message>")`;
//! - `quota-exceeded` (no `GpuError` case) → [`GpuError::Device`] with the message
//!   `quota-exceeded: <host's message>` (like running out of device memory: nothing was
//!   allocated, the backend stays usable).

use std::collections::HashMap;

use offload_core::gpu::{
    BackendKind, BufferId, DType, DeviceInfo, ElementwiseOp as CoreElementwiseOp, FindSplitArgs,
    ForestBuffers, GpuBackend, GpuError, MatmulPrecision as CoreMatmulPrecision,
    ReduceOp as CoreReduceOp, Result,
};

use crate::bindings::wasi::gpu::{compute, ml_kernels};
use crate::Buffer;

/// The largest element count of one kernel (u32 indices on the devices), the `limit` of a
/// kernel's `too-large` error.
const MAX_KERNEL_ELEMS: u64 = u32::MAX as u64;

/// What the adapter knows about a failed call, to fill the fields of [`GpuError`] cases.
#[derive(Clone, Copy, Debug)]
enum Call {
    /// `buffer-create` of `bytes` bytes.
    Create { bytes: u64, limit: u64 },
    /// A transfer of `bytes` bytes at `offset` of buffer `id` (`size` bytes).
    Transfer {
        id: BufferId,
        offset: u64,
        bytes: u64,
        size: u64,
    },
    /// A kernel on `n` elements (or records, rows).
    Kernel { n: u64 },
    /// Anything else (`sync`, `buffer-destroy`, `get-device-info`).
    Other,
}

/// Maps a host `gpu-error` to offload-core's [`GpuError`] (the table in the module docs).
fn map_err(e: compute::GpuError, call: Call) -> GpuError {
    use compute::GpuError as G;
    match e {
        G::Unsupported(m) => GpuError::Unsupported(m),
        G::ShapeMismatch(m) => GpuError::ShapeMismatch(m),
        G::InvalidArgument(m) => GpuError::InvalidArgument(m),
        G::Device(m) => GpuError::Device(m),
        G::QuotaExceeded(m) => GpuError::Device(format!("quota-exceeded: {m}")),
        G::OutOfBounds(m) => match call {
            Call::Transfer {
                id,
                offset,
                bytes,
                size,
            } => GpuError::OutOfBounds {
                id,
                offset,
                bytes,
                size,
            },
            _ => GpuError::InvalidArgument(format!("out-of-bounds: {m}")),
        },
        G::ZeroSize(_) => GpuError::ZeroSize(match call {
            Call::Create { .. } => "buffer of 0 bytes",
            Call::Transfer { .. } => "transfer of 0 bytes",
            Call::Kernel { .. } | Call::Other => "kernel on 0 elements",
        }),
        G::TooLarge(m) => match call {
            Call::Create { bytes, limit } => GpuError::TooLarge {
                what: "buffer size in bytes",
                requested: bytes,
                limit,
            },
            Call::Kernel { n } if n > MAX_KERNEL_ELEMS => GpuError::TooLarge {
                what: "element count",
                requested: n,
                limit: MAX_KERNEL_ELEMS,
            },
            _ => GpuError::InvalidArgument(format!("too-large: {m}")),
        },
    }
}

fn dtype(d: DType) -> ml_kernels::Dtype {
    match d {
        DType::F32 => ml_kernels::Dtype::F32,
        DType::F64 => ml_kernels::Dtype::F64,
    }
}

/// A u64 count that the WIT signature carries as `u32`; `TooLarge` over 2^32−1.
fn to_u32(what: &'static str, v: u64) -> Result<u32> {
    u32::try_from(v).map_err(|_| GpuError::TooLarge {
        what,
        requested: v,
        limit: MAX_KERNEL_ELEMS,
    })
}

/// [`GpuBackend`] over the `wasi:gpu` imports of this component instance (see the module
/// docs for the call table and the error mapping). The device is the host's: `cpu`, `wgpu`
/// or `cuda`, as [`WasiGpuBackend::info`] reports it.
pub struct WasiGpuBackend {
    info: DeviceInfo,
    next: BufferId,
    bufs: HashMap<BufferId, Buffer>,
}

impl std::fmt::Debug for WasiGpuBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WasiGpuBackend")
            .field("info", &self.info)
            .field("buffers", &self.bufs.len())
            .finish()
    }
}

impl WasiGpuBackend {
    /// Asks the host for its device (`get-device-info`) and starts with no buffers.
    ///
    /// # Errors
    /// The host's `gpu-error` (mapped as in the module docs), or
    /// [`GpuError::BackendUnavailable`] when the host names a backend other than `cpu`,
    /// `wgpu` or `cuda`.
    pub fn new() -> Result<WasiGpuBackend> {
        let d = compute::get_device_info().map_err(|e| map_err(e, Call::Other))?;
        let backend = match d.backend.as_str() {
            "cpu" => BackendKind::Cpu,
            "wgpu" => BackendKind::Wgpu,
            "cuda" => BackendKind::Cuda,
            other => {
                return Err(GpuError::BackendUnavailable {
                    backend: "wasi-gpu",
                    reason: format!(
                        "the host reports backend {other:?} (expected cpu, wgpu or cuda)"
                    ),
                })
            }
        };
        Ok(WasiGpuBackend {
            info: DeviceInfo {
                backend,
                name: d.name,
                driver: d.driver,
                memory_bytes: d.memory_bytes,
                max_buffer_bytes: d.max_buffer_bytes,
                supports_f64: d.supports_f64,
                supports_tf32: d.supports_tf32,
                kernel_timing: false,
                is_software: d.is_software,
            },
            next: 1,
            bufs: HashMap::new(),
        })
    }

    /// Device buffers this backend holds now.
    pub fn live_buffers(&self) -> usize {
        self.bufs.len()
    }

    fn buf(&self, id: BufferId) -> Result<&Buffer> {
        self.bufs.get(&id).ok_or(GpuError::InvalidHandle(id))
    }

    fn res(&self, id: BufferId) -> Result<&compute::Buffer> {
        Ok(self.buf(id)?.resource())
    }

    fn transfer(&self, id: BufferId, offset: u64, bytes: u64) -> Result<Call> {
        Ok(Call::Transfer {
            id,
            offset,
            bytes,
            size: self.buf(id)?.len_bytes(),
        })
    }
}

impl GpuBackend for WasiGpuBackend {
    fn info(&self) -> &DeviceInfo {
        &self.info
    }

    fn create_buffer(&mut self, bytes: u64) -> Result<BufferId> {
        let call = Call::Create {
            bytes,
            limit: self.info.max_buffer_bytes,
        };
        let inner = compute::buffer_create(bytes).map_err(|e| map_err(e, call))?;
        let id = self.next;
        self.next += 1;
        self.bufs.insert(id, Buffer { inner, bytes });
        Ok(id)
    }

    fn destroy_buffer(&mut self, id: BufferId) -> Result<()> {
        let b = self.bufs.remove(&id).ok_or(GpuError::InvalidHandle(id))?;
        compute::buffer_destroy(b.inner).map_err(|e| map_err(e, Call::Other))
    }

    fn buffer_size(&self, id: BufferId) -> Result<u64> {
        Ok(self.buf(id)?.len_bytes())
    }

    fn write(&mut self, id: BufferId, offset: u64, data: &[u8]) -> Result<()> {
        let call = self.transfer(id, offset, data.len() as u64)?;
        compute::buffer_write(self.res(id)?, offset, data).map_err(|e| map_err(e, call))
    }

    fn read(&mut self, id: BufferId, offset: u64, out: &mut [u8]) -> Result<()> {
        let call = self.transfer(id, offset, out.len() as u64)?;
        let bytes = compute::buffer_read(self.res(id)?, offset, out.len() as u64)
            .map_err(|e| map_err(e, call))?;
        if bytes.len() != out.len() {
            return Err(GpuError::Device(format!(
                "buffer-read of {} bytes returned {}",
                out.len(),
                bytes.len()
            )));
        }
        out.copy_from_slice(&bytes);
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
        // An out-of-bounds range names the side that overflows.
        let (s, d) = (self.buf(src)?, self.buf(dst)?);
        let call = if src_offset.saturating_add(bytes) > s.len_bytes() {
            self.transfer(src, src_offset, bytes)?
        } else {
            self.transfer(dst, dst_offset, bytes)?
        };
        compute::buffer_copy(s.resource(), src_offset, d.resource(), dst_offset, bytes)
            .map_err(|e| map_err(e, call))
    }

    fn sync(&mut self) -> Result<()> {
        compute::sync().map_err(|e| map_err(e, Call::Other))
    }

    fn reduce(&mut self, op: CoreReduceOp, dt: DType, a: BufferId, n: u64) -> Result<f64> {
        let op = match op {
            CoreReduceOp::Sum => ml_kernels::ReduceOp::Sum,
            CoreReduceOp::Min => ml_kernels::ReduceOp::Min,
            CoreReduceOp::Max => ml_kernels::ReduceOp::Max,
        };
        ml_kernels::kernel_reduce(op, dtype(dt), self.res(a)?, n)
            .map_err(|e| map_err(e, Call::Kernel { n }))
    }

    /// Not a `wasi:gpu` 0.1.0 kernel: always [`GpuError::Unsupported`] (see the module docs).
    fn dot(&mut self, dt: DType, a: BufferId, b: BufferId, n: u64) -> Result<f64> {
        let _ = (dt, a, b, n);
        Err(GpuError::Unsupported(
            "dot: wasi:gpu 0.1.0 has no dot kernel (elementwise mul + reduce would round \
             differently from offload-core's dot)"
                .into(),
        ))
    }

    fn elementwise(
        &mut self,
        op: CoreElementwiseOp,
        dt: DType,
        a: BufferId,
        b: Option<BufferId>,
        scalar: f64,
        out: BufferId,
        n: u64,
    ) -> Result<()> {
        let op = match op {
            CoreElementwiseOp::Mul => ml_kernels::ElementwiseOp::Mul,
            CoreElementwiseOp::Add => ml_kernels::ElementwiseOp::Add,
            CoreElementwiseOp::Scale => ml_kernels::ElementwiseOp::Scale,
            CoreElementwiseOp::Relu => ml_kernels::ElementwiseOp::Relu,
        };
        let b = b.map(|b| self.res(b)).transpose()?;
        ml_kernels::kernel_elementwise(op, dtype(dt), self.res(a)?, b, scalar, self.res(out)?, n)
            .map_err(|e| map_err(e, Call::Kernel { n }))
    }

    fn matmul(
        &mut self,
        precision: CoreMatmulPrecision,
        a: BufferId,
        b: BufferId,
        c: BufferId,
        m: u64,
        k: u64,
        n: u64,
    ) -> Result<()> {
        let p = match precision {
            CoreMatmulPrecision::Fp32 => ml_kernels::MatmulPrecision::Fp32,
            CoreMatmulPrecision::Tf32 => ml_kernels::MatmulPrecision::Tf32,
        };
        let (m32, k32, n32) = (
            to_u32("matmul dimension", m)?,
            to_u32("matmul dimension", k)?,
            to_u32("matmul dimension", n)?,
        );
        ml_kernels::kernel_matmul(p, self.res(a)?, self.res(b)?, self.res(c)?, m32, k32, n32)
            .map_err(|e| {
                map_err(
                    e,
                    Call::Kernel {
                        n: m.saturating_mul(n),
                    },
                )
            })
    }

    fn bootstrap_sample(
        &mut self,
        seed: u64,
        first_tree: u32,
        n_trees: u32,
        n_rows: u32,
        out: BufferId,
    ) -> Result<()> {
        let n = n_trees as u64 * n_rows as u64;
        ml_kernels::kernel_bootstrap_sample(seed, first_tree, n_trees, n_rows, self.res(out)?)
            .map_err(|e| map_err(e, Call::Kernel { n }))
    }

    fn find_split(&mut self, a: &FindSplitArgs) -> Result<()> {
        let shape = ml_kernels::SplitShape {
            n_rows: a.n_rows,
            d: a.d,
            n_trees: a.n_trees,
            n_nodes: a.n_nodes,
            min_leaf: a.min_leaf,
        };
        let n = a.n_trees as u64 * a.n_rows as u64;
        ml_kernels::kernel_find_split(
            self.res(a.x)?,
            self.res(a.y)?,
            self.res(a.order)?,
            self.res(a.weights)?,
            self.res(a.node_of)?,
            self.res(a.cand_rank)?,
            self.res(a.out)?,
            shape,
        )
        .map_err(|e| map_err(e, Call::Kernel { n }))
    }

    fn average(
        &mut self,
        dt: DType,
        preds: BufferId,
        n_trees: u32,
        n_rows: u32,
        out: BufferId,
    ) -> Result<()> {
        let n = n_trees as u64 * n_rows as u64;
        ml_kernels::kernel_average(dtype(dt), self.res(preds)?, n_trees, n_rows, self.res(out)?)
            .map_err(|e| map_err(e, Call::Kernel { n }))
    }

    fn batch_predict(
        &mut self,
        dt: DType,
        f: &ForestBuffers,
        x: BufferId,
        n_rows: u32,
        out: BufferId,
    ) -> Result<()> {
        let shape = ml_kernels::ForestShape {
            n_trees: f.n_trees,
            n_nodes: f.n_nodes,
            n_features: f.n_features,
        };
        ml_kernels::kernel_batch_predict(
            dtype(dt),
            self.res(f.feature)?,
            self.res(f.threshold)?,
            self.res(f.left)?,
            self.res(f.right)?,
            self.res(f.value)?,
            self.res(f.tree_start)?,
            shape,
            self.res(x)?,
            n_rows,
            self.res(out)?,
        )
        .map_err(|e| {
            map_err(
                e,
                Call::Kernel {
                    n: n_rows as u64 * f.n_features as u64,
                },
            )
        })
    }

    /// Kernel times are not part of `wasi:gpu` 0.1.0: always [`GpuError::Unsupported`].
    fn set_kernel_timing(&mut self, on: bool) -> Result<()> {
        let _ = on;
        Err(GpuError::Unsupported(
            "kernel timing: wasi:gpu 0.1.0 does not report device times".into(),
        ))
    }

    /// Always `None` (see [`WasiGpuBackend::set_kernel_timing`]).
    fn last_kernel_ns(&self) -> Option<u64> {
        None
    }
}
