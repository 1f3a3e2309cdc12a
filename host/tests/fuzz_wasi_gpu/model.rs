//! The fuzzer's model of one guest instance: its live handles with a shadow copy of each
//! buffer's bytes, and what the wasi:gpu policy and the backend validation must answer to
//! each call (`core/src/gpu/policy.rs`, `core/src/gpu/validate.rs`).

use std::collections::BTreeMap;

use offload_core::gpu::policy::{ErrorCase, Quota};

/// A buffer as the model knows it.
pub struct Buf {
    /// Size in bytes.
    pub size: u64,
    /// Its bytes, or `None` once a kernel (or a write from unknown guest memory) wrote
    /// bytes the model does not compute.
    pub data: Option<Vec<u8>>,
}

/// One instance's live handles (guest handle → buffer).
#[derive(Default)]
pub struct Model {
    /// Live handles.
    pub bufs: BTreeMap<u32, Buf>,
    /// Bytes held.
    pub used: u64,
}

/// What the host must answer: success, or a `gpu-error` of this case.
pub type Want = Result<(), ErrorCase>;

impl Model {
    /// `buffer-create(bytes)`: the quota (buffers, then bytes) before the backend's
    /// zero-size and too-large checks.
    pub fn create(&self, q: &Quota, max_buffer_bytes: u64, bytes: u64) -> Want {
        if self.bufs.len() as u64 >= u64::from(q.max_buffers)
            || bytes > q.max_bytes.saturating_sub(self.used)
        {
            return Err(ErrorCase::QuotaExceeded);
        }
        if bytes == 0 {
            return Err(ErrorCase::ZeroSize);
        }
        if bytes > max_buffer_bytes {
            return Err(ErrorCase::TooLarge);
        }
        Ok(())
    }

    /// Records a created buffer (zero-filled: both backends zero new buffers, and a
    /// non-zero byte there would be another instance's data).
    pub fn created(&mut self, handle: u32, size: u64) {
        let data = Some(vec![0u8; size as usize]);
        assert!(
            self.bufs.insert(handle, Buf { size, data }).is_none(),
            "the host handed out live handle {handle} again"
        );
        self.used += size;
    }

    /// Forgets a destroyed or dropped buffer.
    pub fn removed(&mut self, handle: u32) {
        let b = self.bufs.remove(&handle).expect("live");
        self.used -= b.size;
    }

    /// A transfer of `bytes` at `offset` of a buffer of `size`: zero-size, out-of-bounds.
    pub fn range(size: u64, offset: u64, bytes: u64) -> Want {
        if bytes == 0 {
            return Err(ErrorCase::ZeroSize);
        }
        match offset.checked_add(bytes) {
            Some(end) if end <= size => Ok(()),
            _ => Err(ErrorCase::OutOfBounds),
        }
    }

    /// `buffer-read`: zero-size, quota, out-of-bounds (the policy's order).
    pub fn read(q: &Quota, size: u64, offset: u64, bytes: u64) -> Want {
        if bytes == 0 {
            return Err(ErrorCase::ZeroSize);
        }
        if bytes > q.max_bytes {
            return Err(ErrorCase::QuotaExceeded);
        }
        Self::range(size, offset, bytes)
    }

    /// `buffer-copy` between two live handles.
    pub fn copy(&self, src: u32, so: u64, dst: u32, d_o: u64, bytes: u64) -> Want {
        Self::range(self.bufs[&src].size, so, bytes)?;
        Self::range(self.bufs[&dst].size, d_o, bytes)?;
        if src == dst && so < d_o + bytes && d_o < so + bytes {
            return Err(ErrorCase::InvalidArgument);
        }
        Ok(())
    }

    /// Applies a successful copy to the shadows.
    pub fn copied(&mut self, src: u32, so: u64, dst: u32, d_o: u64, bytes: u64) {
        let from = self.bufs[&src]
            .data
            .as_ref()
            .map(|d| d[so as usize..(so + bytes) as usize].to_vec());
        let to = self.bufs.get_mut(&dst).expect("live");
        match (from, to.data.as_mut()) {
            (Some(from), Some(to)) => {
                to[d_o as usize..(d_o + bytes) as usize].copy_from_slice(&from)
            }
            _ => to.data = None,
        }
    }

    /// A kernel's element checks on one operand (`n` elements of `elem` bytes).
    pub fn elems(&self, h: u32, elem: u64, n: u64) -> Want {
        if n == 0 {
            return Err(ErrorCase::ZeroSize);
        }
        if n > u64::from(u32::MAX) {
            return Err(ErrorCase::TooLarge);
        }
        if n * elem > self.bufs[&h].size {
            return Err(ErrorCase::ShapeMismatch);
        }
        Ok(())
    }

    /// `kernel-matmul`'s shape checks (before the backend's precision check).
    pub fn matmul(&self, [a, b, c]: [u32; 3], m: u64, k: u64, n: u64) -> Want {
        if m == 0 || k == 0 || n == 0 {
            return Err(ErrorCase::ZeroSize);
        }
        if [m, k, n].iter().any(|&d| d > i32::MAX as u64) {
            return Err(ErrorCase::TooLarge);
        }
        if c == a || c == b {
            return Err(ErrorCase::ShapeMismatch);
        }
        for (h, rows, cols) in [(a, m, k), (b, k, n), (c, m, n)] {
            let fits = rows
                .checked_mul(cols)
                .and_then(|e| e.checked_mul(4))
                .is_some_and(|need| need <= self.bufs[&h].size);
            if !fits {
                return Err(ErrorCase::ShapeMismatch);
            }
        }
        Ok(())
    }

    /// Marks a buffer's bytes as unknown to the model.
    pub fn taint(&mut self, h: u32) {
        self.bufs.get_mut(&h).expect("live").data = None;
    }
}

/// FNV-1a 32, as the fuzz guest's `read` computes it.
pub fn fnv1a(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0x811c_9dc5u32, |h, &b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    })
}
