// The forward kernel for sm_80 and newer: one block = one work item (batch, head, query tile).
// Flash-style: the Q tile in registers, K/V tiles double-buffered in shared memory (cp.async),
// tensor cores (mma.sync m16n8k16) with fp32 accumulation, online softmax in the log2 domain.
// Only key tiles inside the union of the head's term ranges are visited; only tiles that no single
// unmodded term covers fully are masked per element.
//
//   L (the layout): kD, kGroup (query heads per KV head), kTermSlots, kModSlots.
//   C (the tiles):  kWarps, kMTiles (16-row MMA tiles per warp), kBN (keys per tile), kMinBlocks
//                   (blocks per SM for __launch_bounds__), kSkipRescale (skip the O rescale when
//                   no row's maximum moved: fewer multiplies, more registers).
#pragma once
#include "common.cuh"
#include "mask.cuh"
#include "work.cuh"
#include "sm80/copy.cuh"
#include "sm80/mma.cuh"

namespace spc {

template <class T, class L, class C>
struct FwdSm80 {
  using elem_t = T;
  static constexpr int kWarps = C::kWarps, kMT = C::kMTiles, kBN = C::kBN, kMinBlocks = C::kMinBlocks;
  static constexpr int kThreads = kWarps * 32;
  static constexpr int kBM = kWarps * 16 * kMT;  // query rows per block
  static constexpr bool kQInRegs = kMT == 1;     // one tile per warp: Q in registers; else re-read from smem
  static constexpr bool kSkipRescale = C::kSkipRescale;
  static constexpr int kD = L::kD, kGroup = L::kGroup, kTermSlots = L::kTermSlots, kModSlots = L::kModSlots;
  static constexpr int kFields = MOD_BASE + MOD_STRIDE * kModSlots;
  static constexpr int kChunks = kD / 8;  // 16-byte chunks per row
  static_assert(kD % 16 == 0 && kBN % 16 == 0, "tile shapes");

  struct Smem {
    elem_t q[kBM * kD];
    elem_t k[2][kBN * kD];
    elem_t v[2][kBN * kD];
    int table[kTermSlots * kFields];
    TileRanges<kTermSlots> ranges;
  };
  static constexpr int kSmemBytes = (int)sizeof(Smem);

  // Row-major [rows][kD] tile, 16-byte chunks XOR-swizzled by row so ldmatrix is conflict-free.
  static __device__ __forceinline__ int swz(int row, int col) { return row * kD + ((((col >> 3) ^ (row & 7)) << 3) | (col & 7)); }

  // Copies rows [row0, row0 + ROWS) of an (N, kD) matrix whose rows are ld elements apart into a
  // swizzled tile; rows >= n are zero.
  // Each thread copies one 16-byte chunk column of rows r, r + kRowsPerPass, ...; since
  // kRowsPerPass is a multiple of 8 the swizzle of its chunk is the same in every pass.
  template <int ROWS>
  static __device__ __forceinline__ void load_tile(elem_t* dst, const elem_t* src, int row0, int n, int tid, int ld) {
    constexpr int kRowsPerPass = kThreads / kChunks;
    static_assert(kRowsPerPass % 8 == 0 && ROWS % kRowsPerPass == 0, "tile rows per pass");
    const int ch = tid % kChunks, r = tid / kChunks;
    elem_t* d = dst + swz(r, ch * 8);
    const elem_t* g = src + ((int64_t)row0 + r) * ld + ch * 8;
#pragma unroll
    for (int u = 0; u < ROWS / kRowsPerPass; ++u) {
      const bool valid = row0 + r + u * kRowsPerPass < n;
      cp_async16(d + u * kRowsPerPass * kD, valid ? g + u * kRowsPerPass * ld : src, valid);
    }
  }

  static __device__ __forceinline__ void run(const elem_t* __restrict__ Q, const elem_t* __restrict__ K, const elem_t* __restrict__ V,
                                             elem_t* __restrict__ O, float* __restrict__ LSE, const int* __restrict__ table,
                                             const int* __restrict__ order, int n, int heads, float scale_log2, const FwdStrides& st) {
    extern __shared__ __align__(128) unsigned char smem_raw[];
    Smem& sm = *reinterpret_cast<Smem*>(smem_raw);
    const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31;
    const int g = lane >> 2, t4 = lane & 3;
    const WorkItem w(order[blockIdx.x], n, heads, kBM, kGroup);
    const int i0 = w.i0;

    const elem_t* q = Q + st.q.slice(w.b, w.h);
    const elem_t* k = K + st.k.slice(w.b, w.kvh);
    const elem_t* v = V + st.v.slice(w.b, w.kvh);

    load_tile<kBM>(sm.q, q, i0, n, tid, (int)st.q.n);
    cp_commit();
    for (int x = tid; x < kTermSlots * kFields; x += kThreads) sm.table[x] = table[w.h * kTermSlots * kFields + x];
    __syncthreads();
    if (tid == 0) key_tile_ranges<kTermSlots, kFields, kBN>(sm.ranges, sm.table, i0, w.i1, n);
    cp_wait<0>();
    __syncthreads();

    // Per-lane ldmatrix offsets: swz(row, c + 16 kk) == swz(row, c) ^ (kk << 4), and whole
    // 16-row steps add 16 kD, so every fragment address is one XOR and one add away.
    const int wrow = warp * 16 * kMT;
    const int offQ = swz(wrow + (lane & 7) + ((lane >> 3) & 1) * 8, (lane >> 4) * 8);
    const int offK = swz((lane & 7) + (lane >> 4) * 8, ((lane >> 3) & 1) * 8);
    const int offV = swz((lane & 7) + ((lane >> 3) & 1) * 8, (lane >> 4) * 8);
    // Q fragments (A operands) of this warp's rows.
    uint32_t qa[kQInRegs ? kD / 16 : 1][4];
    if constexpr (kQInRegs) {
#pragma unroll
      for (int kk = 0; kk < kD / 16; ++kk) ldsm_x4(qa[kk][0], qa[kk][1], qa[kk][2], qa[kk][3], sm.q + (offQ ^ (kk << 4)));
    }

    float acc[kMT][kD / 8][4];
    float mrow[kMT][2], lrow[kMT][2];
#pragma unroll
    for (int mt = 0; mt < kMT; ++mt) {
#pragma unroll
      for (int x = 0; x < kD / 8; ++x) acc[mt][x][0] = acc[mt][x][1] = acc[mt][x][2] = acc[mt][x][3] = 0.f;
      mrow[mt][0] = mrow[mt][1] = -INFINITY;
      lrow[mt][0] = lrow[mt][1] = 0.f;
    }

    TileCursor<kTermSlots> cur(sm.ranges);
    int buf = 0;
    if (!cur.done()) {
      load_tile<kBN>(sm.k[0], k, cur.kt * kBN, n, tid, (int)st.k.n);
      load_tile<kBN>(sm.v[0], v, cur.kt * kBN, n, tid, (int)st.v.n);
      cp_commit();
    }
    while (!cur.done()) {
      const int kt = cur.kt;
      cur.next();
      cp_wait<0>();
      __syncthreads();
      if (!cur.done()) {
        load_tile<kBN>(sm.k[buf ^ 1], k, cur.kt * kBN, n, tid, (int)st.k.n);
        load_tile<kBN>(sm.v[buf ^ 1], v, cur.kt * kBN, n, tid, (int)st.v.n);
        cp_commit();
      }
      const int j0 = kt * kBN;
      // Full tile: one unmodded term covers every (i, j) of it, inside the grid (from the table in
      // shared memory, per tile: at 3 blocks per SM the kernel has no registers to keep the spans).
      bool full = false;
#pragma unroll
      for (int ts = 0; ts < kTermSlots; ++ts) {
        const Span f = full_key_span(sm.table + ts * kFields, kModSlots, i0, i0 + kBM, n);
        full = full || (j0 >= f.lo && j0 + kBN <= f.hi);
      }

      // S = Q K^T for this warp's rows x kBN keys; each K fragment feeds kMT row tiles.
      float s[kMT][kBN / 8][4];
#pragma unroll
      for (int mt = 0; mt < kMT; ++mt)
#pragma unroll
        for (int x = 0; x < kBN / 8; ++x) s[mt][x][0] = s[mt][x][1] = s[mt][x][2] = s[mt][x][3] = 0.f;
      const elem_t* ks = sm.k[buf];
#pragma unroll
      for (int kk = 0; kk < kD / 16; ++kk) {
        uint32_t a[kMT][4];
#pragma unroll
        for (int mt = 0; mt < kMT; ++mt) {
          if constexpr (kQInRegs) {
#pragma unroll
            for (int e = 0; e < 4; ++e) a[mt][e] = qa[kQInRegs ? kk : 0][e];
          } else {
            ldsm_x4(a[mt][0], a[mt][1], a[mt][2], a[mt][3], sm.q + ((offQ ^ (kk << 4)) + mt * 16 * kD));
          }
        }
#pragma unroll
        for (int np = 0; np < kBN / 16; ++np) {
          uint32_t b0, b1, b2, b3;
          ldsm_x4(b0, b1, b2, b3, ks + ((offK ^ (kk << 4)) + np * 16 * kD));
#pragma unroll
          for (int mt = 0; mt < kMT; ++mt) {
            mma16816<elem_t>(s[mt][2 * np], a[mt], b0, b1);
            mma16816<elem_t>(s[mt][2 * np + 1], a[mt], b2, b3);
          }
        }
      }

      // P in the A-fragment layout of the next mma, packed to 16 bits as soon as each tile is done.
      uint32_t pp[kMT][kBN / 16][4];
#pragma unroll
      for (int mt = 0; mt < kMT; ++mt) {
        const int rowA = i0 + wrow + mt * 16 + g, rowB = rowA + 8;
        // Mask partial tiles (scores stay unscaled until the exponent).
        if (!full) {
          const RowSpans<kTermSlots, kFields> rs(sm.table, rowA, rowB, n);
#pragma unroll
          for (int x = 0; x < kBN / 8; ++x) {
#pragma unroll
            for (int e = 0; e < 4; ++e) {
              const int r = e >> 1, j = j0 + x * 8 + 2 * t4 + (e & 1);
              if (!rs.template allows<kModSlots>(sm.table, r, r == 0 ? rowA : rowB, j)) s[mt][x][e] = -INFINITY;
            }
          }
        }
        // Online softmax in the log2 domain: rows g and g+8; a quad of lanes shares a row.
        float corrs[2];
#pragma unroll
        for (int r = 0; r < 2; ++r) {
          float mx = -INFINITY;
#pragma unroll
          for (int x = 0; x < kBN / 8; ++x) mx = fmaxf(mx, fmaxf(s[mt][x][2 * r], s[mt][x][2 * r + 1]));
          mx = fmaxf(mx, __shfl_xor_sync(0xffffffff, mx, 1));
          mx = fmaxf(mx, __shfl_xor_sync(0xffffffff, mx, 2));
          const float mnew = fmaxf(mrow[mt][r], mx * scale_log2);
          const float muse = mnew == -INFINITY ? 0.f : mnew;
          const float corr = exp2f(mrow[mt][r] - muse);
          mrow[mt][r] = mnew;
          float sum = 0.f;
#pragma unroll
          for (int x = 0; x < kBN / 8; ++x) {
            s[mt][x][2 * r] = exp2f(fmaf(s[mt][x][2 * r], scale_log2, -muse));
            s[mt][x][2 * r + 1] = exp2f(fmaf(s[mt][x][2 * r + 1], scale_log2, -muse));
            sum += s[mt][x][2 * r] + s[mt][x][2 * r + 1];
          }
          lrow[mt][r] = lrow[mt][r] * corr + sum;
          corrs[r] = corr;
        }
        // Rescale the accumulator only when some row of the warp has a new maximum.
        if (!kSkipRescale || __any_sync(0xffffffff, corrs[0] != 1.f || corrs[1] != 1.f)) {
#pragma unroll
          for (int x = 0; x < kD / 8; ++x) {
            acc[mt][x][0] *= corrs[0];
            acc[mt][x][1] *= corrs[0];
            acc[mt][x][2] *= corrs[1];
            acc[mt][x][3] *= corrs[1];
          }
        }
#pragma unroll
        for (int kk = 0; kk < kBN / 16; ++kk) {
          pp[mt][kk][0] = pack2<elem_t>(s[mt][2 * kk][0], s[mt][2 * kk][1]);
          pp[mt][kk][1] = pack2<elem_t>(s[mt][2 * kk][2], s[mt][2 * kk][3]);
          pp[mt][kk][2] = pack2<elem_t>(s[mt][2 * kk + 1][0], s[mt][2 * kk + 1][1]);
          pp[mt][kk][3] = pack2<elem_t>(s[mt][2 * kk + 1][2], s[mt][2 * kk + 1][3]);
        }
      }

      // O += P V; each V fragment feeds kMT row tiles.
      const elem_t* vs = sm.v[buf];
#pragma unroll
      for (int kk = 0; kk < kBN / 16; ++kk) {
#pragma unroll
        for (int dp = 0; dp < kD / 16; ++dp) {
          uint32_t b0, b1, b2, b3;
          ldsm_x4_t(b0, b1, b2, b3, vs + ((offV ^ (dp << 4)) + kk * 16 * kD));
#pragma unroll
          for (int mt = 0; mt < kMT; ++mt) {
            mma16816<elem_t>(acc[mt][2 * dp], pp[mt][kk], b0, b1);
            mma16816<elem_t>(acc[mt][2 * dp + 1], pp[mt][kk], b2, b3);
          }
        }
      }
      buf ^= 1;
    }

    // Epilogue: normalise, write O and lse; rows with no allowed key give 0 and -inf.
#pragma unroll
    for (int mt = 0; mt < kMT; ++mt)
#pragma unroll
      for (int r = 0; r < 2; ++r) {
        float l = lrow[mt][r];
        l += __shfl_xor_sync(0xffffffff, l, 1);
        l += __shfl_xor_sync(0xffffffff, l, 2);
        const int row = i0 + wrow + mt * 16 + g + 8 * r;
        const float inv = l > 0.f ? 1.f / l : 0.f;
        if (row < n) {
          elem_t* o = O + st.o.slice(w.b, w.h) + (int64_t)row * st.o.n;
#pragma unroll
          for (int x = 0; x < kD / 8; ++x)
            *reinterpret_cast<typename Elem<elem_t>::pair*>(o + x * 8 + 2 * t4) = Elem<elem_t>::pack(acc[mt][x][2 * r] * inv, acc[mt][x][2 * r + 1] * inv);
          if (t4 == 0) LSE[(int64_t)(w.b * heads + w.h) * n + row] = l > 0.f ? (mrow[mt][r] + log2f(l)) * kLn2 : -INFINITY;
        }
      }
  }

  // Host launcher without any framework: items = B * heads * ceil(N / kBM) blocks, longest first
  // in order; the table holds those heads' rows. grid is for the persistent sm_90 kernel (ignored).
  // strides: q, k, v, o (FwdStrides) as 12 int64 in host memory.
  template <class Kernel>
  static cudaError_t launch(Kernel kernel, const void* q, const void* k, const void* v, void* o, float* lse, const int* table,
                            const int* order, int items, int /*grid*/, int n, int heads, float scale, const int64_t* strides, cudaStream_t stream) {
    cudaError_t err = cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, kSmemBytes);
    if (err != cudaSuccess) return err;
    if (items == 0) return cudaSuccess;
    kernel<<<items, kThreads, kSmemBytes, stream>>>(static_cast<const elem_t*>(q), static_cast<const elem_t*>(k), static_cast<const elem_t*>(v),
                                                    static_cast<elem_t*>(o), lse, table, order, n, heads, scale * kLog2e,
                                                    strides_from<FwdStrides>(strides));
    return cudaGetLastError();
  }
};

}  // namespace spc
