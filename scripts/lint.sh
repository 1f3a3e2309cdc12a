#!/usr/bin/env bash
# Formatting and lints: cargo fmt, clippy (-D warnings), gofmt, go vet.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
cargo fmt --all -- --check
(cd wasm-modules/rust-guest && cargo fmt -- --check && cargo clippy --release -- -D warnings)
(cd wasm-modules/forest-guest && cargo fmt -- --check && cargo clippy --release -- -D warnings)
(cd wasm-modules/gpu-guest && cargo fmt -- --check && cargo clippy --release -- -D warnings)
(cd wasm-modules/wasi-gpu-guest && cargo fmt -- --check &&
  cargo clippy --release --target wasm32-wasip1 --features offload-core -- -D warnings)
(cd wasm-modules/forest-gpu-guest && cargo fmt -- --check && cargo clippy --release -- -D warnings)
for c in matrix-client provider-cpu provider-gpu; do
  (cd "wasm-modules/$c" && cargo fmt -- --check &&
    cargo clippy --release --target-dir "$root/build/cargo-components" -- -D warnings)
done
cargo clippy --workspace --all-targets -- -D warnings
for d in go-host tinygo-guest; do
  [ -d "$d" ] || continue
  bad=$(gofmt -l "$d"); [ -z "$bad" ] || { echo "gofmt: $bad" >&2; exit 1; }
done
(cd tinygo-guest && go vet ./... && GOOS=wasip1 GOARCH=wasm go vet ./...)
if [ -f go-host/go.mod ]; then (cd go-host && go vet ./...); fi
exit 0
