#!/usr/bin/env bash
# Call 4 (2026-12-07, third session): call 3's synccheck reported the heads' setup __syncthreads
# reached from the producer's and the consumers' code as divergent; it is now a named barrier over
# the 384 threads. synccheck, racecheck and a quick check again on the writer kernel; and the
# writer kernel at D = 64 with 64 rows (3 stages; out/checkw64) against 128 rows (2 stages).
set -uo pipefail
export PYTHONUNBUFFERED=1
t0=$(date +%s)
el() { echo "[$(( $(date +%s)-t0 ))s] $*"; }
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader | tee $OUT/gpu.txt
python3 test/cuda/check_cuda.py out/checkw --build-only --only balanced_h16_kv16_d128,released_h16_kv16_d64,mixed_gqa > /tmp/b1.log 2>&1 &
python3 test/cuda/check_cuda.py out/checkw64 --build-only --only released_h16_kv16_d64,paper_h16_kv16_d64 > /tmp/b2.log 2>&1
wait; el built; grep -h FAILED /tmp/b1.log /tmp/b2.log
san() { SPC_BACKWARD=$5 SPC_CUDA_BWD=sm90 timeout 60 compute-sanitizer --tool $1 --error-exitcode 9 python3 bench/cuda/profile_one.py $6 $2 $3 $4 > $OUT/$1-$2-$5.log 2>&1; el "$1 $2 N=$3 $5 rc=$?"; tail -1 $OUT/$1-$2-$5.log; }
san synccheck balanced_h16_kv16_d128 300 1 1 out/checkw; san synccheck mixed_gqa 300 1 1 out/checkw; san racecheck balanced_h16_kv16_d128 300 1 1 out/checkw; san synccheck released_h16_kv16_d64 300 1 1 out/checkw64
timeout 100 python3 test/cuda/check_cuda.py out/checkw --quick --only balanced_h16_kv16_d128,released_h16_kv16_d64,mixed_gqa --backward-only --bwd-kernels sm90 --watchdog 90 > $OUT/quick.log 2>&1; el "quick rc=$?"; tail -1 $OUT/quick.log
timeout 100 python3 test/cuda/check_cuda.py out/checkw64 --quick --only released_h16_kv16_d64 --backward-only --bwd-kernels sm90 --watchdog 90 > $OUT/quick64.log 2>&1; el "quick64 rc=$?"; tail -1 $OUT/quick64.log
for d in checkw checkw64; do echo "## $d"; timeout 60 python3 bench/cuda/breakdown.py out/$d released_h16_kv16_d64,paper_h16_kv16_d64 --lengths 16384,32768 2>&1 | grep "wall\|dkdv" | sed "s/ per call (CUDA events, 10 calls)//"; done | tee $OUT/breakdown.txt
(cd $OUT && tar czf san.tgz *check-*.log && rm -f *check-*.log)
