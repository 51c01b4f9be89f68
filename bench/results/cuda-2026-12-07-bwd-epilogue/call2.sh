#!/usr/bin/env bash
# Call 2 (2026-12-07, second session): forward + backward against cuDNN dense causal, SDPA flash and
# FlexAttention with the same mask (the matrix of issue 15) with the staged dK/dV epilogue (main at
# eaddc41), then per-kernel times of four rows (bench/cuda/breakdown.py).
set -uo pipefail
export PYTHONUNBUFFERED=1
t0=$(date +%s)
el() { echo "[$(( $(date +%s)-t0 ))s] $*"; }
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader | tee $OUT/gpu.txt
python3 -c "import torch,triton;print(torch.__version__,torch.version.cuda,triton.__version__)" | tee -a $OUT/gpu.txt
M=$(for s in h16_kv16_d128 h16_kv16_d64 h32_kv32_d128; do for p in balanced paper released; do printf "%s_%s," $p $s; done; done)
python3 test/cuda/check_cuda.py out/check --build-only --only ${M%,} > /tmp/build.log 2>&1; el "built"; grep -h "FAILED" /tmp/build.log | head
timeout 400 python3 bench/cuda/bench_cuda.py out/check --mode fwdbwd --bwd-kernels sm90 --shapes 16x128,16x64,32x128 --lengths 8192,16384,32768 --budget 370 --out $OUT/matrix.md > $OUT/matrix.log 2>&1; el "matrix rc=$?"
timeout 60 python3 bench/cuda/breakdown.py out/check paper_h16_kv16_d128,released_h16_kv16_d64,balanced_h16_kv16_d64 --lengths 8192,32768 --out $OUT/breakdown.txt > /tmp/breakdown.log 2>&1; el "breakdown rc=$?"
grep "^| " $OUT/matrix.md | awk -F'|' '{print $2,$3,$4,$5,$9,$10,$12}'
grep -h "dkdv\|wall\|pre_\|convert" $OUT/breakdown.txt | head -40
