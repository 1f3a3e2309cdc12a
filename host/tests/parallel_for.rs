//! Parallel for (host/src/parallel): the CPU device at 1, 2 and 4 workers with the WAT
//! guest in the proposal's style (tests/fixtures/parallel.wat) and the Rust guest
//! (build/guests/parallel/parallel-rust.wasm, scripts/build-parallel-guest.sh), and
//! every bad input: each returns an errno to the guest, never traps the host.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use offload_host::check::{agrees, reference, Inputs};
use offload_host::parallel::{
    section, DeviceKind, Errno, Options, ParallelError, ParallelGuest, VectorOps,
};
use offload_host::Op;

const WAT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/parallel.wat");

/// Data of the WAT guest starts at page 1 (page 0: scratch and the main stack).
const DATA: u32 = 65536;

fn wat_guest(options: Options) -> ParallelGuest {
    let bytes = wat::parse_file(WAT).expect("parallel.wat parses");
    ParallelGuest::from_binary(&bytes, "parallel.wat", options).expect("parallel.wat loads")
}

/// One import call through the WAT guest's re-export; its errno.
fn errno(code: i32) -> Errno {
    Errno::from_code(code as u32).expect("a known errno")
}

fn device(g: &mut ParallelGuest) -> u32 {
    assert_eq!(g.call::<(i32, i32), i32>("get_device", (0, 0)).unwrap(), 0);
    u32::from_le_bytes(g.read_bytes(0, 4).unwrap().try_into().unwrap())
}

fn buffer(g: &mut ParallelGuest, size: u32, access: i32) -> u32 {
    let dev = device(g) as i32;
    let e = g
        .call::<(i32, i32, i32, i32), i32>("create_buffer", (dev, size as i32, access, 0))
        .unwrap();
    assert_eq!(errno(e), Errno::Success);
    u32::from_le_bytes(g.read_bytes(0, 4).unwrap().try_into().unwrap())
}

fn bind(g: &mut ParallelGuest, data: u32, len: u32, buffer: u32) -> Errno {
    errno(
        g.call::<(i32, i32, i32), i32>("write_buffer", (data as i32, len as i32, buffer as i32))
            .unwrap(),
    )
}

/// `parallel_for(kernel, nt, bs, ins, outs)` with the handle lists written at 16 and 32.
fn pfor(g: &mut ParallelGuest, kernel: i32, nt: i32, bs: i32, ins: &[u32], outs: &[u32]) -> Errno {
    let le = |v: &[u32]| v.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>();
    g.write_bytes(16, &le(ins)).unwrap();
    g.write_bytes(32, &le(outs)).unwrap();
    errno(
        g.call::<(i32, i32, i32, i32, i32, i32, i32), i32>(
            "parallel_for",
            (kernel, nt, bs, 16, ins.len() as i32, 32, outs.len() as i32),
        )
        .unwrap(),
    )
}

/// An input buffer of `n` f64 at DATA and an output of `n` f64 after it, both bound.
fn in_out(g: &mut ParallelGuest, n: u32) -> (u32, u32) {
    let x: Vec<f64> = (0..n).map(f64::from).collect();
    g.write_f64s(DATA, &x).unwrap();
    let a = buffer(g, n * 8, 0);
    let b = buffer(g, n * 8, 1);
    assert_eq!(bind(g, DATA, n * 8, a), Errno::Success);
    assert_eq!(bind(g, DATA + n * 8, n * 8, b), Errno::Success);
    (a, b)
}

fn check_add_one(g: &ParallelGuest, n: u32) {
    let out = g.read_f64s(DATA + n * 8, n as usize).unwrap();
    for (i, v) in out.iter().enumerate() {
        assert_eq!(*v, i as f64 + 1.0, "out[{i}]");
    }
}

#[test]
fn wat_guest_runs_the_proposal_style_call_at_1_2_and_4_workers() {
    for workers in [1, 2, 4] {
        let mut g = wat_guest(Options::with_workers(workers));
        assert_eq!(g.workers(), workers);
        let n = 1000u32;
        let x: Vec<f64> = (0..n).map(f64::from).collect();
        g.write_f64s(DATA, &x).unwrap();
        for threads in [1, 7, 64] {
            let e = g
                .call::<(u32, u32, u32, u32), i32>("add_one", (DATA, DATA + n * 8, n, threads))
                .unwrap();
            assert_eq!(
                errno(e),
                Errno::Success,
                "{workers} workers, {threads} threads: {:?}",
                g.last_error()
            );
            check_add_one(&g, n);
        }
    }
}

fn rust_guest_path() -> PathBuf {
    let dir = match std::env::var_os("OFFLOAD_GUESTS_DIR") {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../build/guests"),
    };
    let path = dir.join("parallel/parallel-rust.wasm");
    assert!(
        path.is_file(),
        "the parallel guest is not built: {} is missing; run scripts/build-parallel-guest.sh",
        path.display()
    );
    path
}

fn release(g: &mut ParallelGuest, buffer: u32) -> Errno {
    errno(g.call::<i32, i32>("release_buffer", buffer as i32).unwrap())
}

#[test]
fn released_buffers_are_bad_handles_and_their_pages_are_reused() {
    let mut g = wat_guest(Options::with_workers(2));
    let (a, b) = in_out(&mut g, 64);
    assert_eq!(pfor(&mut g, 0, 4, 16, &[a], &[b]), Errno::Success);
    check_add_one(&g, 64);
    assert_eq!(release(&mut g, b), Errno::Success);
    // Use after release, a second release, a handle never made: bad-handle, no trap.
    assert_eq!(pfor(&mut g, 0, 4, 16, &[a], &[b]), Errno::BadHandle);
    assert_eq!(release(&mut g, b), Errno::BadHandle);
    assert_eq!(release(&mut g, 999), Errno::BadHandle);
    assert_eq!(release(&mut g, 0), Errno::BadHandle);
    assert_eq!(bind(&mut g, DATA, 8, b), Errno::BadHandle);
    // A buffer bound to the guest's data leaves the data alone when released.
    check_add_one(&g, 64);
    // Host-placed buffers (never written in full): their pages are reused, so a loop of
    // create, run, release does not grow linear memory past the first placement.
    let mut grown = None;
    for round in 0..20 {
        let out = buffer(&mut g, 64 * 8, 1);
        assert_eq!(pfor(&mut g, 0, 4, 16, &[a], &[out]), Errno::Success);
        let e = g
            .call::<(i32, i32, i32), i32>("read_buffer", (out as i32, (DATA + 2048) as i32, 512))
            .unwrap();
        assert_eq!(errno(e), Errno::Success);
        let got = g.read_f64s(DATA + 2048, 64).unwrap();
        assert!(
            got.iter().enumerate().all(|(i, v)| *v == i as f64 + 1.0),
            "round {round}: {got:?}"
        );
        assert_eq!(release(&mut g, out), Errno::Success);
        match grown {
            None => grown = Some(g.memory_len()),
            Some(len) => assert_eq!(g.memory_len(), len, "round {round}: memory grew"),
        }
    }
    // The live-buffer cap counts live buffers only: many more than it, one at a time.
    let mut g = wat_guest(Options {
        max_buffers: 2,
        ..Options::with_workers(1)
    });
    for _ in 0..10 {
        let h = buffer(&mut g, 8, 0);
        assert_eq!(release(&mut g, h), Errno::Success);
    }
}

#[test]
fn rust_guest_ops_agree_with_core_at_1_2_and_4_workers() {
    let path = rust_guest_path();
    for workers in [1, 2, 4] {
        let g = ParallelGuest::load(&path, Options::with_workers(workers)).unwrap();
        let mut ops = VectorOps::new(g);
        for n in [0usize, 1, 17, 1000, 4099] {
            let x = Inputs::generate(n, 7 + n as u64);
            for op in [Op::SumSimd, Op::DotSimd, Op::Mul, Op::Scale] {
                for parts in [1, 3, 16] {
                    let got = ops.run(op, &x, parts, DeviceKind::Cpu).unwrap();
                    let want = reference(op, &x);
                    assert!(
                        agrees(op, &got.answer, &want, x.magnitude(op)),
                        "{op} n={n} workers={workers} parts={parts}: {:?} vs {:?}",
                        got.answer,
                        want
                    );
                }
            }
        }
    }
}

/// A small forest (Friedman #1, d = 10) and rows to predict.
fn small_forest() -> (offload_core::forest::Forest, Vec<f32>) {
    use offload_core::data::friedman1;
    use offload_core::forest::{Forest, ForestParams};
    let p = ForestParams {
        n_trees: 9,
        ..ForestParams::default()
    };
    let f = Forest::fit(&friedman1(200, 10, 1.0, 1), &p).unwrap();
    (f, friedman1(1037, 10, 1.0, 2).x)
}

fn predict_on(ops: &mut VectorOps, device: DeviceKind, what: &str) -> Option<()> {
    let (forest, x) = small_forest();
    let packed = forest.compile().unwrap();
    let want = forest.predict(&x).unwrap();
    // Mesa's lavapipe (llvmpipe's gallivm) ends a loop after 65,535 iterations per
    // invocation, counted across entries of an inner loop, so on the GPU device no
    // invocation gets all 1037 rows (about 9 trees × 8 steps each): 7 blocks at most.
    let parts: &[u32] = if device == DeviceKind::Cpu {
        &[1, 7, 64, 1037]
    } else {
        &[7, 64, 1037]
    };
    for &parts in parts {
        let got = match ops.predict(&packed, &x, parts, device) {
            Err(ParallelError::Guest {
                errno: Errno::NoDevice,
                message,
                ..
            }) => {
                eprintln!("SKIP parallel-for/gpu predict: {message:?}");
                return None;
            }
            r => r.unwrap().0,
        };
        assert_eq!(got.len(), want.len());
        for (i, (g, w)) in got.iter().zip(&want).enumerate() {
            assert_eq!(
                g.to_bits(),
                w.to_bits(),
                "{what} parts={parts} row {i}: {g} vs {w}"
            );
        }
    }
    Some(())
}

#[test]
fn rust_guest_predict_equals_forest_predict_bit_for_bit() {
    let path = rust_guest_path();
    for workers in [1, 2, 4] {
        let g = ParallelGuest::load(&path, Options::with_workers(workers)).unwrap();
        predict_on(
            &mut VectorOps::new(g),
            DeviceKind::Cpu,
            &format!("cpu x{workers}"),
        );
    }
    let g = ParallelGuest::load(&path, Options::with_workers(1)).unwrap();
    predict_on(&mut VectorOps::new(g), DeviceKind::DiscreteGpu, "gpu");
}

#[test]
fn rust_guest_refuses_forged_forest_words_and_releases_every_buffer() {
    use offload_host::parallel::BAD_FOREST;
    let path = rust_guest_path();
    // Two live buffers at most: an op that kept its buffers would fail the next one.
    let g = ParallelGuest::load(
        &path,
        Options {
            max_buffers: 4,
            ..Options::with_workers(2)
        },
    )
    .unwrap();
    let mut ops = VectorOps::new(g);
    let x = Inputs::generate(100, 3);
    for _ in 0..20 {
        for op in [Op::SumSimd, Op::DotSimd, Op::Mul, Op::Scale] {
            ops.run(op, &x, 4, DeviceKind::Cpu).unwrap();
        }
    }
    let (forest, rows) = small_forest();
    let packed = forest.compile().unwrap();
    for _ in 0..10 {
        ops.predict(&packed, &rows, 8, DeviceKind::Cpu).unwrap();
    }
    // Words that do not check (a split feature past the row): the guest refuses them
    // before any parallel_for, and the instance carries on.
    let mut nodes = packed.node_words();
    let trees = packed.tree_words();
    let split = (0..nodes.len() / 4)
        .find(|&k| !f32::from_bits(nodes[4 * k]).is_nan())
        .unwrap();
    nodes[4 * split + 1] = 10;
    let g = ops.guest();
    let mut put = |bytes: &[u8]| -> u32 {
        let p: u32 = g.call("alloc", bytes.len() as u32).unwrap();
        g.write_bytes(p, bytes).unwrap();
        p
    };
    let np = put(bytemuck::cast_slice(&nodes));
    let tp = put(bytemuck::cast_slice(&trees));
    let xp = put(bytemuck::cast_slice(&rows[..300]));
    let op = put(&[0u8; 240]);
    let code: u32 = g
        .call(
            "predict",
            (
                0u32,
                4u32,
                np,
                nodes.len() as u32,
                tp,
                trees.len() as u32,
                xp,
                30u32,
                10u32,
                op,
            ),
        )
        .unwrap();
    assert_eq!(code, BAD_FOREST);
    ops.predict(&packed, &rows, 8, DeviceKind::Cpu).unwrap();
    // Rows that are not whole rows of the forest's width.
    let err = ops
        .predict(&packed, &rows[..rows.len() - 1], 8, DeviceKind::Cpu)
        .unwrap_err();
    assert!(matches!(err, ParallelError::Unsupported(_)), "{err:?}");
}

#[test]
fn rust_guest_ops_agree_with_core_on_the_gpu_device() {
    let g = ParallelGuest::load(rust_guest_path(), Options::with_workers(1)).unwrap();
    let mut ops = VectorOps::new(g);
    for n in [1usize, 1000, 4099] {
        let x = Inputs::generate(n, 11 + n as u64);
        for op in [Op::SumSimd, Op::DotSimd, Op::Mul, Op::Scale] {
            for parts in [1, 16, 200] {
                let got = match ops.run(op, &x, parts, DeviceKind::DiscreteGpu) {
                    Err(ParallelError::Guest {
                        errno: Errno::NoDevice,
                        message,
                        ..
                    }) => {
                        eprintln!("SKIP parallel-for/gpu: {message:?}");
                        return;
                    }
                    r => r.unwrap(),
                };
                let want = reference(op, &x);
                assert!(
                    agrees(op, &got.answer, &want, x.magnitude(op)),
                    "gpu {op} n={n} parts={parts}: {:?} vs {:?}",
                    got.answer,
                    want
                );
            }
        }
    }
}

#[test]
fn rust_guest_refuses_strict_ops() {
    let g = ParallelGuest::load(rust_guest_path(), Options::with_workers(1)).unwrap();
    let mut ops = VectorOps::new(g);
    let x = Inputs::generate(10, 1);
    assert!(matches!(
        ops.run(Op::Sum, &x, 2, DeviceKind::Cpu),
        Err(ParallelError::Unsupported(_))
    ));
}

#[test]
fn kernel_outside_the_table_null_or_of_the_wrong_type_is_an_error_code() {
    let mut g = wat_guest(Options::with_workers(2));
    let (a, b) = in_out(&mut g, 16);
    assert_eq!(pfor(&mut g, 7, 4, 4, &[a], &[b]), Errno::NoSuchKernel);
    assert_eq!(pfor(&mut g, -1, 4, 4, &[a], &[b]), Errno::NoSuchKernel);
    assert_eq!(pfor(&mut g, 5, 4, 4, &[], &[]), Errno::NoSuchKernel);
    assert_eq!(pfor(&mut g, 4, 4, 4, &[], &[]), Errno::KernelSignature);
    // add_one with one buffer too few: also the wrong arity.
    assert_eq!(pfor(&mut g, 0, 4, 4, &[a], &[]), Errno::KernelSignature);
    assert!(g.last_error().unwrap().message.contains("kernel 0"));
    assert_eq!(pfor(&mut g, 0, 4, 4, &[a], &[b]), Errno::Success);
    check_add_one(&g, 16);
}

#[test]
fn num_threads_zero_or_over_the_cap_is_an_error_code() {
    let mut g = wat_guest(Options {
        max_threads: 64,
        ..Options::with_workers(2)
    });
    let (a, b) = in_out(&mut g, 64);
    assert_eq!(pfor(&mut g, 0, 0, 1, &[a], &[b]), Errno::Threads);
    assert_eq!(pfor(&mut g, 0, 65, 1, &[a], &[b]), Errno::Threads);
    assert_eq!(pfor(&mut g, 0, -1, 1, &[a], &[b]), Errno::Threads);
    assert_eq!(pfor(&mut g, 0, 64, 0, &[a], &[b]), Errno::Invalid);
    assert_eq!(pfor(&mut g, 0, 64, 1, &[a], &[b]), Errno::Success);
    check_add_one(&g, 64);
}

#[test]
fn buffers_outside_linear_memory_are_an_error_code() {
    let mut g = wat_guest(Options::with_workers(2));
    let len = g.memory_len() as u32;
    let a = buffer(&mut g, 64, 0);
    assert_eq!(bind(&mut g, len - 8, 64, a), Errno::Fault);
    assert_eq!(bind(&mut g, u32::MAX - 4, 64, a), Errno::Fault);
    // Handle lists and out-pointers outside memory.
    let e = g
        .call::<(i32, i32, i32, i32, i32, i32, i32), i32>(
            "parallel_for",
            (0, 1, 1, len as i32, 1, 0, 0),
        )
        .unwrap();
    assert_eq!(errno(e), Errno::Fault);
    let e = g
        .call::<(i32, i32), i32>("get_device", (0, len as i32 - 2))
        .unwrap();
    assert_eq!(errno(e), Errno::Fault);
    // Unknown handles.
    assert_eq!(pfor(&mut g, 0, 1, 1, &[99], &[]), Errno::BadHandle);
    let e = g
        .call::<(i32, i32, i32, i32), i32>("create_buffer", (9, 8, 0, 0))
        .unwrap();
    assert_eq!(errno(e), Errno::BadHandle);
    let e = g
        .call::<(i32, i32, i32, i32), i32>("create_buffer", (1, 8, 7, 0))
        .unwrap();
    assert_eq!(errno(e), Errno::Invalid);
    // The workers' stacks are off limits too.
    let (offset, _) = g.reserved()[0];
    assert_eq!(bind(&mut g, offset, 64, a), Errno::Fault);
}

#[test]
fn an_output_overlapping_an_input_or_another_output_is_an_error_code() {
    let mut g = wat_guest(Options::with_workers(2));
    let n = 32u32;
    let (a, b) = in_out(&mut g, n);
    // An output bound half-way into the input.
    let c = buffer(&mut g, n * 8, 1);
    assert_eq!(bind(&mut g, DATA + n * 4, n * 8, c), Errno::Success);
    assert_eq!(pfor(&mut g, 0, 4, 8, &[a], &[c]), Errno::Overlap);
    // The same buffer as input and output.
    assert_eq!(pfor(&mut g, 0, 4, 8, &[b], &[b]), Errno::Overlap);
    // A read-only buffer as an output.
    assert_eq!(pfor(&mut g, 0, 4, 8, &[b], &[a]), Errno::Access);
    // Inputs may overlap each other; this is fine.
    assert_eq!(pfor(&mut g, 0, 4, 8, &[a], &[b]), Errno::Success);
    check_add_one(&g, n);
}

#[test]
fn a_trap_in_one_worker_stops_all_and_the_next_call_works() {
    for workers in [1, 2, 4] {
        let mut g = wat_guest(Options::with_workers(workers));
        let started = Instant::now();
        assert_eq!(pfor(&mut g, 1, 64, 1, &[], &[]), Errno::Trap);
        let fault = g.last_error().unwrap().clone();
        assert!(fault.message.contains("thread_id 3"), "{fault}");
        assert!(started.elapsed() < Duration::from_secs(20));
        // The faulted worker was re-instantiated: the next call runs on every worker.
        let (a, b) = in_out(&mut g, 256);
        assert_eq!(pfor(&mut g, 0, 64, 4, &[a], &[b]), Errno::Success);
        check_add_one(&g, 256);
    }
}

#[test]
fn a_kernel_that_never_ends_is_stopped_by_the_deadline() {
    let mut g = wat_guest(Options {
        deadline: Duration::from_millis(300),
        ..Options::with_workers(2)
    });
    let started = Instant::now();
    assert_eq!(pfor(&mut g, 2, 8, 1, &[], &[]), Errno::Deadline);
    assert!(started.elapsed() < Duration::from_secs(10));
    let (a, b) = in_out(&mut g, 100);
    assert_eq!(pfor(&mut g, 0, 10, 10, &[a], &[b]), Errno::Success);
    check_add_one(&g, 100);
}

#[test]
fn every_worker_has_its_own_shadow_stack() {
    let workers = 4;
    let mut g = wat_guest(Options::with_workers(workers));
    let (base, len) = g.reserved()[0];
    let nt = 32u32;
    let out = buffer(&mut g, nt * 4, 1);
    assert_eq!(bind(&mut g, DATA, nt * 4, out), Errno::Success);
    assert_eq!(pfor(&mut g, 3, nt as i32, 1, &[], &[out]), Errno::Success);
    let bytes = g.read_bytes(DATA, nt * 4).unwrap();
    let stack = len / workers as u32;
    for (tid, c) in bytes.chunks_exact(4).enumerate() {
        let frame = i32::from_le_bytes(c.try_into().unwrap());
        assert_ne!(frame, -1, "thread {tid}: its stack slot was overwritten");
        let frame = frame as u32;
        assert!(
            frame >= base && frame < base + len,
            "thread {tid}: frame {frame} outside the worker stacks"
        );
        assert_eq!(
            (frame + 16 - base) % stack,
            0,
            "thread {tid}: frame {frame} not at a stack top"
        );
    }
}

#[test]
fn a_kernel_cannot_nest_parallel_for() {
    let mut g = wat_guest(Options::with_workers(2));
    let out = buffer(&mut g, 16, 1);
    assert_eq!(bind(&mut g, DATA, 16, out), Errno::Success);
    assert_eq!(pfor(&mut g, 6, 4, 1, &[], &[out]), Errno::Success);
    let bytes = g.read_bytes(DATA, 16).unwrap();
    for c in bytes.chunks_exact(4) {
        assert_eq!(
            u32::from_le_bytes(c.try_into().unwrap()),
            Errno::Nested.code()
        );
    }
}

#[test]
fn bad_device_hints_are_an_error_code() {
    let mut g = wat_guest(Options::with_workers(1));
    let e = g.call::<(i32, i32), i32>("get_device", (3, 0)).unwrap();
    assert_eq!(errno(e), Errno::Invalid);
}

const ADD_ONE_WGSL: &str = include_str!("fixtures/parallel_add_one.wgsl");

/// The WAT guest with `wgsl` attached to each kernel given, or `None` (with a SKIP line)
/// when this machine has no wgpu adapter.
fn gpu_guest(kernels: &[(u32, &str)]) -> Option<(ParallelGuest, u32)> {
    let mut bytes = wat::parse_file(WAT).unwrap();
    for &(k, wgsl) in kernels {
        bytes = section::attach(&bytes, k, wgsl).unwrap();
    }
    let mut g =
        ParallelGuest::from_binary(&bytes, "parallel.wat+wgsl", Options::with_workers(1)).unwrap();
    let e = errno(g.call::<(i32, i32), i32>("get_device", (1, 0)).unwrap());
    if e == Errno::NoDevice {
        eprintln!("SKIP parallel-for/gpu: {}", g.last_error().unwrap());
        return None;
    }
    assert_eq!(e, Errno::Success);
    let dev = u32::from_le_bytes(g.read_bytes(0, 4).unwrap().try_into().unwrap());
    Some((g, dev))
}

fn gpu_buffer(g: &mut ParallelGuest, dev: u32, size: u32, access: i32) -> u32 {
    let e = g
        .call::<(i32, i32, i32, i32), i32>("create_buffer", (dev as i32, size as i32, access, 0))
        .unwrap();
    assert_eq!(errno(e), Errno::Success, "{:?}", g.last_error());
    u32::from_le_bytes(g.read_bytes(0, 4).unwrap().try_into().unwrap())
}

#[test]
fn gpu_device_runs_the_attached_wgsl_kernel() {
    let Some((mut g, dev)) = gpu_guest(&[(0, ADD_ONE_WGSL)]) else {
        return;
    };
    let n = 1000u32;
    let x: Vec<f64> = (0..n).map(f64::from).collect();
    g.write_f64s(DATA, &x).unwrap();
    let a = gpu_buffer(&mut g, dev, n * 8, 0);
    let b = gpu_buffer(&mut g, dev, n * 8, 1);
    assert_eq!(bind(&mut g, DATA, n * 8, a), Errno::Success);
    for (nt, bs) in [(1000, 1), (100, 10), (7, 143)] {
        g.write_f64s(DATA + n * 8, &vec![0.0; n as usize]).unwrap();
        assert_eq!(
            pfor(&mut g, 0, nt, bs, &[a], &[b]),
            Errno::Success,
            "{:?}",
            g.last_error()
        );
        let e = g
            .call::<(i32, i32, i32), i32>(
                "read_buffer",
                (b as i32, (DATA + n * 8) as i32, (n * 8) as i32),
            )
            .unwrap();
        assert_eq!(errno(e), Errno::Success);
        check_add_one(&g, n);
    }
}

#[test]
fn gpu_kernel_without_a_section_or_with_invalid_wgsl_is_an_error_naming_it() {
    let Some((mut g, dev)) = gpu_guest(&[(0, ADD_ONE_WGSL), (1, "fn main( {")]) else {
        return;
    };
    let a = gpu_buffer(&mut g, dev, 64, 0);
    let b = gpu_buffer(&mut g, dev, 64, 1);
    assert_eq!(pfor(&mut g, 3, 8, 1, &[a], &[b]), Errno::NoSuchKernel);
    assert!(
        g.last_error().unwrap().message.contains("kernel 3"),
        "{:?}",
        g.last_error()
    );
    assert_eq!(pfor(&mut g, 1, 8, 1, &[a], &[b]), Errno::Gpu);
    assert!(
        g.last_error().unwrap().message.contains("kernel 1"),
        "{:?}",
        g.last_error()
    );
    // Mixed devices and an output that is also an input.
    let c = buffer(&mut g, 64, 1);
    assert_eq!(pfor(&mut g, 0, 8, 1, &[a], &[c]), Errno::BadHandle);
    assert_eq!(pfor(&mut g, 0, 8, 1, &[b], &[b]), Errno::Overlap);
    // The good kernel still runs.
    assert_eq!(
        pfor(&mut g, 0, 8, 1, &[a], &[b]),
        Errno::Success,
        "{:?}",
        g.last_error()
    );
}

#[test]
fn modules_without_shared_memory_or_with_a_hidden_stack_are_refused() {
    let unshared = wat::parse_str(r#"(module (import "env" "memory" (memory 1 1)))"#).unwrap();
    assert!(matches!(
        ParallelGuest::from_binary(&unshared, "unshared", Options::with_workers(1)),
        Err(ParallelError::NoSharedMemory { .. })
    ));
    let own = wat::parse_str(r#"(module (memory 1 1 shared))"#).unwrap();
    assert!(matches!(
        ParallelGuest::from_binary(&own, "own", Options::with_workers(1)),
        Err(ParallelError::NoSharedMemory { .. })
    ));
    let hidden = wat::parse_str(
        r#"(module (import "env" "memory" (memory 1 1 shared))
                   (global $__stack_pointer (mut i32) (i32.const 65536)))"#,
    )
    .unwrap();
    assert!(matches!(
        ParallelGuest::from_binary(&hidden, "hidden", Options::with_workers(1)),
        Err(ParallelError::StackNotExported { .. })
    ));
}
