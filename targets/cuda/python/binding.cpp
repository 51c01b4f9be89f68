// The PyTorch binding of an spc CUDA package (compiled by torch.utils.cpp_extension.load_inline
// beside the layout's kernel.cu). The launchers' names come as macros from the package
// (_op.py passes -DSPC_LAUNCH_SM90_BF16=..., -DSPC_BWD_BF16=... and the others); the forward
// launchers share one C signature (targets/cuda/source.ts LAUNCHER_PARAMS), the backward ones
// another (BWD_LAUNCHER_PARAMS).
#include <torch/extension.h>
#include <cuda_runtime_api.h>
#include <c10/cuda/CUDAStream.h>
#include <c10/cuda/CUDAGuard.h>

typedef cudaError_t (*launcher_t)(const void*, const void*, const void*, void*, float*, const int*, const int*, int, int, int, int, float,
                                  const int64_t*, cudaStream_t);
extern "C" cudaError_t SPC_LAUNCH_SM80_BF16(const void*, const void*, const void*, void*, float*, const int*, const int*, int, int, int, int, float,
                                            const int64_t*, cudaStream_t);
extern "C" cudaError_t SPC_LAUNCH_SM80_FP16(const void*, const void*, const void*, void*, float*, const int*, const int*, int, int, int, int, float,
                                            const int64_t*, cudaStream_t);
extern "C" cudaError_t SPC_LAUNCH_SM90_BF16(const void*, const void*, const void*, void*, float*, const int*, const int*, int, int, int, int, float,
                                            const int64_t*, cudaStream_t);
extern "C" cudaError_t SPC_LAUNCH_SM90_FP16(const void*, const void*, const void*, void*, float*, const int*, const int*, int, int, int, int, float,
                                            const int64_t*, cudaStream_t);

// The element strides (batch, head, row) of each tensor, in the launchers' order (spc::FwdStrides,
// spc::BwdStrides); every tensor has D contiguous (_op.py checks). A dimension of size 1 is only
// ever indexed at 0: its stride, which PyTorch leaves arbitrary, is given as 8 (16 bytes, which
// the tensor maps of the sm_90 kernels accept).
static void put_strides(int64_t* s, const torch::Tensor& t) {
  for (int d = 0; d < 3; ++d) s[d] = t.size(d) == 1 ? 8 : t.stride(d);
}

// order: the work items (with blocks > 0, grouped by block and followed by blocks + 1 offsets).
std::vector<torch::Tensor> forward(torch::Tensor q, torch::Tensor k, torch::Tensor v, torch::Tensor table, torch::Tensor order, int64_t blocks,
                                   double scale, bool sm90) {
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
  launcher_t launch = sm90 ? (bf16 ? SPC_LAUNCH_SM90_BF16 : SPC_LAUNCH_SM90_FP16) : (bf16 ? SPC_LAUNCH_SM80_BF16 : SPC_LAUNCH_SM80_FP16);
  const int items = (int)(blocks > 0 ? order.numel() - blocks - 1 : order.numel());
  cudaError_t err = launch(q.data_ptr(), k.data_ptr(), v.data_ptr(), o.data_ptr(), lse.data_ptr<float>(), table.data_ptr<int>(), order.data_ptr<int>(),
                           items, (int)blocks, (int)q.size(2), (int)q.size(1), (float)scale, strides, stream);
  TORCH_CHECK(err == cudaSuccess, "spc: kernel launch failed: ", cudaGetErrorString(err));
  return {o, lse};
}

typedef cudaError_t (*bwd_launcher_t)(const void*, const void*, const void*, const void*, const void*, const float*, const float*, void*, void*, void*, float*, float*,
                                      float*, const int*, const int*, int, const int*, int, int, int, int, float, int, const int64_t*, cudaStream_t);
extern "C" cudaError_t SPC_BWD_BF16(const void*, const void*, const void*, const void*, const void*, const float*, const float*, void*, void*, void*, float*, float*,
                                    float*, const int*, const int*, int, const int*, int, int, int, int, float, int, const int64_t*, cudaStream_t);
extern "C" cudaError_t SPC_BWD_FP16(const void*, const void*, const void*, const void*, const void*, const float*, const float*, void*, void*, void*, float*, float*,
                                    float*, const int*, const int*, int, const int*, int, int, int, int, float, int, const int64_t*, cudaStream_t);

extern "C" cudaError_t SPC_BWD90_BF16(const void*, const void*, const void*, const void*, const void*, const float*, const float*, void*, void*, void*,
                                      float*, float*, float*, const int*, const int*, int, const int*, int, int, int, int, float, int, const int64_t*, cudaStream_t);
extern "C" cudaError_t SPC_BWD90_FP16(const void*, const void*, const void*, const void*, const void*, const float*, const float*, void*, void*, void*,
                                      float*, float*, float*, const int*, const int*, int, const int*, int, int, int, int, float, int, const int64_t*, cudaStream_t);

// dq, dk, dv (in the layouts of q, k, v) of q, k, v ((B, heads, N, D) and (B, kv, N, D), D contiguous) from o, lse of the forward
// and dout; order: the backward's dK/dV work items (key tiles of KV heads), longest first;
// order_dq (the sm90 backward, or deterministic mode): the dq pass's items (query tiles), longest
// first. sm90: the wgmma backward (no dQ accumulator).
// dlse (optional, float32 (B, heads, N) contiguous): the gradient of the returned lse.
std::vector<torch::Tensor> backward(torch::Tensor q, torch::Tensor k, torch::Tensor v, torch::Tensor o, torch::Tensor lse, torch::Tensor dout,
                                    std::optional<torch::Tensor> dlse, torch::Tensor table, torch::Tensor order, torch::Tensor order_dq,
                                    double scale, bool deterministic, bool sm90) {
  c10::cuda::CUDAGuard guard(q.device());
  auto dq = torch::empty_like(q);
  auto dk = torch::empty_like(k);
  auto dv = torch::empty_like(v);
  auto f32 = q.options().dtype(torch::kFloat32);
  auto lse2 = torch::empty({q.size(0), q.size(1), q.size(2)}, f32);
  auto delta = torch::empty({q.size(0), q.size(1), q.size(2)}, f32);
  const bool no_acc = deterministic || sm90;
  auto dqacc = no_acc ? torch::empty({0}, f32) : torch::empty({q.size(0), q.size(1), q.size(2), q.size(3)}, f32);
  auto stream = c10::cuda::getCurrentCUDAStream(q.device().index()).stream();
  int64_t strides[24];
  const torch::Tensor* ts[8] = {&q, &k, &v, &o, &dout, &dq, &dk, &dv};
  for (int x = 0; x < 8; ++x) put_strides(strides + 3 * x, *ts[x]);
  const bool bf16 = q.scalar_type() == torch::kBFloat16;
  bwd_launcher_t launch = sm90 ? (bf16 ? SPC_BWD90_BF16 : SPC_BWD90_FP16) : (bf16 ? SPC_BWD_BF16 : SPC_BWD_FP16);
  cudaError_t err = launch(q.data_ptr(), k.data_ptr(), v.data_ptr(), o.data_ptr(), dout.data_ptr(), lse.data_ptr<float>(),
                           dlse.has_value() ? dlse->data_ptr<float>() : nullptr, dq.data_ptr(), dk.data_ptr(),
                           dv.data_ptr(), lse2.data_ptr<float>(), delta.data_ptr<float>(), no_acc ? nullptr : dqacc.data_ptr<float>(),
                           table.data_ptr<int>(), order.data_ptr<int>(), (int)order.numel(), order_dq.data_ptr<int>(), (int)order_dq.numel(),
                           (int)q.size(0), (int)q.size(2), (int)q.size(1), (float)scale, deterministic ? 1 : 0, strides, stream);
  TORCH_CHECK(err == cudaSuccess, "spc: backward kernel launch failed: ", cudaGetErrorString(err));
  return {dq, dk, dv};
}
