#!/usr/bin/env bash
# Runs every test suite: cargo test over the workspace, then go test in go-host.
# The guests must already be built (./build.sh test does that first).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-/tmp/offload-xdg}
mkdir -p "$XDG_RUNTIME_DIR"; chmod 700 "$XDG_RUNTIME_DIR"
echo "== guest exports"
bash scripts/check-guest-exports.sh build/guests
echo "== go test (tinygo-guest, native)"
(cd tinygo-guest && go test -count=1 ./... 2>&1)
echo "== components (matrix client, providers, compositions: host/tests/compose.rs needs them)"
bash scripts/build-components.sh
echo "== cargo test (workspace)"
cargo test --workspace 2>&1
echo "== Rust host reliability, with their figures: short fuzz pass, scaled-down soak, crowd, deadlines (issue 19)"
# --workspace, as above: the same feature set, so the test binaries built there are reused
# (with -p offload-host, features resolve differently and every one is built again).
cargo test --workspace --test fuzz_wasi_gpu --test fuzz_parsers --test soak_wasi_gpu --test crowd_wasi_gpu --test deadlines -- --nocapture --test-threads=1 2>&1
echo "== cargo test (offload-core GPU backends: wgpu runs on Mesa lavapipe without a GPU; cuda is skipped, with the reason, without a driver)"
cargo test -p offload-core --features wgpu,cuda --test gpu --test ml_kernels -- --nocapture --test-threads=1 2>&1
if [ -f go-host/go.mod ]; then
  bash scripts/build-capi.sh
  echo "== go test (go-host)"
  (cd go-host && go test -count=1 ./... 2>&1)
  echo "== go test -race (16 goroutines on one instance, and on a pool; go-par's chunking; 16 wasi:gpu guests on one device)"
  (cd go-host && go test -count=1 -race -run '^(TestConcurrent.*|TestGoPar.*|TestParSplit.*)$' ./... 2>&1)
  # Counts, not durations: Go 1.26's fuzz coordinator can report a bare "context deadline
  # exceeded" failure, with no crasher, when a -fuzztime duration ends (golang/go#75804,
  # fixed in Go 1.27); a count has no deadline to race. About 5 s each on a 2-core VM.
  echo "== go fuzz, short pass (FuzzWasiGPUImports ${OFFLOAD_FUZZ_GPU_EXECS:-3000}x, FuzzVectorAPI ${OFFLOAD_FUZZ_VEC_EXECS:-20000}x; ./build.sh fuzz runs them long)"
  (cd go-host && go test -run '^$' -fuzz '^FuzzWasiGPUImports$' -fuzztime "${OFFLOAD_FUZZ_GPU_EXECS:-3000}x" . 2>&1)
  (cd go-host && go test -run '^$' -fuzz '^FuzzVectorAPI$' -fuzztime "${OFFLOAD_FUZZ_VEC_EXECS:-20000}x" . 2>&1)
fi
