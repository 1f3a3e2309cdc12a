//! The summaries at the top of `REPORT.md`, built from [`Results`]: the fastest path of
//! every group and size with its ties, each GPU path's crossover against the fastest CPU
//! path of its family (host data and device-resident data), WebAssembly against the
//! fastest one-thread native path, the random forest, the call overhead and the skipped
//! paths. Every ratio comes from [`crate::analysis::ratio`]; [`crate::render`] writes them
//! out and [`crate::plots`] draws the call overhead.

use crate::analysis::{
    by_path, crossover, fastest_at, fastest_paths, groups, is_cpu_path, is_gpu_path,
    is_offloading_wasm_path, is_one_thread_native, is_parallel_wasm_path, is_resident,
    is_wasm_path, path_rank, ratio, Crossover, Group, TRANSFER_OPS,
};
use crate::error::Result;
use crate::format::{fmt_n, fmt_ns, fmt_ratio, NOISY_MARK};
use crate::model::{Harness, Record, Results, Skip};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

/// The op of the call-overhead section (rendered as bars, not as a size table).
pub const CALL_OVERHEAD_OP: &str = "empty-call";

/// A summary table: one row per group, one column per path.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Summary {
    /// Column headers: paths, `<path> (go)` for the Go harness.
    pub columns: Vec<String>,
    /// Rows: group title, then one cell per column (empty when not measured).
    pub rows: Vec<(String, Vec<String>)>,
}

impl Summary {
    fn set(&mut self, row: &str, col: &str, cell: String) {
        let c = match self.columns.iter().position(|x| x == col) {
            Some(c) => c,
            None => {
                self.columns.push(col.to_string());
                self.rows.iter_mut().for_each(|r| r.1.push(String::new()));
                self.columns.len() - 1
            }
        };
        let r = match self.rows.iter().position(|x| x.0 == row) {
            Some(r) => r,
            None => {
                self.rows
                    .push((row.to_string(), vec![String::new(); self.columns.len()]));
                self.rows.len() - 1
            }
        };
        self.rows[r].1[c] = cell;
    }

    /// Orders the columns: criterion's paths, then go's, each in
    /// [`crate::names::KNOWN_PATHS`] order.
    fn sort_columns(&mut self) {
        let key = |c: &String| {
            if let Some(p) = c.strip_suffix(" (go)") {
                (1, path_rank(p), c.clone())
            } else if let Some(p) = c.strip_suffix(" (python)") {
                (2, path_rank(p), c.clone())
            } else {
                (0, path_rank(c), c.clone())
            }
        };
        let mut order: Vec<usize> = (0..self.columns.len()).collect();
        order.sort_by_key(|&i| key(&self.columns[i]));
        self.columns = order.iter().map(|&i| self.columns[i].clone()).collect();
        for row in &mut self.rows {
            row.1 = order.iter().map(|&i| row.1[i].clone()).collect();
        }
    }

    pub(crate) fn write(&self, out: &mut String, corner: &str) {
        let _ = writeln!(out, "| {corner} | {} |", self.columns.join(" | "));
        let _ = writeln!(out, "| --- |{}", " ---: |".repeat(self.columns.len()));
        for (title, cells) in &self.rows {
            let _ = writeln!(out, "| {title} | {} |", cells.join(" | "));
        }
    }
}

fn column_name(path: &str, harness: Harness) -> String {
    match harness {
        Harness::Criterion => path.to_string(),
        Harness::Go => format!("{path} (go)"),
        Harness::Sklearn => format!("{path} (python)"),
    }
}

/// The harnesses, in the order the report shows them, with their labels.
pub const HARNESSES: [(Harness, &str); 3] = [
    (Harness::Criterion, "Rust host (criterion)"),
    (Harness::Go, "Go host (go test)"),
    (
        Harness::Sklearn,
        "Python peers: scikit-learn, XGBoost random forest (n_jobs=1)",
    ),
];

/// The fastest path of every group and size, per harness ([`fastest_paths`]).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FastestTable {
    /// The harnesses that have a column, with their labels.
    pub harnesses: Vec<(Harness, String)>,
    /// Rows: group title, size, then one cell per harness (empty when that harness did
    /// not measure the group at that size).
    pub rows: Vec<(String, u64, Vec<String>)>,
}

/// Per group (op, element type, family) and size, the fastest path of each harness, with
/// the paths whose confidence intervals overlap its own named as a tie:
/// `rust-native-par 1.20 ms (tie: rust-native-simd 1.22 ms)`. Call overhead has its own
/// section and is left out. `None` when nothing was measured.
pub fn fastest_summary(results: &Results) -> Option<FastestTable> {
    let mut t = FastestTable::default();
    for &(h, label) in &HARNESSES {
        if results.records.iter().any(|r| r.harness == h) {
            t.harnesses.push((h, label.to_string()));
        }
    }
    for group in groups(results) {
        if group.op == CALL_OVERHEAD_OP {
            continue;
        }
        let mut rows: BTreeMap<u64, Vec<String>> = BTreeMap::new();
        for (i, (h, _)) in t.harnesses.iter().enumerate() {
            let by = by_path(results, &group, *h);
            for (n, f) in fastest_paths(&by) {
                let mut cell = format!("{} {}", f.best.path, fmt_ns(f.best.median));
                if !f.ties.is_empty() {
                    let ties: Vec<String> = f
                        .ties
                        .iter()
                        .map(|r| format!("{} {}", r.path, fmt_ns(r.median)))
                        .collect();
                    let _ = write!(cell, " (tie: {})", ties.join(", "));
                }
                rows.entry(n)
                    .or_insert_with(|| vec![String::new(); t.harnesses.len()])[i] = cell;
            }
        }
        for (n, cells) in rows {
            t.rows.push((group.title(), n, cells));
        }
    }
    (!t.rows.is_empty()).then_some(t)
}

/// The text of one crossover cell (see [`gpu_crossovers`]).
pub fn crossover_cell(x: &Crossover) -> String {
    match x {
        Crossover::Always { first, last } if first == last => {
            format!("always (n = {} only)", fmt_n(*first))
        }
        Crossover::Always { first, last } => {
            format!("always ({} … {})", fmt_n(*first), fmt_n(*last))
        }
        Crossover::Between {
            below,
            above,
            ratio,
            cpu_path,
            clean,
        } => {
            let mut how = String::new();
            if !clean {
                let _ = write!(
                    how,
                    "; not cleanly located: the intervals overlap at {}",
                    fmt_n(*below)
                );
            }
            if *above > below.saturating_mul(10) {
                how.push_str("; not located within one ×10 step: no size measured between");
            }
            format!(
                "between {} and {} ({} {cpu_path} at {}{how})",
                fmt_n(*below),
                fmt_n(*above),
                fmt_ratio(*ratio),
                fmt_n(*above),
            )
        }
        Crossover::Never { best_ratio, at } => {
            format!("never (best {} at {})", fmt_ratio(*best_ratio), fmt_n(*at))
        }
    }
}

/// Where each GPU path overtakes the fastest CPU path ([`is_cpu_path`]) of the same group
/// (so the same family) and harness ([`crossover`]): for `resident == false` the paths
/// whose data starts in host memory (`gpu-wgpu`, `gpu-cuda`: pageable; `gpu-cuda-pinned`),
/// for `resident == true` those whose data is on the device (`gpu-*-resident`, and every
/// GPU path of sgemm: [`is_resident`]); transfers (h2d, d2h) have no crossover. Cells:
/// `between <n1> and <n2> (<ratio> <cpu path> at <n2>)` — at n2 and above the GPU's
/// interval lies below the CPU's, at n1 above it (else the cell says the crossover is not
/// cleanly located, and why); `always (…)`; `never (best <ratio> at <n>)`; or that no
/// CPU path of the family was measured. `None` when no such GPU path was measured.
pub fn gpu_crossovers(results: &Results, resident: bool) -> Result<Option<Summary>> {
    let mut s = Summary::default();
    for group in groups(results) {
        if TRANSFER_OPS.contains(&group.op.as_str()) {
            continue;
        }
        for harness in [Harness::Criterion, Harness::Go] {
            let by = by_path(results, &group, harness);
            for path in by
                .keys()
                .filter(|p| is_gpu_path(p) && is_resident(&group.op, p) == resident)
            {
                let cell = match crossover(&by, path)? {
                    Some((x, _)) => crossover_cell(&x),
                    None => "– (no CPU path of this family measured at its sizes)".to_string(),
                };
                s.set(&group.title(), &column_name(path, harness), cell);
            }
        }
    }
    s.sort_columns();
    Ok((!s.rows.is_empty()).then_some(s))
}

/// Where each WebAssembly path ([`is_wasm_path`]) sits against the fastest one-thread
/// native path ([`is_one_thread_native`]) of the same group (so the same family) and
/// harness at the same size — a path on every core ([`is_parallel_wasm_path`]) or one that
/// hands its work to a device ([`is_offloading_wasm_path`]) against
/// the fastest CPU path of one thread and all cores ([`is_cpu_path`]): `<ratio at the
/// smallest n> → <ratio at the largest n> (vs <path>)`. `None` when no wasm path was
/// measured next to such a path.
pub fn wasm_vs_native(results: &Results) -> Result<Option<Summary>> {
    let mut s = Summary::default();
    for group in groups(results) {
        for harness in [Harness::Criterion, Harness::Go] {
            let by = by_path(results, &group, harness);
            for (path, pts) in by.iter().filter(|(p, _)| is_wasm_path(p)) {
                let mut ratios: Vec<(f64, &str)> = Vec::new();
                let baseline: fn(&str) -> bool =
                    if is_parallel_wasm_path(path) || is_offloading_wasm_path(path) {
                        is_cpu_path
                    } else {
                        is_one_thread_native
                    };
                for (n, r) in pts {
                    if let Some(b) = fastest_at(&by, *n, baseline) {
                        ratios.push((ratio(r, b)?, b.path.as_str()));
                    }
                }
                let cell = match ratios.as_slice() {
                    [] => continue,
                    [(one, b)] => format!("{} (vs {b})", fmt_ratio(*one)),
                    [(first, b0), .., (last, b1)] => {
                        let vs = if b0 == b1 {
                            b0.to_string()
                        } else {
                            format!("{b0} → {b1}")
                        };
                        format!("{} → {} (vs {vs})", fmt_ratio(*first), fmt_ratio(*last))
                    }
                };
                s.set(&group.title(), &column_name(path, harness), cell);
            }
        }
    }
    s.sort_columns();
    Ok((!s.rows.is_empty()).then_some(s))
}

/// The diabetes sizes of the forest benches: 353 training rows, 89 test rows.
pub const FOREST_DIABETES: [(&str, u64, &str); 2] = [
    ("forest-train", 353, "train (353 rows)"),
    ("forest-predict", 89, "predict (89 rows)"),
];

/// The random forest on the diabetes split, one row per (harness, path): median train
/// and predict time with the ratio to the fastest CPU path of the same harness (`–` where
/// the harness has none, as the scikit-learn peer). `None` when no forest bench ran on
/// that split.
pub fn forest_summary(results: &Results) -> Result<Option<Summary>> {
    let mut s = Summary {
        columns: FOREST_DIABETES.iter().map(|c| c.2.to_string()).collect(),
        rows: Vec::new(),
    };
    let mut recs: Vec<&Record> = results
        .records
        .iter()
        .filter(|r| {
            FOREST_DIABETES
                .iter()
                .any(|(op, n, _)| r.op == *op && r.n == *n)
        })
        .collect();
    recs.sort_by_key(|r| (r.harness, path_rank(&r.path), r.path.clone()));
    for r in recs {
        let col = FOREST_DIABETES
            .iter()
            .find(|(op, _, _)| r.op == *op)
            .expect("filtered")
            .2;
        let by = by_path(results, &Group::of(r), r.harness);
        let ratio = match fastest_at(&by, r.n, is_cpu_path) {
            Some(b) => format!("{} {}", fmt_ratio(ratio(r, b)?), b.path),
            None => "–".to_string(),
        };
        let mark = if r.noisy() { NOISY_MARK } else { "" };
        s.set(
            &column_name(&r.path, r.harness),
            col,
            format!("{} ({ratio}){mark}", fmt_ns(r.median)),
        );
    }
    Ok((!s.rows.is_empty()).then_some(s))
}

/// The `empty-call` records, criterion's first, each harness in
/// [`crate::names::KNOWN_PATHS`] order.
pub fn call_overhead(results: &Results) -> Vec<&Record> {
    let mut calls: Vec<&Record> = results
        .records
        .iter()
        .filter(|r| r.op == CALL_OVERHEAD_OP)
        .collect();
    calls.sort_by_key(|r| (r.harness, path_rank(&r.path), r.path.clone()));
    calls
}

/// The rows of the skipped-paths table: one per (harness, path, reason), listing the
/// benchmark groups and sizes it covers (`all` when the line named no group).
pub fn skipped_rows(results: &Results) -> Vec<[String; 4]> {
    grouped_rows(&results.skipped)
}

/// The rows of the measured-twice table: one per (harness, path), listing the benchmark
/// groups and sizes timed twice (`results.json` keeps each pair of source files).
pub fn duplicate_rows(results: &Results) -> Vec<[String; 4]> {
    let generic: Vec<Skip> = results
        .duplicates
        .iter()
        .map(|d| Skip {
            reason: "timed by two benches; the first source is kept".into(),
            ..d.clone()
        })
        .collect();
    grouped_rows(&generic)
}

/// Groups skip-like lines by (harness, path, reason) into table rows: harness, path, the
/// groups and the range of sizes covered (`all` when a line named no group), reason.
fn grouped_rows(skips: &[Skip]) -> Vec<[String; 4]> {
    // (harness, path, reason) -> (groups, sizes)
    type Covered<'a> = (BTreeSet<&'a str>, BTreeSet<u64>);
    let mut by: BTreeMap<(Harness, &str, &str), Covered> = BTreeMap::new();
    for s in skips {
        let e = by
            .entry((s.harness, s.path.as_str(), s.reason.as_str()))
            .or_default();
        e.0.insert(s.op.as_deref().unwrap_or("all"));
        if let Some(n) = s.n {
            e.1.insert(n);
        }
    }
    by.into_iter()
        .map(|((h, path, reason), (ops, ns))| {
            let mut what = ops.into_iter().collect::<Vec<_>>().join(", ");
            match (ns.first(), ns.last()) {
                (Some(a), Some(b)) if a == b => {
                    let _ = write!(what, " (n = {})", fmt_n(*a));
                }
                (Some(a), Some(b)) => {
                    let _ = write!(what, " (n = {} … {})", fmt_n(*a), fmt_n(*b));
                }
                _ => {}
            }
            [
                h.to_string(),
                path.to_string(),
                what,
                reason.replace('|', "\\|"),
            ]
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The parallel-for guest runs on every core: it is set against the fastest CPU path
    /// of one thread and all cores (here rust-native-par), the one-thread wasm guest
    /// against the fastest one-thread native path only; a wasm guest that hands its work
    /// to a device (wasm-cpp-wasi-gpu-cuda) is set against all cores too.
    #[test]
    fn a_wasm_path_on_every_core_is_set_against_all_cores() {
        use crate::analysis::tests::rec;
        use crate::model::Family;
        let c = Harness::Criterion;
        let f = Some(Family::Fast);
        let r = Results {
            schema: crate::model::SCHEMA_VERSION,
            environment: Default::default(),
            records: vec![
                rec("sum", f, "rust-native-simd", 1000, 100.0, c),
                rec("sum", f, "rust-native-par", 1000, 40.0, c),
                rec("sum", f, "wasm-rust", 1000, 150.0, c),
                rec("sum", f, "wasm-rust-parallel-for", 1000, 60.0, c),
                rec("sum", f, "wasm-cpp-wasi-gpu-cuda", 1000, 20.0, c),
            ],
            skipped: vec![],
            devices: vec![],
            failures: vec![],
            duplicates: vec![],
        };
        let w = wasm_vs_native(&r).unwrap().unwrap();
        assert_eq!(
            w.columns,
            vec![
                "wasm-rust",
                "wasm-cpp-wasi-gpu-cuda",
                "wasm-rust-parallel-for"
            ]
        );
        assert_eq!(
            w.rows[0].1,
            vec![
                "1.50× (vs rust-native-simd)".to_string(),
                "0.50× (vs rust-native-par)".to_string(),
                "1.50× (vs rust-native-par)".to_string()
            ]
        );
    }

    #[test]
    fn crossover_cells() {
        let between = |below, above, clean| Crossover::Between {
            below,
            above,
            ratio: 0.5,
            cpu_path: "rust-native-par".into(),
            clean,
        };
        assert_eq!(
            crossover_cell(&between(1000, 10_000, true)),
            "between 1,000 and 10,000 (0.50× rust-native-par at 10,000)"
        );
        assert_eq!(
            crossover_cell(&between(1000, 100_000, false)),
            "between 1,000 and 100,000 (0.50× rust-native-par at 100,000; not cleanly \
             located: the intervals overlap at 1,000; not located within one ×10 step: no \
             size measured between)"
        );
        assert_eq!(
            crossover_cell(&Crossover::Always {
                first: 256,
                last: 1024
            }),
            "always (256 … 1,024)"
        );
        assert_eq!(
            crossover_cell(&Crossover::Never {
                best_ratio: 2.0,
                at: 1000
            }),
            "never (best 2.00× at 1,000)"
        );
    }
}
