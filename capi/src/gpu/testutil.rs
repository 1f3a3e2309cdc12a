//! Helpers of the GPU API's unit tests: the last error, a cpu device, buffers from host
//! slices and back.

use super::*;
use crate::*;
use std::ffi::CStr;

pub(super) fn last() -> String {
    // SAFETY: never null, NUL-terminated.
    unsafe { CStr::from_ptr(offload_last_error()) }
        .to_string_lossy()
        .into_owned()
}

pub(super) fn open_cpu() -> OffloadGpuDevice {
    let mut d = 0;
    assert_eq!(
        unsafe { offload_gpu_open(c"cpu".as_ptr(), &mut d) },
        OFFLOAD_OK
    );
    assert_ne!(d, 0);
    d
}

pub(super) fn f32_buffer(d: OffloadGpuDevice, x: &[f32]) -> OffloadGpuBuffer {
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

/// Bytes of `x` as a new buffer on `d` (any plain element type).
pub(super) fn raw_buffer<T: Copy>(d: OffloadGpuDevice, x: &[T]) -> OffloadGpuBuffer {
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

pub(super) fn read_back<T: Copy + Default>(
    d: OffloadGpuDevice,
    b: OffloadGpuBuffer,
    n: usize,
) -> Vec<T> {
    let mut out = vec![T::default(); n];
    let bytes = std::mem::size_of_val(out.as_slice());
    let rc = unsafe { offload_gpu_buffer_read(d, b, 0, out.as_mut_ptr().cast(), bytes) };
    assert_eq!(rc, OFFLOAD_OK, "{}", last());
    out
}

/// An ML kernel's status on a backend: either it ran, or it is not implemented there
/// and says so by name (the trait's default). Returns whether it ran.
pub(super) fn ran(rc: i32, kernel: &str) -> bool {
    if rc == OFFLOAD_GPU_ERR_UNSUPPORTED {
        let msg = last();
        assert!(msg.contains(kernel), "{kernel}: {msg}");
        eprintln!("{kernel}: not on this backend yet ({msg}); result check skipped");
        return false;
    }
    assert_eq!(rc, OFFLOAD_OK, "{kernel}: {}", last());
    true
}
