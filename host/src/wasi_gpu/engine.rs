//! What the wasi:gpu and wasi:webgpu hosts share: [`Runtime`] (the engine with epoch
//! interruption, a linker with WASI preview 2, loading a component, instantiating it in a
//! fresh store under the deadline), the epoch [`Ticker`], and calling a typed export under
//! the deadline.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use wasmtime::component::{Component, Instance, Linker};
use wasmtime::{Config, Engine, Store};
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiView};

use super::{setup, Error, Result, TICK};

/// Advances an engine's epoch every [`TICK`] until dropped.
pub(crate) struct Ticker {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Ticker {
    /// Starts the ticker thread (named `name`) for `engine`.
    /// Errors: the thread could not be spawned.
    pub(crate) fn start(engine: Engine, name: &str) -> std::io::Result<Ticker> {
        let stop = Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        let thread = std::thread::Builder::new()
            .name(name.into())
            .spawn(move || {
                while !s.load(Ordering::Relaxed) {
                    std::thread::sleep(TICK);
                    engine.increment_epoch();
                }
            })?;
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

/// An engine for components (Cranelift optimised for speed, epoch interruption), its epoch
/// [`Ticker`] and a linker of `T`'s imports (WASI preview 2 and the host's own): what a host
/// needs to load components and instantiate them, each in a fresh store.
pub(crate) struct Runtime<T: 'static> {
    pub(crate) engine: Engine,
    linker: Linker<T>,
    /// Whether guests write to this process's stdout/stderr (else discarded).
    pub(crate) inherit_stdio: bool,
    _ticker: Ticker,
}

impl<T: WasiView + 'static> Runtime<T> {
    /// The engine, its epoch ticker (a thread named `ticker`), and a linker with WASI
    /// preview 2 (synchronous) to which `add_imports` adds the host's own imports.
    /// Errors: [`Error::Setup`] when wasmtime cannot build the engine or link an import, or
    /// the ticker thread cannot be spawned.
    pub(crate) fn new(
        ticker: &str,
        add_imports: impl FnOnce(&mut Linker<T>) -> wasmtime::Result<()>,
    ) -> Result<Runtime<T>> {
        let mut config = Config::new();
        config
            .cranelift_opt_level(wasmtime::OptLevel::Speed)
            .wasm_component_model(true)
            .epoch_interruption(true);
        let engine = Engine::new(&config).map_err(setup)?;
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker).map_err(setup)?;
        add_imports(&mut linker).map_err(setup)?;
        let ticker = Ticker::start(engine.clone(), ticker).map_err(setup)?;
        Ok(Runtime {
            engine,
            linker,
            inherit_stdio: false,
            _ticker: ticker,
        })
    }

    /// A guest's WASI context: no preopens, no environment; stdout and stderr are this
    /// process's when [`Runtime::inherit_stdio`], else discarded.
    pub(crate) fn wasi_ctx(&self) -> WasiCtx {
        let mut wasi = WasiCtxBuilder::new();
        if self.inherit_stdio {
            wasi.inherit_stdout().inherit_stderr();
        }
        wasi.build()
    }

    /// Reads and compiles a component file.
    /// Errors: [`Error::Load`] (unreadable, not a component, invalid).
    pub(crate) fn load(&self, path: &Path) -> Result<Component> {
        Component::from_file(&self.engine, path).map_err(|e| Error::Load {
            path: path.display().to_string(),
            message: format!("{e:#}"),
        })
    }

    /// Instantiates `component` in a fresh store holding `state`, whose epoch deadline
    /// traps after `deadline`; the store, the instance and the deadline in ticks (what each
    /// later call sets again).
    /// Errors: [`Error::Setup`] (an import the linker does not provide, a start trap).
    pub(crate) fn instantiate(
        &self,
        state: T,
        deadline: Duration,
        component: &Component,
    ) -> Result<(Store<T>, Instance, u64)> {
        let mut store = Store::new(&self.engine, state);
        let ticks = deadline_ticks(deadline);
        store.set_epoch_deadline(ticks);
        store.epoch_deadline_trap();
        let instance = self
            .linker
            .instantiate(&mut store, component)
            .map_err(setup)?;
        Ok((store, instance, ticks))
    }
}

/// `d` in epoch ticks, rounded up, at least one.
fn deadline_ticks(d: Duration) -> u64 {
    (d.as_nanos().div_ceil(TICK.as_nanos()) as u64).max(1)
}

/// A guest's trap in export `func` as [`Error::Trap`] (`interrupted` for the epoch
/// deadline).
pub(crate) fn trap(func: &str, e: wasmtime::Error) -> Error {
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

/// Calls the typed export `name` of `instance` with the epoch deadline reset to
/// `deadline` ticks.
/// Errors: [`Error::Invoke`] for a missing export or a type mismatch; [`Error::Trap`].
pub(crate) fn call<T, P, R>(
    store: &mut Store<T>,
    instance: &Instance,
    deadline: u64,
    name: &str,
    params: P,
) -> Result<R>
where
    T: 'static,
    P: wasmtime::component::ComponentNamedList + wasmtime::component::Lower + Send + Sync,
    R: wasmtime::component::ComponentNamedList + wasmtime::component::Lift + Send + Sync,
{
    let f = instance
        .get_typed_func::<P, R>(&mut *store, name)
        .map_err(|e| Error::Invoke(format!("export `{name}`: {e:#}")))?;
    store.set_epoch_deadline(deadline);
    f.call(store, params).map_err(|e| trap(name, e))
}
