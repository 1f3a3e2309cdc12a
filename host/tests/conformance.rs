//! Conformance of every shipped guest (wasm-rust, wasm-c, wasm-go) to ABI v2 against
//! offload-core: `abi_version() == 2`; every op at every interesting size (SIMD tails,
//! chunk boundaries), strict `sum`/`dot` bit for bit (also on data of widely spread
//! magnitudes, where the order shows), fast `sum_simd`/`dot_simd` within the tolerance,
//! NaN/±Inf propagation, traps on bad lengths with the host staying usable. And a v1
//! guest (WAT) still loads, its `dot` runs as the fast dot, and a strict dot on it is an
//! error. A guest that is not built fails the test (run ./build.sh test), it is never
//! skipped.

mod common;

use common::{wat_guest, WatSpec};
use offload_host::check::{self, Answer, Inputs};
use offload_host::{Error, Family, Op, VectorGuest};

/// Every tail length of an 8-wide unrolled SIMD loop, and the chunk boundaries.
fn sizes(capacity: usize) -> Vec<usize> {
    let mut n: Vec<usize> = (0..=17).collect();
    n.extend([31, 33, 1000, 1003, capacity - 1, capacity, capacity + 1]);
    n.extend([2 * capacity - 1, 2 * capacity, 3 * capacity + 5]);
    n
}

#[test]
fn shipped_guests_speak_abi_v2() {
    for name in common::GUESTS {
        let g = common::guest(name);
        assert_eq!(g.abi_version(), 2, "{name}");
        for op in Op::ALL {
            assert_eq!(g.export_for(op).unwrap(), op.export(), "{name}");
        }
        assert!(g.export_names().iter().any(|e| e == "dot_simd"), "{name}");
    }
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
        // Widely spread magnitudes (2^-40 .. 2^40): any change of order changes the bits.
        let mut x = x;
        for (i, v) in x.a.iter_mut().enumerate() {
            *v *= 2f64.powi(((i * 7919) % 81) as i32 - 40);
        }
        for op in [Op::Sum, Op::Dot, Op::SumSimd, Op::DotSimd] {
            assert_conforms(&mut g, name, op, &x);
        }
    }
    assert_eq!(g.rebuilds(), 0, "{name}: no call should have trapped");
}

/// The strict ops really are a different algorithm from the fast ones: on data whose
/// order matters, some size gives different bits (else the test above proves little).
#[test]
fn strict_and_fast_differ_somewhere() {
    for name in common::GUESTS {
        let mut g = common::guest(name);
        let mut x = Inputs::generate(4096, 5);
        for (i, v) in x.a.iter_mut().enumerate() {
            *v *= 2f64.powi(((i * 7919) % 81) as i32 - 40);
        }
        let (s, sf) = (g.sum(&x.a).unwrap(), g.sum_simd(&x.a).unwrap());
        let (d, df) = (g.dot(&x.a, &x.b).unwrap(), g.dot_simd(&x.a, &x.b).unwrap());
        assert_ne!(s.to_bits(), sf.to_bits(), "{name}: sum == sum_simd");
        assert_ne!(d.to_bits(), df.to_bits(), "{name}: dot == dot_simd");
    }
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
        assert_eq!(
            s.to_bits(),
            offload_core::vector::sum(&x.a).to_bits(),
            "{name}"
        );
        let d = g.call(Op::Dot, 1000, 0.0).unwrap().unwrap();
        let want = offload_core::vector::dot(&x.a, &x.b).unwrap();
        assert_eq!(d.to_bits(), want.to_bits(), "{name}");
        let d = g.call(Op::DotSimd, 1000, 0.0).unwrap().unwrap();
        assert!(offload_core::vector::rel_close(
            d,
            want,
            check::REDUCTION_REL_TOL,
            x.magnitude(Op::DotSimd)
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

/// A v1 guest (hand-written WAT: no `dot_simd`, and a `dot` that adds right to left, an
/// order v1 allowed) still loads; its `dot` is the fast dot; a strict dot on it is an
/// error that says so, never the fast answer.
#[test]
fn v1_guest_loads_and_its_dot_counts_as_fast() {
    let bytes = wat_guest(&WatSpec {
        abi: 1,
        capacity: 64,
        pages: 2,
        a: 1024,
        b: 2048,
        result: 4096,
        ..WatSpec::default()
    });
    let mut g = VectorGuest::from_bytes(&bytes, "v1.wasm").unwrap();
    assert_eq!(g.abi_version(), 1);
    assert_eq!(g.export_for(Op::DotSimd).unwrap(), "dot");
    assert!(g.supports(Op::Sum) && g.supports(Op::DotSimd) && !g.supports(Op::Dot));

    // Strict dot: refused by every entry point, naming v1 and the way out.
    let x = Inputs::generate(100, 3);
    let check_err = |err: Error| {
        assert!(
            matches!(
                err,
                Error::Unsupported {
                    abi: 1,
                    op: "dot",
                    family: "strict",
                    ..
                }
            ),
            "{err:?}"
        );
        let msg = err.to_string();
        for needle in ["v1.wasm", "ABI v1", "strict `dot`", "dot_simd"] {
            assert!(msg.contains(needle), "{msg}");
        }
    };
    check_err(g.dot(&x.a, &x.b).unwrap_err());
    check_err(check::run_guest(&mut g, Op::Dot, &x).unwrap_err());
    check_err(g.call(Op::Dot, 10, 0.0).unwrap_err());
    check_err(g.call_raw(Op::Dot, 10, 0.0).unwrap_err());
    check_err(g.export_for(Op::Dot).unwrap_err());
    assert_eq!(g.rebuilds(), 0, "a refused op never reaches the guest");

    // Its dot as the fast family: within the tolerance of core, across chunks.
    for n in [0, 1, 7, 64, 65, 200] {
        let x = Inputs::generate(n, 11 + n as u64);
        for op in [Op::Sum, Op::SumSimd, Op::DotSimd, Op::Mul, Op::Scale] {
            let want = check::reference(op, &x);
            let got = check::run_guest(&mut g, op, &x).unwrap();
            let mag = x.magnitude(op);
            assert!(
                check::agrees(op, &got, &want, mag),
                "v1 {op} n={n}: {got:?} vs {want:?}"
            );
        }
    }
    // It is the guest's right-to-left `dot` that ran: the bits of a reversed core dot.
    let mut x = Inputs::generate(50, 9);
    for (i, v) in x.a.iter_mut().enumerate() {
        *v *= 2f64.powi(((i * 7919) % 81) as i32 - 40);
    }
    let reversed = x.a.iter().zip(&x.b).rev().fold(0.0, |s, (a, b)| s + a * b);
    let got = g.dot_simd(&x.a, &x.b).unwrap();
    assert_eq!(got.to_bits(), reversed.to_bits());
    assert_eq!(Op::DotSimd.family(), Some(Family::Fast));
    // A trap inside it is reported under the export that ran.
    let err = g.call_raw(Op::DotSimd, -1, 0.0).unwrap_err();
    assert!(matches!(err, Error::Trap { op: "dot", .. }), "{err:?}");
}

#[test]
fn ops_name_their_family_and_group() {
    let groups: Vec<String> = Op::ALL.iter().map(|op| op.group()).collect();
    assert_eq!(
        groups,
        [
            "sum-strict",
            "sum-fast",
            "dot-strict",
            "dot-fast",
            "mul",
            "scale"
        ]
    );
    assert_eq!(Op::Sum.family(), Some(Family::Strict));
    assert_eq!(Op::Dot.family(), Some(Family::Strict));
    assert_eq!(Op::SumSimd.family(), Some(Family::Fast));
    assert_eq!(Op::Mul.family(), None);
    assert_eq!(Op::Scale.family(), None);
}
