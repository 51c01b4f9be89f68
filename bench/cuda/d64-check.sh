#!/bin/bash
# The GPU check of the head_dim 64 sm_90 dK/dV kernel with 128 query rows per step (issue 15;
# targets/cuda/BWD_SM90_PIPE.md, "D = 64: 128 query rows per step"), in one device call of at most
# ~9.5 minutes on an H200. The packages come from this machine (the GPU machine has no Node):
#   npx tsx bench/cuda/prepare_d64.ts out/d64-check      # here, before the call
#   bash bench/cuda/d64-check.sh out/d64-check           # on the GPU (carry out/d64-check)
# prepare_d64.ts compiles balanced/paper/released H16 KV16, released H8 KV8 with bwd90.rows = 128,
# balanced H16 KV4 and mixed_gqa with 64 (128 does not fit their registers), and balanced/paper/
# released H16 KV16 again with 64 as <name>_r64 (the kernel measured on 2026-12-01).
# Steps (each under its own timeout, the later ones get what is left): build all nine packages in
# parallel; the backward (sm90 family) of the six check layouts against float64 autograd at full
# lengths (N up to 8192), with the deterministic mode 3x (same bits), head subsets, strided inputs,
# torch.compile and CUDA graphs; compute-sanitizer memcheck + racecheck (default and deterministic
# mode) on paper H16 D64 at small N (128 rows: two query tiles and a partial one); fwd+bwd timing at
# 16x64, N = 8k, 16k, 32k, 128 rows (suffix "") and 64 rows (suffix r64) in the same process, with
# Flex (one Flex timing per pattern and length); ncu of the bwd kernels at paper H16 D64 16k, both
# variants.
# Writes 5 files to $OUT: summary.txt (also printed last), bwd.log, bench.md (+ bench.json),
# ncu.txt, logs.tgz (build, sanitizer and bench logs).
set -uo pipefail
D=${1:-out/d64-check}
export PYTHONUNBUFFERED=1 TORCH_EXTENSIONS_DIR=$PWD/out/torch_extensions
O=${OUT:-out/d64-check-results}; mkdir -p "$O"
L=$(mktemp -d)  # the other logs, tarred into $O/logs.tgz at the end
T0=$(date +%s); el(){ echo "[$(( $(date +%s)-T0 ))s] $*"; }
left(){ echo $(( $1 - ($(date +%s)-T0) )); }
S=$O/summary.txt; : > "$S"
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader | tee -a "$S"
CHECK=balanced_h16_kv16_d64,paper_h16_kv16_d64,released_h16_kv16_d64,balanced_h16_kv4_d64,released_h8_kv8_d64,mixed_gqa
OLD=balanced_h16_kv16_d64_r64,paper_h16_kv16_d64_r64,released_h16_kv16_d64_r64
python3 -c 'import json, sys; [print(l["name"], "bwd90.rows", l["config"]["bwd90"]["rows"]) for l in json.load(open(sys.argv[1]))]' "$D/layouts.json" | tee -a "$S"

el build
timeout -k 5 200 python3 test/cuda/check_cuda.py "$D" --only $CHECK,$OLD --build-only > $L/build.log 2>&1; rc=$?
el "build rc=$rc" | tee -a "$S"; grep -A12 "BUILD FAILED" $L/build.log | head -40

el "backward check, full lengths"
t=$(left 380); timeout -k 5 $t python3 test/cuda/check_cuda.py "$D" --only $CHECK --backward-only --bwd-kernels sm90 --watchdog $((t-5)) > $O/bwd.log 2>&1; rc=$?
el "bwd check rc=$rc ok rows: $(grep -c ' ok$' $O/bwd.log) FAIL rows: $(grep -c 'FAIL' $O/bwd.log)" | tee -a "$S"
grep -E "FAIL|Error|Traceback" $O/bwd.log | head -20 | tee -a "$S"; tail -2 $O/bwd.log | tee -a "$S"

for c in "memcheck paper_h16_kv16_d64 300 1 1" "racecheck paper_h16_kv16_d64 300 1 1" "racecheck paper_h16_kv16_d64 300 1 det"; do
  set -- $c; t=$(left 430); [ $t -lt 25 ] && { echo "skipped $c (time)" | tee -a "$S"; continue; }
  SPC_BACKWARD=$5 SPC_CUDA_BWD=sm90 timeout -k 5 $((t-5)) compute-sanitizer --tool $1 --error-exitcode 9 python3 bench/cuda/profile_one.py "$D" $2 $3 $4 > $L/san-$1-$2-$5.log 2>&1
  rc=$?; el "$c rc=$rc: $(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY' $L/san-$1-$2-$5.log | tail -1)" | tee -a "$S"
done

el "fwd+bwd bench (128 rows: suffix none; 64 rows: r64)"
t=$(left 540); [ $t -gt 40 ] && timeout -k 5 $t python3 bench/cuda/bench_cuda.py "$D" --mode fwdbwd --bwd-kernels sm90 --shapes 16x64 --lengths 8192,16384,32768 --suffixes ,r64 --budget $((t-40)) --watchdog $((t-5)) --out $O/bench.md > $L/bench.log 2>&1
el "bench rc=$?" | tee -a "$S"; grep -E "Traceback|Error|disagree" -A3 $L/bench.log | head -10 | tee -a "$S"

el ncu
: > $O/ncu.txt
for name in paper_h16_kv16_d64 paper_h16_kv16_d64_r64; do
  t=$(left 570); [ $t -lt 15 ] && { echo "skipped ncu $name (time)" | tee -a "$S"; continue; }
  SPC_BACKWARD=1 SPC_CUDA_BWD=sm90 timeout -k 5 $t ncu --clock-control none -k "regex:bwd" --launch-count 3 --section SpeedOfLight --section Occupancy --section LaunchStats --section WarpStateStats python3 bench/cuda/profile_one.py "$D" $name 16384 1 >> $O/ncu.txt 2>&1
  el "ncu $name rc=$?" | tee -a "$S"
done

tar czf "$O/logs.tgz" -C "$L" .  # (the archive is opened before -C)
{
  echo; echo "== fwd+bwd (ms) =="; grep -E "H=16 D= 64" $L/bench.log | sed 's/  */ /g' | head -24
  echo; echo "== ncu: bwd kernels, paper H=16 D=64 N=16384 (128 rows, then 64: _r64) =="
  awk '/spc_.*bwd/ {k=$1} /Duration/ {print k, $(NF-1), $NF} /Registers Per Thread/ {print "   regs", $NF} /Achieved Occupancy/ {print "   occupancy", $NF} /Compute \(SM\) Throughput/ {print "   SM throughput", $NF}' $O/ncu.txt
} >> "$S"
el done
echo; echo "==== d64-check summary ===="; cat "$S"
