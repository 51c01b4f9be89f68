#!/usr/bin/env bash
# Call 7 (2026-12-07, last of the budget): the staged dK/dV epilogue ("epi") against main ("new"):
# backward checks of the epi package, then per-kernel times at balanced H16 D128 16k.
set -uo pipefail
export PYTHONUNBUFFERED=1
t0=$(date +%s)
nvidia-smi --query-gpu=name --format=csv,noheader
python3 test/cuda/check_cuda.py out/ab128 --build-only --only balanced_h16_kv16_d128_epi,balanced_h16_kv16_d128_new > $OUT/build.log 2>&1; echo "built $(( $(date +%s)-t0 ))s"; grep -h "built\|FAILED" $OUT/build.log
timeout 40 python3 bench/cuda/breakdown.py out/ab128 balanced_h16_kv16_d128_new,balanced_h16_kv16_d128_epi --lengths 16384 --out $OUT/breakdown.txt > $OUT/breakdown.log 2>&1; echo "breakdown rc=$? $(( $(date +%s)-t0 ))s"
grep -h "dkdv\|wall" $OUT/breakdown.txt
timeout 60 python3 test/cuda/check_cuda.py out/ab128 --only balanced_h16_kv16_d128_epi --backward-only --bwd-kernels sm90 > $OUT/check.log 2>&1; echo "check rc=$? $(( $(date +%s)-t0 ))s"
grep -c " ok$" $OUT/check.log; grep FAIL $OUT/check.log | head -5; tail -2 $OUT/check.log
