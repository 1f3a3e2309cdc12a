#!/usr/bin/env bash
# The histogram mode (issue #17, docs/forest-hist.md) on the lent GPU machine: first its
# correctness there (core/tests/hist_grow.rs on cuda and wgpu against the reference grower),
# then training times (test MSE and the check against Forest::fit_hist_parallel printed by
# each run) at 1e4, 1e5 and 1e6 Friedman rows, beside the exact grower on one thread
# (200 trees at 1e5; 20 trees at 1e6, about 30 s: multiply by 10 for 200, and say so).
# Writes at most 5 files under $OUT (the device call returns at most 8).
#
# Here, from the repository root:
#   mkdir -p .device/hist
#   cargo test --release -p offload-core --features wgpu,cuda --test hist_grow --no-run
#     (copy the executable it names to .device/hist/hist_grow)
#   cargo build --release -p offload-host --bin offload && cp target/release/offload .device/hist/
#   strip .device/hist/*; git rev-parse HEAD > .device/hist/commit.txt
#   (and the Vulkan loader in .gl/: see the device README's recipe)
# Then: run `bash scripts/device-hist.sh`, carry .device/hist .gl (about 42 MB).
set -u
source scripts/device-env.sh
B=${OFFLOAD_HIST_BIN:-.device/hist}
OUT=${OUT:-bench-results/device-hist}
mkdir -p "$OUT"
{ nvidia-smi --query-gpu=name,driver_version --format=csv,noheader; nproc; cat $B/commit.txt; } > $OUT/gpu.txt 2>&1
timeout 100 $B/hist_grow --nocapture --test-threads 1 > $OUT/hist_grow.txt 2>&1; echo "rc $?" >> $OUT/hist_grow.txt
run() { echo "== $*"; /usr/bin/time -f "wall %e s" timeout 120 $B/offload forest "$@" 2>&1; echo "rc $?"; }
{
  run --hist --backend cuda
  run --data friedman1 --rows 10000 --hist --backend cuda
  for be in cuda wgpu; do run --data friedman1 --rows 100000 --hist --backend $be; done
} > $OUT/hist_gpu.txt
run --data friedman1 --rows 100000 > $OUT/native.txt
{
  for be in cuda wgpu; do run --data friedman1 --rows 1000000 --hist --backend $be; done
  run --data friedman1 --rows 1000000 --trees 20
} > $OUT/big.txt
