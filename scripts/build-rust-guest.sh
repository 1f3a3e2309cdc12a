#!/usr/bin/env bash
# Builds the Rust vector guest (wasm-modules/rust-guest, no_std, wasm32-wasip1, simd128) into
# build/guests/wasm-rust.wasm, with build/guests/wasm-rust.json naming the compiler that built it.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=scripts/guest-lib.sh
source "$root/scripts/guest-lib.sh"
out="$root/build/guests"
guest_build offload-rust-guest wasm32-wasip1 "$out/wasm-rust.wasm"
cat > "$out/wasm-rust.json" <<JSON
{"path": "wasm-rust", "language": "rust", "compiler": "$guest_compiler", "flags": "$(guest_flags wasm32-wasip1)", "simd128": true, "abi": "vector-v2"}
JSON
echo "built $out/wasm-rust.wasm ($guest_compiler)"
