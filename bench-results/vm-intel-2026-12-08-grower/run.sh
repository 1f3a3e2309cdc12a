#!/usr/bin/env bash
# The exact grower before (fb564c7) and after (779e9e8) its row-table change, interleaved,
# beside scikit-learn n_jobs=1, on this VM. Builds each revision's forest bench and forest
# guest in a git worktree, then alternates them round by round (the VM's timings drift by
# tens of percent over minutes, so only interleaved runs compare).
# Usage: bash bench-results/vm-intel-2026-12-08-grower/run.sh [ROUNDS]   (default 7)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
rounds=${1:-7}
export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-/tmp/offload-xdg}
mkdir -p "$XDG_RUNTIME_DIR"
declare -A bench guest
for rev in fb564c7 779e9e8; do
  wt=/tmp/offload-grower-$rev
  [ -d "$wt" ] || git -C "$root" worktree add --detach "$wt" "$rev"
  bench[$rev]=$(cd "$wt" && cargo bench -p offload-host --bench forest --no-run 2>&1 |
    grep -o 'target/release/deps/forest-[0-9a-f]*' | tail -1)
  bench[$rev]=$wt/${bench[$rev]}
  (cd "$wt" && bash scripts/build-forest-guest.sh > /dev/null)
  guest[$rev]=$wt/build/guests/forest/forest-rust.wasm
done
run() { # rev, rows, ids, out
  (cd "$root/host" && OFFLOAD_FOREST_ROWS=$2 OFFLOAD_BENCH_QUICK=1 OFFLOAD_FOREST_GUEST=${guest[$1]} \
    "${bench[$1]}" --bench "$3" 2>/dev/null | grep -v '^SKIP\|^forest friedman') >> "$4"
}
: > "$here/diabetes-interleaved.txt"
for r in $(seq "$rounds"); do
  for rev in fb564c7 779e9e8; do
    echo "## round $r $rev" >> "$here/diabetes-interleaved.txt"
    run "$rev" 1000 'forest-train/(rust-native|wasm-rust|wasm-rust-nodeadline)/353$' "$here/diabetes-interleaved.txt"
  done
  echo "## round $r sklearn" >> "$here/diabetes-interleaved.txt"
  "$root/build/venv/bin/python" "$root/scripts/sklearn_forest.py" --data diabetes --repeat 1 2>/dev/null |
    grep '"peer"' >> "$here/diabetes-interleaved.txt"
done
: > "$here/friedman-interleaved.txt"
for r in 1 2 3; do
  for rev in fb564c7 779e9e8; do
    echo "## round $r $rev" >> "$here/friedman-interleaved.txt"
    run "$rev" 1000,10000 'forest-train/(rust-native|wasm-rust)/(1000|10000)$' "$here/friedman-interleaved.txt"
  done
done
