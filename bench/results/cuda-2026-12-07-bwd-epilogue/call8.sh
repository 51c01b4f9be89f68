#!/usr/bin/env bash
# Call 8 (2026-12-07, second session): the WGSL tuner's warm-up (timeDispatches runs >= 300 ms of
# untimed dispatches first, issue 17/18) checked on a GPU: the same variant (wg-16x8-t2x8-pad, paper
# H16 D128 N = 16384) timed by bench/wgsl.ts --isolate and by spc tune in one call. Before the
# warm-up (H200, 2026-12-02) the tuner's time was 2.3x the benchmark's. Carry .gl and .gpu
# (bash bench/wgsl/prepare-h200.sh here first).
set -uo pipefail
t0=$(date +%s)
el() { echo "[$(( $(date +%s)-t0 ))s] $*"; }
say() { el "$*"; }
. bench/wgsl/gpu-env.sh; gpu_vulkan; gpu_node
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
timeout 80 "$NODE" .gpu/js/bench/wgsl.js --backend vulkan --isolate --timeout 40 --n 16384 --dims 128 --heads 16 --reps 5 --peak 67 --variants wg-16x8-t2x8-pad --patterns spattention-paper --md $OUT/wb-iso.md > $OUT/wb-iso.log 2>&1; el "bench rc=$?"
timeout 110 "$NODE" .gpu/js/bench/wgsl/tune.js tune bench/wgsl/tune-h200.spc --layout spattention_d128 --target wgsl --backend vulkan --seq 16384 --max-candidates 1 --include wg-16x8-t2x8-pad --reps 5 --check-n 4096 --timeout 60 > $OUT/tune1.txt 2> $OUT/tune1.log; el "tune rc=$?"
grep "^| spattention\|^| dense" $OUT/wb-iso.md; tail -6 $OUT/tune1.txt
