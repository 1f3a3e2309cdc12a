//! The `wasi_ephemeral_parallel` core-module imports, their error codes and enums.
//!
//! Lowered as in the original proposal's hand-written WAT guests: every function returns
//! an `errno` (`i32`, [`Errno`]); results go through out-pointers.
//!
//! | import | signature |
//! | --- | --- |
//! | `get_device` | `(hint: i32, out_device: i32) -> errno` |
//! | `create_buffer` | `(device: i32, size_bytes: i32, access: i32, out_buffer: i32) -> errno` |
//! | `write_buffer` | `(data_offset: i32, data_len_bytes: i32, buffer: i32) -> errno` |
//! | `read_buffer` | `(buffer: i32, data_offset: i32, data_len_bytes: i32) -> errno` |
//! | `parallel_for` | `(kernel: i32, num_threads: i32, block_size: i32, in_buffers: i32, in_len: i32, out_buffers: i32, out_len: i32) -> errno` |
//! | `release_buffer` | `(buffer: i32) -> errno` (offload's addition: the original has no way to free a buffer) |
//!
//! `in_buffers` / `out_buffers` point at arrays of `in_len` / `out_len` buffer handles
//! (`u32` each). No call traps the guest: a bad pointer is [`Errno::Fault`].

use wasmtime::{Caller, Linker};

use super::context::{Context, Fault};

/// The import module name.
pub const MODULE: &str = "wasi_ephemeral_parallel";

/// The error codes every import returns (`0` is success).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum Errno {
    /// No error.
    Success = 0,
    /// A bad enum value (device hint, access kind) or a zero `block_size`.
    Invalid = 1,
    /// A device or buffer handle that was never created, or a released buffer.
    BadHandle = 2,
    /// A pointer or region outside linear memory (or inside a worker's stack).
    Fault = 3,
    /// An output buffer overlaps an input or another output.
    Overlap = 4,
    /// The kernel index is outside the guest's funcref table, or the entry is null, or
    /// the module exports no `__indirect_function_table`.
    NoSuchKernel = 5,
    /// The kernel's type is not `(i32 × (3 + 2·(in_len + out_len))) -> ()`.
    KernelSignature = 6,
    /// `num_threads` is 0 or above the host's cap ([`super::Options::max_threads`]).
    Threads = 7,
    /// A kernel invocation trapped; every worker stopped.
    Trap = 8,
    /// The kernels ran past the deadline ([`super::Options::deadline`]); every worker
    /// stopped.
    Deadline = 9,
    /// No device of the hinted kind (no GPU device on this host).
    NoDevice = 10,
    /// The buffer table is full or linear memory could not grow for a host-placed buffer.
    NoMemory = 11,
    /// Called from inside a kernel (worker instances cannot nest `parallel_for`).
    Nested = 12,
    /// A `read`-only buffer passed as an output, or a length longer than the buffer.
    Access = 13,
    /// The GPU device failed: the kernel's WGSL does not compile or bind, or a device
    /// error (the message names the kernel).
    Gpu = 14,
}

impl Errno {
    /// Every code, in numeric order.
    pub const ALL: [Errno; 15] = [
        Errno::Success,
        Errno::Invalid,
        Errno::BadHandle,
        Errno::Fault,
        Errno::Overlap,
        Errno::NoSuchKernel,
        Errno::KernelSignature,
        Errno::Threads,
        Errno::Trap,
        Errno::Deadline,
        Errno::NoDevice,
        Errno::NoMemory,
        Errno::Nested,
        Errno::Access,
        Errno::Gpu,
    ];

    /// The numeric code a guest sees.
    pub fn code(self) -> u32 {
        self as u32
    }

    /// The code as the guest's `i32` return value.
    pub fn raw(self) -> i32 {
        self as i32
    }

    /// The errno of a code (`None` for an unknown one).
    pub fn from_code(code: u32) -> Option<Errno> {
        Errno::ALL.into_iter().find(|e| e.code() == code)
    }

    /// A short name (`success`, `invalid`, `bad-handle`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Errno::Success => "success",
            Errno::Invalid => "invalid",
            Errno::BadHandle => "bad-handle",
            Errno::Fault => "fault",
            Errno::Overlap => "overlap",
            Errno::NoSuchKernel => "no-such-kernel",
            Errno::KernelSignature => "kernel-signature",
            Errno::Threads => "threads",
            Errno::Trap => "trap",
            Errno::Deadline => "deadline",
            Errno::NoDevice => "no-device",
            Errno::NoMemory => "no-memory",
            Errno::Nested => "nested",
            Errno::Access => "access",
            Errno::Gpu => "gpu",
        }
    }
}

impl std::fmt::Display for Errno {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.name(), self.code())
    }
}

/// The `hint` of `get_device`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeviceKind {
    /// 0: the CPU (the worker pool).
    Cpu = 0,
    /// 1: a discrete GPU.
    DiscreteGpu = 1,
    /// 2: an integrated GPU.
    IntegratedGpu = 2,
}

impl DeviceKind {
    /// The kind of a hint value; `None` when out of range.
    pub fn from_hint(hint: u32) -> Option<DeviceKind> {
        match hint {
            0 => Some(DeviceKind::Cpu),
            1 => Some(DeviceKind::DiscreteGpu),
            2 => Some(DeviceKind::IntegratedGpu),
            _ => None,
        }
    }
}

/// The `access` of `create_buffer`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Access {
    /// 0: kernels only read it (refused as an output).
    Read = 0,
    /// 1: kernels write it.
    Write = 1,
    /// 2: both.
    ReadWrite = 2,
}

impl Access {
    /// The access of a raw value; `None` when out of range.
    pub fn from_raw(raw: u32) -> Option<Access> {
        match raw {
            0 => Some(Access::Read),
            1 => Some(Access::Write),
            2 => Some(Access::ReadWrite),
            _ => None,
        }
    }
}

/// Whatever a store's data is, it reaches the [`Context`] through this.
pub trait HasContext: Send + 'static {
    /// The parallel context of the main instance.
    fn context(&mut self) -> &mut Context;
}

fn finish<T: HasContext>(caller: &mut Caller<'_, T>, r: Result<(), Fault>) -> i32 {
    match r {
        Ok(()) => Errno::Success.raw(),
        Err(f) => {
            let code = f.errno.raw();
            caller.data_mut().context().last_error = Some(f);
            code
        }
    }
}

/// Defines the six imports for the main instance, over its [`Context`].
///
/// # Errors
/// When the linker already defines one of them.
pub fn add_to_linker<T: HasContext>(linker: &mut Linker<T>) -> wasmtime::Result<()> {
    linker.func_wrap(
        MODULE,
        "get_device",
        |mut c: Caller<'_, T>, hint: u32, out: u32| -> i32 {
            let r = c.data_mut().context().get_device(hint, out);
            finish(&mut c, r)
        },
    )?;
    linker.func_wrap(
        MODULE,
        "create_buffer",
        |mut c: Caller<'_, T>, device: u32, size: u32, access: u32, out: u32| -> i32 {
            let r = c
                .data_mut()
                .context()
                .create_buffer(device, size, access, out);
            finish(&mut c, r)
        },
    )?;
    linker.func_wrap(
        MODULE,
        "write_buffer",
        |mut c: Caller<'_, T>, data: u32, len: u32, buffer: u32| -> i32 {
            let r = c.data_mut().context().write_buffer(data, len, buffer);
            finish(&mut c, r)
        },
    )?;
    linker.func_wrap(
        MODULE,
        "read_buffer",
        |mut c: Caller<'_, T>, buffer: u32, data: u32, len: u32| -> i32 {
            let r = c.data_mut().context().read_buffer(buffer, data, len);
            finish(&mut c, r)
        },
    )?;
    linker.func_wrap(
        MODULE,
        "parallel_for",
        |mut c: Caller<'_, T>,
         kernel: u32,
         num_threads: u32,
         block_size: u32,
         ins: u32,
         in_len: u32,
         outs: u32,
         out_len: u32|
         -> i32 {
            let r = c.data_mut().context().parallel_for(
                kernel,
                num_threads,
                block_size,
                (ins, in_len),
                (outs, out_len),
            );
            finish(&mut c, r)
        },
    )?;
    linker.func_wrap(
        MODULE,
        "release_buffer",
        |mut c: Caller<'_, T>, buffer: u32| -> i32 {
            let r = c.data_mut().context().release_buffer(buffer);
            finish(&mut c, r)
        },
    )?;
    Ok(())
}

/// Defines the six imports for worker instances: each returns [`Errno::Nested`] (a
/// kernel cannot start another parallel-for or touch the buffer table).
///
/// # Errors
/// When the linker already defines one of them.
pub fn add_worker_stubs<T: 'static>(linker: &mut Linker<T>) -> wasmtime::Result<()> {
    let nested = Errno::Nested.raw();
    linker.func_wrap(MODULE, "get_device", move |_: u32, _: u32| nested)?;
    linker.func_wrap(
        MODULE,
        "create_buffer",
        move |_: u32, _: u32, _: u32, _: u32| nested,
    )?;
    linker.func_wrap(MODULE, "write_buffer", move |_: u32, _: u32, _: u32| nested)?;
    linker.func_wrap(MODULE, "read_buffer", move |_: u32, _: u32, _: u32| nested)?;
    linker.func_wrap(
        MODULE,
        "parallel_for",
        move |_: u32, _: u32, _: u32, _: u32, _: u32, _: u32, _: u32| nested,
    )?;
    linker.func_wrap(MODULE, "release_buffer", move |_: u32| nested)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip() {
        for (i, e) in Errno::ALL.into_iter().enumerate() {
            assert_eq!(e.code() as usize, i);
            assert_eq!(Errno::from_code(e.code()), Some(e));
        }
        assert_eq!(Errno::from_code(99), None);
    }
}
