//! [`VectorGuest`]: one live instance of a vector guest, its ops (chunked, strict
//! reductions carried past the capacity), zero-copy buffer views, and the rebuild after a
//! trap.

use std::path::Path;

use wasmtime::{InstancePre, Linker, Module, Store};
use wasmtime_wasi::WasiCtxBuilder;

use super::deadline::{self, ticks};
use super::engine::{compile, compile_file, default_engine, LoadOptions};
use super::instantiate::{call_error, instantiate, Exports, HostState};
use super::{Buffer, Layout, WASI_P1_MODULE};
use crate::error::{Error, Result};
use crate::{Family, Op};

/// A vector guest (ABI v2 or v1, see README.md) instantiated in wasmtime.
///
/// Loading validates the module, links WASI preview 1 (no preopened directories,
/// no environment, no arguments, stdio only with [`LoadOptions::inherit_stdio`]) only
/// when the module imports `wasi_snapshot_preview1`, calls `_initialize` when it is
/// exported (Go's `-buildmode=c-shared` reactor needs it), checks that `abi_version()`
/// is one of [`SUPPORTED_ABI_VERSIONS`], reads the capacity and the three buffer
/// offsets once and checks them (8-aligned, inside linear memory, disjoint), and caches
/// every export as a [`TypedFunc`] (`dot_simd` only from a v2 guest).
///
/// **Ops and families.** Each [`Op`] maps to one export: on a v2 guest its own; on a v1
/// guest [`Op::DotSimd`] runs `dot` (v1 never fixed its order, so it is fast) and
/// [`Op::Dot`] fails with [`Error::Unsupported`] (v1 has no strict dot). See
/// [`Self::export_for`].
///
/// The user-facing ops ([`sum`](Self::sum), [`sum_simd`](Self::sum_simd),
/// [`dot`](Self::dot), [`dot_simd`](Self::dot_simd), [`mul`](Self::mul),
/// [`scale`](Self::scale)) copy the inputs into the guest's buffers through zero-copy
/// `&mut [f64]` views of linear memory, call the export, and copy the result out;
/// inputs longer than the capacity run in capacity-sized chunks. Fast reductions add
/// the chunks' partial sums in chunk order. Strict reductions stay strict past the
/// capacity: each later chunk carries the running total in as its first term (`a[0] =
/// total`, and `b[0] = 1.0` for `dot`; total·1 is exactly total), so the guest's
/// left-to-right loop continues the very sequence of roundings of one pass over all
/// the input, and the result has the bits of `offload_core::vector::sum` / `dot`.
///
/// **Deadlines.** Every call into the guest runs under [`LoadOptions::deadline`] (60 s
/// by default, counted from the call's start; on an engine with epoch interruption such
/// as [`default_engine`]): a guest that loops forever ends in [`Error::Deadline`] and is
/// rebuilt like after a trap.
///
/// **Traps.** When a call traps (or a WASI guest calls `proc_exit`), the error is
/// returned and the instance is thrown away and rebuilt from the cached
/// [`InstancePre`] (fresh store, fresh memory, `_initialize` again, layout re-checked),
/// so the `VectorGuest` stays usable; buffer contents written before the trap are
/// lost. If the rebuild itself fails, every later call retries it first and returns
/// [`Error::Rebuild`] while it keeps failing.
///
/// [`SUPPORTED_ABI_VERSIONS`]: super::SUPPORTED_ABI_VERSIONS
/// [`TypedFunc`]: wasmtime::TypedFunc
pub struct VectorGuest {
    origin: String,
    module: Module,
    pre: InstancePre<HostState>,
    wasi: bool,
    options: LoadOptions,
    /// [`LoadOptions::deadline`] in epoch ticks.
    deadline_ticks: u64,
    store: Store<HostState>,
    exports: Exports,
    layout: Layout,
    poisoned: bool,
    rebuilds: u64,
}

impl std::fmt::Debug for VectorGuest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VectorGuest")
            .field("origin", &self.origin)
            .field("wasi", &self.wasi)
            .field("layout", &self.layout)
            .field("rebuilds", &self.rebuilds)
            .finish_non_exhaustive()
    }
}

impl VectorGuest {
    /// Loads a guest file with [`default_engine`] and default [`LoadOptions`].
    ///
    /// # Errors
    /// I/O, [`Error::NotWasm`], [`Error::Malformed`], then as [`Self::from_module`].
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let module = compile_file(&default_engine()?, path)?;
        Self::from_module(
            &module,
            &path.display().to_string(),
            &LoadOptions::default(),
        )
    }

    /// Loads a guest from the bytes of a binary module; `origin` names it in errors.
    ///
    /// # Errors
    /// As [`compile`] and [`Self::from_module`].
    pub fn from_bytes(bytes: &[u8], origin: &str) -> Result<Self> {
        let module = compile(&default_engine()?, bytes, origin)?;
        Self::from_module(&module, origin, &LoadOptions::default())
    }

    /// Instantiates an already compiled module (compile once, instantiate many), and
    /// has the epoch ticker ([`deadline::watch`]) advance its engine's epoch.
    ///
    /// # Errors
    /// [`Error::Instantiate`] for an import other than WASI preview 1 or a failing
    /// start; [`Error::Trap`]/[`Error::Deadline`]/[`Error::ProcExit`] from `_initialize`;
    /// [`Error::AbiVersion`]; [`Error::MissingExport`]; [`Error::WrongExportType`];
    /// [`Error::BadLayout`].
    pub fn from_module(module: &Module, origin: &str, options: &LoadOptions) -> Result<Self> {
        deadline::watch(module.engine());
        let wasi = module
            .imports()
            .any(|import| import.module() == WASI_P1_MODULE);
        let mut linker: Linker<HostState> = Linker::new(module.engine());
        if wasi {
            wasmtime_wasi::p1::add_to_linker_sync(&mut linker, |state: &mut HostState| {
                state
                    .wasi
                    .get_or_insert_with(|| WasiCtxBuilder::new().build_p1())
            })
            .map_err(|e| Error::Instantiate {
                origin: origin.to_string(),
                message: format!("linking WASI preview 1: {e:#}"),
            })?;
        }
        let pre = linker
            .instantiate_pre(module)
            .map_err(|e| Error::Instantiate {
                origin: origin.to_string(),
                message: format!("{e:#}"),
            })?;
        let (store, exports, layout) = instantiate(&pre, wasi, options, origin)?;
        Ok(VectorGuest {
            origin: origin.to_string(),
            module: module.clone(),
            pre,
            wasi,
            options: options.clone(),
            deadline_ticks: ticks(options.deadline),
            store,
            exports,
            layout,
            poisoned: false,
            rebuilds: 0,
        })
    }

    /// Where the module came from (its path, or the origin given to [`Self::from_bytes`]).
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The compiled module.
    pub fn module(&self) -> &Module {
        &self.module
    }

    /// Whether the module imports WASI preview 1 (and so had it linked).
    pub fn imports_wasi(&self) -> bool {
        self.wasi
    }

    /// Names of every export of the module, in module order.
    pub fn export_names(&self) -> Vec<String> {
        self.module
            .exports()
            .map(|e| e.name().to_string())
            .collect()
    }

    /// The checked buffer layout.
    pub fn layout(&self) -> Layout {
        self.layout
    }

    /// Elements in each guest buffer.
    pub fn capacity(&self) -> usize {
        self.layout.capacity
    }

    /// The wall-clock limit of one call into the guest ([`LoadOptions::deadline`]).
    pub fn deadline(&self) -> std::time::Duration {
        self.options.deadline
    }

    /// How many times the instance was rebuilt after a trap, a deadline or `proc_exit`.
    pub fn rebuilds(&self) -> u64 {
        self.rebuilds
    }

    /// The guest's `abi_version()`: 1 or 2.
    pub fn abi_version(&self) -> i32 {
        self.exports.abi
    }

    /// The export that runs `op` on this guest: [`Op::export`], except on a v1 guest,
    /// where [`Op::DotSimd`] is `dot`.
    ///
    /// # Errors
    /// [`Error::Unsupported`] for [`Op::Dot`] on a v1 guest: v1 has no strict dot.
    pub fn export_for(&self, op: Op) -> Result<&'static str> {
        match (self.exports.abi, op) {
            (1, Op::Dot) => Err(Error::Unsupported {
                origin: self.origin.clone(),
                abi: 1,
                op: "dot",
                family: "strict",
                reason: "v1 never fixed the order of its `dot`, so it counts as fast: use dot_simd",
            }),
            (1, Op::DotSimd) => Ok("dot"),
            _ => Ok(op.export()),
        }
    }

    /// Whether this guest runs `op` (everything but [`Op::Dot`] on a v1 guest).
    pub fn supports(&self, op: Op) -> bool {
        self.export_for(op).is_ok()
    }

    /// Σ a\[i\] through the guest's `sum`, strictly left to right (strict family: the
    /// bits of `offload_core::vector::sum`, also past the capacity).
    ///
    /// # Errors
    /// [`Error::Trap`]/[`Error::Deadline`]/[`Error::ProcExit`] when the guest fails
    /// (instance rebuilt).
    pub fn sum(&mut self, a: &[f64]) -> Result<f64> {
        self.reduce(Op::Sum, a, None)
    }

    /// Σ a\[i\] through the guest's `sum_simd` (fast family: simd128 partial sums),
    /// chunked.
    ///
    /// # Errors
    /// As [`Self::sum`].
    pub fn sum_simd(&mut self, a: &[f64]) -> Result<f64> {
        self.reduce(Op::SumSimd, a, None)
    }

    /// Σ a\[i\]·b\[i\] through the guest's `dot`, strictly left to right (strict
    /// family: the bits of `offload_core::vector::dot`, also past the capacity).
    ///
    /// # Errors
    /// [`Error::Unsupported`] on a v1 guest (no strict dot; see [`Self::dot_simd`]);
    /// [`Error::LengthMismatch`] when `b.len() != a.len()`; as [`Self::sum`].
    pub fn dot(&mut self, a: &[f64], b: &[f64]) -> Result<f64> {
        self.export_for(Op::Dot)?;
        check_len("b", b.len(), a.len())?;
        self.reduce(Op::Dot, a, Some(b))
    }

    /// Σ a\[i\]·b\[i\] through the guest's `dot_simd` (fast family; a v1 guest's
    /// `dot`), chunked.
    ///
    /// # Errors
    /// [`Error::LengthMismatch`] when `b.len() != a.len()`; as [`Self::sum`].
    pub fn dot_simd(&mut self, a: &[f64], b: &[f64]) -> Result<f64> {
        check_len("b", b.len(), a.len())?;
        self.reduce(Op::DotSimd, a, Some(b))
    }

    /// out\[i\] = a\[i\]·b\[i\] through the guest's `mul`, chunked.
    ///
    /// # Errors
    /// [`Error::LengthMismatch`] when `b` or `out` is not as long as `a`; as [`Self::sum`].
    pub fn mul(&mut self, a: &[f64], b: &[f64], out: &mut [f64]) -> Result<()> {
        check_len("b", b.len(), a.len())?;
        check_len("out", out.len(), a.len())?;
        self.map(Op::Mul, 0.0, a, Some(b), out)
    }

    /// out\[i\] = s·a\[i\] through the guest's `scale`, chunked.
    ///
    /// # Errors
    /// [`Error::LengthMismatch`] when `out` is not as long as `a`; as [`Self::sum`].
    pub fn scale(&mut self, s: f64, a: &[f64], out: &mut [f64]) -> Result<()> {
        check_len("out", out.len(), a.len())?;
        self.map(Op::Scale, s, a, None, out)
    }

    /// Copies `a` into buffer `a` (`a.len()` ≤ capacity).
    ///
    /// # Errors
    /// [`Error::OverCapacity`] when `a` is longer than the capacity.
    pub fn write_a(&mut self, a: &[f64]) -> Result<()> {
        self.buffer_mut(Buffer::A, a.len())?.copy_from_slice(a);
        Ok(())
    }

    /// Copies `b` into buffer `b` (`b.len()` ≤ capacity).
    ///
    /// # Errors
    /// [`Error::OverCapacity`] when `b` is longer than the capacity.
    pub fn write_b(&mut self, b: &[f64]) -> Result<()> {
        self.buffer_mut(Buffer::B, b.len())?.copy_from_slice(b);
        Ok(())
    }

    /// Copies the first `out.len()` elements of the result buffer into `out`.
    ///
    /// # Errors
    /// [`Error::OverCapacity`] when `out` is longer than the capacity.
    pub fn read_result(&mut self, out: &mut [f64]) -> Result<()> {
        out.copy_from_slice(self.buffer(Buffer::Result, out.len())?);
        Ok(())
    }

    /// A zero-copy mutable view of the first `len` elements of a guest buffer.
    ///
    /// # Errors
    /// [`Error::OverCapacity`] when `len` > capacity; [`Error::Rebuild`] when the
    /// instance is down after a trap and cannot be rebuilt.
    pub fn buffer_mut(&mut self, which: Buffer, len: usize) -> Result<&mut [f64]> {
        self.ensure_live()?;
        let range = self.range(which, len)?;
        let data = self.exports.memory.data_mut(&mut self.store);
        let bytes = data.get_mut(range).ok_or_else(out_of_bounds)?;
        bytemuck::try_cast_slice_mut(bytes).map_err(misaligned)
    }

    /// A zero-copy view of the first `len` elements of a guest buffer.
    ///
    /// # Errors
    /// As [`Self::buffer_mut`].
    pub fn buffer(&mut self, which: Buffer, len: usize) -> Result<&[f64]> {
        self.ensure_live()?;
        let range = self.range(which, len)?;
        let data = self.exports.memory.data(&self.store);
        let bytes = data.get(range).ok_or_else(out_of_bounds)?;
        bytemuck::try_cast_slice(bytes).map_err(misaligned)
    }

    /// Runs `op` on the first `len` elements already in the guest's buffers (resident
    /// data, no copies); `scalar` is used by [`Op::Scale`] only. Returns the scalar
    /// result of the reductions, `None` for `mul` and `scale` (their output is in
    /// [`Buffer::Result`]).
    ///
    /// # Errors
    /// [`Error::OverCapacity`] when `len` > capacity (checked before the call);
    /// [`Error::Unsupported`] as [`Self::export_for`];
    /// [`Error::Trap`]/[`Error::Deadline`]/[`Error::ProcExit`].
    pub fn call(&mut self, op: Op, len: usize, scalar: f64) -> Result<Option<f64>> {
        if len > self.layout.capacity {
            return Err(Error::OverCapacity {
                len,
                capacity: self.layout.capacity,
            });
        }
        // capacity fits in i32 (checked when the layout was read).
        self.call_raw(op, len as i32, scalar)
    }

    /// Like [`Self::call`] but passes `len` to the guest unchecked, so that a bad
    /// length reaches the guest (which must trap); for conformance tests.
    ///
    /// # Errors
    /// [`Error::Unsupported`] as [`Self::export_for`];
    /// [`Error::Trap`]/[`Error::Deadline`]/[`Error::ProcExit`] (the instance is rebuilt
    /// before returning).
    #[inline]
    pub fn call_raw(&mut self, op: Op, len: i32, scalar: f64) -> Result<Option<f64>> {
        self.ensure_live()?;
        let store = &mut self.store;
        store.set_epoch_deadline(self.deadline_ticks);
        let x = &self.exports;
        let result = match op {
            Op::Sum => x.sum.call(store, len).map(Some),
            Op::SumSimd => x.sum_simd.call(store, len).map(Some),
            Op::Dot if x.abi == 1 => return Err(self.export_for(op).unwrap_err()),
            Op::Dot => x.dot.call(store, len).map(Some),
            Op::DotSimd => match &x.dot_simd {
                Some(f) => f.call(store, len).map(Some),
                // v1: its `dot` is the fast one.
                None => x.dot.call(store, len).map(Some),
            },
            Op::Mul => x.mul.call(store, len).map(|()| None),
            Op::Scale => x.scale.call(store, (scalar, len)).map(|()| None),
        };
        match result {
            Ok(r) => Ok(r),
            Err(e) => {
                let export = self.export_for(op).unwrap_or(op.export());
                Err(self.failed(export, e))
            }
        }
    }

    /// The cheapest call into the guest: `sum(0)`, for measuring call overhead.
    /// Returns the guest's answer (0.0).
    ///
    /// # Errors
    /// [`Error::Trap`]/[`Error::Deadline`]/[`Error::ProcExit`].
    #[inline]
    pub fn empty_call(&mut self) -> Result<f64> {
        self.ensure_live()?;
        self.store.set_epoch_deadline(self.deadline_ticks);
        match self.exports.sum.call(&mut self.store, 0) {
            Ok(v) => Ok(v),
            Err(e) => Err(self.failed("sum", e)),
        }
    }

    fn range(&self, which: Buffer, len: usize) -> Result<std::ops::Range<usize>> {
        if len > self.layout.capacity {
            return Err(Error::OverCapacity {
                len,
                capacity: self.layout.capacity,
            });
        }
        let off = self.layout.offset(which);
        Ok(off..off + len * 8)
    }

    /// Reductions: chunk, copy in, call; strict ones carry the running total into the
    /// next chunk (see [`Self::reduce_strict`]), fast ones add the partial results in
    /// chunk order.
    fn reduce(&mut self, op: Op, a: &[f64], b: Option<&[f64]>) -> Result<f64> {
        let cap = self.layout.capacity;
        if a.is_empty() {
            return Ok(self.call(op, 0, 0.0)?.unwrap_or(0.0));
        }
        // With a capacity of 1 every chunk is one term, which the guest returns as is
        // (0.0 + x), so adding the partials here is already left to right.
        if op.family() == Some(Family::Strict) && a.len() > cap && cap >= 2 {
            return self.reduce_strict(op, a, b);
        }
        let mut total: Option<f64> = None;
        for (i, chunk) in a.chunks(cap).enumerate() {
            self.write_a(chunk)?;
            if let Some(b) = b {
                self.write_b(&b[i * cap..i * cap + chunk.len()])?;
            }
            let part = self.call(op, chunk.len(), 0.0)?.unwrap_or(0.0);
            total = Some(match total {
                None => part,
                Some(t) => t + part,
            });
        }
        Ok(total.unwrap_or(0.0))
    }

    /// A strict reduction of more than `capacity` elements with the bits of one
    /// left-to-right pass: the first chunk is `capacity` elements; each later chunk is
    /// the running total followed by the next `capacity − 1` elements (for `dot` the
    /// total is paired with `b = 1.0`, and total·1.0 is exactly total). The guest starts
    /// from +0.0 and adds left to right, and 0.0 + total is exactly total (a running sum
    /// started at +0.0 is never −0.0; NaN stays NaN), so every later addition is the one
    /// a single pass would make.
    fn reduce_strict(&mut self, op: Op, a: &[f64], b: Option<&[f64]>) -> Result<f64> {
        let cap = self.layout.capacity;
        let n = a.len();
        let first = cap.min(n);
        self.write_a(&a[..first])?;
        if let Some(b) = b {
            self.write_b(&b[..first])?;
        }
        let mut total = self.call(op, first, 0.0)?.unwrap_or(0.0);
        let mut pos = first;
        while pos < n {
            let take = (cap - 1).min(n - pos);
            let buf = self.buffer_mut(Buffer::A, take + 1)?;
            buf[0] = total;
            buf[1..].copy_from_slice(&a[pos..pos + take]);
            if let Some(b) = b {
                let buf = self.buffer_mut(Buffer::B, take + 1)?;
                buf[0] = 1.0;
                buf[1..].copy_from_slice(&b[pos..pos + take]);
            }
            total = self.call(op, take + 1, 0.0)?.unwrap_or(0.0);
            pos += take;
        }
        Ok(total)
    }

    /// Element-wise ops: chunk, copy in, call, copy the result chunk out.
    fn map(
        &mut self,
        op: Op,
        scalar: f64,
        a: &[f64],
        b: Option<&[f64]>,
        out: &mut [f64],
    ) -> Result<()> {
        let cap = self.layout.capacity;
        if a.is_empty() {
            self.call(op, 0, scalar)?;
            return Ok(());
        }
        for (i, chunk) in a.chunks(cap).enumerate() {
            let range = i * cap..i * cap + chunk.len();
            self.write_a(chunk)?;
            if let Some(b) = b {
                self.write_b(&b[range.clone()])?;
            }
            self.call(op, chunk.len(), scalar)?;
            self.read_result(&mut out[range])?;
        }
        Ok(())
    }

    /// Turns a failed call into an [`Error`] and rebuilds the instance.
    #[cold]
    fn failed(&mut self, op: &'static str, e: wasmtime::Error) -> Error {
        let err = call_error(op, e, self.options.deadline);
        self.poisoned = true;
        // A failed rebuild leaves `poisoned` set; the next call retries and reports it.
        let _ = self.rebuild();
        err
    }

    #[inline]
    fn ensure_live(&mut self) -> Result<()> {
        if self.poisoned {
            self.rebuild()?;
        }
        Ok(())
    }

    #[cold]
    fn rebuild(&mut self) -> Result<()> {
        let fresh = instantiate(&self.pre, self.wasi, &self.options, &self.origin).and_then(
            |(store, exports, layout)| {
                if layout == self.layout {
                    Ok((store, exports))
                } else {
                    Err(Error::BadLayout {
                        reason: format!(
                            "the rebuilt instance reports {layout:?}, the first reported {:?}",
                            self.layout
                        ),
                    })
                }
            },
        );
        match fresh {
            Ok((store, exports)) => {
                self.store = store;
                self.exports = exports;
                self.poisoned = false;
                self.rebuilds += 1;
                Ok(())
            }
            Err(e) => Err(Error::Rebuild {
                origin: self.origin.clone(),
                message: e.to_string(),
            }),
        }
    }
}

fn check_len(what: &'static str, got: usize, expected: usize) -> Result<()> {
    if got == expected {
        Ok(())
    } else {
        Err(Error::LengthMismatch {
            what,
            got,
            expected,
        })
    }
}

fn out_of_bounds() -> Error {
    Error::BadLayout {
        reason: "a buffer lies outside linear memory".to_string(),
    }
}

fn misaligned(e: bytemuck::PodCastError) -> Error {
    Error::BadLayout {
        reason: format!("linear memory cannot be viewed as f64: {e}"),
    }
}
