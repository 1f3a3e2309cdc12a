#!/usr/bin/env bash
# The parallel-for figures of issue #15 on the lent GPU machine (16-core host, one GPU), from
# one run, each result in its own file under $OUT as it finishes:
#   cpu  sum and mul at 1e6 and 1e8 on 1, 2, 4, 8, 16 workers beside rust-native-par (same
#        run, same data), then predict at 1e5 and 1e6 rows on 16 workers
#   gpu  the GPU device beside gpu-wgpu (data from host memory, transfers timed): sum and
#        mul at 1e6 and 1e8, predict at 1e5 and 1e6 rows
# Here: cargo build --release -p offload-host --bin offload; cp target/release/offload
# .device/offload; strip .device/offload. Then the device call, e.g.
#   run: bash scripts/device-parallel.sh cpu   carry: .device .gl build/guests/parallel
# (.gl holds the Vulkan loader: see scripts/device-env.sh).
set -u
part=${1:?usage: scripts/device-parallel.sh cpu|gpu}
source scripts/device-env.sh
B=${OFFLOAD_BIN:-.device/offload}
OUT=${OUT:-bench-results/device-parallel}
mkdir -p "$OUT"
case "$part" in
  cpu)
    nproc > "$OUT/nproc.txt"; lscpu > "$OUT/lscpu.txt" 2>&1
    for op in sum mul; do for n in 1000000 100000000; do for t in 1 2 4 8 16; do
      timeout 120 "$B" parallel $op --n $n --threads $t --baseline --repeat 7 > "$OUT/cpu-$op-$n-t$t.txt" 2>&1
    done; done; done
    for n in 100000 1000000; do
      timeout 150 "$B" parallel predict --n $n --threads 16 --baseline --repeat 5 > "$OUT/cpu-predict-$n-t16.txt" 2>&1
    done ;;
  gpu)
    nvidia-smi --query-gpu=name,driver_version --format=csv > "$OUT/gpu.txt" 2>&1
    for op in sum mul; do for n in 1000000 100000000; do
      timeout 150 "$B" parallel $op --n $n --device gpu --baseline --repeat 7 > "$OUT/gpu-$op-$n.txt" 2>&1
    done; done
    for n in 100000 1000000; do
      timeout 150 "$B" parallel predict --n $n --device gpu --baseline --repeat 5 > "$OUT/gpu-predict-$n.txt" 2>&1
    done ;;
  *) echo "scripts/device-parallel.sh: cpu or gpu, not $part" >&2; exit 2 ;;
esac
