# Sourced by the build scripts of the Rust guests (build-rust-guest.sh, build-forest-guest.sh,
# build-gpu-guest.sh, build-forest-gpu-guest.sh, build-components.sh): one way to build a
# package of the guest workspace (wasm-modules/Cargo.toml) and to describe what it built.
#
# All members share one Cargo.lock and one target folder, wasm-modules/target. Cargo has no
# stable per-package target, so the target is passed here: wasm32-wasip1 for the core-module
# guests, wasm32-wasip2 for the components. rustflags (+simd128 on both targets) come from
# wasm-modules/.cargo/config.toml, the profile from wasm-modules/Cargo.toml.

guest_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
guest_target_dir=$guest_root/wasm-modules/target
guest_compiler=$(rustc --version)

# guest_build <package> <target> <dest.wasm> [target dir]
#   `cargo build --release -p <package> --target <target>` in the guest workspace, into
#   <target dir> (default wasm-modules/target), then copies the cdylib to <dest.wasm>.
#   One package per invocation, so feature unification never gives one guest another's
#   offload-core features (the no_std vector guest next to a std one).
guest_build() {
  local pkg=$1 target=$2 dest=$3 dir=${4:-$guest_target_dir}
  mkdir -p "$(dirname "$dest")"
  (cd "$guest_root/wasm-modules" &&
    cargo build --release --quiet -p "$pkg" --target "$target" --target-dir "$dir")
  cp "$dir/$target/release/${pkg//-/_}.wasm" "$dest"
}

# guest_flags <target>
#   The compiler flags the release profile and .cargo/config.toml give every guest on
#   <target> except the components (opt-level "s"), as the .json files state them.
guest_flags() {
  echo "--target $1 -C target-feature=+simd128 -C opt-level=3 lto codegen-units=1 panic=abort"
}

# guest_imports <wasm> [names|modules]
#   What the core module imports, space separated, as wasm-objdump lists it: every import
#   as module.name (names, the default) or each import module once (modules); "none" when
#   it imports nothing; a note when wasm-objdump is missing.
guest_imports() {
  local wasm=$1 mode=${2:-names} imports
  if ! command -v wasm-objdump >/dev/null; then
    echo "not checked (wasm-objdump not found; run scripts/setup.sh)"
    return
  fi
  imports=$({ wasm-objdump -x -j Import "$wasm" 2>/dev/null || true; } |
    awk -v mode="$mode" '/<- / { m = $NF; if (mode == "modules") sub(/\.[^.]*$/, "", m)
      if (!(m in seen)) { seen[m]; printf "%s%s", (n++ ? " " : ""), m } }')
  echo "${imports:-none}"
}

# guest_offload <args...>
#   Runs the `offload` CLI: $OFFLOAD_BIN when set, else `cargo run` of the host (built once,
#   then reused).
guest_offload() {
  if [ -n "${OFFLOAD_BIN:-}" ]; then
    "$OFFLOAD_BIN" "$@"
  else
    # --workspace: the feature set `cargo test --workspace` uses, so its build is shared.
    (cd "$guest_root" && cargo build --quiet --workspace --bin offload &&
      "${CARGO_TARGET_DIR:-$guest_root/target}/debug/offload" "$@")
  fi
}

# build_wasi_gpu_guest <package> <out dir> <name> <world>
#   builds a wasi:gpu guest for wasm32-wasip1 (into $CARGO_TARGET_DIR when set, else
#   wasm-modules/target), copies the core module to <out>/<name>.core.wasm, wraps it as
#   <out>/<name>.wasm with `offload componentize` ($OFFLOAD_BIN when set, else `cargo run`
#   of the host), and writes <name>.core.json and <name>.json (compiler, flags, the core
#   module's import modules).
build_wasi_gpu_guest() {
  local pkg=$1 out=$2 name=$3 world=$4
  local core="$out/$name.core.wasm" imports compiler="$guest_compiler; wit-bindgen 0.57"
  guest_build "$pkg" wasm32-wasip1 "$core" "${CARGO_TARGET_DIR:-$guest_target_dir}"
  imports=$(guest_imports "$core" modules)
  cat > "$out/$name.core.json" <<JSON
{"path": "wasm-rust", "abi": "wasi-gpu-core", "world": "$world", "language": "rust", "compiler": "$compiler", "flags": "$(guest_flags wasm32-wasip1)", "simd128": true, "imports": "$imports"}
JSON
  guest_offload componentize "$core" -o "$out/$name.wasm"
  cat > "$out/$name.json" <<JSON
{"path": "wasm-rust", "abi": "wasi-gpu-component", "world": "$world", "language": "rust", "compiler": "$compiler", "flags": "$name.core.wasm + wit-component, WASI preview1 reactor adapter", "simd128": true}
JSON
  echo "built $core and $out/$name.wasm ($compiler; core imports: $imports)"
}
