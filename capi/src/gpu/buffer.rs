//! Buffers: [`OffloadGpuBuffer`] handles owned by one device, created and destroyed, and
//! copies between host memory and a buffer or between two buffers. Sizes and offsets are in
//! bytes.

use super::device::with_device;
use super::*;
use crate::{guard, CapiError};
use std::ffi::c_void;

/// Handle of a device buffer, valid on the device that created it; 0 is the null handle.
pub type OffloadGpuBuffer = u64;

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

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::*;
    use crate::*;

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
}
