#!/usr/bin/env bash
# Call 7 (2026-12-07, second session; run inline): the launch plans' CUDA graph capture branch and
# the full backward rows (strided inputs, torch.compile, graphs) on two layouts.
python3 test/cuda/check_cuda.py out/check --build-only --only balanced_h16_kv4_d64,released_h32_kv8_d128 > /tmp/b.log 2>&1; grep FAILED /tmp/b.log
timeout 150 python3 test/cuda/check_cuda.py out/check --only balanced_h16_kv4_d64,released_h32_kv8_d128 --backward-only --bwd-kernels sm90 --watchdog 140 > $OUT/check-plan.log 2>&1; echo rc=$?
grep -i "graph\|compile\|strided" $OUT/check-plan.log | sort -u; tail -1 $OUT/check-plan.log
