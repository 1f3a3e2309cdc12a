//! The Rust host of `wasi:gpu` with the demo guest (`build/guests/gpu-guest.wasm`, built by
//! scripts/build-gpu-guest.sh): `run()` on cpu, wgpu and cuda (each skipped by name, with the
//! reason, where its backend does not start), every isolation probe, quotas, the epoch
//! deadline, and that an instance's device buffers are freed when it is dropped.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use offload_host::wasi_gpu::{seeded_f32, Device, Error, GpuHost, GpuInstance, Limits};
use wasmtime::component::Component;

/// The demo guest's `create-keep` pattern, in hex (0xA0 … 0xAF).
const PATTERN_HEX: &str = "a0a1a2a3a4a5a6a7a8a9aaabacadaeaf";

fn guest_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../build/guests/gpu-guest.wasm")
}

fn host_with(backend: &str, limits: Limits) -> Option<(GpuHost, Component)> {
    let device = match Device::open(backend) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("skipping wasi:gpu on {backend}: {e}");
            return None;
        }
    };
    let host = GpuHost::new(device, limits).expect("host");
    let path = guest_path();
    assert!(
        path.is_file(),
        "{} is not built: run scripts/build-gpu-guest.sh (./build.sh test does)",
        path.display()
    );
    let component = host.load(&path).expect("the demo guest loads");
    Some((host, component))
}

fn cpu(limits: Limits) -> (GpuHost, Component) {
    host_with("cpu", limits).expect("the cpu backend always starts")
}

fn instance(host: &GpuHost, c: &Component) -> GpuInstance {
    host.instantiate(c).expect("instantiate")
}

/// `run()` succeeds and reports its three checked ops.
fn assert_run_ok(i: &mut GpuInstance) -> String {
    let lines = i
        .run()
        .expect("run() does not trap")
        .unwrap_or_else(|e| panic!("run() returned err: {e}"));
    for op in ["sum n=100000", "dot n=100000", "matmul m=k=n=64"] {
        assert!(lines.contains(op), "{op} missing in {lines:?}");
    }
    lines
}

fn run_on(backend: &str) {
    let Some((host, c)) = host_with(backend, Limits::default()) else {
        return;
    };
    let mut i = instance(&host, &c);
    let lines = assert_run_ok(&mut i);
    eprintln!("{backend}:\n{lines}");
    // The guest's seeded data are the host's: its sum matches a host-side f64 sum.
    let n = 4096;
    let want: f64 = seeded_f32(1, n).iter().map(|&x| x as f64).sum();
    let scale: f64 = seeded_f32(1, n).iter().map(|&x| x.abs() as f64).sum();
    let (got,) = i
        .call::<(u32,), (Result<f64, String>,)>("sum", (n as u32,))
        .expect("sum does not trap");
    let got = got.expect("sum ok");
    assert!(
        (got - want).abs() <= 1e-5 * scale,
        "sum {got} vs host {want}"
    );
    // dot: elementwise mul then reduce on the device.
    let (a, b) = (seeded_f32(1, n), seeded_f32(2, n));
    let want: f64 = a.iter().zip(&b).map(|(&x, &y)| (x * y) as f64).sum();
    let (got,) = i
        .call::<(u32,), (Result<f64, String>,)>("dot", (n as u32,))
        .unwrap();
    assert!((got.unwrap() - want).abs() <= 1e-5 * n as f64, "dot");
    drop(i);
    assert_eq!(
        host.device().live_buffers(),
        0,
        "every buffer was destroyed"
    );
}

#[test]
fn run_on_cpu() {
    run_on("cpu");
}

#[test]
fn run_on_wgpu() {
    run_on("wgpu");
}

#[test]
fn run_on_cuda() {
    run_on("cuda");
}

#[test]
fn matmul_export_sums_c() {
    let (host, c) = cpu(Limits::default());
    let mut i = instance(&host, &c);
    // 32² values fill whole 64-value blocks of the guest's SIMD sum; 33² leaves a tail.
    for n in [32usize, 33] {
        let (a, b) = (seeded_f32(1, n * n), seeded_f32(2, n * n));
        let mut want = 0f64;
        for r in 0..n {
            for col in 0..n {
                want += (0..n)
                    .map(|k| a[r * n + k] as f64 * b[k * n + col] as f64)
                    .sum::<f64>();
            }
        }
        let (got,) = i
            .call::<(u32, bool), (Result<f64, String>,)>("matmul", (n as u32, false))
            .unwrap();
        let got = got.unwrap();
        assert!(
            (got - want).abs() <= 1e-3 * (1.0 + want.abs()),
            "n={n}: {got} vs {want}"
        );
    }
    // TF32 is CUDA-only: the cpu backend says so by name.
    let (tf,) = i
        .call::<(u32, bool), (Result<f64, String>,)>("matmul", (8, true))
        .unwrap();
    let e = tf.expect_err("tf32 on cpu is unsupported");
    assert!(e.starts_with("unsupported:"), "{e}");
}

/// A probe that must end in a trap (canonical ABI) or a gpu-error, never in success.
fn assert_trap_or_err(r: Result<Result<String, String>, Error>, what: &str) {
    match r {
        Err(Error::Trap { message, .. }) => eprintln!("{what}: trapped: {message}"),
        Ok(Err(e)) => eprintln!("{what}: gpu-error: {e}"),
        Ok(Ok(v)) => panic!("{what}: the guest got {v:?}"),
        Err(e) => panic!("{what}: unexpected host error {e}"),
    }
}

/// After a bad probe: the host and a second, fresh instance still work.
fn assert_host_unharmed(host: &GpuHost, c: &Component) {
    let mut fresh = instance(host, c);
    assert_run_ok(&mut fresh);
}

#[test]
fn forged_handle_traps_or_errors() {
    let (host, c) = cpu(Limits::default());
    let mut other = instance(&host, &c);
    let kept = other.probe("create-keep", 0).unwrap().unwrap();
    let mut i = instance(&host, &c);
    for forged in [0u64, 1, 7, 12345, u32::MAX as u64] {
        let mut j = instance(&host, &c);
        assert_trap_or_err(j.probe("use-raw", forged), &format!("use-raw {forged}"));
    }
    assert_trap_or_err(i.probe("use-raw", 99), "use-raw 99");
    assert_host_unharmed(&host, &c);
    // The instance that kept a buffer still reads its own pattern through its handle.
    let h: u64 = kept.parse().unwrap();
    assert_eq!(other.probe("use-raw", h).unwrap().unwrap(), PATTERN_HEX);
}

#[test]
fn destroyed_handle_traps_or_errors() {
    let (host, c) = cpu(Limits::default());
    let mut i = instance(&host, &c);
    assert_trap_or_err(i.probe("destroyed-handle", 0), "destroyed-handle");
    assert_host_unharmed(&host, &c);
}

#[test]
fn out_of_bounds_write_is_a_gpu_error() {
    let (host, c) = cpu(Limits::default());
    let mut i = instance(&host, &c);
    let e = i.probe("oob-write", 0).unwrap().expect_err("oob-write");
    assert!(e.starts_with("out-of-bounds:"), "{e}");
    // A gpu-error leaves the same instance usable.
    assert_run_ok(&mut i);
}

#[test]
fn bad_pointer_traps() {
    let (host, c) = cpu(Limits::default());
    let mut survivor = instance(&host, &c);
    let mut i = instance(&host, &c);
    match i.probe("bad-pointer", 0) {
        Err(Error::Trap { message, .. }) => eprintln!("bad-pointer: trapped: {message}"),
        other => panic!("bad-pointer must trap, got {other:?}"),
    }
    assert_run_ok(&mut survivor);
    assert_host_unharmed(&host, &c);
}

/// The conformance table both hosts run (wasm-modules/gpu-guest/conformance.txt): each
/// probe in a fresh instance, with the outcome the table gives.
#[test]
fn conformance_table() {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../wasm-modules/gpu-guest/conformance.txt");
    let table = std::fs::read_to_string(&path).expect("the conformance table");
    let limits = Limits {
        max_bytes: 1 << 20,
        max_buffers: 3,
        ..Limits::default()
    };
    let (host, c) = cpu(limits);
    let mut rows = 0;
    for line in table
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
    {
        let cols: Vec<&str> = line.split('\t').collect();
        let [probe, arg, want] = cols[..] else {
            panic!("bad row {line:?}");
        };
        let arg: u64 = arg.parse().expect("argument");
        let got = instance(&host, &c).probe(probe, arg);
        let ok = match (want.split_once(' '), &got) {
            (Some(("ok", text)), Ok(Ok(v))) => v == text,
            (Some(("err", case)), Ok(Err(e))) => e.starts_with(&format!("{case}: ")),
            (None, Err(Error::Trap { .. })) => want == "trap",
            _ => false,
        };
        assert!(ok, "{probe}({arg}): want {want:?}, got {got:?}");
        rows += 1;
    }
    assert!(rows >= 8, "only {rows} rows in {}", path.display());
    assert_host_unharmed(&host, &c);
}

#[test]
fn quotas_are_per_instance() {
    let limits = Limits {
        max_bytes: 1 << 20,
        max_buffers: 3,
        ..Limits::default()
    };
    let (host, c) = cpu(limits);
    let mut i = instance(&host, &c);
    let e = i
        .probe("over-quota", 2 << 20)
        .unwrap()
        .expect_err("2 MiB over a 1 MiB quota");
    assert!(e.starts_with("quota-exceeded:"), "{e}");
    assert_eq!(
        i.probe("over-quota", 1 << 20).unwrap().unwrap(),
        "allocated 1048576 bytes"
    );
    // Buffer count: three kept buffers fill the quota, the fourth is refused.
    for _ in 0..3 {
        i.probe("create-keep", 0).unwrap().unwrap();
    }
    assert_eq!(i.buffers(), 3);
    assert_eq!(i.used_bytes(), 48);
    let e = i.probe("create-keep", 0).unwrap().expect_err("4th buffer");
    assert!(e.starts_with("quota-exceeded:"), "{e}");
    // Another instance has its own quota.
    let mut j = instance(&host, &c);
    j.probe("create-keep", 0).unwrap().unwrap();
}

#[test]
fn instances_cannot_see_each_others_buffers() {
    let (host, c) = cpu(Limits::default());
    let mut a = instance(&host, &c);
    let h: u64 = a.probe("create-keep", 0).unwrap().unwrap().parse().unwrap();
    let mut b = instance(&host, &c);
    match b.probe("use-raw", h) {
        Ok(Ok(hex)) => assert_ne!(hex, PATTERN_HEX, "B read A's buffer"),
        r => assert_trap_or_err(r, "B using A's handle"),
    }
    // A is unaffected and still owns its data.
    assert_eq!(a.probe("use-raw", h).unwrap().unwrap(), PATTERN_HEX);
}

#[test]
fn loop_forever_is_interrupted_within_the_deadline() {
    let deadline = Duration::from_millis(300);
    let (host, c) = cpu(Limits {
        deadline,
        ..Limits::default()
    });
    let mut i = instance(&host, &c);
    let t = Instant::now();
    let r = i.probe("loop-forever", 0);
    let elapsed = t.elapsed();
    match r {
        Err(Error::Trap { interrupted, .. }) => assert!(interrupted, "not an epoch interrupt"),
        other => panic!("loop-forever must be interrupted, got {other:?}"),
    }
    let margin = Duration::from_millis(1500);
    assert!(
        elapsed < deadline + margin,
        "interrupted after {elapsed:?}, deadline {deadline:?}"
    );
    assert!(elapsed >= deadline, "interrupted early, after {elapsed:?}");
    assert_host_unharmed(&host, &c);
}

#[test]
fn dropped_instance_frees_its_device_buffers() {
    let (host, c) = cpu(Limits::default());
    let dev: Arc<Device> = host.device().clone();
    assert_eq!(dev.live_buffers(), 0);
    let mut a = instance(&host, &c);
    let mut b = instance(&host, &c);
    for _ in 0..3 {
        a.probe("create-keep", 0).unwrap().unwrap();
    }
    b.probe("create-keep", 0).unwrap().unwrap();
    assert_eq!(dev.live_buffers(), 4);
    drop(a);
    assert_eq!(dev.live_buffers(), 1, "A's three buffers were freed");
    // A trapped instance's buffers are freed too when it is dropped.
    assert_trap_or_err(b.probe("use-raw", 4242), "use-raw 4242");
    drop(b);
    assert_eq!(dev.live_buffers(), 0);
}

#[test]
fn invoke_parses_wave_and_prints_results() {
    let (host, c) = cpu(Limits::default());
    let mut i = instance(&host, &c);
    let (text, is_err) = i.invoke("probe(\"oob-write\", 0)").unwrap();
    assert!(is_err && text.starts_with("err(\"out-of-bounds:"), "{text}");
    let (text, is_err) = i.invoke("call-loop(10)").unwrap();
    assert_eq!((text.as_str(), is_err), ("ok", false));
    assert!(matches!(i.invoke("nope()"), Err(Error::Invoke(_))));
    assert!(matches!(i.invoke("sum(\"x\")"), Err(Error::Invoke(_))));
}
