#!/usr/bin/env bash
# Call 3 (2026-12-07, third session): the warp-specialised dK/dV kernel (out/checkw, bwd90.dq =
# "writer") under compute-sanitizer (memcheck, racecheck, synccheck: the named-barrier pairs) at
# small sizes, default and deterministic modes; then forward + backward against cuDNN, SDPA flash
# and Flex with the same mask (the matrix of issue 15) at H16 D128 and D64, N 8k-32k.
set -uo pipefail
export PYTHONUNBUFFERED=1
t0=$(date +%s)
el() { echo "[$(( $(date +%s)-t0 ))s] $*"; }
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader | tee $OUT/gpu.txt
python3 -c "import torch,triton;print(torch.__version__,torch.version.cuda,triton.__version__)" | tee -a $OUT/gpu.txt
M=$(for s in h16_kv16_d128 h16_kv16_d64; do for p in balanced paper released; do printf "%s_%s," $p $s; done; done)
python3 test/cuda/check_cuda.py out/checkw --build-only --only ${M%,},released_h32_kv8_d128,mixed_gqa > /tmp/build.log 2>&1; el "built"; grep -h "FAILED" /tmp/build.log | head
mkdir -p /tmp/san
san() {  # tool layout N B mode
  SPC_BACKWARD=$5 SPC_CUDA_BWD=sm90 timeout 60 compute-sanitizer --tool $1 --error-exitcode 9 python3 bench/cuda/profile_one.py out/checkw $2 $3 $4 > /tmp/san/$1-$2-$5.log 2>&1; el "$1 $2 N=$3 $5 rc=$?"; tail -1 /tmp/san/$1-$2-$5.log
}
san memcheck balanced_h16_kv16_d128 300 1 1; san racecheck balanced_h16_kv16_d128 300 1 1; san synccheck balanced_h16_kv16_d128 300 1 1
san memcheck released_h16_kv16_d64 300 1 1; san racecheck released_h16_kv16_d64 300 1 1
san memcheck mixed_gqa 300 1 1; san racecheck mixed_gqa 300 1 1; san memcheck released_h32_kv8_d128 200 1 det
(cd /tmp/san && tar czf $OUT/san.tgz .)
timeout 420 python3 bench/cuda/bench_cuda.py out/checkw --mode fwdbwd --bwd-kernels sm90 --shapes 16x128,16x64 --lengths 8192,16384,32768 --budget 400 --out $OUT/matrix.md > $OUT/matrix.log 2>&1; el "matrix rc=$?"
grep "^| " $OUT/matrix.md | awk -F'|' '{print $2,$3,$4,$5,$9,$10,$11,$12}'
