//! `offload parallel <op> --n N --threads T --device cpu|gpu`: runs one op of the
//! parallel-for guest (build/guests/parallel/parallel-rust.wasm) on seeded data with `T`
//! worker instances, checks it against `offload-core` (fast reductions within a
//! tolerance, element-wise ops exactly, forest batch-predict bit for bit) and prints the
//! result and the time; exit 1 on a mismatch.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, ValueEnum};
use offload_host::check::{self, Answer, Inputs};
use offload_host::parallel::{DeviceKind, Options, ParallelGuest, VectorOps};
use offload_host::Op;

use super::GuestDir;

/// Arguments of `offload parallel`.
#[derive(Debug, Args)]
pub struct ParallelCommand {
    /// The operation: `sum` and `dot` are the fast family (per-block partials added by
    /// the guest), `mul` and `scale` element-wise.
    #[arg(value_enum)]
    op: ParallelOp,
    /// Number of elements (rows for `predict`).
    #[arg(long)]
    n: usize,
    /// `predict`: trees of the forest (trained on 1000 Friedman #1 rows, d = 10, seed 1,
    /// offload-core's defaults otherwise, as the `forest_predict` bench's).
    #[arg(long, default_value_t = 200)]
    trees: usize,
    /// Worker threads (instances) of the CPU device; default: every core.
    #[arg(long)]
    threads: Option<usize>,
    /// Kernel invocations (`num_threads` of `parallel_for`); default: 4 per worker on the
    /// CPU, one per 64 elements (one per row for `predict`) on the GPU, at most 2^20.
    #[arg(long)]
    parts: Option<u32>,
    /// The device the guest asks for.
    #[arg(long, value_enum, default_value_t = DeviceArg::Cpu)]
    device: DeviceArg,
    /// Seed of the PCG-64 generator of the data (uniform in [-1, 1)).
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Timed repetitions after one checked warm-up run; the median is printed.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..))]
    repeat: u32,
    /// Also time the direct path the issue compares against, on the same data in the same
    /// run, checked first: `rust-native-par` (offload-core's `par`, rayon over every core)
    /// for `--device cpu`, `gpu-wgpu` (offload-core's wgpu backend, f64, data from host
    /// memory, transfers timed) for `--device gpu`.
    #[arg(long)]
    baseline: bool,
    /// The guest file (default: `<dir>/parallel/parallel-rust.wasm`).
    #[arg(long)]
    guest: Option<PathBuf>,
    #[command(flatten)]
    dir: GuestDir,
}

/// The ops of the parallel guest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ParallelOp {
    /// Σ a\[i\], any order (fast family).
    Sum,
    /// Σ a\[i\]·b\[i\], any order (fast family).
    Dot,
    /// result\[i\] = a\[i\]·b\[i\].
    Mul,
    /// result\[i\] = s·a\[i\].
    Scale,
    /// Random-forest batch-predict of `n` Friedman #1 rows (d = 10, seed `--seed`).
    Predict,
}

impl ParallelOp {
    /// The vector op (`None` for `predict`).
    fn vector_op(self) -> Option<Op> {
        match self {
            ParallelOp::Sum => Some(Op::SumSimd),
            ParallelOp::Dot => Some(Op::DotSimd),
            ParallelOp::Mul => Some(Op::Mul),
            ParallelOp::Scale => Some(Op::Scale),
            ParallelOp::Predict => None,
        }
    }
}

/// `--device`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum DeviceArg {
    /// The worker pool (one instance per thread over the shared memory).
    Cpu,
    /// A GPU through wgpu: the kernels' attached WGSL.
    Gpu,
}

impl ParallelCommand {
    /// Loads the guest, runs the op once checked, then `--repeat` times timed.
    pub fn execute(self) -> anyhow::Result<ExitCode> {
        // a, b, the reference and the result (predict: 10 f32 a row and two f64
        // predictions, under 4 f64 a row).
        super::size::ensure_host_fits("--n", self.n, 4)?;
        let path = self
            .guest
            .clone()
            .unwrap_or_else(|| self.dir.dir.join("parallel/parallel-rust.wasm"));
        let mut options = Options::default();
        if let Some(t) = self.threads {
            anyhow::ensure!(t >= 1, "--threads must be at least 1");
            options.workers = t;
        }
        // CPU: 4 blocks per worker (load balance); GPU: one invocation per 64 elements,
        // per row for `predict` (each row walks every tree), at most 2^20 invocations.
        let default_parts = match (self.device, self.op) {
            (DeviceArg::Cpu, _) => (options.workers * 4) as u32,
            (DeviceArg::Gpu, ParallelOp::Predict) => self.n.clamp(1, 1 << 20) as u32,
            (DeviceArg::Gpu, _) => self.n.div_ceil(64).min(1 << 20) as u32,
        };
        let parts = self.parts.unwrap_or(default_parts).max(1);
        let device = match self.device {
            DeviceArg::Cpu => DeviceKind::Cpu,
            DeviceArg::Gpu => DeviceKind::DiscreteGpu,
        };
        let guest = ParallelGuest::load(&path, options).map_err(|e| {
            anyhow::anyhow!("{e} (build the guest with scripts/build-parallel-guest.sh)")
        })?;
        let mut ops = VectorOps::new(guest);
        println!("guest:       {}", path.display());
        let Some(op) = self.op.vector_op() else {
            return self.predict(&mut ops, parts, device, options.workers);
        };
        let inputs = Inputs::generate(self.n, self.seed);
        let want = check::reference(op, &inputs);
        let got = ops.run(op, &inputs, parts, device)?;
        let magnitude = inputs.magnitude(op);
        let err = check::rel_error(&got.answer, &want, magnitude);
        let ok = check::agrees(op, &got.answer, &want, magnitude);

        let mut times = Vec::with_capacity(self.repeat as usize);
        for _ in 0..self.repeat {
            times.push(ops.run(op, &inputs, parts, device)?.elapsed.as_nanos());
        }
        times.sort_unstable();
        let median = times[times.len() / 2];

        println!(
            "op:          {} family={} n={} seed={} device={} workers={} parts={parts}",
            self.op
                .to_possible_value()
                .map_or("?".into(), |v| v.get_name().to_string()),
            op.family().map_or("none (element-wise)", |f| f.name()),
            self.n,
            self.seed,
            self.device
                .to_possible_value()
                .map_or("?".into(), |v| v.get_name().to_string()),
            options.workers,
        );
        super::print_checked(op, &got.answer, &want, err);
        println!(
            "time_ns:     {median} (median of {} runs; min {}; the guest call alone: parallel_for on the workers plus the guest's combine)",
            times.len(),
            times[0]
        );
        if self.baseline {
            let (label, ns) = baseline(op, &inputs, &want, magnitude, self.device, self.repeat)?;
            println!(
                "baseline_ns: {ns} ({label}, median of {} runs; ratio parallel-for / {label} = {:.3})",
                self.repeat,
                median as f64 / ns as f64
            );
        }
        Ok(super::verdict(ok, op))
    }

    /// `predict`: trains the forest natively, predicts `--n` rows through the guest,
    /// checks every prediction against `Forest::predict` bit for bit (on a GPU without
    /// f64 the guest's kernel cannot run), times `--repeat` runs, and with `--baseline`
    /// the direct path on the same rows: `rust-native-par` (`PackedForest::predict_par`,
    /// the forest compiled once outside the timing, as the guest's words are) or
    /// `gpu-wgpu` (`Forest::predict_on` the wgpu backend: forest and rows uploaded,
    /// predictions downloaded, all timed, as the guest's are).
    fn predict(
        &self,
        ops: &mut VectorOps,
        parts: u32,
        device: DeviceKind,
        workers: usize,
    ) -> anyhow::Result<ExitCode> {
        use offload_core::data::friedman1;
        use offload_core::forest::{Forest, ForestParams};
        let params = ForestParams {
            n_trees: self.trees,
            ..ForestParams::default()
        };
        let forest = Forest::fit_parallel(&friedman1(1000, 10, 1.0, 1), &params)?;
        let packed = forest.compile()?;
        let x = friedman1(self.n, 10, 1.0, self.seed).x;
        let want = packed.predict_par(&x)?;
        let (got, _) = ops.predict(&packed, &x, parts, device)?;
        let mismatch = got
            .iter()
            .zip(&want)
            .position(|(g, w)| g.to_bits() != w.to_bits());
        let mut times = Vec::with_capacity(self.repeat as usize);
        for _ in 0..self.repeat {
            times.push(ops.predict(&packed, &x, parts, device)?.1.as_nanos());
        }
        times.sort_unstable();
        let median = times[times.len() / 2];
        println!(
            "op:          predict rows={} d=10 trees={} nodes={} seed={} device={} workers={workers} parts={parts}",
            self.n,
            self.trees,
            packed.n_nodes(),
            self.seed,
            self.device
                .to_possible_value()
                .map_or("?".into(), |v| v.get_name().to_string()),
        );
        println!("check:       every prediction bit for bit equal to Forest::predict");
        println!(
            "time_ns:     {median} (median of {} runs; min {}; the guest call alone: the forest and rows bound, parallel_for, predictions read back)",
            times.len(),
            times[0]
        );
        if self.baseline {
            let (label, ns) =
                predict_baseline(&forest, &packed, &x, &want, self.device, self.repeat)?;
            println!(
                "baseline_ns: {ns} ({label}, median of {} runs; ratio parallel-for / {label} = {:.3})",
                self.repeat,
                median as f64 / ns as f64
            );
        }
        match mismatch {
            None => {
                println!("OK");
                Ok(ExitCode::SUCCESS)
            }
            Some(i) => {
                println!(
                    "MISMATCH at row {i}: {} vs Forest::predict's {}",
                    got[i], want[i]
                );
                Ok(ExitCode::from(1))
            }
        }
    }
}

/// The direct forest path beside the guest's `predict` (see [`ParallelCommand::predict`]):
/// checked bit for bit against `want`, then timed `repeat` times; its report name and
/// median in ns.
fn predict_baseline(
    forest: &offload_core::forest::Forest,
    packed: &offload_core::forest::PackedForest,
    x: &[f32],
    want: &[f64],
    device: DeviceArg,
    repeat: u32,
) -> anyhow::Result<(&'static str, u128)> {
    use std::time::Instant;
    let mut gpu = match device {
        DeviceArg::Cpu => None,
        DeviceArg::Gpu => Some(offload_core::gpu::Backend::open("wgpu")?),
    };
    let label = if gpu.is_some() {
        "gpu-wgpu"
    } else {
        "rust-native-par"
    };
    let mut run = || -> anyhow::Result<Vec<f64>> {
        Ok(match gpu.as_mut() {
            None => packed.predict_par(x)?,
            Some(g) => forest.predict_on(&mut **g, x)?,
        })
    };
    let got = run()?;
    anyhow::ensure!(
        got.len() == want.len()
            && got
                .iter()
                .zip(want)
                .all(|(g, w)| g.to_bits() == w.to_bits()),
        "{label} predictions differ from Forest::predict"
    );
    let mut times = Vec::with_capacity(repeat as usize);
    for _ in 0..repeat {
        let t = Instant::now();
        run()?;
        times.push(t.elapsed().as_nanos());
    }
    times.sort_unstable();
    Ok((label, times[times.len() / 2]))
}

/// One run of a baseline path: writes a vector result into the slice, returns a scalar one.
type BaselineRun<'a> = Box<dyn FnMut(&mut [f64]) -> anyhow::Result<Option<f64>> + 'a>;

/// The direct path beside the parallel-for guest (see `--baseline`): checked against
/// `want`, then timed `repeat` times; returns its report name and the median in ns.
fn baseline(
    op: Op,
    x: &Inputs,
    want: &Answer,
    magnitude: f64,
    device: DeviceArg,
    repeat: u32,
) -> anyhow::Result<(&'static str, u128)> {
    use offload_core::gpu::{Backend, DType, ElementwiseOp, ReduceOp};
    use offload_core::par;
    use std::time::Instant;
    let n = x.a.len();
    let mut out = vec![0.0f64; n];
    let (label, mut run): (&'static str, BaselineRun<'_>) = match device {
        DeviceArg::Cpu => (
            "rust-native-par",
            Box::new(|out: &mut [f64]| {
                Ok(match op {
                    Op::SumSimd => Some(par::sum(&x.a)),
                    Op::DotSimd => Some(par::dot(&x.a, &x.b)?),
                    Op::Mul => {
                        par::mul(&x.a, &x.b, out)?;
                        None
                    }
                    _ => {
                        par::scale(x.scalar, &x.a, out)?;
                        None
                    }
                })
            }),
        ),
        DeviceArg::Gpu => {
            let mut gpu = Backend::open("wgpu")?;
            (
                "gpu-wgpu",
                Box::new(move |out: &mut [f64]| {
                    let bytes = (n * 8) as u64;
                    let a = gpu.create_buffer(bytes)?;
                    gpu.write(a, 0, bytemuck::cast_slice(&x.a))?;
                    let b = match op {
                        Op::DotSimd | Op::Mul => {
                            let b = gpu.create_buffer(bytes)?;
                            gpu.write(b, 0, bytemuck::cast_slice(&x.b))?;
                            Some(b)
                        }
                        _ => None,
                    };
                    let n64 = n as u64;
                    let r = match op {
                        Op::SumSimd => Some(gpu.reduce(ReduceOp::Sum, DType::F64, a, n64)?),
                        Op::DotSimd => Some(gpu.dot(DType::F64, a, b.unwrap_or(a), n64)?),
                        _ => {
                            let o = gpu.create_buffer(bytes)?;
                            let e = if op == Op::Mul {
                                ElementwiseOp::Mul
                            } else {
                                ElementwiseOp::Scale
                            };
                            gpu.elementwise(e, DType::F64, a, b, x.scalar, o, n64)?;
                            gpu.read(o, 0, bytemuck::cast_slice_mut(out))?;
                            gpu.destroy_buffer(o)?;
                            None
                        }
                    };
                    gpu.destroy_buffer(a)?;
                    if let Some(b) = b {
                        gpu.destroy_buffer(b)?;
                    }
                    Ok(r)
                }),
            )
        }
    };
    let got = match run(&mut out)? {
        Some(v) => Answer::Scalar(v),
        None => Answer::Vector(out.clone()),
    };
    anyhow::ensure!(
        check::agrees(op, &got, want, magnitude),
        "{label} disagrees with offload-core (must be {})",
        check::criterion(op)
    );
    let mut times = Vec::with_capacity(repeat as usize);
    for _ in 0..repeat {
        let t = Instant::now();
        run(&mut out)?;
        times.push(t.elapsed().as_nanos());
    }
    times.sort_unstable();
    Ok((label, times[times.len() / 2]))
}
