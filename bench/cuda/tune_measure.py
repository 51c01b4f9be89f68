"""The measuring half of `spc tune` (the GPU machine has PyTorch but no Node).

    npx spc tune FILE --target cuda --seq N --plan-only --emit DIR         # here, with Node
    python3 bench/cuda/tune_measure.py DIR --out measured.json [--max K] [--per-head]   # on the GPU machine
    npx spc tune FILE --target cuda --seq N --measured measured.json --plan DIR/tune_plan.json --record RECORD

DIR holds one package per candidate the cost model kept (tune_candidates.json lists them: the
plan's choice first, then by predicted time). Each candidate is built and timed in a process of
its own, so one that fails to build, crashes or hangs (past --timeout) counts as failed, with its
reason, and never stops the others. The timing: fresh random bf16 inputs, the forward, the median
of CUDA-event times over --reps calls after a warm-up, each behind a sleep kernel so that the
events bracket the GPU work alone (not the call's host path). Builds run --jobs at a time first.
--per-head also times each head alone (heads=[h]; first checked equal to the full call's head on
its own slice of q, k, v, then timed at batch B * H so that one head fills the GPU), for the
measured balance that spc tune --measured reports.
--rounds R times every candidate R times (rounds over all candidates, a fresh process each time)
and records the median and each round (round_ms).
Progress goes to stderr; the measurements (the format spc tune --measured reads) to --out.
"""
import argparse
import json
import os
import subprocess
import sys
import time

FORMAT = "spc-tuning-measurements"

# Run in a child process: build (or load) the candidate's extension, time its forward, print one JSON line.
CHILD = r"""
import json, sys, torch
sys.path.insert(0, sys.argv[1])
c = json.loads(sys.argv[2])
reps = int(sys.argv[3])
mod = __import__(c["package"])
mod._extension(*torch.cuda.get_device_capability())
if sys.argv[4] == "build":
    print(json.dumps({"built": True}))
    sys.exit(0)
n, B = c["n"], max(1, 16384 // c["n"])
g = torch.Generator(device="cuda").manual_seed(1234)
q = torch.randn(B, c["heads"], n, c["head_dim"], device="cuda", dtype=torch.bfloat16, generator=g)
k = torch.randn(B, c["kv_heads"], n, c["head_dim"], device="cuda", dtype=torch.bfloat16, generator=g)
v = torch.randn(B, c["kv_heads"], n, c["head_dim"], device="cuda", dtype=torch.bfloat16, generator=g)
out = mod.attention(q, k, v)
torch.cuda.synchronize()
if not torch.isfinite(out).all():
    print(json.dumps({"failed": "non-finite output"}))
    sys.exit(0)
for _ in range(5):
    mod.attention(q, k, v)
# The GPU time of one call: a sleep kernel (about 2.5 ms) is queued first, so that the host path
# of the call (about 0.1-0.2 ms of Python and launches) is done before the GPU reaches event a and
# the events bracket the kernels alone. Without it a call of 0.2 ms measured its host time too.
SLEEP = 5_000_000  # cycles of torch.cuda._sleep


def gpu_ms(fn):
    a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    torch.cuda._sleep(SLEEP)
    a.record()
    fn()
    b.record()
    b.synchronize()
    return a.elapsed_time(b)


times = sorted(gpu_ms(lambda: mod.attention(q, k, v)) for _ in range(reps))
res = {"ms": times[len(times) // 2], "batch": B}
if sys.argv[5] == "per-head":
    # Each head alone, as a tensor-parallel rank with one head would run it: its own slice of q
    # and its KV head's k, v; the output must equal the full call's head. Timed at batch B * H
    # (fresh inputs): one head at batch B fills a few SMs, so its time would be launch latency and
    # one CTA's length, not the head's work; at B * H each head alone does a full call's share of work.
    group = c["heads"] // c["kv_heads"]
    BH = B * c["heads"]
    res["per_head_ms"], res["per_head_batch"] = [], BH
    for h in range(c["heads"]):
        qs, ks, vs = q[:, [h]].contiguous(), k[:, [h // group]].contiguous(), v[:, [h // group]].contiguous()
        oh = mod.attention(qs, ks, vs, heads=[h])
        if not torch.equal(oh, out[:, [h]]):
            print(json.dumps({"failed": f"head {h} alone differs from the full call"}))
            sys.exit(0)
        qs = torch.randn(BH, 1, n, c["head_dim"], device="cuda", dtype=torch.bfloat16, generator=g)
        ks = torch.randn(BH, 1, n, c["head_dim"], device="cuda", dtype=torch.bfloat16, generator=g)
        vs = torch.randn(BH, 1, n, c["head_dim"], device="cuda", dtype=torch.bfloat16, generator=g)
        for _ in range(3):
            mod.attention(qs, ks, vs, heads=[h])
        ht = sorted(gpu_ms(lambda: mod.attention(qs, ks, vs, heads=[h])) for _ in range(max(5, reps // 3)))
        res["per_head_ms"].append(ht[len(ht) // 2])
print(json.dumps(res))
"""


def child(d, c, reps, mode, timeout, per_head=False):
    """(result dict, None) or (None, why it failed)."""
    try:
        p = subprocess.run([sys.executable, "-c", CHILD, d, json.dumps(c), str(reps), mode, "per-head" if per_head else "all"],
                           capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None, f"{mode}: timed out after {timeout} s"
    lines = [x for x in p.stdout.splitlines() if x.startswith("{")]
    if p.returncode != 0 or not lines:
        tail = (p.stderr.strip().splitlines() or ["no output"])[-1][:300]
        return None, f"{mode}: exit {p.returncode}: {tail}"
    r = json.loads(lines[-1])
    return (None, r["failed"]) if "failed" in r else (r, None)


def device_info():
    import torch

    props = torch.cuda.get_device_properties(0)
    try:
        driver = subprocess.run(["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"], capture_output=True, text=True).stdout.strip() or None
    except OSError:
        driver = None
    return {"name": props.name, "sm_count": props.multi_processor_count, "driver": driver, "cuda": torch.version.cuda, "pytorch": torch.__version__}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dir", help="the directory spc tune --emit wrote")
    ap.add_argument("--out", required=True, help="the measurements file (JSON) for spc tune --measured")
    ap.add_argument("--max", type=int, default=0, help="time only the first K candidates of each entry (0: all)")
    ap.add_argument("--reps", type=int, default=30)
    ap.add_argument("--timeout", type=float, default=300, help="seconds per build or timing process")
    ap.add_argument("--jobs", type=int, default=16, help="builds in parallel")
    ap.add_argument("--rounds", type=int, default=1,
                    help="timing passes over all candidates, each in a fresh process (the time: the median of the rounds; round_ms keeps each)")
    ap.add_argument("--per-head", action="store_true",
                    help="also time each head alone (attention(..., heads=[h])) for the measured balance across heads (spc tune --measured reports max/mean)")
    args = ap.parse_args()
    if args.rounds < 1:
        ap.error("--rounds must be at least 1")
    d = os.path.abspath(args.dir)
    with open(os.path.join(d, "tune_candidates.json")) as f:
        cands = json.load(f)
    if args.max > 0:
        kept, seen = [], {}
        for c in cands:
            seen[c["entry"]] = seen.get(c["entry"], 0) + 1
            if seen[c["entry"]] <= args.max:
                kept.append(c)
        cands = kept
    t0 = time.time()
    # Builds first, in parallel (each is one load_inline; PyTorch caches it for the timing process).
    failed = {}
    pending = list(cands)
    running = []
    while pending or running:
        while pending and len(running) < args.jobs:
            c = pending.pop(0)
            p = subprocess.Popen([sys.executable, "-c", CHILD, d, json.dumps(c), "1", "build", "all"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            running.append((c, p, time.time()))
        for item in list(running):
            c, p, started = item
            if p.poll() is None and time.time() - started < args.timeout:
                continue
            if p.poll() is None:
                p.kill()
                failed[c["package"]] = f"build: timed out after {args.timeout} s"
            elif p.returncode != 0:
                err = p.stderr.read().strip().splitlines()
                failed[c["package"]] = f"build: exit {p.returncode}: {(err or ['no output'])[-1][:300]}"
            running.remove(item)
        time.sleep(0.2)
    print(f"built {len(cands) - len(failed)}/{len(cands)} candidates in {time.time() - t0:.0f} s", file=sys.stderr, flush=True)
    # Timing: --rounds passes over the candidates, each candidate in a fresh process per round, so a
    # slow drift (clocks, another process) or one unlucky process falls on every candidate alike;
    # the measured time is the median of the rounds' medians, and every round's time is kept.
    runs = {c["package"]: [] for c in cands}
    heads = {}
    for rnd in range(args.rounds):
        for x, c in enumerate(cands):
            if failed.get(c["package"]) is not None:
                continue
            per_head = args.per_head and rnd == 0
            r, why = child(d, c, args.reps, "time", args.timeout, per_head)
            if r is None:
                failed[c["package"]] = why if args.rounds == 1 else f"round {rnd + 1}: {why}"
                print(f"[{x + 1}/{len(cands)}] {c['id']}: FAILED {failed[c['package']]}", file=sys.stderr, flush=True)
                continue
            runs[c["package"]].append(r["ms"])
            if per_head:
                heads[c["package"]] = r
            shown = f"{r['ms']:.4f} ms"
            if per_head:
                ph = r["per_head_ms"]
                shown += f", heads alone max/mean {max(ph) / (sum(ph) / len(ph)):.3f}"
            tag = f"round {rnd + 1}/{args.rounds} " if args.rounds > 1 else ""
            print(f"{tag}[{x + 1}/{len(cands)}] {c['id']}: {shown}", file=sys.stderr, flush=True)
    results = []
    for c in cands:
        why = failed.get(c["package"])
        ts = sorted(runs[c["package"]])
        ok = why is None and len(ts) == args.rounds
        row = {"package": c["package"], "entry": c["entry"], "candidate": c["candidate"], "layout": c["layout"], "n": c["n"],
               "measured_ms": ts[len(ts) // 2] if ok else None, "failed": why}
        if args.rounds > 1:
            row["round_ms"] = runs[c["package"]]
        if args.per_head:
            h = heads.get(c["package"]) if ok else None
            row["per_head_ms"] = h["per_head_ms"] if h else None
            row["per_head_batch"] = h["per_head_batch"] if h else None
        results.append(row)
    doc = {"format": FORMAT, "device": device_info(), "results": results, "seconds": round(time.time() - t0, 1)}
    with open(args.out, "w") as f:
        json.dump(doc, f, indent=1)
    ok = [r for r in results if r["measured_ms"] is not None]
    print(f"\n{len(ok)} timed, {len(results) - len(ok)} failed, {time.time() - t0:.0f} s; wrote {args.out}", file=sys.stderr)
    for r in sorted(ok, key=lambda r: r["measured_ms"])[:10]:
        print(f"  {r['measured_ms']:.4f} ms  {r['package']}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
