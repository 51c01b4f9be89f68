#!/usr/bin/env bash
# Call 2 (2026-12-07, third session): the warp-specialised dK/dV kernel (bwd90.dq = "writer": a
# producer warpgroup that loads and adds dQ by the tensor copy engine's reduce, two consumer
# warpgroups at 240 registers) on the GPU for the first time. Carry out/check (main's default
# config) and out/checkw (npx tsx test/cuda/prepare.ts out/checkw '{"bwd90":{"dq":"writer"}}').
# 1. a quick backward check with a short timeout (a barrier mistake would hang), 2. dK/dV time
# against the atomic kernel (breakdown), 3. the backward at full lengths on six layouts.
set -uo pipefail
export PYTHONUNBUFFERED=1
t0=$(date +%s)
el() { echo "[$(( $(date +%s)-t0 ))s] $*"; }
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader | tee $OUT/gpu.txt
L=balanced_h16_kv16_d128,released_h16_kv16_d64,released_h32_kv8_d128,mixed_gqa,band_mix,paper_h16_kv16_d128
python3 test/cuda/check_cuda.py out/checkw --build-only --only $L > /tmp/buildw.log 2>&1 &
python3 test/cuda/check_cuda.py out/check --build-only --only balanced_h16_kv16_d128,released_h16_kv16_d64,paper_h16_kv16_d128 > /tmp/build.log 2>&1
wait; el "built"; grep -h "FAILED\|rror" /tmp/build.log /tmp/buildw.log | head
timeout 100 python3 test/cuda/check_cuda.py out/checkw --quick --only balanced_h16_kv16_d128,released_h16_kv16_d64 --backward-only --bwd-kernels sm90 --watchdog 90 > $OUT/quick.log 2>&1; rc=$?; el "quick rc=$rc"; tail -1 $OUT/quick.log; grep FAIL $OUT/quick.log | head -5
if [ $rc -ne 0 ] && ! grep -q "passed" $OUT/quick.log; then tail -30 $OUT/quick.log; exit 1; fi
B=$OUT/breakdown.txt; : > $B
for d in check checkw; do
  echo "## $d" >> $B
  timeout 100 python3 bench/cuda/breakdown.py out/$d balanced_h16_kv16_d128,released_h16_kv16_d64 --lengths 16384 >> $B 2>&1
  timeout 100 python3 bench/cuda/breakdown.py out/$d paper_h16_kv16_d128 --lengths 32768 >> $B 2>&1
done; el "breakdowns"
timeout 330 python3 test/cuda/check_cuda.py out/checkw --only $L --backward-only --bwd-kernels sm90 --watchdog 320 > $OUT/check.log 2>&1; el "check rc=$?"; tail -1 $OUT/check.log; grep FAIL $OUT/check.log | head -8
grep -h "^## \|wall\|dkdv" $B | sed "s/ per call (CUDA events, 10 calls)//"
