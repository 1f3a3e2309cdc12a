//! `offload report --compare <old> <new>`: each benchmark's change between two results
//! folders, with its significance by the two-sided Mann–Whitney U test on the raw
//! samples (as benchstat does), at α = [`ALPHA`].

use crate::analysis::ratio;
use crate::error::Result;
use crate::format::fmt_ns;
use crate::ingest::load_results;
use crate::model::{Record, RecordKey};
use crate::stats::mann_whitney;
use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::Path;

/// Significance level of the comparison.
pub const ALPHA: f64 = 0.05;

/// One benchmark's change from old to new.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    /// Which benchmark.
    pub key: RecordKey,
    /// Old median (ns).
    pub old_median: f64,
    /// New median (ns).
    pub new_median: f64,
    /// new / old − 1 (0.1 = 10 % slower).
    pub delta: f64,
    /// Two-sided Mann–Whitney p-value on the samples.
    pub p: f64,
    /// `p < ALPHA`.
    pub significant: bool,
    /// Samples on each side (old, new).
    pub samples: (usize, usize),
}

/// The outcome of a comparison.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Comparison {
    /// Benchmarks in both folders.
    pub changes: Vec<Change>,
    /// Benchmarks only in the old folder.
    pub only_old: Vec<RecordKey>,
    /// Benchmarks only in the new folder.
    pub only_new: Vec<RecordKey>,
}

/// Compares two record sets (the change is [`ratio`] of new to old, so a record is only
/// ever compared with its own key).
pub fn compare_records(old: &[Record], new: &[Record]) -> Result<Comparison> {
    let o: BTreeMap<RecordKey, &Record> = old.iter().map(|r| (r.key(), r)).collect();
    let n: BTreeMap<RecordKey, &Record> = new.iter().map(|r| (r.key(), r)).collect();
    let mut c = Comparison::default();
    for (k, a) in &o {
        let Some(b) = n.get(k) else {
            c.only_old.push(k.clone());
            continue;
        };
        let mw = mann_whitney(&a.samples, &b.samples);
        c.changes.push(Change {
            key: k.clone(),
            old_median: a.median,
            new_median: b.median,
            delta: ratio(b, a)? - 1.0,
            p: mw.p,
            significant: mw.p < ALPHA,
            samples: (a.samples.len(), b.samples.len()),
        });
    }
    c.only_new = n.keys().filter(|k| !o.contains_key(*k)).cloned().collect();
    Ok(c)
}

/// Loads `<old>/results.json` and `<new>/results.json` and compares them.
pub fn compare(old_dir: &Path, new_dir: &Path) -> Result<Comparison> {
    let old = load_results(old_dir)?;
    let new = load_results(new_dir)?;
    compare_records(&old.records, &new.records)
}

/// Formats a comparison as text, one benchmark per line, benchstat style: `~` when the
/// change is not significant.
pub fn format(c: &Comparison) -> String {
    let mut o = String::new();
    let width = c
        .changes
        .iter()
        .map(|ch| ch.key.to_string().len())
        .max()
        .unwrap_or(10);
    let _ = writeln!(
        o,
        "{:width$}  {:>10}  {:>10}  {:>8}  significance (Mann–Whitney U, α = {ALPHA})",
        "benchmark", "old", "new", "change"
    );
    for ch in &c.changes {
        let p = if ch.p < 0.001 {
            "p < 0.001".to_string()
        } else {
            format!("p = {:.3}", ch.p)
        };
        let verdict = if ch.significant {
            format!("{p} (n = {}+{})", ch.samples.0, ch.samples.1)
        } else {
            format!("~ ({p}, n = {}+{})", ch.samples.0, ch.samples.1)
        };
        let delta = if ch.significant {
            format!("{:+.1} %", ch.delta * 100.0)
        } else {
            "~".to_string()
        };
        let _ = writeln!(
            o,
            "{:width$}  {:>10}  {:>10}  {:>8}  {verdict}",
            ch.key.to_string(),
            fmt_ns(ch.old_median),
            fmt_ns(ch.new_median),
            delta
        );
    }
    for k in &c.only_old {
        let _ = writeln!(o, "{k}: only in old");
    }
    for k in &c.only_new {
        let _ = writeln!(o, "{k}: only in new");
    }
    let slower = c
        .changes
        .iter()
        .filter(|ch| ch.significant && ch.delta > 0.0)
        .count();
    let faster = c
        .changes
        .iter()
        .filter(|ch| ch.significant && ch.delta < 0.0)
        .count();
    let _ = writeln!(
        o,
        "{} compared: {slower} significantly slower, {faster} significantly faster",
        c.changes.len()
    );
    o
}
