//! Native random-forest prediction on the CPU (criterion; no GPU feature needed). Ids:
//! `forest-predict/<path>/<n>`: predict n rows of Friedman #1 data (d = 10, noise 1.0,
//! seed 2) with a 200-tree forest trained on 1000 Friedman #1 rows (seed 1) — the forest
//! of `forest_gpu`'s `forest-predict` — n ∈ {1e4, 1e5, 1e6} (1e4, 1e5 with
//! `OFFLOAD_BENCH_QUICK=1`; `OFFLOAD_BENCH_SIZES=<rows,…>` replaces them).
//!
//! Paths:
//! - `rust-native`: `Forest::predict`, one thread (it compiles the forest into its packed
//!   layout on each call, so the compile is inside the timing);
//! - `rust-native-rayon`: `Forest::predict_par`, all threads of rayon's pool (compile
//!   inside the timing too);
//! - `rust-native-rowwise`: the per-row walk over the `Tree` arrays that was
//!   `Forest::predict` before the packed layout (`Forest::predict_row` per row, one
//!   thread): the baseline the new paths are measured against. Above
//!   [`ROWWISE_MAX_ROWS`] rows it is skipped by name unless `OFFLOAD_FOREST_ROWWISE_MAX`
//!   raises the cap (1e6 rows take tens of seconds per call).
//!
//! Each path's answer is checked against the per-row walk, bit for bit, before it is timed
//! (on every row up to 1e5 rows, on the first 1e5 rows above that). The compile time of
//! the forest is printed once (`forest-predict: compile …`), and the rayon thread count
//! (`threads rust-native-rayon: <count>`).
//! `OFFLOAD_BENCH_QUICK=1` also shortens warm-up and measurement.

use criterion::{BenchmarkId, Criterion, Throughput};
use offload_core::data::friedman1;
use offload_core::forest::{Forest, ForestParams};
use std::time::{Duration, Instant};

const D: usize = 10;

/// Most rows `rust-native-rowwise` predicts unless `OFFLOAD_FOREST_ROWWISE_MAX` says more.
const ROWWISE_MAX_ROWS: usize = 100_000;

/// Rows checked bit for bit before timing.
const CHECK_ROWS: usize = 100_000;

fn env_on(name: &str) -> bool {
    std::env::var(name).is_ok_and(|s| !s.is_empty() && s != "0")
}

fn env_rows(name: &str) -> Option<Vec<usize>> {
    match std::env::var(name) {
        Ok(v) if !v.trim().is_empty() => Some(
            v.split(',')
                .map(|s| {
                    s.trim()
                        .parse()
                        .unwrap_or_else(|_| panic!("{name}: comma-separated row counts"))
                })
                .collect(),
        ),
        _ => None,
    }
}

fn rowwise(forest: &Forest, x: &[f32]) -> Vec<f64> {
    x.chunks_exact(D).map(|r| forest.predict_row(r)).collect()
}

fn same_bits(path: &str, n: usize, got: &[f64], want: &[f64]) {
    assert_eq!(got.len(), want.len(), "{path}/{n}: prediction count");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert_eq!(
            g.to_bits(),
            w.to_bits(),
            "forest-predict/{path}/{n}: row {i}: {g} vs the per-row walk's {w}"
        );
    }
}

fn bench_predict(c: &mut Criterion, quick: bool) {
    let train = friedman1(1000, D, 1.0, 1);
    let forest = Forest::fit_parallel(&train, &ForestParams::default()).expect("training");
    let t0 = Instant::now();
    let packed = forest.compile().expect("compile");
    println!(
        "forest-predict: compile {} trees, {} nodes in {:.3} ms",
        packed.n_trees(),
        packed.n_nodes(),
        t0.elapsed().as_secs_f64() * 1e3
    );
    println!(
        "threads rust-native-rayon: {}",
        rayon::current_num_threads()
    );
    let sizes = env_rows("OFFLOAD_BENCH_SIZES").unwrap_or_else(|| {
        if quick {
            vec![10_000, 100_000]
        } else {
            vec![10_000, 100_000, 1_000_000]
        }
    });
    let rowwise_max = env_rows("OFFLOAD_FOREST_ROWWISE_MAX")
        .and_then(|v| v.first().copied())
        .unwrap_or(ROWWISE_MAX_ROWS);
    let mut g = c.benchmark_group("forest-predict");
    for &n in &sizes {
        let x = friedman1(n, D, 1.0, 2).x;
        let head = &x[..CHECK_ROWS.min(n) * D];
        let want = rowwise(&forest, head);
        let rows = want.len();
        same_bits(
            "rust-native",
            n,
            &forest.predict(&x).expect("predict")[..rows],
            &want,
        );
        same_bits(
            "rust-native-rayon",
            n,
            &forest.predict_par(&x).expect("predict_par")[..rows],
            &want,
        );
        g.throughput(Throughput::Elements(n as u64));
        g.bench_with_input(BenchmarkId::new("rust-native", n), &n, |b, _| {
            b.iter(|| forest.predict(&x).expect("predict"))
        });
        g.bench_with_input(BenchmarkId::new("rust-native-rayon", n), &n, |b, _| {
            b.iter(|| forest.predict_par(&x).expect("predict_par"))
        });
        if n <= rowwise_max {
            g.bench_with_input(BenchmarkId::new("rust-native-rowwise", n), &n, |b, _| {
                b.iter(|| rowwise(&forest, &x))
            });
        } else {
            println!(
                "SKIP forest-predict/rust-native-rowwise/{n}: the per-row walk takes tens of \
                 seconds per call above {rowwise_max} rows (OFFLOAD_FOREST_ROWWISE_MAX raises \
                 the cap)"
            );
        }
    }
    g.finish();
}

fn main() {
    let quick = env_on("OFFLOAD_BENCH_QUICK");
    let mut c = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(if quick { 300 } else { 1000 }))
        .measurement_time(Duration::from_secs(if quick { 1 } else { 3 }))
        .configure_from_args();
    bench_predict(&mut c, quick);
    c.final_summary();
}
