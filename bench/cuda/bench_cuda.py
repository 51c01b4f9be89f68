"""spc CUDA forward vs dense causal SDPA (cuDNN, flash) and FlexAttention on the same bands.

    python3 bench/cuda/bench_cuda.py DIR [--quick] [--out results.md]

DIR holds the packages from test/cuda/prepare.ts (layouts paper_*, released_*, balanced_*).
Times are triton.testing.do_bench medians (ms) of the forward pass, bf16, B = 2 for N <= 8192
else 1. Useful pairs come from the head table; computed pairs from the kernel's own tile walk.
"""
import argparse
import importlib
import json
import math
import os
import platform
import sys
import time

import torch
import torch.nn.functional as F
import triton
from torch.nn.attention import SDPBackend, sdpa_kernel


def useful_pairs(mod, n):
    """Pairs allowed per head: union of each head's distance intervals, sum of N - d."""
    t = mod._table.head_table(n)
    f, slots = mod._table.FIELDS_PER_TERM, mod._table.TERM_SLOTS
    total = 0
    for h in range(mod.HEADS):
        iv = []
        for s in range(slots):
            o = (h * slots + s) * f
            dlo, dhi, klo, khi, qlo, qhi = t[o:o + 6]
            assert (klo, khi, qlo, qhi) == (0, n, 0, n), "bench patterns are pure distance bands"
            if dlo < dhi:
                iv.append((dlo, dhi))
        iv.sort()
        merged = []
        for a, b in iv:
            if merged and a <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], b)
            else:
                merged.append([a, b])
        for a, b in merged:
            total += (b - a) * n - (a + b - 1) * (b - a) // 2
    return total


def computed_pairs(mod, n):
    t = mod._table.head_table(n)
    total = 0
    for h in range(mod.HEADS):
        for qt in range(-(-n // mod.BLOCK_M)):
            i0 = qt * mod.BLOCK_M
            rows = min(mod.BLOCK_M, n - i0)
            for lo, hi in mod._key_tiles(t, h, i0, min(i0 + mod.BLOCK_M, n), n):
                for kt in range(lo, hi):
                    total += rows * min(mod.BLOCK_N, n - kt * mod.BLOCK_N)
    return total


def flex_mask(mod, n, device):
    from torch.nn.attention.flex_attention import create_block_mask

    f, slots, mods = mod._table.FIELDS_PER_TERM, mod._table.TERM_SLOTS, mod._table.MOD_SLOTS
    T = torch.tensor(mod._table.head_table(n), dtype=torch.int32, device=device).view(mod.HEADS, slots, f)

    def mask_mod(b, h, q_idx, kv_idx):
        d = q_idx - kv_idx
        ok = None
        for s in range(slots):
            c = (d >= T[h, s, 0]) & (d < T[h, s, 1]) & (kv_idx >= T[h, s, 2]) & (kv_idx < T[h, s, 3]) & (q_idx >= T[h, s, 4]) & (q_idx < T[h, s, 5])
            ok = c if ok is None else ok | c
        return ok

    # _compile=True builds the block mask without materialising the dense N x N mask.
    return create_block_mask(mask_mod, B=None, H=mod.HEADS, Q_LEN=n, KV_LEN=n, device=device, _compile=True)


def bench(fn):
    return triton.testing.do_bench(fn, warmup=50, rep=200, return_mode="median")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--no-flex", action="store_true")
    ap.add_argument("--patterns", default="balanced,paper,released")
    ap.add_argument("--shapes", default="16x128,32x128,16x64,32x64", help="HxD list")
    ap.add_argument("--lengths", default="4096,8192,16384,32768")
    ap.add_argument("--suffixes", default="", help="comma list of package-name suffixes (tile configurations) to compare")
    ap.add_argument("--out", default=None)
    ap.add_argument("--budget", type=float, default=480, help="seconds; Flex is skipped once exceeded")
    args = ap.parse_args()
    sys.path.insert(0, os.path.abspath(args.dir))
    dev = torch.device("cuda")
    from torch.nn.attention.flex_attention import flex_attention

    flex = torch.compile(flex_attention, dynamic=False)
    t_start = time.time()
    rows = []
    shapes = [tuple(int(x) for x in s.split("x")) for s in args.shapes.split(",")]
    for H, D in shapes:
        for n in [int(x) for x in args.lengths.split(",")]:
            B = 2 if n <= 8192 else 1
            gen = torch.Generator(device=dev).manual_seed(n * 131 + H * 7 + D)
            q, k, v = (torch.randn(B, H, n, D, device=dev, dtype=torch.bfloat16, generator=gen) for _ in range(3))
            with sdpa_kernel(SDPBackend.CUDNN_ATTENTION):
                t_cudnn = bench(lambda: F.scaled_dot_product_attention(q, k, v, is_causal=True))
            with sdpa_kernel(SDPBackend.FLASH_ATTENTION):
                t_flash = bench(lambda: F.scaled_dot_product_attention(q, k, v, is_causal=True))
            for pat, suffix in [(p, x) for p in args.patterns.split(",") for x in (args.suffixes.split(",") if args.suffixes else [""])]:
                name = f"{pat}_h{H}_kv{H}_d{D}" + (f"_{suffix}" if suffix else "")
                try:
                    mod = importlib.import_module(name)
                except ImportError:
                    continue
                mod.attention(q, k, v)  # build + warm
                t_spc = bench(lambda: mod.attention(q, k, v))
                t_flex = math.nan
                if not args.no_flex and time.time() - t_start < args.budget:
                    bm = flex_mask(mod, n, dev)
                    flex(q, k, v, block_mask=bm)
                    t_flex = bench(lambda: flex(q, k, v, block_mask=bm))
                up = useful_pairs(mod, n) * B
                cp = computed_pairs(mod, n) * B
                tflops = 4 * D * up / (t_spc * 1e-3) / 1e12
                rows.append(dict(pattern=pat + (f" {suffix}" if suffix else ""), H=H, D=D, N=n, B=B, cudnn=t_cudnn, flash=t_flash, flex=t_flex, spc=t_spc,
                                 x_cudnn=t_cudnn / t_spc, x_flex=t_flex / t_spc, useful_tflops=tflops, computed_over_useful=cp / up))
                r = rows[-1]
                print(f"{pat:9} {suffix:10} H={H:2} D={D:3} N={n:5} B={B}  cudnn {t_cudnn:7.3f}  flash {t_flash:7.3f}  flex {t_flex:7.3f}  spc {t_spc:7.3f} ms"
                      f"  x{r['x_cudnn']:5.1f} cudnn  x{r['x_flex']:4.2f} flex  {tflops:5.0f} TFLOP/s useful  computed/useful {cp / up:.2f}", flush=True)
            del q, k, v
    head = ["pattern", "H", "D", "N", "B", "cuDNN ms", "flash ms", "Flex ms", "spc ms", "spc vs cuDNN", "spc vs Flex", "useful TFLOP/s", "computed/useful"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        lines.append(f"| {r['pattern']} | {r['H']} | {r['D']} | {r['N']} | {r['B']} | {r['cudnn']:.3f} | {r['flash']:.3f} | {r['flex']:.3f} | {r['spc']:.3f} | {r['x_cudnn']:.2f}x | {r['x_flex']:.2f}x | {r['useful_tflops']:.0f} | {r['computed_over_useful']:.2f} |")
    env = f"{torch.cuda.get_device_name()}, torch {torch.__version__}, CUDA {torch.version.cuda}, triton {triton.__version__}, cuDNN {torch.backends.cudnn.version()}, python {platform.python_version()}"
    text = "\n".join(lines)
    print("\n" + env + "\n" + text)
    if args.out:
        with open(args.out, "w") as fh:
            fh.write(env + "\n\n" + text + "\n")
            json.dump(rows, open(args.out.replace(".md", ".json"), "w"), indent=1)


if __name__ == "__main__":
    main()
