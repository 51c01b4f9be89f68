"""The two call paths of a CUDA package's attention() agree, on the GPU machine:
the eager torch.autograd.Function (_op._Eager, plain calls) and the custom ops (_op._fwd_op with
register_autograd: torch.compile, export, fake tensors, dispatch modes).

    python3 test/cuda/check_paths.py DIR NAME[,NAME...] [--n 1000]

Per package, on fresh random bf16 inputs and upstream gradients:
- out, lse, dq, dk, dv bit-equal between the paths (deterministic=True: no dQ atomics), for a loss through out, through lse only,
  and through both;
- no_grad and inference_mode calls give the same out;
- double backward (create_graph=True, then a gradient of a gradient) raises instead of dropping
  the attention term;
- a FakeTensorMode call returns the right shapes without touching data (the custom op's fake);
- torch.compile(fullgraph=True) gives the same out as eager;
- a CUDA graph of a shape captured after enough other shapes that the package's schedule cache
  evicted its schedules while its launch plans were cached replays to the eager result.
Prints one line per check and "N passed, M failed"; exits 1 on any failure.
"""
import argparse
import importlib
import os
import sys

import torch

from check_cuda import graph_replay_equals_eager  # test/cuda/, the script's own folder


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("dir")
    ap.add_argument("names")
    ap.add_argument("--n", type=int, default=1000)
    args = ap.parse_args()
    sys.path.insert(0, os.path.abspath(args.dir))
    passed = failed = 0

    def check(label, ok, detail=""):
        nonlocal passed, failed
        passed += bool(ok)
        failed += not ok
        print(f"{'ok  ' if ok else 'FAIL'} {label}{': ' + detail if detail else ''}", flush=True)

    for name in args.names.split(","):
        mod = importlib.import_module(name)
        op = importlib.import_module(name + "._op")
        g = torch.Generator(device="cuda").manual_seed(7)
        B, n = 2, args.n
        q0 = torch.randn(B, mod.HEADS, n, mod.HEAD_DIM, device="cuda", dtype=torch.bfloat16, generator=g)
        k0, v0 = (torch.randn(B, mod.KV_HEADS, n, mod.HEAD_DIM, device="cuda", dtype=torch.bfloat16, generator=g) for _ in range(2))
        dout = torch.randn_like(q0)
        dlse = torch.randn(B, mod.HEADS, n, device="cuda", dtype=torch.float32, generator=g)
        scale, heads = mod.HEAD_DIM**-0.5, list(range(mod.HEADS))

        def run(path, loss):
            q, k, v = (x.clone().requires_grad_(True) for x in (q0, k0, v0))
            if path == "eager":
                out, lse = op._Eager.apply(q, k, v, scale, heads, True)
            else:
                out, lse = op._fwd_op(q, k, v, scale, heads, True)
            terms = {"out": [(out, dout)], "lse": [(lse, dlse)], "both": [(out, dout), (lse, dlse)]}[loss]
            grads = torch.autograd.grad([t for t, _ in terms], (q, k, v), [u for _, u in terms])
            return [out.detach(), lse.detach(), *grads]

        for loss in ("out", "lse", "both"):
            a, b = run("eager", loss), run("ops", loss)
            same = all(torch.equal(x, y) for x, y in zip(a, b))
            finite = all(torch.isfinite(x).all() for x in [a[0], *a[2:]])  # lse is -inf on rows with no key
            check(f"{name} loss through {loss}: eager and custom-op paths bit-equal", same and finite)
        with torch.no_grad():
            o1 = mod.attention(q0, k0, v0)
        with torch.inference_mode():
            o2 = mod.attention(q0, k0, v0)
        check(f"{name} no_grad and inference_mode", torch.equal(o1, o2) and torch.equal(o1, run("eager", "out")[0]))  # the forward has no atomics
        q, k, v = (x.clone().requires_grad_(True) for x in (q0, k0, v0))
        gq, = torch.autograd.grad(mod.attention(q, k, v), (q,), dout, create_graph=True)
        try:
            torch.autograd.grad(gq.float().square().sum(), (q,))
            check(f"{name} double backward raises", False, "no error: the attention term would be dropped")
        except RuntimeError as e:
            check(f"{name} double backward raises", True, str(e).splitlines()[0][:100])
        from torch._subclasses.fake_tensor import FakeTensorMode

        try:
            with FakeTensorMode() as fm:
                fq, fk, fv = (fm.from_tensor(x) for x in (q0, k0, v0))
                fo, fl = mod.attention(fq, fk, fv, return_lse=True)
            check(f"{name} FakeTensorMode", tuple(fo.shape) == tuple(q0.shape) and tuple(fl.shape) == tuple(q0.shape[:3]))
        except Exception as e:  # noqa: BLE001 - the check reports any failure
            check(f"{name} FakeTensorMode", False, f"{type(e).__name__}: {str(e).splitlines()[0][:100]}")
        compiled = torch.compile(lambda a, b, c: mod.attention(a, b, c), fullgraph=True)
        check(f"{name} torch.compile(fullgraph=True) equals eager", torch.equal(compiled(q0, k0, v0), o1))
        check(f"{name} CUDA graph capture after more shapes than the schedule cache holds", *capture_after_churn(mod, op, q0, k0, v0, dout))
    print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


def capture_after_churn(mod, op, q0, k0, v0, dout):
    """The regression a hostile review found in the launch plans (_op._launch_plan), reproduced:
    a shape run, then enough other lengths that the package's schedule cache (_op._cached) evicts
    the first shape's schedules while fewer launch plans than their cap exist (deterministic: three
    schedules and two plans a shape), then the first shape again on the same stream (plan hits,
    which do not refresh the schedule cache), then a CUDA graph of its forward + backward. The
    capture must find its schedules (the plans are dropped whenever a schedule is evicted, so the
    warm-up rebuilt them), and the replay must equal an eager call. Returns (ok, detail)."""
    n = q0.shape[2]
    others = op._MAX_SCHEDULES // 3 + 1  # 3 (others + 1) schedules: past the cap; 2 (others + 1) plans: under theirs
    assert 2 * (others + 1) + 8 < op._MAX_LAUNCH_PLANS, "the churn must not evict the plans by their own cap"

    def step(q, k, v, d):
        q, k, v = (x.detach().requires_grad_(True) for x in (q, k, v))
        out = mod.attention(q, k, v, deterministic=True)
        return (out, *torch.autograd.grad(out, (q, k, v), d))

    try:
        step(q0, k0, v0, dout)
        for m in range(16, 16 + others * 8, 8):
            step(q0[:, :, :m], k0[:, :, :m], v0[:, :, :m], dout[:, :, :m])
        fresh = [torch.randn_like(x) for x in (q0, k0, v0, dout)]
        same = graph_replay_equals_eager(step, (q0, k0, v0, dout), fresh, warmup=3, warm_stream=torch.cuda.current_stream())
        return same, "" if same else f"N = {n}: the replay differs from an eager call"
    except Exception as e:  # noqa: BLE001 - the check reports any failure
        return False, f"{type(e).__name__}: {str(e).splitlines()[0][:160]}"

if __name__ == "__main__":
    main()
