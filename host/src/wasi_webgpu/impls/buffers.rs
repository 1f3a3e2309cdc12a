//! Buffers: `create-buffer` (byte quota, mapped at creation), usage flags both ways, the
//! checks every command makes of a buffer it uses, and `gpu-buffer` (mapping and the
//! copy out of a mapped range, `unmap`, `destroy`).

use wasmtime::component::Resource;

use super::super::bindings::wasi::webgpu::webgpu as w;
use super::super::objects::*;
use super::super::WebGpuState;
use super::{COPY_ALIGN, R};

/// A mapped range to copy out: the wgpu buffer and the byte range.
pub(super) type MappedTarget = (wgpu::Buffer, std::ops::Range<u64>);

/// Alignment of a mapped range's offset (bytes), as WebGPU and wgpu require.
const MAP_OFFSET_ALIGN: u64 = 8;

/// WebGPU's buffer usage flags beside wgpu's, one pair a flag.
fn usages() -> [(w::GpuBufferUsage, wgpu::BufferUsages); 10] {
    use wgpu::BufferUsages as B;
    [
        (w::GpuBufferUsage::MAP_READ, B::MAP_READ),
        (w::GpuBufferUsage::MAP_WRITE, B::MAP_WRITE),
        (w::GpuBufferUsage::COPY_SRC, B::COPY_SRC),
        (w::GpuBufferUsage::COPY_DST, B::COPY_DST),
        (w::GpuBufferUsage::INDEX, B::INDEX),
        (w::GpuBufferUsage::VERTEX, B::VERTEX),
        (w::GpuBufferUsage::UNIFORM, B::UNIFORM),
        (w::GpuBufferUsage::STORAGE, B::STORAGE),
        (w::GpuBufferUsage::INDIRECT, B::INDIRECT),
        (w::GpuBufferUsage::QUERY_RESOLVE, B::QUERY_RESOLVE),
    ]
}

fn usage_to_wgpu(u: w::GpuBufferUsage) -> wgpu::BufferUsages {
    usages()
        .iter()
        .filter(|(f, _)| u.contains(*f))
        .fold(wgpu::BufferUsages::empty(), |acc, (_, b)| acc | *b)
}

fn usage_from_wgpu(u: wgpu::BufferUsages) -> w::GpuBufferUsage {
    usages()
        .iter()
        .filter(|(_, b)| u.contains(*b))
        .fold(w::GpuBufferUsage::empty(), |acc, (f, _)| acc | *f)
}

fn map_err(kind: w::MapAsyncErrorKind, message: impl Into<String>) -> w::MapAsyncError {
    w::MapAsyncError {
        kind,
        message: message.into(),
    }
}

fn range_err(
    kind: w::GetMappedRangeErrorKind,
    message: impl Into<String>,
) -> w::GetMappedRangeError {
    w::GetMappedRangeError {
        kind,
        message: message.into(),
    }
}

/// The size of a range at `offset` whose size the guest may leave out (then: to the end of
/// a `total`-byte buffer).
fn range_size(offset: u64, size: Option<u64>, total: u64) -> u64 {
    match size {
        Some(s) => s,
        None => total.saturating_sub(offset),
    }
}

impl WebGpuState {
    /// Whether buffer `b` can still be used: valid, not destroyed, its device not
    /// destroyed.
    fn live<'a>(&self, b: &'a Buffer) -> Option<&'a wgpu::Buffer> {
        if b.destroyed || self.gpu.destroyed_devices.contains(&b.dev) {
            return None;
        }
        b.inner.as_ref()
    }

    /// The checks of `get-mapped-range-get-with-copy`: `Ok(Err(..))` the published error
    /// (not mapped, destroyed, a range outside the mapped one or misaligned),
    /// `Ok(Ok(None))` an empty range, else the wgpu buffer and the byte range to copy.
    /// Errors (traps): a handle the table does not hold.
    pub(super) fn mapped_range(
        &self,
        this: &Resource<Buffer>,
        offset: Option<u64>,
        size: Option<u64>,
    ) -> R<Result<Option<MappedTarget>, w::GetMappedRangeError>> {
        use w::GetMappedRangeErrorKind as K;
        let b = self.table.get(this)?;
        let (m_off, m_size) = match b.map {
            MapState::Mapped(o, s) => (o, s),
            MapState::Unmapped => {
                return Ok(Err(range_err(
                    K::OperationError,
                    format!("get-mapped-range: buffer '{}' is not mapped", b.label),
                )))
            }
        };
        let Some(inner) = self.live(b).cloned() else {
            return Ok(Err(range_err(
                K::OperationError,
                format!("get-mapped-range: buffer '{}' is destroyed", b.label),
            )));
        };
        let offset = offset.unwrap_or(0);
        let size = range_size(offset, size, b.size);
        if !offset.is_multiple_of(MAP_OFFSET_ALIGN)
            || !size.is_multiple_of(COPY_ALIGN)
            || offset < m_off
            || offset
                .checked_add(size)
                .is_none_or(|end| end > m_off + m_size)
        {
            return Ok(Err(range_err(
                K::OperationError,
                format!(
                    "get-mapped-range: range {offset}+{size} is not inside the mapped range \
                     {m_off}+{m_size} (offset a multiple of 8, size of 4)"
                ),
            )));
        }
        if size == 0 {
            return Ok(Ok(None));
        }
        Ok(Ok(Some((inner, offset..offset + size))))
    }

    /// The wgpu buffer behind `r` for use in a command, or a validation error naming
    /// `what`.
    pub(super) fn use_buffer(
        &mut self,
        r: &Resource<Buffer>,
        what: &str,
    ) -> R<Option<wgpu::Buffer>> {
        let b = self.table.get(r)?;
        match self.live(b) {
            Some(inner) => Ok(Some(inner.clone())),
            None => {
                let why = if b.inner.is_none() {
                    "invalid"
                } else {
                    "destroyed"
                };
                let label = b.label.clone();
                self.gpu
                    .invalid(format!("{what}: buffer '{label}' is {why}"));
                Ok(None)
            }
        }
    }

    /// `create-buffer` on device `dev`.
    pub(super) fn create_buffer_on(
        &mut self,
        dev: u32,
        d: w::GpuBufferDescriptor,
    ) -> R<Resource<Buffer>> {
        let label = d.label.unwrap_or_default();
        let usage = usage_to_wgpu(d.usage);
        let mapped = d.mapped_at_creation.unwrap_or(false);
        let mut buffer = Buffer {
            inner: None,
            dev,
            serial: u64::MAX,
            size: d.size,
            usage,
            map: MapState::Unmapped,
            destroyed: false,
            label: label.clone(),
        };
        if self.device_dead(dev) {
            self.gpu
                .invalid(format!("create-buffer '{label}': the device is destroyed"));
        } else if !self.gpu.admit(d.size) {
            self.gpu.raise(ErrorObject {
                kind: ErrorKind::OutOfMemory,
                message: format!(
                    "create-buffer '{label}': {} bytes would exceed this instance's quota of \
                     {} bytes ({} held)",
                    d.size, self.gpu.limits.max_bytes, self.gpu.used_bytes
                ),
            });
        } else if mapped && !d.size.is_multiple_of(COPY_ALIGN) {
            self.gpu.invalid(format!(
                "create-buffer '{label}': mapped-at-creation needs a size that is a multiple \
                 of 4 (got {})",
                d.size
            ));
        } else if let Some(b) = self.gpu.checked(|g| {
            g.device.create_buffer(&wgpu::BufferDescriptor {
                label: Some(&label),
                size: d.size,
                usage,
                mapped_at_creation: mapped,
            })
        })? {
            buffer.serial = self.gpu.hold(dev, b.clone(), d.size);
            buffer.inner = Some(b);
            if mapped {
                buffer.map = MapState::Mapped(0, d.size);
            }
        }
        self.push(buffer)
    }
}

impl w::HostGpuBuffer for WebGpuState {
    fn size(&mut self, this: Resource<Buffer>) -> R<u64> {
        Ok(self.table.get(&this)?.size)
    }

    fn usage(&mut self, this: Resource<Buffer>) -> R<w::GpuBufferUsage> {
        Ok(usage_from_wgpu(self.table.get(&this)?.usage))
    }

    fn map_state(&mut self, this: Resource<Buffer>) -> R<w::GpuBufferMapState> {
        Ok(match self.table.get(&this)?.map {
            MapState::Unmapped => w::GpuBufferMapState::Unmapped,
            MapState::Mapped(..) => w::GpuBufferMapState::Mapped,
        })
    }

    fn map_async(
        &mut self,
        this: Resource<Buffer>,
        mode: w::GpuMapMode,
        offset: Option<u64>,
        size: Option<u64>,
    ) -> R<Result<(), w::MapAsyncError>> {
        use w::MapAsyncErrorKind as K;
        let b = self.table.get(&this)?;
        let Some(inner) = self.live(b).cloned() else {
            return Ok(Err(map_err(
                K::OperationError,
                format!("map-async: buffer '{}' is invalid or destroyed", b.label),
            )));
        };
        if let MapState::Mapped(..) = b.map {
            return Ok(Err(map_err(
                K::OperationError,
                format!("map-async: buffer '{}' is already mapped", b.label),
            )));
        }
        let (wmode, need) = if mode == w::GpuMapMode::READ {
            (wgpu::MapMode::Read, wgpu::BufferUsages::MAP_READ)
        } else if mode == w::GpuMapMode::WRITE {
            (wgpu::MapMode::Write, wgpu::BufferUsages::MAP_WRITE)
        } else {
            return Ok(Err(map_err(
                K::OperationError,
                "map-async: the mode must be exactly one of read and write",
            )));
        };
        if !b.usage.contains(need) {
            return Ok(Err(map_err(
                K::OperationError,
                format!(
                    "map-async: buffer '{}' lacks usage {need:?} (has {:?})",
                    b.label, b.usage
                ),
            )));
        }
        let offset = offset.unwrap_or(0);
        let size = range_size(offset, size, b.size);
        if !offset.is_multiple_of(MAP_OFFSET_ALIGN)
            || !size.is_multiple_of(COPY_ALIGN)
            || size == 0
            || offset.checked_add(size).is_none_or(|end| end > b.size)
        {
            return Ok(Err(map_err(
                K::RangeError,
                format!(
                    "map-async: range {offset}+{size} of a {}-byte buffer (offset a multiple \
                     of 8, size a nonzero multiple of 4, inside the buffer)",
                    b.size
                ),
            )));
        }
        let (tx, rx) = std::sync::mpsc::channel();
        let polled = self.gpu.raising(|g| {
            inner
                .slice(offset..offset + size)
                .map_async(wmode, move |r| {
                    let _ = tx.send(r);
                });
            g.device.poll(wgpu::PollType::wait_indefinitely())
        })?;
        let mapped = matches!(rx.try_recv(), Ok(Ok(())));
        if !mapped {
            let why = match polled {
                Err(e) => format!("the device poll failed: {e}"),
                Ok(_) => "wgpu refused the mapping (validation error raised)".into(),
            };
            return Ok(Err(map_err(K::OperationError, format!("map-async: {why}"))));
        }
        self.table.get_mut(&this)?.map = MapState::Mapped(offset, size);
        Ok(Ok(()))
    }

    /// The linker runs `impls::mapped::get_mapped_range_into_guest` for this import (one
    /// copy, straight into the guest's list); this serves other callers of the bindings.
    fn get_mapped_range_get_with_copy(
        &mut self,
        this: Resource<Buffer>,
        offset: Option<u64>,
        size: Option<u64>,
    ) -> R<Result<Vec<u8>, w::GetMappedRangeError>> {
        use w::GetMappedRangeErrorKind as K;
        let (inner, range) = match self.mapped_range(&this, offset, size)? {
            Ok(Some(t)) => t,
            Ok(None) => return Ok(Ok(Vec::new())),
            Err(e) => return Ok(Err(e)),
        };
        let copy = self
            .gpu
            .raising(|_| inner.slice(range).get_mapped_range().map(|v| v.to_vec()))?;
        Ok(copy.map_err(|e| range_err(K::OperationError, format!("get-mapped-range: {e}"))))
    }

    fn unmap(&mut self, this: Resource<Buffer>) -> R<Result<(), w::UnmapError>> {
        let b = self.table.get(&this)?;
        if let (MapState::Mapped(..), Some(inner)) = (b.map, b.inner.clone()) {
            let destroyed = b.destroyed;
            if !destroyed {
                self.gpu.raising(|_| inner.unmap())?;
            }
        }
        self.table.get_mut(&this)?.map = MapState::Unmapped;
        Ok(Ok(()))
    }

    fn destroy(&mut self, this: Resource<Buffer>) -> R<()> {
        let b = self.table.get_mut(&this)?;
        if b.destroyed {
            return Ok(());
        }
        b.destroyed = true;
        b.map = MapState::Unmapped;
        let serial = b.serial;
        if let Some(inner) = self.gpu.release(serial) {
            self.gpu.raising(|_| inner.destroy())?;
        }
        Ok(())
    }

    label_field!(Buffer);

    fn drop(&mut self, r: Resource<Buffer>) -> R<()> {
        let b = self.delete(r)?;
        self.gpu.release(b.serial);
        Ok(())
    }
}
