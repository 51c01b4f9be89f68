#!/bin/bash
# call E (main with bwd-pipe): training throughput (issue 16) and the tuner's measured half (issue 17).
set -uo pipefail
export PYTHONUNBUFFERED=1 TORCH_EXTENSIONS_DIR=$PWD/out/torch_extensions SPC_CUDA_BWD=sm90
O=${OUT:-out/callE}; mkdir -p $O
P=scratch/gpu/train
T0=$(date +%s); el(){ echo "[$(( $(date +%s)-T0 ))s] $*"; }
el build
timeout 200 python3 examples/train/_packages.py --build $P > $O/build.log 2>&1; el "build rc=$?"; tail -3 $O/build.log
el tune8k
timeout 170 python3 bench/cuda/tune_measure.py scratch/gpu/tune8k --per-head --out $O/measured8k.json > $O/tune8k.log 2>&1; el "tune8k rc=$?"; tail -12 $O/tune8k.log
el tune4k
timeout 130 python3 bench/cuda/tune_measure.py scratch/gpu/tune4k --per-head --out $O/measured4k.json > $O/tune4k.log 2>&1; el "tune4k rc=$?"; tail -12 $O/tune4k.log
left=$(( 585 - ($(date +%s)-T0) ))
el "throughput ($left s)"
timeout $left python3 examples/train/gpt.py throughput --packages $P --out $O/tp --lengths 8192,32768 --variants sdpa,none,spc_balanced,spc_paper,spc_released,flex_balanced --budget $((left-40)) > $O/tp.out 2> $O/tp.log; el "tp rc=$?"
tail -20 $O/tp.out; tail -3 $O/tp.log
el done; (cd $O && tar czf /tmp/all.tgz . && rm -rf tp *.log && mv /tmp/all.tgz .)
