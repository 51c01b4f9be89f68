"""spc golden: banded attention for layout strided (8 heads, 8 KV heads, head_dim 64).

    from strided import attention
    out = attention(q, k, v)                      # q (B, H, N, D), k and v (B, KV, N, D); bf16 or fp16 on CUDA
    out, lse = attention(q, k, v, return_lse=True)

The CUDA kernel is compiled on first use by torch.utils.cpp_extension.load_inline (PyTorch caches
the build). Band boundaries for the N of each call come from _table.head_table(N), the same
formulas as the spc IR. Generated code: do not edit.
"""
import functools
import hashlib
import math
import os

import torch

from . import _table

LAYOUT = "strided"
HEADS = 8
KV_HEADS = 8
HEAD_DIM = 64
SEQ = 4096
BLOCK_M = 64
BLOCK_N = 64

_HERE = os.path.dirname(os.path.abspath(__file__))

_CPP = r'''
#include <torch/extension.h>
#include <cuda_runtime_api.h>
#include <c10/cuda/CUDAStream.h>
#include <c10/cuda/CUDAGuard.h>
extern "C" cudaError_t spc_strided_launch_bf16(const void*, const void*, const void*, void*, float*, const int*, const int*, int, int, float, cudaStream_t);
extern "C" cudaError_t spc_strided_launch_fp16(const void*, const void*, const void*, void*, float*, const int*, const int*, int, int, float, cudaStream_t);
std::vector<torch::Tensor> forward(torch::Tensor q, torch::Tensor k, torch::Tensor v, torch::Tensor table, torch::Tensor order, double scale) {
  c10::cuda::CUDAGuard guard(q.device());
  auto o = torch::empty_like(q);
  auto lse = torch::empty({q.size(0), q.size(1), q.size(2)}, q.options().dtype(torch::kFloat32));
  auto stream = c10::cuda::getCurrentCUDAStream(q.device().index()).stream();
  auto launch = q.scalar_type() == torch::kBFloat16 ? spc_strided_launch_bf16 : spc_strided_launch_fp16;
  cudaError_t err = launch(q.data_ptr(), k.data_ptr(), v.data_ptr(), o.data_ptr(), lse.data_ptr<float>(),
                           table.data_ptr<int>(), order.data_ptr<int>(), (int)order.numel(), (int)q.size(2), (float)scale, stream);
  TORCH_CHECK(err == cudaSuccess, "spc: kernel launch failed: ", cudaGetErrorString(err));
  return {o, lse};
}
'''


@functools.lru_cache(maxsize=None)
def _extension(major, minor):
    from torch.utils.cpp_extension import load_inline

    with open(os.path.join(_HERE, "kernel.cu")) as f:
        cuda_src = f.read()
    arch = "-gencode=arch=compute_90a,code=sm_90a" if (major, minor) == (9, 0) else f"-gencode=arch=compute_{major}{minor},code=sm_{major}{minor}"
    digest = hashlib.sha256((cuda_src + _CPP + arch).encode()).hexdigest()[:12]
    return load_inline(
        name=f"spc_{LAYOUT}_{digest}",
        cpp_sources=[_CPP],
        cuda_sources=[cuda_src],
        functions=["forward"],
        extra_cuda_cflags=["-O3", "--use_fast_math", "-std=c++17", arch],
        verbose=False,
    )


def _key_tiles(table, h, i0, i1, n):
    """Merged key-tile ranges of query rows [i0, i1) of head h: the kernel's own computation."""
    f = _table.FIELDS_PER_TERM
    spans = []
    for s in range(_table.TERM_SLOTS):
        o = (h * _table.TERM_SLOTS + s) * f
        d_lo, d_hi, k_lo, k_hi, q_lo, q_hi = table[o:o + 6]
        r0, r1 = max(i0, q_lo), min(i1, q_hi)
        if r0 >= r1 or d_lo >= d_hi or k_lo >= k_hi:
            continue
        a = max(k_lo, r0 - d_hi + 1, 0)
        e = min(k_hi, r1 - d_lo, n)
        if a < e:
            spans.append((a // BLOCK_N, -(-e // BLOCK_N)))
    spans.sort()
    merged = []
    for lo, hi in spans:
        if merged and lo <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], hi)
        else:
            merged.append([lo, hi])
    return merged


@functools.lru_cache(maxsize=64)
def schedule(n, batch, device):
    """(table, order) on the device for length n and batch size batch. Order: longest work first."""
    table = _table.head_table(n)
    qtiles = -(-n // BLOCK_M)
    work = []
    for h in range(HEADS):
        for qt in range(qtiles):
            i0 = qt * BLOCK_M
            tiles = sum(hi - lo for lo, hi in _key_tiles(table, h, i0, min(i0 + BLOCK_M, n), n))
            work.append((-tiles, h, qt))
    work.sort()
    order = [(b * HEADS + h) * qtiles + qt for _, h, qt in work for b in range(batch)]
    t = torch.tensor(table, dtype=torch.int32, device=device)
    o = torch.tensor(order, dtype=torch.int32, device=device)
    return t, o


def _check(q, k, v):
    for name, x in (("q", q), ("k", k), ("v", v)):
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"spc {LAYOUT}: {name} must be a torch.Tensor, got {type(x).__name__}")
        if not x.is_cuda:
            raise ValueError(f"spc {LAYOUT}: {name} must be on a CUDA device, got {x.device}")
        if x.dtype not in (torch.bfloat16, torch.float16):
            raise TypeError(f"spc {LAYOUT}: {name} must be bfloat16 or float16, got {x.dtype}")
        if x.dim() != 4:
            raise ValueError(f"spc {LAYOUT}: {name} must have 4 dimensions (B, heads, N, D), got shape {tuple(x.shape)}")
        if not x.is_contiguous():
            raise ValueError(f"spc {LAYOUT}: {name} must be contiguous in (B, heads, N, D) order; call .contiguous() first")
    if not (q.dtype == k.dtype == v.dtype):
        raise TypeError(f"spc {LAYOUT}: q, k and v must share one dtype, got {q.dtype}, {k.dtype}, {v.dtype}")
    if not (q.device == k.device == v.device):
        raise ValueError(f"spc {LAYOUT}: q, k and v must be on one device")
    B, H, N, D = q.shape
    if H != HEADS or D != HEAD_DIM:
        raise ValueError(f"spc {LAYOUT}: q must be (B, {HEADS}, N, {HEAD_DIM}), got {tuple(q.shape)}")
    for name, x in (("k", k), ("v", v)):
        if tuple(x.shape) != (B, KV_HEADS, N, D):
            raise ValueError(f"spc {LAYOUT}: {name} must be ({B}, {KV_HEADS}, {N}, {D}), got {tuple(x.shape)}")
    if N < 1:
        raise ValueError(f"spc {LAYOUT}: the sequence length must be at least 1")
    if SEQ is not None and N != SEQ:
        raise ValueError(f"spc {LAYOUT}: this layout has a fixed length {SEQ}, got N = {N}")
    if B * HEADS * -(-N // BLOCK_M) >= 2**31:
        raise ValueError(f"spc {LAYOUT}: too many work items for one launch")
    return B, N


class _Attention(torch.autograd.Function):
    @staticmethod
    def forward(ctx, q, k, v, scale):
        B, N = _check(q, k, v)
        major, minor = torch.cuda.get_device_capability(q.device)
        if major < 8:
            raise RuntimeError(f"spc {LAYOUT}: the CUDA kernels need compute capability 8.0 or newer (cp.async, bf16 tensor cores); this GPU has {major}.{minor}")
        table, order = schedule(N, B, q.device)
        out, lse = _extension(major, minor).forward(q, k, v, table, order, scale)
        ctx.mark_non_differentiable(lse)
        return out, lse

    @staticmethod
    def backward(ctx, dout, dlse):
        raise NotImplementedError(f"spc {LAYOUT}: the backward pass is not generated yet")


def attention(q, k, v, scale=None, return_lse=False):
    """Banded attention forward. q (B, 8, N, 64), k and v (B, 8, N, 64).

    Returns out (B, 8, N, 64) in q's dtype, and with return_lse=True also the
    float32 log-sum-exp (B, 8, N) of the scaled scores (natural log; -inf for a row with
    no allowed key, whose output is 0).
    """
    if scale is None:
        scale = 1.0 / math.sqrt(HEAD_DIM)
    if not (isinstance(scale, (int, float)) and math.isfinite(scale) and scale > 0):
        raise ValueError(f"spc {LAYOUT}: scale must be a positive finite number, got {scale!r}")
    out, lse = _Attention.apply(q, k, v, float(scale))
    return (out, lse) if return_lse else out
