//! The engine parallel-for guests run under (wasm threads, shared memory, epoch
//! interruption), its epoch ticker, and the reasons a running guest is interrupted.

use std::sync::OnceLock;
use std::time::Duration;

use wasmtime::Engine;

use crate::guest::engine_config;

/// Period of the epoch ticker: how soon a deadline or an abort is noticed.
pub const TICK: Duration = Duration::from_millis(5);

/// Why the epoch callback stopped a guest (the error its call returns).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interrupted {
    /// It ran past its deadline.
    Deadline,
    /// Another worker failed; this one was stopped.
    Aborted,
}

impl std::fmt::Display for Interrupted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Interrupted::Deadline => f.write_str("the guest ran past its deadline"),
            Interrupted::Aborted => f.write_str("stopped because another worker failed"),
        }
    }
}

impl std::error::Error for Interrupted {}

/// The process-wide engine of parallel-for guests: [`engine_config`] plus wasm threads,
/// shared memories and epoch interruption, with one ticker thread advancing its epoch
/// every [`TICK`] for the life of the process.
///
/// # Errors
/// The message of wasmtime's error when it rejects the configuration.
pub fn parallel_engine() -> Result<Engine, String> {
    static ENGINE: OnceLock<Result<Engine, String>> = OnceLock::new();
    ENGINE
        .get_or_init(|| {
            let mut config = engine_config();
            config
                .wasm_threads(true)
                .shared_memory(true)
                .epoch_interruption(true);
            let engine = Engine::new(&config).map_err(|e| format!("{e:#}"))?;
            let weak = engine.weak();
            std::thread::Builder::new()
                .name("parallel-epoch".into())
                .spawn(move || {
                    while let Some(engine) = weak.upgrade() {
                        engine.increment_epoch();
                        drop(engine);
                        std::thread::sleep(TICK);
                    }
                })
                .map_err(|e| format!("spawning the epoch ticker: {e}"))?;
            Ok(engine)
        })
        .clone()
}
