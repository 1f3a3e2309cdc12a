#!/usr/bin/env bash
# Builds the parallel-for guest (wasm-modules/parallel-guest: offload-core's fast sum/dot,
# mul and scale as wasi_ephemeral_parallel kernels, wasm32-wasip1-threads, shared memory)
# into build/guests/parallel/parallel-rust.wasm, with build/guests/parallel/parallel-rust.json
# naming the compiler, the flags and the imports. Each kernel's GPU form
# (wasm-modules/parallel-guest/wgsl/<op>.wgsl behind wgsl/prelude.wgsl) is attached to the module by
# `offload attach-kernel` (a custom section keyed by the kernel's table index; $OFFLOAD_BIN
# when set, else `cargo run` of the host).
#
# It lives in a subfolder, not beside the vector guests in build/guests/, because everything
# that reads build/guests/*.wasm expects the vector-guest ABI there.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=scripts/guest-lib.sh
source "$root/scripts/guest-lib.sh"
out="$root/build/guests/parallel"
wasm="$out/parallel-rust.wasm"
guest_build offload-parallel-guest wasm32-wasip1-threads "$wasm"
wgsl="$root/wasm-modules/parallel-guest/wgsl"
shader=$(mktemp --suffix=.wgsl)
trap 'rm -f "$shader"' EXIT
for k in sum dot mul scale predict; do
  # prelude.wgsl (parameters, binding 0, block helpers) in front of each kernel.
  cat "$wgsl/prelude.wgsl" "$wgsl/$k.wgsl" > "$shader"
  guest_offload attach-kernel "$wasm" --kernel "${k}_kernel" --wgsl "$shader" -o "$wasm" >/dev/null
done
imports=$(guest_imports "$wasm")
cat > "$out/parallel-rust.json" <<JSON
{"path": "parallel-rust", "abi": "parallel-v1", "language": "rust", "compiler": "$guest_compiler", "flags": "$(guest_flags wasm32-wasip1-threads) --export=__stack_pointer --export-table --max-memory=4294967296", "simd128": true, "gpu_kernels": "wgsl/prelude.wgsl + wgsl/{sum,dot,mul,scale,predict}.wgsl", "imports": "$imports"}
JSON
echo "built $wasm ($guest_compiler; imports: $imports)"
