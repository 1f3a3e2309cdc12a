//! [`GpuInstance`]: one component instance in its own store, and calling its exports
//! (typed, or as a WAVE call) under the epoch deadline.

use offload_core::gpu::BufferId;
use wasmtime::component::{Instance, Type, Val};
use wasmtime::Store;

use super::{engine, Error, GuestState, Result};

/// One component instance with its own store, table and quotas.
pub struct GpuInstance {
    pub(super) store: Store<GuestState>,
    pub(super) instance: Instance,
    pub(super) deadline: u64,
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

    /// The backend ids ([`BufferId`]) of the device buffers this instance holds now,
    /// ascending. Guests never see them (their handles are indices into their own
    /// resource table); tests use them to check that no id is ever handed out twice,
    /// within an instance or across instances.
    pub fn buffer_ids(&self) -> Vec<BufferId> {
        let mut ids: Vec<BufferId> = self.store.data().gpu.held.iter().copied().collect();
        ids.sort_unstable();
        ids
    }

    /// Calls a typed export `name` (e.g. `run` as `() -> (Result<String, String>,)`).
    /// Errors: [`Error::Invoke`] for a missing export or a type mismatch, [`Error::Trap`].
    pub fn call<P, R>(&mut self, name: &str, params: P) -> Result<R>
    where
        P: wasmtime::component::ComponentNamedList + wasmtime::component::Lower + Send + Sync,
        R: wasmtime::component::ComponentNamedList + wasmtime::component::Lift + Send + Sync,
    {
        engine::call(&mut self.store, &self.instance, self.deadline, name, params)
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
            .map_err(|e| engine::trap(&name, e))?;
        let is_err = matches!(results.as_slice(), [Val::Result(Err(_))]);
        let text = results
            .iter()
            .map(|v| wasm_wave::to_string(v).map_err(|e| Error::Invoke(format!("{e}"))))
            .collect::<Result<Vec<_>>>()?
            .join(", ");
        Ok((text, is_err))
    }
}
