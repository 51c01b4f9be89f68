"""Tensor-parallel head shards, timed one at a time on one GPU.

    python3 bench/cuda/bench_shards.py DIR [--out results.md]

DIR holds the packages paper_h16_kv16_d128, released_h16_kv16_d128 and balanced_h16_kv16_d128
(test/cuda/prepare.ts). For T in {2, 4, 8} ranks, each rank's heads (from the package's
shard_plan: heads in order, and the balanced assignment) run through attention(..., heads=...)
on their own slice of q, k, v. A T-GPU layer waits for its slowest rank, so the layer time is
the largest shard time; speed-up = one GPU with all heads / that. Times: triton do_bench medians.
"""
import argparse
import importlib
import os
import platform
import sys

import torch
import triton


def bench(fn):
    return triton.testing.do_bench(fn, warmup=25, rep=100, return_mode="median")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--patterns", default="paper,released,balanced")
    ap.add_argument("--lengths", default="8192,32768")
    ap.add_argument("--ranks", default="2,4,8")
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    sys.path.insert(0, os.path.abspath(args.dir))
    dev = torch.device("cuda")
    lines = ["| pattern | N | T | plan | shard ms | max ms | max/mean (time) | max/mean (tiles) | 1 GPU ms | layer speed-up |", "|" + "---|" * 10]
    for pat in args.patterns.split(","):
        mod = importlib.import_module(f"{pat}_h16_kv16_d128")
        for n in (int(x) for x in args.lengths.split(",")):
            gen = torch.Generator(device=dev).manual_seed(n)
            q, k, v = [torch.randn(1, 16, n, 128, device=dev, dtype=torch.bfloat16, generator=gen) for _ in range(3)]
            full = mod.attention(q, k, v)
            t_all = bench(lambda: mod.attention(q, k, v))
            for T in (int(x) for x in args.ranks.split(",")):
                plans = mod.shard_plan(n, T)
                for name in ("in_order", "balanced"):
                    plan = plans[name]
                    times = []
                    for hs in plan["heads"]:
                        kv = sorted({h // mod.GROUP for h in hs})
                        qs, ks, vs = q[:, hs].contiguous(), k[:, kv].contiguous(), v[:, kv].contiguous()
                        out = mod.attention(qs, ks, vs, heads=hs)
                        assert torch.equal(out, full[:, hs]), f"{pat} N={n} shard {hs} differs from the full call"
                        times.append(bench(lambda: mod.attention(qs, ks, vs, heads=hs)))
                    mx, mean = max(times), sum(times) / len(times)
                    lines.append(f"| {pat} | {n} | {T} | {name.replace('_', ' ')} | {' '.join(f'{t:.3f}' for t in times)} | {mx:.3f} | {mx / mean:.2f} | {plan['imbalance']:.2f} | {t_all:.3f} | {t_all / mx:.2f}x |")
                    print(lines[-1], flush=True)
            del q, k, v, full
    env = f"{torch.cuda.get_device_name()}, torch {torch.__version__}, CUDA {torch.version.cuda}, python {platform.python_version()}"
    text = env + "\n\n" + "\n".join(lines) + "\n"
    print("\n" + text)
    if args.out:
        with open(args.out, "w") as fh:
            fh.write(text)


if __name__ == "__main__":
    main()
