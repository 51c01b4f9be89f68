#!/usr/bin/env bash
# Call 5 (2026-12-07): forward + backward against cuDNN, SDPA flash and Flex with the same mask
# (the matrix of issue 15) with main's kernels after the hoisted shared-memory reads.
set -uo pipefail
export PYTHONUNBUFFERED=1
t0=$(date +%s)
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
N=$(for s in h16_kv16_d128 h16_kv16_d64 h32_kv32_d128; do for p in balanced paper released; do printf "%s_%s," $p $s; done; done)
python3 test/cuda/check_cuda.py out/check --build-only --only ${N%,} > $OUT/build.log 2>&1; echo "built $(( $(date +%s)-t0 ))s"; grep -h "built\|FAILED" $OUT/build.log
timeout 420 python3 bench/cuda/bench_cuda.py out/check --mode fwdbwd --bwd-kernels sm90 --shapes 16x128,16x64,32x128 --lengths 8192,16384,32768 --budget 380 --out $OUT/matrix.md > $OUT/matrix.log 2>&1; echo "matrix rc=$? $(( $(date +%s)-t0 ))s"
grep "^| " $OUT/matrix.md | awk -F'|' '{print $2,$3,$4,$5,$9,$10,$12}'
