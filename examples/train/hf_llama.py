"""spc as a Hugging Face transformers attention implementation, checked on a small Llama. Issue 16.

    npx tsx examples/train/prepare.ts out/train            # here, with Node: the spc packages
    python3 examples/train/hf_llama.py --packages out/train --out $OUT/hf

Use in your own code (a model whose attention layers go through transformers' AttentionInterface,
as Llama's do; the layout's heads, KV heads and head dim must be the model's):

    sys.path.insert(0, "out/train"); import balanced_h16_kv4_d64 as layout
    from hf_llama import register                          # this file
    name = register(layout)                                 # "spc_balanced_h16_kv4_d64"
    model = AutoModelForCausalLM.from_config(config, attn_implementation=name)

What this script checks, for each of the paper, released and balanced layouts at 16 heads,
4 KV heads (grouped-query attention), head_dim 64, and for N = 1024 and N = 777 (not a multiple of
any tile), batch 2, on a randomly initialised 2-layer LlamaForCausalLM built from a LlamaConfig in
code (no download):

- three copies of one model (the same weights, rounded to bf16): `eager` in float32 (the
  reference), `eager` in bf16, and spc in bf16. The eager runs get a 4D additive mask built from the
  package's head table (bench_cuda.band_intervals; 0 where head h may attend, the dtype's minimum
  elsewhere), through transformers' own eager_attention_forward, wrapped only to zero the rows
  that have no allowed key (rows i < S_h of head h: spc gives them output 0; softmax over a row of
  minima would give the mean of v);
- forward (logits, cross-entropy loss against random labels) and backward (the gradient of
  every parameter); each compared as a relative L2 error against the float32 reference. spc
  passes when its error is at most 2 x the bf16 eager error + 0.002, for every tensor;
- that the model really called spc (a call counter: one call per layer and forward), that
  transformers handed it non-contiguous q/k/v (the function calls .contiguous()), and a control:
  the float32 eager model with the plain causal mask instead of the bands must be far from spc
  (else the comparison could not tell the masks apart);
- a few AdamW steps with spc on one fixed batch: the loss must go down.

Results (markdown and JSON) are written to --out; exit status 1 if any check fails. Every number
comes from the GPU run that wrote it.
"""
import argparse
import copy
import json
import math
import os
import sys
import time
import traceback

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _packages  # noqa: E402

NOTICE = "Results of one GPU run of this script (nothing here is measured on any other machine)."


def _is_plain_causal(mask, n):
    """True when a mask transformers built is exactly causal with no padding (bool: True = attend;
    float: 0 = attend), which the spc layout's bands already imply."""
    if mask.dim() != 4 or tuple(mask.shape[-2:]) != (n, n):
        return False
    allowed = mask if mask.dtype == torch.bool else (mask == 0)
    causal = torch.ones(n, n, dtype=torch.bool, device=mask.device).tril()
    return bool((allowed == causal).all())


def spc_attention(mod, calls=None):
    """A transformers attention function for the spc package mod. transformers calls it as
    fn(module, query, key, value, attention_mask, scaling=..., dropout=..., **kwargs) with query
    (B, H, N, D) and key, value (B, KV, N, D), often non-contiguous views; it returns
    (attn_output (B, N, H, D), None). The band pattern is the layout's: attention_mask must be None
    (transformers passes None to implementations it has no mask function for) or a plain causal
    mask; padding masks, dropout, non-causal attention and KV caches (query shorter than key) are
    refused with an error. calls, a dict, counts calls and whether q came non-contiguous."""

    def fn(module, query, key, value, attention_mask, scaling=None, dropout=0.0, **kwargs):
        name = f"spc {mod.LAYOUT}"
        if dropout:
            raise ValueError(f"{name}: attention dropout is not supported (got {dropout}); set config.attention_dropout = 0")
        if kwargs.get("is_causal") is False or getattr(module, "is_causal", True) is False:
            raise ValueError(f"{name}: the layout is causal; this module asked for non-causal attention")
        n = query.shape[2]
        if key.shape[2] != n:
            raise ValueError(f"{name}: query length {n} and key length {key.shape[2]} differ (a KV cache?): run full sequences with use_cache=False")
        if attention_mask is not None and not _is_plain_causal(attention_mask, n):
            raise ValueError(f"{name}: got an attention mask that is not plain causal (padding?); spc applies the layout's bands only: pass no attention_mask")
        if query.shape[1] != mod.HEADS or key.shape[1] != mod.KV_HEADS or query.shape[3] != mod.HEAD_DIM:
            raise ValueError(
                f"{name}: the model has {query.shape[1]} heads, {key.shape[1]} KV heads, head_dim {query.shape[3]};"
                f" the layout has {mod.HEADS}, {mod.KV_HEADS}, {mod.HEAD_DIM}"
            )
        if calls is not None:
            calls["n"] = calls.get("n", 0) + 1
            calls["noncontiguous"] = calls.get("noncontiguous", False) or not (query.is_contiguous() and key.is_contiguous() and value.is_contiguous())
        out = mod.attention(query.contiguous(), key.contiguous(), value.contiguous(), scale=scaling)
        return out.transpose(1, 2).contiguous(), None

    return fn


def register(mod, name=None, calls=None):
    """Register the spc package mod as transformers attention implementation name (default
    "spc_<layout>") and return the name, for attn_implementation=name."""
    from transformers import AttentionInterface

    name = name or f"spc_{mod.LAYOUT}"
    AttentionInterface.register(name, spc_attention(mod, calls))
    return name


def band_eager(calls):
    """transformers' eager attention (the Llama module's eager_attention_forward) under the 4D band
    mask it is given, with the rows that have no allowed key set to 0, as spc defines them."""
    from transformers.models.llama.modeling_llama import eager_attention_forward

    def fn(module, query, key, value, attention_mask, scaling=None, dropout=0.0, **kwargs):
        if attention_mask is None or attention_mask.dim() != 4:
            raise ValueError("band_eager: expected the 4D band mask (pass attention_mask=band mask to the model)")
        calls["n"] = calls.get("n", 0) + 1
        out, weights = eager_attention_forward(module, query, key, value, attention_mask, scaling=scaling, dropout=dropout, **kwargs)
        keep = (attention_mask > torch.finfo(attention_mask.dtype).min / 2).any(-1)  # (B, H, N): the row has an allowed key
        return out * keep.transpose(1, 2).unsqueeze(-1).to(out.dtype), weights

    return fn


def band_mask(mod, n, batch, dtype, device):
    """(batch, H, n, n) additive mask: 0 where the layout lets head h attend query i to key j, the
    dtype's minimum elsewhere (from the head table's distance intervals)."""
    intervals = _packages.bench_cuda().band_intervals(mod, n)
    i = torch.arange(n, device=device)[:, None]
    d = i - torch.arange(n, device=device)[None, :]
    allowed = torch.zeros(mod.HEADS, n, n, dtype=torch.bool, device=device)
    for h, merged in enumerate(intervals):
        for lo, hi in merged:
            allowed[h] |= (d >= lo) & (d < hi)
    mask = torch.zeros(mod.HEADS, n, n, dtype=dtype, device=device).masked_fill_(~allowed, torch.finfo(dtype).min)
    return mask[None].expand(batch, -1, -1, -1), allowed


def causal_mask(heads, n, batch, dtype, device):
    allowed = torch.ones(n, n, dtype=torch.bool, device=device).tril()
    mask = torch.zeros(n, n, dtype=dtype, device=device).masked_fill_(~allowed, torch.finfo(dtype).min)
    return mask[None, None].expand(batch, heads, -1, -1)


def rel(a, ref):
    a, ref = a.double(), ref.double()
    return ((a - ref).norm() / ref.norm().clamp_min(1e-30)).item()


def run_model(model, ids, labels, mask):
    model.zero_grad(set_to_none=True)
    out = model(input_ids=ids, attention_mask=mask, use_cache=False)
    logits = out.logits
    loss = F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), labels.reshape(-1))
    loss.backward()
    grads = {k: p.grad.detach().float().clone() for k, p in model.named_parameters() if p.grad is not None}
    return logits.detach().float(), loss.detach().float(), grads


def check_layout(mod, n, args, device):
    from transformers import AutoModelForCausalLM, LlamaConfig

    cfg = LlamaConfig(
        vocab_size=args.vocab, hidden_size=mod.HEADS * mod.HEAD_DIM, intermediate_size=2048, num_hidden_layers=args.layers,
        num_attention_heads=mod.HEADS, num_key_value_heads=mod.KV_HEADS, head_dim=mod.HEAD_DIM, max_position_embeddings=4096,
        attention_dropout=0.0, tie_word_embeddings=False,
    )
    spc_calls, eager_calls = {}, {}
    spc_name = register(mod, calls=spc_calls)
    from transformers import AttentionInterface

    AttentionInterface.register("band_eager", band_eager(eager_calls))

    def build(impl, dtype, state=None):
        # Each model gets its own config: from_config sets config._attn_implementation, which the
        # attention layers read at every forward.
        m = AutoModelForCausalLM.from_config(copy.deepcopy(cfg), attn_implementation=impl)
        if state is not None:
            m.load_state_dict(state)
        return m.to(device=device, dtype=dtype).train()

    torch.manual_seed(args.seed)
    base = AutoModelForCausalLM.from_config(copy.deepcopy(cfg), attn_implementation="eager")
    state = {k: v.to(torch.bfloat16).float() for k, v in base.state_dict().items()}  # the weights every copy holds
    del base
    ref = build("band_eager", torch.float32, state)
    eager16 = build("band_eager", torch.bfloat16, state)
    spc16 = build(spc_name, torch.bfloat16, state)

    gen = torch.Generator(device=device).manual_seed(args.seed + n)
    ids = torch.randint(args.vocab, (args.batch, n), device=device, generator=gen)
    labels = torch.randint(args.vocab, (args.batch, n), device=device, generator=gen)
    mask32, allowed = band_mask(mod, n, args.batch, torch.float32, device)
    mask16, _ = band_mask(mod, n, args.batch, torch.bfloat16, device)
    empty_rows = int((~allowed.any(-1)).sum().item())

    r_logits, r_loss, r_grads = run_model(ref, ids, labels, mask32)
    eager_calls.clear()
    e_logits, e_loss, e_grads = run_model(eager16, ids, labels, mask16)
    eager_call_count = eager_calls.get("n", 0)
    spc_calls.clear()
    s_logits, s_loss, s_grads = run_model(spc16, ids, labels, None)

    rows = []
    problems = []

    def compare(name, s, e, r):
        es, ee = rel(s, r), rel(e, r)
        bound = 2 * ee + 0.002
        ok = es <= bound and ee < 0.1
        rows.append(dict(tensor=name, spc=es, eager_bf16=ee, spc_vs_eager_bf16=rel(s, e), bound=bound, ok=ok))
        if not ok:
            problems.append(f"{name}: spc rel err {es:.3g}, bf16 eager {ee:.3g} (bound {bound:.3g})")

    compare("logits", s_logits, e_logits, r_logits)
    compare("loss", s_loss[None], e_loss[None], r_loss[None])
    if set(s_grads) != set(r_grads) or set(e_grads) != set(r_grads):
        problems.append(f"gradients of different parameters: spc {len(s_grads)}, eager {len(e_grads)}, reference {len(r_grads)}")
    for k in sorted(r_grads):
        if k in s_grads and k in e_grads:
            compare(f"grad {k}", s_grads[k], e_grads[k], r_grads[k])
    if spc_calls.get("n") != args.layers:
        problems.append(f"spc was called {spc_calls.get('n', 0)} times in one forward, expected {args.layers} (one per layer): the model did not dispatch to it")
    if eager_call_count != args.layers:
        problems.append(f"band_eager was called {eager_call_count} times in one forward, expected {args.layers}")
    # Control: the dense causal mask instead of the bands, float32 eager; spc must be far from it.
    ref.zero_grad(set_to_none=True)
    with torch.no_grad():
        ctrl_logits = ref(input_ids=ids, attention_mask=causal_mask(mod.HEADS, n, args.batch, torch.float32, device), use_cache=False).logits.float()
    control = rel(s_logits, ctrl_logits)
    logits_bound = rows[0]["bound"]
    if not control > 10 * logits_bound:
        problems.append(f"control: spc's logits are only {control:.3g} from dense causal attention's (band check bound {logits_bound:.3g}): the check cannot tell the masks apart")

    # A few training steps with spc on one batch: the loss must go down.
    opt = torch.optim.AdamW(spc16.parameters(), lr=1e-3)
    losses = []
    for _ in range(args.train_steps):
        opt.zero_grad(set_to_none=True)
        logits = spc16(input_ids=ids, use_cache=False).logits
        loss = F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), labels.reshape(-1))
        loss.backward()
        opt.step()
        losses.append(loss.item())
    if not (all(math.isfinite(x) for x in losses) and losses[-1] < losses[0]):
        problems.append(f"training with spc: loss {losses[0]:.4f} -> {losses[-1]:.4f} over {len(losses)} steps (must go down)")
    worst = max(rows, key=lambda r: r["spc"] / r["bound"])
    return dict(
        layout=mod.LAYOUT, N=n, batch=args.batch, empty_rows=empty_rows, spc_calls=spc_calls.get("n", 0),
        noncontiguous_inputs=bool(spc_calls.get("noncontiguous", False)), control_vs_causal=control, train_losses=losses,
        worst=worst, compared=rows, problems=problems, ok=not problems,
    )


def table(results, args, env):
    head = ["layout", "N", "empty rows (h, i)", "logits: spc / bf16 eager rel err", "worst tensor (spc / bound)", "vs causal (control)",
            "non-contiguous q/k/v", "train loss", "result"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in results:
        if "compared" not in r:
            lines.append(f"| {r['layout']} | {r['N']} | - | - | - | - | - | - | {r['error']} |")
            continue
        lg = r["compared"][0]
        w = r["worst"]
        tl = r["train_losses"]
        result = "ok" if r["ok"] else "FAIL: " + "; ".join(r["problems"])
        lines.append(
            f"| {r['layout']} | {r['N']} | {r['empty_rows']} | {lg['spc']:.2e} / {lg['eager_bf16']:.2e} | {w['tensor']}: {w['spc']:.2e} / {w['bound']:.2e} | "
            f"{r['control_vs_causal']:.2f} | {r['noncontiguous_inputs']} | {tl[0]:.3f} -> {tl[-1]:.3f} | {result} |"
        )
    return (
        f"# spc in Hugging Face transformers (examples/train/hf_llama.py)\n\n{NOTICE}\n\n{env}\n\n"
        f"LlamaForCausalLM from a LlamaConfig built in code: {args.layers} layers, hidden 1024, 16 heads, 4 KV heads, head_dim 64, vocab {args.vocab}, "
        f"random init (seed {args.seed}), batch {args.batch}. Relative L2 errors against float32 eager with the band mask; spc passes a tensor when "
        "its error <= 2 x bf16 eager's + 0.002 (every parameter's gradient, the logits and the loss). Control: spc's logits against float32 eager "
        f"with the dense causal mask (must be > 10 x the logits bound). Train loss: {args.train_steps} AdamW steps with spc on one batch.\n\n"
        + "\n".join(lines) + "\n"
    )


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--packages", default="out/train", help="folder of the spc packages (examples/train/prepare.ts)")
    ap.add_argument("--out", required=True)
    ap.add_argument("--lengths", default="1024,777")
    ap.add_argument("--patterns", default=",".join(_packages.PATTERNS))
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--vocab", type=int, default=512)
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--train-steps", type=int, default=10)
    args = ap.parse_args(argv)
    if not torch.cuda.is_available():
        raise SystemExit("error: this check needs a CUDA GPU (torch.cuda.is_available() is False)")
    import transformers

    device = torch.device("cuda")
    os.makedirs(args.out, exist_ok=True)
    env = (f"{torch.cuda.get_device_name(0)}, torch {torch.__version__}, transformers {transformers.__version__}, CUDA {torch.version.cuda}, "
           f"{time.strftime('%Y-%m-%d %H:%M:%S %Z')}")
    print(f"{NOTICE}\n{env}", file=sys.stderr, flush=True)
    names = [_packages.package_name(p, *_packages.LLAMA_SHAPE) for p in args.patterns.split(",")]
    _packages.build_all(args.packages, names)
    results = []
    for name in names:
        mod = _packages.load(args.packages, name)
        for n in [int(x) for x in args.lengths.split(",")]:
            print(f"{name} N={n}", file=sys.stderr, flush=True)
            try:
                r = check_layout(mod, n, args, device)
                print(f"    {'ok' if r['ok'] else 'FAIL'}: worst {r['worst']['tensor']} {r['worst']['spc']:.2e} (bound {r['worst']['bound']:.2e}); "
                      f"control {r['control_vs_causal']:.2f}; {'; '.join(r['problems'])}", file=sys.stderr, flush=True)
            except Exception as e:
                traceback.print_exc()
                r = dict(layout=name, N=n, ok=False, error=f"error: {type(e).__name__}: {(str(e).strip().splitlines() or [''])[0][:300]}")
            results.append(r)
            torch.cuda.empty_cache()
            with open(os.path.join(args.out, "hf_llama.json"), "w") as f:
                json.dump(dict(notice=NOTICE, env=env, args=vars(args), results=results), f, indent=1)
    text = table(results, args, env)
    with open(os.path.join(args.out, "hf_llama.md"), "w") as f:
        f.write(text)
    print(text)
    return 0 if all(r["ok"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
