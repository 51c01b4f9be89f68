"""Runs one spc package once at one size (for ncu / compute-sanitizer); SPC_BACKWARD=1 runs the
backward too (SPC_BACKWARD=det: the deterministic backward).
    python3 bench/cuda/profile_one.py DIR NAME N [B]"""
import os
import sys

import torch

d, name, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
B = int(sys.argv[4]) if len(sys.argv) > 4 else 1
sys.path.insert(0, d)
mod = __import__(name)
g = torch.Generator(device="cuda").manual_seed(0)
q = torch.randn(B, mod.HEADS, n, mod.HEAD_DIM, device="cuda", dtype=torch.bfloat16, generator=g)
k = torch.randn(B, mod.KV_HEADS, n, mod.HEAD_DIM, device="cuda", dtype=torch.bfloat16, generator=g)
v = torch.randn(B, mod.KV_HEADS, n, mod.HEAD_DIM, device="cuda", dtype=torch.bfloat16, generator=g)
bwd = os.environ.get("SPC_BACKWARD") in ("1", "det")
for x in (q, k, v):
    x.requires_grad_(bwd)
out, lse = mod.attention(q, k, v, return_lse=True, deterministic=os.environ.get("SPC_BACKWARD") == "det")
if bwd:
    out.backward(torch.randn(out.shape, device="cuda", dtype=out.dtype, generator=g))
torch.cuda.synchronize()
print(name, n, "nan" if torch.isnan(out).any() else "ok", float(lse[torch.isfinite(lse)].mean()))
