"""The PyTorch op of an spc CUDA package: argument checks, the work schedule, the kernel build.

Static: the same file in every package; the layout's part is _layout.py and _table.py.
"""
import functools
import hashlib
import itertools
import math
import os

try:
    import torch
except ImportError:  # the work planner needs no torch; attention() does
    torch = None

from . import _plan, _table, _tuning
from ._layout import CONFIG, GROUP, HEAD_DIM, HEADS, LAYOUT, SEQ, SM90_KEYS, SM90_VARIANTS
from ._plan import BWD_TILES, PERSISTENT, TILES

_HERE = os.path.dirname(os.path.abspath(__file__))


@functools.lru_cache(maxsize=None)
def _extension(major, minor):
    from torch.utils.cpp_extension import load_inline

    with open(os.path.join(_HERE, "kernel.cu")) as f:
        cuda_src = f.read()
    with open(os.path.join(_HERE, "binding.cpp")) as f:
        cpp_src = f.read()
    arch = "-gencode=arch=compute_90a,code=sm_90a" if (major, minor) == (9, 0) else f"-gencode=arch=compute_{major}{minor},code=sm_{major}{minor}"
    # The binding includes launchers.h (the layout's launcher declarations): it is pasted in
    # place of the #include, so the build needs no include path.
    with open(os.path.join(_HERE, "launchers.h")) as f:
        cpp_src = cpp_src.replace('#include "launchers.h"', f.read(), 1)
    digest = hashlib.sha256((cuda_src + cpp_src + arch).encode()).hexdigest()[:12]
    return load_inline(
        name=f"spc_{LAYOUT}_{digest}",
        cpp_sources=[cpp_src],
        cuda_sources=[cuda_src],
        functions=["forward", "backward"],
        extra_cuda_cflags=["-O3", "--use_fast_math", "-std=c++17", arch],
        verbose=False,
    )


def _arch(major, minor):
    """The kernel family for a GPU: wgmma on sm_90 (built for sm_90a), mma.sync elsewhere.
    SPC_CUDA_KERNEL=sm80 in the environment forces the mma.sync kernels (for comparisons)."""
    if os.environ.get("SPC_CUDA_KERNEL") == "sm80":
        return "sm80"
    return "sm90" if (major, minor) == (9, 0) else "sm80"


_SCHEDULES = {}  # (kind, args) -> {stream: (table, order)}, the streams' entries in use order
_CAPTURED = {}  # (kind, args) -> (table, order) used by a captured CUDA graph: never freed
_MAX_SCHEDULES = 64


def _cached(kind, args, stream, build):
    """The schedule of kind for args on stream, built once. While the stream is capturing a CUDA
    graph, nothing can be copied to the device: the entry another stream built (before the
    capture, which synchronises the device) is used and kept alive for as long as the process
    runs (a graph may be replayed at any time)."""
    key = (kind, args)
    if torch.cuda.is_current_stream_capturing():
        if key not in _CAPTURED:
            entry = _SCHEDULES.get(key)
            if not entry:
                raise RuntimeError(
                    f"spc {LAYOUT}: run attention (forward and backward) once with these shapes before capturing a CUDA graph:"
                    " its work schedule is copied to the GPU on the first call, which cannot happen during capture"
                )
            _CAPTURED[key] = next(iter(entry.values()))
        return _CAPTURED[key]
    entry = _SCHEDULES.setdefault(key, {})
    if stream in entry:
        entry[stream] = entry.pop(stream)  # most recently used last
        _SCHEDULES[key] = _SCHEDULES.pop(key)
        return entry[stream]
    entry[stream] = build()
    while sum(len(e) for e in _SCHEDULES.values()) > _MAX_SCHEDULES:
        # Launch plans hold schedules and skip this cache on a hit (so hits refresh nothing here):
        # drop them all, so that every plan's schedule is one _SCHEDULES holds, which a CUDA graph
        # capture of its shape needs (a hostile review's finding: else a shape in constant use could
        # be evicted here while its plan lived on, and its capture would ask for a first run).
        _LAUNCH_PLANS.clear()
        oldest = next(iter(_SCHEDULES))
        _SCHEDULES[oldest].pop(next(iter(_SCHEDULES[oldest])))
        if not _SCHEDULES[oldest]:
            del _SCHEDULES[oldest]
    return entry[stream]


def schedule(n, batch, device, heads, arch, blocks=0, stream=0):
    """(table, order) on the device for length n, batch size batch and the heads of the call
    (a tuple of head indices): the table rows of those heads, and the work items longest first;
    with blocks > 0 (the persistent sm_90 kernel) the items dealt to that many blocks (_plan.deal),
    grouped by block, followed by blocks + 1 offsets of the groups. stream (the CUDA stream the
    kernel runs on) is part of the cache key: the tensors are copied to the device on that stream,
    so a kernel on another stream never reads them before the copy is done, and a cached pair is
    only freed (evicted) into the pool of the stream that used it. arch "dq": the backward's
    deterministic dq pass (its query tiles and key tiles, _plan.TILES["dq"])."""
    return _cached("fwd", (n, batch, device, heads, arch, blocks), stream, lambda: _schedule(n, batch, device, heads, arch, blocks))


def _schedule(n, batch, device, heads, arch, blocks):
    full = _table.head_table(n)
    per = _table.TERM_SLOTS * _table.FIELDS_PER_TERM
    table = [x for h in heads for x in full[h * per:(h + 1) * per]]
    qtiles = -(-n // TILES[arch][0])
    work = sorted((-tiles, hl, qt) for hl in range(len(heads)) for qt, tiles in enumerate(_plan.block_tiles(table, hl, n, arch)))
    order = [(b * len(heads) + hl) * qtiles + qt for _, hl, qt in work for b in range(batch)]
    if blocks > 0:
        groups = _plan.deal([-t for t, _, _ in work for b in range(batch)], blocks)
        offsets = [0, *itertools.accumulate(len(g) for g in groups)]
        order = [order[i] for g in groups for i in g] + offsets
    t = torch.tensor(table, dtype=torch.int32, device=device)
    o = torch.tensor(order, dtype=torch.int32, device=device)
    return t, o


@functools.lru_cache(maxsize=None)
def _multiprocessors(index):
    return torch.cuda.get_device_properties(index).multi_processor_count


def _blocks(items, device, arch):
    """Blocks of the persistent sm_90 kernel (arch: "sm90" or a variant's "sm90v1", ...): one per
    multiprocessor, at most items (0: not persistent). SPC_CUDA_GRID=G in the environment caps it
    at G (the checks use it to make each block take many items in a row)."""
    if not PERSISTENT.get(arch, False):
        return 0
    cap = int(os.environ.get("SPC_CUDA_GRID", "0") or 0)
    g = min(_multiprocessors(device.index if device.index is not None else torch.cuda.current_device()), items)
    return min(g, cap) if cap > 0 else g


def _heads(heads):
    """The heads of a call as a tuple; for GQA, whole groups of GROUP heads that share a KV head."""
    if heads is None:
        return tuple(range(HEADS))
    try:
        hs = tuple(int(h) for h in heads)
    except TypeError:
        raise TypeError(f"spc {LAYOUT}: heads must be a sequence of head indices, got {type(heads).__name__}") from None
    if not hs or len(set(hs)) != len(hs) or any(h < 0 or h >= HEADS for h in hs):
        raise ValueError(f"spc {LAYOUT}: heads must be distinct indices in [0, {HEADS}), got {list(hs)}")
    for c in range(0, len(hs), GROUP):
        g = hs[c:c + GROUP]
        if len(g) != GROUP or g[0] % GROUP != 0 or g != tuple(range(g[0], g[0] + GROUP)):
            raise ValueError(
                f"spc {LAYOUT}: with {GROUP} query heads per KV head, heads must list whole groups in order"
                f" (h, h+1, ..., h+{GROUP - 1} with h a multiple of {GROUP}), got {list(hs)}"
            )
    return hs


def _strided_ok(x):
    """Can the kernels read (or write) x of shape (B, heads, N, D) in place? Any layout whose rows of
    D are contiguous, e.g. a (B, N, heads, D) tensor viewed as (B, heads, N, D) with .transpose(1, 2),
    as long as the copies stay 16-byte aligned (dimensions of size 1 are never stepped over).
    Traceable by torch.compile: only sizes and strides (Dynamo traces neither data_ptr nor
    storage_offset); the 16-byte alignment of the data itself is checked inside the op (_aligned)."""
    if x.stride(3) != 1 and x.size(3) != 1:
        return False
    if x.size(2) > 1 and x.stride(2) >= 2**24:
        return False
    return all(x.size(d) == 1 or x.stride(d) % 8 == 0 for d in range(3))


def _check(q, k, v, heads):
    for name, x in (("q", q), ("k", k), ("v", v)):
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"spc {LAYOUT}: {name} must be a torch.Tensor, got {type(x).__name__}")
        if not x.is_cuda:
            raise ValueError(f"spc {LAYOUT}: {name} must be on a CUDA device, got {x.device}")
        if x.dtype not in (torch.bfloat16, torch.float16):
            raise TypeError(f"spc {LAYOUT}: {name} must be bfloat16 or float16, got {x.dtype}")
        if x.dim() != 4:
            raise ValueError(f"spc {LAYOUT}: {name} must have 4 dimensions (B, heads, N, D), got shape {tuple(x.shape)}")
    if not (q.dtype == k.dtype == v.dtype):
        raise TypeError(f"spc {LAYOUT}: q, k and v must share one dtype, got {q.dtype}, {k.dtype}, {v.dtype}")
    if not (q.device == k.device == v.device):
        raise ValueError(f"spc {LAYOUT}: q, k and v must be on one device")
    B, H, N, D = q.shape
    if H != len(heads) or D != HEAD_DIM:
        raise ValueError(f"spc {LAYOUT}: q must be (B, {len(heads)}, N, {HEAD_DIM}), got {tuple(q.shape)}")
    kv = len(heads) // GROUP
    for name, x in (("k", k), ("v", v)):
        if tuple(x.shape) != (B, kv, N, D):
            raise ValueError(f"spc {LAYOUT}: {name} must be ({B}, {kv}, {N}, {D}), got {tuple(x.shape)}")
    for name, x in (("q", q), ("k", k), ("v", v)):
        if not _strided_ok(x):
            raise ValueError(
                f"spc {LAYOUT}: {name} must have its last dimension (D) contiguous, its other strides multiples of 8 elements"
                f" (rows less than 2**24 apart) and its data 16-byte aligned, got strides {tuple(x.stride())}; call .contiguous() first"
            )
    if N < 1:
        raise ValueError(f"spc {LAYOUT}: the sequence length must be at least 1")
    if SEQ is not None and N != SEQ:
        raise ValueError(f"spc {LAYOUT}: this layout has a fixed length {SEQ}, got N = {N}")
    if B * H * -(-N // min(m for m, _ in TILES.values())) >= 2**31:
        raise ValueError(f"spc {LAYOUT}: too many work items for one launch")
    return B, N


def current_arch():
    """The kernel family attention() uses here: "sm90" (wgmma) on an sm_90 GPU, "sm80" (mma.sync)
    on others or with SPC_CUDA_KERNEL=sm80; "sm90" when there is no torch or no GPU."""
    if torch is None or not torch.cuda.is_available():
        return "sm90"
    return _arch(*torch.cuda.get_device_capability())


@functools.lru_cache(maxsize=None)
def _device_name(index):
    return torch.cuda.get_device_name(index)


def kernel_config(n, device=None, deterministic=False):
    """The forward kernel config a call of length n uses, and where it comes from. device: the
    GPU (a torch device, "cuda:1" or an index; default the current one), or a GPU's name such as
    "NVIDIA H200" (what an sm_90 GPU of that name would use; no GPU needed). Returns {"family":
    "sm90" or "sm80", "variant" (index into _layout.SM90_VARIANTS), "id", "source": "record" (the
    tuning record compiled in), "cache" (a record in SPC_TUNING_CACHE, default
    ~/.cache/spc/tuning) or "heuristic" (the package's config, CONFIG), "n" (the deciding
    entry's N or None), "device" (the GPU's name), "file" (the cache record or None), "config"
    (the whole kernel config)}. The rule is in _tuning.py. The sm80 family has one config.
    deterministic=True: what attention(..., deterministic=True) uses (the cache is not read)."""
    if isinstance(device, str) and not device.startswith("cuda"):
        name, family = device, "sm90"
    elif torch is not None and torch.cuda.is_available():
        index = device if isinstance(device, int) else None if device is None else torch.device(device).index
        index = torch.cuda.current_device() if index is None else index
        name, family = _device_name(index), _arch(*torch.cuda.get_device_capability(index))
    else:
        name, family = None, "sm90"
    if family == "sm90":
        pick = _tuning.choose(n, name, cache=not deterministic)
    else:
        pick = {"variant": 0, "id": "sm80 (the package config)", "source": "heuristic", "n": None, "device": name, "file": None}
    return {"family": family, **pick, "config": {**CONFIG, "sm90": SM90_VARIANTS[pick["variant"]]}}


def shard_plan(n, shards, arch=None):
    """Heads per rank for the given number of tensor-parallel ranks at length n, counting work in
    the key tiles of arch: "sm80", "sm90" (variant 0) or a variant's "sm90v1", ... (_layout.SM90_KEYS).
    Default: the tiles a call of length n uses here (current_arch(), and on sm_90 the config
    variant kernel_config(n) picks). See _plan.shard_plan."""
    if arch is None:
        arch = current_arch()
        if arch == "sm90" and torch is not None and torch.cuda.is_available():
            arch = SM90_KEYS[kernel_config(n)["variant"]]
    return _plan.shard_plan(n, shards, arch)


def schedule_bwd(n, batch, device, heads, stream=0, arch="sm80"):
    """(table, order) of the backward on the device: the table rows of the heads of the call, and
    the dK/dV work items (batch, KV head, key tile), numbered (b * kv + kvh) * ktiles + kt, longest
    first (the most query tiles over the group's heads); key tiles no row reaches come last (their
    dK, dV are written as zeros). stream: as for schedule()."""
    return _cached("bwd", (n, batch, device, heads, arch), stream, lambda: _schedule_bwd(n, batch, device, heads, arch))


def _schedule_bwd(n, batch, device, heads, arch):
    full = _table.head_table(n)
    per = _table.TERM_SLOTS * _table.FIELDS_PER_TERM
    table = [x for h in heads for x in full[h * per:(h + 1) * per]]
    kvs = len(heads) // GROUP
    ktiles = -(-n // BWD_TILES[arch][1])
    work = sorted((-tiles, kv, kt) for kv in range(kvs) for kt, tiles in enumerate(_plan.key_block_tiles(table, kv, n, arch)))
    order = [(b * kvs + kv) * ktiles + kt for _, kv, kt in work for b in range(batch)]
    t = torch.tensor(table, dtype=torch.int32, device=device)
    o = torch.tensor(order, dtype=torch.int32, device=device)
    return t, o


def _bwd_arch(major, minor):
    """The backward's kernel family: "sm90" (wgmma, bwd_sm90.cuh) on an sm_90 GPU, "sm80" (mma.sync)
    elsewhere. SPC_CUDA_BWD=sm80 in the environment forces the mma.sync kernels on sm_90 too (for
    comparisons; bench/results/cuda-2026-12-01-backward has both)."""
    if os.environ.get("SPC_CUDA_BWD") == "sm80":
        return "sm80"
    return "sm90" if (major, minor) == (9, 0) else "sm80"


def _capability(device):
    major, minor = torch.cuda.get_device_capability(device)
    if major < 8:
        raise RuntimeError(
            f"spc {LAYOUT}: the CUDA kernels need compute capability 8.0 or newer (cp.async, bf16 tensor cores); this GPU has {major}.{minor}"
        )
    return major, minor


def _aligned(*xs):
    for x in xs:
        if x.data_ptr() % 16 != 0:
            raise ValueError(f"spc {LAYOUT}: the kernels need 16-byte aligned tensors; call .contiguous() first")


# Launch plans: what a call passes its launcher besides the tensors (the extension, the work
# schedule on the device, the kernel family and config), per call shape, built once. Host time
# matters: in eager training the backward's Python runs on autograd's device thread, where it was
# measured about 3x slower than on the calling thread (bench/results/cuda-2026-12-07-bwd-epilogue.md);
# with the plan a call is one dict lookup and its launcher.
_ENV = ("SPC_CUDA_KERNEL", "SPC_CUDA_BWD", "SPC_CUDA_GRID", "SPC_CUDA_CONFIG", "SPC_TUNING_CACHE", "SPC_POISON")  # what the plans read
_LAUNCH_PLANS = {}
_MAX_LAUNCH_PLANS = 64


def _stream(device):
    """The raw handle of the current CUDA stream of device (an int), without a torch.cuda.Stream object."""
    try:
        return torch._C._cuda_getCurrentRawStream(device.index if device.index is not None else torch.cuda.current_device())
    except AttributeError:  # not in this torch
        return torch.cuda.current_stream(device).cuda_stream


def _launch_plan(kind, q, heads, deterministic, build):
    """The launch plan of a call (kind "fwd" or "bwd") like this one: build(q, heads, deterministic,
    stream), cached by everything it depends on (the shape, device, heads, mode, stream and the
    SPC_ environment variables above; the run-time tuning cache is read once per process anyway).
    While the stream is capturing a CUDA graph the plan is built each time, so that the schedule
    comes from _cached's capture rule (kept alive for the graph)."""
    stream = _stream(q.device)
    if torch.cuda.is_current_stream_capturing():
        return build(q, heads, deterministic, stream)
    key = (kind, q.shape[0], q.shape[2], q.device.index, tuple(heads), deterministic, stream, tuple(os.environ.get(e) for e in _ENV))
    plan = _LAUNCH_PLANS.get(key)
    if plan is None:
        plan = build(q, heads, deterministic, stream)
        if len(_LAUNCH_PLANS) >= _MAX_LAUNCH_PLANS:
            _LAUNCH_PLANS.pop(next(iter(tuple(_LAUNCH_PLANS))), None)  # tuple(): one step under the GIL (autograd's device threads call this too)
        _LAUNCH_PLANS[key] = plan
    return plan


def _fwd_plan(q, heads, deterministic, stream):
    heads = tuple(heads)
    B, _, N, _ = q.shape
    major, minor = _capability(q.device)
    arch = _arch(major, minor)
    # The sm90 family: the config variant for this GPU and N (_tuning.py); its tiles are under SM90_KEYS[variant].
    # deterministic=True: the compiled-in record and the heuristic only, so that the bits do not
    # depend on files in the run-time cache.
    variant = _tuning.choose(N, _device_name(q.device.index), cache=not deterministic)["variant"] if arch == "sm90" else 0
    tiles = SM90_KEYS[variant] if arch == "sm90" else arch
    blocks = _blocks(B * len(heads) * -(-N // TILES[tiles][0]), q.device, tiles)
    table, order = schedule(N, B, q.device, heads, tiles, blocks, stream)
    return _extension(major, minor), table, order, blocks, arch == "sm90", variant


def _forward(q, k, v, scale, heads, deterministic=False):
    _aligned(q, k, v)
    ext, table, order, blocks, sm90, variant = _launch_plan("fwd", q, heads, deterministic, _fwd_plan)
    out, lse = ext.forward(q, k, v, table, order, blocks, scale, sm90, variant)
    return out, lse


def _bwd_plan(q, heads, deterministic, stream):
    heads = tuple(heads)
    B, _, N, _ = q.shape
    major, minor = _capability(q.device)
    arch = _bwd_arch(major, minor)
    table, order = schedule_bwd(N, B, q.device, heads, stream, arch)
    # The dq pass (deterministic mode) walks query tiles as the forward does, with its own tile shape.
    if deterministic:
        order_dq = schedule(N, B, q.device, heads, "dq90" if arch == "sm90" else "dq", 0, stream)[1]
    else:
        order_dq = order[:0]
    poison = os.environ.get("SPC_POISON") == "1"  # the checks: gradients start as NaN (binding.cpp)
    return _extension(major, minor), table, order, order_dq, arch == "sm90", poison


def _backward(dout, dlse, q, k, v, out, lse, scale, heads, deterministic):
    ext, table, order, order_dq, sm90, poison = _launch_plan("bwd", q, heads, deterministic, _bwd_plan)
    # dout in any layout the kernels can read (as q, k, v: D contiguous, aligned); else a copy.
    if not (dout.dtype == q.dtype and (dout.is_contiguous() or _strided_ok(dout)) and dout.data_ptr() % 16 == 0):
        dout = dout.to(q.dtype).contiguous()
    return ext.backward(q, k, v, out, lse, dout, dlse, table, order, order_dq, scale, deterministic, sm90, poison)


def _build_digest():
    with open(os.path.join(_HERE, "kernel.cu"), "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()[:10]


if torch is not None:
    from typing import List, Optional, Tuple

    # The ops of this package, named by the layout and its kernel source (two builds of one layout
    # with different configs register different ops): torch.compile and torch.export see them as
    # single nodes with a fake (meta) implementation, and autograd through register_autograd.
    # Plain eager calls take _Eager instead (_use_ops).
    OP_NAMESPACE = f"spc_{LAYOUT}_{_build_digest()}"

    @torch.library.custom_op(f"{OP_NAMESPACE}::fwd", mutates_args=())
    def _fwd_op(
        q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, scale: float, heads: List[int], deterministic: bool
    ) -> Tuple[torch.Tensor, torch.Tensor]:
        return tuple(_forward(q, k, v, scale, heads, deterministic))

    @_fwd_op.register_fake
    def _(q, k, v, scale, heads, deterministic):
        return torch.empty_like(q), q.new_empty(q.shape[:3], dtype=torch.float32)

    @torch.library.custom_op(f"{OP_NAMESPACE}::bwd", mutates_args=())
    def _bwd_op(
        dout: torch.Tensor, dlse: Optional[torch.Tensor], q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, out: torch.Tensor, lse: torch.Tensor,
        scale: float, heads: List[int], deterministic: bool
    ) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return tuple(_backward(dout, dlse, q, k, v, out, lse, scale, heads, deterministic))

    @_bwd_op.register_fake
    def _(dout, dlse, q, k, v, out, lse, scale, heads, deterministic):
        return torch.empty_like(q), torch.empty_like(k), torch.empty_like(v)

    def _setup_context(ctx, inputs, output):
        q, k, v, scale, heads, deterministic = inputs
        out, lse = output
        ctx.save_for_backward(q, k, v, out, lse)
        ctx.scale, ctx.heads, ctx.deterministic = scale, heads, deterministic

    def _grads(ctx, dout, dlse, bwd):
        """dq, dk, dv (and None for scale, heads, deterministic) through bwd: the custom op
        _bwd_op, or _backward itself (the eager path, _Eager)."""
        q, k, v, out, lse = ctx.saved_tensors
        if dout is None:
            dout = torch.zeros_like(out)
        # The gradient through lse (return_lse=True, used in a loss) enters as delta - dlse.
        dlse = None if dlse is None else dlse.float().contiguous()
        dq, dk, dv = bwd(dout, dlse, q, k, v, out, lse, ctx.scale, ctx.heads, ctx.deterministic)
        return dq, dk, dv, None, None, None

    _fwd_op.register_autograd(lambda ctx, dout, dlse: _grads(ctx, dout, dlse, _bwd_op), setup_context=_setup_context)

    class _Eager(torch.autograd.Function):
        """The same forward and backward as the custom ops, called without them: attention() takes
        this path in plain eager calls (_use_ops false). A custom op costs about 0.9 ms of host time
        per forward + backward in eager mode (torch 2.11, bench/cuda/host_overhead.py), longer than
        the kernels at N <= 16384, so the GPU would wait on Python; under torch.compile the custom
        ops are single graph nodes and cost nothing per call. (torch.func transforms need forward
        and setup_context apart; this is the form the H200 checks ran.)"""

        @staticmethod
        def forward(ctx, q, k, v, scale, heads, deterministic):
            # An unused out or lse gets None here (the custom op path gets zeros; _grads gives the
            # same gradients for both).
            ctx.set_materialize_grads(False)
            out, lse = _forward(q, k, v, scale, heads, deterministic)
            _setup_context(ctx, (q, k, v, scale, heads, deterministic), (out, lse))
            return out, lse

        @staticmethod
        @torch.autograd.function.once_differentiable
        def backward(ctx, dout, dlse):
            # Under compiled autograd the backward is traced: the custom op is its graph node.
            return _grads(ctx, dout, dlse, _bwd_op if torch.compiler.is_compiling() else _backward)

    def _use_ops(q, k, v):
        """Whether attention() goes through the custom ops: under torch.compile and torch.export,
        and for anything but plain tensors outside a dispatch mode (fake tensors, tensor subclasses,
        make_fx tracing), which need the ops' fake implementations or registrations."""
        if torch.compiler.is_compiling() or type(q) is not torch.Tensor or type(k) is not torch.Tensor or type(v) is not torch.Tensor:
            return True
        return _dispatch_mode() is not None

    try:
        from torch.utils._python_dispatch import _get_current_dispatch_mode as _dispatch_mode
    except ImportError:  # not in this torch: the ops for every call, slower but correct
        def _dispatch_mode():
            return True


def attention(q, k, v, scale=None, return_lse=False, heads=None, deterministic=False):
    """Banded attention (forward, and backward through autograd). q (B, H, N, D), k and v (B, KV, N, D) with H, KV and D the
    layout's (_layout.HEADS, KV_HEADS, HEAD_DIM), in any layout with D contiguous: a (B, N, H, D)
    projection viewed as (B, H, N, D) with .transpose(1, 2) is read in place, no copy. The output
    and the gradients are allocated like q, k and v (torch.empty_like: the same layout when the
    input is dense, e.g. out.transpose(1, 2) is (B, N, H, D) contiguous again).

    heads: run only these heads (a tensor-parallel shard): q holds them in this order and k, v
    their KV heads; with GQA the list is made of whole groups of GROUP heads that share a KV head.

    Returns out (B, H, N, D) in q's dtype (H = HEADS, or len(heads)), and with return_lse=True
    also the float32 log-sum-exp (B, H, N) of the scaled scores (natural log; -inf for a row with
    no allowed key, whose output is 0).

    Backward (autograd): dq, dk, dv over the same bands (dk and dv summed over the query heads of a
    KV head; rows with no allowed key give zero gradients); a gradient through the returned lse
    is included. deterministic=True computes dq in a separate pass without atomics: the same bits
    on every run (slower); by default dq is accumulated with fp32 atomics (last bits vary). With
    deterministic=True the forward's tile config comes from the compiled-in tuning record or the
    heuristic only, never from the run-time cache (kernel_config says which), so that files there
    cannot change the bits between runs.
    """
    if torch is None:
        raise ImportError(f"spc {LAYOUT}: attention() needs PyTorch (torch could not be imported)")
    if scale is None:
        scale = 1.0 / math.sqrt(HEAD_DIM)
    if not (isinstance(scale, (int, float)) and math.isfinite(scale) and scale > 0):
        raise ValueError(f"spc {LAYOUT}: scale must be a positive finite number, got {scale!r}")
    hs = _heads(heads)
    _check(q, k, v, hs)
    args = (q, k, v, float(scale), list(hs), bool(deterministic))
    out, lse = _fwd_op(*args) if _use_ops(q, k, v) else _Eager.apply(*args)
    return (out, lse) if return_lse else out
