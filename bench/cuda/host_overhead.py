"""The host (CPU) time of one spc call, apart from its GPU time: when it is longer than the
kernels, the GPU waits on Python and the call is as slow as its host path.

    python3 bench/cuda/host_overhead.py DIR NAME [--n 8192] [--calls 50] [--profile 20] [--flex] [--trace FILE]

Prints, per call: the host time of attention() forward only and of forward + backward
(perf_counter around CALLS calls that are launched back to back, GPU work queued behind them),
the same for the package's extension called directly (the C++ launchers, no custom op, no
autograd), and a cProfile of PROFILE forward + backward calls (the functions with the most own time).
For scale: an autograd.Function that launches one small kernel each way (what any op's forward +
backward pays for autograd alone), and with --flex FlexAttention (compiled) on the same mask.
--trace FILE writes a torch.profiler trace (CPU with Python stacks, and CUDA; chrome format) of 5
forward + backward calls launched back to back: where the GPU idles and what the host does meanwhile.
"""
import argparse
import cProfile
import importlib
import io
import os
import pstats
import sys
import time

import torch
from torch.profiler import ProfilerActivity, profile


def host_us(fn, calls, rounds=5):
    """The fastest of rounds: (host us per call, wall us per call with the GPU)."""
    best = (float("inf"), float("inf"))
    for _ in range(rounds):
        fn()
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        for _ in range(calls):
            fn()
        t1 = time.perf_counter()
        torch.cuda.synchronize()
        t2 = time.perf_counter()
        best = min(best, ((t1 - t0) / calls * 1e6, (t2 - t0) / calls * 1e6))
    return best


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("dir")
    ap.add_argument("name")
    ap.add_argument("--n", type=int, default=8192)
    ap.add_argument("--calls", type=int, default=50)
    ap.add_argument("--profile", type=int, default=20)
    ap.add_argument("--flex", action="store_true", help="also time FlexAttention (compiled) with the same mask")
    ap.add_argument("--trace", default=None, help="write a chrome trace of 5 forward + backward calls here")
    args = ap.parse_args()
    sys.path.insert(0, os.path.abspath(args.dir))
    mod = importlib.import_module(args.name)
    op = importlib.import_module(args.name + "._op")
    n, dev = args.n, torch.device("cuda")
    B = 2 if n <= 8192 else 1
    q = torch.randn(B, mod.HEADS, n, mod.HEAD_DIM, device=dev, dtype=torch.bfloat16)
    k, v = (torch.randn(B, mod.KV_HEADS, n, mod.HEAD_DIM, device=dev, dtype=torch.bfloat16) for _ in range(2))
    dout = torch.randn_like(q)
    scale = mod.HEAD_DIM**-0.5
    heads = tuple(range(mod.HEADS))

    def fwd_nograd():
        with torch.no_grad():
            return mod.attention(q, k, v)

    qg, kg, vg = (x.clone().requires_grad_(True) for x in (q, k, v))

    def fwdbwd():
        o = mod.attention(qg, kg, vg)
        return torch.autograd.grad(o, (qg, kg, vg), dout)

    out, lse = op._forward(q, k, v, scale, heads)

    def raw_fwd():
        return op._forward(q, k, v, scale, heads)

    def raw_bwd():
        return op._backward(dout, None, q, k, v, out, lse, scale, heads, False)

    ext = op._extension(*torch.cuda.get_device_capability())
    arch = op._arch(*torch.cuda.get_device_capability())
    variant = 0
    tiles = op.SM90_KEYS[variant] if arch == "sm90" else arch
    blocks = op._blocks(B * len(heads) * -(-n // op.TILES[tiles][0]), q.device, tiles)
    table, order = op.schedule(n, B, q.device, heads, tiles, blocks, torch.cuda.current_stream().cuda_stream)

    def ext_fwd():
        return ext.forward(q, k, v, table, order, blocks, scale, arch == "sm90", variant)

    def eager_nograd():
        with torch.no_grad():
            return op._Eager.apply(q, k, v, scale, list(heads), False)

    rows = [
        ("extension forward (C++ launcher alone)", ext_fwd),
        ("_op._check + _heads", lambda: op._check(q, k, v, op._heads(None))),
        ("_Eager.apply forward, no grad", eager_nograd),
        ("attention() forward, no grad", fwd_nograd),
        ("attention() forward + autograd.grad", fwdbwd),
        ("_op._forward (no custom op)", raw_fwd),
        ("_op._backward (no custom op)", raw_bwd),
    ]
    def fwdbwd_single_thread():
        with torch.autograd.set_multithreading_enabled(False):
            return fwdbwd()

    def fwd_only_grad():
        return mod.attention(qg, kg, vg)

    rows += [
        ("attention() forward, inputs need grad", fwd_only_grad),
        ("fwd + grad, autograd multithreading off", fwdbwd_single_thread),
    ]

    class _Tiny(torch.autograd.Function):
        """One small kernel each way: autograd's own cost of a forward + backward."""

        @staticmethod
        def forward(ctx, x):
            return x * 2.0

        @staticmethod
        def backward(ctx, g):
            return g * 2.0

    tiny = torch.randn(1024, device=dev, requires_grad=True)
    tiny_g = torch.randn(1024, device=dev)
    rows.append(("autograd.Function of one small kernel, fwd + grad", lambda: torch.autograd.grad(_Tiny.apply(tiny), (tiny,), tiny_g)))
    if args.flex:
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        from bench_cuda import flex_mask
        from torch.nn.attention.flex_attention import flex_attention

        flex = torch.compile(flex_attention, dynamic=False)
        assert mod.KV_HEADS == mod.HEADS, "--flex: one query head per KV head"
        bm = flex_mask(mod, n, dev)

        def flex_fwdbwd():
            return torch.autograd.grad(flex(qg, kg, vg, block_mask=bm), (qg, kg, vg), dout)

        flex_fwdbwd()
        rows.append(("FlexAttention (compiled), fwd + grad", flex_fwdbwd))
    print(f"{args.name} N={n} B={B}: host time per call (us) | wall with the GPU (us)")
    for label, fn in rows:
        h, w = host_us(fn, args.calls)
        print(f"  {label:40} {h:9.1f} | {w:9.1f}", flush=True)
    if args.trace:
        for _ in range(3):
            fwdbwd()
        torch.cuda.synchronize()
        with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA], with_stack=True) as tr:
            for _ in range(5):
                fwdbwd()
            torch.cuda.synchronize()
        tr.export_chrome_trace(args.trace)
    with profile(activities=[ProfilerActivity.CPU]) as cpu:
        for _ in range(10):
            fwdbwd()
        torch.cuda.synchronize()
    print(cpu.key_averages().table(sort_by="self_cpu_time_total", row_limit=25, max_name_column_width=60))
    prof = cProfile.Profile()
    prof.enable()
    for _ in range(args.profile):
        fwdbwd()
    prof.disable()
    torch.cuda.synchronize()
    s = io.StringIO()
    pstats.Stats(prof, stream=s).sort_stats("tottime").print_stats(25)
    print(s.getvalue())


if __name__ == "__main__":
    main()
