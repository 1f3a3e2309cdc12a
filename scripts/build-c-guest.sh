#!/usr/bin/env bash
# Builds the C vector guest (c-guest/vector.c) with Debian's clang and lld into
# build/guests/wasm-c.wasm, with build/guests/wasm-c.json naming the compiler that built it:
#   {"path", "language", "compiler" (clang's version line), "flags", "simd128" (whether the
#    built sum_simd and dot_simd really contain v128 instructions), "imports" (module
#    names), "initialize", "abi" ("vector-v2")}
# Freestanding (no libc, no WASI): the module imports nothing and exports only ABI v2.
# Always rebuilds (well under a second); writes through temporary files, so a failed build
# leaves the previous outputs in place.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out="$root/build/guests"; mkdir -p "$out"
src="$root/c-guest/vector.c"

die() { echo "build-c-guest: $*" >&2; exit 1; }
command -v clang >/dev/null || die "clang not found (apt package clang; run scripts/setup.sh)"
command -v wasm-ld >/dev/null || die "wasm-ld not found (apt package lld; run scripts/setup.sh)"
command -v wasm-objdump >/dev/null || die "wasm-objdump not found (apt package wabt; run scripts/setup.sh)"

# -nostdlib / --no-entry: a freestanding library module with no _start.
# --stack-first: the 64 KiB shadow stack sits below the data, so an overflow faults at
#   address 0 instead of running into the buffers (the C code uses no stack, but be safe).
# No -ffast-math and -ffp-contract=off: strict IEEE-754, so `sum` and `dot` add left to
#   right with every product rounded (the strict family; no fused multiply-add).
flags=(--target=wasm32 -nostdlib -O3 -msimd128 -ffp-contract=off -std=c11 -Wall -Wextra -Werror
       -Wl,--no-entry -Wl,--stack-first -Wl,-z,stack-size=65536)
compiler=$(clang --version | head -n1)

tmp="$out/.wasm-c.wasm.tmp"
trap 'rm -f "$tmp" "$out/.wasm-c.json.tmp"' EXIT
clang "${flags[@]}" -o "$tmp" "$src"

simd=true
for e in sum_simd dot_simd; do
  [ "$(bash "$root/scripts/check-guest-exports.sh" --uses-simd "$tmp" "$e")" = true ] ||
    die "the built $e contains no simd128 instructions (flags: ${flags[*]})"
done
imports=$({ wasm-objdump -x -j Import "$tmp" 2>/dev/null || true; } | awk '/<- / { m = $NF; sub(/\..*/, "", m); print m }' | sort -u)
[ -z "$imports" ] || die "the C guest must import nothing, but imports from: $imports"

# json STRING: STRING as a JSON string literal (escapes backslashes and double quotes).
json() { local s=${1//\\/\\\\}; printf '"%s"' "${s//\"/\\\"}"; }
cat > "$out/.wasm-c.json.tmp" <<JSON
{"path": "wasm-c", "language": "c", "compiler": $(json "$compiler"), "flags": $(json "${flags[*]}"), "simd128": $simd, "imports": [], "initialize": null, "abi": "vector-v2", "source": "c-guest/vector.c"}
JSON
mv "$tmp" "$out/wasm-c.wasm"
mv "$out/.wasm-c.json.tmp" "$out/wasm-c.json"
echo "built $out/wasm-c.wasm ($(stat -c %s "$out/wasm-c.wasm") bytes, $compiler, simd128: $simd)"
