// The CUDA kernel template. Placeholders SPC_* are replaced by targets/cuda/index.ts with
// per-layout constants (constexpr), so the kernel body is one fixed text that nvcc specialises.
import { CP_ASYNC, KEY_TILE_RANGES, MODS_ALLOW, PACK_FLOORMOD, WORK_ITEM } from './common.js';

export const KERNEL_TEMPLATE = String.raw`
// ---- spc banded attention forward: one block = (batch, head, query tile). ----
// Flash-style: Q tile in registers, K/V tiles double-buffered in shared memory (cp.async),
// bf16/fp16 tensor cores (mma.sync m16n8k16) with fp32 accumulation, online softmax in the
// log2 domain. Only key tiles inside the union of the head's term ranges are visited; only
// tiles that no single unmodded term covers fully are masked per element.
#include <cuda_runtime.h>
#include <cuda_fp16.h>
#include <cuda_bf16.h>
#include <stdint.h>
#include <limits.h>

namespace SPC_NS {

constexpr int kWarps = SPC_WARPS;
constexpr int kMT = SPC_MTILES;         // 16-row MMA tiles per warp: each K/V fragment feeds kMT of them
constexpr int kThreads = kWarps * 32;
constexpr int kBM = kWarps * 16 * kMT;  // query rows per block
constexpr bool kQInRegs = kMT == 1;
constexpr bool kSkipRescale = SPC_SKIP_RESCALE;  // skip the O rescale when no row's maximum moved (costs registers)     // with one tile per warp Q stays in registers; else it is re-read from smem
constexpr int kBN = SPC_BN;             // keys per tile
constexpr int kD = SPC_D;               // head dim
constexpr int kGroup = SPC_GROUP;       // query heads per KV head
constexpr int kTermSlots = SPC_TERM_SLOTS;
constexpr int kModSlots = SPC_MOD_SLOTS;
constexpr int kFields = 6 + 4 * kModSlots;
constexpr int kChunks = kD / 8;         // 16-byte chunks per row
typedef SPC_ELEM elem_t;

static_assert(kD % 16 == 0 && kBN % 16 == 0, "tile shapes");

__device__ __forceinline__ uint32_t smem_u32(const void* p) {
  return static_cast<uint32_t>(__cvta_generic_to_shared(p));
}
// Row-major [rows][kD] tile, 16-byte chunks XOR-swizzled by row so ldmatrix is conflict-free.
__device__ __forceinline__ int swz(int row, int col) {
  return row * kD + ((((col >> 3) ^ (row & 7)) << 3) | (col & 7));
}
${CP_ASYNC}
__device__ __forceinline__ void cp_wait_all() { asm volatile("cp.async.wait_group 0;\n" ::); }

__device__ __forceinline__ void ldsm_x4(uint32_t& r0, uint32_t& r1, uint32_t& r2, uint32_t& r3, const void* p) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r0), "=r"(r1), "=r"(r2), "=r"(r3) : "r"(smem_u32(p)));
}
__device__ __forceinline__ void ldsm_x4_t(uint32_t& r0, uint32_t& r1, uint32_t& r2, uint32_t& r3, const void* p) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r0), "=r"(r1), "=r"(r2), "=r"(r3) : "r"(smem_u32(p)));
}
__device__ __forceinline__ void mma16816(float* c, const uint32_t* a, uint32_t b0, uint32_t b1) {
  asm volatile(SPC_MMA
               " {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
               : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
               : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}
${PACK_FLOORMOD}

// Do the mods of term t allow (i, j)? (Its intervals are checked by the caller.) Table in shared memory.
${MODS_ALLOW}

struct Smem {
  elem_t q[kBM * kD];
  elem_t k[2][kBN * kD];
  elem_t v[2][kBN * kD];
  int table[kTermSlots * kFields];
  int ranges[kTermSlots][2];  // merged key-tile ranges [lo, hi)
  int nranges;
};

// Copies rows [row0, row0 + rows) of a (N, kD) matrix into a swizzled tile; rows >= n are zero.
// Each thread copies one 16-byte chunk column of rows r, r + kRowsPerPass, ...; since
// kRowsPerPass is a multiple of 8 the swizzle of its chunk is the same in every pass.
template <int ROWS>
__device__ __forceinline__ void load_tile(elem_t* dst, const elem_t* src, int row0, int n, int tid) {
  constexpr int kRowsPerPass = kThreads / kChunks;
  static_assert(kRowsPerPass % 8 == 0 && ROWS % kRowsPerPass == 0, "tile rows per pass");
  const int ch = tid % kChunks, r = tid / kChunks;
  elem_t* d = dst + swz(r, ch * 8);
  const elem_t* g = src + ((int64_t)row0 + r) * kD + ch * 8;
#pragma unroll
  for (int u = 0; u < ROWS / kRowsPerPass; ++u) {
    const bool valid = row0 + r + u * kRowsPerPass < n;
    cp_async16(d + u * kRowsPerPass * kD, valid ? g + (int64_t)u * kRowsPerPass * kD : src, valid);
  }
}

extern "C" __global__ void __launch_bounds__(kThreads, SPC_MIN_BLOCKS)
SPC_KERNEL_NAME(const elem_t* __restrict__ Q, const elem_t* __restrict__ K, const elem_t* __restrict__ V,
                elem_t* __restrict__ O, float* __restrict__ LSE, const int* __restrict__ table,
                const int* __restrict__ order, int n, int heads, float scale_log2) {
  extern __shared__ __align__(128) unsigned char smem_raw[];
  Smem& sm = *reinterpret_cast<Smem*>(smem_raw);
  const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31;
  const int g = lane >> 2, t4 = lane & 3;

${WORK_ITEM}

  const elem_t* q = Q + ((int64_t)(b * heads + h) * n) * kD;
  const elem_t* k = K + ((int64_t)(b * kvheads + kvh) * n) * kD;
  const elem_t* v = V + ((int64_t)(b * kvheads + kvh) * n) * kD;

  load_tile<kBM>(sm.q, q, i0, n, tid);
  cp_commit();
  for (int x = tid; x < kTermSlots * kFields; x += kThreads) sm.table[x] = table[h * kTermSlots * kFields + x];
  __syncthreads();
${KEY_TILE_RANGES}
  cp_wait_all();
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
    for (int kk = 0; kk < kD / 16; ++kk) {
      ldsm_x4(qa[kk][0], qa[kk][1], qa[kk][2], qa[kk][3], sm.q + (offQ ^ (kk << 4)));
    }
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

  const int nr = sm.nranges;
  int ri = 0, kt = nr > 0 ? sm.ranges[0][0] : 0;
  int buf = 0;
  if (nr > 0) {
    load_tile<kBN>(sm.k[0], k, kt * kBN, n, tid);
    load_tile<kBN>(sm.v[0], v, kt * kBN, n, tid);
    cp_commit();
  }
  while (ri < nr) {
    // Next tile in the merged ranges.
    int nri = ri, nkt = kt + 1;
    if (nkt >= sm.ranges[nri][1]) { ++nri; nkt = nri < nr ? sm.ranges[nri][0] : 0; }
    cp_wait_all();
    __syncthreads();
    if (nri < nr) {
      load_tile<kBN>(sm.k[buf ^ 1], k, nkt * kBN, n, tid);
      load_tile<kBN>(sm.v[buf ^ 1], v, nkt * kBN, n, tid);
      cp_commit();
    }
    const int j0 = kt * kBN, j1 = j0 + kBN;
    // Full tile: one unmodded term covers every (i, j) of it, and it lies inside the grid.
    bool full = j1 <= n && i0 + kBM <= n;
    if (full) {
      bool any = false;
#pragma unroll
      for (int s = 0; s < kTermSlots; ++s) {
        const int* tt = sm.table + s * kFields;
        bool nomod = true;
#pragma unroll
        for (int m = 0; m < kModSlots; ++m) {
          const int* md = tt + 6 + 4 * m;
          nomod = nomod && md[2] <= 0 && md[3] >= md[1];
        }
        any = any || (nomod && i0 - (j1 - 1) >= tt[0] && (i0 + kBM - 1) - j0 < tt[1] && j0 >= tt[2] && j1 <= tt[3] &&
                      i0 >= tt[4] && i0 + kBM <= tt[5]);
      }
      full = any;
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
          mma16816(s[mt][2 * np], a[mt], b0, b1);
          mma16816(s[mt][2 * np + 1], a[mt], b2, b3);
        }
      }
    }

    // P in the A-fragment layout of the next mma, packed to 16 bits as soon as each tile is done.
    uint32_t pp[kMT][kBN / 16][4];
#pragma unroll
    for (int mt = 0; mt < kMT; ++mt) {
      const int rowA = i0 + wrow + mt * 16 + g, rowB = rowA + 8;
      // Mask partial tiles (scores stay unscaled until the exponent). Each term allows row i the
      // keys [max(kLo, i - dHi + 1), min(kHi, i - dLo + 1, n)) when qLo <= i < qHi, then its mods.
      if (!full) {
        int klo[2][kTermSlots], khi[2][kTermSlots];
#pragma unroll
        for (int r = 0; r < 2; ++r) {
          const int i = r == 0 ? rowA : rowB;
#pragma unroll
          for (int ts = 0; ts < kTermSlots; ++ts) {
            const int* tt = sm.table + ts * kFields;
            klo[r][ts] = max(tt[2], i - tt[1] + 1);
            khi[r][ts] = (i >= tt[4] && i < tt[5]) ? min(min(tt[3], i - tt[0] + 1), n) : INT_MIN;
          }
        }
#pragma unroll
        for (int x = 0; x < kBN / 8; ++x) {
#pragma unroll
          for (int e = 0; e < 4; ++e) {
            const int r = e >> 1, j = j0 + x * 8 + 2 * t4 + (e & 1);
            bool ok = false;
#pragma unroll
            for (int ts = 0; ts < kTermSlots; ++ts) {
              bool in = j >= klo[r][ts] && j < khi[r][ts];
              if constexpr (kModSlots > 0) in = in && mods_allow(sm.table + ts * kFields, r == 0 ? rowA : rowB, j);
              ok = ok || in;
            }
            if (!ok) s[mt][x][e] = -INFINITY;
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
        pp[mt][kk][0] = pack2(s[mt][2 * kk][0], s[mt][2 * kk][1]);
        pp[mt][kk][1] = pack2(s[mt][2 * kk][2], s[mt][2 * kk][3]);
        pp[mt][kk][2] = pack2(s[mt][2 * kk + 1][0], s[mt][2 * kk + 1][1]);
        pp[mt][kk][3] = pack2(s[mt][2 * kk + 1][2], s[mt][2 * kk + 1][3]);
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
          mma16816(acc[mt][2 * dp], pp[mt][kk], b0, b1);
          mma16816(acc[mt][2 * dp + 1], pp[mt][kk], b2, b3);
        }
      }
    }
    ri = nri;
    kt = nkt;
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
      elem_t* o = O + ((int64_t)(b * heads + h) * n + row) * kD;
#pragma unroll
      for (int x = 0; x < kD / 8; ++x) {
        SPC_PAIR pr = SPC_PACK(acc[mt][x][2 * r] * inv, acc[mt][x][2 * r + 1] * inv);
        *reinterpret_cast<SPC_PAIR*>(o + x * 8 + 2 * t4) = pr;
      }
      if (t4 == 0) LSE[(int64_t)(b * heads + h) * n + row] = l > 0.f ? (mrow[mt][r] + log2f(l)) * 0.69314718055994531f : -INFINITY;
    }
  }
}

// Host launcher without any framework: items = B * heads * ceil(N / kBM) blocks, longest first in
// order; the table holds those heads' rows. grid is for the persistent sm_90 kernel (ignored here).
extern "C" cudaError_t SPC_LAUNCHER_NAME(const void* q, const void* k, const void* v, void* o, float* lse,
                                         const int* table, const int* order, int items, [[maybe_unused]] int grid, int n,
                                         int heads, float scale, cudaStream_t stream) {
  const int smem = (int)sizeof(Smem);
  cudaError_t err = cudaFuncSetAttribute(SPC_KERNEL_NAME, cudaFuncAttributeMaxDynamicSharedMemorySize, smem);
  if (err != cudaSuccess) return err;
  if (items == 0) return cudaSuccess;
  SPC_KERNEL_NAME<<<items, kThreads, smem, stream>>>(
      static_cast<const elem_t*>(q), static_cast<const elem_t*>(k), static_cast<const elem_t*>(v),
      static_cast<elem_t*>(o), lse, table, order, n, heads, scale * 1.4426950408889634f);
  return cudaGetLastError();
}

}  // namespace SPC_NS
`;
