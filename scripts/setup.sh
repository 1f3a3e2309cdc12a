#!/usr/bin/env bash
# Installs what offload's builds need, idempotently; silent when everything is there.
#   apt: clang lld wasi-libc libclang-rt-dev-wasm32 wabt (C guest, wasm tools),
#        mesa-vulkan-drivers libvulkan1 (lavapipe: software Vulkan for the wgpu tests),
#        gcc libc6-dev (cgo's default C compiler for go-host; cc for capi's C test),
#        clang-19 lld-19 libc++-19-dev-wasm32 libclang-rt-19-dev-wasm32 (the C++ forest guest)
#   cargo: wit-bindgen-cli 0.63.0 (`wit-bindgen c` for the C++ guest), unless on PATH already
#   rustup: targets wasm32-wasip1 wasm32-wasip1-threads wasm32-wasip2 wasm32-unknown-unknown; clippy, rustfmt
#   go: checks Go >= 1.24 (wasip1 reactors with //go:wasmexport need it)
set -euo pipefail

say() { printf 'setup: %s\n' "$*" >&2; }

apt_pkgs=(clang lld wasi-libc libclang-rt-dev-wasm32 wabt mesa-vulkan-drivers libvulkan1 gcc libc6-dev
  clang-19 lld-19 libc++-19-dev-wasm32 libclang-rt-19-dev-wasm32)
missing=()
for p in "${apt_pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  say "installing apt packages: ${missing[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! command -v cargo >/dev/null; then
  say "cargo not found: install Rust with rustup first"; exit 1
fi
installed_targets=$(rustup target list --installed)
for t in wasm32-wasip1 wasm32-wasip1-threads wasm32-wasip2 wasm32-unknown-unknown; do
  grep -qx "$t" <<<"$installed_targets" || { say "adding rustup target $t"; rustup target add "$t" >/dev/null; }
done
# wit-bindgen's C generator for the C++ guest (scripts/build-cpp-guest.sh), pinned to 0.63.
case "$(wit-bindgen --version 2>/dev/null | awk '{print $2}')" in
  0.63.*) ;;
  *) say "installing wit-bindgen-cli 0.63.0 (cargo install; a few minutes)"
     cargo install --locked --quiet wit-bindgen-cli --version 0.63.0 >/dev/null ;;
esac
installed_components=$(rustup component list --installed)
for c in clippy rustfmt; do
  grep -q "^$c" <<<"$installed_components" || { say "adding rustup component $c"; rustup component add "$c" >/dev/null; }
done

if ! command -v go >/dev/null; then
  say "go not found: Go >= 1.24 is needed for the Go guest and the Go host"; exit 1
fi
gov=$(go env GOVERSION | sed 's/^go//')
major=${gov%%.*}; rest=${gov#*.}; minor=${rest%%.*}
if [ "$major" -lt 1 ] || { [ "$major" -eq 1 ] && [ "$minor" -lt 24 ]; }; then
  say "Go $gov is too old: need >= 1.24"; exit 1
fi
