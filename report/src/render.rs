//! Renders [`Results`] as `REPORT.md`: summary tables (GPU crossovers, wasm against
//! native), per-op tables of median time and ratio to rust-native, call overhead,
//! skipped paths, noisy results and the environment.

use crate::model::{Harness, Record, Results, NOISY_CV};
use crate::names::{KNOWN_OPS, KNOWN_PATHS};
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

fn op_rank(op: &str) -> usize {
    KNOWN_OPS
        .iter()
        .position(|o| *o == op)
        .unwrap_or(KNOWN_OPS.len())
}

fn path_rank(path: &str) -> usize {
    KNOWN_PATHS
        .iter()
        .position(|p| *p == path)
        .unwrap_or(KNOWN_PATHS.len())
}

/// The (op, dtype) groups present, in the order of [`KNOWN_OPS`], default dtype first.
pub fn groups(results: &Results) -> Vec<(String, String)> {
    // Within an op, its default dtype (f64 for vector ops) comes first.
    let set: BTreeSet<(usize, String, bool, String)> = results
        .records
        .iter()
        .map(|r| {
            let other = r.dtype != crate::names::default_dtype(&r.op);
            (op_rank(&r.op), r.op.clone(), other, r.dtype.clone())
        })
        .collect();
    set.into_iter().map(|(_, o, _, d)| (o, d)).collect()
}

/// Section title of a group: `sum (f64)`.
pub fn group_title(op: &str, dtype: &str) -> String {
    match dtype {
        "none" => op.to_string(),
        _ => format!("{op} ({dtype})"),
    }
}

/// File stem of a group's plot: `sum-f64`.
pub fn group_stem(op: &str, dtype: &str) -> String {
    format!("{op}-{dtype}")
}

/// Is this a native CPU path (the ones a GPU path must beat)?
pub fn is_cpu_path(path: &str) -> bool {
    matches!(
        path,
        "rust-native" | "rust-native-simd" | "cpu" | "go" | "go-unrolled" | "rust-cgo"
    )
}

/// Is this a WebAssembly path (wasmtime from Rust or Go, or wazero)?
pub fn is_wasm_path(path: &str) -> bool {
    path.starts_with("wasm-") || path.starts_with("wazero-") || path == "wasmtime-go"
}

/// The path ratios of an (op, dtype) group are taken against: criterion's `rust-native`
/// when the group has it, else criterion's `cpu` (the GPU benches' CPU reference), else
/// none. One path per group, so a column never mixes baselines.
pub fn baseline_path(results: &Results, op: &str, dtype: &str) -> Option<&'static str> {
    ["rust-native", "cpu"].into_iter().find(|p| {
        results.records.iter().any(|r| {
            r.harness == Harness::Criterion && r.op == op && r.dtype == dtype && r.path == *p
        })
    })
}

/// The baseline record at size `n` of an (op, dtype) group ([`baseline_path`]); `None`
/// when the baseline path was not measured at that size.
pub fn baseline<'a>(results: &'a Results, op: &str, dtype: &str, n: u64) -> Option<&'a Record> {
    let p = baseline_path(results, op, dtype)?;
    results.records.iter().find(|r| {
        r.harness == Harness::Criterion && r.op == op && r.dtype == dtype && r.n == n && r.path == p
    })
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

/// One table: rows are sizes, columns paths, for one (op, dtype, harness).
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    /// Column headers (paths).
    pub paths: Vec<String>,
    /// Rows: size, then per path the cell text (empty when not measured).
    pub rows: Vec<(u64, Vec<String>)>,
}

/// Builds the table of one (op, dtype, harness). Cells read `<median> (<ratio>)` (or
/// `(<throughput>)`, see [`throughput`]), the fastest cell of a row in bold, noisy cells
/// marked with [`NOISY_MARK`].
pub fn table(results: &Results, op: &str, dtype: &str, harness: Harness) -> Option<Table> {
    let recs: Vec<&Record> = results
        .records
        .iter()
        .filter(|r| r.op == op && r.dtype == dtype && r.harness == harness)
        .collect();
    if recs.is_empty() {
        return None;
    }
    let mut paths: Vec<String> = recs
        .iter()
        .map(|r| r.path.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    paths.sort_by_key(|p| (path_rank(p), p.clone()));
    let ns: BTreeSet<u64> = recs.iter().map(|r| r.n).collect();
    let rows = ns
        .into_iter()
        .map(|n| {
            let row: Vec<Option<&Record>> = paths
                .iter()
                .map(|p| recs.iter().copied().find(|r| r.n == n && &r.path == p))
                .collect();
            let best = row
                .iter()
                .flatten()
                .map(|r| r.median)
                .fold(f64::INFINITY, f64::min);
            let base = baseline(results, op, dtype, n).map(|b| b.median);
            let cells = row
                .iter()
                .map(|r| match r {
                    None => String::new(),
                    Some(r) => {
                        let t = fmt_ns(r.median);
                        let t = if r.median == best && row.iter().flatten().count() > 1 {
                            format!("**{t}**")
                        } else {
                            t
                        };
                        let ratio = match throughput(op, n, r.median) {
                            Some(tp) => tp,
                            None => base.map_or("–".to_string(), |b| fmt_ratio(r.median / b)),
                        };
                        let mark = if r.noisy() { NOISY_MARK } else { "" };
                        format!("{t} ({ratio}){mark}")
                    }
                })
                .collect();
            (n, cells)
        })
        .collect();
    Some(Table { paths, rows })
}

fn write_table(out: &mut String, t: &Table) {
    let _ = writeln!(out, "| n | {} |", t.paths.join(" | "));
    let _ = writeln!(out, "| ---: |{}", " ---: |".repeat(t.paths.len()));
    for (n, cells) in &t.rows {
        let _ = writeln!(out, "| {} | {} |", fmt_n(*n), cells.join(" | "));
    }
}

/// A summary table: one row per (op, dtype) group, one column per path.
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

    /// Orders the columns: criterion's paths, then go's, each in [`KNOWN_PATHS`] order.
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

type ByPath<'a> = BTreeMap<&'a str, BTreeMap<u64, &'a Record>>;

/// Each group's records of one harness, by path then size.
fn by_path<'a>(results: &'a Results, op: &str, dtype: &str, harness: Harness) -> ByPath<'a> {
    let mut m: ByPath = BTreeMap::new();
    for r in results
        .records
        .iter()
        .filter(|r| r.op == op && r.dtype == dtype && r.harness == harness)
    {
        m.entry(r.path.as_str()).or_default().insert(r.n, r);
    }
    m
}

/// Where each GPU path overtakes the fastest native CPU path of its harness
/// ([`is_cpu_path`]) at the same size: the crossover is the smallest measured n from
/// which the GPU path is faster at every larger measured n. Cells (kept short: the
/// per-op tables have every number): `n ≥ <n> (<ratio there>)`, `all n (<sizes>)` when
/// faster throughout, or `never (best <ratio> at <n>)`.
/// `None` when no GPU path was measured next to a CPU path.
pub fn gpu_crossovers(results: &Results) -> Option<Summary> {
    let mut s = Summary::default();
    for (op, dtype) in groups(results) {
        for harness in [Harness::Criterion, Harness::Go] {
            let by = by_path(results, &op, &dtype, harness);
            for (path, pts) in by.iter().filter(|(p, _)| p.starts_with("gpu-")) {
                // (n, gpu median, best cpu median, best cpu path)
                let cmp: Vec<(u64, f64, f64, &str)> = pts
                    .iter()
                    .filter_map(|(n, g)| {
                        by.iter()
                            .filter(|(p, _)| is_cpu_path(p))
                            .filter_map(|(p, m)| m.get(n).map(|r| (r.median, *p)))
                            .min_by(|a, b| a.0.total_cmp(&b.0))
                            .map(|(c, p)| (*n, g.median, c, p))
                    })
                    .collect();
                if cmp.is_empty() {
                    continue;
                }
                let first_win = (0..cmp.len()).find(|&i| cmp[i..].iter().all(|c| c.1 < c.2));
                let cell = match first_win {
                    Some(0) => format!(
                        "all n ({} … {})",
                        fmt_n(cmp[0].0),
                        fmt_n(cmp[cmp.len() - 1].0)
                    ),
                    Some(i) => format!(
                        "n ≥ {} ({})",
                        fmt_n(cmp[i].0),
                        fmt_ratio(cmp[i].1 / cmp[i].2),
                    ),
                    None => {
                        let c = cmp
                            .iter()
                            .min_by(|a, b| (a.1 / a.2).total_cmp(&(b.1 / b.2)))
                            .expect("non-empty");
                        format!("never (best {} at {})", fmt_ratio(c.1 / c.2), fmt_n(c.0))
                    }
                };
                s.set(&group_title(&op, &dtype), &column_name(path, harness), cell);
            }
        }
    }
    s.sort_columns();
    (!s.rows.is_empty()).then_some(s)
}

/// Where each WebAssembly path ([`is_wasm_path`]) sits against rust-native (criterion)
/// at the same size: `<ratio at the smallest n> → <ratio at the largest n>`.
/// `None` when no wasm path was measured next to rust-native.
pub fn wasm_vs_native(results: &Results) -> Option<Summary> {
    let mut s = Summary::default();
    for (op, dtype) in groups(results) {
        for harness in [Harness::Criterion, Harness::Go] {
            for (path, pts) in by_path(results, &op, &dtype, harness)
                .iter()
                .filter(|(p, _)| is_wasm_path(p))
            {
                let ratios: Vec<f64> = pts
                    .iter()
                    .filter_map(|(n, r)| {
                        baseline(results, &op, &dtype, *n)
                            .filter(|b| b.path == "rust-native")
                            .map(|b| r.median / b.median)
                    })
                    .collect();
                let cell = match ratios.as_slice() {
                    [] => continue,
                    [one] => fmt_ratio(*one),
                    [first, .., last] => format!("{} → {}", fmt_ratio(*first), fmt_ratio(*last)),
                };
                s.set(&group_title(&op, &dtype), &column_name(path, harness), cell);
            }
        }
    }
    s.sort_columns();
    (!s.rows.is_empty()).then_some(s)
}

/// The diabetes sizes of the forest benches: 353 training rows, 89 test rows.
pub const FOREST_DIABETES: [(&str, u64, &str); 2] = [
    ("forest-train", 353, "train (353 rows)"),
    ("forest-predict", 89, "predict (89 rows)"),
];

/// The random forest on the diabetes split, one row per (harness, path): median train
/// and predict time with the ratio to rust-native (criterion). `None` when no forest
/// bench ran on that split.
pub fn forest_summary(results: &Results) -> Option<Summary> {
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
        let ratio = baseline(results, &r.op, &r.dtype, r.n)
            .filter(|b| b.path == "rust-native")
            .map_or("–".to_string(), |b| fmt_ratio(r.median / b.median));
        let mark = if r.noisy() { NOISY_MARK } else { "" };
        s.set(
            &column_name(&r.path, r.harness),
            col,
            format!("{} ({ratio}){mark}", fmt_ns(r.median)),
        );
    }
    (!s.rows.is_empty()).then_some(s)
}

/// The `empty-call` records, criterion's first, each harness in [`KNOWN_PATHS`] order.
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
pub fn markdown(results: &Results, plots: &BTreeMap<String, String>) -> String {
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
        "Median time per call; in brackets the ratio to `rust-native` (criterion) at the same \
         size (`cpu` for groups that have no `rust-native`, like the f32 GPU benches; for \
         h2d/d2h the bandwidth, for sgemm the FLOP rate). **Bold**: fastest path of the \
         row. {NOISY_MARK}: noisy (coefficient of variation over {:.0} %). `n` counts elements \
         (sgemm: matrix side; h2d/d2h: bytes). Harnesses: *criterion* = Rust host \
         (`cargo bench`), *go* = Go host (`go test -bench`), *sklearn* = scikit-learn's \
         RandomForestRegressor (`scripts/sklearn_forest.py`, the forest's peer). Raw \
         numbers with confidence intervals and samples: `results.json`.\n",
        NOISY_CV * 100.0
    );

    let _ = writeln!(o, "## Summary\n");
    let gpu = gpu_crossovers(results);
    let wasm = wasm_vs_native(results);
    if let Some(t) = &gpu {
        let _ = writeln!(
            o,
            "Where each GPU path overtakes the fastest native CPU path of its harness \
             (ratio = GPU time / fastest CPU time at that n; below 1 the GPU wins; \
             *(go)*: Go host):\n"
        );
        t.write(&mut o, "op");
        o.push('\n');
    }
    if let Some(t) = &wasm {
        let _ = writeln!(
            o,
            "WebAssembly against rust-native: time ratio at the smallest → the largest \
             measured n:\n"
        );
        t.write(&mut o, "op");
        o.push('\n');
    }
    let forest = forest_summary(results);
    if let Some(t) = &forest {
        let _ = writeln!(
            o,
            "Random forest (200 trees) on the diabetes split, median time and ratio to \
             rust-native; *(go)*: Go host, *(python)*: scikit-learn:\n"
        );
        t.write(&mut o, "path");
        o.push('\n');
    }
    if gpu.is_none() && wasm.is_none() && forest.is_none() {
        let _ = writeln!(
            o,
            "No GPU or wasm path measured next to a native baseline.\n"
        );
    }

    if !results.failures.is_empty() {
        let _ = writeln!(
            o,
            "## Failures\n\nThese benchmarks failed; their numbers are missing below.\n\n\
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

    for (op, dtype) in groups(results) {
        if op == CALL_OVERHEAD_OP {
            continue;
        }
        let _ = writeln!(o, "## {}\n", group_title(&op, &dtype));
        for (harness, label) in [
            (Harness::Criterion, "Rust host (criterion)"),
            (Harness::Go, "Go host (go test)"),
            (Harness::Sklearn, "scikit-learn peer (Python, n_jobs=1)"),
        ] {
            if let Some(t) = table(results, &op, &dtype, harness) {
                let _ = writeln!(o, "### {label}\n");
                write_table(&mut o, &t);
                o.push('\n');
                if let Some(p) = plots.get(&crate::plots::plot_key(&op, &dtype, harness)) {
                    let _ = writeln!(o, "![{}, {label}]({p})\n", group_title(&op, &dtype));
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
    o
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
}
