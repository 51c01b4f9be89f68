"""The work plan of an spc CUDA package, without torch.

key_tiles / head_tiles: the key tiles the CUDA kernels visit (the same walk as the kernels).
contiguous_shards / balanced_shards / shard_plan: heads per tensor-parallel rank and each rank's
work, for heads in order and for a balanced assignment (the same search as "spc check --shards").
Static: the same file in every package; the layout's part is _layout.py and _table.py.
"""
from . import _schema, _table
from ._layout import CONFIG, GROUP, HEAD_DIM, HEADS, LAYOUT, SM90_KEYS, SM90_VARIANTS

# Tiles (query rows, keys) of the mma.sync kernels (sm_80 and newer) and the wgmma kernels (sm_90).
TILES = {
    "sm80": (16 * CONFIG["sm80"]["mTiles"] * CONFIG["sm80"]["warps"], CONFIG["sm80"]["blockN"]),
    "sm90": (64 * CONFIG["sm90"]["warpgroups"], CONFIG["sm90"]["blockN"]),
}
# The backward's tiles (query rows per step, keys per block), and its deterministic dq pass's
# (query rows per block, keys per tile: bwd_sm80.cuh kDqBM, kDqBN).
# The wgmma backward (bwd_sm90.cuh): dK/dV over query tiles of bwd90.rows (64 without the part)
# per 128 keys; its dq pass over 128 rows per block with key tiles of 64 (D >= 128) or 128.
BWD_TILES = {"sm80": (CONFIG["bwd"]["blockM"], 16 * CONFIG["bwd"]["warps"]), "sm90": (CONFIG.get("bwd90", {}).get("rows", 64), 128)}
TILES["dq"] = (16 * CONFIG["bwd"]["warps"], 32 if HEAD_DIM >= 128 else 64)
TILES["dq90"] = (128, 64 if HEAD_DIM >= 128 else 128)
# The other sm90 forward configs compiled in (variants 1, 2, ...; _tuning.py picks one per call):
# their tiles under the names of their kernels (_layout.SM90_KEYS: "sm90v1", ...).
for _k, _s in zip(SM90_KEYS[1:], SM90_VARIANTS[1:]):
    TILES[_k] = (64 * _s["warpgroups"], _s["blockN"])
# The sm_90 kernel: a persistent grid, items dealt by the host (deal); per variant in PERSISTENT.
PERSISTENT_SM90 = CONFIG["sm90"]["kernel"] == "persistent"
PERSISTENT = {k: s["kernel"] == "persistent" for k, s in zip(SM90_KEYS, SM90_VARIANTS)}


def key_tiles(table, h, i0, i1, n, block_n):
    """Merged key-tile ranges of query rows [i0, i1) of head h: the kernel's own computation
    (each term's key_span in tiles of block_n keys, sorted and merged)."""
    spans = []
    for s in range(_table.TERM_SLOTS):
        a, e = _schema.key_span(table, (h * _table.TERM_SLOTS + s) * _table.FIELDS_PER_TERM, i0, i1, n)
        if a < e:
            spans.append((a // block_n, -(-e // block_n)))
    spans.sort()
    merged = []
    for lo, hi in spans:
        if merged and lo <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], hi)
        else:
            merged.append([lo, hi])
    return merged


def block_tiles(table, h, n, arch):
    """Key tiles the kernel of arch visits for each query block of head h (a row of table) at length n."""
    block_m, block_n = TILES[arch]
    return [sum(hi - lo for lo, hi in key_tiles(table, h, i0, min(i0 + block_m, n), n, block_n))
            for i0 in range(0, n, block_m)]


def query_tiles(table, h, j0, j1, n, block_m):
    """Merged query-tile ranges of keys [j0, j1) of head h: the backward kernel's own computation
    (each term's query_span in tiles of block_m rows, sorted and merged)."""
    spans = []
    for s in range(_table.TERM_SLOTS):
        a, e = _schema.query_span(table, (h * _table.TERM_SLOTS + s) * _table.FIELDS_PER_TERM, j0, j1, n)
        if a < e:
            spans.append((a // block_m, -(-e // block_m)))
    spans.sort()
    merged = []
    for lo, hi in spans:
        if merged and lo <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], hi)
        else:
            merged.append([lo, hi])
    return merged


def key_block_tiles(table, kv, n, arch="sm80"):
    """Query tiles the backward of arch visits for each key tile of KV head kv (a group of GROUP
    table rows, kv indexing the KV heads of the call) at length n, summed over the group's query heads."""
    block_m, block_n = BWD_TILES[arch]
    return [sum(hi - lo for h in range(kv * GROUP, (kv + 1) * GROUP) for lo, hi in query_tiles(table, h, j0, min(j0 + block_n, n), n, block_m))
            for j0 in range(0, n, block_n)]


# The persistent kernel's cost of a work item beyond its key tiles, in tiles (the Q load, the
# pipeline's fill and drain, the epilogue); an item with no tiles still loads Q and writes zeros.
ITEM_COST, EMPTY_COST = 1.0, 0.5


def deal(tiles, blocks):
    """Work items (their key tiles) dealt to blocks of a persistent grid: longest first, each to the
    block with the least work so far (ties: the lowest block). Returns each block's item indices."""
    import heapq

    heap = [(0.0, b) for b in range(blocks)]
    groups = [[] for _ in range(blocks)]
    for i in sorted(range(len(tiles)), key=lambda i: (-tiles[i], i)):
        load, b = heapq.heappop(heap)
        groups[b].append(i)
        heapq.heappush(heap, (load + tiles[i] + (ITEM_COST if tiles[i] > 0 else EMPTY_COST), b))
    return groups


def head_tiles(n, heads=None, arch="sm90"):
    """Key tiles each head visits at length n (the kernel's work), with the tiles of arch."""
    table = _table.head_table(n)
    return [sum(block_tiles(table, h, n, arch)) for h in (range(HEADS) if heads is None else heads)]


def _report(assign, work):
    w = [sum(work[h] for h in hs) for hs in assign]
    mean = sum(w) / len(w)
    return {"heads": [sorted(hs) for hs in assign], "work": w, "imbalance": 1.0 if mean == 0 else max(w) / mean}


def _check_shards(units, shards):
    if not isinstance(shards, int) or shards < 1 or units % shards != 0:
        raise ValueError(f"spc {LAYOUT}: {shards} shards must divide the {units} heads (or KV groups)")


def contiguous_shards(work, shards):
    """Units (heads) in order, len(work) / shards per shard: tensor parallelism's default."""
    _check_shards(len(work), shards)
    per = len(work) // shards
    return _report([list(range(s * per, (s + 1) * per)) for s in range(shards)], work)


def _improve(start, work):
    assign = [list(hs) for hs in start]
    load = [sum(work[h] for h in hs) for hs in assign]
    for _ in range(1000):
        heavy = load.index(max(load))
        best_gain, move = 0, None
        for o in range(len(assign)):
            if o == heavy:
                continue
            for a in range(len(assign[heavy])):
                for b in range(len(assign[o])):
                    d = work[assign[heavy][a]] - work[assign[o][b]]
                    # Swapping moves d of work off the heavy shard; it helps while the other stays lighter.
                    gain = load[heavy] - max(load[heavy] - d, load[o] + d)
                    if d > 0 and gain > best_gain:
                        best_gain, move = gain, (o, a, b)
        if move is None:
            break
        o, a, b = move
        ha, hb = assign[heavy][a], assign[o][b]
        assign[heavy][a], assign[o][b] = hb, ha
        load[heavy] += work[hb] - work[ha]
        load[o] += work[ha] - work[hb]
    return assign


def balanced_shards(work, shards):
    """len(work) / shards units per shard, the largest shard as small as greedy (longest first onto
    the lightest shard with room) plus pairwise swaps make it; never worse than in order."""
    _check_shards(len(work), shards)
    per = len(work) // shards
    order = sorted(range(len(work)), key=lambda h: (-work[h], h))
    greedy, load = [[] for _ in range(shards)], [0] * shards
    for h in order:
        best = -1
        for s in range(shards):
            if len(greedy[s]) < per and (best < 0 or load[s] < load[best]):
                best = s
        greedy[best].append(h)
        load[best] += work[h]
    in_order = contiguous_shards(work, shards)["heads"]
    cands = [_report(_improve(a, work), work) for a in (greedy, in_order)]
    return cands[1] if cands[1]["imbalance"] < cands[0]["imbalance"] else cands[0]


def shard_plan(n, shards, arch="sm90"):
    """Heads per rank for the given number of tensor-parallel ranks at length n: {"in_order": ..., "balanced": ...},
    each {"heads": [[...] per rank], "work": key tiles per rank, "imbalance": max / mean}. Heads move
    in whole KV groups of GROUP (a rank owns its heads' KV heads); pass a rank's heads to
    attention(..., heads=...)."""
    per_head = head_tiles(n, arch=arch)
    work = [sum(per_head[g * GROUP:(g + 1) * GROUP]) for g in range(HEADS // GROUP)]
    out = {}
    for name, fn in (("in_order", contiguous_shards), ("balanced", balanced_shards)):
        r = fn(work, shards)
        r["heads"] = [[g * GROUP + i for g in gs for i in range(GROUP)] for gs in r["heads"]]
        out[name] = r
    return out
