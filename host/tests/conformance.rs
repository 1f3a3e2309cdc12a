//! Conformance of every shipped guest (wasm-rust, wasm-c, wasm-go) to ABI v1 against
//! offload-core: every op at every interesting size, NaN/±Inf propagation, traps on
//! bad lengths with the host staying usable. A guest that is not built fails the test
//! (run ./build.sh test), it is never skipped.

mod common;

use offload_host::check::{self, Answer, Inputs};
use offload_host::{Error, Op, VectorGuest};

/// n in {0, 1, 7, 1000, capacity, capacity+1, 3·capacity+5}.
fn sizes(capacity: usize) -> [usize; 7] {
    [0, 1, 7, 1000, capacity, capacity + 1, 3 * capacity + 5]
}

fn assert_conforms(guest: &mut VectorGuest, name: &str, op: Op, x: &Inputs) {
    let want = check::reference(op, x);
    let got =
        check::run_guest(guest, op, x).unwrap_or_else(|e| panic!("{name} {op} n={}: {e}", x.len()));
    let mag = x.magnitude(op);
    assert!(
        check::agrees(op, &got, &want, mag),
        "{name} {op} n={}: rel error {:e} (got {:?}, want {:?})",
        x.len(),
        check::rel_error(&got, &want, mag),
        short(&got),
        short(&want)
    );
}

fn short(a: &Answer) -> String {
    match a {
        Answer::Scalar(v) => format!("{v:e}"),
        Answer::Vector(v) => format!("{:?}.. ({} elements)", &v[..v.len().min(4)], v.len()),
    }
}

fn every_op_every_size(name: &str) {
    let mut g = common::guest(name);
    let cap = g.capacity();
    assert!(
        cap >= 1000,
        "{name}: capacity {cap} is below the sizes tested"
    );
    for n in sizes(cap) {
        let x = Inputs::generate(n, 0x5eed ^ n as u64);
        for op in Op::ALL {
            assert_conforms(&mut g, name, op, &x);
        }
    }
    assert_eq!(g.rebuilds(), 0, "{name}: no call should have trapped");
}

#[test]
fn wasm_rust_every_op_every_size() {
    every_op_every_size("wasm-rust");
}

#[test]
fn wasm_c_every_op_every_size() {
    every_op_every_size("wasm-c");
}

#[test]
fn wasm_go_every_op_every_size() {
    every_op_every_size("wasm-go");
}

/// NaN and ±Inf propagate through every op, in the first chunk and past it.
fn special_values(name: &str) {
    let mut g = common::guest(name);
    let cap = g.capacity();
    for n in [7, cap + 3] {
        let at = n - 2; // past the first chunk when n > capacity
        let cases: [(&str, f64, Option<f64>); 4] = [
            ("NaN", f64::NAN, None),
            ("+Inf", f64::INFINITY, None),
            ("-Inf", f64::NEG_INFINITY, None),
            ("+Inf and -Inf", f64::INFINITY, Some(f64::NEG_INFINITY)),
        ];
        for (label, v, other) in cases {
            let mut x = Inputs::generate(n, 7);
            x.a[at] = v;
            // positive b at both special positions, so dot's infinities keep their sign
            x.b[at] = 0.5;
            x.b[1] = 0.5;
            if let Some(o) = other {
                x.a[1] = o;
            }
            for op in Op::ALL {
                assert_conforms(&mut g, name, op, &x);
                let got = check::run_guest(&mut g, op, &x).unwrap();
                match got {
                    Answer::Scalar(s) => {
                        let want_nan = v.is_nan() || other.is_some();
                        if want_nan {
                            assert!(s.is_nan(), "{name} {op} {label} n={n}: got {s}, want NaN");
                        } else {
                            assert_eq!(s, v, "{name} {op} {label} n={n}");
                        }
                    }
                    Answer::Vector(out) => {
                        let factor = if op == Op::Mul { x.b[at] } else { x.scalar };
                        let want = v * factor;
                        assert!(
                            out[at] == want || (out[at].is_nan() && want.is_nan()),
                            "{name} {op} {label} n={n}: element {at} is {}, want {want}",
                            out[at]
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn wasm_rust_nan_inf_propagate() {
    special_values("wasm-rust");
}

#[test]
fn wasm_c_nan_inf_propagate() {
    special_values("wasm-c");
}

#[test]
fn wasm_go_nan_inf_propagate() {
    special_values("wasm-go");
}

/// A direct call with len over capacity, or negative, fails inside the guest (trap,
/// or proc_exit for Go's port); the instance is rebuilt and the next call works.
fn bad_len_traps(name: &str) {
    let mut g = common::guest(name);
    let cap = g.capacity() as i32;
    let mut expected_rebuilds = 0;
    for op in Op::ALL {
        for len in [cap + 1, -1] {
            let err = g
                .call_raw(op, len, 2.0)
                .expect_err(&format!("{name} {op}({len}) must fail"));
            match &err {
                Error::Trap { op: o, .. } | Error::ProcExit { op: o, .. } => {
                    assert_eq!(*o, op.export(), "{name}: {err}")
                }
                other => panic!("{name} {op}({len}): expected a trap, got {other}"),
            }
            assert!(err.to_string().contains(op.export()), "{err}");
            expected_rebuilds += 1;
            assert_eq!(
                g.rebuilds(),
                expected_rebuilds,
                "{name}: rebuilt after {err}"
            );
            assert_eq!(g.sum(&[1.0, 2.0, 3.5]).unwrap(), 6.5, "{name} after {err}");
        }
        // The checked call refuses before reaching the guest.
        assert!(matches!(
            g.call(op, cap as usize + 1, 1.0),
            Err(Error::OverCapacity { .. })
        ));
    }
    assert_eq!(g.empty_call().unwrap(), 0.0);
}

#[test]
fn wasm_rust_bad_len_traps() {
    bad_len_traps("wasm-rust");
}

#[test]
fn wasm_c_bad_len_traps() {
    bad_len_traps("wasm-c");
}

#[test]
fn wasm_go_bad_len_traps() {
    bad_len_traps("wasm-go");
}

/// Resident data: write once, call many, read back — the path the benches time.
#[test]
fn resident_calls_match_user_facing_ops() {
    for name in common::GUESTS {
        let mut g = common::guest(name);
        let x = Inputs::generate(1000, 99);
        g.write_a(&x.a).unwrap();
        g.write_b(&x.b).unwrap();
        let s = g.call(Op::Sum, 1000, 0.0).unwrap().unwrap();
        assert!(offload_core::vector::rel_close(
            s,
            offload_core::vector::sum(&x.a),
            check::REDUCTION_REL_TOL,
            x.magnitude(Op::Sum)
        ));
        assert_eq!(g.call(Op::Mul, 1000, 0.0).unwrap(), None);
        let mut out = vec![0.0; 1000];
        g.read_result(&mut out).unwrap();
        let mut want = vec![0.0; 1000];
        offload_core::vector::mul(&x.a, &x.b, &mut want).unwrap();
        assert_eq!(out, want, "{name}");
        assert_eq!(g.buffer(offload_host::Buffer::A, 1000).unwrap(), &x.a[..]);
    }
}
