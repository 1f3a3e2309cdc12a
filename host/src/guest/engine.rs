//! The wasmtime engine every vector guest runs under, compiling guest files, and
//! [`LoadOptions`].

use std::path::Path;
use std::sync::OnceLock;
use std::time::Duration;

use wasmtime::{Config, Engine, Module, OptLevel};

use super::deadline::DEFAULT_DEADLINE;
use crate::error::{Error, Result};

/// The wasmtime configuration every guest runs under: Cranelift at `OptLevel::Speed`,
/// the SIMD proposal (simd128) on, signal-based traps (bounds checks by guard pages,
/// the cheapest calls), wasm backtraces off (they only cost time on a trap and the
/// host reports the trap by op name anyway).
///
/// Epoch interruption is **not** on here (the parallel-for engine builds on this config
/// and runs without deadlines); [`default_engine`] adds it, see [`deadline_engine_config`].
///
/// `OFFLOAD_WASM_PROFILER=perfmap` in the environment also turns on wasmtime's perf map
/// (`/tmp/perf-<pid>.map`), so that `perf record` / `perf report` name the guests'
/// compiled functions instead of bare JIT addresses; any other value is ignored.
pub fn engine_config() -> Config {
    let mut config = Config::new();
    config
        .cranelift_opt_level(OptLevel::Speed)
        .wasm_simd(true)
        .signals_based_traps(true)
        .wasm_backtrace_max_frames(None);
    if std::env::var_os("OFFLOAD_WASM_PROFILER").is_some_and(|v| v == "perfmap") {
        config.profiler(wasmtime::ProfilingStrategy::PerfMap);
    }
    config
}

/// [`engine_config`] plus epoch interruption: compiled code checks the engine's epoch at
/// every function entry and loop header, so that a call running past
/// [`LoadOptions::deadline`] traps (see [`super::deadline`]). A guest whose store sets no
/// deadline traps at once, so every store of such an engine must set one (the
/// [`VectorGuest`](super::VectorGuest) and
/// [`ForestGuest`](crate::forest_guest::ForestGuest) do before every call).
pub fn deadline_engine_config() -> Config {
    let mut config = engine_config();
    config.epoch_interruption(true);
    config
}

/// A process-wide [`Engine`] built from [`deadline_engine_config`] (an `Engine` is a cheap
/// handle; compiled [`Module`]s can be shared between guests of the same engine).
///
/// # Errors
/// [`Error::Engine`] when wasmtime rejects the configuration on this machine.
pub fn default_engine() -> Result<Engine> {
    static ENGINE: OnceLock<std::result::Result<Engine, String>> = OnceLock::new();
    ENGINE
        .get_or_init(|| Engine::new(&deadline_engine_config()).map_err(|e| format!("{e:#}")))
        .clone()
        .map_err(|message| Error::Engine { message })
}

/// A process-wide [`Engine`] built from [`engine_config`]: **no** epoch interruption, so
/// guests compiled with it have no deadline ([`LoadOptions::deadline`] is not enforced)
/// and their loops carry no epoch checks. For measurements that want the guest's raw
/// speed and say so: on a 2-core VM the checks cost the Rust and C vector guests 28–67 %
/// on 100,000-element `sum`/`sum_simd`/`dot` and about 1–2 ns per call (the Go guest
/// about 0–3 %), see `host/tests/epoch_overhead.rs`.
///
/// # Errors
/// [`Error::Engine`] when wasmtime rejects the configuration on this machine.
pub fn no_deadline_engine() -> Result<Engine> {
    static ENGINE: OnceLock<std::result::Result<Engine, String>> = OnceLock::new();
    ENGINE
        .get_or_init(|| Engine::new(&engine_config()).map_err(|e| format!("{e:#}")))
        .clone()
        .map_err(|message| Error::Engine { message })
}

/// Reads and compiles a guest file with `engine`.
///
/// # Errors
/// [`Error::Io`] when the file cannot be read, then as [`compile`].
pub fn compile_file(engine: &Engine, path: impl AsRef<Path>) -> Result<Module> {
    let path = path.as_ref();
    let bytes = std::fs::read(path).map_err(|error| Error::Io {
        path: path.to_path_buf(),
        error,
    })?;
    compile(engine, &bytes, &path.display().to_string())
}

/// Validates and compiles a binary module; `origin` names it in errors. WAT text is
/// not accepted (a guest is a built artefact).
///
/// # Errors
/// [`Error::NotWasm`] without the `\0asm` magic; [`Error::Malformed`] when wasmtime
/// cannot decode, validate or compile it (truncated file, bad section, ...).
pub fn compile(engine: &Engine, bytes: &[u8], origin: &str) -> Result<Module> {
    if !bytes.starts_with(b"\0asm") {
        return Err(Error::NotWasm {
            origin: origin.to_string(),
        });
    }
    Module::from_binary(engine, bytes).map_err(|e| Error::Malformed {
        origin: origin.to_string(),
        message: format!("{e:#}"),
    })
}

/// How a guest is instantiated.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// Give a WASI guest the host's stdin/stdout/stderr (off: it gets none, so a Go
    /// panic message is lost but nothing leaks onto the host's terminal).
    pub inherit_stdio: bool,
    /// Wall-clock limit of one call into the guest (instantiation with `_initialize` and
    /// the layout getters counts as one call; a chunked op is one call per chunk). A call
    /// still running then traps with [`Error::Deadline`] within `deadline +`
    /// [`TICK`](super::deadline::TICK), and the instance is rebuilt. Default
    /// [`DEFAULT_DEADLINE`] (60 s); `Duration::MAX` means no deadline. Enforced only on
    /// an engine with epoch interruption ([`default_engine`], [`deadline_engine_config`]).
    pub deadline: Duration,
}

impl Default for LoadOptions {
    /// No stdio, [`DEFAULT_DEADLINE`].
    fn default() -> Self {
        LoadOptions {
            inherit_stdio: false,
            deadline: DEFAULT_DEADLINE,
        }
    }
}
