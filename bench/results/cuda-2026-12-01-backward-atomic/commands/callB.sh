#!/bin/bash
# call B (wip/bwd-atomic): full-length backward check on a subset, sanitizers on the atomic kernel, ncu.
set -uo pipefail
export PYTHONUNBUFFERED=1 TORCH_EXTENSIONS_DIR=$PWD/out/torch_extensions
O=${OUT:-out/callB}; mkdir -p $O
D=scratch/gpu/check
T0=$(date +%s); el(){ echo "[$(( $(date +%s)-T0 ))s] $*"; }
SUB=paper_h16_kv16_d128,balanced_h16_kv16_d128,balanced_h16_kv4_d64,released_h32_kv8_d128,mixed_gqa,released_h8_kv8_d64,sinks_window,balanced_h8_kv8_d64
el build
timeout 200 python3 test/cuda/check_cuda.py $D --only $SUB,released_h16_kv16_d128,longformer --build-only > $O/build.log 2>&1; el "build rc=$?"; grep -A12 "BUILD FAILED" $O/build.log | head -40
el "backward check full lengths"
timeout 250 python3 test/cuda/check_cuda.py $D --only $SUB --backward-only --bwd-kernels sm90 --watchdog 245 > $O/bwd.log 2>&1; el "bwd rc=$?"
echo "ok rows: $(grep -c ' ok$' $O/bwd.log)"; grep -E "FAIL|Error" $O/bwd.log | head -20; tail -2 $O/bwd.log
for c in "memcheck balanced_h16_kv4_d64 300 1 1" "racecheck balanced_h16_kv4_d64 300 1 1" "memcheck paper_h16_kv16_d128 500 1 1" "racecheck paper_h16_kv16_d128 300 1 1" "memcheck mixed_gqa 77 2 1"; do
  set -- $c; left=$(( 470 - ($(date +%s)-T0) )); [ $left -lt 25 ] && break
  SPC_BACKWARD=$5 SPC_CUDA_BWD=sm90 timeout $((left-5)) compute-sanitizer --tool $1 --error-exitcode 9 python3 bench/cuda/profile_one.py $D $2 $3 $4 > $O/san-$1-$2.log 2>&1
  el "$c rc=$?"; tail -1 $O/san-$1-$2.log
done
left=$(( 580 - ($(date +%s)-T0) ))
el "ncu ($left s)"
[ $left -gt 30 ] && SPC_BACKWARD=1 timeout $left ncu --clock-control none -k "regex:bwd" --launch-count 4 --section SpeedOfLight --section Occupancy --section LaunchStats --section WarpStateStats python3 bench/cuda/profile_one.py $D balanced_h16_kv16_d128 16384 1 > $O/ncu.txt 2>&1; el "ncu rc=$?"
grep -E "spc_|Duration|Compute \(SM\) Throughput|Registers Per|Achieved Occupancy|Block Size|Grid Size" $O/ncu.txt | head -40
el done; (cd $O && tar czf /tmp/all.tgz . && rm -rf ./* && mv /tmp/all.tgz .)
