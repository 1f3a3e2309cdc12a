# Sourced by the builds of the C++ forest guest (build-cpp-guest.sh: wasi:gpu;
# build-cpp-webgpu-guest.sh: wasi:webgpu): the steps the two builds share. Sources
# scripts/guest-lib.sh (guest_imports, guest_offload) for them. The caller sets $root (the
# repository) and defines die (message, exit 1).
#
# Toolchain: Debian's clang-19 (clang++-19, wasm-ld) with libc++-19-dev-wasm32,
# libclang-rt-19-dev-wasm32 and wasi-libc; bindings by `wit-bindgen c` 0.63.

# shellcheck source=scripts/guest-lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/guest-lib.sh"

# cpp_guest_toolchain
#   Sets CXX ($CXX_WASM, default clang++-19), CC ($CC_WASM, default clang-19) and wbv (the
#   wit-bindgen version); dies where a tool is missing or wit-bindgen is not 0.63.
cpp_guest_toolchain() {
  CXX=${CXX_WASM:-clang++-19}
  CC=${CC_WASM:-clang-19}
  command -v "$CXX" >/dev/null || die "$CXX not found (apt packages clang-19 libc++-19-dev-wasm32 libclang-rt-19-dev-wasm32 wasi-libc; run scripts/setup.sh)"
  command -v "$CC" >/dev/null || die "$CC not found (apt package clang-19; run scripts/setup.sh)"
  command -v wit-bindgen >/dev/null || die "wit-bindgen not found (cargo install --locked wit-bindgen-cli --version 0.63.0; run scripts/setup.sh)"
  command -v wasm-objdump >/dev/null || die "wasm-objdump not found (apt package wabt; run scripts/setup.sh)"
  wbv=$(wit-bindgen --version | awk '{print $2}')
  case "$wbv" in 0.63.*) ;; *) die "wit-bindgen $wbv found, 0.63 needed (run scripts/setup.sh)" ;; esac
}

# cpp_guest_bindings <gen> <out> <world> <dep>
#   The world (wasm-modules/wit/<world>/world.wit) and its dependency
#   (wasm-modules/wit/<dep>/) as one WIT folder <gen>/wit (deps/ resolves the import), then
#   `wit-bindgen c` of world <world> into <gen>/bindings; empties <gen>/wit, bindings and
#   obj first and makes <out>.
cpp_guest_bindings() {
  local gen=$1 out=$2 world=$3 dep=$4
  rm -rf "$gen/wit" "$gen/bindings" "$gen/obj"
  mkdir -p "$gen/wit/deps/$dep" "$gen/bindings" "$gen/obj" "$out"
  cp "$root/wasm-modules/wit/$world/world.wit" "$gen/wit/"
  cp "$root/wasm-modules/wit/$dep/"*.wit "$gen/wit/deps/$dep/"
  wit-bindgen c --out-dir "$gen/bindings" --world "$world" "$gen/wit" >"$gen/wit-bindgen.log" 2>&1 ||
    { cat "$gen/wit-bindgen.log" >&2; die "wit-bindgen c failed"; }
}

# cpp_guest_compile <gen> <bindings> <source>...
#   Compiles cpp-guest/<source>.cpp for each source and the generated <bindings>.c into
#   <gen>/obj; sets cxxflags, cflags, ldflags and objs (the objects to link, with the
#   bindings' component-type object, so that componentize finds the world).
# -mexec-model=reactor: a library module with _initialize (run by both hosts), no _start.
# -fno-exceptions -fno-rtti: every error is a returned string (each export returns err).
cpp_guest_compile() {
  local gen=$1 b=$2 f
  shift 2
  local common=(--target=wasm32-wasi -O3 -msimd128 -Wall -Wextra -Werror)
  cxxflags=("${common[@]}" -std=c++17 -fno-exceptions -fno-rtti -I"$gen/bindings")
  cflags=("${common[@]}" -std=c11)  # the generated bindings
  ldflags=(--target=wasm32-wasi -mexec-model=reactor -fno-exceptions -Wl,--strip-debug)
  objs=()
  for f in "$@"; do
    "$CXX" "${cxxflags[@]}" -c "$root/cpp-guest/$f.cpp" -o "$gen/obj/$f.o"
    objs+=("$gen/obj/$f.o")
  done
  "$CC" "${cflags[@]}" -c "$gen/bindings/$b.c" -o "$gen/obj/$b.o"
  objs+=("$gen/obj/$b.o" "$gen/bindings/${b}_component_type.o")
}

# cpp_guest_link <tmp.wasm>
#   Links objs into <tmp.wasm>; dies where it lacks one of the world's exports.
cpp_guest_link() {
  local tmp=$1 e
  "$CXX" "${ldflags[@]}" -o "$tmp" "${objs[@]}"
  for e in fit predict trees cabi_realloc _initialize memory; do
    wasm-objdump -x -j Export "$tmp" | grep -qF -- "-> \"$e\"" || die "the built module lacks export $e"
  done
}

# cpp_guest_json STRING: STRING as a JSON string literal (escapes backslashes and double quotes).
cpp_guest_json() { local s=${1//\\/\\\\}; printf '"%s"' "${s//\"/\\\"}"; }

# cpp_guest_install <gen> <out> <name> <world> <abi> <source> <imports> <tmp> <ctmp>
#   Wraps <tmp> (the core module) as a component <ctmp> (`offload componentize`), writes
#   <name>.core.json (abi <abi>-core) and <name>.json (abi <abi>-component) through
#   temporary files, then moves all four into place in <out> and says what it built.
cpp_guest_install() {
  local gen=$1 out=$2 name=$3 world=$4 abi=$5 source=$6 imports=$7 tmp=$8 ctmp=$9
  guest_offload componentize "$tmp" -o "$ctmp" >/dev/null

  local rel=${gen#"$root"/} compiler flags core="$out/$name.core.wasm"
  compiler="$("$CXX" --version | head -n1); libc++ 19 (libc++-19-dev-wasm32), wasi-libc; wit-bindgen $wbv (c)"
  flags="${cxxflags[*]/-I$gen\/bindings/-I$rel/bindings}; link: ${ldflags[*]}"
  cat > "$out/.$name.core.json.tmp" <<JSON
{"path": "wasm-cpp", "abi": "$abi-core", "world": "$world", "language": "c++", "compiler": $(cpp_guest_json "$compiler"), "flags": $(cpp_guest_json "$flags"), "simd128": true, "imports": $(cpp_guest_json "$imports"), "source": "$source"}
JSON
  cat > "$out/.$name.json.tmp" <<JSON
{"path": "wasm-cpp", "abi": "$abi-component", "world": "$world", "language": "c++", "compiler": $(cpp_guest_json "$compiler"), "flags": "$name.core.wasm + wit-component, WASI preview1 reactor adapter", "simd128": true, "source": "$source"}
JSON
  mv "$tmp" "$core"
  mv "$ctmp" "$out/$name.wasm"
  mv "$out/.$name.core.json.tmp" "$out/$name.core.json"
  mv "$out/.$name.json.tmp" "$out/$name.json"
  echo "built $core ($(stat -c %s "$core") bytes) and $out/$name.wasm ($(stat -c %s "$out/$name.wasm") bytes; core imports: $imports)"
}
