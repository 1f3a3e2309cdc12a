//! `offload forest --data friedman1 --predict-rows N`: times batch prediction of `N` fresh
//! Friedman #1 rows with the trained forest on the path asked for, after checking its
//! answer against offload-core's.
//!
//! Paths: `rust-native` (`Forest::predict`, one thread, the forest compiled on each call as
//! that function does), `rust-native-rayon` (`Forest::predict_par`, all of rayon's
//! threads), `gpu-<backend>` (batch-predict: the forest uploaded once before the timing;
//! each timed call moves the rows host → device, runs the kernel and reads the predictions
//! back, so the data starts and ends in host memory).

use std::time::Instant;

use offload_core::forest::Forest;
use offload_core::forest_gpu::DeviceForest;
use offload_core::gpu::{BackendKind, DType};

use super::yes_no;

/// Seed of the rows predicted (the benches' `forest-predict` rows use the same seed).
pub const PREDICT_SEED: u64 = 2;

/// Times `repeat` batch predictions of `rows` Friedman #1 rows (`forest.n_features`
/// features, seed [`PREDICT_SEED`]) on `backend` (`cpu`: native, all cores when
/// `parallel`), after one warm-up call whose answer is checked against
/// `Forest::predict_par` (bit for bit where the predictions are f64; within 1e-5 relative
/// where the device sums in f32). Prints the median and minimum in ms and returns whether
/// the check held.
///
/// # Errors
/// A host allocation the machine cannot hold (the rows' bytes against the available
/// memory), a backend that does not open, or a batch-predict the backend refuses.
pub fn batch_predict(
    forest: &Forest,
    rows: usize,
    backend: BackendKind,
    parallel: bool,
    repeat: usize,
    label: &str,
) -> anyhow::Result<bool> {
    let d = forest.n_features;
    // Rows (f32) plus three prediction vectors (f64): counted as f64 vectors of `rows`.
    super::size::ensure_host_fits("--predict-rows", rows, (d as u64).div_ceil(2) + 3)?;
    let x = offload_core::data::friedman1(rows, d, 1.0, PREDICT_SEED).x;
    let reference = forest.predict_par(&x)?;
    let repeat = repeat.max(1);
    let mut times = Vec::with_capacity(repeat);
    let (same, tol) = if backend == BackendKind::Cpu {
        let run = || {
            if parallel {
                forest.predict_par(&x)
            } else {
                forest.predict(&x)
            }
        };
        let same = run()? == reference;
        for _ in 0..repeat {
            let t = Instant::now();
            std::hint::black_box(run()?);
            times.push(t.elapsed().as_nanos());
        }
        (same, 0.0)
    } else {
        let mut dev = offload_core::gpu::Backend::open_kind(backend)?;
        println!("device:      {} ({})", dev.info().name, dev.info().driver);
        let mut on_device = DeviceForest::upload(forest, &mut *dev)?;
        let got = on_device.predict(&mut *dev, &x)?;
        let tol = if on_device.dtype == DType::F64 {
            0.0
        } else {
            1e-5
        };
        let same = got.len() == reference.len()
            && got
                .iter()
                .zip(&reference)
                .all(|(a, b)| a == b || (a - b).abs() <= tol * b.abs());
        for _ in 0..repeat {
            let t = Instant::now();
            std::hint::black_box(on_device.predict(&mut *dev, &x)?);
            times.push(t.elapsed().as_nanos());
        }
        on_device.free(&mut *dev);
        (same, tol)
    };
    times.sort_unstable();
    let ms = |ns: u128| ns as f64 / 1e6;
    println!(
        "batch_predict: {label}, {rows} Friedman #1 rows, {} trees: {:.3} ms (median of {repeat}; min {:.3}){}",
        forest.trees.len(),
        ms(times[times.len() / 2]),
        ms(times[0]),
        if backend == BackendKind::Cpu {
            String::new()
        } else {
            "; rows host→device, kernel, predictions device→host; forest uploaded before".into()
        }
    );
    println!(
        "batch_predict equal to Forest::predict_par ({}): {}",
        if tol == 0.0 {
            "bit for bit".to_string()
        } else {
            format!("within {tol:e} relative")
        },
        yes_no(same)
    );
    Ok(same)
}
