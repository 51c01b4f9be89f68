"""The GPU check of run-time kernel configs (issue 17): a package compiled with a multi-N tuning
record picks, per length, the config the record chose (or the heuristic above its lengths), runs
that kernel (seen in the profiler by name), and its outputs equal the heuristic config's within
bf16 tolerance; a run-time cache record is taken when it names a config the package holds and is
ignored with a warning when not. Prepared by bench/cuda/prepare_runtime_config.ts; run by
bench/cuda/runtime-config-check.sh.

    python3 bench/cuda/runtime_config_check.py DIR   # DIR: what prepare_runtime_config.ts wrote
"""
import copy
import json
import os
import sys
import tempfile
import warnings

import torch

FAILS = []


def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what, flush=True)
    if not ok:
        FAILS.append(what)


def kernels_run(fn):
    """The names of the events fn makes, CUDA kernels among them (torch.profiler)."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        fn()
        torch.cuda.synchronize()
    return {e.name for e in prof.events()}  # the kernels' extern "C" names are unique (spc_<layout>_fwd_sm90v1_bf16)


def main():
    d = sys.argv[1]
    exp = json.load(open(os.path.join(d, "expect.json")))
    sys.path.insert(0, os.path.join(d, "pkg"))
    os.environ["SPC_TUNING_CACHE"] = ""  # the record alone first
    import rtcfg as mod

    name = torch.cuda.get_device_name()
    print(f"GPU {name}, torch {torch.__version__}, variants {mod._layout.SM90_IDS}", flush=True)
    if name != exp["device"]:
        print(f"FAIL the record was prepared for {exp['device']!r}, this GPU is {name!r}:"
              f" prepare again with --device {name!r}", flush=True)
        return 1
    H, D, B = mod.HEADS, mod.HEAD_DIM, 1
    torch.manual_seed(0)

    def inputs(n):
        q = torch.randn(B, H, n, D, device="cuda", dtype=torch.bfloat16)
        k = torch.randn(B, mod.KV_HEADS, n, D, device="cuda", dtype=torch.bfloat16)
        v = torch.randn(B, mod.KV_HEADS, n, D, device="cuda", dtype=torch.bfloat16)
        return q, k, v

    def kernel_of(variant):
        key = "sm90" if variant == 0 else f"sm90v{variant}"
        return mod._layout.KERNELS[key]["bf16"]["kernel"]

    for case in exp["cases"]:
        n = case["n"]
        c = mod.kernel_config(n)
        check(c["id"] == case["id"] and c["source"] == case["source"] and c["n"] == case["entry_n"],
              f"N = {n}: picks {c['id']} ({c['source']}, entry N = {c['n']}), expected {case['id']} ({case['source']}, {case['entry_n']})")
        q, k, v = inputs(n)
        names = kernels_run(lambda: mod.attention(q, k, v))
        check(kernel_of(c["variant"]) in names, f"N = {n}: ran {kernel_of(c['variant'])} (kernels: {sorted(x for x in names if x.startswith('spc_'))})")
        out, lse = mod.attention(q, k, v, return_lse=True)
        os.environ["SPC_CUDA_CONFIG"] = "heuristic"
        try:
            check(mod.kernel_config(n)["variant"] == 0, f"N = {n}: SPC_CUDA_CONFIG=heuristic picks variant 0")
            names0 = kernels_run(lambda: mod.attention(q, k, v))
            check(kernel_of(0) in names0, f"N = {n}: SPC_CUDA_CONFIG=heuristic ran {kernel_of(0)}")
            ref, ref_lse = mod.attention(q, k, v, return_lse=True)
        finally:
            del os.environ["SPC_CUDA_CONFIG"]
        torch.cuda.synchronize()
        err = ((out.float() - ref.float()).norm() / ref.float().norm().clamp_min(1e-30)).item()
        m = torch.isfinite(ref_lse)  # -inf: a row with no allowed key, in both
        same = bool((torch.isfinite(lse) == m).all().item())
        lse_err = (lse[m] - ref_lse[m]).abs().max().item() if same and m.any() else float("inf")
        check(bool(torch.isfinite(out).all().item()) and err < 1e-2 and same and lse_err < 1e-2,
              f"N = {n}: {c['id']} against the heuristic's output: relative norm error {err:.2e}, max lse difference {lse_err:.2e} (bf16 limit 1e-2)")

    # The run-time cache: a record in SPC_TUNING_CACHE for this GPU at a length above the compiled
    # record's, choosing a config the package holds, is taken; one naming a config it does not hold
    # is ignored with a one-line warning.
    rec = json.load(open(os.path.join(d, "record.json")))
    held = mod._layout.SM90_VARIANTS
    entry = copy.deepcopy(rec["entries"][0])
    big = 2 * max(c["n"] for c in exp["cases"])
    entry["n"] = big
    pick = next(i for i, cand in enumerate(entry["candidates"]) if cand["config"].get("sm90") == held[3])
    other = next(i for i, cand in enumerate(entry["candidates"]) if {**held[0], **cand["config"].get("sm90", {})} not in held)
    entry["choice"], entry["bands"] = pick, entry["candidates"][pick]["bounds"]
    stranger = copy.deepcopy(entry)
    stranger["n"], stranger["choice"] = 2 * big, other
    with tempfile.TemporaryDirectory() as cache:
        with open(os.path.join(cache, "mine.json"), "w") as f:
            json.dump({**rec, "entries": [entry, stranger]}, f)
        os.environ["SPC_TUNING_CACHE"] = cache
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            c = mod.kernel_config(big)
            c2 = mod.kernel_config(2 * big)
        check(c["source"] == "cache" and c["variant"] == 3, f"cache: N = {big} picks {c['id']} from {c['source']}")
        check(c2["source"] == "heuristic" and len(w) == 1 and "not compiled into this package" in str(w[0].message),
              f"cache: a config not compiled in is ignored with one warning ({[str(x.message) for x in w]})")
        q, k, v = inputs(big)
        names = kernels_run(lambda: mod.attention(q, k, v))
        check(kernel_of(3) in names, f"cache: N = {big} ran {kernel_of(3)}")
        os.environ["SPC_TUNING_CACHE"] = ""
    print(f"{len(FAILS)} failed" if FAILS else "all ok", flush=True)
    return 1 if FAILS else 0


if __name__ == "__main__":
    sys.exit(main())
