//! The `results.json` schema: one [`Record`] per (op, dtype, family, path, n, harness),
//! the skipped paths, and the [`Environment`] the run happened in (with the thread counts
//! of the all-cores paths).
//!
//! Schema 2 added the algorithm [`Family`] of the reductions (docs/benchmarks.md); a
//! schema-1 file is refused by [`crate::load_results`] with
//! [`crate::ReportError::Schema`]: re-ingest its raw inputs instead.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// Version of the `results.json` layout; bumped on incompatible changes.
pub const SCHEMA_VERSION: u32 = 2;

/// Which benchmark harness produced a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Harness {
    /// `cargo bench` with criterion: the Rust host and Rust-side GPU backends.
    Criterion,
    /// `go test -bench`: the Go host (wasmtime-go, wazero, cgo).
    Go,
    /// `scripts/sklearn_forest.py`: scikit-learn's `RandomForestRegressor`, the peer the
    /// forest benches are set beside (path `sklearn`; one sample per `--repeat` run).
    Sklearn,
}

impl fmt::Display for Harness {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Harness::Criterion => "criterion",
            Harness::Go => "go",
            Harness::Sklearn => "sklearn",
        })
    }
}

/// The algorithm family of a reduction (`sum`, `dot`): how its additions are associated
/// (docs/benchmarks.md, "Algorithm families"). Ops whose result does not depend on the
/// order of evaluation have one family and carry none (`Option<Family>` = `None`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    /// Added strictly left to right: every path that does it returns the same bits.
    Strict,
    /// Any association (SIMD partial sums, unrolled accumulators, threads, GPU trees).
    Fast,
}

impl Family {
    /// The name used in ids: `strict`, `fast`.
    pub fn as_str(self) -> &'static str {
        match self {
            Family::Strict => "strict",
            Family::Fast => "fast",
        }
    }

    /// Parses `strict` or `fast`.
    pub fn parse(s: &str) -> Option<Family> {
        match s {
            "strict" => Some(Family::Strict),
            "fast" => Some(Family::Fast),
            _ => None,
        }
    }
}

impl fmt::Display for Family {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An op's name with its family, as in a criterion group: `sum-fast`,
/// `sum-fast-resident`, `mul`.
pub fn op_with_family(op: &str, family: Option<Family>) -> String {
    match (family, op.strip_suffix("-resident")) {
        (None, _) => op.to_string(),
        (Some(f), Some(base)) => format!("{base}-{f}-resident"),
        (Some(f), None) => format!("{op}-{f}"),
    }
}

/// One benchmark's measurements. Times are nanoseconds per call (one iteration of the
/// benchmarked routine).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// Operation (see [`crate::names::KNOWN_OPS`]).
    pub op: String,
    /// Element type (`f64`, `f32`; `bytes` for transfers, `none` for `empty-call`).
    pub dtype: String,
    /// Algorithm family: `Some` for the reductions (`sum`, `dot` and their `-resident`
    /// forms), `None` for ops that have one family.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub family: Option<Family>,
    /// Execution path (see [`crate::names::KNOWN_PATHS`]).
    pub path: String,
    /// Problem size: elements (vector ops, copy, copy-in), matrix side (sgemm), bytes
    /// (h2d/d2h).
    pub n: u64,
    /// Which harness measured it.
    pub harness: Harness,
    /// Unit of every time field: always `ns`.
    pub unit: String,
    /// Median time per call (ns). criterion: its bootstrap median estimate; go: the
    /// median over the `-count` runs.
    pub median: f64,
    /// Lower bound of the confidence interval of the median (ns).
    pub ci_low: f64,
    /// Upper bound of the confidence interval of the median (ns).
    pub ci_high: f64,
    /// Confidence level of `[ci_low, ci_high]` (e.g. 0.95; 0.9375 for five go runs).
    pub ci_level: f64,
    /// How the interval was computed.
    pub ci_method: String,
    /// Mean time per call (ns) over `samples`.
    pub mean: f64,
    /// Coefficient of variation of `samples` (sample sd / mean); noisy above 0.05.
    pub cv: f64,
    /// Per-call times of every sample (ns): criterion's `times[i] / iters[i]`, or one
    /// ns/op per go run.
    pub samples: Vec<f64>,
    /// Bytes allocated per call (go `-benchmem`), median over runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes_per_op: Option<f64>,
    /// Allocations per call (go `-benchmem`), median over runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allocs_per_op: Option<f64>,
    /// The raw file the record was read from, relative to the results folder.
    pub source: String,
}

impl Record {
    /// The identity used to join and compare records.
    pub fn key(&self) -> RecordKey {
        RecordKey {
            op: self.op.clone(),
            dtype: self.dtype.clone(),
            family: self.family,
            path: self.path.clone(),
            n: self.n,
            harness: self.harness,
        }
    }

    /// True when the coefficient of variation exceeds 5 %.
    pub fn noisy(&self) -> bool {
        self.cv > NOISY_CV
    }
}

/// Coefficient of variation above which a result is marked noisy in REPORT.md.
pub const NOISY_CV: f64 = 0.05;

/// (op, dtype, family, path, n, harness): what makes a record unique.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RecordKey {
    /// Operation.
    pub op: String,
    /// Element type.
    pub dtype: String,
    /// Algorithm family (`None` for ops with one family).
    pub family: Option<Family>,
    /// Execution path.
    pub path: String,
    /// Size.
    pub n: u64,
    /// Harness.
    pub harness: Harness,
}

impl fmt::Display for RecordKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", op_with_family(&self.op, self.family))?;
        if self.dtype != crate::names::default_dtype(&self.op) {
            write!(f, "_{}", self.dtype)?;
        }
        write!(f, "/{}/{} [{}]", self.path, self.n, self.harness)
    }
}

/// A path a harness could not run, with the reason it printed.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Skip {
    /// Harness whose output carried the line.
    pub harness: Harness,
    /// The benchmark group, when the skip line named one (`SKIP sum_f32/gpu-cuda: ...`),
    /// as written (op with its dtype suffix).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub op: Option<String>,
    /// The skipped path.
    pub path: String,
    /// The size, when the skip line named one (`SKIP sgemm/gpu-cuda/8192: ...`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n: Option<u64>,
    /// The reason, as printed.
    pub reason: String,
}

/// A device a GPU path ran on, as the bench printed it (`gpu-wgpu: <adapter> (<driver>)`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Device {
    /// Harness whose output carried the line.
    pub harness: Harness,
    /// The path (`gpu-wgpu`, `gpu-cuda`).
    pub path: String,
    /// Adapter or device name and driver, as printed.
    pub description: String,
}

/// One GPU as reported by `nvidia-smi`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Gpu {
    /// Product name.
    pub name: String,
    /// Driver version.
    pub driver: String,
    /// Memory, as nvidia-smi prints it (e.g. `81559 MiB`).
    pub memory: String,
}

/// A guest module's build metadata (`build/guests/<path>.json`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Guest {
    /// Bench path of the guest (`wasm-rust`, `wasm-c`, `wasm-go`).
    pub path: String,
    /// Source language.
    #[serde(default)]
    pub language: String,
    /// Compiler and version.
    #[serde(default)]
    pub compiler: String,
    /// Compiler flags.
    #[serde(default)]
    pub flags: String,
    /// Whether the build enabled wasm SIMD128 (absent in older metadata).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub simd128: Option<bool>,
}

/// The machine and software a run happened on (`env.json`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Environment {
    /// When the run started, RFC 3339, UTC.
    pub date: String,
    /// Host name.
    pub host: String,
    /// Operating system and kernel.
    pub os: String,
    /// CPU model name.
    pub cpu_model: String,
    /// Logical CPUs usable by this process.
    pub cpu_cores: usize,
    /// Total memory, as /proc/meminfo prints it.
    #[serde(default)]
    pub memory: String,
    /// NVIDIA GPUs found by nvidia-smi (empty if none).
    #[serde(default)]
    pub gpus: Vec<Gpu>,
    /// Why `gpus` is empty, when it is (e.g. `nvidia-smi not on PATH`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gpu_note: Option<String>,
    /// Tool versions: `rustc`, `go`, `cargo`, `tinygo`, `clang`.
    #[serde(default)]
    pub tools: BTreeMap<String, String>,
    /// Library versions: `wasmtime`, `wgpu`, `cudarc`, `criterion` (Cargo.lock),
    /// `wasmtime-go`, `wazero` (go-host/go.mod). "not in Cargo.lock" when absent.
    #[serde(default)]
    pub libraries: BTreeMap<String, String>,
    /// The guests' compilers.
    #[serde(default)]
    pub guests: Vec<Guest>,
    /// `git rev-parse HEAD`, with `-dirty` when the tree had changes.
    pub git_commit: String,
    /// The command line that produced the results.
    pub command_line: String,
    /// Threads each all-cores path ran on (`rust-native-par`, `go-par`, `rust-cgo-par`),
    /// from the `threads <path>: <n>` lines the benches print (filled by ingest).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub threads: BTreeMap<String, usize>,
}

/// The content of `results.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Results {
    /// [`SCHEMA_VERSION`].
    pub schema: u32,
    /// Where it ran.
    pub environment: Environment,
    /// Every measurement, sorted by key.
    pub records: Vec<Record>,
    /// Paths that did not run, with reasons.
    pub skipped: Vec<Skip>,
    /// Devices the GPU paths ran on, as the benches printed them.
    #[serde(default)]
    pub devices: Vec<Device>,
    /// Benchmarks that failed (go's `--- FAIL:`, a panic in a criterion bench), with the
    /// message; `path` is `-` when the output does not say which.
    #[serde(default)]
    pub failures: Vec<Skip>,
    /// Benchmarks timed twice under one key (the Rust host's vector bench and core's GPU
    /// bench both time `rust-native*` on f64): the report keeps the first source and
    /// lists each one dropped here, naming both files.
    #[serde(default)]
    pub duplicates: Vec<Skip>,
}
