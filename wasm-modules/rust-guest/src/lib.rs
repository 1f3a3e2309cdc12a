//! The Rust vector guest: implements the offload vector-guest ABI v2 (see the
//! project README) over `offload-core`'s kernels.
//!
//! Families (docs/benchmarks.md): `sum` and `dot` are *strict* (added left to right,
//! the same bits as `offload_core::vector::sum`/`dot`: Rust never contracts `x * y + s`
//! into a fused multiply-add and LLVM does not reassociate floating point without
//! fast-math); `sum_simd` and `dot_simd` are *fast* (simd128 partial sums).
//!
//! Three static `f64` buffers of [`CAPACITY`] elements live in linear memory at
//! fixed, 8-byte-aligned offsets; the host writes inputs into `a`/`b`, calls an op
//! with a length in elements, and reads `result`. A length that is negative or over
//! the capacity traps (`unreachable`). The module is `no_std`, its panic handler
//! traps, and it imports nothing.
#![no_std]

use core::arch::wasm32::unreachable;
use core::ptr::addr_of_mut;
use offload_core::vector;

/// Version of the vector-guest ABI this module implements.
const ABI_VERSION: i32 = 2;
/// Elements in each buffer.
const CAPACITY: usize = 100_000;

/// One static buffer; `repr(align(8))` keeps the `f64`s 8-byte aligned.
#[repr(C, align(8))]
struct Buffer([f64; CAPACITY]);

static mut BUF_A: Buffer = Buffer([0.0; CAPACITY]);
static mut BUF_B: Buffer = Buffer([0.0; CAPACITY]);
static mut BUF_RESULT: Buffer = Buffer([0.0; CAPACITY]);

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    unreachable()
}

/// Checks `len` against the capacity, trapping when it is out of range.
fn checked(len: i32) -> usize {
    if len < 0 || len as usize > CAPACITY {
        unreachable()
    }
    len as usize
}

// The host drives one call at a time on one instance; nothing here is re-entrant,
// so handing out slices of the statics for the length of one call is sound.
fn a(len: usize) -> &'static [f64] {
    // SAFETY: len <= CAPACITY; single-threaded, no other live borrow.
    unsafe { core::slice::from_raw_parts(addr_of_mut!(BUF_A).cast::<f64>(), len) }
}
fn b(len: usize) -> &'static [f64] {
    // SAFETY: as for `a`.
    unsafe { core::slice::from_raw_parts(addr_of_mut!(BUF_B).cast::<f64>(), len) }
}
fn result(len: usize) -> &'static mut [f64] {
    // SAFETY: as for `a`; `result` never aliases `a` or `b`.
    unsafe { core::slice::from_raw_parts_mut(addr_of_mut!(BUF_RESULT).cast::<f64>(), len) }
}

/// ABI version: 2.
#[no_mangle]
pub extern "C" fn abi_version() -> i32 {
    ABI_VERSION
}

/// Elements in each buffer.
#[no_mangle]
pub extern "C" fn get_capacity() -> i32 {
    CAPACITY as i32
}

/// Byte offset of buffer `a` in linear memory.
#[no_mangle]
pub extern "C" fn get_buffer_a_offset() -> i32 {
    addr_of_mut!(BUF_A) as i32
}

/// Byte offset of buffer `b` in linear memory.
#[no_mangle]
pub extern "C" fn get_buffer_b_offset() -> i32 {
    addr_of_mut!(BUF_B) as i32
}

/// Byte offset of the result buffer in linear memory.
#[no_mangle]
pub extern "C" fn get_result_offset() -> i32 {
    addr_of_mut!(BUF_RESULT) as i32
}

/// Σ a\[i\] for i < len, left to right (strict family).
#[no_mangle]
pub extern "C" fn sum(len: i32) -> f64 {
    vector::sum(a(checked(len)))
}

/// Σ a\[i\]·b\[i\] for i < len, left to right (strict family).
#[no_mangle]
pub extern "C" fn dot(len: i32) -> f64 {
    let n = checked(len);
    match vector::dot(a(n), b(n)) {
        Ok(v) => v,
        Err(_) => unreachable(),
    }
}

/// Σ a\[i\]·b\[i\] for i < len with simd128 partial sums (fast family; separate
/// multiply and add, no FMA).
#[no_mangle]
pub extern "C" fn dot_simd(len: i32) -> f64 {
    let n = checked(len);
    match vector::dot_simd(a(n), b(n)) {
        Ok(v) => v,
        Err(_) => unreachable(),
    }
}

/// result\[i\] = a\[i\]·b\[i\] for i < len.
#[no_mangle]
pub extern "C" fn mul(len: i32) {
    let n = checked(len);
    if vector::mul(a(n), b(n), result(n)).is_err() {
        unreachable()
    }
}

/// result\[i\] = scalar·a\[i\] for i < len.
#[no_mangle]
pub extern "C" fn scale(scalar: f64, len: i32) {
    let n = checked(len);
    if vector::scale(scalar, a(n), result(n)).is_err() {
        unreachable()
    }
}

/// Σ a\[i\] for i < len with simd128 partial sums (fast family).
#[no_mangle]
pub extern "C" fn sum_simd(len: i32) -> f64 {
    vector::sum_simd(a(checked(len)))
}
