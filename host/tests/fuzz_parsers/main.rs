//! Fuzzing the CLI's parsers on stable Rust (issue 19, item 2): mutated copies of a seed
//! corpus (`host/tests/fuzz-corpus/`, the report fixture run) fed to
//! - the WAVE invoke-string path of `offload invoke` ([`GpuInstance::invoke`]: parse the
//!   call, type the arguments against the export, call it, print the results) on the
//!   wasi:gpu fuzz guest and on the demo guest (`build/guests/gpu-guest.wasm`);
//! - the report's input parsers: benchmark names (go, criterion), the skip, failure,
//!   device and thread lines, and whole results folders through `ingest` and the
//!   Markdown renderer (`offload report`), one input file mutated at a time.
//!
//! Oracle: no panic (a panic names the input), and every refusal is an error of the
//! documented kinds (`Error::Invoke` or a guest trap for WAVE; a `ReportError` with a
//! message for the report). Counts: `OFFLOAD_FUZZ_ITERS` (default 20,000) mutated WAVE
//! calls and report lines each, a twentieth of it (at least 200) mutated results folders;
//! seed `OFFLOAD_FUZZ_SEED`.

#[path = "../common/mod.rs"]
mod common;
#[allow(dead_code)] // the wasi:gpu fuzzer uses the rest
#[path = "../fuzz_wasi_gpu/guest.rs"]
mod guest;
mod mutate;

use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use offload_host::wasi_gpu::{Device, Error, GpuHost, GpuInstance, Limits};
use offload_report::model::Harness;
use offload_report::{ingest, lines, names, render};
use rand::{Rng, SeedableRng};
use rand_pcg::Pcg64;
use wasmtime::component::Component;

fn iters() -> u64 {
    common::env_u64("OFFLOAD_FUZZ_ITERS", 20_000)
}

fn rng() -> (u64, Pcg64) {
    let seed = common::env_u64("OFFLOAD_FUZZ_SEED", 0x00ff_10ad);
    (seed, Pcg64::seed_from_u64(seed))
}

fn corpus(name: &str) -> Vec<Vec<u8>> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fuzz-corpus")
        .join(name);
    let text = std::fs::read_to_string(&path).expect("the seed corpus");
    text.lines()
        .filter(|l| !l.is_empty())
        .map(|l| l.as_bytes().to_vec())
        .collect()
}

/// A mutated corpus entry (or, one time in eight, an entry as it is).
fn next(rng: &mut Pcg64, corpus: &[Vec<u8>]) -> Vec<u8> {
    let a = &corpus[rng.random_range(0..corpus.len())];
    if rng.random_ratio(1, 8) {
        return a.clone();
    }
    let b = &corpus[rng.random_range(0..corpus.len())];
    mutate::mutate(rng, a, b)
}

/// One component and the host it runs on, re-instantiated after every trap.
struct Target {
    name: &'static str,
    host: GpuHost,
    component: Component,
    instance: GpuInstance,
    calls: u64,
    parsed: u64,
    traps: u64,
}

impl Target {
    fn new(name: &'static str, component: impl Fn(&GpuHost) -> Component) -> Target {
        let device = Device::open("cpu").expect("cpu");
        let limits = Limits {
            max_bytes: 16 << 20,
            max_buffers: 16,
            // Mutated numbers can ask the demo guest for minutes of work.
            deadline: Duration::from_millis(300),
        };
        let host = GpuHost::new(device, limits).expect("host");
        let component = component(&host);
        let instance = host.instantiate(&component).expect("instantiate");
        Target {
            name,
            host,
            component,
            instance,
            calls: 0,
            parsed: 0,
            traps: 0,
        }
    }

    fn invoke(&mut self, call: &str) {
        self.calls += 1;
        let r = catch_unwind(AssertUnwindSafe(|| self.instance.invoke(call)));
        match r {
            Err(_) => panic!("WAVE on the {}: invoke({call:?}) panicked", self.name),
            Ok(Ok((text, _))) => {
                self.parsed += 1;
                assert!(!text.contains('\0') || call.contains('\0'), "{text:?}");
            }
            Ok(Err(Error::Invoke(m))) => assert!(!m.is_empty(), "{call:?}"),
            Ok(Err(Error::Trap { .. })) => {
                self.parsed += 1;
                self.traps += 1;
                self.instance = self.host.instantiate(&self.component).expect("instantiate");
            }
            Ok(Err(e)) => panic!(
                "WAVE on the {}: invoke({call:?}): unexpected {e}",
                self.name
            ),
        }
    }
}

#[test]
fn fuzz_wave_invoke_strings() {
    let (seed, mut rng) = rng();
    let corpus = corpus("wave.txt");
    let mut fuzz = Target::new("fuzz guest", guest::component);
    let demo_path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../build/guests/gpu-guest.wasm");
    let mut demo = demo_path.is_file().then(|| {
        Target::new("demo guest", |h: &GpuHost| {
            h.load(&demo_path).expect("demo guest")
        })
    });
    if demo.is_none() {
        eprintln!(
            "SKIP fuzz-wave/demo-guest: {} is not built",
            demo_path.display()
        );
    }
    let start = Instant::now();
    let n = iters();
    for _ in 0..n {
        let bytes = next(&mut rng, &corpus);
        let call = String::from_utf8_lossy(&bytes);
        match demo.as_mut() {
            Some(d) if rng.random_ratio(1, 4) => d.invoke(&call),
            _ => fuzz.invoke(&call),
        }
    }
    let secs = start.elapsed().as_secs_f64();
    for t in [Some(&fuzz), demo.as_ref()].into_iter().flatten() {
        eprintln!(
            "fuzz-wave/{}: {} executions ({} parsed and called, {} trapped) in {secs:.1} s, \
             seed {seed:#x}",
            t.name, t.calls, t.parsed, t.traps
        );
    }
    assert!(fuzz.parsed > 0, "no mutated call got past the parser");
}

#[test]
fn fuzz_report_lines() {
    let (seed, mut rng) = rng();
    let corpus = corpus("report-lines.txt");
    let start = Instant::now();
    let n = iters();
    let mut names_ok = 0u64;
    for _ in 0..n {
        let bytes = if rng.random_ratio(1, 4) {
            // Several lines at once (the skip and failure parsers look at the next line).
            (0..rng.random_range(2..6))
                .flat_map(|_| {
                    let mut l = next(&mut rng, &corpus);
                    l.push(b'\n');
                    l
                })
                .collect()
        } else {
            next(&mut rng, &corpus)
        };
        let text = String::from_utf8_lossy(&bytes);
        let r = catch_unwind(|| {
            let mut ok = 0;
            for word in text.split_whitespace().take(2) {
                ok += u64::from(names::parse_go(word).is_ok());
                ok += u64::from(names::parse_criterion_id(word).is_ok());
            }
            for h in [Harness::Criterion, Harness::Go, Harness::Sklearn] {
                lines::parse_skip_lines(&text, h);
                lines::parse_failures(&text, h);
                lines::parse_device_lines(&text, h);
            }
            lines::parse_thread_lines(&text);
            ok
        });
        match r {
            Ok(ok) => names_ok += ok,
            Err(_) => panic!("report line parsers panicked on {text:?}"),
        }
    }
    eprintln!(
        "fuzz-report-lines: {n} executions ({names_ok} names parsed) in {:.1} s, seed {seed:#x}",
        start.elapsed().as_secs_f64()
    );
}

/// Copies the report's fixture run folder (plus a scikit-learn file) into a temp dir.
fn fixture_run() -> tempfile::TempDir {
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../report/tests/fixtures/run");
    let tmp = tempfile::tempdir().unwrap();
    copy_dir(&src, tmp.path());
    let sk: Vec<u8> = corpus("report-lines.txt")
        .into_iter()
        .filter(|l| l.starts_with(b"{"))
        .flat_map(|mut l| {
            l.push(b'\n');
            l
        })
        .collect();
    std::fs::write(tmp.path().join(ingest::files::SKLEARN), sk).unwrap();
    tmp
}

fn copy_dir(src: &Path, dst: &Path) {
    for e in std::fs::read_dir(src).unwrap() {
        let e = e.unwrap();
        let to = dst.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            std::fs::create_dir_all(&to).unwrap();
            copy_dir(&e.path(), &to);
        } else {
            std::fs::copy(e.path(), &to).unwrap();
        }
    }
}

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            files(&p, out);
        } else {
            out.push(p);
        }
    }
}

#[test]
fn fuzz_report_folders() {
    let (seed, mut rng) = rng();
    let run = fixture_run();
    let mut inputs = Vec::new();
    files(run.path(), &mut inputs);
    inputs.sort();
    let originals: Vec<Vec<u8>> = inputs.iter().map(|p| std::fs::read(p).unwrap()).collect();
    let ok = ingest(run.path(), None).expect("the fixture ingests");
    render::markdown(&ok, &BTreeMap::new()).expect("the fixture renders");
    let n = (iters() / 20).max(200);
    let start = Instant::now();
    let (mut ingested, mut rendered) = (0u64, 0u64);
    for _ in 0..n {
        let k = rng.random_range(0..inputs.len());
        let other = &originals[rng.random_range(0..inputs.len())];
        let mutated = mutate::mutate(&mut rng, &originals[k], other);
        std::fs::write(&inputs[k], &mutated).unwrap();
        let r = catch_unwind(|| match ingest(run.path(), None) {
            Ok(results) => {
                for rec in &results.records {
                    assert!(
                        rec.median.is_finite() && rec.median >= 0.0,
                        "a record with median {} from {}",
                        rec.median,
                        rec.source
                    );
                }
                (true, render::markdown(&results, &BTreeMap::new()).is_ok())
            }
            Err(e) => {
                assert!(!e.to_string().is_empty());
                (false, false)
            }
        });
        match r {
            Ok((i, r)) => {
                ingested += u64::from(i);
                rendered += u64::from(r);
            }
            Err(_) => panic!(
                "the report panicked on {} mutated to {:?}",
                inputs[k].display(),
                String::from_utf8_lossy(&mutated)
            ),
        }
        std::fs::write(&inputs[k], &originals[k]).unwrap();
    }
    eprintln!(
        "fuzz-report-folders: {n} executions ({ingested} ingested, {rendered} rendered) in \
         {:.1} s, seed {seed:#x}",
        start.elapsed().as_secs_f64()
    );
}

/// Found by `fuzz_report_folders`: a `NaN`, `inf` or negative ns/op in go-bench.txt was
/// taken as a sample, and its record's median (and every ratio with it) became NaN.
#[test]
fn go_bench_non_finite_or_negative_values_are_refused() {
    for bad in ["NaN", "inf", "-5"] {
        let run = fixture_run();
        let line = format!("BenchmarkSum/family=strict/path=go/n=1000-2\t  1666\t {bad} ns/op\n");
        std::fs::write(run.path().join(ingest::files::GO_BENCH), line).unwrap();
        let e = ingest(run.path(), None).expect_err(bad).to_string();
        assert!(e.contains("finite") && e.contains("go-bench.txt"), "{e}");
    }
}

/// Found by `fuzz_report_folders`: a negative criterion median (or interval bound, or a
/// zero iteration count in sample.json) was taken as is.
#[test]
fn criterion_negative_or_non_finite_values_are_refused() {
    type Edit = fn(&mut serde_json::Value);
    let cases: [(&str, Edit); 3] = [
        ("estimates.json", |v| {
            v["median"]["point_estimate"] = (-1.0).into()
        }),
        ("estimates.json", |v| {
            v["median"]["confidence_interval"]["lower_bound"] = (-1.0).into()
        }),
        ("sample.json", |v| v["iters"][0] = 0.0.into()),
    ];
    for (file, edit) in cases {
        let run = fixture_run();
        let mut all = Vec::new();
        files(run.path(), &mut all);
        all.sort();
        let target = all
            .iter()
            .find(|p| p.ends_with(file))
            .expect("a criterion file");
        let mut v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(target).unwrap()).unwrap();
        edit(&mut v);
        std::fs::write(target, v.to_string()).unwrap();
        let e = ingest(run.path(), None).expect_err(file).to_string();
        assert!(e.contains(file) && e.contains("finite"), "{e}");
    }
}
