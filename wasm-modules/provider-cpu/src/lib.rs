//! `offload:provider/matrix@0.1.0` in plain wasm (world `offload:provider/provider`).
//!
//! A `device-buffer` is a `Vec<f32>` in this component's linear memory; `matmul` is the
//! i-p-j loop (row of c += a_ip · row p of b), which LLVM vectorises with simd128. The
//! reference provider: no host imports beyond what wasm32-wasip2's std links.

use std::cell::RefCell;

use exports::offload::provider::matrix::{
    DeviceBuffer, DeviceBufferBorrow, Guest, GuestDeviceBuffer, MatrixError,
};

wit_bindgen::generate!({
    path: "../wit/offload-provider",
    world: "provider",
});

/// A buffer of f32 elements in this component's linear memory.
struct CpuBuffer(RefCell<Vec<f32>>);

/// `offset .. offset + len` inside a buffer of `size` elements, or `out-of-bounds`.
fn range(offset: u32, len: usize, size: usize) -> Result<std::ops::Range<usize>, MatrixError> {
    let start = offset as usize;
    match start.checked_add(len) {
        Some(end) if end <= size => Ok(start..end),
        _ => Err(MatrixError::OutOfBounds(format!(
            "offset {offset} + {len} elements is past the end of a buffer of {size} elements"
        ))),
    }
}

impl GuestDeviceBuffer for CpuBuffer {
    fn len(&self) -> u32 {
        // allocate() takes a u32, so the length fits.
        self.0.borrow().len() as u32
    }

    fn write(&self, offset: u32, data: Vec<f32>) -> Result<(), MatrixError> {
        if data.is_empty() {
            return Err(MatrixError::ZeroSize("write of 0 elements".into()));
        }
        let mut buf = self.0.borrow_mut();
        let r = range(offset, data.len(), buf.len())?;
        buf[r].copy_from_slice(&data);
        Ok(())
    }

    fn read(&self, offset: u32, len: u32) -> Result<Vec<f32>, MatrixError> {
        if len == 0 {
            return Err(MatrixError::ZeroSize("read of 0 elements".into()));
        }
        let buf = self.0.borrow();
        let r = range(offset, len as usize, buf.len())?;
        Ok(buf[r].to_vec())
    }
}

/// Checks that a buffer of `have` elements holds a `rows`×`cols` matrix.
fn holds(name: &str, have: usize, rows: u32, cols: u32) -> Result<usize, MatrixError> {
    let need = rows as u64 * cols as u64;
    if (have as u64) < need {
        return Err(MatrixError::ShapeMismatch(format!(
            "{name} holds {have} elements, a {rows}x{cols} matrix needs {need}"
        )));
    }
    Ok(need as usize)
}

struct Provider;

impl Guest for Provider {
    type DeviceBuffer = CpuBuffer;

    fn allocate(elements: u32) -> Result<DeviceBuffer, MatrixError> {
        if elements == 0 {
            return Err(MatrixError::ZeroSize("allocate of 0 elements".into()));
        }
        let mut v = Vec::new();
        v.try_reserve_exact(elements as usize).map_err(|e| {
            MatrixError::Device(format!(
                "cannot allocate {elements} f32 elements in linear memory: {e}"
            ))
        })?;
        v.resize(elements as usize, 0.0);
        Ok(DeviceBuffer::new(CpuBuffer(RefCell::new(v))))
    }

    fn matmul(
        a: DeviceBufferBorrow<'_>,
        b: DeviceBufferBorrow<'_>,
        c: DeviceBufferBorrow<'_>,
        m: u32,
        n: u32,
        k: u32,
    ) -> Result<(), MatrixError> {
        if m == 0 || n == 0 || k == 0 {
            return Err(MatrixError::ZeroSize(format!(
                "matmul with m={m}, n={n}, k={k}"
            )));
        }
        let (a, b, c) = (
            a.get::<CpuBuffer>(),
            b.get::<CpuBuffer>(),
            c.get::<CpuBuffer>(),
        );
        if std::ptr::eq(c, a) || std::ptr::eq(c, b) {
            return Err(MatrixError::ShapeMismatch(
                "c is the same buffer as a or b".into(),
            ));
        }
        let (a, b, mut c) = (a.0.borrow(), b.0.borrow(), c.0.borrow_mut());
        holds("a", a.len(), m, k)?;
        holds("b", b.len(), k, n)?;
        holds("c", c.len(), m, n)?;
        let (m, n, k) = (m as usize, n as usize, k as usize);
        for i in 0..m {
            let row = &mut c[i * n..(i + 1) * n];
            row.fill(0.0);
            for p in 0..k {
                let aip = a[i * k + p];
                let brow = &b[p * n..(p + 1) * n];
                for (cj, &bj) in row.iter_mut().zip(brow) {
                    *cj += aip * bj;
                }
            }
        }
        Ok(())
    }

    fn free(buf: DeviceBuffer) {
        drop(buf);
    }

    fn provider_name() -> String {
        "provider-cpu (plain wasm)".into()
    }
}

export!(Provider);
