#!/usr/bin/env bash
# Builds here (release, the workspace's own target dir) the binaries that the lent GPU
# machine runs for scripts/device-forest.sh (part cpp) and scripts/device-boundary.sh, and
# packs them into .device/cli.tar.xz (the CLI) and .device/bench.tar.xz (the rest; both
# git-ignored, xz, about a quarter of their stripped size, so that they fit the device
# call's 64 MiB carry beside the working tree; a call that needs the CLI alone carries
# .device/cli.tar.xz):
#   forest-bench      host/benches/forest (the C++ and Rust guests beside native)
#   wasi-gpu-bench    host/benches/wasi_gpu.rs (one import call; sgemm through wasi:gpu)
#   compose-bench     host/benches/compose.rs (sgemm through the composed provider)
#   gpu-bench         core/benches/gpu (sgemm, h2d/d2h; the TF32 rows)
#   forest-gpu-bench  core/benches/forest_gpu.rs (native gpu-wgpu/gpu-cuda batch-predict)
#   offload           the CLI
#   go-host.test      the Go host's tests and benchmarks, with liboffload_capi.so beside it
# The guests and components they load live in build/ (carry build/guests and
# build/components). There: `source scripts/device-env.sh` unpacks the tarballs carried
# into .device/bin/.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
stage=.device/bin
rm -rf "$stage"; mkdir -p "$stage"

# Prints the executable of bench `$2` from cargo's JSON messages on stdin.
exe_of() {
  python3 -c 'import sys, json
name = sys.argv[1]
for l in sys.stdin:
    m = json.loads(l)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["target"]["name"] == name:
        print(m["executable"])' "$1" | tail -1
}
host_json=$(cargo bench -p offload-host --bench forest --bench wasi_gpu --bench compose --no-run --message-format=json)
core_json=$(cargo bench -p offload-core --features wgpu,cuda --bench gpu --bench forest_gpu --no-run --message-format=json)
cp "$(exe_of forest <<< "$host_json")" $stage/forest-bench
cp "$(exe_of wasi_gpu <<< "$host_json")" $stage/wasi-gpu-bench
cp "$(exe_of compose <<< "$host_json")" $stage/compose-bench
cp "$(exe_of gpu <<< "$core_json")" $stage/gpu-bench
cp "$(exe_of forest_gpu <<< "$core_json")" $stage/forest-gpu-bench
cargo build --release -q -p offload-host --bin offload
cp target/release/offload $stage/offload
bash scripts/build-capi.sh
cp target/release/liboffload_capi.so $stage/
(cd go-host && go test -c -ldflags='-s -w' -o "$root/$stage/go-host.test" .)
strip $stage/*-bench $stage/offload $stage/liboffload_capi.so
git rev-parse HEAD > $stage/commit.txt
git status --short | grep -q . && echo "(plus uncommitted changes)" >> $stage/commit.txt
tar cf - -C .device bin/offload bin/commit.txt | xz -6 -T2 > .device/cli.tar.xz
tar cf - -C .device --exclude bin/offload bin | xz -6 -T2 > .device/bench.tar.xz
rm -rf "$stage" .device/bin.tar.xz
ls -la .device/*.tar.xz
