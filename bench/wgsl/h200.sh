#!/usr/bin/env bash
# The one command of the GPU call for the WGSL target (issue 18): run from the repository root on
# the GPU machine, after bench/wgsl/prepare-h200.sh here, with carry [".gl", ".gpu"] (see
# bench/wgsl/README.md). Steps, each in its own Node process under a watchdog (on the NVIDIA
# driver the third createAttention of a process once never returned), so one hang costs one row:
#   1. the Vulkan loader and GLVND from .gl/*.deb, the NVIDIA ICD, the carried Node and dawn.node;
#   2. correctness: the tiled kernel against the float64 oracle at D = 128, N = 4096 (dense and
#      bands; and the paper's bands at D = 64), bench/wgsl/check.ts;
#   3. the benchmark with timestamp-query: bands vs spc's dense WGSL kernel, H = 16, D = 64 and
#      128, N = 2048 to 16384, bench/wgsl.ts --isolate (a killed case is a "hang" row);
#   4. the hang probe: several createAttention cycles in one process, bench/wgsl/life.ts;
# all into "$OUT" as at most 8 files (h200.log, check.jsonl, wgsl-h200.md, wgsl-h200.json,
# bench-cases.log, life.jsonl, env.txt, logs.tar.gz). Ends within about 9 minutes whatever hangs.
#
# --dry-run: on this machine (no GPU): no debs, no NVIDIA ICD, Dawn's backend from
# SPC_WEBGPU_BACKEND (default opengl: Mesa), small sizes; OUT defaults to /tmp/spc-h200-dry.
set -uo pipefail
cd "$(dirname "$0")/../.."
dry=0
[ "${1:-}" = --dry-run ] && dry=1
if [ $dry = 1 ]; then OUT="${OUT:-/tmp/spc-h200-dry}"; fi
: "${OUT:?OUT must be set (the device tool sets it)}"
mkdir -p "$OUT"
logs="$(mktemp -d)"
t0=$(date +%s)
LIMIT=540 # seconds: the script's own deadline, inside the call's 600
elapsed() { echo $(($(date +%s) - t0)); }
left() { echo $((LIMIT - $(elapsed))); }
say() { echo "[h200.sh $(elapsed) s] $*"; }
min() { [ "$1" -lt "$2" ] && echo "$1" || echo "$2"; }

main() {
# 1. Set-up.
if [ $dry = 0 ]; then
  say "unpacking .gl/*.deb (Vulkan loader, GLVND)"
  for f in .gl/*.deb; do dpkg -x "$f" /; done
  ldconfig
  export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
  export __EGL_VENDOR_LIBRARY_FILENAMES=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json
  BACKEND=vulkan
  LEVEL=core
  NS=2048,4096,8192,16384 DIMS=64,128 HEADS=16 REPS=10
  CHECKS="dense-causal:1:128:4096 spattention-paper:16:128:4096 spattention-balanced:16:128:4096 spattention-paper:16:64:4096"
  LIFE_ARGS="--cycles 6 --n 2048 --d 64 --heads 16"
else
  BACKEND="${SPC_WEBGPU_BACKEND:-opengl}"
  LEVEL=compatibility
  [ "$BACKEND" = opengl ] || LEVEL=core
  NS=256 DIMS=64 HEADS=4 REPS=1
  CHECKS="dense-causal:1:128:320 spattention-paper:4:64:300"
  LIFE_ARGS="--cycles 3 --n 256 --d 64 --heads 4"
fi
export EGL_PLATFORM=surfaceless
say "unpacking the carried Node and dawn.node"
xz -dc .gpu/node.xz > .gpu/node && chmod +x .gpu/node
dawn=.gpu/node_modules/webgpu/dist/linux-x64/dawn.node
[ -s "$dawn" ] || xz -dc "$dawn.xz" > "$dawn"
NODE="$PWD/.gpu/node"
JS=.gpu/js/bench
{
  echo "date: $(date -u +%FT%TZ)"
  echo "node: $("$NODE" --version) (built on $(cat .gpu/node.version 2>/dev/null))"
  echo "git: $(git rev-parse HEAD 2>/dev/null || echo '(no .git)') $(git status --porcelain 2>/dev/null | wc -l) changed files"
  echo "backend: $BACKEND, feature level $LEVEL; VK_DRIVER_FILES=${VK_DRIVER_FILES:-}"
  nvidia-smi 2>&1 | head -20
  ldconfig -p | grep -E 'libvulkan|libGLX|libEGL' || true
  ls -la "${VK_DRIVER_FILES:-/nonexistent}" 2>&1
  uname -a
  nproc
} > "$OUT/env.txt" 2>&1
say "node $("$NODE" --version); env in env.txt"

# 2. Correctness first (120 s at most per case, 200 s in all).
check_end=$(($(elapsed) + 200))
for c in $CHECKS; do
  t=$(min 120 $((check_end - $(elapsed))))
  if [ "$t" -lt 10 ]; then
    say "check $c: skipped (check budget spent)"
    echo "{\"case\":\"$c\",\"ok\":false,\"skipped\":true}" >> "$OUT/check.jsonl"
    continue
  fi
  say "check $c (timeout $t s)"
  timeout -k 5 "$t" "$NODE" $JS/wgsl/check.js --case "$c" --backend "$BACKEND" --feature-level "$LEVEL" --jsonl "$OUT/check.jsonl" > "$logs/check-${c//:/-}.log" 2>&1
  rc=$?
  grep -E '^(PASS|FAIL)' "$logs/check-${c//:/-}.log" || tail -5 "$logs/check-${c//:/-}.log"
  if [ $rc = 124 ] || [ $rc = 137 ]; then
    say "check $c: HANG (killed after $t s); last lines:"
    tail -3 "$logs/check-${c//:/-}.log"
    echo "{\"case\":\"$c\",\"ok\":false,\"hang\":true,\"timeoutS\":$t}" >> "$OUT/check.jsonl"
  elif [ $rc != 0 ]; then
    say "check $c: exit $rc"
  fi
done

# 3. The benchmark: each (pattern, N, D) in its own process, 60 s each; no case starts after the
# budget, so that the benchmark ends by about 430 s into the script.
budget=$((430 - 60 - $(elapsed)))
[ $budget -gt 30 ] || budget=30
say "benchmark (budget $budget s, 60 s per case)"
bench_t=$(($(left) - 60))
[ $bench_t -gt 60 ] || bench_t=60
timeout -k 5 $bench_t "$NODE" $JS/wgsl.js --backend "$BACKEND" --feature-level "$LEVEL" --isolate --timeout 60 --budget $budget \
  --n $NS --dims $DIMS --heads $HEADS --reps $REPS --peak 67 \
  --patterns spattention-paper,spattention-balanced,spattention-released \
  --json "$OUT/wgsl-h200.json" --md "$OUT/wgsl-h200.md" --log "$OUT/bench-cases.log" 2> "$logs/bench-stderr.log"
say "benchmark exit $?"

# 4. The hang probe: createAttention cycles in one process, as the first H200 run did; a second
# run builds pipelines synchronously (is createComputePipelineAsync the one that never returns?).
for mode in "" --sync-pipeline --device-per-cycle; do
  t=$(min 45 $(($(left) - 15)))
  if [ "$t" -lt 10 ]; then
    say "life ${mode:-default}: skipped (time)"
    continue
  fi
  say "life ${mode:-default} (timeout $t s)"
  timeout -k 5 "$t" "$NODE" $JS/wgsl/life.js $LIFE_ARGS $mode --backend "$BACKEND" --feature-level "$LEVEL" --jsonl "$OUT/life.jsonl" > "$logs/life${mode:+-${mode#--}}.log" 2>&1
  rc=$?
  tail -2 "$logs/life${mode:+-${mode#--}}.log"
  if [ $rc = 124 ] || [ $rc = 137 ]; then
    say "life ${mode:-default}: HANG (killed after $t s)"
    echo "{\"mode\":\"${mode:-default}\",\"hang\":true,\"timeoutS\":$t}" >> "$OUT/life.jsonl"
  fi
done

say "done; results in $OUT"
}

main 2>&1 | tee "$OUT/h200.log"
tar -czf "$OUT/logs.tar.gz" -C "$logs" .
rm -rf "$logs"
ls -la "$OUT"
