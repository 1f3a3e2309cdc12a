//! The checks every call of [`GpuBackend`] passes once, above the backends.
//!
//! [`GpuBackend`] is implemented here, once, for every backend ([`RawBackend`]): each method
//! checks its arguments (handles, ranges, counts, shapes, aliasing, the kernel's dtype) and
//! only then calls the backend's method of the same name, which may assume them valid (see
//! [`super::hal`] for the contract). So every backend rejects bad input with the same error
//! and message, in the same order, and a backend cannot be reached without the checks:
//! the cpu, wgpu and cuda types are `GpuBackend`s only through this layer, and
//! [`super::Backend`] boxes them as such.
//!
//! Buffer sizes come from the backend's handle table through [`RawBackend::buffer_size`],
//! which also reports an unknown handle as `InvalidHandle`. The ML kernels look up all their
//! handles before checking shapes; transfers and vector kernels check each operand as they
//! look it up, in argument order (`out` last). Whether the device runs the kernel's dtype
//! ([`RawBackend::check_dtype`]) is asked first for the vector kernels and last for the ML
//! kernels.
//!
//! Implementations of [`GpuBackend`] outside this crate (a guest forwarding to a host, say)
//! are not [`RawBackend`]s and do their own checking.

use super::hal::RawBackend;
use super::hist::{check_hist_grow, HistGrowArgs};
use super::{
    BufferId, DType, DeviceInfo, ElementwiseOp, FindSplitArgs, ForestBuffers, GpuBackend, GpuError,
    MatmulPrecision, ReduceOp, Result,
};
use std::format;
use std::vec;

// ---------------------------------------------------------------------------------------
// Buffers, transfers and the vector kernels.

/// Checks a new buffer's size against zero and the device limit.
pub(crate) fn check_create(bytes: u64, limit: u64) -> Result<()> {
    if bytes == 0 {
        return Err(GpuError::ZeroSize("buffer of 0 bytes"));
    }
    if bytes > limit {
        return Err(GpuError::TooLarge {
            what: "buffer size in bytes",
            requested: bytes,
            limit,
        });
    }
    Ok(())
}

/// Checks `offset + bytes <= size` for a transfer on buffer `id`.
fn check_range(id: BufferId, size: u64, offset: u64, bytes: u64) -> Result<()> {
    if bytes == 0 {
        return Err(GpuError::ZeroSize("transfer of 0 bytes"));
    }
    match offset.checked_add(bytes) {
        Some(end) if end <= size => Ok(()),
        _ => Err(GpuError::OutOfBounds {
            id,
            offset,
            bytes,
            size,
        }),
    }
}

/// Largest element count of one vector kernel (indices are u32 in the shaders).
const MAX_KERNEL_ELEMS: u64 = u32::MAX as u64;

/// Checks a vector kernel's element count against zero, the index limit and the buffer.
fn check_elems(id: BufferId, size: u64, dtype: DType, n: u64) -> Result<()> {
    if n == 0 {
        return Err(GpuError::ZeroSize("kernel on 0 elements"));
    }
    if n > MAX_KERNEL_ELEMS {
        return Err(GpuError::TooLarge {
            what: "element count",
            requested: n,
            limit: MAX_KERNEL_ELEMS,
        });
    }
    if n * dtype.size() > size {
        return Err(GpuError::ShapeMismatch(format!(
            "buffer {id} holds {size} bytes, {n} {} elements need {}",
            dtype.name(),
            n * dtype.size()
        )));
    }
    Ok(())
}

/// Checks matmul dimensions (each in 1..=2^31−1) and buffer sizes; returns (m, k, n) as u32.
fn check_matmul(sizes: [(BufferId, u64); 3], m: u64, k: u64, n: u64) -> Result<(u32, u32, u32)> {
    if m == 0 || k == 0 || n == 0 {
        return Err(GpuError::ZeroSize("matmul dimension of 0"));
    }
    for d in [m, k, n] {
        if d > i32::MAX as u64 {
            return Err(GpuError::TooLarge {
                what: "matmul dimension",
                requested: d,
                limit: i32::MAX as u64,
            });
        }
    }
    let [(a, sa), (b, sb), (c, sc)] = sizes;
    if c == a || c == b {
        return Err(GpuError::ShapeMismatch(
            "matmul output must not alias an input".into(),
        ));
    }
    for (id, size, rows, cols, name) in [(a, sa, m, k, "A"), (b, sb, k, n, "B"), (c, sc, m, n, "C")]
    {
        let need = rows.checked_mul(cols).and_then(|e| e.checked_mul(4));
        match need {
            Some(need) if need <= size => {}
            _ => {
                return Err(GpuError::ShapeMismatch(format!(
                    "{name} is {rows}×{cols} f32 but buffer {id} holds {size} bytes"
                )))
            }
        }
    }
    Ok((m as u32, k as u32, n as u32))
}

/// Checks the `b` operand of an element-wise op.
fn elementwise_b(op: ElementwiseOp, b: Option<BufferId>) -> Result<Option<BufferId>> {
    match (op.is_binary(), b) {
        (true, None) => Err(GpuError::InvalidArgument(format!(
            "{op:?} needs a second operand b"
        ))),
        (true, Some(b)) => Ok(Some(b)),
        (false, _) => Ok(None),
    }
}

/// Rejects overlapping ranges of a same-buffer copy.
fn check_no_overlap(
    src: BufferId,
    src_offset: u64,
    dst: BufferId,
    dst_offset: u64,
    bytes: u64,
) -> Result<()> {
    if src == dst && src_offset < dst_offset + bytes && dst_offset < src_offset + bytes {
        return Err(GpuError::InvalidArgument(
            "copy within one buffer with overlapping ranges".into(),
        ));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// The ML kernels of the random forest.

/// `ShapeMismatch` unless buffer `id` (`size` bytes) holds `elems` elements of `elem_bytes`.
pub(super) fn check_holds(
    id: BufferId,
    size: u64,
    elems: u64,
    elem_bytes: u64,
    what: &str,
) -> Result<()> {
    match elems.checked_mul(elem_bytes) {
        Some(need) if need <= size => Ok(()),
        _ => Err(GpuError::ShapeMismatch(format!(
            "{what} needs {elems} elements of {elem_bytes} bytes but buffer {id} holds {size} bytes"
        ))),
    }
}

/// `TooLarge` when a product of kernel dimensions exceeds 2^32−1 (indices are u32 on the
/// devices); returns the product.
pub(super) fn check_count(what: &'static str, a: u64, b: u64) -> Result<u64> {
    let p = a.saturating_mul(b);
    if p > u32::MAX as u64 {
        return Err(GpuError::TooLarge {
            what,
            requested: p,
            limit: u32::MAX as u64,
        });
    }
    Ok(p)
}

/// Checks bootstrap-sample's operands (`size_of` gives a buffer's size in bytes or
/// `InvalidHandle`).
fn check_bootstrap(
    n_trees: u32,
    n_rows: u32,
    out: BufferId,
    size_of: impl Fn(BufferId) -> Result<u64>,
) -> Result<u64> {
    let size = size_of(out)?;
    if n_trees == 0 || n_rows == 0 {
        return Err(GpuError::ZeroSize("bootstrap-sample of 0 trees or 0 rows"));
    }
    let total = check_count("n_trees·n_rows", n_trees as u64, n_rows as u64)?;
    check_holds(
        out,
        size,
        total,
        4,
        "bootstrap-sample out (u32 n_trees×n_rows)",
    )?;
    Ok(total)
}

/// Checks find-split's shapes (not the contents: a backend checks those while it reads them).
fn check_find_split(a: &FindSplitArgs, size_of: impl Fn(BufferId) -> Result<u64>) -> Result<()> {
    let ids = [a.x, a.y, a.order, a.weights, a.node_of, a.cand_rank, a.out];
    let mut sizes = [0u64; 7];
    for (s, &id) in sizes.iter_mut().zip(&ids) {
        *s = size_of(id)?;
    }
    if a.n_rows == 0 || a.d == 0 || a.n_trees == 0 || a.n_nodes == 0 {
        return Err(GpuError::ZeroSize(
            "find-split with 0 rows, features, trees or nodes",
        ));
    }
    if a.min_leaf == 0 {
        return Err(GpuError::InvalidArgument(
            "find-split: min_leaf must be at least 1".into(),
        ));
    }
    let (n, d) = (a.n_rows as u64, a.d as u64);
    let nd = check_count("n_rows·d", n, d)?;
    let tn = check_count("n_trees·n_rows", a.n_trees as u64, n)?;
    let jd = check_count("n_nodes·d", a.n_nodes as u64, d)?;
    check_count("n_trees·d", a.n_trees as u64, d)?;
    let shapes: [(u64, u64, &str); 7] = [
        (nd, 4, "x (f32 n_rows×d)"),
        (n, 8, "y (f64 n_rows)"),
        (nd, 4, "order (u32 d×n_rows)"),
        (tn, 4, "weights (u32 n_trees×n_rows)"),
        (tn, 4, "node_of (u32 n_trees×n_rows)"),
        (jd, 4, "cand_rank (u32 n_nodes×d)"),
        (a.n_nodes as u64, 24, "out (SplitRecord n_nodes)"),
    ];
    for ((&id, &size), (elems, eb, what)) in ids.iter().zip(&sizes).zip(shapes) {
        check_holds(id, size, elems, eb, what)?;
    }
    if ids[..6].contains(&a.out) {
        return Err(GpuError::InvalidArgument(
            "find-split: out must not alias an input buffer".into(),
        ));
    }
    Ok(())
}

/// Checks average's operands; returns `n_trees·n_rows`.
fn check_average(
    dtype: DType,
    preds: BufferId,
    n_trees: u32,
    n_rows: u32,
    out: BufferId,
    size_of: impl Fn(BufferId) -> Result<u64>,
) -> Result<u64> {
    let (sp, so) = (size_of(preds)?, size_of(out)?);
    if n_trees == 0 || n_rows == 0 {
        return Err(GpuError::ZeroSize("average of 0 trees or 0 rows"));
    }
    let total = check_count("n_trees·n_rows", n_trees as u64, n_rows as u64)?;
    check_holds(preds, sp, total, 4, "average preds (f32 n_trees×n_rows)")?;
    check_holds(out, so, n_rows as u64, dtype.size(), "average out (n_rows)")?;
    if preds == out {
        return Err(GpuError::InvalidArgument(
            "average: out must not alias preds".into(),
        ));
    }
    Ok(total)
}

/// Checks batch-predict's operands.
fn check_batch_predict(
    dtype: DType,
    f: &ForestBuffers,
    x: BufferId,
    n_rows: u32,
    out: BufferId,
    size_of: impl Fn(BufferId) -> Result<u64>,
) -> Result<()> {
    let node_bufs = [f.feature, f.threshold, f.left, f.right, f.value];
    let mut sizes = vec![];
    for &id in node_bufs.iter().chain([&f.tree_start, &x, &out]) {
        sizes.push(size_of(id)?);
    }
    if f.n_trees == 0 || f.n_nodes == 0 || f.n_features == 0 || n_rows == 0 {
        return Err(GpuError::ZeroSize(
            "batch-predict with 0 trees, nodes, features or rows",
        ));
    }
    let xn = check_count("n_rows·n_features", n_rows as u64, f.n_features as u64)?;
    for (&id, &size) in node_bufs.iter().zip(&sizes) {
        check_holds(id, size, f.n_nodes as u64, 4, "forest node array (n_nodes)")?;
    }
    check_holds(
        f.tree_start,
        sizes[5],
        f.n_trees as u64,
        4,
        "tree_start (u32 n_trees)",
    )?;
    check_holds(x, sizes[6], xn, 4, "x (f32 n_rows×n_features)")?;
    check_holds(out, sizes[7], n_rows as u64, dtype.size(), "out (n_rows)")?;
    if node_bufs.contains(&out) || out == f.tree_start || out == x {
        return Err(GpuError::InvalidArgument(
            "batch-predict: out must not alias an input buffer".into(),
        ));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// The checked entry of every backend.

impl<T: RawBackend> GpuBackend for T {
    fn info(&self) -> &DeviceInfo {
        RawBackend::info(self)
    }

    fn create_buffer(&mut self, bytes: u64) -> Result<BufferId> {
        check_create(bytes, RawBackend::info(self).max_buffer_bytes)?;
        RawBackend::create_buffer(self, bytes)
    }

    fn destroy_buffer(&mut self, id: BufferId) -> Result<()> {
        RawBackend::destroy_buffer(self, id)
    }

    fn buffer_size(&self, id: BufferId) -> Result<u64> {
        RawBackend::buffer_size(self, id)
    }

    fn write(&mut self, id: BufferId, offset: u64, data: &[u8]) -> Result<()> {
        let size = RawBackend::buffer_size(self, id)?;
        check_range(id, size, offset, data.len() as u64)?;
        RawBackend::write(self, id, offset, data)
    }

    fn read(&mut self, id: BufferId, offset: u64, out: &mut [u8]) -> Result<()> {
        let size = RawBackend::buffer_size(self, id)?;
        check_range(id, size, offset, out.len() as u64)?;
        RawBackend::read(self, id, offset, out)
    }

    fn copy(
        &mut self,
        src: BufferId,
        src_offset: u64,
        dst: BufferId,
        dst_offset: u64,
        bytes: u64,
    ) -> Result<()> {
        let s = RawBackend::buffer_size(self, src)?;
        check_range(src, s, src_offset, bytes)?;
        let d = RawBackend::buffer_size(self, dst)?;
        check_range(dst, d, dst_offset, bytes)?;
        check_no_overlap(src, src_offset, dst, dst_offset, bytes)?;
        RawBackend::copy(self, src, src_offset, dst, dst_offset, bytes)
    }

    fn sync(&mut self) -> Result<()> {
        RawBackend::sync(self)
    }

    fn reduce(&mut self, op: ReduceOp, dtype: DType, a: BufferId, n: u64) -> Result<f64> {
        self.check_dtype(dtype)?;
        check_elems(a, RawBackend::buffer_size(self, a)?, dtype, n)?;
        RawBackend::reduce(self, op, dtype, a, n)
    }

    fn dot(&mut self, dtype: DType, a: BufferId, b: BufferId, n: u64) -> Result<f64> {
        self.check_dtype(dtype)?;
        check_elems(a, RawBackend::buffer_size(self, a)?, dtype, n)?;
        check_elems(b, RawBackend::buffer_size(self, b)?, dtype, n)?;
        RawBackend::dot(self, dtype, a, b, n)
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
        self.check_dtype(dtype)?;
        for id in [Some(a), b, Some(out)].into_iter().flatten() {
            check_elems(id, RawBackend::buffer_size(self, id)?, dtype, n)?;
        }
        RawBackend::elementwise(self, op, dtype, a, b, scalar, out, n)
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
            (a, RawBackend::buffer_size(self, a)?),
            (b, RawBackend::buffer_size(self, b)?),
            (c, RawBackend::buffer_size(self, c)?),
        ];
        check_matmul(sizes, m, k, n)?;
        RawBackend::matmul(self, precision, a, b, c, m, k, n)
    }

    fn bootstrap_sample(
        &mut self,
        seed: u64,
        first_tree: u32,
        n_trees: u32,
        n_rows: u32,
        out: BufferId,
    ) -> Result<()> {
        check_bootstrap(n_trees, n_rows, out, |id| RawBackend::buffer_size(self, id))?;
        RawBackend::bootstrap_sample(self, seed, first_tree, n_trees, n_rows, out)
    }

    fn find_split(&mut self, args: &FindSplitArgs) -> Result<()> {
        check_find_split(args, |id| RawBackend::buffer_size(self, id))?;
        self.check_dtype(DType::F64)
            .map_err(|e| GpuError::Unsupported(format!("find-split needs f64: {e}")))?;
        RawBackend::find_split(self, args)
    }

    fn hist_grow(&mut self, args: &HistGrowArgs) -> Result<()> {
        check_hist_grow(args, |id| RawBackend::buffer_size(self, id))?;
        self.check_dtype(DType::F64)
            .map_err(|e| GpuError::Unsupported(format!("hist-grow needs f64: {e}")))?;
        RawBackend::hist_grow(self, args)
    }

    fn average(
        &mut self,
        dtype: DType,
        preds: BufferId,
        n_trees: u32,
        n_rows: u32,
        out: BufferId,
    ) -> Result<()> {
        check_average(dtype, preds, n_trees, n_rows, out, |id| {
            RawBackend::buffer_size(self, id)
        })?;
        self.check_dtype(dtype)?;
        RawBackend::average(self, dtype, preds, n_trees, n_rows, out)
    }

    fn batch_predict(
        &mut self,
        dtype: DType,
        forest: &ForestBuffers,
        x: BufferId,
        n_rows: u32,
        out: BufferId,
    ) -> Result<()> {
        check_batch_predict(dtype, forest, x, n_rows, out, |id| {
            RawBackend::buffer_size(self, id)
        })?;
        self.check_dtype(dtype)?;
        RawBackend::batch_predict(self, dtype, forest, x, n_rows, out)
    }

    fn set_kernel_timing(&mut self, on: bool) -> Result<()> {
        RawBackend::set_kernel_timing(self, on)
    }

    fn last_kernel_ns(&self) -> Option<u64> {
        RawBackend::last_kernel_ns(self)
    }
}
