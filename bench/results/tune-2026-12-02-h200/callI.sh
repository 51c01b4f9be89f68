#!/bin/bash
# call I: the CUDA tuner's measuring half with rounds and GPU-only timing (issue 17); the WGSL tuner on the H200 (issue 17).
set -uo pipefail
export PYTHONUNBUFFERED=1 TORCH_EXTENSIONS_DIR=$PWD/out/torch_extensions
O=${OUT:-out/callI}; mkdir -p $O
T0=$(date +%s); el(){ echo "[$(( $(date +%s)-T0 ))s] $*"; }
mkdir -p $O/wt
el "cuda tune 8k"
timeout 300 python3 bench/cuda/tune_measure.py scratch/gpu/t8 --per-head --rounds 3 --out $O/measured8k.json > $O/tune8k.log 2>&1; el "tune8k rc=$?"; tail -14 $O/tune8k.log
timeout 60 python3 bench/cuda/host_overhead.py scratch/gpu/t8 tuned_h16_d128_n8192_c1 --n 8192 --profile 0 > $O/host.txt 2>&1; el "host rc=$?"; head -9 $O/host.txt
el "wgsl tune"
SPC_TUNE_LAYOUTS=spattention_d128 SPC_TUNE_ARGS="--seq 16384 --max-candidates 10 --reps 5 --check-n 4096 --timeout 30 --budget 120 --include wg-16x8-t2x8-pad" SPC_TUNE_WATCHDOG=170 OUT=$O/wt timeout 230 bash bench/wgsl/tune-h200.sh > $O/wt/run.log 2>&1; echo "wgsl rc=$?" >> $O/wt/run.log
el "wgsl done"; tail -4 $O/wt/run.log; tail -22 $O/wt/tune-spattention_d128.txt 2>/dev/null
cp $O/wt/tune-h200.json $O/ 2>/dev/null
(cd $O && tar czf wt.tgz wt && rm -rf wt)
el done
