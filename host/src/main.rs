//! `offload`: the command line of offload.
//!
//! - `offload guests [--dir build/guests]` lists the built vector guests;
//! - `offload run <guest> <op> --n N [--seed S]` runs one op in a guest on seeded
//!   data, checks it against `offload-core` (strict reductions bit for bit, fast ones
//!   within a tolerance) and prints the op's family, the result and the time;
//! - `offload invoke <component.wasm> --backend cpu|wgpu|cuda --invoke 'run()'` runs an
//!   export of a wasi:gpu component and prints the result in WAVE (`ok("...")`,
//!   `err("...")`); exit 1 on `err`, 2 on a trap. `offload run <component.wasm> ...` with
//!   the same flags does the same (the file's kind picks the form);
//! - `offload componentize <core.wasm> -o <component.wasm>` wraps a wit-bindgen core module
//!   (wasm32-wasip1) into a component with the WASI preview1 reactor adapter;
//! - `offload devices` lists every GPU backend with its device, or why it is unavailable;
//! - `offload report <dir>` renders a benchmark report (`--compare OLD NEW` compares two);
//! - `offload forest --path native|wasm` trains and tests the random forest on the
//!   diabetes split and prints train ms, predict ms, test MSE and R² (`--path wasm
//!   --backend wgpu|cuda`: the forest-gpu guest, its kernels on the device through wasi:gpu);
//! - `offload compose <client.wasm> --plug <provider.wasm> -o <out.wasm>` plugs provider
//!   components into a client component.
//!
//! Each command is one file of [`commands`]: its clap arguments and its `execute`. This
//! file holds only the command enum and the dispatch.
//!
//! Exit status: 0 on success, 1 when a result does not match the reference, 2 on
//! any other error (message on stderr).

mod commands;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Which path is fastest for this operation at this size?
#[derive(Debug, Parser)]
#[command(name = "offload", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// One variant per subcommand, each a command of [`commands`] with its own arguments and
/// `execute`, so that more are added without touching the others.
#[derive(Debug, Subcommand)]
enum Command {
    /// List the built guests: path name, file, size, compiler, simd128, capacity,
    /// exports.
    Guests(commands::GuestsCommand),
    /// Run one op in one guest on generated data and check it against offload-core; or,
    /// when the file is a component, invoke one of its exports with wasi:gpu on a backend
    /// (as `offload invoke`).
    Run(commands::RunCommand),
    /// Invoke one export of a wasi:gpu component on a backend and print its result in
    /// WAVE; exit 1 on `err`, 2 on a trap.
    Invoke(commands::InvokeCommand),
    /// Wrap a wasm32-wasip1 core module with wit-bindgen's component-type section into a
    /// component (WASI preview1 reactor adapter).
    Componentize(commands::ComponentizeCommand),
    /// List every GPU backend (cpu, wgpu, cuda) with its device, or why it is unavailable.
    Devices(commands::DevicesCommand),
    /// Train a random forest on the diabetes split and report time, test MSE and R².
    Forest(commands::ForestCommand),
    /// Benchmark reports: re-render, --ingest, --collect-env, --compare OLD NEW.
    Report(commands::ReportCommand),
    /// Plug provider components into a client component's imports (wac), validate, write.
    Compose(commands::ComposeCommand),
    /// Run one op of the parallel-for guest on T worker instances over one shared memory.
    Parallel(commands::ParallelCommand),
    /// Attach a parallel-for kernel's WGSL to a guest module (custom section keyed by its
    /// table index).
    AttachKernel(commands::AttachKernelCommand),
    /// Run one kernel (sum, dot, mul, sgemm) of the wasi:webgpu guest, which brings its own
    /// WGSL, on seeded data; time it and check it against offload-core.
    Webgpu(commands::WebGpuCommand),
}

impl Command {
    /// Runs the command: its exit code, or the error that `main` prints (exit 2).
    fn execute(self) -> anyhow::Result<ExitCode> {
        match self {
            Command::Guests(c) => c.execute(),
            Command::Run(c) => c.execute(),
            Command::Invoke(c) => c.execute(),
            Command::Componentize(c) => c.execute(),
            Command::Devices(c) => c.execute(),
            Command::Forest(c) => c.execute(),
            Command::Report(c) => c.execute(),
            Command::Compose(c) => c.execute(),
            Command::Parallel(c) => c.execute(),
            Command::AttachKernel(c) => c.execute(),
            Command::Webgpu(c) => c.execute(),
        }
    }
}

fn main() -> ExitCode {
    match Cli::parse().command.execute() {
        Ok(code) => code,
        Err(e) => {
            eprintln!("offload: error: {e:#}");
            ExitCode::from(2)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_cli_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn every_command_parses() {
        for args in [
            &["offload", "guests"][..],
            &["offload", "run", "wasm-rust", "sum_simd", "--n", "10"],
            &[
                "offload",
                "run",
                "c.wasm",
                "--invoke",
                "run()",
                "--backend",
                "wgpu",
            ],
            &[
                "offload",
                "invoke",
                "c.wasm",
                "--invoke",
                "run()",
                "--backend",
                "auto",
            ],
            &["offload", "componentize", "core.wasm", "-o", "c.wasm"],
            &["offload", "devices"],
            &[
                "offload",
                "webgpu",
                "sgemm",
                "--n",
                "64",
                "--backend",
                "wgpu",
            ],
            &["offload", "parallel", "sum", "--n", "10", "--threads", "2"],
            &[
                "offload",
                "attach-kernel",
                "m.wasm",
                "--kernel",
                "3",
                "--wgsl",
                "k.wgsl",
                "-o",
                "o.wasm",
            ],
            &["offload", "forest", "--path", "wasm", "--backend", "CUDA"],
            &["offload", "report", "dir", "--ingest"],
            &["offload", "report", "--compare", "old", "new"],
            &[
                "offload",
                "compose",
                "client.wasm",
                "--plug",
                "p.wasm",
                "-o",
                "out.wasm",
            ],
        ] {
            Cli::try_parse_from(args).unwrap_or_else(|e| panic!("{args:?}: {e}"));
        }
    }

    #[test]
    fn unknown_backends_and_ops_are_usage_errors() {
        for args in [
            &["offload", "forest", "--backend", "auto"][..],
            &["offload", "invoke", "c.wasm", "--backend", "tpu"],
            &["offload", "run", "wasm-rust", "sum_fast", "--n", "10"],
        ] {
            let e = Cli::try_parse_from(args).expect_err("must be refused");
            assert_eq!(e.exit_code(), 2, "{args:?}");
        }
    }
}
