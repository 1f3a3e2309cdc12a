#!/usr/bin/env bash
# One-off device run for issue 16 (carried, not committed).
source scripts/device-env.sh >/dev/null 2>&1
export OFFLOAD_FOREST_CPP_WEBGPU_GUEST=$PWD/build/guests/forest/forest-cpp-webgpu.wasm OFFLOAD_FOREST_CPP_GUEST=$PWD/build/guests/forest/forest-cpp.wasm
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader | tee $OUT/gpu.txt
xz -dc .device/wprobe.xz > /tmp/wprobe && chmod +x /tmp/wprobe
{
echo "== probe"; WPROBE_ITERS=5 timeout 120 /tmp/wprobe 1000000 2>&1 | tail -40
} > $OUT/probe.txt 2>&1
B=.device/bin
for r in 1 2 3; do
  CRITERION_HOME=/tmp/crit-core-$r timeout 100 $B/forest-gpu-bench --bench 'forest-predict/gpu-(wgpu|cuda)/1000000$' --warm-up-time 0.5 --measurement-time 2 > $OUT/bench-$r.txt 2>&1
  CRITERION_HOME=/tmp/crit-host-$r timeout 150 $B/forest-bench --bench '^forest-predict/wasm-cpp-wasi-(webgpu|gpu)-wgpu/1000000$' --warm-up-time 0.5 --measurement-time 2 >> $OUT/bench-$r.txt 2>&1
  for p in gpu-wgpu gpu-cuda; do f=/tmp/crit-core-$r/forest-predict/$p/1000000/new/estimates.json; [ -f $f ] && python3 -c "import json;print('round $r $p', round(json.load(open('$f'))['median']['point_estimate']/1e6,3))" >> $OUT/rounds.txt; done
  for p in wasm-cpp-wasi-gpu-wgpu wasm-cpp-wasi-webgpu-wgpu; do f=/tmp/crit-host-$r/forest-predict/$p/1000000/new/estimates.json; [ -f $f ] && python3 -c "import json;print('round $r $p', round(json.load(open('$f'))['median']['point_estimate']/1e6,3))" >> $OUT/rounds.txt; done
  cat $OUT/rounds.txt | tail -4
done
