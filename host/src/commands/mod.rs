//! The commands of the `offload` CLI, one file each (as wasmtime's `src/commands/`):
//! a clap `Args` struct `<Name>Command` and its `execute`, which prints the command's
//! output and returns its exit code. Errors go back to `main`, which prints them and
//! exits 2.
//!
//! What more than one command shares lives here: the guest directory flag
//! ([`GuestDir`]) and the `--backend` value parser ([`parse_backend_kind`]).

mod attach_kernel;
mod componentize;
mod compose;
mod devices;
mod forest;
mod guests;
mod invoke;
mod parallel;
mod report;
mod run;

pub use attach_kernel::AttachKernelCommand;
pub use componentize::ComponentizeCommand;
pub use compose::ComposeCommand;
pub use devices::DevicesCommand;
pub use forest::ForestCommand;
pub use guests::GuestsCommand;
pub use invoke::InvokeCommand;
pub use parallel::ParallelCommand;
pub use report::ReportCommand;
pub use run::RunCommand;

use std::path::PathBuf;

use clap::Args;
use offload_core::gpu::BackendKind;

/// Where built guests are looked up (`guests`, `run`, `invoke`).
#[derive(Debug, Args)]
pub struct GuestDir {
    /// Directory of built guests (`*.wasm` with `<name>.json` beside each).
    #[arg(long, env = "OFFLOAD_GUESTS_DIR", default_value = "build/guests")]
    pub dir: PathBuf,
}

/// The clap value parser of a `--backend` that names one backend: `cpu`, `wgpu` or
/// `cuda` (any case, blanks around it ignored), as core's [`BackendKind`].
pub fn parse_backend_kind(s: &str) -> Result<BackendKind, String> {
    let name = s.trim().to_ascii_lowercase();
    BackendKind::ALL
        .into_iter()
        .find(|k| k.name() == name)
        .ok_or_else(|| format!("unknown backend `{s}` (expected cpu, wgpu or cuda)"))
}

/// `yes` or `no`, as the CLI prints a flag.
pub fn yes_no(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backend_names_parse_to_core_kinds() {
        for kind in BackendKind::ALL {
            assert_eq!(parse_backend_kind(kind.name()), Ok(kind));
        }
        assert_eq!(parse_backend_kind(" WGPU "), Ok(BackendKind::Wgpu));
        let e = parse_backend_kind("tpu").unwrap_err();
        assert_eq!(e, "unknown backend `tpu` (expected cpu, wgpu or cuda)");
    }
}
