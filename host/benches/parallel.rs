//! Criterion benches of the parallel-for guest (`build/guests/parallel/parallel-rust.wasm`,
//! host/src/parallel/), in the ids of docs/benchmarks.md, beside the paths the vector and
//! forest benches measure in the same run:
//!
//! | id | what is timed |
//! | --- | --- |
//! | `sum-fast/wasm-rust-parallel-for/<n>`, `mul/…` | the guest's `sum` / `mul` on the CPU device: copy the inputs into linear memory, the export (parallel_for on one worker instance per core, partials added by the guest), copy the result out — the user-facing call, as the vector bench times `wasm-rust` |
//! | `sum-fast/gpu-wgpu-parallel-for/<n>`, `mul/…` | the same call with the GPU hint: the kernels' attached WGSL on offload-core's wgpu backend, data from linear memory (host memory), uploads and downloads timed — the placement of `gpu-wgpu` |
//! | `forest-predict/wasm-rust-parallel-for/<rows>`, `forest-predict/gpu-wgpu-parallel-for/<rows>` | the guest's `predict` of `rows` Friedman #1 rows (d = 10, seed 2) with the 200-tree forest of core's `forest_predict` bench (1000 rows, seed 1): the forest's words and the rows copied in, the export, the predictions copied out |
//!
//! Their rivals are measured by the other benches of the same run: `rust-native-par` and
//! `rust-native-simd` (`sum-fast`), `rust-native` and `rust-native-par` (`mul`) in
//! host/benches/vector.rs, `gpu-wgpu` in core/benches/gpu/, `rust-native` and
//! `rust-native-rayon` (`forest-predict`) in core/benches/forest_predict.rs and
//! `gpu-wgpu` in core/benches/forest_gpu.rs. Same families: the guest's `sum` is the fast
//! family (any order), `predict` gives `Forest::predict`'s bits.
//!
//! Every path is checked before it is timed: `sum` within `check::REDUCTION_REL_TOL` of
//! core's `sum_simd`, `mul` exactly, `predict` bit for bit (on the GPU device too, which
//! needs `SHADER_F64`). A guest that is not built, or a GPU device that does not open, is
//! skipped by name (`SKIP <path>: <reason>`); a wrong answer panics before any timing.
//! The bench prints `threads wasm-rust-parallel-for: <workers>` once.
//!
//! Sizes: n ∈ 1e3 … 1e7 as the vector bench (1e3 and 1e5 with `OFFLOAD_BENCH_QUICK=1`);
//! rows ∈ 1e4, 1e5, 1e6 as `forest_predict` (1e4, 1e5 quick).
//! Filter as usual: `cargo bench -p offload-host --bench parallel -- 'mul'`.

mod common;

use std::path::PathBuf;

use criterion::{
    criterion_group, criterion_main, BenchmarkId, Criterion, SamplingMode, Throughput,
};
use offload_core::data::friedman1;
use offload_core::forest::{Forest, ForestParams, PackedForest};
use offload_host::check::{self, Inputs};
use offload_host::parallel::{DeviceKind, Errno, Options, ParallelError, ParallelGuest, VectorOps};
use offload_host::Op;

use common::{config, guests_dir, quick, sizes, FLAT_FROM};

const ROWS: [usize; 3] = [10_000, 100_000, 1_000_000];
const QUICK_ROWS: [usize; 2] = [10_000, 100_000];
const SEED: u64 = 2024;
const CPU: &str = "wasm-rust-parallel-for";
const GPU: &str = "gpu-wgpu-parallel-for";

fn guest_file() -> PathBuf {
    guests_dir().join("parallel/parallel-rust.wasm")
}

/// Kernel invocations for `n` elements.
type Parts = Box<dyn Fn(usize) -> u32>;

/// The two devices: (path, device, kernel invocations for `n` elements or rows).
fn devices(workers: usize) -> [(&'static str, DeviceKind, Parts); 2] {
    [
        // 4 blocks per worker (load balance), as `offload parallel` does.
        (
            CPU,
            DeviceKind::Cpu,
            Box::new(move |_| (workers * 4) as u32),
        ),
        // One invocation per 64 elements (rows: per row), at most 2^20.
        (
            GPU,
            DeviceKind::DiscreteGpu,
            Box::new(|n: usize| n.div_ceil(64).clamp(1, 1 << 20) as u32),
        ),
    ]
}

/// `true` when `r` is the GPU device's `no-device` (the path is skipped by name).
fn no_gpu<T>(path: &str, r: &Result<T, ParallelError>) -> bool {
    if let Err(ParallelError::Guest {
        errno: Errno::NoDevice,
        message,
        ..
    }) = r
    {
        println!(
            "SKIP {path}: {}",
            message.as_deref().unwrap_or("no GPU device")
        );
        return true;
    }
    false
}

fn sampling(g: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>, n: usize) {
    if !quick() && n >= FLAT_FROM {
        g.sampling_mode(SamplingMode::Flat).sample_size(10);
    }
}

fn bench_vector(c: &mut Criterion, ops: &mut VectorOps, workers: usize) {
    let mut skip_gpu = false;
    for op in [Op::SumSimd, Op::Mul] {
        let mut group = c.benchmark_group(op.group());
        for &n in sizes() {
            let x = Inputs::generate(n, SEED);
            let want = check::reference(op, &x);
            group.throughput(Throughput::Elements(n as u64));
            sampling(&mut group, n);
            for (path, device, parts) in devices(workers) {
                if device != DeviceKind::Cpu && skip_gpu {
                    continue;
                }
                let parts = parts(n);
                let r = ops.run(op, &x, parts, device);
                if no_gpu(path, &r) {
                    skip_gpu = true;
                    continue;
                }
                let got = r.unwrap_or_else(|e| panic!("{op}/{path}/{n}: {e}")).answer;
                assert!(
                    check::agrees(op, &got, &want, x.magnitude(op)),
                    "{}/{path}/{n}: {got:?} disagrees with offload-core ({})",
                    op.group(),
                    check::criterion(op)
                );
                group.bench_function(BenchmarkId::new(path, n), |b| {
                    b.iter(|| ops.run(op, &x, parts, device).expect("checked above"))
                });
            }
        }
        group.finish();
    }
}

fn bench_predict(c: &mut Criterion, ops: &mut VectorOps, workers: usize) {
    let params = ForestParams {
        n_trees: 200,
        ..ForestParams::default()
    };
    let forest = Forest::fit_parallel(&friedman1(1000, 10, 1.0, 1), &params).expect("fit");
    let packed = PackedForest::new_par(&forest).expect("compile");
    let rows: &[usize] = if quick() { &QUICK_ROWS } else { &ROWS };
    let mut group = c.benchmark_group("forest-predict");
    let mut skip_gpu = false;
    for &n in rows {
        let x = friedman1(n, 10, 1.0, 2).x;
        let want = packed.predict_par(&x).expect("predict");
        group.throughput(Throughput::Elements(n as u64));
        group.sampling_mode(SamplingMode::Flat).sample_size(10);
        for (path, device, parts) in devices(workers) {
            if device != DeviceKind::Cpu && skip_gpu {
                continue;
            }
            let parts = if device == DeviceKind::Cpu {
                parts(n)
            } else {
                n.clamp(1, 1 << 20) as u32
            };
            let r = ops.predict(&packed, &x, parts, device);
            if no_gpu(path, &r) {
                skip_gpu = true;
                continue;
            }
            let (got, _) = r.unwrap_or_else(|e| panic!("forest-predict/{path}/{n}: {e}"));
            if let Some(i) = got
                .iter()
                .zip(&want)
                .position(|(g, w)| g.to_bits() != w.to_bits())
            {
                panic!(
                    "forest-predict/{path}/{n}: row {i}: {} vs Forest::predict's {}",
                    got[i], want[i]
                );
            }
            group.bench_function(BenchmarkId::new(path, n), |b| {
                b.iter(|| {
                    ops.predict(&packed, &x, parts, device)
                        .expect("checked above")
                })
            });
        }
    }
    group.finish();
}

fn benches(c: &mut Criterion) {
    let file = guest_file();
    if !file.is_file() {
        for path in [CPU, GPU] {
            println!(
                "SKIP {path}: {} is not built (run scripts/build-parallel-guest.sh)",
                file.display()
            );
        }
        return;
    }
    let options = Options::default();
    let workers = options.workers;
    let guest = ParallelGuest::load(&file, options)
        .unwrap_or_else(|e| panic!("{} is built but does not load: {e}", file.display()));
    println!("threads {CPU}: {workers}");
    let mut ops = VectorOps::new(guest);
    bench_vector(c, &mut ops, workers);
    bench_predict(c, &mut ops, workers);
}

criterion_group! {
    name = parallel;
    config = config();
    targets = benches
}
criterion_main!(parallel);
