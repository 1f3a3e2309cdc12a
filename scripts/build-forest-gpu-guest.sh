#!/usr/bin/env bash
# Builds the random-forest guest of wasi:gpu (wasm-modules/forest-gpu-guest: offload-core's
# Forest::fit_on / predict_on on a GpuBackend made of wasi:gpu imports; world
# offload:forest-gpu/forest-gpu, wit-bindgen, wasm32-wasip1):
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
out="$root/build/guests/forest"; mkdir -p "$out"
crate="$root/wasm-modules/forest-gpu-guest"
target=${CARGO_TARGET_DIR:-$crate/target}
(cd "$crate" && CARGO_TARGET_DIR="$target" cargo build --release --quiet)
core="$out/forest-gpu.core.wasm"
cp "$target/wasm32-wasip1/release/offload_forest_gpu_guest.wasm" "$core"
imports="not checked (wasm-objdump not found; run scripts/setup.sh)"
if command -v wasm-objdump >/dev/null; then
  imports=$({ wasm-objdump -x -j Import "$core" 2>/dev/null || true; } | awk '/<- / { m = $NF; sub(/\.[^.]*$/, "", m); if (!(m in seen)) { seen[m]; printf "%s%s", (n++ ? " " : ""), m } }')
  imports=${imports:-none}
fi
compiler="$(rustc --version); wit-bindgen 0.57"
world="offload:forest-gpu/forest-gpu@0.1.0"
cat > "$out/forest-gpu.core.json" <<JSON
{"path": "wasm-rust", "abi": "wasi-gpu-core", "world": "$world", "language": "rust", "compiler": "$compiler", "flags": "--target wasm32-wasip1 -C opt-level=3 lto codegen-units=1 panic=abort", "simd128": false, "imports": "$imports"}
JSON
if [ -n "${OFFLOAD_BIN:-}" ]; then
  "$OFFLOAD_BIN" componentize "$core" -o "$out/forest-gpu.wasm"
else
  (cd "$root" && cargo run --quiet -p offload-host --bin offload -- componentize "$core" -o "$out/forest-gpu.wasm")
fi
cat > "$out/forest-gpu.json" <<JSON
{"path": "wasm-rust", "abi": "wasi-gpu-component", "world": "$world", "language": "rust", "compiler": "$compiler", "flags": "forest-gpu.core.wasm + wit-component, WASI preview1 reactor adapter", "simd128": false}
JSON
echo "built $core and $out/forest-gpu.wasm ($compiler; core imports: $imports)"
