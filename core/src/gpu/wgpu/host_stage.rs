//! Upload staging buffers in host memory, for Vulkan devices.
//!
//! wgpu places a `MAP_WRITE` buffer in memory that is host-visible *and* device-local where
//! the device has it (gpu-allocator's `CpuToGpu` preference; on a data-center GPU the whole
//! BAR), so filling a mapping is CPU stores across PCIe. A buffer in plain host memory
//! (host-visible and coherent, not device-local) is filled at host-memory speed and then
//! read by the device's copy (`copy_buffer_to_buffer`) at DMA speed, as CUDA's pinned
//! staging is. wgpu has no usage flag that asks for that memory, so [`HostStage::new`]
//! makes the Vulkan buffer itself through wgpu's HAL interop (`Device::as_hal`, ash) and
//! hands it to wgpu with `create_buffer_from_hal` as a `COPY_SRC` buffer; the memory stays
//! mapped for the buffer's life and is freed by the drop callback wgpu runs when it
//! destroys the buffer (after the device is done with it).
//!
//! `OFFLOAD_WGPU_STAGING` ([`STAGING_ENV`]) picks `host` (the default: these buffers where
//! the device is Vulkan and has such memory) or `mapped` (wgpu's `MAP_WRITE` buffers
//! always), so that both can be timed on one machine.

use ash::vk;
use std::boxed::Box;
use std::format;
use std::string::{String, ToString};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Environment variable choosing the upload staging: `host` (default) or `mapped`.
pub const STAGING_ENV: &str = "OFFLOAD_WGPU_STAGING";

/// One host-memory staging buffer: a wgpu `COPY_SRC` buffer whose memory is mapped at
/// `ptr` for `len` bytes, and the completion flag of the last copy submitted from it.
pub(super) struct HostStage {
    pub(super) buf: wgpu::Buffer,
    ptr: usize,
    len: usize,
    /// Set by `Queue::on_submitted_work_done` once the last copy out of it has finished.
    pub(super) idle: Arc<AtomicBool>,
}

impl HostStage {
    /// A host-memory staging buffer of `len` bytes (on a device whose memory is all host
    /// memory, such as lavapipe, a host-visible coherent type of it), or the reason there is
    /// none: the device is not Vulkan, has no host-visible coherent memory outside device
    /// memory for a transfer source, or a Vulkan call fails; the caller then stages through
    /// wgpu's `MAP_WRITE` buffers and says so in its device info.
    pub(super) fn new(device: &wgpu::Device, len: u64) -> core::result::Result<Self, String> {
        // SAFETY: the HAL device is used only to create, bind and map one buffer and its
        // memory (all destroyed in the drop callback below, which wgpu runs once the device
        // no longer uses the buffer); nothing wgpu tracks is touched.
        unsafe {
            let hal = device
                .as_hal::<wgpu::hal::api::Vulkan>()
                .ok_or_else(|| "not a Vulkan device".to_string())?;
            let raw = hal.raw_device().clone();
            let props = hal
                .shared_instance()
                .raw_instance()
                .get_physical_device_memory_properties(hal.raw_physical_device());
            let info = vk::BufferCreateInfo::default()
                .size(len)
                .usage(vk::BufferUsageFlags::TRANSFER_SRC)
                .sharing_mode(vk::SharingMode::EXCLUSIVE);
            let vbuf = raw
                .create_buffer(&info, None)
                .map_err(|e| format!("vkCreateBuffer: {e}"))?;
            let req = raw.get_buffer_memory_requirements(vbuf);
            let want =
                vk::MemoryPropertyFlags::HOST_VISIBLE | vk::MemoryPropertyFlags::HOST_COHERENT;
            // Host memory outside the device's: the first such type; on a device whose
            // memory is all host memory (lavapipe, integrated GPUs: every type is
            // device-local) the first host-visible coherent type.
            let fits = |i: u32, local: bool| {
                let f = props.memory_types[i as usize].property_flags;
                req.memory_type_bits & (1 << i) != 0
                    && f.contains(want)
                    && (local || !f.contains(vk::MemoryPropertyFlags::DEVICE_LOCAL))
            };
            let n = props.memory_type_count;
            let host_only = (0..n).find(|&i| fits(i, false));
            let unified = (0..n).all(|i| {
                let f = props.memory_types[i as usize].property_flags;
                f.is_empty() || f.contains(vk::MemoryPropertyFlags::DEVICE_LOCAL)
            });
            let ty =
                host_only.or_else(|| unified.then(|| (0..n).find(|&i| fits(i, true))).flatten());
            let Some(ty) = ty else {
                raw.destroy_buffer(vbuf, None);
                return Err("no host-visible coherent memory outside device memory".into());
            };
            let alloc = vk::MemoryAllocateInfo::default()
                .allocation_size(req.size)
                .memory_type_index(ty);
            let mem = match raw.allocate_memory(&alloc, None) {
                Ok(m) => m,
                Err(e) => {
                    raw.destroy_buffer(vbuf, None);
                    return Err(format!("vkAllocateMemory of {} bytes: {e}", req.size));
                }
            };
            let free = {
                let raw = raw.clone();
                move || {
                    raw.destroy_buffer(vbuf, None);
                    raw.free_memory(mem, None);
                }
            };
            if let Err(e) = raw.bind_buffer_memory(vbuf, mem, 0) {
                free();
                return Err(format!("vkBindBufferMemory: {e}"));
            }
            let ptr = match raw.map_memory(mem, 0, vk::WHOLE_SIZE, vk::MemoryMapFlags::empty()) {
                Ok(p) => p as usize,
                Err(e) => {
                    free();
                    return Err(format!("vkMapMemory: {e}"));
                }
            };
            let hal_buf = wgpu::hal::vulkan::Buffer::from_raw_externally_owned(
                vbuf,
                Box::new(move || {
                    raw.unmap_memory(mem);
                    free();
                }),
            );
            drop(hal);
            let buf = device.create_buffer_from_hal::<wgpu::hal::api::Vulkan>(
                hal_buf,
                &wgpu::BufferDescriptor {
                    label: Some("stage-up-host"),
                    size: len,
                    usage: wgpu::BufferUsages::COPY_SRC,
                    mapped_at_creation: false,
                },
            );
            Ok(HostStage {
                buf,
                ptr,
                len: len as usize,
                idle: Arc::new(AtomicBool::new(true)),
            })
        }
    }

    /// Copies `src` to byte `0..src.len()` of the mapping ([`crate::par::copy_bytes_to`]:
    /// on several threads). The caller has waited for [`HostStage::is_idle`]. Panics if
    /// `src` is longer than the buffer (the caller chunks by the buffer's length).
    pub(super) fn fill(&self, src: &[u8]) {
        assert!(
            src.len() <= self.len,
            "staging chunk longer than the buffer"
        );
        // SAFETY: the mapping is `len` ≥ src.len() bytes, mapped for the buffer's life; no
        // copy out of it is in flight (the caller waited for `idle`) and nothing else
        // writes it.
        unsafe { crate::par::copy_bytes_to(self.ptr as *mut u8, src) }
    }

    /// Whether the last copy out of this buffer has finished.
    pub(super) fn is_idle(&self) -> bool {
        self.idle.load(Ordering::Acquire)
    }
}
