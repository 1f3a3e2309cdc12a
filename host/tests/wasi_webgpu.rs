//! The Rust host of `wasi:webgpu` (compute subset) with the kernel guest
//! (`build/guests/webgpu-guest.wasm`, built by scripts/build-webgpu-guest.sh): its four
//! kernels (sum, dot, mul, SGEMM, its own WGSL) against offload-core's cpu backend, and the
//! bad inputs of issue 16 (item 6), each followed by the same instance and another one
//! carrying on. Every test is skipped by name, with wgpu's reason, where no adapter opens
//! (CI has Mesa's lavapipe).

use std::path::PathBuf;
use std::sync::Arc;

use offload_core::gpu::{Backend, BufferId, DType, ElementwiseOp, MatmulPrecision, ReduceOp};
use offload_host::wasi_gpu::{seeded_f32, Error};
use offload_host::wasi_webgpu::{Limits, WebGpuDevice, WebGpuHost, WebGpuInstance};
use wasmtime::component::Component;

type Res<T> = Result<T, String>;

fn guest_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../build/guests/webgpu-guest.wasm")
}

/// A host on a fresh device with `limits` and the guest compiled for it; `None` (the test
/// skipped, with the reason) where no adapter opens.
fn host(test: &str, limits: Limits) -> Option<(WebGpuHost, Component)> {
    let device = match WebGpuDevice::open() {
        Ok(d) => d,
        Err(e) => {
            eprintln!("skipping {test} (wasi:webgpu): {e}");
            return None;
        }
    };
    eprintln!("{test}: wasi:webgpu on {}", device.name());
    let host = WebGpuHost::new(device, limits).expect("host");
    let path = guest_path();
    assert!(
        path.is_file(),
        "{} is not built: run scripts/build-webgpu-guest.sh (./build.sh test does)",
        path.display()
    );
    let c = host.load(&path).expect("the webgpu guest loads");
    Some((host, c))
}

fn inst(h: &WebGpuHost, c: &Component) -> WebGpuInstance {
    h.instantiate(c).expect("instantiate")
}

fn sum(i: &mut WebGpuInstance, a: &[f32]) -> Res<f32> {
    i.call::<(&[f32],), (Res<f32>,)>("sum", (a,))
        .expect("sum does not trap")
        .0
}

fn dot(i: &mut WebGpuInstance, a: &[f32], b: &[f32]) -> Res<f32> {
    i.call::<(&[f32], &[f32]), (Res<f32>,)>("dot", (a, b))
        .expect("dot does not trap")
        .0
}

fn mul(i: &mut WebGpuInstance, a: &[f32], b: &[f32]) -> Res<Vec<f32>> {
    i.call::<(&[f32], &[f32]), (Res<Vec<f32>>,)>("mul", (a, b))
        .expect("mul does not trap")
        .0
}

fn sgemm(i: &mut WebGpuInstance, m: u32, n: u32, k: u32, a: &[f32], b: &[f32]) -> Res<Vec<f32>> {
    i.call::<(u32, u32, u32, &[f32], &[f32]), (Res<Vec<f32>>,)>("sgemm", (m, n, k, a, b))
        .expect("sgemm does not trap")
        .0
}

fn probe(i: &mut WebGpuInstance, name: &str) -> Result<Res<String>, Error> {
    Ok(i.call::<(&str,), (Res<String>,)>("probe", (name,))?.0)
}

/// The probe's `key=value` lines as pairs.
fn lines(report: &str) -> Vec<(String, String)> {
    report
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn value(report: &str, key: &str) -> String {
    lines(report)
        .into_iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v)
        .unwrap_or_else(|| panic!("no {key}= in {report:?}"))
}

/// offload-core's cpu backend: the reference.
struct Core(Backend);

impl Core {
    fn new() -> Core {
        Core(Backend::open("cpu").expect("the cpu backend always opens"))
    }

    fn put(&mut self, v: &[f32]) -> BufferId {
        let id = self.0.create_buffer(4 * v.len() as u64).expect("buffer");
        self.0.write(id, 0, bytemuck::cast_slice(v)).expect("write");
        id
    }

    fn get(&mut self, id: BufferId, n: usize) -> Vec<f32> {
        let mut out = vec![0f32; n];
        self.0
            .read(id, 0, bytemuck::cast_slice_mut(&mut out))
            .expect("read");
        out
    }

    fn sum(&mut self, a: &[f32]) -> f64 {
        let id = self.put(a);
        self.0
            .reduce(ReduceOp::Sum, DType::F32, id, a.len() as u64)
            .expect("sum")
    }

    fn dot(&mut self, a: &[f32], b: &[f32]) -> f64 {
        let (x, y) = (self.put(a), self.put(b));
        self.0.dot(DType::F32, x, y, a.len() as u64).expect("dot")
    }

    fn mul(&mut self, a: &[f32], b: &[f32]) -> Vec<f32> {
        let (x, y) = (self.put(a), self.put(b));
        let out = self.put(&vec![0.0; a.len()]);
        self.0
            .elementwise(
                ElementwiseOp::Mul,
                DType::F32,
                x,
                Some(y),
                0.0,
                out,
                a.len() as u64,
            )
            .expect("mul");
        self.get(out, a.len())
    }

    fn sgemm(&mut self, m: usize, n: usize, k: usize, a: &[f32], b: &[f32]) -> Vec<f32> {
        let (x, y) = (self.put(a), self.put(b));
        let c = self.put(&vec![0.0; m * n]);
        self.0
            .matmul(MatmulPrecision::Fp32, x, y, c, m as u64, k as u64, n as u64)
            .expect("matmul");
        self.get(c, m * n)
    }
}

/// Small integers cycling through -3..=3 (period 7, mean 0): every partial sum of a
/// stretch of them stays far below 2^24, so sums, dots of up to 10^5 terms and the SGEMM
/// entries below are exact in f32 whatever the order of addition, and the guest must give
/// core's value exactly.
fn ints(n: usize, seed: usize) -> Vec<f32> {
    (0..n).map(|i| ((i * 5 + seed) % 7) as f32 - 3.0).collect()
}

#[test]
fn kernels_match_core_exactly_on_integer_data() {
    let Some((h, c)) = host(
        "kernels_match_core_exactly_on_integer_data",
        Limits::default(),
    ) else {
        return;
    };
    let mut i = inst(&h, &c);
    let mut core = Core::new();
    // 1, a partial workgroup, exactly one, one plus one, many; 70 000 workgroups' worth is
    // past lavapipe's 65 535 per dimension, so the grid-stride loop is exercised too.
    for n in [1usize, 255, 256, 257, 100_000, 17_920_001] {
        let a = ints(n, 1);
        let b = ints(n, 4);
        assert_eq!(sum(&mut i, &a).unwrap() as f64, core.sum(&a), "sum n={n}");
        if n <= 100_000 {
            // |a·b| ≤ 9n < 2^24: exact.
            assert_eq!(
                dot(&mut i, &a, &b).unwrap() as f64,
                core.dot(&a, &b),
                "dot n={n}"
            );
            let got = mul(&mut i, &a, &b).unwrap();
            assert_eq!(got, core.mul(&a, &b), "mul n={n}");
        } else {
            // a·1 = Σ a: exact as the sum is.
            let ones = vec![1.0; n];
            assert_eq!(
                dot(&mut i, &a, &ones).unwrap() as f64,
                core.sum(&a),
                "dot n={n}"
            );
        }
    }
    for (m, n, k) in [
        (1, 1, 1),
        (17, 33, 9),
        (64, 48, 32),
        (3, 5, 300),
        (130, 70, 129),
    ] {
        let a = ints(m * k, 2);
        let b = ints(k * n, 5);
        let got = sgemm(&mut i, m as u32, n as u32, k as u32, &a, &b).unwrap();
        assert_eq!(got, core.sgemm(m, n, k, &a, &b), "sgemm {m}x{k}·{k}x{n}");
    }
    assert_eq!(sum(&mut i, &[]).unwrap(), 0.0);
    assert_eq!(mul(&mut i, &[], &[]).unwrap(), Vec::<f32>::new());
    let (uncaptured, msgs) = i.uncaptured();
    assert_eq!(uncaptured, 0, "errors outside any scope: {msgs:?}");
    assert_eq!(h.device().stray_errors(), 0);
}

#[test]
fn kernels_match_core_on_random_data() {
    let Some((h, c)) = host("kernels_match_core_on_random_data", Limits::default()) else {
        return;
    };
    let mut i = inst(&h, &c);
    let mut core = Core::new();
    let n = 100_000;
    let a = seeded_f32(11, n);
    let b = seeded_f32(12, n);
    // f32 sums in another order: within a few ulps of Σ|terms| per added term's rounding.
    let abs_a: f64 = a.iter().map(|x| x.abs() as f64).sum();
    let abs_ab: f64 = a.iter().zip(&b).map(|(x, y)| (x * y).abs() as f64).sum();
    let s = sum(&mut i, &a).unwrap() as f64;
    assert!(
        (s - core.sum(&a)).abs() <= 1e-5 * abs_a,
        "sum {s} vs {}",
        core.sum(&a)
    );
    let d = dot(&mut i, &a, &b).unwrap() as f64;
    assert!(
        (d - core.dot(&a, &b)).abs() <= 1e-5 * abs_ab,
        "dot {d} vs {}",
        core.dot(&a, &b)
    );
    // mul: one correctly rounded product per element, the same bits everywhere.
    assert_eq!(mul(&mut i, &a, &b).unwrap(), core.mul(&a, &b));
    let (m, nn, k) = (96, 80, 200);
    let x = seeded_f32(13, m * k);
    let y = seeded_f32(14, k * nn);
    let got = sgemm(&mut i, m as u32, nn as u32, k as u32, &x, &y).unwrap();
    let want = core.sgemm(m, nn, k, &x, &y);
    for r in 0..m {
        for col in 0..nn {
            let scale: f32 = (0..k).map(|p| (x[r * k + p] * y[p * nn + col]).abs()).sum();
            let (g, w) = (got[r * nn + col], want[r * nn + col]);
            assert!((g - w).abs() <= 1e-5 * scale, "C[{r},{col}] {g} vs {w}");
        }
    }
}

#[test]
fn shape_errors_are_errs() {
    let Some((h, c)) = host("shape_errors_are_errs", Limits::default()) else {
        return;
    };
    let mut i = inst(&h, &c);
    assert!(dot(&mut i, &[1.0], &[1.0, 2.0])
        .unwrap_err()
        .contains("differ"));
    assert!(mul(&mut i, &[1.0], &[]).unwrap_err().contains("differ"));
    assert!(sgemm(&mut i, 2, 2, 2, &[1.0; 3], &[1.0; 4])
        .unwrap_err()
        .contains("A has 3"));
    assert!(probe(&mut i, "no-such-probe")
        .unwrap()
        .unwrap_err()
        .contains("unknown probe"));
    assert_eq!(sum(&mut i, &[1.0, 2.0]).unwrap(), 3.0);
}

/// Runs probe `name` on one instance with `limits`; checks that the same instance and a
/// second one still compute a sum right and that nothing escaped the guest's error scopes
/// or the host's; returns the report.
fn bad_input(name: &str, limits: Limits) -> Option<String> {
    let (h, c) = host(name, limits)?;
    let mut other = inst(&h, &c);
    assert_eq!(sum(&mut other, &[1.0, 2.0, 3.0]).unwrap(), 6.0);
    let mut i = inst(&h, &c);
    let report = probe(&mut i, name)
        .expect("the probe does not trap")
        .unwrap_or_else(|e| panic!("probe {name}: {e}"));
    eprintln!("{name}:\n{report}");
    assert_eq!(value(&report, "after"), "500500", "the instance carries on");
    let v = ints(1000, 3);
    let want: f32 = v.iter().sum();
    assert_eq!(sum(&mut i, &v).unwrap(), want);
    assert_eq!(
        sum(&mut other, &v).unwrap(),
        want,
        "another instance carries on"
    );
    let (uncaptured, msgs) = i.uncaptured();
    assert_eq!(uncaptured, 0, "errors outside any scope: {msgs:?}");
    assert_eq!(h.device().stray_errors(), 0);
    drop(i);
    drop(other);
    assert_eq!(
        h.device().live_bytes(),
        0,
        "dropped instances hold no buffers"
    );
    Some(report)
}

#[test]
fn invalid_wgsl_is_a_validation_error_the_guest_sees() {
    let Some(r) = bad_input("invalid-wgsl", Limits::default()) else {
        return;
    };
    assert_eq!(value(&r, "scope"), "validation-error");
    assert_eq!(value(&r, "pipeline"), "validation");
    assert!(!value(&r, "message").is_empty());
}

#[test]
fn bind_group_not_matching_its_pipeline_is_a_validation_error() {
    let Some(r) = bad_input("bind-group-mismatch", Limits::default()) else {
        return;
    };
    assert_eq!(value(&r, "dispatch"), "validation-error");
    assert_eq!(value(&r, "entries"), "validation-error");
}

#[test]
fn mapping_twice_is_refused() {
    let Some(r) = bad_input("map-twice", Limits::default()) else {
        return;
    };
    assert_eq!(value(&r, "first"), "ok");
    assert_eq!(value(&r, "second"), "operation-error");
    assert_eq!(value(&r, "state"), "mapped");
    assert_eq!(value(&r, "after-unmap"), "ok");
}

#[test]
fn reading_an_unmapped_buffer_is_refused() {
    let Some(r) = bad_input("read-unmapped", Limits::default()) else {
        return;
    };
    assert_eq!(value(&r, "before-map"), "operation-error");
    assert_eq!(value(&r, "mapped"), "16 bytes");
    assert_eq!(value(&r, "outside"), "operation-error");
    assert_eq!(value(&r, "after-unmap"), "operation-error");
}

#[test]
fn dispatch_over_the_device_limit_is_a_validation_error() {
    let Some(r) = bad_input("dispatch-over-limit", Limits::default()) else {
        return;
    };
    assert!(value(&r, "limit").parse::<u32>().unwrap() > 0);
    assert_eq!(value(&r, "over"), "validation-error");
}

#[test]
fn write_buffer_ranges_are_checked_and_a_partial_write_lands_where_asked() {
    let Some(r) = bad_input("write-ranges", Limits::default()) else {
        return;
    };
    assert_eq!(value(&r, "zero"), "ok");
    assert_eq!(value(&r, "past-list"), "operation-error");
    assert_eq!(value(&r, "misaligned"), "validation-error");
    assert_eq!(value(&r, "past-buffer"), "validation-error");
    assert_eq!(value(&r, "into-mapped"), "validation-error");
    assert_eq!(value(&r, "part"), "ok");
    // Bytes 4..12 of the list (values 5..=12) at offset 8; the zeros before them.
    assert_eq!(value(&r, "written"), "0,0,0,0,0,0,0,0,5,6,7,8,9,10,11,12");
    // 3 MiB + 12 bytes through one write-buffer and one get-mapped-range (each copied by
    // the host in 1 MiB pieces on several threads), byte for byte.
    assert_eq!(value(&r, "large"), "ok");
}

#[test]
fn use_after_destroy_is_an_error_every_way() {
    let Some(r) = bad_input("use-after-destroy", Limits::default()) else {
        return;
    };
    assert_eq!(value(&r, "write"), "validation-error");
    assert_eq!(value(&r, "map"), "operation-error");
    assert_eq!(value(&r, "bind"), "validation-error");
    assert_eq!(value(&r, "submit"), "validation-error");
    assert_eq!(value(&r, "device"), "validation-error");
}

#[test]
fn byte_quota_refuses_with_out_of_memory() {
    let limits = Limits {
        max_bytes: 1 << 20,
        ..Limits::default()
    };
    let Some(r) = bad_input("quota", limits) else {
        return;
    };
    assert_eq!(value(&r, "create"), "out-of-memory-error");
    assert_eq!(value(&r, "size"), (1u64 << 40).to_string());
    assert_eq!(value(&r, "use"), "validation-error");
    // A kernel whose buffers exceed the quota fails as an err the guest returns.
    let (h, c) = host("byte_quota_refuses_with_out_of_memory", limits).unwrap();
    let mut i = inst(&h, &c);
    let e = sum(&mut i, &vec![1.0; 1 << 20]).unwrap_err();
    assert!(
        e.contains("out-of-memory-error") && e.contains("quota"),
        "{e}"
    );
    assert_eq!(sum(&mut i, &[2.0, 3.0]).unwrap(), 5.0);
    assert!(i.used_bytes() <= 1 << 20);
}

#[test]
fn object_quota_traps_only_that_instance() {
    let limits = Limits {
        max_objects: 64,
        ..Limits::default()
    };
    let Some((h, c)) = host("object_quota_traps_only_that_instance", limits) else {
        return;
    };
    let mut other = inst(&h, &c);
    let mut i = inst(&h, &c);
    match probe(&mut i, "objects") {
        Err(Error::Trap { message, .. }) => {
            assert!(message.contains("object quota"), "{message}")
        }
        r => panic!("expected a trap at the object quota, got {r:?}"),
    }
    drop(i);
    assert_eq!(sum(&mut other, &[1.0, 2.0, 3.0]).unwrap(), 6.0);
    let mut fresh = inst(&h, &c);
    assert_eq!(sum(&mut fresh, &[4.0, 5.0]).unwrap(), 9.0);
    assert!(fresh.objects() <= 64);
}

#[test]
fn instances_hold_their_own_buffers() {
    let Some((h, c)) = host("instances_hold_their_own_buffers", Limits::default()) else {
        return;
    };
    let dev: &Arc<WebGpuDevice> = h.device();
    let mut a = inst(&h, &c);
    let mut b = inst(&h, &c);
    assert_eq!(sum(&mut a, &[1.0; 1000]).unwrap(), 1000.0);
    assert_eq!(dot(&mut b, &[2.0; 10], &[3.0; 10]).unwrap(), 60.0);
    // Kernel buffers are dropped when each call returns; the device and pipelines stay.
    assert_eq!(a.buffers(), 0);
    assert!(a.objects() > 0);
    assert_eq!(dev.live_bytes(), 0);
    drop(a);
    assert_eq!(dot(&mut b, &[1.0; 4], &[1.0; 4]).unwrap(), 4.0);
}

#[test]
fn cli_runs_and_checks_each_kernel() {
    if let Err(e) = WebGpuDevice::open() {
        eprintln!("skipping cli_runs_and_checks_each_kernel (wasi:webgpu): {e}");
        return;
    }
    for (kernel, n) in [
        ("sum", "5000"),
        ("dot", "5000"),
        ("mul", "5000"),
        ("sgemm", "40"),
    ] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_offload"))
            .args(["webgpu", kernel, "--n", n, "--repeat", "1", "--guest"])
            .arg(guest_path())
            .output()
            .expect("offload runs");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "offload webgpu {kernel}: {stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(stdout.contains("OK"), "{stdout}");
        assert!(stdout.contains("per call:"), "{stdout}");
    }
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_offload"))
        .args(["webgpu", "sum", "--backend", "cuda"])
        .output()
        .expect("offload runs");
    assert_eq!(
        out.status.code(),
        Some(2),
        "only wgpu is a wasi:webgpu backend"
    );
}

#[test]
fn concurrent_instances_keep_their_errors_to_themselves() {
    let Some((h, c)) = host(
        "concurrent_instances_keep_their_errors_to_themselves",
        Limits::default(),
    ) else {
        return;
    };
    let h = Arc::new(h);
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let (h, c) = (h.clone(), c.clone());
            std::thread::spawn(move || {
                let mut i = inst(&h, &c);
                for round in 0..5 {
                    if t == 0 {
                        // One instance keeps raising validation errors in its own scopes.
                        let r = probe(&mut i, "invalid-wgsl").unwrap().unwrap();
                        assert_eq!(value(&r, "scope"), "validation-error");
                    } else {
                        let a = ints(3000 + 7 * t + round, t);
                        let want: f32 = a.iter().sum();
                        assert_eq!(sum(&mut i, &a).unwrap(), want, "thread {t} round {round}");
                        let prod = mul(&mut i, &a, &a).unwrap();
                        assert!(prod.iter().zip(&a).all(|(p, x)| *p == x * x));
                    }
                }
                i.uncaptured().0
            })
        })
        .collect();
    for t in threads {
        assert_eq!(t.join().expect("no thread panics"), 0);
    }
    assert_eq!(h.device().stray_errors(), 0);
    assert_eq!(h.device().live_bytes(), 0);
}
