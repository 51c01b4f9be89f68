#!/bin/bash
# call D (main with bwd-pipe): issue-15 matrix, fwd+bwd, sm90 backward, vs cuDNN/flash/Flex.
set -uo pipefail
export PYTHONUNBUFFERED=1 TORCH_EXTENSIONS_DIR=$PWD/out/torch_extensions
O=${OUT:-out/callD}; mkdir -p $O
D=scratch/gpu/check
T0=$(date +%s); el(){ echo "[$(( $(date +%s)-T0 ))s] $*"; }
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
python3 -c "import torch,triton;print('torch',torch.__version__,'cuda',torch.version.cuda,'triton',triton.__version__)"
el build
timeout 200 python3 test/cuda/check_cuda.py $D --only balanced_h16_kv16_d128,paper_h16_kv16_d128,released_h16_kv16_d128,balanced_h16_kv16_d64,paper_h16_kv16_d64,released_h16_kv16_d64,balanced_h32_kv32_d128,paper_h32_kv32_d128,released_h32_kv32_d128 --build-only > $O/build.log 2>&1; el "build rc=$?"; grep -A12 "BUILD FAILED" $O/build.log | head -30
left=$(( 570 - ($(date +%s)-T0) ))
el "matrix ($left s)"
timeout $left python3 bench/cuda/bench_cuda.py $D --mode fwdbwd --bwd-kernels sm90 --shapes 16x128,16x64,32x128 --lengths 4096,8192,16384,32768 --budget $((left-60)) --watchdog $((left-5)) --out $O/matrix.md > $O/matrix.log 2>&1; el "matrix rc=$?"
grep -E "Traceback|Error" -A3 $O/matrix.log | head -10
grep -E " ms x " $O/matrix.log | sed 's/  */ /g'
el done
