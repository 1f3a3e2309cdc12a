#!/usr/bin/env bash
# Builds the second build of the C++ random-forest guest (cpp-guest/): the same forest
# (forest.cpp, trained in wasm on the CPU) with cpp-guest/webgpu_predict.cpp in place of
# guest.cpp, for world offload:forest-webgpu/forest-webgpu@0.1.0
# (wasm-modules/wit/forest-webgpu/): it predicts through wasi:webgpu with its own WGSL
# (cpp-guest/predict.wgsl, embedded as a C++ string literal):
#   build/guests/forest/forest-cpp-webgpu.core.wasm  the core module (wasm32-wasi preview1
#                                                    reactor)
#   build/guests/forest/forest-cpp-webgpu.wasm       the component (`offload componentize`,
#                                                    WASI preview1 reactor adapter; what
#                                                    `offload forest --path wasm-cpp
#                                                    --via wasi-webgpu` loads)
# with forest-cpp-webgpu.core.json and forest-cpp-webgpu.json beside them. Run by
# scripts/build-cpp-guest.sh after the wasi:gpu build; the toolchain is that script's
# (Debian clang-19 + libc++-19-dev-wasm32, `wit-bindgen c` 0.63). Generated files and
# objects go to build/cpp-guest-webgpu/. Writes through temporary files, so a failed build
# leaves the previous outputs in place.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
die() { echo "build-cpp-webgpu-guest: $*" >&2; exit 1; }
# shellcheck source=scripts/cpp-guest-lib.sh
source "$root/scripts/cpp-guest-lib.sh"
src="$root/cpp-guest"
out="$root/build/guests/forest"
gen="$root/build/cpp-guest-webgpu"
world="offload:forest-webgpu/forest-webgpu@0.1.0"
name=forest-cpp-webgpu

cpp_guest_toolchain
cpp_guest_bindings "$gen" "$out" forest-webgpu wasi-webgpu

# predict.wgsl as a raw string literal (webgpu_predict.cpp includes it).
grep -qF ')WGSL"' "$src/predict.wgsl" && die "cpp-guest/predict.wgsl contains the literal's delimiter )WGSL\""
{ printf 'R"WGSL('; cat "$src/predict.wgsl"; printf ')WGSL"\n'; } >"$gen/bindings/predict_wgsl.inc"

cpp_guest_compile "$gen" forest_webgpu forest webgpu_predict

tmp="$out/.$name.core.wasm.tmp"
ctmp="$out/.$name.wasm.tmp"
trap 'rm -f "$tmp" "$ctmp" "$out/.$name.core.json.tmp" "$out/.$name.json.tmp"' EXIT
cpp_guest_link "$tmp"
# Import modules once each (guest_imports' modules mode cuts at the last dot, which
# splits wasi:webgpu's names: cut after the versioned interface name instead).
imports=$(guest_imports "$tmp" names | tr ' ' '\n' |
  sed 's/^\([a-z-]*:[a-z-]*\/[a-z-]*@[0-9]*\.[0-9]*\.[0-9]*\(-[a-z]*\.[0-9]*\)\{0,1\}\)\..*$/\1/; s/^wasi_snapshot_preview1\..*$/wasi_snapshot_preview1/' |
  awk '!seen[$0]++' | paste -sd' ')
case " $imports " in *" wasi:webgpu/webgpu@0.3.0-rc.2 "*) ;; *) die "the built module does not import wasi:webgpu (imports: $imports)" ;; esac

cpp_guest_install "$gen" "$out" "$name" "$world" wasi-webgpu \
  "cpp-guest/ (forest.cpp, webgpu_predict.cpp, predict.wgsl)" "$imports" "$tmp" "$ctmp"
