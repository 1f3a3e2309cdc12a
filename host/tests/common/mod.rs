//! Shared by the integration tests: where the built guests are, compiled once per
//! test binary, and a small hand-written vector guest in WAT (ABI v2 by default, v1 with
//! `abi: 1`).
#![allow(dead_code)] // each test binary uses a different part

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};

use offload_host::{LoadOptions, VectorGuest};
use wasmtime::Module;

pub mod forest_guest;
pub mod wasi_gpu_component;

/// The number in environment variable `name` (the fuzz, soak and crowd tests' counts and
/// seeds), or `default` when it is unset.
///
/// # Panics
/// When the variable is set to something other than a `u64`.
pub fn env_u64(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Ok(v) => v
            .parse()
            .unwrap_or_else(|_| panic!("{name}={v:?} is not a number")),
        Err(_) => default,
    }
}

/// The three shipped guests, by path name.
pub const GUESTS: [&str; 3] = ["wasm-rust", "wasm-c", "wasm-go"];

/// `$OFFLOAD_GUESTS_DIR`, else `<workspace>/build/guests`.
pub fn guests_dir() -> PathBuf {
    match std::env::var_os("OFFLOAD_GUESTS_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../build/guests"),
    }
}

/// The `.wasm` file of a shipped guest; panics (fails the test) when it is not built.
pub fn guest_path(name: &str) -> PathBuf {
    let path = guests_dir().join(format!("{name}.wasm"));
    assert!(
        path.is_file(),
        "guest {name} is not built: {} is missing; run ./build.sh test (or ./build.sh all) first",
        path.display()
    );
    path
}

/// A shipped guest compiled once per test binary (cranelift in a debug build is the
/// slow part), instantiated fresh for each caller.
pub fn guest(name: &str) -> VectorGuest {
    static MODULES: OnceLock<Mutex<HashMap<String, Module>>> = OnceLock::new();
    let path = guest_path(name);
    let module = {
        let mut cache = MODULES.get_or_init(Default::default).lock().unwrap();
        match cache.get(name) {
            Some(m) => m.clone(),
            None => {
                let engine = offload_host::default_engine().expect("engine");
                let m = offload_host::compile_file(&engine, &path)
                    .unwrap_or_else(|e| panic!("compiling {name}: {e}"));
                cache.insert(name.to_string(), m.clone());
                m
            }
        }
    };
    VectorGuest::from_module(
        &module,
        &path.display().to_string(),
        &LoadOptions::default(),
    )
    .unwrap_or_else(|e| panic!("instantiating {name}: {e}"))
}

/// How [`wat_guest`] deviates from a correct ABI v2 guest.
#[derive(Debug, Clone)]
pub struct WatSpec {
    /// What `abi_version` returns; also the shape: below 2 the module is a v1 guest (no
    /// `dot_simd`, and its `dot` adds right to left, an order v1 allowed), from 2 on
    /// `dot` adds left to right and `dot_simd` right to left.
    pub abi: i32,
    pub capacity: i32,
    pub a: i32,
    pub b: i32,
    pub result: i32,
    /// Linear memory pages (64 KiB each).
    pub pages: u32,
    /// Exports to leave out.
    pub omit: Vec<&'static str>,
    /// `sum` exported as `(i32) -> i32` instead of `(i32) -> f64`.
    pub sum_returns_i32: bool,
    /// An extra import the host does not provide.
    pub foreign_import: bool,
    /// Import WASI `proc_exit` and call `proc_exit(3)` from `sum(7)`.
    pub exit_on_len7: bool,
    /// `sum(len)` of this length loops forever (for the deadline tests).
    pub loop_on_len: Option<i32>,
    /// Export an `_initialize` that loops forever.
    pub init_loops_forever: bool,
}

impl Default for WatSpec {
    fn default() -> Self {
        WatSpec {
            abi: 2,
            capacity: 4,
            a: 1024,
            b: 2048,
            result: 4096,
            pages: 1,
            omit: vec![],
            sum_returns_i32: false,
            foreign_import: false,
            exit_on_len7: false,
            loop_on_len: None,
            init_loops_forever: false,
        }
    }
}

/// A small vector guest in WAT (sequential loops, traps on a bad length; see
/// [`WatSpec::abi`] for its `dot` and `dot_simd`), shaped by `spec`, as binary wasm.
pub fn wat_guest(spec: &WatSpec) -> Vec<u8> {
    let WatSpec {
        abi,
        capacity: cap,
        a,
        b,
        result: r,
        pages,
        ..
    } = spec.clone();
    let ex = |name: &str| {
        if spec.omit.contains(&name) {
            String::new()
        } else {
            format!("(export \"{name}\")")
        }
    };
    let import = if spec.foreign_import {
        r#"(import "env" "host_log" (func $log (param i32)))"#
    } else {
        ""
    };
    let (exit_import, exit_call) = if spec.exit_on_len7 {
        (
            r#"(import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))"#,
            "(if (i32.eq (local.get $n) (i32.const 7)) (then (call $proc_exit (i32.const 3))))",
        )
    } else {
        ("", "")
    };
    let loop_call = match spec.loop_on_len {
        Some(len) => format!(
            "(if (i32.eq (local.get $n) (i32.const {len})) (then (loop $forever (br $forever))))"
        ),
        None => String::new(),
    };
    let init = if spec.init_loops_forever {
        r#"(func (export "_initialize") (loop $forever (br $forever)))"#
    } else {
        ""
    };
    let bad_sum = if spec.sum_returns_i32 {
        format!(
            "(func {} (param $n i32) (result i32) (i32.const 0))",
            ex("sum")
        )
    } else {
        String::new()
    };
    let good_sum_export = if spec.sum_returns_i32 {
        String::new()
    } else {
        ex("sum")
    };
    let text = format!(
        r#"(module
  {import}
  {exit_import}
  (memory {mem} {pages})
  {init}
  (func {abi_ex} (result i32) (i32.const {abi}))
  (func {cap_ex} (result i32) (i32.const {cap}))
  (func {a_ex} (result i32) (i32.const {a}))
  (func {b_ex} (result i32) (i32.const {b}))
  (func {r_ex} (result i32) (i32.const {r}))
  (func $check (param $n i32)
    (if (i32.or (i32.lt_s (local.get $n) (i32.const 0))
                (i32.gt_s (local.get $n) (i32.const {cap})))
      (then unreachable)))
  (func $sum {good_sum_export} (param $n i32) (result f64) (local $i i32) (local $s f64)
    (call $check (local.get $n))
    {exit_call}
    {loop_call}
    (block $done (loop $l
      (br_if $done (i32.ge_s (local.get $i) (local.get $n)))
      (local.set $s (f64.add (local.get $s)
        (f64.load offset={a} (i32.shl (local.get $i) (i32.const 3)))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $l)))
    (local.get $s))
  {bad_sum}
  (func {simd_ex} (param $n i32) (result f64) (call $sum (local.get $n)))
  (func $dot_seq {dot_seq_ex} (param $n i32) (result f64) (local $i i32) (local $s f64) (local $p i32)
    (call $check (local.get $n))
    (block $done (loop $l
      (br_if $done (i32.ge_s (local.get $i) (local.get $n)))
      (local.set $p (i32.shl (local.get $i) (i32.const 3)))
      (local.set $s (f64.add (local.get $s)
        (f64.mul (f64.load offset={a} (local.get $p)) (f64.load offset={b} (local.get $p)))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $l)))
    (local.get $s))
  (func $dot_rev {dot_rev_ex} (param $n i32) (result f64) (local $i i32) (local $s f64) (local $p i32)
    (call $check (local.get $n))
    (local.set $i (local.get $n))
    (block $done (loop $l
      (br_if $done (i32.le_s (local.get $i) (i32.const 0)))
      (local.set $i (i32.sub (local.get $i) (i32.const 1)))
      (local.set $p (i32.shl (local.get $i) (i32.const 3)))
      (local.set $s (f64.add (local.get $s)
        (f64.mul (f64.load offset={a} (local.get $p)) (f64.load offset={b} (local.get $p)))))
      (br $l)))
    (local.get $s))
  (func {mul_ex} (param $n i32) (local $i i32) (local $p i32)
    (call $check (local.get $n))
    (block $done (loop $l
      (br_if $done (i32.ge_s (local.get $i) (local.get $n)))
      (local.set $p (i32.shl (local.get $i) (i32.const 3)))
      (f64.store offset={r} (local.get $p)
        (f64.mul (f64.load offset={a} (local.get $p)) (f64.load offset={b} (local.get $p))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $l))))
  (func {scale_ex} (param $s f64) (param $n i32) (local $i i32) (local $p i32)
    (call $check (local.get $n))
    (block $done (loop $l
      (br_if $done (i32.ge_s (local.get $i) (local.get $n)))
      (local.set $p (i32.shl (local.get $i) (i32.const 3)))
      (f64.store offset={r} (local.get $p)
        (f64.mul (local.get $s) (f64.load offset={a} (local.get $p))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $l))))
)"#,
        mem = ex("memory"),
        abi_ex = ex("abi_version"),
        cap_ex = ex("get_capacity"),
        a_ex = ex("get_buffer_a_offset"),
        b_ex = ex("get_buffer_b_offset"),
        r_ex = ex("get_result_offset"),
        simd_ex = ex("sum_simd"),
        dot_seq_ex = if abi >= 2 { ex("dot") } else { String::new() },
        dot_rev_ex = if abi >= 2 { ex("dot_simd") } else { ex("dot") },
        mul_ex = ex("mul"),
        scale_ex = ex("scale"),
    );
    wat::parse_str(&text).unwrap_or_else(|e| panic!("test WAT does not parse: {e}\n{text}"))
}
