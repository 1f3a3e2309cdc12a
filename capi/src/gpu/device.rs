//! Devices: [`OffloadGpuDevice`] handles into a process-wide table of open backends,
//! opening, closing, probing, what a device reports about itself, waiting for queued work,
//! and kernel timing.

use super::*;
use crate::{guard, CapiError};
use offload_core::gpu::{probe_all, Backend, BackendKind, DeviceInfo, GpuError};
use std::collections::HashMap;
use std::ffi::{c_char, CStr};
use std::sync::{Arc, LazyLock, Mutex, MutexGuard, PoisonError};

/// Handle of an open device; 0 is the null handle.
pub type OffloadGpuDevice = u64;

/// Backend kind `cpu` (the reference kernels on the host).
pub const OFFLOAD_GPU_BACKEND_CPU: i32 = 0;
/// Backend kind `wgpu` (WGSL compute shaders on Vulkan/Metal/DX12).
pub const OFFLOAD_GPU_BACKEND_WGPU: i32 = 1;
/// Backend kind `cuda` (NVRTC kernels and cuBLAS).
pub const OFFLOAD_GPU_BACKEND_CUDA: i32 = 2;

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
pub(super) fn with_device<T>(
    dev: OffloadGpuDevice,
    f: impl FnOnce(&mut Backend) -> Result<T, GpuError>,
) -> Result<T, CapiError> {
    let d = device(dev)?;
    let mut b = lock(&d);
    Ok(f(&mut b)?)
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
pub(super) fn fill(dst: &mut [c_char; OFFLOAD_GPU_STR_BYTES], s: &str) {
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

/// Waits until all work queued on the device has finished.
///
/// # Errors
/// [`OFFLOAD_GPU_ERR_DEVICE`], [`OFFLOAD_GPU_ERR_INVALID_DEVICE`].
#[no_mangle]
pub extern "C" fn offload_gpu_sync(dev: OffloadGpuDevice) -> i32 {
    guard(|| with_device(dev, |b| b.sync()))
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

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::*;
    use crate::*;

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
