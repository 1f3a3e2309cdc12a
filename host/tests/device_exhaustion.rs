//! Device exhaustion (issue 19, item 5): several guest instances on one GPU ask together
//! for more device memory than the GPU has, through wasi:gpu.
//!
//! On each GPU backend (wgpu and cuda; each skipped by name, with the reason, when it
//! cannot open; a software adapter such as Mesa lavapipe is skipped too, since its "device
//! memory" is this host's RAM; cpu is skipped by name, it has no device memory of fixed
//! size). [`HOGS`] instances of a small hand-written guest ([`WAT`], componentized here, so
//! that the calls go through the real canonical ABI) each create and keep buffers of
//! [`CHUNK`] bytes (or the device's largest buffer, if smaller), all at once on their own
//! threads, until their first failure. Each instance's byte quota is raised to twice the
//! device memory, so the device, not the quota, runs out. Then a small instance and the
//! instances that ran out compute sums checked against the host.
//!
//! Asserts:
//! - every hog's first failure is wasi:gpu's answer for out of device memory: the
//!   `device` case of `gpu-error` (WIT: "the device or driver failed (out of device
//!   memory, ...)"; there is no separate out-of-memory case) with a message that says out
//!   of memory, never a panic, trap or another case; and every hog does get it (each asks
//!   alone for the whole device);
//! - a failed allocation charges nothing: each hog holds exactly the buffers and bytes it
//!   obtained, and the device's buffer count is their sum;
//! - while the device is full, a small instance's sum (and a hog's) is either right or the
//!   same out-of-memory error;
//! - after each hog destroys one buffer, every hog and the small instance compute right
//!   sums;
//! - after every instance is dropped the device holds no buffer; one fresh instance gets
//!   back at least 95 % of the bytes the hogs held (so the memory really went back to the
//!   device); on cuda, free device memory (`cuMemGetInfo`) is within 5 % of what it was
//!   before.
//!
//! Prints the device memory, bytes per instance before out-of-memory, and free memory
//! before, when full and after (cuda). Bounded: at most `device memory / CHUNK + 1`
//! allocations per hog (80 on an 80 GB GPU), each call under the host's deadline.
//!
//! `OFFLOAD_EXHAUST_CHUNK` sets the chunk size in bytes (default 1 GiB);
//! `OFFLOAD_EXHAUST_MAX_BYTES` bounds what each hog, and all of them together, ask for
//! when the backend does not report its memory (wgpu; default 256 GiB, more than any one
//! GPU has; a documented fallback: the test then measures the memory as what the hogs
//! obtained, and a device that gives out that much without running out fails the test);
//! `OFFLOAD_EXHAUST_SOFTWARE=1` runs it on a software adapter as well (for trying the test
//! without a GPU, e.g. under `ulimit -v`).

mod common;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use std::time::{Duration, Instant};

use offload_core::gpu::policy::ErrorCase;
use offload_host::wasi_gpu::{seeded_f32, Device, GpuHost, GpuInstance, Limits};
use wasmtime::component::Component;

use common::wasi_gpu_component::bump_realloc_wat;

/// Guest instances that fill the device together.
const HOGS: usize = 4;
/// Size of each buffer a hog creates (unless the device's largest buffer is smaller).
const CHUNK: u64 = 1 << 30;
/// Elements of the small instance's sums.
const SMALL_N: usize = 1000;

/// The guest's world (the wasi:gpu package is pushed first).
const WIT: &str = r#"
package offload:exhaust@0.1.0;

world exhaust-guest {
    import wasi:gpu/compute@0.1.0;
    import wasi:gpu/ml-kernels@0.1.0;
    export create: func(bytes: u64) -> u64;
    export destroy: func(buf: u32) -> u64;
    export sum: func(values: list<f32>) -> u64;
    export last-sum: func() -> f64;
    export last-error: func() -> string;
}
"#;

/// The guest's core module. Every export but `last-*` returns a `u64`: below 2^32 is
/// success (`create`: the buffer's handle, kept until `destroy` or the instance is
/// dropped; `destroy`, `sum`: 0), bit 63 set is a `gpu-error` (case index in bits 32..40,
/// message length in bits 0..32; the message is kept for `last-error`). `sum` creates a
/// buffer for `values`, writes them, runs `kernel-reduce` (sum, f32), destroys the buffer
/// and keeps the sum for `last-sum`.
///
/// Memory (8 MiB): 0..32 the imports' return area; 32 the last sum; 48 `last-error`'s (pointer,
/// length); `MSG` its bytes (at most `MSG_MAX`); from `HEAP` the bump heap that
/// `cabi_realloc` hands out (lists passed in, error strings), reset at the end of every
/// export.
const WAT: &str = r#"
(module
  (import "wasi:gpu/compute@0.1.0" "buffer-create" (func $create (param i64 i32)))
  (import "wasi:gpu/compute@0.1.0" "buffer-write" (func $write (param i32 i64 i32 i32 i32)))
  (import "wasi:gpu/compute@0.1.0" "buffer-destroy" (func $destroy (param i32 i32)))
  (import "wasi:gpu/ml-kernels@0.1.0" "kernel-reduce" (func $reduce (param i32 i32 i32 i64 i32)))
  (memory (export "memory") 128 128)
  BUMP_REALLOC

  ;; The gpu-error at $at (case u8, message pointer, length): keeps the message for
  ;; last-error and returns the error code.
  (func $fail (param $at i32) (result i64) (local $len i32)
    (local.set $len (i32.load offset=8 (local.get $at)))
    (if (i32.gt_u (local.get $len) (i32.const MSG_MAX)) (then (local.set $len (i32.const MSG_MAX))))
    (memory.copy (i32.const MSG) (i32.load offset=4 (local.get $at)) (local.get $len))
    (i32.store (i32.const 48) (i32.const MSG))
    (i32.store (i32.const 52) (local.get $len))
    (i64.or (i64.const 0x8000000000000000)
      (i64.or (i64.shl (i64.load8_u (local.get $at)) (i64.const 32))
              (i64.load32_u offset=8 (local.get $at)))))

  (func (export "create") (param $bytes i64) (result i64) (local $r i64)
    (call $create (local.get $bytes) (i32.const 0))
    (if (i32.load8_u (i32.const 0))
      (then (local.set $r (call $fail (i32.const 4))))
      (else (local.set $r (i64.load32_u (i32.const 4)))))
    (global.set $heap (i32.const HEAP))
    (local.get $r))

  (func (export "destroy") (param $buf i32) (result i64) (local $r i64)
    (call $destroy (local.get $buf) (i32.const 0))
    (if (i32.load8_u (i32.const 0))
      (then (local.set $r (call $fail (i32.const 4)))))
    (global.set $heap (i32.const HEAP))
    (local.get $r))

  (func (export "sum") (param $ptr i32) (param $n i32) (result i64) (local $h i32) (local $r i64)
    (block $out
      (call $create (i64.shl (i64.extend_i32_u (local.get $n)) (i64.const 2)) (i32.const 0))
      (if (i32.load8_u (i32.const 0))
        (then (local.set $r (call $fail (i32.const 4))) (br $out)))
      (local.set $h (i32.load (i32.const 4)))
      (call $write (local.get $h) (i64.const 0) (local.get $ptr)
        (i32.shl (local.get $n) (i32.const 2)) (i32.const 0))
      (if (i32.load8_u (i32.const 0))
        (then (local.set $r (call $fail (i32.const 4))))
        (else
          (call $reduce (i32.const 0) (i32.const 0) (local.get $h)
            (i64.extend_i32_u (local.get $n)) (i32.const 0))
          (if (i32.load8_u (i32.const 0))
            (then (local.set $r (call $fail (i32.const 8))))
            (else (f64.store (i32.const 32) (f64.load (i32.const 8)))))))
      (call $destroy (local.get $h) (i32.const 0))
      (if (i32.and (i32.load8_u (i32.const 0)) (i64.eqz (local.get $r)))
        (then (local.set $r (call $fail (i32.const 4))))))
    (global.set $heap (i32.const HEAP))
    (local.get $r))

  (func (export "last-sum") (result f64) (f64.load (i32.const 32)))
  (func (export "last-error") (result i32) (i32.const 48))
)
"#;

/// The guest as a component compiled for `host`.
fn component(host: &GpuHost) -> Component {
    let text = WAT
        .replace("BUMP_REALLOC", &bump_realloc_wat(8 << 20))
        .replace("MSG_MAX", "65536")
        .replace("MSG", "4096")
        .replace("HEAP", "131072");
    let core = wat::parse_str(&text).unwrap_or_else(|e| panic!("exhaust guest WAT: {e}"));
    let bytes = common::wasi_gpu_component::componentize(core, "exhaust.wit", WIT, "exhaust-guest");
    Component::new(host.engine(), bytes).expect("the exhaust guest compiles")
}

/// A `gpu-error` a guest got: its WIT case name and message.
#[derive(Debug, Clone)]
struct GuestError {
    case: &'static str,
    message: String,
}

impl std::fmt::Display for GuestError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.case, self.message)
    }
}

impl GuestError {
    /// Whether this is wasi:gpu's answer for out of device memory: case `device`, a
    /// message saying out of memory (cuda: `CUDA_ERROR_OUT_OF_MEMORY`; wgpu: `Out of
    /// Memory`).
    fn is_out_of_memory(&self) -> bool {
        let m = self.message.to_ascii_lowercase();
        self.case == ErrorCase::Device.name()
            && (m.contains("out of memory") || m.contains("out_of_memory"))
    }
}

/// Calls export `name` (one `u64` result, see [`WAT`]); a `gpu-error` comes back with its
/// message. A trap or host error fails the test.
fn call<P>(i: &mut GpuInstance, name: &str, params: P) -> Result<u32, GuestError>
where
    P: wasmtime::component::ComponentNamedList + wasmtime::component::Lower + Send + Sync,
{
    let (v,) = i
        .call::<P, (u64,)>(name, params)
        .unwrap_or_else(|e| panic!("{name}: the guest trapped or the host failed: {e}"));
    if v >> 63 == 0 {
        assert!(v >> 32 == 0, "{name} returned {v:#x}");
        return Ok(v as u32);
    }
    let case = (v >> 32) as u8;
    let (message,) = i
        .call::<(), (String,)>("last-error", ())
        .unwrap_or_else(|e| panic!("last-error: {e}"));
    assert_eq!(
        message.len() as u64,
        v & 0xFFFF_FFFF,
        "{name}: message length"
    );
    let case = ErrorCase::ALL
        .get(case as usize)
        .unwrap_or_else(|| panic!("{name}: gpu-error case {case} is not a WIT case"));
    Err(GuestError {
        case: case.name(),
        message,
    })
}

/// The guest's sum of `values` on the device.
fn sum(i: &mut GpuInstance, values: &[f32]) -> Result<f64, GuestError> {
    call(i, "sum", (values,))?;
    Ok(i.call::<(), (f64,)>("last-sum", ())
        .unwrap_or_else(|e| panic!("last-sum: {e}"))
        .0)
}

/// `n` seeded values (seed `seed`), their f64 sum, and the sum of their magnitudes (the
/// tolerance's scale).
fn operands(seed: u32, n: usize) -> (Vec<f32>, f64, f64) {
    let a = seeded_f32(seed, n);
    let want = a.iter().map(|&x| x as f64).sum();
    let scale = a.iter().map(|&x| x.abs() as f64).sum();
    (a, want, scale)
}

/// Asserts that instance `who` computes the right sum of `n` seeded values (seed `seed`).
fn checked_sum(i: &mut GpuInstance, who: &str, seed: u32, n: usize) {
    let (a, want, scale) = operands(seed, n);
    let got = sum(i, &a).unwrap_or_else(|e| panic!("{who}: sum of {n}: {e}"));
    assert!(
        (got - want).abs() <= 1e-5 * scale,
        "{who}: sum of {n} is {got}, the host's is {want}"
    );
}

/// A sum while the device is full: right, or out-of-memory (nothing else). Says which.
fn sum_when_full(i: &mut GpuInstance, who: &str, seed: u32, n: usize) -> String {
    let (a, want, scale) = operands(seed, n);
    match sum(i, &a) {
        Ok(got) => {
            assert!(
                (got - want).abs() <= 1e-5 * scale,
                "{who}: sum of {n} on a full device is {got}, the host's is {want}"
            );
            "right".into()
        }
        Err(e) => {
            assert!(
                e.is_out_of_memory(),
                "{who}: a sum on a full device failed with something other than \
                 out-of-memory: {e}"
            );
            format!("out-of-memory ({e})")
        }
    }
}

/// (free, total) device memory of the current CUDA context (`cuMemGetInfo_v2`), through
/// the libcuda the cuda backend already loaded. offload-core exposes no free-memory query
/// (only the total, in `DeviceInfo::memory_bytes`), so the test asks the driver itself;
/// the context is current on the thread that opened the backend.
fn cuda_mem_info() -> Result<(u64, u64), String> {
    use std::ffi::{c_char, c_int, c_void};
    extern "C" {
        fn dlopen(file: *const c_char, mode: c_int) -> *mut c_void;
        fn dlsym(handle: *mut c_void, name: *const c_char) -> *mut c_void;
    }
    const RTLD_NOW: c_int = 2;
    const RTLD_NOLOAD: c_int = 4;
    type MemGetInfo = unsafe extern "C" fn(*mut usize, *mut usize) -> c_int;
    for lib in [c"libcuda.so.1", c"libcuda.so"] {
        // SAFETY: RTLD_NOLOAD only looks up a library already loaded; nothing is run.
        let h = unsafe { dlopen(lib.as_ptr(), RTLD_NOW | RTLD_NOLOAD) };
        if h.is_null() {
            continue;
        }
        // SAFETY: a symbol lookup in a loaded library.
        let f = unsafe { dlsym(h, c"cuMemGetInfo_v2".as_ptr()) };
        if f.is_null() {
            return Err("libcuda has no cuMemGetInfo_v2".into());
        }
        // SAFETY: cuMemGetInfo_v2's C signature, CUresult (cuda.h).
        let f: MemGetInfo = unsafe { std::mem::transmute::<*mut c_void, MemGetInfo>(f) };
        let (mut free, mut total) = (0usize, 0usize);
        // SAFETY: two out-parameters.
        let r = unsafe { f(&mut free, &mut total) };
        if r != 0 {
            return Err(format!("cuMemGetInfo_v2 returned CUresult {r}"));
        }
        return Ok((free as u64, total as u64));
    }
    Err("libcuda is not loaded in this process".into())
}

fn gib(b: u64) -> f64 {
    b as f64 / (1u64 << 30) as f64
}

/// What one hog got: the handles of its buffers, and the error that stopped it (none
/// when it reached its target).
struct Fill {
    handles: Vec<u32>,
    stopped_by: Option<GuestError>,
    seconds: f64,
}

/// Creates buffers of `chunk` bytes until the first error, `max_chunks` of them, or until
/// all hogs together (`together`, bytes) hold `total_cap` bytes.
fn fill(
    i: &mut GpuInstance,
    chunk: u64,
    max_chunks: u64,
    together: &AtomicU64,
    total_cap: u64,
    start: &Barrier,
) -> Fill {
    start.wait();
    let t = Instant::now();
    let mut handles = Vec::new();
    let mut stopped_by = None;
    while (handles.len() as u64) < max_chunks && together.load(Ordering::SeqCst) < total_cap {
        match call(i, "create", (chunk,)) {
            Ok(h) => {
                together.fetch_add(chunk, Ordering::SeqCst);
                handles.push(h)
            }
            Err(e) => {
                stopped_by = Some(e);
                break;
            }
        }
    }
    Fill {
        handles,
        stopped_by,
        seconds: t.elapsed().as_secs_f64(),
    }
}

/// Runs the backends one after the other: wgpu and cuda are the same GPU on the GPU
/// machine, and two exhaustions at once would measure each other.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn exhaust(backend: &str) {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let t0 = Instant::now();
    let device: Arc<Device> = match Device::open(backend) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("SKIP device-exhaustion/{backend}: {e}");
            return;
        }
    };
    let info = device.info().clone();
    if info.is_software && std::env::var("OFFLOAD_EXHAUST_SOFTWARE").as_deref() != Ok("1") {
        eprintln!(
            "SKIP device-exhaustion/{backend}: {} is a software adapter: its device memory is \
             this host's RAM, there is no GPU memory to exhaust (OFFLOAD_EXHAUST_SOFTWARE=1 \
             runs it anyway)",
            info.name
        );
        return;
    }
    let chunk = common::env_u64("OFFLOAD_EXHAUST_CHUNK", CHUNK).min(info.max_buffer_bytes) & !3;
    assert!(
        chunk > 0,
        "chunk of 0 bytes (max buffer {})",
        info.max_buffer_bytes
    );
    // What each hog asks for, and what all of them may hold together: the device's
    // memory when the backend reports it (the device bounds the total), else the fallback.
    let (memory, total_cap, memory_note) = match info.memory_bytes {
        Some(m) => (m, u64::MAX, "reported by the backend".to_string()),
        None => {
            let cap = common::env_u64("OFFLOAD_EXHAUST_MAX_BYTES", 256 << 30);
            (
                cap,
                cap,
                format!(
                    "not reported by {backend}: each instance, and all together, ask for up \
                     to {:.0} GiB (OFFLOAD_EXHAUST_MAX_BYTES)",
                    gib(cap)
                ),
            )
        }
    };
    // Each hog alone asks for the whole device, so every one of them runs out.
    let max_chunks = memory.div_ceil(chunk) + 1;
    let limits = Limits {
        max_bytes: memory.saturating_mul(2),
        max_buffers: u32::try_from(max_chunks + 16).expect("buffer count fits u32"),
        deadline: Duration::from_secs(60),
    };
    let host = GpuHost::new(device.clone(), limits).expect("host");
    let c = component(&host);
    eprintln!(
        "device-exhaustion/{backend}: {} ({}); device memory {} bytes ({:.1} GiB, {memory_note}); \
         chunk {chunk} bytes; {HOGS} instances, quota {} bytes and {} buffers each",
        info.name,
        info.driver,
        memory,
        gib(memory),
        limits.max_bytes,
        limits.max_buffers
    );

    let mut small = host.instantiate(&c).expect("instantiate");
    let mut hogs: Vec<GpuInstance> = (0..HOGS)
        .map(|_| host.instantiate(&c).expect("instantiate"))
        .collect();
    // Warm-up: every instance computes once on an empty device (kernels compiled, staging
    // allocated), so that what follows measures the buffers only.
    checked_sum(&mut small, "small (warm-up)", 1, SMALL_N);
    for (g, h) in hogs.iter_mut().enumerate() {
        checked_sum(
            h,
            &format!("hog {g} (warm-up)"),
            10 + g as u32,
            SMALL_N + 37 * g,
        );
    }
    assert_eq!(device.live_buffers(), 0, "warm-up left buffers");
    let cuda = backend == "cuda";
    let free_before = if cuda {
        let (free, total) = cuda_mem_info().expect("cuMemGetInfo before");
        eprintln!(
            "device-exhaustion/cuda: free before {free} bytes ({:.2} GiB) of {total}",
            gib(free)
        );
        Some(free)
    } else {
        None
    };

    // All hogs at once, until each gets its first error.
    let start = Barrier::new(HOGS);
    let together = AtomicU64::new(0);
    let fills: Vec<Fill> = std::thread::scope(|s| {
        let handles: Vec<_> = hogs
            .iter_mut()
            .map(|h| {
                let (start, together) = (&start, &together);
                s.spawn(move || fill(h, chunk, max_chunks, together, total_cap, start))
            })
            .collect();
        handles
            .into_iter()
            .enumerate()
            .map(|(g, h)| {
                h.join().unwrap_or_else(|p| {
                    eprintln!("device-exhaustion/{backend}: hog {g} panicked");
                    std::panic::resume_unwind(p)
                })
            })
            .collect()
    });
    let held: usize = fills.iter().map(|f| f.handles.len()).sum();
    let obtained = held as u64 * chunk;
    for (g, (f, h)) in fills.iter().zip(&hogs).enumerate() {
        let bytes = f.handles.len() as u64 * chunk;
        let why = f
            .stopped_by
            .as_ref()
            .map_or("none (reached its target)".to_string(), |e| e.to_string());
        eprintln!(
            "device-exhaustion/{backend}: hog {g}: {} buffers, {bytes} bytes ({:.2} GiB) before \
             its first error in {:.2} s: {why}",
            f.handles.len(),
            gib(bytes),
            f.seconds
        );
        let e = f.stopped_by.as_ref().unwrap_or_else(|| {
            panic!(
                "hog {g} got {bytes} bytes without running out: the device did not run out \
                 within {memory} bytes per instance ({obtained} bytes together, bound \
                 {total_cap})"
            )
        });
        assert!(
            e.is_out_of_memory(),
            "hog {g}: the allocation past the device's capacity failed with something other \
             than out-of-memory: {e}"
        );
        assert_eq!(h.buffers(), f.handles.len(), "hog {g}: buffers held");
        assert_eq!(
            h.used_bytes(),
            bytes,
            "hog {g}: the failed allocation was charged"
        );
    }
    assert_eq!(
        device.live_buffers(),
        held,
        "device buffers after out-of-memory"
    );
    if let Some(m) = info.memory_bytes {
        assert!(
            obtained <= m,
            "obtained {obtained} bytes of a {m}-byte device"
        );
    }
    let free_full = if cuda {
        let (free, _) = cuda_mem_info().expect("cuMemGetInfo when full");
        Some(free)
    } else {
        None
    };
    eprintln!(
        "device-exhaustion/{backend}: together {obtained} bytes ({:.2} GiB{}) in {held} \
         buffers{}",
        gib(obtained),
        info.memory_bytes.map_or(String::new(), |m| format!(
            ", {:.1} % of device memory",
            obtained as f64 / m as f64 * 100.0
        )),
        free_full.map_or(String::new(), |f| format!(
            "; free when full {f} bytes ({:.3} GiB)",
            gib(f)
        ))
    );

    // While full: right or out-of-memory, nothing else.
    let small_full = sum_when_full(&mut small, "small (full)", 2, SMALL_N);
    let hog_full = sum_when_full(&mut hogs[0], "hog 0 (full)", 3, SMALL_N);
    eprintln!(
        "device-exhaustion/{backend}: on the full device: small instance's sum {small_full}; \
         hog 0's sum {hog_full}"
    );

    // Each hog gives one buffer back; then every instance computes right answers.
    for (g, (f, h)) in fills.iter().zip(hogs.iter_mut()).enumerate() {
        if let Some(&last) = f.handles.last() {
            call(h, "destroy", (last,))
                .unwrap_or_else(|e| panic!("hog {g}: destroying a buffer: {e}"));
        }
    }
    for (g, h) in hogs.iter_mut().enumerate() {
        checked_sum(
            h,
            &format!("hog {g} (after out-of-memory)"),
            20 + g as u32,
            SMALL_N,
        );
    }
    checked_sum(&mut small, "small (after out-of-memory)", 4, SMALL_N);
    checked_sum(&mut small, "small (after out-of-memory)", 5, 1 << 20);
    eprintln!(
        "device-exhaustion/{backend}: after each hog destroyed one buffer, every hog and the \
         small instance computed right sums"
    );

    drop(hogs);
    drop(small);
    assert_eq!(
        device.live_buffers(),
        0,
        "buffers left after every instance was dropped"
    );

    // The memory really went back: one instance gets (nearly) as much again.
    let want = held as u64 * 95 / 100;
    let mut again = host.instantiate(&c).expect("instantiate");
    let mut got = 0u64;
    let mut refused = None;
    while got < want {
        match call(&mut again, "create", (chunk,)) {
            Ok(_) => got += 1,
            Err(e) => {
                refused = Some(e);
                break;
            }
        }
    }
    drop(again);
    assert_eq!(device.live_buffers(), 0, "buffers left after the refill");
    eprintln!(
        "device-exhaustion/{backend}: after dropping every instance, one instance got {got} of \
         the {held} buffers back (wanted {want})"
    );
    assert!(
        got >= want,
        "after dropping every instance, a fresh one got only {got} of {held} buffers of {chunk} \
         bytes (wanted {want}): {}",
        refused.map_or("no error".into(), |e| e.to_string())
    );

    if let Some(before) = free_before {
        let (after, _) = cuda_mem_info().expect("cuMemGetInfo after");
        let change = (after as f64 - before as f64) / before as f64 * 100.0;
        eprintln!(
            "device-exhaustion/cuda: free before {before} bytes ({:.2} GiB), when full {} bytes, \
             after {after} bytes ({:.2} GiB, {change:+.2} %)",
            gib(before),
            free_full.unwrap_or(0),
            gib(after)
        );
        assert!(
            change.abs() <= 5.0,
            "free device memory after dropping every instance is {after} bytes, {change:+.2} % \
             from {before} before"
        );
    }
    eprintln!(
        "device-exhaustion/{backend}: ok in {:.1} s",
        t0.elapsed().as_secs_f64()
    );
}

/// cpu is not a device with a fixed memory: its buffers are host memory, so exhausting it
/// would exhaust this host. Skipped by name; asserts the reason still holds (the cpu
/// backend reports no device memory size).
#[test]
fn exhaustion_on_cpu() {
    let d = Device::open("cpu").expect("the cpu backend opens");
    assert_eq!(
        d.info().memory_bytes,
        None,
        "the cpu backend now reports a device memory size: exhaust it like a GPU"
    );
    eprintln!(
        "SKIP device-exhaustion/cpu: the cpu backend is not a device with a fixed memory \
         (its buffers are this host's memory)"
    );
}

/// Exhaustion on wgpu (see the module docs for what it asserts); skipped by name without
/// an adapter or on a software one.
#[test]
fn exhaustion_on_wgpu() {
    exhaust("wgpu");
}

/// Exhaustion on cuda (see the module docs for what it asserts); skipped by name without
/// the NVIDIA driver or the CUDA libraries.
#[test]
fn exhaustion_on_cuda() {
    exhaust("cuda");
}
