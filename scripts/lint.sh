#!/usr/bin/env bash
# Formatting and lints: cargo fmt, clippy (-D warnings), gofmt, go vet.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
cargo fmt --all -- --check
# The guest workspace (wasm-modules/Cargo.toml): fmt once for its members (not --all, which
# would reach into core through the path dependency); clippy per target group, into its one
# target folder. The no_std vector guest is linted on its own: next to a std member, feature
# unification would hand it a std offload-core (E0152, a second panic handler). wasi-gpu-guest
# is linted without and with its offload-core feature (forest-gpu-guest turns it on).
guest=(--release --target-dir "$root/wasm-modules/target")
(cd wasm-modules &&
  cargo fmt -- --check &&
  cargo clippy "${guest[@]}" --target wasm32-wasip1 -p offload-rust-guest -- -D warnings &&
  cargo clippy "${guest[@]}" --target wasm32-wasip1 -p offload-forest-guest -p wasi-gpu-guest \
    -p offload-gpu-guest -- -D warnings &&
  cargo clippy "${guest[@]}" --target wasm32-wasip1 -p wasi-gpu-guest -p offload-forest-gpu-guest \
    --features wasi-gpu-guest/offload-core -- -D warnings &&
  cargo clippy "${guest[@]}" --target wasm32-wasip2 -p offload-matrix-client -p offload-provider-cpu \
    -p offload-provider-gpu -p offload-webgpu-guest -- -D warnings &&
  cargo clippy "${guest[@]}" --target wasm32-wasip1-threads -p offload-parallel-guest -- -D warnings)
cargo clippy --workspace --all-targets -- -D warnings
for d in go-host tinygo-guest; do
  [ -d "$d" ] || continue
  bad=$(gofmt -l "$d"); [ -z "$bad" ] || { echo "gofmt: $bad" >&2; exit 1; }
done
(cd tinygo-guest && go vet ./... && GOOS=wasip1 GOARCH=wasm go vet ./...)
if [ -f go-host/go.mod ]; then (cd go-host && go vet ./...); fi
exit 0
