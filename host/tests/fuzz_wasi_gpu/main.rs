//! Fuzzing the wasi:gpu host on stable Rust (issue 19, item 2): random sequences of
//! wasi:gpu calls with random and absurd arguments (sizes, offsets, lengths, guest
//! pointers, enum values, live, destroyed, forged and other instances' handles), drawn
//! with `arbitrary` from seeded random bytes, made by up to three live instances of a
//! hand-written guest ([`guest`]) on one host, through the real component path.
//!
//! The oracle, after every call:
//! - no panic in the host, and no host error other than a guest trap;
//! - a handle the instance does not hold (never created, destroyed, dropped, forged,
//!   another instance's) traps the guest, a live one never does; a pointer range outside
//!   the guest's memory traps;
//! - every other refusal is a defined `gpu-error` case with a message, and exactly the
//!   case the wasi:gpu policy and the backend validation prescribe ([`model::Model`]);
//! - every read returns exactly the bytes the model holds for that instance (zero where
//!   never written, the instance's own fill byte where written; never another live
//!   instance's, whose fill byte differs);
//! - no device buffer id is ever handed out twice (within or across instances), an
//!   instance holds exactly the buffers the model says, and the device holds exactly the
//!   buffers of the live instances (dropping a trapped or retired instance frees all).
//!
//! `OFFLOAD_FUZZ_ITERS` calls per backend (default 20,000 on cpu; a tenth, at least 200,
//! on wgpu, which is skipped by name when no adapter starts), `OFFLOAD_FUZZ_SEED` the seed
//! (default fixed; a failure prints the seed and call number to replay). `./build.sh
//! fuzz` runs it with a high count in release mode.

#[path = "../common/mod.rs"]
mod common;
mod guest;
mod model;

use std::collections::{BTreeSet, HashSet};
use std::time::Instant;

use arbitrary::{Result as AResult, Unstructured};
use offload_core::gpu::policy::{ErrorCase, Quota};
use offload_host::wasi_gpu::{Device, GpuHost, GpuInstance, Limits};
use rand::{Rng, SeedableRng};
use rand_pcg::Pcg64;
use wasmtime::component::Component;

use guest::{call, Outcome, MEMORY_BYTES, SCRATCH};
use model::{fnv1a, Model, Want};

/// Live instances at most.
const MAX_LIVE: usize = 3;

/// Largest `write` from the scratch area (it ends where the guest's heap begins).
const MAX_SCRATCH_LEN: u32 = (2 << 20) - SCRATCH;

/// One live guest instance and the model of it.
struct Live {
    gpu: GpuInstance,
    model: Model,
    /// The byte this instance writes (distinct among live instances).
    tag: u8,
    /// Device buffer ids it holds.
    ids: BTreeSet<u64>,
}

#[derive(Default, Debug)]
struct Stats {
    execs: u64,
    ok: u64,
    errors: [u64; 8],
    traps: u64,
    checked_reads: u64,
    instances: u64,
}

struct Fuzz<'h> {
    host: &'h GpuHost,
    component: &'h Component,
    quota: Quota,
    max_buffer_bytes: u64,
    f64_ok: bool,
    tf32_ok: bool,
    live: Vec<Live>,
    next_tag: u32,
    seen_ids: HashSet<u64>,
    stats: Stats,
    seed: u64,
}

impl Fuzz<'_> {
    fn fail(&self, what: String) -> ! {
        panic!(
            "wasi:gpu fuzz (OFFLOAD_FUZZ_SEED={}, call {}): {what}",
            self.seed, self.stats.execs
        )
    }

    fn spawn(&mut self) {
        let gpu = self
            .host
            .instantiate(self.component)
            .unwrap_or_else(|e| self.fail(format!("instantiate: {e}")));
        // Tags 1..=255, consecutive, so that the (at most 3) live instances differ.
        let tag = (self.next_tag % 255 + 1) as u8;
        self.next_tag += 1;
        self.stats.instances += 1;
        self.live.push(Live {
            gpu,
            model: Model::default(),
            tag,
            ids: BTreeSet::new(),
        });
    }

    /// Drops instance `i` (retired or trapped): its buffers leave the device.
    fn retire(&mut self, i: usize) {
        let gone = self.live.swap_remove(i);
        drop(gone.gpu);
        self.check_device();
    }

    fn check_device(&self) {
        let want: usize = self.live.iter().map(|l| l.model.bufs.len()).sum();
        let got = self.host.device().live_buffers();
        if got != want {
            self.fail(format!(
                "the device holds {got} buffers, the live instances {want}"
            ));
        }
    }

    /// After a call on instance `i`: its device ids match the model and none is reused.
    fn check_ids(&mut self, i: usize) {
        let now: BTreeSet<u64> = self.live[i].gpu.buffer_ids().into_iter().collect();
        for id in now.difference(&self.live[i].ids) {
            if !self.seen_ids.insert(*id) {
                self.fail(format!("device buffer id {id} was handed out twice"));
            }
        }
        if now.len() != self.live[i].model.bufs.len() {
            self.fail(format!(
                "the instance holds {} device buffers, the model {}",
                now.len(),
                self.live[i].model.bufs.len()
            ));
        }
        self.live[i].ids = now;
        self.check_device();
    }

    /// Checks an outcome against what the model wants (`None`: a trap); returns whether
    /// the call succeeded. A trap retires the instance.
    fn expect(&mut self, i: usize, op: &str, want: Option<Want>, got: Outcome) -> bool {
        self.stats.execs += 1;
        match (want, got) {
            (None, Outcome::Trap) => {
                self.stats.traps += 1;
                self.retire(i);
                return false;
            }
            (Some(Ok(())), Outcome::Ok(_)) => self.stats.ok += 1,
            (Some(Err(case)), Outcome::Err(c, len)) if c == case as u8 => {
                if len == 0 {
                    self.fail(format!("{op}: {} error without a message", case.name()));
                }
                self.stats.errors[c as usize] += 1;
            }
            (want, got) => self.fail(format!("{op}: the model wants {want:?}, got {got:?}")),
        }
        self.check_ids(i);
        matches!(got, Outcome::Ok(_))
    }

    /// A handle for instance `i`: mostly one of its own, else a stale, small, random or
    /// another instance's one.
    fn handle(&self, u: &mut Unstructured, i: usize) -> AResult<u32> {
        let own: Vec<u32> = self.live[i].model.bufs.keys().copied().collect();
        Ok(match u.int_in_range(0..=19)? {
            0..=15 if !own.is_empty() => *u.choose(&own)?,
            16 => {
                let others: Vec<u32> = self
                    .live
                    .iter()
                    .enumerate()
                    .filter(|(j, _)| *j != i)
                    .flat_map(|(_, l)| l.model.bufs.keys().copied())
                    .collect();
                if others.is_empty() {
                    u.int_in_range(0..=16)?
                } else {
                    *u.choose(&others)?
                }
            }
            17 => u.arbitrary()?,
            _ => u.int_in_range(0..=16)?,
        })
    }

    /// An enum discriminant below `cases`, or (one time in 16) the first invalid one.
    fn case(&self, u: &mut Unstructured, cases: u32) -> AResult<u32> {
        if u.ratio(1, 16)? {
            Ok(cases)
        } else {
            u.int_in_range(0..=cases - 1)
        }
    }

    /// A byte count: mostly small, sometimes zero, at a limit, or absurd.
    fn bytes(&self, u: &mut Unstructured) -> AResult<u64> {
        let q = self.quota.max_bytes;
        Ok(match u.int_in_range(0..=9)? {
            0..=4 => u.int_in_range(1..=256)?,
            5 | 6 => u.int_in_range(1..=65536)?,
            7 => 0,
            8 => *u.choose(&[
                q,
                q + 1,
                q - 1,
                u32::MAX as u64,
                u32::MAX as u64 + 1,
                1 << 40,
                1 << 63,
                u64::MAX,
            ])?,
            _ => u.arbitrary()?,
        })
    }

    /// An offset into a buffer of `size`: mostly inside, sometimes at or past its end.
    fn offset(&self, u: &mut Unstructured, size: u64) -> AResult<u64> {
        Ok(match u.int_in_range(0..=7)? {
            0..=4 => u.int_in_range(0..=size.saturating_sub(1))?,
            5 => size,
            6 => *u.choose(&[u64::MAX, u64::MAX - 3, 1 << 32, size + 1])?,
            _ => u.arbitrary()?,
        })
    }

    fn size_of(&self, i: usize, h: u32) -> Option<u64> {
        self.live[i].model.bufs.get(&h).map(|b| b.size)
    }

    fn step(&mut self, u: &mut Unstructured) -> AResult<()> {
        if self.live.is_empty() || (self.live.len() < MAX_LIVE && u.ratio(1, 30)?) {
            self.spawn();
        }
        if self.live.len() > 1 && u.ratio(1, 80)? {
            let i = u.choose_index(self.live.len())?;
            self.retire(i);
            return Ok(());
        }
        let i = u.choose_index(self.live.len())?;
        if self.live[i].model.bufs.len() < 2 && u.ratio(2, 3)? {
            return self.create(u, i);
        }
        match u.int_in_range(0..=14)? {
            0..=2 => self.create(u, i),
            3..=5 => self.write(u, i),
            6 | 7 => self.read(u, i),
            8 => self.copy(u, i),
            9 => self.destroy(u, i, true),
            10 => self.destroy(u, i, false),
            11 => self.reduce(u, i),
            12 => self.elementwise(u, i),
            13 => self.matmul(u, i),
            _ => {
                let got = call(&mut self.live[i].gpu, "sync", ());
                self.expect(i, "sync", Some(Ok(())), got);
                Ok(())
            }
        }
    }

    fn create(&mut self, u: &mut Unstructured, i: usize) -> AResult<()> {
        let bytes = self.bytes(u)?;
        let want = (self.live[i].model).create(&self.quota, self.max_buffer_bytes, bytes);
        let got = call(&mut self.live[i].gpu, "create", (bytes,));
        if let (Ok(()), Outcome::Ok(h)) = (want, got) {
            self.live[i].model.created(h, bytes);
        }
        self.expect(i, &format!("create({bytes})"), Some(want), got);
        Ok(())
    }

    fn write(&mut self, u: &mut Unstructured, i: usize) -> AResult<()> {
        let h = self.handle(u, i)?;
        let size = self.size_of(i, h);
        let offset = self.offset(u, size.unwrap_or(64))?;
        let wild = u.ratio(1, 20)?;
        let (ptr, len, fill) = if wild {
            // Guest memory as it is, from any pointer: inside or outside linear memory.
            let ptr = *u.choose(&[0, SCRATCH, (MEMORY_BYTES - 8) as u32, u32::MAX - 3])?;
            (ptr, u.int_in_range(0..=64)?, 256)
        } else {
            let len = match u.int_in_range(0..=5)? {
                0..=3 => u.int_in_range(1..=64)?,
                4 => u.int_in_range(0..=MAX_SCRATCH_LEN)?,
                _ => size.unwrap_or(8).min(MAX_SCRATCH_LEN as u64) as u32,
            };
            (SCRATCH, len, u32::from(self.live[i].tag))
        };
        let want = match size {
            None => None,
            Some(_) if u64::from(ptr) + u64::from(len) > MEMORY_BYTES => None,
            Some(size) => Some(Model::range(size, offset, u64::from(len))),
        };
        let got = call(&mut self.live[i].gpu, "write", (h, offset, ptr, len, fill));
        if let (Some(Ok(())), Outcome::Ok(_)) = (want, got) {
            let tag = self.live[i].tag;
            let b = self.live[i].model.bufs.get_mut(&h).expect("live");
            match (&mut b.data, wild) {
                (Some(d), false) => d[offset as usize..offset as usize + len as usize].fill(tag),
                _ => b.data = None,
            }
        }
        let op = format!("write({h}, {offset}, ptr {ptr}, len {len})");
        self.expect(i, &op, want, got);
        Ok(())
    }

    fn read(&mut self, u: &mut Unstructured, i: usize) -> AResult<()> {
        let h = self.handle(u, i)?;
        let size = self.size_of(i, h);
        let offset = self.offset(u, size.unwrap_or(64))?;
        let bytes = match u.int_in_range(0..=4)? {
            0..=2 => u.int_in_range(1..=size.unwrap_or(64).max(1))?,
            3 => size.unwrap_or(64).saturating_sub(offset),
            _ => self.bytes(u)?,
        };
        let want = size.map(|s| Model::read(&self.quota, s, offset, bytes));
        let got = call(&mut self.live[i].gpu, "read", (h, offset, bytes));
        if let (Some(Ok(())), Outcome::Ok(hash)) = (want, got) {
            let b = &self.live[i].model.bufs[&h];
            if let Some(d) = &b.data {
                let range = offset as usize..(offset + bytes) as usize;
                let expected = fnv1a(&d[range]);
                if hash != expected {
                    self.fail(format!(
                        "read({h}, {offset}, {bytes}) returned bytes of hash {hash:#x}, the \
                         instance's own bytes hash to {expected:#x} (another instance's data, \
                         or lost writes)"
                    ));
                }
                self.stats.checked_reads += 1;
            }
        }
        self.expect(i, &format!("read({h}, {offset}, {bytes})"), want, got);
        Ok(())
    }

    fn copy(&mut self, u: &mut Unstructured, i: usize) -> AResult<()> {
        let (src, dst) = (self.handle(u, i)?, self.handle(u, i)?);
        let (ss, ds) = (self.size_of(i, src), self.size_of(i, dst));
        let so = self.offset(u, ss.unwrap_or(64))?;
        let d_o = self.offset(u, ds.unwrap_or(64))?;
        let bytes = match u.int_in_range(0..=3)? {
            0..=2 => u.int_in_range(1..=ss.unwrap_or(64).max(1))?,
            _ => self.bytes(u)?,
        };
        let m = &self.live[i].model;
        let want = (ss.is_some() && ds.is_some()).then(|| m.copy(src, so, dst, d_o, bytes));
        let got = call(&mut self.live[i].gpu, "copy", (src, so, dst, d_o, bytes));
        if let (Some(Ok(())), Outcome::Ok(_)) = (want, got) {
            self.live[i].model.copied(src, so, dst, d_o, bytes);
        }
        let op = format!("copy({src}@{so} -> {dst}@{d_o}, {bytes})");
        self.expect(i, &op, want, got);
        Ok(())
    }

    /// `buffer-destroy` (`explicit`) or dropping the handle.
    fn destroy(&mut self, u: &mut Unstructured, i: usize, explicit: bool) -> AResult<()> {
        let h = self.handle(u, i)?;
        let live = self.size_of(i, h).is_some();
        if live {
            self.live[i].model.removed(h);
        }
        let got = if explicit {
            call(&mut self.live[i].gpu, "destroy", (h,))
        } else if guest::release(&mut self.live[i].gpu, h) {
            Outcome::Ok(0)
        } else {
            Outcome::Trap
        };
        let op = if explicit { "destroy" } else { "release" };
        self.expect(i, &format!("{op}({h})"), live.then_some(Ok(())), got);
        Ok(())
    }

    /// An element count: mostly what fits a small buffer, sometimes 0 or absurd.
    fn elems(&self, u: &mut Unstructured) -> AResult<u64> {
        Ok(match u.int_in_range(0..=5)? {
            0..=3 => u.int_in_range(1..=256)?,
            4 => 0,
            _ => *u.choose(&[u32::MAX as u64, u32::MAX as u64 + 1, u64::MAX, 1 << 20])?,
        })
    }

    fn dtype_check(&self, dt: u32) -> Want {
        if dt == 1 && !self.f64_ok {
            Err(ErrorCase::Unsupported)
        } else {
            Ok(())
        }
    }

    fn reduce(&mut self, u: &mut Unstructured, i: usize) -> AResult<()> {
        let (op, dt) = (self.case(u, 3)?, self.case(u, 2)?);
        let a = self.handle(u, i)?;
        let n = self.elems(u)?;
        let m = &self.live[i].model;
        let want = (op < 3 && dt < 2 && m.bufs.contains_key(&a))
            .then(|| self.dtype_check(dt).and_then(|()| m.elems(a, 4 << dt, n)));
        let got = call(&mut self.live[i].gpu, "reduce", (op, dt, a, n));
        self.expect(i, &format!("reduce({op}, {dt}, {a}, {n})"), want, got);
        Ok(())
    }

    fn elementwise(&mut self, u: &mut Unstructured, i: usize) -> AResult<()> {
        let (op, dt) = (self.case(u, 4)?, self.case(u, 2)?);
        let a = self.handle(u, i)?;
        let b = if u.ratio(1, 4)? {
            None
        } else {
            Some(self.handle(u, i)?)
        };
        let out = self.handle(u, i)?;
        let scalar: f64 = u.arbitrary()?;
        let n = self.elems(u)?;
        let m = &self.live[i].model;
        let handles_live = [Some(a), b, Some(out)]
            .iter()
            .flatten()
            .all(|h| m.bufs.contains_key(h));
        let binary = op < 2;
        let want = (op < 4 && dt < 2 && handles_live).then(|| {
            let b = match (binary, b) {
                (true, None) => return Err(ErrorCase::InvalidArgument),
                (true, b) => b,
                (false, _) => None,
            };
            self.dtype_check(dt)?;
            for h in [Some(a), b, Some(out)].into_iter().flatten() {
                m.elems(h, 4 << dt, n)?;
            }
            Ok(())
        });
        let b_arg = b.map_or(-1, i64::from);
        let got = call(
            &mut self.live[i].gpu,
            "elementwise",
            (op, dt, a, b_arg, scalar, out, n),
        );
        if let (Some(Ok(())), Outcome::Ok(_)) = (want, got) {
            self.live[i].model.taint(out);
        }
        let what = format!("elementwise({op}, {dt}, {a}, {b:?}, {out}, {n})");
        self.expect(i, &what, want, got);
        Ok(())
    }

    fn matmul(&mut self, u: &mut Unstructured, i: usize) -> AResult<()> {
        let p = self.case(u, 2)?;
        let [a, b, c] = [self.handle(u, i)?, self.handle(u, i)?, self.handle(u, i)?];
        let dim = |u: &mut Unstructured| -> AResult<u32> {
            Ok(match u.int_in_range(0..=7)? {
                0..=5 => u.int_in_range(1..=16)?,
                6 => 0,
                _ => u.arbitrary()?,
            })
        };
        let (mm, k, n) = (dim(u)?, dim(u)?, dim(u)?);
        let m = &self.live[i].model;
        let live = [a, b, c].iter().all(|h| m.bufs.contains_key(h));
        let want = (p < 2 && live).then(|| {
            m.matmul([a, b, c], mm.into(), k.into(), n.into())?;
            if p == 1 && !self.tf32_ok {
                return Err(ErrorCase::Unsupported);
            }
            Ok(())
        });
        let got = call(&mut self.live[i].gpu, "matmul", (p, a, b, c, mm, k, n));
        if let (Some(Ok(())), Outcome::Ok(_)) = (want, got) {
            self.live[i].model.taint(c);
        }
        self.expect(
            i,
            &format!("matmul({p}, {a}, {b}, {c}, {mm}, {k}, {n})"),
            want,
            got,
        );
        Ok(())
    }
}

/// Runs `calls` fuzzed calls on `backend`; `None` when the backend does not start.
fn fuzz_on(backend: &str, calls: u64) -> Option<Stats> {
    let device = match Device::open(backend) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("SKIP fuzz-wasi-gpu/{backend}: {e}");
            return None;
        }
    };
    let info = device.info().clone();
    let limits = Limits {
        max_bytes: 1 << 20,
        max_buffers: 8,
        ..Limits::default()
    };
    let host = GpuHost::new(device, limits).expect("host");
    let component = guest::component(&host);
    let seed = common::env_u64("OFFLOAD_FUZZ_SEED", 0x00ff_10ad);
    let mut fuzz = Fuzz {
        host: &host,
        component: &component,
        quota: limits.quota(),
        max_buffer_bytes: info.max_buffer_bytes,
        f64_ok: info.supports_f64,
        tf32_ok: info.supports_tf32,
        live: Vec::new(),
        next_tag: 0,
        seen_ids: HashSet::new(),
        stats: Stats::default(),
        seed,
    };
    let mut rng = Pcg64::seed_from_u64(seed);
    let start = Instant::now();
    let mut cases = 0u64;
    while fuzz.stats.execs < calls {
        let mut bytes = vec![0u8; rng.random_range(64..4096)];
        rng.fill(&mut bytes[..]);
        let mut u = Unstructured::new(&bytes);
        while !u.is_empty() && fuzz.stats.execs < calls {
            if fuzz.step(&mut u).is_err() {
                break;
            }
        }
        cases += 1;
    }
    while !fuzz.live.is_empty() {
        fuzz.retire(0);
    }
    assert_eq!(
        host.device().live_buffers(),
        0,
        "buffers left on the device"
    );
    let secs = start.elapsed().as_secs_f64();
    let s = &fuzz.stats;
    eprintln!(
        "fuzz-wasi-gpu/{backend}: {} executions ({cases} cases, seed {seed:#x}) in {secs:.1} s \
         ({:.0}/s): {} ok, {} traps, {} instances, {} reads checked byte for byte, errors by \
         case {:?}",
        s.execs,
        s.execs as f64 / secs,
        s.ok,
        s.traps,
        s.instances,
        s.checked_reads,
        ErrorCase::ALL
            .iter()
            .map(|c| (c.name(), s.errors[*c as usize]))
            .filter(|(_, n)| *n > 0)
            .collect::<Vec<_>>(),
    );
    Some(fuzz.stats)
}

#[test]
fn fuzz_wasi_gpu_cpu() {
    let calls = common::env_u64("OFFLOAD_FUZZ_ITERS", 20_000);
    let s = fuzz_on("cpu", calls).expect("the cpu backend always starts");
    assert!(s.execs >= calls);
    // The run reached every outcome, not just refusals.
    assert!(s.ok > 0 && s.traps > 0 && s.checked_reads > 0, "{s:?}");
}

#[test]
fn fuzz_wasi_gpu_wgpu() {
    let calls = (common::env_u64("OFFLOAD_FUZZ_ITERS", 20_000) / 10).max(200);
    fuzz_on("wgpu", calls);
}
