//! Instantiating a vector guest: one fresh store, `_initialize`, the ABI version check,
//! the layout read and checked, and every export cached as a [`TypedFunc`]; plus mapping a
//! failed call to [`Error`].

use std::time::Duration;

use wasmtime::{Extern, InstancePre, Memory, Store, TypedFunc, WasmParams, WasmResults};
use wasmtime_wasi::p1::WasiP1Ctx;
use wasmtime_wasi::WasiCtxBuilder;

use super::deadline::ticks;
use super::{
    Layout, LoadOptions, ABI_VERSION, SUPPORTED_ABI_VERSIONS, T_GETTER, T_MUL, T_REDUCE, T_SCALE,
};
use crate::error::{Error, Result};

/// Store data: the WASI context, only for guests that import WASI.
pub(super) struct HostState {
    pub(super) wasi: Option<WasiP1Ctx>,
}

/// The exports of one live instance, typed.
pub(super) struct Exports {
    /// What `abi_version()` returned (one of [`SUPPORTED_ABI_VERSIONS`]).
    pub(super) abi: i32,
    pub(super) memory: Memory,
    pub(super) sum: TypedFunc<i32, f64>,
    pub(super) dot: TypedFunc<i32, f64>,
    pub(super) mul: TypedFunc<i32, ()>,
    pub(super) scale: TypedFunc<(f64, i32), ()>,
    pub(super) sum_simd: TypedFunc<i32, f64>,
    /// v2's `dot_simd`; `None` on a v1 guest (its fast dot is `dot`).
    pub(super) dot_simd: Option<TypedFunc<i32, f64>>,
}

/// Maps a wasmtime call error to [`Error::ProcExit`], [`Error::Deadline`] (an epoch
/// interrupt; `deadline` is the one the call ran under) or [`Error::Trap`].
pub(super) fn call_error(op: &'static str, e: wasmtime::Error, deadline: Duration) -> Error {
    if let Some(exit) = e.downcast_ref::<wasmtime_wasi::I32Exit>() {
        return Error::ProcExit { op, code: exit.0 };
    }
    if let Some(wasmtime::Trap::Interrupt) = e.downcast_ref::<wasmtime::Trap>() {
        return Error::Deadline { op, deadline };
    }
    let message = match e.downcast_ref::<wasmtime::Trap>() {
        Some(trap) => trap.to_string(),
        None => format!("{e:#}"),
    };
    Error::Trap { op, message }
}

/// Instantiates, initialises and checks one instance; the start function, `_initialize`,
/// `abi_version` and the layout getters run under one [`LoadOptions::deadline`].
pub(super) fn instantiate(
    pre: &InstancePre<HostState>,
    wasi: bool,
    options: &LoadOptions,
    origin: &str,
) -> Result<(Store<HostState>, Exports, Layout)> {
    let wasi_ctx = wasi.then(|| {
        let mut builder = WasiCtxBuilder::new();
        if options.inherit_stdio {
            builder.inherit_stdio();
        }
        builder.build_p1()
    });
    let mut store = Store::new(pre.module().engine(), HostState { wasi: wasi_ctx });
    store.epoch_deadline_trap();
    store.set_epoch_deadline(ticks(options.deadline));
    let call_error = |op: &'static str, e| call_error(op, e, options.deadline);
    let instance = pre
        .instantiate(&mut store)
        .map_err(|e| Error::Instantiate {
            origin: origin.to_string(),
            message: format!("{e:#}"),
        })?;

    let func =
        |store: &mut Store<HostState>, name: &'static str, expected: &'static str| match instance
            .get_export(&mut *store, name)
        {
            None => Err(Error::MissingExport { name }),
            Some(Extern::Func(f)) => Ok(f),
            Some(other) => Err(Error::WrongExportType {
                name,
                expected,
                found: extern_kind(&other).to_string(),
            }),
        };

    if instance.get_export(&mut store, "_initialize").is_some() {
        let init = func(&mut store, "_initialize", "func ()")?;
        let init = typed::<(), ()>(&store, init, "_initialize", "func ()")?;
        init.call(&mut store, ())
            .map_err(|e| call_error("_initialize", e))?;
    }

    let abi = func(&mut store, "abi_version", T_GETTER)?;
    let abi = typed::<(), i32>(&store, abi, "abi_version", T_GETTER)?;
    let found = abi
        .call(&mut store, ())
        .map_err(|e| call_error("abi_version", e))?;
    if !SUPPORTED_ABI_VERSIONS.contains(&found) {
        return Err(Error::AbiVersion {
            found,
            expected: ABI_VERSION,
        });
    }

    let memory = match instance.get_export(&mut store, "memory") {
        None => return Err(Error::MissingExport { name: "memory" }),
        Some(Extern::Memory(m)) => m,
        Some(other) => {
            return Err(Error::WrongExportType {
                name: "memory",
                expected: "memory",
                found: extern_kind(&other).to_string(),
            })
        }
    };

    let getter = |store: &mut Store<HostState>, name: &'static str| -> Result<i32> {
        let f = func(store, name, T_GETTER)?;
        let f = typed::<(), i32>(store, f, name, T_GETTER)?;
        f.call(&mut *store, ()).map_err(|e| call_error(name, e))
    };
    let capacity = getter(&mut store, "get_capacity")?;
    let a = getter(&mut store, "get_buffer_a_offset")?;
    let b = getter(&mut store, "get_buffer_b_offset")?;
    let r = getter(&mut store, "get_result_offset")?;

    let f = func(&mut store, "sum", T_REDUCE)?;
    let sum = typed::<i32, f64>(&store, f, "sum", T_REDUCE)?;
    let f = func(&mut store, "dot", T_REDUCE)?;
    let dot = typed::<i32, f64>(&store, f, "dot", T_REDUCE)?;
    let f = func(&mut store, "mul", T_MUL)?;
    let mul = typed::<i32, ()>(&store, f, "mul", T_MUL)?;
    let f = func(&mut store, "scale", T_SCALE)?;
    let scale = typed::<(f64, i32), ()>(&store, f, "scale", T_SCALE)?;
    let f = func(&mut store, "sum_simd", T_REDUCE)?;
    let sum_simd = typed::<i32, f64>(&store, f, "sum_simd", T_REDUCE)?;
    // v1 has no dot_simd (one it exports anyway is not part of its ABI and ignored).
    let dot_simd = if found >= 2 {
        let f = func(&mut store, "dot_simd", T_REDUCE)?;
        Some(typed::<i32, f64>(&store, f, "dot_simd", T_REDUCE)?)
    } else {
        None
    };

    if capacity <= 0 {
        return Err(Error::BadLayout {
            reason: format!("get_capacity() returned {capacity}; it must be > 0"),
        });
    }
    // Offsets are wasm32 addresses: unsigned.
    let layout = Layout {
        capacity: capacity as usize,
        a_offset: a as u32 as usize,
        b_offset: b as u32 as usize,
        result_offset: r as u32 as usize,
    };
    layout.check(memory.data_size(&store))?;

    Ok((
        store,
        Exports {
            abi: found,
            memory,
            sum,
            dot,
            mul,
            scale,
            sum_simd,
            dot_simd,
        },
        layout,
    ))
}

fn typed<P: WasmParams, R: WasmResults>(
    store: &Store<HostState>,
    f: wasmtime::Func,
    name: &'static str,
    expected: &'static str,
) -> Result<TypedFunc<P, R>> {
    f.typed::<P, R>(store).map_err(|_| Error::WrongExportType {
        name,
        expected,
        found: describe_func(&f.ty(store)),
    })
}

/// `func (p, ...) -> r`, the notation of [`ABI_EXPORTS`].
fn describe_func(ty: &wasmtime::FuncType) -> String {
    let params: Vec<String> = ty.params().map(|p| p.to_string()).collect();
    let results: Vec<String> = ty.results().map(|r| r.to_string()).collect();
    let mut s = format!("func ({})", params.join(", "));
    if !results.is_empty() {
        s.push_str(" -> ");
        s.push_str(&results.join(", "));
    }
    s
}

fn extern_kind(e: &Extern) -> &'static str {
    match e {
        Extern::Func(_) => "func",
        Extern::Global(_) => "global",
        Extern::Table(_) => "table",
        Extern::Memory(_) => "memory",
        Extern::SharedMemory(_) => "shared memory",
        Extern::Tag(_) => "tag",
    }
}
