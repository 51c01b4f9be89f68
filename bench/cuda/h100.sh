#!/usr/bin/env bash
# Everything the CUDA target needs from a GPU machine, in one command (build, check, sanitize,
# benchmark), for a lease of limited minutes. Prepare on a machine with Node first:
#   npx tsx test/cuda/prepare.ts out/cuda-check
# then on the GPU machine, from the repository root:
#   bash bench/cuda/h100.sh out/cuda-check "$OUT" [check|sanitize|bench|all]
# Logs and the results table land in the second argument (default ./out/h100). One call of the
# device tool is limited to 10 minutes: run `check` and `sanitize` in one call, `bench` in another
# (the torch extension cache keeps the builds while the machine stays warm).
set -uo pipefail
dir=${1:-out/cuda-check}
out=${2:-out/h100}
step=${3:-all}
mkdir -p "$out"
export PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader | tee "$out/gpu.txt"
if [ "$step" = check ] || [ "$step" = all ]; then
# 1. Correctness: every layout, N up to 8192, bf16 and fp16, TS-oracle vectors (builds in parallel).
python3 test/cuda/check_cuda.py "$dir" > "$out/check.log" 2>&1
echo "check rc=$?"; tail -3 "$out/check.log"
fi
if [ "$step" = check ] || [ "$step" = sanitize ] || [ "$step" = all ]; then
# 2. compute-sanitizer memcheck at a small size (N = 77, not a multiple of the tile).
compute-sanitizer --tool memcheck --error-exitcode 9 python3 bench/cuda/profile_one.py "$dir" released_h8_kv8_d64 77 2 > "$out/memcheck.log" 2>&1
echo "memcheck rc=$?"; tail -2 "$out/memcheck.log"
fi
if [ "$step" = bench ] || [ "$step" = all ]; then
# 3. The benchmark, side by side with cuDNN, flash and FlexAttention.
python3 bench/cuda/bench_cuda.py "$dir" --budget 100000 --out "$out/bench.md" > "$out/bench.log" 2>&1
echo "bench rc=$?"; tail -52 "$out/bench.md"
fi
