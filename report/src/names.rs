//! The benchmark naming scheme shared by both harnesses (docs/benchmarks.md, "Ids") and
//! its parsers.
//!
//! - criterion: `<op>[-<family>][-resident][_<dtype>]/<path>/<n>`, e.g.
//!   `sum-strict/wasm-c/1000`, `dot-fast/rust-native-par/10000000`,
//!   `sum-fast-resident/wasm-rust/100000`, `sum-fast_f32/gpu-cuda-resident/1000000`,
//!   `mul/rust-native-par/1000`, `empty-call/wasm-go/0`.
//! - go test: `Benchmark<Op>[Resident]/[family=<family>/]path=<path>[/dtype=<dtype>]/n=<n>`
//!   with go's `-<GOMAXPROCS>` suffix, e.g. `BenchmarkSum/family=strict/path=go/n=1000-2`,
//!   `BenchmarkMul/path=go-par/n=1000`, `BenchmarkEmptyCall/path=wasm-rust-2`.
//!
//! The family (`strict` or `fast`, [`Family`]) is required for the reductions of
//! [`FAMILY_OPS`] and refused for every other op: a name that breaks either rule is an
//! error that says so.
//!
//! `n` is a count of elements for the vector ops, `copy` and `copy-in`, the matrix side
//! for `sgemm`, a count of bytes for `h2d`/`d2h`, and 0 for `empty-call`.

use crate::model::{op_with_family, Family};

/// Operations the report knows. A benchmark with any other op is rejected with
/// [`crate::ReportError::UnknownBenchmark`]; extend this list when a producer adds one.
/// The order is the order of the report's sections.
pub const KNOWN_OPS: &[&str] = &[
    "sum",
    "dot",
    "mul",
    "scale",
    "add",
    "relu",
    "min",
    "max",
    "copy",
    "sum-resident",
    "dot-resident",
    "mul-resident",
    "scale-resident",
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

/// The reductions: their ids must name a family (`sum-strict`, `family=fast`); every
/// other op's must not.
pub const FAMILY_OPS: &[&str] = &["sum", "dot", "sum-resident", "dot-resident"];

/// Does this op come in two families (see [`FAMILY_OPS`])?
pub fn needs_family(op: &str) -> bool {
    FAMILY_OPS.contains(&op)
}

/// Paths the report knows (the columns of the tables). Same rule as [`KNOWN_OPS`].
pub const KNOWN_PATHS: &[&str] = &[
    "rust-native",
    "rust-native-simd",
    "rust-native-par",
    "rust-native-rayon",
    // the per-row forest walk over the Tree arrays (core/benches/forest_predict.rs)
    "rust-native-rowwise",
    "rust-cgo",
    "rust-cgo-par",
    "go",
    "go-unrolled",
    "go-par",
    "cpu",
    "wasm-rust",
    // the forest guest on the engine without epoch checks (no deadline; host/benches/forest)
    "wasm-rust-nodeadline",
    "wasm-c",
    "wasm-go",
    // the C++ forest guest training inside wasm (host/benches/forest/cpp.rs)
    "wasm-cpp",
    "wasmtime-go",
    "wazero-rust",
    "wazero-c",
    "wazero-go",
    "gpu-wgpu",
    "gpu-cuda",
    // the forest's histogram mode (offload-core forest::hist; approximate splits, own trees)
    "rust-native-hist",
    "rust-native-rayon-hist",
    "gpu-wgpu-hist",
    "gpu-cuda-hist",
    // data in page-locked host memory (so far only ever in SKIP lines)
    "gpu-cuda-pinned",
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
    // the C++ forest guest: trains in wasm, predicts through wasi:gpu (offload forest)
    "wasm-cpp-wasi-gpu-cpu",
    "wasm-cpp-wasi-gpu-wgpu",
    "wasm-cpp-wasi-gpu-cuda",
    // ... and through wasi:webgpu with its own WGSL on wgpu (offload forest --via wasi-webgpu)
    "wasm-cpp-wasi-webgpu-wgpu",
    // the parallel-for guest (host/benches/parallel.rs): one worker instance per core over
    // one shared linear memory, and its GPU device (the kernels' WGSL on wgpu, data from
    // linear memory, transfers timed)
    "wasm-rust-parallel-for",
    "gpu-wgpu-parallel-for",
    "sklearn",
    // XGBoost's random-forest mode (XGBRFRegressor), hist and exact split finding
    // (scripts/sklearn_forest.py --peers)
    "xgboost-rf-hist",
    "xgboost-rf-exact",
    "-",
];

/// Element types that may suffix an op (`sum-fast_f32`).
pub const KNOWN_DTYPES: &[&str] = &["f64", "f32", "f16", "bf16", "i32", "u32"];

/// Go benchmark function names (after `Benchmark`), the op each one measures, and the
/// path it measures when its name carries no `path=` (go-host's `BenchmarkCopyIn/n=<n>`
/// copies into the Rust guest's memory through wasmtime-go; `BenchmarkGoCopy/n=<n>` is
/// Go's own `copy`, the yardstick for it). A `Resident` suffix (`SumResident`) maps to
/// `<op>-resident`. (`SumSIMD` is gone: it is `BenchmarkSum/family=fast`.)
pub const GO_OPS: &[(&str, &str, Option<&str>)] = &[
    ("Sum", "sum", None),
    ("Dot", "dot", None),
    ("Mul", "mul", None),
    ("Scale", "scale", None),
    ("Min", "min", None),
    ("Max", "max", None),
    ("Add", "add", None),
    ("Relu", "relu", None),
    ("ReLU", "relu", None),
    ("Copy", "copy", None),
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
    /// Algorithm family: `Some` exactly for the ops of [`FAMILY_OPS`].
    pub family: Option<Family>,
    /// Execution path, one of [`KNOWN_PATHS`] (`-` when the benchmark names none).
    pub path: String,
    /// Problem size (see the module docs for its unit per op).
    pub n: u64,
}

impl BenchName {
    /// The criterion group this name has (`sum-fast_f32`, `mul`): op, family, and the
    /// dtype when it is not the op's default.
    pub fn group(&self) -> String {
        let mut g = op_with_family(&self.op, self.family);
        if self.dtype != default_dtype(&self.op) {
            g.push('_');
            g.push_str(&self.dtype);
        }
        g
    }
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

/// Splits `sum-fast_f32` into (`sum-fast`, `f32`).
fn split_dtype(group: &str) -> (String, Option<String>) {
    if let Some((head, tail)) = group.rsplit_once('_') {
        if KNOWN_DTYPES.contains(&tail) {
            return (head.to_string(), Some(tail.to_string()));
        }
    }
    (group.to_string(), None)
}

/// Splits a criterion group's op part (dtype already removed) into op and family:
/// `sum-fast` → (`sum`, fast), `sum-strict-resident` → (`sum-resident`, strict),
/// `mul` → (`mul`, none).
fn split_family(head: &str) -> Result<(String, Option<Family>), String> {
    let (base, resident) = match head.strip_suffix("-resident") {
        Some(b) => (b, true),
        None => (head, false),
    };
    let (op, family) = match base.rsplit_once('-') {
        Some((op, f)) => match Family::parse(f) {
            Some(f) => (op, Some(f)),
            None => (base, None),
        },
        None => (base, None),
    };
    if family.is_some() && op.ends_with("-resident") {
        return Err(format!(
            "`{head}`: the family goes before `-resident` \
             (`<op>[-strict|-fast][-resident][_<dtype>]`, docs/benchmarks.md)"
        ));
    }
    let op = if resident {
        format!("{op}-resident")
    } else {
        op.to_string()
    };
    Ok((op, family))
}

fn check(
    op: String,
    dtype: Option<String>,
    family: Option<Family>,
    path: String,
    n: u64,
) -> Result<BenchName, String> {
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
    match (needs_family(&op), family) {
        (true, None) => {
            return Err(format!(
                "`{op}` is a reduction and its id must name its algorithm family: \
                 `{}` or `{}` (criterion), `family=strict` or `family=fast` (go test); \
                 see docs/benchmarks.md",
                op_with_family(&op, Some(Family::Strict)),
                op_with_family(&op, Some(Family::Fast)),
            ))
        }
        (false, Some(f)) => {
            return Err(format!(
                "`{op}` has one algorithm family and its id must not name one (got `{f}`; \
                 only {FAMILY_OPS:?} do, docs/benchmarks.md)"
            ))
        }
        _ => {}
    }
    let dtype = dtype.unwrap_or_else(|| default_dtype(&op).to_string());
    Ok(BenchName {
        op,
        dtype,
        family,
        path,
        n,
    })
}

/// Parses a criterion id from its parts (as saved in `benchmark.json`: `group_id`,
/// `function_id`, `value_str`). Errors say which part is not in the scheme.
pub fn parse_criterion(
    group: &str,
    function: Option<&str>,
    value: Option<&str>,
) -> Result<BenchName, String> {
    let (head, dtype) = split_dtype(group);
    let (op, family) = split_family(&head)?;
    let path = function.ok_or("no function id (expected <op>/<path>/<n>)")?;
    let value = value.ok_or("no parameter (expected <op>/<path>/<n>)")?;
    let n = value
        .parse::<u64>()
        .map_err(|_| format!("parameter `{value}` is not a size n"))?;
    check(op, dtype, family, path.to_string(), n)
}

/// Parses a criterion full id `<group>/<path>/<n>`.
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
    let (mut path, mut n, mut dtype, mut family) = (None, None, None, None);
    for seg in segs {
        let (k, v) = seg
            .split_once('=')
            .ok_or_else(|| format!("sub-benchmark `{seg}` is not key=value"))?;
        match k {
            "path" => path = Some(v.to_string()),
            "dtype" => dtype = Some(v.to_string()),
            "family" => {
                family = Some(Family::parse(v).ok_or_else(|| {
                    format!("family=`{v}` is not `strict` or `fast` (docs/benchmarks.md)")
                })?)
            }
            "n" => {
                n = Some(
                    v.parse::<u64>()
                        .map_err(|_| format!("n=`{v}` is not a size"))?,
                )
            }
            _ => {
                return Err(format!(
                    "unknown key `{k}` (expected family, path, dtype, n)"
                ))
            }
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
    check(op, dtype, family, path, n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn crit(id: &str) -> (String, String, Option<Family>, String, u64) {
        let b = parse_criterion_id(id).unwrap_or_else(|e| panic!("{id}: {e}"));
        (b.op, b.dtype, b.family, b.path, b.n)
    }

    fn t(
        op: &str,
        dtype: &str,
        family: Option<Family>,
        path: &str,
        n: u64,
    ) -> (String, String, Option<Family>, String, u64) {
        (op.into(), dtype.into(), family, path.into(), n)
    }

    use Family::{Fast, Strict};

    #[test]
    fn criterion_family_forms() {
        assert_eq!(
            crit("sum-strict/wasm-c/1000"),
            t("sum", "f64", Some(Strict), "wasm-c", 1000)
        );
        assert_eq!(
            crit("dot-fast/rust-native-par/10000000"),
            t("dot", "f64", Some(Fast), "rust-native-par", 10_000_000)
        );
        assert_eq!(
            crit("sum-fast-resident/wasm-rust/100000"),
            t("sum-resident", "f64", Some(Fast), "wasm-rust", 100_000)
        );
        assert_eq!(
            crit("sum-fast_f32/gpu-cuda-resident/1000000"),
            t("sum", "f32", Some(Fast), "gpu-cuda-resident", 1_000_000)
        );
        assert_eq!(
            crit("dot-strict-resident_f32/wasm-go/64"),
            t("dot-resident", "f32", Some(Strict), "wasm-go", 64)
        );
        assert_eq!(
            crit("mul/rust-native-par/1000"),
            t("mul", "f64", None, "rust-native-par", 1000)
        );
        assert_eq!(
            crit("mul-resident/wasm-c/10"),
            t("mul-resident", "f64", None, "wasm-c", 10)
        );
        assert_eq!(
            crit("copy/rust-native/4096"),
            t("copy", "f64", None, "rust-native", 4096)
        );
        assert_eq!(
            crit("copy-in/wasm-rust/4096"),
            t("copy-in", "f64", None, "wasm-rust", 4096)
        );
        assert_eq!(
            crit("empty-call/wasm-go/0"),
            t("empty-call", "none", None, "wasm-go", 0)
        );
        assert_eq!(
            crit("sgemm/gpu-cuda-tf32/4096"),
            t("sgemm", "f32", None, "gpu-cuda-tf32", 4096)
        );
        for p in [
            "rust-native-par",
            "rust-cgo-par",
            "go-par",
            "gpu-cuda-pinned",
        ] {
            assert_eq!(crit(&format!("mul/{p}/8")).3, p);
        }
        // The group round-trips.
        for id in [
            "sum-fast_f32",
            "sum-strict-resident",
            "mul",
            "sgemm",
            "dot-fast",
        ] {
            let b = parse_criterion_id(&format!("{id}/cpu/1")).unwrap();
            assert_eq!(b.group(), id);
        }
    }

    #[test]
    fn criterion_family_rules() {
        // A reduction without a family: an error naming the rule.
        for id in [
            "sum/wasm-c/64",
            "dot_f32/gpu-cuda/10",
            "sum-resident/wasm-c/1",
        ] {
            let e = parse_criterion_id(id).unwrap_err();
            assert!(e.contains("must name its algorithm family"), "{id}: {e}");
            assert!(e.contains("docs/benchmarks.md"), "{e}");
        }
        let e = parse_criterion_id("sum/wasm-c/64").unwrap_err();
        assert!(e.contains("`sum-strict` or `sum-fast`"), "{e}");
        let e = parse_criterion_id("sum-resident/wasm-c/64").unwrap_err();
        assert!(e.contains("`sum-strict-resident`"), "{e}");
        // Other ops must not carry one.
        for id in [
            "mul-fast/rust-native/8",
            "copy-strict/go/8",
            "sgemm-fast/cpu/8",
        ] {
            let e = parse_criterion_id(id).unwrap_err();
            assert!(e.contains("must not name one"), "{id}: {e}");
        }
        // sum_simd is gone (now `sum-fast`), a misplaced family is refused.
        assert!(parse_criterion_id("sum_simd/wasm-c/64")
            .unwrap_err()
            .contains("is not one of"));
        assert!(parse_criterion_id("sum-resident-fast/wasm-c/64")
            .unwrap_err()
            .contains("goes before `-resident`"));
        assert!(parse_criterion_id("sum-quick/wasm-c/64").is_err());
        assert!(parse_criterion_id("frobnicate/wasm-c/64").is_err());
        assert!(parse_criterion_id("sum-fast/wasm-cobol/64").is_err());
        assert!(parse_criterion_id("sum-fast/wasm-c/lots").is_err());
    }

    fn go(name: &str) -> (String, String, Option<Family>, String, u64) {
        let b = parse_go(name).unwrap_or_else(|e| panic!("{name}: {e}"));
        (b.op, b.dtype, b.family, b.path, b.n)
    }

    #[test]
    fn go_names() {
        assert_eq!(
            go("BenchmarkSum/family=strict/path=go/n=1000"),
            t("sum", "f64", Some(Strict), "go", 1000)
        );
        assert_eq!(
            go("BenchmarkDot/family=fast/path=rust-cgo-par/n=10000000-16"),
            t("dot", "f64", Some(Fast), "rust-cgo-par", 10_000_000)
        );
        assert_eq!(
            go("BenchmarkSumResident/family=fast/path=gpu-cuda/dtype=f32/n=10"),
            t("sum-resident", "f32", Some(Fast), "gpu-cuda", 10)
        );
        assert_eq!(
            go("BenchmarkMul/path=go-par/n=1000-2"),
            t("mul", "f64", None, "go-par", 1000)
        );
        assert_eq!(
            go("BenchmarkCopy/path=go/n=1000-2"),
            t("copy", "f64", None, "go", 1000)
        );
        assert_eq!(
            go("BenchmarkEmptyCall/path=wasm-rust-16"),
            t("empty-call", "none", None, "wasm-rust", 0)
        );
        assert_eq!(
            go("BenchmarkCopyIn/n=4096"),
            t("copy-in", "f64", None, "wasm-rust", 4096)
        );
        assert_eq!(
            go("BenchmarkGoCopy/n=4096-2"),
            t("copy-in", "f64", None, "go", 4096)
        );
        assert_eq!(
            go("BenchmarkForestTrain/path=wasm-rust/n=353-2"),
            t("forest-train", "f64", None, "wasm-rust", 353)
        );
        // The family rules, as for criterion.
        let e = parse_go("BenchmarkSum/path=go/n=1000").unwrap_err();
        assert!(e.contains("must name its algorithm family"), "{e}");
        assert!(e.contains("`family=strict` or `family=fast`"), "{e}");
        let e = parse_go("BenchmarkMul/family=fast/path=go/n=1").unwrap_err();
        assert!(e.contains("must not name one"), "{e}");
        let e = parse_go("BenchmarkSum/family=loose/path=go/n=1").unwrap_err();
        assert!(e.contains("is not `strict` or `fast`"), "{e}");
        assert!(parse_go("BenchmarkSumSIMD/path=wazero-c/n=1000-2").is_err());
        assert!(parse_go("BenchmarkFrob/path=go/n=1").is_err());
        assert!(parse_go("BenchmarkSum/family=strict/path=go").is_err());
    }
}
