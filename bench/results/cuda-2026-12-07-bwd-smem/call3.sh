#!/usr/bin/env bash
# Call 3 (2026-12-07): ncu stall profile (SourceCounters, hot SASS lines) of the sm90 dK/dV kernel,
# balanced H16 D128 N = 16384, dQ by atomics (the default).
set -uo pipefail
export PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name --format=csv,noheader
SPC_BACKWARD=1 timeout 400 bash bench/cuda/profile.sh out/ab128 balanced_h16_kv16_d128_atomic 16384 $OUT/p _bwd90_dkdv_bf16 > $OUT/prof.txt 2>&1; echo "rc=$?"
cat $OUT/prof.txt | head -80
cd $OUT/p && tar czf ../p.tgz *.txt *.csv 2>/dev/null; cd - >/dev/null; rm -rf $OUT/p
