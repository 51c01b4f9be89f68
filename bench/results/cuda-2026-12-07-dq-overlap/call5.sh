#!/usr/bin/env bash
# Call 5 (2026-12-07, third session; NOT RUN: the session's device time ran out): the writer
# kernel's final form with bwd90 = {rows: 64, dq: writer} on every layout, the config meant to
# become the default. Carry out/check made by
#   npx tsx test/cuda/prepare.ts out/check '{"bwd90":{"dq":"writer","rows":64}}' && rm out/check/*.cu
# and out/check-default (the heuristic, atomic dK/dV, whose generated code changed too: the dQ map
# parameter, the per-kernel thread counts):
#   npx tsx test/cuda/prepare.ts out/check-default && rm out/check-default/*.cu
# The heads' tables and tile ranges are now set up before the warpgroups part, so no block barrier
# is reached from two roles' code (call 4's synccheck errors), and the deterministic mode runs
# dkdv_two. compute-sanitizer synccheck/racecheck, then backward checks against float64 autograd
# (full lengths on four layouts, quick on six more), then dK/dV times (default and deterministic
# modes), then the matrix of issue 15 at H16 D128 and D64 with it.
set -uo pipefail
export PYTHONUNBUFFERED=1
t0=$(date +%s)
el() { echo "[$(( $(date +%s)-t0 ))s] $*"; }
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader | tee $OUT/gpu.txt
F=balanced_h16_kv16_d128,released_h16_kv16_d64,released_h32_kv8_d128,mixed_gqa
Q=paper_h16_kv16_d64,band_mix,balanced_h16_kv4_d64,strided,fixed,paper_h16_kv16_d128
python3 test/cuda/check_cuda.py out/check-default --build-only --only balanced_h16_kv16_d128,released_h32_kv8_d128,released_h16_kv16_d64 > /tmp/bd.log 2>&1 &
python3 test/cuda/check_cuda.py out/check --build-only --only $F,$Q > /tmp/b.log 2>&1; wait; el built; grep -h FAILED /tmp/b.log /tmp/bd.log
san() { SPC_BACKWARD=$5 SPC_CUDA_BWD=sm90 timeout 60 compute-sanitizer --tool $1 --error-exitcode 9 python3 bench/cuda/profile_one.py out/check $2 $3 $4 > $OUT/$1-$2-$5.log 2>&1; el "$1 $2 N=$3 $5 rc=$?"; tail -1 $OUT/$1-$2-$5.log; }
san synccheck balanced_h16_kv16_d128 300 1 1; san synccheck mixed_gqa 300 1 1; san synccheck released_h16_kv16_d64 300 1 det
san racecheck balanced_h16_kv16_d128 300 1 1
(cd $OUT && tar czf san.tgz *check-*.log && rm -f *check-*.log)
timeout 200 python3 test/cuda/check_cuda.py out/check --only $F --backward-only --bwd-kernels sm90 --watchdog 190 > $OUT/check.log 2>&1; el "check rc=$?"; tail -1 $OUT/check.log; grep FAIL $OUT/check.log | head -5
timeout 150 python3 test/cuda/check_cuda.py out/check-default --only balanced_h16_kv16_d128,released_h32_kv8_d128,released_h16_kv16_d64 --backward-only --bwd-kernels sm90 --watchdog 140 > $OUT/check-default.log 2>&1; el "default check rc=$?"; tail -1 $OUT/check-default.log; grep FAIL $OUT/check-default.log | head -5
timeout 100 python3 test/cuda/check_cuda.py out/check --quick --only $Q --backward-only --bwd-kernels sm90 --watchdog 90 > $OUT/quick.log 2>&1; el "quick rc=$?"; tail -1 $OUT/quick.log; grep FAIL $OUT/quick.log | head -5
timeout 60 python3 bench/cuda/breakdown.py out/check balanced_h16_kv16_d128,released_h16_kv16_d64 --lengths 16384 2>&1 | grep "wall\|dkdv" | sed "s/ per call (CUDA events, 10 calls)//" | tee $OUT/breakdown.txt
timeout 60 python3 bench/cuda/breakdown.py out/check balanced_h16_kv16_d128 --lengths 16384 --deterministic 2>&1 | grep "wall\|dkdv\|_dq_" | sed "s/ per call (CUDA events, 10 calls)//" | tee -a $OUT/breakdown.txt
M=$(for s in h16_kv16_d128 h16_kv16_d64; do for p in balanced paper released; do printf "%s_%s," $p $s; done; done)
python3 test/cuda/check_cuda.py out/check --build-only --only ${M%,} > /tmp/bm.log 2>&1; el "matrix layouts built"
timeout 300 python3 bench/cuda/bench_cuda.py out/check --mode fwdbwd --bwd-kernels sm90 --shapes 16x128,16x64 --lengths 8192,16384,32768 --budget 280 --out $OUT/matrix.md > $OUT/matrix.log 2>&1; el "matrix rc=$?"
grep "^| " $OUT/matrix.md | awk -F'|' '{print $2,$3,$4,$5,$9,$10,$11,$12}'
