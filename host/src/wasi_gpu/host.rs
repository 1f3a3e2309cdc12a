//! [`GpuHost`]: the engine (epoch interruption), the linker with wasi:gpu and WASI
//! preview 2, the epoch ticker, and instantiating a component in its own store.

use std::collections::HashSet;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use wasmtime::component::{Component, Linker, ResourceTable};
use wasmtime::{Config, Engine, Store};
use wasmtime_wasi::WasiCtxBuilder;

use super::compute::add_zero_copy;
use super::device::GpuCtx;
use super::{bindings, setup, Device, Error, GpuInstance, GuestState, Limits, Result, TICK};

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
