//! The parallel-for guest (ABI `parallel-v1`): offload-core's vector kernels run by the
//! host's `wasi_ephemeral_parallel.parallel_for` on every worker, for
//! `wasm32-wasip1-threads` (the module imports one shared linear memory).
//!
//! Exports (pointers and lengths are wasm32 `i32`; `n` counts `f64` elements; every op
//! returns the `errno` of the first `wasi_ephemeral_parallel` call that failed, 0 on
//! success):
//!
//! | export | meaning |
//! | --- | --- |
//! | `alloc(bytes) -> ptr` | 8-aligned heap block (0 when out of memory) |
//! | `dealloc(ptr, bytes)` | frees a block from `alloc` |
//! | `sum(hint, parts, a, n, result) -> errno` | Σ a (fast family), `f64` at `result` |
//! | `dot(hint, parts, a, b, n, result) -> errno` | Σ a·b (fast family) |
//! | `mul(hint, parts, a, b, out, n) -> errno` | out = a·b |
//! | `scale(hint, parts, s, a, out, n) -> errno` | out = s·a |
//!
//! `hint` is the device kind (0 cpu, 1 discrete gpu, 2 integrated gpu); `parts` the
//! number of kernel invocations (`num_threads` of `parallel_for`); each invocation
//! handles one block of `ceil(n / parts)` elements. Reductions write one partial per
//! block and add the partials here, in block order.
//!
//! Kernels are `extern "C"` functions whose address (their index in
//! `__indirect_function_table`) is the `kernel` argument; the host calls them as
//! `(thread_id, num_threads, block_size, in_ptr, in_len_bytes, ..., out_ptr,
//! out_len_bytes, ...)`. They are `#[no_mangle]` so that `offload attach-kernel --kernel
//! sum_kernel` finds them by name and attaches their GPU form (`wgsl/<op>.wgsl`, run by
//! the host's GPU device when the op is called with a GPU hint).

use offload_core::vector;

mod ffi {
    #[link(wasm_import_module = "wasi_ephemeral_parallel")]
    extern "C" {
        pub fn get_device(hint: u32, out_device: *mut u32) -> u32;
        pub fn create_buffer(device: u32, size: u32, access: u32, out_buffer: *mut u32) -> u32;
        pub fn write_buffer(data: *const u8, len: u32, buffer: u32) -> u32;
        pub fn read_buffer(buffer: u32, data: *mut u8, len: u32) -> u32;
        pub fn parallel_for(
            kernel: u32,
            num_threads: u32,
            block_size: u32,
            in_buffers: *const u32,
            in_len: u32,
            out_buffers: *const u32,
            out_len: u32,
        ) -> u32;
    }
}

const READ: u32 = 0;
const WRITE: u32 = 1;

type Errno = u32;

fn check(errno: u32) -> Result<(), Errno> {
    if errno == 0 {
        Ok(())
    } else {
        Err(errno)
    }
}

/// A device buffer bound to a region of this guest's memory (the host's CPU device does
/// not copy; a GPU device would).
fn bind(device: u32, data: *const u8, bytes: u32, access: u32) -> Result<u32, Errno> {
    let mut buffer = 0;
    // SAFETY: the out pointer is a live local; the host checks every region it is given.
    unsafe {
        check(ffi::create_buffer(device, bytes, access, &mut buffer))?;
        check(ffi::write_buffer(data, bytes, buffer))?;
    }
    Ok(buffer)
}

fn device(hint: u32) -> Result<u32, Errno> {
    let mut device = 0;
    // SAFETY: the out pointer is a live local.
    check(unsafe { ffi::get_device(hint, &mut device) })?;
    Ok(device)
}

/// Runs `kernel` over `parts` blocks of `n` elements with the given buffers, then reads
/// the outputs back.
fn run(
    kernel: usize,
    parts: u32,
    block: u32,
    ins: &[u32],
    outs: &[(u32, *mut u8, u32)],
) -> Result<(), Errno> {
    let out_ids: Vec<u32> = outs.iter().map(|o| o.0).collect();
    // SAFETY: the buffer lists are live slices; the host checks them.
    unsafe {
        check(ffi::parallel_for(
            kernel as u32,
            parts,
            block,
            ins.as_ptr(),
            ins.len() as u32,
            out_ids.as_ptr(),
            out_ids.len() as u32,
        ))?;
        for &(id, ptr, bytes) in outs {
            check(ffi::read_buffer(id, ptr, bytes))?;
        }
    }
    Ok(())
}

/// Elements per block for `n` elements in `parts` blocks (at least 1).
fn block_size(n: u32, parts: u32) -> u32 {
    n.div_ceil(parts.max(1)).max(1)
}

/// The block `[tid·bs, min((tid+1)·bs, n))` of a buffer of `len_bytes` bytes.
///
/// # Safety
/// `ptr` must point at `len_bytes` readable bytes, 8-aligned.
unsafe fn block<'a>(ptr: *const f64, len_bytes: u32, tid: u32, bs: u32) -> &'a [f64] {
    let n = (len_bytes / 8) as usize;
    let start = (tid as usize * bs as usize).min(n);
    let end = (start + bs as usize).min(n);
    core::slice::from_raw_parts(ptr.add(start), end - start)
}

/// As [`block`], mutable.
///
/// # Safety
/// As [`block`], and no other live reference to the block.
unsafe fn block_mut<'a>(ptr: *mut f64, len_bytes: u32, tid: u32, bs: u32) -> &'a mut [f64] {
    let n = (len_bytes / 8) as usize;
    let start = (tid as usize * bs as usize).min(n);
    let end = (start + bs as usize).min(n);
    core::slice::from_raw_parts_mut(ptr.add(start), end - start)
}

/// Kernel: partial\[tid\] = Σ a over block `tid` (core's `sum_simd`).
#[no_mangle]
extern "C" fn sum_kernel(
    tid: u32,
    _nt: u32,
    bs: u32,
    a: *const f64,
    a_len: u32,
    partial: *mut f64,
    partial_len: u32,
) {
    // SAFETY: the host hands out regions it checked; blocks of different `tid` are
    // disjoint, and each invocation writes only its own partial.
    unsafe {
        let s = vector::sum_simd(block(a, a_len, tid, bs));
        if tid < partial_len / 8 {
            *partial.add(tid as usize) = s;
        }
    }
}

/// Kernel: partial\[tid\] = Σ a·b over block `tid` (core's `dot_simd`).
#[allow(clippy::too_many_arguments)]
#[no_mangle]
extern "C" fn dot_kernel(
    tid: u32,
    _nt: u32,
    bs: u32,
    a: *const f64,
    a_len: u32,
    b: *const f64,
    b_len: u32,
    partial: *mut f64,
    partial_len: u32,
) {
    // SAFETY: as in `sum_kernel`.
    unsafe {
        let s = vector::dot_simd(block(a, a_len, tid, bs), block(b, b_len, tid, bs))
            .unwrap_or(f64::NAN);
        if tid < partial_len / 8 {
            *partial.add(tid as usize) = s;
        }
    }
}

/// Kernel: out = a·b over block `tid` (core's `mul`).
#[allow(clippy::too_many_arguments)]
#[no_mangle]
extern "C" fn mul_kernel(
    tid: u32,
    _nt: u32,
    bs: u32,
    a: *const f64,
    a_len: u32,
    b: *const f64,
    b_len: u32,
    out: *mut f64,
    out_len: u32,
) {
    // SAFETY: as in `sum_kernel`; blocks of `out` are disjoint between invocations.
    unsafe {
        let _ = vector::mul(
            block(a, a_len, tid, bs),
            block(b, b_len, tid, bs),
            block_mut(out, out_len, tid, bs),
        );
    }
}

/// Kernel: out = s·a over block `tid` (core's `scale`); `s` is an 8-byte input buffer.
#[allow(clippy::too_many_arguments)]
#[no_mangle]
extern "C" fn scale_kernel(
    tid: u32,
    _nt: u32,
    bs: u32,
    s: *const f64,
    _s_len: u32,
    a: *const f64,
    a_len: u32,
    out: *mut f64,
    out_len: u32,
) {
    // SAFETY: as in `mul_kernel`; `s` is one f64.
    unsafe {
        let _ = vector::scale(
            *s,
            block(a, a_len, tid, bs),
            block_mut(out, out_len, tid, bs),
        );
    }
}

fn errno(r: Result<(), Errno>) -> u32 {
    match r {
        Ok(()) => 0,
        Err(e) => e,
    }
}

/// A reduction: one partial per block, added here in block order.
fn reduce(
    kernel: usize,
    hint: u32,
    parts: u32,
    ins: &[(*const f64, u32)],
    n: u32,
) -> Result<f64, Errno> {
    if n == 0 {
        return Ok(0.0);
    }
    let dev = device(hint)?;
    let bs = block_size(n, parts);
    let parts = n.div_ceil(bs);
    let mut bufs = Vec::with_capacity(ins.len());
    for &(ptr, len) in ins {
        bufs.push(bind(dev, ptr.cast(), len * 8, READ)?);
    }
    let mut partials = vec![0.0f64; parts as usize];
    let p_ptr = partials.as_mut_ptr().cast::<u8>();
    let p = bind(dev, p_ptr, parts * 8, WRITE)?;
    run(kernel, parts, bs, &bufs, &[(p, p_ptr, parts * 8)])?;
    Ok(partials.iter().sum())
}

/// Allocates `bytes` bytes, 8-aligned; 0 when out of memory (or `bytes` is 0).
#[no_mangle]
pub extern "C" fn alloc(bytes: u32) -> *mut u8 {
    let Ok(layout) = std::alloc::Layout::from_size_align(bytes.max(1) as usize, 8) else {
        return core::ptr::null_mut();
    };
    // SAFETY: the layout is non-zero sized.
    unsafe { std::alloc::alloc(layout) }
}

/// Frees a block returned by [`alloc`] with the same `bytes`.
///
/// # Safety
/// `ptr` must come from `alloc(bytes)` and not be freed twice.
#[no_mangle]
pub unsafe extern "C" fn dealloc(ptr: *mut u8, bytes: u32) {
    if let Ok(layout) = std::alloc::Layout::from_size_align(bytes.max(1) as usize, 8) {
        std::alloc::dealloc(ptr, layout);
    }
}

/// Σ a\[i\] over `n` elements at `a` (fast family) into the `f64` at `result`.
///
/// # Safety
/// `a` holds `n` f64; `result` is writable.
#[no_mangle]
pub unsafe extern "C" fn sum(
    hint: u32,
    parts: u32,
    a: *const f64,
    n: u32,
    result: *mut f64,
) -> u32 {
    errno(reduce(sum_kernel as *const () as usize, hint, parts, &[(a, n)], n).map(|s| *result = s))
}

/// Σ a\[i\]·b\[i\] (fast family) into the `f64` at `result`.
///
/// # Safety
/// `a`, `b` hold `n` f64; `result` is writable.
#[no_mangle]
pub unsafe extern "C" fn dot(
    hint: u32,
    parts: u32,
    a: *const f64,
    b: *const f64,
    n: u32,
    result: *mut f64,
) -> u32 {
    errno(
        reduce(
            dot_kernel as *const () as usize,
            hint,
            parts,
            &[(a, n), (b, n)],
            n,
        )
        .map(|s| *result = s),
    )
}

/// out\[i\] = a\[i\]·b\[i\].
///
/// # Safety
/// `a`, `b`, `out` hold `n` f64; `out` overlaps neither input.
#[no_mangle]
pub unsafe extern "C" fn mul(
    hint: u32,
    parts: u32,
    a: *const f64,
    b: *const f64,
    out: *mut f64,
    n: u32,
) -> u32 {
    errno(elementwise(
        mul_kernel as *const () as usize,
        hint,
        parts,
        &[(a, n), (b, n)],
        out,
        n,
    ))
}

/// out\[i\] = s·a\[i\].
///
/// # Safety
/// `a`, `out` hold `n` f64; `out` does not overlap `a`.
#[no_mangle]
pub unsafe extern "C" fn scale(
    hint: u32,
    parts: u32,
    s: f64,
    a: *const f64,
    out: *mut f64,
    n: u32,
) -> u32 {
    let scalar = [s];
    errno(elementwise(
        scale_kernel as *const () as usize,
        hint,
        parts,
        &[(scalar.as_ptr(), 1), (a, n)],
        out,
        n,
    ))
}

fn elementwise(
    kernel: usize,
    hint: u32,
    parts: u32,
    ins: &[(*const f64, u32)],
    out: *mut f64,
    n: u32,
) -> Result<(), Errno> {
    if n == 0 {
        return Ok(());
    }
    let dev = device(hint)?;
    let bs = block_size(n, parts);
    let parts = n.div_ceil(bs);
    let mut bufs = Vec::with_capacity(ins.len());
    for &(ptr, len) in ins {
        bufs.push(bind(dev, ptr.cast(), len * 8, READ)?);
    }
    let o = bind(dev, out.cast(), n * 8, WRITE)?;
    run(kernel, parts, bs, &bufs, &[(o, out.cast(), n * 8)])
}
