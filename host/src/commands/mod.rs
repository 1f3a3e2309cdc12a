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
mod forest_batch;
mod guests;
mod invoke;
mod parallel;
mod report;
mod run;
mod size;
mod webgpu;

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
pub use webgpu::WebGpuCommand;

use std::path::PathBuf;

use clap::Args;
use offload_core::gpu::BackendKind;
use offload_host::check::Answer;

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

/// Prints a vector op's verdict — `OK`, or `MISMATCH (must be <criterion>)` — and
/// returns the exit code (0, or 1 on a mismatch).
pub fn verdict(ok: bool, op: offload_host::Op) -> std::process::ExitCode {
    if ok {
        println!("OK");
        std::process::ExitCode::SUCCESS
    } else {
        println!("MISMATCH (must be {})", offload_host::check::criterion(op));
        std::process::ExitCode::from(1)
    }
}

/// Prints the `result:` line of a checked run (a scalar with the offload-core function it
/// was checked against, or the first four elements of a vector) and the
/// `max_rel_err:`/`check:` lines.
pub fn print_checked(op: offload_host::Op, got: &Answer, want: &Answer, err: f64) {
    use offload_host::Op;
    match (got, want) {
        (Answer::Scalar(g), Answer::Scalar(w)) => {
            let core_fn = match op {
                Op::Sum => "vector::sum",
                Op::SumSimd => "vector::sum_simd",
                Op::Dot => "vector::dot",
                _ => "vector::dot_simd",
            };
            println!("result:      {g:e}");
            println!("reference:   {w:e} (offload-core {core_fn})");
        }
        (Answer::Vector(g), _) => {
            let head: Vec<String> = g.iter().take(4).map(|x| format!("{x:e}")).collect();
            let more = if g.len() > 4 { ", ..." } else { "" };
            println!(
                "result:      [{}{more}] ({} elements)",
                head.join(", "),
                g.len()
            );
        }
        (Answer::Scalar(_), Answer::Vector(_)) => {}
    }
    println!("max_rel_err: {err:e}");
    println!("check:       {}", offload_host::check::criterion(op));
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
