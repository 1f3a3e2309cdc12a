//! Host access to the one shared linear memory: bounds-checked byte regions, handle
//! arrays, copies, and host-placed regions grown at the end of memory.
//!
//! Every access here happens while no kernel runs (the main instance is inside an
//! import, the workers are idle), so the host is the only one touching the bytes; it
//! still goes through raw pointers, as [`SharedMemory::data`] requires.

use wasmtime::SharedMemory;

use super::abi::Errno;
use super::buffers::Region;
use super::context::Fault;

/// The shared linear memory of one guest (every instance imports it).
#[derive(Clone)]
pub struct GuestMemory {
    shared: SharedMemory,
}

impl std::fmt::Debug for GuestMemory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GuestMemory")
            .field("bytes", &self.len())
            .finish()
    }
}

/// Bytes in a wasm page.
pub const PAGE: u64 = 65536;

impl GuestMemory {
    /// Wraps a shared memory.
    pub fn new(shared: SharedMemory) -> Self {
        GuestMemory { shared }
    }

    /// The shared memory itself (to define it as every instance's import).
    pub fn shared(&self) -> &SharedMemory {
        &self.shared
    }

    /// Current size in bytes.
    pub fn len(&self) -> u64 {
        self.shared.data_size() as u64
    }

    /// Whether the memory has no pages.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// `[offset, offset + len)` as a region, if it lies inside memory; else
    /// [`Errno::Fault`] naming `what`.
    pub fn region(&self, offset: u32, len: u32, what: &str) -> Result<Region, Fault> {
        let end = u64::from(offset) + u64::from(len);
        if end > self.len() {
            return Err(Fault::new(
                Errno::Fault,
                format!(
                    "{what} [{offset}, {end}) is outside linear memory ({} bytes)",
                    self.len()
                ),
            ));
        }
        Ok(Region { offset, len })
    }

    fn base(&self) -> *mut u8 {
        self.shared.data().as_ptr() as *mut u8
    }

    /// Reads `count` little-endian `u32`s at `offset`.
    pub fn read_u32s(&self, offset: u32, count: u32, what: &str) -> Result<Vec<u32>, Fault> {
        let bytes = count
            .checked_mul(4)
            .ok_or_else(|| Fault::new(Errno::Fault, format!("{what}: {count} handles overflow")))?;
        let r = self.region(offset, bytes, what)?;
        let mut out = Vec::with_capacity(count as usize);
        for i in 0..count as usize {
            let mut b = [0u8; 4];
            // SAFETY: the region is inside memory (checked above); no kernel runs.
            unsafe {
                std::ptr::copy_nonoverlapping(
                    self.base().add(r.offset as usize + 4 * i),
                    b.as_mut_ptr(),
                    4,
                )
            };
            out.push(u32::from_le_bytes(b));
        }
        Ok(out)
    }

    /// Writes one little-endian `u32` at `offset` (an out-pointer of an import).
    pub fn write_u32(&self, offset: u32, value: u32, what: &str) -> Result<(), Fault> {
        self.write(offset, &value.to_le_bytes(), what)
    }

    /// Copies `bytes` into memory at `offset`.
    pub fn write(&self, offset: u32, bytes: &[u8], what: &str) -> Result<(), Fault> {
        let len = u32::try_from(bytes.len())
            .map_err(|_| Fault::new(Errno::Fault, format!("{what}: too long")))?;
        let r = self.region(offset, len, what)?;
        // SAFETY: the region is inside memory; `bytes` is host memory, so they don't overlap.
        unsafe {
            std::ptr::copy_nonoverlapping(
                bytes.as_ptr(),
                self.base().add(r.offset as usize),
                bytes.len(),
            )
        };
        Ok(())
    }

    /// Copies `len` bytes at `offset` out of memory.
    pub fn read(&self, offset: u32, len: u32, what: &str) -> Result<Vec<u8>, Fault> {
        let r = self.region(offset, len, what)?;
        let mut out = vec![0u8; len as usize];
        // SAFETY: the region is inside memory; `out` is host memory.
        unsafe {
            std::ptr::copy_nonoverlapping(
                self.base().add(r.offset as usize),
                out.as_mut_ptr(),
                len as usize,
            )
        };
        Ok(out)
    }

    /// Calls `f` with the bytes of `region` (checked by [`GuestMemory::region`]), in place:
    /// no copy. Only while no kernel runs, as everything here.
    pub fn with_bytes<R>(&self, region: Region, f: impl FnOnce(&[u8]) -> R) -> R {
        // SAFETY: the region is inside memory (it came from `region`, and memory never
        // shrinks); no kernel runs, so nothing else touches these bytes meanwhile.
        let bytes = unsafe {
            std::slice::from_raw_parts(self.base().add(region.offset as usize), region.len as usize)
        };
        f(bytes)
    }

    /// As [`GuestMemory::with_bytes`], writable.
    pub fn with_bytes_mut<R>(&self, region: Region, f: impl FnOnce(&mut [u8]) -> R) -> R {
        // SAFETY: as in `with_bytes`; `f` gets the only reference to these bytes.
        let bytes = unsafe {
            std::slice::from_raw_parts_mut(
                self.base().add(region.offset as usize),
                region.len as usize,
            )
        };
        f(bytes)
    }

    /// Copies `len` bytes from `src` to `dst` inside memory (regions may overlap).
    pub fn copy_within(&self, src: u32, dst: u32, len: u32) -> Result<(), Fault> {
        self.region(src, len, "source")?;
        self.region(dst, len, "destination")?;
        // SAFETY: both regions are inside memory; `copy` allows overlap.
        unsafe {
            std::ptr::copy(
                self.base().add(src as usize),
                self.base().add(dst as usize),
                len as usize,
            )
        };
        Ok(())
    }

    /// Grows memory by enough pages for `bytes` bytes and returns the new region's
    /// start: pages only the host hands out (the guest's allocator, which grows memory
    /// with `memory.grow` and uses what that returns, never sees them).
    pub fn grow_region(&self, bytes: u32) -> Result<Region, Fault> {
        let pages = u64::from(bytes).div_ceil(PAGE).max(1);
        let old = self.shared.grow(pages).map_err(|e| {
            Fault::new(
                Errno::NoMemory,
                format!("growing linear memory by {pages} pages: {e:#}"),
            )
        })?;
        let offset = old * PAGE;
        let offset = u32::try_from(offset)
            .map_err(|_| Fault::new(Errno::NoMemory, "region beyond 4 GiB of linear memory"))?;
        Ok(Region { offset, len: bytes })
    }
}
