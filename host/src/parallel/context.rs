//! [`Context`]: what the main instance's imports act on — the devices, the buffer
//! table, the worker pool — and the checks every call passes before anything runs.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use super::abi::{Access, DeviceKind, Errno};
use super::buffers::{Buffer, BufferTable, Region};
use super::cpu::{Job, Pool};
use super::gpu::GpuDevice;
use super::memory::GuestMemory;
use super::Options;

/// The handle `get_device` returns for the CPU device.
pub const CPU_DEVICE: u32 = 1;
/// The handle `get_device` returns for the GPU device (either GPU hint).
pub const GPU_DEVICE: u32 = 2;

/// A failed import call: the code the guest sees and a message for the host (kept as
/// [`super::ParallelGuest::last_error`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    /// The code returned to the guest.
    pub errno: Errno,
    /// What was wrong, for people.
    pub message: String,
}

impl Fault {
    /// A fault with its code and message.
    pub fn new(errno: Errno, message: impl Into<String>) -> Self {
        Fault {
            errno,
            message: message.into(),
        }
    }
}

impl std::fmt::Display for Fault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.errno, self.message)
    }
}

impl std::error::Error for Fault {}

/// The state behind the main instance's `wasi_ephemeral_parallel` imports.
pub struct Context {
    pub(crate) memory: GuestMemory,
    pub(crate) buffers: BufferTable,
    pub(crate) pool: Pool,
    pub(crate) options: Options,
    /// Host-owned regions (the workers' stacks) no buffer may touch.
    pub(crate) reserved: Vec<Region>,
    /// The deadline of the main instance's current export call (pushed back by the
    /// time spent in `parallel_for`).
    pub(crate) main_deadline: Instant,
    /// The kernels' WGSL by table index (the module's custom sections).
    pub(crate) kernels: Arc<HashMap<u32, String>>,
    /// The GPU device, opened at the first GPU `get_device`.
    pub(crate) gpu: Option<GpuDevice>,
    /// The host-grown region each host-placed CPU buffer occupies (its whole placement,
    /// which may be longer than the buffer).
    pub(crate) host_placed: HashMap<u32, Region>,
    /// Host-grown regions of released buffers, reused by the next placement that fits.
    pub(crate) free_regions: Vec<Region>,
    /// The last failed call, for the host.
    pub last_error: Option<Fault>,
}

impl Context {
    /// `get_device(hint, out_device)`.
    pub fn get_device(&mut self, hint: u32, out: u32) -> Result<(), Fault> {
        match DeviceKind::from_hint(hint) {
            Some(DeviceKind::Cpu) => self.memory.write_u32(out, CPU_DEVICE, "out_device"),
            Some(kind) => {
                self.memory.region(out, 4, "out_device")?;
                if self.gpu.is_none() {
                    let gpu = GpuDevice::open(self.kernels.clone()).map_err(|e| {
                        Fault::new(Errno::NoDevice, format!("no {kind:?} device: {e}"))
                    })?;
                    self.gpu = Some(gpu);
                }
                self.memory.write_u32(out, GPU_DEVICE, "out_device")
            }
            None => Err(Fault::new(
                Errno::Invalid,
                format!("device hint {hint} (expected 0 cpu, 1 discrete-gpu, 2 integrated-gpu)"),
            )),
        }
    }

    /// `create_buffer(device, size, access, out_buffer)`.
    pub fn create_buffer(
        &mut self,
        device: u32,
        size: u32,
        access: u32,
        out: u32,
    ) -> Result<(), Fault> {
        if device != CPU_DEVICE && (device != GPU_DEVICE || self.gpu.is_none()) {
            return Err(Fault::new(Errno::BadHandle, format!("no device {device}")));
        }
        let access = Access::from_raw(access).ok_or_else(|| {
            Fault::new(
                Errno::Invalid,
                format!("access {access} (expected 0 read, 1 write, 2 read-write)"),
            )
        })?;
        self.memory.region(out, 4, "out_buffer")?;
        let handle = self.buffers.create(
            Buffer {
                device,
                size,
                access,
                region: None,
            },
            self.options.max_buffers,
        )?;
        if let (GPU_DEVICE, Some(gpu)) = (device, self.gpu.as_mut()) {
            gpu.create(handle, size)?;
        }
        self.memory.write_u32(out, handle, "out_buffer")
    }

    fn check_free(&self, region: Region, what: &str) -> Result<(), Fault> {
        match self.reserved.iter().find(|r| r.overlaps(region)) {
            Some(r) => Err(Fault::new(
                Errno::Fault,
                format!(
                    "{what} [{}, {}) overlaps the host's worker stacks [{}, {})",
                    region.offset,
                    region.end(),
                    r.offset,
                    r.end()
                ),
            )),
            None => Ok(()),
        }
    }

    /// The region of `handle`, placing it in host-grown pages if still unbound (a freed
    /// host region that fits first, else new pages).
    fn placed(&mut self, handle: u32) -> Result<Region, Fault> {
        let b = self.buffers.get(handle)?;
        if let Some(r) = b.region {
            return Ok(r);
        }
        let whole = match self.free_regions.iter().position(|r| r.len >= b.size) {
            Some(i) => self.free_regions.swap_remove(i),
            None => self.memory.grow_region(b.size)?,
        };
        let r = Region {
            offset: whole.offset,
            len: b.size,
        };
        self.host_placed.insert(handle, whole);
        self.buffers.set_region(handle, r);
        Ok(r)
    }

    /// `release_buffer(buffer)`: ends the handle; a GPU buffer's device memory is freed,
    /// a host-placed CPU buffer's pages go back to the free list (a buffer bound to the
    /// guest's own data leaves that data alone).
    pub fn release_buffer(&mut self, handle: u32) -> Result<(), Fault> {
        let b = self.buffers.release(handle)?;
        if b.device == GPU_DEVICE {
            return self.gpu_mut()?.release(handle);
        }
        if let Some(r) = self.host_placed.remove(&handle) {
            self.free_regions.push(r);
        }
        Ok(())
    }

    /// `write_buffer(data, len, buffer)`: binds an unbound buffer to the data when
    /// `len == size` (no copy), else copies into the buffer's region.
    pub fn write_buffer(&mut self, data: u32, len: u32, handle: u32) -> Result<(), Fault> {
        let b = self.buffers.get(handle)?;
        let src = self.memory.region(data, len, "write_buffer data")?;
        self.check_free(src, "write_buffer data")?;
        if len > b.size {
            return Err(Fault::new(
                Errno::Access,
                format!(
                    "writing {len} bytes into buffer {handle} of {} bytes",
                    b.size
                ),
            ));
        }
        if b.device == GPU_DEVICE {
            let memory = self.memory.clone();
            let gpu = self.gpu_mut()?;
            return memory.with_bytes(src, |bytes| gpu.upload(handle, bytes));
        }
        if b.region.is_none() && len == b.size {
            self.buffers.set_region(handle, src);
            return Ok(());
        }
        let dst = self.placed(handle)?;
        if dst.offset != data {
            self.memory.copy_within(data, dst.offset, len)?;
        }
        Ok(())
    }

    /// `read_buffer(buffer, data, len)`: copies the buffer's first `len` bytes to the
    /// data region unless it is the buffer's own region.
    pub fn read_buffer(&mut self, handle: u32, data: u32, len: u32) -> Result<(), Fault> {
        let b = self.buffers.get(handle)?;
        let dst = self.memory.region(data, len, "read_buffer data")?;
        self.check_free(dst, "read_buffer data")?;
        if len > b.size {
            return Err(Fault::new(
                Errno::Access,
                format!(
                    "reading {len} bytes from buffer {handle} of {} bytes",
                    b.size
                ),
            ));
        }
        if b.device == GPU_DEVICE {
            let memory = self.memory.clone();
            let gpu = self.gpu_mut()?;
            return memory.with_bytes_mut(dst, |bytes| gpu.download(handle, bytes));
        }
        let src = self.placed(handle)?;
        if src.offset != data {
            self.memory.copy_within(src.offset, data, len)?;
        }
        Ok(())
    }

    /// `parallel_for(kernel, num_threads, block_size, ins, outs)`: checks everything,
    /// then runs the kernel on the worker pool and returns when every worker is done.
    pub fn parallel_for(
        &mut self,
        kernel: u32,
        num_threads: u32,
        block_size: u32,
        ins: (u32, u32),
        outs: (u32, u32),
    ) -> Result<(), Fault> {
        if num_threads == 0 || num_threads > self.options.max_threads {
            return Err(Fault::new(
                Errno::Threads,
                format!(
                    "num_threads {num_threads} (expected 1..={})",
                    self.options.max_threads
                ),
            ));
        }
        if block_size == 0 {
            return Err(Fault::new(Errno::Invalid, "block_size 0"));
        }
        let in_ids = self.memory.read_u32s(ins.0, ins.1, "in_buffers")?;
        let out_ids = self.memory.read_u32s(outs.0, outs.1, "out_buffers")?;
        for &id in &out_ids {
            let b = self.buffers.get(id)?;
            if b.access == Access::Read {
                return Err(Fault::new(
                    Errno::Access,
                    format!("buffer {id} is read-only but passed as an output"),
                ));
            }
        }
        let mut gpu_buffers = 0;
        for &id in in_ids.iter().chain(&out_ids) {
            gpu_buffers += usize::from(self.buffers.get(id)?.device == GPU_DEVICE);
        }
        if gpu_buffers > 0 {
            return self.gpu_parallel_for(
                kernel,
                num_threads,
                block_size,
                &in_ids,
                &out_ids,
                gpu_buffers,
            );
        }
        let mut in_regions = Vec::with_capacity(in_ids.len());
        for &id in &in_ids {
            in_regions.push((id, self.placed(id)?));
        }
        let mut out_regions = Vec::with_capacity(out_ids.len());
        for &id in &out_ids {
            out_regions.push((id, self.placed(id)?));
        }
        for &(id, r) in in_regions.iter().chain(&out_regions) {
            self.memory
                .region(r.offset, r.len, &format!("buffer {id}"))?;
            self.check_free(r, &format!("buffer {id}"))?;
        }
        for (i, &(oid, o)) in out_regions.iter().enumerate() {
            let others = in_regions.iter().chain(&out_regions[i + 1..]);
            if let Some(&(id, _)) = others.clone().find(|(_, r)| r.overlaps(o)) {
                return Err(Fault::new(
                    Errno::Overlap,
                    format!("output buffer {oid} overlaps buffer {id}"),
                ));
            }
        }
        let args = in_regions
            .iter()
            .chain(&out_regions)
            .flat_map(|(_, r)| [r.offset as i32, r.len as i32])
            .collect();
        let started = Instant::now();
        let job = Job::new(
            kernel,
            num_threads,
            block_size,
            args,
            started + self.options.deadline,
        );
        let result = self.pool.run(job);
        self.main_deadline += started.elapsed();
        result
    }

    fn gpu_mut(&mut self) -> Result<&mut GpuDevice, Fault> {
        self.gpu
            .as_mut()
            .ok_or_else(|| Fault::new(Errno::NoDevice, "the GPU device is not open"))
    }

    /// `parallel_for` on the GPU device: every buffer must be a GPU buffer, no output may
    /// also be an input or listed twice.
    fn gpu_parallel_for(
        &mut self,
        kernel: u32,
        num_threads: u32,
        block_size: u32,
        ins: &[u32],
        outs: &[u32],
        gpu_buffers: usize,
    ) -> Result<(), Fault> {
        if gpu_buffers != ins.len() + outs.len() {
            return Err(Fault::new(
                Errno::BadHandle,
                "parallel_for mixes CPU and GPU buffers",
            ));
        }
        for (i, o) in outs.iter().enumerate() {
            if ins.contains(o) || outs[i + 1..].contains(o) {
                return Err(Fault::new(
                    Errno::Overlap,
                    format!("output buffer {o} is also an input or another output"),
                ));
            }
        }
        let all: Vec<u32> = ins.iter().chain(outs).copied().collect();
        let started = Instant::now();
        let r = self.gpu_mut()?.run(kernel, num_threads, block_size, &all);
        self.main_deadline += started.elapsed();
        r
    }
}
