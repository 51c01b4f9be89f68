#!/bin/bash
# call A (wip/bwd-atomic): build subset, quick backward check, fwd+bwd bench atomic and deterministic.
set -uo pipefail
export PYTHONUNBUFFERED=1 TORCH_EXTENSIONS_DIR=$PWD/out/torch_extensions
O=${OUT:-out/callA}; mkdir -p $O
D=scratch/gpu/check
T0=$(date +%s); el(){ echo "[$(( $(date +%s)-T0 ))s] $*"; }
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
BENCH=paper_h16_kv16_d128,released_h16_kv16_d128,balanced_h16_kv16_d128
SUB=balanced_h16_kv4_d64,released_h32_kv8_d128,mixed_gqa,released_h8_kv8_d64,longformer,sinks_window,balanced_h8_kv8_d64
el build
timeout 200 python3 test/cuda/check_cuda.py $D --only $BENCH,$SUB --build-only > $O/build.log 2>&1; el "build rc=$?"; grep -A12 "BUILD FAILED" $O/build.log | head -40
el "quick backward check"
timeout 150 python3 test/cuda/check_cuda.py $D --only $BENCH,$SUB --backward-only --quick --watchdog 145 > $O/qbwd.log 2>&1; el "qbwd rc=$?"
echo "ok rows: $(grep -c ' ok$' $O/qbwd.log)"; grep -E "FAIL|Error" $O/qbwd.log | head -20; tail -2 $O/qbwd.log
left=$(( 580 - ($(date +%s)-T0) ))
el "bench atomic ($left s)"
timeout $(( left/2 + 20 )) python3 bench/cuda/bench_cuda.py $D --mode fwdbwd --bwd-kernels sm90 --shapes 16x128 --lengths 8192,16384,32768 --budget $((left/2-10)) --watchdog $((left/2+15)) --out $O/bench-atomic.md > $O/bench-atomic.log 2>&1; el "bench rc=$?"
grep -E "Traceback|Error" -A3 $O/bench-atomic.log | head -10
left=$(( 585 - ($(date +%s)-T0) ))
el "bench det ($left s)"
[ $left -gt 30 ] && timeout $left python3 bench/cuda/bench_cuda.py $D --mode fwdbwd --deterministic --bwd-kernels sm90 --shapes 16x128 --lengths 8192,16384,32768 --no-flex --budget $((left-10)) --watchdog $((left-3)) --out $O/bench-det.md > $O/bench-det.log 2>&1; el "det rc=$?"
echo ATOMIC; grep -E "^(\|? ?)(paper|released|balanced)" $O/bench-atomic.log | head; echo DET; grep -E "^(\|? ?)(paper|released|balanced)" $O/bench-det.log | head
el done
