#!/usr/bin/env bash
# Call 4 (2026-12-07): the sm90 dK/dV kernel with its per-tile shared-memory reads (mask table,
# lse2, delta) issued before the wgmma waits and the tile cursor's range end in a register ("new"),
# against the kernel before ("atomic", main at 86d873c): backward (and forward, for the cursor)
# checks of the new code on 6 layouts, sanitizers, per-kernel times, spc fwd+bwd side by side.
set -uo pipefail
export PYTHONUNBUFFERED=1
O=$OUT/raw; mkdir -p $O; t0=$(date +%s)
el() { echo "[$(( $(date +%s)-t0 ))s] $*"; }
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader | tee $O/gpu.txt
python3 -c "import torch,triton;print(torch.__version__,torch.version.cuda,triton.__version__)" | tee -a $O/gpu.txt
P3=paper,released,balanced
A=$(for p in balanced paper released; do printf "%s_h16_kv16_d128_atomic,%s_h16_kv16_d128_new," $p $p; done)
B=$(for p in balanced paper released; do printf "%s_h16_kv16_d64_atomic,%s_h16_kv16_d64_new," $p $p; done)
C=balanced_h16_kv16_d128,released_h32_kv8_d128,paper_h16_kv16_d64,mixed_gqa,strided,balanced_h16_kv4_d64
python3 test/cuda/check_cuda.py out/ab128 --build-only --only ${A%,} > $O/build128.log 2>&1 &
python3 test/cuda/check_cuda.py out/ab64 --build-only --only ${B%,} > $O/build64.log 2>&1 &
python3 test/cuda/check_cuda.py out/check --build-only --only $C > $O/buildc.log 2>&1; wait
el "built"; grep -h "built\|FAILED" $O/build*.log
timeout 260 python3 test/cuda/check_cuda.py out/check --only $C --watchdog 250 > $O/check.log 2>&1; el "check rc=$?"
grep -c " ok$" $O/check.log; grep FAIL $O/check.log | head -5; tail -2 $O/check.log
for c in "memcheck balanced_h16_kv16_d128 300 1" "racecheck balanced_h16_kv16_d128 300 1" "racecheck paper_h16_kv16_d64 77 2"; do
  set -- $c
  SPC_BACKWARD=1 timeout 60 compute-sanitizer --tool $1 --error-exitcode 9 python3 bench/cuda/profile_one.py out/check $2 $3 $4 > $O/san-$1-$2.log 2>&1; el "$1 $2 rc=$?"; tail -1 $O/san-$1-$2.log
done
timeout 100 python3 bench/cuda/breakdown.py out/ab128 balanced_h16_kv16_d128_atomic,balanced_h16_kv16_d128_new,paper_h16_kv16_d128_atomic,paper_h16_kv16_d128_new --lengths 16384 --out $O/breakdown.txt > $O/breakdown.log 2>&1; el "breakdown rc=$?"
timeout 60 python3 bench/cuda/breakdown.py out/ab64 paper_h16_kv16_d64_atomic,paper_h16_kv16_d64_new --lengths 16384 --out $O/breakdown64.txt > $O/breakdown64.log 2>&1; el "breakdown64 rc=$?"
grep -h "dkdv\|wall" $O/breakdown.txt $O/breakdown64.txt
timeout 100 python3 bench/cuda/bench_cuda.py out/ab128 --mode fwdbwd --no-flex --suffixes atomic,new --shapes 16x128 --lengths 8192,16384,32768 --out $O/ab128.md > $O/ab128.log 2>&1; el "ab128 rc=$?"
timeout 90 python3 bench/cuda/bench_cuda.py out/ab64 --mode fwdbwd --no-flex --suffixes atomic,new --shapes 16x64 --lengths 8192,16384,32768 --out $O/ab64.md > $O/ab64.log 2>&1; el "ab64 rc=$?"
cp $O/ab128.md $O/ab64.md $O/breakdown.txt $O/check.log $OUT/ 2>/dev/null; tar czf $OUT/all.tgz -C $OUT raw && rm -rf $O
for f in $OUT/ab128.md $OUT/ab64.md; do grep "^| " $f | awk -F'|' '{print $2,$5,$10}'; done
