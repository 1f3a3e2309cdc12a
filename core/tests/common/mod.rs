//! Helpers shared by the GPU test files (`gpu.rs`, `ml_kernels.rs`, `ml_cuda.rs`).
// Each test file is its own crate and uses only some of these.
#![allow(dead_code)]

use offload_core::forest::{Forest, ForestError};
use offload_core::gpu::{Backend, BackendKind, BufferId, GpuBackend, GpuError};
use rand::SeedableRng;
use rand_pcg::Pcg64;

/// The tests' random generator: seeded from `OFFLOAD_TEST_SEED` when set, else from the
/// clock; the seed is printed so a failing run can be repeated.
pub fn rng() -> Pcg64 {
    let seed = std::env::var("OFFLOAD_TEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(1)
        });
    println!("seed {seed} (OFFLOAD_TEST_SEED={seed} repeats this run)");
    Pcg64::seed_from_u64(seed)
}

/// A new buffer holding `data` (at least 4 bytes, so an empty slice still gets a buffer).
pub fn upload<T: bytemuck::Pod>(b: &mut dyn GpuBackend, data: &[T]) -> BufferId {
    let bytes: &[u8] = bytemuck::cast_slice(data);
    let id = b.create_buffer(bytes.len().max(4) as u64).unwrap();
    b.write(id, 0, bytes).unwrap();
    id
}

/// The first `n` elements of buffer `id`.
pub fn download<T: bytemuck::Pod>(b: &mut dyn GpuBackend, id: BufferId, n: usize) -> Vec<T> {
    let mut out = vec![T::zeroed(); n];
    b.read(id, 0, bytemuck::cast_slice_mut(&mut out)).unwrap();
    out
}

/// A buffer of `bytes` bytes filled with 0xFF (NaN for floats), so that unwritten output
/// fails a comparison.
pub fn poisoned(b: &mut dyn GpuBackend, bytes: usize) -> BufferId {
    let id = b.create_buffer(bytes as u64).unwrap();
    b.write(id, 0, &vec![0xFFu8; bytes]).unwrap();
    id
}

/// Every backend that starts; the others are printed with their reason.
pub fn backends() -> Vec<Backend> {
    let mut v = Vec::new();
    for kind in BackendKind::ALL {
        match Backend::open_kind(kind) {
            Ok(b) => {
                let i = b.info();
                println!(
                    "{}: {} ({}), f64 {}",
                    kind.name(),
                    i.name,
                    i.driver,
                    i.supports_f64
                );
                v.push(b);
            }
            Err(e) => println!("SKIP {}: {e}", kind.name()),
        }
    }
    v
}

/// True when `b` runs f64 kernels; else prints that `what` is skipped on it.
pub fn has_f64(b: &Backend, what: &str) -> bool {
    if !b.info().supports_f64 {
        println!("SKIP {what} on {}: the device lacks f64", b.kind().name());
    }
    b.info().supports_f64
}

/// Trains with `fit` (`name` in the output) on every backend that starts and checks that the
/// forest is `want`, tree for tree; a backend without f64 must refuse with `Unsupported`.
pub fn same_forest_on_every_backend(
    want: &Forest,
    name: &str,
    what: &str,
    fit: impl Fn(&mut dyn GpuBackend) -> Result<Forest, ForestError>,
) {
    for mut b in backends() {
        if !has_f64(&b, name) {
            let err = fit(&mut *b).unwrap_err();
            assert!(
                matches!(err, ForestError::Gpu(GpuError::Unsupported(_))),
                "{err}"
            );
            continue;
        }
        let t0 = std::time::Instant::now();
        let got = fit(&mut *b).unwrap();
        println!(
            "{}: {name} {what} in {:.1} ms",
            b.kind().name(),
            t0.elapsed().as_secs_f64() * 1e3
        );
        for (t, (g, w)) in got.trees.iter().zip(&want.trees).enumerate() {
            assert!(g == w, "{}: {what}: tree {t} differs", b.kind().name());
        }
        assert_eq!(&got, want);
    }
}
