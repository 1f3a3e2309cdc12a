#!/usr/bin/env bash
# This VM's training table for issue #17 with the histogram mode: offload's paths (release
# CLI) and the CPU peers, one run each, nothing else running. From the repository root:
#   bash bench-results/vm-intel-2026-12-08-hist/run.sh
set -u
O=bench-results/vm-intel-2026-12-08-hist
B=target/release/offload
export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-/tmp/offload-xdg}
for rows in 1000 10000 100000; do
  for mode in "" "--hist"; do
    tag=${mode:+-hist}
    $B forest --data friedman1 --rows $rows $mode > $O/train-rust-native$tag-$rows.txt 2>&1
    $B forest --data friedman1 --rows $rows $mode --parallel > $O/train-rust-native-rayon$tag-$rows.txt 2>&1
    # lavapipe runs one workgroup per node on the CPU: the hist mode there took 58.7 s at 1e3 rows
    [ $rows -le 10000 ] && { [ -z "$mode" ] || [ $rows -le 1000 ]; } && $B forest --data friedman1 --rows $rows $mode --backend wgpu > $O/train-gpu-wgpu$tag-$rows.txt 2>&1
  done
done
$B forest --hist > $O/diabetes-rust-native-hist.txt 2>&1
$B forest > $O/diabetes-rust-native.txt 2>&1
build/venv/bin/python scripts/sklearn_forest.py --data friedman1 --sizes 1000,10000 --train-n-jobs 1,-1 > $O/sklearn.txt 2>&1
build/venv/bin/python scripts/sklearn_forest.py --data friedman1 --sizes 1000,10000 --peers xgboost-rf-hist,xgboost-rf-exact > $O/xgboost.txt 2>&1
