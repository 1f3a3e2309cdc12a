//! `offload compose <client.wasm> --plug <provider.wasm> -o <out.wasm>`: plugs provider
//! components into a client component's imports ([`offload_host::compose::compose_files`]),
//! validates the result, writes it and prints what was wired:
//!
//! ```text
//! composed:  build/components/composed-cpu.wasm (130412 bytes, valid component)
//! plugged:   offload:provider/matrix@0.1.0 <- provider-cpu.wasm
//! imports:   wasi:cli/environment@0.2.4, ... (provided by the host)
//! exports:   run-matmul, run-matrix-example
//! ```

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use offload_host::compose::{compose_files, ComposeError};

/// Arguments of `offload compose`.
#[derive(Debug, Args)]
pub struct ComposeCommand {
    /// The client component (the socket), e.g. build/components/matrix-client.wasm.
    client: PathBuf,
    /// A provider component whose exports satisfy the client's imports (repeatable).
    #[arg(long = "plug", required = true)]
    plugs: Vec<PathBuf>,
    /// Where to write the composed component.
    #[arg(short = 'o', long = "output")]
    output: PathBuf,
}

impl ComposeCommand {
    /// Composes, validates, writes `--output` and prints the wiring (nothing is written
    /// when the plugs do not fit).
    pub fn execute(self) -> anyhow::Result<ExitCode> {
        let c = compose_files(&self.client, &self.plugs)?;
        std::fs::write(&self.output, &c.bytes).map_err(|source| ComposeError::Io {
            path: self.output.clone(),
            source,
        })?;
        println!(
            "composed:  {} ({} bytes, valid component)",
            self.output.display(),
            c.bytes.len()
        );
        for p in &c.plugged {
            if p.import == p.export {
                println!("plugged:   {} <- {}", p.import, p.plug);
            } else {
                println!("plugged:   {} <- {} ({})", p.import, p.plug, p.export);
            }
        }
        let imports = if c.imports.is_empty() {
            "none".to_string()
        } else {
            format!("{} (provided by the host)", c.imports.join(", "))
        };
        println!("imports:   {imports}");
        println!("exports:   {}", c.exports.join(", "));
        Ok(ExitCode::SUCCESS)
    }
}
