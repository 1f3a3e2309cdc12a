//! The `offload` binary end to end, on the Rust guest (always built first).

mod common;

use std::process::Command;

fn offload(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_offload"))
        .args(args)
        .env("OFFLOAD_GUESTS_DIR", common::guests_dir())
        .output()
        .expect("running offload")
}

#[test]
fn run_checks_against_core() {
    common::guest_path("wasm-rust");
    for (op, family) in [
        ("sum", "family=strict"),
        ("dot", "family=strict"),
        ("sum_simd", "family=fast"),
        ("dot_simd", "family=fast"),
        ("mul", "family=none"),
        ("scale", "family=none"),
    ] {
        // Past the capacity (100 000): strict results stay bit-equal across chunks.
        let out = offload(&["run", "wasm-rust", op, "--n", "201234", "--seed", "3"]);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{op}: {stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(stdout.lines().any(|l| l == "OK"), "{stdout}");
        let op_line = stdout.lines().find(|l| l.starts_with("op:")).unwrap_or("");
        assert!(op_line.contains(family), "{op}: {stdout}");
        assert!(stdout.contains("max_rel_err:"), "{stdout}");
        assert!(stdout.contains("time_ns:"), "{stdout}");
        if family == "family=strict" {
            assert!(stdout.contains("bit-equal"), "{stdout}");
        }
    }
}

#[test]
fn run_unknown_guest_fails_with_a_hint() {
    let out = offload(&["run", "wasm-nope", "sum", "--n", "3"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("wasm-nope.wasm"), "{stderr}");
    assert!(stderr.contains("./build.sh all"), "{stderr}");
}

#[test]
fn guests_lists_the_rust_guest() {
    common::guest_path("wasm-rust");
    let out = offload(&["guests"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("wasm-rust"), "{stdout}");
    assert!(stdout.contains("capacity:  "), "{stdout}");
    assert!(stdout.contains("dot_simd"), "{stdout}");
    assert!(stdout.contains("abi:       v2"), "{stdout}");
}

/// `offload forest --path wasm --wasi-gpu` on the cpu backend: the forest-gpu guest
/// (scripts/build-forest-gpu-guest.sh) trains through wasi:gpu and matches native.
#[test]
fn forest_through_wasi_gpu_matches_native() {
    let guest = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../build/guests/forest/forest-gpu.wasm");
    assert!(
        guest.is_file(),
        "{} is not built: run scripts/build-forest-gpu-guest.sh",
        guest.display()
    );
    let guest = guest.to_string_lossy().into_owned();
    let args = ["forest", "--path", "wasm", "--backend", "cpu", "--wasi-gpu"];
    let out = offload(&[&args[..], &["--trees", "4", "--guest", &guest]].concat());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("forest:      wasi-gpu-cpu, 4 trees"),
        "{stdout}"
    );
    assert!(stdout.contains("device:      "), "{stdout}");
    assert!(
        stdout.contains("forest identical to native: yes"),
        "{stdout}"
    );
}

/// A v1 guest: `dot_simd` runs its `dot` (named on the op line); strict `dot` is refused
/// with exit 2 and a message, never answered by the fast kernel.
#[test]
fn run_on_a_v1_guest_names_the_family_and_refuses_strict_dot() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("wasm-v1.wasm");
    std::fs::write(
        &file,
        common::wat_guest(&common::WatSpec {
            abi: 1,
            ..common::WatSpec::default()
        }),
    )
    .unwrap();
    let path = file.to_str().unwrap();
    let out = offload(&["run", path, "dot_simd", "--n", "10"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(
        stdout.contains("op:          dot_simd family=fast export=dot"),
        "{stdout}"
    );
    assert!(stdout.contains("ABI v1"), "{stdout}");
    let out = offload(&["run", path, "dot", "--n", "10"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("no strict `dot`"), "{stderr}");
}

/// `--export-xgboost` writes the forest in XGBoost's JSON format: one round of `--trees`
/// parallel trees whose leaves sum to offload's mean (checked with XGBoost itself by
/// scripts/check_xgboost_export.py); an unwritable path is an error naming it.
#[test]
fn forest_exports_xgboost_json() {
    let dir = std::env::temp_dir().join(format!("offload-xgb-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("forest.json");
    let f = file.to_string_lossy().into_owned();
    let out = offload(&["forest", "--trees", "3", "--export-xgboost", &f]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    let model = &v["learner"]["gradient_booster"]["model"];
    assert_eq!(model["gbtree_model_param"]["num_parallel_tree"], "3");
    assert_eq!(model["trees"].as_array().unwrap().len(), 3);
    assert_eq!(v["learner"]["learner_model_param"]["num_feature"], "10");
    assert_eq!(v["learner"]["objective"]["name"], "reg:squarederror");
    let t0 = &model["trees"][0];
    let n: usize = t0["tree_param"]["num_nodes"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    for key in [
        "left_children",
        "right_children",
        "split_conditions",
        "split_indices",
    ] {
        assert_eq!(t0[key].as_array().unwrap().len(), n, "{key}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
    let bad = dir.join("missing/forest.json");
    let out = offload(&[
        "forest",
        "--trees",
        "2",
        "--export-xgboost",
        &bad.to_string_lossy(),
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("missing/forest.json"), "{err}");
}

/// An absurd `--n` is an error naming the size and the limit (exit 2), never an
/// allocation failure that aborts the process (issue #19's `offload run wasm-c dot --n
/// 4000000000`).
#[test]
fn an_absurd_n_is_an_error_not_an_abort() {
    for args in [
        &["run", "wasm-c", "dot", "--n", "4000000000000"][..],
        &["parallel", "sum", "--n", "4000000000000"][..],
    ] {
        let out = offload(args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(
            err.contains("--n 4000000000000: 4 vectors of 4000000000000 f64 need"),
            "{args:?}: {err}"
        );
        assert!(err.contains("available"), "{args:?}: {err}");
    }
}

/// `offload run --deadline-s` bounds a vector guest's calls: a guest whose `sum` loops
/// forever at n = 3 is stopped with an error naming the deadline, well before the
/// default 60 s; a deadline that is not a positive number of seconds is refused.
#[test]
fn run_deadline_bounds_a_vector_guest() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("loop.wasm");
    let spec = common::WatSpec {
        loop_on_len: Some(3),
        ..common::WatSpec::default()
    };
    std::fs::write(&path, common::wat_guest(&spec)).unwrap();
    let p = path.to_str().unwrap();
    let start = std::time::Instant::now();
    let out = offload(&[
        "run",
        p,
        "sum",
        "--n",
        "3",
        "--repeat",
        "1",
        "--deadline-s",
        "0.3",
    ]);
    let took = start.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "a looping guest succeeded: {stderr}");
    assert!(stderr.contains("deadline"), "{stderr}");
    assert!(took < std::time::Duration::from_secs(20), "took {took:?}");
    for bad in ["0", "-1", "nan", "inf"] {
        let flag = format!("--deadline-s={bad}");
        let out = offload(&["run", p, "sum", "--n", "2", &flag]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success() && stderr.contains("--deadline-s"),
            "--deadline-s {bad}: {stderr}"
        );
    }
    let out = offload(&["run", p, "sum", "--n", "2", "--deadline-s", "5"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
