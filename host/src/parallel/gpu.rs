//! The GPU device: kernels' WGSL (custom sections, [`super::section`]) run on wgpu.
//!
//! - **Buffers** are wgpu storage buffers (size rounded up to 4 bytes): `write_buffer`
//!   uploads the guest's bytes, `read_buffer` downloads into the guest's memory (copies,
//!   unlike the CPU device).
//! - **Kernels.** Kernel `k` is the WGSL of section `wasi-parallel-wgsl:k`, entry point
//!   `main`, compiled once per guest. Bindings of group 0: binding 0 a uniform
//!   `struct { num_threads: u32, block_size: u32, _pad: vec2<u32> }`, bindings 1.. the
//!   input buffers then the output buffers, in the order `parallel_for` lists them; every
//!   binding must be used by the shader (wgpu derives the layout from it). One invocation
//!   per `thread_id` = `global_invocation_id.x`, `ceil(num_threads / workgroup size)`
//!   workgroups (the size read from `@workgroup_size`), so the shader must ignore ids
//!   `>= num_threads`.
//! - **Errors.** No section for the kernel is [`Errno::NoSuchKernel`], WGSL that does
//!   not compile or bind is [`Errno::Gpu`], both naming the kernel. The deadline does not
//!   apply (a GPU dispatch cannot be interrupted).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::abi::Errno;
use super::context::Fault;
use super::section::workgroup_size;

/// Largest number of workgroups along x.
const MAX_GROUPS: u64 = 65535;

fn gpu_fault(message: impl Into<String>) -> Fault {
    Fault::new(Errno::Gpu, message)
}

/// A wgpu device with the guest's kernels and buffers.
pub struct GpuDevice {
    device: wgpu::Device,
    queue: wgpu::Queue,
    name: String,
    kernels: Arc<HashMap<u32, String>>,
    pipelines: HashMap<u32, wgpu::ComputePipeline>,
    buffers: HashMap<u32, (wgpu::Buffer, u64)>,
    params: wgpu::Buffer,
    /// Errors wgpu reported outside an error scope.
    uncaptured: Arc<Mutex<Vec<String>>>,
}

impl std::fmt::Debug for GpuDevice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GpuDevice")
            .field("name", &self.name)
            .finish()
    }
}

impl GpuDevice {
    /// Opens the first high-performance adapter (with `SHADER_F64` when it has it).
    ///
    /// # Errors
    /// Why there is no device (no adapter, no Vulkan loader, ...).
    pub fn open(kernels: Arc<HashMap<u32, String>>) -> Result<GpuDevice, String> {
        let instance =
            wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle_from_env());
        let adapter = pollster::block_on(instance.request_adapter(&wgpu::RequestAdapterOptions {
            power_preference: wgpu::PowerPreference::HighPerformance,
            force_fallback_adapter: false,
            compatible_surface: None,
            ..Default::default()
        }))
        .map_err(|e| format!("no wgpu adapter: {e}"))?;
        let info = adapter.get_info();
        let features = adapter.features() & wgpu::Features::SHADER_F64;
        let (device, queue) = pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor {
            label: Some("offload-parallel"),
            required_features: features,
            required_limits: adapter.limits(),
            ..Default::default()
        }))
        .map_err(|e| format!("request_device on {}: {e}", info.name))?;
        let uncaptured = Arc::new(Mutex::new(Vec::new()));
        let sink = uncaptured.clone();
        device.on_uncaptured_error(Arc::new(move |e: wgpu::Error| {
            if let Ok(mut v) = sink.lock() {
                v.push(e.to_string());
            }
        }));
        let params = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("parallel-params"),
            size: 16,
            usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        Ok(GpuDevice {
            device,
            queue,
            name: info.name,
            kernels,
            pipelines: HashMap::new(),
            buffers: HashMap::new(),
            params,
            uncaptured,
        })
    }

    /// The adapter's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Creates the device buffer of handle `handle`, `size` bytes.
    pub fn create(&mut self, handle: u32, size: u32) -> Result<(), Fault> {
        let scope = self.device.push_error_scope(wgpu::ErrorFilter::OutOfMemory);
        let bytes = u64::from(size).div_ceil(4).max(1) * 4;
        let buf = self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("parallel-buffer"),
            size: bytes,
            usage: wgpu::BufferUsages::STORAGE
                | wgpu::BufferUsages::COPY_SRC
                | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        if let Some(e) = pollster::block_on(scope.pop()) {
            return Err(Fault::new(
                Errno::NoMemory,
                format!("GPU buffer of {size} bytes: {e}"),
            ));
        }
        self.buffers.insert(handle, (buf, bytes));
        Ok(())
    }

    fn buffer(&self, handle: u32) -> Result<&(wgpu::Buffer, u64), Fault> {
        self.buffers
            .get(&handle)
            .ok_or_else(|| Fault::new(Errno::BadHandle, format!("no GPU buffer {handle}")))
    }

    /// Uploads `bytes` to the start of buffer `handle` (padded to 4 bytes with zeros).
    pub fn upload(&mut self, handle: u32, bytes: &[u8]) -> Result<(), Fault> {
        let (buf, _) = self.buffer(handle)?;
        if bytes.len().is_multiple_of(4) {
            self.queue.write_buffer(buf, 0, bytes);
        } else {
            let mut padded = bytes.to_vec();
            padded.resize(bytes.len().div_ceil(4) * 4, 0);
            self.queue.write_buffer(buf, 0, &padded);
        }
        Ok(())
    }

    /// Downloads the first `len` bytes of buffer `handle`.
    pub fn download(&mut self, handle: u32, len: u32) -> Result<Vec<u8>, Fault> {
        let (buf, _) = self.buffer(handle)?;
        let bytes = u64::from(len).div_ceil(4).max(1) * 4;
        let staging = self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("parallel-download"),
            size: bytes,
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let mut enc = self.device.create_command_encoder(&Default::default());
        enc.copy_buffer_to_buffer(buf, 0, &staging, 0, bytes);
        self.queue.submit([enc.finish()]);
        let done = Arc::new(Mutex::new(None));
        let d2 = done.clone();
        staging.slice(..).map_async(wgpu::MapMode::Read, move |r| {
            if let Ok(mut g) = d2.lock() {
                *g = Some(r);
            }
        });
        self.device
            .poll(wgpu::PollType::Wait {
                submission_index: None,
                timeout: None,
            })
            .map_err(|e| gpu_fault(format!("poll: {e}")))?;
        let mapped = done.lock().ok().and_then(|mut g| g.take());
        match mapped {
            Some(Ok(())) => {}
            Some(Err(e)) => return Err(gpu_fault(format!("map_async: {e}"))),
            None => return Err(gpu_fault("the download never mapped")),
        }
        let out = {
            let view = staging
                .slice(..)
                .get_mapped_range()
                .map_err(|e| gpu_fault(format!("mapped range: {e}")))?;
            view[..len as usize].to_vec()
        };
        staging.unmap();
        Ok(out)
    }

    fn pipeline(&mut self, kernel: u32) -> Result<(wgpu::ComputePipeline, u32), Fault> {
        let wgsl = self.kernels.get(&kernel).ok_or_else(|| {
            Fault::new(
                Errno::NoSuchKernel,
                format!(
                    "kernel {kernel} has no WGSL section (attach one with `offload attach-kernel --kernel {kernel}`)"
                ),
            )
        })?;
        let wg = workgroup_size(wgsl);
        if let Some(p) = self.pipelines.get(&kernel) {
            return Ok((p.clone(), wg));
        }
        let scope = self.device.push_error_scope(wgpu::ErrorFilter::Validation);
        let module = self
            .device
            .create_shader_module(wgpu::ShaderModuleDescriptor {
                label: Some("parallel-kernel"),
                source: wgpu::ShaderSource::Wgsl(wgsl.as_str().into()),
            });
        let p = self
            .device
            .create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                label: Some("parallel-kernel"),
                layout: None,
                module: &module,
                entry_point: Some("main"),
                compilation_options: Default::default(),
                cache: None,
            });
        if let Some(e) = pollster::block_on(scope.pop()) {
            return Err(gpu_fault(format!(
                "kernel {kernel}: its WGSL does not compile: {e}"
            )));
        }
        self.pipelines.insert(kernel, p.clone());
        Ok((p, wg))
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
        let (pipeline, wg) = self.pipeline(kernel)?;
        let groups = u64::from(num_threads).div_ceil(u64::from(wg));
        if groups > MAX_GROUPS {
            return Err(Fault::new(
                Errno::Threads,
                format!("kernel {kernel}: {groups} workgroups of {wg} (at most {MAX_GROUPS})"),
            ));
        }
        let mut params = [0u8; 16];
        params[..4].copy_from_slice(&num_threads.to_le_bytes());
        params[4..8].copy_from_slice(&block_size.to_le_bytes());
        self.queue.write_buffer(&self.params, 0, &params);
        let mut entries = vec![wgpu::BindGroupEntry {
            binding: 0,
            resource: self.params.as_entire_binding(),
        }];
        for (i, &h) in buffers.iter().enumerate() {
            entries.push(wgpu::BindGroupEntry {
                binding: i as u32 + 1,
                resource: self.buffer(h)?.0.as_entire_binding(),
            });
        }
        let scope = self.device.push_error_scope(wgpu::ErrorFilter::Validation);
        let group = self.device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("parallel-bind"),
            layout: &pipeline.get_bind_group_layout(0),
            entries: &entries,
        });
        let mut enc = self.device.create_command_encoder(&Default::default());
        {
            let mut pass = enc.begin_compute_pass(&Default::default());
            pass.set_pipeline(&pipeline);
            pass.set_bind_group(0, Some(&group), &[]);
            pass.dispatch_workgroups(groups as u32, 1, 1);
        }
        self.queue.submit([enc.finish()]);
        if let Some(e) = pollster::block_on(scope.pop()) {
            return Err(gpu_fault(format!(
                "kernel {kernel}: binding its {} buffers: {e}",
                buffers.len()
            )));
        }
        self.device
            .poll(wgpu::PollType::Wait {
                submission_index: None,
                timeout: None,
            })
            .map_err(|e| gpu_fault(format!("kernel {kernel}: poll: {e}")))?;
        self.take_uncaptured(kernel)
    }

    fn take_uncaptured(&self, kernel: u32) -> Result<(), Fault> {
        let mut v = self.uncaptured.lock().unwrap_or_else(|e| e.into_inner());
        if v.is_empty() {
            return Ok(());
        }
        let message = v.join("; ");
        v.clear();
        Err(gpu_fault(format!("kernel {kernel}: {message}")))
    }
}
