//! [`DeviceRead`]: the result of `buffer-read`, lowered by copying the device bytes straight
//! into the guest's list.
//!
//! wasmtime lowers a `Vec<u8>` result by calling the guest's `cabi_realloc` and copying the
//! vector into linear memory: for a read that means device → host vector → guest, and a
//! fresh host allocation (page faults) per call. `DeviceRead` lowers as a `list<u8>` itself
//! (`crate::guest_bytes`): the list's memory comes from `cabi_realloc` and the backend
//! copies device → guest memory in one step, so a read costs what the direct backend read
//! into a host slice costs. A backend failure during the copy (after the host already
//! checked handle, offset, size and quota) cannot become a `gpu-error` at that point and
//! traps the guest with the backend's message.

use std::sync::Arc;

use offload_core::gpu::BufferId;

use super::Device;
use crate::guest_bytes::lower_as_guest_bytes;

/// `len` bytes of device buffer `id` from byte `offset`, read when lowered into the guest
/// (see the module docs). Built by the host only after the range was checked.
pub struct DeviceRead {
    pub(super) device: Arc<Device>,
    pub(super) id: BufferId,
    pub(super) offset: u64,
    pub(super) len: usize,
}

impl DeviceRead {
    fn byte_len(&self) -> usize {
        self.len
    }

    /// Reads the range into `dst` (`len` bytes of the guest's list).
    fn fill(&self, dst: &mut [u8]) -> wasmtime::Result<()> {
        self.device
            .lock()
            .read(self.id, self.offset, dst)
            .map_err(|e| wasmtime::format_err!("buffer-read: {e}"))
    }
}

lower_as_guest_bytes!(DeviceRead);
