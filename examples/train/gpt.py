"""A small GPT in plain PyTorch with pluggable attention: training throughput, and learning curves
on synthetic long-range lookups (tasks.py). Issue 16.

    npx tsx examples/train/prepare.ts out/train                  # here, with Node: the spc packages
    python3 examples/train/gpt.py throughput --packages out/train --out $OUT/throughput
    python3 examples/train/gpt.py learn --packages out/train --out $OUT/learn

Every number these commands write comes from the GPU run that wrote it; nothing is measured here.

Model: L = 8 layers, d_model = 1024, H = 16 heads of D = 64, MLP 4x (GELU), pre-LayerNorm, rotary
positions, untied embeddings, AdamW (betas 0.9/0.95, weight decay 0.1 on matrices), bf16 autocast.
The model, its initialisation (one seed) and the data are the same for every attention variant:

  sdpa              dense causal SDPA, cuDNN backend only (sdpa_kernel(SDPBackend.CUDNN_ATTENTION))
  flex_causal       FlexAttention (torch.compile'd), causal BlockMask
  flex_<pattern>    FlexAttention with the BlockMask of the spc layout's bands (bench_cuda.flex_mask,
                    from the package's head table)
  spc_<pattern>     the spc package's attention() (forward and backward kernels)
  none              attention replaced by the identity on v (q and k are computed, then unused): the ceiling

<pattern> is paper (equal-width bands), released (bands plus a shared window d <= W) or balanced
(equal-pairs bands); the packages are <pattern>_h16_kv16_d64 from prepare.ts.

throughput: tokens per step fixed (32768; batch = 32768 / N), N in 4096, 8192, 32768; per variant and
N: warmup steps (untimed; they include torch.compile and the kernels' load), then timed steps with
CUDA events around each whole step (forward, loss, backward, optimizer). Reports tokens/s, step
time, peak memory (torch.cuda.max_memory_allocated over the timed steps) and the speed-up over
sdpa. For every N the variants that need no compiling (sdpa, none, spc_*) run first, then the Flex
ones (torch.compile per N: the slow part, skipped and marked first when --budget runs out). After
each flex_<pattern> row it checks spc_<pattern> against that Flex with the same mask on random
inputs (forward and the three gradients).

learn: each of dense (sdpa), spc_released, spc_balanced, spc_paper trained from the same
initialisation on the same batches of each task (copy, mqar), then evaluated on held-out batches:
loss and accuracy per step (JSON), curves (PNG, when matplotlib is installed), final accuracy and
accuracy by lookup distance. Defaults: the throughput model with L = 2, N = 256, batch 128, 2500
steps, 32 keys and values (the H200 run of bench/results/learn-2026-12-01.md; about 100 s a variant
and task there).

A variant that cannot run is reported with the reason in its row (no fallbacks).
"""
import argparse
import json
import math
import os
import platform
import sys
import time
import traceback

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _packages  # noqa: E402
import tasks  # noqa: E402

HEADS, KV_HEADS, HEAD_DIM = _packages.GPT_SHAPE
D_MODEL = HEADS * HEAD_DIM
THROUGHPUT_VARIANTS = ["sdpa", "none", "flex_causal"] + [f"flex_{p}" for p in _packages.PATTERNS] + [f"spc_{p}" for p in _packages.PATTERNS]
LEARN_VARIANTS = ["dense"] + [f"spc_{p}" for p in ("released", "balanced", "paper")]
NOTICE = "Results of one GPU run of this script (nothing here is measured on any other machine)."


def log(msg):
    print(msg, file=sys.stderr, flush=True)


# --- the model -------------------------------------------------------------------------------------


def rope_tables(n, head_dim, device, base=10000.0):
    inv = 1.0 / (base ** (torch.arange(0, head_dim, 2, device=device, dtype=torch.float32) / head_dim))
    ang = torch.outer(torch.arange(n, device=device, dtype=torch.float32), inv)
    ang = torch.cat([ang, ang], dim=-1)  # (n, head_dim)
    return ang.cos(), ang.sin()


def apply_rope(x, cos, sin):
    x1, x2 = x.chunk(2, dim=-1)
    return x * cos + torch.cat([-x2, x1], dim=-1) * sin


class Attention(nn.Module):
    def __init__(self, d_model, heads, head_dim):
        super().__init__()
        self.heads, self.head_dim = heads, head_dim
        self.qkv = nn.Linear(d_model, 3 * heads * head_dim, bias=False)
        self.proj = nn.Linear(heads * head_dim, d_model, bias=False)

    def forward(self, x, attn, cos, sin):
        B, N, _ = x.shape
        q, k, v = self.qkv(x).view(B, N, 3, self.heads, self.head_dim).permute(2, 0, 3, 1, 4).unbind(0)
        cos, sin = cos.to(q.dtype), sin.to(q.dtype)
        # (B, H, N, D), contiguous, for every variant alike (the layout the timings in bench/results were
        # taken with; the spc op also reads the strided (B, N, H, D) view in place, without a copy).
        q = apply_rope(q, cos, sin).contiguous()
        k = apply_rope(k, cos, sin).contiguous()
        v = v.contiguous()
        if q.dtype != torch.bfloat16:
            raise RuntimeError(f"attention inputs are {q.dtype}, expected bfloat16 (run the model under torch.autocast('cuda', torch.bfloat16))")
        y = attn(q, k, v)
        if tuple(y.shape) != (B, self.heads, N, self.head_dim):
            raise RuntimeError(f"the attention variant returned shape {tuple(y.shape)}, expected {(B, self.heads, N, self.head_dim)}")
        return self.proj(y.transpose(1, 2).reshape(B, N, self.heads * self.head_dim))


class Block(nn.Module):
    def __init__(self, d_model, heads, head_dim):
        super().__init__()
        self.ln1 = nn.LayerNorm(d_model)
        self.attn = Attention(d_model, heads, head_dim)
        self.ln2 = nn.LayerNorm(d_model)
        self.fc1 = nn.Linear(d_model, 4 * d_model, bias=False)
        self.fc2 = nn.Linear(4 * d_model, d_model, bias=False)

    def forward(self, x, attn, cos, sin):
        x = x + self.attn(self.ln1(x), attn, cos, sin)
        return x + self.fc2(F.gelu(self.fc1(self.ln2(x)), approximate="tanh"))


class GPT(nn.Module):
    """Decoder-only transformer; the attention function is an argument of forward, not a module, so
    every variant has the same parameters in the same order."""

    def __init__(self, vocab, layers, d_model=D_MODEL, heads=HEADS, head_dim=HEAD_DIM):
        super().__init__()
        self.head_dim = head_dim
        self.embed = nn.Embedding(vocab, d_model)
        self.blocks = nn.ModuleList(Block(d_model, heads, head_dim) for _ in range(layers))
        self.norm = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, vocab, bias=False)
        self._rope = {}
        for name, p in self.named_parameters():
            if p.dim() >= 2:
                std = 0.02 / math.sqrt(2 * layers) if name.endswith(("proj.weight", "fc2.weight")) else 0.02
                nn.init.normal_(p, mean=0.0, std=std)

    def hidden(self, idx, attn):
        """The final hidden states (B, N, d_model) of token ids idx (B, N)."""
        n = idx.shape[1]
        key = (n, idx.device)
        if key not in self._rope:
            self._rope[key] = rope_tables(n, self.head_dim, idx.device)
        cos, sin = self._rope[key]
        x = self.embed(idx)
        for blk in self.blocks:
            x = blk(x, attn, cos, sin)
        return self.norm(x)


def make_model(vocab, layers, seed, device):
    torch.manual_seed(seed)
    with torch.device(device):
        return GPT(vocab, layers)


def make_optimizer(model, lr, weight_decay=0.1):
    decay = [p for p in model.parameters() if p.dim() >= 2]
    other = [p for p in model.parameters() if p.dim() < 2]
    groups = [{"params": decay, "weight_decay": weight_decay}, {"params": other, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=lr, betas=(0.9, 0.95), fused=True)


# --- attention variants ----------------------------------------------------------------------------


def sdpa_cudnn(q, k, v):
    # Only the cuDNN backend: if it cannot run these inputs, SDPA raises instead of picking another.
    with sdpa_kernel(SDPBackend.CUDNN_ATTENTION):
        return F.scaled_dot_product_attention(q, k, v, is_causal=True)


def identity_v(q, k, v):
    return v


_FLEX = []


def compiled_flex():
    """flex_attention under torch.compile (one graph per shape; eager Flex materialises the scores)."""
    if not _FLEX:
        from torch.nn.attention.flex_attention import flex_attention

        # One graph per (N, mask_mod): raise dynamo's recompile limit (as bench_cuda.py does).
        torch._dynamo.config.cache_size_limit = 64
        torch._dynamo.config.accumulated_cache_size_limit = 512
        _FLEX.append(torch.compile(flex_attention, dynamic=False))
    return _FLEX[0]


def _causal_mask_mod(b, h, q_idx, kv_idx):
    return q_idx >= kv_idx


def causal_block_mask(n, device, block=128):
    """The causal BlockMask at length n, built from block indices (create_block_mask would evaluate an
    n x n mask): key blocks below the diagonal are full, the diagonal block is partial (mask_mod)."""
    from torch.nn.attention.flex_attention import BlockMask

    nb = -(-n // block)
    qb = torch.arange(nb, device=device)
    full = qb[None, :] < qb[:, None]  # [query block, key block]
    part = qb[None, :] == qb[:, None]

    def indices(sel):
        sel = sel[None, None]  # (1, 1, nb, nb): one batch and one head, broadcast
        count = sel.sum(-1).to(torch.int32)
        order = (~sel).to(torch.int64) * nb + torch.arange(nb, device=device)  # selected blocks first, ascending
        return count, torch.argsort(order, dim=-1).to(torch.int32)

    kv_num, kv_idx = indices(part)
    full_num, full_idx = indices(full)
    return BlockMask.from_kv_blocks(kv_num, kv_idx, full_num, full_idx, BLOCK_SIZE=block, mask_mod=_causal_mask_mod, seq_lengths=(n, n))


def pattern_package(packages, pattern):
    if pattern not in _packages.PATTERNS:
        raise ValueError(f"unknown pattern {pattern!r}; patterns: {', '.join(_packages.PATTERNS)}")
    return _packages.load(packages, _packages.package_name(pattern, *_packages.GPT_SHAPE))


def attention_for(variant, n, packages, device):
    """The attention function (q, k, v) -> out of a variant at length n; each (B, H, N, D)."""
    if variant in ("sdpa", "dense"):
        return sdpa_cudnn
    if variant == "none":
        return identity_v
    if variant == "flex_causal":
        flex, bm = compiled_flex(), causal_block_mask(n, device)
        return lambda q, k, v: flex(q, k, v, block_mask=bm)
    kind, _, pattern = variant.partition("_")
    mod = pattern_package(packages, pattern)
    if kind == "flex":
        # bench_cuda's mask_mod reads the bands from one table per H, which flex_mask fills: the
        # latest flex_mask call sets the mask every flex_<pattern> variant uses, so build it here,
        # right before this variant runs, and run one Flex variant at a time.
        flex, bm = compiled_flex(), _packages.bench_cuda().flex_mask(mod, n, device)
        return lambda q, k, v: flex(q, k, v, block_mask=bm)
    if kind == "spc":
        return lambda q, k, v: mod.attention(q, k, v)
    raise ValueError(f"unknown attention variant {variant!r}")


def check_against_flex(pattern, n, batch, packages, device):
    """max |spc - flex| / max |flex| over the output and dq, dk, dv, for random inputs of the training
    shape (B, 16, n, 64), bf16, the same mask (bench_cuda.flex_mask) and the same upstream gradient."""
    mod = pattern_package(packages, pattern)
    flex_fn = attention_for(f"flex_{pattern}", n, packages, device)
    gen = torch.Generator(device=device).manual_seed(1234)
    shape = (batch, HEADS, n, HEAD_DIM)
    q, k, v = [torch.randn(shape, device=device, dtype=torch.bfloat16, generator=gen).requires_grad_() for _ in range(3)]
    dout = torch.randn(shape, device=device, dtype=torch.bfloat16, generator=gen)
    with torch.autocast("cuda", dtype=torch.bfloat16):
        fo = flex_fn(q, k, v)
        so = mod.attention(q, k, v)
    worst = 0.0
    pairs = [(fo, so)] + list(zip(torch.autograd.grad(fo, (q, k, v), dout), torch.autograd.grad(so, (q, k, v), dout)))
    for a, b in pairs:
        worst = max(worst, ((a.float() - b.float()).abs().max() / a.float().abs().max().clamp_min(1e-6)).item())
    return worst


# --- environment, output ---------------------------------------------------------------------------


def environment():
    try:
        import triton

        triton_version = triton.__version__
    except ImportError:
        triton_version = "not installed"
    p = torch.cuda.get_device_properties(0)
    return dict(
        date=time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        device=torch.cuda.get_device_name(0),
        sms=p.multi_processor_count,
        torch=torch.__version__,
        cuda=torch.version.cuda,
        cudnn=torch.backends.cudnn.version(),
        triton=triton_version,
        python=platform.python_version(),
        spc_kernels=f"forward {os.environ.get('SPC_CUDA_KERNEL') or 'default'}, backward {os.environ.get('SPC_CUDA_BWD') or 'default (sm90 wgmma on sm_90, else sm80 mma.sync)'}",
    )


def env_line(env):
    return f"{env['device']} ({env['sms']} SMs), torch {env['torch']}, CUDA {env['cuda']}, cuDNN {env['cudnn']}, triton {env['triton']}, Python {env['python']}, spc kernels: {env['spc_kernels']}, {env['date']}"


def write_json(path, obj):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(obj, f, indent=1)
    os.replace(tmp, path)


def write_text(path, text):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def require_cuda():
    if not torch.cuda.is_available():
        raise SystemExit("error: these runs need a CUDA GPU (torch.cuda.is_available() is False)")


def cuda_context_lost(exc):
    """Errors after which the CUDA context is unusable (every later kernel launch fails too)."""
    s = str(exc)
    return any(m in s for m in ("illegal memory access", "unspecified launch failure", "device-side assert", "misaligned address", "illegal instruction"))


def short(exc):
    first = (str(exc).strip().splitlines() or [""])[0]
    return f"{type(exc).__name__}: {first[:200]}"


def free_cuda():
    import gc

    gc.collect()
    torch.cuda.empty_cache()


# --- throughput ------------------------------------------------------------------------------------


def time_variant(variant, n, args, device):
    """One variant at one length: warmup, then timed steps. Returns the row's measurements."""
    batch = args.tokens // n
    model = make_model(args.vocab, args.layers, args.seed, device)
    opt = make_optimizer(model, args.lr)
    gen = torch.Generator(device=device).manual_seed(args.seed * 1000 + n)
    data = torch.randint(args.vocab, (batch, n + 1), device=device, generator=gen)
    x, y = data[:, :-1].contiguous(), data[:, 1:].reshape(-1)
    attn = attention_for(variant, n, args.packages, device)

    def step():
        opt.zero_grad(set_to_none=True)
        with torch.autocast("cuda", dtype=torch.bfloat16):
            logits = model.head(model.hidden(x, attn))
            loss = F.cross_entropy(logits.view(-1, args.vocab), y)
        loss.backward()
        opt.step()
        return loss.detach()

    t0 = time.time()
    for _ in range(args.warmup):
        step()
    torch.cuda.synchronize()
    warmup_s = time.time() - t0
    torch.cuda.reset_peak_memory_stats()
    events = [(torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)) for _ in range(args.steps)]
    losses = []
    for start, end in events:
        start.record()
        losses.append(step())
        end.record()
    torch.cuda.synchronize()
    ms = sorted(s.elapsed_time(e) for s, e in events)
    mean_ms = sum(ms) / len(ms)
    final_loss = losses[-1].item()
    row = dict(
        N=n, B=batch, variant=variant, step_ms_mean=mean_ms, step_ms_median=ms[len(ms) // 2], step_ms_min=ms[0],
        tokens_per_s=batch * n / (mean_ms / 1000), peak_gib=torch.cuda.max_memory_allocated() / 2**30,
        warmup_s=warmup_s, loss=final_loss, status="ok" if math.isfinite(final_loss) else "loss not finite",
    )
    return row


def throughput_table(rows, args, env):
    base = {r["N"]: r["step_ms_mean"] for r in rows if r["variant"] == "sdpa" and r["status"] == "ok"}
    head = ["N", "B", "variant", "step ms (mean)", "step ms (median)", "tokens/s", "vs sdpa", "peak GiB", "warmup s", "loss", "spc vs this Flex", "status"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in sorted(rows, key=lambda r: (r["N"], THROUGHPUT_VARIANTS.index(r["variant"]))):
        if "step_ms_mean" in r:
            ratio = f"{base[r['N']] / r['step_ms_mean']:.2f}x" if r["N"] in base else "n/a (no sdpa row)"
            vals = [r["N"], r["B"], r["variant"], f"{r['step_ms_mean']:.1f}", f"{r['step_ms_median']:.1f}", f"{r['tokens_per_s']:,.0f}", ratio,
                    f"{r['peak_gib']:.1f}", f"{r['warmup_s']:.0f}", f"{r['loss']:.3f}"]
        else:
            vals = [r["N"], r["B"], r["variant"]] + ["-"] * 7
        check = r.get("check_vs_flex")
        vals += [f"{check:.3g}" if isinstance(check, float) else (check or ""), r["status"]]
        lines.append("| " + " | ".join(str(v) for v in vals) + " |")
    cfg = (f"Model: L = {args.layers}, d_model = {D_MODEL}, H = {HEADS}, D = {HEAD_DIM}, MLP 4x, vocab {args.vocab}, AdamW, bf16 autocast, "
           f"{args.tokens} tokens per step (B = {args.tokens} / N); {args.warmup} warmup + {args.steps} timed steps per row (CUDA events around "
           "each whole step). vs sdpa: sdpa's mean step time over this row's. warmup s includes torch.compile (Flex) and loading the spc kernels. "
           "spc vs this Flex (flex_<pattern> rows): max |spc - flex| / max |flex| over out, dq, dk, dv of spc_<pattern> and this Flex "
           "(random bf16 inputs of the row's shape, the same mask); above 0.05 marks the row.")
    return f"# Training throughput (examples/train/gpt.py throughput)\n\n{NOTICE}\n\n{env_line(env)}\n\n{cfg}\n\n" + "\n".join(lines) + "\n"


def throughput(args):
    require_cuda()
    device = torch.device("cuda")
    os.makedirs(args.out, exist_ok=True)
    lengths = [int(x) for x in args.lengths.split(",")]
    variants = args.variants.split(",")
    for v in variants:
        if v not in THROUGHPUT_VARIANTS:
            raise SystemExit(f"error: unknown variant {v!r}; variants: {', '.join(THROUGHPUT_VARIANTS)}")
    for n in lengths:
        if args.tokens % n:
            raise SystemExit(f"error: --tokens {args.tokens} is not a multiple of N = {n}")
    env = environment()
    log(f"{NOTICE}\n{env_line(env)}")
    spc = [v for v in variants if v.startswith("spc_")]
    t_start = time.time()
    builds = {}
    if spc:
        builds = _packages.build_all(args.packages, [_packages.package_name(v[4:], *_packages.GPT_SHAPE) for v in spc], log)
    # For every N the variants without torch.compile (sdpa, none, spc_*) first, then the Flex ones for
    # every N (each N and mask_mod is a compile, the slow part): when --budget runs out, it is Flex
    # rows that are skipped. A Flex row of a pattern whose spc row ran is followed by the check of
    # spc against that Flex (both are built and compiled by then).
    flex = [v for v in variants if v.startswith("flex_")]
    plan = [(n, v) for n in lengths for v in variants if v not in flex] + [(n, v) for n in lengths for v in flex]
    rows, lost = [], None
    for i, (n, v) in enumerate(plan):
        row = dict(N=n, B=args.tokens // n, variant=v)
        if lost:
            row["status"] = f"not run: the CUDA context was lost ({lost})"
        elif time.time() - t_start > args.budget:
            row["status"] = f"skipped: past the --budget of {args.budget:.0f} s"
        else:
            log(f"[{i + 1}/{len(plan)}] N={n} B={args.tokens // n} {v} ({time.time() - t_start:.0f} s so far)")
            try:
                row.update(time_variant(v, n, args, device))
                log(f"    {row['step_ms_mean']:.1f} ms/step, {row['tokens_per_s']:,.0f} tokens/s, peak {row['peak_gib']:.1f} GiB, "
                    f"warmup {row['warmup_s']:.0f} s, loss {row['loss']:.3f}: {row['status']}")
                pattern = v[len("flex_"):]
                spc_ok = any(r["N"] == n and r["variant"] == f"spc_{pattern}" and r["status"] == "ok" for r in rows)
                if v.startswith("flex_") and v != "flex_causal" and spc_ok and not args.no_check:
                    free_cuda()
                    row["check_vs_flex"] = check_against_flex(pattern, n, args.tokens // n, args.packages, device)
                    log(f"    spc_{pattern} vs this Flex (out, dq, dk, dv): max rel diff {row['check_vs_flex']:.3g}")
                    if not row["check_vs_flex"] < 0.05:  # bf16 rounding is ~1e-2 of the largest element; another mask is far above
                        row["status"] = f"spc_{pattern} and Flex disagree (see 'spc vs Flex')"
            except Exception as e:  # reported in the row, with the traceback on stderr
                traceback.print_exc()
                row["status"] = f"error: {short(e)}"
                if cuda_context_lost(e):
                    lost = f"{v} at N={n}: {short(e)}"
                log(f"    FAILED: {row['status']}")
            free_cuda()
        rows.append(row)
        write_json(os.path.join(args.out, "throughput.json"), dict(notice=NOTICE, env=env, args=vars(args), builds_s=builds, rows=rows))
        write_text(os.path.join(args.out, "throughput.md"), throughput_table(rows, args, env))
    print(throughput_table(rows, args, env))
    failed = [r for r in rows if r["status"] != "ok"]
    if failed:
        log(f"{len(failed)} of {len(rows)} rows did not run cleanly (their status says why)")
    return 1 if failed else 0


# --- learning --------------------------------------------------------------------------------------


def to_device(batch, device):
    tokens, rows, positions, targets, distances = batch

    def t(xs):
        return torch.tensor(xs, dtype=torch.long, device=device)

    return dict(tokens=t(tokens), rows=t(rows), positions=t(positions), targets=t(targets), distances=list(distances))


def lr_at(step, args):
    if step < args.warmup_steps:
        return args.lr * (step + 1) / args.warmup_steps
    progress = (step - args.warmup_steps) / max(1, args.train_steps - args.warmup_steps)
    return args.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))


def answer_logits(model, batch, attn):
    h = model.hidden(batch["tokens"], attn)
    return model.head(h[batch["rows"], batch["positions"]])


def train_variant(task, variant, train, held_out, args, device):
    model = make_model(tasks.VOCAB, args.layers, args.seed, device)
    opt = make_optimizer(model, args.lr)
    attn = attention_for(variant, args.seq, args.packages, device)
    losses, accs = [], []
    t0 = time.time()
    model.train()
    for step, batch in enumerate(train):
        for g in opt.param_groups:
            g["lr"] = lr_at(step, args)
        opt.zero_grad(set_to_none=True)
        with torch.autocast("cuda", dtype=torch.bfloat16):
            logits = answer_logits(model, batch, attn)
            loss = F.cross_entropy(logits.float(), batch["targets"])
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        losses.append(loss.detach())
        accs.append((logits.argmax(-1) == batch["targets"]).float().mean())
        if (step + 1) % args.log_every == 0:
            log(f"    step {step + 1}/{len(train)}: loss {losses[-1].item():.3f}, acc {accs[-1].item():.3f} ({time.time() - t0:.0f} s)")
    torch.cuda.synchronize()
    train_s = time.time() - t0
    model.eval()
    correct, distances = [], []
    with torch.no_grad(), torch.autocast("cuda", dtype=torch.bfloat16):
        for batch in held_out:
            correct += (answer_logits(model, batch, attn).argmax(-1) == batch["targets"]).tolist()
            distances += batch["distances"]
    losses = torch.stack(losses).tolist()
    accs = torch.stack(accs).tolist()
    tail = max(1, min(20, len(losses)))
    out = dict(
        task=task, variant=variant, loss=losses, acc=accs, train_s=train_s,
        final_loss=sum(losses[-tail:]) / tail, final_train_acc=sum(accs[-tail:]) / tail,
        eval_acc=sum(correct) / len(correct), eval_answers=len(correct), buckets=tasks.bucketed(distances, correct, args.seq),
        status="ok" if all(math.isfinite(x) for x in losses) else "loss not finite",
    )
    return out


def band_note(variant, args):
    """Head 0's allowed distances for a variant at the learning length (from the package's head table)."""
    if variant == "dense":
        return "every head: all d"
    b = _packages.partition_bounds(pattern_package(args.packages, variant[4:]), args.seq)
    extra = ", plus d <= W_h on every head h" if variant.endswith("released") else ""
    return f"head 0: d in [0, {b[1]}), head 1: [{b[1]}, {b[2]}), ..., head {HEADS - 1}: [{b[HEADS - 1]}, {b[HEADS]}){extra}"


def learn_tables(results, args, env, plot_note):
    out = [f"# Learning on synthetic long-range lookups (examples/train/gpt.py learn)\n\n{NOTICE}\n\n{env_line(env)}\n"]
    out.append(
        f"Model: L = {args.layers}, d_model = {D_MODEL}, H = {HEADS}, D = {HEAD_DIM}, MLP 4x, vocab {tasks.VOCAB} ({args.alphabet} keys and {args.alphabet} values in use); N = {args.seq}, batch {args.batch}, "
        f"{args.train_steps} steps (lr {args.lr}, {args.warmup_steps} warmup, cosine to 10%), AdamW, bf16 autocast, seed {args.seed}; "
        f"{args.per_sequence} lookups per sequence; the same initialisation and batches for every variant. Evaluated on {args.eval_batches} "
        f"held-out batches. {args.scale_note}\n"
    )
    out.append("Accuracy by lookup distance d (the distance from the query to the key's first occurrence; the value sits at d - 1). " + plot_note + "\n")
    for task in args.tasks.split(","):
        rs = [r for r in results if r["task"] == task]
        if not rs:
            continue
        edges = tasks.bucket_edges(args.seq)
        head = ["variant", "status", "final loss", "final train acc", "eval acc"] + [f"d in [{a}, {b})" for a, b in zip(edges, edges[1:])] + ["bands"]
        lines = [f"## {task}\n", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for r in rs:
            if "eval_acc" in r:
                cells = [f"{x['accuracy']:.3f} ({x['count']})" if x["accuracy"] is not None else "- (0)" for x in r["buckets"]]
                vals = [r["variant"], r["status"], f"{r['final_loss']:.3f}", f"{r['final_train_acc']:.3f}", f"{r['eval_acc']:.3f}"] + cells
            else:
                vals = [r["variant"], r["status"]] + ["-"] * (3 + len(edges) - 1)
            vals.append(r.get("bands", ""))
            lines.append("| " + " | ".join(str(v) for v in vals) + " |")
        dense = [r for r in rs if r["variant"] == "dense" and "eval_acc" in r]
        if dense and dense[0]["eval_acc"] < 0.5:
            lines.append(
                f"\nDense attention reached only {dense[0]['eval_acc']:.3f} held-out accuracy on {task} in {args.train_steps} steps (chance"
                f" {1 / args.alphabet:.3f}): it has not learned the task in this budget, so this table does not compare the band patterns"
                f" with a dense model that solves it; it shows how far each pattern gets in the same steps from the same start."
            )
        out.append("\n".join(lines) + "\n")
    return "\n".join(out)


def plot(results, args):
    """learn-<task>.png per task (loss and accuracy against steps, moving average of 10 steps), or a
    sentence saying why there is none."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as e:
        return f"No plots: matplotlib could not be imported ({e}); the curves are in learn.json."
    made = []
    for task in args.tasks.split(","):
        rs = [r for r in results if r["task"] == task and "loss" in r]
        if not rs:
            continue
        fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.5))
        for r in rs:
            for ax, key in ((ax1, "loss"), (ax2, "acc")):
                ys = r[key]
                w = min(10, len(ys))
                smooth = [sum(ys[max(0, i - w + 1):i + 1]) / len(ys[max(0, i - w + 1):i + 1]) for i in range(len(ys))]
                ax.plot(range(1, len(ys) + 1), smooth, label=r["variant"])
        ax1.axhline(math.log(args.alphabet), color="gray", linestyle="--", linewidth=1, label=f"chance (1 of {args.alphabet} values)")
        ax2.axhline(1 / args.alphabet, color="gray", linestyle="--", linewidth=1, label="chance")
        ax1.set_title(f"{task}: training loss (answers only)")
        ax2.set_title(f"{task}: training accuracy (answers only)")
        for ax in (ax1, ax2):
            ax.set_xlabel("step")
            ax.grid(alpha=0.3)
            ax.legend()
        ax2.set_ylim(0, 1)
        fig.suptitle(f"N = {args.seq}, L = {args.layers}, moving average of 10 steps; one GPU run")
        fig.tight_layout()
        path = os.path.join(args.out, f"learn-{task}.png")
        fig.savefig(path, dpi=120)
        plt.close(fig)
        made.append(os.path.basename(path))
    return f"Curves: {', '.join(made)}." if made else "No plots: no run finished."


def learn(args):
    # The task sizes first (before CUDA): one batch of each task at these arguments must exist.
    for task in args.tasks.split(","):
        try:
            tasks.make_batch(task, 0, 1, args.seq, args.per_sequence, args.alphabet)
        except ValueError as e:
            raise SystemExit(f"error: {e} (--tasks, --seq, --per-sequence and --alphabet)")
    require_cuda()
    device = torch.device("cuda")
    os.makedirs(args.out, exist_ok=True)
    variants = args.variants.split(",")
    for v in variants:
        if v not in LEARN_VARIANTS:
            raise SystemExit(f"error: unknown variant {v!r}; variants: {', '.join(LEARN_VARIANTS)}")
    for t in args.tasks.split(","):
        if t not in tasks.TASKS:
            raise SystemExit(f"error: unknown task {t!r}; tasks: {', '.join(tasks.TASKS)}")
    args.scale_note = (
        f"Scaled to the device budget: N = {args.seq} (the throughput runs use 4096..32768), batch {args.batch}, {args.train_steps} steps; "
        f"the model is the throughput model's with L = {args.layers}."
    )
    env = environment()
    log(f"{NOTICE}\n{env_line(env)}\n{args.scale_note}")
    t_start = time.time()
    spc = [v for v in variants if v.startswith("spc_")]
    if spc:
        _packages.build_all(args.packages, [_packages.package_name(v[4:], *_packages.GPT_SHAPE) for v in spc], log)
    results, lost = [], None
    for task in args.tasks.split(","):
        t0 = time.time()
        train = [to_device(tasks.make_batch(task, args.seed * 100000 + s, args.batch, args.seq, args.per_sequence, args.alphabet), device) for s in range(args.train_steps)]
        held_out = [to_device(tasks.make_batch(task, -1 - s, args.batch, args.seq, args.per_sequence, args.alphabet), device) for s in range(args.eval_batches)]
        log(f"{task}: generated {len(train)} training and {len(held_out)} held-out batches in {time.time() - t0:.0f} s")
        for v in variants:
            r = dict(task=task, variant=v)
            try:
                r["bands"] = band_note(v, args)
            except Exception as e:
                r["bands"] = f"unknown ({short(e)})"
            if lost:
                r["status"] = f"not run: the CUDA context was lost ({lost})"
            elif time.time() - t_start > args.budget:
                r["status"] = f"skipped: past the --budget of {args.budget:.0f} s"
            else:
                log(f"{task} / {v} ({time.time() - t_start:.0f} s so far)")
                try:
                    r.update(train_variant(task, v, train, held_out, args, device))
                    log(f"    {task} / {v}: final loss {r['final_loss']:.3f}, train acc {r['final_train_acc']:.3f}, eval acc {r['eval_acc']:.3f} "
                        f"({r['train_s']:.0f} s): {r['status']}")
                except Exception as e:
                    traceback.print_exc()
                    r["status"] = f"error: {short(e)}"
                    if cuda_context_lost(e):
                        lost = f"{v} on {task}: {short(e)}"
                    log(f"    FAILED: {r['status']}")
                free_cuda()
            results.append(r)
            write_json(os.path.join(args.out, "learn.json"), dict(notice=NOTICE, env=env, args=vars(args), results=results))
        del train, held_out
        free_cuda()
    plot_note = plot(results, args)
    text = learn_tables(results, args, env, plot_note)
    write_text(os.path.join(args.out, "learn.md"), text)
    print(text)
    log(plot_note)
    failed = [r for r in results if r["status"] != "ok"]
    return 1 if failed else 0


# --- command line ----------------------------------------------------------------------------------


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="mode", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--packages", default="out/train", help="folder of the spc packages (examples/train/prepare.ts)")
    common.add_argument("--out", required=True, help="folder for the results (markdown, JSON, PNG)")
    common.add_argument("--seed", type=int, default=0)
    common.add_argument("--budget", type=float, default=540, help="seconds; later rows are skipped (and marked) once exceeded")

    tp = sub.add_parser("throughput", parents=[common], help="tokens/s of training steps per attention variant and N")
    tp.add_argument("--lengths", default="4096,8192,32768")
    tp.add_argument("--variants", default=",".join(THROUGHPUT_VARIANTS))
    tp.add_argument("--tokens", type=int, default=32768, help="tokens per step (batch = tokens / N)")
    tp.add_argument("--layers", type=int, default=8)
    tp.add_argument("--vocab", type=int, default=32768)
    tp.add_argument("--warmup", type=int, default=3)
    tp.add_argument("--steps", type=int, default=10, help="timed steps")
    tp.add_argument("--lr", type=float, default=3e-4)
    tp.add_argument("--no-check", action="store_true", help="skip the spc-vs-Flex check before each spc row")

    lp = sub.add_parser("learn", parents=[common], help="learning curves on tasks.py's copy and mqar")
    lp.add_argument("--tasks", default=",".join(tasks.TASKS))
    lp.add_argument("--variants", default=",".join(LEARN_VARIANTS))
    # The defaults are the recipe of the H200 run in bench/results/learn-2026-12-01.md (the band
    # patterns learn there; dense attention stays on a plateau).
    lp.add_argument("--seq", type=int, default=256)
    lp.add_argument("--batch", type=int, default=128)
    lp.add_argument("--layers", type=int, default=2)
    lp.add_argument("--train-steps", type=int, default=2500)
    lp.add_argument("--warmup-steps", type=int, default=40)
    lp.add_argument("--eval-batches", type=int, default=8)
    lp.add_argument("--per-sequence", type=int, default=16, help="lookups (copy) or key-value pairs (mqar) per sequence")
    lp.add_argument("--alphabet", type=int, default=32, help=f"keys and values the tasks use (1..{tasks.KEYS}; fewer: an easier task)")
    lp.add_argument("--lr", type=float, default=3e-4)
    lp.add_argument("--log-every", type=int, default=50)
    args = ap.parse_args(argv)
    return throughput(args) if args.mode == "throughput" else learn(args)


if __name__ == "__main__":
    sys.exit(main())
