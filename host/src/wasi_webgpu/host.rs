//! [`WebGpuHost`]: the engine (epoch interruption), the linker with wasi:webgpu and WASI
//! preview 2, the epoch ticker; [`WebGpuInstance`]: one component instance and calls into
//! it under the deadline.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use wasmtime::component::{Component, Instance, Linker, ResourceTable};
use wasmtime::{Config, Engine, Store};
use wasmtime_wasi::WasiCtxBuilder;

use super::state::Ctx;
use super::{bindings, Limits, WebGpuDevice, WebGpuState};
use crate::wasi_gpu::{Error, Result, TICK};

fn setup(e: impl std::fmt::Display) -> Error {
    Error::Setup(format!("{e:#}"))
}

/// Advances an engine's epoch every [`TICK`] until dropped.
struct Ticker {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Ticker {
    fn start(engine: Engine) -> Result<Ticker> {
        let stop = Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        let thread = std::thread::Builder::new()
            .name("wasi-webgpu-epoch".into())
            .spawn(move || {
                while !s.load(Ordering::Relaxed) {
                    std::thread::sleep(TICK);
                    engine.increment_epoch();
                }
            })
            .map_err(setup)?;
        Ok(Ticker {
            stop,
            thread: Some(thread),
        })
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

/// A host for wasi:webgpu components: engine, linker, shared [`WebGpuDevice`], [`Limits`].
pub struct WebGpuHost {
    engine: Engine,
    linker: Linker<WebGpuState>,
    device: Arc<WebGpuDevice>,
    limits: Limits,
    inherit_stdio: bool,
    _ticker: Ticker,
}

impl WebGpuHost {
    /// A host on `device` with `limits` for every instance.
    /// Errors: [`Error::Setup`] when the engine, linker or ticker cannot be made.
    pub fn new(device: Arc<WebGpuDevice>, limits: Limits) -> Result<WebGpuHost> {
        let mut config = Config::new();
        config
            .cranelift_opt_level(wasmtime::OptLevel::Speed)
            .wasm_component_model(true)
            .epoch_interruption(true);
        let engine = Engine::new(&config).map_err(setup)?;
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker).map_err(setup)?;
        bindings::Imports::add_to_linker::<_, wasmtime::component::HasSelf<WebGpuState>>(
            &mut linker,
            |s| s,
        )
        .map_err(setup)?;
        let ticker = Ticker::start(engine.clone())?;
        Ok(WebGpuHost {
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
    pub fn device(&self) -> &Arc<WebGpuDevice> {
        &self.device
    }

    /// The limits of every instance.
    pub fn limits(&self) -> Limits {
        self.limits
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

    /// Instantiates `component` in a fresh store with its own resource table, error
    /// scopes and quotas.
    /// Errors: [`Error::Setup`] (an import this host does not provide, a start trap).
    pub fn instantiate(&self, component: &Component) -> Result<WebGpuInstance> {
        let mut wasi = WasiCtxBuilder::new();
        if self.inherit_stdio {
            wasi.inherit_stdout().inherit_stderr();
        }
        let state = WebGpuState {
            table: ResourceTable::new(),
            wasi: wasi.build(),
            gpu: Ctx::new(self.device.clone(), self.limits),
        };
        let mut store = Store::new(&self.engine, state);
        let deadline = deadline_ticks(self.limits.deadline);
        store.set_epoch_deadline(deadline);
        store.epoch_deadline_trap();
        let instance = self
            .linker
            .instantiate(&mut store, component)
            .map_err(setup)?;
        Ok(WebGpuInstance {
            store,
            instance,
            deadline,
        })
    }
}

fn deadline_ticks(d: Duration) -> u64 {
    (d.as_nanos().div_ceil(TICK.as_nanos()) as u64).max(1)
}

/// One component instance with its own store, table, error scopes and quotas. Dropping it
/// releases every buffer it still holds.
pub struct WebGpuInstance {
    store: Store<WebGpuState>,
    instance: Instance,
    deadline: u64,
}

impl WebGpuInstance {
    /// Bytes of buffers this instance holds now (the byte quota's count).
    pub fn used_bytes(&self) -> u64 {
        self.store.data().gpu.used_bytes
    }

    /// Buffers this instance holds now (created, not destroyed or dropped).
    pub fn buffers(&self) -> usize {
        self.store.data().gpu.buffers()
    }

    /// wasi:webgpu objects this instance holds now (the object quota's count).
    pub fn objects(&self) -> u32 {
        self.store.data().gpu.objects
    }

    /// Errors raised outside any error scope the guest pushed: how many, and the
    /// messages of the last [`UNCAPTURED_KEPT`](super::UNCAPTURED_KEPT).
    pub fn uncaptured(&self) -> (u64, Vec<String>) {
        let g = &self.store.data().gpu;
        (g.uncaptured_count, g.uncaptured.iter().cloned().collect())
    }

    /// Calls a typed export `name` (e.g. `sum` as `(&[f32],) -> (Result<f32, String>,)`).
    /// Errors: [`Error::Invoke`] for a missing export or a type mismatch; [`Error::Trap`]
    /// (with `interrupted` for the epoch deadline).
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
        f.call(&mut self.store, params).map_err(|e| {
            let interrupted = matches!(
                e.downcast_ref::<wasmtime::Trap>(),
                Some(wasmtime::Trap::Interrupt)
            );
            Error::Trap {
                func: name.to_string(),
                message: format!("{e:#}"),
                interrupted,
            }
        })
    }
}
