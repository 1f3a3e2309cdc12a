#!/usr/bin/env bash
# The random-forest table of issue #17 on the lent GPU machine (16-core host, one GPU), in
# parts that each fit one 10-minute device call. Each command's output goes to its own file
# under /tmp/device-forest/<part>/, packed into $OUT/forest-<part>.tar.gz at the end of the
# part (every command runs under `timeout`, so the part always gets packed).
#   offload   offload's paths on Friedman #1 (d = 10, 200 trees): training at 1e3, 1e4, 1e5
#             rows on rust-native (one thread), rust-native-rayon, gpu-cuda and gpu-wgpu
#             (each GPU run also times the all-cores native reference it is checked
#             against); batch prediction of 1e3 … 1e7 fresh rows with the forest trained on
#             1e3 rows on each path (one thread up to 1e6 rows).
#   sklearn   scikit-learn (training n_jobs=1 and all cores at 1e3 and 1e4 rows, all cores
#             at 1e5; predict 1e3 … 1e6 rows with n_jobs=1 and all cores, 1e7 rows all
#             cores) and XGBoost's random-forest mode on the CPU (xgboost-cpu, hist and
#             exact, n_jobs=1, 1e3 and 1e4 rows) when its wheel is carried in .wheels/xgbcpu.
#   nvforest  nvForest (cu13 26.4, its wheels carried in .wheels/nvf) predicting 1e3 … 1e7
#             rows with offload's exported forest (.wheels/models/forest-friedman-1000.json, from
#             `offload forest --data friedman1 --rows 1000 --export-xgboost`) and with
#             scikit-learn's forest, each layout and precision checked before timing.
#   xgbcuda   XGBoost's random-forest mode on the GPU (xgboost-rf-hist-cuda: device="cuda",
#             hist; xgboost-cu13 3.2.0, its wheel unpacked and xz-packed, 55 MiB: with the
#             16 MB working tree that passes one call's 64 MiB carry, so it travels in two
#             halves, `split -b 30M xgb-cu13.tar.xz .wheels/xgb-cu13.part.`, .part.aa
#             carried by an earlier call on the same warm machine, .part.ab by this one),
#             training 200 trees at 1e3 … 1e6 Friedman rows, two runs each (the first
#             includes creating the CUDA context).
#   cpp       issue #16's rows: host/benches/forest (the C++ guest's train and predict on
#             every route beside native, the Rust guest and the forest-gpu guest; predict up
#             to 1e6 Friedman rows on hardware devices) and core's forest_gpu bench
#             (native gpu-wgpu and gpu-cuda batch-predict at 1e3 and 1e6 rows, same data),
#             then `offload forest --path wasm-cpp` on each route (train ms, test MSE).
#             Binaries from scripts/device-pack.sh (carry .device .gl build/guests/forest).
# Here: bash scripts/device-pack.sh (the CLI into .device/cli.tar.xz, the bench binaries
# into .device/bench.tar.xz, unpacked there by scripts/device-env.sh); the exported forest into .wheels/models/; the wheels
# (for the GPU machine's Python 3.12), e.g.
#   pip download --no-deps --only-binary=:all: --python-version 3.12 \
#     --platform manylinux_2_28_x86_64 xgboost-cpu==3.2.0 -d .wheels/xgbcpu
#   pip download … 'nvforest-cu13==26.4.*' 'libnvforest-cu13==26.4.*' 'libraft-cu13==26.4.*' \
#     'librmm-cu13==26.4.*' 'pylibraft-cu13==26.4.*' 'rmm-cu13==26.4.*' \
#     'rapids-logger==0.2.*' treelite -d .wheels/nvf          (about 45 MB)
# (.wheels/ is git-ignored). Then, e.g.
#   run: bash scripts/device-forest.sh offload   carry: .device/cli.tar.xz .gl
#   run: bash scripts/device-forest.sh sklearn   carry: .wheels/xgbcpu
#   run: bash scripts/device-forest.sh nvforest  carry: .wheels/nvf.tar.xz .wheels/models/forest-friedman-1000.json.xz
#   run: bash scripts/device-forest.sh xgbcuda   carry: .wheels/xgb-cu13.part.ab (.aa earlier)
#   run: bash scripts/device-forest.sh cpp       carry: .device .gl build/guests/forest
set -u
part=${1:?usage: scripts/device-forest.sh offload|sklearn|nvforest|xgbcuda|cpp}
source scripts/device-env.sh
B=${OFFLOAD_BIN:-.device/bin/offload}
OUT=${OUT:-bench-results/device-forest}
W=/tmp/device-forest/$part
rm -rf "$W"; mkdir -p "$W" "$OUT"
nproc > "$W/nproc.txt"; nvidia-smi --query-gpu=name,driver_version --format=csv > "$W/gpu.txt" 2>&1
case "$part" in
  offload)
    for rows in 1000 10000 100000; do
      timeout 150 "$B" forest --data friedman1 --rows $rows > "$W/train-rust-native-$rows.txt" 2>&1
      timeout 60 "$B" forest --data friedman1 --rows $rows --parallel > "$W/train-rust-native-rayon-$rows.txt" 2>&1
      for be in cuda wgpu; do
        timeout 150 "$B" forest --data friedman1 --rows $rows --backend $be > "$W/train-gpu-$be-$rows.txt" 2>&1
      done
    done
    for m in 1000 10000 100000 1000000 10000000; do
      [ $m -le 1000000 ] && timeout 60 "$B" forest --data friedman1 --rows 1000 --predict-rows $m --repeat 3 > "$W/predict-rust-native-$m.txt" 2>&1
      timeout 60 "$B" forest --data friedman1 --rows 1000 --parallel --predict-rows $m --repeat 5 > "$W/predict-rust-native-rayon-$m.txt" 2>&1
      for be in cuda wgpu; do
        timeout 60 "$B" forest --data friedman1 --rows 1000 --backend $be --predict-rows $m --repeat 5 > "$W/predict-gpu-$be-$m.txt" 2>&1
      done
    done ;;
  sklearn)
    py=python3
    if ls .wheels/xgbcpu/*.whl >/dev/null 2>&1; then
      pip install --no-deps --no-index --target /tmp/xgbcpu .wheels/xgbcpu/*.whl > "$W/pip.txt" 2>&1
      export PYTHONPATH=/tmp/xgbcpu${PYTHONPATH:+:$PYTHONPATH}
    fi
    S=scripts/sklearn_forest.py
    timeout 150 $py $S --data friedman1 --sizes 1000 --train-n-jobs 1,-1 \
      --predict-rows 1000,10000,100000,1000000 --n-jobs 1,-1 > "$W/sklearn-1000.jsonl" 2>&1
    timeout 100 $py $S --data friedman1 --sizes 1000 --train-n-jobs -1 \
      --predict-rows 10000000 --n-jobs -1 > "$W/sklearn-predict-1e7.jsonl" 2>&1
    timeout 100 $py $S --data friedman1 --sizes 10000 --train-n-jobs 1,-1 > "$W/sklearn-train-10000.jsonl" 2>&1
    timeout 100 $py $S --data friedman1 --sizes 100000 --train-n-jobs -1 > "$W/sklearn-train-100000.jsonl" 2>&1
    timeout 100 $py $S --data friedman1 --sizes 1000,10000 \
      --peers xgboost-rf-hist,xgboost-rf-exact > "$W/xgboost-cpu.jsonl" 2>&1 ;;
  nvforest)
    # The wheels travel either as they are (.wheels/nvf, 45 MB) or unzipped into one
    # xz tarball (.wheels/nvf.tar.xz, 24 MB: `for w in .wheels/nvf/*.whl; do unzip -o -d
    # nvf "$w"; done; tar cJf .wheels/nvf.tar.xz -C nvf .`), which leaves room in the carry.
    if [ -f .wheels/nvf.tar.xz ]; then
      mkdir -p /tmp/nvf && tar xJf .wheels/nvf.tar.xz -C /tmp/nvf
    else
      pip install --no-deps --no-index --target /tmp/nvf .wheels/nvf/*.whl > "$W/pip.txt" 2>&1
    fi
    # The 12 MB model travels xz-packed (carry .wheels/models/forest-friedman-1000.json.xz).
    m=.wheels/models/forest-friedman-1000.json
    [ -f "$m" ] || xz -dk "$m.xz"
    export PYTHONPATH=/tmp/nvf${PYTHONPATH:+:$PYTHONPATH}
    timeout 400 python3 scripts/nvforest_peer.py --offload-model .wheels/models/forest-friedman-1000.json \
      --train-rows 1000 --predict-rows 1000,10000,100000,1000000,10000000 --repeat 5 > "$W/nvforest.jsonl" 2>&1 ;;
  xgbcuda)
    ls .wheels/xgb-cu13.part.* > "$W/parts.txt" 2>&1
    mkdir -p /tmp/xgbcuda && cat .wheels/xgb-cu13.part.* | tar xJf - -C /tmp/xgbcuda \
      || echo "SKIP xgboost-rf-hist-cuda: its wheel did not arrive whole (see parts.txt)" > "$W/xgboost-cuda.jsonl"
    export PYTHONPATH=/tmp/xgbcuda${PYTHONPATH:+:$PYTHONPATH}
    timeout 300 python3 scripts/sklearn_forest.py --data friedman1 --sizes 1000,10000,100000,1000000 \
      --peers xgboost-rf-hist-cuda --repeat 2 > "$W/xgboost-cuda.jsonl" 2>&1 ;;
  cpp)
    G=$PWD/build/guests/forest
    export OFFLOAD_FOREST_GUEST=$G/forest-rust.wasm OFFLOAD_FOREST_GPU_GUEST=$G/forest-gpu.wasm \
      OFFLOAD_FOREST_CPP_GUEST=$G/forest-cpp.wasm OFFLOAD_FOREST_CPP_WEBGPU_GUEST=$G/forest-cpp-webgpu.wasm \
      OFFLOAD_FOREST_ROWS=1000 CRITERION_HOME=$W/criterion
    # Diabetes (353/89 rows) and the C++ guest's Friedman predict sizes; not the Friedman
    # training rows of the other paths (device-forest.sh offload has those).
    C="--warm-up-time 0.3 --measurement-time 1"
    F='^forest-(train/[a-z0-9-]+/353|predict/[a-z0-9-]+/(89|1000|10000|100000|1000000))$'
    timeout 240 .device/bin/forest-bench --bench $C "$F" > "$W/host-forest-bench.txt" 2>&1
    # Its GPU paths only: one-thread rust-native at 1e6 rows (3 s a call) ran past the
    # timeout on 2026-12-07 before any GPU row at 1e6 (host-forest-bench has the CPU rows).
    OFFLOAD_BENCH_ONLY=forest-predict OFFLOAD_BENCH_SIZES=1000,1000000 \
      timeout 120 .device/bin/forest-gpu-bench --bench $C 'forest-predict/gpu-' > "$W/core-forest-gpu-bench.txt" 2>&1
    for r in "--backend cpu" "--backend wgpu" "--backend cuda" "--via wasi-webgpu --backend wgpu"; do
      timeout 20 .device/bin/offload forest --path wasm-cpp $r > "$W/cli-wasm-cpp-${r//[ -]/_}.txt" 2>&1
    done
    for r in "--path native" "--path wasm"; do
      timeout 20 .device/bin/offload forest $r > "$W/cli-${r//[ -]/_}.txt" 2>&1
    done
    ;;
  *) echo "scripts/device-forest.sh: offload, sklearn, nvforest, xgbcuda or cpp, not $part" >&2; exit 2 ;;
esac
tar czf "$OUT/forest-$part.tar.gz" -C /tmp/device-forest "$part"
