//! `offload componentize <core.wasm> -o <component.wasm>`: wraps a wit-bindgen core module
//! (wasm32-wasip1) into a component with the WASI preview1 reactor adapter
//! ([`offload_host::wasi_gpu::componentize`]).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;

/// Arguments of `offload componentize`.
#[derive(Debug, Args)]
pub struct ComponentizeCommand {
    /// The core module (wasm32-wasip1, with wit-bindgen's component-type section).
    core: PathBuf,
    /// The component to write.
    #[arg(short, long)]
    output: PathBuf,
}

impl ComponentizeCommand {
    /// Writes the component and prints one line: its path, size and source.
    pub fn execute(self) -> anyhow::Result<ExitCode> {
        let core = std::fs::read(&self.core)
            .with_context(|| format!("reading {}", self.core.display()))?;
        let component = offload_host::wasi_gpu::componentize(&core)
            .with_context(|| format!("componentizing {}", self.core.display()))?;
        std::fs::write(&self.output, &component)
            .with_context(|| format!("writing {}", self.output.display()))?;
        println!(
            "wrote {} ({} bytes, component of {})",
            self.output.display(),
            component.len(),
            self.core.display()
        );
        Ok(ExitCode::SUCCESS)
    }
}
