//! The random-forest kernels of the wgpu backend (`ml_bootstrap.wgsl`,
//! `ml_find_split.wgsl`, `ml_predict.wgsl`; see each file's header), on checked shapes:
//! bootstrap-sample with PCG32 on u32 pairs and jump-ahead per chunk of 256 draws,
//! find-split with one invocation per (tree, feature) and scratch per (node, feature) owned
//! and grown by the backend, average and batch-predict with one invocation per row.

use super::{map_err, WgpuBackend, MAX_GROUPS};
use crate::gpu::{BufferId, DType, FindSplitArgs, ForestBuffers, GpuError, Result};
use std::format;
use std::string::ToString;
use std::vec::Vec;

const ML_BOOTSTRAP_WGSL: &str = include_str!("../../../shaders/ml_bootstrap.wgsl");
/// `mulhi32` (64-bit products from u32 halves), prepended to the shaders that use it.
pub(super) const MUL64_WGSL: &str = include_str!("../../../shaders/mul64.wgsl");
const ML_FIND_SPLIT_WGSL: &str = include_str!("../../../shaders/ml_find_split.wgsl");
const ML_PREDICT_WGSL: &str = include_str!("../../../shaders/ml_predict.wgsl");
/// Draws per invocation of the bootstrap kernel (`CHUNK` in `ml_bootstrap.wgsl`).
const BOOTSTRAP_CHUNK: u64 = 256;
/// Invocations per workgroup of the ML kernels.
const ML_GROUP: u64 = 64;
/// Bytes of one (node, feature) scratch entry of find-split (`Acc` in `ml_find_split.wgsl`).
const ACC_BYTES: u64 = 48;

impl WgpuBackend {
    /// find-split's scratch (`aux` false) or owners/status buffer (`aux` true), grown to at
    /// least `bytes` (by doubling, so that a growing tree does not reallocate every level).
    fn ml_buffer(&mut self, aux: bool, bytes: u64) -> Result<wgpu::Buffer> {
        let (slot, label) = if aux {
            (&mut self.ml_aux, "ml-aux")
        } else {
            (&mut self.ml_scratch, "ml-scratch")
        };
        let what = "find-split scratch in bytes (n_nodes·d·48)";
        grown_scratch(
            &self.device,
            self.info.max_buffer_bytes,
            slot,
            bytes,
            label,
            what,
        )
    }

    pub(super) fn bootstrap_impl(
        &mut self,
        seed: u64,
        first_tree: u32,
        n_trees: u32,
        n_rows: u32,
        out: BufferId,
    ) -> Result<()> {
        let total = n_trees as u64 * n_rows as u64;
        let chunks = (n_rows as u64).div_ceil(BOOTSTRAP_CHUNK);
        let draws = n_trees as u64 * chunks;
        let src = || format!("{MUL64_WGSL}{ML_BOOTSTRAP_WGSL}");
        let clear = self.pipeline("ml-bootstrap-clear", src, "clear")?;
        let draw = self.pipeline("ml-bootstrap-draw", src, "draw")?;
        let seed = [seed as u32, (seed >> 32) as u32];
        let p0: [u32; 4] = [seed[0], seed[1], first_tree, n_trees];
        let p1: [u32; 4] = [n_rows, chunks as u32, total as u32, 0];
        self.set_params(bytemuck::cast(p0), bytemuck::cast(p1))?;
        let ob = self.buf(out)?.buf.clone();
        let entries = [(0, &ob), (1, &self.params[0]), (2, &self.params[1])];
        let (bc, bd) = (self.bind(&clear, &entries), self.bind(&draw, &entries));
        self.run_pass(
            &[(&clear, &bc, grid(total)?), (&draw, &bd, grid(draws)?)],
            |_| {},
        )?;
        Ok(())
    }

    pub(super) fn find_split_impl(&mut self, a: &FindSplitArgs) -> Result<()> {
        let pairs = a.n_nodes as u64 * a.d as u64;
        let scratch = self.ml_buffer(false, pairs * ACC_BYTES)?;
        let aux_bytes = (2 * a.n_nodes as u64 + 1) * 4;
        let aux = self.ml_buffer(true, aux_bytes)?;
        let src = || ML_FIND_SPLIT_WGSL.to_string();
        let init = self.pipeline("ml-find-split-init", src, "init")?;
        let scan = self.pipeline("ml-find-split-scan", src, "scan")?;
        let reduce = self.pipeline("ml-find-split-reduce", src, "reduce")?;
        let p0: [u32; 4] = [a.n_rows, a.d, a.n_trees, a.n_nodes];
        let mut p1 = [0u8; 16];
        p1[..8].copy_from_slice(&1.0f64.to_le_bytes());
        p1[8..12].copy_from_slice(&a.min_leaf.to_le_bytes());
        self.set_params(bytemuck::cast(p0), p1)?;
        let b = |id: BufferId| -> Result<wgpu::Buffer> { Ok(self.buf(id)?.buf.clone()) };
        let bufs = [
            b(a.x)?,
            b(a.y)?,
            b(a.order)?,
            b(a.weights)?,
            b(a.node_of)?,
            b(a.cand_rank)?,
            b(a.out)?,
        ];
        let (p0b, p1b) = (self.params[0].clone(), self.params[1].clone());
        let mut entries: Vec<(u32, &wgpu::Buffer)> = bufs
            .iter()
            .enumerate()
            .map(|(i, b)| (i as u32, b))
            .collect();
        entries.extend([(7, &scratch), (8, &aux), (9, &p0b), (10, &p1b)]);
        let pick = |keep: &[u32]| -> Vec<(u32, &wgpu::Buffer)> {
            entries
                .iter()
                .filter(|(i, _)| keep.contains(i))
                .copied()
                .collect()
        };
        let bi = self.bind(&init, &pick(&[7, 8, 9]));
        let bs = self.bind(&scan, &pick(&[0, 1, 2, 3, 4, 5, 7, 8, 9, 10]));
        let br = self.bind(&reduce, &pick(&[5, 6, 7, 8, 9]));
        let status_off = 2 * a.n_nodes as u64 * 4;
        let down = self.down[0].clone();
        let idx = self.run_pass(
            &[
                (&init, &bi, grid(pairs.max(a.n_nodes as u64))?),
                (&scan, &bs, grid(a.n_trees as u64 * a.d as u64)?),
                (&reduce, &br, grid(a.n_nodes as u64)?),
            ],
            |enc| enc.copy_buffer_to_buffer(&aux, status_off, &down, 0, 4),
        )?;
        self.map(&down, 4, wgpu::MapMode::Read, Some(idx))?;
        let status = {
            let v = down.slice(..4).get_mapped_range().map_err(map_err)?;
            u32::from_le_bytes([v[0], v[1], v[2], v[3]])
        };
        down.unmap();
        if status != 0 {
            let mut what = Vec::new();
            if status & 1 != 0 {
                what.push(format!("order holds a row index ≥ n_rows ({})", a.n_rows));
            }
            if status & 2 != 0 {
                what.push(format!("node_of holds a node id ≥ n_nodes ({})", a.n_nodes));
            }
            if status & 4 != 0 {
                what.push("a node holds rows of two trees".to_string());
            }
            return Err(GpuError::InvalidArgument(format!(
                "find-split: {}",
                what.join("; ")
            )));
        }
        Ok(())
    }

    pub(super) fn average_impl(
        &mut self,
        dtype: DType,
        preds: BufferId,
        n_trees: u32,
        n_rows: u32,
        out: BufferId,
    ) -> Result<()> {
        let t = dtype.name();
        let p = self.pipeline(
            &format!("ml-average-{t}"),
            || format!("alias T = {t};\n{ML_PREDICT_WGSL}"),
            "average",
        )?;
        self.set_params(bytemuck::cast([n_trees, n_rows, 0u32, 0u32]), [0; 16])?;
        let (pb, ob) = (self.buf(preds)?.buf.clone(), self.buf(out)?.buf.clone());
        let bg = self.bind(&p, &[(0, &pb), (8, &ob), (9, &self.params[0])]);
        self.run_pass(&[(&p, &bg, grid(n_rows as u64)?)], |_| {})?;
        Ok(())
    }

    pub(super) fn batch_predict_impl(
        &mut self,
        dtype: DType,
        forest: &ForestBuffers,
        x: BufferId,
        n_rows: u32,
        out: BufferId,
    ) -> Result<()> {
        let t = dtype.name();
        let p = self.pipeline(
            &format!("ml-predict-{t}"),
            || format!("alias T = {t};\n{ML_PREDICT_WGSL}"),
            "predict",
        )?;
        let p0 = [forest.n_trees, n_rows, forest.n_nodes, forest.n_features];
        self.set_params(bytemuck::cast(p0), [0; 16])?;
        let ids = [
            forest.feature,
            forest.threshold,
            forest.left,
            forest.right,
            forest.value,
            forest.tree_start,
            x,
            out,
        ];
        let bufs: Vec<wgpu::Buffer> = ids
            .iter()
            .map(|&id| Ok(self.buf(id)?.buf.clone()))
            .collect::<Result<_>>()?;
        let mut entries: Vec<(u32, &wgpu::Buffer)> = bufs
            .iter()
            .enumerate()
            .map(|(i, b)| (i as u32 + 1, b))
            .collect();
        entries.push((9, &self.params[0]));
        let bg = self.bind(&p, &entries);
        self.run_pass(&[(&p, &bg, grid(n_rows as u64)?)], |_| {})?;
        Ok(())
    }
}

/// Workgroups of a 1-D grid of `n` invocations (64 per group) as a 2-D dispatch within the
/// 65535-per-dimension limit; the shaders flatten (x, y) and skip indices ≥ n.
fn grid(n: u64) -> Result<(u32, u32)> {
    let groups = n.div_ceil(ML_GROUP).max(1);
    let x = groups.min(MAX_GROUPS);
    let y = groups.div_ceil(x);
    if y > MAX_GROUPS {
        return Err(GpuError::TooLarge {
            what: "ML kernel invocations",
            requested: n,
            limit: MAX_GROUPS * MAX_GROUPS * ML_GROUP,
        });
    }
    Ok((x as u32, y as u32))
}

/// The scratch buffer in `slot` (STORAGE | COPY_SRC), replaced by one of at least `bytes`
/// when it is smaller: sizes double (the next power of two, at least 256 bytes, at most
/// `limit`), so a growing workload does not reallocate every call; the contents are lost when
/// it grows. Shared by find-split's and hist-grow's scratch (`label` names the buffer).
/// Errors: `TooLarge` (`what`) above `limit`, `Device` when the device is out of memory.
pub(super) fn grown_scratch(
    device: &wgpu::Device,
    limit: u64,
    slot: &mut Option<wgpu::Buffer>,
    bytes: u64,
    label: &'static str,
    what: &'static str,
) -> Result<wgpu::Buffer> {
    if let Some(b) = slot.as_ref() {
        if b.size() >= bytes {
            return Ok(b.clone());
        }
    }
    if bytes > limit {
        return Err(GpuError::TooLarge {
            what,
            requested: bytes,
            limit,
        });
    }
    let size = (bytes.next_power_of_two().min(limit).max(256)).div_ceil(4) * 4;
    let scope = device.push_error_scope(wgpu::ErrorFilter::OutOfMemory);
    let buf = device.create_buffer(&wgpu::BufferDescriptor {
        label: Some(label),
        size,
        usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC,
        mapped_at_creation: false,
    });
    if let Some(e) = pollster::block_on(scope.pop()) {
        return Err(GpuError::Device(format!(
            "scratch buffer {label} of {size} bytes: {e}"
        )));
    }
    if let Some(o) = slot.replace(buf.clone()) {
        o.destroy();
    }
    Ok(buf)
}
