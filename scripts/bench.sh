#!/usr/bin/env bash
# Runs offload's benchmark matrix (criterion + go test -bench) and writes one results folder:
#   bench-results/<host>-<yyyy-mm-dd>/  env.json  cargo-bench.log  criterion/ (raw JSON + HTML)
#                                       go-bench.txt (benchstat-readable)
#                                       sklearn-forest.jsonl  stage-times.txt
#                                       results.json  REPORT.md  plots/*.svg
#
# Usage: scripts/bench.sh [--quick] [--gpu-machine] [--out DIR] [--no-rust] [--no-go] [--no-sklearn]
#        scripts/bench.sh --on-device [--parts a,b,…]  (on the lent GPU machine, see below)
#        scripts/bench.sh --unpack "DIR|TARBALL …" [--out NAME] (here: merge the parts)
#   --quick        a first look in under 5 minutes on 2 cores (once built): fewer sizes
#                  and samples (OFFLOAD_BENCH_QUICK=1 for the Rust benches: n = 1e3, 1e5,
#                  no criterion HTML; go -short -benchtime=50ms -count=5; scikit-learn
#                  on diabetes and 1000 Friedman rows); no GPU benches unless a GPU is
#                  visible.
#   --gpu-machine  the GPU subset only (core's GPU benches incl. the random forest's
#                  batch-predict up to 1e6 rows, the Go GPU tests and benches). With a GPU
#                  visible here: run it here. Without one:
#                  package it for the lent GPU machine (binaries into .device/) and print
#                  the device call to make.
#   --out DIR      results folder (default bench-results/<host>-<date>, or
#                  bench-results/gpu-<gpu model>-<date> for the GPU subset).
#   --no-rust / --no-go / --no-sklearn   leave one harness out.
#
# Everything is built first (stage "build": guests, capi, the report tool, the bench
# binaries, the go-host test binary, the scikit-learn venv build/venv), so the timed
# stages measure benchmarks only; each stage's wall time is printed at the end and kept
# in stage-times.txt. scikit-learn (the peer of the forest benches) is installed from
# PyPI into build/venv when python3 has none; if that fails the report lists
# `sklearn` as skipped with the reason.
#
# Skip convention (documented in report/src/lib.rs): a bench that cannot run a path prints
# `SKIP <path>: <reason>` (or `SKIP <op>/<path>[/<n>]: <reason>`); this script keeps all
# harness output (cargo-bench.log, go-bench.txt) and the report lists every such line.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

quick=0 gpu_machine=0 on_device=0 unpack="" parts="" out="" run_rust=1 run_go=1 run_sklearn=1 want=""
for a in "$@"; do
  if [ -n "$want" ]; then printf -v "$want" '%s' "$a"; want=""; continue; fi
  case "$a" in
    --quick) quick=1 ;;
    --gpu-machine) gpu_machine=1 ;;
    --on-device) on_device=1 ;;
    --unpack) want=unpack ;;
    --parts) want=parts ;;
    --out) want=out ;;
    --out=*) out=${a#--out=} ;;
    --no-rust) run_rust=0 ;;
    --no-go) run_go=0 ;;
    --no-sklearn) run_sklearn=0 ;;
    *) sed -n '2,33p' "$0" >&2; exit 2 ;;
  esac
done
[ -n "$want" ] && { echo "bench.sh: --$want needs a value" >&2; exit 2; }

t0=$(date +%s)
# Stages: `step` closes the previous one and records its wall time; `stage_summary`
# prints them all (and writes them to a file when given one).
stage_name="" stage_t0=$t0 stage_times=()
step() {
  local now; now=$(date +%s)
  [ -n "$stage_name" ] && stage_times+=("$(( now - stage_t0 ))|$stage_name")
  stage_name="$*" stage_t0=$now
  printf '\n[bench %4ss] == %s\n' "$(( now - t0 ))" "$*" >&2
}
note() { printf '[bench %4ss] %s\n' "$(( $(date +%s) - t0 ))" "$*" >&2; }
loadavg() { cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo unknown; }
stage_summary() {
  local now build=0 rest=0 e secs name
  now=$(date +%s)
  [ -n "$stage_name" ] && stage_times+=("$(( now - stage_t0 ))|$stage_name")
  stage_name="" stage_t0=$now
  {
    echo "wall time per stage (s), $(nproc) CPUs, load average at the end: $(loadavg)"
    for e in "${stage_times[@]}"; do
      secs=${e%%|*} name=${e#*|}
      printf '%6s  %s\n' "$secs" "$name"
      case "$name" in build*) build=$(( build + secs )) ;; *) rest=$(( rest + secs )) ;; esac
    done
    printf '%6s  total: build %s s, benchmarks and report %s s\n' "$(( now - t0 ))" "$build" "$rest"
  } | tee ${1:+"$1"} >&2
}

has_gpu=0
if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then has_gpu=1; fi
day=$(date -u +%F)
gpu_folder() {
  local gpu slug
  gpu=$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1 || true)
  slug=$(printf '%s' "${gpu:-unknown}" | tr '[:upper:]' '[:lower:]' | tr -cs 'a-z0-9' '-' | sed 's/^-//;s/-$//')
  echo "gpu-$slug-$day"
}

# ---------------------------------------------------------------------------------------
# The report tool. ONE-LINE SWITCH: when `offload report` is wired into the offload CLI,
# replace the second line by the first.
# report() { cargo run --release -q -p offload-host --bin offload -- report "$@"; }
report() { cargo run --release -q -p offload-report --bin offload-report -- "$@"; }
# ---------------------------------------------------------------------------------------

# Keeps criterion's output small (a full GPU sweep: 40 MB → 3 MB): the raw
# new/{benchmark,estimates,sample}.json, the summary page and each group's page
# (index.html, with the numbers) and lines.svg (time against n per path). The
# per-benchmark pages, the violin and throughput plots, tukey.json and the base/change
# copies go; their links in the pages break.
trim_criterion() {
  local crit=$1
  [ -d "$crit" ] || return 0
  find "$crit" -depth -type d \( -name base -o -name change \) -exec rm -rf {} +
  find "$crit" -name tukey.json -delete
  find "$crit" -path '*/report/*' -type f ! -name index.html ! -name lines.svg -delete
  # <group>/<path>/<n>/report: one page per benchmark, 90 % of the HTML.
  find "$crit" -mindepth 4 -maxdepth 4 -type d -name report -exec rm -rf {} +
  if [ -f "$crit/report/index.html" ]; then
    note "criterion folder: $(du -sh "$crit" | cut -f1) (HTML: $crit/report/index.html)"
  else
    note "criterion folder: $(du -sh "$crit" | cut -f1) (raw JSON only: --quick draws no criterion plots)"
  fi
}

# ---------------------------------------------------------------------------------------
# GPU MACHINE sweep, in parts. The lent machine runs no command longer than 10 minutes
# and returns at most 8 files a command, so the sweep is split into parts (gpu_parts
# below), each small enough to end well inside that; `--on-device --parts a,b,c` runs
# the named parts one after another and writes each one's results to $OUT/<part>.tar.gz
# the moment it finishes, so a command that runs out of time loses only the part it was
# in. `--unpack` here merges every part's tarball into one results folder and renders it.
#
# part         what it runs (groups of core/benches/gpu/ unless said otherwise)
gpu_parts() {
  cat <<'PARTS'
h2d          h2d
d2h          d2h
sgemm        sgemm
sum-f32      sum-strict_f32,sum-fast_f32
sum-f64      sum-strict_f64,sum-fast_f64
dot-f32      dot-strict_f32,dot-fast_f32
dot-f64      dot-strict_f64,dot-fast_f64
mul          mul_f32,mul_f64
scale        scale_f32,scale_f64
copy         copy_f64
minmax       min_f32,min_f64,max_f32,max_f64
add-relu     add_f32,add_f64,relu_f32,relu_f64
forest       (core/benches/forest_gpu.rs: forest-predict 1e3…1e6 rows, forest-train)
go-sum       (go-host: BenchmarkSum, GPU paths beside the Go CPU paths of their family)
go-dot       (go-host: BenchmarkDot, likewise)
go-mul       (go-host: BenchmarkMul, likewise)
go-scale     (go-host: BenchmarkScale, likewise)
go-sgemm     (go-host: BenchmarkSGEMM, likewise)
go-test      (go-host: the Go GPU tests, -test.run GPU -v, into go-gpu-test.log)
PARTS
}
part_groups() { gpu_parts | awk -v p="$1" '$1 == p { print $2 }'; }

# GPU MACHINE, unpack side (here): merge the parts' tarballs (files or folders holding
# them) into bench-results/<name>/ and render the report with this machine's report tool.
if [ -n "$unpack" ]; then
  mkdir -p bench-results
  tars=()
  for u in $unpack; do
    if [ -d "$u" ]; then tars+=("$u"/*.tar.gz); else tars+=("$u"); fi
  done
  name="" stagedir=$(mktemp -d)
  for t in "${tars[@]}"; do
    [ -f "$t" ] || { echo "bench.sh --unpack: $t is not a file" >&2; exit 1; }
    n=$(tar tzf "$t" | awk -F/ 'NR == 1 { print $1 }')
    name=${out:-${name:-$n}}
    tar xzf "$t" -C "$stagedir"
  done
  dest=bench-results/$(basename "$name")
  mkdir -p "$dest/criterion"
  : > "$dest/cargo-bench.log"
  : > "$dest/parts.txt"
  for partdir in "$stagedir"/*/parts/*; do
    [ -d "$partdir" ] || continue
    part=$(basename "$partdir")
    note "merging part $part"
    [ -d "$partdir/criterion" ] && cp -r "$partdir/criterion/." "$dest/criterion/"
    [ -f "$partdir/cargo-bench.log" ] && { echo "== part $part"; cat "$partdir/cargo-bench.log"; } >> "$dest/cargo-bench.log"
    [ -f "$partdir/go-bench.txt" ] && cat "$partdir/go-bench.txt" >> "$dest/go-bench.txt"
    [ -f "$partdir/go-gpu-test.log" ] && cp "$partdir/go-gpu-test.log" "$dest/"
    [ -f "$partdir/stage-time.txt" ] && cat "$partdir/stage-time.txt" >> "$dest/stage-times.txt"
    [ -f "$dest/env.json" ] || cp "$partdir/env.json" "$dest/env.json"
    # Parts may come from different calls (and builds): parts.txt says which is which.
    python3 - "$partdir/env.json" "$part" >> "$dest/parts.txt" <<'PY'
import json, sys
e = json.load(open(sys.argv[1]))
gpu = ", ".join(g.get("name", "?") for g in e.get("gpus") or []) or "none"
print(f"{sys.argv[2]}: built at {e.get('git_commit', '?')}, run {e.get('date', '?')} on {gpu}")
PY
  done
  rm -rf "$stagedir"
  report --ingest "$dest"
  trim_criterion "$dest/criterion"
  note "merged $((${#tars[@]})) part(s) into $dest"
  exit 0
fi

# ---------------------------------------------------------------------------------------
# GPU MACHINE, run side: on the lent GPU machine (no Rust, no Go, no network), from the
# binaries that `--gpu-machine` packaged into .device/ (carry .device and .gl). The
# device setup (Vulkan loader, NVIDIA ICD, CUDA libs) is scripts/device-env.sh.
# OFFLOAD_BENCH_TIME_MS (criterion's measurement time per benchmark) defaults to 600 here
# so that the whole sweep fits the session's device time.
if [ $on_device = 1 ]; then
  for f in .device/offload-report .device/build-env.json; do
    [ -e "$f" ] || { echo "bench.sh --on-device: $f missing; run scripts/bench.sh --gpu-machine here first" >&2; exit 1; }
  done
  [ -n "$parts" ] || parts=$(gpu_parts | awk '{ print $1 }' | paste -sd, -)
  # shellcheck source=scripts/device-env.sh
  source scripts/device-env.sh
  dest=${OUT:-$root/.device/out}
  name=${out:-$(gpu_folder)}
  mkdir -p "$dest"
  export OFFLOAD_BENCH_TIME_MS=${OFFLOAD_BENCH_TIME_MS:-600}
  # Each part's command stops after this many seconds (its partial log is still packed),
  # so a part that hangs or runs long cannot take the whole 10-minute call with it.
  part_limit=${OFFLOAD_PART_LIMIT_S:-540}
  [ $quick = 1 ] && export OFFLOAD_BENCH_QUICK=1
  status=0
  for part in ${parts//,/ }; do
    groups=$(part_groups "$part")
    [ -n "$groups" ] || { echo "bench.sh: unknown part $part; parts are: $(gpu_parts | awk '{ print $1 }' | paste -sd' ' -)" >&2; exit 2; }
    dir=/tmp/offload-bench/$name/parts/$part
    rm -rf "$dir"; mkdir -p "$dir"
    step "part $part on $(nvidia-smi -L 2>/dev/null | head -1)"
    p0=$(date +%s)
    ./.device/offload-report --collect-env "$dir" --repo "$root" \
      --build-env .device/build-env.json --command-line "scripts/bench.sh --on-device --parts $part"
    case "$part" in
      forest)
        rows=1000,10000,100000,1000000
        OFFLOAD_BENCH_SIZES=$rows CRITERION_HOME="$dir/criterion" timeout "$part_limit" ./.device/forest-gpu-bench --bench \
          > "$dir/cargo-bench.log" 2>&1 || { note "FAILED: part $part"; status=1; } ;;
      go-*)
        # One Go benchmark per part: each generates its inputs and checks every path's
        # answer before timing, which at 1e8 takes longer than the timing itself.
        op=${part#go-}
        bench=$(printf '%s' "$op" | sed 's/^sgemm$/SGEMM/; s/^./\U&/')
        if [ -x .device/go-host.test ] && [ "$op" = test ]; then
          (cd go-host && timeout "$part_limit" ../.device/go-host.test -test.run GPU -test.v -test.count=1) > "$dir/go-gpu-test.log" 2>&1 \
            || { note "FAILED or over ${part_limit} s: go GPU tests (go-gpu-test.log)"; status=1; }
        elif [ -x .device/go-host.test ]; then
          (cd go-host && OFFLOAD_BENCH_N=${OFFLOAD_BENCH_N:-1000,10000,100000,1000000,10000000} OFFLOAD_BENCH_MATMUL_N=${OFFLOAD_BENCH_MATMUL_N:-256,1024,4096} \
            timeout "$part_limit" ../.device/go-host.test -test.run '^$' -test.bench "^Benchmark$bench\$/(family=|path=(go|rust-cgo|gpu))/(path=(go|rust-cgo|gpu)|n=|dtype=)" \
            -test.benchtime=5x -test.count=3 -test.benchmem -test.timeout=8m) > "$dir/go-bench.txt" 2>&1 \
            || { note "FAILED: go GPU benchmarks ($bench)"; status=1; }
        else
          echo "SKIP go-host: .device/go-host.test was not packaged" > "$dir/go-bench.txt"
        fi ;;
      *)
        [ -x .device/gpu-bench ] || { echo "bench.sh --on-device: .device/gpu-bench missing (part $part); run scripts/bench.sh --gpu-machine here first" >&2; exit 1; }
        OFFLOAD_BENCH_ONLY=$groups CRITERION_HOME="$dir/criterion" timeout "$part_limit" ./.device/gpu-bench --bench \
          > "$dir/cargo-bench.log" 2>&1 || { note "FAILED: part $part"; status=1; } ;;
    esac
    echo "$(( $(date +%s) - p0 ))  part $part" > "$dir/stage-time.txt"
    trim_criterion "$dir/criterion"
    tar czf "$dest/$part.tar.gz" -C /tmp/offload-bench "$name/parts/$part"
    note "part $part: $(( $(date +%s) - p0 )) s -> $dest/$part.tar.gz"
    grep -E '^(SKIP|FAIL|thread .* panicked)' "$dir/cargo-bench.log" 2>/dev/null | head -5 >&2 || true
  done
  exit $status
fi

# ---------------------------------------------------------------------------------------
# GPU MACHINE, packaging side (here, no GPU visible): build the binaries the lent machine
# runs. The GPU bench binary comes from scripts/device-check.sh --build (helper D's script,
# which also builds its test binary); the report tool and this machine's build
# environment are added next to it.
if [ $gpu_machine = 1 ] && [ $has_gpu = 0 ]; then
  step "packaging the GPU subset for the lent GPU machine (no GPU visible here)"
  [ -f scripts/device-check.sh ] || { echo "bench.sh: scripts/device-check.sh missing" >&2; exit 1; }
  bash scripts/device-check.sh --build
  # The random-forest GPU bench (batch-predict 1e3…1e6 rows, fit_on on diabetes), same target dir.
  forest_bin=$(CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$root/target/gpu-dev} cargo bench -p offload-core \
    --features wgpu,cuda --bench forest_gpu --no-run --message-format=json \
    | python3 -c 'import sys,json
for l in sys.stdin:
    m=json.loads(l)
    if m.get("reason")=="compiler-artifact" and m.get("executable") and m["target"]["name"]=="forest_gpu": print(m["executable"])' | tail -1)
  cp "$forest_bin" .device/forest-gpu-bench
  strip .device/forest-gpu-bench
  cargo build --release -q -p offload-report
  cp target/release/offload-report .device/offload-report
  strip .device/offload-report
  bash scripts/build-capi.sh
  (cd go-host && go test -c -ldflags='-s -w' -o ../.device/go-host.test .)
  cp target/release/liboffload_capi.so .device/
  report --collect-env .device --repo "$root" --command-line "scripts/bench.sh --gpu-machine"
  mv .device/env.json .device/build-env.json
  ls -la .device >&2
  cat >&2 <<EOF

Packaged. Now, with the device tool (it is no shell command):
  run(command="bash scripts/bench.sh --on-device --parts h2d,d2h,sgemm,sum-f32",
      carry=[".device", ".gl"], timeout_s=600)
and again with the other parts (scripts/bench.sh's gpu_parts lists them; at most 8 a call,
each call well inside 10 minutes). Each part lands in \$OUT as <part>.tar.gz.
(.gl: the Vulkan loader .debs, see the device README; without them gpu-wgpu is skipped.)
Then here: scripts/bench.sh --unpack "<files_at of each call> …"
EOF
  exit 0
fi

# ---------------------------------------------------------------------------------------
# The normal run (and --gpu-machine with a GPU visible here).
if [ -z "$out" ]; then
  if [ $gpu_machine = 1 ]; then out="bench-results/$(gpu_folder)"
  else out="bench-results/$(hostname -s 2>/dev/null || cat /proc/sys/kernel/hostname)-$day"; fi
fi
mkdir -p "$out"
out=$(cd "$out" && pwd)
export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-/tmp/offload-xdg}
mkdir -p "$XDG_RUNTIME_DIR"; chmod 700 "$XDG_RUNTIME_DIR"

status=0
note "results folder: $out (quick=$quick, gpu-machine=$gpu_machine, GPU visible=$has_gpu)"
note "load average at the start: $(loadavg) ($(nproc) CPUs)"

step "build: guests, capi, report tool"
for g in rust c go; do
  wasm="build/guests/wasm-$g.wasm" script="scripts/build-$g-guest.sh"
  if [ ! -f "$wasm" ] && [ -f "$script" ]; then note "building $wasm"; bash "$script"; fi
done
if [ ! -f build/guests/forest/forest-rust.wasm ] && [ -f scripts/build-forest-guest.sh ]; then
  note "building build/guests/forest/forest-rust.wasm"; bash scripts/build-forest-guest.sh
fi
go_txt="$out/go-bench.txt"
rm -f "$go_txt"
if [ $run_go = 1 ] && [ -f go-host/go.mod ] && [ -f scripts/build-capi.sh ]; then
  # The Go host links liboffload_capi (rust-cgo): without it no Go benchmark compiles.
  if ! bash scripts/build-capi.sh; then
    note "FAILED: scripts/build-capi.sh; the Go harness is left out"
    echo "SKIP go-host: scripts/build-capi.sh failed, so go-host does not link (see the bench.sh output)" > "$go_txt"
    run_go=0 status=1
  fi
fi
report --help >/dev/null   # builds the report tool now, not after the benches

# The bench binaries, built now so that no benchmark stage includes a compile.
if [ $run_rust = 1 ]; then
  if [ $gpu_machine = 0 ]; then
    step "build: cargo bench --no-run (vector, forest, parallel, forest_predict)"
    cargo bench --no-run -p offload-host --bench vector --bench forest --bench parallel >&2 || note "FAILED: cargo bench --no-run -p offload-host --bench vector --bench forest --bench parallel (its bench stage will fail too)"
    cargo bench --no-run -p offload-core --bench forest_predict >&2 || note "FAILED: cargo bench --no-run -p offload-core --bench forest_predict (its bench stage will fail too)"
  fi
  if [ $gpu_machine = 1 ] || [ $quick = 0 ] || [ $has_gpu = 1 ]; then
    step "build: cargo bench --no-run (GPU backends)"
    cargo bench --no-run -p offload-core --features wgpu,cuda --bench gpu --bench forest_gpu >&2 || note "FAILED: cargo bench --no-run -p offload-core --features wgpu,cuda --bench gpu --bench forest_gpu (its bench stage will fail too)"
  fi
fi
go_test_bin="$root/build/go-host.test"
if [ $run_go = 1 ] && [ -f go-host/go.mod ] && ls go-host/*_test.go >/dev/null 2>&1; then
  step "build: go test -c (go-host)"
  if ! (cd go-host && go test -c -o "$go_test_bin" .); then
    note "FAILED: go test -c (go-host); the Go harness is left out"
    echo "SKIP go-host: go test -c failed (see the bench.sh output)" > "$go_txt"
    run_go=0 status=1
  fi
fi
# scikit-learn, the forest's peer: python3's own if it has it, else a venv under build/.
sk_txt="$out/sklearn-forest.jsonl"
rm -f "$sk_txt"
sk_py=""
if [ $run_sklearn = 1 ] && [ $gpu_machine = 0 ]; then
  step "build: scikit-learn (python venv build/venv)"
  if ! command -v python3 >/dev/null 2>&1; then
    echo "SKIP sklearn: python3 is not on PATH" > "$sk_txt"
  elif python3 -c 'import sklearn' 2>/dev/null; then
    sk_py=python3
  elif build/venv/bin/python -c 'import sklearn' 2>/dev/null; then
    sk_py=build/venv/bin/python
  else
    note "installing scikit-learn from PyPI into build/venv"
    if pip_log=$( { python3 -m venv build/venv && build/venv/bin/pip install -q scikit-learn; } 2>&1 ) \
      && build/venv/bin/python -c 'import sklearn' 2>/dev/null; then
      sk_py=build/venv/bin/python
    else
      echo "SKIP sklearn: installing scikit-learn into build/venv failed: $(printf '%s' "$pip_log" | tail -1)" > "$sk_txt"
    fi
  fi
  [ -z "$sk_py" ] && note "$(cat "$sk_txt")"
  # XGBoost's random-forest mode, the other CPU peer: the CPU-only wheel (about 6 MB)
  # where the python has no xgboost; when it cannot be had, sklearn_forest.py prints
  # `SKIP xgboost-rf-*: …` itself.
  if [ -n "$sk_py" ] && ! "$sk_py" -c 'import xgboost' 2>/dev/null; then
    if [ "$sk_py" = build/venv/bin/python ]; then
      note "installing xgboost-cpu from PyPI into build/venv"
      build/venv/bin/pip install -q xgboost-cpu >&2 || note "xgboost-cpu did not install: its peers are skipped by name"
    else
      note "python3 has no xgboost (pip install xgboost-cpu): its peers are skipped by name"
    fi
  fi
fi

step "environment"
report --collect-env "$out" --repo "$root" --command-line "scripts/bench.sh $*"

crit="$out/criterion"
log="$out/cargo-bench.log"
rm -rf "$crit"; : > "$log"
# The benches read OFFLOAD_BENCH_QUICK themselves (fewer samples, shorter measurement,
# fewer sizes); criterion's command-line flags would override their settings, so none here.
if [ $quick = 1 ]; then export OFFLOAD_BENCH_QUICK=1; else unset OFFLOAD_BENCH_QUICK; fi

# run_cargo_bench <description> <cargo args...>: output to the terminal and the log.
run_cargo_bench() {
  local what=$1; shift
  step "cargo bench: $what"
  if ! CRITERION_HOME="$crit" cargo bench "$@" 2>&1 | tee -a "$log"; then
    note "FAILED: cargo bench $* (see $log)"; status=1
  fi
}

if [ $run_rust = 1 ]; then
  if [ $gpu_machine = 0 ]; then
    run_cargo_bench "vector ops (Rust host)" -p offload-host --bench vector
    run_cargo_bench "random forest (Rust host)" -p offload-host --bench forest
    run_cargo_bench "native forest predict (one thread, all cores)" -p offload-core --bench forest_predict
    run_cargo_bench "parallel-for guest (CPU and GPU device)" -p offload-host --bench parallel
  fi
  if [ $gpu_machine = 1 ] || [ $quick = 0 ] || [ $has_gpu = 1 ]; then
    if [ $has_gpu = 0 ]; then
      # No hardware GPU here: the CPU paths stop at 1e7 elements (24 GiB machines, and a
      # run that fits an afternoon); criterion measures 1 s per benchmark.
      export OFFLOAD_BENCH_MAX_ELEMS=${OFFLOAD_BENCH_MAX_ELEMS:-10000000}
      export OFFLOAD_BENCH_TIME_MS=${OFFLOAD_BENCH_TIME_MS:-1000}
    fi
    run_cargo_bench "GPU backends" -p offload-core --features wgpu,cuda --bench gpu
    run_cargo_bench "random forest on the GPU backends" -p offload-core --features wgpu,cuda --bench forest_gpu
  else
    for p in gpu-wgpu gpu-cuda; do
      echo "SKIP $p: --quick runs no GPU benches without a visible GPU (run without --quick, or --gpu-machine)" | tee -a "$log"
    done
  fi
fi

if [ $run_go = 1 ]; then
  if [ -x "$go_test_bin" ]; then
    # The test binary built above, run in go-host/ as `go test` would (same output).
    go_args=(-test.run '^$' -test.count=5 -test.benchtime=300ms -test.benchmem -test.timeout 60m)
    bench_re=.
    [ $quick = 1 ] && go_args+=(-test.short -test.benchtime=50ms)
    # GPU subset: the GPU paths beside the Go CPU paths of their family (no wasm paths).
    [ $gpu_machine = 1 ] && bench_re='^Benchmark(Sum|Dot|Mul|Scale|SGEMM)$/(family=|path=(go|rust-cgo|gpu))/(path=(go|rust-cgo|gpu)|n=|dtype=)'
    step "go test -bench $bench_re ${go_args[*]} (go-host)"
    if ! (cd go-host && "$go_test_bin" -test.bench "$bench_re" "${go_args[@]}") 2>&1 | tee "$go_txt"; then
      note "FAILED: go test -bench (see $go_txt)"; status=1
    fi
  else
    note "no Go benchmarks yet (go-host/*_test.go missing): the Go harness is left out"
  fi
fi

if [ -n "$sk_py" ]; then
  sk_peers=(--peers scikit-learn,xgboost-rf-hist,xgboost-rf-exact)
  sk_args=(--data diabetes,friedman1 --sizes 1000,10000 --repeat 5 "${sk_peers[@]}")
  [ $quick = 1 ] && sk_args=(--data diabetes,friedman1 --sizes 1000 --repeat 5 "${sk_peers[@]}")
  step "scikit-learn peer: scripts/sklearn_forest.py ${sk_args[*]}"
  if ! "$sk_py" scripts/sklearn_forest.py "${sk_args[@]}" > "$sk_txt"; then
    note "FAILED: scripts/sklearn_forest.py"; status=1
    echo "SKIP sklearn: scripts/sklearn_forest.py failed (see the bench.sh output)" >> "$sk_txt"
  fi
  grep -h '"data": "diabetes"' "$sk_txt" | head -1 | cut -c1-200 >&2 || true
fi

step "report"
if [ -d "$crit" ] || [ -f "$go_txt" ] || [ -f "$sk_txt" ]; then
  report --ingest "$out" || status=1
else
  note "no benchmark output at all: nothing to report"; status=1
fi
trim_criterion "$crit"

stage_summary "$out/stage-times.txt"
step "done in $(( $(date +%s) - t0 )) s: $out/REPORT.md"
[ -f "$out/REPORT.md" ] && sed -n '/^## Summary/,/^## Skipped/p' "$out/REPORT.md" | sed '$d'
exit $status
