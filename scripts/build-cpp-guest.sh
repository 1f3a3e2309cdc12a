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
# with forest-cpp.core.json and forest-cpp.json beside them.
#
# Toolchain: Debian's clang-19 (clang++-19, wasm-ld) with libc++-19-dev-wasm32,
# libclang-rt-19-dev-wasm32 and wasi-libc; bindings by `wit-bindgen c` 0.63 (its C source,
# header and the component-type object, linked in so that componentize finds the world).
# Generated files and objects go to build/cpp-guest/. The wrapping runs `offload
# componentize`: $OFFLOAD_BIN when set, else `cargo run` of the host. Writes through
# temporary files, so a failed build leaves the previous outputs in place.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=scripts/guest-lib.sh
source "$root/scripts/guest-lib.sh"
src="$root/cpp-guest"
out="$root/build/guests/forest"
gen="$root/build/cpp-guest"
world="offload:forest-gpu/forest-gpu@0.1.0"

die() { echo "build-cpp-guest: $*" >&2; exit 1; }
CXX=${CXX_WASM:-clang++-19}
CC=${CC_WASM:-clang-19}
command -v "$CXX" >/dev/null || die "$CXX not found (apt packages clang-19 libc++-19-dev-wasm32 libclang-rt-19-dev-wasm32 wasi-libc; run scripts/setup.sh)"
command -v "$CC" >/dev/null || die "$CC not found (apt package clang-19; run scripts/setup.sh)"
command -v wit-bindgen >/dev/null || die "wit-bindgen not found (cargo install --locked wit-bindgen-cli --version 0.63.0; run scripts/setup.sh)"
command -v wasm-objdump >/dev/null || die "wasm-objdump not found (apt package wabt; run scripts/setup.sh)"
wbv=$(wit-bindgen --version | awk '{print $2}')
case "$wbv" in 0.63.*) ;; *) die "wit-bindgen $wbv found, 0.63 needed (run scripts/setup.sh)" ;; esac

# The world and its wasi:gpu dependency as one WIT folder (deps/ resolves the include).
rm -rf "$gen/wit" "$gen/bindings" "$gen/obj"
mkdir -p "$gen/wit/deps/wasi-gpu" "$gen/bindings" "$gen/obj" "$out"
cp "$root/wasm-modules/wit/forest-gpu/world.wit" "$gen/wit/"
cp "$root/wasm-modules/wit/wasi-gpu/"*.wit "$gen/wit/deps/wasi-gpu/"
wit-bindgen c --out-dir "$gen/bindings" --world forest-gpu "$gen/wit" >"$gen/wit-bindgen.log" 2>&1 ||
  { cat "$gen/wit-bindgen.log" >&2; die "wit-bindgen c failed"; }

# -mexec-model=reactor: a library module with _initialize (run by both hosts), no _start.
# -fno-exceptions -fno-rtti: every error is a returned string (each export returns err).
common=(--target=wasm32-wasi -O3 -msimd128 -Wall -Wextra -Werror)
cxxflags=("${common[@]}" -std=c++17 -fno-exceptions -fno-rtti -I"$gen/bindings")
cflags=("${common[@]}" -std=c11)  # the generated bindings
ldflags=(--target=wasm32-wasi -mexec-model=reactor -fno-exceptions -Wl,--strip-debug)
objs=()
for f in forest guest; do
  "$CXX" "${cxxflags[@]}" -c "$src/$f.cpp" -o "$gen/obj/$f.o"
  objs+=("$gen/obj/$f.o")
done
"$CC" "${cflags[@]}" -c "$gen/bindings/forest_gpu.c" -o "$gen/obj/forest_gpu.o"
objs+=("$gen/obj/forest_gpu.o" "$gen/bindings/forest_gpu_component_type.o")

core="$out/forest-cpp.core.wasm"
tmp="$out/.forest-cpp.core.wasm.tmp"
ctmp="$out/.forest-cpp.wasm.tmp"
trap 'rm -f "$tmp" "$ctmp"' EXIT
"$CXX" "${ldflags[@]}" -o "$tmp" "${objs[@]}"

for e in fit predict trees cabi_realloc _initialize memory; do
  wasm-objdump -x -j Export "$tmp" | grep -qF -- "-> \"$e\"" || die "the built module lacks export $e"
done
imports=$(guest_imports "$tmp" modules)

guest_offload componentize "$tmp" -o "$ctmp" >/dev/null

# json STRING: STRING as a JSON string literal (escapes backslashes and double quotes).
json() { local s=${1//\\/\\\\}; printf '"%s"' "${s//\"/\\\"}"; }
compiler="$("$CXX" --version | head -n1); libc++ 19 (libc++-19-dev-wasm32), wasi-libc; wit-bindgen $wbv (c)"
flags="${cxxflags[*]/-I$gen\/bindings/-Ibuild/cpp-guest/bindings}; link: ${ldflags[*]}"
cat > "$out/.forest-cpp.core.json.tmp" <<JSON
{"path": "wasm-cpp", "abi": "wasi-gpu-core", "world": "$world", "language": "c++", "compiler": $(json "$compiler"), "flags": $(json "$flags"), "simd128": true, "imports": $(json "$imports"), "source": "cpp-guest/"}
JSON
cat > "$out/.forest-cpp.json.tmp" <<JSON
{"path": "wasm-cpp", "abi": "wasi-gpu-component", "world": "$world", "language": "c++", "compiler": $(json "$compiler"), "flags": "forest-cpp.core.wasm + wit-component, WASI preview1 reactor adapter", "simd128": true, "source": "cpp-guest/"}
JSON
mv "$tmp" "$core"
mv "$ctmp" "$out/forest-cpp.wasm"
mv "$out/.forest-cpp.core.json.tmp" "$out/forest-cpp.core.json"
mv "$out/.forest-cpp.json.tmp" "$out/forest-cpp.json"
echo "built $core ($(stat -c %s "$core") bytes) and $out/forest-cpp.wasm ($(stat -c %s "$out/forest-cpp.wasm") bytes; core imports: $imports)"
