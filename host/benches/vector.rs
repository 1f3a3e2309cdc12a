//! Criterion benches of the vector ops on every Rust-side path, in the families and ids
//! of docs/benchmarks.md.
//!
//! Benchmark ids are `<group>/<path>/<n>`:
//!
//! - `<op>[-<family>]/<path>/<n>` (groups `sum-strict`, `sum-fast`, `dot-strict`,
//!   `dot-fast`, `mul`, `scale`; n: 1e3..1e7): the user-facing call. For wasm paths that
//!   is copy in + compute + copy out, chunked past the guest's capacity
//!   (`VectorGuest::sum` etc.; strict reductions stay strict across chunks).
//! - `<op>[-<family>]-resident/<path>/<n>` (n ≤ capacity): data already in the guest's
//!   buffers, compute only (`VectorGuest::call`); the native paths run the same kernels
//!   on host memory beside them.
//! - `copy-in/<path>/<n>` (n ≤ capacity for wasm): writing n `f64` into buffer `a`
//!   (`rust-native`: `copy_from_slice` into a host `Vec`, the memcpy floor).
//! - `empty-call/<path>/0`: `sum(0)`, pure call overhead (`rust-native`: core's `sum`
//!   of an empty slice behind `black_box`).
//!
//! Paths per family:
//!
//! | group | native paths | wasm paths (`wasm-rust`, `wasm-c`, `wasm-go`) |
//! | --- | --- | --- |
//! | `sum-strict`, `dot-strict` | `rust-native` (core `vector::sum` / `dot`, left to right) | the guests' `sum` / `dot` |
//! | `sum-fast`, `dot-fast` | `rust-native-simd` (core `vector::sum_simd` / `dot_simd`, AVX2 or SSE2 chosen at run time), `rust-native-par` (core `par::sum` / `dot`, rayon over all cores) | the guests' `sum_simd` / `dot_simd` (a v1 guest's `dot`) |
//! | `mul`, `scale` | `rust-native` (core `vector`), `rust-native-par` (core `par`) | the guests' `mul` / `scale` |
//!
//! The bench prints `threads rust-native-par: <count>` once. The guests are the built
//! ones in `build/guests` (or `$OFFLOAD_GUESTS_DIR`). A guest that is not built is
//! skipped by name (`SKIP <path>: <reason>`), and so is a group it cannot run (`SKIP
//! dot-strict/<path>: ...` for a v1 guest, which has no strict dot). A guest that is
//! built but fails to load, or any path whose answer disagrees with offload-core, panics
//! in the setup before anything is timed: strict reductions must give core's bits
//! exactly, fast ones agree within `check::REDUCTION_REL_TOL`, mul/scale exactly.
//!
//! Run time. Full run: 30 samples, 0.4 s warm-up, 1.2 s measurement per benchmark;
//! from n = 1e6 on, flat sampling with 10 samples (a 1e7 wasm call with its copies takes
//! ~20 ms, and linear sampling would stretch each to many seconds); no criterion plots or
//! HTML (they cost ~3.5 s per benchmark on the 2-core VM, more than measuring; the report
//! draws its own plots from the raw JSON, which is still written). About 240
//! benchmarks at ~2.2 s each with the analysis: about 9 minutes on the 2-core VM (measured
//! 2.65 s per benchmark at 0.5 s + 1.5 s under a load of 3). `OFFLOAD_BENCH_QUICK=1` is
//! the quick look of `./build.sh bench --quick`: n ∈ {1e3, 1e5} only ([`QUICK_NS`];
//! every path still runs once per size), 10 samples, 0.15 s warm-up, 0.4 s measurement.
//! Filter as usual: `cargo bench -p offload-host --bench vector -- 'dot'`.

mod common;

use std::hint::black_box;

use criterion::{
    criterion_group, criterion_main, BenchmarkGroup, BenchmarkId, Criterion, SamplingMode,
    Throughput,
};
use offload_core::{par, vector as v};
use offload_host::check::{self, Answer, Inputs};
use offload_host::{Buffer, Family, Op, VectorGuest};

use common::{config, guests_dir, quick, sizes, FLAT_FROM};

const SEED: u64 = 2024;
const WASM_PATHS: [&str; 3] = ["wasm-rust", "wasm-c", "wasm-go"];

/// Per-size sampling of a full run: flat with 10 samples for the large sizes, else the
/// configured default (linear, 30 samples).
fn set_sampling(group: &mut BenchmarkGroup<'_, criterion::measurement::WallTime>, n: usize) {
    if quick() {
        return;
    }
    if n >= FLAT_FROM {
        group.sampling_mode(SamplingMode::Flat).sample_size(10);
    } else {
        group.sampling_mode(SamplingMode::Linear).sample_size(30);
    }
}

struct Wasm {
    path: &'static str,
    guest: VectorGuest,
}

fn load_guests() -> Vec<Wasm> {
    let dir = guests_dir();
    let mut out = Vec::new();
    for path in WASM_PATHS {
        let file = dir.join(format!("{path}.wasm"));
        if !file.is_file() {
            println!(
                "SKIP {path}: {} is not built (run ./build.sh all)",
                file.display()
            );
            continue;
        }
        let guest = VectorGuest::load(&file)
            .unwrap_or_else(|e| panic!("{path} is built but does not load: {e}"));
        out.push(Wasm { path, guest });
    }
    out
}

/// A native (host) implementation.
#[derive(Debug, Clone, Copy)]
enum Native {
    /// `rust-native`: core's `vector` kernels (strict reductions, element-wise ops).
    Scalar,
    /// `rust-native-simd`: core's `vector::sum_simd` / `dot_simd` (fast reductions).
    Simd,
    /// `rust-native-par`: core's `par` kernels over all cores (fast reductions,
    /// element-wise ops).
    Par,
}

/// The native paths of `op`'s group, by family (see the module docs).
fn native_paths(op: Op) -> &'static [(&'static str, Native)] {
    match op.family() {
        Some(Family::Strict) => &[("rust-native", Native::Scalar)],
        Some(Family::Fast) => &[
            ("rust-native-simd", Native::Simd),
            ("rust-native-par", Native::Par),
        ],
        None => &[
            ("rust-native", Native::Scalar),
            ("rust-native-par", Native::Par),
        ],
    }
}

/// Runs `op` on a native path; the scalar result of a reduction, `None` for mul/scale
/// (written to `out`).
fn native(kind: Native, op: Op, x: &Inputs, out: &mut [f64]) -> Option<f64> {
    const EQ: &str = "equal lengths";
    match (kind, op) {
        (Native::Scalar, Op::Sum) => Some(v::sum(&x.a)),
        (Native::Scalar, Op::Dot) => Some(v::dot(&x.a, &x.b).expect(EQ)),
        (Native::Simd, Op::SumSimd) => Some(v::sum_simd(&x.a)),
        (Native::Simd, Op::DotSimd) => Some(v::dot_simd(&x.a, &x.b).expect(EQ)),
        (Native::Par, Op::SumSimd) => Some(par::sum(&x.a)),
        (Native::Par, Op::DotSimd) => Some(par::dot(&x.a, &x.b).expect(EQ)),
        (Native::Scalar, Op::Mul) => {
            v::mul(&x.a, &x.b, out).expect(EQ);
            None
        }
        (Native::Par, Op::Mul) => {
            par::mul(&x.a, &x.b, out).expect(EQ);
            None
        }
        (Native::Scalar, Op::Scale) => {
            v::scale(x.scalar, &x.a, out).expect(EQ);
            None
        }
        (Native::Par, Op::Scale) => {
            par::scale(x.scalar, &x.a, out).expect(EQ);
            None
        }
        (kind, op) => unreachable!("{kind:?} is not a path of {}", op.group()),
    }
}

/// The user-facing guest call: copy in, compute, copy out, chunked.
fn wasm_user(g: &mut VectorGuest, op: Op, x: &Inputs, out: &mut [f64]) -> Option<f64> {
    let r = match op {
        Op::Sum => g.sum(&x.a).map(Some),
        Op::SumSimd => g.sum_simd(&x.a).map(Some),
        Op::Dot => g.dot(&x.a, &x.b).map(Some),
        Op::DotSimd => g.dot_simd(&x.a, &x.b).map(Some),
        Op::Mul => g.mul(&x.a, &x.b, out).map(|()| None),
        Op::Scale => g.scale(x.scalar, &x.a, out).map(|()| None),
    };
    r.unwrap_or_else(|e| panic!("{op}: {e}"))
}

fn answer(r: Option<f64>, out: &[f64]) -> Answer {
    match r {
        Some(s) => Answer::Scalar(s),
        None => Answer::Vector(out.to_vec()),
    }
}

/// Panics unless `got` agrees with offload-core's answer for `op` on `x` (strict: bit
/// for bit; fast: within the tolerance; element-wise: exactly).
fn verify(what: &str, op: Op, x: &Inputs, want: &Answer, got: &Answer) {
    let mag = x.magnitude(op);
    assert!(
        check::agrees(op, got, want, mag),
        "{what}: answer disagrees with offload-core (must be {}; relative error {:e}); not timing it",
        check::criterion(op),
        check::rel_error(got, want, mag)
    );
}

/// The guests that can run `op`; prints `SKIP <group>/<path>: <reason>` for the others
/// (a v1 guest in a strict dot group).
fn runnable<'a>(wasm: &'a mut [Wasm], op: Op, group: &str) -> Vec<&'a mut Wasm> {
    wasm.iter_mut()
        .filter(|w| match w.guest.export_for(op) {
            Ok(_) => true,
            Err(e) => {
                println!("SKIP {group}/{}: {e}", w.path);
                false
            }
        })
        .collect()
}

/// The native rows of one group at one size: each native path checked against `want`,
/// then timed.
fn bench_native(
    group: &mut BenchmarkGroup<'_, criterion::measurement::WallTime>,
    name: &str,
    op: Op,
    x: &Inputs,
    want: &Answer,
    out: &mut [f64],
) {
    let n = x.a.len();
    for &(path, kind) in native_paths(op) {
        let r = native(kind, op, x, out);
        verify(&format!("{name}/{path}/{n}"), op, x, want, &answer(r, out));
        group.bench_function(BenchmarkId::new(path, n), |b| {
            b.iter(|| native(kind, op, black_box(x), out))
        });
    }
}

fn bench_user_facing(c: &mut Criterion, wasm: &mut [Wasm]) {
    for op in Op::ALL {
        let name = op.group();
        let mut group = c.benchmark_group(&name);
        let mut guests = runnable(wasm, op, &name);
        for &n in sizes() {
            set_sampling(&mut group, n);
            let x = Inputs::generate(n, SEED);
            let want = check::reference(op, &x);
            let mut out = vec![0.0; n];
            group.throughput(Throughput::Bytes(op.bytes(n)));
            bench_native(&mut group, &name, op, &x, &want, &mut out);
            for w in guests.iter_mut() {
                let r = wasm_user(&mut w.guest, op, &x, &mut out);
                let what = format!("{name}/{}/{n}", w.path);
                verify(&what, op, &x, &want, &answer(r, &out));
                group.bench_function(BenchmarkId::new(w.path, n), |b| {
                    b.iter(|| wasm_user(&mut w.guest, op, black_box(&x), &mut out))
                });
            }
        }
        group.finish();
    }
}

fn bench_resident(c: &mut Criterion, wasm: &mut [Wasm]) {
    for op in Op::ALL {
        let name = format!("{}-resident", op.group());
        let mut group = c.benchmark_group(&name);
        let mut guests = runnable(wasm, op, &name);
        for &n in sizes() {
            let mut fits: Vec<&mut &mut Wasm> = guests
                .iter_mut()
                .filter(|w| n <= w.guest.capacity())
                .collect();
            if fits.is_empty() {
                continue; // no guest holds n elements; the native rows would stand alone
            }
            set_sampling(&mut group, n);
            let x = Inputs::generate(n, SEED);
            let want = check::reference(op, &x);
            let mut out = vec![0.0; n];
            group.throughput(Throughput::Bytes(op.bytes(n)));
            bench_native(&mut group, &name, op, &x, &want, &mut out);
            for w in fits.iter_mut() {
                let g = &mut w.guest;
                g.write_a(&x.a).expect("n <= capacity");
                g.write_b(&x.b).expect("n <= capacity");
                let r = g
                    .call(op, n, x.scalar)
                    .unwrap_or_else(|e| panic!("{op}: {e}"));
                if r.is_none() {
                    g.read_result(&mut out).expect("n <= capacity");
                }
                let what = format!("{name}/{}/{n}", w.path);
                verify(&what, op, &x, &want, &answer(r, &out));
                let scalar = x.scalar;
                group.bench_function(BenchmarkId::new(w.path, n), |b| {
                    b.iter(|| {
                        g.call(op, black_box(n), scalar)
                            .unwrap_or_else(|e| panic!("{op}: {e}"))
                    })
                });
            }
        }
        group.finish();
    }
}

fn bench_copy_in(c: &mut Criterion, wasm: &mut [Wasm]) {
    let mut group = c.benchmark_group("copy-in");
    for &n in sizes() {
        set_sampling(&mut group, n);
        let x = Inputs::generate(n, SEED);
        group.throughput(Throughput::Bytes(8 * n as u64));
        let mut host = vec![0.0; n];
        host.copy_from_slice(&x.a);
        assert_eq!(host, x.a, "copy-in/rust-native/{n}");
        group.bench_function(BenchmarkId::new("rust-native", n), |b| {
            b.iter(|| host.copy_from_slice(black_box(&x.a)))
        });
        for w in wasm.iter_mut().filter(|w| n <= w.guest.capacity()) {
            let g = &mut w.guest;
            g.write_a(&x.a).expect("n <= capacity");
            assert_eq!(
                g.buffer(Buffer::A, n).expect("n <= capacity"),
                &x.a[..],
                "copy-in/{}/{n}: buffer a does not hold what was written",
                w.path
            );
            group.bench_function(BenchmarkId::new(w.path, n), |b| {
                b.iter(|| g.write_a(black_box(&x.a)).expect("n <= capacity"))
            });
        }
    }
    group.finish();
}

fn bench_empty_call(c: &mut Criterion, wasm: &mut [Wasm]) {
    let mut group = c.benchmark_group("empty-call");
    set_sampling(&mut group, 0);
    let empty: [f64; 0] = [];
    assert_eq!(v::sum(black_box(&empty)), 0.0);
    group.bench_function(BenchmarkId::new("rust-native", 0), |b| {
        b.iter(|| v::sum(black_box(&empty)))
    });
    for w in wasm.iter_mut() {
        let g = &mut w.guest;
        let r = g
            .empty_call()
            .unwrap_or_else(|e| panic!("empty-call/{}: {e}", w.path));
        assert_eq!(r, 0.0, "empty-call/{}: sum(0) must be 0", w.path);
        group.bench_function(BenchmarkId::new(w.path, 0), |b| {
            b.iter(|| g.empty_call().expect("sum(0)"))
        });
    }
    group.finish();
}

fn benches(c: &mut Criterion) {
    println!("threads rust-native-par: {}", par::threads());
    let mut wasm = load_guests();
    bench_user_facing(c, &mut wasm);
    bench_resident(c, &mut wasm);
    bench_copy_in(c, &mut wasm);
    bench_empty_call(c, &mut wasm);
}

criterion_group! {
    name = vector;
    config = config();
    targets = benches
}
criterion_main!(vector);
