//! `offload`: the command line of offload.
//!
//! - `offload guests [--dir build/guests]` lists the built vector guests;
//! - `offload run <guest> <op> --n N [--seed S]` runs one op in a guest on seeded
//!   data, checks it against `offload-core` (strict reductions bit for bit, fast ones
//!   within a tolerance) and prints the op's family, the result and the time;
//! - `offload run <component.wasm> --backend cpu|wgpu|cuda --invoke 'run()'` runs an
//!   export of a wasi:gpu component (the file's kind picks the form) and prints the result
//!   in WAVE (`ok("...")`, `err("...")`); exit 1 on `err`, 2 on a trap;
//! - `offload componentize <core.wasm> -o <component.wasm>` wraps a wit-bindgen core module
//!   (wasm32-wasip1) into a component with the WASI preview1 reactor adapter;
//! - `offload devices` lists every GPU backend with its device, or why it is unavailable;
//! - `offload report <dir>` renders a benchmark report (`--compare OLD NEW` compares two);
//! - `offload forest --path native|wasm` trains and tests the random forest on the
//!   diabetes split and prints train ms, predict ms, test MSE and R² (`--path wasm
//!   --backend wgpu|cuda`: the forest-gpu guest, its kernels on the device through wasi:gpu).
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
    /// Run one op in one guest on generated data and check it against offload-core; or,
    /// when the file is a component, invoke one of its exports with wasi:gpu on a backend.
    Run(RunArgs),
    /// Wrap a wasm32-wasip1 core module with wit-bindgen's component-type section into a
    /// component (WASI preview1 reactor adapter).
    Componentize(ComponentizeArgs),
    /// List every GPU backend (cpu, wgpu, cuda) with its device, or why it is unavailable.
    Devices,
    /// Train a random forest on the diabetes split and report time, test MSE and R².
    Forest(ForestArgs),
    /// Benchmark reports: re-render, --ingest, --collect-env, --compare OLD NEW.
    Report(offload_report::ReportArgs),
    /// Plug provider components into a client component's imports (wac), validate, write.
    Compose(offload_host::compose::ComposeArgs),
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
    /// Where the ML kernels run: `cpu` (plain Rust), or `wgpu` / `cuda`: training through
    /// bootstrap-sample and find-split, prediction through batch-predict, the forest checked
    /// against the native one. With `--path wasm`, `wgpu` / `cuda` run the forest-gpu guest
    /// (offload-core's `Forest::fit_on` compiled to wasm32) whose kernels reach the device
    /// through wasi:gpu (label `wasi-gpu-<backend>`); `cpu` runs the plain forest guest
    /// (everything inside wasm) unless `--wasi-gpu` is given.
    #[arg(long, default_value = "cpu")]
    backend: String,
    /// Wasm path: run the forest-gpu guest through wasi:gpu even on `--backend cpu` (the
    /// host's cpu reference backend does the kernels; label `wasi-gpu-cpu`). Implied by
    /// `--backend wgpu|cuda`.
    #[arg(long)]
    wasi_gpu: bool,
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
    /// The guest (wasm path). Default: build/guests/forest/forest-rust.wasm (plain forest
    /// guest), or build/guests/forest/forest-gpu.wasm (the forest-gpu component) for the
    /// wasi:gpu runs.
    #[arg(long)]
    guest: Option<PathBuf>,
    /// Also write the test rows' predictions to FILE as JSON (`path`, `trees`, `seed`,
    /// `test_mse`, `predictions`: 89 f64 in test_idx.txt order, printed so they parse
    /// back bit for bit), to compare hosts (go-host's forest test reads it).
    #[arg(long, value_name = "FILE")]
    predictions: Option<PathBuf>,
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
    /// A path name (wasm-rust, wasm-c, wasm-go: looked up in --dir) or a .wasm file (a
    /// core vector guest, or a wasi:gpu component).
    guest: String,
    /// The operation (vector guests): `sum` and `dot` are the strict family (added left
    /// to right, bit-equal to offload-core), `sum_simd` and `dot_simd` the fast family
    /// (any order, within a tolerance; a v1 guest's `dot` is its `dot_simd`).
    #[arg(value_enum)]
    op: Option<Op>,
    /// Number of elements (vector guests; chunked when over the guest's capacity).
    #[arg(long)]
    n: Option<usize>,
    /// Components: the export to call, as a WAVE call (`run()`, `sum(1000)`,
    /// `matmul(256, false)`, `probe("oob-write", 0)`).
    #[arg(long)]
    invoke: Option<String>,
    /// Components: the wasi:gpu backend (`cpu`, `wgpu`, `cuda`, `auto`).
    #[arg(long, default_value = "cpu")]
    backend: String,
    /// Components: per-instance device byte quota.
    #[arg(long, default_value_t = offload_host::wasi_gpu::Limits::default().max_bytes)]
    max_bytes: u64,
    /// Components: per-instance buffer quota.
    #[arg(long, default_value_t = offload_host::wasi_gpu::Limits::default().max_buffers)]
    max_buffers: u32,
    /// Components: seconds one call may run before the guest is interrupted.
    #[arg(long, default_value_t = offload_host::wasi_gpu::Limits::default().deadline.as_secs_f64())]
    deadline_s: f64,
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

#[derive(Debug, Args)]
struct ComponentizeArgs {
    /// The core module (wasm32-wasip1, with wit-bindgen's component-type section).
    core: PathBuf,
    /// The component to write.
    #[arg(short, long)]
    output: PathBuf,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Guests(args) => cmd_guests(&args),
        Command::Run(args) => cmd_run(&args),
        Command::Componentize(args) => cmd_componentize(&args),
        Command::Devices => cmd_devices(),
        Command::Forest(args) => cmd_forest(&args),
        Command::Report(a) => offload_report::run(a).map(|()| ExitCode::SUCCESS),
        Command::Compose(a) => offload_host::compose::run_cli(&a)
            .map(|()| ExitCode::SUCCESS)
            .map_err(Into::into),
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

fn cmd_componentize(args: &ComponentizeArgs) -> anyhow::Result<ExitCode> {
    let core =
        std::fs::read(&args.core).with_context(|| format!("reading {}", args.core.display()))?;
    let component = offload_host::wasi_gpu::componentize(&core)
        .with_context(|| format!("componentizing {}", args.core.display()))?;
    std::fs::write(&args.output, &component)
        .with_context(|| format!("writing {}", args.output.display()))?;
    println!(
        "wrote {} ({} bytes, component of {})",
        args.output.display(),
        component.len(),
        args.core.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// Whether `path` is a WebAssembly component (rather than a core module).
fn is_component(path: &std::path::Path) -> bool {
    use std::io::Read;
    let mut head = [0u8; 8];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut head))
        .map(|()| wasmparser::Parser::is_component(&head))
        .unwrap_or(false)
}

fn cmd_run_component(args: &RunArgs, path: &std::path::Path) -> anyhow::Result<ExitCode> {
    use offload_host::wasi_gpu::{Device, Error as GpuHostError, GpuHost, Limits};
    if args.op.is_some() || args.n.is_some() {
        anyhow::bail!(
            "{} is a component: call an export with --invoke 'run()' (an op and --n are for vector guests)",
            path.display()
        );
    }
    let call = args.invoke.as_deref().unwrap_or("run()");
    let deadline = std::time::Duration::try_from_secs_f64(args.deadline_s)
        .map_err(|e| anyhow::anyhow!("--deadline-s {}: {e}", args.deadline_s))?;
    let device = Device::open(&args.backend)?;
    let limits = Limits {
        max_bytes: args.max_bytes,
        max_buffers: args.max_buffers,
        deadline,
    };
    let mut host = GpuHost::new(device, limits)?;
    host.inherit_stdio(args.inherit_stdio);
    let component = host.load(path)?;
    let mut instance = host.instantiate(&component)?;
    match instance.invoke(call) {
        Ok((text, is_err)) => {
            println!("{text}");
            Ok(if is_err {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            })
        }
        Err(e @ GpuHostError::Trap { .. }) => {
            eprintln!("offload: {e}");
            Ok(ExitCode::from(2))
        }
        Err(e) => Err(e.into()),
    }
}

fn cmd_run(args: &RunArgs) -> anyhow::Result<ExitCode> {
    let path = guests::resolve(&args.dir.dir, &args.guest);
    if is_component(&path) {
        return cmd_run_component(args, &path);
    }
    let (Some(op), Some(n)) = (args.op, args.n) else {
        anyhow::bail!(
            "{}: a vector guest needs an op and --n (e.g. `offload run wasm-rust sum --n 1000`)",
            path.display()
        );
    };
    if args.invoke.is_some() {
        anyhow::bail!(
            "--invoke is for components; {} is a core module",
            path.display()
        );
    }
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

    let inputs = Inputs::generate(n, args.seed);
    let want = check::reference(op, &inputs);
    let got = check::run_guest(&mut guest, op, &inputs)?;
    let magnitude = inputs.magnitude(op);
    let err = check::rel_error(&got, &want, magnitude);
    let ok = check::agrees(op, &got, &want, magnitude);

    let mut times = Vec::with_capacity(args.repeat as usize);
    for _ in 0..args.repeat {
        let start = Instant::now();
        let again = check::run_guest(&mut guest, op, &inputs)?;
        times.push(start.elapsed().as_nanos());
        std::hint::black_box(again);
    }
    times.sort_unstable();
    let median = times[times.len() / 2];

    println!(
        "guest:       {} ({}, ABI v{})",
        args.guest,
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
        args.seed,
        guest.capacity()
    );
    match (&got, &want) {
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
    println!("check:       {}", check::criterion(op));
    println!(
        "time_ns:     {median} (median of {} runs; min {}; copy in + call + copy out)",
        times.len(),
        times[0]
    );
    if ok {
        println!("OK");
        Ok(ExitCode::SUCCESS)
    } else {
        println!("MISMATCH (must be {})", check::criterion(op));
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
    let backend = args.backend.trim().to_ascii_lowercase();
    if !matches!(backend.as_str(), "cpu" | "wgpu" | "cuda") {
        anyhow::bail!(
            "unknown backend `{}` (expected cpu, wgpu or cuda)",
            args.backend
        );
    }
    let wasi_gpu = args.path == ForestPath::Wasm && (backend != "cpu" || args.wasi_gpu);
    if args.wasi_gpu && args.path != ForestPath::Wasm {
        anyhow::bail!("--wasi-gpu applies to --path wasm only");
    }
    let guest_path = args.guest.clone().unwrap_or_else(|| {
        PathBuf::from(if wasi_gpu {
            offload_host::forest_gpu_guest::DEFAULT_PATH
        } else {
            offload_host::forest_guest::DEFAULT_PATH
        })
    });
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
    let mut identical = None;
    let (train_ns, predict_ns, pred, label) = match args.path {
        ForestPath::Native if backend != "cpu" => {
            if args.parallel {
                anyhow::bail!("--parallel applies to --backend cpu only");
            }
            let mut dev = offload_core::gpu::Backend::open(&backend)?;
            let t0 = Instant::now();
            let forest = Forest::fit_on(&mut *dev, &train, &params)?;
            let train_ns = t0.elapsed().as_nanos();
            let t1 = Instant::now();
            let pred = forest.predict_on(&mut *dev, &test.x)?;
            let predict_ns = t1.elapsed().as_nanos();
            identical = Some(forest == Forest::fit(&train, &params)?);
            let label = if backend == "wgpu" {
                "gpu-wgpu"
            } else {
                "gpu-cuda"
            };
            println!("device:      {} ({})", dev.info().name, dev.info().driver);
            (train_ns, predict_ns, pred, label)
        }
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
        ForestPath::Wasm if wasi_gpu => {
            use offload_host::forest_gpu_guest::ForestGpuGuest;
            use offload_host::wasi_gpu::{Device, Limits};
            let dev = Device::open(&backend)?;
            println!("device:      {} ({})", dev.info().name, dev.info().driver);
            let mut g =
                ForestGpuGuest::load(&guest_path, dev, Limits::default()).with_context(|| {
                    format!(
                        "loading {} (build it with scripts/build-forest-gpu-guest.sh)",
                        guest_path.display()
                    )
                })?;
            let t0 = Instant::now();
            g.fit(&train, &params)?;
            let train_ns = t0.elapsed().as_nanos();
            let t1 = Instant::now();
            let pred = g.predict(&test.x)?;
            let predict_ns = t1.elapsed().as_nanos();
            identical = Some(g.trees()? == Forest::fit(&train, &params)?);
            let label = match backend.as_str() {
                "wgpu" => "wasi-gpu-wgpu",
                "cuda" => "wasi-gpu-cuda",
                _ => "wasi-gpu-cpu",
            };
            (train_ns, predict_ns, pred, label)
        }
        ForestPath::Wasm => {
            let mut g =
                offload_host::forest_guest::ForestGuest::load(&guest_path).with_context(|| {
                    format!(
                        "loading {} (build it with ./build.sh all)",
                        guest_path.display()
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
    if let Some(same) = identical {
        println!("forest identical to native: {}", yes_no(same));
        if !same {
            return Ok(ExitCode::FAILURE);
        }
    }
    if let Some(f) = &args.predictions {
        let json = serde_json::json!({
            "path": label,
            "trees": args.trees,
            "seed": args.seed,
            "test_mse": mse(&pred, &test.y),
            "predictions": pred,
        });
        std::fs::write(f, serde_json::to_string_pretty(&json)? + "\n")
            .with_context(|| format!("writing {}", f.display()))?;
    }
    Ok(ExitCode::SUCCESS)
}
