//! [`WebGpuState`]: the data of one instance's store (resource table, WASI context, the
//! wasi:webgpu context: quota counters, error scopes, the ledger of buffers it holds), and
//! the error routing every import goes through.

use std::collections::{HashMap, HashSet, VecDeque};
use std::panic::AssertUnwindSafe;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use wasmtime::component::{Resource, ResourceTable};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use super::device::{Limits, WebGpuDevice};
use super::objects::{ErrorKind, ErrorObject};

/// Most error scopes one instance may have pushed and not popped; one more traps it.
pub const MAX_ERROR_SCOPES: usize = 256;

/// Uncaptured errors kept per instance (the most recent; all are counted).
pub const UNCAPTURED_KEPT: usize = 16;

/// One error scope a guest pushed: its filter and the first error it caught.
struct Scope {
    filter: ErrorKind,
    error: Option<ErrorObject>,
}

/// A buffer this instance holds, for the byte quota and `gpu-device.destroy`.
struct Held {
    dev: u32,
    buffer: wgpu::Buffer,
    bytes: u64,
}

/// The wasi:webgpu state of one instance.
pub(super) struct Ctx {
    pub(super) device: Arc<WebGpuDevice>,
    pub(super) limits: Limits,
    pub(super) used_bytes: u64,
    pub(super) objects: u32,
    scopes: Vec<Scope>,
    pub(super) uncaptured: VecDeque<String>,
    pub(super) uncaptured_count: u64,
    held: HashMap<u64, Held>,
    next_serial: u64,
    pub(super) next_device: u32,
    pub(super) destroyed_devices: HashSet<u32>,
}

impl Ctx {
    pub(super) fn new(device: Arc<WebGpuDevice>, limits: Limits) -> Ctx {
        Ctx {
            device,
            limits,
            used_bytes: 0,
            objects: 0,
            scopes: Vec::new(),
            uncaptured: VecDeque::new(),
            uncaptured_count: 0,
            held: HashMap::new(),
            next_serial: 0,
            next_device: 0,
            destroyed_devices: HashSet::new(),
        }
    }

    /// Routes an error to the innermost scope whose filter matches (it keeps its first
    /// error), else records it as uncaptured.
    pub(super) fn raise(&mut self, e: ErrorObject) {
        if let Some(s) = self.scopes.iter_mut().rev().find(|s| s.filter == e.kind) {
            if s.error.is_none() {
                s.error = Some(e);
            }
            return;
        }
        self.uncaptured_count += 1;
        if self.uncaptured.len() == UNCAPTURED_KEPT {
            self.uncaptured.pop_front();
        }
        self.uncaptured.push_back(e.message);
    }

    /// A validation error with `message`.
    pub(super) fn invalid(&mut self, message: impl Into<String>) {
        self.raise(ErrorObject {
            kind: ErrorKind::Validation,
            message: message.into(),
        });
    }

    /// Raises every error of `errors`; whether there was one.
    pub(super) fn raise_all(&mut self, errors: Vec<ErrorObject>) -> bool {
        let any = !errors.is_empty();
        for e in errors {
            self.raise(e);
        }
        any
    }

    pub(super) fn push_scope(&mut self, filter: ErrorKind) -> wasmtime::Result<()> {
        if self.scopes.len() >= MAX_ERROR_SCOPES {
            wasmtime::bail!("wasi:webgpu: more than {MAX_ERROR_SCOPES} error scopes pushed");
        }
        self.scopes.push(Scope {
            filter,
            error: None,
        });
        Ok(())
    }

    /// `None` when no scope is open; else the popped scope's error.
    pub(super) fn pop_scope(&mut self) -> Option<Option<ErrorObject>> {
        self.scopes.pop().map(|s| s.error)
    }

    /// [`capture_on`] this instance's device.
    pub(super) fn capture<R>(
        &self,
        f: impl FnOnce(&WebGpuDevice) -> R,
    ) -> wasmtime::Result<(R, Vec<ErrorObject>)> {
        capture_on(&self.device, f)
    }

    /// [`Ctx::capture`], then raises the errors wgpu raised; `f`'s result either way.
    pub(super) fn raising<R>(&mut self, f: impl FnOnce(&WebGpuDevice) -> R) -> wasmtime::Result<R> {
        let (r, errors) = self.capture(f)?;
        self.raise_all(errors);
        Ok(r)
    }

    /// [`Ctx::capture`], then raises the errors wgpu raised; `f`'s result only when there
    /// were none (else the caller's object is invalid).
    pub(super) fn checked<R>(
        &mut self,
        f: impl FnOnce(&WebGpuDevice) -> R,
    ) -> wasmtime::Result<Option<R>> {
        let (r, errors) = self.capture(f)?;
        Ok((!self.raise_all(errors)).then_some(r))
    }

    /// Admits a new buffer of `bytes` into the byte quota; `false` (nothing counted) when
    /// it would exceed [`Limits::max_bytes`].
    pub(super) fn admit(&self, bytes: u64) -> bool {
        self.used_bytes
            .checked_add(bytes)
            .is_some_and(|t| t <= self.limits.max_bytes)
    }

    /// Records a created buffer; returns its serial.
    pub(super) fn hold(&mut self, dev: u32, buffer: wgpu::Buffer, bytes: u64) -> u64 {
        let serial = self.next_serial;
        self.next_serial += 1;
        self.used_bytes += bytes;
        self.device.live_bytes.fetch_add(bytes, Ordering::SeqCst);
        self.held.insert(serial, Held { dev, buffer, bytes });
        serial
    }

    /// Forgets a buffer (destroyed or dropped): its bytes leave the quota.
    pub(super) fn release(&mut self, serial: u64) -> Option<wgpu::Buffer> {
        let h = self.held.remove(&serial)?;
        self.used_bytes -= h.bytes;
        self.device.live_bytes.fetch_sub(h.bytes, Ordering::SeqCst);
        Some(h.buffer)
    }

    /// Serials of the buffers created through device `dev`.
    pub(super) fn held_on(&self, dev: u32) -> Vec<u64> {
        self.held
            .iter()
            .filter(|(_, h)| h.dev == dev)
            .map(|(s, _)| *s)
            .collect()
    }

    /// Buffers this instance holds now.
    pub(super) fn buffers(&self) -> usize {
        self.held.len()
    }
}

impl Drop for Ctx {
    fn drop(&mut self) {
        let serials: Vec<u64> = self.held.keys().copied().collect();
        for s in serials {
            if let Some(b) = self.release(s) {
                b.destroy();
            }
        }
    }
}

fn from_wgpu(e: wgpu::Error) -> ErrorObject {
    let kind = match &e {
        wgpu::Error::OutOfMemory { .. } => ErrorKind::OutOfMemory,
        wgpu::Error::Validation { .. } => ErrorKind::Validation,
        wgpu::Error::Internal { .. } => ErrorKind::Internal,
    };
    ErrorObject {
        kind,
        message: e.to_string(),
    }
}

/// The data of one instance's [`Store`]: its resource table (wasi:webgpu objects and WASI
/// resources), its WASI context (no preopens, no environment, stdio discarded unless
/// [`WebGpuHost::inherit_stdio`]) and its wasi:webgpu state.
///
/// [`Store`]: wasmtime::Store
/// [`WebGpuHost::inherit_stdio`]: super::WebGpuHost::inherit_stdio
pub struct WebGpuState {
    pub(super) table: ResourceTable,
    pub(super) wasi: WasiCtx,
    pub(super) gpu: Ctx,
}

impl WasiView for WebGpuState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WebGpuState {
    /// Pushes a new wasi:webgpu object, counted against [`Limits::max_objects`] (past it:
    /// a trap).
    pub(super) fn push<T: Send + 'static>(&mut self, v: T) -> wasmtime::Result<Resource<T>> {
        if self.gpu.objects >= self.gpu.limits.max_objects {
            wasmtime::bail!(
                "wasi:webgpu: object quota exceeded ({} objects held)",
                self.gpu.limits.max_objects
            );
        }
        let r = self.table.push(v)?;
        self.gpu.objects += 1;
        Ok(r)
    }

    /// Removes an object the guest dropped.
    pub(super) fn delete<T: 'static>(&mut self, r: Resource<T>) -> wasmtime::Result<T> {
        let v = self.table.delete(r)?;
        self.gpu.objects -= 1;
        Ok(v)
    }
}

/// Runs `f` on the device inside wgpu error scopes of all three kinds, with the device
/// locked, and returns its result with the errors wgpu raised. A panic in wgpu becomes
/// an error (the caller's trap).
pub(super) fn capture_on<R>(
    dev: &WebGpuDevice,
    f: impl FnOnce(&WebGpuDevice) -> R,
) -> wasmtime::Result<(R, Vec<ErrorObject>)> {
    let _guard = dev.enter();
    let out = std::panic::catch_unwind(AssertUnwindSafe(|| {
        let v = dev.device.push_error_scope(wgpu::ErrorFilter::Validation);
        let m = dev.device.push_error_scope(wgpu::ErrorFilter::OutOfMemory);
        let i = dev.device.push_error_scope(wgpu::ErrorFilter::Internal);
        let r = f(dev);
        let mut errors = Vec::new();
        for e in [i.pop(), m.pop(), v.pop()]
            .into_iter()
            .filter_map(pollster::block_on)
        {
            errors.push(from_wgpu(e));
        }
        (r, errors)
    }));
    match out {
        Ok(v) => Ok(v),
        Err(p) => {
            let msg = p
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| p.downcast_ref::<&str>().copied())
                .unwrap_or("(no message)");
            wasmtime::bail!("wasi:webgpu: wgpu panicked: {msg}")
        }
    }
}
