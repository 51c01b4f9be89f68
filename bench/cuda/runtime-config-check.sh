#!/usr/bin/env bash
# The GPU check of run-time kernel configs (issue 17): a package compiled with a tuning record
# that chose a different sm90 config at each N picks each N's config (seen in the profiler), its
# outputs equal the heuristic config's within bf16 tolerance, and a run-time cache record
# (SPC_TUNING_CACHE) is taken or, naming a config not compiled in, ignored with a warning.
# Prepare here (Node), then carry DIR:
#   npx tsx bench/cuda/prepare_runtime_config.ts scratch/gpu/rtcfg [--device "NVIDIA H200"]
# On the GPU machine:
#   bash bench/cuda/runtime-config-check.sh scratch/gpu/rtcfg "$OUT"
set -uo pipefail
dir=$1; out=${2:-$dir}
mkdir -p "$out"; export PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader 2>&1 | head -1
timeout 540 python3 bench/cuda/runtime_config_check.py "$dir" 2>&1 | tee "$out/runtime-config-check.log"
rc=${PIPESTATUS[0]}
echo "runtime-config-check rc=$rc (124: ran past 540 s)"
exit "$rc"
