// The Hopper (sm_90a) kernel template: warpgroup MMA (wgmma) with operands in 128-byte-swizzled
// shared memory. Same work items, head table, masking and outputs as the mma.sync kernel in
// template.ts; placeholders SPC_* are filled by targets/cuda/index.ts.
import { CP_ASYNC, keyTileRanges, MODS_ALLOW, PACK_FLOORMOD, WORK_ITEM, workItem } from './common.js';

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
#include <cuda.h>
#include <cudaTypedefs.h>
#include <stdint.h>
#include <limits.h>

namespace SPC_NS {

constexpr int kWG = SPC_WG;             // (consumer) warpgroups per block, 64 query rows each
constexpr bool kWS = SPC_WS;            // warp-specialised: one more warpgroup loads K/V with TMA
constexpr int kThreads = (kWG + (kWS ? 1 : 0)) * 128;
constexpr int kBM = kWG * 64;           // query rows per block
constexpr int kBN = SPC_BN;             // keys per tile (the N of the S wgmma)
constexpr int kD = SPC_D;               // head dim (the N of the O wgmma)
[[maybe_unused]] constexpr bool kWgSkip = SPC_WG_SKIP;  // warp-specialised: pass over tiles with no allowed pair for a warpgroup's rows
constexpr int kQBufs = SPC_QBUFS;       // warp-specialised: Q tiles in flight (2: the next item's Q loads during this one)
constexpr int kMetaBufs = 4;           // warp-specialised: work items' tables and ranges in flight
constexpr int kStages = SPC_STAGES;     // K/V tiles in flight (shared-memory ring)
constexpr bool kOverlap = SPC_OVERLAP;  // overlap a tile's softmax with the tensor cores (needs kStages >= 3)
constexpr int kTermSlots = SPC_TERM_SLOTS;
constexpr int kModSlots = SPC_MOD_SLOTS;
constexpr int kFields = 6 + 4 * kModSlots;
typedef SPC_ELEM elem_t;

static_assert(kD % 64 == 0 && kBN % 16 == 0 && kBN <= 256 && kStages >= (kWS ? 2 : kOverlap ? 3 : 2), "tile shapes");
static_assert(!kWS || kOverlap, "the warp-specialised kernel overlaps softmax and tensor cores");
// Warp-specialised: K and V have rings of their own; a K stage is released once its Q K^T is done,
// a V stage once its P V is, so the producer runs kStages - 1 tiles ahead of each; one block per SM, and a register split (setmaxnreg) that fits 65536 registers:
// 128 x kProducerRegs + 128 kWG x kConsumerRegs (2 consumer warpgroups: 40 / 232; 3: 32 / 160).
static_assert(!kWS || (kStages >= 2 && SPC_MIN_BLOCKS == 1 && (kWG == 2 || kWG == 3)), "warp-specialised tiles");
constexpr int kProducerRegs = kWG == 3 ? 32 : 40;
constexpr int kConsumerRegs = kWG == 3 ? 160 : 232;
// setmaxnreg.inc can only take registers from the block's pool at launch: kThreads times the
// per-thread allocation the launch bounds allow (65536 / kThreads, rounded down to a multiple of 8).
static_assert(128 * kProducerRegs + 128 * kWG * kConsumerRegs <= kThreads * ((65536 / kThreads) & ~7), "register split");

// A work item's head-table rows and merged key-tile ranges [lo, hi) of its rows.
struct Meta {
  int table[kTermSlots * kFields];
  int ranges[kTermSlots][2];
  int nranges;
  int item;  // warp-specialised: the work item (the producer's copy of order[turn])
  int wspan[kWG][kTermSlots][2];  // each term's key span [lo, hi) over each warpgroup's rows (empty: hi = INT_MIN)
};

struct __align__(1024) Smem {
  elem_t q[kQBufs][kBM * kD];
  elem_t k[kStages][kBN * kD];
  elem_t v[kStages][kBN * kD];
  Meta meta[kWS ? kMetaBufs : 1];  // warp-specialised: a ring (the meta thread runs items ahead)
  uint64_t k_full[kStages], v_full[kStages];    // warp-specialised: stage loaded (TMA transaction bytes)
  uint64_t k_empty[kStages], v_empty[kStages];  // warp-specialised: stage free (every consumer thread arrived)
  uint64_t q_full[kQBufs], q_empty[kQBufs];  // warp-specialised: an item's Q tile loaded / used up
  uint64_t meta_full[kMetaBufs], meta_empty[kMetaBufs];  // warp-specialised: meta[x] written / read
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
// mbarriers and the tensor copy engine (TMA), for the warp-specialised kernel.
__device__ __forceinline__ void mbar_init(uint64_t* b, int count) {
  asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;\n" ::"r"(smem_u32(b)), "r"(count) : "memory");
}
__device__ __forceinline__ void mbar_expect_tx(uint64_t* b, uint32_t bytes) {
  asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;\n" ::"r"(smem_u32(b)), "r"(bytes) : "memory");
}
__device__ __forceinline__ void mbar_arrive(uint64_t* b) {
  asm volatile("mbarrier.arrive.shared::cta.b64 _, [%0];\n" ::"r"(smem_u32(b)) : "memory");
}
// Wait until the phase of the given parity has completed.
__device__ __forceinline__ void mbar_wait(uint64_t* b, int parity) {
  asm volatile(
      "{\n.reg .pred p;\nLAB_WAIT:\n"
      "mbarrier.try_wait.parity.shared::cta.b64 p, [%0], %1;\n"
      "@p bra DONE;\nbra LAB_WAIT;\nDONE:\n}\n" ::"r"(smem_u32(b)), "r"(parity) : "memory");
}
// One box of a 3-D tensor map (coordinates innermost first) into shared memory, completing on bar.
__device__ __forceinline__ void tma_load_3d(void* dst, const CUtensorMap* map, int c0, int c1, int c2, uint64_t* bar) {
  asm volatile(
      "cp.async.bulk.tensor.3d.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1, {%2, %3, %4}], [%5];\n"
      ::"r"(smem_u32(dst)), "l"(reinterpret_cast<uint64_t>(map)), "r"(c0), "r"(c1), "r"(c2), "r"(smem_u32(bar)) : "memory");
}
__device__ __forceinline__ void wg_fence() { asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory"); }
__device__ __forceinline__ void wg_commit() { asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory"); }
template <int N>
__device__ __forceinline__ void wg_wait() { asm volatile("wgmma.wait_group.sync.aligned %0;\n" ::"n"(N) : "memory"); }
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
// The keys [lo[s], hi[s]) that term s allows to every row of [w0, w0 + 64), inside the grid, when it
// has no mods (else, or when the rows leave the term's or the grid's rows: empty, hi[s] = INT_MIN).
// Computed once per (work item, warpgroup); a key tile [j0, j0 + kBN) needs no per-element mask
// when one term's span holds it (tile_full): register arithmetic in the loop, no table reads.
struct FullSpans {
  int lo[kTermSlots], hi[kTermSlots];
};
__device__ __forceinline__ FullSpans full_spans(const int* table, int w0, int n) {
  FullSpans f;
#pragma unroll
  for (int s = 0; s < kTermSlots; ++s) {
    const int* tt = table + s * kFields;
    bool nomod = true;
#pragma unroll
    for (int m = 0; m < kModSlots; ++m) {
      const int* md = tt + 6 + 4 * m;
      nomod = nomod && md[2] <= 0 && md[3] >= md[1];
    }
    // Row i allows [max(kLo, i - dHi + 1), min(kHi, i - dLo + 1)); over rows w0 .. w0 + 63.
    f.lo[s] = max(tt[2], w0 + 64 - tt[1]);
    f.hi[s] = (nomod && w0 + 64 <= n && w0 >= tt[4] && w0 + 64 <= tt[5]) ? min(min(tt[3], w0 - tt[0] + 1), n) : INT_MIN;
  }
  return f;
}
// Does one term cover every (i, j) of the warpgroup's rows x keys [j0, j0 + kBN)?
__device__ __forceinline__ bool tile_full(const FullSpans& f, int j0) {
  bool any = false;
#pragma unroll
  for (int s = 0; s < kTermSlots; ++s) any = any || (j0 >= f.lo[s] && j0 + kBN <= f.hi[s]);
  return any;
}

// Masks S (unless full) and turns it into probabilities in place: online softmax in the log2
// domain, running max mrow and sum lrow of the thread's rows rowA and rowB = rowA + 8; corr is the
// factor the output accumulator must be scaled by. Accumulator layout: warp w of the group holds
// rows 16w + g and 16w + g + 8; element s[4x + e] is row (e >> 1 ? +8 : 0), key 8x + 2 t4 + (e & 1).
__device__ __forceinline__ void mask_softmax(float (&s)[kBN / 2], float (&corr)[2], float (&mrow)[2], float (&lrow)[2],
                                             const int* table, bool full, int rowA, int rowB, int j0, int n, int t4,
                                             float scale_log2) {
  if (!full) {
    // Each term allows row i the keys [max(kLo, i - dHi + 1), min(kHi, i - dLo + 1, n)) when
    // qLo <= i < qHi, then its mods.
    int klo[2][kTermSlots], khi[2][kTermSlots];
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      const int i = r == 0 ? rowA : rowB;
#pragma unroll
      for (int ts = 0; ts < kTermSlots; ++ts) {
        const int* tt = table + ts * kFields;
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
          if constexpr (kModSlots > 0) in = in && mods_allow(table + ts * kFields, r == 0 ? rowA : rowB, j);
          ok = ok || in;
        }
        if (!ok) s[4 * x + e] = -INFINITY;
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

// S = Q K^T of one key tile: kD / 16 wgmma steps, both operands in shared memory (issued, not awaited).
__device__ __forceinline__ void issue_s(float (&s)[kBN / 2], const elem_t* qbase, const elem_t* kt) {
#pragma unroll
  for (int kk = 0; kk < kD / 16; ++kk) {
    const uint64_t da = mdesc(qbase + (kk >> 2) * kBM * 64 + (kk & 3) * 16, 16, 1024);
    const uint64_t db = mdesc(kt + (kk >> 2) * kBN * 64 + (kk & 3) * 16, 16, 1024);
    SPC_WGMMA_SS(s, da, db, kk > 0 ? 1 : 0);
  }
}
// O += P V of one key tile: P from registers (the A layout of m64k16), V transposed.
__device__ __forceinline__ void issue_pv(float (&acc)[kD / 2], const uint32_t (&p)[kBN / 16][4], const elem_t* vt) {
#pragma unroll
  for (int kk = 0; kk < kBN / 16; ++kk) SPC_WGMMA_RS(acc, p[kk], mdesc(vt + kk * 16 * 64, kBN * 128, 1024));
}
// P in the registers of the next wgmma: 16-bit pairs of the probabilities.
__device__ __forceinline__ void pack_p(uint32_t (&p)[kBN / 16][4], const float (&s)[kBN / 2]) {
#pragma unroll
  for (int kk = 0; kk < kBN / 16; ++kk) {
#pragma unroll
    for (int e = 0; e < 4; ++e) p[kk][e] = pack2(s[8 * kk + 2 * e], s[8 * kk + 2 * e + 1]);
  }
}
__device__ __forceinline__ void rescale(float (&acc)[kD / 2], const float (&corr)[2]) {
#pragma unroll
  for (int x = 0; x < kD / 8; ++x) {
    acc[4 * x] *= corr[0];
    acc[4 * x + 1] *= corr[0];
    acc[4 * x + 2] *= corr[1];
    acc[4 * x + 3] *= corr[1];
  }
}
// Normalises and writes the thread's rows rowA and rowB of O (o: the (N, kD) rows of the head) and
// lse; rows with no allowed key give 0 and -inf.
__device__ __forceinline__ void epilogue(const float (&acc)[kD / 2], const float (&mrow)[2], const float (&lrow)[2],
                                         elem_t* o, float* lse, int rowA, int rowB, int n, int t4) {
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    float l = lrow[r];
    l += __shfl_xor_sync(0xffffffff, l, 1);
    l += __shfl_xor_sync(0xffffffff, l, 2);
    const int row = r == 0 ? rowA : rowB;
    const float inv = l > 0.f ? 1.f / l : 0.f;
    if (row < n) {
      elem_t* orow = o + (int64_t)row * kD;
#pragma unroll
      for (int x = 0; x < kD / 8; ++x) {
        SPC_PAIR pr = SPC_PACK(acc[4 * x + 2 * r] * inv, acc[4 * x + 2 * r + 1] * inv);
        *reinterpret_cast<SPC_PAIR*>(orow + x * 8 + 2 * t4) = pr;
      }
      if (t4 == 0) lse[row] = l > 0.f ? (mrow[r] + log2f(l)) * 0.69314718055994531f : -INFINITY;
    }
  }
}
#endif

extern "C" __global__ void __launch_bounds__(kThreads, SPC_MIN_BLOCKS)
SPC_KERNEL_NAME(const elem_t* __restrict__ Q, const elem_t* __restrict__ K, const elem_t* __restrict__ V,
                elem_t* __restrict__ O, float* __restrict__ LSE, const int* __restrict__ table,
                const int* __restrict__ order, int items, int n, int heads, float scale_log2,
                const __grid_constant__ CUtensorMap tmQ, const __grid_constant__ CUtensorMap tmK,
                const __grid_constant__ CUtensorMap tmV) {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
  extern __shared__ unsigned char smem_raw[];
  // Rounded up to 1024 bytes by pointer arithmetic on smem_raw (not through an integer), so the
  // compiler keeps the shared address space: plain shared loads, not generic ones, for sm.*.
  Smem& sm = *reinterpret_cast<Smem*>(smem_raw + ((1024u - (smem_u32(smem_raw) & 1023u)) & 1023u));
  const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31;
  // Warpgroup of 64 query rows; in the warp-specialised kernel warpgroup 0 loads (wg = -1).
  const int wg = (warp >> 2) - (kWS ? 1 : 0), g = lane >> 2, t4 = lane & 3;

  if constexpr (kWS) {
    // Persistent and warp-specialised (FlashAttention-3). gridDim.x blocks (one per SM) each take
    // the list of work items the host dealt them (longest first, each to the least loaded block). Warpgroup 0 produces: its thread 64 writes each item's
    // head-table rows and key-tile ranges into a ring of kMetaBufs Meta (meta_full / meta_empty);
    // its thread 0 streams each item's K and V tiles with the tensor copy engine through two rings of kStages
    // (k_full[s] / v_full[s] complete on the bytes, k_empty[s] / v_empty[s] when every consumer
    // thread is done with the stage: K after the tile's Q K^T, V after its P V; K is issued one
    // tile ahead of V, in the order the consumers use them); its thread 32 loads each item's Q tile into one of kQBufs buffers (q_full) once the
    // consumers have finished the last Q K^T of the item that used it before (q_empty). So the next item's loads overlap this item's last tiles
    // and epilogue. The consumer warpgroups compute, overlapping each tile's softmax with the
    // tensor cores, pass over tiles with no allowed pair for their own 64 rows (kWgSkip), and never meet at a
    // block-wide barrier.
    if (tid == 0) {
      for (int st = 0; st < kStages; ++st) {
        mbar_init(&sm.k_full[st], 1);
        mbar_init(&sm.v_full[st], 1);
        mbar_init(&sm.k_empty[st], kWG * 128);
        mbar_init(&sm.v_empty[st], kWG * 128);
      }
      for (int x = 0; x < kQBufs; ++x) {
        mbar_init(&sm.q_full[x], 1);
        mbar_init(&sm.q_empty[x], kWG * 128);
      }
      for (int x = 0; x < kMetaBufs; ++x) {
        mbar_init(&sm.meta_full[x], 1);
        mbar_init(&sm.meta_empty[x], kWG * 128 + 1);  // the consumers and the K / V thread
      }
      asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory");
    }
    __syncthreads();
    // This block's items: order[beg, end), as the host dealt them (the offsets follow the items).
    const int beg = order[items + blockIdx.x], cnt = order[items + blockIdx.x + 1] - beg;
    if (wg < 0) {
      asm volatile("setmaxnreg.dec.sync.aligned.u32 %0;\n" ::"n"(kProducerRegs) : "memory");
      if (tid == 0) {
        // The block's tiles (over all its items) fill each ring's stages in turn; st / ph: the
        // ring's next stage and the parity of its use (kept incrementally: no counter to overflow).
        constexpr uint32_t kTileBytes = kBN * kD * (uint32_t)sizeof(elem_t);
        struct Ring { int st, ph; };
        auto load = [&](const CUtensorMap* map, elem_t (*ring)[kBN * kD], uint64_t* full, uint64_t* empty, Ring& r, int t, int row) {
          mbar_wait(&empty[r.st], r.ph ^ 1);
          mbar_expect_tx(&full[r.st], kTileBytes);
#pragma unroll
          for (int a = 0; a < kD / 64; ++a) tma_load_3d(ring[r.st] + a * kBN * 64, map, a * 64, t * kBN, row, &full[r.st]);
          if (++r.st == kStages) { r.st = 0; r.ph ^= 1; }
        };
        Ring kr{0, 0}, vr{0, 0};
        for (int c = 0; c < cnt; ++c) {
          const int x = c % kMetaBufs;
          mbar_wait(&sm.meta_full[x], (c / kMetaBufs) & 1);
          const Meta& mt = sm.meta[x];
${workItem('mt.item')}
          const int kvrow = b * kvheads + kvh;  // the (batch, KV head) slice of K and V
          int vt = -1;  // the tile whose V is pending (-1: none yet in this item)
          for (int r = 0; r < mt.nranges; ++r) {
            for (int t = mt.ranges[r][0]; t < mt.ranges[r][1]; ++t) {
              load(&tmK, sm.k, sm.k_full, sm.k_empty, kr, t, kvrow);
              if (vt >= 0) load(&tmV, sm.v, sm.v_full, sm.v_empty, vr, vt, kvrow);
              vt = t;
            }
          }
          // The item's last V, before the next item's K: the order the consumers use them in.
          if (vt >= 0) load(&tmV, sm.v, sm.v_full, sm.v_empty, vr, vt, kvrow);
          mbar_arrive(&sm.meta_empty[x]);
        }
      } else if (tid == 64) {
        // The meta thread: each item's head-table rows and merged key-tile ranges, kMetaBufs items
        // ahead of the K / V thread (which waits for nothing else), so an item switch never waits
        // on global loads of the table.
        for (int c = 0; c < cnt; ++c) {
${workItem('order[beg + c]')}
          const int x = c % kMetaBufs;
          Meta& mt = sm.meta[x];
          mbar_wait(&sm.meta_empty[x], ((c / kMetaBufs) & 1) ^ 1);
          mt.item = item;
          for (int y = 0; y < kTermSlots * kFields; ++y) mt.table[y] = table[h * kTermSlots * kFields + y];
${keyTileRanges('mt', 'true', true)}
          mbar_arrive(&sm.meta_full[x]);
        }
      } else if (tid == 32) {
        for (int c = 0; c < cnt; ++c) {
${workItem('order[beg + c]')}
          // Item c uses Q buffer c % kQBufs for the (c / kQBufs)-th time.
          const int qb = c % kQBufs, qph = (c / kQBufs) & 1;
          mbar_wait(&sm.q_empty[qb], qph ^ 1);
          mbar_expect_tx(&sm.q_full[qb], (uint32_t)(kBM * kD * sizeof(elem_t)));
#pragma unroll
          for (int a = 0; a < kD / 64; ++a) tma_load_3d(sm.q[qb] + a * kBM * 64, &tmQ, a * 64, i0, bh, &sm.q_full[qb]);
        }
      }
    } else {
      asm volatile("setmaxnreg.inc.sync.aligned.u32 %0;\n" ::"n"(kConsumerRegs) : "memory");
      // Ping-pong: the consumer warpgroups take turns issuing their tile's wgmma (named barrier
      // 1 + w waits for warpgroup w's turn; the previous one in the cycle arrives on it), so one
      // group's softmax runs while the other's matrix products do. Warpgroup 0 goes first. Both
      // walk the same tiles, so the turns stay paired across work items.
      auto my_turn = [&]() {
        if constexpr (kWG > 1) asm volatile("bar.sync %0, 256;\n" ::"r"(1 + wg) : "memory");
      };
      auto pass_turn = [&]() {
        if constexpr (kWG > 1) asm volatile("bar.arrive %0, 256;\n" ::"r"(1 + (wg + 1) % kWG) : "memory");
      };
      if (wg == kWG - 1) pass_turn();
      int stage = 0, phase = 0, vphase = 0;
      for (int c = 0; c < cnt; ++c) {
        const Meta& mt = sm.meta[c % kMetaBufs];
        mbar_wait(&sm.meta_full[c % kMetaBufs], (c / kMetaBufs) & 1);
${workItem('mt.item')}
        const int w0 = i0 + wg * 64;
        const int rowA = w0 + (warp & 3) * 16 + g, rowB = rowA + 8;
        float acc[kD / 2];
        float mrow[2] = {-INFINITY, -INFINITY}, lrow[2] = {0.f, 0.f};
#pragma unroll
        for (int x = 0; x < kD / 2; ++x) acc[x] = 0.f;
        const int nr = mt.nranges;
        int ri = 0, kt = nr > 0 ? mt.ranges[0][0] : 0;
        uint32_t p[kBN / 16][4];
        // Tile j's K is used (or passed over) in step j, its V in step j + 1. A tile with no allowed
        // pair for this warpgroup's 64 rows is passed over (no wgmma, no softmax), but its stages
        // are still waited for and released, and the ping-pong turn still taken, so that the rings
        // and turns stay in step with the producer and the other warpgroup. pend: the last tile
        // had a P whose P V is still to issue (V stage vstage).
        int vstage = 0;
        bool pend = false;
        const int qb = c % kQBufs;
        const elem_t* qbase = sm.q[qb] + wg * 64 * 64;
        mbar_wait(&sm.q_full[qb], (c / kQBufs) & 1);
        // Each term's key span [lo, hi) over this warpgroup's rows (empty: hi = INT_MIN), for the
        // tile skip; computed here, in registers: the producer runs on 40 registers.
        int wlo[kTermSlots], whi[kTermSlots];
#pragma unroll
        for (int s = 0; s < kTermSlots; ++s) {
          const int* tt = mt.table + s * kFields;
          const int r0 = max(w0, tt[4]), r1 = min(min(w0 + 64, n), tt[5]);
          wlo[s] = max(max(tt[2], r0 - tt[1] + 1), 0);
          whi[s] = (r0 < r1 && tt[0] < tt[1] && tt[2] < tt[3]) ? min(min(tt[3], r1 - tt[0]), n) : INT_MIN;
        }
        const FullSpans fs = full_spans(mt.table, w0, n);
        auto active = [&](int j0) {
          bool any = false;
#pragma unroll
          for (int s = 0; s < kTermSlots; ++s) any = any || (wlo[s] < j0 + kBN && whi[s] > j0);
          return any;
        };
        // One step per tile; the item's first (peeled: with kWgSkip off, every flag below is then
        // known at compile time) has no previous V.
        auto step = [&](bool first) {
          const bool last = kt + 1 >= mt.ranges[ri][1] && ri + 1 >= nr;
          const int j0 = kt * kBN;
          const bool act = !kWgSkip || active(j0);
          const bool pv = !first && (!kWgSkip || pend);  // issue the previous tile's P V
          mbar_wait(&sm.k_full[stage], phase);
          if (!first) mbar_wait(&sm.v_full[vstage], vphase);
          const bool full = act && tile_full(fs, j0);
          float s[kBN / 2];
          my_turn();
          fence_regs(acc);
          if (act) {
            wg_fence();
            issue_s(s, qbase, sm.k[stage]);
            wg_commit();
          }
          if (pv) {
            wg_fence();
            issue_pv(acc, p, sm.v[vstage]);
            wg_commit();
          }
          pass_turn();
          if (act) {
            if (pv) wg_wait<1>();  // S done; O += P V may still run
            else wg_wait<0>();
          }
          mbar_arrive(&sm.k_empty[stage]);         // this tile's K is used up
          if (last) mbar_arrive(&sm.q_empty[qb]);  // this item's Q is used up
          float corr[2];
          if (act) {
            fence_regs(s);
            mask_softmax(s, corr, mrow, lrow, mt.table, full, rowA, rowB, j0, n, t4, scale_log2);
          }
          if (pv) {
            wg_wait<0>();
            fence_regs(acc);
          }
          if (!first) mbar_arrive(&sm.v_empty[vstage]);  // the previous tile's V is used up
          if (act) {
            rescale(acc, corr);
            pack_p(p, s);
          }
          pend = act;
          vstage = stage;
          vphase = phase;
          if (++kt >= mt.ranges[ri][1]) {
            ++ri;
            kt = ri < nr ? mt.ranges[ri][0] : 0;
          }
          if (++stage == kStages) { stage = 0; phase ^= 1; }
        };
        if (nr == 0) {
          mbar_arrive(&sm.q_empty[qb]);
        } else {
          step(true);
          while (ri < nr) step(false);
          const bool pv = !kWgSkip || pend;
          mbar_wait(&sm.v_full[vstage], vphase);
          my_turn();
          if (pv) {
            fence_regs(acc);
            wg_fence();
            issue_pv(acc, p, sm.v[vstage]);
            wg_commit();
          }
          pass_turn();
          if (pv) {
            wg_wait<0>();
            fence_regs(acc);
          }
          mbar_arrive(&sm.v_empty[vstage]);
        }
        mbar_arrive(&sm.meta_empty[c % kMetaBufs]);  // done with this item's table rows and ranges
        epilogue(acc, mrow, lrow, O + (int64_t)bh * n * kD, LSE + (int64_t)bh * n, rowA, rowB, n, t4);
      }
    }
  } else {
  Meta& mt = sm.meta[0];
${WORK_ITEM}

    const elem_t* q = Q + ((int64_t)(b * heads + h) * n) * kD;
    const int64_t kv_off = ((int64_t)(b * kvheads + kvh) * n) * kD;  // K + kv_off, V + kv_off (one register pair)

    load_tile<kBM>(sm.q[0], q, i0, n, tid);
    cp_commit();
    for (int x = tid; x < kTermSlots * kFields; x += kThreads) mt.table[x] = table[h * kTermSlots * kFields + x];
    __syncthreads();
${keyTileRanges('mt')}

    // This warpgroup's rows [w0, w0 + 64) and each term's key span over them (empty: hi = INT_MIN).
    const int w0 = i0 + wg * 64;
    if ((tid & 127) < kTermSlots) {
      const int s = tid & 127;
      const int* tt = table + (h * kTermSlots + s) * kFields;
      const int r0 = max(w0, tt[4]), r1 = min(min(w0 + 64, n), tt[5]);
      mt.wspan[wg][s][0] = max(max(tt[2], r0 - tt[1] + 1), 0);
      mt.wspan[wg][s][1] = (r0 < r1 && tt[0] < tt[1] && tt[2] < tt[3]) ? min(min(tt[3], r1 - tt[0]), n) : INT_MIN;
    }
    cp_wait<0>();
    __syncthreads();
    const FullSpans fs = full_spans(mt.table, w0, n);

    float acc[kD / 2];
    float mrow[2] = {-INFINITY, -INFINITY}, lrow[2] = {0.f, 0.f};
#pragma unroll
    for (int x = 0; x < kD / 2; ++x) acc[x] = 0.f;

    // Descriptors: Q rows of this warpgroup, K and V tiles; advanced per 16-wide k step.
    const elem_t* qbase = sm.q[0] + wg * 64 * 64;
    const int rowA = w0 + (warp & 3) * 16 + g, rowB = rowA + 8;

    // The key tiles of the merged ranges in order. One copy group per tile (empty past the end),
    // so the oldest group in flight is always the next tile to compute.
    const int nr = mt.nranges;
    int ri = 0, kt = nr > 0 ? mt.ranges[0][0] : 0;  // compute cursor
    int lri = ri, lkt = kt;                          // load cursor
    auto next = [&](int& r, int& t) {
      if (++t >= mt.ranges[r][1]) { ++r; t = r < nr ? mt.ranges[r][0] : 0; }
    };
    auto load_next = [&](int stage) {
      if (lri < nr) {
        load_tile<kBN>(sm.k[stage], K + kv_off, lkt * kBN, n, tid);
        load_tile<kBN>(sm.v[stage], V + kv_off, lkt * kBN, n, tid);
        next(lri, lkt);
      }
      cp_commit();
    };
    if constexpr (kOverlap) {
      // FlashAttention-3's intra-warpgroup overlap: tile j's S = Q K^T and tile j-1's O += P V run on
      // the tensor cores while this warpgroup computes tile j's softmax. Tile j-1's stage stays in
      // use until then, so stage (j - 2) is refilled at tile j, with tile j + kStages - 2.
#pragma unroll
      for (int st = 0; st < kStages - 2; ++st) load_next(st);
      uint32_t p[kBN / 16][4];
      int buf = 0, vbuf = 0;
      // One step per tile. The first tile's step (peeled, so that the loop's wgmma sit in one basic
      // block after their fence: otherwise ptxas serialises them) has no previous P V to overlap.
      auto step = [&](bool first) {
        cp_wait<kStages - 3>();
        __syncthreads();
        load_next(buf >= 2 ? buf - 2 : buf + kStages - 2);
        const int j0 = kt * kBN;
        const bool full = tile_full(fs, j0);
        float s[kBN / 2];
        fence_regs(acc);
        wg_fence();
        issue_s(s, qbase, sm.k[buf]);
        wg_commit();
        if (!first) {
          wg_fence();
          issue_pv(acc, p, sm.v[vbuf]);
          wg_commit();
        }
        if (first) wg_wait<0>();
        else wg_wait<1>();  // S done; O += P V may still run
        fence_regs(s);
        float corr[2];
        mask_softmax(s, corr, mrow, lrow, mt.table, full, rowA, rowB, j0, n, t4, scale_log2);
        wg_wait<0>();
        fence_regs(acc);
        rescale(acc, corr);
        pack_p(p, s);
        vbuf = buf;
        next(ri, kt);
        buf = buf + 1 == kStages ? 0 : buf + 1;
      };
      if (ri < nr) {
        step(true);
        while (ri < nr) step(false);
        fence_regs(acc);
        wg_fence();
        issue_pv(acc, p, sm.v[vbuf]);
        wg_commit();
        wg_wait<0>();
        fence_regs(acc);
      }
    } else {
      // One tile after the other; a warpgroup skips tiles with no allowed pair for its rows.
#pragma unroll
      for (int st = 0; st < kStages - 1; ++st) load_next(st);
      int buf = 0;
      while (ri < nr) {
        cp_wait<kStages - 2>();
        __syncthreads();
        // Refill the stage computed in the last iteration (every warpgroup is done with it).
        load_next(buf == 0 ? kStages - 1 : buf - 1);
        const int j0 = kt * kBN, j1 = j0 + kBN;
        bool active = false;
#pragma unroll
        for (int s = 0; s < kTermSlots; ++s) active = active || (mt.wspan[wg][s][0] < j1 && mt.wspan[wg][s][1] > j0);
        if (active) {
          const bool full = tile_full(fs, j0);
          float s[kBN / 2];
          wg_fence();
          issue_s(s, qbase, sm.k[buf]);
          wg_commit();
          wg_wait<0>();
          fence_regs(s);
          float corr[2];
          mask_softmax(s, corr, mrow, lrow, mt.table, full, rowA, rowB, j0, n, t4, scale_log2);
          rescale(acc, corr);
          uint32_t p[kBN / 16][4];
          pack_p(p, s);
          fence_regs(acc);
          wg_fence();
          issue_pv(acc, p, sm.v[buf]);
          wg_commit();
          wg_wait<0>();
          fence_regs(acc);
        }
        next(ri, kt);
        buf = buf + 1 == kStages ? 0 : buf + 1;
      }
    }

    epilogue(acc, mrow, lrow, O + (int64_t)(b * heads + h) * n * kD, LSE + (int64_t)(b * heads + h) * n, rowA, rowB, n, t4);
  }
#else
  __trap();  // built without sm_90a: the launcher never starts this kernel then
#endif
}

// Host launcher: items = B * heads * ceil(N / kBM) work items; the table holds those heads' rows.
// One block per item (order: the items, longest first; grid is ignored), or, warp-specialised,
// grid persistent blocks (one per SM, at most items; order: the items grouped by block, then
// grid + 1 offsets of the groups) with tensor maps of Q (D, N, B * heads) and of K and V (D, N, B * KV heads), boxes of 64 x rows x 1
// in the 128-byte swizzle (rows past N read as zeros).
extern "C" cudaError_t SPC_LAUNCHER_NAME(const void* q, const void* k, const void* v, void* o, float* lse,
                                         const int* table, const int* order, int items, int grid, int n, int heads,
                                         float scale, cudaStream_t stream) {
  const int smem = (int)sizeof(Smem) + 1024;  // + alignment slack
  cudaError_t err = cudaFuncSetAttribute(SPC_KERNEL_NAME, cudaFuncAttributeMaxDynamicSharedMemorySize, smem);
  if (err != cudaSuccess) return err;
  if (items == 0) return cudaSuccess;
  CUtensorMap tmQ{}, tmK{}, tmV{};
  if constexpr (kWS) {
    if (grid < 1 || grid > items) return cudaErrorInvalidValue;
    static PFN_cuTensorMapEncodeTiled_v12000 encode = nullptr;
    if (encode == nullptr) {
      void* fn = nullptr;
      cudaDriverEntryPointQueryResult found;
#if CUDART_VERSION >= 12050
      err = cudaGetDriverEntryPointByVersion("cuTensorMapEncodeTiled", &fn, 12000, cudaEnableDefault, &found);
#else
      err = cudaGetDriverEntryPoint("cuTensorMapEncodeTiled", &fn, cudaEnableDefault, &found);
#endif
      if (err != cudaSuccess) return err;
      if (found != cudaDriverEntryPointSuccess || fn == nullptr) return cudaErrorNotSupported;
      encode = reinterpret_cast<PFN_cuTensorMapEncodeTiled_v12000>(fn);
    }
    const int qtiles = (n + kBM - 1) / kBM;
    const cuuint64_t bh = (cuuint64_t)(items / qtiles);  // B * heads
    const CUtensorMapDataType type = sizeof(elem_t) == 2 && SPC_IS_BF16 ? CU_TENSOR_MAP_DATA_TYPE_BFLOAT16 : CU_TENSOR_MAP_DATA_TYPE_FLOAT16;
    const cuuint64_t strides[2] = {(cuuint64_t)kD * sizeof(elem_t), (cuuint64_t)n * kD * sizeof(elem_t)};
    const cuuint32_t estr[3] = {1, 1, 1};
    auto make = [&](CUtensorMap* map, const void* base, cuuint64_t slices, cuuint32_t rows) {
      const cuuint64_t dims[3] = {(cuuint64_t)kD, (cuuint64_t)n, slices};
      const cuuint32_t box[3] = {64, rows, 1};
      return encode(map, type, 3, const_cast<void*>(base), dims, strides, box, estr, CU_TENSOR_MAP_INTERLEAVE_NONE,
                    CU_TENSOR_MAP_SWIZZLE_128B, CU_TENSOR_MAP_L2_PROMOTION_L2_256B, CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE);
    };
    if (make(&tmQ, q, bh, kBM) != CUDA_SUCCESS || make(&tmK, k, bh / heads * (heads / SPC_GROUP), kBN) != CUDA_SUCCESS ||
        make(&tmV, v, bh / heads * (heads / SPC_GROUP), kBN) != CUDA_SUCCESS)
      return cudaErrorInvalidValue;
  }
  SPC_KERNEL_NAME<<<kWS ? grid : items, kThreads, smem, stream>>>(
      static_cast<const elem_t*>(q), static_cast<const elem_t*>(k), static_cast<const elem_t*>(v),
      static_cast<elem_t*>(o), lse, table, order, items, n, heads, scale * 1.4426950408889634f, tmQ, tmK, tmV);
  return cudaGetLastError();
}

}  // namespace SPC_NS
`;
