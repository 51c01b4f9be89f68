#!/usr/bin/env bash
# Call 5 (2026-12-07, second session): launch plans cached per call shape (_op._launch_plan; "new",
# out/check) against main before it ("old", out/old: the same kernels, so the same build):
# the call paths agree (check_paths.py), quick oracle checks with both kernel families (the plan
# key must follow SPC_CUDA_BWD), host time old/new (and old's trace with Python stacks), then
# forward + backward against Flex at D = 64.
set -uo pipefail
export PYTHONUNBUFFERED=1
t0=$(date +%s)
el() { echo "[$(( $(date +%s)-t0 ))s] $*"; }
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader | tee $OUT/gpu.txt
L=balanced_h16_kv16_d64,paper_h16_kv16_d64,released_h16_kv16_d64,mixed_gqa
python3 test/cuda/check_cuda.py out/check --build-only --only $L > /tmp/build.log 2>&1; el "built"; grep -h "FAILED" /tmp/build.log | head
timeout 120 python3 test/cuda/check_paths.py out/check balanced_h16_kv16_d64,mixed_gqa > $OUT/paths.log 2>&1; el "paths rc=$?"; tail -1 $OUT/paths.log; grep FAIL $OUT/paths.log | head -5
timeout 150 python3 test/cuda/check_cuda.py out/check --quick --only balanced_h16_kv16_d64,mixed_gqa --watchdog 140 > $OUT/check.log 2>&1; el "check rc=$?"; tail -1 $OUT/check.log; grep FAIL $OUT/check.log | head -5
for d in old check; do
  timeout 60 python3 bench/cuda/host_overhead.py out/$d balanced_h16_kv16_d64 --n 8192 --profile 0 > /tmp/host-$d.txt 2>&1; el "host $d rc=$?"
done
timeout 60 python3 bench/cuda/host_overhead.py out/old balanced_h16_kv16_d64 --n 8192 --profile 0 --trace /tmp/trace-old.json > /dev/null 2>&1; el "trace rc=$?"
timeout 150 python3 bench/cuda/bench_cuda.py out/check --mode fwdbwd --bwd-kernels sm90 --shapes 16x64 --lengths 8192,16384 --out $OUT/bench.md > /tmp/bench.log 2>&1; el "bench rc=$?"
(cd /tmp && tar czf $OUT/host.tgz host-old.txt host-check.txt trace-old.json bench.log)
for d in old check; do echo "== $d"; sed -n 2,12p /tmp/host-$d.txt; done
grep "^| " $OUT/bench.md | awk -F'|' '{print $2,$3,$4,$5,$9,$10,$12}'
