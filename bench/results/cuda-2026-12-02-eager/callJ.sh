#!/bin/bash
# call J: host overhead with a CPU profile (issue 15/16); the WGSL tuner's time against the benchmark's for one variant (issue 17/18).
set -uo pipefail
export PYTHONUNBUFFERED=1 TORCH_EXTENSIONS_DIR=$PWD/out/torch_extensions
O=${OUT:-out/callJ}; mkdir -p $O
T0=$(date +%s); el(){ echo "[$(( $(date +%s)-T0 ))s] $*"; }
say(){ el "$*"; }
el "host overhead"
timeout 150 python3 bench/cuda/host_overhead.py scratch/gpu/ho paper_h16_kv16_d64 --n 8192 --profile 0 > $O/host.txt 2>&1; el "host rc=$?"
. bench/wgsl/gpu-env.sh; gpu_vulkan; gpu_node
JS=.gpu/js/bench
el "bench, isolate"
timeout 100 "$NODE" $JS/wgsl.js --backend vulkan --isolate --timeout 60 --n 16384 --dims 128 --heads 16 --reps 5 --peak 67 --variants sg-16x8-t2x8-pad,wg-16x8-t2x8-pad --patterns spattention-paper --md $O/wb-iso.md > $O/wb-iso.log 2>&1; el "rc=$?"
grep -E "^\| (spattention|dense)" $O/wb-iso.md
el "tuner, one candidate"
timeout 120 "$NODE" .gpu/js/bench/wgsl/tune.js tune bench/wgsl/tune-h200.spc --layout spattention_d128 --target wgsl --backend vulkan --seq 16384 --max-candidates 1 --include wg-16x8-t2x8-pad --reps 5 --check-n 4096 --timeout 60 > $O/tune1.txt 2> $O/tune1.log; el "rc=$?"
tail -5 $O/tune1.txt; grep -E "^\[" $O/tune1.log
el done
echo "== host =="; cat $O/host.txt | head -50
