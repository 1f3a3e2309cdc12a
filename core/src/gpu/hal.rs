//! The layer below the checks: what a backend implements and the handle table it keeps.
//!
//! A backend (cpu, wgpu, cuda) implements [`RawBackend`]: the kernels of
//! [`GpuBackend`](super::GpuBackend) without their argument checks. `GpuBackend` itself is
//! implemented once for every `RawBackend`, in [`super::validate`], which runs the checks of
//! each call and only then calls the backend, so a backend may assume that:
//! - every buffer handle it is given exists (`destroy_buffer` and `buffer_size` excepted:
//!   they report [`GpuError::InvalidHandle`] from the backend's table themselves);
//! - every transfer range lies inside its buffer and is not empty, and a same-buffer copy
//!   does not overlap;
//! - every kernel's counts are non-zero and within their index limits, and every operand
//!   buffer holds its shape; `b` of an element-wise op is `Some` exactly when the op is binary;
//! - every kernel's dtype passed [`RawBackend::check_dtype`].
//!
//! What only a backend can see stays its own to check: the contents of buffers (row and
//! node indices of find-split), its launch limits, the matmul precisions it has, and its
//! device's errors.
//!
//! The trait is public only in name (this module is private), so nothing outside the crate
//! can call a backend without the checks.

use super::{
    BufferId, DType, DeviceInfo, ElementwiseOp, FindSplitArgs, ForestBuffers, GpuError,
    HistGrowArgs, MatmulPrecision, ReduceOp, Result,
};
use std::collections::HashMap;
#[cfg(any(feature = "cuda", feature = "wgpu"))]
use std::string::{String, ToString};

/// A backend's kernels on checked arguments; see the module docs for what is checked
/// before each call. Each method does what the [`GpuBackend`](super::GpuBackend) method of
/// the same name documents.
pub trait RawBackend: Send {
    /// The device this backend runs on.
    fn info(&self) -> &DeviceInfo;
    /// Whether kernels of `dtype` run here: `Ok`, or the `Unsupported` error to report.
    /// Called by the checks where a kernel's dtype matters, after the operand checks for
    /// the ML kernels and before them for the vector kernels.
    fn check_dtype(&self, dtype: DType) -> Result<()>;

    /// Allocates a buffer of `bytes` bytes (non-zero, within `max_buffer_bytes`).
    fn create_buffer(&mut self, bytes: u64) -> Result<BufferId>;
    /// Frees a buffer; `InvalidHandle` when there is none of that handle.
    fn destroy_buffer(&mut self, id: BufferId) -> Result<()>;
    /// Size of a buffer in bytes; `InvalidHandle` when there is none of that handle. The
    /// checks call it for every operand, so it must be cheap.
    fn buffer_size(&self, id: BufferId) -> Result<u64>;
    /// Host-to-device copy into a checked range.
    fn write(&mut self, id: BufferId, offset: u64, data: &[u8]) -> Result<()>;
    /// Device-to-host copy from a checked range.
    fn read(&mut self, id: BufferId, offset: u64, out: &mut [u8]) -> Result<()>;
    /// Device-to-device copy between checked, non-overlapping ranges.
    fn copy(
        &mut self,
        src: BufferId,
        src_offset: u64,
        dst: BufferId,
        dst_offset: u64,
        bytes: u64,
    ) -> Result<()>;
    /// Waits for all queued work.
    fn sync(&mut self) -> Result<()>;

    /// Reduction of `n` (checked) elements of `a`.
    fn reduce(&mut self, op: ReduceOp, dtype: DType, a: BufferId, n: u64) -> Result<f64>;
    /// Dot product of `n` (checked) elements.
    fn dot(&mut self, dtype: DType, a: BufferId, b: BufferId, n: u64) -> Result<f64>;
    /// Element-wise op; `b` is `Some` exactly for binary ops.
    #[allow(clippy::too_many_arguments)]
    fn elementwise(
        &mut self,
        op: ElementwiseOp,
        dtype: DType,
        a: BufferId,
        b: Option<BufferId>,
        scalar: f64,
        out: BufferId,
        n: u64,
    ) -> Result<()>;
    /// f32 matrix product with checked shapes (each dimension in 1..=2^31−1, `c` not
    /// aliasing `a` or `b`); the backend checks `precision` first.
    #[allow(clippy::too_many_arguments)]
    fn matmul(
        &mut self,
        precision: MatmulPrecision,
        a: BufferId,
        b: BufferId,
        c: BufferId,
        m: u64,
        k: u64,
        n: u64,
    ) -> Result<()>;

    /// bootstrap-sample with checked shapes (`n_trees·n_rows` ≤ 2^32−1).
    fn bootstrap_sample(
        &mut self,
        seed: u64,
        first_tree: u32,
        n_trees: u32,
        n_rows: u32,
        out: BufferId,
    ) -> Result<()>;
    /// find-split with checked shapes (not contents) and f64 available.
    fn find_split(&mut self, args: &FindSplitArgs) -> Result<()>;
    /// hist-grow with checked shapes (not contents) and f64 available.
    fn hist_grow(&mut self, args: &HistGrowArgs) -> Result<()>;
    /// average with checked shapes and dtype.
    fn average(
        &mut self,
        dtype: DType,
        preds: BufferId,
        n_trees: u32,
        n_rows: u32,
        out: BufferId,
    ) -> Result<()>;
    /// batch-predict with checked shapes and dtype.
    fn batch_predict(
        &mut self,
        dtype: DType,
        forest: &ForestBuffers,
        x: BufferId,
        n_rows: u32,
        out: BufferId,
    ) -> Result<()>;

    /// Turns kernel timing on or off.
    fn set_kernel_timing(&mut self, on: bool) -> Result<()>;
    /// Device time of the last kernel in ns.
    fn last_kernel_ns(&self) -> Option<u64>;
}

/// Handle table shared by the backends: ids from 1, never reused.
///
/// Keyed with rustc-hash's `FxBuildHasher` (one multiply and rotate per id): every key
/// inserted is this table's own counter, never chosen by a caller, so the keyed SipHash of
/// `HashMap`'s default (a defence against chosen keys) buys nothing here; its two lookups
/// per transfer (the check's `buffer_size`, then the backend's own) were ≈ 12 ns of a
/// 4-byte `wasi:gpu` `buffer-write` (issue #18).
pub(crate) struct BufferTable<B> {
    next: BufferId,
    bufs: HashMap<BufferId, B, rustc_hash::FxBuildHasher>,
}

impl<B> BufferTable<B> {
    pub(crate) fn new() -> Self {
        BufferTable {
            next: 1,
            bufs: HashMap::default(),
        }
    }
    pub(crate) fn insert(&mut self, b: B) -> BufferId {
        let id = self.next;
        self.next += 1;
        self.bufs.insert(id, b);
        id
    }
    pub(crate) fn get(&self, id: BufferId) -> Result<&B> {
        self.bufs.get(&id).ok_or(GpuError::InvalidHandle(id))
    }
    pub(crate) fn get_mut(&mut self, id: BufferId) -> Result<&mut B> {
        self.bufs.get_mut(&id).ok_or(GpuError::InvalidHandle(id))
    }
    pub(crate) fn remove(&mut self, id: BufferId) -> Result<B> {
        self.bufs.remove(&id).ok_or(GpuError::InvalidHandle(id))
    }
    /// Removes every buffer (for a backend's Drop).
    #[allow(dead_code)]
    pub(crate) fn drain(&mut self) -> impl Iterator<Item = B> + '_ {
        self.bufs.drain().map(|(_, b)| b)
    }
}

/// Message of a caught panic, for errors at a backend's boundary.
#[cfg(any(feature = "cuda", feature = "wgpu"))]
pub(crate) fn panic_message(p: &(dyn core::any::Any + Send)) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "panic with a non-string payload".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffer_table_keeps_ids_apart_and_never_reuses_them() {
        let mut t = BufferTable::new();
        let ids: std::vec::Vec<BufferId> = (0..10_000u64).map(|i| t.insert(i)).collect();
        assert_eq!(ids[0], 1);
        assert!(ids.windows(2).all(|w| w[1] == w[0] + 1));
        for &id in ids.iter().step_by(2) {
            assert_eq!(t.remove(id).unwrap(), id - 1);
        }
        for &id in &ids {
            match t.get(id) {
                Ok(&v) => assert!(id % 2 == 0 && v == id - 1),
                Err(GpuError::InvalidHandle(got)) => assert!(id % 2 == 1 && got == id),
                Err(e) => panic!("{e}"),
            }
        }
        assert!(matches!(t.get(0), Err(GpuError::InvalidHandle(0))));
        assert!(matches!(t.get(u64::MAX), Err(GpuError::InvalidHandle(_))));
        // A removed id is never handed out again.
        assert_eq!(t.insert(0), 10_001);
    }
}
