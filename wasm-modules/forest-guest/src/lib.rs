//! The random-forest guest: `offload-core`'s CART forest ([`Forest::fit`],
//! [`Forest::predict`]) behind a small core-wasm ABI, for `wasm32-wasip1`.
//!
//! It is the same Rust code as the native path, compiled for wasm32, so with the same
//! seed it grows the same forest and predicts the same `f64`s bit for bit (wasm's `f32`
//! and `f64` arithmetic is IEEE-754 with round-to-nearest, and Rust never contracts
//! `a*b+c` into an FMA on either side).
//!
//! # ABI (`forest_abi_version() == 1`)
//! All pointers are byte offsets into the guest's linear memory (`i32`), all counts are
//! elements, all sizes are bytes. Features are `f32`, row-major (`n_rows × n_features`);
//! targets and predictions are `f64`.
//!
//! | export | signature | meaning |
//! | --- | --- | --- |
//! | `memory` | memory | linear memory |
//! | `forest_abi_version` | `() -> i32` | 1 |
//! | `forest_alloc` | `(bytes i32) -> i32` | a fresh 8-aligned block of `bytes` > 0 bytes, or 0 (see `forest_last_error`) |
//! | `forest_free` | `(ptr i32, bytes i32) -> i32` | frees a block from `forest_alloc` (same `bytes`): 0, or -1 |
//! | `forest_fit` | `(x i32, y i32, n_rows i32, n_features i32, n_trees i32, max_features i32, max_depth i32, min_samples_split i32, min_samples_leaf i32, seed i64) -> i32` | trains and keeps the forest: 0 or an error code |
//! | `forest_predict` | `(x i32, n_rows i32, out i32) -> i32` | writes `n_rows` predictions to `out`: 0 or an error code |
//! | `forest_last_error` | `(buf i32, cap i32) -> i32` | copies up to `cap` bytes of the last error message (UTF-8) to `buf`; returns the message's full length, or -1 |
//! | `forest_node_count` | `() -> i32` | nodes over all trees, or -3 before a successful fit |
//!
//! `max_features` 0 means all features, `max_depth` 0 means unlimited; `seed` is the
//! `u64` seed's bits. Every sample is bootstrapped (scikit-learn's default).
//!
//! Error codes: [`ERR_ARGUMENT`] (-1: a pointer or count is bad), [`ERR_PARAMS`]
//! (-2: a hyperparameter is out of range), [`ERR_NOT_FITTED`] (-3), [`ERR_OOM`] (-4: the
//! guest could not allocate), [`ERR_DATA`] (-5: empty training data, or a NaN/infinite feature value). Each one sets the
//! message that `forest_last_error` returns.
//!
//! # Memory safety
//! Every region the host passes (`x`, `y`, `out`, `buf`) must lie inside one live block
//! returned by `forest_alloc`; the guest checks that against its table of blocks before
//! it forms a slice, so a wrong pointer is an [`ERR_ARGUMENT`], never a read of the
//! guest's own heap. `forest_free` of anything but a live block is an error, not a
//! corrupted heap. A failed `forest_fit` drops the previous forest.
//!
//! # Why `std`
//! `std` on `wasm32-wasip1` brings Rust's own allocator (dlmalloc) and `String`
//! formatting of error messages, so nothing is hand-rolled. Its price is four WASI
//! preview 1 imports (`fd_write` for a panic message, `environ_get`,
//! `environ_sizes_get`, `proc_exit`; `scripts/build-forest-guest.sh` records them),
//! which the host links with no stdio, no environment and no preopened directory.
//! Panics abort (`panic = "abort"`), i.e. trap; none is reachable from bad input:
//! hyperparameters, pointers and sizes are checked first. (Running out of memory inside
//! training traps too; the host then rebuilds the instance.)
//!
//! wasm-ld wraps each export of a `wasip1` cdylib (`<name>.command_export`) to run the
//! C destructors after it (`__wasm_call_dtors`); here they are two empty calls.

use std::alloc::{alloc, dealloc, Layout};
use std::collections::BTreeMap;
use std::sync::Mutex;

use offload_core::data::Dataset;
use offload_core::forest::{Forest, ForestError, ForestParams};

/// Version of the forest ABI this module implements.
pub const ABI_VERSION: i32 = 1;
/// A pointer or count is bad (null, misaligned, outside a live block, overflowing).
pub const ERR_ARGUMENT: i32 = -1;
/// A hyperparameter is out of range.
pub const ERR_PARAMS: i32 = -2;
/// `forest_predict` or `forest_node_count` before a successful `forest_fit`.
pub const ERR_NOT_FITTED: i32 = -3;
/// The guest could not allocate memory.
pub const ERR_OOM: i32 = -4;
/// The training data is empty (0 rows or 0 features).
pub const ERR_DATA: i32 = -5;

/// Alignment of every block handed out by `forest_alloc` (enough for `f64`).
const BLOCK_ALIGN: usize = 8;

/// Everything the instance keeps between calls.
struct State {
    /// Live blocks from `forest_alloc`: start offset → size in bytes.
    blocks: BTreeMap<usize, usize>,
    /// The forest of the last successful `forest_fit`.
    forest: Option<Forest>,
    /// Message of the last error.
    last_error: String,
}

static STATE: Mutex<State> = Mutex::new(State {
    blocks: BTreeMap::new(),
    forest: None,
    last_error: String::new(),
});

/// An error code and its message.
struct Fail(i32, String);

fn fail<T>(code: i32, msg: impl Into<String>) -> Result<T, Fail> {
    Err(Fail(code, msg.into()))
}

/// Runs `f` on the state and turns a [`Fail`] into its code, recording the message.
fn with_state(f: impl FnOnce(&mut State) -> Result<i32, Fail>) -> i32 {
    // No panic ever unwinds (panic = "abort"), so the lock cannot be poisoned.
    let mut st = STATE.lock().unwrap_or_else(|e| e.into_inner());
    match f(&mut st) {
        Ok(v) => v,
        Err(Fail(code, msg)) => {
            st.last_error = msg;
            code
        }
    }
}

/// Converts an `i32` count that must be ≥ `min` to `usize`.
fn count(name: &str, v: i32, min: i32) -> Result<usize, Fail> {
    if v < min {
        return fail(
            ERR_ARGUMENT,
            format!("{name} must be at least {min}, got {v}"),
        );
    }
    Ok(v as usize)
}

impl State {
    /// Checks that `[ptr, ptr + elems·size)` lies inside one live block and that `ptr`
    /// is aligned to `align`; returns the start as a raw pointer.
    fn region(
        &self,
        name: &str,
        ptr: i32,
        elems: usize,
        size: usize,
        align: usize,
    ) -> Result<*mut u8, Fail> {
        let Some(bytes) = elems.checked_mul(size) else {
            return fail(
                ERR_ARGUMENT,
                format!("{name}: {elems} elements of {size} bytes overflow"),
            );
        };
        if ptr <= 0 {
            return fail(
                ERR_ARGUMENT,
                format!("{name}: pointer {ptr} is null or negative"),
            );
        }
        let p = ptr as usize;
        if !p.is_multiple_of(align) {
            return fail(
                ERR_ARGUMENT,
                format!("{name}: pointer {p} is not {align}-byte aligned"),
            );
        }
        match self.blocks.range(..=p).next_back() {
            Some((&start, &len)) if p.checked_add(bytes).is_some_and(|end| end <= start + len) => {
                Ok(p as *mut u8)
            }
            _ => fail(
                ERR_ARGUMENT,
                format!(
                    "{name}: [{p}, {}) is not inside one block from forest_alloc",
                    p as u64 + bytes as u64
                ),
            ),
        }
    }
}

/// ABI version: 1.
#[no_mangle]
pub extern "C" fn forest_abi_version() -> i32 {
    ABI_VERSION
}

/// Allocates `bytes` (> 0) bytes, 8-byte aligned, for the host to place inputs and
/// receive outputs. Returns the block's offset, or 0 (and an error message) when
/// `bytes` ≤ 0 or memory is exhausted.
#[no_mangle]
pub extern "C" fn forest_alloc(bytes: i32) -> i32 {
    let r = with_state(|st| {
        let n = count("bytes", bytes, 1)?;
        let Ok(layout) = Layout::from_size_align(n, BLOCK_ALIGN) else {
            return fail(ERR_ARGUMENT, format!("bytes: {n} is too large"));
        };
        // SAFETY: the layout has a non-zero size.
        let p = unsafe { alloc(layout) };
        if p.is_null() {
            return fail(ERR_OOM, format!("cannot allocate {n} bytes"));
        }
        if p as usize > i32::MAX as usize {
            // Offsets are i32 in this ABI: a block past 2 GiB cannot be named.
            // SAFETY: `p` was just allocated with `layout`.
            unsafe { dealloc(p, layout) };
            return fail(ERR_OOM, format!("no room for {n} bytes below 2 GiB"));
        }
        st.blocks.insert(p as usize, n);
        Ok(p as i32)
    });
    r.max(0)
}

/// Frees a block from `forest_alloc`; `bytes` must be the size it was allocated with.
/// Returns 0, or [`ERR_ARGUMENT`] when `(ptr, bytes)` is not a live block.
#[no_mangle]
pub extern "C" fn forest_free(ptr: i32, bytes: i32) -> i32 {
    with_state(|st| {
        let p = ptr as u32 as usize;
        match st.blocks.get(&p) {
            Some(&n) if bytes >= 0 && n == bytes as usize => {
                st.blocks.remove(&p);
                // SAFETY: `p` came from `alloc` with this very layout and is freed once
                // (it has just left the table).
                unsafe {
                    dealloc(
                        p as *mut u8,
                        Layout::from_size_align_unchecked(n, BLOCK_ALIGN),
                    )
                };
                Ok(0)
            }
            Some(&n) => fail(
                ERR_ARGUMENT,
                format!("forest_free({p}, {bytes}): the block holds {n} bytes"),
            ),
            None => fail(
                ERR_ARGUMENT,
                format!("forest_free({p}, {bytes}): not a live block"),
            ),
        }
    })
}

/// Trains a forest on `n_rows × n_features` `f32` features at `x` and `n_rows` `f64`
/// targets at `y`, and keeps it. `max_features` 0 = all, `max_depth` 0 = unlimited,
/// `seed` = the bits of the `u64` seed. Returns 0 or an error code.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub extern "C" fn forest_fit(
    x: i32,
    y: i32,
    n_rows: i32,
    n_features: i32,
    n_trees: i32,
    max_features: i32,
    max_depth: i32,
    min_samples_split: i32,
    min_samples_leaf: i32,
    seed: i64,
) -> i32 {
    with_state(|st| {
        st.forest = None;
        let params = ForestParams {
            n_trees: count("n_trees", n_trees, 0).map_err(params_err)?,
            max_features: match count("max_features", max_features, 0).map_err(params_err)? {
                0 => None,
                m => Some(m),
            },
            max_depth: match count("max_depth", max_depth, 0).map_err(params_err)? {
                0 => None,
                m => Some(m),
            },
            min_samples_split: count("min_samples_split", min_samples_split, 0)
                .map_err(params_err)?,
            min_samples_leaf: count("min_samples_leaf", min_samples_leaf, 0).map_err(params_err)?,
            bootstrap: true,
            seed: seed as u64,
        };
        let n = count("n_rows", n_rows, 0)?;
        let d = count("n_features", n_features, 0)?;
        if n == 0 || d == 0 {
            return fail(
                ERR_DATA,
                ForestError::EmptyData {
                    rows: n,
                    features: d,
                }
                .to_string(),
            );
        }
        params
            .validate(d)
            .map_err(|e| Fail(ERR_PARAMS, e.to_string()))?;
        let Some(nx) = n.checked_mul(d) else {
            return fail(ERR_ARGUMENT, format!("{n} rows × {d} features overflow"));
        };
        let px = st.region("x", x, nx, 4, 4)?;
        let py = st.region("y", y, n, 8, 8)?;
        let mut xs: Vec<f32> = Vec::new();
        let mut ys: Vec<f64> = Vec::new();
        if xs.try_reserve_exact(nx).is_err() || ys.try_reserve_exact(n).is_err() {
            return fail(ERR_OOM, format!("cannot copy {n} rows × {d} features"));
        }
        // SAFETY: both regions lie inside live blocks of `forest_alloc` (checked above),
        // are aligned, and nothing in Rust refers to those blocks.
        unsafe {
            xs.extend_from_slice(std::slice::from_raw_parts(px as *const f32, nx));
            ys.extend_from_slice(std::slice::from_raw_parts(py as *const f64, n));
        }
        let data = Dataset {
            feature_names: (0..d).map(|i| format!("x{i}")).collect(),
            x: xs,
            y: ys,
            n_rows: n,
            n_features: d,
        };
        let forest = Forest::fit(&data, &params).map_err(forest_err)?;
        st.forest = Some(forest);
        Ok(0)
    })
}

/// A negative hyperparameter is a hyperparameter error, not a pointer error.
fn params_err(Fail(_, msg): Fail) -> Fail {
    Fail(ERR_PARAMS, msg)
}

fn forest_err(e: ForestError) -> Fail {
    let code = match e {
        ForestError::EmptyData { .. } | ForestError::NonFinite { .. } => ERR_DATA,
        ForestError::Width { .. } => ERR_ARGUMENT,
        _ => ERR_PARAMS,
    };
    Fail(code, e.to_string())
}

/// Predicts `n_rows` rows of the fitted forest's `n_features` `f32` features at `x`,
/// writing `n_rows` `f64` means of the trees' leaf values to `out`. `x` and `out` must
/// not overlap. Returns 0 or an error code.
#[no_mangle]
pub extern "C" fn forest_predict(x: i32, n_rows: i32, out: i32) -> i32 {
    with_state(|st| {
        let Some(forest) = st.forest.as_ref() else {
            return fail(
                ERR_NOT_FITTED,
                "forest_predict before a successful forest_fit",
            );
        };
        let n = count("n_rows", n_rows, 0)?;
        let d = forest.n_features;
        let Some(nx) = n.checked_mul(d) else {
            return fail(ERR_ARGUMENT, format!("{n} rows × {d} features overflow"));
        };
        if n == 0 {
            return Ok(0);
        }
        let px = st.region("x", x, nx, 4, 4)? as usize;
        let po = st.region("out", out, n, 8, 8)? as usize;
        if px < po + n * 8 && po < px + nx * 4 {
            return fail(ERR_ARGUMENT, "x and out overlap");
        }
        // SAFETY: both regions lie inside live blocks (checked), are aligned, do not
        // overlap, and nothing in Rust refers to those blocks.
        let (xs, os) = unsafe {
            (
                std::slice::from_raw_parts(px as *const f32, nx),
                std::slice::from_raw_parts_mut(po as *mut f64, n),
            )
        };
        // `Forest::predict`: the packed, row-blocked walk where the rows repay packing the
        // forest, the per-row walk below that; the same bits either way.
        match forest.predict(xs) {
            Ok(p) => {
                os.copy_from_slice(&p);
                Ok(0)
            }
            Err(e) => fail(ERR_ARGUMENT, format!("predict: {e}")),
        }
    })
}

/// Copies up to `cap` bytes of the last error message (UTF-8, not NUL-terminated) to
/// `buf` and returns the message's full length in bytes (more than `cap`: truncated).
/// With `cap` 0, `buf` is not read and only the length is returned. Returns
/// [`ERR_ARGUMENT`] when `cap` < 0 or `buf` is not inside a live block.
#[no_mangle]
pub extern "C" fn forest_last_error(buf: i32, cap: i32) -> i32 {
    let st = STATE.lock().unwrap_or_else(|e| e.into_inner());
    if cap < 0 {
        return ERR_ARGUMENT;
    }
    let msg = st.last_error.as_bytes();
    let k = msg.len().min(cap as usize);
    if k > 0 {
        let Ok(p) = st.region("buf", buf, k, 1, 1) else {
            return ERR_ARGUMENT;
        };
        // SAFETY: `[p, p + k)` lies inside a live block; the message lives in the heap
        // outside every live block, so the two do not overlap.
        unsafe { std::ptr::copy_nonoverlapping(msg.as_ptr(), p, k) };
    }
    msg.len().min(i32::MAX as usize) as i32
}

/// Nodes over all trees of the fitted forest, or [`ERR_NOT_FITTED`].
#[no_mangle]
pub extern "C" fn forest_node_count() -> i32 {
    with_state(|st| match &st.forest {
        Some(f) => Ok(f
            .trees
            .iter()
            .map(|t| t.len())
            .sum::<usize>()
            .min(i32::MAX as usize) as i32),
        None => fail(
            ERR_NOT_FITTED,
            "forest_node_count before a successful forest_fit",
        ),
    })
}
