//! The benchmark naming scheme shared by both harnesses (DESIGN.md, Benchmarks) and its
//! parsers.
//!
//! - criterion: `<op>[_<dtype>]/<path>/<n>`, e.g. `sum/wasm-rust/1000`,
//!   `sum_f32/gpu-cuda/1000000`, `sum-resident/wasm-c/1000`, `empty-call/wasm-go/0`.
//! - go test: `Benchmark<Op>/path=<path>[/dtype=<dtype>]/n=<n>[-<GOMAXPROCS>]`, e.g.
//!   `BenchmarkSumSIMD/path=wazero-c/n=1000-2`, `BenchmarkEmptyCall/path=wasm-rust-2`.
//!
//! `n` is a count of elements for the vector ops and `copy-in`, the matrix side for
//! `sgemm`, a count of bytes for `h2d`/`d2h`, and 0 for `empty-call`.

/// Operations the report knows. A benchmark with any other op is rejected with
/// [`crate::ReportError::UnknownBenchmark`]; extend this list when a producer adds one.
pub const KNOWN_OPS: &[&str] = &[
    "sum",
    "dot",
    "mul",
    "scale",
    "sum_simd",
    "min",
    "max",
    "add",
    "relu",
    "sum-resident",
    "dot-resident",
    "mul-resident",
    "scale-resident",
    "sum_simd-resident",
    "copy-in",
    "empty-call",
    // one wasi:gpu import call from a guest (host/benches/wasi_gpu.rs, go-host)
    "wasi-gpu-call",
    "sgemm",
    "h2d",
    "d2h",
    "forest-train",
    "forest-predict",
];

/// Paths the report knows (the columns of the tables). Same rule as [`KNOWN_OPS`].
pub const KNOWN_PATHS: &[&str] = &[
    "rust-native",
    "rust-native-simd",
    "rust-native-rayon",
    "rust-cgo",
    "go",
    "go-unrolled",
    "cpu",
    "wasm-rust",
    "wasm-c",
    "wasm-go",
    "wasmtime-go",
    "wazero-rust",
    "wazero-c",
    "wazero-go",
    "gpu-wgpu",
    "gpu-cuda",
    "gpu-wgpu-resident",
    "gpu-cuda-resident",
    "gpu-cuda-tf32",
    // a wasi:gpu guest driving the backend through imports (host/benches/wasi_gpu.rs)
    "wasi-gpu-cpu",
    "wasi-gpu-wgpu",
    "wasi-gpu-cuda",
    // the matrix client composed with provider-gpu, through wasi:gpu (host/benches/compose.rs)
    "composed-gpu-cpu",
    "composed-gpu-wgpu",
    "composed-gpu-cuda",
    "sklearn",
    "-",
];

/// Element types that may suffix an op (`sum_f32`).
pub const KNOWN_DTYPES: &[&str] = &["f64", "f32", "f16", "bf16", "i32", "u32"];

/// Go benchmark function names (after `Benchmark`), the op each one measures, and the
/// path it measures when its name carries no `path=` (go-host's `BenchmarkCopyIn/n=<n>`
/// copies into the Rust guest's memory through wasmtime-go; `BenchmarkGoCopy/n=<n>` is
/// Go's own `copy`, the yardstick for it). A `Resident` suffix (`SumResident`) maps to
/// `<op>-resident`.
pub const GO_OPS: &[(&str, &str, Option<&str>)] = &[
    ("Sum", "sum", None),
    ("Dot", "dot", None),
    ("Mul", "mul", None),
    ("Scale", "scale", None),
    ("SumSIMD", "sum_simd", None),
    ("SumSimd", "sum_simd", None),
    ("Min", "min", None),
    ("Max", "max", None),
    ("Add", "add", None),
    ("Relu", "relu", None),
    ("ReLU", "relu", None),
    ("EmptyCall", "empty-call", None),
    ("CopyIn", "copy-in", Some("wasm-rust")),
    ("GoCopy", "copy-in", Some("go")),
    ("SGEMM", "sgemm", None),
    ("Sgemm", "sgemm", None),
    ("H2D", "h2d", None),
    ("D2H", "d2h", None),
    ("ForestTrain", "forest-train", None),
    ("ForestPredict", "forest-predict", None),
    // go-host/wasigpu_bench_test.go: the demo guest through the Go host's wasi:gpu imports
    ("WasiGPUCall", "wasi-gpu-call", None),
    ("WasiGPUSum", "sum", None),
    ("WasiGPUSGEMM", "sgemm", None),
];

/// One benchmark's identity, common to both harnesses.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BenchName {
    /// Operation, one of [`KNOWN_OPS`].
    pub op: String,
    /// Element type: the suffix if given, else the op's default ([`default_dtype`]).
    pub dtype: String,
    /// Execution path, one of [`KNOWN_PATHS`] (`-` when the benchmark names none).
    pub path: String,
    /// Problem size (see the module docs for its unit per op).
    pub n: u64,
}

/// The dtype of a benchmark that names none: `f64` for the vector ops (the guest ABI is
/// `f64`), `f32` for `sgemm` (single precision by definition), `bytes` for `h2d`/`d2h`,
/// `none` for `empty-call`.
pub fn default_dtype(op: &str) -> &'static str {
    match op {
        "sgemm" => "f32",
        "h2d" | "d2h" => "bytes",
        "empty-call" => "none",
        _ => "f64",
    }
}

/// Splits `sum_f32` into (`sum`, `f32`); `sum_simd` stays whole.
fn split_dtype(group: &str) -> (String, Option<String>) {
    if let Some((head, tail)) = group.rsplit_once('_') {
        if KNOWN_DTYPES.contains(&tail) {
            return (head.to_string(), Some(tail.to_string()));
        }
    }
    (group.to_string(), None)
}

fn check(op: String, dtype: Option<String>, path: String, n: u64) -> Result<BenchName, String> {
    if !KNOWN_OPS.contains(&op.as_str()) {
        return Err(format!(
            "op `{op}` is not one of {KNOWN_OPS:?} (report/src/names.rs)"
        ));
    }
    if !KNOWN_PATHS.contains(&path.as_str()) {
        return Err(format!(
            "path `{path}` is not one of {KNOWN_PATHS:?} (report/src/names.rs)"
        ));
    }
    let dtype = dtype.unwrap_or_else(|| default_dtype(&op).to_string());
    Ok(BenchName { op, dtype, path, n })
}

/// Parses a criterion id from its parts (as saved in `benchmark.json`: `group_id`,
/// `function_id`, `value_str`). Errors say which part is not in the scheme.
pub fn parse_criterion(
    group: &str,
    function: Option<&str>,
    value: Option<&str>,
) -> Result<BenchName, String> {
    let (op, dtype) = split_dtype(group);
    let path = function.ok_or("no function id (expected <op>/<path>/<n>)")?;
    let value = value.ok_or("no parameter (expected <op>/<path>/<n>)")?;
    let n = value
        .parse::<u64>()
        .map_err(|_| format!("parameter `{value}` is not a size n"))?;
    check(op, dtype, path.to_string(), n)
}

/// Parses a criterion full id `<op>/<path>/<n>`.
pub fn parse_criterion_id(id: &str) -> Result<BenchName, String> {
    let parts: Vec<&str> = id.split('/').collect();
    match parts.as_slice() {
        [g, f, v] => parse_criterion(g, Some(f), Some(v)),
        _ => Err("expected <op>/<path>/<n>".into()),
    }
}

/// Parses a go test benchmark name (with or without the `-<GOMAXPROCS>` suffix).
pub fn parse_go(name: &str) -> Result<BenchName, String> {
    let rest = name
        .strip_prefix("Benchmark")
        .ok_or("does not start with Benchmark")?;
    // go test appends -<GOMAXPROCS> to the whole name when GOMAXPROCS > 1.
    let rest = match rest.rsplit_once('-') {
        Some((head, procs)) if !procs.is_empty() && procs.bytes().all(|b| b.is_ascii_digit()) => {
            head
        }
        _ => rest,
    };
    let mut segs = rest.split('/');
    let func = segs.next().unwrap_or_default();
    let (base, resident) = match func.strip_suffix("Resident") {
        Some(b) => (b, true),
        None => (func, false),
    };
    let (op, default_path) = GO_OPS
        .iter()
        .find(|(g, _, _)| *g == base)
        .map(|(_, op, p)| (op.to_string(), *p))
        .ok_or_else(|| format!("function `Benchmark{func}` is not one of the known ops"))?;
    let op = if resident {
        format!("{op}-resident")
    } else {
        op
    };
    let (mut path, mut n, mut dtype) = (None, None, None);
    for seg in segs {
        let (k, v) = seg
            .split_once('=')
            .ok_or_else(|| format!("sub-benchmark `{seg}` is not key=value"))?;
        match k {
            "path" => path = Some(v.to_string()),
            "dtype" => dtype = Some(v.to_string()),
            "n" => {
                n = Some(
                    v.parse::<u64>()
                        .map_err(|_| format!("n=`{v}` is not a size"))?,
                )
            }
            _ => return Err(format!("unknown key `{k}` (expected path, dtype, n)")),
        }
    }
    let n = match (n, op.as_str()) {
        (Some(n), _) => n,
        (None, "empty-call" | "wasi-gpu-call") => 0,
        (None, _) => return Err("no n=<size>".into()),
    };
    let path = path
        .or_else(|| default_path.map(str::to_string))
        .unwrap_or_else(|| "-".into());
    check(op, dtype, path, n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn criterion_names() {
        let b = parse_criterion_id("sum_f32/gpu-cuda/1000000").unwrap();
        assert_eq!((b.op.as_str(), b.dtype.as_str()), ("sum", "f32"));
        assert_eq!(b.n, 1_000_000);
        let b = parse_criterion_id("sum_simd/wasm-c/64").unwrap();
        assert_eq!((b.op.as_str(), b.dtype.as_str()), ("sum_simd", "f64"));
        assert!(parse_criterion_id("frobnicate/wasm-c/64").is_err());
        assert!(parse_criterion_id("sum/wasm-cobol/64").is_err());
        assert!(parse_criterion_id("sum/wasm-c/lots").is_err());
    }

    #[test]
    fn go_names() {
        let b = parse_go("BenchmarkSumSIMD/path=wazero-c/n=1000-2").unwrap();
        assert_eq!(
            (b.op.as_str(), b.path.as_str(), b.n),
            ("sum_simd", "wazero-c", 1000)
        );
        let b = parse_go("BenchmarkEmptyCall/path=wasm-rust-16").unwrap();
        assert_eq!(
            (b.op.as_str(), b.path.as_str(), b.n),
            ("empty-call", "wasm-rust", 0)
        );
        let b = parse_go("BenchmarkCopyIn/n=4096").unwrap();
        assert_eq!((b.op.as_str(), b.path.as_str()), ("copy-in", "wasm-rust"));
        let b = parse_go("BenchmarkGoCopy/n=4096-2").unwrap();
        assert_eq!(
            (b.op.as_str(), b.path.as_str(), b.n),
            ("copy-in", "go", 4096)
        );
        let b = parse_go("BenchmarkSumResident/path=gpu-cuda/dtype=f32/n=10").unwrap();
        assert_eq!((b.op.as_str(), b.dtype.as_str()), ("sum-resident", "f32"));
        let b = parse_go("BenchmarkForestTrain/path=wasm-rust/n=353-2").unwrap();
        assert_eq!(
            (b.op.as_str(), b.dtype.as_str(), b.path.as_str(), b.n),
            ("forest-train", "f64", "wasm-rust", 353)
        );
        assert!(parse_go("BenchmarkFrob/path=go/n=1").is_err());
        assert!(parse_go("BenchmarkSum/path=go").is_err());
    }
}
