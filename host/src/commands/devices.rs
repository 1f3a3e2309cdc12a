//! `offload devices`: every GPU backend (cpu, wgpu, cuda) with its device, or why it is
//! unavailable ([`offload_core::gpu::probe_all`]).

use std::process::ExitCode;

use clap::Args;

use super::yes_no;

/// `offload devices` takes no arguments.
#[derive(Debug, Args)]
pub struct DevicesCommand {}

impl DevicesCommand {
    /// Prints two lines per available backend (name, device, driver; memory and
    /// capabilities) and one per unavailable one (the reason). Always exit 0.
    pub fn execute(self) -> anyhow::Result<ExitCode> {
        for p in offload_core::gpu::probe_all() {
            match &p.device {
                Ok(d) => {
                    let mem = d
                        .memory_bytes
                        .map(|b| format!("{:.1} GiB", b as f64 / (1u64 << 30) as f64))
                        .unwrap_or_else(|| "not reported".into());
                    println!("{:<5} {} [{}]", p.kind.name(), d.name, d.driver);
                    println!(
                        "      memory {mem}, max buffer {} MiB, f64 {}, tf32 {}, kernel timing {}{}",
                        d.max_buffer_bytes >> 20,
                        yes_no(d.supports_f64),
                        yes_no(d.supports_tf32),
                        yes_no(d.kernel_timing),
                        if d.is_software {
                            ", software device"
                        } else {
                            ""
                        }
                    );
                }
                Err(why) => println!("{:<5} {why}", p.kind.name()),
            }
        }
        Ok(ExitCode::SUCCESS)
    }
}
