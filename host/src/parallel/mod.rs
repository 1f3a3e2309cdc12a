//! Parallel for (from wasi-parallel): a guest hands the host one kernel and an
//! iteration space; the host runs it on every CPU core or on the GPU.
//!
//! The guest imports `wasi_ephemeral_parallel` ([`abi`]: `get_device`,
//! `create_buffer`, `write_buffer`, `read_buffer`, `parallel_for`, and offload's
//! `release_buffer`, each returning an [`Errno`], never trapping) and one **shared**
//! linear memory (wasm threads; Rust guests built for `wasm32-wasip1-threads`).
//!
//! # The CPU device
//!
//! [`ParallelGuest`] creates the shared memory, instantiates the module once for the
//! host's calls (the *main* instance) and once in each of [`Options::workers`] worker
//! threads, every instance in its own `Store` over that one memory — no instance is
//! ever entered from two threads. `parallel_for` returns when every worker is done.
//!
//! - **Kernels.** `kernel` is an index into the exported funcref table
//!   `__indirect_function_table` (or `table`, as the original examples named it),
//!   resolved in each worker's own instance. A kernel has exactly
//!   `3 + 2·(in_len + out_len)` `i32` parameters and no results, and is called once per
//!   `thread_id` in `0..num_threads` as `(thread_id, num_threads, block_size,
//!   in0_ptr, in0_len_bytes, …, out0_ptr, out0_len_bytes, …)`. `block_size` is passed
//!   through (the kernel decides what a block is; it must not be 0). Workers take
//!   `thread_id`s from a shared counter, so invocations run in any order. An index
//!   outside the table or a null entry is [`Errno::NoSuchKernel`]; another type is
//!   [`Errno::KernelSignature`]. Nested calls from a kernel are [`Errno::Nested`].
//! - **Buffers** ([`buffers`]) are regions of linear memory, no copies: the first
//!   `write_buffer` of a buffer's full size binds it to that region. Kernels get
//!   `(ptr, len)` of each. Every region must lie inside memory ([`Errno::Fault`]); an
//!   output may overlap no input and no other output ([`Errno::Overlap`]).
//!   `release_buffer` ends a handle for good (handles are never reused; using it again
//!   is [`Errno::BadHandle`]); [`Options::max_buffers`] counts live buffers.
//! - **Stacks** ([`stack`]): each worker gets its own shadow stack when the guest exports
//!   its `__stack_pointer` global; a module with an unexported one is refused.
//! - **Failure.** A trap in any invocation stops every worker (they check an abort flag
//!   between invocations and at every epoch tick, [`engine::TICK`]); `parallel_for`
//!   returns [`Errno::Trap`] (the host keeps the message: [`ParallelGuest::last_error`])
//!   and each interrupted worker is re-instantiated before it returns, so the next call
//!   works. A job running past [`Options::deadline`] is stopped the same way
//!   ([`Errno::Deadline`]). `num_threads` of 0 or above [`Options::max_threads`] is
//!   [`Errno::Threads`].
//! - **Data segments.** Every instantiation applies the module's active data segments
//!   to the shared memory; guests use passive segments initialised once (what LLVM
//!   emits for shared memory) or none.
//!
//! # The GPU device
//!
//! A GPU hint to `get_device` opens offload-core's wgpu backend ([`gpu`]; the one the
//! `gpu-wgpu` path uses; [`Errno::NoDevice`] when there is none). Kernels run as the WGSL
//! attached to the module in a custom section keyed by the kernel's table index
//! ([`section`], `offload attach-kernel`); buffers are backend buffers that
//! `write_buffer` / `read_buffer` copy to and from linear memory in place (one copy each
//! way, through the backend's staging buffers); `release_buffer` frees one. On Mesa's
//! lavapipe a loop ends after 65,535 iterations per invocation, so kernels there must
//! keep each invocation's loops shorter (the tests do).
//!
//! [`VectorOps`] drives the Rust guest's ops (fast `sum`/`dot`, `mul`, `scale`, forest
//! `predict`) for the CLI, the tests and the benches.

pub mod abi;
pub mod buffers;
pub mod context;
mod cpu;
pub mod engine;
mod error;
pub mod gpu;
mod guest;
pub mod memory;
pub mod section;
pub mod stack;
mod vector;

use std::time::Duration;

pub use abi::{Access, DeviceKind, Errno};
pub use context::Fault;
pub use error::ParallelError;
pub use guest::ParallelGuest;
pub use vector::{Timed, VectorOps, BAD_FOREST};

/// How a [`ParallelGuest`] runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    /// Worker threads (instances) of the CPU device (at least 1).
    pub workers: usize,
    /// The largest `num_threads` (kernel invocations) one `parallel_for` may ask for.
    pub max_threads: u32,
    /// Longest a `parallel_for` may run, and longest the main instance may run per
    /// export call (not counting its `parallel_for` calls).
    pub deadline: Duration,
    /// Bytes of shadow stack per worker (rounded up to 64 KiB pages).
    pub worker_stack_bytes: u32,
    /// Most buffers one guest may create.
    pub max_buffers: u32,
    /// Give the main instance the host's stdout and stderr (workers never get them).
    pub inherit_stdio: bool,
}

/// Default [`Options::max_threads`]: 2^20 invocations.
pub const MAX_THREADS: u32 = 1 << 20;

impl Default for Options {
    /// As many workers as the machine has cores, [`MAX_THREADS`], a 60 s deadline,
    /// 256 KiB stacks, 4096 buffers, no stdio.
    fn default() -> Self {
        Options {
            workers: std::thread::available_parallelism().map_or(1, |n| n.get()),
            max_threads: MAX_THREADS,
            deadline: Duration::from_secs(60),
            worker_stack_bytes: 256 * 1024,
            max_buffers: 4096,
            inherit_stdio: false,
        }
    }
}

impl Options {
    /// The defaults with `workers` workers.
    pub fn with_workers(workers: usize) -> Self {
        Options {
            workers,
            ..Options::default()
        }
    }
}
