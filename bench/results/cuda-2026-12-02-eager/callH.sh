#!/bin/bash
# call H (main + eager autograd.Function path): checks, host overhead, breakdown, training throughput, fwd+bwd matrix.
set -uo pipefail
export PYTHONUNBUFFERED=1 TORCH_EXTENSIONS_DIR=$PWD/out/torch_extensions SPC_CUDA_BWD=sm90
O=${OUT:-out/callH}; mkdir -p $O
D=scratch/gpu/check; P=scratch/gpu/train
T0=$(date +%s); el(){ echo "[$(( $(date +%s)-T0 ))s] $*"; }
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
MAT=balanced_h16_kv16_d128,paper_h16_kv16_d128,released_h16_kv16_d128,balanced_h16_kv16_d64,paper_h16_kv16_d64,released_h16_kv16_d64,balanced_h32_kv32_d128,paper_h32_kv32_d128,released_h32_kv32_d128
CHK=paper_h16_kv16_d64,balanced_h16_kv16_d128,mixed_gqa,balanced_h16_kv4_d64
el build
(timeout 200 python3 examples/train/_packages.py --build $P > $O/build-train.log 2>&1; echo "train build rc=$?" >> $O/build-train.log) &
timeout 220 python3 test/cuda/check_cuda.py $D --only $MAT,$CHK --build-only > $O/build.log 2>&1; el "build rc=$?"; grep -A12 "BUILD FAILED" $O/build.log | head -30
el "bwd check"
timeout 100 python3 test/cuda/check_cuda.py $D --only $CHK --backward-only --bwd-kernels sm90 --watchdog 95 > $O/bwd.log 2>&1; el "bwd rc=$? ok rows: $(grep -c ' ok$' $O/bwd.log) FAIL: $(grep -c FAIL $O/bwd.log)"
grep -E "FAIL|Error|Traceback" $O/bwd.log | head -10; tail -1 $O/bwd.log
timeout 60 python3 bench/cuda/host_overhead.py $D paper_h16_kv16_d64 --n 8192 > $O/host.txt 2>&1; el "host rc=$?"; head -5 $O/host.txt
timeout 60 python3 bench/cuda/breakdown.py $D paper_h16_kv16_d64,balanced_h16_kv16_d128 --lengths 8192,16384 --out $O/breakdown.txt > $O/breakdown.log 2>&1; el "breakdown rc=$?"; grep wall $O/breakdown.txt
wait; tail -1 $O/build-train.log
el throughput
timeout 150 python3 examples/train/gpt.py throughput --packages $P --out $O/tp --lengths 8192,32768 --variants sdpa,none,spc_balanced,spc_paper,spc_released,flex_balanced --budget 130 > $O/tp.out 2> $O/tp.log; el "tp rc=$?"
grep -E "^\| (8192|32768)" $O/tp.out
left=$(( 590 - ($(date +%s)-T0) ))
el "matrix ($left s)"
timeout $left python3 bench/cuda/bench_cuda.py $D --mode fwdbwd --bwd-kernels sm90 --shapes 16x128,16x64,32x128 --lengths 4096,8192,16384,32768 --budget $((left-60)) --watchdog $((left-5)) --out $O/matrix.md > $O/matrix.log 2>&1; el "matrix rc=$?"
grep -E "Traceback|Error" -A3 $O/matrix.log | head -10
grep -E " ms " $O/matrix.log | grep -v flex | sed 's/  */ /g' | cut -c1-150
el done; (cd $O && tar czf /tmp/all.tgz . && rm -rf tp *.log && mv /tmp/all.tgz .)
