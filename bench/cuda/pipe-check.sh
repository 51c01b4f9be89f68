#!/bin/bash
# The GPU check of the pipelined sm_90 dK/dV kernel (issue 15; targets/cuda/BWD_SM90_PIPE.md), in
# one device call of at most ~9.5 minutes on an H200. The packages come from this machine (the GPU
# machine has no Node):
#   npx tsx test/cuda/prepare.ts out/pipe-check          # here, before the call
#   bash bench/cuda/pipe-check.sh out/pipe-check         # on the GPU (carry out/pipe-check)
# Steps (each under its own timeout, the later ones get what is left): build the subset; the
# backward (sm90 family) against float64 autograd at full lengths, with the deterministic mode 3x
# (same bits), head subsets, strided inputs; compute-sanitizer memcheck + racecheck on one D = 64
# (GQA) and one D = 128 layout at small N (default mode; racecheck also deterministic at D = 128);
# fwd+bwd timing (16x128, N = 8k, 16k, 32k); ncu durations of the bwd kernels at balanced 16k.
# Writes 5 files to $OUT: summary.txt (also printed last), bwd.log, bench.md, ncu.txt, logs.tgz
# (build, sanitizer and bench logs).
set -uo pipefail
D=${1:-out/pipe-check}
export PYTHONUNBUFFERED=1 TORCH_EXTENSIONS_DIR=$PWD/out/torch_extensions
O=${OUT:-out/pipe-check-results}; mkdir -p "$O"
L=$(mktemp -d)  # the other logs, tarred into $O/logs.tgz at the end
T0=$(date +%s); el(){ echo "[$(( $(date +%s)-T0 ))s] $*"; }
left(){ echo $(( $1 - ($(date +%s)-T0) )); }
S=$O/summary.txt; : > "$S"
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader | tee -a "$S"
SUB=balanced_h16_kv16_d128,paper_h16_kv16_d128,balanced_h16_kv4_d64,released_h32_kv8_d128,mixed_gqa,released_h8_kv8_d64,sinks_window,balanced_h8_kv8_d64
BENCH=paper_h16_kv16_d128,released_h16_kv16_d128,balanced_h16_kv16_d128

el build
timeout -k 5 185 python3 test/cuda/check_cuda.py "$D" --only $SUB,released_h16_kv16_d128 --build-only > $L/build.log 2>&1; rc=$?
el "build rc=$rc" | tee -a "$S"; grep -A12 "BUILD FAILED" $L/build.log | head -40

el "backward check, full lengths"
t=$(left 400); timeout -k 5 $t python3 test/cuda/check_cuda.py "$D" --only $SUB --backward-only --bwd-kernels sm90 --watchdog $((t-5)) > $O/bwd.log 2>&1; rc=$?
el "bwd check rc=$rc ok rows: $(grep -c ' ok$' $O/bwd.log) FAIL rows: $(grep -c 'FAIL' $O/bwd.log)" | tee -a "$S"
grep -E "FAIL|Error|Traceback" $O/bwd.log | head -20 | tee -a "$S"; tail -2 $O/bwd.log | tee -a "$S"

for c in "memcheck balanced_h16_kv4_d64 300 1 1" "racecheck balanced_h16_kv4_d64 300 1 1" "memcheck paper_h16_kv16_d128 500 1 1" "racecheck paper_h16_kv16_d128 300 1 1" "racecheck paper_h16_kv16_d128 300 1 det"; do
  set -- $c; t=$(left 470); [ $t -lt 25 ] && { echo "skipped $c (time)" | tee -a "$S"; continue; }
  SPC_BACKWARD=$5 SPC_CUDA_BWD=sm90 timeout -k 5 $((t-5)) compute-sanitizer --tool $1 --error-exitcode 9 python3 bench/cuda/profile_one.py "$D" $2 $3 $4 > $L/san-$1-$2-$5.log 2>&1
  rc=$?; el "$c rc=$rc: $(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY' $L/san-$1-$2-$5.log | tail -1)" | tee -a "$S"
done

el "fwd+bwd bench"
t=$(left 540); [ $t -gt 40 ] && timeout -k 5 $t python3 bench/cuda/bench_cuda.py "$D" --mode fwdbwd --bwd-kernels sm90 --shapes 16x128 --lengths 8192,16384,32768 --no-flex --budget $((t-15)) --watchdog $((t-5)) --out $O/bench.md > $L/bench.log 2>&1
el "bench rc=$?" | tee -a "$S"; grep -E "Traceback|Error" -A3 $L/bench.log | head -10

el ncu
t=$(left 565); [ $t -gt 25 ] && SPC_BACKWARD=1 SPC_CUDA_BWD=sm90 timeout -k 5 $t ncu --clock-control none -k "regex:bwd" --launch-count 4 --section SpeedOfLight --section Occupancy --section LaunchStats --section WarpStateStats python3 bench/cuda/profile_one.py "$D" balanced_h16_kv16_d128 16384 1 > $O/ncu.txt 2>&1
el "ncu rc=$?" | tee -a "$S"

tar czf "$O/logs.tgz" -C "$L" .  # (the archive is opened before -C)
{
  echo; echo "== fwd+bwd (ms) =="; grep -E "H=16 D=128" $L/bench.log | sed 's/  */ /g' | head -12
  echo; echo "== ncu: bwd kernels, balanced H=16 D=128 N=16384 =="
  awk '/spc_.*bwd/ {k=$1} /Duration/ {print k, $(NF-1), $NF} /Registers Per Thread/ {print "   regs", $NF} /Achieved Occupancy/ {print "   occupancy", $NF} /Compute \(SM\) Throughput/ {print "   SM throughput", $NF}' $O/ncu.txt
} >> "$S"
el done
echo; echo "==== pipe-check summary ===="; cat "$S"
