#!/usr/bin/env bash
# Builds the C++ random-forest guest (cpp-guest/: CART, squared error, bootstrap; trains in
# wasm on the CPU, predicts through wasi:gpu's kernel-batch-predict) for world
# offload:forest-gpu/forest-gpu@0.1.0, the world of the Rust forest-gpu guest:
#   build/guests/forest/forest-cpp.core.wasm  the core module (wasm32-wasi preview1 reactor;
#                                             what the Go host loads)
#   build/guests/forest/forest-cpp.wasm       the same module wrapped as a component by
#                                             `offload componentize` (WASI preview1 reactor
#                                             adapter; what the Rust host and
#                                             `offload forest --path wasm-cpp` load)
# with forest-cpp.core.json and forest-cpp.json beside them; then runs
# scripts/build-cpp-webgpu-guest.sh for the same forest's wasi:webgpu build
# (build/guests/forest/forest-cpp-webgpu.wasm, its own WGSL).
#
# Toolchain: Debian's clang-19 (clang++-19, wasm-ld) with libc++-19-dev-wasm32,
# libclang-rt-19-dev-wasm32 and wasi-libc; bindings by `wit-bindgen c` 0.63 (its C source,
# header and the component-type object, linked in so that componentize finds the world).
# Generated files and objects go to build/cpp-guest/. The wrapping runs `offload
# componentize`: $OFFLOAD_BIN when set, else `cargo run` of the host. Writes through
# temporary files, so a failed build leaves the previous outputs in place.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=scripts/cpp-guest-lib.sh
source "$root/scripts/cpp-guest-lib.sh"
out="$root/build/guests/forest"
gen="$root/build/cpp-guest"
world="offload:forest-gpu/forest-gpu@0.1.0"

die() { echo "build-cpp-guest: $*" >&2; exit 1; }
cpp_guest_toolchain
cpp_guest_bindings "$gen" "$out" forest-gpu wasi-gpu
cpp_guest_compile "$gen" forest_gpu forest guest

tmp="$out/.forest-cpp.core.wasm.tmp"
ctmp="$out/.forest-cpp.wasm.tmp"
trap 'rm -f "$tmp" "$ctmp"' EXIT
cpp_guest_link "$tmp"
imports=$(guest_imports "$tmp" modules)

cpp_guest_install "$gen" "$out" forest-cpp "$world" wasi-gpu "cpp-guest/" "$imports" "$tmp" "$ctmp"

# The wasi:webgpu build of the same forest (world offload:forest-webgpu/forest-webgpu).
bash "$root/scripts/build-cpp-webgpu-guest.sh"
