#!/usr/bin/env bash
# Call 1 (2026-12-07, second session): the staged dK/dV epilogue (main at eaddc41) on every dK/dV
# kernel variant: D = 128 with 64 rows, query-head groups at D = 128, D = 64 with 128 rows (kWide),
# D = 64 with 64 rows (GQA, more than two slots), strided inputs, mods (sinks, gaps, strides);
# backward checks against the float64 oracle (sm90 family), then memcheck and racecheck; the
# matrix layouts of call 2 are built alongside.
set -uo pipefail
export PYTHONUNBUFFERED=1
O=/tmp/raw; mkdir -p $O; t0=$(date +%s)
el() { echo "[$(( $(date +%s)-t0 ))s] $*"; }
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader | tee $O/gpu.txt
python3 -c "import torch,triton;print(torch.__version__,torch.version.cuda,triton.__version__)" | tee -a $O/gpu.txt
C=balanced_h16_kv16_d128,released_h32_kv8_d128,paper_h16_kv16_d64,balanced_h16_kv4_d64,mixed_gqa,strided,band_mix,sinks_window,spattention_gapped,longformer,fixed
python3 test/cuda/check_cuda.py out/check --build-only --only $C > $O/build.log 2>&1; el "built"; grep -h "FAILED" $O/build.log | head
# The matrix layouts of call 2 build meanwhile (CPU only), so that call 2 finds them built if the machine stays warm.
M=$(for s in h16_kv16_d128 h16_kv16_d64 h32_kv32_d128; do for p in balanced paper released; do printf "%s_%s," $p $s; done; done)
python3 test/cuda/check_cuda.py out/check --build-only --only ${M%,} > $O/build-matrix.log 2>&1 &
timeout 300 python3 test/cuda/check_cuda.py out/check --only $C --backward-only --bwd-kernels sm90 --watchdog 290 > $O/check.log 2>&1; el "check rc=$?"
grep -c " ok$" $O/check.log; grep FAIL $O/check.log | head -5; tail -2 $O/check.log
san() {  # tool layout N B mode; skipped once the call nears its 10 minutes
  [ $(( $(date +%s)-t0 )) -gt 500 ] && { el "$1 $2 $5 skipped (time)"; return; }
  SPC_BACKWARD=$5 SPC_CUDA_BWD=sm90 timeout 50 compute-sanitizer --tool $1 --error-exitcode 9 python3 bench/cuda/profile_one.py out/check $2 $3 $4 > $O/san-$1-$2-$5.log 2>&1; el "$1 $2 N=$3 $5 rc=$?"; tail -1 $O/san-$1-$2-$5.log
}
san memcheck paper_h16_kv16_d64 300 1 1; san racecheck paper_h16_kv16_d64 300 1 1
san memcheck released_h32_kv8_d128 200 1 1; san racecheck released_h32_kv8_d128 200 1 1
san memcheck balanced_h16_kv4_d64 300 1 1; san memcheck paper_h16_kv16_d64 300 1 det
wait; el "matrix layouts built"; grep -h "FAILED" $O/build-matrix.log | head
(cd $O && tar czf $OUT/raw.tgz . ); cp $O/check.log $OUT/; el done
