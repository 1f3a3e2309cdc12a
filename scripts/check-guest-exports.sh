#!/usr/bin/env bash
# Checks that every vector guest in a directory exports the vector-guest ABI v2 (README.md,
# "The vector guest ABI": v1's exports plus dot_simd) with the right WebAssembly
# signatures, reading each module with wabt's wasm-objdump. (abi_version() itself is
# checked by the hosts, which run the module; this script only reads it.)
#
#   scripts/check-guest-exports.sh [dir]             dir defaults to build/guests; checks dir/*.wasm
#   scripts/check-guest-exports.sh --uses-simd FILE EXPORT
#                                                    prints true when the function exported as
#                                                    EXPORT, or a function it calls (two levels
#                                                    deep), contains 128-bit SIMD (v128) instructions
#
# Prints one line per guest: "<name>: ok (...)" or "<name>: FAIL (...)", listing the imports
# (by module), and any exports beyond the ABI (a reactor's `_initialize` () -> nil is allowed
# and named). Exits 1 when any guest lacks an ABI export or has one with the wrong kind or
# signature, 2 on usage errors or when there is no guest to check.
set -euo pipefail

command -v wasm-objdump >/dev/null || { echo "check-guest-exports: wasm-objdump (wabt) not found; run scripts/setup.sh" >&2; exit 2; }

# ABI v2: export name -> expected signature as wasm-objdump prints it ("memory" for the memory).
declare -A abi=(
  [memory]=memory
  [abi_version]="() -> i32"
  [get_capacity]="() -> i32"
  [get_buffer_a_offset]="() -> i32"
  [get_buffer_b_offset]="() -> i32"
  [get_result_offset]="() -> i32"
  [sum]="(i32) -> f64"
  [dot]="(i32) -> f64"
  [mul]="(i32) -> nil"
  [scale]="(f64, i32) -> nil"
  [sum_simd]="(i32) -> f64"
  [dot_simd]="(i32) -> f64"
)
abi_order=(memory abi_version get_capacity get_buffer_a_offset get_buffer_b_offset get_result_offset sum dot mul scale sum_simd dot_simd)

# exports FILE: prints "name<TAB>signature" per export, the signature being "memory", "table",
# "global" or the function type "(params) -> results".
exports() {
  wasm-objdump -x "$1" 2>/dev/null | awk '
    /^[A-Z][A-Za-z]*(\[[0-9]+\])?:/ { sec = $1; sub(/[\[:].*/, "", sec); next }
    sec == "Type" && /^ - type\[/ {
      t = $2; gsub(/[^0-9]/, "", t); sig = $0; sub(/^ - type\[[0-9]+\] /, "", sig); types[t] = sig; next }
    (sec == "Import" || sec == "Function") && /^ - func\[/ {
      f = $2; gsub(/[^0-9]/, "", f); s = $3; sub(/^sig=/, "", s); fsig[f] = s; next }
    sec == "Export" && /^ - / {
      name = $0; sub(/.*-> "/, "", name); sub(/"$/, "", name)
      kind = $2; sub(/\[.*/, "", kind)
      if (kind == "func") { f = $2; gsub(/[^0-9]/, "", f); printf "%s\t%s\n", name, types[fsig[f]] }
      else printf "%s\t%s\n", name, kind
    }'
}

# uses_simd FILE EXPORT: "true" when EXPORT's function or its callees (two levels, by name)
# contain a v128 / f64x2 / ... SIMD instruction, else "false".
uses_simd() {
  local file=$1 export=$2 root_idx
  # Export lines read ` - func[6] <sum_simd> -> "sum_simd"`; work with function indices, so
  # modules without a name section are handled too.
  root_idx=$(wasm-objdump -x -j Export "$file" | awk -v e="$export" '$2 ~ /^func\[/ && $0 ~ "-> \"" e "\"$" { n = $2; gsub(/[^0-9]/, "", n); print n; exit }')
  [ -n "$root_idx" ] || { echo "check-guest-exports: $file exports no function $export" >&2; return 2; }
  wasm-objdump -d "$file" | { grep -E '^[0-9a-f]+ func\[| call [0-9]+|\| *(v128|[if](8|16|32|64)x[0-9]+)\.' || true; } | awk -v root="$root_idx" '
    /^[0-9a-f]+ func\[[0-9]+\]/ { cur = $2; gsub(/[^0-9]/, "", cur); next }
    cur != "" && / call [0-9]+/ { c = $0; sub(/.* call /, "", c); sub(/[^0-9].*/, "", c); calls[cur] = calls[cur] " " c }
    cur != "" && /\| *(v128|[if](8|16|32|64)x[0-9]+)\./ { simd[cur] = 1 }
    END {
      found = simd[root]
      n = split(calls[root], l1, " ")
      for (i = 1; i <= n; i++) {
        if (simd[l1[i]]) found = 1
        m = split(calls[l1[i]], l2, " ")
        for (j = 1; j <= m; j++) if (simd[l2[j]]) found = 1
      }
      print (found ? "true" : "false")
    }'
}

# join SEP ITEM...: prints the items separated by SEP.
join() { local sep=$1 out=""; shift; for x in "$@"; do out+="${out:+$sep}$x"; done; printf '%s' "$out"; }

if [ "${1:-}" = "--uses-simd" ]; then
  [ $# -eq 3 ] || { sed -n '7,11p' "$0" >&2; exit 2; }
  [ -f "$2" ] || { echo "check-guest-exports: no such file: $2" >&2; exit 2; }
  uses_simd "$2" "$3"
  exit
fi

root=$(cd "$(dirname "$0")/.." && pwd)
dir=${1:-$root/build/guests}
[ -d "$dir" ] || { echo "check-guest-exports: no such directory: $dir" >&2; exit 2; }
shopt -s nullglob
files=("$dir"/*.wasm)
[ ${#files[@]} -gt 0 ] || { echo "check-guest-exports: no .wasm files in $dir" >&2; exit 2; }

status=0
for f in "${files[@]}"; do
  name=$(basename "$f" .wasm)
  # Guests of another ABI that live here too (the wasi:gpu demo guest: "abi": "wasi-gpu-...")
  # say so in their metadata and are not vector guests.
  if [ -f "$dir/$name.json" ] && abi=$(grep -o '"abi": *"[^"]*"' "$dir/$name.json") && [[ $abi != *'"vector'* ]]; then
    echo "$name: skipped (not a vector guest: $abi)"; continue
  fi
  if ! wasm-objdump -h "$f" >/dev/null 2>&1; then
    echo "$name: FAIL (not a readable wasm module)"; status=1; continue
  fi
  declare -A got=()
  while IFS=$'\t' read -r ename esig; do got[$ename]=$esig; done < <(exports "$f")
  problems=() extras=()
  for e in "${abi_order[@]}"; do
    if [ -z "${got[$e]+x}" ]; then problems+=("missing $e")
    elif [ "${got[$e]}" != "${abi[$e]}" ]; then problems+=("$e is ${got[$e]}, want ${abi[$e]}")
    fi
  done
  for e in "${!got[@]}"; do
    [ -n "${abi[$e]+x}" ] && continue
    if [ "$e" = "_initialize" ] && [ "${got[$e]}" = "() -> nil" ]; then extras+=("_initialize (reactor)")
    else extras+=("$e: ${got[$e]}"); fi
  done
  imports=$({ wasm-objdump -x -j Import "$f" 2>/dev/null || true; } | awk '/<- / { m = $NF; sub(/\..*/, "", m); c[m]++ } END { for (m in c) printf "%s%s x%d", (n++ ? ", " : ""), m, c[m] }')
  detail="imports: ${imports:-none}"
  [ ${#extras[@]} -eq 0 ] || detail+="; extra exports: $(join ", " "${extras[@]}")"
  if [ ${#problems[@]} -eq 0 ]; then
    echo "$name: ok (ABI v2 exports; $detail)"
  else
    echo "$name: FAIL ($(join "; " "${problems[@]}"); $detail)"; status=1
  fi
  unset got
done
exit $status
