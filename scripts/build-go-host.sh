#!/usr/bin/env bash
# Builds the Go host module (go-host/): go vet and go build. Needs
# target/release/liboffload_capi.so, so it runs scripts/build-capi.sh first.
# Go downloads the pinned modules (go.sum) through the module proxy on first use.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bash "$root/scripts/build-capi.sh"
cd "$root/go-host"
echo "== go-host (go vet, go build)"
go vet ./...
go build ./...
