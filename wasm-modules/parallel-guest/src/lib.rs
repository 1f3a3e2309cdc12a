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
//! | `predict(hint, parts, nodes, node_words, trees, tree_words, x, rows, d, out) -> errno` | out\[r\] = the forest's prediction of row r (`f64`; `x`: `rows × d` `f32`, row-major; the forest as offload-core's `PackedForest` words, `u32`) |
//!
//! `hint` is the device kind (0 cpu, 1 discrete gpu, 2 integrated gpu); `parts` the
//! number of kernel invocations (`num_threads` of `parallel_for`); each invocation
//! handles one block of `ceil(n / parts)` elements (rows for `predict`). Reductions write
//! one partial per block and add the partials here, in block order. `predict` returns
//! [`BAD_FOREST`] when the forest's words do not check (`offload_core::forest::PackedWords`)
//! and gives the same bits as `Forest::predict`. Every buffer an op creates is released
//! before it returns.
//!
//! Kernels are `extern "C"` functions whose address (their index in
//! `__indirect_function_table`) is the `kernel` argument; the host calls them as
//! `(thread_id, num_threads, block_size, in_ptr, in_len_bytes, ..., out_ptr,
//! out_len_bytes, ...)`. They are `#[no_mangle]` so that `offload attach-kernel --kernel
//! sum_kernel` finds them by name and attaches their GPU form (`wgsl/<op>.wgsl`, run by
//! the host's GPU device when the op is called with a GPU hint).

use offload_core::forest::PackedWords;
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
        pub fn release_buffer(buffer: u32) -> u32;
    }
}

const READ: u32 = 0;
const WRITE: u32 = 1;
/// The CPU device hint.
const CPU: u32 = 0;

type Errno = u32;

/// `predict`'s code for forest words that do not check (outside the host's errno range).
pub const BAD_FOREST: Errno = 100;

fn check(errno: u32) -> Result<(), Errno> {
    if errno == 0 {
        Ok(())
    } else {
        Err(errno)
    }
}

/// A device buffer for `bytes` bytes of this guest's memory at `data`. Inputs (`READ`)
/// are written; an output (`WRITE`) is written only on the CPU device, where that binds the
/// buffer to the data itself (no copy), while a GPU output needs no upload.
fn bind(device: Device, data: *const u8, bytes: u32, access: u32) -> Result<u32, Errno> {
    let mut buffer = 0;
    // SAFETY: the out pointer is a live local; the host checks every region it is given.
    unsafe {
        check(ffi::create_buffer(
            device.handle,
            bytes,
            access,
            &mut buffer,
        ))?;
        if access == READ || device.cpu {
            if let Err(e) = check(ffi::write_buffer(data, bytes, buffer)) {
                ffi::release_buffer(buffer);
                return Err(e);
            }
        }
    }
    Ok(buffer)
}

/// Buffers released when dropped (so every exit path frees them).
struct Buffers(Vec<u32>);

impl Drop for Buffers {
    fn drop(&mut self) {
        for &b in &self.0 {
            // SAFETY: plain call; a failure here has nowhere to go (the op already has
            // its result or its error).
            unsafe { ffi::release_buffer(b) };
        }
    }
}

/// A device from `get_device`: its handle, and whether it is the CPU (hint 0).
#[derive(Clone, Copy)]
struct Device {
    handle: u32,
    cpu: bool,
}

fn device(hint: u32) -> Result<Device, Errno> {
    let mut device = 0;
    // SAFETY: the out pointer is a live local.
    check(unsafe { ffi::get_device(hint, &mut device) })?;
    Ok(Device {
        handle: device,
        cpu: hint == CPU,
    })
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

/// Kernel: out\[r\] = the forest's prediction of row r for the rows of block `tid`
/// (core's `PackedWords::predict_into`); the row width is `x`'s length over `out`'s rows.
#[allow(clippy::too_many_arguments)]
#[no_mangle]
extern "C" fn predict_kernel(
    tid: u32,
    _nt: u32,
    bs: u32,
    nodes: *const u32,
    nodes_len: u32,
    trees: *const u32,
    trees_len: u32,
    x: *const f32,
    x_len: u32,
    out: *mut f64,
    out_len: u32,
) {
    let rows = (out_len / 8) as usize;
    if rows == 0 {
        return;
    }
    let d = (x_len / 4) as usize / rows;
    // SAFETY: the host hands out regions it checked, 4- and 8-aligned as the guest
    // allocated them; blocks of `out` are disjoint between invocations.
    unsafe {
        let nodes = core::slice::from_raw_parts(nodes, (nodes_len / 4) as usize);
        let trees = core::slice::from_raw_parts(trees, (trees_len / 4) as usize);
        let start = (tid as usize * bs as usize).min(rows);
        let end = (start + bs as usize).min(rows);
        let x = core::slice::from_raw_parts(x.add(start * d), (end - start) * d);
        let out = core::slice::from_raw_parts_mut(out.add(start), end - start);
        // `predict` checked these words with `PackedWords::new` before parallel_for, and
        // no kernel writes them, so each block borrows them without checking again.
        let forest = PackedWords::new_unchecked(d, nodes, trees);
        forest.predict_into(x, out).expect("a whole number of rows");
    }
}

fn errno(r: Result<(), Errno>) -> u32 {
    match r {
        Ok(()) => 0,
        Err(e) => e,
    }
}

/// The device of `hint`, the block size and the number of blocks for `n` elements in
/// about `parts` blocks, and the input buffers (each `(pointer, elements)`), bound.
fn setup(
    hint: u32,
    parts: u32,
    ins: &[(*const f64, u32)],
    n: u32,
) -> Result<(Device, u32, u32, Buffers), Errno> {
    let dev = device(hint)?;
    let bs = block_size(n, parts);
    let mut bufs = Buffers(Vec::with_capacity(ins.len() + 1));
    for &(ptr, len) in ins {
        bufs.0.push(bind(dev, ptr.cast(), len * 8, READ)?);
    }
    Ok((dev, bs, n.div_ceil(bs), bufs))
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
    let (dev, bs, parts, mut bufs) = setup(hint, parts, ins, n)?;
    let mut partials = vec![0.0f64; parts as usize];
    let p_ptr = partials.as_mut_ptr().cast::<u8>();
    let p = bind(dev, p_ptr, parts * 8, WRITE)?;
    bufs.0.push(p);
    let (outs, ins) = bufs.0.split_last().expect("the partials buffer");
    run(kernel, parts, bs, ins, &[(*outs, p_ptr, parts * 8)])?;
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
    let (dev, bs, parts, mut bufs) = setup(hint, parts, ins, n)?;
    let o = bind(dev, out.cast(), n * 8, WRITE)?;
    bufs.0.push(o);
    let (outs, ins) = bufs.0.split_last().expect("the output buffer");
    run(kernel, parts, bs, ins, &[(*outs, out.cast(), n * 8)])
}

/// out\[r\] = the forest's prediction of row r, for `rows` rows of `d` `f32` at `x`;
/// the forest is `node_words` and `tree_words` `u32` at `nodes` and `trees` (offload-core's
/// `PackedForest::node_words` / `tree_words`). [`BAD_FOREST`] when they do not check.
///
/// # Safety
/// `nodes`, `trees`, `x`, `out` hold what the counts say; `out` overlaps no input.
#[allow(clippy::too_many_arguments)]
#[no_mangle]
pub unsafe extern "C" fn predict(
    hint: u32,
    parts: u32,
    nodes: *const u32,
    node_words: u32,
    trees: *const u32,
    tree_words: u32,
    x: *const f32,
    rows: u32,
    d: u32,
    out: *mut f64,
) -> u32 {
    let (ns, ts) = (
        core::slice::from_raw_parts(nodes, node_words as usize),
        core::slice::from_raw_parts(trees, tree_words as usize),
    );
    if rows == 0 {
        return 0;
    }
    if PackedWords::new(d as usize, ns, ts).is_err() {
        return BAD_FOREST;
    }
    let Some(x_bytes) = rows.checked_mul(d).and_then(|v| v.checked_mul(4)) else {
        return BAD_FOREST;
    };
    errno((|| {
        let dev = device(hint)?;
        let bs = block_size(rows, parts);
        let mut bufs = Buffers(Vec::with_capacity(4));
        bufs.0.push(bind(dev, nodes.cast(), node_words * 4, READ)?);
        bufs.0.push(bind(dev, trees.cast(), tree_words * 4, READ)?);
        bufs.0.push(bind(dev, x.cast(), x_bytes, READ)?);
        let o = bind(dev, out.cast(), rows * 8, WRITE)?;
        bufs.0.push(o);
        run(
            predict_kernel as *const () as usize,
            rows.div_ceil(bs),
            bs,
            &bufs.0[..3],
            &[(o, out.cast(), rows * 8)],
        )
    })())
}
