//! hist-grow on the wgpu backend (`ml_hist.wgsl`; see its header): whole trees of the
//! histogram-mode forest grown on the device level by level, one workgroup of 256
//! invocations per open node, the host reading one counter (and the error word) per level.
//!
//! One pass compacts each tree's rows of weight > 0 into its row list, opens the roots and
//! runs level 0; then one pass per level until no node is open. The row lists (two, used in
//! turn: `4·n_trees·n_rows` bytes each), the open-node lists (two, used in turn: 16 bytes an
//! entry, grown on demand to `min(2·open, n_trees·n_rows)` entries) and the control words
//! are scratch owned by the backend and kept between calls, at most 40 bytes a row per tree
//! ([`crate::forest_gpu::hist::HIST_SCRATCH_ROW_BYTES`]).

use super::{map_err, WgpuBackend, MAX_GROUPS};
use crate::gpu::{GpuError, HistGrowArgs, Result};
use std::format;

const ML_HIST_WGSL: &str = include_str!("../../../shaders/ml_hist.wgsl");
use super::ml::{grown_scratch, MUL64_WGSL};
/// Invocations per workgroup (`GROUP` in `ml_hist.wgsl`).
const GROUP: u64 = 256;
/// Bytes of one open-node entry (`vec4<u32>`: tree, node id, first row, rows).
const ENTRY_BYTES: u64 = 16;
/// Control words before the per-tree row counts (`ctl` in `ml_hist.wgsl`: two open-entry
/// counters and the error word).
const CTL_HEAD: u64 = 3;
/// Scratch slots: row lists 0 and 1, open lists 0 and 1, control words.
const ROWS: usize = 0;
const OPEN: usize = 2;
const CTL: usize = 4;

/// hist-grow's scratch buffers kept by the backend between calls (slots above).
pub(super) type HistScratch = [Option<wgpu::Buffer>; 5];

impl WgpuBackend {
    /// Scratch slot `slot` of hist-grow grown to at least `bytes` (by doubling; its contents
    /// are lost when it grows). Errors: `TooLarge` above `max_buffer_bytes` (`what` names
    /// it), `Device` when the device is out of memory.
    fn hist_buffer(&mut self, slot: usize, bytes: u64, what: &'static str) -> Result<wgpu::Buffer> {
        let limit = self.info.max_buffer_bytes;
        let slot = &mut self.hist_scratch[slot];
        grown_scratch(&self.device, limit, slot, bytes, "hist-scratch", what)
    }

    /// The open list `k` grown to hold `entries` entries.
    fn hist_open(&mut self, k: usize, entries: u64) -> Result<wgpu::Buffer> {
        let what = "hist-grow open-node list in bytes (16 per open node)";
        self.hist_buffer(OPEN + k, entries * ENTRY_BYTES, what)
    }

    /// [`crate::gpu::GpuBackend::hist_grow`] on checked shapes (see the module docs).
    /// Errors: `TooLarge` when `d·n_rows`, `n_trees·n_rows` or `n_trees·node_cap` reach
    /// 2^32 (the kernels index in u32) or a scratch buffer exceeds `max_buffer_bytes`;
    /// `InvalidArgument` when a tree would outgrow `node_cap` (impossible for weights whose
    /// per-tree total stays below 2^32); `Device` for device failures.
    pub(super) fn hist_grow_impl(&mut self, a: &HistGrowArgs) -> Result<()> {
        let (n, nt) = (a.n_rows as u64, a.n_trees as u64);
        let tn = nt * n;
        let limit = u32::MAX as u64;
        for (what, v) in [
            ("hist-grow bin bytes (d·n_rows)", a.d as u64 * n),
            ("hist-grow rows of a batch (n_trees·n_rows)", tn),
            (
                "hist-grow node slots (n_trees·node_cap)",
                nt * a.node_cap as u64,
            ),
        ] {
            if v >= limit {
                return Err(GpuError::TooLarge {
                    what,
                    requested: v,
                    limit,
                });
            }
        }
        let rows_what = "hist-grow row list in bytes (4·n_trees·n_rows)";
        let rows = [
            self.hist_buffer(ROWS, 4 * tn, rows_what)?,
            self.hist_buffer(ROWS + 1, 4 * tn, rows_what)?,
        ];
        let ctl_what = "hist-grow control words in bytes (4·(n_trees + 3))";
        let ctl = self.hist_buffer(CTL, 4 * (CTL_HEAD + nt), ctl_what)?;
        let src = || format!("{MUL64_WGSL}{ML_HIST_WGSL}");
        let clear = self.pipeline("ml-hist-clear", src, "clear")?;
        let compact = self.pipeline("ml-hist-compact", src, "compact")?;
        let roots = self.pipeline("ml-hist-roots", src, "roots")?;
        let level = self.pipeline("ml-hist-level", src, "level")?;
        let b = |id| -> Result<wgpu::Buffer> { Ok(self.buf(id)?.buf.clone()) };
        let (bins, n_bins, yq) = (b(a.bins)?, b(a.n_bins)?, b(a.yq)?);
        let (weights, nodes, node_count) = (b(a.weights)?, b(a.nodes)?, b(a.node_count)?);
        let down = self.down[0].clone();
        let grid = |items: u64| items.div_ceil(GROUP).clamp(1, MAX_GROUPS) as u32;
        let timing = self.timing;
        let mut total_ns = 0u64;
        let mut open = nt;
        let mut depth = 0u32;
        while open > 0 {
            if depth as u64 > n {
                // Every level splits a node into two non-empty ones: at most n_rows levels.
                return Err(GpuError::Device(format!(
                    "hist-grow: more than {n} levels (the kernel lost count)"
                )));
            }
            let k = (depth & 1) as usize;
            let cur = self.hist_open(k, open)?;
            let next = self.hist_open(1 - k, (2 * open).min(tn))?;
            let p0 = [a.n_rows, a.d, a.node_cap, open as u32];
            let p1 = [a.min_split, a.min_leaf, a.max_depth, depth];
            self.set_params(bytemuck::cast(p0), bytemuck::cast(p1))?;
            let (p0b, p1b) = (self.params[0].clone(), self.params[1].clone());
            let bl = self.bind(
                &level,
                &[
                    (0, &bins),
                    (1, &n_bins),
                    (2, &yq),
                    (3, &weights),
                    (4, &nodes),
                    (5, &node_count),
                    (6, &rows[k]),
                    (7, &rows[1 - k]),
                    (8, &cur),
                    (9, &next),
                    (10, &ctl),
                    (11, &p0b),
                    (12, &p1b),
                ],
            );
            let lg = (open.min(MAX_GROUPS) as u32, 1);
            let idx = if depth == 0 {
                // Setup in the same pass: rows into list 0, roots into open list 0.
                let bc = self.bind(&clear, &[(10, &ctl), (11, &p0b)]);
                let bk = self.bind(
                    &compact,
                    &[(3, &weights), (7, &rows[0]), (10, &ctl), (11, &p0b)],
                );
                let br = self.bind(
                    &roots,
                    &[(5, &node_count), (9, &cur), (10, &ctl), (11, &p0b)],
                );
                self.run_pass(
                    &[
                        (&clear, &bc, (grid(CTL_HEAD + nt), 1)),
                        (&compact, &bk, (grid(tn), 1)),
                        (&roots, &br, (grid(nt), 1)),
                        (&level, &bl, lg),
                    ],
                    |enc| enc.copy_buffer_to_buffer(&ctl, 0, &down, 0, 16),
                )?
            } else {
                self.run_pass(&[(&level, &bl, lg)], |enc| {
                    enc.copy_buffer_to_buffer(&ctl, 0, &down, 0, 16)
                })?
            };
            if timing {
                total_ns += self.last_ns.unwrap_or(0);
            }
            self.map(&down, 16, wgpu::MapMode::Read, Some(idx))?;
            let w: [u32; 4] = {
                let v = down.slice(..16).get_mapped_range().map_err(map_err)?;
                let mut w = [0u8; 16];
                w.copy_from_slice(&v);
                bytemuck::cast(w)
            };
            down.unmap();
            if w[2] != 0 {
                return Err(GpuError::InvalidArgument(format!(
                    "hist-grow: a tree outgrew node_cap ({}): the weights of a tree must \
                     total below 2^32",
                    a.node_cap
                )));
            }
            open = w[k] as u64;
            if open > tn {
                return Err(GpuError::Device(format!(
                    "hist-grow: {open} open nodes from {tn} rows (the kernel lost count)"
                )));
            }
            depth += 1;
        }
        if timing {
            self.last_ns = Some(total_ns);
        }
        Ok(())
    }
}
