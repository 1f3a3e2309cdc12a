#!/usr/bin/env bash
# Builds the random-forest guest (wasm-modules/forest-guest: offload-core's forest behind the
# forest_* ABI, wasm32-wasip1, simd128) into build/guests/forest/forest-rust.wasm, with
# build/guests/forest/forest-rust.json naming the compiler, the flags and the imports.
#
# It lives in a subfolder, not beside the vector guests in build/guests/, because everything
# that reads build/guests/*.wasm (scripts/check-guest-exports.sh, `offload guests`, the vector
# benches) expects the vector-guest ABI v1 there.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=scripts/guest-lib.sh
source "$root/scripts/guest-lib.sh"
out="$root/build/guests/forest"
wasm="$out/forest-rust.wasm"
guest_build offload-forest-guest wasm32-wasip1 "$wasm"
imports=$(guest_imports "$wasm")
cat > "$out/forest-rust.json" <<JSON
{"path": "wasm-rust", "abi": "forest-v1", "language": "rust", "compiler": "$guest_compiler", "flags": "$(guest_flags wasm32-wasip1)", "simd128": true, "imports": "$imports"}
JSON
echo "built $wasm ($guest_compiler; imports: $imports)"
