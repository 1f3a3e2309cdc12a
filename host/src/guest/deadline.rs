//! Epoch deadlines of core-module guests (vector guests, the forest guest): one
//! process-wide ticker thread that advances the epoch of every engine such a guest runs
//! on, and the conversion of a wall-clock deadline into epoch ticks.
//!
//! A guest's store gets `set_epoch_deadline(ticks(deadline))` before every call into the
//! guest (the deadline counts from the call's start), and wasmtime traps with
//! [`wasmtime::Trap::Interrupt`] at the first loop header or function entry after the
//! deadline, so a guest that loops forever ends within `deadline + TICK`.

use std::sync::{Mutex, Once};
use std::time::Duration;

use offload_core::gpu::policy::DEFAULT_DEADLINE_MS;
use wasmtime::Engine;

/// The default wall-clock limit of one call into a core-module guest: 60 s, the same as
/// the wasi:gpu hosts' ([`offload_core::gpu::policy::DEFAULT_DEADLINE_MS`]). Generous on
/// purpose: it stops a guest that never returns, not a slow one.
pub const DEFAULT_DEADLINE: Duration = Duration::from_millis(DEFAULT_DEADLINE_MS);

/// Period of the epoch ticker: the granularity of a deadline.
pub const TICK: Duration = Duration::from_millis(10);

/// A deadline in epoch ticks, rounded up, at least 1. Deadlines past ~146 years
/// (`Duration::MAX` included) are capped at `u64::MAX / 4` ticks, so that wasmtime's
/// `current epoch + ticks` cannot overflow: effectively no deadline.
pub fn ticks(deadline: Duration) -> u64 {
    // One tick more: the ticker's phase is arbitrary, so the first tick may come at once;
    // with it the call never stops before `deadline` (at most one TICK after it).
    let t = deadline.as_nanos().div_ceil(TICK.as_nanos()) + 1;
    u64::try_from(t).unwrap_or(u64::MAX).clamp(2, u64::MAX / 4)
}

/// Makes the process-wide ticker advance `engine`'s epoch every [`TICK`] (starting the
/// ticker thread on first use). Idempotent per engine; engines stay registered for the
/// life of the process (a handful: the default engine and any a caller built). An engine
/// built without `epoch_interruption` is ticked harmlessly and its guests never trap.
///
/// # Panics
/// When the OS refuses to spawn the ticker thread.
pub fn watch(engine: &Engine) {
    static ENGINES: Mutex<Vec<Engine>> = Mutex::new(Vec::new());
    static START: Once = Once::new();
    {
        let mut engines = ENGINES.lock().unwrap_or_else(|p| p.into_inner());
        if !engines.iter().any(|e| Engine::same(e, engine)) {
            engines.push(engine.clone());
        }
    }
    START.call_once(|| {
        std::thread::Builder::new()
            .name("guest-epoch".into())
            .spawn(|| loop {
                std::thread::sleep(TICK);
                let engines = ENGINES.lock().unwrap_or_else(|p| p.into_inner());
                for e in engines.iter() {
                    e.increment_epoch();
                }
            })
            .expect("spawning the guest epoch ticker thread");
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_round_up_and_cap() {
        assert_eq!(ticks(Duration::ZERO), 2);
        assert_eq!(ticks(Duration::from_millis(1)), 2);
        assert_eq!(ticks(TICK), 2);
        assert_eq!(ticks(TICK + Duration::from_nanos(1)), 3);
        assert_eq!(ticks(DEFAULT_DEADLINE), 6001);
        assert_eq!(ticks(Duration::MAX), u64::MAX / 4);
    }
}
