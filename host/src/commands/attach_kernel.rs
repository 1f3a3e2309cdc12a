//! `offload attach-kernel <module.wasm> --kernel N|NAME --wgsl k.wgsl -o out.wasm`:
//! attaches a parallel-for kernel's WGSL to a guest module as the custom section
//! `wasi-parallel-wgsl:<table index>` (host/src/parallel/section.rs), replacing an
//! earlier one for the same kernel; every other section is kept byte for byte.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use offload_host::parallel::section;

/// Arguments of `offload attach-kernel`.
#[derive(Debug, Args)]
pub struct AttachKernelCommand {
    /// The guest core module.
    module: PathBuf,
    /// The kernel: its index in the funcref table, or the name of the function (name
    /// section, e.g. a Rust `#[no_mangle]` kernel, or export), looked up in table 0's
    /// active element segments.
    #[arg(long)]
    kernel: String,
    /// The kernel's WGSL (entry point `main`; bindings: host/src/parallel/gpu.rs).
    #[arg(long)]
    wgsl: PathBuf,
    /// Where to write the module with the section attached (may be the input).
    #[arg(short, long)]
    output: PathBuf,
}

impl AttachKernelCommand {
    /// Reads both files, attaches, writes, and prints the section written.
    pub fn execute(self) -> anyhow::Result<ExitCode> {
        let module = std::fs::read(&self.module)
            .with_context(|| format!("reading {}", self.module.display()))?;
        let wgsl = std::fs::read_to_string(&self.wgsl)
            .with_context(|| format!("reading {}", self.wgsl.display()))?;
        let index = match self.kernel.parse::<u32>() {
            Ok(i) => i,
            Err(_) => section::table_index_of(&module, &self.kernel)
                .map_err(|e| anyhow::anyhow!("{}: {e}", self.module.display()))?,
        };
        let out = section::attach(&module, index, &wgsl)
            .map_err(|e| anyhow::anyhow!("{}: {e}", self.module.display()))?;
        std::fs::write(&self.output, &out)
            .with_context(|| format!("writing {}", self.output.display()))?;
        println!(
            "attached {} ({} bytes) as {} to {}",
            self.wgsl.display(),
            wgsl.len(),
            section::section_name(index),
            self.output.display()
        );
        Ok(ExitCode::SUCCESS)
    }
}
