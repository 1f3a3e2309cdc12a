//! The Rust host of `wasi:gpu` 0.1.0 (`wasm-modules/wit/wasi-gpu`, world `ml-compute`) for
//! components, on wasmtime's component model.
//!
//! - [`Device`]: one [`offload_core::gpu::Backend`] shared by every guest instance of a host
//!   (behind a mutex: calls from several instances are serialised on the device), with a
//!   count of the device buffers the guests hold ([`Device::live_buffers`]).
//! - [`GpuHost`]: an engine with epoch interruption, a [`Linker`] with `wasi:gpu` (the
//!   `bindgen!` traits, implemented on [`GuestState`]) and WASI preview 2 (for components
//!   built for wasm32-wasip2, or wrapped with the preview1 adapter), the [`Limits`] of every
//!   instance, and a ticker thread that advances the epoch.
//! - [`GpuInstance`]: one component instance in its own [`Store`]: its own
//!   [`ResourceTable`] of buffers (a guest's handle is an index into it, so it cannot name
//!   another instance's buffer), its own quota counters; every buffer it still holds is
//!   destroyed on the device when it is dropped.
//!
//! Isolation: the canonical ABI traps on a handle the instance does not own (never
//! created, destroyed, forged), and on a pointer or length outside the guest's linear
//! memory; every offset, size and shape is checked by the backend and returned as a
//! `gpu-error`; quotas are checked before anything is allocated; a guest that runs past
//! [`Limits::deadline`] in one export call traps with an epoch interrupt. None of these
//! harm the host or other instances (a trapped instance cannot be entered again; drop it).
//!
//! Copies: `buffer-write` hands the backend a view of the guest's linear memory
//! (`WasmList<u8>`, no copy in the host); `buffer-read` lets the backend copy the device
//! bytes straight into the list the guest's `cabi_realloc` allocated ([`DeviceRead`]).
//! Both replace the `bindgen!` versions in the linker.

use std::collections::HashSet;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use offload_core::gpu::{
    Backend, BufferId, DType, ElementwiseOp, FindSplitArgs, ForestBuffers, GpuError,
    MatmulPrecision, ReduceOp,
};
use wasmtime::component::{
    Component, Instance, Linker, Resource, ResourceTable, Type, Val, WasmList,
};
use wasmtime::{Config, Engine, Store, StoreContextMut};
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

mod read;
pub use read::DeviceRead;

/// The `bindgen!` bindings of world `wasi:gpu/ml-compute`: `compute` and `ml-kernels`
/// (imports; every function trappable, so that a host-side failure to resolve a handle
/// traps the guest instead of panicking).
#[allow(missing_docs)]
pub mod bindings {
    wasmtime::component::bindgen!({
        path: "../wasm-modules/wit/wasi-gpu",
        world: "wasi:gpu/ml-compute",
        imports: { default: trappable },
        with: { "wasi:gpu/compute.buffer": crate::wasi_gpu::GpuBuffer },
    });
}

use bindings::wasi::gpu::compute::{self, GpuError as WitError};
use bindings::wasi::gpu::ml_kernels;

/// Name of the compute interface instance in a component's imports.
pub const COMPUTE_INTERFACE: &str = "wasi:gpu/compute@0.1.0";

/// Errors of the host (not of a guest's wasi:gpu call, which the guest gets as a
/// `gpu-error`).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The backend could not start or failed.
    #[error(transparent)]
    Gpu(#[from] GpuError),
    /// The file could not be read, or wasmtime rejected the component.
    #[error("cannot load component {path}: {message}")]
    Load {
        /// The file.
        path: String,
        /// Why.
        message: String,
    },
    /// Setting up the engine, linker or instance failed (e.g. an import the host lacks).
    #[error("{0}")]
    Setup(String),
    /// The component has no such export, or the arguments do not fit its type.
    #[error("invoke: {0}")]
    Invoke(String),
    /// The guest trapped (ABI violation, `unreachable`, epoch deadline); the instance
    /// cannot be entered again.
    #[error("guest trapped in {func}: {message}")]
    Trap {
        /// The export called.
        func: String,
        /// wasmtime's description with its causes.
        message: String,
        /// Whether the trap was the epoch deadline ([`Limits::deadline`]).
        interrupted: bool,
    },
}

/// Result of this module.
pub type Result<T, E = Error> = std::result::Result<T, E>;

fn setup(e: impl std::fmt::Display) -> Error {
    Error::Setup(format!("{e:#}"))
}

/// One backend shared by all instances of a [`GpuHost`], with the number of device buffers
/// guests hold on it.
pub struct Device {
    backend: Mutex<Backend>,
    info: offload_core::gpu::DeviceInfo,
    live: AtomicUsize,
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

impl Default for Limits {
    /// 1 GiB, 4096 buffers, 60 s.
    fn default() -> Self {
        Limits {
            max_bytes: 1 << 30,
            max_buffers: 4096,
            deadline: Duration::from_secs(60),
        }
    }
}

/// Period of the epoch ticker: the granularity of [`Limits::deadline`].
pub const TICK: Duration = Duration::from_millis(5);

/// What a guest's `buffer` resource stands for on the host: a backend buffer and its size.
#[derive(Debug)]
pub struct GpuBuffer {
    id: BufferId,
    bytes: u64,
}

/// The wasi:gpu state of one instance: its quota counters and the backend buffers it holds
/// (destroyed on drop).
struct GpuCtx {
    device: Arc<Device>,
    limits: Limits,
    used_bytes: u64,
    held: HashSet<BufferId>,
}

impl GpuCtx {
    fn release(&mut self, b: &GpuBuffer) -> std::result::Result<(), GpuError> {
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

/// The data of one instance's [`Store`]: its resource table (wasi:gpu buffers and WASI
/// resources), its WASI context (no preopens, no environment, stdio discarded unless
/// [`GpuHost::inherit_stdio`]), and its wasi:gpu state.
pub struct GuestState {
    table: ResourceTable,
    wasi: WasiCtx,
    gpu: GpuCtx,
}

impl WasiView for GuestState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// Maps a backend error onto the WIT `gpu-error` (message without the Rust prefix).
pub fn to_wit(e: GpuError) -> WitError {
    match e {
        GpuError::Unsupported(m) => WitError::Unsupported(m),
        GpuError::ShapeMismatch(m) => WitError::ShapeMismatch(m),
        GpuError::InvalidArgument(m) => WitError::InvalidArgument(m),
        GpuError::Device(m) => WitError::Device(m),
        GpuError::ZeroSize(m) => WitError::ZeroSize(m.to_string()),
        e @ GpuError::OutOfBounds { .. } => WitError::OutOfBounds(e.to_string()),
        e @ GpuError::TooLarge { .. } => WitError::TooLarge(e.to_string()),
        e @ GpuError::InvalidHandle(_) => WitError::InvalidArgument(e.to_string()),
        e @ GpuError::BackendUnavailable { .. } => WitError::Device(e.to_string()),
    }
}

/// The WIT case name and message of a `gpu-error` (`out-of-bounds`, ...).
pub fn describe(e: &WitError) -> (&'static str, &str) {
    match e {
        WitError::Unsupported(m) => ("unsupported", m),
        WitError::OutOfBounds(m) => ("out-of-bounds", m),
        WitError::ZeroSize(m) => ("zero-size", m),
        WitError::TooLarge(m) => ("too-large", m),
        WitError::ShapeMismatch(m) => ("shape-mismatch", m),
        WitError::InvalidArgument(m) => ("invalid-argument", m),
        WitError::QuotaExceeded(m) => ("quota-exceeded", m),
        WitError::Device(m) => ("device", m),
    }
}

type Wit<T> = wasmtime::Result<std::result::Result<T, WitError>>;

impl GuestState {
    /// The backend buffer behind a handle; the canonical ABI already trapped on a handle
    /// the instance does not own, so a miss here is a host bug, reported as a trap.
    fn id(&self, r: &Resource<GpuBuffer>) -> wasmtime::Result<BufferId> {
        Ok(self.table.get(r)?.id)
    }

    fn buffer(&self, r: &Resource<GpuBuffer>) -> wasmtime::Result<&GpuBuffer> {
        Ok(self.table.get(r)?)
    }

    fn create(&mut self, bytes: u64) -> Wit<Resource<GpuBuffer>> {
        let g = &mut self.gpu;
        if g.held.len() >= g.limits.max_buffers as usize {
            return Ok(Err(WitError::QuotaExceeded(format!(
                "this instance holds {} buffers, its quota is {}",
                g.held.len(),
                g.limits.max_buffers
            ))));
        }
        if bytes > g.limits.max_bytes - g.used_bytes {
            return Ok(Err(WitError::QuotaExceeded(format!(
                "{bytes} bytes asked with {} of the instance's {} bytes in use",
                g.used_bytes, g.limits.max_bytes
            ))));
        }
        let id = match g.device.lock().create_buffer(bytes) {
            Ok(id) => id,
            Err(e) => return Ok(Err(to_wit(e))),
        };
        g.device.live.fetch_add(1, Ordering::SeqCst);
        g.held.insert(id);
        g.used_bytes += bytes;
        match self.table.push(GpuBuffer { id, bytes }) {
            Ok(r) => Ok(Ok(r)),
            Err(e) => {
                let _ = self.gpu.release(&GpuBuffer { id, bytes });
                Err(e.into())
            }
        }
    }

    fn destroy(&mut self, r: Resource<GpuBuffer>) -> Wit<()> {
        let b = self.table.delete(r)?;
        Ok(self.gpu.release(&b).map_err(to_wit))
    }

    fn check_read(&self, r: &Resource<GpuBuffer>, offset: u64, bytes: u64) -> Wit<BufferId> {
        let b = self.buffer(r)?;
        if bytes > self.gpu.limits.max_bytes {
            return Ok(Err(WitError::QuotaExceeded(format!(
                "a read of {bytes} bytes is over the instance's quota of {} bytes",
                self.gpu.limits.max_bytes
            ))));
        }
        if bytes == 0 {
            return Ok(Err(WitError::ZeroSize("transfer of 0 bytes".into())));
        }
        if offset.checked_add(bytes).is_none_or(|end| end > b.bytes) {
            return Ok(Err(to_wit(GpuError::OutOfBounds {
                id: b.id,
                offset,
                bytes,
                size: b.bytes,
            })));
        }
        if bytes > u32::MAX as u64 {
            return Ok(Err(WitError::TooLarge(format!(
                "a read of {bytes} bytes does not fit a 32-bit linear memory"
            ))));
        }
        Ok(Ok(b.id))
    }

    fn with<T>(&self, f: impl FnOnce(&mut Backend) -> std::result::Result<T, GpuError>) -> Wit<T> {
        Ok(f(&mut self.gpu.device.lock()).map_err(to_wit))
    }
}

impl compute::HostBuffer for GuestState {
    fn drop(&mut self, r: Resource<GpuBuffer>) -> wasmtime::Result<()> {
        let b = self.table.delete(r)?;
        self.gpu
            .release(&b)
            .map_err(|e| wasmtime::format_err!("freeing a dropped buffer: {e}"))
    }
}

impl compute::Host for GuestState {
    fn buffer_create(&mut self, bytes: u64) -> Wit<Resource<GpuBuffer>> {
        self.create(bytes)
    }

    /// The linker replaces this with the zero-copy version ([`GpuHost`]); kept correct.
    fn buffer_write(&mut self, buf: Resource<GpuBuffer>, offset: u64, data: Vec<u8>) -> Wit<()> {
        let id = self.id(&buf)?;
        self.with(|b| b.write(id, offset, &data))
    }

    /// The linker replaces this with [`DeviceRead`]; kept correct.
    fn buffer_read(&mut self, buf: Resource<GpuBuffer>, offset: u64, bytes: u64) -> Wit<Vec<u8>> {
        let id = match self.check_read(&buf, offset, bytes)? {
            Ok(id) => id,
            Err(e) => return Ok(Err(e)),
        };
        let mut out = vec![0u8; bytes as usize];
        Ok(self.with(|b| b.read(id, offset, &mut out))?.map(|()| out))
    }

    fn buffer_copy(
        &mut self,
        src: Resource<GpuBuffer>,
        src_offset: u64,
        dst: Resource<GpuBuffer>,
        dst_offset: u64,
        bytes: u64,
    ) -> Wit<()> {
        let (s, d) = (self.id(&src)?, self.id(&dst)?);
        self.with(|b| b.copy(s, src_offset, d, dst_offset, bytes))
    }

    fn buffer_destroy(&mut self, buf: Resource<GpuBuffer>) -> Wit<()> {
        self.destroy(buf)
    }

    fn sync(&mut self) -> Wit<()> {
        self.with(|b| b.sync())
    }

    fn get_device_info(&mut self) -> Wit<compute::DeviceInfo> {
        let d = &self.gpu.device.info;
        Ok(Ok(compute::DeviceInfo {
            backend: d.backend.name().to_string(),
            name: d.name.clone(),
            driver: d.driver.clone(),
            memory_bytes: d.memory_bytes,
            max_buffer_bytes: d.max_buffer_bytes,
            supports_f64: d.supports_f64,
            supports_tf32: d.supports_tf32,
            is_software: d.is_software,
        }))
    }
}

fn dtype(d: ml_kernels::Dtype) -> DType {
    match d {
        ml_kernels::Dtype::F32 => DType::F32,
        ml_kernels::Dtype::F64 => DType::F64,
    }
}

impl ml_kernels::Host for GuestState {
    fn kernel_reduce(
        &mut self,
        op: ml_kernels::ReduceOp,
        dt: ml_kernels::Dtype,
        a: Resource<GpuBuffer>,
        n: u64,
    ) -> Wit<f64> {
        let a = self.id(&a)?;
        let op = match op {
            ml_kernels::ReduceOp::Sum => ReduceOp::Sum,
            ml_kernels::ReduceOp::Min => ReduceOp::Min,
            ml_kernels::ReduceOp::Max => ReduceOp::Max,
        };
        self.with(|b| b.reduce(op, dtype(dt), a, n))
    }

    fn kernel_elementwise(
        &mut self,
        op: ml_kernels::ElementwiseOp,
        dt: ml_kernels::Dtype,
        a: Resource<GpuBuffer>,
        b: Option<Resource<GpuBuffer>>,
        scalar: f64,
        out: Resource<GpuBuffer>,
        n: u64,
    ) -> Wit<()> {
        let a = self.id(&a)?;
        let b = b.map(|b| self.id(&b)).transpose()?;
        let out = self.id(&out)?;
        let op = match op {
            ml_kernels::ElementwiseOp::Mul => ElementwiseOp::Mul,
            ml_kernels::ElementwiseOp::Add => ElementwiseOp::Add,
            ml_kernels::ElementwiseOp::Scale => ElementwiseOp::Scale,
            ml_kernels::ElementwiseOp::Relu => ElementwiseOp::Relu,
        };
        self.with(|be| be.elementwise(op, dtype(dt), a, b, scalar, out, n))
    }

    fn kernel_matmul(
        &mut self,
        precision: ml_kernels::MatmulPrecision,
        a: Resource<GpuBuffer>,
        b: Resource<GpuBuffer>,
        c: Resource<GpuBuffer>,
        m: u32,
        k: u32,
        n: u32,
    ) -> Wit<()> {
        let (a, b, c) = (self.id(&a)?, self.id(&b)?, self.id(&c)?);
        let p = match precision {
            ml_kernels::MatmulPrecision::Fp32 => MatmulPrecision::Fp32,
            ml_kernels::MatmulPrecision::Tf32 => MatmulPrecision::Tf32,
        };
        self.with(|be| be.matmul(p, a, b, c, m as u64, k as u64, n as u64))
    }

    fn kernel_bootstrap_sample(
        &mut self,
        seed: u64,
        first_tree: u32,
        n_trees: u32,
        n_rows: u32,
        out: Resource<GpuBuffer>,
    ) -> Wit<()> {
        let out = self.id(&out)?;
        self.with(|b| b.bootstrap_sample(seed, first_tree, n_trees, n_rows, out))
    }

    #[allow(clippy::too_many_arguments)]
    fn kernel_find_split(
        &mut self,
        x: Resource<GpuBuffer>,
        y: Resource<GpuBuffer>,
        order: Resource<GpuBuffer>,
        weights: Resource<GpuBuffer>,
        node_of: Resource<GpuBuffer>,
        cand_rank: Resource<GpuBuffer>,
        out: Resource<GpuBuffer>,
        shape: ml_kernels::SplitShape,
    ) -> Wit<()> {
        let args = FindSplitArgs {
            x: self.id(&x)?,
            y: self.id(&y)?,
            order: self.id(&order)?,
            weights: self.id(&weights)?,
            node_of: self.id(&node_of)?,
            cand_rank: self.id(&cand_rank)?,
            out: self.id(&out)?,
            n_rows: shape.n_rows,
            d: shape.d,
            n_trees: shape.n_trees,
            n_nodes: shape.n_nodes,
            min_leaf: shape.min_leaf,
        };
        self.with(|b| b.find_split(&args))
    }

    fn kernel_average(
        &mut self,
        dt: ml_kernels::Dtype,
        preds: Resource<GpuBuffer>,
        n_trees: u32,
        n_rows: u32,
        out: Resource<GpuBuffer>,
    ) -> Wit<()> {
        let (p, o) = (self.id(&preds)?, self.id(&out)?);
        self.with(|b| b.average(dtype(dt), p, n_trees, n_rows, o))
    }

    #[allow(clippy::too_many_arguments)]
    fn kernel_batch_predict(
        &mut self,
        dt: ml_kernels::Dtype,
        feature: Resource<GpuBuffer>,
        threshold: Resource<GpuBuffer>,
        left: Resource<GpuBuffer>,
        right: Resource<GpuBuffer>,
        value: Resource<GpuBuffer>,
        tree_start: Resource<GpuBuffer>,
        shape: ml_kernels::ForestShape,
        x: Resource<GpuBuffer>,
        n_rows: u32,
        out: Resource<GpuBuffer>,
    ) -> Wit<()> {
        let forest = ForestBuffers {
            feature: self.id(&feature)?,
            threshold: self.id(&threshold)?,
            left: self.id(&left)?,
            right: self.id(&right)?,
            value: self.id(&value)?,
            tree_start: self.id(&tree_start)?,
            n_trees: shape.n_trees,
            n_nodes: shape.n_nodes,
            n_features: shape.n_features,
        };
        let (x, out) = (self.id(&x)?, self.id(&out)?);
        self.with(|b| b.batch_predict(dtype(dt), &forest, x, n_rows, out))
    }
}

/// Replaces `buffer-write` and `buffer-read` of the `bindgen!` linker entries with versions
/// that do not copy through a host `Vec` (see the module docs).
fn add_zero_copy(linker: &mut Linker<GuestState>) -> wasmtime::Result<()> {
    linker.allow_shadowing(true);
    let mut inst = linker.instance(COMPUTE_INTERFACE)?;
    inst.func_wrap(
        "buffer-write",
        |store: StoreContextMut<'_, GuestState>,
         (buf, offset, data): (Resource<GpuBuffer>, u64, WasmList<u8>)| {
            let state = store.data();
            let id = state.id(&buf)?;
            let bytes = data.as_le_slice(&store);
            let r = state.gpu.device.lock().write(id, offset, bytes);
            Ok((r.map_err(to_wit),))
        },
    )?;
    inst.func_wrap(
        "buffer-read",
        |store: StoreContextMut<'_, GuestState>,
         (buf, offset, bytes): (Resource<GpuBuffer>, u64, u64)| {
            let state = store.data();
            let r = state.check_read(&buf, offset, bytes)?.map(|id| DeviceRead {
                device: state.gpu.device.clone(),
                id,
                offset,
                len: bytes as usize,
            });
            Ok((r,))
        },
    )?;
    linker.allow_shadowing(false);
    Ok(())
}

/// Advances an engine's epoch every [`TICK`] until dropped.
struct Ticker {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Ticker {
    fn start(engine: Engine) -> Ticker {
        let stop = Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        let thread = std::thread::Builder::new()
            .name("wasi-gpu-epoch".into())
            .spawn(move || {
                while !s.load(Ordering::Relaxed) {
                    std::thread::sleep(TICK);
                    engine.increment_epoch();
                }
            })
            .expect("spawning the epoch ticker thread");
        Ticker {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Ticker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A host for wasi:gpu components: engine, linker, shared [`Device`], [`Limits`].
pub struct GpuHost {
    engine: Engine,
    linker: Linker<GuestState>,
    device: Arc<Device>,
    limits: Limits,
    inherit_stdio: bool,
    _ticker: Ticker,
}

impl GpuHost {
    /// A host on `device` with `limits` for every instance.
    /// Errors: [`Error::Setup`] when the engine or linker cannot be built.
    pub fn new(device: Arc<Device>, limits: Limits) -> Result<GpuHost> {
        let mut config = Config::new();
        config
            .cranelift_opt_level(wasmtime::OptLevel::Speed)
            .wasm_component_model(true)
            .epoch_interruption(true);
        let engine = Engine::new(&config).map_err(setup)?;
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker).map_err(setup)?;
        bindings::MlCompute::add_to_linker::<_, wasmtime::component::HasSelf<GuestState>>(
            &mut linker,
            |s| s,
        )
        .map_err(setup)?;
        add_zero_copy(&mut linker).map_err(setup)?;
        let ticker = Ticker::start(engine.clone());
        Ok(GpuHost {
            engine,
            linker,
            device,
            limits,
            inherit_stdio: false,
            _ticker: ticker,
        })
    }

    /// Lets guests write to this process's stdout/stderr (off by default: discarded).
    pub fn inherit_stdio(&mut self, on: bool) -> &mut Self {
        self.inherit_stdio = on;
        self
    }

    /// The shared device.
    pub fn device(&self) -> &Arc<Device> {
        &self.device
    }

    /// The limits of every instance.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// The engine (components must be compiled with it).
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Reads and compiles a component file.
    /// Errors: [`Error::Load`] (unreadable, not a component, invalid).
    pub fn load(&self, path: impl AsRef<Path>) -> Result<Component> {
        let path = path.as_ref();
        Component::from_file(&self.engine, path).map_err(|e| Error::Load {
            path: path.display().to_string(),
            message: format!("{e:#}"),
        })
    }

    /// Instantiates `component` in a fresh store with its own resource table and quotas.
    /// Errors: [`Error::Setup`] (an import this host does not provide, a start trap).
    pub fn instantiate(&self, component: &Component) -> Result<GpuInstance> {
        let mut wasi = WasiCtxBuilder::new();
        if self.inherit_stdio {
            wasi.inherit_stdout().inherit_stderr();
        }
        let state = GuestState {
            table: ResourceTable::new(),
            wasi: wasi.build(),
            gpu: GpuCtx {
                device: self.device.clone(),
                limits: self.limits,
                used_bytes: 0,
                held: HashSet::new(),
            },
        };
        let mut store = Store::new(&self.engine, state);
        store.set_epoch_deadline(deadline_ticks(self.limits.deadline));
        store.epoch_deadline_trap();
        let instance = self
            .linker
            .instantiate(&mut store, component)
            .map_err(setup)?;
        Ok(GpuInstance {
            store,
            instance,
            deadline: deadline_ticks(self.limits.deadline),
        })
    }
}

fn deadline_ticks(d: Duration) -> u64 {
    (d.as_nanos().div_ceil(TICK.as_nanos()) as u64).max(1)
}

/// One component instance with its own store, table and quotas.
pub struct GpuInstance {
    store: Store<GuestState>,
    instance: Instance,
    deadline: u64,
}

impl GpuInstance {
    /// Bytes of device memory this instance holds now.
    pub fn used_bytes(&self) -> u64 {
        self.store.data().gpu.used_bytes
    }

    /// Device buffers this instance holds now.
    pub fn buffers(&self) -> usize {
        self.store.data().gpu.held.len()
    }

    fn trap(func: &str, e: wasmtime::Error) -> Error {
        let interrupted = matches!(
            e.downcast_ref::<wasmtime::Trap>(),
            Some(wasmtime::Trap::Interrupt)
        );
        Error::Trap {
            func: func.to_string(),
            message: format!("{e:#}"),
            interrupted,
        }
    }

    /// Calls a typed export `name` (e.g. `run` as `() -> (Result<String, String>,)`).
    /// Errors: [`Error::Invoke`] for a missing export or a type mismatch, [`Error::Trap`].
    pub fn call<P, R>(&mut self, name: &str, params: P) -> Result<R>
    where
        P: wasmtime::component::ComponentNamedList + wasmtime::component::Lower + Send + Sync,
        R: wasmtime::component::ComponentNamedList + wasmtime::component::Lift + Send + Sync,
    {
        let f = self
            .instance
            .get_typed_func::<P, R>(&mut self.store, name)
            .map_err(|e| Error::Invoke(format!("export `{name}`: {e:#}")))?;
        self.store.set_epoch_deadline(self.deadline);
        let r = f
            .call(&mut self.store, params)
            .map_err(|e| Self::trap(name, e))?;
        Ok(r)
    }

    /// `run()` of the demo guest: `Ok(lines)` or the guest's `Err(message)`.
    pub fn run(&mut self) -> Result<std::result::Result<String, String>> {
        Ok(self
            .call::<(), (std::result::Result<String, String>,)>("run", ())?
            .0)
    }

    /// `probe(name, arg)` of the demo guest.
    pub fn probe(&mut self, name: &str, arg: u64) -> Result<std::result::Result<String, String>> {
        Ok(self
            .call::<(&str, u64), (std::result::Result<String, String>,)>("probe", (name, arg))?
            .0)
    }

    /// Invokes an export given as a WAVE function call, e.g. `run()`, `sum(1000)`,
    /// `matmul(256, false)`, `probe("oob-write", 0)`; returns the results in WAVE
    /// (`ok("...")`, `err("...")`, `1.5`), comma-separated when there are several, and
    /// whether the (single) result is a `result` in its `err` case.
    /// Errors: [`Error::Invoke`] (parse, missing export, argument types), [`Error::Trap`].
    pub fn invoke(&mut self, call: &str) -> Result<(String, bool)> {
        use wasmtime::component::wasm_wave;
        let parsed = wasm_wave::untyped::UntypedFuncCall::parse(call)
            .map_err(|e| Error::Invoke(format!("cannot parse {call:?}: {e}")))?;
        let name = parsed.name().to_string();
        let func = self
            .instance
            .get_func(&mut self.store, &name)
            .ok_or_else(|| Error::Invoke(format!("the component exports no function `{name}`")))?;
        let ty = func.ty(&self.store);
        let param_types: Vec<Type> = ty.params().map(|(_, t)| t).collect();
        let params: Vec<Val> = parsed
            .to_wasm_params::<Val>(param_types.iter())
            .map_err(|e| Error::Invoke(format!("arguments of `{name}`: {e}")))?;
        let mut results = vec![Val::Bool(false); ty.results().len()];
        self.store.set_epoch_deadline(self.deadline);
        func.call(&mut self.store, &params, &mut results)
            .map_err(|e| Self::trap(&name, e))?;
        let is_err = matches!(results.as_slice(), [Val::Result(Err(_))]);
        let text = results
            .iter()
            .map(|v| wasm_wave::to_string(v).map_err(|e| Error::Invoke(format!("{e}"))))
            .collect::<Result<Vec<_>>>()?
            .join(", ");
        Ok((text, is_err))
    }
}

/// `n` f32 uniform in [-1, 1), exactly as `wasi-gpu-guest`'s `seeded_f32` makes them in the
/// demo guest (xorshift32, Marsaglia 2003, shifts 13/17/5; value `(x >> 8)·2^-23 − 1`), so
/// that the host can check the guest's answers.
pub fn seeded_f32(seed: u32, n: usize) -> Vec<f32> {
    let mut x = if seed == 0 { 1 } else { seed };
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            (x >> 8) as f32 * (1.0 / (1u32 << 23) as f32) - 1.0
        })
        .collect()
}

/// Wraps a wasm32-wasip1 core module that carries wit-bindgen's `component-type` custom
/// section into a component, adapting its `wasi_snapshot_preview1` imports with the
/// preview1 **reactor** adapter of wasmtime's release (crate
/// `wasi-preview1-component-adapter-provider`), and validates the result.
/// Errors: [`Error::Setup`] with wit-component's message (no component-type section, an
/// import the world does not declare, ...).
pub fn componentize(core: &[u8]) -> Result<Vec<u8>> {
    use wasi_preview1_component_adapter_provider::{
        WASI_SNAPSHOT_PREVIEW1_ADAPTER_NAME, WASI_SNAPSHOT_PREVIEW1_REACTOR_ADAPTER,
    };
    let component = wit_component::ComponentEncoder::default()
        .module(core)
        .map_err(setup)?
        .adapter(
            WASI_SNAPSHOT_PREVIEW1_ADAPTER_NAME,
            WASI_SNAPSHOT_PREVIEW1_REACTOR_ADAPTER,
        )
        .map_err(setup)?
        .validate(true)
        .encode()
        .map_err(setup)?;
    Ok(component)
}
