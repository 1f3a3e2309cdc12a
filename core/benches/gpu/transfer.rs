//! `h2d` and `d2h` transfers, and the latency probe of `OFFLOAD_BENCH_LATENCY=1`.

use crate::cfg::{host_fits, mem_available, skip_pinned, software_skip, Cfg, SOFTWARE_MAX_BYTES};
use crate::elem::gen_bytes;
use criterion::{BenchmarkId, Criterion, Throughput};
use offload_core::gpu::{Backend, DType, ElementwiseOp, ReduceOp};

pub(crate) fn bench_transfers(c: &mut Criterion, cfg: &Cfg, devs: &mut [(&'static str, Backend)]) {
    // 4 KiB … 4 GiB by ×4.
    let full: Vec<u64> = (0..11).map(|k| 4096u64 << (2 * k)).collect();
    let sizes = cfg.sizes(&full, &[1 << 20, 64 << 20]);
    for dir in ["h2d", "d2h"] {
        if !cfg.wants(dir) {
            continue;
        }
        skip_pinned(dir);
        let mut g = c.benchmark_group(dir);
        for &bytes in &sizes {
            if let Err(why) = host_fits(2 * bytes, "source and read-back", mem_available()) {
                for (path, _) in devs.iter() {
                    println!("SKIP {dir}/{path}/{bytes}: {why}");
                }
                continue;
            }
            g.throughput(Throughput::Bytes(bytes));
            let host = gen_bytes(bytes);
            let mut back = vec![0u8; bytes as usize];
            for (path, dev) in devs.iter_mut() {
                if let Some(why) = software_skip(cfg, &**dev, bytes, SOFTWARE_MAX_BYTES) {
                    println!("SKIP {dir}/{path}/{bytes}: {why}");
                    continue;
                }
                let id = match dev.create_buffer(bytes) {
                    Ok(id) => id,
                    Err(e) => {
                        println!("SKIP {dir}/{path}/{bytes}: {e}");
                        continue;
                    }
                };
                back.fill(0);
                let ok = dev
                    .write(id, 0, &host)
                    .and_then(|_| dev.read(id, 0, &mut back));
                match ok {
                    Err(e) => println!("SKIP {dir}/{path}/{bytes}: {e}"),
                    Ok(()) if back != host => println!(
                        "SKIP {dir}/{path}/{bytes}: read back differs from what was written"
                    ),
                    Ok(()) => {
                        g.bench_function(BenchmarkId::new(*path, bytes), |bch| {
                            bch.iter(|| {
                                if dir == "h2d" {
                                    dev.write(id, 0, &host).unwrap();
                                    dev.sync().unwrap();
                                } else {
                                    dev.read(id, 0, &mut back).unwrap();
                                }
                            })
                        });
                    }
                }
                let _ = dev.destroy_buffer(id);
            }
        }
        g.finish();
    }
}

/// Splits a small operation's wall-clock time into its parts (`OFFLOAD_BENCH_LATENCY=1`):
/// a sync with nothing queued, a 4-byte device copy and sync (one submission), a 4-byte
/// write (staging upload) and sync, and a 1-element kernel and sync. Means over 200 runs.
pub(crate) fn latency_probe(path: &str, dev: &mut Backend) {
    let (a, b) = match (dev.create_buffer(4), dev.create_buffer(4)) {
        (Ok(a), Ok(b)) => (a, b),
        _ => return,
    };
    let mut time = |what: &str, f: &mut dyn FnMut(&mut Backend)| {
        f(dev);
        let t0 = std::time::Instant::now();
        for _ in 0..200 {
            f(dev);
        }
        println!(
            "latency {path} {what}: {:.1} µs",
            t0.elapsed().as_secs_f64() * 1e6 / 200.0
        );
    };
    time("sync (idle)", &mut |d| d.sync().unwrap());
    time("copy 4 B + sync", &mut |d| {
        d.copy(a, 0, b, 0, 4).unwrap();
        d.sync().unwrap()
    });
    time("write 4 B + sync", &mut |d| {
        d.write(a, 0, &[0, 0, 128, 63]).unwrap();
        d.sync().unwrap()
    });
    time("relu n=1 + sync", &mut |d| {
        d.elementwise(ElementwiseOp::Relu, DType::F32, a, None, 0.0, b, 1)
            .unwrap();
        d.sync().unwrap()
    });
    time("sum n=1 (result read back)", &mut |d| {
        d.reduce(ReduceOp::Sum, DType::F32, a, 1).unwrap();
    });
    let _ = dev.destroy_buffer(a);
    let _ = dev.destroy_buffer(b);
}
