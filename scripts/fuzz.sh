#!/usr/bin/env bash
# Long fuzz and soak passes (issue #19), beyond CI's short ones. The guests must be built
# (./build.sh fuzz does that first).
#   Rust host (release): random wasi:gpu import sequences against the host on cpu and wgpu
#     (host/tests/fuzz_wasi_gpu), the CLI's WAVE invoke strings and the report's inputs
#     (host/tests/fuzz_parsers), 10,000 guest lifecycles per backend (soak_wasi_gpu) and
#     the 16-guest crowd. OFFLOAD_FUZZ_ITERS (default 4,000,000), OFFLOAD_SOAK_ITERS (10,000);
#     OFFLOAD_FUZZ_SEED replays a run (a failure prints its seed and call number).
#   Go host: OFFLOAD_SOAK_ITERS guest lifecycles per backend through the Go host API
#     (TestSoakWasiGPU, go-host/soak_test.go); go test -fuzz on FuzzWasiGPUImports and
#     FuzzVectorAPI, $1 each when given (a count such as 1000000x, or a duration such as
#     10m), else counts of about ten minutes each on a 2-core VM (400000x and 5000000x);
#     crashers land in go-host/testdata/fuzz/<Name>/. Counts are the default because Go
#     1.26's fuzz coordinator can fail a target with a bare "context deadline exceeded"
#     when a duration ends (golang/go#75804, fixed in Go 1.27).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-/tmp/offload-xdg}
mkdir -p "$XDG_RUNTIME_DIR"; chmod 700 "$XDG_RUNTIME_DIR"
t=${1:-}
echo "== Rust host: fuzz, soak, crowd (release)"
OFFLOAD_FUZZ_ITERS=${OFFLOAD_FUZZ_ITERS:-4000000} OFFLOAD_SOAK_ITERS=${OFFLOAD_SOAK_ITERS:-10000} \
  cargo test --release -p offload-host --test fuzz_wasi_gpu --test fuzz_parsers \
    --test soak_wasi_gpu --test crowd_wasi_gpu -- --nocapture --test-threads=1
bash scripts/build-capi.sh
echo "== Go host: soak, ${OFFLOAD_SOAK_ITERS:-10000} lifecycles per backend"
(cd go-host && OFFLOAD_SOAK_ITERS=${OFFLOAD_SOAK_ITERS:-10000} \
  go test -count=1 -timeout 60m -run '^TestSoakWasiGPU$' -v .)
for f in FuzzWasiGPUImports:400000x FuzzVectorAPI:5000000x; do
  name=${f%%:*}; n=${t:-${f#*:}}
  echo "== Go host: go test -fuzz $name, -fuzztime $n"
  (cd go-host && go test -run '^$' -fuzz "^$name\$" -fuzztime "$n" -fuzzminimizetime 10s .)
done
