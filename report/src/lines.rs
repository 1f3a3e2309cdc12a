//! The lines a harness prints beside its results, read from `cargo-bench.log` and
//! `go-bench.txt`: skipped paths (`SKIP <op>/<path>/<n>: <reason>`), failures, the device
//! a GPU path ran on, and the thread count of the all-cores paths
//! (`threads <path>: <n>`).

use crate::model::{Device, Harness, Skip};
use crate::names;
use std::collections::BTreeMap;

/// Finds skip lines in a harness's output. Two forms are recognised:
///
/// 1. the project convention, anywhere in a line (so a `file.go:12: ` or log prefix is
///    fine): `SKIP <path>: <reason>`, `SKIP <op>/<path>: <reason>` or
///    `SKIP <op>/<path>/<n>: <reason>` (`<op>` as in the benchmark id, e.g.
///    `sum-fast_f32`);
/// 2. go test's verbose form (`-v`): `--- SKIP: BenchmarkSum/path=gpu-cuda/...` followed
///    by an indented `file_test.go:NN: <reason>` line;
/// 3. the form host/benches/vector.rs prints for a guest that is not built:
///    `offload bench: skipping <path>: <reason>`.
///
/// The same (op, path, reason) is reported once.
pub fn parse_skip_lines(text: &str, harness: Harness) -> Vec<Skip> {
    let mut out: Vec<Skip> = Vec::new();
    let lines: Vec<&str> = text.lines().collect();
    for (i, line) in lines.iter().enumerate() {
        if let Some(rest) = line.trim_start().strip_prefix("--- SKIP: ") {
            let name = rest.trim();
            let path = name
                .split('/')
                .find_map(|s| s.strip_prefix("path="))
                .map(|p| p.to_string());
            let op = names::parse_go(name).ok().map(|b| b.group());
            let reason = lines
                .get(i + 1)
                .filter(|l| l.starts_with("    "))
                .map(|l| {
                    let l = l.trim();
                    // strip "file_test.go:NN: "
                    match l.split_once(": ") {
                        Some((loc, r)) if loc.contains(".go:") => r.to_string(),
                        _ => l.to_string(),
                    }
                })
                .unwrap_or_else(|| "no reason given".into());
            if reason.contains("SKIP ") {
                continue; // the convention line below handles it
            }
            if let Some(path) = path {
                let n = names::parse_go(name).ok().map(|b| b.n);
                out.push(Skip {
                    harness,
                    op,
                    path,
                    n,
                    reason,
                });
            }
            continue;
        }
        if let Some(rest) = line.split("offload bench: skipping ").nth(1) {
            if let Some((path, reason)) = rest.split_once(": ") {
                out.push(Skip {
                    harness,
                    op: None,
                    path: path.trim().to_string(),
                    n: None,
                    reason: reason.trim().to_string(),
                });
            }
            continue;
        }
        let Some(pos) = line.find("SKIP ") else {
            continue;
        };
        if pos > 0 && line.as_bytes()[pos - 1].is_ascii_alphanumeric() {
            continue;
        }
        let rest = &line[pos + 5..];
        let Some((target, reason)) = rest.split_once(':') else {
            continue;
        };
        let target = target.trim();
        if target.is_empty() || target.contains(char::is_whitespace) {
            continue;
        }
        let parts: Vec<&str> = target.split('/').collect();
        let (op, path, n) = match parts.as_slice() {
            [path] => (None, *path, None),
            [op, path] => (Some(op.to_string()), *path, None),
            [op, path, n] => match n.parse::<u64>() {
                Ok(n) => (Some(op.to_string()), *path, Some(n)),
                Err(_) => continue,
            },
            _ => continue,
        };
        out.push(Skip {
            harness,
            op,
            path: path.to_string(),
            n,
            reason: reason.trim().to_string(),
        });
    }
    out.sort();
    out.dedup();
    out
}

/// Finds failures in a harness's output: go's `--- FAIL: Benchmark...` with its indented
/// message line, and a Rust panic (`thread '...' panicked at <file:line:col>:` followed by
/// the message).
pub fn parse_failures(text: &str, harness: Harness) -> Vec<Skip> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let next = lines.get(i + 1).map(|l| l.trim()).unwrap_or_default();
        if let Some(name) = line.trim_start().strip_prefix("--- FAIL: ") {
            let name = name.split_whitespace().next().unwrap_or_default();
            let parsed = names::parse_go(name).ok();
            let reason = match next.split_once(": ") {
                Some((loc, r)) if loc.contains(".go:") => r.to_string(),
                _ => next.to_string(),
            };
            out.push(Skip {
                harness,
                op: parsed.as_ref().map(|b| b.group()),
                path: parsed.as_ref().map_or("-".into(), |b| b.path.clone()),
                n: parsed.as_ref().map(|b| b.n),
                reason: format!("{name}: {reason}"),
            });
        } else if line.starts_with("thread '") && line.contains(" panicked at ") {
            let at = line.split(" panicked at ").nth(1).unwrap_or_default();
            out.push(Skip {
                harness,
                op: None,
                path: "-".into(),
                n: None,
                reason: format!("panic at {}: {next}", at.trim_end_matches(':')),
            });
        }
    }
    out.sort();
    out.dedup();
    out
}

/// Finds the device lines a GPU bench prints when a backend opens:
/// `<path>: <adapter> (<driver>)` at the start of a line, or `DEVICE <path>: <description>`
/// anywhere, with `<path>` a `gpu-*` path of [`names::KNOWN_PATHS`].
pub fn parse_device_lines(text: &str, harness: Harness) -> Vec<Device> {
    let mut out: Vec<Device> = text
        .lines()
        .filter_map(|line| {
            let l = match line.find("DEVICE ") {
                Some(i) => &line[i + 7..],
                None => line,
            };
            let (path, desc) = l.split_once(": ")?;
            (path.starts_with("gpu-") && names::KNOWN_PATHS.contains(&path)).then(|| Device {
                harness,
                path: path.to_string(),
                description: desc.trim().to_string(),
            })
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

/// Finds the thread counts the benches print for their all-cores paths:
/// `threads <path>: <count>` anywhere in a line (after a word boundary, so a log prefix
/// is fine), `<path>` one of [`names::KNOWN_PATHS`]. A path printed twice keeps its last
/// count.
pub fn parse_thread_lines(text: &str) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for line in text.lines() {
        let Some(pos) = line.find("threads ") else {
            continue;
        };
        if pos > 0 && line.as_bytes()[pos - 1].is_ascii_alphanumeric() {
            continue;
        }
        let Some((path, count)) = line[pos + 8..].split_once(':') else {
            continue;
        };
        let path = path.trim();
        let Ok(count) = count.trim().parse::<usize>() else {
            continue;
        };
        if names::KNOWN_PATHS.contains(&path) {
            out.insert(path.to_string(), count);
        }
    }
    out
}
