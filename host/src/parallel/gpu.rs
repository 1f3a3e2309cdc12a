//! The GPU device: kernels' WGSL (custom sections, [`super::section`]) run on offload-core's
//! wgpu backend ([`WgpuBackend`]), the one the `gpu-wgpu` path uses, so buffers, staged
//! transfers and waits are the same code.
//!
//! - **Buffers** are backend buffers (size rounded up to 4 bytes by the backend):
//!   `write_buffer` uploads the guest's bytes straight from linear memory, `read_buffer`
//!   downloads straight into it (one copy each way, through the backend's staging
//!   buffers; unlike the CPU device, which does not copy).
//! - **Kernels.** Kernel `k` is the WGSL of section `wasi-parallel-wgsl:k`, entry point
//!   `main`, compiled once per guest ([`WgpuBackend::dispatch_wgsl`]). Bindings of group 0:
//!   binding 0 a uniform `struct { num_threads: u32, block_size: u32, _pad: vec2<u32> }`,
//!   bindings 1.. the input buffers then the output buffers, in the order `parallel_for`
//!   lists them; every binding must be used by the shader (wgpu derives the layout from
//!   it). One invocation per `thread_id` = `global_invocation_id.x`,
//!   `ceil(num_threads / workgroup size)` workgroups (the size read from
//!   `@workgroup_size`), so the shader must ignore ids `>= num_threads`.
//! - **Errors.** No section for the kernel is [`Errno::NoSuchKernel`]; WGSL that does not
//!   compile or bind, and device failures, are [`Errno::Gpu`], naming the kernel; a buffer
//!   the device cannot allocate is [`Errno::NoMemory`]. The deadline does not apply (a GPU
//!   dispatch cannot be interrupted).

use std::collections::HashMap;
use std::sync::Arc;

use offload_core::gpu::wgpu::WgpuBackend;
use offload_core::gpu::{BufferId, GpuBackend, GpuError};

use super::abi::Errno;
use super::context::Fault;
use super::section::workgroup_size;

/// Largest number of workgroups along x.
const MAX_GROUPS: u64 = 65535;

fn gpu_fault(what: &str, e: GpuError) -> Fault {
    Fault::new(Errno::Gpu, format!("{what}: {e}"))
}

/// The wgpu backend with the guest's kernels and buffers.
pub struct GpuDevice {
    backend: WgpuBackend,
    kernels: Arc<HashMap<u32, String>>,
    /// The backend buffer of each GPU buffer handle.
    buffers: HashMap<u32, BufferId>,
}

impl std::fmt::Debug for GpuDevice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GpuDevice")
            .field("name", &self.name())
            .finish()
    }
}

impl GpuDevice {
    /// Opens offload-core's wgpu backend (the first high-performance adapter, with
    /// `SHADER_F64` when it has it).
    ///
    /// # Errors
    /// Why there is no device (no adapter, no Vulkan loader, ...).
    pub fn open(kernels: Arc<HashMap<u32, String>>) -> Result<GpuDevice, String> {
        let backend = WgpuBackend::new().map_err(|e| e.to_string())?;
        Ok(GpuDevice {
            backend,
            kernels,
            buffers: HashMap::new(),
        })
    }

    /// The adapter's name.
    pub fn name(&self) -> &str {
        &self.backend.info().name
    }

    /// Creates the device buffer of handle `handle`, `size` bytes (at least 4).
    pub fn create(&mut self, handle: u32, size: u32) -> Result<(), Fault> {
        let id = self
            .backend
            .create_buffer(u64::from(size).max(4))
            .map_err(|e| Fault::new(Errno::NoMemory, format!("GPU buffer of {size} bytes: {e}")))?;
        self.buffers.insert(handle, id);
        Ok(())
    }

    /// Frees the device buffer of `handle` (nothing when it has none).
    pub fn release(&mut self, handle: u32) -> Result<(), Fault> {
        match self.buffers.remove(&handle) {
            Some(id) => self
                .backend
                .destroy_buffer(id)
                .map_err(|e| gpu_fault(&format!("releasing GPU buffer {handle}"), e)),
            None => Ok(()),
        }
    }

    fn buffer(&self, handle: u32) -> Result<BufferId, Fault> {
        self.buffers
            .get(&handle)
            .copied()
            .ok_or_else(|| Fault::new(Errno::BadHandle, format!("no GPU buffer {handle}")))
    }

    /// Uploads `bytes` to the start of buffer `handle` (nothing for an empty slice).
    pub fn upload(&mut self, handle: u32, bytes: &[u8]) -> Result<(), Fault> {
        let id = self.buffer(handle)?;
        if bytes.is_empty() {
            return Ok(());
        }
        self.backend
            .write(id, 0, bytes)
            .map_err(|e| gpu_fault(&format!("writing GPU buffer {handle}"), e))
    }

    /// Downloads the first `out.len()` bytes of buffer `handle` into `out`.
    pub fn download(&mut self, handle: u32, out: &mut [u8]) -> Result<(), Fault> {
        let id = self.buffer(handle)?;
        if out.is_empty() {
            return Ok(());
        }
        self.backend
            .read(id, 0, out)
            .map_err(|e| gpu_fault(&format!("reading GPU buffer {handle}"), e))
    }

    /// Runs kernel `kernel` over `num_threads` ids with `buffers` (inputs then outputs)
    /// bound at 1.., and waits for it.
    pub fn run(
        &mut self,
        kernel: u32,
        num_threads: u32,
        block_size: u32,
        buffers: &[u32],
    ) -> Result<(), Fault> {
        let kernels = self.kernels.clone();
        let wgsl = kernels.get(&kernel).ok_or_else(|| {
            Fault::new(
                Errno::NoSuchKernel,
                format!(
                    "kernel {kernel} has no WGSL section (attach one with `offload attach-kernel --kernel {kernel}`)"
                ),
            )
        })?;
        let wg = workgroup_size(wgsl);
        let groups = u64::from(num_threads).div_ceil(u64::from(wg));
        if groups > MAX_GROUPS {
            return Err(Fault::new(
                Errno::Threads,
                format!("kernel {kernel}: {groups} workgroups of {wg} (at most {MAX_GROUPS})"),
            ));
        }
        let ids = buffers
            .iter()
            .map(|&h| self.buffer(h))
            .collect::<Result<Vec<_>, _>>()?;
        let mut params = [0u8; 16];
        params[..4].copy_from_slice(&num_threads.to_le_bytes());
        params[4..8].copy_from_slice(&block_size.to_le_bytes());
        self.backend
            .dispatch_wgsl(&kernel.to_string(), wgsl, params, &ids, groups as u32)
            .map_err(|e| match e {
                GpuError::Device(m) if m.starts_with("shader ") => Fault::new(
                    Errno::Gpu,
                    format!("kernel {kernel}: its WGSL does not compile: {m}"),
                ),
                e => gpu_fault(&format!("kernel {kernel}"), e),
            })
    }
}
