#!/usr/bin/env bash
# Builds the random-forest guest of wasi:gpu (wasm-modules/forest-gpu-guest: offload-core's
# Forest::fit_on / predict_on on a GpuBackend made of wasi:gpu imports; world
# offload:forest-gpu/forest-gpu, wit-bindgen, wasm32-wasip1, simd128):
#   build/guests/forest/forest-gpu.core.wasm  the core module (what the Go host loads through
#                                             its canonical-ABI lowering of the imports)
#   build/guests/forest/forest-gpu.wasm       the same module wrapped as a component
#                                             (wit-component + the WASI preview1 reactor
#                                             adapter; what `offload forest --path wasm
#                                             --backend wgpu|cuda` and the Rust host load)
# with forest-gpu.core.json and forest-gpu.json beside them. In build/guests/forest/, not
# build/guests/, because the vector-guest tools read build/guests/*.wasm.
#
# The wrapping runs `offload componentize`: $OFFLOAD_BIN when set, else `cargo run` of the host.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=scripts/guest-lib.sh
source "$root/scripts/guest-lib.sh"
build_wasi_gpu_guest offload-forest-gpu-guest "$root/build/guests/forest" forest-gpu \
  "offload:forest-gpu/forest-gpu@0.1.0"
