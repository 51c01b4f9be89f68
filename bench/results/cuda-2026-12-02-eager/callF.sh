#!/bin/bash
# call F (main with D64 rows 128): bwd check of the other 128-row D64 layouts, a kernel breakdown, training throughput.
set -uo pipefail
export PYTHONUNBUFFERED=1 TORCH_EXTENSIONS_DIR=$PWD/out/torch_extensions SPC_CUDA_BWD=sm90
O=${OUT:-out/callF}; mkdir -p $O
D=scratch/gpu/check; P=scratch/gpu/train
T0=$(date +%s); el(){ echo "[$(( $(date +%s)-T0 ))s] $*"; }
NEW=balanced_h32_kv32_d64,paper_h32_kv32_d64,released_h32_kv32_d64,balanced_h8_kv8_d64,paper_h8_kv8_d64,spattention_gapped,spattention_local,strided
BD=paper_h16_kv16_d64,balanced_h16_kv16_d64,balanced_h16_kv16_d128
el build
(timeout 200 python3 examples/train/_packages.py --build $P > $O/build-train.log 2>&1; echo "train build rc=$?" >> $O/build-train.log) &
timeout 200 python3 test/cuda/check_cuda.py $D --only $NEW,$BD --build-only > $O/build.log 2>&1; el "build rc=$?"; grep -A12 "BUILD FAILED" $O/build.log | head -30
el "bwd check"
timeout 120 python3 test/cuda/check_cuda.py $D --only $NEW --backward-only --bwd-kernels sm90 --watchdog 115 > $O/bwd.log 2>&1; el "bwd rc=$? ok rows: $(grep -c ' ok$' $O/bwd.log) FAIL: $(grep -c FAIL $O/bwd.log)"
grep -E "FAIL|Error|Traceback" $O/bwd.log | head -10; tail -1 $O/bwd.log
el breakdown
timeout 90 python3 bench/cuda/breakdown.py $D $BD --lengths 8192,16384 --out $O/breakdown.txt > $O/breakdown.log 2>&1; el "breakdown rc=$?"
wait; tail -1 $O/build-train.log
left=$(( 585 - ($(date +%s)-T0) ))
el "throughput ($left s)"
timeout $left python3 examples/train/gpt.py throughput --packages $P --out $O/tp --lengths 8192,32768 --variants sdpa,none,spc_balanced,spc_paper,spc_released,flex_balanced --budget $((left-40)) > $O/tp.out 2> $O/tp.log; el "tp rc=$?"
tail -12 $O/tp.out; tail -3 $O/tp.log
el done; (cd $O && tar czf /tmp/all.tgz . && rm -rf tp *.log && mv /tmp/all.tgz .)
echo "== breakdown =="; cat $O/breakdown.txt
