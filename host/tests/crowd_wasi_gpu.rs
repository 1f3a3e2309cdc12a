//! Crowd (issue 19, item 4): 16 instances of the demo guest (`build/guests/gpu-guest.wasm`,
//! or `$OFFLOAD_GUESTS_DIR/gpu-guest.wasm`) at once on one host and one device, one thread
//! each, started together: every instance checks its own answers (each its own size, so
//! that a mix-up shows), while one instance holds its whole buffer quota and gets
//! `quota-exceeded` for more, and another asks for more bytes than its quota in one
//! buffer; the others are not affected. On cpu, on wgpu
//! and on cuda (each GPU backend skipped by name, with the reason, when it cannot open).
//! Afterwards the device holds no buffer.

mod common;

use std::sync::Barrier;

use offload_host::wasi_gpu::{seeded_f32, Device, GpuHost, GpuInstance, Limits};

const GUESTS: usize = 16;
const ROUNDS: usize = 5;
const LIMITS: Limits = Limits {
    max_bytes: 1 << 20,
    max_buffers: 4,
    deadline: std::time::Duration::from_secs(60),
};

fn sum(i: &mut GpuInstance, n: usize) -> Result<f64, String> {
    i.call::<(u32,), (Result<f64, String>,)>("sum", (n as u32,))
        .expect("sum does not trap")
        .0
}

fn dot(i: &mut GpuInstance, n: usize) -> Result<f64, String> {
    i.call::<(u32,), (Result<f64, String>,)>("dot", (n as u32,))
        .expect("dot does not trap")
        .0
}

/// Guest `g`'s work: `ROUNDS` checked sums and dots of its own size; guest 0 then fills
/// its buffer quota, guest 1 asks for more than its byte quota.
fn guest(host: &GpuHost, c: &wasmtime::component::Component, g: usize, start: &Barrier) {
    let mut i = host.instantiate(c).expect("instantiate");
    let n = 1000 + 37 * g;
    let (a, b) = (seeded_f32(1, n), seeded_f32(2, n));
    let want_sum: f64 = a.iter().map(|&x| x as f64).sum();
    let scale: f64 = a.iter().map(|&x| x.abs() as f64).sum();
    let want_dot: f64 = a.iter().zip(&b).map(|(&x, &y)| (x * y) as f64).sum();
    start.wait();
    for r in 0..ROUNDS {
        let s = sum(&mut i, n).unwrap_or_else(|e| panic!("guest {g} round {r}: sum: {e}"));
        assert!(
            (s - want_sum).abs() <= 1e-5 * scale,
            "guest {g} round {r}: sum {s}"
        );
        let d = dot(&mut i, n).unwrap_or_else(|e| panic!("guest {g} round {r}: dot: {e}"));
        assert!(
            (d - want_dot).abs() <= 1e-5 * n as f64,
            "guest {g} round {r}: dot {d}"
        );
    }
    match g {
        0 => {
            for _ in 0..LIMITS.max_buffers {
                i.probe("create-keep", 0)
                    .unwrap()
                    .expect("within the quota");
            }
            assert_eq!(i.buffers(), LIMITS.max_buffers as usize);
            let e = i
                .probe("create-keep", 0)
                .unwrap()
                .expect_err("over the quota");
            assert!(e.starts_with("quota-exceeded:"), "{e}");
            // Its own sum needs a buffer too: refused, not someone else's.
            let e = sum(&mut i, n).expect_err("no buffer left in the quota");
            assert!(e.starts_with("quota-exceeded:"), "{e}");
        }
        1 => {
            let e = i
                .probe("over-quota", 2 * LIMITS.max_bytes)
                .unwrap()
                .expect_err("over the byte quota");
            assert!(e.starts_with("quota-exceeded:"), "{e}");
            // Still within the quota afterwards.
            let s = sum(&mut i, n).expect("sum after a refusal");
            assert!((s - want_sum).abs() <= 1e-5 * scale);
        }
        _ => {}
    }
}

fn crowd(backend: &str) {
    let device = match Device::open(backend) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("SKIP crowd-wasi-gpu/{backend}: {e}");
            return;
        }
    };
    let host = GpuHost::new(device, LIMITS).expect("host");
    let path = common::guests_dir().join("gpu-guest.wasm");
    assert!(path.is_file(), "{} is not built", path.display());
    let c = host.load(&path).expect("the demo guest loads");
    let start = Barrier::new(GUESTS);
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..GUESTS)
            .map(|g| {
                let (host, c, start) = (&host, &c, &start);
                s.spawn(move || guest(host, c, g, start))
            })
            .collect();
        for (g, h) in handles.into_iter().enumerate() {
            if let Err(p) = h.join() {
                eprintln!("crowd-wasi-gpu/{backend}: guest thread {g} failed");
                std::panic::resume_unwind(p);
            }
        }
    });
    assert_eq!(
        host.device().live_buffers(),
        0,
        "buffers left after the crowd"
    );
    eprintln!("crowd-wasi-gpu/{backend}: {GUESTS} guests × {ROUNDS} rounds ok, quotas held");
}

/// The crowd on the cpu backend (see the module docs for what it asserts).
#[test]
fn crowd_on_cpu() {
    crowd("cpu");
}

/// The crowd on wgpu; skipped by name when no adapter starts.
#[test]
fn crowd_on_wgpu() {
    crowd("wgpu");
}

/// The crowd on cuda; skipped by name when the driver or CUDA libraries are missing
/// (`Device::open` probes libcuda, libnvrtc and libcublas before cudarc touches them).
#[test]
fn crowd_on_cuda() {
    crowd("cuda");
}
