//! Soak (issue 19, item 3, scaled down): many lifecycles of the demo guest
//! (`build/guests/gpu-guest.wasm`, or `$OFFLOAD_GUESTS_DIR/gpu-guest.wasm`) on one host, on
//! cpu, on wgpu and on cuda (each GPU backend skipped by name, with the reason, when it
//! cannot open: no adapter, no NVIDIA driver or CUDA libraries): instantiate, `sum`,
//! `dot` and `matmul` (create buffers, write, kernel, read, destroy; each answer checked
//! against the host), two buffers kept
//! (`create-keep`) and freed by dropping the instance.
//!
//! Asserts: every answer is right; no device buffer id is seen twice across instances;
//! the device holds no buffer after each drop; host RSS (`/proc/self/statm`) at the end is
//! at most 5 % over RSS after the warm-up (the first tenth of the lifecycles, at least
//! 20). Prints RSS at start, after warm-up and at the end. `OFFLOAD_SOAK_ITERS`
//! lifecycles per backend (default 200; `./build.sh fuzz` runs 10,000). One test in this
//! binary, backends in turn, so that nothing else moves the process's RSS.

mod common;

use std::collections::HashSet;
use std::time::Instant;

use offload_host::wasi_gpu::{seeded_f32, Device, GpuHost, Limits};

/// Resident set size of this process in bytes.
fn rss() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("/proc/self/statm");
    let pages: u64 = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
    pages * 4096
}

fn mib(b: u64) -> f64 {
    b as f64 / (1 << 20) as f64
}

fn soak(backend: &str, lifecycles: u64) {
    let device = match Device::open(backend) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("SKIP soak-wasi-gpu/{backend}: {e}");
            return;
        }
    };
    let host = GpuHost::new(device, Limits::default()).expect("host");
    let path = common::guests_dir().join("gpu-guest.wasm");
    assert!(path.is_file(), "{} is not built", path.display());
    let component = host.load(&path).expect("the demo guest loads");

    let n = 1000usize;
    let (a, b) = (seeded_f32(1, n), seeded_f32(2, n));
    let want_sum: f64 = a.iter().map(|&x| x as f64).sum();
    let scale: f64 = a.iter().map(|&x| x.abs() as f64).sum();
    let want_dot: f64 = a.iter().zip(&b).map(|(&x, &y)| (x * y) as f64).sum();

    let warmup = (lifecycles / 10).max(20).min(lifecycles);
    let start_rss = rss();
    let mut warm_rss = start_rss;
    let mut seen = HashSet::new();
    let t = Instant::now();
    for k in 0..lifecycles {
        let mut i = host.instantiate(&component).expect("instantiate");
        let (s,) = i
            .call::<(u32,), (Result<f64, String>,)>("sum", (n as u32,))
            .expect("sum");
        let s = s.expect("sum ok");
        assert!(
            (s - want_sum).abs() <= 1e-5 * scale,
            "lifecycle {k}: sum {s}"
        );
        let (d,) = i
            .call::<(u32,), (Result<f64, String>,)>("dot", (n as u32,))
            .expect("dot");
        let d = d.expect("dot ok");
        assert!(
            (d - want_dot).abs() <= 1e-5 * n as f64,
            "lifecycle {k}: dot {d}"
        );
        let (m,) = i
            .call::<(u32, bool), (Result<f64, String>,)>("matmul", (8, false))
            .expect("matmul");
        assert!(m.expect("matmul ok").is_finite());
        for _ in 0..2 {
            i.probe("create-keep", 0)
                .expect("probe")
                .expect("create-keep");
        }
        let ids = i.buffer_ids();
        assert_eq!(ids.len(), 2, "lifecycle {k}");
        for id in ids {
            assert!(
                seen.insert(id),
                "lifecycle {k}: device buffer id {id} seen twice"
            );
        }
        drop(i);
        assert_eq!(
            host.device().live_buffers(),
            0,
            "lifecycle {k} left buffers"
        );
        if k + 1 == warmup {
            warm_rss = rss();
        }
    }
    let end_rss = rss();
    let growth = (end_rss as f64 - warm_rss as f64) / warm_rss as f64 * 100.0;
    eprintln!(
        "soak-wasi-gpu/{backend}: {lifecycles} lifecycles in {:.1} s; RSS start {:.1} MiB, \
         after {warmup} (warm-up) {:.1} MiB, end {:.1} MiB ({growth:+.2} % after warm-up); \
         {} distinct device buffer ids",
        t.elapsed().as_secs_f64(),
        mib(start_rss),
        mib(warm_rss),
        mib(end_rss),
        seen.len()
    );
    assert!(
        growth <= 5.0,
        "{backend}: RSS grew {growth:.2} % after warm-up ({} -> {} bytes)",
        warm_rss,
        end_rss
    );
}

/// Soaks `OFFLOAD_SOAK_ITERS` lifecycles on cpu, then wgpu, then cuda (see the module docs
/// for what each asserts; a GPU backend that cannot open is skipped by name).
#[test]
fn soak_wasi_gpu_lifecycles() {
    let lifecycles = common::env_u64("OFFLOAD_SOAK_ITERS", 200);
    soak("cpu", lifecycles);
    soak("wgpu", lifecycles);
    soak("cuda", lifecycles);
}
