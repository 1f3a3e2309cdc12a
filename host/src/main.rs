//! `offload`: the command line of offload.
//!
//! - `offload guests [--dir build/guests]` lists the built vector guests;
//! - `offload run <guest> <op> --n N [--seed S]` runs one op in a guest on seeded
//!   data, checks it against `offload-core` and prints the result and the time;
//! - `offload devices` lists every GPU backend with its device, or why it is unavailable;
//! - `offload report <dir>` renders a benchmark report (`--compare OLD NEW` compares two);
//! - `offload forest --path native|wasm` trains and tests the random forest on the
//!   diabetes split and prints train ms, predict ms, test MSE and R².
//!
//! Exit status: 0 on success, 1 when a result does not match the reference, 2 on
//! any other error (message on stderr).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use offload_host::check::{self, Answer, Inputs};
use offload_host::{guests, Op, VectorGuest};

/// Which path is fastest for this operation at this size?
#[derive(Debug, Parser)]
#[command(name = "offload", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// One variant per subcommand; each has its own `Args` struct and `fn`, so more
/// (devices, report, forest, compose) are added without touching the others.
#[derive(Debug, Subcommand)]
enum Command {
    /// List the built guests: path name, file, size, compiler, simd128, capacity,
    /// exports.
    Guests(GuestsArgs),
    /// Run one op in one guest on generated data and check it against offload-core.
    Run(RunArgs),
    /// List every GPU backend (cpu, wgpu, cuda) with its device, or why it is unavailable.
    Devices,
    /// Train a random forest on the diabetes split and report time, test MSE and R².
    Forest(ForestArgs),
    /// Benchmark reports: re-render, --ingest, --collect-env, --compare OLD NEW.
    Report(offload_report::ReportArgs),
}

/// Where the forest runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum ForestPath {
    /// offload-core compiled for this machine (one thread, or rayon with --threads).
    Native,
    /// offload-core compiled to wasm32 (build/guests/forest/forest-rust.wasm) in wasmtime.
    Wasm,
}

#[derive(Debug, Args)]
struct ForestArgs {
    /// Native Rust or the wasm guest.
    #[arg(long, value_enum, default_value = "native")]
    path: ForestPath,
    /// Where the ML kernels run. Only `cpu` exists so far: the GPU ML kernels
    /// (bootstrap-sample, find-split, batch-predict) are not implemented yet, and
    /// asking for them is an error rather than a silent CPU run.
    #[arg(long, default_value = "cpu")]
    backend: String,
    /// Number of trees.
    #[arg(long, default_value_t = 200)]
    trees: usize,
    /// Seed of the bootstrap samples and feature draws.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Features per split (default: all, as scikit-learn's regressor).
    #[arg(long)]
    max_features: Option<usize>,
    /// Maximum depth (default: unlimited).
    #[arg(long)]
    max_depth: Option<usize>,
    /// Native path only: train one tree per rayon task.
    #[arg(long)]
    parallel: bool,
    /// The forest guest (wasm path).
    #[arg(long, default_value = offload_host::forest_guest::DEFAULT_PATH)]
    guest: PathBuf,
}

/// Where built guests are looked up.
#[derive(Debug, Args)]
struct GuestDir {
    /// Directory of built guests (`*.wasm` with `<name>.json` beside each).
    #[arg(long, env = "OFFLOAD_GUESTS_DIR", default_value = "build/guests")]
    dir: PathBuf,
}

#[derive(Debug, Args)]
struct GuestsArgs {
    #[command(flatten)]
    dir: GuestDir,
}

#[derive(Debug, Args)]
struct RunArgs {
    /// A path name (wasm-rust, wasm-c, wasm-go: looked up in --dir) or a .wasm file.
    guest: String,
    /// The operation.
    #[arg(value_enum)]
    op: Op,
    /// Number of elements (chunked when over the guest's capacity).
    #[arg(long)]
    n: usize,
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

fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Guests(args) => cmd_guests(&args),
        Command::Run(args) => cmd_run(&args),
        Command::Devices => cmd_devices(),
        Command::Forest(args) => cmd_forest(&args),
        Command::Report(a) => offload_report::run(a).map(|()| ExitCode::SUCCESS),
    };
    match outcome {
        Ok(code) => code,
        Err(e) => {
            eprintln!("offload: error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn cmd_guests(args: &GuestsArgs) -> anyhow::Result<ExitCode> {
    let dir = &args.dir.dir;
    let found = guests::discover(dir).context("listing guests (build them with ./build.sh all)")?;
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

fn cmd_run(args: &RunArgs) -> anyhow::Result<ExitCode> {
    let path = guests::resolve(&args.dir.dir, &args.guest);
    let engine = offload_host::default_engine()?;
    let module = offload_host::compile_file(&engine, &path).with_context(|| {
        format!(
            "loading guest `{}` (path names are looked up as {}/<name>.wasm; build them with ./build.sh all)",
            args.guest,
            args.dir.dir.display()
        )
    })?;
    let options = offload_host::LoadOptions {
        inherit_stdio: args.inherit_stdio,
    };
    let mut guest = VectorGuest::from_module(&module, &path.display().to_string(), &options)?;

    let inputs = Inputs::generate(args.n, args.seed);
    let want = check::reference(args.op, &inputs);
    let got = check::run_guest(&mut guest, args.op, &inputs)?;
    let magnitude = inputs.magnitude(args.op);
    let err = check::rel_error(&got, &want, magnitude);
    let ok = check::agrees(args.op, &got, &want, magnitude);

    let mut times = Vec::with_capacity(args.repeat as usize);
    for _ in 0..args.repeat {
        let start = Instant::now();
        let again = check::run_guest(&mut guest, args.op, &inputs)?;
        times.push(start.elapsed().as_nanos());
        std::hint::black_box(again);
    }
    times.sort_unstable();
    let median = times[times.len() / 2];

    println!("guest:       {} ({})", args.guest, path.display());
    println!(
        "op:          {} n={} seed={} capacity={}",
        args.op,
        args.n,
        args.seed,
        guest.capacity()
    );
    match (&got, &want) {
        (Answer::Scalar(g), Answer::Scalar(w)) => {
            println!("result:      {g:e}");
            println!("reference:   {w:e} (offload-core)");
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
    println!(
        "time_ns:     {median} (median of {} runs; min {}; copy in + call + copy out)",
        times.len(),
        times[0]
    );
    if ok {
        println!("OK");
        Ok(ExitCode::SUCCESS)
    } else {
        let tol = if args.op.is_reduction() {
            format!("{:e} scaled by sum|terms|", check::REDUCTION_REL_TOL)
        } else {
            "exact".to_string()
        };
        println!("MISMATCH (tolerance: {tol})");
        Ok(ExitCode::from(1))
    }
}

fn cmd_devices() -> anyhow::Result<ExitCode> {
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

fn yes_no(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

fn cmd_forest(args: &ForestArgs) -> anyhow::Result<ExitCode> {
    use offload_core::data::{diabetes, diabetes_split};
    use offload_core::forest::{mse, r2, Forest, ForestParams};
    if args.backend != "cpu" {
        anyhow::bail!(
            "backend `{}`: the forest's GPU ML kernels (bootstrap-sample, find-split, \
             batch-predict) are not implemented yet; only `cpu` runs",
            args.backend
        );
    }
    let data = diabetes();
    let (tr, te) = diabetes_split();
    let (train, test) = (data.subset(&tr), data.subset(&te));
    let params = ForestParams {
        n_trees: args.trees,
        max_features: args.max_features,
        max_depth: args.max_depth,
        seed: args.seed,
        ..ForestParams::default()
    };
    let (train_ns, predict_ns, pred, label) = match args.path {
        ForestPath::Native => {
            let t0 = Instant::now();
            let forest = if args.parallel {
                Forest::fit_parallel(&train, &params)?
            } else {
                Forest::fit(&train, &params)?
            };
            let train_ns = t0.elapsed().as_nanos();
            let t1 = Instant::now();
            let pred = forest.predict(&test.x)?;
            let label = if args.parallel {
                "rust-native-rayon"
            } else {
                "rust-native"
            };
            (train_ns, t1.elapsed().as_nanos(), pred, label)
        }
        ForestPath::Wasm => {
            let mut g =
                offload_host::forest_guest::ForestGuest::load(&args.guest).with_context(|| {
                    format!(
                        "loading {} (build it with ./build.sh all)",
                        args.guest.display()
                    )
                })?;
            let t0 = Instant::now();
            g.fit(&train, &params)?;
            let train_ns = t0.elapsed().as_nanos();
            let t1 = Instant::now();
            let pred = g.predict(&test.x)?;
            (train_ns, t1.elapsed().as_nanos(), pred, "wasm-rust")
        }
    };
    println!(
        "forest:      {label}, {} trees, seed {}, diabetes split {} train / {} test",
        args.trees, args.seed, train.n_rows, test.n_rows
    );
    println!("train_ms:    {:.2}", train_ns as f64 / 1e6);
    println!("predict_ms:  {:.3}", predict_ns as f64 / 1e6);
    println!("test_mse:    {:.1}", mse(&pred, &test.y));
    println!("test_r2:     {:.4}", r2(&pred, &test.y));
    Ok(ExitCode::SUCCESS)
}
