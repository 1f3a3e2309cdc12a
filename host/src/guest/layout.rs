//! [`Buffer`] and [`Layout`]: a guest's three `f64` buffers and where they lie in its
//! linear memory, with the checks every instance's layout must pass.

use crate::error::{Error, Result};

/// One of the three static `f64` buffers of a guest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Buffer {
    /// Input `a` (`get_buffer_a_offset`).
    A,
    /// Input `b` (`get_buffer_b_offset`).
    B,
    /// Output (`get_result_offset`).
    Result,
}

/// Where a guest keeps its buffers; read once per instance and checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    /// Elements (`f64`) in each buffer; > 0.
    pub capacity: usize,
    /// Byte offset of buffer `a` in linear memory; 8-aligned.
    pub a_offset: usize,
    /// Byte offset of buffer `b`; 8-aligned.
    pub b_offset: usize,
    /// Byte offset of the result buffer; 8-aligned.
    pub result_offset: usize,
}

impl Layout {
    /// Byte offset of `which`.
    pub fn offset(&self, which: Buffer) -> usize {
        match which {
            Buffer::A => self.a_offset,
            Buffer::B => self.b_offset,
            Buffer::Result => self.result_offset,
        }
    }

    /// Checks alignment, bounds (against `memory_bytes`, the linear memory size) and
    /// that the three buffers do not overlap.
    pub(super) fn check(&self, memory_bytes: usize) -> Result<()> {
        let bytes = self.capacity * 8;
        let named = [
            ("a", self.a_offset),
            ("b", self.b_offset),
            ("result", self.result_offset),
        ];
        for (name, off) in named {
            if !off.is_multiple_of(8) {
                return Err(Error::BadLayout {
                    reason: format!("buffer {name} offset {off} is not 8-byte aligned"),
                });
            }
            if off + bytes > memory_bytes {
                return Err(Error::BadLayout {
                    reason: format!(
                        "buffer {name} [{off}, {}) is out of bounds of linear memory ({memory_bytes} bytes)",
                        off + bytes
                    ),
                });
            }
        }
        for i in 0..3 {
            for j in i + 1..3 {
                let (ni, oi) = named[i];
                let (nj, oj) = named[j];
                if oi < oj + bytes && oj < oi + bytes {
                    return Err(Error::BadLayout {
                        reason: format!(
                            "buffers {ni} (offset {oi}) and {nj} (offset {oj}) overlap ({bytes} bytes each)"
                        ),
                    });
                }
            }
        }
        Ok(())
    }
}
