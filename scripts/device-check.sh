#!/usr/bin/env bash
# What runs on the lent GPU machine (H100/H200; no Rust, no Go there), from binaries built
# here by `scripts/device-check.sh --build` into .device/ (git-ignored):
#   1. the GPU test suite (core/tests/gpu.rs) on wgpu (Vulkan on the NVIDIA driver) and cuda;
#   2. a subset of the GPU benchmarks (core/benches/gpu/): sgemm 4096, h2d/d2h 1 GiB,
#      sum-fast_f32 at 1000 and 2^28 elements (with a latency probe), sum-fast_f64 and
#      mul_f32 at 1e8 (DEVICE_CHECK_SGEMM_ONLY=1: sgemm at 4096 and 8192 only);
#   3. the same measurements through PyTorch (SGEMM 4096³ FP32 and TF32, pinned H2D,
#      device copy bandwidth);
#   4. a short table (also $OUT/table.md). Logs go under $OUT (the device tool's folder; any
#      folder when run by hand).
#
# Usage: here `scripts/device-check.sh --build`, there `bash scripts/device-check.sh`
# (with .device and .gl carried; .gl holds the Vulkan loader .debs, see the device README).
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

if [ "${1:-}" = "--build" ]; then
  set -e
  export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$root/target/gpu-dev}
  mkdir -p .device
  test_bin=$(cargo test --release -p offload-core --features wgpu,cuda --test gpu --no-run --message-format=json \
    | python3 -c 'import sys,json
for l in sys.stdin:
    m=json.loads(l)
    if m.get("reason")=="compiler-artifact" and m.get("executable") and m["target"]["name"]=="gpu" and "test" in m["target"]["kind"]: print(m["executable"])' | tail -1)
  bench_bin=$(cargo bench -p offload-core --features wgpu,cuda --bench gpu --no-run --message-format=json \
    | python3 -c 'import sys,json
for l in sys.stdin:
    m=json.loads(l)
    if m.get("reason")=="compiler-artifact" and m.get("executable") and m["target"]["name"]=="gpu" and "bench" in m["target"]["kind"]: print(m["executable"])' | tail -1)
  cp "$test_bin" .device/gpu-test
  cp "$bench_bin" .device/gpu-bench
  strip .device/gpu-test .device/gpu-bench
  ls -la .device
  exit 0
fi

OUT=${OUT:-$root/.device/out}
mkdir -p "$OUT"
log() { echo "== $*" | tee -a "$OUT/summary.log"; }

# Vulkan loader, NVIDIA ICD, CUDA 13 libraries, XDG_RUNTIME_DIR.
# shellcheck source=scripts/device-env.sh
source scripts/device-env.sh
ls .gl/*.deb >/dev/null 2>&1 || ldconfig -p | grep -q libvulkan.so.1 || log "no Vulkan loader and no .gl/*.deb: wgpu will be skipped"

log "device"
nvidia-smi -L 2>&1 | tee -a "$OUT/summary.log"

bin=.device
[ -x .device/bin/gpu-bench ] && bin=.device/bin
test_rc=0
if [ -z "${DEVICE_CHECK_BOUNDARY:-}" ]; then
log "GPU tests (.device/gpu-test)"
timeout 240 ./.device/gpu-test --test-threads=1 --nocapture 2>&1 | tee "$OUT/test.log"
test_rc=${PIPESTATUS[0]}
grep -E '^(test |SKIP|wgpu:|cuda:|test result)' "$OUT/test.log" >> "$OUT/summary.log"
fi

export CRITERION_HOME=/tmp/offload-criterion
rm -rf "$CRITERION_HOME"
bench() { # group list, sizes
  log "bench ${1} at ${2}${OFFLOAD_WGPU_WAIT:+ (OFFLOAD_WGPU_WAIT=$OFFLOAD_WGPU_WAIT)}"
  OFFLOAD_BENCH_ONLY=$1 OFFLOAD_BENCH_SIZES=$2 timeout 150 "./$bin/gpu-bench" --bench --noplot 2>&1 | tee -a "$OUT/bench.log" \
    | grep -E '^(SKIP|gpu-|kernel-time|queued-time|latency|sgemm|h2d|d2h|sum|dot|mul|scale)|time:' >> "$OUT/summary.log"
}
if [ -n "${DEVICE_CHECK_BOUNDARY:-}" ]; then
  bench sgemm 4096
  bench h2d,d2h 1073741824
elif [ -n "${DEVICE_CHECK_SGEMM_ONLY:-}" ]; then
  # A shorter run after a change to the matmul kernels: sgemm at 4096 and 8192 only.
  OFFLOAD_BENCH_LATENCY=1 bench sgemm 4096,8192
else
bench sgemm 4096
bench h2d,d2h 1073741824
# Small sizes show the fixed cost of one call; the latency probe splits it into parts.
OFFLOAD_BENCH_LATENCY=1 bench sum-fast_f32,mul_f32 1000
bench sum-fast_f32 268435456
bench sum-fast_f64,mul_f32 100000000
fi

log "PyTorch"
PYTHONUNBUFFERED=1 python3 - <<'EOF' 2>&1 | tee "$OUT/torch.json.log"
import json, torch
dev = torch.device("cuda")
def timed(f, reps):
    for _ in range(3): f()
    torch.cuda.synchronize()
    s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    s.record()
    for _ in range(reps): f()
    e.record(); e.synchronize()
    return s.elapsed_time(e) / reps * 1e-3
def synced(f, reps):
    # As offload's criterion sgemm ids: wait for the device after every call (wall clock).
    import time
    for _ in range(3): f()
    torch.cuda.synchronize()
    t = time.perf_counter()
    for _ in range(reps):
        f(); torch.cuda.synchronize()
    return (time.perf_counter() - t) / reps
n = 4096
a = torch.rand(n, n, device=dev) - 0.5
b = torch.rand(n, n, device=dev) - 0.5
r = {"torch": torch.__version__, "device": torch.cuda.get_device_name()}
torch.backends.cuda.matmul.allow_tf32 = False
r["sgemm_fp32_tflops"] = 2 * n**3 / timed(lambda: a @ b, 20) / 1e12
torch.backends.cuda.matmul.allow_tf32 = True
r["sgemm_tf32_tflops"] = 2 * n**3 / timed(lambda: a @ b, 20) / 1e12
r["sgemm_tf32_synced_tflops"] = 2 * n**3 / synced(lambda: a @ b, 20) / 1e12
torch.backends.cuda.matmul.allow_tf32 = False
nbytes = 1 << 30
h = torch.empty(nbytes, dtype=torch.uint8, pin_memory=True)
h.random_(0, 255)
d = torch.empty(nbytes, dtype=torch.uint8, device=dev)
r["h2d_pinned_gbs"] = nbytes / timed(lambda: d.copy_(h, non_blocking=True), 10) / 1e9
r["d2h_pinned_gbs"] = nbytes / timed(lambda: h.copy_(d, non_blocking=True), 10) / 1e9
hp = torch.empty(nbytes, dtype=torch.uint8).random_(0, 255)
r["h2d_pageable_gbs"] = nbytes / timed(lambda: d.copy_(hp), 5) / 1e9
d2 = torch.empty_like(d)
r["d2d_copy_gbs_read_plus_write"] = 2 * nbytes / timed(lambda: d2.copy_(d), 20) / 1e9
x = torch.rand(1 << 28, device=dev)
r["sum_f32_2p28_gbs"] = (1 << 28) * 4 / timed(lambda: x.sum(), 20) / 1e9
print("TORCH " + json.dumps(r))
EOF

log "table"
python3 - "$CRITERION_HOME" "$OUT/torch.json.log" "$OUT/bench.log" <<'EOF' | tee "$OUT/table.md" | tee -a "$OUT/summary.log"
import json, os, sys
crit, torch_log = sys.argv[1], sys.argv[2]
t = {}
for line in open(torch_log):
    if line.startswith("TORCH "):
        t = json.loads(line[6:])
def ns(group, path, n):
    p = os.path.join(crit, group, path, str(n), "new", "estimates.json")
    try:
        return json.load(open(p))["mean"]["point_estimate"]
    except OSError:
        return None
def fmt(v, unit):
    return "not run" if v is None else f"{v:.1f} {unit}"
n = 4096
fl = 2 * n**3
# `queued-time sgemm/<path>/4096: <ns> ns per call, …` lines of the gpu bench (calls queued,
# one sync: PyTorch's timing), from its output ($OUT/bench.log).
queued = {}
try:
    for line in open(sys.argv[3]):
        if line.startswith("queued-time sgemm/") and " ns per call" in line:
            key, rest = line[len("queued-time "):].split(":", 1)
            queued[key] = fl / float(rest.split()[0]) / 1e3
except OSError:
    pass
tf = lambda path: None if ns("sgemm", path, n) is None else fl / ns("sgemm", path, n) / 1e3
def gb(g, path, n, b):
    t = ns(g, path, n)
    return None if t is None else b / t
G = 1 << 30
S = 1 << 28
print(f"device: {t.get('device', '?')}, torch {t.get('torch', '?')}")
print("| measurement | offload | PyTorch | ratio |")
print("| --- | --- | --- | --- |")
def row(name, ours, theirs, unit):
    ratio = f"{ours / theirs:.2f}" if ours and theirs else "-"
    print(f"| {name} | {fmt(ours, unit)} | {fmt(theirs, unit)} | {ratio} |")
row("SGEMM 4096³ cuda FP32", tf("gpu-cuda"), t.get("sgemm_fp32_tflops"), "TFLOP/s")
row("SGEMM 4096³ cuda TF32, 20 queued, one sync (as torch's)", queued.get(f"sgemm/gpu-cuda-tf32/{n}"), t.get("sgemm_tf32_tflops"), "TFLOP/s")
row("SGEMM 4096³ cuda TF32, sync after each (both)", tf("gpu-cuda-tf32"), t.get("sgemm_tf32_synced_tflops"), "TFLOP/s")
row("SGEMM 4096³ wgpu (vs torch FP32)", tf("gpu-wgpu"), t.get("sgemm_fp32_tflops"), "TFLOP/s")
row("H2D 1 GiB cuda (pageable src, vs torch pinned)", gb("h2d", "gpu-cuda", G, G), t.get("h2d_pinned_gbs"), "GB/s")
row("H2D 1 GiB wgpu (pageable src, vs torch pinned)", gb("h2d", "gpu-wgpu", G, G), t.get("h2d_pinned_gbs"), "GB/s")
row("D2H 1 GiB cuda (vs torch pinned)", gb("d2h", "gpu-cuda", G, G), t.get("d2h_pinned_gbs"), "GB/s")
row("D2H 1 GiB wgpu (vs torch pinned)", gb("d2h", "gpu-wgpu", G, G), t.get("d2h_pinned_gbs"), "GB/s")
row("sum 2^28 f32 cuda resident (vs torch d2d copy r+w)", gb("sum-fast_f32", "gpu-cuda-resident", S, 4 * S), t.get("d2d_copy_gbs_read_plus_write"), "GB/s")
row("sum 2^28 f32 wgpu resident (vs torch d2d copy r+w)", gb("sum-fast_f32", "gpu-wgpu-resident", S, 4 * S), t.get("d2d_copy_gbs_read_plus_write"), "GB/s")
row("sum 2^28 f32 cuda resident (vs torch.sum)", gb("sum-fast_f32", "gpu-cuda-resident", S, 4 * S), t.get("sum_f32_2p28_gbs"), "GB/s")
print(f"(torch pageable H2D: {t.get('h2d_pageable_gbs', 0):.1f} GB/s)")
EOF
log "done (tests exit $test_rc)"
exit "$test_rc"
