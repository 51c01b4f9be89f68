"""Where the time of one spc call goes: every CUDA kernel (spc's, and PyTorch's fills, copies and
reductions around them) of a forward, or forward + backward, with its time per call, from
torch.profiler, next to the call's wall time from CUDA events.

    python3 bench/cuda/breakdown.py DIR NAME[,NAME...] --lengths N[,N...] [--mode fwd|fwdbwd] [--iters 10] [--deterministic]

DIR holds packages from test/cuda/prepare.ts. Inputs are bf16 (B, H, N, D), B = 2 for N <= 8192
else 1 (as bench_cuda.py). The gap line is the wall time less the kernels' summed time: launch and
host overhead, or kernels waiting on each other.
"""
import argparse
import importlib
import os
import sys

import torch
from torch.profiler import ProfilerActivity, profile


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("dir")
    ap.add_argument("names", help="comma list of package names in DIR")
    ap.add_argument("--lengths", default="16384")
    ap.add_argument("--mode", default="fwdbwd", choices=["fwd", "fwdbwd"])
    ap.add_argument("--iters", type=int, default=10)
    ap.add_argument("--out", help="also write the tables to this file")
    ap.add_argument("--deterministic", action="store_true", help="fwdbwd: spc's deterministic backward (dq pass, no atomics)")
    args = ap.parse_args()
    sys.path.insert(0, os.path.abspath(args.dir))
    dev = torch.device("cuda")
    lines = []

    def say(s=""):
        print(s, flush=True)
        lines.append(s)

    for name in args.names.split(","):
        mod = importlib.import_module(name)
        for n in [int(x) for x in args.lengths.split(",")]:
            B = 2 if n <= 8192 else 1
            gen = torch.Generator(device=dev).manual_seed(n)
            shape_q, shape_kv = (B, mod.HEADS, n, mod.HEAD_DIM), (B, mod.KV_HEADS, n, mod.HEAD_DIM)
            q = torch.randn(shape_q, device=dev, dtype=torch.bfloat16, generator=gen)
            k, v = (torch.randn(shape_kv, device=dev, dtype=torch.bfloat16, generator=gen) for _ in range(2))
            bwd = args.mode == "fwdbwd"
            for x in (q, k, v):
                x.requires_grad_(bwd)
            dout = torch.randn(shape_q, device=dev, dtype=torch.bfloat16, generator=gen)

            def call():
                o = mod.attention(q, k, v, deterministic=args.deterministic)
                return torch.autograd.grad(o, (q, k, v), dout) if bwd else o

            for _ in range(3):
                call()
            torch.cuda.synchronize()
            e0, e1 = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            e0.record()
            for _ in range(args.iters):
                call()
            e1.record()
            torch.cuda.synchronize()
            wall_us = e0.elapsed_time(e1) * 1e3 / args.iters
            with profile(activities=[ProfilerActivity.CUDA]) as prof:
                for _ in range(args.iters):
                    call()
                torch.cuda.synchronize()
            rows = {}
            for ev in prof.events():
                if ev.device_type == torch.autograd.DeviceType.CUDA:
                    t = ev.device_time if hasattr(ev, "device_time") else ev.cuda_time
                    r = rows.setdefault(ev.name, [0, 0.0])
                    r[0] += 1
                    r[1] += t
            say(f"{name} N={n} B={B} {args.mode}{' deterministic' if args.deterministic else ''}: wall {wall_us:.1f} us per call (CUDA events, {args.iters} calls)")
            total = 0.0
            for k_name, (cnt, t) in sorted(rows.items(), key=lambda kv: -kv[1][1]):
                per = t / args.iters
                total += per
                say(f"  {per:9.1f} us  x{cnt / args.iters:4.1f}  {k_name[:110]}")
            say(f"  {total:9.1f} us  kernels in all; gap (wall - kernels) {wall_us - total:.1f} us")
            say()
            q = k = v = dout = None
    if args.out:
        with open(args.out, "w") as f:
            f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
