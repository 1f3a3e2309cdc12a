//! The `cpu` backend: host memory and plain Rust kernels, the reference every other backend
//! is checked against.
//!
//! Reductions of f32 accumulate in f64, so the reference is more accurate than any device
//! path; min/max propagate NaN. Matmul is the i-k-j loop order over row-major data (each row
//! of C accumulated in f32 as a sum of scaled rows of B), rows spread over threads by rayon.
//!
//! The ML kernels are the forest's own reference code (shared with `forest` through the
//! crate's `tree` module): bootstrap-sample is [`crate::forest::bootstrap_counts`] per tree,
//! find-split buckets each tree's rows by node while walking the presort and runs the
//! reference scan (`tree::scan_feature`) per candidate feature in rank order, batch-predict
//! walks the trees as [`crate::forest::Tree::predict_row`] does, trees and rows spread over
//! rayon threads; hist-grow is [`crate::forest::hist::grow_hist_tree`] per tree.
//!
//! Arguments arrive checked (see the `gpu` module's layers): handles exist, ranges and
//! shapes fit. Only find-split's index contents are checked here, as they are read.

use super::hal::{BufferTable, RawBackend};
use super::{
    BackendKind, BufferId, DType, DeviceInfo, ElementwiseOp, FindSplitArgs, ForestBuffers,
    GpuError, HistGrowArgs, HistNode, MatmulPrecision, ReduceOp, Result, SplitRecord,
};
use crate::forest::hist::{grow_hist_tree, HistRules};
use crate::tree::{bootstrap_counts, scan_feature, walk_tree, Split, NONE};
use rayon::prelude::*;
use std::string::ToString;
use std::vec;
use std::vec::Vec;

/// Largest buffer the cpu backend allocates (16 GiB), so a bad size fails cleanly.
pub const CPU_MAX_BUFFER_BYTES: u64 = 16 << 30;

/// A host buffer: u64 words so that f32 and f64 views are aligned.
struct HostBuf {
    words: Vec<u64>,
    bytes: u64,
}

impl HostBuf {
    fn bytes(&self) -> &[u8] {
        &bytemuck::cast_slice(&self.words)[..self.bytes as usize]
    }
    fn bytes_mut(&mut self) -> &mut [u8] {
        &mut bytemuck::cast_slice_mut(&mut self.words)[..self.bytes as usize]
    }
}

/// The reference backend on the host CPU.
pub struct CpuBackend {
    info: DeviceInfo,
    bufs: BufferTable<HostBuf>,
    timing: bool,
    last_ns: Option<u64>,
}

impl Default for CpuBackend {
    fn default() -> Self {
        Self::new()
    }
}

impl CpuBackend {
    /// Opens the cpu backend (cannot fail).
    pub fn new() -> Self {
        CpuBackend {
            info: DeviceInfo {
                backend: BackendKind::Cpu,
                name: std::format!("host CPU ({} threads)", rayon::current_num_threads()),
                driver: "Rust reference kernels".to_string(),
                memory_bytes: None,
                max_buffer_bytes: CPU_MAX_BUFFER_BYTES,
                supports_f64: true,
                supports_tf32: false,
                kernel_timing: true,
                is_software: true,
            },
            bufs: BufferTable::new(),
            timing: false,
            last_ns: None,
        }
    }

    fn timed<T>(&mut self, f: impl FnOnce(&mut Self) -> Result<T>) -> Result<T> {
        let t0 = std::time::Instant::now();
        let r = f(self)?;
        if self.timing {
            self.last_ns = Some(t0.elapsed().as_nanos() as u64);
        }
        Ok(r)
    }

    /// The first `n` f32 of a buffer (the checks made sure it holds them).
    fn f32s(&self, id: BufferId, n: u64) -> Result<&[f32]> {
        let b = self.bufs.get(id)?;
        Ok(&bytemuck::cast_slice::<u64, f32>(&b.words)[..n as usize])
    }
    /// The first `n` f64 of a buffer (the checks made sure it holds them).
    fn f64s(&self, id: BufferId, n: u64) -> Result<&[f64]> {
        let b = self.bufs.get(id)?;
        Ok(&bytemuck::cast_slice::<u64, f64>(&b.words)[..n as usize])
    }
    /// The first `n` 4-byte words of a buffer (the caller checked the size).
    fn words32<T: bytemuck::Pod>(&self, id: BufferId, n: u64) -> Result<&[T]> {
        Ok(&bytemuck::cast_slice::<u64, T>(&self.bufs.get(id)?.words)[..n as usize])
    }
    /// Writes `data` at the start of buffer `id` (the caller checked the size).
    fn put<T: bytemuck::Pod>(&mut self, id: BufferId, data: &[T]) -> Result<()> {
        let bytes: &[u8] = bytemuck::cast_slice(data);
        self.bufs.get_mut(id)?.bytes_mut()[..bytes.len()].copy_from_slice(bytes);
        Ok(())
    }

    fn find_split_impl(&self, a: &FindSplitArgs) -> Result<Vec<SplitRecord>> {
        let (n, d, nt, nn) = (
            a.n_rows as usize,
            a.d as usize,
            a.n_trees as usize,
            a.n_nodes as usize,
        );
        let x: &[f32] = self.words32(a.x, (n * d) as u64)?;
        let y = &bytemuck::cast_slice::<u64, f64>(&self.bufs.get(a.y)?.words)[..n];
        let order: &[u32] = self.words32(a.order, (n * d) as u64)?;
        let weights: &[u32] = self.words32(a.weights, (nt * n) as u64)?;
        let node_of: &[u32] = self.words32(a.node_of, (nt * n) as u64)?;
        let cand_rank: &[u32] = self.words32(a.cand_rank, (nn * d) as u64)?;
        if let Some(&r) = order.iter().find(|&&r| r as usize >= n) {
            return Err(GpuError::InvalidArgument(std::format!(
                "find-split: order holds row {r} of {n}"
            )));
        }
        if let Some(&j) = node_of.iter().find(|&&j| j != NONE && j as usize >= nn) {
            return Err(GpuError::InvalidArgument(std::format!(
                "find-split: node_of holds node {j} of {nn}"
            )));
        }
        // The tree of every node (a node's rows must all lie in one tree).
        let mut tree_of = vec![NONE; nn];
        for t in 0..nt {
            for (&j, &w) in node_of[t * n..(t + 1) * n]
                .iter()
                .zip(&weights[t * n..(t + 1) * n])
            {
                if j == NONE || w == 0 {
                    continue;
                }
                let o = &mut tree_of[j as usize];
                if *o != NONE && *o != t as u32 {
                    return Err(GpuError::InvalidArgument(std::format!(
                        "find-split: node {j} holds rows of trees {o} and {t}"
                    )));
                }
                *o = t as u32;
            }
        }
        let per_tree: Vec<Vec<(usize, Option<Split>)>> = (0..nt)
            .into_par_iter()
            .map(|t| {
                let w_of = &weights[t * n..(t + 1) * n];
                let nodes = &node_of[t * n..(t + 1) * n];
                // This tree's nodes, each with a slot.
                let mut slot = std::collections::HashMap::new();
                let mut ids = Vec::new();
                for (&j, &w) in nodes.iter().zip(w_of) {
                    if j != NONE && w > 0 && !slot.contains_key(&j) {
                        slot.insert(j, ids.len());
                        ids.push(j as usize);
                    }
                }
                // rows[f][slot]: the node's rows in feature f's order.
                let mut rows = vec![vec![Vec::new(); ids.len()]; d];
                for (f, rf) in rows.iter_mut().enumerate() {
                    for &r in &order[f * n..(f + 1) * n] {
                        let (j, w) = (nodes[r as usize], w_of[r as usize]);
                        if j != NONE && w > 0 {
                            rf[slot[&j]].push(r);
                        }
                    }
                }
                ids.iter()
                    .enumerate()
                    .map(|(s, &j)| {
                        let mut cands: Vec<(u32, usize)> = (0..d)
                            .filter_map(|f| {
                                let r = cand_rank[j * d + f];
                                (r != NONE).then_some((r, f))
                            })
                            .collect();
                        cands.sort_unstable();
                        let mut best = None;
                        for &(_, f) in &cands {
                            let sorted = &rows[f][s];
                            scan_feature(x, y, d, f, sorted, w_of, a.min_leaf as u64, &mut best);
                        }
                        (j, best)
                    })
                    .collect()
            })
            .collect();
        let mut recs = vec![
            SplitRecord {
                feature: -1,
                ..SplitRecord::default()
            };
            nn
        ];
        for (j, best) in per_tree.into_iter().flatten() {
            if let Some(b) = best {
                recs[j] = SplitRecord {
                    score: b.score,
                    feature: b.feature as i32,
                    threshold: b.threshold,
                    weight_left: b.weight_left.min(u32::MAX as u64) as u32,
                    pad: 0,
                };
            }
        }
        Ok(recs)
    }
}

/// Reference reduction in f64 with NaN propagation for min/max.
pub fn reduce_ref(op: ReduceOp, xs: impl Iterator<Item = f64>) -> f64 {
    match op {
        ReduceOp::Sum => xs.sum(),
        ReduceOp::Min => xs.fold(f64::INFINITY, |m, x| {
            if x.is_nan() || m.is_nan() {
                f64::NAN
            } else {
                m.min(x)
            }
        }),
        ReduceOp::Max => xs.fold(f64::NEG_INFINITY, |m, x| {
            if x.is_nan() || m.is_nan() {
                f64::NAN
            } else {
                m.max(x)
            }
        }),
    }
}

/// Reference element-wise op on one element pair.
pub fn elementwise_ref(op: ElementwiseOp, a: f64, b: f64, scalar: f64) -> f64 {
    match op {
        ElementwiseOp::Mul => a * b,
        ElementwiseOp::Add => a + b,
        ElementwiseOp::Scale => scalar * a,
        ElementwiseOp::Relu => {
            if a > 0.0 || a.is_nan() {
                a
            } else {
                0.0
            }
        }
    }
}

/// Reference f32 matmul: `c = a·b`, row-major, a m×k, b k×n, c m×n; rows over rayon threads.
pub fn matmul_ref(a: &[f32], b: &[f32], c: &mut [f32], m: usize, k: usize, n: usize) {
    c[..m * n]
        .par_chunks_mut(n)
        .enumerate()
        .for_each(|(i, row)| {
            row.fill(0.0);
            for p in 0..k {
                let aip = a[i * k + p];
                let brow = &b[p * n..(p + 1) * n];
                for (cj, bj) in row.iter_mut().zip(brow) {
                    *cj += aip * bj;
                }
            }
        });
}

impl RawBackend for CpuBackend {
    fn info(&self) -> &DeviceInfo {
        &self.info
    }

    fn check_dtype(&self, _dtype: DType) -> Result<()> {
        Ok(())
    }

    fn create_buffer(&mut self, bytes: u64) -> Result<BufferId> {
        let words = bytes.div_ceil(8) as usize;
        let mut v = Vec::new();
        v.try_reserve_exact(words)
            .map_err(|e| GpuError::Device(std::format!("host allocation of {bytes} bytes: {e}")))?;
        v.resize(words, 0u64);
        Ok(self.bufs.insert(HostBuf { words: v, bytes }))
    }

    fn destroy_buffer(&mut self, id: BufferId) -> Result<()> {
        self.bufs.remove(id).map(|_| ())
    }

    fn buffer_size(&self, id: BufferId) -> Result<u64> {
        Ok(self.bufs.get(id)?.bytes)
    }

    fn write(&mut self, id: BufferId, offset: u64, data: &[u8]) -> Result<()> {
        let b = self.bufs.get_mut(id)?;
        b.bytes_mut()[offset as usize..offset as usize + data.len()].copy_from_slice(data);
        Ok(())
    }

    fn read(&mut self, id: BufferId, offset: u64, out: &mut [u8]) -> Result<()> {
        let b = self.bufs.get(id)?;
        out.copy_from_slice(&b.bytes()[offset as usize..offset as usize + out.len()]);
        Ok(())
    }

    fn copy(
        &mut self,
        src: BufferId,
        src_offset: u64,
        dst: BufferId,
        dst_offset: u64,
        bytes: u64,
    ) -> Result<()> {
        let s = self.bufs.get(src)?;
        let tmp = s.bytes()[src_offset as usize..(src_offset + bytes) as usize].to_vec();
        self.bufs.get_mut(dst)?.bytes_mut()[dst_offset as usize..(dst_offset + bytes) as usize]
            .copy_from_slice(&tmp);
        Ok(())
    }

    fn sync(&mut self) -> Result<()> {
        Ok(())
    }

    fn reduce(&mut self, op: ReduceOp, dtype: DType, a: BufferId, n: u64) -> Result<f64> {
        self.timed(|s| {
            Ok(match dtype {
                DType::F32 => reduce_ref(op, s.f32s(a, n)?.iter().map(|&x| x as f64)),
                DType::F64 => reduce_ref(op, s.f64s(a, n)?.iter().copied()),
            })
        })
    }

    fn dot(&mut self, dtype: DType, a: BufferId, b: BufferId, n: u64) -> Result<f64> {
        self.timed(|s| {
            Ok(match dtype {
                DType::F32 => {
                    let (x, y) = (s.f32s(a, n)?, s.f32s(b, n)?);
                    x.iter().zip(y).map(|(&p, &q)| p as f64 * q as f64).sum()
                }
                DType::F64 => {
                    let (x, y) = (s.f64s(a, n)?, s.f64s(b, n)?);
                    x.iter().zip(y).map(|(p, q)| p * q).sum()
                }
            })
        })
    }

    fn elementwise(
        &mut self,
        op: ElementwiseOp,
        dtype: DType,
        a: BufferId,
        b: Option<BufferId>,
        scalar: f64,
        out: BufferId,
        n: u64,
    ) -> Result<()> {
        self.timed(|s| {
            let r: Vec<u8> = match dtype {
                DType::F32 => {
                    let x = s.f32s(a, n)?;
                    let y = match b {
                        Some(b) => s.f32s(b, n)?,
                        None => x,
                    };
                    let v: Vec<f32> = x
                        .iter()
                        .zip(y)
                        .map(|(&p, &q)| match op {
                            // f32 arithmetic, as the devices do it.
                            ElementwiseOp::Mul => p * q,
                            ElementwiseOp::Add => p + q,
                            ElementwiseOp::Scale => scalar as f32 * p,
                            ElementwiseOp::Relu => elementwise_ref(op, p as f64, 0.0, 0.0) as f32,
                        })
                        .collect();
                    bytemuck::cast_slice(&v).to_vec()
                }
                DType::F64 => {
                    let x = s.f64s(a, n)?;
                    let y = match b {
                        Some(b) => s.f64s(b, n)?,
                        None => x,
                    };
                    let v: Vec<f64> = x
                        .iter()
                        .zip(y)
                        .map(|(&p, &q)| elementwise_ref(op, p, q, scalar))
                        .collect();
                    bytemuck::cast_slice(&v).to_vec()
                }
            };
            s.bufs.get_mut(out)?.bytes_mut()[..r.len()].copy_from_slice(&r);
            Ok(())
        })
    }

    fn matmul(
        &mut self,
        precision: MatmulPrecision,
        a: BufferId,
        b: BufferId,
        c: BufferId,
        m: u64,
        k: u64,
        n: u64,
    ) -> Result<()> {
        if precision != MatmulPrecision::Fp32 {
            return Err(GpuError::Unsupported(
                "TF32 matmul on the cpu backend (FP32 only)".into(),
            ));
        }
        let (m, k, n) = (m as usize, k as usize, n as usize);
        self.timed(|s| {
            let mut out = vec![0f32; m * n];
            {
                let ab = bytemuck::cast_slice::<u64, f32>(&s.bufs.get(a)?.words);
                let bb = bytemuck::cast_slice::<u64, f32>(&s.bufs.get(b)?.words);
                matmul_ref(ab, bb, &mut out, m, k, n);
            }
            s.bufs.get_mut(c)?.bytes_mut()[..m * n * 4].copy_from_slice(bytemuck::cast_slice(&out));
            Ok(())
        })
    }

    fn bootstrap_sample(
        &mut self,
        seed: u64,
        first_tree: u32,
        n_trees: u32,
        n_rows: u32,
        out: BufferId,
    ) -> Result<()> {
        self.timed(|s| {
            let w: Vec<u32> = (0..n_trees as u64)
                .into_par_iter()
                .flat_map_iter(|t| bootstrap_counts(n_rows as usize, seed, first_tree as u64 + t))
                .collect();
            s.put(out, &w)
        })
    }

    fn find_split(&mut self, args: &FindSplitArgs) -> Result<()> {
        self.timed(|s| {
            let recs = s.find_split_impl(args)?;
            s.put(args.out, &recs)
        })
    }

    fn hist_grow(&mut self, a: &HistGrowArgs) -> Result<()> {
        self.timed(|s| {
            let (n, d, nt, cap) = (
                a.n_rows as usize,
                a.d as usize,
                a.n_trees as usize,
                a.node_cap as usize,
            );
            let bins = &s.bufs.get(a.bins)?.bytes()[..d * n];
            let n_bins: &[u32] = s.words32(a.n_bins, d as u64)?;
            let yq: &[u32] = s.words32(a.yq, n as u64)?;
            let w: &[u32] = s.words32(a.weights, (nt * n) as u64)?;
            let rules = HistRules {
                min_split: a.min_split,
                min_leaf: a.min_leaf,
                max_depth: a.max_depth,
            };
            let trees: Vec<Vec<HistNode>> = (0..nt)
                .into_par_iter()
                .map(|t| grow_hist_tree(bins, n_bins, yq, &w[t * n..(t + 1) * n], rules))
                .collect();
            let mut nodes = vec![HistNode::default(); nt * cap];
            let mut count = vec![0u32; nt];
            for (t, tree) in trees.iter().enumerate() {
                nodes[t * cap..t * cap + tree.len()].copy_from_slice(tree);
                count[t] = tree.len() as u32;
            }
            s.put(a.nodes, &nodes)?;
            s.put(a.node_count, &count)
        })
    }

    fn average(
        &mut self,
        dtype: DType,
        preds: BufferId,
        n_trees: u32,
        n_rows: u32,
        out: BufferId,
    ) -> Result<()> {
        self.timed(|s| {
            let (nt, n) = (n_trees as usize, n_rows as usize);
            let p: &[f32] = s.words32(preds, (nt * n) as u64)?;
            match dtype {
                DType::F64 => {
                    // The sum of Forest::predict_row: f64, tree order.
                    let v: Vec<f64> = (0..n)
                        .map(|r| (0..nt).map(|t| p[t * n + r] as f64).sum::<f64>() / nt as f64)
                        .collect();
                    s.put(out, &v)
                }
                DType::F32 => {
                    let v: Vec<f32> = (0..n)
                        .map(|r| (0..nt).map(|t| p[t * n + r]).sum::<f32>() / nt as f32)
                        .collect();
                    s.put(out, &v)
                }
            }
        })
    }

    fn batch_predict(
        &mut self,
        dtype: DType,
        forest: &ForestBuffers,
        x: BufferId,
        n_rows: u32,
        out: BufferId,
    ) -> Result<()> {
        self.timed(|s| {
            let (nn, nt, d) = (
                forest.n_nodes as u64,
                forest.n_trees as u64,
                forest.n_features as usize,
            );
            let feature: &[i32] = s.words32(forest.feature, nn)?;
            let threshold: &[f32] = s.words32(forest.threshold, nn)?;
            let left: &[i32] = s.words32(forest.left, nn)?;
            let right: &[i32] = s.words32(forest.right, nn)?;
            let value: &[f32] = s.words32(forest.value, nn)?;
            let starts: &[u32] = s.words32(forest.tree_start, nt)?;
            let xs: &[f32] = s.words32(x, n_rows as u64 * d as u64)?;
            let leaf =
                |row: &[f32], st: u32| walk_tree(feature, threshold, left, right, value, st, row);
            match dtype {
                DType::F64 => {
                    let v: Vec<f64> = xs
                        .par_chunks_exact(d)
                        .map(|row| {
                            let sum: f64 = starts.iter().map(|&st| leaf(row, st) as f64).sum();
                            sum / nt as f64
                        })
                        .collect();
                    s.put(out, &v)
                }
                DType::F32 => {
                    let v: Vec<f32> = xs
                        .par_chunks_exact(d)
                        .map(|row| {
                            let sum: f32 = starts.iter().map(|&st| leaf(row, st)).sum();
                            sum / nt as f32
                        })
                        .collect();
                    s.put(out, &v)
                }
            }
        })
    }

    fn set_kernel_timing(&mut self, on: bool) -> Result<()> {
        self.timing = on;
        if !on {
            self.last_ns = None;
        }
        Ok(())
    }

    fn last_kernel_ns(&self) -> Option<u64> {
        self.last_ns
    }
}
