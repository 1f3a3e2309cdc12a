//! [`ForestGuest`]: the random-forest guest (`wasm-modules/forest-guest`, forest ABI v1)
//! run by wasmtime.
//!
//! The guest is `offload-core`'s forest compiled for `wasm32-wasip1`; it exports
//! `forest_alloc`/`forest_free` (blocks of linear memory for the host's inputs and
//! outputs), `forest_fit`, `forest_predict`, `forest_last_error`, `forest_node_count`
//! and `forest_abi_version` (the table is in the guest's crate docs). The host copies
//! features (`f32`, row-major) and targets (`f64`) into guest-allocated blocks, calls
//! the export, and copies `f64` predictions out. Every pointer the guest returns is
//! checked on the host side (non-null, 8-aligned, inside linear memory) before a byte
//! is written or read, and every count is checked to fit the ABI's `i32`.
//!
//! ```no_run
//! use offload_core::data::{diabetes, diabetes_split};
//! use offload_core::forest::ForestParams;
//! let d = diabetes();
//! let (tr, te) = diabetes_split();
//! let mut g = offload_host::forest_guest::ForestGuest::load(
//!     offload_host::forest_guest::DEFAULT_PATH,
//! )?;
//! g.fit(&d.subset(&tr), &ForestParams::default())?;
//! let pred = g.predict(&d.subset(&te).x)?;
//! assert_eq!(pred.len(), 89);
//! # Ok::<(), offload_host::forest_guest::ForestGuestError>(())
//! ```

use std::path::Path;

use offload_core::data::Dataset;
use offload_core::forest::{ForestError, ForestParams};
use wasmtime::{Extern, InstancePre, Linker, Memory, Module, Store, TypedFunc};
use wasmtime_wasi::p1::WasiP1Ctx;
use wasmtime_wasi::WasiCtxBuilder;

use crate::guest::deadline::{self, ticks, DEFAULT_DEADLINE};
use crate::guest::{compile_file, default_engine};
use std::time::Duration;

pub use abi::*;
use abi::{to_i32, FitParams, MAX_MESSAGE};

mod abi;

/// The forest ABI exports of one live instance, typed.
struct Exports {
    memory: Memory,
    alloc: TypedFunc<i32, i32>,
    free: TypedFunc<(i32, i32), i32>,
    fit: TypedFunc<FitParams, i32>,
    predict: TypedFunc<(i32, i32, i32), i32>,
    last_error: TypedFunc<(i32, i32), i32>,
    node_count: TypedFunc<(), i32>,
}

/// One live instance.
struct Live {
    store: Store<WasiP1Ctx>,
    x: Exports,
    /// The deadline of one call, in epoch ticks.
    ticks: u64,
}

impl Live {
    /// Arms the deadline of the next call (it counts from now); the store and exports.
    fn arm(&mut self) -> (&mut Store<WasiP1Ctx>, &Exports) {
        self.store.set_epoch_deadline(self.ticks);
        (&mut self.store, &self.x)
    }
}

/// The random-forest guest in wasmtime: one instance, holding at most one forest.
///
/// WASI preview 1 is linked (the guest's `std` imports `fd_write`, `environ_*`,
/// `proc_exit`) with no stdio, no environment, no arguments and no preopened
/// directory. The engine is [`default_engine`] (shared with the vector guests).
///
/// **Deadlines.** Every call into the guest runs under a wall-clock deadline
/// ([`DEFAULT_DEADLINE`], 60 s, unless [`Self::set_deadline`]) on an engine with epoch
/// interruption ([`default_engine`]); a call still running then traps
/// ([`ForestGuestError::Trap`] naming the deadline).
///
/// **Traps.** When a call traps, the error is returned and the instance is rebuilt from
/// the cached [`InstancePre`]: the `ForestGuest` stays usable but holds no forest.
pub struct ForestGuest {
    origin: String,
    pre: InstancePre<WasiP1Ctx>,
    deadline: Duration,
    live: Option<Live>,
    /// Features of the forest inside the instance, `None` when there is none.
    fitted: Option<usize>,
    rebuilds: u64,
}

impl std::fmt::Debug for ForestGuest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ForestGuest")
            .field("origin", &self.origin)
            .field("fitted", &self.fitted)
            .field("rebuilds", &self.rebuilds)
            .finish_non_exhaustive()
    }
}

impl ForestGuest {
    /// Loads the guest file at `path` with [`default_engine`].
    ///
    /// # Errors
    /// [`ForestGuestError::Load`] (I/O, not wasm, malformed), then as
    /// [`Self::from_module`].
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let module = compile_file(&default_engine()?, path)?;
        Self::from_module(&module, &path.display().to_string())
    }

    /// Instantiates a compiled module; `origin` names it in errors. The epoch ticker
    /// ([`deadline::watch`]) advances its engine's epoch.
    ///
    /// # Errors
    /// [`ForestGuestError::Instantiate`], [`ForestGuestError::Export`],
    /// [`ForestGuestError::AbiVersion`], [`ForestGuestError::Trap`].
    pub fn from_module(module: &Module, origin: &str) -> Result<Self> {
        let inst_err = |e: wasmtime::Error| ForestGuestError::Instantiate {
            origin: origin.to_string(),
            message: format!("{e:#}"),
        };
        let mut linker: Linker<WasiP1Ctx> = Linker::new(module.engine());
        wasmtime_wasi::p1::add_to_linker_sync(&mut linker, |cx| cx).map_err(inst_err)?;
        let pre = linker.instantiate_pre(module).map_err(inst_err)?;
        deadline::watch(module.engine());
        let live = instantiate(&pre, origin, DEFAULT_DEADLINE)?;
        Ok(ForestGuest {
            origin: origin.to_string(),
            pre,
            deadline: DEFAULT_DEADLINE,
            live: Some(live),
            fitted: None,
            rebuilds: 0,
        })
    }

    /// Sets the wall-clock limit of one call into the guest (from the next call on;
    /// `Duration::MAX`: none).
    pub fn set_deadline(&mut self, deadline: Duration) {
        self.deadline = deadline;
        if let Some(live) = self.live.as_mut() {
            live.ticks = ticks(deadline);
        }
    }

    /// The wall-clock limit of one call into the guest.
    pub fn deadline(&self) -> Duration {
        self.deadline
    }

    /// Where the module came from.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// How many times the instance was rebuilt after a trap.
    pub fn rebuilds(&self) -> u64 {
        self.rebuilds
    }

    /// Features per row of the forest inside the instance, `None` before a fit.
    pub fn n_features(&self) -> Option<usize> {
        self.fitted
    }

    /// Trains a forest on `data` inside the guest (same algorithm and seed handling
    /// as [`offload_core::forest::Forest::fit`]), replacing any previous one.
    ///
    /// # Errors
    /// As [`RawParams::from_params`]; then as [`Self::fit_raw`].
    pub fn fit(&mut self, data: &Dataset, params: &ForestParams) -> Result<()> {
        let raw = RawParams::from_params(params, data.n_features)?;
        self.fit_raw(&data.x, &data.y, data.n_features, raw)
    }

    /// Trains on `x` (`y.len() × n_features` `f32`, row-major) and `y` with the ABI's
    /// hyperparameters as they are: the guest checks them.
    ///
    /// # Errors
    /// [`ForestGuestError::Input`] when `x.len() != y.len() × n_features` or a size is
    /// over `i32::MAX`; [`ForestGuestError::Guest`] with [`ERR_PARAMS`] for a bad
    /// hyperparameter, [`ERR_DATA`] for empty data, [`ERR_OOM`]; [`ForestGuestError::Trap`].
    /// On any error the instance holds no forest.
    pub fn fit_raw(&mut self, x: &[f32], y: &[f64], n_features: usize, p: RawParams) -> Result<()> {
        self.fitted = None;
        let n = y.len();
        if n.checked_mul(n_features) != Some(x.len()) {
            return Err(ForestGuestError::Input(format!(
                "x has {} values, y has {n} rows of {n_features} features",
                x.len()
            )));
        }
        let (n_i, d_i) = (to_i32("n_rows", n)?, to_i32("n_features", n_features)?);
        // Empty data: let the guest report it (no block can be 0 bytes).
        let (xb, yb) = if n == 0 || n_features == 0 {
            ((8, 8), (8, 8))
        } else {
            let xb = self.put("forest_fit", bytemuck::cast_slice(x))?;
            let yb = match self.put("forest_fit", bytemuck::cast_slice(y)) {
                Ok(b) => b,
                Err(e) => {
                    self.release(xb);
                    return Err(e);
                }
            };
            (xb, yb)
        };
        let args = (
            xb.0,
            yb.0,
            n_i,
            d_i,
            p.n_trees,
            p.max_features,
            p.max_depth,
            p.min_samples_split,
            p.min_samples_leaf,
            p.seed,
        );
        let rc = self.call("forest_fit", |s, x| x.fit.call(s, args));
        // After a trap the blocks went down with the old instance.
        if rc.is_ok() && n > 0 && n_features > 0 {
            self.release(xb);
            self.release(yb);
        }
        self.check_rc("forest_fit", rc?)?;
        self.fitted = Some(n_features);
        Ok(())
    }

    /// Predicts `x` (`n × n_features` `f32`, row-major) with the forest inside the
    /// guest: `n` means of the trees' leaf values, bit for bit what
    /// [`offload_core::forest::Forest::predict`] gives for the same forest.
    ///
    /// # Errors
    /// [`ForestGuestError::NotFitted`]; [`ForestGuestError::Forest`] (`Width`) when
    /// `x.len()` is not a multiple of `n_features`; [`ForestGuestError::Input`] for a
    /// size over `i32::MAX`; [`ForestGuestError::Guest`]; [`ForestGuestError::Trap`].
    pub fn predict(&mut self, x: &[f32]) -> Result<Vec<f64>> {
        let d = self.fitted.ok_or(ForestGuestError::NotFitted)?;
        if !x.len().is_multiple_of(d) {
            return Err(ForestError::Width { got: x.len(), d }.into());
        }
        let n = x.len() / d;
        if n == 0 {
            return Ok(Vec::new());
        }
        let n_i = to_i32("n_rows", n)?;
        let out_bytes = n
            .checked_mul(8)
            .filter(|&b| b <= i32::MAX as usize)
            .ok_or_else(|| {
                ForestGuestError::Input(format!(
                    "{n} predictions of 8 bytes are over i32::MAX bytes"
                ))
            })?;
        let xb = self.put("forest_predict", bytemuck::cast_slice(x))?;
        let ob = match self.alloc("forest_predict", out_bytes) {
            Ok(p) => (p, out_bytes as i32),
            Err(e) => {
                self.release(xb);
                return Err(e);
            }
        };
        let rc = self.call("forest_predict", |s, x| {
            x.predict.call(s, (xb.0, n_i, ob.0))
        });
        let result = rc
            .and_then(|rc| self.check_rc("forest_predict", rc))
            .and_then(|()| {
                let live = self.live.as_ref().ok_or_else(|| self.rebuild_error())?;
                let mem = live.x.memory.data(&live.store);
                let start = ob.0 as usize;
                let bytes = mem.get(start..start + out_bytes).ok_or_else(|| {
                    ForestGuestError::BadPointer {
                        ptr: ob.0,
                        bytes: out_bytes,
                        reason: "the block no longer lies inside linear memory".into(),
                    }
                })?;
                let mut out = vec![0.0f64; n];
                bytemuck::cast_slice_mut::<f64, u8>(&mut out).copy_from_slice(bytes);
                Ok(out)
            });
        // After a trap the blocks went down with the old instance.
        if !matches!(result, Err(ForestGuestError::Trap { .. })) {
            self.release(xb);
            self.release(ob);
        }
        result
    }

    /// Nodes over all trees of the forest inside the guest.
    ///
    /// # Errors
    /// [`ForestGuestError::NotFitted`]; [`ForestGuestError::Trap`].
    pub fn node_count(&mut self) -> Result<usize> {
        if self.fitted.is_none() {
            return Err(ForestGuestError::NotFitted);
        }
        let rc = self.call("forest_node_count", |s, x| x.node_count.call(s, ()))?;
        self.check_rc("forest_node_count", rc)?;
        Ok(rc as usize)
    }

    /// Allocates a block of `bytes` in the guest, copies `data` (exactly `bytes`) into
    /// it and returns `(ptr, bytes)`.
    fn put(&mut self, op: &'static str, data: &[u8]) -> Result<(i32, i32)> {
        let bytes = data.len();
        if bytes > i32::MAX as usize {
            return Err(ForestGuestError::Input(format!(
                "{op}: {bytes} bytes of input are over i32::MAX"
            )));
        }
        let p = self.alloc(op, bytes)?;
        let live = self
            .live
            .as_mut()
            .ok_or_else(|| ForestGuestError::Rebuild {
                origin: self.origin.clone(),
                message: "the instance went down during the call".into(),
            })?;
        let start = p as usize;
        live.x.memory.data_mut(&mut live.store)[start..start + bytes].copy_from_slice(data);
        Ok((p, bytes as i32))
    }

    /// `forest_alloc(bytes)`, with the pointer checked: non-null, 8-aligned, and the
    /// whole block inside linear memory.
    fn alloc(&mut self, op: &'static str, bytes: usize) -> Result<i32> {
        let b = bytes as i32; // callers keep bytes ≤ i32::MAX
        let p = self.call("forest_alloc", |s, x| x.alloc.call(s, b))?;
        if p == 0 {
            let message = self.last_error();
            return Err(ForestGuestError::Guest {
                op,
                code: ERR_OOM,
                message: format!("forest_alloc({bytes}) failed: {message}"),
            });
        }
        let live = self.live.as_ref().ok_or_else(|| self.rebuild_error())?;
        let size = live.x.memory.data_size(&live.store);
        let reason = if p < 0 {
            Some("negative offset".to_string())
        } else if p % 8 != 0 {
            Some("not 8-byte aligned".to_string())
        } else if p as usize + bytes > size {
            Some(format!("the block ends past linear memory ({size} bytes)"))
        } else {
            None
        };
        match reason {
            Some(reason) => Err(ForestGuestError::BadPointer {
                ptr: p,
                bytes,
                reason,
            }),
            None => Ok(p),
        }
    }

    /// Frees a block; a failure is ignored (the block leaks inside the sandbox, and
    /// after a trap the instance it belonged to is gone anyway).
    fn release(&mut self, (p, bytes): (i32, i32)) {
        if let Some(live) = self.live.as_mut() {
            let (store, x) = live.arm();
            if x.free.call(store, (p, bytes)).is_err() {
                self.poison();
            }
        }
    }

    /// Turns a negative return code into [`ForestGuestError::Guest`].
    fn check_rc(&mut self, op: &'static str, rc: i32) -> Result<()> {
        if rc >= 0 {
            return Ok(());
        }
        let message = self.last_error();
        Err(ForestGuestError::Guest {
            op,
            code: rc,
            message,
        })
    }

    /// The guest's last error message (read through a guest block), or why it could not
    /// be read. A trap while reading it drops the instance.
    fn last_error(&mut self) -> String {
        let Some(live) = self.live.as_mut() else {
            return "(no instance to ask)".into();
        };
        let (store, x) = live.arm();
        match read_last_error(store, x) {
            Ok(text) => text,
            Err(e) => {
                self.poison();
                format!("(reading the message trapped: {e})")
            }
        }
    }

    /// Calls into the live instance (rebuilding it first if a trap took it down); a trap
    /// becomes [`ForestGuestError::Trap`] and drops the instance, which is rebuilt at
    /// once.
    fn call<R>(
        &mut self,
        op: &'static str,
        f: impl FnOnce(&mut Store<WasiP1Ctx>, &Exports) -> wasmtime::Result<R>,
    ) -> Result<R> {
        if self.live.is_none() {
            self.rebuild()?;
        }
        let Some(live) = self.live.as_mut() else {
            return Err(self.rebuild_error());
        };
        let (store, x) = live.arm();
        match f(store, x) {
            Ok(r) => Ok(r),
            Err(e) => {
                let message = match e.downcast_ref::<wasmtime_wasi::I32Exit>() {
                    Some(exit) => format!("proc_exit({})", exit.0),
                    None => match e.downcast_ref::<wasmtime::Trap>() {
                        Some(wasmtime::Trap::Interrupt) => format!(
                            "ran past its deadline of {:?} and was interrupted",
                            self.deadline
                        ),
                        Some(t) => t.to_string(),
                        None => format!("{e:#}"),
                    },
                };
                self.poison();
                // A failed rebuild is reported by the next call.
                let _ = self.rebuild();
                Err(ForestGuestError::Trap { op, message })
            }
        }
    }

    fn poison(&mut self) {
        self.live = None;
        self.fitted = None;
    }

    fn rebuild(&mut self) -> Result<()> {
        match instantiate(&self.pre, &self.origin, self.deadline) {
            Ok(live) => {
                self.live = Some(live);
                self.fitted = None;
                self.rebuilds += 1;
                Ok(())
            }
            Err(e) => Err(ForestGuestError::Rebuild {
                origin: self.origin.clone(),
                message: e.to_string(),
            }),
        }
    }

    fn rebuild_error(&self) -> ForestGuestError {
        ForestGuestError::Rebuild {
            origin: self.origin.clone(),
            message: "the instance went down during the call".into(),
        }
    }
}

/// `forest_last_error` through a guest block of at most [`MAX_MESSAGE`] bytes; `Err`
/// only when the guest trapped.
fn read_last_error(store: &mut Store<WasiP1Ctx>, x: &Exports) -> wasmtime::Result<String> {
    let len = x.last_error.call(&mut *store, (0, 0))?;
    if len <= 0 {
        return Ok(format!("(no message; forest_last_error returned {len})"));
    }
    let cap = len.min(MAX_MESSAGE);
    let buf = x.alloc.call(&mut *store, cap)?;
    if buf <= 0 {
        return Ok(format!(
            "(a message of {len} bytes the guest has no room to copy)"
        ));
    }
    let n = x.last_error.call(&mut *store, (buf, cap))?;
    let text = if n < 0 {
        format!("(forest_last_error returned {n})")
    } else {
        let k = n.min(cap) as usize;
        let start = buf as usize;
        match x.memory.data(&*store).get(start..start + k) {
            Some(b) => String::from_utf8_lossy(b).into_owned(),
            None => format!("(message block {start}+{k} outside linear memory)"),
        }
    };
    x.free.call(&mut *store, (buf, cap))?;
    Ok(text)
}

/// Instantiates one instance, checks `forest_abi_version()` and types every export; the
/// start function and `forest_abi_version` run under one `deadline`.
fn instantiate(pre: &InstancePre<WasiP1Ctx>, origin: &str, deadline: Duration) -> Result<Live> {
    let wasi = WasiCtxBuilder::new().build_p1();
    let mut store = Store::new(pre.module().engine(), wasi);
    let ticks = ticks(deadline);
    store.epoch_deadline_trap();
    store.set_epoch_deadline(ticks);
    let instance = pre
        .instantiate(&mut store)
        .map_err(|e| ForestGuestError::Instantiate {
            origin: origin.to_string(),
            message: format!("{e:#}"),
        })?;
    let export_err = |name: &'static str, message: String| ForestGuestError::Export {
        origin: origin.to_string(),
        name,
        message,
    };
    macro_rules! typed {
        ($name:literal, $p:ty, $r:ty) => {
            instance
                .get_typed_func::<$p, $r>(&mut store, $name)
                .map_err(|e| export_err($name, format!("{e:#}")))?
        };
    }
    let version = typed!("forest_abi_version", (), i32);
    let found = version
        .call(&mut store, ())
        .map_err(|e| ForestGuestError::Trap {
            op: "forest_abi_version",
            message: format!("{e:#}"),
        })?;
    if found != FOREST_ABI_VERSION {
        return Err(ForestGuestError::AbiVersion {
            found,
            expected: FOREST_ABI_VERSION,
        });
    }
    let memory = match instance.get_export(&mut store, "memory") {
        Some(Extern::Memory(m)) => m,
        Some(_) => return Err(export_err("memory", "not a memory".into())),
        None => return Err(export_err("memory", "missing".into())),
    };
    let x = Exports {
        memory,
        alloc: typed!("forest_alloc", i32, i32),
        free: typed!("forest_free", (i32, i32), i32),
        fit: typed!("forest_fit", FitParams, i32),
        predict: typed!("forest_predict", (i32, i32, i32), i32),
        last_error: typed!("forest_last_error", (i32, i32), i32),
        node_count: typed!("forest_node_count", (), i32),
    };
    Ok(Live { store, x, ticks })
}
