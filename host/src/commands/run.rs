//! `offload run <guest> <op> --n N [--seed S]`: runs one op in a vector guest on seeded
//! data, checks it against `offload-core` (strict reductions bit for bit, fast ones within
//! a tolerance) and prints the op's family, the result and the time; exit 1 on a
//! mismatch.
//!
//! When the file is a component, `run` is `offload invoke` with the same flags
//! (`offload run <component.wasm> --backend cpu --invoke 'run()'`).

use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use clap::{Args, ValueEnum};
use offload_host::check::{self, Inputs};
use offload_host::{guests, Op, VectorGuest};

use super::invoke::{self, ComponentOptions};
use super::GuestDir;

/// Arguments of `offload run`.
#[derive(Debug, Args)]
pub struct RunCommand {
    /// A path name (wasm-rust, wasm-c, wasm-go: looked up in --dir) or a .wasm file (a
    /// core vector guest, or a wasi:gpu component).
    guest: String,
    /// The operation (vector guests): `sum` and `dot` are the strict family (added left
    /// to right, bit-equal to offload-core), `sum_simd` and `dot_simd` the fast family
    /// (any order, within a tolerance; a v1 guest's `dot` is its `dot_simd`).
    #[arg(value_enum)]
    op: Option<OpArg>,
    /// Number of elements (vector guests; chunked when over the guest's capacity).
    #[arg(long)]
    n: Option<usize>,
    #[command(flatten)]
    component: ComponentOptions,
    /// Seed of the PCG-64 generator of the data (uniform in [-1, 1)).
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Timed repetitions after one checked warm-up run; the median is printed.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..))]
    repeat: u32,
    /// Let a WASI guest write to this terminal (e.g. a Go panic message).
    #[arg(long)]
    inherit_stdio: bool,
    #[command(flatten)]
    dir: GuestDir,
}

/// The CLI's names of [`Op`] (its ABI export names), with their help.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum OpArg {
    /// Σ a\[i\], strictly left to right (strict family).
    Sum,
    /// Σ a\[i\] with 128-bit SIMD partial sums, any order (fast family).
    #[value(name = "sum_simd")]
    SumSimd,
    /// Σ a\[i\]·b\[i\], strictly left to right (strict family; ABI v2 only).
    Dot,
    /// Σ a\[i\]·b\[i\], any order (fast family; a v1 guest's `dot`).
    #[value(name = "dot_simd")]
    DotSimd,
    /// result\[i\] = a\[i\]·b\[i\].
    Mul,
    /// result\[i\] = s·a\[i\].
    Scale,
}

impl From<OpArg> for Op {
    fn from(op: OpArg) -> Op {
        match op {
            OpArg::Sum => Op::Sum,
            OpArg::SumSimd => Op::SumSimd,
            OpArg::Dot => Op::Dot,
            OpArg::DotSimd => Op::DotSimd,
            OpArg::Mul => Op::Mul,
            OpArg::Scale => Op::Scale,
        }
    }
}

impl RunCommand {
    /// Runs the op on a vector guest, or hands a component to [`invoke::call`].
    pub fn execute(self) -> anyhow::Result<ExitCode> {
        let path = guests::resolve(&self.dir.dir, &self.guest);
        if invoke::is_component(&path) {
            if self.op.is_some() || self.n.is_some() {
                anyhow::bail!(
                    "{} is a component: call an export with --invoke 'run()' (an op and --n are for vector guests)",
                    path.display()
                );
            }
            return invoke::call(&path, &self.component, self.inherit_stdio);
        }
        let (Some(op), Some(n)) = (self.op.map(Op::from), self.n) else {
            anyhow::bail!(
                "{}: a vector guest needs an op and --n (e.g. `offload run wasm-rust sum --n 1000`)",
                path.display()
            );
        };
        // a, b, the reference and the guest's result.
        super::size::ensure_host_fits("--n", n, 4)?;
        if self.component.invoke.is_some() {
            anyhow::bail!(
                "--invoke is for components; {} is a core module",
                path.display()
            );
        }
        let engine = offload_host::default_engine()?;
        let module = offload_host::compile_file(&engine, &path).with_context(|| {
            format!(
                "loading guest `{}` (path names are looked up as {}/<name>.wasm; build them with ./build.sh all)",
                self.guest,
                self.dir.dir.display()
            )
        })?;
        let options = offload_host::LoadOptions {
            inherit_stdio: self.inherit_stdio,
            deadline: self.component.deadline()?,
        };
        let mut guest = VectorGuest::from_module(&module, &path.display().to_string(), &options)?;

        let inputs = Inputs::generate(n, self.seed);
        let want = check::reference(op, &inputs);
        let got = check::run_guest(&mut guest, op, &inputs)?;
        let magnitude = inputs.magnitude(op);
        let err = check::rel_error(&got, &want, magnitude);
        let ok = check::agrees(op, &got, &want, magnitude);

        let mut times = Vec::with_capacity(self.repeat as usize);
        for _ in 0..self.repeat {
            let start = Instant::now();
            let again = check::run_guest(&mut guest, op, &inputs)?;
            times.push(start.elapsed().as_nanos());
            std::hint::black_box(again);
        }
        times.sort_unstable();
        let median = times[times.len() / 2];

        println!(
            "guest:       {} ({}, ABI v{})",
            self.guest,
            path.display(),
            guest.abi_version()
        );
        let family = match op.family() {
            Some(f) => format!("family={f}"),
            None => "family=none (element-wise)".to_string(),
        };
        let export = guest.export_for(op).unwrap_or(op.export());
        let via = if export == op.export() {
            String::new()
        } else {
            format!(" export={export}")
        };
        println!(
            "op:          {} {family}{via} n={} seed={} capacity={}",
            op,
            n,
            self.seed,
            guest.capacity()
        );
        super::print_checked(op, &got, &want, err);
        println!(
            "time_ns:     {median} (median of {} runs; min {}; copy in + call + copy out)",
            times.len(),
            times[0]
        );
        Ok(super::verdict(ok, op))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every op has its CLI name, and the CLI name is the op's export name.
    #[test]
    fn op_names_are_the_export_names() {
        assert_eq!(OpArg::value_variants().len(), Op::ALL.len());
        for &arg in OpArg::value_variants() {
            let name = arg.to_possible_value().expect("not hidden");
            assert_eq!(name.get_name(), Op::from(arg).export());
        }
    }
}
