#!/usr/bin/env bash
# Call 4 (2026-12-07, second session): call 3's trace showed 300 us inside _EagerBackward before its
# first CUDA call; the same trace with Python stacks (with_stack) to see where, and the host times
# once more without Flex in the process (inductor's compile workers could compete for the GIL).
set -uo pipefail
export PYTHONUNBUFFERED=1
t0=$(date +%s)
el() { echo "[$(( $(date +%s)-t0 ))s] $*"; }
python3 test/cuda/check_cuda.py out/check --build-only --only balanced_h16_kv16_d64 > /tmp/build.log 2>&1; el "built"; grep -h "FAILED" /tmp/build.log | head
timeout 200 python3 bench/cuda/host_overhead.py out/check balanced_h16_kv16_d64 --n 8192 --trace /tmp/trace.json > $OUT/host.txt 2>&1; el "host rc=$?"
gzip -c /tmp/trace.json > $OUT/trace-stack.json.gz
python3 -c "import sys,torch; print(sys.version); print(sys.getswitchinterval())"
head -14 $OUT/host.txt
