//! Reads a results folder's raw inputs into [`Results`]:
//!
//! | input | written by | read as |
//! | --- | --- | --- |
//! | `criterion/` | `cargo bench` with `CRITERION_HOME` pointing there | every `<id>/new/{benchmark,estimates,sample}.json` |
//! | `go-bench.txt` | `go test -bench . -count N -benchmem` | benchmark lines, one sample per line; skip, device, failure and thread-count lines |
//! | `cargo-bench.log` | stdout+stderr of `cargo bench` | skip, device, failure and thread-count lines |
//! | `sklearn-forest.jsonl` | `scripts/sklearn_forest.py` (one JSON object per run), or a `SKIP sklearn: <reason>` line | [`read_sklearn`] |
//! | `env.json` | [`crate::env::collect`] (`offload report --collect-env`) | the [`crate::Environment`] |
//!
//! Only `env.json` is required; a run with just one harness leaves the other's input out.
//! The `threads <path>: <n>` lines of both harnesses ([`parse_thread_lines`]) go into the
//! environment's `threads`.

use crate::error::{ReportError, Result};
use crate::model::{Environment, Harness, Record, Results, Skip, SCHEMA_VERSION};
use crate::names;
use crate::stats;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// File names inside a results folder.
pub mod files {
    /// criterion's output folder (its `CRITERION_HOME`).
    pub const CRITERION: &str = "criterion";
    /// Raw `go test -bench` output, benchstat-readable.
    pub const GO_BENCH: &str = "go-bench.txt";
    /// Captured output of `cargo bench` (for skip lines).
    pub const CARGO_LOG: &str = "cargo-bench.log";
    /// Output of `scripts/sklearn_forest.py`: JSON lines, or skip lines.
    pub const SKLEARN: &str = "sklearn-forest.jsonl";
    /// The environment.
    pub const ENV: &str = "env.json";
    /// The joined results.
    pub const RESULTS: &str = "results.json";
    /// The rendered report.
    pub const REPORT: &str = "REPORT.md";
    /// SVG plots.
    pub const PLOTS: &str = "plots";
}

fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|e| ReportError::io(path, e))
}

/// Reads and deserializes a JSON file; truncated or malformed JSON names the file.
pub fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<T> {
    if !path.exists() {
        return Err(ReportError::Missing {
            path: path.to_path_buf(),
            what: "file not found".into(),
        });
    }
    serde_json::from_str(&read(path)?).map_err(|e| ReportError::Json {
        path: path.to_path_buf(),
        source: e,
    })
}

#[derive(Deserialize)]
struct CriterionId {
    group_id: String,
    function_id: Option<String>,
    value_str: Option<String>,
}

#[derive(Deserialize)]
struct CriterionCi {
    confidence_level: f64,
    lower_bound: f64,
    upper_bound: f64,
}

#[derive(Deserialize)]
struct CriterionEstimate {
    confidence_interval: CriterionCi,
    point_estimate: f64,
}

#[derive(Deserialize)]
struct CriterionEstimates {
    median: CriterionEstimate,
}

#[derive(Deserialize)]
struct CriterionSample {
    iters: Vec<f64>,
    times: Vec<f64>,
}

fn rel(root: &Path, p: &Path) -> String {
    p.strip_prefix(root)
        .unwrap_or(p)
        .to_string_lossy()
        .into_owned()
}

/// Reads every benchmark under a criterion output folder (criterion 0.8 layout:
/// `<dir>/<group>/<function>/<value>/new/benchmark.json`, found by walking for
/// `new/benchmark.json` exactly as criterion's own HTML index does; `base/` and
/// `change/` are ignored). `root` is used to make `source` paths relative.
pub fn read_criterion(dir: &Path, root: &Path) -> Result<Vec<Record>> {
    if !dir.is_dir() {
        return Err(ReportError::Missing {
            path: dir.to_path_buf(),
            what: "criterion output folder (CRITERION_HOME of cargo bench)".into(),
        });
    }
    let mut out = Vec::new();
    let mut ids: Vec<PathBuf> = walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(|e| e.ok())
        .filter(|e| {
            e.file_name() == "benchmark.json"
                && e.path()
                    .parent()
                    .and_then(|p| p.file_name())
                    .is_some_and(|n| n == "new")
        })
        .map(|e| e.into_path())
        .collect();
    ids.sort();
    for id_file in ids {
        let new_dir = id_file.parent().expect("benchmark.json has a parent");
        let id: CriterionId = read_json(&id_file)?;
        let name = names::parse_criterion(
            &id.group_id,
            id.function_id.as_deref(),
            id.value_str.as_deref(),
        )
        .map_err(|why| ReportError::UnknownBenchmark {
            path: id_file.clone(),
            name: [
                Some(id.group_id.as_str()),
                id.function_id.as_deref(),
                id.value_str.as_deref(),
            ]
            .iter()
            .flatten()
            .copied()
            .collect::<Vec<_>>()
            .join("/"),
            why,
        })?;
        let est_file = new_dir.join("estimates.json");
        let est: CriterionEstimates = read_json(&est_file)?;
        let sample_file = new_dir.join("sample.json");
        let sample: CriterionSample = read_json(&sample_file)?;
        if sample.iters.len() != sample.times.len() || sample.iters.is_empty() {
            return Err(ReportError::Parse {
                path: sample_file,
                line: 0,
                message: format!(
                    "{} iteration counts but {} times",
                    sample.iters.len(),
                    sample.times.len()
                ),
            });
        }
        // criterion writes finite, non-negative times and positive iteration counts; a
        // negative or zero one would make a negative or infinite time per iteration.
        let finite = |v: f64| v.is_finite() && v >= 0.0;
        let ci = &est.median.confidence_interval;
        if ![est.median.point_estimate, ci.lower_bound, ci.upper_bound]
            .into_iter()
            .all(finite)
        {
            return Err(ReportError::Parse {
                path: est_file,
                line: 0,
                message: "the median and its interval must be finite and ≥ 0".into(),
            });
        }
        if !sample.times.iter().copied().all(finite)
            || !sample.iters.iter().all(|&i| finite(i) && i > 0.0)
        {
            return Err(ReportError::Parse {
                path: sample_file,
                line: 0,
                message: "times must be finite and ≥ 0, iteration counts finite and > 0".into(),
            });
        }
        let samples: Vec<f64> = sample
            .times
            .iter()
            .zip(&sample.iters)
            .map(|(t, i)| t / i)
            .collect();
        out.push(Record {
            op: name.op,
            dtype: name.dtype,
            family: name.family,
            path: name.path,
            n: name.n,
            harness: Harness::Criterion,
            unit: "ns".into(),
            median: est.median.point_estimate,
            ci_low: est.median.confidence_interval.lower_bound,
            ci_high: est.median.confidence_interval.upper_bound,
            ci_level: est.median.confidence_interval.confidence_level,
            ci_method: "criterion bootstrap of the median".into(),
            mean: stats::mean(&samples),
            cv: stats::cv(&samples),
            samples,
            bytes_per_op: None,
            allocs_per_op: None,
            source: rel(root, &est_file),
        });
    }
    Ok(out)
}

/// One go test result line: ns/op, and B/op, allocs/op when `-benchmem` was given.
struct GoRun {
    ns: f64,
    bytes: Option<f64>,
    allocs: Option<f64>,
}

/// Confidence level asked of the go median interval.
pub const GO_CI_LEVEL: f64 = 0.95;

/// Parses `go test -bench` output (the text benchstat reads). Lines that are not
/// benchmark results (`goos:`, `PASS`, logs) are ignored, except skip lines
/// (see [`parse_skip_lines`]). Each result line is one sample; the `-count` repetitions
/// of a name are joined into one record whose interval is [`stats::median_ci`].
pub fn read_go(file: &Path, root: &Path) -> Result<(Vec<Record>, Vec<Skip>)> {
    let text = read(file)?;
    let mut runs: BTreeMap<names::BenchName, Vec<GoRun>> = BTreeMap::new();
    for (i, line) in text.lines().enumerate() {
        if !line.starts_with("Benchmark") {
            continue;
        }
        let mut fields = line.split_whitespace();
        let name = fields.next().unwrap_or_default();
        let rest: Vec<&str> = fields.collect();
        // A name alone on its line is go's progress output for a benchmark that then
        // failed or was skipped; a result line has iterations then value/unit pairs.
        if rest.is_empty() {
            continue;
        }
        let parse_err = |message: String| ReportError::Parse {
            path: file.to_path_buf(),
            line: i + 1,
            message,
        };
        rest[0]
            .parse::<u64>()
            .map_err(|_| parse_err(format!("`{}` is not an iteration count", rest[0])))?;
        let mut ns = None;
        let mut bytes = None;
        let mut allocs = None;
        for pair in rest[1..].chunks(2) {
            if let [v, unit] = pair {
                let v: f64 = v
                    .parse()
                    .map_err(|_| parse_err(format!("`{v}` is not a number")))?;
                // go prints finite, non-negative values; NaN, inf or a negative time
                // would poison every median and ratio computed from it.
                let used = matches!(*unit, "ns/op" | "B/op" | "allocs/op");
                if used && (!v.is_finite() || v < 0.0) {
                    return Err(parse_err(format!(
                        "`{v} {unit}`: a measurement must be finite and ≥ 0"
                    )));
                }
                match *unit {
                    "ns/op" => ns = Some(v),
                    "B/op" => bytes = Some(v),
                    "allocs/op" => allocs = Some(v),
                    _ => {}
                }
            }
        }
        let ns = ns.ok_or_else(|| parse_err("no ns/op on a benchmark line".into()))?;
        let bn = names::parse_go(name).map_err(|why| ReportError::UnknownBenchmark {
            path: file.to_path_buf(),
            name: name.to_string(),
            why,
        })?;
        runs.entry(bn)
            .or_default()
            .push(GoRun { ns, bytes, allocs });
    }
    let source = rel(root, file);
    let records = runs
        .into_iter()
        .map(|(bn, rs)| {
            let samples: Vec<f64> = rs.iter().map(|r| r.ns).collect();
            let med = stats::median(&samples);
            let ci = stats::median_ci(&samples, GO_CI_LEVEL);
            let opt_median = |f: fn(&GoRun) -> Option<f64>| {
                let v: Vec<f64> = rs.iter().filter_map(f).collect();
                (!v.is_empty()).then(|| stats::median(&v))
            };
            Record {
                op: bn.op,
                dtype: bn.dtype,
                family: bn.family,
                path: bn.path,
                n: bn.n,
                harness: Harness::Go,
                unit: "ns".into(),
                median: med,
                ci_low: ci.map_or(med, |c| c.low),
                ci_high: ci.map_or(med, |c| c.high),
                ci_level: ci.map_or(0.0, |c| c.level),
                ci_method: "order-statistic interval of the median over -count runs \
                            (Hollander & Wolfe §3.6, as benchstat)"
                    .into(),
                mean: stats::mean(&samples),
                cv: stats::cv(&samples),
                bytes_per_op: opt_median(|r| r.bytes),
                allocs_per_op: opt_median(|r| r.allocs),
                samples,
                source: source.clone(),
            }
        })
        .collect();
    Ok((records, parse_skip_lines(&text, Harness::Go)))
}

/// One run of `scripts/sklearn_forest.py` (the fields the report uses).
#[derive(Deserialize)]
struct SklearnRun {
    /// The library (`scikit-learn`, `xgboost-rf-hist`, `xgboost-rf-exact`); absent in
    /// files written before the XGBoost peer, which were all scikit-learn.
    #[serde(default)]
    peer: Option<String>,
    data: String,
    rows_train: u64,
    rows_test: u64,
    train_ms: f64,
    predict_ms: f64,
}

/// Path of the scikit-learn peer's records.
pub const SKLEARN_PATH: &str = "sklearn";

/// The report path of a peer library named in `scripts/sklearn_forest.py`'s `peer` field
/// (`scikit-learn` is [`SKLEARN_PATH`]; XGBoost's random-forest modes keep their names);
/// `None` for a library the report does not know.
pub fn peer_path(peer: Option<&str>) -> Option<&'static str> {
    match peer.unwrap_or("scikit-learn") {
        "scikit-learn" => Some(SKLEARN_PATH),
        "xgboost-rf-hist" => Some("xgboost-rf-hist"),
        "xgboost-rf-exact" => Some("xgboost-rf-exact"),
        _ => None,
    }
}

/// Reads `scripts/sklearn_forest.py`'s output: one JSON object per line and run, each
/// giving `forest-train/<peer>/<rows_train>` one sample (`train_ms`; `<peer>` from
/// [`peer_path`]: `sklearn`, `xgboost-rf-hist`, `xgboost-rf-exact`) and, for the
/// diabetes split only, `forest-predict/<peer>/<rows_test>` one (`predict_ms`; the
/// Friedman #1 test rows have no counterpart in the Rust and Go benches). The runs of one
/// name are joined like go's `-count` runs (median, order-statistic interval). Lines with a
/// `kind` (prediction at scale) or an `n_jobs` other than 1 are passed over. Lines that
/// are not JSON are scanned for skip lines (`SKIP sklearn: <reason>`, written by
/// `scripts/bench.sh` when scikit-learn is missing).
pub fn read_sklearn(file: &Path, root: &Path) -> Result<(Vec<Record>, Vec<Skip>)> {
    let text = read(file)?;
    let mut runs: BTreeMap<(&'static str, &'static str, u64), Vec<f64>> = BTreeMap::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if !line.starts_with('{') {
            continue;
        }
        let parse_error = |e: serde_json::Error| ReportError::Parse {
            path: file.to_path_buf(),
            line: i + 1,
            message: format!("not a sklearn_forest.py result: {e}"),
        };
        let value: serde_json::Value = serde_json::from_str(line).map_err(parse_error)?;
        // Prediction-at-scale lines (`"kind": "predict"`) and training on more than one
        // core (`--train-n-jobs`) have no path here: the report's peers are n_jobs=1.
        let n_jobs = value.get("n_jobs").and_then(serde_json::Value::as_i64);
        if value.get("kind").is_some() || n_jobs.is_some_and(|j| j != 1) {
            continue;
        }
        let run: SklearnRun = serde_json::from_value(value).map_err(parse_error)?;
        let ok = |v: f64| v.is_finite() && v >= 0.0;
        if !ok(run.train_ms) || !ok(run.predict_ms) || run.rows_train == 0 {
            return Err(ReportError::Parse {
                path: file.to_path_buf(),
                line: i + 1,
                message: "train_ms and predict_ms must be finite and ≥ 0, rows_train > 0".into(),
            });
        }
        let path = peer_path(run.peer.as_deref()).ok_or_else(|| ReportError::Parse {
            path: file.to_path_buf(),
            line: i + 1,
            message: format!(
                "unknown peer {:?} (expected scikit-learn, xgboost-rf-hist, xgboost-rf-exact)",
                run.peer.as_deref().unwrap_or("")
            ),
        })?;
        runs.entry(("forest-train", path, run.rows_train))
            .or_default()
            .push(run.train_ms * 1e6);
        if run.data == "diabetes" {
            runs.entry(("forest-predict", path, run.rows_test))
                .or_default()
                .push(run.predict_ms * 1e6);
        }
    }
    let source = rel(root, file);
    let records = runs
        .into_iter()
        .map(|((op, path, n), samples)| {
            let med = stats::median(&samples);
            let ci = stats::median_ci(&samples, GO_CI_LEVEL);
            Record {
                op: op.to_string(),
                dtype: names::default_dtype(op).to_string(),
                family: None,
                path: path.to_string(),
                n,
                harness: Harness::Sklearn,
                unit: "ns".into(),
                median: med,
                ci_low: ci.map_or(med, |c| c.low),
                ci_high: ci.map_or(med, |c| c.high),
                ci_level: ci.map_or(0.0, |c| c.level),
                ci_method: "order-statistic interval of the median over --repeat runs \
                            (Hollander & Wolfe §3.6, as benchstat)"
                    .into(),
                mean: stats::mean(&samples),
                cv: stats::cv(&samples),
                samples,
                bytes_per_op: None,
                allocs_per_op: None,
                source: source.clone(),
            }
        })
        .collect();
    Ok((records, parse_skip_lines(&text, Harness::Sklearn)))
}

pub use crate::lines::{parse_device_lines, parse_failures, parse_skip_lines, parse_thread_lines};

/// Ingests a results folder (see the module docs) into [`Results`]. `criterion_dir`
/// overrides `<dir>/criterion`.
pub fn ingest(dir: &Path, criterion_dir: Option<&Path>) -> Result<Results> {
    let env_file = dir.join(files::ENV);
    if !env_file.exists() {
        return Err(ReportError::Missing {
            path: env_file,
            what: "the run's environment; write it with `offload report --collect-env <dir>`"
                .into(),
        });
    }
    let mut environment: Environment = read_json(&env_file)?;
    let mut records = Vec::new();
    let mut skipped = Vec::new();
    let crit = criterion_dir
        .map(Path::to_path_buf)
        .unwrap_or_else(|| dir.join(files::CRITERION));
    let go = dir.join(files::GO_BENCH);
    let sk = dir.join(files::SKLEARN);
    if !crit.exists() && !go.exists() && !sk.exists() {
        return Err(ReportError::Missing {
            path: dir.to_path_buf(),
            what: format!(
                "none of {}, {}, {} is there: no benchmark output to ingest",
                files::CRITERION,
                files::GO_BENCH,
                files::SKLEARN
            ),
        });
    }
    if crit.exists() {
        records.extend(read_criterion(&crit, dir)?);
    }
    let mut devices = Vec::new();
    let mut failures = Vec::new();
    let log = dir.join(files::CARGO_LOG);
    if log.exists() {
        let text = read(&log)?;
        skipped.extend(parse_skip_lines(&text, Harness::Criterion));
        devices.extend(parse_device_lines(&text, Harness::Criterion));
        failures.extend(parse_failures(&text, Harness::Criterion));
        environment.threads.extend(parse_thread_lines(&text));
    }
    if go.exists() {
        let (r, s) = read_go(&go, dir)?;
        records.extend(r);
        skipped.extend(s);
        let text = read(&go)?;
        devices.extend(parse_device_lines(&text, Harness::Go));
        failures.extend(parse_failures(&text, Harness::Go));
        environment.threads.extend(parse_thread_lines(&text));
    }
    if sk.exists() {
        let (r, s) = read_sklearn(&sk, dir)?;
        records.extend(r);
        skipped.extend(s);
    }
    records.sort_by_key(|a| a.key());
    let duplicates = drop_duplicates(&mut records);
    skipped.sort();
    skipped.dedup();
    Ok(Results {
        schema: SCHEMA_VERSION,
        environment,
        records,
        skipped,
        devices,
        failures,
        duplicates,
    })
}

/// Keeps one record per key (`records` sorted by key): two benches that time the same
/// (op, dtype, family, path, n) in one harness (e.g. `mul/rust-native-par/1000` of the
/// vector bench and `mul_f64/rust-native-par/1000` of the GPU bench) would otherwise make
/// a table cell depend on which was read last. The first (by source file) stays; each one
/// dropped is returned (for [`Results::duplicates`]) with a reason naming both sources.
pub fn drop_duplicates(records: &mut Vec<Record>) -> Vec<Skip> {
    let mut dropped = Vec::new();
    let mut kept: Vec<Record> = Vec::with_capacity(records.len());
    for r in records.drain(..) {
        match kept.last() {
            Some(k) if k.key() == r.key() => {
                let name = names::BenchName {
                    op: r.op.clone(),
                    dtype: r.dtype.clone(),
                    family: r.family,
                    path: r.path.clone(),
                    n: r.n,
                };
                dropped.push(Skip {
                    harness: r.harness,
                    op: Some(name.group()),
                    path: r.path.clone(),
                    n: Some(r.n),
                    reason: format!(
                        "{} measured twice ({} and {}); the report keeps the first",
                        r.key(),
                        k.source,
                        r.source
                    ),
                });
            }
            _ => kept.push(r),
        }
    }
    *records = kept;
    dropped
}

/// Reads `<dir>/results.json`. A file of another schema ([`SCHEMA_VERSION`]; schema 1
/// had no algorithm families) is refused with [`ReportError::Schema`].
pub fn load_results(dir: &Path) -> Result<Results> {
    let f = dir.join(files::RESULTS);
    if !f.exists() {
        return Err(ReportError::Missing {
            path: f,
            what: "results.json; run `offload report --ingest <dir>` on a folder with raw \
                   benchmark output first"
                .into(),
        });
    }
    // The schema first, from a bare header: a file of another schema may not even have
    // this schema's fields. (The records are parsed from the text itself, not through a
    // `serde_json::Value`, whose number conversion is not exact for every f64.)
    #[derive(Deserialize)]
    struct Header {
        #[serde(default)]
        schema: u64,
    }
    let text = read(&f)?;
    let json_err = |e| ReportError::Json {
        path: f.clone(),
        source: e,
    };
    let found = serde_json::from_str::<Header>(&text)
        .map_err(json_err)?
        .schema;
    if found != u64::from(SCHEMA_VERSION) {
        let why = match found {
            1 => "schema 1 has no algorithm families: its `sum` and `dot` mix strict and \
                  fast summation, so no ratio between them is sound"
                .to_string(),
            0 => "no `schema` field".to_string(),
            n if n > u64::from(SCHEMA_VERSION) => format!("schema {n} is newer"),
            n => format!("schema {n} is older"),
        };
        return Err(ReportError::Schema {
            path: f,
            found,
            expected: SCHEMA_VERSION,
            why,
        });
    }
    serde_json::from_str(&text).map_err(json_err)
}

/// Writes `<dir>/results.json` (pretty-printed).
pub fn save_results(dir: &Path, results: &Results) -> Result<()> {
    let f = dir.join(files::RESULTS);
    let text = serde_json::to_string_pretty(results).map_err(|e| ReportError::Json {
        path: f.clone(),
        source: e,
    })?;
    std::fs::write(&f, text + "\n").map_err(|e| ReportError::io(&f, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skip_lines() {
        let text = "\
goos: linux
SKIP gpu-cuda: no CUDA driver (libcuda.so.1 not found)
    bench_test.go:40: SKIP sum/gpu-wgpu: no Vulkan adapter
--- SKIP: BenchmarkDot/family=strict/path=wazero-go/n=10
    bench_test.go:50: guest not built
MYSKIP x: y
offload bench: skipping wasm-go: build/guests/wasm-go.wasm is not built (run ./build.sh all)
SKIP sgemm/gpu-cuda/8192: out of memory
SKIP gpu-cuda: no CUDA driver (libcuda.so.1 not found)
";
        let s = parse_skip_lines(text, Harness::Go);
        assert_eq!(s.len(), 5, "{s:?}");
        assert!(s
            .iter()
            .any(|k| k.path == "wasm-go" && k.reason.ends_with("(run ./build.sh all)")));
        assert!(s.iter().any(|k| k.path == "gpu-cuda"
            && k.op.as_deref() == Some("sgemm")
            && k.n == Some(8192)
            && k.reason == "out of memory"));
        assert!(s
            .iter()
            .any(|k| k.path == "gpu-cuda" && k.op.is_none() && k.reason.starts_with("no CUDA")));
        assert!(s
            .iter()
            .any(|k| k.path == "gpu-wgpu" && k.op.as_deref() == Some("sum")));
        assert!(s.iter().any(|k| k.path == "wazero-go"
            && k.op.as_deref() == Some("dot-strict")
            && k.reason == "guest not built"));
    }

    #[test]
    fn failure_lines() {
        let text = "\
--- FAIL: BenchmarkSum/family=strict/path=wasm-go/n=1000
    bench_test.go:27: wasm-go: sum = 3, want 4
thread 'main' (123) panicked at host/benches/vector.rs:66:22:
wasm-c is built but does not load: bad magic
";
        let f = parse_failures(text, Harness::Go);
        assert_eq!(f.len(), 2, "{f:?}");
        assert!(f.iter().any(|x| x.path == "wasm-go"
            && x.op.as_deref() == Some("sum-strict")
            && x.n == Some(1000)
            && x.reason.ends_with("wasm-go: sum = 3, want 4")));
        assert!(f.iter().any(|x| x.path == "-"
            && x.reason
                == "panic at host/benches/vector.rs:66:22: wasm-c is built but does not load: bad magic"));
    }

    #[test]
    fn thread_lines() {
        let text = "threads rust-native-par: 16\n\
                    bench_test.go:12: threads go-par: 8\n\
                    threads rust-cgo-par: 8\n\
                    threads nope: 3\n\
                    subthreads go: 2\n\
                    threads go-par: many\n";
        let t = parse_thread_lines(text);
        assert_eq!(
            t.into_iter().collect::<Vec<_>>(),
            vec![
                ("go-par".to_string(), 8),
                ("rust-cgo-par".to_string(), 8),
                ("rust-native-par".to_string(), 16)
            ]
        );
    }

    #[test]
    fn device_lines() {
        let text = "gpu-wgpu: llvmpipe (LLVM 15.0.6, 256 bits) (Mesa 22.3.6)\n\
                    sum_f32/gpu-wgpu/1000  time: [1 us 2 us 3 us]\n\
                    x: DEVICE gpu-cuda: NVIDIA H100 (driver 550)\n\
                    gpu-nope: x\n";
        let d = parse_device_lines(text, Harness::Criterion);
        assert_eq!(d.len(), 2, "{d:?}");
        assert_eq!(
            d[1].description,
            "llvmpipe (LLVM 15.0.6, 256 bits) (Mesa 22.3.6)"
        );
        assert_eq!(d[0].path, "gpu-cuda");
    }
}
