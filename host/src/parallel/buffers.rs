//! Buffers on the CPU device: handles for regions of the guest's linear memory.
//!
//! A buffer is created unbound (`create_buffer` only records its size in bytes and its
//! access). The first `write_buffer(data, len, buffer)` with `len == size` **binds** it
//! to `[data, data + size)`: no bytes move, kernels see that region. Any other write,
//! or a `parallel_for` over a buffer that is still unbound, places it in pages the host
//! grows the memory by, then copies. `read_buffer` from a buffer bound to the same region
//! copies nothing; otherwise it copies. `release_buffer` ends a handle for good (handles
//! are never reused); host-placed pages it held go back to the host's free list for the
//! next placement (linear memory cannot shrink).

use super::abi::{Access, Errno};
use super::context::Fault;

/// A byte range `[offset, offset + len)` of linear memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Region {
    /// First byte.
    pub offset: u32,
    /// Length in bytes.
    pub len: u32,
}

impl Region {
    /// One past the last byte.
    pub fn end(self) -> u64 {
        u64::from(self.offset) + u64::from(self.len)
    }

    /// Whether the two regions share a byte (empty regions share none).
    pub fn overlaps(self, other: Region) -> bool {
        self.len > 0
            && other.len > 0
            && u64::from(self.offset) < other.end()
            && u64::from(other.offset) < self.end()
    }
}

/// One buffer of the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Buffer {
    /// The device handle it was created on.
    pub device: u32,
    /// Size in bytes.
    pub size: u32,
    /// How kernels may use it.
    pub access: Access,
    /// Where it lives in linear memory, once bound or placed.
    pub region: Option<Region>,
}

/// The buffers of one guest, by handle (`1..=len`; 0 is never a handle, and a released
/// handle is never handed out again).
#[derive(Debug, Default)]
pub struct BufferTable {
    buffers: Vec<Option<Buffer>>,
    live: u32,
}

impl BufferTable {
    /// Adds a buffer and returns its handle; [`Errno::NoMemory`] when `max` buffers are
    /// live or every `u32` handle has been used.
    pub fn create(&mut self, buffer: Buffer, max: u32) -> Result<u32, Fault> {
        if self.live >= max || self.buffers.len() >= u32::MAX as usize {
            return Err(Fault::new(
                Errno::NoMemory,
                format!("buffer table full ({max} live buffers)"),
            ));
        }
        self.buffers.push(Some(buffer));
        self.live += 1;
        Ok(self.buffers.len() as u32)
    }

    fn slot(&mut self, handle: u32) -> Option<&mut Option<Buffer>> {
        handle
            .checked_sub(1)
            .and_then(|i| self.buffers.get_mut(i as usize))
    }

    /// The buffer of `handle`; [`Errno::BadHandle`] for a handle never created or
    /// released.
    pub fn get(&self, handle: u32) -> Result<Buffer, Fault> {
        handle
            .checked_sub(1)
            .and_then(|i| self.buffers.get(i as usize))
            .copied()
            .flatten()
            .ok_or_else(|| Fault::new(Errno::BadHandle, format!("no buffer {handle}")))
    }

    /// Binds or places `handle` at `region`.
    pub fn set_region(&mut self, handle: u32, region: Region) {
        if let Some(Some(b)) = self.slot(handle) {
            b.region = Some(region);
        }
    }

    /// Ends `handle` and returns what it was; [`Errno::BadHandle`] for a handle never
    /// created or already released.
    pub fn release(&mut self, handle: u32) -> Result<Buffer, Fault> {
        let b = self
            .slot(handle)
            .and_then(Option::take)
            .ok_or_else(|| Fault::new(Errno::BadHandle, format!("no buffer {handle}")))?;
        self.live -= 1;
        Ok(b)
    }

    /// Number of live buffers.
    pub fn live(&self) -> u32 {
        self.live
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlap_is_strict_and_ignores_empty_regions() {
        let r = |offset, len| Region { offset, len };
        assert!(r(0, 8).overlaps(r(4, 8)));
        assert!(!r(0, 8).overlaps(r(8, 8)));
        assert!(!r(0, 0).overlaps(r(0, 8)));
        assert!(r(16, 8).overlaps(r(0, 100)));
    }

    #[test]
    fn handles_start_at_one() {
        let mut t = BufferTable::default();
        let b = Buffer {
            device: 1,
            size: 8,
            access: Access::Read,
            region: None,
        };
        assert_eq!(t.create(b, 2).unwrap(), 1);
        assert_eq!(t.create(b, 2).unwrap(), 2);
        assert_eq!(t.create(b, 2).unwrap_err().errno, Errno::NoMemory);
        assert_eq!(t.get(0).unwrap_err().errno, Errno::BadHandle);
        assert_eq!(t.get(3).unwrap_err().errno, Errno::BadHandle);
    }

    #[test]
    fn released_handles_are_gone_for_good_and_free_a_slot() {
        let mut t = BufferTable::default();
        let b = Buffer {
            device: 1,
            size: 8,
            access: Access::Read,
            region: None,
        };
        let h1 = t.create(b, 1).unwrap();
        assert_eq!(t.create(b, 1).unwrap_err().errno, Errno::NoMemory);
        assert_eq!(t.release(h1).unwrap(), b);
        assert_eq!(t.live(), 0);
        assert_eq!(t.get(h1).unwrap_err().errno, Errno::BadHandle);
        assert_eq!(t.release(h1).unwrap_err().errno, Errno::BadHandle);
        assert_eq!(t.release(0).unwrap_err().errno, Errno::BadHandle);
        let h2 = t.create(b, 1).unwrap();
        assert_ne!(h2, h1, "a released handle was handed out again");
    }
}
