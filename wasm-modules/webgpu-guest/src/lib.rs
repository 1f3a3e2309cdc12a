//! The wasi:webgpu kernel guest (world `offload:webgpu-guest/kernels`,
//! `wasm-modules/wit/webgpu-guest`).
//!
//! It brings its own WGSL (`wgsl/`: `reduce.wgsl` for sum and dot, `mul.wgsl`,
//! `sgemm.wgsl`) and drives the GPU through the compute subset of `wasi:webgpu`
//! (`wasm-modules/wit/wasi-webgpu`): adapter, device, buffers, shader modules, compute
//! pipelines (layout `auto`, an override constant), bind groups, a command encoder and
//! compute pass, queue writes, a copy into a `map-read` buffer and a mapped read. Every
//! kernel call runs inside error scopes of all three kinds, so any wasi:webgpu error comes
//! back as the export's `err` with the host's message. The device and the pipelines are
//! made once per instance.
//!
//! `probe` runs the bad inputs of issue 16 (item 6) and reports what the guest saw, one
//! `key=value` per line; the host's tests (host/tests/wasi_webgpu.rs) assert on it.

use std::cell::RefCell;
use std::collections::HashMap;

use wasi::webgpu::webgpu as g;

wit_bindgen::generate!({
    path: ["../wit/wasi-webgpu", "../wit/webgpu-guest"],
    world: "offload:webgpu-guest/kernels",
    generate_all,
});

const REDUCE_WGSL: &str = include_str!("../wgsl/reduce.wgsl");
const MUL_WGSL: &str = include_str!("../wgsl/mul.wgsl");
const SGEMM_WGSL: &str = include_str!("../wgsl/sgemm.wgsl");

/// Invocations per workgroup of the vector kernels (their `@workgroup_size`).
const GROUP: u64 = 256;
/// Side of SGEMM's square tiles (its `@workgroup_size(16, 16)`).
const TILE: u32 = 16;

/// The kernels' pipelines: `sum` and `dot` share reduce.wgsl (override `DOT`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
enum Kernel {
    Sum,
    Dot,
    Mul,
    Sgemm,
}

/// The instance's device, its queue and limits, and the pipelines made so far.
struct Gpu {
    device: g::GpuDevice,
    queue: g::GpuQueue,
    max_groups: u32,
    max_binding: u64,
    pipelines: HashMap<Kernel, g::GpuComputePipeline>,
}

thread_local! {
    static GPU: RefCell<Option<Gpu>> = const { RefCell::new(None) };
}

fn open_device() -> Result<g::GpuDevice, String> {
    let adapter = g::get_gpu()
        .request_adapter(None)
        .ok_or("request-adapter: no adapter")?;
    adapter
        .request_device(None)
        .map_err(|e| format!("request-device: {:?}: {}", e.kind, e.message))
}

fn open() -> Result<Gpu, String> {
    let device = open_device()?;
    let limits = device.limits();
    Ok(Gpu {
        queue: device.queue(),
        max_groups: limits.max_compute_workgroups_per_dimension(),
        max_binding: limits.max_storage_buffer_binding_size(),
        device,
        pipelines: HashMap::new(),
    })
}

/// Runs `f` with the instance's device (opened on first use).
fn with_gpu<T>(f: impl FnOnce(&mut Gpu) -> Result<T, String>) -> Result<T, String> {
    GPU.with(|cell| {
        let mut slot = cell.borrow_mut();
        if slot.is_none() {
            *slot = Some(open()?);
        }
        f(slot.as_mut().expect("opened above"))
    })
}

/// The kind of a wasi:webgpu error as the probes report it (`validation-error`, ...).
fn kind_name(k: g::GpuErrorKind) -> &'static str {
    match k {
        g::GpuErrorKind::ValidationError => "validation-error",
        g::GpuErrorKind::OutOfMemoryError => "out-of-memory-error",
        g::GpuErrorKind::InternalError => "internal-error",
    }
}

/// Runs `f` inside error scopes of all three kinds: `f`'s error, else the first wasi:webgpu
/// error raised while it ran (as `<kind>: <message>`).
fn scoped<T>(d: &g::GpuDevice, f: impl FnOnce() -> Result<T, String>) -> Result<T, String> {
    d.push_error_scope(g::GpuErrorFilter::Validation);
    d.push_error_scope(g::GpuErrorFilter::OutOfMemory);
    d.push_error_scope(g::GpuErrorFilter::Internal);
    let r = f();
    let mut first = None;
    for _ in 0..3 {
        match d.pop_error_scope() {
            Ok(Some(e)) if first.is_none() => {
                first = Some(format!("{}: {}", kind_name(e.kind()), e.message()))
            }
            Ok(_) => {}
            Err(e) => return Err(format!("pop-error-scope: {}", e.message)),
        }
    }
    let v = r?;
    first.map_or(Ok(v), Err)
}

/// What one error scope of `filter` caught while `f` ran: the error's kind name, or
/// `none`.
fn caught(d: &g::GpuDevice, filter: g::GpuErrorFilter, f: impl FnOnce()) -> String {
    d.push_error_scope(filter);
    f();
    match d.pop_error_scope() {
        Ok(Some(e)) => kind_name(e.kind()).to_string(),
        Ok(None) => "none".to_string(),
        Err(e) => format!("pop-failed({})", e.message),
    }
}

impl Gpu {
    /// Makes the pipeline of `k` unless it exists.
    fn ensure(&mut self, k: Kernel) -> Result<(), String> {
        if self.pipelines.contains_key(&k) {
            return Ok(());
        }
        let (code, dot) = match k {
            Kernel::Sum => (REDUCE_WGSL, false),
            Kernel::Dot => (REDUCE_WGSL, true),
            Kernel::Mul => (MUL_WGSL, false),
            Kernel::Sgemm => (SGEMM_WGSL, false),
        };
        let module = self
            .device
            .create_shader_module(&shader(code, &format!("{k:?}")));
        let constants = matches!(k, Kernel::Sum | Kernel::Dot).then(|| {
            let c = g::RecordGpuPipelineConstantValue::new();
            c.add("DOT", if dot { 1.0 } else { 0.0 });
            c
        });
        let p = self
            .device
            .create_compute_pipeline_async(g::GpuComputePipelineDescriptor {
                compute: g::GpuProgrammableStage {
                    module: &module,
                    entry_point: Some("main".to_string()),
                    constants,
                },
                layout: g::GpuLayoutMode::Auto,
                label: Some(format!("{k:?}")),
            })
            .map_err(|e| format!("create-compute-pipeline {k:?}: {}", e.message))?;
        self.pipelines.insert(k, p);
        Ok(())
    }

    /// A buffer of `bytes` (at least 4) with `usage`.
    fn buffer(&self, bytes: u64, usage: g::GpuBufferUsage, label: &str) -> g::GpuBuffer {
        self.device.create_buffer(&g::GpuBufferDescriptor {
            size: bytes.max(4),
            usage,
            mapped_at_creation: None,
            label: Some(label.to_string()),
        })
    }

    /// A storage buffer holding `data` (copy-src too, for the probes).
    fn upload(&self, data: &[f32], label: &str) -> Result<g::GpuBuffer, String> {
        let bytes = std::mem::size_of_val(data) as u64;
        if bytes > self.max_binding {
            return Err(format!(
                "{label}: {bytes} bytes exceed the device's max-storage-buffer-binding-size {}",
                self.max_binding
            ));
        }
        let b = self.buffer(
            bytes,
            g::GpuBufferUsage::STORAGE | g::GpuBufferUsage::COPY_DST | g::GpuBufferUsage::COPY_SRC,
            label,
        );
        self.queue
            .write_buffer_with_copy(&b, 0, &f32_bytes(data), None, None)
            .map_err(|e| format!("write-buffer {label}: {}", e.message))?;
        Ok(b)
    }

    /// A 16-byte uniform buffer holding `words`.
    fn params(&self, words: &[u32]) -> Result<g::GpuBuffer, String> {
        let b = self.buffer(
            16,
            g::GpuBufferUsage::UNIFORM | g::GpuBufferUsage::COPY_DST,
            "params",
        );
        let mut bytes = vec![0u8; 16];
        for (i, w) in words.iter().enumerate() {
            bytes[4 * i..4 * i + 4].copy_from_slice(&w.to_le_bytes());
        }
        self.queue
            .write_buffer_with_copy(&b, 0, &bytes, None, None)
            .map_err(|e| format!("write-buffer params: {}", e.message))?;
        Ok(b)
    }

    /// A bind group of `buffers` at bindings 0.. of `k`'s group 0.
    fn bind(&self, k: Kernel, buffers: &[&g::GpuBuffer]) -> g::GpuBindGroup {
        let layout = self.pipelines[&k].get_bind_group_layout(0);
        bind_with(&self.device, &layout, buffers)
    }

    /// Dispatches `k` on `group` with `groups` workgroups, copies the first `out_len` f32 of
    /// `out` to a map-read buffer, submits, maps and reads them back.
    fn run(
        &self,
        k: Kernel,
        group: &g::GpuBindGroup,
        groups: (u32, u32),
        out: &g::GpuBuffer,
        out_len: usize,
    ) -> Result<Vec<f32>, String> {
        let bytes = 4 * out_len as u64;
        let readback = self.buffer(
            bytes,
            g::GpuBufferUsage::MAP_READ | g::GpuBufferUsage::COPY_DST,
            "readback",
        );
        let encoder = self.device.create_command_encoder(None);
        let pass = encoder.begin_compute_pass(None);
        pass.set_pipeline(&self.pipelines[&k]);
        pass.set_bind_group(0, Some(group), None, None, None)
            .map_err(|e| format!("set-bind-group: {}", e.message))?;
        pass.dispatch_workgroups(groups.0, Some(groups.1), None);
        pass.end();
        encoder.copy_buffer_to_buffer(out, Some(0), &readback, Some(0), Some(bytes));
        let commands = encoder.finish(None);
        self.queue.submit(&[&commands]);
        readback
            .map_async(g::GpuMapMode::READ, None, None)
            .map_err(|e| format!("map-async: {:?}: {}", e.kind, e.message))?;
        let raw = readback
            .get_mapped_range_get_with_copy(None, Some(bytes))
            .map_err(|e| format!("get-mapped-range: {}", e.message))?;
        readback
            .unmap()
            .map_err(|e| format!("unmap: {}", e.message))?;
        Ok(bytes_f32(&raw))
    }

    /// Workgroups for `n` elements of a grid-stride kernel, and the grid's stride.
    fn grid(&self, n: usize) -> (u32, u32) {
        let groups = (n as u64).div_ceil(GROUP).clamp(1, self.max_groups as u64) as u32;
        (groups, groups * GROUP as u32)
    }

    /// `n` as the kernels' u32 element count.
    fn count(n: usize) -> Result<u32, String> {
        u32::try_from(n).map_err(|_| format!("{n} elements (at most 2^32-1)"))
    }

    fn reduce(&mut self, k: Kernel, a: &[f32], b: Option<&[f32]>) -> Result<f32, String> {
        if a.is_empty() {
            return Ok(0.0);
        }
        let n = Self::count(a.len())?;
        self.ensure(k)?;
        scoped(&self.device, || {
            let (groups, stride) = self.grid(a.len());
            let ba = self.upload(a, "a")?;
            // sum binds `a` again where dot reads `b` (reduce.wgsl reads it only for DOT).
            let bb = match b {
                Some(b) => self.upload(b, "b")?,
                None => self.upload(&[0.0], "b (unused)")?,
            };
            let partials = self.buffer(
                4 * groups as u64,
                g::GpuBufferUsage::STORAGE | g::GpuBufferUsage::COPY_SRC,
                "partials",
            );
            let params = self.params(&[n, stride])?;
            let group = self.bind(k, &[&ba, &bb, &partials, &params]);
            let parts = self.run(k, &group, (groups, 1), &partials, groups as usize)?;
            Ok(parts.iter().fold(0.0f32, |s, x| s + x))
        })
    }

    fn mul(&mut self, a: &[f32], b: &[f32]) -> Result<Vec<f32>, String> {
        if a.is_empty() {
            return Ok(Vec::new());
        }
        let n = Self::count(a.len())?;
        self.ensure(Kernel::Mul)?;
        scoped(&self.device, || {
            let (groups, stride) = self.grid(a.len());
            let ba = self.upload(a, "a")?;
            let bb = self.upload(b, "b")?;
            let out = self.buffer(
                4 * a.len() as u64,
                g::GpuBufferUsage::STORAGE | g::GpuBufferUsage::COPY_SRC,
                "out",
            );
            let params = self.params(&[n, stride])?;
            let group = self.bind(Kernel::Mul, &[&ba, &bb, &out, &params]);
            self.run(Kernel::Mul, &group, (groups, 1), &out, a.len())
        })
    }

    fn sgemm(&mut self, m: u32, n: u32, k: u32, a: &[f32], b: &[f32]) -> Result<Vec<f32>, String> {
        let (mu, nu, ku) = (m as usize, n as usize, k as usize);
        if a.len() != mu * ku || b.len() != ku * nu {
            return Err(format!(
                "sgemm: A has {} elements (m·k = {}), B has {} (k·n = {})",
                a.len(),
                mu * ku,
                b.len(),
                ku * nu
            ));
        }
        if m == 0 || n == 0 {
            return Ok(Vec::new());
        }
        if k == 0 {
            return Ok(vec![0.0; mu * nu]);
        }
        let groups = (n.div_ceil(TILE), m.div_ceil(TILE));
        if groups.0 > self.max_groups || groups.1 > self.max_groups {
            return Err(format!(
                "sgemm: {groups:?} workgroups exceed the device's {} per dimension",
                self.max_groups
            ));
        }
        self.ensure(Kernel::Sgemm)?;
        scoped(&self.device, || {
            let ba = self.upload(a, "A")?;
            let bb = self.upload(b, "B")?;
            let c = self.buffer(
                4 * (mu * nu) as u64,
                g::GpuBufferUsage::STORAGE | g::GpuBufferUsage::COPY_SRC,
                "C",
            );
            let params = self.params(&[m, n, k, 0])?;
            let group = self.bind(Kernel::Sgemm, &[&ba, &bb, &c, &params]);
            self.run(Kernel::Sgemm, &group, groups, &c, mu * nu)
        })
    }
}

fn shader<'a>(code: &str, label: &str) -> g::GpuShaderModuleDescriptor<'a> {
    g::GpuShaderModuleDescriptor {
        code: code.to_string(),
        compilation_hints: None,
        label: Some(label.to_string()),
    }
}

fn bind_with(
    d: &g::GpuDevice,
    layout: &g::GpuBindGroupLayout,
    buffers: &[&g::GpuBuffer],
) -> g::GpuBindGroup {
    let entries = buffers
        .iter()
        .enumerate()
        .map(|(i, b)| g::GpuBindGroupEntry {
            binding: i as u32,
            resource: g::GpuBindingResource::GpuBuffer(b),
        })
        .collect();
    d.create_bind_group(&g::GpuBindGroupDescriptor {
        layout,
        entries,
        label: Some("group".to_string()),
    })
}

fn f32_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn bytes_f32(v: &[u8]) -> Vec<f32> {
    v.chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

mod probes;

struct Component;

impl Guest for Component {
    fn sum(a: Vec<f32>) -> Result<f32, String> {
        with_gpu(|g| g.reduce(Kernel::Sum, &a, None))
    }

    fn dot(a: Vec<f32>, b: Vec<f32>) -> Result<f32, String> {
        if a.len() != b.len() {
            return Err(format!("dot: lengths {} and {} differ", a.len(), b.len()));
        }
        with_gpu(|g| g.reduce(Kernel::Dot, &a, Some(&b)))
    }

    fn mul(a: Vec<f32>, b: Vec<f32>) -> Result<Vec<f32>, String> {
        if a.len() != b.len() {
            return Err(format!("mul: lengths {} and {} differ", a.len(), b.len()));
        }
        with_gpu(|g| g.mul(&a, &b))
    }

    fn sgemm(m: u32, n: u32, k: u32, a: Vec<f32>, b: Vec<f32>) -> Result<Vec<f32>, String> {
        with_gpu(|g| g.sgemm(m, n, k, &a, &b))
    }

    fn probe(name: String) -> Result<String, String> {
        with_gpu(|g| probes::run(g, &name))
    }
}

export!(Component);
