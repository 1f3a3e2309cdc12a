#!/usr/bin/env bash
# Issue #19's reliability tests on the lent GPU machine (Ubuntu 24.04, CUDA 13, one GPU; no
# Rust, no Go there): the carried release test binaries of
#   exhaustion  host/tests/device_exhaustion.rs: 4 guests ask together for more memory than
#               the GPU has (wgpu, cuda), get out-of-memory, carry on, leave nothing behind
#   soak        host/tests/soak_wasi_gpu.rs: OFFLOAD_SOAK_ITERS (default here 10,000) guest
#               lifecycles per backend (cpu, wgpu, cuda), RSS after warm-up and at the end
#   crowd       host/tests/crowd_wasi_gpu.rs: 16 guests at once per backend, quotas holding
# each run with --nocapture --test-threads=1 under `timeout` (so the part always gets
# packed), its output and exit status in its own file under /tmp/device-reliability/,
# packed into $OUT/device-reliability-<part>.tar.gz at the end. Parts: all (the default;
# the timeouts add up to 9 minutes, one device call), or exhaustion, soak or crowd alone.
#
# Here (this VM; Rust), build the binaries, strip them, and pack them into one xz archive
# (three stripped binaries are about 75 MB, past the 64 MiB carry limit; they share most of
# their code, so xz -9's 64 MiB window packs all three into about 10 MB):
#   flock /tmp/build.lock cargo test --release -p offload-host --test device_exhaustion \
#     --test soak_wasi_gpu --test crowd_wasi_gpu --no-run 2>&1 \
#   | sed -n 's/.*Executable tests\/\([a-z_]*\)\.rs (\(.*\))$/\1 \2/p' \
#   | while read -r name path; do mkdir -p .device/tests; cp "$path" ".device/tests/$name"; \
#       strip ".device/tests/$name"; done
#   tar -cf - -C .device tests | xz -9 -T1 > .device/reliability-tests.tar.xz
# (.device/ is git-ignored) and build the demo guest the soak and the crowd load
# (build/guests/gpu-guest.wasm, scripts/build-gpu-guest.sh; device_exhaustion carries its
# own guest and WIT). Then
#   run: bash scripts/device-reliability.sh
#   carry: .device/reliability-tests.tar.xz build/guests/gpu-guest.wasm .gl
# The binaries are unpacked into /tmp/device-reliability/bin; OFFLOAD_TEST_BIN_DIR points at
# a folder of unpacked ones instead (e.g. .device/tests, carried where it fits).
set -u
part=${1:-all}
case "$part" in all | exhaustion | soak | crowd) ;; *)
  echo "usage: scripts/device-reliability.sh [all|exhaustion|soak|crowd]" >&2
  exit 2
  ;;
esac
source scripts/device-env.sh
OUT=${OUT:-bench-results/device-reliability}
W=/tmp/device-reliability/$part
rm -rf "$W"
mkdir -p "$W" "$OUT"
if [ -n "${OFFLOAD_TEST_BIN_DIR:-}" ]; then
  T=$OFFLOAD_TEST_BIN_DIR
else
  T=/tmp/device-reliability/bin
  rm -rf "$T"
  mkdir -p "$T"
  tar -xJf .device/reliability-tests.tar.xz -C "$T" --strip-components=1 > "$W/unpack.txt" 2>&1
fi
# The soak and the crowd find the demo guest here (host/tests/common: guests_dir).
export OFFLOAD_GUESTS_DIR=${OFFLOAD_GUESTS_DIR:-$PWD/build/guests}
export OFFLOAD_SOAK_ITERS=${OFFLOAD_SOAK_ITERS:-10000}
{
  date -u
  nproc
  nvidia-smi --query-gpu=name,driver_version,memory.total,memory.used --format=csv 2>&1
  echo "OFFLOAD_GUESTS_DIR=$OFFLOAD_GUESTS_DIR OFFLOAD_SOAK_ITERS=$OFFLOAD_SOAK_ITERS"
  ls -l "$T" "$OFFLOAD_GUESTS_DIR/gpu-guest.wasm" 2>&1
} > "$W/machine.txt" 2>&1

# run NAME SECONDS: the test binary $T/NAME under `timeout`, output to $W/NAME.txt, exit
# status appended (124: timed out).
run() {
  local name=$1 secs=$2
  if [ ! -x "$T/$name" ]; then
    echo "missing $T/$name (build and carry it, see the header)" > "$W/$name.txt"
    echo "$name: missing"
    return
  fi
  timeout --kill-after=10 "$secs" "$T/$name" --nocapture --test-threads=1 > "$W/$name.txt" 2>&1
  local rc=$?
  echo "exit status $rc" >> "$W/$name.txt"
  echo "$name: exit status $rc"
}

case "$part" in all | exhaustion) run device_exhaustion 150 ;; esac
case "$part" in all | soak) run soak_wasi_gpu 330 ;; esac
case "$part" in all | crowd) run crowd_wasi_gpu 60 ;; esac
# What the GPU holds afterwards (nothing of ours: every process above has exited).
nvidia-smi --query-gpu=memory.used --format=csv >> "$W/machine.txt" 2>&1
tar -czf "$OUT/device-reliability-$part.tar.gz" -C /tmp/device-reliability "$part"
ls -l "$OUT/device-reliability-$part.tar.gz"
