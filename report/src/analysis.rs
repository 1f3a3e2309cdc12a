//! What the report computes before it formats anything: the one [`ratio`] function every
//! printed ratio goes through, the comparison groups ([`Group`]: op, element type,
//! family), the path classes, the fastest CPU path at a size, the fastest path with its
//! ties, and the GPU crossovers.
//!
//! The rules are docs/benchmarks.md's: a ratio is formed only between two records of the
//! same op, element type, algorithm family and harness ([`ratio`] refuses any other with
//! [`ReportError::CrossFamily`]); the CPU baseline is the fastest CPU path of that family
//! measured in that harness at that size, never a path assumed to be the best.

use crate::error::{ReportError, Result};
use crate::model::{Family, Harness, Record, Results};
use crate::names::{default_dtype, KNOWN_OPS, KNOWN_PATHS};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// `num.median / den.median`, if and only if the two records are comparable: same op,
/// element type, algorithm family and harness. Otherwise [`ReportError::CrossFamily`],
/// naming both records and what differs. Every ratio the report prints comes from here.
pub fn ratio(num: &Record, den: &Record) -> Result<f64> {
    let mut why = Vec::new();
    if num.op != den.op {
        why.push(format!("op `{}` vs `{}`", num.op, den.op));
    }
    if num.dtype != den.dtype {
        why.push(format!("element type `{}` vs `{}`", num.dtype, den.dtype));
    }
    if num.family != den.family {
        let f = |f: Option<Family>| f.map_or("none".to_string(), |f| f.to_string());
        why.push(format!(
            "algorithm family `{}` vs `{}`",
            f(num.family),
            f(den.family)
        ));
    }
    if num.harness != den.harness {
        why.push(format!("harness `{}` vs `{}`", num.harness, den.harness));
    }
    if !why.is_empty() {
        return Err(ReportError::CrossFamily {
            numerator: num.key().to_string(),
            denominator: den.key().to_string(),
            why: format!(
                "{} differ; a ratio is only formed within one op, element type, family and \
                 harness (docs/benchmarks.md)",
                why.join(", ")
            ),
        });
    }
    Ok(num.median / den.median)
}

/// Is this a CPU path, one the GPU paths are measured against: one thread or all cores,
/// Rust or Go or cgo (not wasm, not GPU).
pub fn is_cpu_path(path: &str) -> bool {
    matches!(
        path,
        "rust-native"
            | "rust-native-simd"
            | "rust-native-par"
            | "rust-native-rayon"
            | "rust-native-rowwise"
            | "cpu"
            | "go"
            | "go-unrolled"
            | "go-par"
            | "rust-cgo"
            | "rust-cgo-par"
    )
}

/// Is this a one-thread native CPU path (the baseline of the wasm paths)?
pub fn is_one_thread_native(path: &str) -> bool {
    matches!(
        path,
        "rust-native"
            | "rust-native-simd"
            | "rust-native-rowwise"
            | "cpu"
            | "go"
            | "go-unrolled"
            | "rust-cgo"
    )
}

/// Is this a WebAssembly path (wasmtime from Rust or Go, or wazero)?
pub fn is_wasm_path(path: &str) -> bool {
    path.starts_with("wasm-") || path.starts_with("wazero-") || path == "wasmtime-go"
}

/// Is this a WebAssembly path that runs on every core (the parallel-for guest's CPU
/// device)? Its baseline is the fastest CPU path of one thread and all cores
/// ([`is_cpu_path`]), not the one-thread native paths of the other wasm paths.
pub fn is_parallel_wasm_path(path: &str) -> bool {
    path == "wasm-rust-parallel-for"
}

/// Is this a WebAssembly path whose guest hands its work to a device through wasi:gpu or
/// wasi:webgpu (`wasm-cpp-wasi-gpu-<backend>`, `wasm-cpp-wasi-webgpu-wgpu`)? As a path on
/// every core, its baseline is the fastest CPU path of one thread and all cores.
pub fn is_offloading_wasm_path(path: &str) -> bool {
    is_wasm_path(path) && (path.contains("-wasi-gpu-") || path.contains("-wasi-webgpu-"))
}

/// Is this a GPU path (`gpu-*`)?
pub fn is_gpu_path(path: &str) -> bool {
    path.starts_with("gpu-")
}

/// Is the data of this GPU path already on the device when the timing starts? True for
/// `gpu-*-resident`, and for every GPU path of `sgemm` (core/benches/gpu/ times the
/// product on resident matrices).
pub fn is_resident(op: &str, path: &str) -> bool {
    is_gpu_path(path) && (path.ends_with("-resident") || op == "sgemm")
}

/// Where a GPU path's data starts, as the summary names it: `resident`, `pinned`
/// (page-locked host memory) or `pageable` (ordinary host memory; transfers timed).
pub fn data_placement(op: &str, path: &str) -> &'static str {
    if is_resident(op, path) {
        "resident"
    } else if path.contains("pinned") {
        "pinned"
    } else {
        "pageable"
    }
}

/// Ops that are transfers, not computations: no CPU path does them, so they have no
/// crossover.
pub const TRANSFER_OPS: &[&str] = &["h2d", "d2h"];

/// What is compared with what: one op, element type and family. A table, a plot and a
/// summary row are each one group (of one harness).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Group {
    /// Operation.
    pub op: String,
    /// Element type.
    pub dtype: String,
    /// Algorithm family (`None` for ops with one family).
    pub family: Option<Family>,
}

impl Group {
    /// The group of a record.
    pub fn of(r: &Record) -> Group {
        Group {
            op: r.op.clone(),
            dtype: r.dtype.clone(),
            family: r.family,
        }
    }

    /// Does the record belong to this group?
    pub fn has(&self, r: &Record) -> bool {
        r.op == self.op && r.dtype == self.dtype && r.family == self.family
    }

    /// Section title: `sum (f64, fast)`, `mul (f64)`, `empty-call`.
    pub fn title(&self) -> String {
        let mut parts = Vec::new();
        if self.dtype != "none" {
            parts.push(self.dtype.clone());
        }
        if let Some(f) = self.family {
            parts.push(f.to_string());
        }
        if parts.is_empty() {
            self.op.clone()
        } else {
            format!("{} ({})", self.op, parts.join(", "))
        }
    }

    /// File stem of its plot: `sum-f64-fast`, `mul-f64`.
    pub fn stem(&self) -> String {
        match self.family {
            Some(f) => format!("{}-{}-{f}", self.op, self.dtype),
            None => format!("{}-{}", self.op, self.dtype),
        }
    }
}

impl fmt::Display for Group {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.title())
    }
}

/// Rank of an op in [`KNOWN_OPS`] (unknown ops last).
pub fn op_rank(op: &str) -> usize {
    KNOWN_OPS
        .iter()
        .position(|o| *o == op)
        .unwrap_or(KNOWN_OPS.len())
}

/// Rank of a path in [`KNOWN_PATHS`] (unknown paths last).
pub fn path_rank(path: &str) -> usize {
    KNOWN_PATHS
        .iter()
        .position(|p| *p == path)
        .unwrap_or(KNOWN_PATHS.len())
}

/// The groups present, in the order of [`KNOWN_OPS`], the op's default dtype first, then
/// strict before fast.
pub fn groups(results: &Results) -> Vec<Group> {
    let set: BTreeSet<(usize, bool, String, Option<Family>, String)> = results
        .records
        .iter()
        .map(|r| {
            let other = r.dtype != default_dtype(&r.op);
            (
                op_rank(&r.op),
                other,
                r.dtype.clone(),
                r.family,
                r.op.clone(),
            )
        })
        .collect();
    set.into_iter()
        .map(|(_, _, dtype, family, op)| Group { op, dtype, family })
        .collect()
}

/// A group's records of one harness, by path then size.
pub type ByPath<'a> = BTreeMap<&'a str, BTreeMap<u64, &'a Record>>;

/// A group's records of one harness, by path then size.
pub fn by_path<'a>(results: &'a Results, group: &Group, harness: Harness) -> ByPath<'a> {
    let mut m: ByPath = BTreeMap::new();
    for r in results
        .records
        .iter()
        .filter(|r| group.has(r) && r.harness == harness)
    {
        m.entry(r.path.as_str()).or_default().insert(r.n, r);
    }
    m
}

/// The record of smallest median among `by`'s paths that pass `keep`, at size `n`.
pub fn fastest_at<'a>(by: &ByPath<'a>, n: u64, keep: impl Fn(&str) -> bool) -> Option<&'a Record> {
    by.iter()
        .filter(|(p, _)| keep(p))
        .filter_map(|(_, m)| m.get(&n).copied())
        .min_by(|a, b| a.median.total_cmp(&b.median))
}

/// Do the confidence intervals of two records overlap?
pub fn ci_overlap(a: &Record, b: &Record) -> bool {
    a.ci_low <= b.ci_high && b.ci_low <= a.ci_high
}

/// The fastest path of a group, harness and size, and the paths tied with it.
#[derive(Debug, Clone, PartialEq)]
pub struct Fastest<'a> {
    /// The record of smallest median.
    pub best: &'a Record,
    /// Records whose confidence interval overlaps `best`'s, fastest first.
    pub ties: Vec<&'a Record>,
}

/// For each size of a group and harness: the fastest path and its ties
/// ([`ci_overlap`]), over every path measured there.
pub fn fastest_paths<'a>(by: &ByPath<'a>) -> Vec<(u64, Fastest<'a>)> {
    let ns: BTreeSet<u64> = by.values().flat_map(|m| m.keys().copied()).collect();
    ns.into_iter()
        .filter_map(|n| {
            let mut at: Vec<&Record> = by.values().filter_map(|m| m.get(&n).copied()).collect();
            at.sort_by(|a, b| a.median.total_cmp(&b.median));
            let (best, rest) = at.split_first()?;
            let ties = rest
                .iter()
                .copied()
                .filter(|r| ci_overlap(best, r))
                .collect();
            Some((n, Fastest { best, ties }))
        })
        .collect()
}

/// How a GPU record's confidence interval lies against the CPU's at one size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Separation {
    /// The GPU's interval is entirely below the CPU's: the GPU is faster.
    Faster,
    /// The intervals overlap: no winner.
    Overlap,
    /// The GPU's interval is entirely above the CPU's: the CPU is faster.
    Slower,
}

impl Separation {
    /// `a` against `b`.
    pub fn of(a: &Record, b: &Record) -> Separation {
        if a.ci_high < b.ci_low {
            Separation::Faster
        } else if a.ci_low > b.ci_high {
            Separation::Slower
        } else {
            Separation::Overlap
        }
    }
}

/// One size of a crossover: the GPU record, the fastest CPU record of the same group and
/// harness, their ratio and how their intervals lie.
#[derive(Debug, Clone, PartialEq)]
pub struct CrossPoint<'a> {
    /// Size.
    pub n: u64,
    /// The GPU record.
    pub gpu: &'a Record,
    /// The fastest CPU record at `n` ([`is_cpu_path`]).
    pub cpu: &'a Record,
    /// `gpu / cpu` ([`ratio`]).
    pub ratio: f64,
    /// `gpu` against `cpu`.
    pub separation: Separation,
}

/// Where a GPU path overtakes the fastest CPU path.
#[derive(Debug, Clone, PartialEq)]
pub enum Crossover {
    /// Faster (intervals separated) at every measured size.
    Always {
        /// Smallest measured size.
        first: u64,
        /// Largest measured size.
        last: u64,
    },
    /// Faster with separated intervals at `above` and every larger size, not at `below`
    /// (the next smaller size).
    Between {
        /// Largest size where the GPU is not faster.
        below: u64,
        /// Smallest size from which the GPU is faster.
        above: u64,
        /// The ratio at `above`.
        ratio: f64,
        /// The fastest CPU path at `above`.
        cpu_path: String,
        /// Whether the intervals are separated at `below` too (the CPU faster there).
        /// If not, the crossover is not cleanly located: it may lie below `below`.
        clean: bool,
    },
    /// Not faster (separated) at the largest size.
    Never {
        /// The smallest ratio measured.
        best_ratio: f64,
        /// Where.
        at: u64,
    },
}

/// The crossover of one GPU path of a group and harness against the fastest CPU path
/// of the same group and harness, over the sizes where both were measured; `None` when
/// there are none.
pub fn crossover<'a>(
    by: &ByPath<'a>,
    gpu_path: &str,
) -> Result<Option<(Crossover, Vec<CrossPoint<'a>>)>> {
    let Some(gpu) = by.get(gpu_path) else {
        return Ok(None);
    };
    let mut pts = Vec::new();
    for (&n, &g) in gpu {
        if let Some(c) = fastest_at(by, n, is_cpu_path) {
            pts.push(CrossPoint {
                n,
                gpu: g,
                cpu: c,
                ratio: ratio(g, c)?,
                separation: Separation::of(g, c),
            });
        }
    }
    if pts.is_empty() {
        return Ok(None);
    }
    let from =
        (0..pts.len()).find(|&i| pts[i..].iter().all(|p| p.separation == Separation::Faster));
    let x = match from {
        Some(0) => Crossover::Always {
            first: pts[0].n,
            last: pts[pts.len() - 1].n,
        },
        Some(i) => Crossover::Between {
            below: pts[i - 1].n,
            above: pts[i].n,
            ratio: pts[i].ratio,
            cpu_path: pts[i].cpu.path.clone(),
            clean: pts[i - 1].separation == Separation::Slower,
        },
        None => {
            let b = pts
                .iter()
                .min_by(|a, b| a.ratio.total_cmp(&b.ratio))
                .expect("non-empty");
            Crossover::Never {
                best_ratio: b.ratio,
                at: b.n,
            }
        }
    };
    Ok(Some((x, pts)))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn rec(
        op: &str,
        family: Option<Family>,
        path: &str,
        n: u64,
        median: f64,
        harness: Harness,
    ) -> Record {
        Record {
            op: op.into(),
            dtype: "f64".into(),
            family,
            path: path.into(),
            n,
            harness,
            unit: "ns".into(),
            median,
            ci_low: median * 0.98,
            ci_high: median * 1.02,
            ci_level: 0.95,
            ci_method: "test".into(),
            mean: median,
            cv: 0.0,
            samples: vec![median],
            bytes_per_op: None,
            allocs_per_op: None,
            source: "test".into(),
        }
    }

    #[test]
    fn ratio_refuses_across_families_and_harnesses() {
        let c = Harness::Criterion;
        let strict = rec("sum", Some(Family::Strict), "rust-native", 1000, 500.0, c);
        let fast = rec("sum", Some(Family::Fast), "wasm-rust", 1000, 250.0, c);
        let fast2 = rec(
            "sum",
            Some(Family::Fast),
            "rust-native-simd",
            1000,
            125.0,
            c,
        );
        assert_eq!(ratio(&fast, &fast2).unwrap(), 2.0);
        let e = ratio(&fast, &strict).unwrap_err();
        assert!(matches!(e, ReportError::CrossFamily { .. }), "{e:?}");
        let msg = e.to_string();
        assert!(msg.contains("sum-fast/wasm-rust/1000 [criterion]"), "{msg}");
        assert!(
            msg.contains("sum-strict/rust-native/1000 [criterion]"),
            "{msg}"
        );
        assert!(msg.contains("algorithm family `fast` vs `strict`"), "{msg}");

        let go = rec(
            "sum",
            Some(Family::Fast),
            "go-unrolled",
            1000,
            100.0,
            Harness::Go,
        );
        let msg = ratio(&fast, &go).unwrap_err().to_string();
        assert!(msg.contains("harness `criterion` vs `go`"), "{msg}");
        let mul = rec("mul", None, "rust-native", 1000, 100.0, c);
        let msg = ratio(&mul, &fast).unwrap_err().to_string();
        assert!(
            msg.contains("op `mul` vs `sum`") && msg.contains("`none` vs `fast`"),
            "{msg}"
        );
        let mut f32 = fast2.clone();
        f32.dtype = "f32".into();
        let msg = ratio(&fast, &f32).unwrap_err().to_string();
        assert!(msg.contains("element type `f64` vs `f32`"), "{msg}");
    }

    fn results(records: Vec<Record>) -> Results {
        Results {
            schema: crate::model::SCHEMA_VERSION,
            environment: Default::default(),
            records,
            skipped: vec![],
            devices: vec![],
            failures: vec![],
            duplicates: vec![],
        }
    }

    #[test]
    fn crossover_cases() {
        let c = Harness::Criterion;
        let f = Some(Family::Fast);
        let g = Group {
            op: "sum".into(),
            dtype: "f64".into(),
            family: f,
        };
        let mk = |cpu: &[f64], gpu: &[(&str, &[f64])]| {
            let mut v = Vec::new();
            for (i, m) in cpu.iter().enumerate() {
                v.push(rec(
                    "sum",
                    f,
                    "rust-native-simd",
                    10u64.pow(i as u32 + 3),
                    *m,
                    c,
                ));
                // a slower CPU path that must not be the baseline
                v.push(rec(
                    "sum",
                    f,
                    "rust-native-par",
                    10u64.pow(i as u32 + 3),
                    m * 3.0,
                    c,
                ));
            }
            for (p, ms) in gpu {
                for (i, m) in ms.iter().enumerate() {
                    v.push(rec("sum", f, p, 10u64.pow(i as u32 + 3), *m, c));
                }
            }
            results(v)
        };
        let r = mk(
            &[100.0, 1000.0, 10_000.0],
            &[
                ("gpu-cuda", &[1000.0, 2000.0, 5000.0]),
                ("gpu-cuda-resident", &[50.0, 500.0, 5000.0]),
                ("gpu-wgpu", &[1000.0, 1010.0, 5000.0]),
                ("gpu-wgpu-resident", &[1000.0, 3000.0, 20_000.0]),
            ],
        );
        let by = by_path(&r, &g, c);
        let (x, pts) = crossover(&by, "gpu-cuda").unwrap().unwrap();
        assert_eq!(pts[0].cpu.path, "rust-native-simd");
        assert_eq!(
            x,
            Crossover::Between {
                below: 10_000,
                above: 100_000,
                ratio: 0.5,
                cpu_path: "rust-native-simd".into(),
                clean: true
            }
        );
        let (x, _) = crossover(&by, "gpu-cuda-resident").unwrap().unwrap();
        assert_eq!(
            x,
            Crossover::Always {
                first: 1000,
                last: 100_000
            }
        );
        // At 10,000 the intervals overlap: not cleanly located.
        let (x, _) = crossover(&by, "gpu-wgpu").unwrap().unwrap();
        assert!(
            matches!(
                x,
                Crossover::Between {
                    clean: false,
                    below: 10_000,
                    ..
                }
            ),
            "{x:?}"
        );
        let (x, _) = crossover(&by, "gpu-wgpu-resident").unwrap().unwrap();
        assert_eq!(
            x,
            Crossover::Never {
                best_ratio: 2.0,
                at: 100_000
            }
        );
        assert!(crossover(&by, "gpu-nope").unwrap().is_none());
        assert_eq!(data_placement("sum", "gpu-cuda"), "pageable");
        assert_eq!(data_placement("sum", "gpu-cuda-pinned"), "pinned");
        assert_eq!(data_placement("sum", "gpu-wgpu-resident"), "resident");
        assert_eq!(data_placement("sgemm", "gpu-cuda-tf32"), "resident");
    }

    #[test]
    fn fastest_and_ties() {
        let c = Harness::Criterion;
        let g = Group {
            op: "mul".into(),
            dtype: "f64".into(),
            family: None,
        };
        let r = results(vec![
            rec("mul", None, "rust-native", 1000, 100.0, c),
            rec("mul", None, "rust-native-par", 1000, 103.0, c),
            rec("mul", None, "wasm-rust", 1000, 110.0, c),
            rec("mul", None, "rust-native", 10_000, 1000.0, c),
            rec("mul", None, "rust-native-par", 10_000, 300.0, c),
            rec("mul", None, "go", 1000, 1.0, Harness::Go),
        ]);
        let f = fastest_paths(&by_path(&r, &g, c));
        assert_eq!(f.len(), 2);
        assert_eq!(f[0].1.best.path, "rust-native");
        assert_eq!(
            f[0].1
                .ties
                .iter()
                .map(|r| r.path.as_str())
                .collect::<Vec<_>>(),
            vec!["rust-native-par"]
        );
        assert_eq!(f[1].1.best.path, "rust-native-par");
        assert!(f[1].1.ties.is_empty());
        assert_eq!(g.title(), "mul (f64)");
        let s = Group {
            op: "sum".into(),
            dtype: "f32".into(),
            family: Some(Family::Fast),
        };
        assert_eq!(
            (s.title(), s.stem()),
            ("sum (f32, fast)".into(), "sum-f32-fast".into())
        );
    }
}
