#!/usr/bin/env bash
# Call 1 (2026-12-07, third session). Carry out/check (npx tsx test/cuda/prepare.ts out/check).
# 1. The launch-plan fix of the previous session on the GPU: check_paths.py (capture after churn)
#    and a quick check_cuda subset whose CUDA-graph rows use the shared graph_replay_equals_eager.
# 2. What the dQ part of the dK/dV kernel costs (timing only; the variants give WRONG dQ): copies of
#    two packages with kernel.cu edited by sed: noatom (the dQ atomics skipped at run time), nosync
#    (the per-tile __syncthreads before the dQ wgmma removed: a race, timing only), both; and the
#    deterministic mode (dkdv without any dQ, then the dq pass).
# 3. spc's own dense_causal layout forward + backward at 16k next to cuDNN dense causal.
set -uo pipefail
export PYTHONUNBUFFERED=1
t0=$(date +%s)
el() { echo "[$(( $(date +%s)-t0 ))s] $*"; }
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader | tee $OUT/gpu.txt
P="balanced_h16_kv16_d128 released_h16_kv16_d64"
for v in noatom nosync both; do
  for p in $P; do
    mkdir -p out/exp-$v; rm -rf out/exp-$v/$p; cp -r out/check/$p out/exp-$v/
    f=out/exp-$v/$p/kernel.cu
    case $v in
      noatom) sed -i 's/^\( *\)dq_atomics(d, dQacc/\1if (n < 0) dq_atomics(d, dQacc/' $f ;;
      nosync) sed -i "s|__syncthreads();  // both warpgroups' dS|;|" $f ;;
      both) sed -i 's/^\( *\)dq_atomics(d, dQacc/\1if (n < 0) dq_atomics(d, dQacc/' $f; sed -i "s|__syncthreads();  // both warpgroups' dS|;|" $f ;;
    esac
    echo "$v $p: $(grep -c 'if (n < 0) dq_atomics' $f) atomics-off, $(grep -c "both warpgroups' dS" $f) syncs left"
  done
done | tee $OUT/variants.txt
build() { python3 -c "import sys; sys.path.insert(0, '$1'); import $2 as m, torch; m._extension(*torch.cuda.get_device_capability())" > /tmp/b-$(basename $1)-$2.log 2>&1 || echo "BUILD FAILED $1 $2"; }
for v in noatom nosync both; do for p in $P; do build out/exp-$v $p & done; done
python3 test/cuda/check_cuda.py out/check --build-only --only balanced_h16_kv16_d64,mixed_gqa,dense_causal,balanced_h16_kv16_d128,released_h16_kv16_d64 > /tmp/build.log 2>&1; grep -h "FAILED" /tmp/build.log | head
wait; el "built"
timeout 150 python3 test/cuda/check_paths.py out/check balanced_h16_kv16_d64,mixed_gqa > $OUT/paths.log 2>&1; el "paths rc=$?"; tail -1 $OUT/paths.log; grep FAIL $OUT/paths.log | head -5
timeout 150 python3 test/cuda/check_cuda.py out/check --quick --only balanced_h16_kv16_d64,mixed_gqa --bwd-kernels sm90 --watchdog 140 > $OUT/check.log 2>&1; el "check rc=$?"; tail -1 $OUT/check.log; grep -c "graph" $OUT/check.log; grep FAIL $OUT/check.log | head -5
B=$OUT/breakdown.txt; : > $B
for p in $P; do
  python3 bench/cuda/breakdown.py out/check $p --lengths 16384 >> $B 2>&1
  python3 bench/cuda/breakdown.py out/check $p --lengths 16384 --deterministic >> $B 2>&1
  for v in noatom nosync both; do echo "## variant $v" >> $B; python3 bench/cuda/breakdown.py out/exp-$v $p --lengths 16384 >> $B 2>&1; done
done; el "breakdowns"
timeout 120 python3 bench/cuda/breakdown.py out/check dense_causal --lengths 16384 > $OUT/dense.txt 2>&1; el "dense rc=$?"
timeout 60 python3 - > $OUT/cudnn.txt 2>&1 <<'PY'
import torch
from torch.nn.attention import sdpa_kernel, SDPBackend
import torch.nn.functional as F
q, k, v = (torch.randn(1, 16, 16384, 128, device="cuda", dtype=torch.bfloat16, requires_grad=True) for _ in range(3))
do = torch.randn_like(q)
def f():
    with sdpa_kernel(SDPBackend.CUDNN_ATTENTION):
        o = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    return torch.autograd.grad(o, (q, k, v), do)
for _ in range(3): f()
torch.cuda.synchronize()
a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
a.record()
for _ in range(10): f()
b.record(); torch.cuda.synchronize()
print(f"cuDNN dense causal H16 D128 N16384 fwd+bwd: {a.elapsed_time(b) / 10:.3f} ms")
PY
el "cudnn rc=$?"
echo "== table (dkdv us / wall us)"
grep -h "variant\|wall\|dkdv\|bwd90_dq_" $B | sed "s/ per call (CUDA events, 10 calls)//"
grep -h "wall\|dkdv\|fwd_sm90\|gap" $OUT/dense.txt; cat $OUT/cudnn.txt
