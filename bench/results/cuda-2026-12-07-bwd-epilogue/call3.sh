#!/usr/bin/env bash
# Call 3 (2026-12-07, second session): why balanced H16 D64 N = 8192 (B = 2) is host-bound (call 2's
# breakdown: 496 us of kernels in a 904 us call): host time per call of each piece, autograd's own
# cost (a one-kernel autograd.Function), FlexAttention on the same mask, and a CPU + CUDA trace.
set -uo pipefail
export PYTHONUNBUFFERED=1
t0=$(date +%s)
el() { echo "[$(( $(date +%s)-t0 ))s] $*"; }
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader | tee $OUT/gpu.txt
nproc; cat /sys/fs/cgroup/cpu.max 2>/dev/null
python3 test/cuda/check_cuda.py out/check --build-only --only balanced_h16_kv16_d64 > /tmp/build.log 2>&1; el "built"; grep -h "FAILED" /tmp/build.log | head
timeout 300 python3 bench/cuda/host_overhead.py out/check balanced_h16_kv16_d64 --n 8192 --flex --trace /tmp/trace.json > $OUT/host.txt 2>&1; el "host rc=$?"
gzip -c /tmp/trace.json > $OUT/trace.json.gz
head -16 $OUT/host.txt
