// The kernel headers on their own, with a test config: CI compiles this file with nvcc for
// sm_90a and sm_80 (test/cuda-target.test.ts) and checks ptxas reports no spills and no stack
// frame. A layout's generated .cu instantiates the same templates the same way.
#include "spc/fwd_sm80.cuh"
#include "spc/fwd_sm90.cuh"

namespace check {
struct Layout {
  static constexpr int kD = 128, kGroup = 2, kTermSlots = 2, kModSlots = 0;
};
struct Sm80Tiles {
  static constexpr int kWarps = 4, kMTiles = 1, kBN = 32, kMinBlocks = 3;
  static constexpr bool kSkipRescale = false;
};
struct Sm90Tiles {
  static constexpr bool kPersistent = true, kOverlap = true, kWgSkip = false;
  static constexpr int kWG = 2, kBN = 128, kStages = 3, kQBufs = 1, kMinBlocks = 1;
};
struct Sm90Blockwise {
  static constexpr bool kPersistent = false, kOverlap = true, kWgSkip = false;
  static constexpr int kWG = 2, kBN = 64, kStages = 3, kQBufs = 1, kMinBlocks = 1;
};
using Sm80 = spc::FwdSm80<__nv_bfloat16, Layout, Sm80Tiles>;
using Sm90 = spc::FwdSm90<__nv_bfloat16, Layout, Sm90Tiles>;
using Sm90B = spc::FwdSm90<__half, Layout, Sm90Blockwise>;
}  // namespace check

extern "C" __global__ void __launch_bounds__(check::Sm80::kThreads, check::Sm80::kMinBlocks)
check_fwd_sm80(const __nv_bfloat16* __restrict__ Q, const __nv_bfloat16* __restrict__ K, const __nv_bfloat16* __restrict__ V,
               __nv_bfloat16* __restrict__ O, float* __restrict__ LSE, const int* __restrict__ table, const int* __restrict__ order, int n,
               int heads, float scale_log2, const spc::FwdStrides st) {
  check::Sm80::run(Q, K, V, O, LSE, table, order, n, heads, scale_log2, st);
}
extern "C" __global__ void __launch_bounds__(check::Sm90::kThreads, check::Sm90::kMinBlocks)
check_fwd_sm90(const __nv_bfloat16* __restrict__ Q, const __nv_bfloat16* __restrict__ K, const __nv_bfloat16* __restrict__ V,
               __nv_bfloat16* __restrict__ O, float* __restrict__ LSE, const int* __restrict__ table, const int* __restrict__ order, int items,
               int n, int heads, float scale_log2, const spc::FwdStrides st, const __grid_constant__ CUtensorMap tmQ,
               const __grid_constant__ CUtensorMap tmK, const __grid_constant__ CUtensorMap tmV) {
  check::Sm90::run({Q, K, V, O, LSE, table, order, items, n, heads, scale_log2, st}, tmQ, tmK, tmV);
}
extern "C" __global__ void __launch_bounds__(check::Sm90B::kThreads, check::Sm90B::kMinBlocks)
check_fwd_sm90_blockwise(const __half* __restrict__ Q, const __half* __restrict__ K, const __half* __restrict__ V, __half* __restrict__ O,
                         float* __restrict__ LSE, const int* __restrict__ table, const int* __restrict__ order, int items, int n, int heads,
                         float scale_log2, const spc::FwdStrides st, const __grid_constant__ CUtensorMap tmQ,
                         const __grid_constant__ CUtensorMap tmK, const __grid_constant__ CUtensorMap tmV) {
  check::Sm90B::run({Q, K, V, O, LSE, table, order, items, n, heads, scale_log2, st}, tmQ, tmK, tmV);
}
