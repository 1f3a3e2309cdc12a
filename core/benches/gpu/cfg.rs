//! Configuration from the environment, size lists and caps, host memory.

use offload_core::gpu::GpuBackend;

pub(crate) struct Cfg {
    quick: bool,
    only: Option<Vec<String>>,
    sizes: Option<Vec<u64>>,
    pub(crate) time_ms: u64,
    max_elems: Option<u64>,
}

impl Cfg {
    pub(crate) fn from_env() -> Cfg {
        let list = |v: &str| std::env::var(v).ok().filter(|s| !s.is_empty());
        let quick = list("OFFLOAD_BENCH_QUICK").is_some_and(|s| s != "0");
        Cfg {
            quick,
            only: list("OFFLOAD_BENCH_ONLY")
                .map(|s| s.split(',').map(|x| x.trim().to_string()).collect()),
            sizes: list("OFFLOAD_BENCH_SIZES").map(|s| {
                s.split(',')
                    .map(|x| {
                        x.trim()
                            .parse()
                            .expect("OFFLOAD_BENCH_SIZES: comma-separated integers")
                    })
                    .collect()
            }),
            time_ms: list("OFFLOAD_BENCH_TIME_MS")
                .map(|s| {
                    s.trim()
                        .parse()
                        .ok()
                        .filter(|&ms: &u64| ms > 0)
                        .expect("OFFLOAD_BENCH_TIME_MS: a positive integer (milliseconds)")
                })
                .unwrap_or(if quick { 1000 } else { 2000 }),
            max_elems: list("OFFLOAD_BENCH_MAX_ELEMS").map(|s| {
                s.trim()
                    .parse()
                    .expect("OFFLOAD_BENCH_MAX_ELEMS: an integer (elements)")
            }),
        }
    }
    pub(crate) fn wants(&self, group: &str) -> bool {
        self.only
            .as_ref()
            .is_none_or(|o| o.iter().any(|g| g == group))
    }
    /// The vector groups' sizes: [`Cfg::sizes`] without those above
    /// `OFFLOAD_BENCH_MAX_ELEMS` (a small machine's full run; each one left out is printed
    /// as a SKIP line by the caller's group).
    pub(crate) fn elem_sizes(
        &self,
        full: &[u64],
        quick: &[u64],
        group: &str,
        paths: &[&str],
    ) -> Vec<u64> {
        let all = self.sizes(full, quick);
        match self.max_elems {
            Some(max) => {
                for &n in all.iter().filter(|&&n| n > max) {
                    for p in paths {
                        println!(
                            "SKIP {group}/{p}/{n}: above OFFLOAD_BENCH_MAX_ELEMS={max} on this run"
                        );
                    }
                }
                all.into_iter().filter(|&n| n <= max).collect()
            }
            None => all,
        }
    }
    pub(crate) fn sizes(&self, full: &[u64], quick: &[u64]) -> Vec<u64> {
        match &self.sizes {
            Some(s) => s.clone(),
            None if self.quick => quick.to_vec(),
            None => full.to_vec(),
        }
    }
}

/// Largest vector length (elements) benchmarked on a software adapter.
pub(crate) const SOFTWARE_MAX_ELEMS: u64 = 1_000_000;
/// Largest SGEMM side benchmarked on a software adapter.
pub(crate) const SOFTWARE_MAX_SGEMM: u64 = 512;
/// Largest transfer (bytes) benchmarked on a software adapter.
pub(crate) const SOFTWARE_MAX_BYTES: u64 = 16 << 20;

/// 1e3 … 1e9 by ×10.
pub(crate) const TO_1E9: [u64; 7] = [
    1_000,
    10_000,
    100_000,
    1_000_000,
    10_000_000,
    100_000_000,
    1_000_000_000,
];
/// Sizes of `OFFLOAD_BENCH_QUICK=1` for the vector ops.
pub(crate) const QUICK_ELEMS: [u64; 2] = [1_000, 1_000_000];

/// `Some(reason)` when `dev` is a software adapter and `n` is above `max` (unless the sizes
/// were given explicitly in `OFFLOAD_BENCH_SIZES`).
pub(crate) fn software_skip(cfg: &Cfg, dev: &dyn GpuBackend, n: u64, max: u64) -> Option<String> {
    let info = dev.info();
    (info.is_software && cfg.sizes.is_none() && n > max).then(|| {
        format!(
            "software adapter ({}), sizes above {max} left out (they time the CPU, not a GPU)",
            info.name
        )
    })
}

/// The pinned-memory line of a group with a `gpu-cuda` path.
pub(crate) fn skip_pinned(group: &str) {
    println!(
        "SKIP {group}/gpu-cuda-pinned: the GpuBackend API takes host data as &[u8] from pageable \
         memory and offers no pinned source buffers (cuda stages every transfer through its \
         own pinned buffers), so data starting in pinned host memory is not timed"
    );
}

// ---- host memory ----

/// `MemAvailable` of `/proc/meminfo` in bytes; `None` where it cannot be read.
pub(crate) fn mem_available() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = s.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Ok when `need` bytes fit in `avail` (MemAvailable read before this size allocated
/// anything) less a margin of 10 %, at least 1 GiB; else the reason, naming both.
pub(crate) fn host_fits(need: u64, what: &str, avail: Option<u64>) -> Result<(), String> {
    let Some(avail) = avail else {
        return Ok(());
    };
    let margin = (avail / 10).max(1 << 30);
    let limit = avail.saturating_sub(margin);
    if need <= limit {
        Ok(())
    } else {
        Err(format!(
            "needs {need} bytes of host memory ({what}), limit {limit} bytes \
             (MemAvailable {avail} less a margin of {margin})"
        ))
    }
}
