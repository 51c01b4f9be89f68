"""Correctness of spc's generated CUDA packages on any CUDA machine with PyTorch.

    python3 test/cuda/check_cuda.py DIR [--quick] [--only NAME]

DIR holds packages from `spc compile ... --target cuda` plus layouts.json and the oracle
vectors that test/cuda/prepare.ts writes. Checks, for every package:
  * against spc's own float64 oracle (TypeScript) on its exported vectors;
  * against a float64 PyTorch reference built from the exported head table, for N in
    {1, 77, 1000, 4096, 8192}, bf16 and fp16, fresh random inputs, outputs poisoned first
    (the caching allocator hands the kernel a block filled with NaN; no NaN may survive);
  * relative error ||out - ref|| / ||ref|| below 1e-2, lse within 1e-2 (relative), -inf rows exact;
  * a head subset (heads=...) equal to the same heads of the full call;
  * the persistent sm_90 kernel on a 3-block grid (SPC_CUDA_GRID=3) equal to the full grid;
  * on an sm_90 GPU both kernel families: wgmma (the default there) and mma.sync (SPC_CUDA_KERNEL=sm80);
  * the backward (check_backward): dq, dk, dv against float64 autograd of the masked reference.
Exit status 1 on any failure. Prints a table last.
"""
import argparse
import importlib
import json
import math
import os
import sys
import time
import zlib

import torch


def build_all(d, names):
    # Compile extensions in parallel processes first (each load_inline build is ~30 s of nvcc/g++).
    import subprocess

    procs = []
    for name in names:
        code = f"import sys; sys.path.insert(0, {d!r}); import {name} as m, torch; m._extension(*torch.cuda.get_device_capability())"
        procs.append((name, subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)))
        while sum(p.poll() is None for _, p in procs) >= 16:
            time.sleep(0.5)
    failed = []
    for name, p in procs:
        out = p.communicate()[0].decode()
        if p.returncode != 0:
            failed.append(name)
            print(f"BUILD FAILED {name}\n{out[-3000:]}")
    return failed


def mask_from_table(mod, n, h, device):
    t = mod._table.head_table(n)
    f, slots, mods = mod._table.FIELDS_PER_TERM, mod._table.TERM_SLOTS, mod._table.MOD_SLOTS
    i = torch.arange(n, device=device)[:, None]
    j = torch.arange(n, device=device)[None, :]
    d = i - j
    allowed = torch.zeros(n, n, dtype=torch.bool, device=device)
    for s in range(slots):
        o = (h * slots + s) * f
        dlo, dhi, klo, khi, qlo, qhi = t[o:o + 6]
        ok = (d >= dlo) & (d < dhi) & (j >= klo) & (j < khi) & (i >= qlo) & (i < qhi)
        for m in range(mods):
            on, mm, lo, hi = t[o + 6 + 4 * m:o + 10 + 4 * m]
            r = torch.remainder(d if on == 0 else j.expand(n, n), mm)
            ok = ok & (r >= lo) & (r < hi)
        allowed |= ok
    return allowed


def reference(mod, q, k, v, scale):
    """Float64 masked attention per (b, h) from the head table; empty rows give 0 and -inf."""
    B, H, N, D = q.shape
    KV = k.shape[1]
    out = torch.zeros(B, H, N, D, dtype=torch.float64, device=q.device)
    lse = torch.empty(B, H, N, dtype=torch.float64, device=q.device)
    for h in range(H):
        allowed = mask_from_table(mod, N, h, q.device)
        kvh = h // (H // KV)
        for b in range(B):
            s = (q[b, h].double() @ k[b, kvh].double().T) * scale
            s = s.masked_fill(~allowed, -math.inf)
            l = torch.logsumexp(s, dim=-1)
            p = torch.exp(s - torch.where(torch.isinf(l), torch.zeros_like(l), l)[:, None])
            out[b, h] = p @ v[b, kvh].double()
            lse[b, h] = l
    return out, lse


def reference_grads(mod, q, k, v, dout, scale, dlse=None):
    """Float64 autograd of the masked reference: (dq, dk, dv) for upstream gradients dout of the
    output (and dlse of the lse, rows with no key excluded). One head at a time (its graph freed
    before the next); dk and dv of a KV head sum over its query heads. Rows with no allowed key
    give zero gradients: their probabilities are a softmax times the mask, so neither
    -inf - -inf nor 0 * inf is formed. Also returns (empty, unreached): empty (B, H, N) marks rows
    with no allowed key, unreached (B, KV, N) keys that no row of the KV head's query heads may
    attend to (both from the mask, not from the values)."""
    B, H, N, D = q.shape
    KV = k.shape[1]
    k64, v64 = (x.detach().double().requires_grad_(True) for x in (k, v))
    dq = torch.zeros(B, H, N, D, dtype=torch.float64, device=q.device)
    empty = torch.zeros(B, H, N, dtype=torch.bool, device=q.device)
    reached = torch.zeros(B, KV, N, dtype=torch.bool, device=q.device)
    for h in range(H):
        allowed = mask_from_table(mod, N, h, q.device)
        some = allowed.any(dim=-1, keepdim=True)
        empty[:, h] = ~some[:, 0]
        kvh = h // (H // KV)
        reached[:, kvh] |= allowed.any(dim=0)
        q64 = q[:, h].detach().double().requires_grad_(True)
        s = (q64 @ k64[:, kvh].transpose(-1, -2)) * scale
        s = torch.where(some, s.masked_fill(~allowed, -math.inf), torch.zeros_like(s))
        p = torch.softmax(s, dim=-1) * allowed
        loss = ((p @ v64[:, kvh]) * dout[:, h].double()).sum()
        if dlse is not None:
            lse = torch.logsumexp(s, dim=-1)
            loss = loss + torch.where(some[:, 0], lse * dlse[:, h].double(), torch.zeros_like(lse)).sum()
        loss.backward()
        dq[:, h] = q64.grad
    return (dq, k64.grad, v64.grad), (empty, ~reached)


# Gradient limits per dtype: the relative norm error, and the largest element error relative to
# the largest reference element (a few wrong rows hide in a norm). An emulation of the kernels'
# roundings gave about 2.5e-3 / 5e-3 in bf16 and 3e-4 in fp16.
GRAD_LIMITS = {torch.bfloat16: (1e-2, 2e-2), torch.float16: (2e-3, 4e-3)}


def grads_ok(errs, maxerrs, dtype):
    norm_lim, max_lim = GRAD_LIMITS[dtype]
    return max(errs) < norm_lim and max(maxerrs) < max_lim


def compare_grads(grads, ref_grads, masks):
    """Relative errors of (dq, dk, dv) against the float64 reference. masks = (empty, unreached)
    from reference_grads: the dq of a row with no allowed key, and the dk and dv of a key no row
    may attend to, must be exactly 0. A reference that is 0 everywhere although rows and keys
    are reached (N = 1: a softmax over one key has zero dq and dk) is compared absolutely: with
    inputs of unit variance its gradients are O(1), so the largest element must stay below
    1e-3. Returns (norm errors, max-element errors, message)."""
    empty_rows, unreached = masks
    errs, maxerrs = [], []
    for name, g, r in zip(("dq", "dk", "dv"), grads, ref_grads):
        if torch.isnan(g).any():
            return [math.inf] * 3, [math.inf] * 3, f"NaN in {name}"
        if r.norm() > 0:
            d = g.double() - r
            errs.append((d.norm() / r.norm()).item())
            maxerrs.append((d.abs().max() / r.abs().max()).item())
        else:
            a = g.double().abs().max().item()
            errs.append(0.0 if a < 1e-3 else math.inf)
            maxerrs.append(a)
    if empty_rows.any() and (grads[0][empty_rows] != 0).any():
        return errs, maxerrs, "dq of rows with no key not 0"
    for name, g in zip(("dk", "dv"), grads[1:]):
        if unreached.any() and (g[unreached] != 0).any():
            return errs, maxerrs, f"{name} of keys no row reaches not 0"
    return errs, maxerrs, ""


def run_backward(mod, q, k, v, dout, heads=None, dlse=None, deterministic=False):
    """Forward, then the backward through the op's autograd (upstream gradients dout of out and dlse
    of lse), the gradients poisoned: SPC_POISON=1 makes the binding allocate them filled with NaN,
    so an element no kernel writes stays NaN and fails the check."""
    qq, kk, vv = (x.detach().requires_grad_(True) for x in (q, k, v))
    out, lse = mod.attention(qq, kk, vv, return_lse=True, heads=heads, deterministic=deterministic)
    outs, ups = ((out, lse), (dout, dlse)) if dlse is not None else ((out,), (dout,))
    os.environ["SPC_POISON"] = "1"  # the binding allocates dq, dk, dv filled with NaN
    try:
        grads = torch.autograd.grad(outs, (qq, kk, vv), ups)
    finally:
        os.environ.pop("SPC_POISON")
    torch.cuda.synchronize()
    return grads


def with_bwd(fam, fn):
    """fn() with the backward's kernel family fam ("sm80" mma.sync, "sm90" wgmma: SPC_CUDA_BWD)."""
    os.environ["SPC_CUDA_BWD"] = fam
    try:
        return fn()
    finally:
        os.environ.pop("SPC_CUDA_BWD")


def check_backward_case(mod, name, n, B, tag, fam, q, k, v, dout, dlse, ref, empty, rows, failures):
    """One backward family on one case: the gradients; at N = 1000 a head subset (the last half of
    the KV groups: the same gradients as the full call's); at N = 77 and 1000 the deterministic
    mode 3 times (as accurate, the same bits every run)."""
    grads = with_bwd(fam, lambda: run_backward(mod, q, k, v, dout, dlse=dlse))
    errs, maxerrs, why = compare_grads(grads, ref, empty)
    ok = grads_ok(errs, maxerrs, q.dtype) and not why
    rows.append((f"{name} backward", n, tag, B, max(errs), max(maxerrs),
                 "ok" if ok else f"FAIL {why} dq/dk/dv {errs[0]:.1e}/{errs[1]:.1e}/{errs[2]:.1e} max {maxerrs[0]:.1e}/{maxerrs[1]:.1e}/{maxerrs[2]:.1e}"))
    if not ok:
        failures.append(f"{name} backward N={n} {tag}")
    if n == 1000 and mod.HEADS >= 2 * mod.GROUP:
        g = mod.GROUP
        sub = list(range(mod.HEADS // 2 // g * g, mod.HEADS))
        kv = sorted({h // g for h in sub})
        sg = with_bwd(fam, lambda: run_backward(mod, q[:, sub].contiguous(), k[:, kv].contiguous(), v[:, kv].contiguous(), dout[:, sub].contiguous(), heads=sub))
        same_kv = torch.equal(sg[1], grads[1][:, kv]) and torch.equal(sg[2], grads[2][:, kv])
        dq_err = ((sg[0].double() - grads[0][:, sub].double()).norm() / grads[0][:, sub].double().norm().clamp_min(1e-30)).item()
        ok = same_kv and dq_err < 1e-3
        rows.append((f"{name} bwd heads {sub[0]}..{sub[-1]}", n, tag, B, dq_err, 0.0, "ok" if ok else "FAIL subset gradients differ"))
        if not ok:
            failures.append(f"{name} backward subset N={n} {tag}")
    if n in (77, 1000) and "bfloat16" in tag:
        runs = [with_bwd(fam, lambda: run_backward(mod, q, k, v, dout, dlse=dlse, deterministic=True)) for _ in range(3)]
        derrs, dmax, dwhy = compare_grads(runs[0], ref, empty)
        same = all(torch.equal(a, b) for r in runs[1:] for a, b in zip(runs[0], r))
        ok = grads_ok(derrs, dmax, q.dtype) and not dwhy and same
        rows.append((f"{name} bwd deterministic x3", n, tag, B, max(derrs), max(dmax), "ok" if ok else f"FAIL {dwhy} same bits: {same}"))
        if not ok:
            failures.append(f"{name} backward deterministic N={n} {tag}")


def check_backward(d, layouts, failed_builds, args, dev, rows, failures, families):
    """Gradients of every layout against float64 autograd of the masked reference: N in {1, 77,
    1000, 4096, 8192}, bf16 and fp16 (N <= 1000), fresh random inputs and upstream gradients, the
    gradients poisoned first; with a gradient through lse once per layout, and a head subset."""
    lengths = [1, 77, 1000] if args.quick else [1, 77, 1000, 4096, 8192]
    gen = torch.Generator(device=dev)
    for l in layouts:
        name = l["name"]
        if name in failed_builds:
            continue
        mod = importlib.import_module(name)
        ns = [l["seq"]] if l["seq"] is not None else lengths
        for n in ns:
            for dt in ((torch.bfloat16, torch.float16) if n <= 1000 else (torch.bfloat16,)):
                B = 2 if n <= 1000 else 1
                gen.manual_seed(zlib.crc32(f"bwd:{name}:{n}:{dt}".encode()))
                mk = lambda h: torch.randn(B, h, n, mod.HEAD_DIM, device=dev, generator=gen).to(dt)
                q, k, v, dout = mk(mod.HEADS), mk(mod.KV_HEADS), mk(mod.KV_HEADS), mk(mod.HEADS)
                with_lse = n == 77
                dlse = torch.randn(B, mod.HEADS, n, device=dev, generator=gen) if with_lse else None
                scale = 1 / math.sqrt(mod.HEAD_DIM)
                ref, empty = reference_grads(mod, q, k, v, dout, scale, dlse)
                for fam in families:
                    tag = str(dt).replace("torch.", "") + (" +dlse" if with_lse else "") + f" {fam}"
                    try:
                        check_backward_case(mod, name, n, B, tag, fam, q, k, v, dout, dlse, ref, empty, rows, failures)
                    except Exception as e:  # a failed launch or check: recorded; a CUDA fault ends the run
                        rows.append((f"{name} backward", n, tag, B, math.inf, math.inf, f"FAIL {type(e).__name__}: {str(e)[:300]}"))
                        failures.append(f"{name} backward N={n} {tag}")
                        if "CUDA" in str(e) or "cuda" in type(e).__name__.lower():
                            raise
                del q, k, v, dout, ref


def check_strided(mod, dev, kernels, families, rows, failures):
    """Inputs in the layouts projections produce, read in place: (B, N, H, D) tensors viewed as
    (B, H, N, D), and q, k, v sliced out of one packed (B, N, 3, H, D) tensor (MHA layouts). The
    output and the gradients are the same bits as for contiguous copies of the inputs
    (deterministic backward), and the gradients come back in the layout of their inputs."""
    B, n, D = 2, 1000, mod.HEAD_DIM
    H, KV = mod.HEADS, mod.KV_HEADS
    gen = torch.Generator(device=dev).manual_seed(11)
    mk = lambda h: torch.randn(B, n, h, D, device=dev, generator=gen, dtype=torch.bfloat16)
    views = {"(B, N, H, D)": tuple(x.transpose(1, 2) for x in (mk(H), mk(KV), mk(KV)))}
    if H == KV:
        packed = torch.randn(B, n, 3, H, D, device=dev, generator=gen, dtype=torch.bfloat16)
        views["packed qkv"] = tuple(packed[:, :, i].transpose(1, 2) for i in range(3))
    dout = torch.randn(B, H, n, D, device=dev, generator=gen, dtype=torch.bfloat16).transpose(1, 2).contiguous().transpose(1, 2)

    def run(q, k, v):
        qq, kk, vv = (x.detach().requires_grad_(True) for x in (q, k, v))
        out = mod.attention(qq, kk, vv, deterministic=True)
        return (out, *torch.autograd.grad(out, (qq, kk, vv), dout))

    for label, (q, k, v) in views.items():
        for kern in kernels:
            for fam in families:
                os.environ["SPC_CUDA_KERNEL"] = kern
                try:
                    got = with_bwd(fam, lambda: run(q, k, v))
                    want = with_bwd(fam, lambda: run(q.contiguous(), k.contiguous(), v.contiguous()))
                finally:
                    os.environ.pop("SPC_CUDA_KERNEL")
                same = all(torch.equal(a, b) for a, b in zip(got, want))
                dense = label != "packed qkv"
                layout_ok = not dense or all(g.stride() == x.stride() for g, x in zip(got[1:], (q, k, v)))
                ok = same and layout_ok and not any(torch.isnan(x).any() for x in got)
                rows.append((f"{mod.LAYOUT} strided {label}", n, f"bf16 {kern} bwd {fam}", B, 0.0, 0.0,
                             "ok" if ok else f"FAIL same bits: {same}, gradient layouts: {layout_ok}"))
                if not ok:
                    failures.append(f"{mod.LAYOUT} strided {label} {kern} {fam}")


def graph_replay_equals_eager(step, inputs, fresh, warmup=2, warm_stream=None):
    """step(*inputs) warmed up on warm_stream (default a new side stream), captured in a CUDA graph
    on copies of inputs, then replayed with fresh copied in: whether the replay's outputs equal an
    eager step(*fresh) bit for bit (step must be deterministic)."""
    static = [x.clone() for x in inputs]
    side = torch.cuda.Stream() if warm_stream is None else warm_stream
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        for _ in range(warmup):
            step(*static)
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        captured = step(*static)
    for dst, src in zip(static, fresh):
        dst.copy_(src)
    graph.replay()
    torch.cuda.synchronize()
    want = step(*fresh)
    return all(torch.equal(a, b) for a, b in zip(captured, want))


def check_compile_and_graphs(mod, dev, rows, failures):
    """The op in torch.compile(fullgraph=True) (no graph break: the custom op and its autograd) and
    in a captured CUDA graph (forward and backward, replayed on new inputs): the same outputs and
    gradients as eager calls (deterministic mode, so bit-equal)."""
    B, n, D = 2, 1000, mod.HEAD_DIM
    gen = torch.Generator(device=dev).manual_seed(7)
    mk = lambda h: torch.randn(B, h, n, D, device=dev, generator=gen, dtype=torch.bfloat16)
    q, k, v, dout = mk(mod.HEADS), mk(mod.KV_HEADS), mk(mod.KV_HEADS), mk(mod.HEADS)

    def step(q, k, v, dout):
        qq, kk, vv = (x.detach().requires_grad_(True) for x in (q, k, v))
        out = mod.attention(qq, kk, vv, deterministic=True)
        return (out, *torch.autograd.grad(out, (qq, kk, vv), dout))

    eager = step(q, k, v, dout)
    fam = os.environ.get("SPC_CUDA_BWD", "default")
    label = f"{mod.LAYOUT} torch.compile fullgraph bwd {fam}"
    try:
        torch._dynamo.reset()
        f = torch.compile(lambda q, k, v: mod.attention(q, k, v, deterministic=True), fullgraph=True)
        qq, kk, vv = (x.detach().requires_grad_(True) for x in (q, k, v))
        out = f(qq, kk, vv)
        got = (out, *torch.autograd.grad(out, (qq, kk, vv), dout))
        same = all(torch.equal(a, b) for a, b in zip(got, eager))
        rows.append((label, n, "bf16", B, 0.0, 0.0, "ok" if same else "FAIL differs from eager"))
        if not same:
            failures.append(label)
    except Exception as e:  # a graph break under fullgraph=True raises
        rows.append((label, n, "bf16", B, math.inf, 0.0, f"FAIL {type(e).__name__}: {str(e)[:1500]}"))
        failures.append(label)
    label = f"{mod.LAYOUT} CUDA graph fwd+bwd {fam}"
    try:
        same = graph_replay_equals_eager(step, (q, k, v, dout), (mk(mod.HEADS), mk(mod.KV_HEADS), mk(mod.KV_HEADS), mk(mod.HEADS)))
        rows.append((label, n, "bf16", B, 0.0, 0.0, "ok" if same else "FAIL replay differs from eager"))
        if not same:
            failures.append(label)
    except Exception as e:
        rows.append((label, n, "bf16", B, math.inf, 0.0, f"FAIL {type(e).__name__}: {str(e)[:1500]}"))
        failures.append(label)


def compare(out, lse, ref_out, ref_lse):
    if torch.isnan(out).any() or torch.isnan(lse).any():
        return math.inf, math.inf, "NaN (unwritten or invalid output)"
    o = out.double()
    rel = ((o - ref_out).norm() / ref_out.norm().clamp_min(1e-30)).item()
    inf_ref = torch.isinf(ref_lse)
    if not torch.equal(torch.isinf(lse), inf_ref):
        return rel, math.inf, "-inf rows differ"
    if inf_ref.any() and (o[inf_ref] != 0).any():
        return rel, math.inf, "empty rows not 0"
    fin = ~inf_ref
    lerr = ((lse.double()[fin] - ref_lse[fin]).abs() / ref_lse[fin].abs().clamp_min(1.0)).max().item() if fin.any() else 0.0
    return rel, lerr, ""


def run_poisoned(mod, q, k, v, heads=None):
    # Poison: fill blocks of the output sizes with NaN and free them; the caching allocator
    # gives the same blocks to the op's outputs, so an element the kernel misses stays NaN.
    B, H, N, D = q.shape
    p1 = torch.full((B, H, N, D), math.nan, dtype=q.dtype, device=q.device)
    p2 = torch.full((B, H, N), math.nan, dtype=torch.float32, device=q.device)
    del p1, p2
    out, lse = mod.attention(q, k, v, return_lse=True, heads=heads)
    torch.cuda.synchronize()
    return out, lse


def run_kernel(kern, mod, q, k, v, heads=None):
    """One call of the op with kernel family kern ("sm90" wgmma, "sm80" mma.sync), outputs poisoned."""
    os.environ["SPC_CUDA_KERNEL"] = kern
    try:
        return run_poisoned(mod, q, k, v, heads)
    finally:
        os.environ.pop("SPC_CUDA_KERNEL")


def check_all(d, names, layouts, failed_builds, args, dev, kernels, rows, failures):
    # 1. spc's own float64 oracle vectors.
    for case in json.load(open(os.path.join(d, "oracle.json"))):
        name, n, B = case["name"], case["n"], case["batch"]
        if name not in names:
            continue
        mod = importlib.import_module(name)
        ld = lambda tag: torch.from_numpy(__import__("numpy").fromfile(os.path.join(d, f"oracle_{name}_{n}_{tag}.f64"), dtype="float64"))
        H, KV, D = mod.HEADS, mod.KV_HEADS, mod.HEAD_DIM
        q = ld("q").view(B, H, n, D).to(dev, torch.bfloat16)
        k = ld("k").view(B, KV, n, D).to(dev, torch.bfloat16)
        v = ld("v").view(B, KV, n, D).to(dev, torch.bfloat16)
        ro, rl = ld("out").view(B, H, n, D).to(dev), ld("lse").view(B, H, n).to(dev)
        # The torch reference must agree with the TypeScript oracle too (float64 vs float64).
        to, tl = reference(mod, q, k, v, 1 / math.sqrt(D))
        xrel = ((to - ro).norm() / ro.norm()).item()
        for kern in kernels:
            out, lse = run_kernel(kern, mod, q, k, v)
            rel, lerr, why = compare(out, lse, ro, rl)
            ok = rel < 1e-2 and lerr < 1e-2 and not why and xrel < 1e-9
            rows.append((f"{name} (ts oracle)", n, f"bf16 {kern}", B, rel, lerr, "ok" if ok else f"FAIL {why} xref={xrel:.1e}"))
            if not ok:
                failures.append(f"{name} oracle {kern}")

    # 2. float64 torch reference from the head table; each kernel family on the same inputs.
    lengths = [1, 77, 1000] if args.quick else [1, 77, 1000, 4096, 8192]
    gen = torch.Generator(device=dev)
    for l in layouts:
        name = l["name"]
        if name in failed_builds:
            continue
        mod = importlib.import_module(name)
        ns = [l["seq"]] if l["seq"] is not None else lengths
        for n in ns:
            for dt in ((torch.bfloat16, torch.float16) if n <= 1000 or name.startswith("balanced_h16") else (torch.bfloat16,)):
                B = 2 if n <= 4096 else 1
                gen.manual_seed(zlib.crc32(f"{name}:{n}:{dt}".encode()))  # reproducible across runs
                q = torch.randn(B, mod.HEADS, n, mod.HEAD_DIM, device=dev, generator=gen).to(dt)
                k = torch.randn(B, mod.KV_HEADS, n, mod.HEAD_DIM, device=dev, generator=gen).to(dt)
                v = torch.randn(B, mod.KV_HEADS, n, mod.HEAD_DIM, device=dev, generator=gen).to(dt)
                ro, rl = reference(mod, q, k, v, 1 / math.sqrt(mod.HEAD_DIM))
                for kern in kernels:
                    tag = str(dt).replace("torch.", "") + " " + kern
                    out, lse = run_kernel(kern, mod, q, k, v)
                    rel, lerr, why = compare(out, lse, ro, rl)
                    ok = rel < 1e-2 and lerr < 1e-2 and not why
                    rows.append((name, n, tag, B, rel, lerr, "ok" if ok else f"FAIL {why}"))
                    if not ok:
                        failures.append(f"{name} N={n} {tag}")
                    # A head subset: the last half of the KV groups, as a tensor-parallel rank would own.
                    if n == ns[0] or n == 1000:
                        g = mod.GROUP
                        sub = list(range(mod.HEADS // 2 // g * g, mod.HEADS)) if mod.HEADS >= 2 * g else list(range(mod.HEADS))
                        kv = sorted({h // g for h in sub})
                        so, sl = run_kernel(kern, mod, q[:, sub].contiguous(), k[:, kv].contiguous(), v[:, kv].contiguous(), heads=sub)
                        same = torch.equal(so, out[:, sub]) and torch.equal(sl, lse[:, sub])
                        rows.append((f"{name} heads {sub[0]}..{sub[-1]}", n, tag, B, 0.0, 0.0, "ok" if same else "FAIL subset differs"))
                        if not same:
                            failures.append(f"{name} N={n} subset {tag}")
                    # The persistent kernel on 3 blocks: each takes many items in a row (empty ones
                    # included), through every ring and buffer phase; bit-equal to the full grid.
                    # (Block-wise packages have no grid cap to test.)
                    if kern == "sm90" and mod.PERSISTENT_SM90 and n >= 1000:
                        os.environ["SPC_CUDA_GRID"] = "3"
                        try:
                            go, gl = run_kernel(kern, mod, q, k, v)
                        finally:
                            os.environ.pop("SPC_CUDA_GRID")
                        same = torch.equal(go, out) and torch.equal(gl, lse)
                        rows.append((f"{name} grid 3", n, tag, B, 0.0, 0.0, "ok" if same else "FAIL grid-3 output differs"))
                        if not same:
                            failures.append(f"{name} N={n} grid 3 {tag}")
                    del out, lse
                del q, k, v, ro, rl


ROW = "{:34} {:>6} {:>9} {:>2} {:9.2e} {:9.2e}  {}"


class Rows(list):
    """The results table; each row is also printed as it comes, so a run cut short (a hung kernel,
    the device tool's time limit) still shows what passed before it."""

    def append(self, r):
        super().append(r)
        print(ROW.format(*r), flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--quick", action="store_true", help="N in {1, 77, 1000} only")
    ap.add_argument("--only", default=None)
    ap.add_argument("--build-only", action="store_true", help="only build the extensions (in parallel)")
    ap.add_argument("--kernels", default=None, help="comma list of sm90,sm80 (default: both on sm_90, else sm80)")
    ap.add_argument("--bwd-kernels", default=None, help="comma list of sm80,sm90: backward families (default: both on sm_90, else sm80)")
    ap.add_argument("--forward-only", action="store_true")
    ap.add_argument("--backward-only", action="store_true")
    ap.add_argument("--watchdog", type=float, default=0, help="seconds; dump the stacks and exit if the run takes longer (a hung kernel)")
    args = ap.parse_args()
    if args.watchdog > 0:
        import faulthandler

        faulthandler.dump_traceback_later(args.watchdog, exit=True)
    d = os.path.abspath(args.dir)
    sys.path.insert(0, d)
    layouts = json.load(open(os.path.join(d, "layouts.json")))
    if args.only:
        layouts = [l for l in layouts if l["name"] in args.only.split(",")]
    names = [l["name"] for l in layouts]
    t0 = time.time()
    failed_builds = build_all(d, names)
    print(f"built {len(names) - len(failed_builds)}/{len(names)} extensions in {time.time() - t0:.0f} s", flush=True)
    if args.build_only:
        sys.exit(1 if failed_builds else 0)
    dev = torch.device("cuda")
    rows, failures = Rows(), list(failed_builds)

    major, minor = torch.cuda.get_device_capability()
    kernels = args.kernels.split(",") if args.kernels else (["sm90", "sm80"] if (major, minor) == (9, 0) else ["sm80"])
    if not args.backward_only:
        check_all(d, names, layouts, failed_builds, args, dev, kernels, rows, failures)
    if not args.forward_only:
        families = args.bwd_kernels.split(",") if args.bwd_kernels else (["sm80", "sm90"] if (major, minor) == (9, 0) else ["sm80"])
        check_backward(d, layouts, failed_builds, args, dev, rows, failures, families)
        for name in [x for x in ("balanced_h16_kv4_d64", "released_h32_kv8_d128") if x in names and x not in failed_builds]:
            for fam in families:
                with_bwd(fam, lambda: check_compile_and_graphs(importlib.import_module(name), dev, rows, failures))
        for name in [x for x in ("paper_h16_kv16_d128", "balanced_h16_kv4_d64", "mixed_gqa") if x in names and x not in failed_builds]:
            check_strided(importlib.import_module(name), dev, kernels, families, rows, failures)

    # 3. Errors users see.
    mod = importlib.import_module(names[0])
    bad = [
        (lambda: mod.attention(torch.zeros(1, mod.HEADS, 8, mod.HEAD_DIM), torch.zeros(1, mod.KV_HEADS, 8, mod.HEAD_DIM), torch.zeros(1, mod.KV_HEADS, 8, mod.HEAD_DIM)), "CUDA device"),
        (lambda: mod.attention(*(torch.zeros(1, h, 8, mod.HEAD_DIM, device=dev) for h in (mod.HEADS, mod.KV_HEADS, mod.KV_HEADS))), "bfloat16 or float16"),
        (lambda: mod.attention(*(torch.zeros(1, h, 8, mod.HEAD_DIM + 1, device=dev, dtype=torch.bfloat16) for h in (mod.HEADS, mod.KV_HEADS, mod.KV_HEADS))), "must be"),
        (lambda: mod.attention(*(torch.zeros(1, h, mod.HEAD_DIM, 8, device=dev, dtype=torch.bfloat16).transpose(2, 3) for h in (mod.HEADS, mod.KV_HEADS, mod.KV_HEADS))), "contiguous"),
    ]
    for fn, want in bad:
        try:
            fn()
            failures.append(f"no error for {want}")
        except (TypeError, ValueError) as e:
            if want not in str(e):
                failures.append(f"unclear error: {e}")

    print(f"\n{'layout':34} {'N':>6} {'dtype':>9} {'B':>2} {'rel err':>9} {'lse|max':>9}  result")
    for r in rows:
        print(ROW.format(*r))
    print(f"\n{len(rows) - sum(1 for r in rows if r[6] != 'ok')} passed, {len(failures)} failed")
    if failures:
        print("failures:", failures[:20])
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
