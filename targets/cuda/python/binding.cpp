// The PyTorch binding of an spc CUDA package (compiled by torch.utils.cpp_extension.load_inline
// beside the layout's kernel.cu). The layout's launchers, their C signatures and the names used
// here come from launchers.h, generated from the same signatures that define them
// (targets/cuda/source.ts LAUNCHER_PARAMS, BWD_LAUNCHER_PARAMS).
#include <torch/extension.h>
#include <cuda_runtime_api.h>
#include <c10/cuda/CUDAStream.h>
#include <c10/cuda/CUDAGuard.h>
#include "launchers.h"  // the layout's launchers and their types (generated from source.ts)

// The element strides (batch, head, row) of each tensor, in the launchers' order (spc::FwdStrides,
// spc::BwdStrides); every tensor has D contiguous (_op.py checks). A dimension of size 1 is only
// ever indexed at 0: its stride, which PyTorch leaves arbitrary, is given as if packed (the tensor
// maps of the sm_90 kernels then see the strides they were built with before strides existed).
static void put_strides(int64_t* s, const torch::Tensor& t) {
  s[2] = t.size(2) == 1 ? t.size(3) : t.stride(2);
  s[1] = t.size(1) == 1 ? t.size(2) * s[2] : t.stride(1);
  s[0] = t.size(0) == 1 ? t.size(1) * s[1] : t.stride(0);
}

// order: the work items (with blocks > 0, grouped by block and followed by blocks + 1 offsets).
// variant: the sm90 forward config (0: the package config; _layout.SM90_VARIANTS), 0 for sm80.
std::vector<torch::Tensor> forward(torch::Tensor q, torch::Tensor k, torch::Tensor v, torch::Tensor table, torch::Tensor order, int64_t blocks,
                                   double scale, bool sm90, int64_t variant) {
  c10::cuda::CUDAGuard guard(q.device());
  auto o = torch::empty_like(q);
  auto lse = torch::empty({q.size(0), q.size(1), q.size(2)}, q.options().dtype(torch::kFloat32));
  auto stream = c10::cuda::getCurrentCUDAStream(q.device().index()).stream();
  const bool bf16 = q.scalar_type() == torch::kBFloat16;
  int64_t strides[12];
  put_strides(strides, q);
  put_strides(strides + 3, k);
  put_strides(strides + 6, v);
  put_strides(strides + 9, o);
  spc_fwd_launcher_t launch = spc_fwd_launcher(sm90, bf16, (int)variant);
  TORCH_CHECK(launch != nullptr, "spc: this package has no forward kernel config variant ", variant);
  const int items = (int)(blocks > 0 ? order.numel() - blocks - 1 : order.numel());
  cudaError_t err = launch(q.data_ptr(), k.data_ptr(), v.data_ptr(), o.data_ptr(), lse.data_ptr<float>(), table.data_ptr<int>(), order.data_ptr<int>(),
                           items, (int)blocks, (int)q.size(2), (int)q.size(1), (float)scale, strides, stream);
  TORCH_CHECK(err == cudaSuccess, "spc: kernel launch failed: ", cudaGetErrorString(err));
  return {o, lse};
}

// dq, dk, dv (in the layouts of q, k, v) of q, k, v ((B, heads, N, D) and (B, kv, N, D), D contiguous) from o, lse of the forward
// and dout; order: the backward's dK/dV work items (key tiles of KV heads), longest first;
// order_dq (deterministic mode): the dq pass's items (query tiles), longest first. sm90: the
// wgmma backward. Both families accumulate dQ in fp32 (dqacc) unless deterministic.
// dlse (optional, float32 (B, heads, N) contiguous): the gradient of the returned lse.
std::vector<torch::Tensor> backward(torch::Tensor q, torch::Tensor k, torch::Tensor v, torch::Tensor o, torch::Tensor lse, torch::Tensor dout,
                                    std::optional<torch::Tensor> dlse, torch::Tensor table, torch::Tensor order, torch::Tensor order_dq,
                                    double scale, bool deterministic, bool sm90, bool poison) {
  c10::cuda::CUDAGuard guard(q.device());
  // poison (the checks: SPC_POISON=1): the gradients start as NaN, so an element the kernels do not
  // write shows.
  auto dq = poison ? torch::full_like(q, NAN) : torch::empty_like(q);
  auto dk = poison ? torch::full_like(k, NAN) : torch::empty_like(k);
  auto dv = poison ? torch::full_like(v, NAN) : torch::empty_like(v);
  auto f32 = q.options().dtype(torch::kFloat32);
  auto lse2 = torch::empty({q.size(0), q.size(1), q.size(2)}, f32);
  auto delta = torch::empty({q.size(0), q.size(1), q.size(2)}, f32);
  const bool no_acc = deterministic;
  auto dqacc = no_acc ? torch::empty({0}, f32) : torch::empty({q.size(0), q.size(1), q.size(2), q.size(3)}, f32);
  auto stream = c10::cuda::getCurrentCUDAStream(q.device().index()).stream();
  int64_t strides[24];
  const torch::Tensor* ts[8] = {&q, &k, &v, &o, &dout, &dq, &dk, &dv};
  for (int x = 0; x < 8; ++x) put_strides(strides + 3 * x, *ts[x]);
  const bool bf16 = q.scalar_type() == torch::kBFloat16;
  spc_bwd_launcher_t launch = spc_bwd_launcher(sm90, bf16);
  cudaError_t err = launch(q.data_ptr(), k.data_ptr(), v.data_ptr(), o.data_ptr(), dout.data_ptr(), lse.data_ptr<float>(),
                           dlse.has_value() ? dlse->data_ptr<float>() : nullptr, dq.data_ptr(), dk.data_ptr(),
                           dv.data_ptr(), lse2.data_ptr<float>(), delta.data_ptr<float>(), no_acc ? nullptr : dqacc.data_ptr<float>(),
                           table.data_ptr<int>(), order.data_ptr<int>(), (int)order.numel(), order_dq.data_ptr<int>(), (int)order_dq.numel(),
                           (int)q.size(0), (int)q.size(2), (int)q.size(1), (float)scale, deterministic ? 1 : 0, strides, stream);
  TORCH_CHECK(err == cudaSuccess, "spc: backward kernel launch failed: ", cudaGetErrorString(err));
  return {dq, dk, dv};
}
