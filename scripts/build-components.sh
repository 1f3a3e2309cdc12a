#!/usr/bin/env bash
# Builds the component-offload example (issue 7) into build/components/:
#   matrix-client.wasm, provider-cpu.wasm, provider-gpu.wasm  (Rust, wit-bindgen,
#     wasm32-wasip2 with simd128: cargo + wasm-component-ld emit components directly;
#     members of the guest workspace, built into its target folder wasm-modules/target)
#   composed-cpu.wasm = matrix-client plugged with provider-cpu
#   composed-gpu.wasm = matrix-client plugged with provider-gpu (imports wasi:gpu)
# The compositions are made by `offload compose` (built here if needed). Idempotent:
# cargo rebuilds only what changed; the compositions are rewritten each time (cheap).
# OFFLOAD_BIN may name an already built `offload` binary.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=scripts/guest-lib.sh
source "$root/scripts/guest-lib.sh"
out="$root/build/components"

for crate in matrix-client provider-cpu provider-gpu; do
  guest_build "offload-$crate" wasm32-wasip2 "$out/$crate.wasm"
  echo "built $out/$crate.wasm ($(wc -c <"$out/$crate.wasm") bytes)"
done

offload=${OFFLOAD_BIN:-}
if [ -z "$offload" ]; then
  (cd "$root" && cargo build --quiet --workspace --bin offload)
  offload="${CARGO_TARGET_DIR:-$root/target}/debug/offload"
fi
for p in cpu gpu; do
  "$offload" compose "$out/matrix-client.wasm" --plug "$out/provider-$p.wasm" -o "$out/composed-$p.wasm"
done
