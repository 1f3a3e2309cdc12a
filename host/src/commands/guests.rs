//! `offload guests`: lists the built vector guests with their metadata and what loading
//! each one finds (ABI version, capacity, WASI imports, exports).

use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use offload_host::{guests, VectorGuest};

use super::GuestDir;

/// Arguments of `offload guests [--dir build/guests]`.
#[derive(Debug, Args)]
pub struct GuestsCommand {
    #[command(flatten)]
    dir: GuestDir,
}

impl GuestsCommand {
    /// Prints one block per guest; exit 2 when a guest fails to load (its block says why).
    pub fn execute(self) -> anyhow::Result<ExitCode> {
        let dir = &self.dir.dir;
        let found =
            guests::discover(dir).context("listing guests (build them with ./build.sh all)")?;
        if found.is_empty() {
            anyhow::bail!(
                "no *.wasm in {} (build them with ./build.sh all)",
                dir.display()
            );
        }
        let mut failed = false;
        for g in &found {
            println!("{}", g.name);
            println!("  file:      {} ({} bytes)", g.wasm.display(), g.size);
            match &g.meta {
                Some(m) => {
                    println!(
                        "  compiler:  {} ({})",
                        m.compiler.as_deref().unwrap_or("not stated"),
                        m.language.as_deref().unwrap_or("language not stated")
                    );
                    let simd = match m.simd128 {
                        Some(true) => "yes",
                        Some(false) => "no",
                        None => "not stated in the metadata",
                    };
                    println!("  simd128:   {simd}");
                    if let Some(choice) = m.extra.get("compiler_choice").and_then(|v| v.as_str()) {
                        println!("  note:      {choice}");
                    }
                }
                None => println!("  metadata:  none ({}.json missing)", g.name),
            }
            match VectorGuest::load(&g.wasm) {
                Ok(v) => {
                    println!("  abi:       v{}", v.abi_version());
                    println!("  capacity:  {} elements", v.capacity());
                    println!(
                        "  wasi:      {}",
                        if v.imports_wasi() {
                            "imports wasi_snapshot_preview1"
                        } else {
                            "imports nothing"
                        }
                    );
                    println!("  exports:   {}", v.export_names().join(", "));
                }
                Err(e) => {
                    failed = true;
                    println!("  load:      FAILED: {e}");
                }
            }
        }
        Ok(if failed {
            ExitCode::from(2)
        } else {
            ExitCode::SUCCESS
        })
    }
}
