//! Renders [`Results`] as `REPORT.md`. The summary at the top answers, per harness:
//! the fastest path of every group (op, element type, family) and size, with the paths
//! tied with it (overlapping confidence intervals); where each GPU path overtakes the
//! fastest CPU path of its family, separately for data starting in host memory and data
//! resident on the device; WebAssembly against the fastest one-thread native path of its
//! family; the random forest. Then one section per group (`sum (f64, fast)`) with a table
//! per harness of median time and ratio to the fastest CPU path of that group, harness and
//! size (named in the last column), call overhead, failures, skipped paths, noisy results
//! and the environment. Every ratio comes from [`crate::analysis::ratio`].

use crate::analysis::{by_path, fastest_at, groups, is_cpu_path, path_rank, ratio, Group};
use crate::error::Result;
pub use crate::format::{fmt_n, fmt_ns, fmt_ratio, throughput, NOISY_MARK};
use crate::model::{Harness, Record, Results, NOISY_CV};
pub use crate::summary::{
    call_overhead, crossover_cell, duplicate_rows, fastest_summary, forest_summary, gpu_crossovers,
    skipped_rows, wasm_vs_native, FastestTable, Summary, CALL_OVERHEAD_OP, FOREST_DIABETES,
    HARNESSES,
};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

/// How many noisy results the report lists by name (noisiest first).
pub const NOISY_LISTED: usize = 10;

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
            "## Failures\n\nThese benchmarks failed (their numbers are missing below).\n\n\
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

    let twice = duplicate_rows(results);
    if !twice.is_empty() {
        let _ = writeln!(
            o,
            "## Measured twice\n\nThe same path, op, element type and size timed by two \
             benches of one harness (each pair of files is in `results.json`); one is \
             kept.\n\n| harness | path | benchmarks | kept |\n| --- | --- | --- | --- |"
        );
        for row in twice {
            let _ = writeln!(o, "| {} |", row.join(" | "));
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
