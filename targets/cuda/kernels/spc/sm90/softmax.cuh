// Online softmax of one key tile for a warpgroup's wgmma accumulator (sm_90), in the log2 domain.
// Accumulator layout (m64nN, fp32): warp w of the group holds rows 16w + g and 16w + g + 8;
// element s[4x + e] is row (e >> 1 ? +8 : 0), key 8x + 2 t4 + (e & 1).
#pragma once
#include "../common.cuh"
#include "../mask.cuh"

namespace spc {

// Masks S (unless full) and turns it into probabilities in place; running max mrow and sum lrow
// of the thread's rows rowA and rowB = rowA + 8, whose keys per term are rs (computed once per
// work item: the rows are the same for every tile); corr: the factor the output accumulator must
// be scaled by.
template <int kBN, int kTermSlots, int kFields, int kModSlots>
__device__ __forceinline__ void mask_softmax(float (&s)[kBN / 2], float (&corr)[2], float (&mrow)[2], float (&lrow)[2], const int* table,
                                             const RowSpans<kTermSlots, kFields>& rs, bool full, int rowA, int rowB, int j0, int t4,
                                             float scale_log2) {
  if (!full) {
#pragma unroll
    for (int x = 0; x < kBN / 8; ++x) {
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        const int r = e >> 1, j = j0 + x * 8 + 2 * t4 + (e & 1);
        if (!rs.template allows<kModSlots>(table, r, r == 0 ? rowA : rowB, j)) s[4 * x + e] = -INFINITY;
      }
    }
  }
  // A quad of lanes shares a row.
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    float mx = -INFINITY;
#pragma unroll
    for (int x = 0; x < kBN / 8; ++x) mx = fmaxf(mx, fmaxf(s[4 * x + 2 * r], s[4 * x + 2 * r + 1]));
    mx = fmaxf(mx, __shfl_xor_sync(0xffffffff, mx, 1));
    mx = fmaxf(mx, __shfl_xor_sync(0xffffffff, mx, 2));
    const float mnew = fmaxf(mrow[r], mx * scale_log2);
    const float muse = mnew == -INFINITY ? 0.f : mnew;
    corr[r] = exp2f(mrow[r] - muse);
    mrow[r] = mnew;
    float sum = 0.f;
#pragma unroll
    for (int x = 0; x < kBN / 8; ++x) {
      s[4 * x + 2 * r] = exp2f(fmaf(s[4 * x + 2 * r], scale_log2, -muse));
      s[4 * x + 2 * r + 1] = exp2f(fmaf(s[4 * x + 2 * r + 1], scale_log2, -muse));
      sum += s[4 * x + 2 * r] + s[4 * x + 2 * r + 1];
    }
    lrow[r] = lrow[r] * corr[r] + sum;
  }
}

template <int kD>
__device__ __forceinline__ void rescale(float (&acc)[kD / 2], const float (&corr)[2]) {
#pragma unroll
  for (int x = 0; x < kD / 8; ++x) {
    acc[4 * x] *= corr[0];
    acc[4 * x + 1] *= corr[0];
    acc[4 * x + 2] *= corr[1];
    acc[4 * x + 3] *= corr[1];
  }
}

// P in the registers of the next wgmma (the m64k16 A fragment): 16-bit pairs of the probabilities.
template <class T, int kBN>
__device__ __forceinline__ void pack_p(uint32_t (&p)[kBN / 16][4], const float (&s)[kBN / 2]) {
#pragma unroll
  for (int kk = 0; kk < kBN / 16; ++kk) {
#pragma unroll
    for (int e = 0; e < 4; ++e) p[kk][e] = pack2<T>(s[8 * kk + 2 * e], s[8 * kk + 2 * e + 1]);
  }
}

// Normalises and writes the thread's rows rowA and rowB of O (o: the (N, kD) rows of the head, ld
// elements apart) and lse (natural log); rows with no allowed key give 0 and -inf.
template <class T, int kD>
__device__ __forceinline__ void epilogue(const float (&acc)[kD / 2], const float (&mrow)[2], const float (&lrow)[2], T* o, int64_t ld, float* lse,
                                         int rowA, int rowB, int n, int t4) {
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    float l = lrow[r];
    l += __shfl_xor_sync(0xffffffff, l, 1);
    l += __shfl_xor_sync(0xffffffff, l, 2);
    const int row = r == 0 ? rowA : rowB;
    const float inv = l > 0.f ? 1.f / l : 0.f;
    if (row < n) {
      T* orow = o + (int64_t)row * ld;
#pragma unroll
      for (int x = 0; x < kD / 8; ++x)
        *reinterpret_cast<typename Elem<T>::pair*>(orow + x * 8 + 2 * t4) = Elem<T>::pack(acc[4 * x + 2 * r] * inv, acc[4 * x + 2 * r + 1] * inv);
      if (t4 == 0) lse[row] = l > 0.f ? (mrow[r] + log2f(l)) * kLn2 : -INFINITY;
    }
  }
}

}  // namespace spc
