#!/usr/bin/env bash
# Issue #18's rows on the lent GPU machine (16-core host, one GPU), from the binaries of
# scripts/device-pack.sh. The carry that fits beside the working tree (about 44 MB of carry
# did on 2026-12-07; all of build/guests did not): .device .gl build/guests/gpu-guest.wasm
# build/guests/gpu-guest.core.wasm build/guests/wasm-rust.wasm build/guests/wasm-c.wasm
# build/components/composed-gpu.wasm (with build/guests/forest for device-forest.sh cpp in
# the same call). Each step
# writes its own file under /tmp/device-boundary/, packed into $OUT/boundary.tar.gz after
# each step (every step runs under `timeout`, so a call cut short keeps the steps before):
#   check     scripts/device-check.sh with DEVICE_CHECK_BOUNDARY=1: SGEMM 4096³ on cuda
#             (FP32, TF32) and wgpu, h2d/d2h 1 GiB, and the same through PyTorch
#   wasi-gpu  host/benches/wasi_gpu.rs: one wasi:gpu import call (cpu backend), SGEMM 1024
#             and 4096 through wasi:gpu vs the direct backend (cuda, wgpu)
#   compose   host/benches/compose.rs: SGEMM 1024 through the composed provider vs
#             wasi:gpu from one guest (cuda, wgpu)
#   go        the Go host on this machine's CPU: empty call (rust-cgo, wasm-rust,
#             wasm-rust-batch, wazero-rust), sum_simd 1e5 resident (fast family), one
#             wasi:gpu import call
# Usage there: bash scripts/device-boundary.sh [step,step,…]   (default: all four)
set -u
steps=${1:-check,wasi-gpu,compose,go}
source scripts/device-env.sh
OUT=${OUT:-bench-results/device-boundary}
W=/tmp/device-boundary
rm -rf "$W"; mkdir -p "$W" "$OUT"
R=$PWD
B=$R/.device/bin
nproc > "$W/nproc.txt"; nvidia-smi --query-gpu=name,driver_version --format=csv > "$W/gpu.txt" 2>&1
cp "$B/commit.txt" "$W/" 2>/dev/null
C="--warm-up-time 0.5 --measurement-time 2"
for step in ${steps//,/ }; do
  case "$step" in
    check)
      OUT=$W/check DEVICE_CHECK_BOUNDARY=1 OFFLOAD_BENCH_TIME_MS=1000 timeout 150 bash scripts/device-check.sh > "$W/check.txt" 2>&1 ;;
    wasi-gpu)
      OFFLOAD_GPU_GUEST=$R/build/guests/gpu-guest.wasm CRITERION_HOME=$W/criterion \
        timeout 90 "$B/wasi-gpu-bench" --bench $C 'wasi-gpu-call|sgemm' > "$W/wasi-gpu-bench.txt" 2>&1 ;;
    compose)
      OFFLOAD_COMPONENTS_DIR=$R/build/components OFFLOAD_GUESTS_DIR=$R/build/guests \
        CRITERION_HOME=$W/criterion timeout 60 "$B/compose-bench" --bench $C > "$W/compose-bench.txt" 2>&1 ;;
    go)
      cd go-host || exit 1
      timeout 30 "$B/go-host.test" -test.run '^$' -test.bench 'BenchmarkEmptyCall/path=(rust-cgo|wasm-rust|wasm-rust-batch|wazero-rust)$' \
        -test.benchtime 1000000x -test.count 5 > "$W/go-empty-call.txt" 2>&1
      OFFLOAD_BENCH_N=100000 timeout 90 "$B/go-host.test" -test.run '^$' \
        -test.bench 'BenchmarkSumResident/family=fast/path=(rust-cgo|rust-cgo-par|wasm-rust|wasm-c)/' -test.count 5 > "$W/go-sum-resident.txt" 2>&1
      timeout 30 "$B/go-host.test" -test.run '^$' -test.bench BenchmarkWasiGPUCall -test.count 5 > "$W/go-wasi-gpu-call.txt" 2>&1
      cd "$R" ;;
    *) echo "scripts/device-boundary.sh: steps are check, wasi-gpu, compose, go; not $step" >&2; exit 2 ;;
  esac
  tar czf "$OUT/boundary.tar.gz" -C /tmp device-boundary
done
