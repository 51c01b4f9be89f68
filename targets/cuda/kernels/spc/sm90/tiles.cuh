// Shared-memory tiles for wgmma (sm_90): the 128-byte-swizzled layout, cp.async tile loads, and
// the two matrix products of attention on one key tile (S = Q K^T, O += P V).
#pragma once
#include "../common.cuh"
#include "../sm80/copy.cuh"
#include "wgmma.cuh"

namespace spc {

// A [ROWS][kD] tile is kD / 64 column blocks of [ROWS][64] (128 bytes a row); in each, the 16-byte
// chunk c of row r sits at chunk c ^ (r % 8): the hardware's 128-byte swizzle, given 1024-byte
// aligned blocks. The tensor copy engine writes the same layout (CU_TENSOR_MAP_SWIZZLE_128B).
template <int ROWS>
__device__ __forceinline__ int swz128(int row, int col) {
  return ((col >> 6) * ROWS + row) * 64 + ((((col >> 3) & 7) ^ (row & 7)) << 3) + (col & 7);
}

// Wait until at most PENDING of this thread's copy groups are in flight, and make the finished
// ones visible to the tensor cores (the async proxy).
template <int PENDING>
__device__ __forceinline__ void cp_wait_async_proxy() {
  cp_wait<PENDING>();
  asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");
}

template <class T, int kD, int kBM, int kBN, int kThreads>
struct Sm90Tiles {
  static constexpr int kChunks = kD / 8;  // 16-byte chunks per row

  // Copies rows [row0, row0 + ROWS) of an (N, kD) matrix whose rows are ld elements apart into a
  // swizzled tile; rows >= n are zero.
  // When the threads cover whole 8-row groups, each thread copies one chunk column of rows r,
  // r + kRowsPerPass, ... (one swizzle for all); otherwise chunk by chunk.
  template <int ROWS>
  static __device__ __forceinline__ void load_tile(T* dst, const T* src, int row0, int n, int tid, int64_t ld) {
    constexpr int kRowsPerPass = kThreads / kChunks;
    if constexpr (kThreads % kChunks == 0 && kRowsPerPass % 8 == 0 && ROWS % kRowsPerPass == 0) {
      const int ch = tid % kChunks, r = tid / kChunks;
      T* d = dst + swz128<ROWS>(r, ch * 8);
      const T* g = src + ((int64_t)row0 + r) * ld + ch * 8;
#pragma unroll
      for (int u = 0; u < ROWS / kRowsPerPass; ++u) {
        const bool valid = row0 + r + u * kRowsPerPass < n;
        cp_async16(d + u * kRowsPerPass * 64, valid ? g + (int64_t)u * kRowsPerPass * ld : src, valid);
      }
    } else {
      constexpr int kTotal = ROWS * kChunks;
#pragma unroll
      for (int c0 = 0; c0 < kTotal; c0 += kThreads) {
        const int c = c0 + tid, r = c / kChunks, ch = c % kChunks;
        const bool valid = row0 + r < n;
        if (c < kTotal) cp_async16(dst + swz128<ROWS>(r, ch * 8), valid ? src + ((int64_t)row0 + r) * ld + ch * 8 : src, valid);
      }
    }
  }

  // S = Q K^T of one key tile: kD / 16 wgmma steps, both operands in shared memory (issued, not
  // awaited). K-major operands (Q, K): 8-row groups 1024 bytes apart (stride), no leading offset
  // within one 16-wide k step. qbase: the warpgroup's 64 rows of the Q tile.
  static __device__ __forceinline__ void issue_s(float (&s)[kBN / 2], const T* qbase, const T* kt) {
#pragma unroll
    for (int kk = 0; kk < kD / 16; ++kk) {
      const uint64_t da = mdesc(qbase + (kk >> 2) * kBM * 64 + (kk & 3) * 16, 16, 1024);
      const uint64_t db = mdesc(kt + (kk >> 2) * kBN * 64 + (kk & 3) * 16, 16, 1024);
      WgmmaSS<T, kBN>::mma(s, da, db, kk > 0 ? 1 : 0);
    }
  }
  // O += P V of one key tile: P from registers (the A layout of m64k16), V read transposed
  // (MN-major): column blocks of 64 (leading) are kBN * 128 bytes apart, 8-key groups 1024 bytes
  // apart (stride).
  static __device__ __forceinline__ void issue_pv(float (&acc)[kD / 2], const uint32_t (&p)[kBN / 16][4], const T* vt) {
#pragma unroll
    for (int kk = 0; kk < kBN / 16; ++kk) WgmmaRS<T, kD>::mma(acc, p[kk], mdesc(vt + kk * 16 * 64, kBN * 128, 1024));
  }
};

}  // namespace spc
