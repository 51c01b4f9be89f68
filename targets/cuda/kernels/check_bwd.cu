// The backward kernel headers on their own, with a test config (the kernels themselves were checked
// on an H200 through the layouts' packages, test/cuda/check_cuda.py; the pipelined sm90 dK/dV kernel
// too: bench/results/cuda-2026-12-01-bwd-pipe.md): CI compiles this file with nvcc for sm_90a and sm_80
// (test/cuda-bwd.test.ts) and checks ptxas reports no spills and no warnings.
#include "spc/bwd_sm80.cuh"
#include "spc/bwd_sm90.cuh"

namespace check_bwd {
struct Layout {
  static constexpr int kD = 128, kGroup = 2, kTermSlots = 2, kModSlots = 0;
};
struct LayoutMod {
  static constexpr int kD = 64, kGroup = 1, kTermSlots = 3, kModSlots = 1;
};
struct Tiles {
  static constexpr int kWarps = 4, kBM = 32, kMinBlocks = 1;
};
struct Tiles64 {
  static constexpr int kWarps = 4, kBM = 64, kMinBlocks = 1;
};
using Bwd = spc::BwdSm80<__nv_bfloat16, Layout, Tiles>;
using BwdH = spc::BwdSm80<__half, LayoutMod, Tiles64>;
using Bwd90 = spc::BwdSm90<__nv_bfloat16, Layout, Tiles>;
using Bwd90H = spc::BwdSm90<__half, LayoutMod, Tiles64>;
// The warp-specialised dK/dV kernel (bwd90.dq = "writer": a producer warpgroup, dQ added by the
// tensor copy engine's reduce), on the same two test layouts.
struct TilesW : Tiles {
  static constexpr bool kDqWriter = true;
};
struct Tiles64W : Tiles64 {
  static constexpr bool kDqWriter = true;
};
// and its 128-row form (D = 64, one query head a group, two table slots: where bwd90.rows = 128 is allowed).
struct LayoutWide {
  static constexpr int kD = 64, kGroup = 1, kTermSlots = 2, kModSlots = 0;
};
struct TilesWideW : Tiles64 {
  static constexpr int kBMq = 128;
  static constexpr bool kDqWriter = true;
};
using Bwd90W = spc::BwdSm90<__nv_bfloat16, Layout, TilesW>;
using Bwd90WH = spc::BwdSm90<__half, LayoutMod, Tiles64W>;
using Bwd90WW = spc::BwdSm90<__nv_bfloat16, LayoutWide, TilesWideW>;
}  // namespace check_bwd

#define SPC_CHECK_BWD(NAME, B, T)                                                                                                                     \
  extern "C" __global__ void __launch_bounds__(B::kPreThreads) NAME##_pre(const T* __restrict__ O, const T* __restrict__ dO,                         \
                                                                          const float* __restrict__ LSE, const float* __restrict__ dLSE, float* __restrict__ LSE2,                   \
                                                                          float* __restrict__ Delta, float* __restrict__ dQacc, int64_t rows, int n, int heads, \
      const spc::Strides so, const spc::Strides sdo) {      \
    B::preprocess(O, dO, LSE, dLSE, LSE2, Delta, dQacc, rows, n, heads, so, sdo);                                                                                           \
  }                                                                                                                                                 \
  extern "C" __global__ void __launch_bounds__(B::kThreads, B::kMinBlocks)                                                                         \
      NAME##_dkdv(const T* __restrict__ Q, const T* __restrict__ K, const T* __restrict__ V, const T* __restrict__ dO, const float* __restrict__ LSE2, \
                  const float* __restrict__ Delta, T* __restrict__ dK, T* __restrict__ dV, float* __restrict__ dQacc, const int* __restrict__ table,  \
                  const int* __restrict__ order, int n, int heads, float scale, float scale_log2, const spc::BwdStrides st) {                                                  \
    B::template dkdv<true>(Q, K, V, dO, LSE2, Delta, dK, dV, dQacc, table, order, n, heads, scale, scale_log2, st);                                    \
  }                                                                                                                                                 \
  extern "C" __global__ void __launch_bounds__(B::kThreads, B::kMinBlocks)                                                                         \
      NAME##_dkdv_det(const T* __restrict__ Q, const T* __restrict__ K, const T* __restrict__ V, const T* __restrict__ dO,                          \
                      const float* __restrict__ LSE2, const float* __restrict__ Delta, T* __restrict__ dK, T* __restrict__ dV,                      \
                      float* __restrict__ dQacc, const int* __restrict__ table, const int* __restrict__ order, int n, int heads, float scale,       \
                      float scale_log2, const spc::BwdStrides st) {                                                                                                           \
    B::template dkdv<false>(Q, K, V, dO, LSE2, Delta, dK, dV, dQacc, table, order, n, heads, scale, scale_log2, st);                                   \
  }                                                                                                                                                 \
  extern "C" __global__ void __launch_bounds__(B::kThreads, B::kMinBlocks)                                                                         \
      NAME##_dq(const T* __restrict__ Q, const T* __restrict__ K, const T* __restrict__ V, const T* __restrict__ dO, const float* __restrict__ LSE2,   \
                const float* __restrict__ Delta, T* __restrict__ dQ, const int* __restrict__ table, const int* __restrict__ order, int n, int heads,   \
                float scale, float scale_log2, const spc::BwdStrides st) {                                                                                                    \
    B::dq(Q, K, V, dO, LSE2, Delta, dQ, table, order, n, heads, scale, scale_log2, st);                                                                \
  }                                                                                                                                                 \
  extern "C" __global__ void __launch_bounds__(B::kConvThreads) NAME##_convert(const float* __restrict__ dQacc, T* __restrict__ dQ, int64_t rows, float scale, int n, int heads, const spc::Strides sdq) {                                                       \
    B::convert(dQacc, dQ, rows, scale, n, heads, sdq);                                                                                                             \
  }

SPC_CHECK_BWD(check_bwd_sm80, check_bwd::Bwd, __nv_bfloat16)
SPC_CHECK_BWD(check_bwd_sm80_mod, check_bwd::BwdH, __half)

// The host launcher instantiates (a layout's generated part will call it the same way).
extern "C" cudaError_t check_bwd_launch(const void* q, const void* k, const void* v, const void* o, const void* dout, const float* lse, const float* dlse, void* dq,
                                        void* dk, void* dv, float* lse2, float* delta, float* dqacc, const int* table, const int* order, int items,
                                        const int* order_dq, int items_dq, int batch, int n, int heads, float scale, int deterministic,
                                        const int64_t* strides, cudaStream_t stream) {
  return check_bwd::Bwd::launch(check_bwd_sm80_pre, check_bwd_sm80_dkdv, check_bwd_sm80_convert, check_bwd_sm80_dkdv_det, check_bwd_sm80_dq, q, k, v, o, dout, lse, dlse, dq, dk, dv, lse2, delta, dqacc,
                                table, order, items, order_dq, items_dq, batch, n, heads, scale, deterministic, strides, stream);
}

#define SPC_CHECK_BWD90_DKDV(NAME, B, T, DQ, THREADS)                                                                                                         \
  extern "C" __global__ void __launch_bounds__(B::THREADS, 1)                                                                                     \
      NAME(const T* __restrict__ Q, const T* __restrict__ K, const T* __restrict__ V, const T* __restrict__ dO, const float* __restrict__ LSE2,      \
           const float* __restrict__ Delta, T* __restrict__ dK, T* __restrict__ dV, float* __restrict__ dQacc, const int* __restrict__ table,       \
           const int* __restrict__ order, int n, int heads, float scale, float scale_log2, const spc::BwdStrides st,                               \
           const __grid_constant__ CUtensorMap tmQ, const __grid_constant__ CUtensorMap tmK, const __grid_constant__ CUtensorMap tmV,                \
           const __grid_constant__ CUtensorMap tmDO, const __grid_constant__ CUtensorMap tmDQ) {                                                    \
    B::template dkdv<DQ>(Q, K, V, dO, LSE2, Delta, dK, dV, dQacc, table, order, n, heads, scale, scale_log2, st, tmQ, tmK, tmV, tmDO, tmDQ);       \
  }
#define SPC_CHECK_BWD90(NAME, B, T)                                                                                                                   \
  SPC_CHECK_BWD90_DKDV(NAME##_dkdv, B, T, true, kDkdvThreads)                                                                                      \
  SPC_CHECK_BWD90_DKDV(NAME##_dkdv_det, B, T, false, kThreads)                                                                                     \
  extern "C" __global__ void __launch_bounds__(B::kThreads, 1)                                                                                     \
      NAME##_dq(const T* __restrict__ Q, const T* __restrict__ K, const T* __restrict__ V, const T* __restrict__ dO, const float* __restrict__ LSE2,   \
                const float* __restrict__ Delta, T* __restrict__ dQ, const int* __restrict__ table, const int* __restrict__ order, int n, int heads,   \
                float scale, float scale_log2, const spc::BwdStrides st) {                                                                        \
    B::dq(Q, K, V, dO, LSE2, Delta, dQ, table, order, n, heads, scale, scale_log2, st);                                                                \
  }

SPC_CHECK_BWD90(check_bwd_sm90, check_bwd::Bwd90, __nv_bfloat16)
SPC_CHECK_BWD90(check_bwd_sm90_mod, check_bwd::Bwd90H, __half)
SPC_CHECK_BWD90(check_bwd_sm90w, check_bwd::Bwd90W, __nv_bfloat16)
SPC_CHECK_BWD90(check_bwd_sm90w_mod, check_bwd::Bwd90WH, __half)
SPC_CHECK_BWD90(check_bwd_sm90w_wide, check_bwd::Bwd90WW, __nv_bfloat16)

extern "C" cudaError_t check_bwd90_launch(const void* q, const void* k, const void* v, const void* o, const void* dout, const float* lse,
                                          const float* dlse, void* dq, void* dk, void* dv, float* lse2, float* delta, float* dqacc, const int* table,
                                          const int* order, int items, const int* order_dq, int items_dq, int batch, int n, int heads, float scale,
                                          int deterministic, const int64_t* strides, cudaStream_t stream) {
  return check_bwd::Bwd90::launch(check_bwd_sm80_pre, check_bwd_sm90_dkdv, check_bwd_sm80_convert, check_bwd_sm90_dkdv_det, check_bwd_sm90_dq, q, k, v, o, dout, lse, dlse, dq, dk, dv, lse2, delta,
                                  dqacc, table, order, items, order_dq, items_dq, batch, n, heads, scale, deterministic, strides, stream);
}

// The writer kernel's launcher (its dQ tensor map and the two dK/dV launches) instantiated too.
extern "C" cudaError_t check_bwd90w_launch(const void* q, const void* k, const void* v, const void* o, const void* dout, const float* lse,
                                           const float* dlse, void* dq, void* dk, void* dv, float* lse2, float* delta, float* dqacc, const int* table,
                                           const int* order, int items, const int* order_dq, int items_dq, int batch, int n, int heads, float scale,
                                           int deterministic, const int64_t* strides, cudaStream_t stream) {
  return check_bwd::Bwd90W::launch(check_bwd_sm80_pre, check_bwd_sm90w_dkdv, check_bwd_sm80_convert, check_bwd_sm90w_dkdv_det, check_bwd_sm90w_dq, q, k, v, o, dout, lse, dlse, dq, dk, dv,
                                   lse2, delta, dqacc, table, order, items, order_dq, items_dq, batch, n, heads, scale, deterministic, strides, stream);
}
