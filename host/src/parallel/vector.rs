//! [`VectorOps`]: the ops of the Rust parallel-for guest (ABI `parallel-v1`,
//! wasm-modules/parallel-guest) driven from the host — the vector ops and forest
//! batch-predict: copy the inputs in, call the op (which runs `parallel_for` on the
//! workers or the GPU), copy the result out.

use std::time::{Duration, Instant};

use super::abi::{DeviceKind, Errno};
use super::error::ParallelError;
use super::guest::ParallelGuest;
use crate::check::{Answer, Inputs};
use crate::Op;
use offload_core::forest::PackedForest;

/// The parallel guest's `predict` code for forest words that do not check.
pub const BAD_FOREST: u32 = 100;

/// The ops of the parallel guest over a [`ParallelGuest`].
#[derive(Debug)]
pub struct VectorOps {
    guest: ParallelGuest,
}

/// One op's result and the time of the guest call alone (no copies in or out).
#[derive(Debug, Clone, PartialEq)]
pub struct Timed {
    /// The result.
    pub answer: Answer,
    /// Wall time of the export call.
    pub elapsed: Duration,
}

impl VectorOps {
    /// Wraps a loaded guest (it must export `alloc`, `dealloc`, `sum`, `dot`, `mul`,
    /// `scale`; a missing one fails at its first use).
    pub fn new(guest: ParallelGuest) -> Self {
        VectorOps { guest }
    }

    /// The guest.
    pub fn guest(&mut self) -> &mut ParallelGuest {
        &mut self.guest
    }

    fn alloc(&mut self, n: usize) -> Result<u32, ParallelError> {
        self.alloc_bytes(n.max(1).saturating_mul(8))
    }

    fn alloc_bytes(&mut self, bytes: usize) -> Result<u32, ParallelError> {
        let bytes = u32::try_from(bytes.max(1)).map_err(|_| {
            ParallelError::Unsupported(format!("{bytes} bytes do not fit in 4 GiB"))
        })?;
        let p: u32 = self.guest.call("alloc", bytes)?;
        if p == 0 {
            return Err(ParallelError::Unsupported(format!(
                "the guest could not allocate {bytes} bytes"
            )));
        }
        Ok(p)
    }

    fn free(&mut self, ptr: u32, n: usize) -> Result<(), ParallelError> {
        self.free_bytes(ptr, n.max(1) * 8)
    }

    fn free_bytes(&mut self, ptr: u32, bytes: usize) -> Result<(), ParallelError> {
        self.guest
            .call::<(u32, u32), ()>("dealloc", (ptr, bytes.max(1) as u32))
    }

    /// Copies `bytes` into a fresh guest allocation and returns its address.
    fn put(&mut self, bytes: &[u8]) -> Result<u32, ParallelError> {
        let p = self.alloc_bytes(bytes.len())?;
        self.guest.write_bytes(p, bytes)?;
        Ok(p)
    }

    /// Predicts the rows of `x` (`n × forest.n_features()` values, row-major) with the
    /// guest's `predict` op in `parts` kernel invocations on `device`: the forest goes in
    /// as its words ([`PackedForest::node_words`], [`PackedForest::tree_words`]). Returns
    /// the `n` predictions (the same bits as `Forest::predict` on the CPU device and on a
    /// GPU with f64) and the time of the guest call alone.
    ///
    /// # Errors
    /// [`ParallelError::Unsupported`] when `x` is not whole rows or a buffer does not fit
    /// in 4 GiB; [`ParallelError::Guest`] when the op returns an errno (the guest's
    /// `BAD_FOREST`, 100, for words that do not check; `no-device` for a GPU hint on a
    /// host without one); [`ParallelError::Trap`] when the main instance traps.
    pub fn predict(
        &mut self,
        forest: &PackedForest,
        x: &[f32],
        parts: u32,
        device: DeviceKind,
    ) -> Result<(Vec<f64>, Duration), ParallelError> {
        let d = forest.n_features();
        if d == 0 || !x.len().is_multiple_of(d) {
            return Err(ParallelError::Unsupported(format!(
                "{} values are not whole rows of {d}",
                x.len()
            )));
        }
        let rows = x.len() / d;
        let too_big = |what: &str| ParallelError::Unsupported(format!("{what} over 4 GiB"));
        let (node_words, tree_words) = (forest.node_words(), forest.tree_words());
        let nodes = self.put(bytemuck::cast_slice(&node_words))?;
        let trees = self.put(bytemuck::cast_slice(&tree_words))?;
        let xp = self.put(bytemuck::cast_slice(x))?;
        let out = self.alloc(rows)?;
        let u = |v: usize, what: &str| u32::try_from(v).map_err(|_| too_big(what));
        let args = (
            device as u32,
            parts,
            nodes,
            u(node_words.len(), "the nodes")?,
            trees,
            u(tree_words.len(), "the trees")?,
            xp,
            u(rows, "the rows")?,
            u(d, "the width")?,
            out,
        );
        let started = Instant::now();
        let code: u32 = self.guest.call("predict", args)?;
        let elapsed = started.elapsed();
        if code == BAD_FOREST {
            return Err(ParallelError::Guest {
                export: "predict".into(),
                errno: Errno::Invalid,
                message: Some(format!(
                    "the guest refused the forest's words (its code {BAD_FOREST})"
                )),
            });
        }
        self.errno("predict", code)?;
        let got = self.guest.read_f64s(out, rows)?;
        self.free_bytes(nodes, node_words.len() * 4)?;
        self.free_bytes(trees, tree_words.len() * 4)?;
        self.free_bytes(xp, x.len() * 4)?;
        self.free(out, rows)?;
        Ok((got, elapsed))
    }

    fn errno(&self, export: &str, code: u32) -> Result<(), ParallelError> {
        if code == 0 {
            return Ok(());
        }
        Err(ParallelError::Guest {
            export: export.to_string(),
            errno: Errno::from_code(code).unwrap_or(Errno::Invalid),
            message: self.guest.last_error().map(|f| f.message.clone()),
        })
    }

    /// Runs `op` on `x` in `parts` kernel invocations on `device`. Only the fast
    /// reductions ([`Op::SumSimd`], [`Op::DotSimd`]) and [`Op::Mul`], [`Op::Scale`]
    /// exist in this guest.
    ///
    /// # Errors
    /// [`ParallelError::Unsupported`] for a strict reduction or a size over 4 GiB;
    /// [`ParallelError::Guest`] when the guest's op returns an errno (e.g. `no-device`
    /// for a GPU hint); [`ParallelError::Trap`] when the main instance traps.
    pub fn run(
        &mut self,
        op: Op,
        x: &Inputs,
        parts: u32,
        device: DeviceKind,
    ) -> Result<Timed, ParallelError> {
        let n = x.len();
        let n32 =
            u32::try_from(n).map_err(|_| ParallelError::Unsupported(format!("{n} elements")))?;
        let hint = device as u32;
        let a = self.alloc(n)?;
        self.guest.write_f64s(a, &x.a)?;
        let b = if op.uses_b() {
            let b = self.alloc(n)?;
            self.guest.write_f64s(b, &x.b)?;
            Some(b)
        } else {
            None
        };
        let out = self.alloc(if op.is_reduction() { 1 } else { n })?;
        let export = op.kernel();
        let started = Instant::now();
        let code: u32 = match op {
            Op::SumSimd => self.guest.call("sum", (hint, parts, a, n32, out))?,
            Op::DotSimd => self
                .guest
                .call("dot", (hint, parts, a, b.unwrap_or(0), n32, out))?,
            Op::Mul => self
                .guest
                .call("mul", (hint, parts, a, b.unwrap_or(0), out, n32))?,
            Op::Scale => self
                .guest
                .call("scale", (hint, parts, x.scalar, a, out, n32))?,
            Op::Sum | Op::Dot => {
                return Err(ParallelError::Unsupported(format!(
                    "{op}: the parallel guest has only the fast family (sum_simd, dot_simd)"
                )))
            }
        };
        let elapsed = started.elapsed();
        self.errno(export, code)?;
        let answer = if op.is_reduction() {
            Answer::Scalar(self.guest.read_f64s(out, 1)?[0])
        } else {
            Answer::Vector(self.guest.read_f64s(out, n)?)
        };
        self.free(a, n)?;
        if let Some(b) = b {
            self.free(b, n)?;
        }
        self.free(out, if op.is_reduction() { 1 } else { n })?;
        Ok(Timed { answer, elapsed })
    }
}
