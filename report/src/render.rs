//! Renders [`Results`] as `REPORT.md`. The summary at the top answers, per harness:
//! the fastest path of every group (op, element type, family) and size, with the paths
//! tied with it (overlapping confidence intervals); where each GPU path overtakes the
//! fastest CPU path of its family, separately for data starting in host memory and data
//! resident on the device; WebAssembly against the fastest one-thread native path of its
//! family; the random forest. Then one section per group (`sum (f64, fast)`) with a table
//! per harness of median time and ratio to the fastest CPU path of that group, harness and
//! size (named in the last column), call overhead, failures, skipped paths, noisy results
//! and the environment. Every ratio comes from [`crate::analysis::ratio`].

use crate::analysis::{
    by_path, crossover, fastest_at, fastest_paths, groups, is_cpu_path, is_gpu_path,
    is_one_thread_native, is_resident, is_wasm_path, path_rank, ratio, Crossover, Group,
    TRANSFER_OPS,
};
use crate::error::Result;
use crate::model::{Harness, Record, Results, NOISY_CV};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

/// The op of the call-overhead section (rendered as bars, not as a size table).
pub const CALL_OVERHEAD_OP: &str = "empty-call";

/// How many noisy results the report lists by name (noisiest first).
pub const NOISY_LISTED: usize = 10;

/// Mark appended to a noisy cell.
pub const NOISY_MARK: &str = "†";

/// Formats nanoseconds with three significant digits and a unit (ns, µs, ms, s).
pub fn fmt_ns(ns: f64) -> String {
    let (v, unit) = if ns < 1e3 {
        (ns, "ns")
    } else if ns < 1e6 {
        (ns / 1e3, "µs")
    } else if ns < 1e9 {
        (ns / 1e6, "ms")
    } else {
        (ns / 1e9, "s")
    };
    let digits = if v < 10.0 {
        2
    } else if v < 100.0 {
        1
    } else {
        0
    };
    format!("{v:.digits$} {unit}")
}

/// Formats a size with thousands separators (`1,000,000`).
pub fn fmt_n(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Formats a ratio as `1.23×`: two decimals from 1 to 10, three significant digits
/// below 1 (`0.0412×`), whole numbers from 100.
pub fn fmt_ratio(r: f64) -> String {
    if r >= 100.0 {
        format!("{r:.0}×")
    } else if r >= 10.0 {
        format!("{r:.1}×")
    } else if r >= 0.1 || r == 0.0 {
        format!("{r:.2}×")
    } else {
        let digits = (2.0 - r.log10().floor()) as usize;
        format!("{r:.digits$}×")
    }
}

/// The throughput shown instead of a ratio for ops where a ratio to rust-native means
/// nothing: `h2d`/`d2h` in GB/s (n bytes per call, 10⁹ bytes per GB), `sgemm` in
/// GFLOP/s or TFLOP/s (2·n³ floating-point operations per n×n×n product).
pub fn throughput(op: &str, n: u64, ns: f64) -> Option<String> {
    match op {
        "h2d" | "d2h" => Some(format!("{:.1} GB/s", n as f64 / ns)),
        "sgemm" => {
            let gflops = 2.0 * (n as f64).powi(3) / ns;
            Some(if gflops >= 1000.0 {
                format!("{:.1} TFLOP/s", gflops / 1000.0)
            } else {
                format!("{gflops:.1} GFLOP/s")
            })
        }
        _ => None,
    }
}

/// One table: rows are sizes, columns paths, for one group and harness.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    /// Column headers (paths).
    pub paths: Vec<String>,
    /// Rows: size, then per path the cell text (empty when not measured).
    pub rows: Vec<(u64, Vec<String>)>,
    /// Per row, the path its ratios are taken against: the fastest CPU path of the group
    /// and harness at that size (`–` when none was measured, or the cells show
    /// throughput).
    pub against: Vec<String>,
}

/// Builds the table of one group and harness. Cells read `<median> (<ratio>)`, the ratio
/// taken against the fastest CPU path ([`is_cpu_path`]) of the same group and harness at
/// that size, which the row names in [`Table::against`] (for h2d, d2h and sgemm the
/// throughput instead, see [`throughput`]); the fastest cell of a row in bold, noisy
/// cells marked with [`NOISY_MARK`].
pub fn table(results: &Results, group: &Group, harness: Harness) -> Result<Option<Table>> {
    let by = by_path(results, group, harness);
    if by.is_empty() {
        return Ok(None);
    }
    let mut paths: Vec<String> = by.keys().map(|p| p.to_string()).collect();
    paths.sort_by_key(|p| (path_rank(p), p.clone()));
    let ns: BTreeSet<u64> = by.values().flat_map(|m| m.keys().copied()).collect();
    let (mut rows, mut against) = (Vec::new(), Vec::new());
    for n in ns {
        let row: Vec<Option<&Record>> = paths
            .iter()
            .map(|p| by.get(p.as_str()).and_then(|m| m.get(&n)).copied())
            .collect();
        let best = row
            .iter()
            .flatten()
            .map(|r| r.median)
            .fold(f64::INFINITY, f64::min);
        let base = match throughput(&group.op, n, 1.0) {
            Some(_) => None,
            None => fastest_at(&by, n, is_cpu_path),
        };
        let mut cells = Vec::with_capacity(row.len());
        for r in &row {
            let Some(r) = r else {
                cells.push(String::new());
                continue;
            };
            let t = fmt_ns(r.median);
            let t = if r.median == best && row.iter().flatten().count() > 1 {
                format!("**{t}**")
            } else {
                t
            };
            let ratio = match (throughput(&group.op, n, r.median), base) {
                (Some(tp), _) => tp,
                (None, Some(b)) => fmt_ratio(ratio(r, b)?),
                (None, None) => "–".to_string(),
            };
            let mark = if r.noisy() { NOISY_MARK } else { "" };
            cells.push(format!("{t} ({ratio}){mark}"));
        }
        against.push(base.map_or("–".to_string(), |b| b.path.clone()));
        rows.push((n, cells));
    }
    Ok(Some(Table {
        paths,
        rows,
        against,
    }))
}

fn write_table(out: &mut String, t: &Table) {
    let _ = writeln!(out, "| n | {} | ratio against |", t.paths.join(" | "));
    let _ = writeln!(out, "| ---: |{} --- |", " ---: |".repeat(t.paths.len()));
    for ((n, cells), base) in t.rows.iter().zip(&t.against) {
        let _ = writeln!(out, "| {} | {} | {base} |", fmt_n(*n), cells.join(" | "));
    }
}

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

    fn write(&self, out: &mut String, corner: &str) {
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
    (Harness::Sklearn, "scikit-learn peer (Python, n_jobs=1)"),
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
/// harness at the same size: `<ratio at the smallest n> → <ratio at the largest n>
/// (vs <path>)`. `None` when no wasm path was measured next to such a path.
pub fn wasm_vs_native(results: &Results) -> Result<Option<Summary>> {
    let mut s = Summary::default();
    for group in groups(results) {
        for harness in [Harness::Criterion, Harness::Go] {
            let by = by_path(results, &group, harness);
            for (path, pts) in by.iter().filter(|(p, _)| is_wasm_path(p)) {
                let mut ratios: Vec<(f64, &str)> = Vec::new();
                for (n, r) in pts {
                    if let Some(b) = fastest_at(&by, *n, is_one_thread_native) {
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
    // (harness, path, reason) -> (groups, sizes)
    type Covered<'a> = (BTreeSet<&'a str>, BTreeSet<u64>);
    let mut by: BTreeMap<(Harness, &str, &str), Covered> = BTreeMap::new();
    for s in &results.skipped {
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

/// Renders the whole REPORT.md. `plots` maps a plot key ([`crate::plots::plot_key`], or
/// `call-overhead`) to the plot's path relative to the report.
pub fn markdown(results: &Results, plots: &BTreeMap<String, String>) -> Result<String> {
    let env = &results.environment;
    let mut o = String::new();
    let date = env.date.get(..10).unwrap_or(&env.date);
    let gpu = env
        .gpus
        .first()
        .map(|g| format!(" ({})", g.name))
        .unwrap_or_default();
    let _ = writeln!(o, "# offload benchmarks — {}{gpu} — {date}\n", env.host);
    let _ = writeln!(
        o,
        "Median time per call; in brackets the ratio to the fastest CPU path of the same \
         op, element type, algorithm family and harness at the same size, named in each \
         table's last column (for h2d/d2h the bandwidth, for sgemm the FLOP rate). A ratio \
         is never formed across families or harnesses (docs/benchmarks.md): `strict` adds \
         left to right, `fast` in any order. **Bold**: fastest path of the row. \
         {NOISY_MARK}: noisy (coefficient of variation over {:.0} %). `n` counts elements \
         (sgemm: matrix side; h2d/d2h: bytes). Harnesses: *criterion* = Rust host \
         (`cargo bench`), *go* = Go host (`go test -bench`), *sklearn* = scikit-learn's \
         RandomForestRegressor (`scripts/sklearn_forest.py`, the forest's peer). Raw \
         numbers with confidence intervals and samples: `results.json`.\n",
        NOISY_CV * 100.0
    );

    let _ = writeln!(o, "## Summary\n");
    let fastest = fastest_summary(results);
    if let Some(t) = &fastest {
        let _ = writeln!(
            o,
            "### Fastest path\n\nPer op, element type, family and size, the fastest path of \
             each harness and its median; *tie*: paths whose confidence interval overlaps \
             the fastest's.\n"
        );
        let labels: Vec<&str> = t.harnesses.iter().map(|h| h.1.as_str()).collect();
        let _ = writeln!(o, "| op | n | {} |", labels.join(" | "));
        let _ = writeln!(o, "| --- | ---: |{}", " --- |".repeat(labels.len()));
        for (title, n, cells) in &t.rows {
            let _ = writeln!(o, "| {title} | {} | {} |", fmt_n(*n), cells.join(" | "));
        }
        o.push('\n');
    }
    let host = gpu_crossovers(results, false)?;
    let resident = gpu_crossovers(results, true)?;
    if host.is_some() || resident.is_some() {
        let _ = writeln!(
            o,
            "### GPU crossover\n\nWhere each GPU path overtakes the fastest CPU path of the \
             same family and harness: from the upper size on, the GPU's confidence interval \
             lies entirely below the CPU's at every measured size, at the lower size it does \
             not (ratio = GPU time / fastest CPU time; *(go)*: Go host).\n"
        );
    }
    for (t, what) in [
        (
            &host,
            "Data starting in host memory — pageable (`gpu-wgpu`, `gpu-cuda`) or pinned \
             (`gpu-cuda-pinned`); the transfers are inside the timing:",
        ),
        (
            &resident,
            "Data resident on the device (`gpu-*-resident`, and every GPU path of sgemm); \
             no transfer is timed:",
        ),
    ] {
        if let Some(t) = t {
            let _ = writeln!(o, "{what}\n");
            t.write(&mut o, "op");
            o.push('\n');
        }
    }
    let wasm = wasm_vs_native(results)?;
    if let Some(t) = &wasm {
        let _ = writeln!(
            o,
            "### WebAssembly against native\n\nEach wasm path against the fastest one-thread \
             native path of the same family and harness: time ratio at the smallest → the \
             largest measured n:\n"
        );
        t.write(&mut o, "op");
        o.push('\n');
    }
    let forest = forest_summary(results)?;
    if let Some(t) = &forest {
        let _ = writeln!(
            o,
            "### Random forest\n\nRandom forest (200 trees) on the diabetes split, median \
             time and ratio to the fastest CPU path of the same harness; *(go)*: Go host, \
             *(python)*: scikit-learn (no ratio: a ratio is only formed within a harness):\n"
        );
        t.write(&mut o, "path");
        o.push('\n');
    }
    if fastest.is_none() && host.is_none() && resident.is_none() && wasm.is_none() {
        let _ = writeln!(o, "No benchmark results.\n");
    }

    if !results.failures.is_empty() {
        let _ = writeln!(
            o,
            "## Failures\n\nThese benchmarks failed (their numbers are missing below) or were \
             measured twice (one is kept).\n\n\
             | harness | path | failure |\n| --- | --- | --- |"
        );
        for f in &results.failures {
            let _ = writeln!(
                o,
                "| {} | {} | {} |",
                f.harness,
                f.path,
                f.reason.replace('|', "\\|")
            );
        }
        o.push('\n');
    }

    let _ = writeln!(o, "## Skipped paths\n");
    let skipped = skipped_rows(results);
    if skipped.is_empty() {
        let _ = writeln!(o, "None: every path the harnesses know ran.\n");
    } else {
        let _ = writeln!(
            o,
            "| harness | path | benchmarks | reason |\n| --- | --- | --- | --- |"
        );
        for row in &skipped {
            let _ = writeln!(o, "| {} |", row.join(" | "));
        }
        o.push('\n');
    }

    for group in groups(results) {
        if group.op == CALL_OVERHEAD_OP {
            continue;
        }
        let _ = writeln!(o, "## {}\n", group.title());
        for (harness, label) in HARNESSES {
            if let Some(t) = table(results, &group, harness)? {
                let _ = writeln!(o, "### {label}\n");
                write_table(&mut o, &t);
                o.push('\n');
                if let Some(p) = plots.get(&crate::plots::plot_key(&group, harness)) {
                    let _ = writeln!(o, "![{}, {label}]({p})\n", group.title());
                }
            }
        }
    }

    let calls = call_overhead(results);
    if !calls.is_empty() {
        let _ = writeln!(
            o,
            "## Call overhead\n\nOne call of an empty export (host → guest → host).\n"
        );
        let _ = writeln!(
            o,
            "| harness | path | median | interval | CV |\n| --- | --- | ---: | ---: | ---: |"
        );
        for r in calls {
            let _ = writeln!(
                o,
                "| {} | {} | {}{} | {} – {} ({:.1} %) | {:.1} % |",
                r.harness,
                r.path,
                fmt_ns(r.median),
                if r.noisy() { NOISY_MARK } else { "" },
                fmt_ns(r.ci_low),
                fmt_ns(r.ci_high),
                r.ci_level * 100.0,
                r.cv * 100.0
            );
        }
        o.push('\n');
        if let Some(p) = plots.get("call-overhead") {
            let _ = writeln!(o, "![call overhead]({p})\n");
        }
    }

    let _ = writeln!(o, "## Noisy results (CV > {:.0} %)\n", NOISY_CV * 100.0);
    let noisy: Vec<&Record> = results.records.iter().filter(|r| r.noisy()).collect();
    if noisy.is_empty() {
        let _ = writeln!(o, "None.\n");
    } else {
        if noisy.len() > NOISY_LISTED {
            let _ = writeln!(
                o,
                "{} of {} results are noisy (all marked {NOISY_MARK} in the tables); the \
                 {NOISY_LISTED} noisiest:\n",
                noisy.len(),
                results.records.len()
            );
        }
        let mut noisy = noisy;
        noisy.sort_by(|a, b| b.cv.total_cmp(&a.cv));
        for r in noisy.into_iter().take(NOISY_LISTED) {
            let _ = writeln!(
                o,
                "- `{}`: CV {:.1} % over {} samples",
                r.key(),
                r.cv * 100.0,
                r.samples.len()
            );
        }
        o.push('\n');
    }

    let _ = writeln!(o, "## Environment\n\n| | |\n| --- | --- |");
    let mut row = |k: &str, v: &str| {
        let _ = writeln!(o, "| {k} | {} |", v.replace('|', "\\|"));
    };
    row("date", &env.date);
    row("host", &env.host);
    row("command", &format!("`{}`", env.command_line));
    row("git commit", &env.git_commit);
    row("OS", &env.os);
    row(
        "CPU",
        &format!("{} ({} logical CPUs)", env.cpu_model, env.cpu_cores),
    );
    row("memory", &env.memory);
    for (path, n) in &env.threads {
        row(&format!("threads {path}"), &n.to_string());
    }
    if env.gpus.is_empty() {
        row("GPU", env.gpu_note.as_deref().unwrap_or("none"));
    }
    for g in &env.gpus {
        row(
            "GPU",
            &format!("{} (driver {}, {})", g.name, g.driver, g.memory),
        );
    }
    for d in &results.devices {
        row(
            &format!("device {} ({})", d.path, d.harness),
            &d.description,
        );
    }
    for (k, v) in &env.tools {
        row(k, v);
    }
    for (k, v) in &env.libraries {
        row(k, v);
    }
    for g in &env.guests {
        let simd = match g.simd128 {
            Some(true) => ", simd128",
            Some(false) => ", no simd128",
            None => "",
        };
        row(
            &format!("guest {}", g.path),
            &format!("{}: {} `{}`{simd}", g.language, g.compiler, g.flags),
        );
    }
    Ok(o)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(fmt_ns(12.345), "12.3 ns");
        assert_eq!(fmt_ns(1234.0), "1.23 µs");
        assert_eq!(fmt_ns(456_789_000.0), "457 ms");
        assert_eq!(fmt_n(1_000_000), "1,000,000");
        assert_eq!(fmt_n(100), "100");
        assert_eq!(fmt_ratio(0.5), "0.50×");
        assert_eq!(fmt_ratio(0.0412), "0.0412×");
        assert_eq!(fmt_ratio(0.00123), "0.00123×");
        // 1 GiB in 0.1 s: 10.7 GB/s; 4096³ SGEMM in 2 ms: 68.7 TFLOP/s.
        assert_eq!(throughput("h2d", 1 << 30, 1e8).unwrap(), "10.7 GB/s");
        assert_eq!(throughput("sgemm", 4096, 2e6).unwrap(), "68.7 TFLOP/s");
        assert_eq!(throughput("sum", 10, 1.0), None);
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
