#!/usr/bin/env bash
# Call 2 (2026-12-07): the sm90 dK/dV kernel's dQ by the tensor copy engine's reduce (bwd90.dq =
# "bulk") against the atomics (the default): build, backward checks of the bulk packages (incl.
# GQA), sanitizers, then per-kernel times (breakdown) and spc fwd+bwd side by side (no Flex).
set -uo pipefail
export PYTHONUNBUFFERED=1
O=$OUT/raw; mkdir -p $O; t0=$(date +%s)
el() { echo "[$(( $(date +%s)-t0 ))s] $*"; }
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader | tee $O/gpu.txt
python3 -c "import torch,triton;print(torch.__version__,torch.version.cuda,triton.__version__)" | tee -a $O/gpu.txt
A=$(for p in balanced paper released; do for s in atomic bulk; do printf "%s_h16_kv16_d128_%s," $p $s; done; done)balanced_h32_kv8_d128_bulk
B=$(for p in balanced paper released; do for s in atomic bulk bulkn; do printf "%s_h16_kv16_d64_%s," $p $s; done; done)balanced_h16_kv4_d64_bulk
python3 test/cuda/check_cuda.py out/ab128 --build-only --only $A > $O/build128.log 2>&1 &
python3 test/cuda/check_cuda.py out/ab64 --build-only --only $B > $O/build64.log 2>&1; wait
el "built"; grep -h "built\|FAILED" $O/build128.log $O/build64.log
C128=balanced_h16_kv16_d128_bulk,paper_h16_kv16_d128_bulk,balanced_h32_kv8_d128_bulk
C64=paper_h16_kv16_d64_bulk,balanced_h16_kv16_d64_bulkn,balanced_h16_kv4_d64_bulk
timeout 200 python3 test/cuda/check_cuda.py out/ab128 --backward-only --bwd-kernels sm90 --only $C128 --watchdog 190 > $O/check128.log 2>&1; el "check128 rc=$?"
grep -c " ok$" $O/check128.log; grep FAIL $O/check128.log | head -5; tail -2 $O/check128.log
timeout 150 python3 test/cuda/check_cuda.py out/ab64 --backward-only --bwd-kernels sm90 --only $C64 --watchdog 140 > $O/check64.log 2>&1; el "check64 rc=$?"
grep -c " ok$" $O/check64.log; grep FAIL $O/check64.log | head -5; tail -2 $O/check64.log
for c in "memcheck out/ab128 balanced_h16_kv16_d128_bulk 300 1" "racecheck out/ab128 balanced_h16_kv16_d128_bulk 300 1" "racecheck out/ab64 paper_h16_kv16_d64_bulk 77 2"; do
  set -- $c; tool=$1; shift
  for _ in 1; do
    SPC_BACKWARD=1 timeout 60 compute-sanitizer --tool $tool --error-exitcode 9 python3 bench/cuda/profile_one.py $1 $2 $3 $4 > $O/san-$tool-$2.log 2>&1; el "$tool $2 rc=$?"; tail -1 $O/san-$tool-$2.log
  done
done
timeout 120 python3 bench/cuda/breakdown.py out/ab128 balanced_h16_kv16_d128_atomic,balanced_h16_kv16_d128_bulk,paper_h16_kv16_d128_atomic,paper_h16_kv16_d128_bulk --lengths 16384 --out $O/breakdown128.txt > $O/breakdown128.log 2>&1; el "breakdown128 rc=$?"
timeout 100 python3 bench/cuda/breakdown.py out/ab64 paper_h16_kv16_d64_atomic,paper_h16_kv16_d64_bulk,paper_h16_kv16_d64_bulkn --lengths 16384 --out $O/breakdown64.txt > $O/breakdown64.log 2>&1; el "breakdown64 rc=$?"
grep -h "dkdv\|wall\|^==\|^#" $O/breakdown128.txt $O/breakdown64.txt | head -40
timeout 150 python3 bench/cuda/bench_cuda.py out/ab128 --mode fwdbwd --no-flex --suffixes atomic,bulk --shapes 16x128 --lengths 8192,16384,32768 --out $O/ab128.md > $O/ab128.log 2>&1; el "ab128 rc=$?"
timeout 120 python3 bench/cuda/bench_cuda.py out/ab64 --mode fwdbwd --no-flex --suffixes atomic,bulk,bulkn --shapes 16x64 --lengths 8192,16384,32768 --out $O/ab64.md > $O/ab64.log 2>&1; el "ab64 rc=$?"
cp $O/ab128.md $O/ab64.md $O/breakdown128.txt $O/breakdown64.txt $OUT/ 2>/dev/null; tar czf $OUT/all.tgz -C $OUT raw && rm -rf $O
tail -25 $OUT/ab128.md; tail -25 $OUT/ab64.md
