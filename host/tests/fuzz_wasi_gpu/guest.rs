//! The fuzz guest: a hand-written core module (WAT) that imports wasi:gpu lowered by the
//! canonical ABI and exports one function per import with raw arguments (handles as plain
//! `u32`, pointers and lengths as given), turned into a component with wit-component, so
//! that the fuzzer reaches the real host through the real canonical ABI: handle tables,
//! pointer checks, `cabi_realloc`, the zero-copy `buffer-write` and `buffer-read`.
//!
//! Every export returns one `u64` ([`Outcome::decode`]): `< 2^32` is success (a handle,
//! or for `read` the FNV-1a 32 hash of the bytes read), bit 63 set is a `gpu-error` (case
//! index in bits 32..40, message length in bits 0..32), bit 62 set is a `read` whose list
//! length is not the length asked for.

use offload_host::wasi_gpu::{GpuHost, GpuInstance};
use wasmtime::component::Component;

use crate::common::wasi_gpu_component::bump_realloc_wat;

/// The world of the fuzz guest (the wasi:gpu package is pushed first).
const WIT: &str = r#"
package offload:fuzz@0.1.0;

world fuzz-guest {
    import wasi:gpu/compute@0.1.0;
    import wasi:gpu/ml-kernels@0.1.0;
    export create: func(bytes: u64) -> u64;
    export write: func(buf: u32, offset: u64, ptr: u32, len: u32, fill: u32) -> u64;
    export read: func(buf: u32, offset: u64, bytes: u64) -> u64;
    export copy: func(src: u32, src-offset: u64, dst: u32, dst-offset: u64, bytes: u64) -> u64;
    export destroy: func(buf: u32) -> u64;
    export release: func(buf: u32);
    export reduce: func(op: u32, dtype: u32, a: u32, n: u64) -> u64;
    export elementwise: func(op: u32, dtype: u32, a: u32, b: s64, scalar: f64, out: u32, n: u64) -> u64;
    export matmul: func(precision: u32, a: u32, b: u32, c: u32, m: u32, k: u32, n: u32) -> u64;
    export sync: func() -> u64;
}
"#;

/// Linear memory of the guest: 64 pages, fixed.
pub const MEMORY_BYTES: u64 = 64 * 65536;
/// Where `write` takes its data from (1 MiB + 64 KiB of room before the heap).
pub const SCRATCH: u32 = 65536;
/// Start of the bump heap `cabi_realloc` hands out (reset by every export call).
const HEAP: u32 = 2 << 20;

/// The core module. Return areas at 0 (`result<_, gpu-error>`: tag at 0, error case at
/// 4, message (ptr, len) at 8; `result<f64, gpu-error>`: payload at 8).
const WAT: &str = r#"
(module
  (import "wasi:gpu/compute@0.1.0" "buffer-create" (func $create (param i64 i32)))
  (import "wasi:gpu/compute@0.1.0" "buffer-write" (func $write (param i32 i64 i32 i32 i32)))
  (import "wasi:gpu/compute@0.1.0" "buffer-read" (func $read (param i32 i64 i64 i32)))
  (import "wasi:gpu/compute@0.1.0" "buffer-copy" (func $copy (param i32 i64 i32 i64 i64 i32)))
  (import "wasi:gpu/compute@0.1.0" "buffer-destroy" (func $destroy (param i32 i32)))
  (import "wasi:gpu/compute@0.1.0" "sync" (func $sync (param i32)))
  (import "wasi:gpu/compute@0.1.0" "[resource-drop]buffer" (func $drop (param i32)))
  (import "wasi:gpu/ml-kernels@0.1.0" "kernel-reduce" (func $reduce (param i32 i32 i32 i64 i32)))
  (import "wasi:gpu/ml-kernels@0.1.0" "kernel-elementwise"
    (func $elementwise (param i32 i32 i32 i32 i32 f64 i32 i64 i32)))
  (import "wasi:gpu/ml-kernels@0.1.0" "kernel-matmul"
    (func $matmul (param i32 i32 i32 i32 i32 i32 i32 i32)))
  (memory (export "memory") 64 64)
  BUMP_REALLOC

  ;; result<_, gpu-error> (or any ok payload of up to 4 bytes) at 0: 0 or the error code.
  (func $outcome (param $at i32) (result i64)
    (if (result i64) (i32.load8_u (i32.const 0))
      (then (i64.or (i64.const 0x8000000000000000)
        (i64.or (i64.shl (i64.load8_u (local.get $at)) (i64.const 32))
                (i64.load32_u offset=8 (local.get $at)))))
      (else (i64.const 0))))

  (func (export "create") (param $bytes i64) (result i64)
    (global.set $heap (i32.const HEAP))
    (call $create (local.get $bytes) (i32.const 0))
    (if (result i64) (i32.load8_u (i32.const 0))
      (then (call $outcome (i32.const 4)))
      (else (i64.load32_u (i32.const 4)))))

  (func (export "write") (param $buf i32) (param $off i64) (param $ptr i32) (param $len i32)
      (param $fill i32) (result i64)
    (global.set $heap (i32.const HEAP))
    (if (i32.lt_u (local.get $fill) (i32.const 256))
      (then (memory.fill (local.get $ptr) (local.get $fill) (local.get $len))))
    (call $write (local.get $buf) (local.get $off) (local.get $ptr) (local.get $len) (i32.const 0))
    (call $outcome (i32.const 4)))

  ;; FNV-1a 32 of the list read, or an error code.
  (func (export "read") (param $buf i32) (param $off i64) (param $bytes i64) (result i64)
      (local $p i32) (local $end i32) (local $h i32)
    (global.set $heap (i32.const HEAP))
    (call $read (local.get $buf) (local.get $off) (local.get $bytes) (i32.const 0))
    (if (i32.load8_u (i32.const 0)) (then (return (call $outcome (i32.const 4)))))
    (local.set $p (i32.load (i32.const 4)))
    (if (i64.ne (i64.load32_u (i32.const 8)) (local.get $bytes))
      (then (return (i64.or (i64.const 0x4000000000000000) (i64.load32_u (i32.const 8))))))
    (local.set $end (i32.add (local.get $p) (i32.load (i32.const 8))))
    (local.set $h (i32.const 0x811c9dc5))
    (block $done (loop $l
      (br_if $done (i32.ge_u (local.get $p) (local.get $end)))
      (local.set $h (i32.mul (i32.xor (local.get $h) (i32.load8_u (local.get $p)))
                             (i32.const 0x01000193)))
      (local.set $p (i32.add (local.get $p) (i32.const 1)))
      (br $l)))
    (i64.extend_i32_u (local.get $h)))

  (func (export "copy") (param $src i32) (param $so i64) (param $dst i32) (param $do i64)
      (param $bytes i64) (result i64)
    (global.set $heap (i32.const HEAP))
    (call $copy (local.get $src) (local.get $so) (local.get $dst) (local.get $do)
      (local.get $bytes) (i32.const 0))
    (call $outcome (i32.const 4)))

  (func (export "destroy") (param $buf i32) (result i64)
    (global.set $heap (i32.const HEAP))
    (call $destroy (local.get $buf) (i32.const 0))
    (call $outcome (i32.const 4)))

  (func (export "release") (param $buf i32)
    (call $drop (local.get $buf)))

  (func (export "reduce") (param $op i32) (param $dt i32) (param $a i32) (param $n i64) (result i64)
    (global.set $heap (i32.const HEAP))
    (call $reduce (local.get $op) (local.get $dt) (local.get $a) (local.get $n) (i32.const 0))
    (call $outcome (i32.const 8)))

  (func (export "elementwise") (param $op i32) (param $dt i32) (param $a i32) (param $b i64)
      (param $s f64) (param $out i32) (param $n i64) (result i64)
    (global.set $heap (i32.const HEAP))
    (call $elementwise (local.get $op) (local.get $dt) (local.get $a)
      (i64.ge_s (local.get $b) (i64.const 0)) (i32.wrap_i64 (local.get $b))
      (local.get $s) (local.get $out) (local.get $n) (i32.const 0))
    (call $outcome (i32.const 4)))

  (func (export "matmul") (param $p i32) (param $a i32) (param $b i32) (param $c i32)
      (param $m i32) (param $k i32) (param $n i32) (result i64)
    (global.set $heap (i32.const HEAP))
    (call $matmul (local.get $p) (local.get $a) (local.get $b) (local.get $c)
      (local.get $m) (local.get $k) (local.get $n) (i32.const 0))
    (call $outcome (i32.const 4)))

  (func (export "sync") (result i64)
    (global.set $heap (i32.const HEAP))
    (call $sync (i32.const 0))
    (call $outcome (i32.const 4)))
)
"#;

/// The fuzz guest as component bytes.
pub fn component_bytes() -> Vec<u8> {
    let text = WAT
        .replace("BUMP_REALLOC", &bump_realloc_wat(MEMORY_BYTES))
        .replace("HEAP", &HEAP.to_string());
    let core = wat::parse_str(&text).unwrap_or_else(|e| panic!("fuzz guest WAT: {e}"));
    crate::common::wasi_gpu_component::componentize(core, "fuzz.wit", WIT, "fuzz-guest")
}

/// The fuzz guest compiled for `host`.
pub fn component(host: &GpuHost) -> Component {
    Component::new(host.engine(), component_bytes()).expect("the fuzz guest compiles")
}

/// What one call of an export ended in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Success with the export's value (a handle, a hash, or 0).
    Ok(u32),
    /// A `gpu-error`: WIT case index, message length in bytes.
    Err(u8, u32),
    /// `read` got a list of this many bytes, not the count asked for.
    WrongLength(u32),
    /// The guest trapped (the instance is dead).
    Trap,
}

impl Outcome {
    /// Decodes an export's `u64` (see the module docs).
    pub fn decode(v: u64) -> Outcome {
        if v >> 63 == 1 {
            Outcome::Err((v >> 32) as u8, v as u32)
        } else if v >> 62 == 1 {
            Outcome::WrongLength(v as u32)
        } else {
            assert!(v >> 32 == 0, "export returned {v:#x}");
            Outcome::Ok(v as u32)
        }
    }
}

/// Calls export `name` with `params`; a trap is [`Outcome::Trap`], any other host error
/// fails the run.
pub fn call<P>(i: &mut GpuInstance, name: &str, params: P) -> Outcome
where
    P: wasmtime::component::ComponentNamedList + wasmtime::component::Lower + Send + Sync,
{
    match i.call::<P, (u64,)>(name, params) {
        Ok((v,)) => Outcome::decode(v),
        Err(offload_host::wasi_gpu::Error::Trap { .. }) => Outcome::Trap,
        Err(e) => panic!("{name}: host error {e}"),
    }
}

/// `release(buf)`: `true` when it returned, `false` when it trapped.
pub fn release(i: &mut GpuInstance, buf: u32) -> bool {
    match i.call::<(u32,), ()>("release", (buf,)) {
        Ok(()) => true,
        Err(offload_host::wasi_gpu::Error::Trap { .. }) => false,
        Err(e) => panic!("release: host error {e}"),
    }
}
