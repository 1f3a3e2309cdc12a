# Sourced by the build scripts of the wasi:gpu guests (build-gpu-guest.sh,
# build-forest-gpu-guest.sh): one way to build such a guest.
#
# build_wasi_gpu_guest <crate dir> <wasm artifact name> <out dir> <name> <world> <simd128: true|false>
#   builds the crate for wasm32-wasip1 (release; $CARGO_TARGET_DIR or <crate>/target), copies
#   the core module to <out>/<name>.core.wasm, wraps it as <out>/<name>.wasm with
#   `offload componentize` ($OFFLOAD_BIN when set, else `cargo run` of the host), and writes
#   <name>.core.json and <name>.json (compiler, flags, the core module's import modules).
build_wasi_gpu_guest() {
  local crate=$1 artifact=$2 out=$3 name=$4 world=$5 simd=$6
  local root target core imports compiler simd_flag=""
  root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
  mkdir -p "$out"
  target=${CARGO_TARGET_DIR:-$crate/target}
  (cd "$crate" && CARGO_TARGET_DIR="$target" cargo build --release --quiet)
  core="$out/$name.core.wasm"
  cp "$target/wasm32-wasip1/release/$artifact" "$core"
  imports="not checked (wasm-objdump not found; run scripts/setup.sh)"
  if command -v wasm-objdump >/dev/null; then
    imports=$({ wasm-objdump -x -j Import "$core" 2>/dev/null || true; } | awk '/<- / { m = $NF; sub(/\.[^.]*$/, "", m); if (!(m in seen)) { seen[m]; printf "%s%s", (n++ ? " " : ""), m } }')
    imports=${imports:-none}
  fi
  compiler="$(rustc --version); wit-bindgen 0.57"
  [ "$simd" = true ] && simd_flag=" -C target-feature=+simd128"
  cat > "$out/$name.core.json" <<JSON
{"path": "wasm-rust", "abi": "wasi-gpu-core", "world": "$world", "language": "rust", "compiler": "$compiler", "flags": "--target wasm32-wasip1$simd_flag -C opt-level=3 lto codegen-units=1 panic=abort", "simd128": $simd, "imports": "$imports"}
JSON
  if [ -n "${OFFLOAD_BIN:-}" ]; then
    "$OFFLOAD_BIN" componentize "$core" -o "$out/$name.wasm"
  else
    (cd "$root" && cargo run --quiet -p offload-host --bin offload -- componentize "$core" -o "$out/$name.wasm")
  fi
  cat > "$out/$name.json" <<JSON
{"path": "wasm-rust", "abi": "wasi-gpu-component", "world": "$world", "language": "rust", "compiler": "$compiler", "flags": "$name.core.wasm + wit-component, WASI preview1 reactor adapter", "simd128": $simd}
JSON
  echo "built $core and $out/$name.wasm ($compiler; core imports: $imports)"
}
