// The Hopper (sm_90a) kernel template: warpgroup MMA (wgmma) with operands in 128-byte-swizzled
// shared memory. Same work items, head table, masking and outputs as the mma.sync kernel in
// template.ts; placeholders SPC_* are filled by targets/cuda/index.ts.
import { CP_ASYNC, KEY_TILE_RANGES, MODS_ALLOW, PACK_FLOORMOD, WORK_ITEM } from './common.js';

/** The wgmma wrapper for an m64nNk16 tile: A from shared memory (ss) or from registers (rs). */
function wgmmaWrapper(n: number, aFromRegs: boolean, type: string): string {
  const acc = n / 2; // f32 accumulators per thread
  const regs = Array.from({ length: acc }, (_, i) => `%${i}`).join(', ');
  const outs = Array.from({ length: acc }, (_, i) => `"+f"(d[${i}])`).join(', ');
  if (aFromRegs) {
    const a = [0, 1, 2, 3].map((i) => `%${acc + i}`).join(', ');
    return `__device__ __forceinline__ void wgmma_rs_n${n}(float (&d)[${acc}], const uint32_t (&a)[4], uint64_t db) {
  asm volatile("{\\n.reg .pred p;\\nsetp.ne.b32 p, %${acc + 5}, 0;\\n"
               "wgmma.mma_async.sync.aligned.m64n${n}k16.f32.${type} {${regs}}, {${a}}, %${acc + 4}, p, 1, 1, 1;\\n}\\n"
               : ${outs}
               : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(db), "n"(1));
}`;
  }
  return `__device__ __forceinline__ void wgmma_ss_n${n}(float (&d)[${acc}], uint64_t da, uint64_t db, int accumulate) {
  asm volatile("{\\n.reg .pred p;\\nsetp.ne.b32 p, %${acc + 2}, 0;\\n"
               "wgmma.mma_async.sync.aligned.m64n${n}k16.f32.${type} {${regs}}, %${acc}, %${acc + 1}, p, 1, 1, 0, 0;\\n}\\n"
               : ${outs}
               : "l"(da), "l"(db), "r"(accumulate));
}`;
}

/** wgmma wrappers the template needs for key tiles of blockN and head dim d; type 'bf16' or 'f16'. */
export function wgmmaWrappers(blockN: number, d: number, type: 'bf16' | 'f16'): string {
  return [wgmmaWrapper(blockN, false, `${type}.${type}`), wgmmaWrapper(d, true, `${type}.${type}`)].join('\n');
}

export const KERNEL_TEMPLATE_SM90 = String.raw`
// ---- spc banded attention forward for Hopper (sm_90a): one block = (batch, head, query tile). ----
// kWG warpgroups of 4 warps, 64 query rows each. Q, K and V tiles sit in shared memory in the
// 128-byte-swizzled layout that wgmma reads through matrix descriptors; K/V tiles stream through
// a ring of kStages buffers with cp.async. S = Q K^T is one chain of wgmma (both operands in shared memory), P stays in
// registers as the A operand of O += P V. Each warpgroup skips key tiles that hold no allowed pair
// for its own 64 rows and masks only tiles that no single unmodded term covers fully.
#include <cuda_runtime.h>
#include <cuda_fp16.h>
#include <cuda_bf16.h>
#include <stdint.h>
#include <limits.h>

namespace SPC_NS {

constexpr int kWG = SPC_WG;             // warpgroups per block
constexpr int kThreads = kWG * 128;
constexpr int kBM = kWG * 64;           // query rows per block
constexpr int kBN = SPC_BN;             // keys per tile (the N of the S wgmma)
constexpr int kD = SPC_D;               // head dim (the N of the O wgmma)
constexpr int kStages = SPC_STAGES;     // K/V tiles in flight (shared-memory ring)
constexpr int kTermSlots = SPC_TERM_SLOTS;
constexpr int kModSlots = SPC_MOD_SLOTS;
constexpr int kFields = 6 + 4 * kModSlots;
typedef SPC_ELEM elem_t;

static_assert(kD % 64 == 0 && kBN % 16 == 0 && kBN <= 256 && kStages >= 2, "tile shapes");

struct __align__(1024) Smem {
  elem_t q[kBM * kD];
  elem_t k[kStages][kBN * kD];
  elem_t v[kStages][kBN * kD];
  int table[kTermSlots * kFields];
  int ranges[kTermSlots][2];  // merged key-tile ranges [lo, hi) of the block's rows
  int nranges;
  int wspan[kWG][kTermSlots][2];  // each term's key span [lo, hi) over each warpgroup's rows
};

#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
constexpr int kGroup = SPC_GROUP;       // query heads per KV head
constexpr int kChunks = kD / 8;         // 16-byte chunks per row
__device__ __forceinline__ uint32_t smem_u32(const void* p) {
  return static_cast<uint32_t>(__cvta_generic_to_shared(p));
}
// A [ROWS][kD] tile is kD / 64 column blocks of [ROWS][64] (128 bytes a row); in each, the 16-byte
// chunk c of row r sits at chunk c ^ (r % 8): the hardware's 128-byte swizzle, given 1024-byte
// aligned blocks.
template <int ROWS>
__device__ __forceinline__ int swz(int row, int col) {
  return ((col >> 6) * ROWS + row) * 64 + ((((col >> 3) & 7) ^ (row & 7)) << 3) + (col & 7);
}
// Shared-memory matrix descriptor, 128-byte swizzle: start address, leading and stride byte
// offsets. K-major operands (Q, K): 8-row groups 1024 bytes apart (stride), no leading offset
// within one 16-wide k step. V, read transposed (MN-major): column blocks of 64 (leading) are
// kBN * 128 bytes apart, 8-key groups 1024 bytes apart (stride).
__device__ __forceinline__ uint64_t mdesc(const void* p, uint32_t lbo, uint32_t sbo) {
  return (uint64_t)((smem_u32(p) & 0x3FFFF) >> 4) | ((uint64_t)(lbo >> 4) << 16) | ((uint64_t)(sbo >> 4) << 32) | (1ull << 62);
}
${CP_ASYNC}
// Wait until at most PENDING of this thread's copy groups are in flight, and make the finished
// ones visible to the tensor cores (the async proxy).
template <int PENDING>
__device__ __forceinline__ void cp_wait() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(PENDING) : "memory");
  asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");
}
__device__ __forceinline__ void wg_fence() { asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory"); }
__device__ __forceinline__ void wg_commit() { asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory"); }
__device__ __forceinline__ void wg_wait0() { asm volatile("wgmma.wait_group.sync.aligned 0;\n" ::: "memory"); }
template <int N>
__device__ __forceinline__ void fence_regs(float (&r)[N]) {
#pragma unroll
  for (int x = 0; x < N; ++x) asm volatile("" : "+f"(r[x])::"memory");
}
SPC_WGMMA_WRAPPERS
${PACK_FLOORMOD}

// Do the mods of term t allow (i, j)? (Its intervals are checked by the caller.)
${MODS_ALLOW}

// Copies rows [row0, row0 + ROWS) of a (N, kD) matrix into a swizzled tile; rows >= n are zero.
// When the threads cover whole 8-row groups, each thread copies one chunk column of rows r,
// r + kRowsPerPass, ... (one swizzle for all); otherwise chunk by chunk.
template <int ROWS>
__device__ __forceinline__ void load_tile(elem_t* dst, const elem_t* src, int row0, int n, int tid) {
  constexpr int kRowsPerPass = kThreads / kChunks;
  if constexpr (kThreads % kChunks == 0 && kRowsPerPass % 8 == 0 && ROWS % kRowsPerPass == 0) {
    const int ch = tid % kChunks, r = tid / kChunks;
    elem_t* d = dst + swz<ROWS>(r, ch * 8);
    const elem_t* g = src + ((int64_t)row0 + r) * kD + ch * 8;
#pragma unroll
    for (int u = 0; u < ROWS / kRowsPerPass; ++u) {
      const bool valid = row0 + r + u * kRowsPerPass < n;
      cp_async16(d + u * kRowsPerPass * 64, valid ? g + (int64_t)u * kRowsPerPass * kD : src, valid);
    }
  } else {
    constexpr int kTotal = ROWS * kChunks;
#pragma unroll
    for (int c0 = 0; c0 < kTotal; c0 += kThreads) {
      const int c = c0 + tid, r = c / kChunks, ch = c % kChunks;
      const bool valid = row0 + r < n;
      if (c < kTotal) cp_async16(dst + swz<ROWS>(r, ch * 8), valid ? src + ((int64_t)row0 + r) * kD + ch * 8 : src, valid);
    }
  }
}
#endif

extern "C" __global__ void __launch_bounds__(kThreads, SPC_MIN_BLOCKS)
SPC_KERNEL_NAME(const elem_t* __restrict__ Q, const elem_t* __restrict__ K, const elem_t* __restrict__ V,
                elem_t* __restrict__ O, float* __restrict__ LSE, const int* __restrict__ table,
                const int* __restrict__ order, int n, int heads, float scale_log2) {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
  extern __shared__ unsigned char smem_raw[];
  Smem& sm = *reinterpret_cast<Smem*>((reinterpret_cast<uintptr_t>(smem_raw) + 1023) & ~uintptr_t(1023));
  const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31;
  const int wg = warp >> 2, g = lane >> 2, t4 = lane & 3;

${WORK_ITEM}

  const elem_t* q = Q + ((int64_t)(b * heads + h) * n) * kD;
  const int64_t kv_off = ((int64_t)(b * kvheads + kvh) * n) * kD;  // K + kv_off, V + kv_off (one register pair)

  load_tile<kBM>(sm.q, q, i0, n, tid);
  cp_commit();
  for (int x = tid; x < kTermSlots * kFields; x += kThreads) sm.table[x] = table[h * kTermSlots * kFields + x];
  __syncthreads();
${KEY_TILE_RANGES}

  // This warpgroup's rows [w0, w0 + 64) and each term's key span over them (empty: hi = INT_MIN).
  const int w0 = i0 + wg * 64;
  if ((tid & 127) < kTermSlots) {
    const int s = tid & 127;
    const int* tt = table + (h * kTermSlots + s) * kFields;
    const int r0 = max(w0, tt[4]), r1 = min(min(w0 + 64, n), tt[5]);
    sm.wspan[wg][s][0] = max(max(tt[2], r0 - tt[1] + 1), 0);
    sm.wspan[wg][s][1] = (r0 < r1 && tt[0] < tt[1] && tt[2] < tt[3]) ? min(min(tt[3], r1 - tt[0]), n) : INT_MIN;
  }
  cp_wait<0>();
  __syncthreads();

  float acc[kD / 2];
  float mrow[2] = {-INFINITY, -INFINITY}, lrow[2] = {0.f, 0.f};
#pragma unroll
  for (int x = 0; x < kD / 2; ++x) acc[x] = 0.f;

  // Descriptors: Q rows of this warpgroup, K and V tiles; advanced per 16-wide k step.
  const elem_t* qbase = sm.q + wg * 64 * 64;
  const int rowA = w0 + (warp & 3) * 16 + g, rowB = rowA + 8;

  // The key tiles of the merged ranges in order: the compute cursor (ri, kt) and the load cursor
  // (lri, lkt), kStages - 1 tiles ahead. One copy group per tile (empty past the end), so the
  // oldest group in flight is always the tile computed next.
  const int nr = sm.nranges;
  int ri = 0, kt = nr > 0 ? sm.ranges[0][0] : 0;
  int lri = ri, lkt = kt;
#pragma unroll
  for (int st = 0; st < kStages - 1; ++st) {
    if (lri < nr) {
      load_tile<kBN>(sm.k[st], K + kv_off, lkt * kBN, n, tid);
      load_tile<kBN>(sm.v[st], V + kv_off, lkt * kBN, n, tid);
      if (++lkt >= sm.ranges[lri][1]) { ++lri; lkt = lri < nr ? sm.ranges[lri][0] : 0; }
    }
    cp_commit();
  }
  int buf = 0;
  while (ri < nr) {
    cp_wait<kStages - 2>();
    __syncthreads();
    // Refill the buffer computed in the last iteration (every warpgroup is done with it). With
    // two stages the load cursor is the compute cursor's successor: recomputed, not kept.
    if constexpr (kStages == 2) {
      lri = ri;
      lkt = kt + 1;
      if (lkt >= sm.ranges[lri][1]) { ++lri; lkt = lri < nr ? sm.ranges[lri][0] : 0; }
    }
    if (lri < nr) {
      const int lb = buf == 0 ? kStages - 1 : buf - 1;
      load_tile<kBN>(sm.k[lb], K + kv_off, lkt * kBN, n, tid);
      load_tile<kBN>(sm.v[lb], V + kv_off, lkt * kBN, n, tid);
      if (++lkt >= sm.ranges[lri][1]) { ++lri; lkt = lri < nr ? sm.ranges[lri][0] : 0; }
    }
    cp_commit();
    const int j0 = kt * kBN, j1 = j0 + kBN;
    bool active = false;
#pragma unroll
    for (int s = 0; s < kTermSlots; ++s) active = active || (sm.wspan[wg][s][0] < j1 && sm.wspan[wg][s][1] > j0);
    if (active) {
      // Full tile for this warpgroup: one unmodded term covers every (i, j), inside the grid.
      bool full = j1 <= n && w0 + 64 <= n;
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
          any = any || (nomod && w0 - (j1 - 1) >= tt[0] && (w0 + 63) - j0 < tt[1] && j0 >= tt[2] && j1 <= tt[3] &&
                        w0 >= tt[4] && w0 + 64 <= tt[5]);
        }
        full = any;
      }

      // S = Q K^T: kD / 16 wgmma steps, both operands in shared memory.
      float s[kBN / 2];
      const elem_t* ks = sm.k[buf];
      wg_fence();
#pragma unroll
      for (int kk = 0; kk < kD / 16; ++kk) {
        const uint64_t da = mdesc(qbase + (kk >> 2) * kBM * 64 + (kk & 3) * 16, 16, 1024);
        const uint64_t db = mdesc(ks + (kk >> 2) * kBN * 64 + (kk & 3) * 16, 16, 1024);
        SPC_WGMMA_SS(s, da, db, kk > 0 ? 1 : 0);
      }
      wg_commit();
      wg_wait0();
      fence_regs(s);

      // Accumulator layout: warp w of the group holds rows 16w + g and 16w + g + 8; element
      // s[4x + e] is row (e >> 1 ? +8 : 0), key 8x + 2 t4 + (e & 1).
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
            if (!ok) s[4 * x + e] = -INFINITY;
          }
        }
      }
      // Online softmax in the log2 domain; a quad of lanes shares a row.
#pragma unroll
      for (int r = 0; r < 2; ++r) {
        float mx = -INFINITY;
#pragma unroll
        for (int x = 0; x < kBN / 8; ++x) mx = fmaxf(mx, fmaxf(s[4 * x + 2 * r], s[4 * x + 2 * r + 1]));
        mx = fmaxf(mx, __shfl_xor_sync(0xffffffff, mx, 1));
        mx = fmaxf(mx, __shfl_xor_sync(0xffffffff, mx, 2));
        const float mnew = fmaxf(mrow[r], mx * scale_log2);
        const float muse = mnew == -INFINITY ? 0.f : mnew;
        const float corr = exp2f(mrow[r] - muse);
        mrow[r] = mnew;
        float sum = 0.f;
#pragma unroll
        for (int x = 0; x < kBN / 8; ++x) {
          s[4 * x + 2 * r] = exp2f(fmaf(s[4 * x + 2 * r], scale_log2, -muse));
          s[4 * x + 2 * r + 1] = exp2f(fmaf(s[4 * x + 2 * r + 1], scale_log2, -muse));
          sum += s[4 * x + 2 * r] + s[4 * x + 2 * r + 1];
        }
        lrow[r] = lrow[r] * corr + sum;
#pragma unroll
        for (int x = 0; x < kD / 8; ++x) {
          acc[4 * x + 2 * r] *= corr;
          acc[4 * x + 2 * r + 1] *= corr;
        }
      }
      // O += P V: P from registers (the A layout of m64k16), V in shared memory, transposed.
      uint32_t p[kBN / 16][4];
#pragma unroll
      for (int kk = 0; kk < kBN / 16; ++kk) {
#pragma unroll
        for (int e = 0; e < 4; ++e) p[kk][e] = pack2(s[8 * kk + 2 * e], s[8 * kk + 2 * e + 1]);
      }
      const elem_t* vs = sm.v[buf];
      fence_regs(acc);
      wg_fence();
#pragma unroll
      for (int kk = 0; kk < kBN / 16; ++kk) SPC_WGMMA_RS(acc, p[kk], mdesc(vs + kk * 16 * 64, kBN * 128, 1024));
      wg_commit();
      wg_wait0();
      fence_regs(acc);
    }
    if (++kt >= sm.ranges[ri][1]) { ++ri; kt = ri < nr ? sm.ranges[ri][0] : 0; }
    buf = buf + 1 == kStages ? 0 : buf + 1;
  }

  // Epilogue: normalise, write O and lse; rows with no allowed key give 0 and -inf.
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    float l = lrow[r];
    l += __shfl_xor_sync(0xffffffff, l, 1);
    l += __shfl_xor_sync(0xffffffff, l, 2);
    const int row = r == 0 ? rowA : rowB;
    const float inv = l > 0.f ? 1.f / l : 0.f;
    if (row < n) {
      elem_t* o = O + ((int64_t)(b * heads + h) * n + row) * kD;
#pragma unroll
      for (int x = 0; x < kD / 8; ++x) {
        SPC_PAIR pr = SPC_PACK(acc[4 * x + 2 * r] * inv, acc[4 * x + 2 * r + 1] * inv);
        *reinterpret_cast<SPC_PAIR*>(o + x * 8 + 2 * t4) = pr;
      }
      if (t4 == 0) LSE[(int64_t)(b * heads + h) * n + row] = l > 0.f ? (mrow[r] + log2f(l)) * 0.69314718055994531f : -INFINITY;
    }
  }
#else
  __trap();  // built without sm_90a: the launcher never starts this kernel then
#endif
}

// Host launcher: items = B * heads * ceil(N / kBM) blocks; the table holds those heads' rows.
extern "C" cudaError_t SPC_LAUNCHER_NAME(const void* q, const void* k, const void* v, void* o, float* lse,
                                         const int* table, const int* order, int items, int n, int heads,
                                         float scale, cudaStream_t stream) {
  const int smem = (int)sizeof(Smem) + 1024;  // + alignment slack
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
