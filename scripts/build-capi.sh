#!/usr/bin/env bash
# Builds offload-capi in release: target/release/liboffload_capi.so (linked by the Go
# host's rust-cgo path, with an rpath) and liboffload_capi.a, then checks that the
# checked-in header capi/include/offload.h matches what cbindgen generates.
# The target dir is pinned to <repo>/target because go-host's cgo flags name it.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
echo "== capi (cargo build --release -p offload-capi)"
cargo build --release -p offload-capi --target-dir "$root/target" 2>&1
cargo test -q --release -p offload-capi --test header --target-dir "$root/target" 2>&1
