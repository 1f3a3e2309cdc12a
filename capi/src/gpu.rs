//! The GPU API: `offload-core`'s [`GpuBackend`]s (cpu, wgpu, cuda) behind integer handles.
//!
//! - A **device** is an [`OffloadGpuDevice`], an integer handle (never 0, never reused)
//!   into a process-wide table, opened by [`offload_gpu_open`] and closed by
//!   [`offload_gpu_close`]. Using a handle that is 0, was never opened or was closed gives
//!   [`OFFLOAD_GPU_ERR_INVALID_DEVICE`], never undefined behaviour. A device may be used
//!   from several threads: calls on one device are serialised by a mutex.
//! - A **buffer** is an [`OffloadGpuBuffer`], an integer handle owned by one device
//!   (never 0, never reused after [`offload_gpu_buffer_destroy`]). Buffers are untyped:
//!   sizes and offsets are in **bytes**; kernels read their operands from byte 0 of each
//!   buffer and take element counts `n` of the given dtype ([`OFFLOAD_GPU_F32`],
//!   [`OFFLOAD_GPU_F64`]).
//! - Every function returns an `int32_t` status: [`OFFLOAD_OK`](crate::OFFLOAD_OK), one
//!   of the positive `OFFLOAD_GPU_ERR_*` codes (1–9 are `offload_core::gpu::Status`, code
//!   for code; 10 is an invalid device handle), or the crate-wide
//!   [`OFFLOAD_ERR_NULL_POINTER`](crate::OFFLOAD_ERR_NULL_POINTER) /
//!   [`OFFLOAD_ERR_TOO_LARGE`](crate::OFFLOAD_ERR_TOO_LARGE) /
//!   [`OFFLOAD_ERR_PANIC`](crate::OFFLOAD_ERR_PANIC). The message of a failure is kept per
//!   thread for [`offload_last_error`](crate::offload_last_error). Out-pointers are written
//!   only on success. Every bad input is an error and the device stays usable after it.
//!
//! The backends are loaded at run time (Vulkan through the system's loader, CUDA through
//! cudarc's dynamic loading), so this library loads and runs `cpu` on machines with
//! neither; [`offload_gpu_probe`] says why a backend is unavailable.

use crate::{guard, CapiError};
use offload_core::gpu::{
    probe_all, Backend, BackendKind, DType, DeviceInfo, ElementwiseOp, FindSplitArgs,
    ForestBuffers, GpuError, MatmulPrecision, ReduceOp, Status,
};
use std::collections::HashMap;
use std::ffi::{c_char, c_void, CStr};
use std::sync::{Arc, LazyLock, Mutex, MutexGuard, PoisonError};

/// Handle of an open device; 0 is the null handle.
pub type OffloadGpuDevice = u64;
/// Handle of a device buffer, valid on the device that created it; 0 is the null handle.
pub type OffloadGpuBuffer = u64;

/// The backend could not start (no Vulkan adapter, no CUDA driver, a missing library).
pub const OFFLOAD_GPU_ERR_BACKEND_UNAVAILABLE: i32 = 1;
/// The device cannot run this kernel or dtype (f64 without `SHADER_F64`, TF32 off CUDA).
pub const OFFLOAD_GPU_ERR_UNSUPPORTED: i32 = 2;
/// A buffer handle that was never created on this device, or was destroyed.
pub const OFFLOAD_GPU_ERR_INVALID_HANDLE: i32 = 3;
/// An offset + size past the end of a buffer.
pub const OFFLOAD_GPU_ERR_OUT_OF_BOUNDS: i32 = 4;
/// A zero-byte buffer or transfer, or a kernel on zero elements.
pub const OFFLOAD_GPU_ERR_ZERO_SIZE: i32 = 5;
/// A size over the device's limit (see `max_buffer_bytes` of [`OffloadGpuDeviceInfo`]).
pub const OFFLOAD_GPU_ERR_TOO_LARGE: i32 = 6;
/// Operand buffers too small for the kernel's shape, or a matmul output aliasing an input.
pub const OFFLOAD_GPU_ERR_SHAPE_MISMATCH: i32 = 7;
/// Any other bad argument: unknown backend name or op code, missing operand, overlapping
/// copy.
pub const OFFLOAD_GPU_ERR_INVALID_ARGUMENT: i32 = 8;
/// The device or driver failed (out of memory, launch failure, lost device).
pub const OFFLOAD_GPU_ERR_DEVICE: i32 = 9;
/// A device handle that is 0, was never opened, or was closed.
pub const OFFLOAD_GPU_ERR_INVALID_DEVICE: i32 = 10;

/// Backend kind `cpu` (the reference kernels on the host).
pub const OFFLOAD_GPU_BACKEND_CPU: i32 = 0;
/// Backend kind `wgpu` (WGSL compute shaders on Vulkan/Metal/DX12).
pub const OFFLOAD_GPU_BACKEND_WGPU: i32 = 1;
/// Backend kind `cuda` (NVRTC kernels and cuBLAS).
pub const OFFLOAD_GPU_BACKEND_CUDA: i32 = 2;

/// Element type IEEE-754 binary32 (4 bytes).
pub const OFFLOAD_GPU_F32: i32 = 0;
/// Element type IEEE-754 binary64 (8 bytes); on wgpu only where `supports_f64`.
pub const OFFLOAD_GPU_F64: i32 = 1;

/// Reduction Σ a\[i\].
pub const OFFLOAD_GPU_REDUCE_SUM: i32 = 0;
/// Reduction min a\[i\].
pub const OFFLOAD_GPU_REDUCE_MIN: i32 = 1;
/// Reduction max a\[i\].
pub const OFFLOAD_GPU_REDUCE_MAX: i32 = 2;

/// Element-wise out = a·b.
pub const OFFLOAD_GPU_EW_MUL: i32 = 0;
/// Element-wise out = a + b.
pub const OFFLOAD_GPU_EW_ADD: i32 = 1;
/// Element-wise out = scalar·a.
pub const OFFLOAD_GPU_EW_SCALE: i32 = 2;
/// Element-wise out = max(a, 0).
pub const OFFLOAD_GPU_EW_RELU: i32 = 3;

/// Matmul in plain FP32 arithmetic (the default).
pub const OFFLOAD_GPU_MATMUL_FP32: i32 = 0;
/// Matmul with inputs rounded to TF32 on tensor cores, FP32 accumulation (cuda only).
pub const OFFLOAD_GPU_MATMUL_TF32: i32 = 1;

/// Bytes of the NUL-terminated strings in [`OffloadGpuDeviceInfo`] and
/// [`OffloadGpuProbe`] (longer strings are cut at a UTF-8 character boundary).
pub const OFFLOAD_GPU_STR_BYTES: usize = 256;

/// What a device reports about itself ([`offload_gpu_info`]).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct OffloadGpuDeviceInfo {
    /// `OFFLOAD_GPU_BACKEND_*`.
    pub backend: i32,
    /// Device name, NUL-terminated UTF-8 (e.g. `llvmpipe (LLVM 19.1.7, 256 bits)`).
    pub name: [c_char; OFFLOAD_GPU_STR_BYTES],
    /// Driver or API details, NUL-terminated UTF-8 (e.g. `CUDA driver 13000, sm_90`).
    pub driver: [c_char; OFFLOAD_GPU_STR_BYTES],
    /// Device memory in bytes; 0 where the API does not report it.
    pub memory_bytes: u64,
    /// Largest single buffer in bytes that [`offload_gpu_buffer_create`] accepts.
    pub max_buffer_bytes: u64,
    /// Whether f64 kernels run (else they fail with [`OFFLOAD_GPU_ERR_UNSUPPORTED`]).
    pub supports_f64: bool,
    /// Whether [`OFFLOAD_GPU_MATMUL_TF32`] runs.
    pub supports_tf32: bool,
    /// Whether kernel times are measured on the device (timestamp queries, CUDA events).
    pub kernel_timing: bool,
    /// Whether the device is a software rasteriser (lavapipe) or the host CPU.
    pub is_software: bool,
}

/// One backend as seen by [`offload_gpu_probe`]: its device, or why it did not start.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct OffloadGpuProbe {
    /// `OFFLOAD_GPU_BACKEND_*`.
    pub backend: i32,
    /// Whether the backend started; `info` is valid only then.
    pub available: bool,
    /// The device, when `available`.
    pub info: OffloadGpuDeviceInfo,
    /// Why the backend is unavailable (one line, NUL-terminated); empty when available.
    pub reason: [c_char; OFFLOAD_GPU_STR_BYTES],
}

type Device = Arc<Mutex<Backend>>;

/// Open devices by handle; handles start at 1 and are never reused.
struct Registry {
    next: OffloadGpuDevice,
    devices: HashMap<OffloadGpuDevice, Device>,
}

static REGISTRY: LazyLock<Mutex<Registry>> = LazyLock::new(|| {
    Mutex::new(Registry {
        next: 1,
        devices: HashMap::new(),
    })
});

/// Locks a mutex, taking it over if a panic poisoned it: the backends keep their handle
/// tables consistent at every point a panic can be raised, so the device stays usable.
fn lock<T: ?Sized>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn device(dev: OffloadGpuDevice) -> Result<Device, CapiError> {
    lock(&REGISTRY)
        .devices
        .get(&dev)
        .cloned()
        .ok_or(CapiError::InvalidDevice(dev))
}

/// Runs `f` on an open device under its mutex.
fn with_device<T>(
    dev: OffloadGpuDevice,
    f: impl FnOnce(&mut Backend) -> Result<T, GpuError>,
) -> Result<T, CapiError> {
    let d = device(dev)?;
    let mut b = lock(&d);
    Ok(f(&mut b)?)
}

/// Writes `v` through the out-pointer `p` named `what`.
///
/// # Safety
/// When non-null, `p` must point to one writable `T`.
unsafe fn put<T>(what: &'static str, p: *mut T, v: T) -> Result<(), CapiError> {
    if p.is_null() {
        return Err(CapiError::NullPointer { what });
    }
    // SAFETY: non-null; the caller promises it is writable.
    unsafe { p.write(v) };
    Ok(())
}

fn dtype(code: i32) -> Result<DType, GpuError> {
    match code {
        OFFLOAD_GPU_F32 => Ok(DType::F32),
        OFFLOAD_GPU_F64 => Ok(DType::F64),
        _ => Err(GpuError::InvalidArgument(format!(
            "unknown dtype {code} (expected OFFLOAD_GPU_F32 or OFFLOAD_GPU_F64)"
        ))),
    }
}

fn reduce_op(code: i32) -> Result<ReduceOp, GpuError> {
    match code {
        OFFLOAD_GPU_REDUCE_SUM => Ok(ReduceOp::Sum),
        OFFLOAD_GPU_REDUCE_MIN => Ok(ReduceOp::Min),
        OFFLOAD_GPU_REDUCE_MAX => Ok(ReduceOp::Max),
        _ => Err(GpuError::InvalidArgument(format!(
            "unknown reduce op {code} (expected OFFLOAD_GPU_REDUCE_*)"
        ))),
    }
}

fn elementwise_op(code: i32) -> Result<ElementwiseOp, GpuError> {
    match code {
        OFFLOAD_GPU_EW_MUL => Ok(ElementwiseOp::Mul),
        OFFLOAD_GPU_EW_ADD => Ok(ElementwiseOp::Add),
        OFFLOAD_GPU_EW_SCALE => Ok(ElementwiseOp::Scale),
        OFFLOAD_GPU_EW_RELU => Ok(ElementwiseOp::Relu),
        _ => Err(GpuError::InvalidArgument(format!(
            "unknown element-wise op {code} (expected OFFLOAD_GPU_EW_*)"
        ))),
    }
}

fn precision(code: i32) -> Result<MatmulPrecision, GpuError> {
    match code {
        OFFLOAD_GPU_MATMUL_FP32 => Ok(MatmulPrecision::Fp32),
        OFFLOAD_GPU_MATMUL_TF32 => Ok(MatmulPrecision::Tf32),
        _ => Err(GpuError::InvalidArgument(format!(
            "unknown matmul precision {code} (expected OFFLOAD_GPU_MATMUL_FP32 or _TF32)"
        ))),
    }
}

fn backend_code(kind: BackendKind) -> i32 {
    match kind {
        BackendKind::Cpu => OFFLOAD_GPU_BACKEND_CPU,
        BackendKind::Wgpu => OFFLOAD_GPU_BACKEND_WGPU,
        BackendKind::Cuda => OFFLOAD_GPU_BACKEND_CUDA,
    }
}

/// Copies `s` into a fixed C string field, cut at a character boundary to leave room for
/// the NUL, with interior NULs replaced by spaces.
fn fill(dst: &mut [c_char; OFFLOAD_GPU_STR_BYTES], s: &str) {
    let mut end = s.len().min(OFFLOAD_GPU_STR_BYTES - 1);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    dst.fill(0);
    for (d, &b) in dst.iter_mut().zip(&s.as_bytes()[..end]) {
        *d = if b == 0 { b' ' } else { b } as c_char;
    }
}

fn c_info(info: &DeviceInfo) -> OffloadGpuDeviceInfo {
    let mut out = OffloadGpuDeviceInfo {
        backend: backend_code(info.backend),
        name: [0; OFFLOAD_GPU_STR_BYTES],
        driver: [0; OFFLOAD_GPU_STR_BYTES],
        memory_bytes: info.memory_bytes.unwrap_or(0),
        max_buffer_bytes: info.max_buffer_bytes,
        supports_f64: info.supports_f64,
        supports_tf32: info.supports_tf32,
        kernel_timing: info.kernel_timing,
        is_software: info.is_software,
    };
    fill(&mut out.name, &info.name);
    fill(&mut out.driver, &info.driver);
    out
}

/// Borrows `bytes` bytes at `p` (a null pointer only with `bytes == 0`).
///
/// # Safety
/// When non-null, `p` must point to `bytes` readable bytes valid for `'a`.
unsafe fn host_bytes<'a>(
    what: &'static str,
    p: *const c_void,
    bytes: usize,
) -> Result<&'a [u8], CapiError> {
    if bytes == 0 {
        return Ok(&[]);
    }
    if p.is_null() {
        return Err(CapiError::NullPointer { what });
    }
    if bytes > isize::MAX as usize {
        return Err(CapiError::TooLarge { what, len: bytes });
    }
    // SAFETY: non-null, at most isize::MAX bytes; validity is the caller's promise.
    Ok(unsafe { std::slice::from_raw_parts(p.cast::<u8>(), bytes) })
}

/// Opens a backend by name — `"cpu"`, `"wgpu"`, `"cuda"`, or `"auto"` / `""` (cuda if it
/// starts, else wgpu on a hardware adapter, else cpu) — and writes its handle to `*dev`.
///
/// # Safety
/// `name` must be a NUL-terminated string; `dev` must point to one writable handle.
///
/// # Errors
/// [`OFFLOAD_GPU_ERR_BACKEND_UNAVAILABLE`] with the reason,
/// [`OFFLOAD_GPU_ERR_INVALID_ARGUMENT`] for an unknown or non-UTF-8 name,
/// [`OFFLOAD_ERR_NULL_POINTER`](crate::OFFLOAD_ERR_NULL_POINTER).
#[no_mangle]
pub unsafe extern "C" fn offload_gpu_open(name: *const c_char, dev: *mut OffloadGpuDevice) -> i32 {
    guard(|| {
        if name.is_null() {
            return Err(CapiError::NullPointer { what: "name" });
        }
        if dev.is_null() {
            return Err(CapiError::NullPointer { what: "dev" });
        }
        // SAFETY: non-null and NUL-terminated by the caller's contract.
        let name = unsafe { CStr::from_ptr(name) }
            .to_str()
            .map_err(|_| GpuError::InvalidArgument("backend name is not UTF-8".to_string()))?;
        let backend = Backend::open(name)?;
        let handle = {
            let mut reg = lock(&REGISTRY);
            let h = reg.next;
            reg.next += 1;
            reg.devices.insert(h, Arc::new(Mutex::new(backend)));
            h
        };
        // SAFETY: checked non-null above; writable by the caller's contract.
        unsafe { put("dev", dev, handle) }
    })
}

/// Closes a device and frees all its buffers; the handle becomes invalid at once. A call
/// already running on the device on another thread completes normally, and the device is
/// freed after it.
///
/// # Errors
/// [`OFFLOAD_GPU_ERR_INVALID_DEVICE`] for a handle that is 0, unknown or already closed.
#[no_mangle]
pub extern "C" fn offload_gpu_close(dev: OffloadGpuDevice) -> i32 {
    guard(|| {
        let d = lock(&REGISTRY)
            .devices
            .remove(&dev)
            .ok_or(CapiError::InvalidDevice(dev))?;
        drop(d);
        Ok(())
    })
}

/// Writes what the device reports about itself to `*info`.
///
/// # Safety
/// `info` must point to one writable [`OffloadGpuDeviceInfo`].
///
/// # Errors
/// [`OFFLOAD_GPU_ERR_INVALID_DEVICE`], [`OFFLOAD_ERR_NULL_POINTER`](crate::OFFLOAD_ERR_NULL_POINTER).
#[no_mangle]
pub unsafe extern "C" fn offload_gpu_info(
    dev: OffloadGpuDevice,
    info: *mut OffloadGpuDeviceInfo,
) -> i32 {
    guard(|| {
        let i = with_device(dev, |b| Ok(c_info(b.info())))?;
        // SAFETY: forwarded from the caller's contract.
        unsafe { put("info", info, i) }
    })
}

/// Tries every backend (cpu, wgpu, cuda, in that order), opening and closing each, and
/// writes one [`OffloadGpuProbe`] per backend to `out[0 .. min(cap, 3)]`; `*count`
/// receives the number of backends (3), which may exceed `cap`. `out` may be null with
/// `cap == 0` to ask for the count only.
///
/// # Safety
/// `out` must point to `cap` writable [`OffloadGpuProbe`]s (or be null with `cap == 0`);
/// `count` must point to one writable `size_t`.
///
/// # Errors
/// [`OFFLOAD_ERR_NULL_POINTER`](crate::OFFLOAD_ERR_NULL_POINTER).
#[no_mangle]
pub unsafe extern "C" fn offload_gpu_probe(
    out: *mut OffloadGpuProbe,
    cap: usize,
    count: *mut usize,
) -> i32 {
    guard(|| {
        if count.is_null() {
            return Err(CapiError::NullPointer { what: "count" });
        }
        if cap > 0 && out.is_null() {
            return Err(CapiError::NullPointer { what: "out" });
        }
        let probes = if cap == 0 { Vec::new() } else { probe_all() };
        for (i, p) in probes.iter().take(cap).enumerate() {
            let mut r = OffloadGpuProbe {
                backend: backend_code(p.kind),
                available: p.device.is_ok(),
                // An all-zero info (backend code of `p.kind`) when unavailable.
                info: OffloadGpuDeviceInfo {
                    backend: backend_code(p.kind),
                    name: [0; OFFLOAD_GPU_STR_BYTES],
                    driver: [0; OFFLOAD_GPU_STR_BYTES],
                    memory_bytes: 0,
                    max_buffer_bytes: 0,
                    supports_f64: false,
                    supports_tf32: false,
                    kernel_timing: false,
                    is_software: false,
                },
                reason: [0; OFFLOAD_GPU_STR_BYTES],
            };
            match &p.device {
                Ok(info) => r.info = c_info(info),
                Err(reason) => fill(&mut r.reason, reason),
            }
            // SAFETY: i < cap; out points to cap writable probes.
            unsafe { out.add(i).write(r) };
        }
        // SAFETY: checked non-null; writable by the caller's contract.
        unsafe { put("count", count, BackendKind::ALL.len()) }
    })
}

/// Allocates a device buffer of `bytes` bytes (contents unspecified) and writes its
/// handle to `*buf`.
///
/// # Safety
/// `buf` must point to one writable handle.
///
/// # Errors
/// [`OFFLOAD_GPU_ERR_ZERO_SIZE`], [`OFFLOAD_GPU_ERR_TOO_LARGE`] over `max_buffer_bytes`,
/// [`OFFLOAD_GPU_ERR_DEVICE`] when the device is out of memory,
/// [`OFFLOAD_GPU_ERR_INVALID_DEVICE`], [`OFFLOAD_ERR_NULL_POINTER`](crate::OFFLOAD_ERR_NULL_POINTER).
#[no_mangle]
pub unsafe extern "C" fn offload_gpu_buffer_create(
    dev: OffloadGpuDevice,
    bytes: u64,
    buf: *mut OffloadGpuBuffer,
) -> i32 {
    guard(|| {
        if buf.is_null() {
            return Err(CapiError::NullPointer { what: "buf" });
        }
        let id = with_device(dev, |b| b.create_buffer(bytes))?;
        // SAFETY: checked non-null; writable by the caller's contract.
        unsafe { put("buf", buf, id) }
    })
}

/// Frees a buffer; its handle becomes invalid and is never handed out again.
///
/// # Errors
/// [`OFFLOAD_GPU_ERR_INVALID_HANDLE`], [`OFFLOAD_GPU_ERR_INVALID_DEVICE`].
#[no_mangle]
pub extern "C" fn offload_gpu_buffer_destroy(dev: OffloadGpuDevice, buf: OffloadGpuBuffer) -> i32 {
    guard(|| with_device(dev, |b| b.destroy_buffer(buf)))
}

/// Writes the size of a buffer in bytes to `*bytes`.
///
/// # Safety
/// `bytes` must point to one writable `uint64_t`.
///
/// # Errors
/// [`OFFLOAD_GPU_ERR_INVALID_HANDLE`], [`OFFLOAD_GPU_ERR_INVALID_DEVICE`],
/// [`OFFLOAD_ERR_NULL_POINTER`](crate::OFFLOAD_ERR_NULL_POINTER).
#[no_mangle]
pub unsafe extern "C" fn offload_gpu_buffer_size(
    dev: OffloadGpuDevice,
    buf: OffloadGpuBuffer,
    bytes: *mut u64,
) -> i32 {
    guard(|| {
        let size = with_device(dev, |b| b.buffer_size(buf))?;
        // SAFETY: forwarded from the caller's contract.
        unsafe { put("bytes", bytes, size) }
    })
}

/// Copies `bytes` bytes from host memory `data` to buffer `buf` at byte `offset`.
///
/// # Safety
/// `data` must point to `bytes` readable bytes (or be null with `bytes == 0`).
///
/// # Errors
/// [`OFFLOAD_GPU_ERR_ZERO_SIZE`] for `bytes == 0`, [`OFFLOAD_GPU_ERR_OUT_OF_BOUNDS`] for
/// `offset + bytes` past the end, [`OFFLOAD_GPU_ERR_INVALID_HANDLE`],
/// [`OFFLOAD_GPU_ERR_INVALID_DEVICE`], [`OFFLOAD_ERR_NULL_POINTER`](crate::OFFLOAD_ERR_NULL_POINTER).
#[no_mangle]
pub unsafe extern "C" fn offload_gpu_buffer_write(
    dev: OffloadGpuDevice,
    buf: OffloadGpuBuffer,
    offset: u64,
    data: *const c_void,
    bytes: usize,
) -> i32 {
    guard(|| {
        // SAFETY: forwarded from the caller's contract.
        let src = unsafe { host_bytes("data", data, bytes)? };
        with_device(dev, |b| b.write(buf, offset, src))
    })
}

/// Copies `bytes` bytes of buffer `buf` from byte `offset` to host memory `data`, after
/// all work queued on the device.
///
/// # Safety
/// `data` must point to `bytes` writable bytes (or be null with `bytes == 0`) that no
/// other thread touches during the call.
///
/// # Errors
/// As for [`offload_gpu_buffer_write`]; `data` is untouched when an argument is rejected
/// (its contents are unspecified after [`OFFLOAD_GPU_ERR_DEVICE`]).
#[no_mangle]
pub unsafe extern "C" fn offload_gpu_buffer_read(
    dev: OffloadGpuDevice,
    buf: OffloadGpuBuffer,
    offset: u64,
    data: *mut c_void,
    bytes: usize,
) -> i32 {
    guard(|| {
        // Validate the pointer and length first, then view the memory as writable.
        // SAFETY: forwarded from the caller's contract.
        let dst: &mut [u8] = unsafe {
            host_bytes("data", data, bytes)?;
            if bytes == 0 {
                &mut []
            } else {
                std::slice::from_raw_parts_mut(data.cast::<u8>(), bytes)
            }
        };
        with_device(dev, |b| b.read(buf, offset, dst))
    })
}

/// Device-to-device copy of `bytes` bytes from `src` at `src_offset` to `dst` at
/// `dst_offset` (one buffer may be both only for ranges that do not overlap).
///
/// # Errors
/// [`OFFLOAD_GPU_ERR_ZERO_SIZE`], [`OFFLOAD_GPU_ERR_OUT_OF_BOUNDS`],
/// [`OFFLOAD_GPU_ERR_INVALID_HANDLE`], [`OFFLOAD_GPU_ERR_INVALID_ARGUMENT`] for overlapping
/// ranges, [`OFFLOAD_GPU_ERR_INVALID_DEVICE`].
#[no_mangle]
pub extern "C" fn offload_gpu_buffer_copy(
    dev: OffloadGpuDevice,
    src: OffloadGpuBuffer,
    src_offset: u64,
    dst: OffloadGpuBuffer,
    dst_offset: u64,
    bytes: u64,
) -> i32 {
    guard(|| with_device(dev, |b| b.copy(src, src_offset, dst, dst_offset, bytes)))
}

/// Waits until all work queued on the device has finished.
///
/// # Errors
/// [`OFFLOAD_GPU_ERR_DEVICE`], [`OFFLOAD_GPU_ERR_INVALID_DEVICE`].
#[no_mangle]
pub extern "C" fn offload_gpu_sync(dev: OffloadGpuDevice) -> i32 {
    guard(|| with_device(dev, |b| b.sync()))
}

/// Reduces the first `n` elements of buffer `a` (dtype `OFFLOAD_GPU_F32`/`_F64`) with
/// `op` (`OFFLOAD_GPU_REDUCE_*`) and writes the result, as a double, to `*out`.
///
/// # Safety
/// `out` must point to one writable `double`.
///
/// # Errors
/// [`OFFLOAD_GPU_ERR_ZERO_SIZE`] for `n == 0`, [`OFFLOAD_GPU_ERR_SHAPE_MISMATCH`] when `a`
/// holds fewer than `n` elements, [`OFFLOAD_GPU_ERR_TOO_LARGE`] over 2^32−1 elements,
/// [`OFFLOAD_GPU_ERR_UNSUPPORTED`] for f64 without device f64,
/// [`OFFLOAD_GPU_ERR_INVALID_HANDLE`], [`OFFLOAD_GPU_ERR_INVALID_ARGUMENT`] for an unknown
/// op or dtype, [`OFFLOAD_GPU_ERR_INVALID_DEVICE`],
/// [`OFFLOAD_ERR_NULL_POINTER`](crate::OFFLOAD_ERR_NULL_POINTER).
#[no_mangle]
pub unsafe extern "C" fn offload_gpu_reduce(
    dev: OffloadGpuDevice,
    op: i32,
    dtype_code: i32,
    a: OffloadGpuBuffer,
    n: u64,
    out: *mut f64,
) -> i32 {
    guard(|| {
        if out.is_null() {
            return Err(CapiError::NullPointer { what: "out" });
        }
        let (op, dt) = (reduce_op(op)?, dtype(dtype_code)?);
        let v = with_device(dev, |b| b.reduce(op, dt, a, n))?;
        // SAFETY: checked non-null; writable by the caller's contract.
        unsafe { put("out", out, v) }
    })
}

/// Σ a\[i\]·b\[i\] over the first `n` elements of buffers `a` and `b`, written as a double
/// to `*out`.
///
/// # Safety
/// `out` must point to one writable `double`.
///
/// # Errors
/// As for [`offload_gpu_reduce`].
#[no_mangle]
pub unsafe extern "C" fn offload_gpu_dot(
    dev: OffloadGpuDevice,
    dtype_code: i32,
    a: OffloadGpuBuffer,
    b: OffloadGpuBuffer,
    n: u64,
    out: *mut f64,
) -> i32 {
    guard(|| {
        if out.is_null() {
            return Err(CapiError::NullPointer { what: "out" });
        }
        let dt = dtype(dtype_code)?;
        let v = with_device(dev, |d| d.dot(dt, a, b, n))?;
        // SAFETY: checked non-null; writable by the caller's contract.
        unsafe { put("out", out, v) }
    })
}

/// `out[i] = op(a[i], b[i])` for i < n, with `op` one of `OFFLOAD_GPU_EW_*`: `MUL` and
/// `ADD` read `b` (0 there is an error), `SCALE` uses `scalar` (converted to the dtype),
/// `SCALE` and `RELU` ignore `b`. `out` may be `a` or `b` (in place). Queued: returns
/// before the kernel finishes; read `out` or call [`offload_gpu_sync`] to wait.
///
/// # Errors
/// As for [`offload_gpu_reduce`]; [`OFFLOAD_GPU_ERR_INVALID_ARGUMENT`] for a binary op
/// without `b`.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub extern "C" fn offload_gpu_elementwise(
    dev: OffloadGpuDevice,
    op: i32,
    dtype_code: i32,
    a: OffloadGpuBuffer,
    b: OffloadGpuBuffer,
    scalar: f64,
    out: OffloadGpuBuffer,
    n: u64,
) -> i32 {
    guard(|| {
        let (op, dt) = (elementwise_op(op)?, dtype(dtype_code)?);
        let b = (b != 0).then_some(b);
        with_device(dev, |d| d.elementwise(op, dt, a, b, scalar, out, n))
    })
}

/// f32 matrix product `C = A·B`, row-major: A is m×k in buffer `a`, B is k×n in `b`, C is
/// m×n in `c` (which must differ from `a` and `b`); `precision` is
/// [`OFFLOAD_GPU_MATMUL_FP32`] or [`OFFLOAD_GPU_MATMUL_TF32`]. Queued like
/// [`offload_gpu_elementwise`].
///
/// # Errors
/// [`OFFLOAD_GPU_ERR_ZERO_SIZE`], [`OFFLOAD_GPU_ERR_SHAPE_MISMATCH`] if a buffer is too
/// small or `c` aliases an input, [`OFFLOAD_GPU_ERR_TOO_LARGE`] over 2^31−1 per dimension,
/// [`OFFLOAD_GPU_ERR_UNSUPPORTED`] for TF32 off CUDA, [`OFFLOAD_GPU_ERR_INVALID_HANDLE`],
/// [`OFFLOAD_GPU_ERR_INVALID_ARGUMENT`], [`OFFLOAD_GPU_ERR_INVALID_DEVICE`].
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub extern "C" fn offload_gpu_matmul(
    dev: OffloadGpuDevice,
    precision_code: i32,
    a: OffloadGpuBuffer,
    b: OffloadGpuBuffer,
    c: OffloadGpuBuffer,
    m: u64,
    k: u64,
    n: u64,
) -> i32 {
    guard(|| {
        let p = precision(precision_code)?;
        with_device(dev, |d| d.matmul(p, a, b, c, m, k, n))
    })
}

/// Turns measuring each kernel's device time on or off (timestamp queries on wgpu, CUDA
/// events on cuda, wall-clock time on cpu). Off by default: reading the time back waits
/// for the kernel.
///
/// # Errors
/// [`OFFLOAD_GPU_ERR_UNSUPPORTED`] where the device cannot time kernels,
/// [`OFFLOAD_GPU_ERR_INVALID_DEVICE`].
#[no_mangle]
pub extern "C" fn offload_gpu_set_kernel_timing(dev: OffloadGpuDevice, on: bool) -> i32 {
    guard(|| with_device(dev, |b| b.set_kernel_timing(on)))
}

/// Writes the device time of the last kernel in ns to `*ns` and 1 to `*available`, or 0
/// to both when timing is off or no kernel has run since it was turned on.
///
/// # Safety
/// `ns` and `available` must each point to one writable value.
///
/// # Errors
/// [`OFFLOAD_GPU_ERR_INVALID_DEVICE`], [`OFFLOAD_ERR_NULL_POINTER`](crate::OFFLOAD_ERR_NULL_POINTER).
#[no_mangle]
pub unsafe extern "C" fn offload_gpu_last_kernel_ns(
    dev: OffloadGpuDevice,
    ns: *mut u64,
    available: *mut bool,
) -> i32 {
    guard(|| {
        if ns.is_null() {
            return Err(CapiError::NullPointer { what: "ns" });
        }
        if available.is_null() {
            return Err(CapiError::NullPointer { what: "available" });
        }
        let t = with_device(dev, |b| Ok(b.last_kernel_ns()))?;
        // SAFETY: both checked non-null; writable by the caller's contract.
        unsafe {
            put("ns", ns, t.unwrap_or(0))?;
            put("available", available, t.is_some())
        }
    })
}

/// Operands and shape of [`offload_gpu_find_split`]: one launch finds the best split of
/// every open node of a batch of `n_trees` trees grown on one data set of `n_rows` rows and
/// `d` features (CART, squared error; `offload_core::gpu::FindSplitArgs`). Buffers may be
/// larger than their shapes; element counts:
/// `x` f32 `n_rows × d` row-major; `y` f64 `n_rows`; `order` u32 `d × n_rows` (the rows of
/// each feature in order of `(x[row·d+f], row)`); `weights` u32 `n_trees × n_rows`
/// (bootstrap weights, 0 = out of the sample); `node_of` u32 `n_trees × n_rows` (open node of
/// each row, `< n_nodes`, or `UINT32_MAX` for none); `cand_rank` u32 `n_nodes × d` (rank of
/// feature f among node j's candidates, or `UINT32_MAX`); `out` receives `n_nodes`
/// [`OffloadGpuSplitRecord`]s (24 bytes each).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct OffloadGpuSplitArgs {
    /// f32 `n_rows × d`.
    pub x: OffloadGpuBuffer,
    /// f64 `n_rows`.
    pub y: OffloadGpuBuffer,
    /// u32 `d × n_rows`.
    pub order: OffloadGpuBuffer,
    /// u32 `n_trees × n_rows`.
    pub weights: OffloadGpuBuffer,
    /// u32 `n_trees × n_rows`.
    pub node_of: OffloadGpuBuffer,
    /// u32 `n_nodes × d`.
    pub cand_rank: OffloadGpuBuffer,
    /// [`OffloadGpuSplitRecord`] × `n_nodes`.
    pub out: OffloadGpuBuffer,
    /// Rows of the data set.
    pub n_rows: u32,
    /// Features per row.
    pub d: u32,
    /// Trees in the batch.
    pub n_trees: u32,
    /// Open nodes in the batch.
    pub n_nodes: u32,
    /// `min_samples_leaf`: least weight on each side of a split (≥ 1).
    pub min_leaf: u32,
}

/// One node's result of [`offload_gpu_find_split`] as laid out in the `out` buffer (24
/// bytes, little-endian): the layout of `offload_core::gpu::SplitRecord`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct OffloadGpuSplitRecord {
    /// `S_L²/W_L + S_R²/W_R` of the best split; 0 when there is none.
    pub score: f64,
    /// Split feature, or -1 when the node has no valid split.
    pub feature: i32,
    /// Rows with `x[feature] <= threshold` go left.
    pub threshold: f32,
    /// Bootstrap weight sent left.
    pub weight_left: u32,
    /// Zero.
    pub pad: u32,
}

const _: () = assert!(
    std::mem::size_of::<OffloadGpuSplitRecord>()
        == std::mem::size_of::<offload_core::gpu::SplitRecord>()
);

/// A forest in device buffers for [`offload_gpu_batch_predict`]: the flat node arrays of
/// all trees laid end to end (`n_nodes` nodes in all): `feature` i32 (-1 at a leaf),
/// `threshold` f32, `left` and `right` i32 (child ids relative to the tree's root), `value`
/// f32, and `tree_start` u32 `n_trees` (index of each root). Element counts, not bytes.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct OffloadGpuForest {
    /// i32 per node, -1 at a leaf.
    pub feature: OffloadGpuBuffer,
    /// f32 per node.
    pub threshold: OffloadGpuBuffer,
    /// i32 per node.
    pub left: OffloadGpuBuffer,
    /// i32 per node.
    pub right: OffloadGpuBuffer,
    /// f32 per node.
    pub value: OffloadGpuBuffer,
    /// u32 per tree.
    pub tree_start: OffloadGpuBuffer,
    /// Trees.
    pub n_trees: u32,
    /// Nodes of all trees together.
    pub n_nodes: u32,
    /// Features per row of `x`.
    pub n_features: u32,
}

/// Bootstrap weights of trees `first_tree … first_tree + n_trees − 1` into buffer `out`
/// (u32, `n_trees × n_rows` elements, row-major): `out[t·n_rows + r]` is how often row `r`
/// is drawn among `n_rows` draws of PCG32 (O'Neill 2014) seeded with `seed` on stream
/// `2·(first_tree + t)`, Lemire's multiply-shift `below(n_rows)` —
/// `offload_core::forest::bootstrap_counts`. Integer results: the same on every backend.
/// Queued like [`offload_gpu_elementwise`].
///
/// # Errors
/// [`OFFLOAD_GPU_ERR_ZERO_SIZE`] for `n_trees` or `n_rows` 0,
/// [`OFFLOAD_GPU_ERR_SHAPE_MISMATCH`] when `out` is too small, [`OFFLOAD_GPU_ERR_TOO_LARGE`]
/// over 2^32−1 elements, [`OFFLOAD_GPU_ERR_UNSUPPORTED`] where the backend lacks the kernel,
/// [`OFFLOAD_GPU_ERR_INVALID_HANDLE`], [`OFFLOAD_GPU_ERR_INVALID_DEVICE`].
#[no_mangle]
pub extern "C" fn offload_gpu_bootstrap_sample(
    dev: OffloadGpuDevice,
    seed: u64,
    first_tree: u32,
    n_trees: u32,
    n_rows: u32,
    out: OffloadGpuBuffer,
) -> i32 {
    guard(|| {
        with_device(dev, |b| {
            b.bootstrap_sample(seed, first_tree, n_trees, n_rows, out)
        })
    })
}

/// Best split of every open node of a batch of trees (see [`OffloadGpuSplitArgs`] for the
/// operands), one [`OffloadGpuSplitRecord`] per node written to `args->out`. A split lies
/// between consecutive distinct values lo < hi of the node's rows, threshold
/// `lo + (hi − lo)·0.5` in f32, each side holding at least `min_leaf` weight; the score
/// `S_L²/W_L + S_R²/W_R` is summed in f64 in sorted order; exact ties go to the lower
/// candidate rank, then the lower threshold. Exact on every backend. Queued.
///
/// # Safety
/// `args` must point to one readable [`OffloadGpuSplitArgs`].
///
/// # Errors
/// [`OFFLOAD_GPU_ERR_ZERO_SIZE`], [`OFFLOAD_GPU_ERR_SHAPE_MISMATCH`] for a buffer smaller
/// than its shape, [`OFFLOAD_GPU_ERR_INVALID_ARGUMENT`] for a feature index ≥ `d` in the
/// inputs, [`OFFLOAD_GPU_ERR_UNSUPPORTED`] without device f64 or where the backend lacks
/// the kernel, [`OFFLOAD_GPU_ERR_INVALID_HANDLE`], [`OFFLOAD_GPU_ERR_INVALID_DEVICE`],
/// [`OFFLOAD_ERR_NULL_POINTER`](crate::OFFLOAD_ERR_NULL_POINTER).
#[no_mangle]
pub unsafe extern "C" fn offload_gpu_find_split(
    dev: OffloadGpuDevice,
    args: *const OffloadGpuSplitArgs,
) -> i32 {
    guard(|| {
        if args.is_null() {
            return Err(CapiError::NullPointer { what: "args" });
        }
        // SAFETY: non-null; readable by the caller's contract.
        let a = unsafe { args.read() };
        let core_args = FindSplitArgs {
            x: a.x,
            y: a.y,
            order: a.order,
            weights: a.weights,
            node_of: a.node_of,
            cand_rank: a.cand_rank,
            out: a.out,
            n_rows: a.n_rows,
            d: a.d,
            n_trees: a.n_trees,
            n_nodes: a.n_nodes,
            min_leaf: a.min_leaf,
        };
        with_device(dev, |b| b.find_split(&core_args))
    })
}

/// `out[r] = (Σ_t preds[t·n_rows + r]) / n_trees` for r < `n_rows`: `preds` f32
/// `n_trees × n_rows`, summed in tree order in `dtype_code` (`OFFLOAD_GPU_F32`/`_F64`),
/// `out` `n_rows` elements of that dtype. Queued.
///
/// # Errors
/// [`OFFLOAD_GPU_ERR_ZERO_SIZE`], [`OFFLOAD_GPU_ERR_SHAPE_MISMATCH`],
/// [`OFFLOAD_GPU_ERR_UNSUPPORTED`] for f64 without device f64 or where the backend lacks
/// the kernel, [`OFFLOAD_GPU_ERR_INVALID_HANDLE`], [`OFFLOAD_GPU_ERR_INVALID_ARGUMENT`] for
/// an unknown dtype, [`OFFLOAD_GPU_ERR_INVALID_DEVICE`].
#[no_mangle]
pub extern "C" fn offload_gpu_average(
    dev: OffloadGpuDevice,
    dtype_code: i32,
    preds: OffloadGpuBuffer,
    n_trees: u32,
    n_rows: u32,
    out: OffloadGpuBuffer,
) -> i32 {
    guard(|| {
        let dt = dtype(dtype_code)?;
        with_device(dev, |b| b.average(dt, preds, n_trees, n_rows, out))
    })
}

/// Whole-forest inference: for each of the `n_rows` rows of `x` (f32,
/// `n_rows × forest->n_features`, row-major) walks every tree of `forest` from its root
/// (`x[feature] <= threshold` goes left) and writes the mean leaf value, summed in tree
/// order in `dtype_code`, to `out` (`n_rows` elements of that dtype). A malformed forest
/// gives unspecified predictions, never an out-of-bounds read or a hang. Queued.
///
/// # Safety
/// `forest` must point to one readable [`OffloadGpuForest`].
///
/// # Errors
/// [`OFFLOAD_GPU_ERR_ZERO_SIZE`], [`OFFLOAD_GPU_ERR_SHAPE_MISMATCH`],
/// [`OFFLOAD_GPU_ERR_UNSUPPORTED`] for f64 without device f64 or where the backend lacks
/// the kernel, [`OFFLOAD_GPU_ERR_INVALID_HANDLE`], [`OFFLOAD_GPU_ERR_INVALID_ARGUMENT`],
/// [`OFFLOAD_GPU_ERR_INVALID_DEVICE`], [`OFFLOAD_ERR_NULL_POINTER`](crate::OFFLOAD_ERR_NULL_POINTER).
#[no_mangle]
pub unsafe extern "C" fn offload_gpu_batch_predict(
    dev: OffloadGpuDevice,
    dtype_code: i32,
    forest: *const OffloadGpuForest,
    x: OffloadGpuBuffer,
    n_rows: u32,
    out: OffloadGpuBuffer,
) -> i32 {
    guard(|| {
        if forest.is_null() {
            return Err(CapiError::NullPointer { what: "forest" });
        }
        // SAFETY: non-null; readable by the caller's contract.
        let f = unsafe { forest.read() };
        let dt = dtype(dtype_code)?;
        let fb = ForestBuffers {
            feature: f.feature,
            threshold: f.threshold,
            left: f.left,
            right: f.right,
            value: f.value,
            tree_start: f.tree_start,
            n_trees: f.n_trees,
            n_nodes: f.n_nodes,
            n_features: f.n_features,
        };
        with_device(dev, |b| b.batch_predict(dt, &fb, x, n_rows, out))
    })
}

/// The C status code of a core [`GpuError`] (its [`Status`] as an integer).
pub(crate) fn gpu_code(e: &GpuError) -> i32 {
    let s: Status = e.status();
    s as i32
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::*;
    use std::ffi::CStr;

    fn last() -> String {
        // SAFETY: never null, NUL-terminated.
        unsafe { CStr::from_ptr(offload_last_error()) }
            .to_string_lossy()
            .into_owned()
    }

    fn open_cpu() -> OffloadGpuDevice {
        let mut d = 0;
        assert_eq!(
            unsafe { offload_gpu_open(c"cpu".as_ptr(), &mut d) },
            OFFLOAD_OK
        );
        assert_ne!(d, 0);
        d
    }

    fn f32_buffer(d: OffloadGpuDevice, x: &[f32]) -> OffloadGpuBuffer {
        let mut id = 0;
        let bytes = std::mem::size_of_val(x);
        assert_eq!(
            unsafe { offload_gpu_buffer_create(d, bytes as u64, &mut id) },
            OFFLOAD_OK
        );
        let rc = unsafe { offload_gpu_buffer_write(d, id, 0, x.as_ptr().cast(), bytes) };
        assert_eq!(rc, OFFLOAD_OK, "{}", last());
        id
    }

    #[test]
    fn codes_mirror_core_status() {
        for (code, s) in [
            (
                OFFLOAD_GPU_ERR_BACKEND_UNAVAILABLE,
                Status::BackendUnavailable,
            ),
            (OFFLOAD_GPU_ERR_UNSUPPORTED, Status::Unsupported),
            (OFFLOAD_GPU_ERR_INVALID_HANDLE, Status::InvalidHandle),
            (OFFLOAD_GPU_ERR_OUT_OF_BOUNDS, Status::OutOfBounds),
            (OFFLOAD_GPU_ERR_ZERO_SIZE, Status::ZeroSize),
            (OFFLOAD_GPU_ERR_TOO_LARGE, Status::TooLarge),
            (OFFLOAD_GPU_ERR_SHAPE_MISMATCH, Status::ShapeMismatch),
            (OFFLOAD_GPU_ERR_INVALID_ARGUMENT, Status::InvalidArgument),
            (OFFLOAD_GPU_ERR_DEVICE, Status::Device),
        ] {
            assert_eq!(code, s as i32);
        }
        assert_eq!(OFFLOAD_OK, Status::Ok as i32);
    }

    #[test]
    fn cpu_kernels_and_transfers() {
        let d = open_cpu();
        let a = f32_buffer(d, &[1.0, -2.0, 3.0, 4.0]);
        let b = f32_buffer(d, &[0.5, 0.5, 2.0, -1.0]);
        let mut v = 0.0;
        assert_eq!(
            unsafe { offload_gpu_reduce(d, OFFLOAD_GPU_REDUCE_SUM, OFFLOAD_GPU_F32, a, 4, &mut v) },
            OFFLOAD_OK
        );
        assert_eq!(v, 6.0);
        assert_eq!(
            unsafe { offload_gpu_reduce(d, OFFLOAD_GPU_REDUCE_MIN, OFFLOAD_GPU_F32, a, 4, &mut v) },
            OFFLOAD_OK
        );
        assert_eq!(v, -2.0);
        assert_eq!(
            unsafe { offload_gpu_dot(d, OFFLOAD_GPU_F32, a, b, 4, &mut v) },
            OFFLOAD_OK
        );
        assert_eq!(v, 0.5 - 1.0 + 6.0 - 4.0);
        let c = f32_buffer(d, &[9.0; 4]);
        let rc = offload_gpu_elementwise(d, OFFLOAD_GPU_EW_MUL, OFFLOAD_GPU_F32, a, b, 0.0, c, 4);
        assert_eq!(rc, OFFLOAD_OK);
        let mut out = [0f32; 4];
        let rc = unsafe { offload_gpu_buffer_read(d, c, 0, out.as_mut_ptr().cast(), 16) };
        assert_eq!(rc, OFFLOAD_OK);
        assert_eq!(out, [0.5, -1.0, 6.0, -4.0]);
        // 2×2 · 2×2.
        let rc = offload_gpu_matmul(d, OFFLOAD_GPU_MATMUL_FP32, a, b, c, 2, 2, 2);
        assert_eq!(rc, OFFLOAD_OK, "{}", last());
        let rc = unsafe { offload_gpu_buffer_read(d, c, 0, out.as_mut_ptr().cast(), 16) };
        assert_eq!(rc, OFFLOAD_OK);
        assert_eq!(
            out,
            [1.0 * 0.5 - 2.0 * 2.0, 0.5 + 2.0, 1.5 + 8.0, 1.5 - 4.0]
        );
        assert_eq!(offload_gpu_close(d), OFFLOAD_OK);
    }

    #[test]
    fn bad_handles_are_errors_and_device_stays_usable() {
        let d = open_cpu();
        let a = f32_buffer(d, &[1.0, 2.0]);
        let mut v = 0.0;
        let rc = unsafe {
            offload_gpu_reduce(d, OFFLOAD_GPU_REDUCE_SUM, OFFLOAD_GPU_F32, 77, 2, &mut v)
        };
        assert_eq!(rc, OFFLOAD_GPU_ERR_INVALID_HANDLE);
        assert!(last().contains("77"), "{}", last());
        let x = [0u8; 8];
        let rc = unsafe { offload_gpu_buffer_write(d, a, 4, x.as_ptr().cast(), 8) };
        assert_eq!(rc, OFFLOAD_GPU_ERR_OUT_OF_BOUNDS);
        let rc = unsafe { offload_gpu_buffer_write(d, a, 0, std::ptr::null(), 8) };
        assert_eq!(rc, OFFLOAD_ERR_NULL_POINTER);
        let rc = unsafe { offload_gpu_buffer_write(d, a, 0, std::ptr::null(), 0) };
        assert_eq!(rc, OFFLOAD_GPU_ERR_ZERO_SIZE);
        let rc = unsafe { offload_gpu_reduce(d, 42, OFFLOAD_GPU_F32, a, 2, &mut v) };
        assert_eq!(rc, OFFLOAD_GPU_ERR_INVALID_ARGUMENT);
        assert_eq!(offload_gpu_buffer_destroy(d, a), OFFLOAD_OK);
        assert_eq!(
            offload_gpu_buffer_destroy(d, a),
            OFFLOAD_GPU_ERR_INVALID_HANDLE
        );
        // Still usable.
        let b = f32_buffer(d, &[1.5]);
        let rc =
            unsafe { offload_gpu_reduce(d, OFFLOAD_GPU_REDUCE_SUM, OFFLOAD_GPU_F32, b, 1, &mut v) };
        assert_eq!((rc, v), (OFFLOAD_OK, 1.5));
        assert_eq!(offload_gpu_close(d), OFFLOAD_OK);
        // Closed, null and unknown device handles.
        for h in [d, 0, u64::MAX] {
            assert_eq!(offload_gpu_sync(h), OFFLOAD_GPU_ERR_INVALID_DEVICE);
            assert_eq!(offload_gpu_close(h), OFFLOAD_GPU_ERR_INVALID_DEVICE);
        }
        let mut h = 0;
        let rc = unsafe { offload_gpu_open(c"tpu".as_ptr(), &mut h) };
        assert_eq!((rc, h), (OFFLOAD_GPU_ERR_INVALID_ARGUMENT, 0));
    }

    #[test]
    fn close_while_other_threads_use_the_device() {
        let d = open_cpu();
        let workers: Vec<_> = (0..4)
            .map(|_| {
                std::thread::spawn(move || {
                    let x = [1.0f32; 64];
                    for _ in 0..500 {
                        let mut id = 0;
                        let rc = unsafe { offload_gpu_buffer_create(d, 256, &mut id) };
                        if rc == OFFLOAD_GPU_ERR_INVALID_DEVICE {
                            return;
                        }
                        assert_eq!(rc, OFFLOAD_OK);
                        let rc =
                            unsafe { offload_gpu_buffer_write(d, id, 0, x.as_ptr().cast(), 256) };
                        let mut v = 0.0;
                        let rc2 = unsafe {
                            offload_gpu_reduce(
                                d,
                                OFFLOAD_GPU_REDUCE_SUM,
                                OFFLOAD_GPU_F32,
                                id,
                                64,
                                &mut v,
                            )
                        };
                        for r in [rc, rc2] {
                            assert!(
                                r == OFFLOAD_OK || r == OFFLOAD_GPU_ERR_INVALID_DEVICE,
                                "{r}"
                            );
                        }
                        if rc2 == OFFLOAD_OK {
                            assert_eq!(v, 64.0);
                        }
                    }
                })
            })
            .collect();
        std::thread::sleep(std::time::Duration::from_millis(5));
        assert_eq!(offload_gpu_close(d), OFFLOAD_OK);
        for w in workers {
            w.join().expect("worker");
        }
        assert_eq!(offload_gpu_sync(d), OFFLOAD_GPU_ERR_INVALID_DEVICE);
    }

    #[test]
    fn probe_lists_every_backend() {
        let mut n = 0;
        assert_eq!(
            unsafe { offload_gpu_probe(std::ptr::null_mut(), 0, &mut n) },
            OFFLOAD_OK
        );
        assert_eq!(n, 3);
        let mut p = [std::mem::MaybeUninit::<OffloadGpuProbe>::uninit(); 3];
        assert_eq!(
            unsafe { offload_gpu_probe(p.as_mut_ptr().cast(), 3, &mut n) },
            OFFLOAD_OK
        );
        // SAFETY: all three written on success.
        let p: Vec<OffloadGpuProbe> = p.iter().map(|x| unsafe { x.assume_init() }).collect();
        assert_eq!(p[0].backend, OFFLOAD_GPU_BACKEND_CPU);
        assert!(p[0].available);
        for q in &p[1..] {
            // SAFETY: NUL-terminated by `fill`.
            let reason = unsafe { CStr::from_ptr(q.reason.as_ptr()) };
            assert_eq!(q.available, reason.is_empty(), "{reason:?}");
        }
    }

    /// Bytes of `x` as a new buffer on `d` (any plain element type).
    fn raw_buffer<T: Copy>(d: OffloadGpuDevice, x: &[T]) -> OffloadGpuBuffer {
        let bytes = std::mem::size_of_val(x);
        let mut id = 0;
        assert_eq!(
            unsafe { offload_gpu_buffer_create(d, bytes as u64, &mut id) },
            OFFLOAD_OK
        );
        let rc = unsafe { offload_gpu_buffer_write(d, id, 0, x.as_ptr().cast(), bytes) };
        assert_eq!(rc, OFFLOAD_OK, "{}", last());
        id
    }

    fn read_back<T: Copy + Default>(d: OffloadGpuDevice, b: OffloadGpuBuffer, n: usize) -> Vec<T> {
        let mut out = vec![T::default(); n];
        let bytes = std::mem::size_of_val(out.as_slice());
        let rc = unsafe { offload_gpu_buffer_read(d, b, 0, out.as_mut_ptr().cast(), bytes) };
        assert_eq!(rc, OFFLOAD_OK, "{}", last());
        out
    }

    /// An ML kernel's status on a backend: either it ran, or it is not implemented there
    /// and says so by name (the trait's default). Returns whether it ran.
    fn ran(rc: i32, kernel: &str) -> bool {
        if rc == OFFLOAD_GPU_ERR_UNSUPPORTED {
            let msg = last();
            assert!(msg.contains(kernel), "{kernel}: {msg}");
            eprintln!("{kernel}: not on this backend yet ({msg}); result check skipped");
            return false;
        }
        assert_eq!(rc, OFFLOAD_OK, "{kernel}: {}", last());
        true
    }

    #[test]
    fn ml_argument_errors_before_the_backend() {
        let d = open_cpu();
        let split = OffloadGpuSplitArgs {
            x: 1,
            y: 1,
            order: 1,
            weights: 1,
            node_of: 1,
            cand_rank: 1,
            out: 1,
            n_rows: 1,
            d: 1,
            n_trees: 1,
            n_nodes: 1,
            min_leaf: 1,
        };
        assert_eq!(
            unsafe { offload_gpu_find_split(d, std::ptr::null()) },
            OFFLOAD_ERR_NULL_POINTER
        );
        assert!(last().contains("args"), "{}", last());
        let rc =
            unsafe { offload_gpu_batch_predict(d, OFFLOAD_GPU_F32, std::ptr::null(), 1, 1, 1) };
        assert_eq!(rc, OFFLOAD_ERR_NULL_POINTER);
        assert!(last().contains("forest"), "{}", last());
        assert_eq!(
            offload_gpu_average(d, 5, 1, 1, 1, 1),
            OFFLOAD_GPU_ERR_INVALID_ARGUMENT
        );
        assert!(last().contains("dtype 5"), "{}", last());
        assert_eq!(offload_gpu_close(d), OFFLOAD_OK);
        // Closed device: every ML entry says so.
        assert_eq!(
            offload_gpu_bootstrap_sample(d, 1, 0, 1, 1, 1),
            OFFLOAD_GPU_ERR_INVALID_DEVICE
        );
        assert_eq!(
            unsafe { offload_gpu_find_split(d, &split) },
            OFFLOAD_GPU_ERR_INVALID_DEVICE
        );
        assert_eq!(
            offload_gpu_average(d, OFFLOAD_GPU_F64, 1, 1, 1, 1),
            OFFLOAD_GPU_ERR_INVALID_DEVICE
        );
        let forest = OffloadGpuForest {
            feature: 1,
            threshold: 1,
            left: 1,
            right: 1,
            value: 1,
            tree_start: 1,
            n_trees: 1,
            n_nodes: 1,
            n_features: 1,
        };
        let rc = unsafe { offload_gpu_batch_predict(d, OFFLOAD_GPU_F32, &forest, 1, 1, 1) };
        assert_eq!(rc, OFFLOAD_GPU_ERR_INVALID_DEVICE);
    }

    #[test]
    fn ml_bootstrap_sample_matches_reference() {
        let d = open_cpu();
        let (seed, first, trees, rows) = (7u64, 3u32, 2u32, 50u32);
        let out = raw_buffer(d, &vec![0u32; (trees * rows) as usize]);
        let rc = offload_gpu_bootstrap_sample(d, seed, first, trees, rows, out);
        if ran(rc, "bootstrap-sample") {
            let got: Vec<u32> = read_back(d, out, (trees * rows) as usize);
            for t in 0..trees {
                let want = offload_core::forest::bootstrap_counts(
                    rows as usize,
                    seed,
                    u64::from(first + t),
                );
                let row = &got[(t * rows) as usize..((t + 1) * rows) as usize];
                assert_eq!(row, want.as_slice(), "tree {}", first + t);
            }
            // Too small an output buffer.
            let rc = offload_gpu_bootstrap_sample(d, seed, first, trees + 1, rows, out);
            assert_eq!(rc, OFFLOAD_GPU_ERR_SHAPE_MISMATCH, "{}", last());
            assert_eq!(
                offload_gpu_bootstrap_sample(d, seed, first, 0, rows, out),
                OFFLOAD_GPU_ERR_ZERO_SIZE
            );
        }
        assert_eq!(offload_gpu_close(d), OFFLOAD_OK);
    }

    #[test]
    fn ml_average_and_batch_predict_on_cpu() {
        let d = open_cpu();
        // 2 trees × 3 rows of predictions.
        let preds = raw_buffer(d, &[1.0f32, 2.0, 3.0, 3.0, 4.0, 6.0]);
        let out = raw_buffer(d, &[0f64; 3]);
        let rc = offload_gpu_average(d, OFFLOAD_GPU_F64, preds, 2, 3, out);
        if ran(rc, "average") {
            assert_eq!(read_back::<f64>(d, out, 3), [2.0, 3.0, 4.5]);
            let rc = offload_gpu_average(d, OFFLOAD_GPU_F64, preds, 3, 3, out);
            assert_eq!(rc, OFFLOAD_GPU_ERR_SHAPE_MISMATCH, "{}", last());
        }
        // Tree 0: a stump on feature 1 at 0.5 (left leaf 10, right leaf 20); tree 1: one
        // leaf of value 4. Node arrays end to end, children relative to each root.
        let forest = OffloadGpuForest {
            feature: raw_buffer(d, &[1i32, -1, -1, -1]),
            threshold: raw_buffer(d, &[0.5f32, 0.0, 0.0, 0.0]),
            left: raw_buffer(d, &[1i32, -1, -1, -1]),
            right: raw_buffer(d, &[2i32, -1, -1, -1]),
            value: raw_buffer(d, &[0f32, 10.0, 20.0, 4.0]),
            tree_start: raw_buffer(d, &[0u32, 3]),
            n_trees: 2,
            n_nodes: 4,
            n_features: 2,
        };
        let x = raw_buffer(d, &[9.0f32, 0.25, -1.0, 0.75, 0.0, 0.5]);
        let rc = unsafe { offload_gpu_batch_predict(d, OFFLOAD_GPU_F64, &forest, x, 3, out) };
        if ran(rc, "batch-predict") {
            assert_eq!(read_back::<f64>(d, out, 3), [7.0, 12.0, 7.0]);
            let rc = unsafe { offload_gpu_batch_predict(d, OFFLOAD_GPU_F64, &forest, x, 4, out) };
            assert_eq!(rc, OFFLOAD_GPU_ERR_SHAPE_MISMATCH, "{}", last());
        }
        assert_eq!(offload_gpu_close(d), OFFLOAD_OK);
    }

    #[test]
    fn ml_find_split_on_cpu() {
        let d = open_cpu();
        // One tree, one node, one feature: x = 1..4, y = 0 0 10 10 → the split at 2.5
        // with score 0²/2 + 20²/2 = 200 and weight 2 on the left.
        let args = OffloadGpuSplitArgs {
            x: raw_buffer(d, &[1.0f32, 2.0, 3.0, 4.0]),
            y: raw_buffer(d, &[0.0f64, 0.0, 10.0, 10.0]),
            order: raw_buffer(d, &[0u32, 1, 2, 3]),
            weights: raw_buffer(d, &[1u32; 4]),
            node_of: raw_buffer(d, &[0u32; 4]),
            cand_rank: raw_buffer(d, &[0u32]),
            out: raw_buffer(d, &[0u8; 24]),
            n_rows: 4,
            d: 1,
            n_trees: 1,
            n_nodes: 1,
            min_leaf: 1,
        };
        let rc = unsafe { offload_gpu_find_split(d, &args) };
        if ran(rc, "find-split") {
            let rec: Vec<OffloadGpuSplitRecord> = read_back(d, args.out, 1);
            assert_eq!(
                rec[0],
                OffloadGpuSplitRecord {
                    score: 200.0,
                    feature: 0,
                    threshold: 2.5,
                    weight_left: 2,
                    pad: 0
                }
            );
            let bad = OffloadGpuSplitArgs { n_rows: 5, ..args };
            let rc = unsafe { offload_gpu_find_split(d, &bad) };
            assert_eq!(rc, OFFLOAD_GPU_ERR_SHAPE_MISMATCH, "{}", last());
        }
        assert_eq!(offload_gpu_close(d), OFFLOAD_OK);
    }

    #[test]
    fn fill_cuts_at_char_boundary() {
        let mut dst = [1 as c_char; OFFLOAD_GPU_STR_BYTES];
        let s = "é".repeat(200);
        fill(&mut dst, &s);
        // SAFETY: `fill` always NUL-terminates.
        let got = unsafe { CStr::from_ptr(dst.as_ptr()) }.to_str().unwrap();
        assert_eq!(got.len(), 254);
    }
}
