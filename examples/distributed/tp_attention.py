"""Tensor-parallel banded attention with torch.distributed: each rank owns a shard of the heads,
computes them with the spc op (attention(..., heads=...)), and the shards are gathered and
checked against one GPU computing all heads.

    npx spc compile examples/spattention-paper.spc --target cuda -o out/paper
    torchrun --nproc_per_node=4 examples/distributed/tp_attention.py out/paper spattention_paper \\
        --seq 32768 --plan balanced

--plan in_order gives rank r heads [r H/T, (r+1) H/T) (tensor parallelism's default); --plan
balanced takes the package's shard_plan, which balances the ranks' work (key tiles). Prints each
rank's time, the layer time (the slowest rank), and whether the gathered output equals the
single-GPU output. One process per GPU, NCCL, NVLink multicast off.
"""
import argparse
import importlib
import os
import sys

# NVLink multicast (NVLS) off before NCCL starts.
os.environ.setdefault("NCCL_NVLS_ENABLE", "0")
os.environ.setdefault("TORCH_SYMM_MEM_DISABLE_MULTICAST", "1")
os.environ.setdefault("NVSHMEM_DISABLE_NVLS", "1")

import torch  # noqa: E402
import torch.distributed as dist  # noqa: E402


def median(xs):
    s = sorted(xs)
    return s[len(s) // 2]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dir", help="folder that holds the compiled package")
    ap.add_argument("layout", help="layout (package) name")
    ap.add_argument("--seq", type=int, default=8192)
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--plan", choices=("in_order", "balanced"), default="balanced")
    ap.add_argument("--iters", type=int, default=50)
    args = ap.parse_args()

    dist.init_process_group("nccl")
    rank, world = dist.get_rank(), dist.get_world_size()
    local = int(os.environ.get("LOCAL_RANK", rank))
    torch.cuda.set_device(local)
    dev = torch.device("cuda", local)
    sys.path.insert(0, os.path.abspath(args.dir))
    mod = importlib.import_module(args.layout)

    n, B, H, KV, D = args.seq, args.batch, mod.HEADS, mod.KV_HEADS, mod.HEAD_DIM
    plan = mod.shard_plan(n, world)[args.plan]
    heads = plan["heads"][rank]
    kv = sorted({h // mod.GROUP for h in heads})

    # The layer's q, k, v (the same on every rank here, from one seed; in a model each rank
    # computes only its heads' projections).
    gen = torch.Generator(device=dev).manual_seed(1234)
    q = torch.randn(B, H, n, D, device=dev, dtype=torch.bfloat16, generator=gen)
    k = torch.randn(B, KV, n, D, device=dev, dtype=torch.bfloat16, generator=gen)
    v = torch.randn(B, KV, n, D, device=dev, dtype=torch.bfloat16, generator=gen)
    q_r, k_r, v_r = q[:, heads].contiguous(), k[:, kv].contiguous(), v[:, kv].contiguous()

    out_r = mod.attention(q_r, k_r, v_r, heads=heads)  # build and warm up
    mine, layer = [], []
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    for _ in range(args.iters):
        dist.barrier()
        torch.cuda.synchronize()
        start.record()
        out_r = mod.attention(q_r, k_r, v_r, heads=heads)
        end.record()
        torch.cuda.synchronize()
        t = torch.tensor([start.elapsed_time(end)], device=dev)
        mine.append(t.item())
        dist.all_reduce(t, op=dist.ReduceOp.MAX)  # the layer waits for its slowest rank
        layer.append(t.item())

    # Gather every rank's heads and put them back in head order.
    parts = [torch.empty_like(out_r) for _ in range(world)]
    dist.all_gather(parts, out_r)
    times = [None] * world
    dist.all_gather_object(times, median(mine))
    if rank == 0:
        full = torch.empty(B, H, n, D, device=dev, dtype=out_r.dtype)
        for r, hs in enumerate(plan["heads"]):
            full[:, hs] = parts[r]
        ref = mod.attention(q, k, v)
        diff = (full.float() - ref.float()).abs().max().item()
        one = []
        for _ in range(args.iters):
            start.record()
            mod.attention(q, k, v)
            end.record()
            torch.cuda.synchronize()
            one.append(start.elapsed_time(end))
        print(f"{args.layout} N={n} B={B} ranks={world} plan={args.plan}")
        for r, hs in enumerate(plan["heads"]):
            print(f"  rank {r}: heads {hs}  work {plan['work'][r]} tiles  {times[r]:.3f} ms")
        mean = sum(times) / world
        print(f"  layer (slowest rank) {median(layer):.3f} ms; max/mean rank time {max(times) / mean:.2f}; "
              f"tiles max/mean {plan['imbalance']:.2f}; one GPU, all heads {median(one):.3f} ms")
        print(f"  gathered output {'equals' if torch.equal(full, ref) else 'differs from'} the single-GPU output (max |diff| {diff:.3g})")
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
