#!/usr/bin/env bash
# Builds the wasi:webgpu kernel guest (wasm-modules/webgpu-guest, wit-bindgen, wasm32-wasip2
# with simd128: cargo + wasm-component-ld emit the component directly):
#   build/guests/webgpu-guest.wasm   the component (world offload:webgpu-guest/kernels;
#                                    imports wasi:webgpu@0.3.0-rc.2, the compute subset in
#                                    wasm-modules/wit/wasi-webgpu), what host/tests/wasi_webgpu.rs
#                                    and `offload webgpu` load
# with webgpu-guest.json beside it. Its "abi" field keeps it out of the vector-guest tools
# that read build/guests/*.wasm (check-guest-exports.sh, `offload guests`).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=scripts/guest-lib.sh
source "$root/scripts/guest-lib.sh"
out="$root/build/guests"
guest_build offload-webgpu-guest wasm32-wasip2 "$out/webgpu-guest.wasm" "${CARGO_TARGET_DIR:-$guest_target_dir}"
cat > "$out/webgpu-guest.json" <<JSON
{"path": "wasm-rust", "abi": "wasi-webgpu-component", "world": "offload:webgpu-guest/kernels@0.1.0", "language": "rust", "compiler": "$guest_compiler; wit-bindgen 0.57", "flags": "$(guest_flags wasm32-wasip2)", "simd128": true}
JSON
echo "built $out/webgpu-guest.wasm ($(wc -c <"$out/webgpu-guest.wasm") bytes)"
