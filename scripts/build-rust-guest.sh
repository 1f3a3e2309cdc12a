#!/usr/bin/env bash
# Builds the Rust vector guest (wasm32-wasip1, simd128) into build/guests/wasm-rust.wasm,
# with build/guests/wasm-rust.json naming the compiler that built it.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out="$root/build/guests"; mkdir -p "$out"
(cd "$root/wasm-modules/rust-guest" && cargo build --release --quiet)
cp "$root/wasm-modules/rust-guest/target/wasm32-wasip1/release/offload_rust_guest.wasm" "$out/wasm-rust.wasm"
cat > "$out/wasm-rust.json" <<JSON
{"path": "wasm-rust", "language": "rust", "compiler": "$(rustc --version)", "flags": "--target wasm32-wasip1 -C target-feature=+simd128 -C opt-level=3 lto", "simd128": true, "abi": "vector-v2"}
JSON
echo "built $out/wasm-rust.wasm ($(rustc --version))"
