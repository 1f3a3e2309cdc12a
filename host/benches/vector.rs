//! Criterion benches of the vector ops on every Rust-side path.
//!
//! Benchmark ids follow the project's scheme `<group>/<path>/<n>`:
//!
//! - `<op>/<path>/<n>` (op: sum, dot, mul, scale, sum_simd; n: 1e3..1e6): the
//!   user-facing call. For wasm paths that is copy in + compute + copy out, chunked
//!   past the guest's capacity (`VectorGuest::sum` etc.).
//! - `<op>-resident/<path>/<n>` (n ≤ capacity): data already in the guest's buffers,
//!   compute only (`VectorGuest::call`): what the 1.2× targets compare with
//!   `rust-native-simd`.
//! - `copy-in/<path>/<n>` (n ≤ capacity): writing n `f64` into buffer `a`
//!   (`rust-native`: `copy_from_slice` into a host `Vec`, the memcpy floor).
//! - `empty-call/<path>/0`: `sum(0)`, pure call overhead (`rust-native`: core's `sum`
//!   of an empty slice behind `black_box`).
//!
//! Paths: `rust-native` (core's scalar kernels), `rust-native-simd` (core's
//! `sum_simd`/`dot_simd`, AVX2 or SSE2 chosen at run time; for the `sum` and `sum_simd`
//! groups it is `sum_simd`, for `dot` it is `dot_simd`; mul and scale have no SIMD
//! variant in core, so `rust-native-simd` is left out of their groups), `wasm-rust`,
//! `wasm-c`, `wasm-go` (the built guests in `build/guests`, or `$OFFLOAD_GUESTS_DIR`).
//! A guest that is not built is skipped by name with a message on stderr; a guest
//! that is built but fails to load, or any path whose answer disagrees with
//! offload-core (relative tolerance for reductions, exact for mul/scale), panics in
//! the setup, before anything is timed.
//!
//! `OFFLOAD_BENCH_QUICK=1` is the quick look of `./build.sh bench --quick` (under five
//! minutes for everything on 2 cores): n ∈ {1e3, 1e5} only ([`QUICK_NS`]; every path
//! still runs once per size), 10 samples, 0.15 s warm-up, 0.4 s measurement, and no
//! criterion plots or HTML (plotting cost more than measuring; the report draws its own
//! plots from the raw JSON, which is still written). Filter as usual:
//! `cargo bench -p offload-host -- 'sum|dot|empty'`.

use std::hint::black_box;
use std::path::PathBuf;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use offload_core::vector as v;
use offload_host::check::{self, Answer, Inputs};
use offload_host::{Buffer, Op, VectorGuest};

/// Sizes of a full run.
const NS: [usize; 4] = [1_000, 10_000, 100_000, 1_000_000];
/// Sizes of a quick run (`OFFLOAD_BENCH_QUICK=1`): the smallest, where call overhead
/// dominates, and the guests' capacity, where the kernels do.
const QUICK_NS: [usize; 2] = [1_000, 100_000];
const SEED: u64 = 2024;
const WASM_PATHS: [&str; 3] = ["wasm-rust", "wasm-c", "wasm-go"];

fn quick() -> bool {
    std::env::var("OFFLOAD_BENCH_QUICK").is_ok_and(|v| !v.is_empty() && v != "0")
}

/// The sizes of this run: [`QUICK_NS`] or [`NS`].
fn sizes() -> &'static [usize] {
    if quick() {
        &QUICK_NS
    } else {
        &NS
    }
}

struct Wasm {
    path: &'static str,
    guest: VectorGuest,
}

fn guests_dir() -> PathBuf {
    match std::env::var_os("OFFLOAD_GUESTS_DIR") {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../build/guests"),
    }
}

fn load_guests() -> Vec<Wasm> {
    let dir = guests_dir();
    let mut out = Vec::new();
    for path in WASM_PATHS {
        let file = dir.join(format!("{path}.wasm"));
        if !file.is_file() {
            eprintln!(
                "offload bench: skipping {path}: {} is not built (run ./build.sh all)",
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

/// Native paths: `simd` picks core's SIMD kernels (sum_simd, dot_simd).
fn native(simd: bool, op: Op, x: &Inputs, out: &mut [f64]) -> Option<f64> {
    match op {
        Op::Sum | Op::SumSimd if simd => Some(v::sum_simd(&x.a)),
        // The `sum_simd` group's scalar baseline is the scalar sum.
        Op::Sum | Op::SumSimd => Some(v::sum(&x.a)),
        Op::Dot if simd => Some(v::dot_simd(&x.a, &x.b).expect("equal lengths")),
        Op::Dot => Some(v::dot(&x.a, &x.b).expect("equal lengths")),
        Op::Mul => {
            v::mul(&x.a, &x.b, out).expect("equal lengths");
            None
        }
        Op::Scale => {
            v::scale(x.scalar, &x.a, out).expect("equal lengths");
            None
        }
    }
}

/// The user-facing guest call: copy in, compute, copy out, chunked.
fn wasm_user(g: &mut VectorGuest, op: Op, x: &Inputs, out: &mut [f64]) -> Option<f64> {
    let r = match op {
        Op::Sum => g.sum(&x.a).map(Some),
        Op::SumSimd => g.sum_simd(&x.a).map(Some),
        Op::Dot => g.dot(&x.a, &x.b).map(Some),
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

/// Panics unless `got` agrees with offload-core's answer for `op` on `x`.
fn verify(what: &str, op: Op, x: &Inputs, want: &Answer, got: &Answer) {
    let mag = x.magnitude(op);
    assert!(
        check::agrees(op, got, want, mag),
        "{what}: answer disagrees with offload-core (relative error {:e}); not timing it",
        check::rel_error(got, want, mag)
    );
}

fn has_simd_variant(op: Op) -> bool {
    op.is_reduction()
}

fn bench_user_facing(c: &mut Criterion, wasm: &mut [Wasm]) {
    for op in Op::ALL {
        let mut group = c.benchmark_group(op.export());
        for &n in sizes() {
            let x = Inputs::generate(n, SEED);
            let want = check::reference(op, &x);
            let mut out = vec![0.0; n];
            group.throughput(Throughput::Bytes(op.bytes(n)));
            for (path, simd) in [("rust-native", false), ("rust-native-simd", true)] {
                if simd && !has_simd_variant(op) {
                    continue;
                }
                let r = native(simd, op, &x, &mut out);
                verify(&format!("{op}/{path}/{n}"), op, &x, &want, &answer(r, &out));
                group.bench_function(BenchmarkId::new(path, n), |b| {
                    b.iter(|| native(simd, op, black_box(&x), &mut out))
                });
            }
            for w in wasm.iter_mut() {
                let r = wasm_user(&mut w.guest, op, &x, &mut out);
                verify(
                    &format!("{op}/{}/{n}", w.path),
                    op,
                    &x,
                    &want,
                    &answer(r, &out),
                );
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
        let mut group = c.benchmark_group(format!("{}-resident", op.export()));
        for &n in sizes() {
            let x = Inputs::generate(n, SEED);
            let want = check::reference(op, &x);
            let mut out = vec![0.0; n];
            group.throughput(Throughput::Bytes(op.bytes(n)));
            let fits: Vec<&mut Wasm> = wasm
                .iter_mut()
                .filter(|w| n <= w.guest.capacity())
                .collect();
            if fits.is_empty() {
                continue; // no guest holds n elements; the native rows would stand alone
            }
            for (path, simd) in [("rust-native", false), ("rust-native-simd", true)] {
                if simd && !has_simd_variant(op) {
                    continue;
                }
                let r = native(simd, op, &x, &mut out);
                verify(
                    &format!("{op}-resident/{path}/{n}"),
                    op,
                    &x,
                    &want,
                    &answer(r, &out),
                );
                group.bench_function(BenchmarkId::new(path, n), |b| {
                    b.iter(|| native(simd, op, black_box(&x), &mut out))
                });
            }
            for w in fits {
                let g = &mut w.guest;
                g.write_a(&x.a).expect("n <= capacity");
                g.write_b(&x.b).expect("n <= capacity");
                let r = g
                    .call(op, n, x.scalar)
                    .unwrap_or_else(|e| panic!("{op}: {e}"));
                if r.is_none() {
                    g.read_result(&mut out).expect("n <= capacity");
                }
                let what = format!("{op}-resident/{}/{n}", w.path);
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
    let mut wasm = load_guests();
    bench_user_facing(c, &mut wasm);
    bench_resident(c, &mut wasm);
    bench_copy_in(c, &mut wasm);
    bench_empty_call(c, &mut wasm);
}

fn config() -> Criterion {
    if quick() {
        Criterion::default()
            .sample_size(10)
            .warm_up_time(Duration::from_millis(150))
            .measurement_time(Duration::from_millis(400))
            .without_plots()
    } else {
        Criterion::default()
            .sample_size(50)
            .warm_up_time(Duration::from_secs(1))
            .measurement_time(Duration::from_secs(2))
    }
}

criterion_group! {
    name = vector;
    config = config();
    targets = benches
}
criterion_main!(vector);
