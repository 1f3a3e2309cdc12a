#!/usr/bin/env bash
# Builds the random-forest guest (wasm-modules/forest-guest: offload-core's forest behind the
# forest_* ABI, wasm32-wasip1) into build/guests/forest/forest-rust.wasm, with
# build/guests/forest/forest-rust.json naming the compiler, the flags and the imports.
#
# It lives in a subfolder, not beside the vector guests in build/guests/, because everything
# that reads build/guests/*.wasm (scripts/check-guest-exports.sh, `offload guests`, the vector
# benches) expects the vector-guest ABI v1 there.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out="$root/build/guests/forest"; mkdir -p "$out"
(cd "$root/wasm-modules/forest-guest" && cargo build --release --quiet)
wasm="$out/forest-rust.wasm"
cp "$root/wasm-modules/forest-guest/target/wasm32-wasip1/release/offload_forest_guest.wasm" "$wasm"
imports="not checked (wasm-objdump not found; run scripts/setup.sh)"
if command -v wasm-objdump >/dev/null; then
  imports=$({ wasm-objdump -x -j Import "$wasm" 2>/dev/null || true; } | awk '/<- / { printf "%s%s", (n++ ? " " : ""), $NF }')
  imports=${imports:-none}
fi
cat > "$out/forest-rust.json" <<JSON
{"path": "wasm-rust", "abi": "forest-v1", "language": "rust", "compiler": "$(rustc --version)", "flags": "--target wasm32-wasip1 -C opt-level=3 lto codegen-units=1 panic=abort", "simd128": false, "imports": "$imports"}
JSON
echo "built $wasm ($(rustc --version); imports: $imports)"
