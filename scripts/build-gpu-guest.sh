#!/usr/bin/env bash
# Builds the wasi:gpu demo guest (wasm-modules/gpu-guest, wit-bindgen, wasm32-wasip1):
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
out="$root/build/guests"; mkdir -p "$out"
crate="$root/wasm-modules/gpu-guest"
target=${CARGO_TARGET_DIR:-$crate/target}
(cd "$crate" && CARGO_TARGET_DIR="$target" cargo build --release --quiet)
core="$out/gpu-guest.core.wasm"
cp "$target/wasm32-wasip1/release/offload_gpu_guest.wasm" "$core"
imports="not checked (wasm-objdump not found; run scripts/setup.sh)"
if command -v wasm-objdump >/dev/null; then
  imports=$({ wasm-objdump -x -j Import "$core" 2>/dev/null || true; } | awk '/<- / { m = $NF; sub(/\.[^.]*$/, "", m); if (!(m in seen)) { seen[m]; printf "%s%s", (n++ ? " " : ""), m } }')
  imports=${imports:-none}
fi
compiler="$(rustc --version); wit-bindgen 0.57"
cat > "$out/gpu-guest.core.json" <<JSON
{"path": "wasm-rust", "abi": "wasi-gpu-core", "world": "offload:gpu-guest/gpu-demo@0.1.0", "language": "rust", "compiler": "$compiler", "flags": "--target wasm32-wasip1 -C target-feature=+simd128 -C opt-level=3 lto codegen-units=1 panic=abort", "simd128": true, "imports": "$imports"}
JSON
if [ -n "${OFFLOAD_BIN:-}" ]; then
  "$OFFLOAD_BIN" componentize "$core" -o "$out/gpu-guest.wasm"
else
  (cd "$root" && cargo run --quiet -p offload-host --bin offload -- componentize "$core" -o "$out/gpu-guest.wasm")
fi
cat > "$out/gpu-guest.json" <<JSON
{"path": "wasm-rust", "abi": "wasi-gpu-component", "world": "offload:gpu-guest/gpu-demo@0.1.0", "language": "rust", "compiler": "$compiler", "flags": "gpu-guest.core.wasm + wit-component, WASI preview1 reactor adapter", "simd128": true}
JSON
echo "built $core and $out/gpu-guest.wasm ($compiler; core imports: $imports)"
