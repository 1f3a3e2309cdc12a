#!/usr/bin/env bash
# offload's one entry point. Usage: ./build.sh <command> [args]
#   all         setup, then every build below, in release (target/release/offload,
#               liboffload_capi, the guests, the components, the Go host)
#   rust        the Rust vector guest and the Rust workspace (host, CLI: target/debug/offload)
#   c           the C vector guest
#   tinygo      the Go vector guest (TinyGo when on PATH, else Go's wasip1 port)
#   capi        the C-ABI library (target/release/liboffload_capi.so) and its header check
#   go          the Go host module (go vet, go build)
#   components  the matrix client, provider-cpu, provider-gpu (wasm32-wasip2 components) and
#               their compositions build/components/composed-{cpu,gpu}.wasm (offload compose)
#   test        builds the guests, then runs every test (cargo test, go test)
#   lint        cargo fmt --check, cargo clippy -D warnings, gofmt, go vet
#   bench       the full benchmark matrix; writes bench-results/<host>-<date>/ (--quick: a short run)
#   fuzz        long fuzz, soak and crowd passes of both hosts (scripts/fuzz.sh [go fuzztime])
# Built guests land in build/guests/<path>.wasm with <path>.json naming their compiler.
set -euo pipefail
root=$(cd "$(dirname "$0")" && pwd)
cd "$root"
s="$root/scripts"

guests() {
  bash "$s/build-rust-guest.sh"
  [ -f "$s/build-c-guest.sh" ] && bash "$s/build-c-guest.sh"
  [ -f "$s/build-go-guest.sh" ] && bash "$s/build-go-guest.sh"
  bash "$s/build-forest-guest.sh"
  # wasi:gpu demo guest: core module (Go host) + component (Rust host; wraps with `offload componentize`)
  [ -f "$s/build-gpu-guest.sh" ] && bash "$s/build-gpu-guest.sh"
  # wasi:gpu forest guest (Forest::fit_on through wasi:gpu): core module + component
  [ -f "$s/build-forest-gpu-guest.sh" ] && bash "$s/build-forest-gpu-guest.sh"
  # parallel-for guest (wasm32-wasip1-threads, shared memory; WGSL kernels attached)
  [ -f "$s/build-parallel-guest.sh" ] && bash "$s/build-parallel-guest.sh"
  # C++ forest guest (cpp-guest/, same world; trains in wasm, batch-predict through wasi:gpu)
  [ -f "$s/build-cpp-guest.sh" ] && bash "$s/build-cpp-guest.sh"
  # wasi:webgpu kernel guest (wasm32-wasip2 component; its own WGSL for sum, dot, mul, SGEMM)
  [ -f "$s/build-webgpu-guest.sh" ] && bash "$s/build-webgpu-guest.sh"
  return 0
}

cmd=${1:-all}
[ $# -gt 0 ] && shift
case "$cmd" in
  setup) bash "$s/setup.sh" ;;
  rust) bash "$s/setup.sh"; bash "$s/build-rust-guest.sh"; cargo build --workspace ;;
  c) bash "$s/setup.sh"; bash "$s/build-c-guest.sh" ;;
  tinygo) bash "$s/setup.sh"; bash "$s/build-go-guest.sh" ;;
  capi) bash "$s/setup.sh"; bash "$s/build-capi.sh" ;;
  go) bash "$s/setup.sh"; bash "$s/build-go-host.sh" ;;
  components) bash "$s/setup.sh"; bash "$s/build-components.sh" ;;
  all)
    # One release build of the Rust workspace first (host and CLI, capi, report), so every
    # heavy crate (wasmtime, cranelift, wgpu) is compiled once; the guest scripts then wrap
    # and attach with that `offload` instead of building a debug one.
    bash "$s/setup.sh"
    cargo build --release --workspace
    export OFFLOAD_BIN=${OFFLOAD_BIN:-${CARGO_TARGET_DIR:-$root/target}/release/offload}
    guests
    bash "$s/build-components.sh"
    [ -f "$s/build-capi.sh" ] && bash "$s/build-capi.sh"
    [ -f "$s/build-go-host.sh" ] && bash "$s/build-go-host.sh"
    ;;
  test) bash "$s/setup.sh"; guests; bash "$s/test.sh" "$@" ;;
  lint) bash "$s/setup.sh"; bash "$s/lint.sh" ;;
  fuzz) bash "$s/setup.sh"; guests; bash "$s/fuzz.sh" "$@" ;;
  bench) bash "$s/setup.sh"; guests; bash "$s/build-components.sh"; bash "$s/bench.sh" "$@" ;;
  *) sed -n '2,16p' "$0" >&2; exit 2 ;;
esac
