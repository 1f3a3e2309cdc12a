//! [`WebGpuDevice`] (the wgpu adapter and device every instance shares) and the
//! per-instance [`Limits`].

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use offload_core::gpu::policy;
use offload_core::gpu::GpuError;

/// Largest WGSL source one `create-shader-module` takes, in bytes (larger: a validation
/// error, nothing compiled).
pub const MAX_WGSL_BYTES: usize = 1 << 20;

/// One wgpu adapter and device shared by all instances of a [`WebGpuHost`].
///
/// The device's uncaptured-error handler only counts ([`WebGpuDevice::stray_errors`]):
/// every host call runs inside wgpu error scopes, so a count above zero is a host bug, never
/// a panic.
///
/// [`WebGpuHost`]: super::WebGpuHost
pub struct WebGpuDevice {
    pub(super) device: wgpu::Device,
    pub(super) queue: wgpu::Queue,
    pub(super) info: wgpu::AdapterInfo,
    /// Serialises host calls on the device (wgpu's error scopes belong to the device).
    pub(super) lock: Mutex<()>,
    stray: Arc<AtomicU64>,
    pub(super) live_bytes: AtomicU64,
}

impl std::fmt::Debug for WebGpuDevice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebGpuDevice")
            .field("adapter", &self.info.name)
            .field("backend", &self.info.backend)
            .field("live_bytes", &self.live_bytes())
            .finish()
    }
}

fn unavailable(reason: String) -> GpuError {
    GpuError::BackendUnavailable {
        backend: "wgpu",
        reason,
    }
}

impl WebGpuDevice {
    /// Opens the first high-performance adapter of any native API (`WGPU_BACKEND` narrows
    /// the APIs, e.g. `vulkan`; on a machine without a GPU, Mesa's lavapipe) and a device
    /// with the adapter's own limits and no optional features, as offload-core's wgpu
    /// backend does.
    /// Errors: [`GpuError::BackendUnavailable`] with wgpu's reason (no adapter, no device,
    /// a panic while opening).
    pub fn open() -> Result<Arc<WebGpuDevice>, GpuError> {
        match std::panic::catch_unwind(Self::open_inner) {
            Ok(r) => r,
            Err(p) => Err(unavailable(format!(
                "panic while opening: {}",
                p.downcast_ref::<String>()
                    .map(String::as_str)
                    .or_else(|| p.downcast_ref::<&str>().copied())
                    .unwrap_or("(no message)")
            ))),
        }
    }

    fn open_inner() -> Result<Arc<WebGpuDevice>, GpuError> {
        let adapter = offload_core::gpu::wgpu::request_adapter()?;
        let info = adapter.get_info();
        let (device, queue) = pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor {
            label: Some("offload wasi:webgpu"),
            required_features: wgpu::Features::empty(),
            required_limits: adapter.limits(),
            ..Default::default()
        }))
        .map_err(|e| unavailable(format!("request_device on {}: {e}", info.name)))?;
        let stray = Arc::new(AtomicU64::new(0));
        let s = stray.clone();
        device.on_uncaptured_error(Arc::new(move |_e: wgpu::Error| {
            s.fetch_add(1, Ordering::SeqCst);
        }));
        Ok(Arc::new(WebGpuDevice {
            device,
            queue,
            info,
            lock: Mutex::new(()),
            stray,
            live_bytes: AtomicU64::new(0),
        }))
    }

    /// The adapter's name and API, e.g. `llvmpipe (LLVM 19.1.7, 256 bits) (Vulkan)`.
    pub fn name(&self) -> String {
        format!("{} ({:?})", self.info.name, self.info.backend)
    }

    /// Whether the adapter runs on the CPU (e.g. Mesa's lavapipe): timings then measure the
    /// CPU, not a GPU.
    pub fn is_software(&self) -> bool {
        self.info.device_type == wgpu::DeviceType::Cpu
    }

    /// The device's limits (what `gpu-device.limits` reports to guests).
    pub fn limits(&self) -> wgpu::Limits {
        self.device.limits()
    }

    /// Bytes of the buffers guests hold on this device now (not destroyed, not dropped),
    /// over all instances.
    pub fn live_bytes(&self) -> u64 {
        self.live_bytes.load(Ordering::SeqCst)
    }

    /// wgpu errors that escaped the host's error scopes (0 unless the host has a bug).
    pub fn stray_errors(&self) -> u64 {
        self.stray.load(Ordering::SeqCst)
    }

    /// Locks the device for one host call; a panic in another holder does not poison it
    /// for good (the lock guards no data).
    pub(super) fn enter(&self) -> MutexGuard<'_, ()> {
        self.lock.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Per-instance limits of a [`WebGpuHost`].
///
/// [`WebGpuHost`]: super::WebGpuHost
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Bytes of buffers one instance may hold at once (created, not destroyed or dropped);
    /// a `create-buffer` past it raises an out-of-memory error and returns an invalid
    /// buffer.
    pub max_bytes: u64,
    /// wasi:webgpu objects (of every resource type) one instance may hold at once; the
    /// call that would create one more traps the instance.
    pub max_objects: u32,
    /// Longest run of one export call before the guest is interrupted (epoch deadline,
    /// checked every [`TICK`](crate::wasi_gpu::TICK)). Work on the device is not
    /// interrupted: a `map-async` waits for the submitted work it maps.
    pub deadline: Duration,
}

impl Default for Limits {
    /// wasi:gpu's defaults (1 GiB, 60 s) and 65 536 objects.
    fn default() -> Self {
        Limits {
            max_bytes: policy::Quota::DEFAULT.max_bytes,
            max_objects: 65_536,
            deadline: Duration::from_millis(policy::DEFAULT_DEADLINE_MS),
        }
    }
}
