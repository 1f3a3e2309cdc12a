//! End-to-end tests over `tests/fixtures/run` (a trimmed results folder with chosen
//! medians; regenerate with `python3 report/tests/fixtures/make_fixture.py`).

use offload_report::analysis::Group;
use offload_report::compare::{compare, compare_records};
use offload_report::model::Family::{self, Fast, Strict};
use offload_report::model::Harness;
use offload_report::render::{fastest_summary, gpu_crossovers, table, wasm_vs_native};
use offload_report::{
    ingest, load_results, ratio, render_into, save_results, ReportArgs, ReportError,
};
use std::path::{Path, PathBuf};

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/run")
}

/// Copies the fixture folder into a fresh temporary directory.
fn fixture_copy() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    let src = fixture();
    for e in walkdir::WalkDir::new(&src) {
        let e = e.unwrap();
        let dst = tmp.path().join(e.path().strip_prefix(&src).unwrap());
        if e.file_type().is_dir() {
            std::fs::create_dir_all(&dst).unwrap();
        } else {
            std::fs::copy(e.path(), &dst).unwrap();
        }
    }
    tmp
}

fn cells(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

fn group(op: &str, dtype: &str, family: Option<Family>) -> Group {
    Group {
        op: op.into(),
        dtype: dtype.into(),
        family,
    }
}

#[test]
fn fixture_renders_expected_tables() {
    let dir = fixture_copy();
    let r = ingest(dir.path(), None).unwrap();
    assert_eq!(r.records.len(), 36, "29 criterion + 7 go benchmarks");
    // Families come from the ids; element-wise ops carry none.
    let strict = r
        .records
        .iter()
        .filter(|x| x.family == Some(Strict))
        .count();
    let fast = r.records.iter().filter(|x| x.family == Some(Fast)).count();
    assert_eq!((strict, fast), (10, 20));
    assert!(r
        .records
        .iter()
        .filter(|x| x.op == "mul" || x.op == "empty-call")
        .all(|x| x.family.is_none()));
    // Thread counts of the all-cores paths, from both harnesses' output.
    assert_eq!(r.environment.threads["rust-native-par"], 2);
    assert_eq!(r.environment.threads["go-par"], 2);

    // strict: against rust-native, the only strict CPU path.
    let t = table(&r, &group("sum", "f64", Some(Strict)), Harness::Criterion)
        .unwrap()
        .unwrap();
    assert_eq!(t.paths, cells(&["rust-native", "wasm-rust"]));
    assert_eq!(
        t.rows,
        vec![
            (1000, cells(&["**500 ns** (1.00×)", "1.00 µs (2.00×)"])),
            (100_000, cells(&["**50.0 µs** (1.00×)", "60.0 µs (1.20×)"])),
        ]
    );
    assert_eq!(t.against, cells(&["rust-native", "rust-native"]));
    // fast: against the fastest fast CPU path at each n, which the table names.
    let t = table(&r, &group("sum", "f64", Some(Fast)), Harness::Criterion)
        .unwrap()
        .unwrap();
    assert_eq!(
        t.paths,
        cells(&["rust-native-simd", "rust-native-par", "wasm-rust"])
    );
    assert_eq!(
        t.rows,
        vec![
            (
                1000,
                cells(&["**200 ns** (1.00×)", "2.00 µs (10.0×)", "205 ns (1.02×)"])
            ),
            (
                100_000,
                cells(&["20.0 µs (2.50×)", "**8.00 µs** (1.00×)", "30.0 µs (3.75×)"])
            ),
        ]
    );
    assert_eq!(t.against, cells(&["rust-native-simd", "rust-native-par"]));
    // Go table: ratios within the Go harness; wazero-c at n=1000 is noisy.
    let t = table(&r, &group("sum", "f64", Some(Strict)), Harness::Go)
        .unwrap()
        .unwrap();
    assert_eq!(t.paths, cells(&["go", "wazero-c"]));
    assert_eq!(
        t.rows[0],
        (1000, cells(&["**600 ns** (1.00×)", "1.50 µs (2.50×)†"]))
    );
    assert_eq!(t.against[0], "go");
    // The f32 GPU group: against rust-native-simd, never the strict `cpu` backend.
    let t = table(&r, &group("sum", "f32", Some(Fast)), Harness::Criterion)
        .unwrap()
        .unwrap();
    assert_eq!(
        t.rows[3],
        (
            1_000_000,
            cells(&["100 µs (1.00×)", "50.0 µs (0.50×)", "**10.0 µs** (0.10×)"])
        )
    );
    // element-wise: mul against rust-native-par where that is faster.
    let t = table(&r, &group("mul", "f64", None), Harness::Criterion)
        .unwrap()
        .unwrap();
    assert_eq!(t.against, cells(&["rust-native", "rust-native-par"]));

    // GPU crossovers, host data and resident data apart.
    let g = gpu_crossovers(&r, false).unwrap().unwrap();
    assert_eq!(g.columns, cells(&["gpu-cuda"]));
    assert_eq!(
        g.rows,
        vec![(
            "sum (f32, fast)".to_string(),
            cells(&["between 100,000 and 1,000,000 (0.50× rust-native-simd at 1,000,000)"])
        )]
    );
    let g = gpu_crossovers(&r, true).unwrap().unwrap();
    assert_eq!(g.columns, cells(&["gpu-cuda-resident"]));
    assert_eq!(
        g.rows[0].1,
        cells(&[
            "between 10,000 and 100,000 (0.50× rust-native-simd at 100,000; not cleanly \
             located: the intervals overlap at 10,000)"
        ])
    );
    // wasm against the fastest one-thread native path of its own family.
    let w = wasm_vs_native(&r).unwrap().unwrap();
    assert_eq!(w.columns, cells(&["wasm-rust", "wazero-c (go)"]));
    assert_eq!(
        w.rows,
        vec![
            (
                "sum (f64, strict)".to_string(),
                cells(&["2.00× → 1.20× (vs rust-native)", "2.50× → 1.20× (vs go)"])
            ),
            (
                "sum (f64, fast)".to_string(),
                cells(&["1.02× → 1.50× (vs rust-native-simd)", ""])
            ),
        ]
    );
    // Fastest path per group and size, ties by overlapping intervals.
    let f = fastest_summary(&r).unwrap();
    let row = |title: &str, n: u64| {
        f.rows
            .iter()
            .find(|x| x.0 == title && x.1 == n)
            .unwrap_or_else(|| panic!("{title} {n}: {f:?}"))
            .2
            .clone()
    };
    assert_eq!(
        row("sum (f64, fast)", 1000),
        cells(&[
            "rust-native-simd 200 ns (tie: wasm-rust 205 ns)",
            "go-unrolled 300 ns"
        ])
    );
    assert_eq!(
        row("sum (f32, fast)", 10_000),
        cells(&[
            "rust-native-simd 1.00 µs (tie: gpu-cuda-resident 1.01 µs)",
            ""
        ])
    );
    assert_eq!(row("mul (f64)", 100_000)[0], "rust-native-par 3.00 µs");

    // Go statistics: median of 5 runs and the order-statistic interval [min, max].
    let noisy = r
        .records
        .iter()
        .find(|x| x.path == "wazero-c" && x.n == 1000)
        .unwrap();
    assert_eq!(noisy.samples.len(), 5);
    assert_eq!(noisy.median, 1500.0);
    assert_eq!((noisy.ci_low, noisy.ci_high), (1400.0, 2000.0));
    assert!((noisy.ci_level - 0.9375).abs() < 1e-12);
    assert!(noisy.noisy());
    // criterion samples are times / iters.
    let c = r
        .records
        .iter()
        .find(|x| x.path == "wasm-rust" && x.n == 1000 && x.family == Some(Strict))
        .unwrap();
    assert_eq!(c.samples.len(), 10);
    assert!((c.samples[0] - 990.0).abs() < 1e-9);
    assert!(!c.noisy());

    let paths: Vec<(&str, Harness)> = r
        .skipped
        .iter()
        .map(|s| (s.path.as_str(), s.harness))
        .collect();
    assert_eq!(
        paths,
        vec![
            ("gpu-wgpu", Harness::Criterion),
            ("gpu-cuda", Harness::Criterion),
            ("gpu-cuda", Harness::Criterion),
            ("gpu-cuda-pinned", Harness::Criterion),
            ("gpu-cuda", Harness::Go)
        ]
    );
    assert_eq!(r.devices.len(), 1);
    assert_eq!(
        r.devices[0].description,
        "NVIDIA Fixture GPU (driver 550.54)"
    );

    // Whole report and plots.
    save_results(dir.path(), &r).unwrap();
    assert_eq!(load_results(dir.path()).unwrap(), r);
    let md_path = render_into(dir.path(), &r).unwrap();
    let md = std::fs::read_to_string(md_path).unwrap();
    assert!(
        md.contains("| 1,000 | **500 ns** (1.00×) | 1.00 µs (2.00×) | rust-native |"),
        "{md}"
    );
    assert!(md.contains("## sum (f64, fast)\n"), "{md}");
    assert!(md.contains("## sum (f32, strict)\n"), "{md}");
    assert!(md.contains("| n | rust-native-simd | rust-native-par | wasm-rust | ratio against |"));
    assert!(
        md.contains(
            "| sum (f64, strict) | 2.00× → 1.20× (vs rust-native) | 2.50× → 1.20× (vs go) |"
        ),
        "{md}"
    );
    assert!(md.contains("### GPU crossover\n"));
    assert!(md.contains("Data starting in host memory — pageable"));
    assert!(md.contains("Data resident on the device"));
    assert!(md.contains(
        "| sum (f64, fast) | 1,000 | rust-native-simd 200 ns (tie: wasm-rust 205 ns) | \
         go-unrolled 300 ns |"
    ));
    assert!(md.contains("| criterion | gpu-wgpu | all | no Vulkan adapter"));
    assert!(
        md.contains("| criterion | gpu-cuda | sgemm (n = 4,096 … 8,192) | out of device memory |"),
        "{md}"
    );
    assert!(md.contains("| criterion | gpu-cuda-pinned | sum-fast_f32 | no pinned-memory path"));
    assert!(md.contains("| device gpu-cuda (criterion) | NVIDIA Fixture GPU (driver 550.54) |"));
    assert!(md.contains("| threads rust-native-par | 2 |"));
    assert!(md.contains("| threads go-par | 2 |"));
    assert!(md.contains("- `sum-strict/wazero-c/1000 [go]`: CV"), "{md}");
    assert!(md.contains("| CPU | Fixture CPU @ 2.00GHz (2 logical CPUs) |"));
    assert!(md.contains("![sum (f64, strict), Rust host (criterion)](plots/sum-f64-strict.svg)"));
    assert!(md.contains("![sum (f64, strict), Go host (go test)](plots/sum-f64-strict-go.svg)"));
    assert!(md.contains("![sum (f64, fast), Rust host (criterion)](plots/sum-f64-fast.svg)"));
    assert!(md.contains("## Call overhead"));
    for f in [
        "sum-f64-strict.svg",
        "sum-f64-strict-go.svg",
        "sum-f64-fast.svg",
        "sum-f64-fast-go.svg",
        "sum-f32-fast.svg",
        "mul-f64.svg",
        "call-overhead.svg",
    ] {
        let svg = std::fs::read_to_string(dir.path().join("plots").join(f))
            .unwrap_or_else(|e| panic!("{f}: {e}"));
        assert!(svg.starts_with("<svg") && svg.contains("</svg>"), "{f}");
    }
    let svg = std::fs::read_to_string(dir.path().join("plots/sum-f64-strict.svg")).unwrap();
    assert!(svg.contains("wasm-rust") && svg.contains("rust-native"));
    assert!(svg.contains("sum (f64, strict)"));
    let svg = std::fs::read_to_string(dir.path().join("plots/sum-f64-strict-go.svg")).unwrap();
    assert!(svg.contains("wazero-c") && svg.contains("Go host"));
}

#[test]
fn cross_family_ratio_is_refused() {
    let dir = fixture_copy();
    let r = ingest(dir.path(), None).unwrap();
    let find = |family, path: &str, harness| {
        r.records
            .iter()
            .find(|x| {
                x.op == "sum"
                    && x.dtype == "f64"
                    && x.family == Some(family)
                    && x.path == path
                    && x.n == 1000
                    && x.harness == harness
            })
            .unwrap()
    };
    let wasm_fast = find(Fast, "wasm-rust", Harness::Criterion);
    let native_strict = find(Strict, "rust-native", Harness::Criterion);
    let simd = find(Fast, "rust-native-simd", Harness::Criterion);
    let go_strict = find(Strict, "go", Harness::Go);
    // Same family and harness: a ratio.
    assert_eq!(ratio(wasm_fast, simd).unwrap(), 1.025);
    // The wasm-fast-vs-native-strict ratio the old report printed (0.35×-style): refused.
    let e = ratio(wasm_fast, native_strict).unwrap_err();
    match &e {
        ReportError::CrossFamily {
            numerator,
            denominator,
            why,
        } => {
            assert_eq!(numerator, "sum-fast/wasm-rust/1000 [criterion]");
            assert_eq!(denominator, "sum-strict/rust-native/1000 [criterion]");
            assert!(why.contains("family"), "{why}");
        }
        e => panic!("expected CrossFamily, got {e:?}"),
    }
    assert!(e.to_string().starts_with("refusing the ratio"), "{e}");
    // Across harnesses, even in one family.
    let e = ratio(native_strict, go_strict).unwrap_err();
    assert!(e.to_string().contains("harness `criterion` vs `go`"), "{e}");
}

#[test]
fn schema_1_results_are_refused_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    // The shape of a committed schema-1 results.json: no families, `sum_simd` ops.
    std::fs::write(
        dir.path().join("results.json"),
        r#"{"schema": 1, "environment": {"date": "2026-11-21T08:00:00Z", "host": "h",
            "os": "", "cpu_model": "", "cpu_cores": 2, "git_commit": "", "command_line": ""},
            "records": [{"op": "sum_simd", "dtype": "f64", "path": "wasm-c", "n": 10,
            "harness": "criterion", "unit": "ns", "median": 1.0, "ci_low": 1.0,
            "ci_high": 1.0, "ci_level": 0.95, "ci_method": "x", "mean": 1.0, "cv": 0.0,
            "samples": [1.0], "source": "x"}], "skipped": []}"#,
    )
    .unwrap();
    let e = load_results(dir.path()).unwrap_err();
    assert!(
        matches!(
            e,
            ReportError::Schema {
                found: 1,
                expected: 2,
                ..
            }
        ),
        "{e:?}"
    );
    let msg = e.to_string();
    assert!(msg.contains("results.json schema 1"), "{msg}");
    assert!(msg.contains("no algorithm families"), "{msg}");
    assert!(msg.contains("offload report --ingest"), "{msg}");
    // Also through the CLI entry point and --compare: an error, not a panic.
    let args = ReportArgs {
        dir: Some(dir.path().to_path_buf()),
        ingest: false,
        criterion_dir: None,
        collect_env: false,
        repo: ".".into(),
        command_line: None,
        build_env: None,
        compare: None,
    };
    let e = offload_report::run(args).unwrap_err();
    assert!(e.to_string().contains("schema 1"), "{e}");
    assert!(compare(dir.path(), dir.path()).is_err());
    // No schema field at all.
    std::fs::write(dir.path().join("results.json"), "{}").unwrap();
    let e = load_results(dir.path()).unwrap_err();
    assert!(matches!(e, ReportError::Schema { found: 0, .. }), "{e:?}");
}

#[test]
fn reduction_without_a_family_names_the_rule() {
    let dir = fixture_copy();
    let f = dir.path().join("go-bench.txt");
    let mut text = std::fs::read_to_string(&f).unwrap();
    text.push_str("BenchmarkSum/path=go/n=10-2\t100\t5.0 ns/op\n");
    std::fs::write(&f, text).unwrap();
    let e = ingest(dir.path(), None).unwrap_err();
    assert!(
        matches!(e, ReportError::UnknownBenchmark { ref path, .. } if *path == f),
        "{e:?}"
    );
    let msg = e.to_string();
    assert!(
        msg.contains("must name its algorithm family") && msg.contains("family=strict"),
        "{msg}"
    );
}

#[test]
fn truncated_json_names_the_file() {
    let dir = fixture_copy();
    let f = dir
        .path()
        .join("criterion/sum-strict/wasm-rust/1000/new/estimates.json");
    let text = std::fs::read_to_string(&f).unwrap();
    std::fs::write(&f, &text[..text.len() / 2]).unwrap();
    let err = ingest(dir.path(), None).unwrap_err();
    assert!(
        matches!(err, ReportError::Json { ref path, .. } if *path == f),
        "{err:?}"
    );
    assert!(err
        .to_string()
        .contains("sum-strict/wasm-rust/1000/new/estimates.json"));

    // A truncated results.json too.
    let dir = fixture_copy();
    let r = ingest(dir.path(), None).unwrap();
    save_results(dir.path(), &r).unwrap();
    let f = dir.path().join("results.json");
    let text = std::fs::read_to_string(&f).unwrap();
    std::fs::write(&f, &text[..100]).unwrap();
    let err = load_results(dir.path()).unwrap_err();
    assert!(err.to_string().contains("results.json"), "{err}");
}

#[test]
fn unknown_benchmark_names_the_file() {
    let dir = fixture_copy();
    let d = dir.path().join("criterion/frobnicate/rust-native/10/new");
    std::fs::create_dir_all(&d).unwrap();
    let src = dir.path().join("criterion/sum-strict/rust-native/1000/new");
    for f in ["estimates.json", "sample.json"] {
        std::fs::copy(src.join(f), d.join(f)).unwrap();
    }
    std::fs::write(
        d.join("benchmark.json"),
        r#"{"group_id":"frobnicate","function_id":"rust-native","value_str":"10",
            "throughput":null,"full_id":"frobnicate/rust-native/10",
            "directory_name":"frobnicate/rust-native/10","title":"frobnicate/rust-native/10"}"#,
    )
    .unwrap();
    let err = ingest(dir.path(), None).unwrap_err();
    match &err {
        ReportError::UnknownBenchmark { path, name, .. } => {
            assert_eq!(path, &d.join("benchmark.json"));
            assert_eq!(name, "frobnicate/rust-native/10");
        }
        e => panic!("expected UnknownBenchmark, got {e:?}"),
    }

    let dir = fixture_copy();
    let f = dir.path().join("go-bench.txt");
    let mut text = std::fs::read_to_string(&f).unwrap();
    text.push_str("BenchmarkSum/family=strict/path=cobol/n=10-2\t100\t5.0 ns/op\n");
    std::fs::write(&f, text).unwrap();
    let err = ingest(dir.path(), None).unwrap_err();
    assert!(
        matches!(err, ReportError::UnknownBenchmark { ref path, .. } if *path == f),
        "{err:?}"
    );
    assert!(err.to_string().contains("go-bench.txt") && err.to_string().contains("cobol"));
}

#[test]
fn a_benchmark_measured_twice_is_kept_once_and_listed() {
    let dir = fixture_copy();
    // The GPU bench names the dtype the vector bench leaves out: the same key.
    let src = dir.path().join("criterion/mul/rust-native/1000/new");
    let d = dir.path().join("criterion/mul_f64/rust-native/1000/new");
    std::fs::create_dir_all(&d).unwrap();
    for f in ["estimates.json", "sample.json"] {
        std::fs::copy(src.join(f), d.join(f)).unwrap();
    }
    std::fs::write(
        d.join("benchmark.json"),
        r#"{"group_id":"mul_f64","function_id":"rust-native","value_str":"1000"}"#,
    )
    .unwrap();
    let r = ingest(dir.path(), None).unwrap();
    assert_eq!(r.records.len(), 36);
    assert!(r.failures.is_empty(), "{:?}", r.failures);
    assert_eq!(r.duplicates.len(), 1, "{:?}", r.duplicates);
    let f = &r.duplicates[0];
    assert_eq!((f.path.as_str(), f.n), ("rust-native", Some(1000)));
    assert!(
        f.reason
            .contains("mul/rust-native/1000 [criterion] measured twice")
            && f.reason
                .contains("criterion/mul/rust-native/1000/new/estimates.json")
            && f.reason
                .contains("criterion/mul_f64/rust-native/1000/new/estimates.json"),
        "{}",
        f.reason
    );
    let md = offload_report::render::markdown(&r, &Default::default()).unwrap();
    assert!(md.contains("## Measured twice"), "{md}");
    assert!(!md.contains("## Failures"), "{md}");
}

#[test]
fn missing_inputs_are_named() {
    let dir = fixture_copy();
    std::fs::remove_file(dir.path().join("env.json")).unwrap();
    let err = ingest(dir.path(), None).unwrap_err();
    assert!(matches!(err, ReportError::Missing { .. }));
    assert!(err.to_string().contains("env.json"), "{err}");

    let empty = tempfile::tempdir().unwrap();
    let err = load_results(empty.path()).unwrap_err();
    assert!(err.to_string().contains("results.json"), "{err}");
}

#[test]
fn compare_flags_a_2x_slowdown_and_not_an_identical_run() {
    let old_dir = fixture_copy();
    let old = ingest(old_dir.path(), None).unwrap();
    save_results(old_dir.path(), &old).unwrap();

    // Identical: nothing significant.
    let c = compare_records(&old.records, &old.records).unwrap();
    assert_eq!(c.changes.len(), old.records.len());
    assert!(c.changes.iter().all(|ch| !ch.significant && ch.p > 0.5));

    // wasm-rust sum n=1000 (criterion, 10 samples) and go's sum n=1000 (5 runs) get 2x
    // slower with the same spread.
    let mut new = old.clone();
    for r in new.records.iter_mut().filter(|r| {
        r.op == "sum"
            && r.family == Some(Strict)
            && r.n == 1000
            && (r.path == "wasm-rust" || r.path == "go")
    }) {
        r.median *= 2.0;
        r.samples.iter_mut().for_each(|s| *s *= 2.0);
    }
    let new_dir = tempfile::tempdir().unwrap();
    save_results(new_dir.path(), &new).unwrap();
    let c = compare(old_dir.path(), new_dir.path()).unwrap();
    let sig: Vec<String> = c
        .changes
        .iter()
        .filter(|ch| ch.significant)
        .map(|ch| ch.key.to_string())
        .collect();
    assert_eq!(
        sig,
        vec![
            "sum-strict/go/1000 [go]",
            "sum-strict/wasm-rust/1000 [criterion]"
        ]
    );
    for ch in c.changes.iter().filter(|ch| ch.significant) {
        assert!((ch.delta - 1.0).abs() < 1e-12);
        assert!(ch.p < offload_report::compare::ALPHA, "{ch:?}");
    }
    let text = offload_report::compare::format(&c);
    assert!(text.contains("+100.0 %"), "{text}");
    assert!(text.contains("2 significantly slower, 0 significantly faster"));
}

#[test]
fn run_collects_env_ingests_and_renders() {
    let dir = fixture_copy();
    std::fs::remove_file(dir.path().join("env.json")).unwrap();
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let args = |collect_env: bool, ingest: bool| ReportArgs {
        dir: Some(dir.path().to_path_buf()),
        ingest,
        criterion_dir: None,
        collect_env,
        repo: repo.clone(),
        command_line: Some("scripts/bench.sh --quick".into()),
        build_env: None,
        compare: None,
    };
    offload_report::run(args(true, false)).unwrap();
    let env: offload_report::Environment =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("env.json")).unwrap())
            .unwrap();
    assert_eq!(env.command_line, "scripts/bench.sh --quick");
    assert!(env.cpu_cores >= 1);
    assert!(env
        .libraries
        .get("wasmtime")
        .is_some_and(|v| v.contains('.')));
    assert!(env.tools["rustc"].starts_with("rustc "));
    offload_report::run(args(false, true)).unwrap();
    assert!(dir.path().join("REPORT.md").exists());
    // Re-render from results.json alone.
    std::fs::remove_file(dir.path().join("REPORT.md")).unwrap();
    offload_report::run(args(false, false)).unwrap();
    assert!(dir.path().join("REPORT.md").exists());
}

#[test]
fn sklearn_peer_joins_the_forest_tables() {
    use offload_report::render::{forest_summary, markdown};
    let dir = fixture_copy();
    let line = |data: &str, rows: u64, test: u64, train_ms: f64, predict_ms: f64| {
        format!(
            "{{\"peer\": \"scikit-learn\", \"data\": \"{data}\", \"rows_train\": {rows}, \
             \"rows_test\": {test}, \"train_ms\": {train_ms}, \"predict_ms\": {predict_ms}, \
             \"mse\": 2966.0}}\n"
        )
    };
    let text = [
        line("diabetes", 353, 89, 400.0, 20.0),
        line("diabetes", 353, 89, 500.0, 30.0),
        line("diabetes", 353, 89, 600.0, 25.0),
        line("friedman1", 1000, 1000, 900.0, 50.0),
        // All-cores training and prediction at scale have no path: passed over.
        "{\"peer\": \"scikit-learn\", \"data\": \"friedman1\", \"rows_train\": 1000, \
         \"rows_test\": 1000, \"train_ms\": 1.0, \"predict_ms\": 1.0, \"n_jobs\": -1}\n"
            .to_string(),
        "{\"peer\": \"scikit-learn\", \"kind\": \"predict\", \"data\": \"friedman1\", \
         \"rows_train\": 1000, \"predict_rows\": 10000, \"n_jobs\": 1, \"predict_ms\": 3.0}\n"
            .to_string(),
        "SKIP forest-train/sklearn/100000: not in --quick\n".to_string(),
    ]
    .concat();
    std::fs::write(dir.path().join("sklearn-forest.jsonl"), text).unwrap();
    let r = ingest(dir.path(), None).unwrap();
    let sk: Vec<_> = r
        .records
        .iter()
        .filter(|x| x.harness == Harness::Sklearn)
        .collect();
    assert_eq!(sk.len(), 3, "train 353, predict 89, train 1000: {sk:?}");
    let friedman = sk
        .iter()
        .find(|x| x.op == "forest-train" && x.n == 1000)
        .unwrap();
    assert_eq!(
        friedman.samples.len(),
        1,
        "the n_jobs=-1 line is not a sample"
    );
    assert_eq!(friedman.median, 900e6);
    let train = sk
        .iter()
        .find(|x| x.op == "forest-train" && x.n == 353)
        .unwrap();
    assert_eq!(
        (train.path.as_str(), train.dtype.as_str()),
        ("sklearn", "f64")
    );
    assert_eq!(train.median, 500e6);
    assert_eq!(train.samples.len(), 3);
    assert!(sk
        .iter()
        .any(|x| x.op == "forest-predict" && x.n == 89 && x.median == 25e6));
    // Friedman test rows have no counterpart: no forest-predict at 1000.
    assert!(!sk.iter().any(|x| x.op == "forest-predict" && x.n == 1000));
    assert!(r
        .skipped
        .iter()
        .any(|s| s.harness == Harness::Sklearn && s.path == "sklearn" && s.n == Some(100_000)));
    let t = table(&r, &group("forest-train", "f64", None), Harness::Sklearn)
        .unwrap()
        .unwrap();
    assert_eq!(t.paths, cells(&["sklearn"]));
    let f = forest_summary(&r).unwrap().unwrap();
    assert!(f.rows.iter().any(|(p, c)| p == "sklearn (python)"
        && c[0].starts_with("500 ms")
        && c[1].starts_with("25.0 ms")));
    let md = markdown(&r, &Default::default()).unwrap();
    assert!(
        md.contains("### Python peers: scikit-learn, XGBoost random forest (n_jobs=1)"),
        "{md}"
    );
    // results.json keeps the harness tag.
    save_results(dir.path(), &r).unwrap();
    assert_eq!(load_results(dir.path()).unwrap(), r);
    let json = std::fs::read_to_string(dir.path().join("results.json")).unwrap();
    assert!(json.contains("\"harness\": \"sklearn\""));

    // XGBoost's random-forest modes are paths of their own in the same harness; a
    // library the report does not know is an error naming the line.
    let f = dir.path().join("sklearn-forest.jsonl");
    let xgb = |peer: &str, train_ms: f64| {
        format!(
            "{{\"peer\": \"{peer}\", \"data\": \"diabetes\", \"rows_train\": 353, \
             \"rows_test\": 89, \"train_ms\": {train_ms}, \"predict_ms\": 1.0}}\n"
        )
    };
    let text = [
        line("diabetes", 353, 89, 400.0, 20.0),
        xgb("xgboost-rf-hist", 70.0),
        xgb("xgboost-rf-exact", 90.0),
    ]
    .concat();
    std::fs::write(&f, text).unwrap();
    let r = ingest(dir.path(), None).unwrap();
    let train = |path: &str| {
        r.records
            .iter()
            .find(|x| x.op == "forest-train" && x.path == path)
            .map(|x| x.median)
    };
    assert_eq!(train("sklearn"), Some(400e6));
    assert_eq!(train("xgboost-rf-hist"), Some(70e6));
    assert_eq!(train("xgboost-rf-exact"), Some(90e6));
    std::fs::write(&f, xgb("lightgbm", 1.0)).unwrap();
    match ingest(dir.path(), None).unwrap_err() {
        ReportError::Parse { line, message, .. } => {
            assert_eq!(line, 1);
            assert!(message.contains("unknown peer \"lightgbm\""), "{message}");
        }
        e => panic!("unexpected error {e}"),
    }

    // A malformed result line is an error naming the file and line.
    std::fs::write(&f, "{\"data\": \"diabetes\", \"rows_train\": 353}\n").unwrap();
    match ingest(dir.path(), None).unwrap_err() {
        ReportError::Parse { path, line, .. } => assert_eq!((path, line), (f, 1)),
        e => panic!("unexpected error {e}"),
    }
}
