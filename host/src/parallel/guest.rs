//! [`ParallelGuest`]: the main instance of a parallel-for guest, its shared memory and
//! its worker pool.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use wasmtime::{
    ExternType, Instance, Linker, Module, SharedMemory, Store, UpdateDeadline, WasmParams,
    WasmResults,
};
use wasmtime_wasi::p1::WasiP1Ctx;
use wasmtime_wasi::WasiCtxBuilder;

use super::abi::{self, HasContext};
use super::buffers::{BufferTable, Region};
use super::context::{Context, Fault};
use super::cpu::{Pool, Setup};
use super::engine::{parallel_engine, Interrupted};
use super::error::ParallelError;
use super::memory::{GuestMemory, PAGE};
use super::{section, stack, Options};

struct MainState {
    wasi: WasiP1Ctx,
    ctx: Context,
}

impl HasContext for MainState {
    fn context(&mut self) -> &mut Context {
        &mut self.ctx
    }
}

/// A parallel-for guest: its main instance (the one the host calls) and a pool of
/// [`Options::workers`] worker instances, all over one shared linear memory.
///
/// After a trap in the main instance the guest is poisoned (every later call is
/// [`ParallelError::Poisoned`]); a trap in a kernel is only an error code for the guest.
pub struct ParallelGuest {
    store: Store<MainState>,
    instance: Instance,
    origin: String,
    poisoned: bool,
}

impl std::fmt::Debug for ParallelGuest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ParallelGuest")
            .field("origin", &self.origin)
            .field("workers", &self.workers())
            .finish()
    }
}

impl ParallelGuest {
    /// Reads, compiles and instantiates a guest file.
    ///
    /// # Errors
    /// [`ParallelError::Io`], then as [`ParallelGuest::from_binary`].
    pub fn load(path: impl AsRef<Path>, options: Options) -> Result<Self, ParallelError> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|error| ParallelError::Io {
            path: path.to_path_buf(),
            error,
        })?;
        Self::from_binary(&bytes, &path.display().to_string(), options)
    }

    /// Compiles `bytes` (a binary module; the engine also accepts WAT text), creates the
    /// shared memory it imports, starts the workers and instantiates the main instance
    /// (calling its `_initialize` export if it has one).
    ///
    /// # Errors
    /// [`ParallelError::Compile`], [`ParallelError::NoSharedMemory`],
    /// [`ParallelError::StackNotExported`], [`ParallelError::Setup`].
    pub fn from_binary(
        bytes: &[u8],
        origin: &str,
        options: Options,
    ) -> Result<Self, ParallelError> {
        let setup_err = |message: String| ParallelError::Setup {
            origin: origin.to_string(),
            message,
        };
        let engine = parallel_engine().map_err(setup_err)?;
        let module = Module::new(&engine, bytes).map_err(|e| ParallelError::Compile {
            origin: origin.to_string(),
            message: format!("{e:#}"),
        })?;
        let no_shared = |message: &str| ParallelError::NoSharedMemory {
            origin: origin.to_string(),
            message: message.to_string(),
        };
        let mut memories = module.imports().filter_map(|i| match i.ty() {
            ExternType::Memory(m) => Some((i.module().to_string(), i.name().to_string(), m)),
            _ => None,
        });
        let (m, n, ty) = memories
            .next()
            .ok_or_else(|| no_shared("it imports no memory"))?;
        if memories.next().is_some() {
            return Err(no_shared("it imports more than one memory"));
        }
        if !ty.is_shared() {
            return Err(no_shared(&format!(
                "its memory import {m}.{n} is not shared"
            )));
        }
        let has_sp = stack::exports_stack_pointer(&module);
        if !has_sp && stack::stack_global_not_exported(bytes) {
            return Err(ParallelError::StackNotExported {
                origin: origin.to_string(),
            });
        }
        let shared = SharedMemory::new(&engine, ty).map_err(|e| setup_err(format!("{e:#}")))?;
        let memory = GuestMemory::new(shared);
        let workers = options.workers.max(1);
        let stack_bytes = (u64::from(options.worker_stack_bytes).div_ceil(PAGE) * PAGE).max(PAGE);
        let (stack_tops, reserved) = if has_sp {
            let total = u32::try_from(stack_bytes * workers as u64)
                .map_err(|_| setup_err("worker stacks over 4 GiB".into()))?;
            let r = memory
                .grow_region(total)
                .map_err(|f| setup_err(format!("worker stacks: {f}")))?;
            let tops = (0..workers as u64)
                .map(|i| (u64::from(r.offset) + (i + 1) * stack_bytes) as u32)
                .collect();
            (Some(tops), vec![r])
        } else {
            (None, Vec::<Region>::new())
        };
        let pool = Pool::start(
            Setup {
                engine: engine.clone(),
                module: module.clone(),
                memory: memory.clone(),
                memory_import: (m.clone(), n.clone()),
                stack_tops,
            },
            workers,
        )
        .map_err(setup_err)?;
        let mut wasi = WasiCtxBuilder::new();
        if options.inherit_stdio {
            wasi.inherit_stdout().inherit_stderr();
        }
        let ctx = Context {
            memory: memory.clone(),
            buffers: BufferTable::default(),
            pool,
            options,
            reserved,
            main_deadline: Instant::now() + options.deadline,
            kernels: Arc::new(section::kernels(bytes)),
            gpu: None,
            host_placed: HashMap::new(),
            free_regions: Vec::new(),
            last_error: None,
        };
        let mut store = Store::new(
            &engine,
            MainState {
                wasi: wasi.build_p1(),
                ctx,
            },
        );
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(|ctx| {
            if Instant::now() >= ctx.data().ctx.main_deadline {
                Err(Interrupted::Deadline.into())
            } else {
                Ok(UpdateDeadline::Continue(1))
            }
        });
        let mut linker: Linker<MainState> = Linker::new(&engine);
        let link = |r: wasmtime::Result<()>| r.map_err(|e| setup_err(format!("{e:#}")));
        link(wasmtime_wasi::p1::add_to_linker_sync(&mut linker, |s| {
            &mut s.wasi
        }))?;
        link(abi::add_to_linker(&mut linker))?;
        link(
            linker
                .define(&store, &m, &n, memory.shared().clone())
                .map(|_| ()),
        )?;
        let instance = linker
            .instantiate(&mut store, &module)
            .map_err(|e| setup_err(format!("instantiating: {e:#}")))?;
        let mut guest = ParallelGuest {
            store,
            instance,
            origin: origin.to_string(),
            poisoned: false,
        };
        if guest
            .instance
            .get_func(&mut guest.store, "_initialize")
            .is_some()
        {
            guest.call::<(), ()>("_initialize", ())?;
        }
        Ok(guest)
    }

    /// Calls the main instance's export `name` under [`Options::deadline`] (time spent
    /// inside `parallel_for` does not count against it).
    ///
    /// # Errors
    /// [`ParallelError::Poisoned`] after an earlier trap; [`ParallelError::Export`] when
    /// the export is missing or has another type; [`ParallelError::Trap`] when the main
    /// instance traps (the guest is poisoned from then on).
    pub fn call<P: WasmParams, R: WasmResults>(
        &mut self,
        name: &str,
        params: P,
    ) -> Result<R, ParallelError> {
        if self.poisoned {
            return Err(ParallelError::Poisoned {
                origin: self.origin.clone(),
            });
        }
        let f = self
            .instance
            .get_typed_func::<P, R>(&mut self.store, name)
            .map_err(|e| ParallelError::Export {
                origin: self.origin.clone(),
                name: name.to_string(),
                message: format!("{e:#}"),
            })?;
        let deadline = self.store.data().ctx.options.deadline;
        self.store.data_mut().ctx.main_deadline = Instant::now() + deadline;
        f.call(&mut self.store, params).map_err(|e| {
            self.poisoned = true;
            ParallelError::Trap {
                origin: self.origin.clone(),
                export: name.to_string(),
                deadline: e.downcast_ref::<Interrupted>() == Some(&Interrupted::Deadline),
                message: format!("{e:#}"),
            }
        })
    }

    /// The last failed `wasi_ephemeral_parallel` call of the guest: its code and the
    /// host's message.
    pub fn last_error(&self) -> Option<&Fault> {
        self.store.data().ctx.last_error.as_ref()
    }

    /// Forgets [`ParallelGuest::last_error`].
    pub fn clear_last_error(&mut self) {
        self.store.data_mut().ctx.last_error = None;
    }

    /// Number of worker instances.
    pub fn workers(&self) -> usize {
        self.store.data().ctx.pool.workers()
    }

    /// The file or name the guest was loaded from.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The host-owned regions (worker stacks), `(offset, len)` in bytes; empty when the
    /// guest exports no `__stack_pointer`.
    pub fn reserved(&self) -> Vec<(u32, u32)> {
        let ctx = &self.store.data().ctx;
        ctx.reserved.iter().map(|r| (r.offset, r.len)).collect()
    }

    /// Size of linear memory in bytes.
    pub fn memory_len(&self) -> u64 {
        self.store.data().ctx.memory.len()
    }

    /// Copies `bytes` into linear memory at `offset`.
    ///
    /// # Errors
    /// [`ParallelError::Memory`] when the region is outside memory.
    pub fn write_bytes(&self, offset: u32, bytes: &[u8]) -> Result<(), ParallelError> {
        Ok(self
            .store
            .data()
            .ctx
            .memory
            .write(offset, bytes, "host write")?)
    }

    /// Copies `len` bytes of linear memory at `offset` out.
    ///
    /// # Errors
    /// [`ParallelError::Memory`] when the region is outside memory.
    pub fn read_bytes(&self, offset: u32, len: u32) -> Result<Vec<u8>, ParallelError> {
        Ok(self
            .store
            .data()
            .ctx
            .memory
            .read(offset, len, "host read")?)
    }

    /// Writes `values` (little-endian `f64`) at `offset`.
    ///
    /// # Errors
    /// As [`ParallelGuest::write_bytes`].
    pub fn write_f64s(&self, offset: u32, values: &[f64]) -> Result<(), ParallelError> {
        self.write_bytes(offset, bytemuck::cast_slice(values))
    }

    /// Reads `n` `f64` at `offset`.
    ///
    /// # Errors
    /// As [`ParallelGuest::read_bytes`]; also when `8·n` overflows `u32`.
    pub fn read_f64s(&self, offset: u32, n: usize) -> Result<Vec<f64>, ParallelError> {
        let len = u32::try_from(n * 8)
            .map_err(|_| ParallelError::Unsupported(format!("{n} f64 do not fit in 4 GiB")))?;
        let bytes = self.read_bytes(offset, len)?;
        Ok(bytes
            .chunks_exact(8)
            .map(|c| f64::from_le_bytes(c.try_into().expect("8 bytes")))
            .collect())
    }
}
