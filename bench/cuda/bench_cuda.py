"""spc CUDA vs dense causal SDPA (cuDNN, flash) and FlexAttention on the same bands.

    python3 bench/cuda/bench_cuda.py DIR [--mode fwd|fwdbwd] [--out results.md]

DIR holds the packages from test/cuda/prepare.ts (layouts paper_*, released_*, balanced_*).
Times are triton.testing.do_bench medians (ms), bf16, B = 2 for N <= 8192 else 1: of the forward
pass (--mode fwd), or of forward + backward (--mode fwdbwd: torch.autograd.grad of the output
for fixed random upstream gradients, the same call for every kernel). Useful pairs come from the
head table; useful TFLOP/s count 4 D FLOPs a pair forward and 3.5 x 4 D forward + backward (the
backward is 2.5 times the forward's matmul work). Computed pairs: the forward kernel's tile walk.
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


def band_intervals(mod, n):
    """Each head's allowed distances at length n as merged half-open intervals [[lo, hi], ...]
    (the bench patterns are unions of distance bands: no key, query or residue limits)."""
    t = mod._table.head_table(n)
    f, slots = mod._table.FIELDS_PER_TERM, mod._table.TERM_SLOTS
    assert mod._table.MOD_SLOTS == 0, "bench patterns are pure distance bands"
    heads = []
    for h in range(mod.HEADS):
        iv = []
        for s in range(slots):
            o = (h * slots + s) * f
            dlo, dhi, klo, khi, qlo, qhi = t[o:o + 6]
            assert (klo, khi, qlo, qhi) == (0, n, 0, n), "bench patterns are pure distance bands"
            if dlo < dhi:
                iv.append((dlo, dhi))
        merged = []
        for lo, hi in sorted(iv):
            if merged and lo <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], hi)
            else:
                merged.append([lo, hi])
        heads.append(merged)
    return heads


def useful_pairs(mod, n):
    """Pairs allowed, all heads: distance d has N - d pairs."""
    return sum((b - a) * n - (a + b - 1) * (b - a) // 2 for merged in band_intervals(mod, n) for a, b in merged)


def computed_pairs(mod, n, arch):
    """Pairs in the key tiles the block walk visits (the wgmma kernel's warpgroups skip some of them)."""
    bm, bn = mod.TILES[arch]
    t = mod._table.head_table(n)
    total = 0
    for h in range(mod.HEADS):
        for qt in range(-(-n // bm)):
            i0 = qt * bm
            rows = min(bm, n - i0)
            for lo, hi in mod._plan.key_tiles(t, h, i0, min(i0 + bm, n), n, bn):
                for kt in range(lo, hi):
                    total += rows * min(bn, n - kt * bn)
    return total


# FlexAttention's mask_mod: one for every pattern, reading each head's (merged) distance
# intervals from a table tensor of fixed shape (H, 2, 2): the bench patterns are a band, or a band
# and a window. One function object and one table shape per H keep torch.compile from recompiling per
# pattern; the table's contents change between patterns.
_FLEX_TABLES = {}


def _flex_table(H, device):
    if H not in _FLEX_TABLES:
        _FLEX_TABLES[H] = torch.zeros(H, 2, 2, dtype=torch.int32, device=device)
    return _FLEX_TABLES[H]


def _band_mask_mod(T):
    def mask_mod(b, h, q_idx, kv_idx):
        d = q_idx - kv_idx
        return ((d >= T[h, 0, 0]) & (d < T[h, 0, 1])) | ((d >= T[h, 1, 0]) & (d < T[h, 1, 1]))
    return mask_mod


_MASK_MODS = {}


def flex_mask(mod, n, device, block=128):
    """FlexAttention's BlockMask for the layout at length n, built from the head table's distance
    intervals: per (head, 128-query block) the key blocks with some allowed pair, split into full
    ones (no mask_mod call) and partial ones, as create_block_mask would find them. (create_block_mask
    itself materialises an N x N mask, or with _compile=True took 235 s to compile on the H100.)"""
    from torch.nn.attention.flex_attention import BlockMask

    intervals = band_intervals(mod, n)
    assert all(len(m) <= 2 for m in intervals), "the Flex mask_mod reads at most two intervals per head"
    T = _flex_table(mod.HEADS, device)
    nb = -(-n // block)
    b0 = torch.arange(nb, device=device) * block
    b1 = torch.clamp(b0 + block - 1, max=n - 1)
    dmin = b0[:, None] - b1[None, :]  # smallest q - k in block (qb, kb)
    dmax = b1[:, None] - b0[None, :]
    table_rows, parts, fulls = [], [], []
    for merged in intervals:
        table_rows.append(sum(merged, []) + [0, 0] * (2 - len(merged)))
        hit = torch.zeros(nb, nb, dtype=torch.bool, device=device)
        full = torch.zeros(nb, nb, dtype=torch.bool, device=device)
        for lo, hi in merged:
            hit |= (dmax >= lo) & (dmin <= hi - 1)
            full |= (dmin >= lo) & (dmax <= hi - 1)
        parts.append(hit & ~full)
        fulls.append(full)
    T.copy_(torch.tensor(table_rows, dtype=torch.int32, device=device).view(mod.HEADS, 2, 2))
    if mod.HEADS not in _MASK_MODS:
        _MASK_MODS[mod.HEADS] = _band_mask_mod(T)

    def indices(sel):
        sel = torch.stack(sel)[None]  # (1, H, nb, nb)
        count = sel.sum(-1).to(torch.int32)
        key = (~sel).to(torch.int64) * nb + torch.arange(nb, device=device)
        return count, torch.argsort(key, dim=-1).to(torch.int32)

    kv_num, kv_idx = indices(parts)
    full_num, full_idx = indices(fulls)
    return BlockMask.from_kv_blocks(kv_num, kv_idx, full_num, full_idx, BLOCK_SIZE=block, mask_mod=_MASK_MODS[mod.HEADS], seq_lengths=(n, n))


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
    ap.add_argument("--mode", default="fwd", choices=["fwd", "fwdbwd"], help="time the forward, or forward + backward")
    ap.add_argument("--bwd-kernels", default="sm90", help="fwdbwd: comma list of spc backward families to time: sm80 (mma.sync), sm90 (wgmma)")
    ap.add_argument("--deterministic", action="store_true", help="fwdbwd: spc's deterministic backward (dq pass, no atomics)")
    ap.add_argument("--kernels", default="sm90", help="comma list of spc kernel families to time: sm90 (wgmma), sm80 (mma.sync)")
    ap.add_argument("--watchdog", type=float, default=0, help="seconds; dump the stacks and exit if the run takes longer (a hung kernel)")
    args = ap.parse_args()
    if args.watchdog > 0:
        import faulthandler

        faulthandler.dump_traceback_later(args.watchdog, exit=True)
    sys.path.insert(0, os.path.abspath(args.dir))
    dev = torch.device("cuda")
    from torch.nn.attention.flex_attention import flex_attention

    # One compiled graph per shape (H, D, N): raise dynamo's recompile limit (8), past which it
    # falls back to eager flex_attention, which materialises the scores.
    torch._dynamo.config.cache_size_limit = 64
    torch._dynamo.config.accumulated_cache_size_limit = 512
    flex = torch.compile(flex_attention, dynamic=False)
    t_start = time.time()
    rows, mismatches = [], []
    major, minor = torch.cuda.get_device_capability()
    kernels = [k for k in args.kernels.split(",") if k != "sm90" or (major, minor) == (9, 0)]
    if kernels != args.kernels.split(","):
        print(f"note: sm90 (wgmma) kernels need an sm_90 GPU; this one is sm_{major}{minor}, timing {kernels} only", flush=True)
    shapes = [tuple(int(x) for x in s.split("x")) for s in args.shapes.split(",")]
    for H, D in shapes:
        for n in [int(x) for x in args.lengths.split(",")]:
            B = 2 if n <= 8192 else 1
            gen = torch.Generator(device=dev).manual_seed(n * 131 + H * 7 + D)
            q, k, v = [torch.randn(B, H, n, D, device=dev, dtype=torch.bfloat16, generator=gen) for _ in range(3)]
            bwd = args.mode == "fwdbwd"
            if bwd:
                for x in (q, k, v):
                    x.requires_grad_(True)
                dout = torch.randn(B, H, n, D, device=dev, dtype=torch.bfloat16, generator=gen)

            def timed(fwd):
                """The timed call: fwd(), or fwd() and the gradients of q, k, v for dout."""
                return (lambda: torch.autograd.grad(fwd(), (q, k, v), dout)) if bwd else fwd

            with sdpa_kernel(SDPBackend.CUDNN_ATTENTION):
                t_cudnn = bench(timed(lambda: F.scaled_dot_product_attention(q, k, v, is_causal=True)))
            with sdpa_kernel(SDPBackend.FLASH_ATTENTION):
                t_flash = bench(timed(lambda: F.scaled_dot_product_attention(q, k, v, is_causal=True)))
            flex_ms = {}  # per pattern: the suffixes (kernel configs, or old and new packages) share one Flex timing
            for pat, suffix in [(p, x) for p in args.patterns.split(",") for x in (args.suffixes.split(",") if args.suffixes else [""])]:
                name = f"{pat}_h{H}_kv{H}_d{D}" + (f"_{suffix}" if suffix else "")
                try:
                    mod = importlib.import_module(name)
                except ImportError:
                    continue
                t_flex = flex_ms.get(pat, math.nan)
                if pat not in flex_ms and not args.no_flex and time.time() - t_start < args.budget:
                    t0 = time.time()
                    bm = flex_mask(mod, n, dev)
                    fo = flex(q, k, v, block_mask=bm)
                    t_flex = bench(timed(lambda: flex(q, k, v, block_mask=bm)))
                    # Same mask, same result: Flex against spc (both bf16); with the backward, dq, dk, dv too
                    # (relative to their largest element).
                    so = mod.attention(q, k, v)
                    flex_diff = (fo.float() - so.float()).abs().max().item()
                    if bwd:
                        for fg, sg in zip(torch.autograd.grad(fo, (q, k, v), dout), torch.autograd.grad(so, (q, k, v), dout)):
                            flex_diff = max(flex_diff, ((fg.float() - sg.float()).abs().max() / fg.float().abs().max().clamp_min(1e-6)).item())
                    del fo, so
                    if not flex_diff < 0.05:  # bf16 rounding of outputs of size ~1; a different mask shows up far above
                        mismatches.append(f"{pat} H={H} D={D} N={n}: max |flex - spc| = {flex_diff}")
                    print(f"  flex {pat} H={H} D={D} N={n}: {t_flex:.3f} ms ({time.time() - t0:.0f} s with compiling), max |flex - spc| = {flex_diff:.3g}", flush=True)
                    flex_ms[pat] = t_flex
                up = useful_pairs(mod, n) * B
                for kern, bk in [(kf, bf) for kf in kernels for bf in (args.bwd_kernels.split(",") if bwd else [""])]:
                    os.environ["SPC_CUDA_KERNEL"] = kern
                    if bk:
                        os.environ["SPC_CUDA_BWD"] = bk
                    call = timed(lambda: mod.attention(q, k, v, deterministic=args.deterministic))
                    call()  # build + warm
                    t_spc = bench(call)
                    cp = computed_pairs(mod, n, kern) * B
                    tflops = (3.5 if bwd else 1.0) * 4 * D * up / (t_spc * 1e-3) / 1e12
                    label = " ".join(x for x in (pat, suffix, kern, f"bwd {bk}" if bk else "") if x)
                    rows.append(dict(pattern=label, H=H, D=D, N=n, B=B, cudnn=t_cudnn, flash=t_flash, flex=t_flex, spc=t_spc,
                                     x_cudnn=t_cudnn / t_spc, x_flex=t_flex / t_spc, useful_tflops=tflops, computed_over_useful=cp / up))
                    r = rows[-1]
                    print(f"{label:30} H={H:2} D={D:3} N={n:5} B={B}  cudnn {t_cudnn:7.3f}  flash {t_flash:7.3f}  flex {t_flex:7.3f}  spc {t_spc:7.3f} ms"
                          f"  x{r['x_cudnn']:5.1f} cudnn  x{r['x_flex']:4.2f} flex  {tflops:5.0f} TFLOP/s useful  computed/useful {cp / up:.2f}", flush=True)
                    os.environ.pop("SPC_CUDA_BWD", None)
                os.environ.pop("SPC_CUDA_KERNEL", None)
            q = k = v = dout = None  # free before the next shape
    head = ["pattern", "H", "D", "N", "B", "cuDNN ms", "flash ms", "Flex ms", "spc ms", "spc vs cuDNN", "spc vs Flex", "useful TFLOP/s", "computed/useful"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        lines.append(f"| {r['pattern']} | {r['H']} | {r['D']} | {r['N']} | {r['B']} | {r['cudnn']:.3f} | {r['flash']:.3f} | {r['flex']:.3f} | {r['spc']:.3f} | {r['x_cudnn']:.2f}x | {r['x_flex']:.2f}x | {r['useful_tflops']:.0f} | {r['computed_over_useful']:.2f} |")
    env = f"mode {args.mode}{' (spc deterministic)' if args.deterministic else ''}; {torch.cuda.get_device_name()}, torch {torch.__version__}, CUDA {torch.version.cuda}, triton {triton.__version__}, cuDNN {torch.backends.cudnn.version()}, python {platform.python_version()}"
    text = "\n".join(lines)
    print("\n" + env + "\n" + text)
    if args.out:
        with open(args.out, "w") as fh:
            fh.write(env + "\n\n" + text + "\n")
            json.dump(rows, open(args.out.replace(".md", ".json"), "w"), indent=1)
    if mismatches:
        print("Flex and spc disagree (not the same mask?):\n  " + "\n  ".join(mismatches))
        sys.exit(1)


if __name__ == "__main__":
    main()
