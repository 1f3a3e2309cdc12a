//! Bad modules, bad layouts and bad arguments each give an error that names the
//! problem; the host's own logic (chunking, rebuild) checked on a tiny WAT guest with
//! capacity 4, so that chunk boundaries are cheap to cover.

mod common;

use std::io::Write;

use common::{wat_guest, WatSpec};
use offload_host::check::{self, Inputs};
use offload_host::{guests, Error, Op, VectorGuest};

fn load_bytes(bytes: &[u8]) -> Result<VectorGuest, Error> {
    VectorGuest::from_bytes(bytes, "test.wasm")
}

fn load_spec(spec: &WatSpec) -> Result<VectorGuest, Error> {
    load_bytes(&wat_guest(spec))
}

fn temp_file(bytes: &[u8]) -> tempfile::NamedTempFile {
    let mut f = tempfile::Builder::new().suffix(".wasm").tempfile().unwrap();
    f.write_all(bytes).unwrap();
    f.flush().unwrap();
    f
}

#[test]
fn wat_guest_is_a_valid_guest() {
    let g = load_spec(&WatSpec::default()).unwrap();
    assert_eq!(g.capacity(), 4);
    assert!(!g.imports_wasi());
}

#[test]
fn chunking_matches_core_across_chunk_boundaries() {
    let mut g = load_spec(&WatSpec::default()).unwrap();
    for n in 0..=13 {
        let x = Inputs::generate(n, n as u64);
        for op in Op::ALL {
            let want = check::reference(op, &x);
            let got = check::run_guest(&mut g, op, &x).unwrap();
            let mag = x.magnitude(op);
            assert!(
                check::agrees(op, &got, &want, mag),
                "{op} n={n}: {got:?} vs {want:?}"
            );
        }
    }
    let a = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0];
    assert_eq!(g.sum(&a).unwrap(), 45.0);
}

/// Strict reductions past the capacity are one left-to-right pass, not a sum of chunk
/// sums: with 2^53 first, every later +1 is lost to rounding (2^53 + 1 rounds to 2^53),
/// so left to right gives 0, while adding per-chunk partials would keep some of them.
#[test]
fn strict_reductions_carry_the_running_total_across_chunks() {
    let mut g = load_spec(&WatSpec::default()).unwrap();
    let big = 2f64.powi(53);
    let mut a = vec![big];
    a.extend([1.0; 10]);
    a.push(-big);
    let ones = vec![1.0; a.len()];
    let core = offload_core::vector::sum(&a);
    assert_eq!(core, 0.0);
    assert_eq!(g.sum(&a).unwrap().to_bits(), core.to_bits());
    assert_eq!(g.dot(&a, &ones).unwrap().to_bits(), core.to_bits());
    // The fast family adds the chunks' partial sums: [2^53,1,1,1] + [1,1,1,1] + ...
    assert_ne!(g.sum_simd(&a).unwrap(), 0.0);
    // Random data of widely spread magnitudes, every length across three chunks.
    for n in 0..=14 {
        let mut x = Inputs::generate(n, 77 + n as u64);
        for (i, v) in x.a.iter_mut().enumerate() {
            *v *= 2f64.powi((i as i32 * 37) % 61 - 30);
        }
        for op in [Op::Sum, Op::Dot] {
            let want = check::reference(op, &x);
            let got = check::run_guest(&mut g, op, &x).unwrap();
            assert!(
                check::bit_equal(&got, &want),
                "{op} n={n}: {got:?} vs {want:?}"
            );
        }
    }
}

#[test]
fn truncated_file_is_malformed() {
    let full = wat_guest(&WatSpec::default());
    let f = temp_file(&full[..full.len() / 2]);
    let err = VectorGuest::load(f.path()).unwrap_err();
    assert!(matches!(err, Error::Malformed { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(msg.contains("malformed WebAssembly module"), "{msg}");
    assert!(msg.contains(&f.path().display().to_string()), "{msg}");
}

#[test]
fn non_wasm_file_is_named() {
    let f = temp_file(b"#!/bin/sh\necho this is not wasm\n");
    let err = VectorGuest::load(f.path()).unwrap_err();
    assert!(matches!(err, Error::NotWasm { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(msg.contains("is not a WebAssembly binary"), "{msg}");
    assert!(msg.contains(&f.path().display().to_string()), "{msg}");
}

#[test]
fn missing_file_names_the_path() {
    let err = VectorGuest::load("/nonexistent/dir/wasm-x.wasm").unwrap_err();
    assert!(matches!(err, Error::Io { .. }), "{err:?}");
    assert!(
        err.to_string().contains("/nonexistent/dir/wasm-x.wasm"),
        "{err}"
    );
}

#[test]
fn missing_export_is_named() {
    for name in [
        "dot",
        "sum_simd",
        "dot_simd",
        "memory",
        "get_result_offset",
        "abi_version",
    ] {
        let spec = WatSpec {
            omit: vec![name],
            ..WatSpec::default()
        };
        let f = temp_file(&wat_guest(&spec));
        let err = VectorGuest::load(f.path()).unwrap_err();
        assert!(
            matches!(err, Error::MissingExport { name: n } if n == name),
            "omitting {name}: {err:?}"
        );
        assert!(
            err.to_string()
                .contains(&format!("missing export `{name}`")),
            "{err}"
        );
    }
}

#[test]
fn wrong_export_type_is_named() {
    let err = load_spec(&WatSpec {
        sum_returns_i32: true,
        ..WatSpec::default()
    })
    .unwrap_err();
    assert!(
        matches!(err, Error::WrongExportType { name: "sum", .. }),
        "{err:?}"
    );
    let msg = err.to_string();
    assert!(msg.contains("`sum`"), "{msg}");
    assert!(msg.contains("expected func (i32) -> f64"), "{msg}");
    assert!(msg.contains("found func (i32) -> i32"), "{msg}");
}

#[test]
fn abi_versions_1_and_2_load_others_are_rejected() {
    for abi in [1, 2] {
        let g = load_spec(&WatSpec {
            abi,
            ..WatSpec::default()
        })
        .unwrap();
        assert_eq!(g.abi_version(), abi);
    }
    for abi in [0, 3, -1] {
        let err = load_spec(&WatSpec {
            abi,
            ..WatSpec::default()
        })
        .unwrap_err();
        assert!(
            matches!(err, Error::AbiVersion { found, expected: 2 } if found == abi),
            "{err:?}"
        );
        let msg = err.to_string();
        assert!(msg.contains(&format!("abi_version() is {abi}")), "{msg}");
        assert!(msg.contains("versions 1 to 2"), "{msg}");
    }
}

/// A v1 guest needs no `dot_simd`; a v2 guest does.
#[test]
fn dot_simd_is_required_from_v2_only() {
    let spec = WatSpec {
        omit: vec!["dot_simd"],
        ..WatSpec::default()
    };
    let err = load_spec(&spec).unwrap_err();
    assert!(
        matches!(err, Error::MissingExport { name: "dot_simd" }),
        "{err:?}"
    );
    let g = load_spec(&WatSpec {
        abi: 1,
        ..WatSpec::default()
    })
    .unwrap();
    assert!(!g.export_names().iter().any(|e| e == "dot_simd"));
}

#[test]
fn bad_layouts_are_rejected() {
    let cases: [(WatSpec, &str); 4] = [
        (
            WatSpec {
                b: 2052,
                ..WatSpec::default()
            },
            "buffer b offset 2052 is not 8-byte aligned",
        ),
        (
            WatSpec {
                result: 65536 - 16,
                ..WatSpec::default()
            },
            "out of bounds of linear memory",
        ),
        (
            WatSpec {
                b: 1040,
                ..WatSpec::default()
            },
            "overlap",
        ),
        (
            WatSpec {
                capacity: 0,
                ..WatSpec::default()
            },
            "get_capacity() returned 0",
        ),
    ];
    for (spec, needle) in cases {
        let err = load_spec(&spec).unwrap_err();
        assert!(matches!(err, Error::BadLayout { .. }), "{spec:?}: {err:?}");
        assert!(err.to_string().contains(needle), "{err}");
    }
}

#[test]
fn unknown_import_is_named() {
    let err = load_spec(&WatSpec {
        foreign_import: true,
        ..WatSpec::default()
    })
    .unwrap_err();
    assert!(matches!(err, Error::Instantiate { .. }), "{err:?}");
    assert!(err.to_string().contains("host_log"), "{err}");
}

#[test]
fn length_errors() {
    let mut g = load_spec(&WatSpec::default()).unwrap();
    let err = g.dot(&[1.0, 2.0], &[1.0]).unwrap_err();
    assert!(
        matches!(
            err,
            Error::LengthMismatch {
                what: "b",
                got: 1,
                expected: 2
            }
        ),
        "{err:?}"
    );
    let mut out = [0.0; 1];
    let err = g.mul(&[1.0, 2.0], &[1.0, 2.0], &mut out).unwrap_err();
    assert!(
        matches!(err, Error::LengthMismatch { what: "out", .. }),
        "{err:?}"
    );
    let err = g.scale(2.0, &[1.0, 2.0], &mut out).unwrap_err();
    assert!(
        err.to_string().contains("out has 1 elements, expected 2"),
        "{err}"
    );
    let err = g.write_a(&[0.0; 5]).unwrap_err();
    assert!(
        matches!(
            err,
            Error::OverCapacity {
                len: 5,
                capacity: 4
            }
        ),
        "{err:?}"
    );
    assert!(
        err.to_string().contains("over the guest's capacity of 4"),
        "{err}"
    );
}

#[test]
fn trap_rebuilds_the_instance_and_wipes_its_buffers() {
    let mut g = load_spec(&WatSpec::default()).unwrap();
    g.write_a(&[1.0, 2.0, 3.0, 4.0]).unwrap();
    assert_eq!(g.call(Op::Sum, 4, 0.0).unwrap(), Some(10.0));
    let err = g.call_raw(Op::Dot, 5, 0.0).unwrap_err();
    assert!(matches!(err, Error::Trap { op: "dot", .. }), "{err:?}");
    assert!(err.to_string().contains("unreachable"), "{err}");
    assert_eq!(g.rebuilds(), 1);
    // Fresh memory: the buffer written before the trap is zero again.
    assert_eq!(g.call(Op::Sum, 4, 0.0).unwrap(), Some(0.0));
    assert_eq!(g.sum(&[1.0, 2.0]).unwrap(), 3.0);
}

#[test]
fn proc_exit_is_reported_and_the_wasi_guest_rebuilt() {
    let mut g = load_spec(&WatSpec {
        exit_on_len7: true,
        capacity: 8, // so that sum(7) is one chunk
        ..WatSpec::default()
    })
    .unwrap();
    assert!(g.imports_wasi());
    let err = g.sum(&[1.0; 7]).unwrap_err();
    assert!(
        matches!(err, Error::ProcExit { op: "sum", code: 3 }),
        "{err:?}"
    );
    assert!(err.to_string().contains("proc_exit(3)"), "{err}");
    assert_eq!(g.rebuilds(), 1);
    assert_eq!(g.sum(&[1.0; 6]).unwrap(), 6.0);
}

#[test]
fn discover_lists_guests_with_metadata() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("wasm-t.wasm"),
        wat_guest(&WatSpec::default()),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("wasm-t.json"),
        r#"{"path": "wasm-t", "language": "wat", "compiler": "wat 1", "flags": "", "simd128": false, "extra": 3}"#,
    )
    .unwrap();
    std::fs::write(
        dir.path().join("wasm-bare.wasm"),
        wat_guest(&WatSpec::default()),
    )
    .unwrap();
    std::fs::write(dir.path().join("notes.txt"), "ignored").unwrap();
    let found = guests::discover(dir.path()).unwrap();
    let names: Vec<&str> = found.iter().map(|g| g.name.as_str()).collect();
    assert_eq!(names, ["wasm-bare", "wasm-t"]);
    assert!(found[0].meta.is_none());
    let meta = found[1].meta.as_ref().unwrap();
    assert_eq!(meta.compiler.as_deref(), Some("wat 1"));
    assert_eq!(meta.simd128, Some(false));
    assert_eq!(meta.extra["extra"], 3);
    assert!(found[1].size > 8);

    std::fs::write(dir.path().join("wasm-t.json"), "{not json").unwrap();
    let err = guests::discover(dir.path()).unwrap_err();
    assert!(matches!(err, Error::Metadata { .. }), "{err:?}");
    assert!(err.to_string().contains("wasm-t.json"), "{err}");
}

#[test]
fn resolve_path_names_and_files() {
    assert_eq!(
        guests::resolve("build/guests", "wasm-c"),
        std::path::PathBuf::from("build/guests/wasm-c.wasm")
    );
    assert_eq!(
        guests::resolve("build/guests", "/tmp/x.wasm"),
        std::path::PathBuf::from("/tmp/x.wasm")
    );
}
