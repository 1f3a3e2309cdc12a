//! [`VectorOps`]: the vector ops of the Rust parallel-for guest (ABI `parallel-v1`,
//! wasm-modules/parallel-guest) driven from the host: copy the inputs in, call the op
//! (which runs `parallel_for` on the workers), copy the result out.

use std::time::{Duration, Instant};

use super::abi::{DeviceKind, Errno};
use super::error::ParallelError;
use super::guest::ParallelGuest;
use crate::check::{Answer, Inputs};
use crate::Op;

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
        let bytes = u32::try_from(n.max(1) * 8)
            .map_err(|_| ParallelError::Unsupported(format!("{n} elements do not fit in 4 GiB")))?;
        let p: u32 = self.guest.call("alloc", bytes)?;
        if p == 0 {
            return Err(ParallelError::Unsupported(format!(
                "the guest could not allocate {bytes} bytes"
            )));
        }
        Ok(p)
    }

    fn free(&mut self, ptr: u32, n: usize) -> Result<(), ParallelError> {
        self.guest
            .call::<(u32, u32), ()>("dealloc", (ptr, (n.max(1) * 8) as u32))
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
