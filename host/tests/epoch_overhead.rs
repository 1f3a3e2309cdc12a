//! The cost of the vector guests' epoch deadline (issue 19, item 6), measured in one
//! binary: the same guest compiled by [`offload_host::default_engine`] (epoch
//! interruption: a check at every function entry and loop header, and
//! `set_epoch_deadline` before every call) and by a plain engine from
//! [`offload_host::no_deadline_engine`] (no checks compiled in; `set_epoch_deadline`
//! still runs and is a store write). Interleaved rounds, medians. A timing, not a test: run
//! `cargo test --release -p offload-host --test epoch_overhead -- --ignored --nocapture`.

mod common;

use std::time::Instant;

use offload_host::{check::Inputs, LoadOptions, Op, VectorGuest};
use wasmtime::Engine;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Median ns of one `op` over `n` elements, per round of `calls` calls.
fn time_op(g: &mut VectorGuest, op: Op, inputs: &Inputs, calls: u32) -> f64 {
    let t = Instant::now();
    for _ in 0..calls {
        let r = match op {
            Op::Sum => g.sum(&inputs.a),
            Op::SumSimd => g.sum_simd(&inputs.a),
            Op::Dot => g.dot(&inputs.a, &inputs.b),
            _ => unreachable!(),
        };
        std::hint::black_box(r.unwrap());
    }
    t.elapsed().as_nanos() as f64 / calls as f64
}

fn time_empty(g: &mut VectorGuest, calls: u32) -> f64 {
    let t = Instant::now();
    for _ in 0..calls {
        std::hint::black_box(g.empty_call().unwrap());
    }
    t.elapsed().as_nanos() as f64 / calls as f64
}

#[test]
#[ignore = "a timing: run in release with --ignored --nocapture"]
fn epoch_deadline_overhead() {
    let plain = offload_host::no_deadline_engine().unwrap();
    let epoch = offload_host::default_engine().unwrap();
    let n = 100_000;
    let inputs = Inputs::generate(n, 42);
    println!("guest     op        n        no epoch (ns)  epoch (ns)  overhead");
    for name in common::GUESTS {
        let path = common::guest_path(name);
        let load = |e: &Engine| {
            let m = offload_host::compile_file(e, &path).unwrap();
            VectorGuest::from_module(&m, name, &LoadOptions::default()).unwrap()
        };
        let (mut a, mut b) = (load(&plain), load(&epoch));
        for (op, label) in [
            (Op::Sum, "sum"),
            (Op::SumSimd, "sum_simd"),
            (Op::Dot, "dot"),
        ] {
            let (mut ta, mut tb) = (Vec::new(), Vec::new());
            for _ in 0..31 {
                ta.push(time_op(&mut a, op, &inputs, 20));
                tb.push(time_op(&mut b, op, &inputs, 20));
            }
            let (ma, mb) = (median(ta), median(tb));
            println!(
                "{name:<9} {label:<9} {n:<8} {ma:>13.0}  {mb:>10.0}  {:+.1} %",
                (mb / ma - 1.0) * 100.0
            );
        }
        let (mut ta, mut tb) = (Vec::new(), Vec::new());
        for _ in 0..31 {
            ta.push(time_empty(&mut a, 100_000));
            tb.push(time_empty(&mut b, 100_000));
        }
        let (ma, mb) = (median(ta), median(tb));
        println!(
            "{name:<9} {:<9} {:<8} {ma:>13.1}  {mb:>10.1}  {:+.1} %",
            "empty",
            0,
            (mb / ma - 1.0) * 100.0
        );
    }
}

/// The same for the forest guest's training (issue 17's "wasm guest ≤ 1.3× native"):
/// `fit` of 200 trees on the diabetes split in `forest-rust.wasm` on both engines, beside
/// native `Forest::fit` (one thread), interleaved, 9 rounds, medians; every forest has
/// the native forest's node count (the guests grow the same trees).
#[test]
#[ignore = "a timing: run in release with --ignored --nocapture"]
fn forest_epoch_deadline_overhead() {
    use offload_core::data::diabetes_train_test;
    use offload_core::forest::{Forest, ForestParams};
    use offload_host::forest_guest::{ForestGuest, DEFAULT_PATH};

    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(DEFAULT_PATH);
    let (train, _) = diabetes_train_test();
    let p = ForestParams::default();
    let load = |e: &Engine| {
        let m = offload_host::compile_file(e, &path).unwrap();
        ForestGuest::from_module(&m, "forest-rust").unwrap()
    };
    let plain = offload_host::no_deadline_engine().unwrap();
    let epoch = offload_host::default_engine().unwrap();
    let (mut a, mut b) = (load(&plain), load(&epoch));
    let nodes = Forest::fit(&train, &p)
        .unwrap()
        .trees
        .iter()
        .map(|t| t.len())
        .sum::<usize>();
    let (mut tn, mut ta, mut tb) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..9 {
        let t = Instant::now();
        std::hint::black_box(Forest::fit(&train, &p).unwrap());
        tn.push(t.elapsed().as_secs_f64() * 1e3);
        for (g, times) in [(&mut a, &mut ta), (&mut b, &mut tb)] {
            let t = Instant::now();
            g.fit(&train, &p).unwrap();
            times.push(t.elapsed().as_secs_f64() * 1e3);
            assert_eq!(g.node_count().unwrap(), nodes);
        }
    }
    let (mn, ma, mb) = (median(tn), median(ta), median(tb));
    println!("forest fit, diabetes 353 rows, 200 trees (ms, medians of 9)");
    println!(
        "native {mn:.1}  wasm no epoch {ma:.1} ({:.2}x native)  wasm epoch {mb:.1} ({:.2}x native, {:+.1} % for the epoch checks)",
        ma / mn,
        mb / mn,
        (mb / ma - 1.0) * 100.0
    );
}
