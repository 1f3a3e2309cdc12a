//! `offload invoke <component.wasm> --backend cpu|wgpu|cuda|auto --invoke 'run()'`: calls
//! one export of a wasi:gpu component on a backend and prints the result in WAVE
//! (`ok("...")`, `err("...")`); exit 1 on `err`, 2 on a trap.
//!
//! `offload run <component.wasm> --invoke ...` comes here too: [`ComponentOptions`] are
//! flags of both commands, and [`call`] is what both run.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Args;
use offload_core::gpu::{Backend, BackendKind, GpuError};
use offload_host::guests;
use offload_host::wasi_gpu::{Device, Error as GpuHostError, GpuHost, Limits};

use super::{parse_backend_kind, GuestDir};

/// Arguments of `offload invoke`.
#[derive(Debug, Args)]
pub struct InvokeCommand {
    /// A wasi:gpu component: a .wasm file, or a name looked up in --dir (gpu-guest).
    component: String,
    #[command(flatten)]
    options: ComponentOptions,
    /// Let a WASI guest write to this terminal (e.g. a Go panic message).
    #[arg(long)]
    inherit_stdio: bool,
    #[command(flatten)]
    dir: GuestDir,
}

impl InvokeCommand {
    /// Invokes the export ([`call`]); a core module is refused (it is for `offload run`).
    pub fn execute(self) -> anyhow::Result<ExitCode> {
        let path = guests::resolve(&self.dir.dir, &self.component);
        if path.is_file() && !is_component(&path) {
            anyhow::bail!(
                "{} is a core module, not a component (a vector guest runs with \
                 `offload run <guest> <op> --n N`)",
                path.display()
            );
        }
        call(&path, &self.options, self.inherit_stdio)
    }
}

/// The flags of a component call, shared by `offload invoke` and `offload run`.
#[derive(Debug, Args)]
pub struct ComponentOptions {
    /// Components: the export to call, as a WAVE call (`run()`, `sum(1000)`,
    /// `matmul(256, false)`, `probe("oob-write", 0)`).
    #[arg(long)]
    pub invoke: Option<String>,
    /// Components: the wasi:gpu backend (`cpu`, `wgpu`, `cuda`, `auto`).
    #[arg(long, default_value = "cpu", value_parser = parse_backend_choice)]
    pub backend: BackendChoice,
    /// Components: per-instance device byte quota.
    #[arg(long, default_value_t = Limits::default().max_bytes)]
    pub max_bytes: u64,
    /// Components: per-instance buffer quota.
    #[arg(long, default_value_t = Limits::default().max_buffers)]
    pub max_buffers: u32,
    /// Seconds one call into the guest may run before it is interrupted (components and,
    /// with `offload run`, vector guests; each chunk of a chunked op is one call).
    #[arg(long, default_value_t = Limits::default().deadline.as_secs_f64())]
    pub deadline_s: f64,
}

impl ComponentOptions {
    /// `--deadline-s` as a duration.
    ///
    /// # Errors
    /// A value that is not a positive, finite number of seconds.
    pub fn deadline(&self) -> anyhow::Result<std::time::Duration> {
        let s = self.deadline_s;
        anyhow::ensure!(
            s.is_finite() && s > 0.0,
            "--deadline-s {s}: must be a positive number of seconds"
        );
        std::time::Duration::try_from_secs_f64(s)
            .map_err(|e| anyhow::anyhow!("--deadline-s {s}: {e}"))
    }
}

/// The backend of a component call: one kind, or `auto` (cuda if it starts, else wgpu on
/// a hardware adapter, else cpu: [`Backend::open`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendChoice {
    /// Whichever backend starts first (cuda, hardware wgpu, cpu).
    Auto,
    /// This one.
    Kind(BackendKind),
}

impl BackendChoice {
    /// Opens the backend as the device that the component's instances share.
    pub fn open(self) -> Result<Arc<Device>, GpuError> {
        match self {
            BackendChoice::Auto => Device::open("auto"),
            BackendChoice::Kind(kind) => Ok(Device::new(Backend::open_kind(kind)?)),
        }
    }
}

/// The clap value parser of a component's `--backend`: `auto`, or a name
/// [`parse_backend_kind`] takes.
pub fn parse_backend_choice(s: &str) -> Result<BackendChoice, String> {
    if s.trim().eq_ignore_ascii_case("auto") {
        return Ok(BackendChoice::Auto);
    }
    parse_backend_kind(s)
        .map(BackendChoice::Kind)
        .map_err(|_| format!("unknown backend `{s}` (expected cpu, wgpu, cuda or auto)"))
}

/// Whether `path` is a WebAssembly component (rather than a core module).
pub fn is_component(path: &Path) -> bool {
    use std::io::Read;
    let mut head = [0u8; 8];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut head))
        .map(|()| wasmparser::Parser::is_component(&head))
        .unwrap_or(false)
}

/// Instantiates the component at `path` on the backend of `options` and calls its
/// `--invoke` export (`run()` by default): prints the result in WAVE and exits 1 on
/// `err`, 0 on `ok`; a trap is printed to stderr with exit 2.
pub fn call(
    path: &Path,
    options: &ComponentOptions,
    inherit_stdio: bool,
) -> anyhow::Result<ExitCode> {
    let call = options.invoke.as_deref().unwrap_or("run()");
    let deadline = options.deadline()?;
    let device = options.backend.open()?;
    let limits = Limits {
        max_bytes: options.max_bytes,
        max_buffers: options.max_buffers,
        deadline,
    };
    let mut host = GpuHost::new(device, limits)?;
    host.inherit_stdio(inherit_stdio);
    let component = host.load(path)?;
    let mut instance = host.instantiate(&component)?;
    match instance.invoke(call) {
        Ok((text, is_err)) => {
            println!("{text}");
            Ok(if is_err {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            })
        }
        Err(e @ GpuHostError::Trap { .. }) => {
            eprintln!("offload: {e}");
            Ok(ExitCode::from(2))
        }
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn component_backends_take_auto_too() {
        assert_eq!(parse_backend_choice("auto"), Ok(BackendChoice::Auto));
        assert_eq!(
            parse_backend_choice("cuda"),
            Ok(BackendChoice::Kind(BackendKind::Cuda))
        );
        assert_eq!(
            parse_backend_choice("tpu").unwrap_err(),
            "unknown backend `tpu` (expected cpu, wgpu, cuda or auto)"
        );
    }
}
