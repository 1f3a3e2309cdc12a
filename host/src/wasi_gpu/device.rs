//! [`Device`] (the backend shared by every instance), the per-instance [`Limits`], and the
//! per-instance wasi:gpu state behind them: the buffers an instance holds and its quota
//! counters.

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use offload_core::gpu::policy::{self, Quota};
use offload_core::gpu::{Backend, BufferId, GpuError};

/// One backend shared by all instances of a [`GpuHost`], with the number of device buffers
/// guests hold on it.
///
/// [`GpuHost`]: super::GpuHost
pub struct Device {
    backend: Mutex<Backend>,
    pub(super) info: offload_core::gpu::DeviceInfo,
    pub(super) live: AtomicUsize,
}

impl std::fmt::Debug for Device {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Device")
            .field("info", &self.info)
            .field("live_buffers", &self.live_buffers())
            .finish()
    }
}

impl Device {
    /// Opens the backend named `cpu`, `wgpu`, `cuda` or `auto` ([`Backend::open`]).
    /// Errors: [`GpuError::BackendUnavailable`] with the reason.
    pub fn open(name: &str) -> Result<Arc<Device>, GpuError> {
        Ok(Device::new(Backend::open(name)?))
    }

    /// Wraps an open backend.
    pub fn new(backend: Backend) -> Arc<Device> {
        let info = backend.info().clone();
        Arc::new(Device {
            backend: Mutex::new(backend),
            info,
            live: AtomicUsize::new(0),
        })
    }

    /// The device of the backend.
    pub fn info(&self) -> &offload_core::gpu::DeviceInfo {
        &self.info
    }

    /// Device buffers created through wasi:gpu and not yet destroyed, over all instances.
    pub fn live_buffers(&self) -> usize {
        self.live.load(Ordering::SeqCst)
    }

    /// Locks the backend (for direct use next to guests, e.g. the benchmarks' direct path).
    /// A panic in another holder does not poison it for good: backends keep no state a
    /// panic can tear (they catch their own panics at their boundary).
    pub fn lock(&self) -> MutexGuard<'_, Backend> {
        self.backend.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Per-instance limits of a [`GpuHost`].
///
/// [`GpuHost`]: super::GpuHost
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Device bytes one instance may hold at once (and the largest `buffer-read`).
    pub max_bytes: u64,
    /// Device buffers one instance may hold at once.
    pub max_buffers: u32,
    /// Longest run of one export call before the guest is interrupted (epoch deadline,
    /// checked every [`TICK`], so the trap comes within `deadline + TICK`).
    pub deadline: Duration,
}

impl Limits {
    /// The quota part of the limits, as offload-core's wasi:gpu policy takes it.
    pub fn quota(&self) -> Quota {
        Quota {
            max_buffers: self.max_buffers,
            max_bytes: self.max_bytes,
        }
    }
}

impl Default for Limits {
    /// The wasi:gpu policy's defaults: [`Quota::DEFAULT`] (4096 buffers, 1 GiB) and
    /// [`policy::DEFAULT_DEADLINE_MS`] (60 s).
    fn default() -> Self {
        Limits {
            max_bytes: Quota::DEFAULT.max_bytes,
            max_buffers: Quota::DEFAULT.max_buffers,
            deadline: Duration::from_millis(policy::DEFAULT_DEADLINE_MS),
        }
    }
}

/// Period of the epoch ticker: the granularity of [`Limits::deadline`].
pub const TICK: Duration = Duration::from_millis(5);

/// What a guest's `buffer` resource stands for on the host: a backend buffer and its size.
#[derive(Debug)]
pub struct GpuBuffer {
    pub(super) id: BufferId,
    pub(super) bytes: u64,
}

/// The wasi:gpu state of one instance: its quota counters and the backend buffers it holds
/// (destroyed on drop).
pub(super) struct GpuCtx {
    pub(super) device: Arc<Device>,
    pub(super) limits: Limits,
    pub(super) used_bytes: u64,
    pub(super) held: HashSet<BufferId>,
}

impl GpuCtx {
    pub(super) fn release(&mut self, b: &GpuBuffer) -> std::result::Result<(), GpuError> {
        self.held.remove(&b.id);
        self.used_bytes -= b.bytes;
        let r = self.device.lock().destroy_buffer(b.id);
        if r.is_ok() {
            self.device.live.fetch_sub(1, Ordering::SeqCst);
        }
        r
    }
}

impl Drop for GpuCtx {
    fn drop(&mut self) {
        if self.held.is_empty() {
            return;
        }
        let mut backend = self.device.lock();
        for id in self.held.drain() {
            if backend.destroy_buffer(id).is_ok() {
                self.device.live.fetch_sub(1, Ordering::SeqCst);
            }
        }
    }
}
