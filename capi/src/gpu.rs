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
    probe_all, Backend, BackendKind, DType, DeviceInfo, ElementwiseOp, GpuError, MatmulPrecision,
    ReduceOp, Status,
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
