//! # offload-report
//!
//! Joins the two benchmark harnesses of offload — criterion (`cargo bench`, Rust host and
//! GPU backends) and `go test -bench` (Go host) — into one `results.json`, renders
//! `REPORT.md` (a summary of the fastest path per op, family and size with its ties, the
//! GPU crossovers for host and device-resident data, wasm against native; per-group
//! tables of median time and ratio to the fastest CPU path; noisy results, skipped paths,
//! environment) and SVG plots, and compares two result folders for regressions.
//!
//! ## Families and ratios
//!
//! docs/benchmarks.md is the contract: the reductions (`sum`, `dot`) come in two
//! algorithm families, `strict` (left to right) and `fast` (any association), carried in
//! every id and [`Record`] ([`Family`]). A ratio is formed only between records of one op,
//! element type, family and harness — [`ratio`] is the one function that forms them and
//! refuses any other pair with [`ReportError::CrossFamily`] — and its CPU baseline is the
//! fastest CPU path measured in that group, harness and size ([`analysis`]).
//!
//! ## A results folder
//!
//! `bench-results/<host>-<yyyy-mm-dd>/`, written by `scripts/bench.sh`:
//!
//! | file | content |
//! | --- | --- |
//! | `env.json` | the machine and software ([`Environment`]), from `offload report --collect-env` |
//! | `criterion/` | criterion's output (`CRITERION_HOME`): raw `new/*.json` and its HTML report |
//! | `cargo-bench.log` | stdout+stderr of `cargo bench` (read for skip, device, failure and `threads` lines) |
//! | `go-bench.txt` | raw `go test -bench -count N -benchmem` output, as benchstat reads it |
//! | `results.json` | [`Results`] (schema [`model::SCHEMA_VERSION`]): one [`Record`] per (op, dtype, family, path, n, harness) |
//! | `REPORT.md`, `plots/*.svg` | the rendering |
//!
//! ## Naming
//!
//! criterion ids `<op>[-strict|-fast][-resident][_<dtype>]/<path>/<n>`, go names
//! `Benchmark<Op>[Resident]/[family=<family>/]path=<path>[/dtype=<dtype>]/n=<n>`; see
//! [`names`]. The family is required for `sum` and `dot` and refused for every other op.
//! A name outside the scheme is an error naming the file
//! ([`ReportError::UnknownBenchmark`]). A `results.json` of an older schema is refused
//! ([`ReportError::Schema`]): re-ingest its raw output.
//!
//! ## Skip convention (for benchmark producers)
//!
//! A benchmark that cannot run a path prints **one line** to stdout or stderr of its
//! harness, before or instead of running it:
//!
//! ```text
//! SKIP <path>: <reason>
//! SKIP <op>/<path>: <reason>        (when only some benchmark groups are affected)
//! SKIP <op>/<path>/<n>: <reason>    (when only some sizes are)
//! ```
//!
//! `<op>` is the benchmark group as in the id (`sum-fast_f32`, `sgemm`).
//!
//! e.g. `SKIP gpu-cuda: no CUDA driver (libcuda.so.1: cannot open shared object file)`.
//! The line may carry a prefix (Go's `bench_test.go:42: ` from `b.Logf`, a log
//! timestamp): the report finds `SKIP ` at a word start anywhere in the line. In Go,
//! non-verbose `go test -bench` prints nothing for `b.Skip`, so print the line yourself
//! (`fmt.Printf("SKIP %s: %s\n", path, reason)`) before `b.Skip`; go's verbose
//! `--- SKIP: BenchmarkX/path=<p>/...` plus an indented reason line is understood too.
//! In Rust, `println!("SKIP {path}: {reason}")` in the bench's main or group function.
//! `scripts/bench.sh` captures cargo's output into `cargo-bench.log` and go's into
//! `go-bench.txt`; both are scanned. A repeated line is reported once. (Also understood:
//! `offload bench: skipping <path>: <reason>`, which host/benches/vector.rs prints.)
//!
//! A bench that runs an all-cores path prints `threads <path>: <count>` once (a prefix is
//! fine); the counts go into [`Environment`]'s `threads`.
//!
//! A GPU bench that opens a device says which, in one line:
//! `<gpu-path>: <adapter> (<driver>)` at the start of a line, or `DEVICE <gpu-path>: ...`
//! anywhere; the report lists these under Environment.
//!
//! ## Statistics
//!
//! - criterion: median and its 95 % bootstrap interval as criterion estimated them
//!   (`estimates.json`); samples are `times[i] / iters[i]` of `sample.json`.
//! - go: one sample per `-count` run; median, and the distribution-free order-statistic
//!   interval of the median ([`stats::median_ci`], Hollander & Wolfe §3.6 — benchstat's
//!   method; five runs reach 93.75 %, which the record states).
//! - noisy: coefficient of variation of the samples over 5 %.
//! - ties and crossovers: two results differ only where their intervals
//!   `[ci_low, ci_high]` do not overlap ([`analysis::Separation`]).
//! - compare: two-sided Mann–Whitney U on the raw samples, α = 0.05
//!   ([`stats::mann_whitney`]).
//!
//! ## CLI
//!
//! [`ReportArgs`] (plain data) and [`run`] are what `offload report` calls; the
//! `offload-report` binary of this crate is the same thing standalone. Their flags, the
//! one place clap is used, are in [`cli`] (feature `cli`, on by default).

#![deny(missing_docs)]

pub mod analysis;
#[cfg(feature = "cli")]
pub mod cli;
pub mod compare;
pub mod env;
pub mod error;
pub mod format;
pub mod ingest;
pub mod lines;
pub mod model;
pub mod names;
pub mod plots;
pub mod render;
pub mod stats;
pub mod summary;

pub use analysis::ratio;
pub use compare::{compare, Comparison};
pub use error::{ReportError, Result};
pub use ingest::{files, ingest, load_results, save_results};
pub use model::{Environment, Family, Harness, Record, Results, Skip};

use anyhow::Context;
use std::path::{Path, PathBuf};

/// What one run of the report tool does ([`run`]); plain data, filled by the CLI's flags
/// ([`cli::ReportFlags`]) or by a program.
///
/// - `dir` alone: re-render `REPORT.md` and `plots/` from `<dir>/results.json`.
/// - `ingest`: first build `results.json` from the raw inputs.
/// - `collect_env`: write `<dir>/env.json` for this machine.
/// - `compare`: print each benchmark's change from the first folder to the second.
#[derive(Debug, Clone)]
pub struct ReportArgs {
    /// Results folder (bench-results/HOST-DATE); required unless `compare` is given.
    pub dir: Option<PathBuf>,
    /// Build results.json from the raw inputs (criterion/, go-bench.txt, cargo-bench.log,
    /// env.json) before rendering.
    pub ingest: bool,
    /// criterion's output folder, when not DIR/criterion (with `ingest`).
    pub criterion_dir: Option<PathBuf>,
    /// Only write DIR/env.json describing this machine.
    pub collect_env: bool,
    /// Repository root, where Cargo.lock, go-host/go.mod and build/guests/ are
    /// (for `collect_env`).
    pub repo: PathBuf,
    /// The benchmark command line to record in env.json (for `collect_env`; `None`: this
    /// process's own command line).
    pub command_line: Option<String>,
    /// For `collect_env` on a machine without the toolchains: an env.json written where
    /// the binaries were built, whose tool and library versions, guests and git commit
    /// replace this machine's.
    pub build_env: Option<PathBuf>,
    /// Compare two results folders: (old, new).
    pub compare: Option<(PathBuf, PathBuf)>,
}

impl Default for ReportArgs {
    /// Nothing to do yet: no folder, every switch off, the repository at `.`.
    fn default() -> Self {
        ReportArgs {
            dir: None,
            ingest: false,
            criterion_dir: None,
            collect_env: false,
            repo: PathBuf::from("."),
            command_line: None,
            build_env: None,
            compare: None,
        }
    }
}

/// Renders `REPORT.md` and `plots/*.svg` into `dir` from `results`; returns the report's
/// path.
pub fn render_into(dir: &Path, results: &Results) -> Result<PathBuf> {
    let plots = plots::write_all(results, &dir.join(files::PLOTS))?;
    let md = render::markdown(results, &plots)?;
    let f = dir.join(files::REPORT);
    std::fs::write(&f, md).map_err(|e| ReportError::io(&f, e))?;
    Ok(f)
}

/// Runs `offload report`: compares, collects the environment, or (ingests and) renders,
/// as `args` says, printing what it wrote.
pub fn run(args: ReportArgs) -> anyhow::Result<()> {
    if let Some((old, new)) = &args.compare {
        let c = compare::compare(old, new)?;
        print!("{}", compare::format(&c));
        return Ok(());
    }
    let dir = args
        .dir
        .as_deref()
        .context("a results folder is required")?;
    if args.collect_env {
        std::fs::create_dir_all(dir).map_err(|e| ReportError::io(dir, e))?;
        let cmd = args
            .command_line
            .clone()
            .unwrap_or_else(|| std::env::args().collect::<Vec<_>>().join(" "));
        let mut env = env::collect(&args.repo, &cmd)?;
        if let Some(b) = &args.build_env {
            let built: Environment = ingest::read_json(b)?;
            env::merge_build_env(&mut env, built);
        }
        let f = dir.join(files::ENV);
        std::fs::write(&f, serde_json::to_string_pretty(&env)? + "\n")
            .map_err(|e| ReportError::io(&f, e))?;
        println!("wrote {}", f.display());
        return Ok(());
    }
    let results = if args.ingest {
        let r = ingest::ingest(dir, args.criterion_dir.as_deref())?;
        save_results(dir, &r)?;
        println!(
            "wrote {} ({} records, {} skipped paths)",
            dir.join(files::RESULTS).display(),
            r.records.len(),
            r.skipped.len()
        );
        r
    } else {
        load_results(dir)?
    };
    let f = render_into(dir, &results)?;
    println!("wrote {}", f.display());
    Ok(())
}
