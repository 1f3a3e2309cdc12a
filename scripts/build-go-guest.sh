#!/usr/bin/env bash
# Builds the Go vector guest (tinygo-guest/) into build/guests/wasm-go.wasm, with
# build/guests/wasm-go.json saying which compiler built it and why:
#   {"path", "language", "compiler" (`tinygo version` or `go version`), "compiler_choice",
#    "flags", "simd128" (whether the built sum_simd and dot_simd really contain v128
#    instructions), "imports" (module names), "initialize" (the reactor export a host
#    calls first), "abi" ("vector-v2")}
#
# Compiler: TinyGo when `tinygo` is on PATH (-target=wasip1 -buildmode=c-shared, panics
# compiled to `unreachable` by -panic=trap); otherwise Go's own port (GOOS=wasip1
# GOARCH=wasm -buildmode=c-shared, Go >= 1.24 for //go:wasmexport). Either way the module
# is a WASI preview 1 reactor: the host links WASI and calls `_initialize` once before any
# ABI function. OFFLOAD_GO_GUEST_COMPILER=go forces Go's port even when tinygo is present.
# NOTE: the TinyGo branch has not been run (no tinygo where it was written).
#
# Go's build cache makes an unchanged rebuild take a fraction of a second, so this always
# builds; outputs are written through temporary files.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out="$root/build/guests"; mkdir -p "$out"
src="$root/tinygo-guest"

die() { echo "build-go-guest: $*" >&2; exit 1; }
command -v wasm-objdump >/dev/null || die "wasm-objdump not found (apt package wabt; run scripts/setup.sh)"

tmp="$out/.wasm-go.wasm.tmp"
trap 'rm -f "$tmp" "$out/.wasm-go.json.tmp"' EXIT

if command -v tinygo >/dev/null && [ "${OFFLOAD_GO_GUEST_COMPILER:-}" != go ]; then
  flags=(-target=wasip1 -buildmode=c-shared -opt=2 -no-debug -panic=trap -scheduler=none)
  compiler=$(tinygo version)
  choice="tinygo on PATH ($(command -v tinygo)): built with TinyGo"
  (cd "$src" && tinygo build "${flags[@]}" -o "$tmp" .)
  shown_flags="tinygo build ${flags[*]}"
else
  command -v go >/dev/null || die "neither tinygo nor go found: Go >= 1.24 is needed (scripts/setup.sh checks it)"
  if command -v tinygo >/dev/null; then
    choice="OFFLOAD_GO_GUEST_COMPILER=go: built with Go's wasip1 port although tinygo is on PATH"
  else
    choice="tinygo not on PATH: built with Go's wasip1 port"
  fi
  flags=(-buildmode=c-shared -trimpath)
  compiler=$(go version)
  (cd "$src" && GOOS=wasip1 GOARCH=wasm go build "${flags[@]}" -o "$tmp" .)
  shown_flags="GOOS=wasip1 GOARCH=wasm go build ${flags[*]}"
fi

simd=true
for e in sum_simd dot_simd; do
  [ "$(bash "$root/scripts/check-guest-exports.sh" --uses-simd "$tmp" "$e")" = true ] || simd=false
done
imports=$({ wasm-objdump -x -j Import "$tmp" 2>/dev/null || true; } | awk '/<- / { m = $NF; sub(/\..*/, "", m); print m }' | sort -u)
init=null
wasm-objdump -x -j Export "$tmp" | grep -q -- '-> "_initialize"$' && init='"_initialize"'

# json STRING: STRING as a JSON string literal (escapes backslashes and double quotes).
json() { local s=${1//\\/\\\\}; printf '"%s"' "${s//\"/\\\"}"; }
imports_json=$(for m in $imports; do json "$m"; echo; done | paste -sd, -)
cat > "$out/.wasm-go.json.tmp" <<JSON
{"path": "wasm-go", "language": "go", "compiler": $(json "$compiler"), "compiler_choice": $(json "$choice"), "flags": $(json "$shown_flags"), "simd128": $simd, "imports": [$imports_json], "initialize": $init, "abi": "vector-v2", "source": "tinygo-guest"}
JSON
mv "$tmp" "$out/wasm-go.wasm"
mv "$out/.wasm-go.json.tmp" "$out/wasm-go.json"
echo "built $out/wasm-go.wasm ($(stat -c %s "$out/wasm-go.wasm") bytes; $choice; $compiler; simd128: $simd)"
