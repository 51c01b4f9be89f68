#!/usr/bin/env bash
# The one command of the GPU call for the WGSL target (issue 18): run from the repository root on
# the GPU machine, after bench/wgsl/prepare-h200.sh here, with carry [".gl", ".gpu"] (see
# bench/wgsl/README.md). Steps, each in its own Node process under a watchdog (on the NVIDIA
# driver the third createAttention of a process once never returned), so one hang costs one row:
#   1. the Vulkan loader and GLVND from .gl/*.deb, the NVIDIA ICD, the carried Node and dawn.node;
#   2. correctness of every tiled variant the device runs (selectors auto, sg, wg, sg-small,
#      wg-small: subgroup / workgroup reductions, 32 KiB and compatibility tiers) against the
#      float64 oracle at D = 128, N = 4096 (dense and bands; the paper's bands at D = 64), and the
#      multi-pass path (@budget) at N = 8192, bench/wgsl/check.ts;
#   3. the benchmark with timestamp-query, the variant createAttention picks (auto): bands vs
#      spc's dense WGSL kernel, H = 16, D = 64 and 128, N = 4096 to 16384, bench/wgsl.ts --isolate
#      (a killed case is a "hang" row);
#   4. the variants compared at N = 16384 (dense and paper bands, D = 64 and 128): sg, wg,
#      sg-small, wg-small, auto@budget (Mesa's pass budget on the GPU);
#   5. the hang probe: several createAttention cycles in one process, bench/wgsl/life.ts;
# all into "$OUT" as at most 8 files (h200.log, env.txt, check.jsonl, wgsl-h200.md, wgsl-h200.json,
# wgsl-h200-variants.md, wgsl-h200-variants.json, logs.tar.gz: the benchmark processes' output,
# the hang probe's jsonl and every log). Ends within about 9 minutes whatever hangs.
#
# --dry-run: on this machine (no GPU): no debs, no NVIDIA ICD, Dawn's backend from
# SPC_WEBGPU_BACKEND (default opengl: Mesa), small sizes; OUT defaults to /tmp/spc-h200-dry.
set -uo pipefail
cd "$(dirname "$0")/../.."
. bench/wgsl/gpu-env.sh # gpu_vulkan, gpu_node, gpu_env_txt
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
  gpu_vulkan
  BACKEND=vulkan
  LEVEL=core
  NS=4096,8192,16384 DIMS=64,128 HEADS=16 REPS=10 VNS=16384
  CHECKS="dense-causal:1:128:4096 spattention-paper:16:128:4096 spattention-balanced:16:128:4096 spattention-paper:16:64:4096 dense-causal:1:64:4096"
  PASS_CHECK="dense-causal:1:128:8192"
  LIFE_ARGS="--cycles 6 --n 2048 --d 64 --heads 16"
else
  BACKEND="${SPC_WEBGPU_BACKEND:-opengl}"
  LEVEL=compatibility
  [ "$BACKEND" = opengl ] || LEVEL=core
  NS=256 DIMS=64 HEADS=4 REPS=1 VNS=256
  CHECKS="dense-causal:1:128:320 spattention-paper:4:64:300"
  PASS_CHECK="dense-causal:1:128:1200"
  LIFE_ARGS="--cycles 3 --n 256 --d 64 --heads 4"
fi
gpu_node
JS=.gpu/js/bench
gpu_env_txt "backend: $BACKEND, feature level $LEVEL; VK_DRIVER_FILES=${VK_DRIVER_FILES:-}"

# 2. Correctness first: every variant selector on each case (150 s at most per case, 220 s in all).
CHECK_VARIANTS=auto,sg,wg,sg-small,wg-small
check_end=$(($(elapsed) + 220))
run_check() { # case, variants, extra args
  local c=$1 vs=$2
  shift 2
  local t log="$logs/check-${c//:/-}$*.log"
  log="${log// /}"
  t=$(min 150 $((check_end - $(elapsed))))
  if [ "$t" -lt 10 ]; then
    say "check $c: skipped (check budget spent)"
    echo "{\"case\":\"$c\",\"ok\":false,\"skipped\":true}" >> "$OUT/check.jsonl"
    return
  fi
  say "check $c $vs $* (timeout $t s)"
  timeout -k 5 "$t" "$NODE" $JS/wgsl/check.js --case "$c" --variants "$vs" "$@" --backend "$BACKEND" --feature-level "$LEVEL" --jsonl "$OUT/check.jsonl" > "$log" 2>&1
  local rc=$?
  grep -E '^(PASS|FAIL|SKIP)' "$log" || tail -5 "$log"
  if [ $rc = 124 ] || [ $rc = 137 ]; then
    say "check $c: HANG (killed after $t s); last lines:"
    tail -3 "$log"
    echo "{\"case\":\"$c\",\"ok\":false,\"hang\":true,\"timeoutS\":$t}" >> "$OUT/check.jsonl"
  elif [ $rc != 0 ]; then
    say "check $c: exit $rc"
  fi
}
for c in $CHECKS; do run_check "$c" "$CHECK_VARIANTS"; done
run_check "$PASS_CHECK" sg@budget,wg@budget,auto

# 3. The benchmark of the variant createAttention picks: each (pattern, N, D) in its own process,
# 60 s each; no case starts after its budget, so that it ends by about 330 s into the script.
budget=$((330 - 60 - $(elapsed)))
[ $budget -gt 30 ] || budget=30
say "benchmark (budget $budget s, 60 s per case)"
bench_t=$(($(left) - 120))
[ $bench_t -gt 60 ] || bench_t=60
timeout -k 5 $bench_t "$NODE" $JS/wgsl.js --backend "$BACKEND" --feature-level "$LEVEL" --isolate --timeout 60 --budget $budget \
  --n $NS --dims $DIMS --heads $HEADS --reps $REPS --peak 67 --variants auto \
  --patterns spattention-paper,spattention-balanced,spattention-released \
  --json "$OUT/wgsl-h200.json" --md "$OUT/wgsl-h200.md" --log "$logs/bench-cases.log" 2> "$logs/bench-stderr.log"
say "benchmark exit $?"

# 4. The variants compared (dense and paper bands at N = VNS), until about 470 s into the script.
budget=$((470 - 45 - $(elapsed)))
if [ $budget -gt 20 ]; then
  say "variant comparison (budget $budget s)"
  timeout -k 5 $(($(left) - 60)) "$NODE" $JS/wgsl.js --backend "$BACKEND" --feature-level "$LEVEL" --isolate --timeout 45 --budget $budget \
    --n $VNS --dims $DIMS --heads $HEADS --reps $REPS --peak 67 --variants sg,wg,sg-small,wg-small,auto@budget \
    --patterns spattention-paper \
    --json "$OUT/wgsl-h200-variants.json" --md "$OUT/wgsl-h200-variants.md" --log "$logs/bench-variants-cases.log" 2> "$logs/bench-variants-stderr.log"
  say "variant comparison exit $?"
else
  say "variant comparison: skipped (time)"
fi

# 5. The hang probe: createAttention cycles in one process, as the first H200 run did (it passed
# there in all three modes; now the default mode only, for the time).
t=$(min 40 $(($(left) - 10)))
if [ "$t" -lt 10 ]; then
  say "life: skipped (time)"
else
  say "life (timeout $t s)"
  timeout -k 5 "$t" "$NODE" $JS/wgsl/life.js $LIFE_ARGS --backend "$BACKEND" --feature-level "$LEVEL" --jsonl "$logs/life.jsonl" > "$logs/life.log" 2>&1
  rc=$?
  tail -2 "$logs/life.log"
  if [ $rc = 124 ] || [ $rc = 137 ]; then
    say "life: HANG (killed after $t s)"
    echo "{\"mode\":\"default\",\"hang\":true,\"timeoutS\":$t}" >> "$logs/life.jsonl"
  fi
fi

say "done; results in $OUT"
}

main 2>&1 | tee "$OUT/h200.log"
tar -czf "$OUT/logs.tar.gz" -C "$logs" .
rm -rf "$logs"
# Here (--dry-run), the unpacked Node and dawn.node would be carried next time (122 MiB): remove them.
if [ $dry = 1 ]; then rm -f .gpu/node .gpu/node_modules/webgpu/dist/linux-x64/dawn.node; fi
ls -la "$OUT"
