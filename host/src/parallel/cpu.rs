//! The CPU device: a pool of worker threads, each with its own [`Store`] and
//! [`Instance`] of the guest module over the one shared linear memory.
//!
//! A [`Job`] is handed to every worker; workers take `thread_id`s from one atomic
//! counter (so a slow block does not hold the others back) and call the kernel once per
//! id. The first failure (a trap, the deadline, a bad kernel) is recorded and raises the
//! job's abort flag: the other workers stop before their next invocation, or at the next
//! epoch tick if inside one. A worker whose instance was interrupted mid-call is
//! re-instantiated before the job is reported done, so the next call starts clean.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Instant;

use wasmtime::{
    Engine, Func, Instance, Linker, Module, Ref, Store, Table, UpdateDeadline, Val, ValType,
};
use wasmtime_wasi::p1::WasiP1Ctx;
use wasmtime_wasi::WasiCtxBuilder;

use super::abi::{self, Errno};
use super::context::Fault;
use super::engine::Interrupted;
use super::memory::GuestMemory;

/// One `parallel_for` call as the workers see it.
#[derive(Debug)]
pub struct Job {
    kernel: u32,
    num_threads: u32,
    block_size: u32,
    /// `(ptr, len_bytes)` of every input, then every output.
    args: Vec<i32>,
    deadline: Instant,
    next: AtomicU32,
    abort: AtomicBool,
    fault: Mutex<Option<Fault>>,
}

impl Job {
    /// A job over `args` (`ptr, len` pairs) that must end by `deadline`.
    pub fn new(
        kernel: u32,
        num_threads: u32,
        block_size: u32,
        args: Vec<i32>,
        deadline: Instant,
    ) -> Self {
        Job {
            kernel,
            num_threads,
            block_size,
            args,
            deadline,
            next: AtomicU32::new(0),
            abort: AtomicBool::new(false),
            fault: Mutex::new(None),
        }
    }

    /// Records the first fault and stops every worker.
    fn fail(&self, fault: Fault) {
        let mut f = self.fault.lock().unwrap_or_else(|e| e.into_inner());
        if f.is_none() {
            *f = Some(fault);
        }
        self.abort.store(true, Ordering::Release);
    }

    /// Why the epoch callback should stop the worker running this job, if it should.
    pub(crate) fn interruption(&self) -> Option<Interrupted> {
        if self.abort.load(Ordering::Acquire) {
            Some(Interrupted::Aborted)
        } else if Instant::now() >= self.deadline {
            Some(Interrupted::Deadline)
        } else {
            None
        }
    }
}

/// What every worker instantiates: the module, its memory import, the stack tops.
pub(crate) struct Setup {
    pub engine: Engine,
    pub module: Module,
    pub memory: GuestMemory,
    /// `(module, name)` of the memory import.
    pub memory_import: (String, String),
    /// Worker `i`'s initial `__stack_pointer`, when the guest exports one.
    pub stack_tops: Option<Vec<u32>>,
}

struct WorkerState {
    wasi: WasiP1Ctx,
    job: Option<Arc<Job>>,
}

/// One worker's instance.
struct Worker {
    id: usize,
    store: Store<WorkerState>,
    table: Option<Table>,
}

impl Worker {
    fn new(setup: &Setup, id: usize) -> wasmtime::Result<Worker> {
        let mut store = Store::new(
            &setup.engine,
            WorkerState {
                wasi: WasiCtxBuilder::new().build_p1(),
                job: None,
            },
        );
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(|ctx| {
            match ctx.data().job.as_ref().and_then(|j| j.interruption()) {
                Some(why) => Err(why.into()),
                None => Ok(UpdateDeadline::Continue(1)),
            }
        });
        let mut linker: Linker<WorkerState> = Linker::new(&setup.engine);
        wasmtime_wasi::p1::add_to_linker_sync(&mut linker, |s| &mut s.wasi)?;
        abi::add_worker_stubs(&mut linker)?;
        let (m, n) = &setup.memory_import;
        linker.define(&store, m, n, setup.memory.shared().clone())?;
        let instance: Instance = linker.instantiate(&mut store, &setup.module)?;
        if let Some(tops) = &setup.stack_tops {
            let sp = instance
                .get_global(&mut store, "__stack_pointer")
                .ok_or_else(|| wasmtime::format_err!("no __stack_pointer export"))?;
            sp.set(&mut store, Val::I32(tops[id] as i32))?;
        }
        let table = instance
            .get_table(&mut store, "__indirect_function_table")
            .or_else(|| instance.get_table(&mut store, "table"));
        Ok(Worker { id, store, table })
    }

    /// The kernel of `job`, checked: an entry of the table with the job's signature.
    fn kernel(&mut self, job: &Job) -> Result<Func, Fault> {
        let k = job.kernel;
        let table = self.table.ok_or_else(|| {
            Fault::new(
                Errno::NoSuchKernel,
                "the module exports no __indirect_function_table",
            )
        })?;
        let size = table.size(&self.store);
        let func = match table.get(&mut self.store, u64::from(k)) {
            Some(Ref::Func(Some(f))) => f,
            Some(_) => {
                return Err(Fault::new(
                    Errno::NoSuchKernel,
                    format!("kernel {k}: the table entry is null"),
                ))
            }
            None => {
                return Err(Fault::new(
                    Errno::NoSuchKernel,
                    format!("kernel {k} is outside the table ({size} entries)"),
                ))
            }
        };
        let ty = func.ty(&self.store);
        let want = 3 + job.args.len();
        let ok = ty.results().len() == 0
            && ty.params().len() == want
            && ty.params().all(|p| matches!(p, ValType::I32));
        if !ok {
            return Err(Fault::new(
                Errno::KernelSignature,
                format!("kernel {k} has type {ty}, expected {want} i32 params and no results"),
            ));
        }
        Ok(func)
    }

    /// Runs invocations of `job` until none are left or it is aborted. Returns whether
    /// the instance was interrupted mid-call (and must be rebuilt).
    fn run(&mut self, job: &Arc<Job>) -> bool {
        let func = match self.kernel(job) {
            Ok(f) => f,
            Err(fault) => {
                job.fail(fault);
                return false;
            }
        };
        let mut params: Vec<Val> = [0, job.num_threads as i32, job.block_size as i32]
            .into_iter()
            .chain(job.args.iter().copied())
            .map(Val::I32)
            .collect();
        self.store.data_mut().job = Some(job.clone());
        let mut interrupted = false;
        while !job.abort.load(Ordering::Acquire) {
            let i = job.next.fetch_add(1, Ordering::Relaxed);
            if i >= job.num_threads {
                break;
            }
            params[0] = Val::I32(i as i32);
            if let Err(e) = func.call(&mut self.store, &params, &mut []) {
                interrupted = true;
                match e.downcast_ref::<Interrupted>() {
                    Some(Interrupted::Aborted) => {}
                    Some(Interrupted::Deadline) => job.fail(Fault::new(
                        Errno::Deadline,
                        format!("kernel {} ran past the deadline", job.kernel),
                    )),
                    None => job.fail(Fault::new(
                        Errno::Trap,
                        format!(
                            "kernel {} trapped at thread_id {i} on worker {}: {e:#}",
                            job.kernel, self.id
                        ),
                    )),
                }
                break;
            }
        }
        self.store.data_mut().job = None;
        interrupted
    }
}

/// The worker threads of one guest.
pub struct Pool {
    senders: Vec<mpsc::Sender<Arc<Job>>>,
    done: mpsc::Receiver<()>,
    threads: Vec<JoinHandle<()>>,
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool")
            .field("workers", &self.senders.len())
            .finish()
    }
}

impl Pool {
    /// Starts `workers` threads and instantiates the module in each; fails with the
    /// first instantiation error.
    pub(crate) fn start(setup: Setup, workers: usize) -> Result<Pool, String> {
        let setup = Arc::new(setup);
        let (done_tx, done) = mpsc::channel();
        let (ready_tx, ready) = mpsc::channel();
        let mut pool = Pool {
            senders: Vec::new(),
            done,
            threads: Vec::new(),
        };
        for id in 0..workers {
            let (tx, rx) = mpsc::channel::<Arc<Job>>();
            let setup = setup.clone();
            let done = done_tx.clone();
            let ready = ready_tx.clone();
            let thread = std::thread::Builder::new()
                .name(format!("parallel-worker-{id}"))
                .spawn(move || worker_main(&setup, id, rx, done, ready))
                .map_err(|e| format!("spawning worker {id}: {e}"))?;
            pool.senders.push(tx);
            pool.threads.push(thread);
        }
        for _ in 0..workers {
            match ready.recv() {
                Ok(Ok(())) => {}
                Ok(Err(e)) => return Err(e),
                Err(_) => return Err("a worker thread died while starting".into()),
            }
        }
        Ok(pool)
    }

    /// Number of workers.
    pub fn workers(&self) -> usize {
        self.senders.len()
    }

    /// Runs `job` on every worker and waits for all of them.
    pub fn run(&mut self, job: Job) -> Result<(), Fault> {
        let job = Arc::new(job);
        let sent = self
            .senders
            .iter()
            .filter(|tx| tx.send(job.clone()).is_ok())
            .count();
        for _ in 0..sent {
            if self.done.recv().is_err() {
                job.fail(Fault::new(Errno::Trap, "a worker thread died"));
                break;
            }
        }
        if sent == 0 {
            return Err(Fault::new(Errno::Trap, "no worker threads left"));
        }
        let fault = job.fault.lock().unwrap_or_else(|e| e.into_inner()).take();
        match fault {
            Some(f) => Err(f),
            None => Ok(()),
        }
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        self.senders.clear();
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

fn worker_main(
    setup: &Setup,
    id: usize,
    jobs: mpsc::Receiver<Arc<Job>>,
    done: mpsc::Sender<()>,
    ready: mpsc::Sender<Result<(), String>>,
) {
    let mut worker = match Worker::new(setup, id) {
        Ok(w) => {
            let _ = ready.send(Ok(()));
            Some(w)
        }
        Err(e) => {
            let _ = ready.send(Err(format!("instantiating worker {id}: {e:#}")));
            return;
        }
    };
    drop(ready);
    while let Ok(job) = jobs.recv() {
        match worker.as_mut() {
            Some(w) => {
                if w.run(&job) {
                    // Drop the interrupted instance first, then build a fresh one.
                    worker = None;
                    match Worker::new(setup, id) {
                        Ok(w) => worker = Some(w),
                        Err(e) => job.fail(Fault::new(
                            Errno::Trap,
                            format!("re-instantiating worker {id}: {e:#}"),
                        )),
                    }
                }
            }
            None => job.fail(Fault::new(Errno::Trap, format!("worker {id} is lost"))),
        }
        if done.send(()).is_err() {
            return;
        }
    }
}
