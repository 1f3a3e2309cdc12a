//! End-to-end tests over `tests/fixtures/run` (a trimmed results folder with chosen
//! medians; regenerate with `python3 report/tests/fixtures/make_fixture.py`).

use offload_report::compare::{compare, compare_records};
use offload_report::model::Harness;
use offload_report::render::{gpu_crossovers, table, wasm_vs_native};
use offload_report::{ingest, load_results, render_into, save_results, ReportArgs, ReportError};
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

#[test]
fn fixture_renders_expected_tables() {
    let dir = fixture_copy();
    let r = ingest(dir.path(), None).unwrap();
    assert_eq!(r.records.len(), 14, "9 criterion + 5 go benchmarks");

    let t = table(&r, "sum", "f64", Harness::Criterion).unwrap();
    assert_eq!(t.paths, cells(&["rust-native", "wasm-rust"]));
    assert_eq!(
        t.rows,
        vec![
            (1000, cells(&["**500 ns** (1.00×)", "1.00 µs (2.00×)"])),
            (100_000, cells(&["**50.0 µs** (1.00×)", "60.0 µs (1.20×)"])),
        ]
    );
    // Go table: ratios against criterion's rust-native; wazero-c at n=1000 is noisy.
    let t = table(&r, "sum", "f64", Harness::Go).unwrap();
    assert_eq!(t.paths, cells(&["go", "wazero-c"]));
    assert_eq!(
        t.rows[0],
        (1000, cells(&["**600 ns** (1.20×)", "1.50 µs (3.00×)†"]))
    );
    // GPU table: no rust-native at f32, so the ratio is to the cpu path.
    let t = table(&r, "sum", "f32", Harness::Criterion).unwrap();
    assert_eq!(
        t.rows[1],
        (1_000_000, cells(&["400 µs (1.00×)", "**100 µs** (0.25×)"]))
    );

    let g = gpu_crossovers(&r).unwrap();
    assert_eq!(g.columns, cells(&["gpu-cuda"]));
    assert_eq!(
        g.rows,
        vec![("sum (f32)".to_string(), cells(&["n ≥ 1,000,000 (0.25×)"]))]
    );
    let w = wasm_vs_native(&r).unwrap();
    assert_eq!(w.columns, cells(&["wasm-rust", "wazero-c (go)"]));
    assert_eq!(
        w.rows,
        vec![(
            "sum (f64)".to_string(),
            cells(&["2.00× → 1.20×", "3.00× → 1.32×"])
        )]
    );

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
        .find(|x| x.path == "wasm-rust" && x.n == 1000)
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
    assert!(md.contains("| 1,000 | **500 ns** (1.00×) | 1.00 µs (2.00×) |"));
    assert!(
        md.contains("| sum (f64) | 2.00× → 1.20× | 3.00× → 1.32× |"),
        "{md}"
    );
    assert!(md.contains("| criterion | gpu-wgpu | all | no Vulkan adapter"));
    assert!(
        md.contains("| criterion | gpu-cuda | sgemm (n = 4,096 … 8,192) | out of device memory |"),
        "{md}"
    );
    assert!(md.contains("| device gpu-cuda (criterion) | NVIDIA Fixture GPU (driver 550.54) |"));
    assert!(md.contains("- `sum/wazero-c/1000 [go]`: CV"));
    assert!(md.contains("| CPU | Fixture CPU @ 2.00GHz (2 logical CPUs) |"));
    assert!(md.contains("![sum (f64), Rust host (criterion)](plots/sum-f64.svg)"));
    assert!(md.contains("![sum (f64), Go host (go test)](plots/sum-f64-go.svg)"));
    for f in [
        "sum-f64.svg",
        "sum-f64-go.svg",
        "sum-f32.svg",
        "call-overhead.svg",
    ] {
        let svg = std::fs::read_to_string(dir.path().join("plots").join(f)).unwrap();
        assert!(svg.starts_with("<svg") && svg.contains("</svg>"), "{f}");
    }
    let svg = std::fs::read_to_string(dir.path().join("plots/sum-f64.svg")).unwrap();
    assert!(svg.contains("wasm-rust") && svg.contains("rust-native"));
    let svg = std::fs::read_to_string(dir.path().join("plots/sum-f64-go.svg")).unwrap();
    assert!(svg.contains("wazero-c") && svg.contains("Go host"));
}

#[test]
fn truncated_json_names_the_file() {
    let dir = fixture_copy();
    let f = dir
        .path()
        .join("criterion/sum/wasm-rust/1000/new/estimates.json");
    let text = std::fs::read_to_string(&f).unwrap();
    std::fs::write(&f, &text[..text.len() / 2]).unwrap();
    let err = ingest(dir.path(), None).unwrap_err();
    assert!(
        matches!(err, ReportError::Json { ref path, .. } if *path == f),
        "{err:?}"
    );
    assert!(err
        .to_string()
        .contains("sum/wasm-rust/1000/new/estimates.json"));

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
    let src = dir.path().join("criterion/sum/rust-native/1000/new");
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
    text.push_str("BenchmarkSum/path=cobol/n=10-2\t100\t5.0 ns/op\n");
    std::fs::write(&f, text).unwrap();
    let err = ingest(dir.path(), None).unwrap_err();
    assert!(
        matches!(err, ReportError::UnknownBenchmark { ref path, .. } if *path == f),
        "{err:?}"
    );
    assert!(err.to_string().contains("go-bench.txt") && err.to_string().contains("cobol"));
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
    let c = compare_records(&old.records, &old.records);
    assert_eq!(c.changes.len(), old.records.len());
    assert!(c.changes.iter().all(|ch| !ch.significant && ch.p > 0.5));

    // wasm-rust sum n=1000 (criterion, 10 samples) and go's sum n=1000 (5 runs) get 2x
    // slower with the same spread.
    let mut new = old.clone();
    for r in new
        .records
        .iter_mut()
        .filter(|r| r.op == "sum" && r.n == 1000 && (r.path == "wasm-rust" || r.path == "go"))
    {
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
        vec!["sum/go/1000 [go]", "sum/wasm-rust/1000 [criterion]"]
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
    let t = table(&r, "forest-train", "f64", Harness::Sklearn).unwrap();
    assert_eq!(t.paths, cells(&["sklearn"]));
    let f = forest_summary(&r).unwrap();
    assert!(f.rows.iter().any(|(p, c)| p == "sklearn (python)"
        && c[0].starts_with("500 ms")
        && c[1].starts_with("25.0 ms")));
    let md = markdown(&r, &Default::default());
    assert!(
        md.contains("### scikit-learn peer (Python, n_jobs=1)"),
        "{md}"
    );
    // results.json keeps the harness tag.
    save_results(dir.path(), &r).unwrap();
    assert_eq!(load_results(dir.path()).unwrap(), r);
    let json = std::fs::read_to_string(dir.path().join("results.json")).unwrap();
    assert!(json.contains("\"harness\": \"sklearn\""));

    // A malformed result line is an error naming the file and line.
    let f = dir.path().join("sklearn-forest.jsonl");
    std::fs::write(&f, "{\"data\": \"diabetes\", \"rows_train\": 353}\n").unwrap();
    match ingest(dir.path(), None).unwrap_err() {
        ReportError::Parse { path, line, .. } => assert_eq!((path, line), (f, 1)),
        e => panic!("unexpected error {e}"),
    }
}
