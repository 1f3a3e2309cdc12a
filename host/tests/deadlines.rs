//! Deadlines of the core-module guests (issue 19, item 6): a vector guest or a forest
//! guest that loops forever is interrupted at its deadline with an error that says so, the
//! host keeps working and the rebuilt instance answers the next call; the deadline counts
//! per call, not per instance.

mod common;

use std::time::{Duration, Instant};

use common::{wat_guest, WatSpec};
use offload_host::forest_guest::{ForestGuest, ForestGuestError};
use offload_host::{Error, LoadOptions, Op, VectorGuest, DEFAULT_DEADLINE};
use wasmtime::Module;

/// How late past its deadline an interrupt may come on a loaded 2-core CI machine.
const MARGIN: Duration = Duration::from_millis(1500);

fn guest(spec: &WatSpec, deadline: Duration) -> Result<VectorGuest, Error> {
    let engine = offload_host::default_engine().unwrap();
    let module = offload_host::compile(&engine, &wat_guest(spec), "<wat>").unwrap();
    let options = LoadOptions {
        deadline,
        ..LoadOptions::default()
    };
    VectorGuest::from_module(&module, "<wat>", &options)
}

#[test]
fn the_default_deadline_is_60_s() {
    assert_eq!(DEFAULT_DEADLINE, Duration::from_secs(60));
    assert_eq!(LoadOptions::default().deadline, DEFAULT_DEADLINE);
    let g = guest(&WatSpec::default(), DEFAULT_DEADLINE).unwrap();
    assert_eq!(g.deadline(), DEFAULT_DEADLINE);
}

#[test]
fn a_vector_guest_that_loops_forever_is_interrupted_and_rebuilt() {
    let deadline = Duration::from_millis(200);
    let spec = WatSpec {
        loop_on_len: Some(3),
        ..WatSpec::default()
    };
    let mut g = guest(&spec, deadline).unwrap();
    assert_eq!(g.sum(&[1.0, 2.0]).unwrap(), 3.0);
    for round in 1..=2 {
        let t = Instant::now();
        let err = g.sum(&[1.0, 2.0, 3.0]).unwrap_err();
        let elapsed = t.elapsed();
        assert!(
            matches!(err, Error::Deadline { op: "sum", deadline: d } if d == deadline),
            "{err:?}"
        );
        let text = err.to_string();
        assert!(
            text.contains("deadline") && text.contains("`sum`"),
            "{text}"
        );
        assert!(elapsed >= deadline, "interrupted early, after {elapsed:?}");
        assert!(elapsed < deadline + MARGIN, "interrupted after {elapsed:?}");
        assert_eq!(g.rebuilds(), round);
        // The rebuilt instance answers.
        assert_eq!(g.sum(&[1.0, 2.0]).unwrap(), 3.0);
        let mut out = [0.0; 2];
        g.mul(&[2.0, 3.0], &[4.0, 5.0], &mut out).unwrap();
        assert_eq!(out, [8.0, 15.0]);
    }
    // The raw entry point is bounded too.
    let err = g.call_raw(Op::Sum, 3, 0.0).unwrap_err();
    assert!(matches!(err, Error::Deadline { op: "sum", .. }), "{err:?}");
    assert_eq!(g.empty_call().unwrap(), 0.0);
}

#[test]
fn the_deadline_counts_per_call_not_per_instance() {
    let deadline = Duration::from_millis(100);
    let mut g = guest(&WatSpec::default(), deadline).unwrap();
    let t = Instant::now();
    let mut calls = 0u64;
    // Many short calls over several deadlines' worth of wall time: none is interrupted.
    while t.elapsed() < deadline * 4 {
        assert_eq!(g.sum(&[1.0, 2.0, 3.0]).unwrap(), 6.0);
        assert_eq!(g.empty_call().unwrap(), 0.0);
        calls += 1;
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(calls > 10, "{calls}");
    assert_eq!(g.rebuilds(), 0);
}

#[test]
fn an_initialize_that_never_returns_fails_the_load_with_a_deadline_error() {
    let spec = WatSpec {
        init_loops_forever: true,
        ..WatSpec::default()
    };
    let t = Instant::now();
    let err = guest(&spec, Duration::from_millis(200)).unwrap_err();
    assert!(
        matches!(
            err,
            Error::Deadline {
                op: "_initialize",
                ..
            }
        ),
        "{err:?}"
    );
    assert!(t.elapsed() < Duration::from_millis(200) + MARGIN);
    // The host still loads and runs a good guest.
    let mut g = guest(&WatSpec::default(), Duration::from_millis(200)).unwrap();
    assert_eq!(g.sum(&[4.0]).unwrap(), 4.0);
}

/// A forest guest whose `forest_fit` never returns for 7 trees and fits a one-node
/// "forest" otherwise.
const LOOPING_FOREST: &str = r#"
(module
  (memory (export "memory") 1)
  (func (export "forest_abi_version") (result i32) i32.const 1)
  (func (export "forest_alloc") (param i32) (result i32) i32.const 64)
  (func (export "forest_free") (param i32 i32) (result i32) i32.const 0)
  (func (export "forest_fit") (param i32 i32 i32 i32) (param $trees i32) (param i32 i32 i32 i32 i64) (result i32)
    (if (i32.eq (local.get $trees) (i32.const 7)) (then (loop $forever (br $forever))))
    i32.const 0)
  (func (export "forest_predict") (param i32 i32 i32) (result i32) i32.const 0)
  (func (export "forest_last_error") (param i32 i32) (result i32) i32.const 0)
  (func (export "forest_node_count") (result i32) i32.const 1))
"#;

#[test]
fn a_forest_guest_that_loops_forever_is_interrupted_and_rebuilt() {
    let engine = offload_host::default_engine().unwrap();
    let module = Module::new(&engine, wat::parse_str(LOOPING_FOREST).unwrap()).unwrap();
    let mut g = ForestGuest::from_module(&module, "looping").unwrap();
    assert_eq!(g.deadline(), DEFAULT_DEADLINE);
    let deadline = Duration::from_millis(200);
    g.set_deadline(deadline);
    let data = offload_core::data::friedman1(20, 5, 0.1, 1);
    let trees = |n_trees| offload_core::forest::ForestParams {
        n_trees,
        ..Default::default()
    };
    let t = Instant::now();
    match g.fit(&data, &trees(7)) {
        Err(ForestGuestError::Trap {
            op: "forest_fit",
            message,
        }) => assert!(message.contains("deadline"), "{message}"),
        other => panic!("expected a deadline trap, got {other:?}"),
    }
    let elapsed = t.elapsed();
    assert!(
        elapsed >= deadline && elapsed < deadline + MARGIN,
        "{elapsed:?}"
    );
    assert_eq!(g.rebuilds(), 1);
    // The rebuilt instance keeps the deadline and answers.
    assert_eq!(g.deadline(), deadline);
    g.fit(&data, &trees(9)).unwrap();
    assert_eq!(g.node_count().unwrap(), 1);
}
