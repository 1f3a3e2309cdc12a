#!/usr/bin/env bash
# Builds the wasi:gpu demo guest (wasm-modules/gpu-guest, wit-bindgen, wasm32-wasip1, simd128):
#   build/guests/gpu-guest.core.wasm  the core module (what the Go host loads through its
#                                     canonical-ABI lowering of the wasi:gpu imports)
#   build/guests/gpu-guest.wasm       the same module wrapped as a component (wit-component
#                                     + the WASI preview1 reactor adapter; what `offload run`
#                                     and the Rust host's tests load)
# with gpu-guest.core.json and gpu-guest.json beside them. Their "abi" field keeps them out of
# the vector-guest tools that read build/guests/*.wasm (check-guest-exports.sh, `offload guests`).
#
# The wrapping runs `offload componentize`: $OFFLOAD_BIN when set, else `cargo run` of the host.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=scripts/guest-lib.sh
source "$root/scripts/guest-lib.sh"
build_wasi_gpu_guest offload-gpu-guest "$root/build/guests" gpu-guest "offload:gpu-guest/gpu-demo@0.1.0"
