// The backward pass for Hopper (sm_90a), with warpgroup MMA. Both modes passed the checks on an
// H200 (bench/results/cuda-2026-12-01-backward.md, -backward-atomic.md), the pipelined dkdv below
// (TMA + mbarrier ring, overlapped wgmma groups; targets/cuda/BWD_SM90_PIPE.md) in
// cuda-2026-12-01-bwd-pipe.md, its 128-row D = 64 form (kBMq, the config's bwd90.rows) in
// cuda-2026-12-01-bwd-d64.md, and the per-tile shared-memory reads before the wgmma waits on an H100
// in cuda-2026-12-07-bwd-smem.md. The staged epilogue (dK, dV through shared memory) has run on an
// H100 at balanced H16 D128 only (the same write-up): query-head groups, strided inputs, mods and
// D = 64 (64 and 128 rows) with it are still to run there.
// Kernels (one block per work item, two warpgroups; the forward's pieces: Sm90Tiles's S = A B^T
// (issue_s) and O += P V (issue_pv), the accumulator-to-A packing (pack_p), the masks, the TMA maps):
//
//   preprocess: BwdSm80's (delta = rowsum(dO * O) - dLSE, lse2 = lse * log2(e), +inf for -inf;
//               zeroes dQ_accum in the default mode).
//   dkdv:       one block per (batch, KV head, key tile of kBN = 128 keys); warpgroup w owns keys
//               j0 + 64 w .. + 63, its dK and dV (64 x kD each) in registers. K and V come once by
//               TMA; the query tiles of kBMq = 64 rows that reach the key tile (query_tile_ranges),
//               for each query head of the KV head's group in turn, stream through a ring of
//               kQStages stages (Q, dO by TMA, lse2 and delta by cp.async; warp 0 fills a stage once
//               every thread released it on its empty mbarrier). Per tile: S^T = K Q^T and dP^T =
//               V dO^T (wgmma, both operands in shared memory, two groups), P^T = exp2(S^T
//               scale_log2 - lse2) masked as the forward masks (whole 64 x 64 blocks by
//               full_key_span, else per element by KeyRowSpans; rows past N: 0) while dP^T runs,
//               dV += P^T dO issued at once, dS^T = P^T (dP^T - delta), dK += dS^T Q (A from
//               registers, B read transposed).
//               kDq (the default mode): dS^T also goes to shared memory as dS (stmatrix .trans),
//               and dQ_accum += dS K by wgmma (A = dS, B = the K tile read transposed; issued before
//               dK, so that dK runs during the dQ atomics) and fp32 atomics: at D = 128 warpgroup w
//               takes D columns 64 w .. + 63 over all 128 keys (dS double-buffered), at D = 64 all 64
//               columns over its own 64 keys. convert (BwdSm80's) scales dQ_accum into dQ. 5
//               matmuls a pair; the order of the adds varies from run to run.
//   dkdv_ws:    (bwd90.dq = "writer": kWs) the default mode's dkdv in FlashAttention-3's layout: a
//               producer warpgroup (warp 0 fills the ring; warp 1 adds each consumer warpgroup's
//               staged dQ tile by the tensor copy engine's reduce) and two consumer warpgroups that
//               compute as dkdv's two do (BWD_SM90_PIPE.md, "The warp-specialised kernel"). First
//               form checked on an H100 (cuda-2026-12-07-dq-overlap.md); this form not yet.
//   dq:         (deterministic mode) one block per (batch, head, query tile of 128 rows), warpgroup w owns 64 rows; over
//               the forward's key tiles (key_tile_ranges, kBNq keys; cp.async double buffers):
//               S = Q K^T, dP = dO V^T, dS = P (dP - delta), dQ += dS K; dQ = scale dQ written once.
//
// Layouts as the forward's; LSE2, Delta (B, H, N) fp32 scratch.
#pragma once
#include "common.cuh"
#include "mask.cuh"
#include "work.cuh"
#include "sm90/barrier.cuh"
#include "sm90/softmax.cuh"
#include "sm90/tiles.cuh"
#include "sm90/tma.cuh"
#include "sm90/wgmma.cuh"
#include "bwd_sm80.cuh"

namespace spc {

// dkdv's query rows per step: C::kBMq where the traits have it (a layout's Bwd90Tiles, the config's
// bwd90.rows: 64, or 128 at D = 64), else 64 (D = 128 layouts instantiate with the mma.sync
// backward's BwdTiles, which has none).
template <class C, class = void>
struct Bwd90Rows {
  static constexpr int value = 64;
};
template <class C>
struct Bwd90Rows<C, decltype(void(C::kBMq))> {
  static constexpr int value = C::kBMq;
};

// How dkdv adds dQ (kDq) and who loads: C::kDqWriter where the traits have it (the config's
// bwd90.dq == "writer"), else false. false: two warpgroups, both compute; warp 0 also fills the
// ring, and each thread adds its dQ with float2 atomics (dkdv_two). true: three warpgroups, FlashAttention-3's
// layout (dkdv_ws): a producer warpgroup at 24 registers (warp 0 fills the ring; warp 1, the dQ
// writer, adds each warpgroup's staged dQ tile into dQ_accum by the tensor copy engine's reduce)
// and two consumer warpgroups at 240 registers that only compute.
template <class C, class = void>
struct Bwd90DqWriter {
  static constexpr bool value = false;
};
template <class C>
struct Bwd90DqWriter<C, decltype(void(C::kDqWriter))> {
  static constexpr bool value = C::kDqWriter;
};
// dkdv_ws's dQ staging (each consumer warpgroup's 64 x 64 fp32 dQ tile as two boxes of 32 columns
// in the 128-byte swizzle, the tensor map's box): [warpgroup][box][64 rows x 32 floats]; nothing
// for dkdv_two.
template <bool kOn>
struct DqStaging {
  alignas(1024) float box[2][2][64 * 32];
};
template <>
struct DqStaging<false> {};

// A per-row value of the query tile (lse2, delta in shared memory) at a thread's accumulator columns
// 8 x + 2 t4 + o (o = 0, 1; x < kPairs): loaded into registers as kPairs 8-byte pairs when
// constructed, or read from shared memory at each use when kPairs is 0 (no registers to spare).
template <int kPairs>
struct RowPairs {
  float2 v[kPairs];
  __device__ __forceinline__ RowPairs(const float* p, int t4) {
#pragma unroll
    for (int x = 0; x < kPairs; ++x) v[x] = *reinterpret_cast<const float2*>(p + x * 8 + 2 * t4);
  }
  __device__ __forceinline__ float get(const float*, int x, int o, int) const { return o ? v[x].y : v[x].x; }
};
template <>
struct RowPairs<0> {
  __device__ __forceinline__ RowPairs(const float*, int) {}
  __device__ __forceinline__ float get(const float* p, int x, int o, int t4) const { return p[x * 8 + 2 * t4 + o]; }
};

template <class T, class L, class C>
struct BwdSm90 {
  using elem_t = T;
  static constexpr int kThreads = 256;  // two warpgroups
  static constexpr int kD = L::kD, kGroup = L::kGroup, kTermSlots = L::kTermSlots, kModSlots = L::kModSlots;
  static constexpr int kFields = MOD_BASE + MOD_STRIDE * kModSlots;
  static_assert(kD % 64 == 0, "head_dim");
  // dkdv: 128 keys a block, query tiles of kBMq rows (64; 128 at D = 64 with bwd90.rows = 128:
  // kWide). dq: 128 rows a block, key tiles of kBNq.
  static constexpr int kBN = 128, kBMq = Bwd90Rows<C>::value;
  static_assert(kBMq == 64 || (kBMq == 128 && kD == 64), "dkdv query rows: 64, or 128 at head_dim 64");
  static constexpr bool kWide = kBMq == 128;
  static constexpr bool kWs = Bwd90DqWriter<C>::value;
  // dkdv's block (the default mode's kernel): two consumer warpgroups (256 threads), and with kWs a
  // producer warpgroup before them. dkdv_det's is always kThreads (dkdv_two).
  static constexpr int kConsumers = 256, kDkdvThreads = kWs ? 384 : 256;
  static constexpr int kProducerRegs = 24, kConsumerRegs = 240;  // kWs: 128 x 24 + 256 x 240 <= 384 x 168
  static constexpr int kTable = kTermSlots * kFields;
  // Whether dkdv reads the tile's delta into registers before dP^T is awaited (RowPairs below): not
  // at 128 rows, nor with query-head groups at D = 128 (ptxas spills 16-36 bytes there).
  static constexpr bool kHoistDelta = !kWide && !(kD == 128 && kGroup > 1);
  static constexpr int kBM = 128, kBNq = kD >= 128 ? 64 : 128;
  using KTiles = Sm90Tiles<T, kD, kBN, kBMq, kThreads>;  // S^T = K Q^T (A: the K tile), P^T dO (B: the dO tile)
  using QTiles = Sm90Tiles<T, kD, kBM, kBNq, kThreads>;  // S = Q K^T (A: the Q tile), dS K (B: the K tile)

  // dkdv's ring of query-tile stages (Q, dO by the tensor copy engine, lse2 and delta by warp 0's
  // cp.async), and its dS buffers (kDq): D = 128 reads the other warpgroup's dS too, so tile t's dS
  // is buffer t % 2 (a warpgroup writes tile t + 1's while the other may still read tile t's).
  // dkdv_two: 3 stages. dkdv_ws: 2 at D = 128 and at 128 rows (with the 32 KiB of dQ staging a third
  // would not fit; FlashAttention-3's hdim-128 backward has 2 too), else 3.
  static constexpr int kQStages = 3, kWsStages = kD == 128 || kWide ? 2 : 3;
  static constexpr bool kSplitD = kD == 128;  // kDq: each warpgroup's dQ wgmma takes 64 D columns over all 128 keys
  // kWide (D = 64, 128 rows): each warpgroup's dQ wgmma takes 64 query rows (64 wg ..) over all 128
  // keys, so it too reads the other warpgroup's dS: two buffers, as at D = 128.
  static constexpr bool kSharedDs = kSplitD || kWide;
  static constexpr int kDsBufs = kSharedDs ? 2 : 1;
  static constexpr int kFullCount = 1 + 32;  // warp 0: lane 0's arrive.expect_tx, every lane's cp.async arrive (noinc)
  // dkdv's shared memory: kW = false for dkdv_two (DkdvSmem), true for dkdv_ws (WsSmem).
  template <bool kW>
  struct __align__(1024) DkdvSmemT {
    static constexpr int kStages = kW ? kWsStages : kQStages, kHeads = kW ? kGroup : 1;
    elem_t k[kBN * kD];
    elem_t v[kBN * kD];
    elem_t q[kStages][kBMq * kD];
    elem_t dout[kStages][kBMq * kD];
    elem_t ds[kDsBufs][kBMq * kBN];  // kDq: dS of a query tile, [kBMq rows][128 keys] swizzled (the A operand of dS K)
    float lse2[kStages][kBMq];
    float delta[kStages][kBMq];
    uint64_t kv_full;                            // K and V loaded (TMA transaction bytes), once
    uint64_t full[kStages], empty[kStages];      // stage loaded (kFullCount arrivals + bytes) / free (every consumer thread arrived)
    // dkdv_two: the current head's table and tile ranges; dkdv_ws: every head of the KV group's, set
    // up once before the warpgroups part (no block barrier after that).
    int table[kHeads * kTermSlots * kFields];
    TileRanges<kTermSlots> ranges[kHeads];
    DqStaging<kW> dq;  // dkdv_ws's dQ staging (nothing for dkdv_two)
  };
  using DkdvSmem = DkdvSmemT<false>;
  using WsSmem = DkdvSmemT<true>;
  struct __align__(1024) DqSmem {
    elem_t q[kBM * kD];
    elem_t dout[kBM * kD];
    elem_t k[2][kBNq * kD];
    elem_t v[2][kBNq * kD];
    int table[kTermSlots * kFields];
    TileRanges<kTermSlots> ranges;
  };
  // + alignment slack. kDkdvSmemBytes: the default mode's dK/dV kernel (dkdv_ws with kWs, else
  // dkdv_two); kDkdvDetSmemBytes: the deterministic one (always dkdv_two).
  static constexpr int kDkdvDetSmemBytes = (int)sizeof(DkdvSmem) + 1024;
  static constexpr int kDkdvSmemBytes = kWs ? (int)sizeof(WsSmem) + 1024 : kDkdvDetSmemBytes;
  static constexpr int kDqSmemBytes = (int)sizeof(DqSmem) + 1024;
  static_assert(kDkdvSmemBytes <= 227 * 1024 && kDkdvDetSmemBytes <= 227 * 1024, "dkdv shared memory");

  template <class S>
  static __device__ __forceinline__ S& smem() {
    extern __shared__ unsigned char smem_raw[];
    return *reinterpret_cast<S*>(smem_raw + ((1024u - (smem_u32(smem_raw) & 1023u)) & 1023u));
  }

  // dS^T of one 16-key x 64-row warp slice (da: the A fragments pack_p made of it; m of da[kk][m]
  // is the 8 x 8 block of keys 8 (m & 1) and rows 16 kk + 8 (m >> 1)) stored transposed into the
  // dS tile: stmatrix .trans writes row i of block m (query row, 8 keys: 16 bytes) at the address
  // lane 8 m + i gives.
  static __device__ __forceinline__ void store_ds(elem_t* ds, const uint32_t (&da)[kBMq / 16][4], int key0, int lane) {
    const int m = lane >> 3, i = lane & 7;
#pragma unroll
    for (int kk = 0; kk < kBMq / 16; ++kk) {
      const uint32_t addr = smem_u32(ds + swz128<kBMq>(16 * kk + 8 * (m >> 1) + i, key0 + 8 * (m & 1)));
      asm volatile("stmatrix.sync.aligned.m8n8.x4.trans.shared.b16 [%0], {%1, %2, %3, %4};\n" ::"r"(addr), "r"(da[kk][0]), "r"(da[kk][1]),
                   "r"(da[kk][2]), "r"(da[kk][3])
                   : "memory");
    }
  }

  // dQ_accum rows [0, 64) of the tile += dS K, from the dS tile both warpgroups stored: dq_issue
  // waits for it (the barrier; a dS buffer is not written again before both have read it: see
  // DkdvSmem) and issues the wgmma group (not awaited), dq_atomics adds its result (acc: the tile's rows, D contiguous;
  // rows >= rows_left are not written). D = 128: this warpgroup's 64 D columns over the 128 keys;
  // D = 64: all columns over its own 64 keys (both warpgroups add into each element); D = 64 with
  // 128 rows (kWide): all columns of this warpgroup's 64 rows (64 wg ..) over the 128 keys (each
  // element added once a block).
  // kBar: the barrier over both computing warpgroups (0: __syncthreads, the whole block; else the
  // named barrier of that id over 256 threads, dkdv_ws's consumers).
  template <int kBar = 0>
  static __device__ __forceinline__ void dq_issue(const elem_t* ds, const elem_t* k, float (&d)[32], int wg) {
    static_assert(kD == 128 || kD == 64, "dQ split: 64 columns of D per wgmma");
    asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");  // stmatrix (generic) -> wgmma (async proxy)
    if constexpr (kSharedDs && kBar != 0)
      named_sync(kBar, kConsumers);  // both warpgroups' dS
    else if constexpr (kSharedDs)
      __syncthreads();  // both warpgroups' dS
    else if (wg == 0)  // this warpgroup's own dS columns only (named barriers 1 and 2, 128 threads each)
      asm volatile("bar.sync 1, 128;\n" ::: "memory");
    else
      asm volatile("bar.sync 2, 128;\n" ::: "memory");
    const int col0 = kSplitD ? 64 * wg : 0;
    const int row0 = kWide ? 64 * wg : 0;  // this warpgroup's dS rows (kWide): 64 rows of 128 bytes, 1024-byte aligned
    const int kk0 = kSharedDs ? 0 : 4 * wg, kk1 = kSharedDs ? kBN / 16 : 4 * wg + 4;
    wg_fence();
#pragma unroll
    for (int kk = kk0; kk < kk1; ++kk) {
      const uint64_t da = mdesc(ds + (kk >> 2) * kBMq * 64 + row0 * 64 + (kk & 3) * 16, 16, 1024);
      const uint64_t db = mdesc(k + (col0 >> 6) * kBN * 64 + kk * 16 * 64, kBN * 128, 1024);
      WgmmaSSTB<elem_t, 64>::mma(d, da, db, kk > kk0 ? 1 : 0);
    }
    wg_commit();
  }
  static __device__ __forceinline__ void dq_atomics(const float (&d)[32], float* acc, int rows_left, int wg, int warp, int g, int t4) {
    const int col0 = kSplitD ? 64 * wg : 0;
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      const int row = (kWide ? 64 * wg : 0) + (warp & 3) * 16 + g + 8 * r;
      if (row < rows_left) {
        float* o = acc + (int64_t)row * kD + col0;
#pragma unroll
        for (int x = 0; x < 8; ++x) atomicAdd(reinterpret_cast<float2*>(o + x * 8 + 2 * t4), make_float2(d[4 * x + 2 * r], d[4 * x + 2 * r + 1]));
      }
    }
  }

  // The dQ writer's barriers (kWs; named barriers, 128 threads of consumer warpgroup w + the writer
  // warp): kDqFull + w, the warpgroup's dQ tile is staged; kDqEmpty + w, its staging box is read
  // (free). kConsumerBar: both consumer warpgroups (256). Ids 1 and 2 are dq_issue's.
  static constexpr int kDqFull = 3, kDqEmpty = 5, kConsumerBar = 7, kDqBarThreads = 128 + 32;

  // A consumer warpgroup's dQ tile d (its 64 x 64 of dq_issue) into its two staging boxes: element
  // (row 16 (warp & 3) + g + 8 r, column 8 x + 2 t4 + e) goes to box x / 4, 16-byte chunk
  // 2 (x % 4) + t4 / 2 of its 128-byte row, XOR the row's low 3 bits (the 128-byte swizzle; a
  // warp's 8-byte stores then fill every bank twice).
  static __device__ __forceinline__ void dq_stage(const float (&d)[32], float (&box)[2][64 * 32], int warp, int g, int t4) {
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      const int rr = (warp & 3) * 16 + g + 8 * r;
#pragma unroll
      for (int x = 0; x < 8; ++x) {
        const int chunk = (2 * (x & 3) + (t4 >> 1)) ^ (rr & 7);
        *reinterpret_cast<float2*>(&box[x >> 2][rr * 32 + chunk * 4 + (t4 & 1) * 2]) = make_float2(d[4 * x + 2 * r], d[4 * x + 2 * r + 1]);
      }
    }
  }

  // ---- dK, dV (and with kDq, dQ_accum), warp-specialised (kWs; BWD_SM90_PIPE.md, "The
  // warp-specialised kernel"). Warpgroup 0 produces: warp 0 fills the ring (Q, dO by TMA, lse2 and
  // delta by cp.async; a stage once the 256 consumer threads released it), warp 1 (kDq) adds each
  // consumer warpgroup's staged dQ tile into dQ_accum (tensor reduce; rows past N are outside the
  // map). Warpgroups 1 and 2 compute as dkdv_two's two warpgroups do, with dQ staged in shared
  // memory instead of the atomics, and the per-tile barrier before the dQ wgmma over the 256
  // consumer threads only. Every head is set up (table, tile ranges) before the warpgroups part.
  static __device__ __forceinline__ void dkdv_ws(const float* __restrict__ LSE2, const float* __restrict__ Delta, elem_t* __restrict__ dK,
                                                 elem_t* __restrict__ dV, const int* __restrict__ table, const int* __restrict__ order, int n, int heads,
                                                 float scale, float scale_log2, const BwdStrides& st, const CUtensorMap& tmQ, const CUtensorMap& tmK,
                                                 const CUtensorMap& tmV, const CUtensorMap& tmDO, const CUtensorMap& tmDQ) {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
    WsSmem& sm = smem<WsSmem>();
    const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31;
    const KeyWorkItem w(order[blockIdx.x], n, heads, kBN, kGroup);
    const int j0 = w.j0;

    if (tid == 0) {
      mbar_init(&sm.kv_full, 1);
      for (int x = 0; x < kWsStages; ++x) {
        mbar_init(&sm.full[x], kFullCount);
        mbar_init(&sm.empty[x], kConsumers);
      }
      mbar_fence_init();
      // K and V (rows past N read as zeros), once; the consumers wait for them before their first tile.
      constexpr uint32_t kTileBytes = kBN * kD * (uint32_t)sizeof(elem_t);
      mbar_expect_tx(&sm.kv_full, 2 * kTileBytes);
#pragma unroll
      for (int c = 0; c < kD / 64; ++c) {
        tma_load_4d(sm.k + c * kBN * 64, &tmK, c * 64, j0, w.kvh, w.b, &sm.kv_full);
        tma_load_4d(sm.v + c * kBN * 64, &tmV, c * 64, j0, w.kvh, w.b, &sm.kv_full);
      }
    }
    // Every head's table and query-tile ranges for the block's keys (the group's heads are
    // consecutive, so are their table rows), by the whole block before it parts: after this, the
    // warpgroups meet only on the ring's mbarriers, the dQ pairs and the consumers' own barriers
    // (FlashAttention-3's layout; no block barrier reached from two roles' code). The barriers also
    // make the initialised mbarriers visible to every thread.
    for (int x = tid; x < kGroup * kTable; x += kDkdvThreads) sm.table[x] = table[w.kvh * kGroup * kTable + x];
    __syncthreads();
    if (tid < kGroup) query_tile_ranges<kTermSlots, kFields, kBMq>(sm.ranges[tid], sm.table + tid * kTable, j0, w.j1, n);
    __syncthreads();

    if (warp < 4) {
      // ---- The producer warpgroup.
      regs_dealloc<kProducerRegs>();
      RingPos<kWsStages> wr;  // the ring position of the next fill (goes on across the group's heads, as the consumers' rd)
      int t = 0;             // the dQ writer: the block's tiles so far, over its heads
      for (int gh = 0; gh < kGroup; ++gh) {
        const int h = w.kvh * kGroup + gh;
        if (warp == 0) {
          // Every query tile of the head in order, each into the next stage once its previous use
          // was released by all 256 consumer threads (parity phase ^ 1: a fresh barrier's first
          // wait succeeds at once). lse2 and delta by the lanes' cp.async (zero past N: those rows
          // are masked), Q and dO by lane 0's TMA (rows past N read as zeros); the stage's full
          // barrier completes on the 32 cp.async arrivals, lane 0's expect_tx and the bytes.
          const int64_t row0 = (int64_t)(w.b * heads + h) * n;
          for (TileCursor<kTermSlots, true> ld(sm.ranges[gh]); !ld.done(); ld.next()) {
            const int s = wr.stage, i0 = ld.kt * kBMq;
            mbar_wait(&sm.empty[s], wr.phase ^ 1);
#pragma unroll
            for (int x = lane; x < kBMq; x += 32) {
              const bool in = i0 + x < n;
              cp_async4(&sm.lse2[s][x], LSE2 + row0 + (in ? i0 + x : 0), in);
              cp_async4(&sm.delta[s][x], Delta + row0 + (in ? i0 + x : 0), in);
            }
            mbar_arrive_cp_async(&sm.full[s]);
            if (lane == 0) {
              mbar_expect_tx(&sm.full[s], 2 * kBMq * kD * (uint32_t)sizeof(elem_t));
#pragma unroll
              for (int c = 0; c < kD / 64; ++c) {
                tma_load_4d(sm.q[s] + c * kBMq * 64, &tmQ, c * 64, i0, h, w.b, &sm.full[s]);
                tma_load_4d(sm.dout[s] + c * kBMq * 64, &tmDO, c * 64, i0, h, w.b, &sm.full[s]);
              }
            }
            __syncwarp();
            wr.advance();
          }
        } else if (warp == 1) {
          // The dQ writer: for each tile, once consumer warpgroup c staged its dQ (kDqFull + c),
          // lane 0 adds its two boxes into dQ_accum; before the next tile, once those reads are
          // done, it frees the boxes (kDqEmpty + c; not after the block's last tile, which the
          // consumers do not wait for: arrivals and waits pair up).
          const int bh = w.b * heads + h;
          for (TileCursor<kTermSlots, true> ld(sm.ranges[gh]); !ld.done(); ld.next(), ++t) {
            if (t > 0) {
              if (lane == 0) bulk_wait_read<0>();
              __syncwarp();
              named_arrive(kDqEmpty + 0, kDqBarThreads);
              named_arrive(kDqEmpty + 1, kDqBarThreads);
            }
            const int i0 = ld.kt * kBMq;
#pragma unroll
            for (int c = 0; c < 2; ++c) {
              named_sync(kDqFull + c, kDqBarThreads);
              if (lane == 0) {
                const int col0 = kSplitD ? 64 * c : 0, row = i0 + (kWide ? 64 * c : 0);
                tma_reduce_add_3d(&tmDQ, sm.dq.box[c][0], col0, row, bh);
                tma_reduce_add_3d(&tmDQ, sm.dq.box[c][1], col0 + 32, row, bh);
              }
            }
            if (lane == 0) bulk_commit();
          }
        }
      }
      // The last adds have read the staging and landed, and warp 0's last lse2/delta copies have
      // landed (the consumers wait for them anyway), before the producer's warps end.
      if (warp == 1 && lane == 0) bulk_wait<0>();
      if (warp == 0) asm volatile("cp.async.wait_all;\n" ::: "memory");  // (its copies are in no commit group)
      return;
    }

    // ---- The consumer warpgroups (cw = 0, 1: keys j0 + 64 cw .. + 63).
    regs_alloc<kConsumerRegs>();
    const int cw = (warp >> 2) - 1, ctid = tid - 128, g = lane >> 2, t4 = lane & 3;
    const int jw = j0 + cw * 64;
    const int keyA = jw + (warp & 3) * 16 + g, keyB = keyA + 8;
    float dk[kD / 2], dv[kD / 2];
#pragma unroll
    for (int x = 0; x < kD / 2; ++x) dk[x] = dv[x] = 0.f;
    const elem_t* kbase = sm.k + cw * 64 * 64;
    const elem_t* vbase = sm.v + cw * 64 * 64;
    RingPos<kWsStages> rd;  // the ring position of the tile to compute (across the group's heads)
    int dsb = 0;           // the dS buffer of the current tile
    bool first = true;     // the block's first tile (its dQ staging box is free without a wait)

    for (int gh = 0; gh < kGroup; ++gh) {
      const int* const tab = sm.table + gh * kTable;  // head w.kvh * kGroup + gh's
      const KeyRowSpans<kTermSlots, kFields> ks(tab, keyA, keyB, n);
      if (gh == 0) mbar_wait(&sm.kv_full, 0);
      for (TileCursor<kTermSlots, true> cur(sm.ranges[gh]); !cur.done(); cur.next()) {
        const int buf = rd.stage;
        mbar_wait(&sm.full[buf], rd.phase);
        const int i0 = cur.kt * kBMq, rows_left = n - i0;

        // As dkdv_two: S^T and dP^T as two groups; the table and lse2 reads while S^T runs.
        float st[kBMq / 2], dpt[kBMq / 2];
        wg_fence();
        KTiles::issue_s(st, kbase, sm.q[buf]);
        wg_commit();
        KTiles::issue_s(dpt, vbase, sm.dout[buf]);
        wg_commit();
        const FullSpans<kTermSlots, kFields, kModSlots> fs(tab, i0, i0 + kBMq, n);
        const bool full = fs.template full<64>(jw);
        RowPairs<kWide ? 0 : kBMq / 8> l2(sm.lse2[buf], t4);
        wg_wait<1>();  // S^T done; dP^T may still run
        fence_regs(st);

        // P^T (masked as the forward; rows past N: 0), in st.
#pragma unroll
        for (int x = 0; x < kBMq / 8; ++x)
#pragma unroll
          for (int e = 0; e < 4; ++e) {
            const int r = e >> 1, c = x * 8 + 2 * t4 + (e & 1);
            const bool ok = (full || ks.template allows<kModSlots>(tab, r, i0 + c, r == 0 ? keyA : keyB)) && c < rows_left;
            st[4 * x + e] = ok ? exp2f(fmaf(st[4 * x + e], scale_log2, -l2.get(sm.lse2[buf], x, e & 1, t4))) : 0.f;
          }
        RowPairs<kHoistDelta ? kBMq / 8 : 0> dl(sm.delta[buf], t4);
        uint32_t pa[kBMq / 16][4], da[kBMq / 16][4];
        if constexpr (!kWide) {
          pack_p<elem_t, kBMq>(pa, st);
          fence_regs(dv);
          wg_fence();
          KTiles::issue_pv(dv, pa, sm.dout[buf]);
          wg_commit();
          wg_wait<1>();  // dP^T done; dV += P^T dO may still run
        } else {
          wg_wait<0>();  // dP^T done
        }
        fence_regs(dpt);

        // dS^T = P^T (dP^T - delta), in dpt.
#pragma unroll
        for (int x = 0; x < kBMq / 8; ++x)
#pragma unroll
          for (int e = 0; e < 4; ++e) dpt[4 * x + e] = st[4 * x + e] * (dpt[4 * x + e] - dl.get(sm.delta[buf], x, e & 1, t4));
        if constexpr (kWide) {
          pack_p<elem_t, kBMq>(pa, st);
          fence_regs(dv);
          wg_fence();
          KTiles::issue_pv(dv, pa, sm.dout[buf]);
          wg_commit();
        }
        pack_p<elem_t, kBMq>(da, dpt);
        // dS to shared memory, dQ = dS K (issued first) and dK += dS^T Q; once dQ is done, it
        // is staged for the writer (after the writer freed the box: its reduce of the previous
        // tile read it), while dK runs.
        store_ds(sm.ds[dsb], da, cw * 64 + (warp & 3) * 16, lane);
        float d[32];
        dq_issue<kConsumerBar>(sm.ds[dsb], sm.k, d, cw);
        fence_regs(dk);
        wg_fence();
        KTiles::issue_pv(dk, da, sm.q[buf]);
        wg_commit();
        wg_wait<1>();  // dV and dQ done; dK may still run
        fence_regs(d);
        if (!first) named_sync(kDqEmpty + cw, kDqBarThreads);
        dq_stage(d, sm.dq.box[cw], warp, g, t4);
        asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");  // the stores (generic) -> the writer's reduce (async proxy)
        named_arrive(kDqFull + cw, kDqBarThreads);
        first = false;
        dsb = kDsBufs > 1 ? dsb ^ 1 : 0;
        // Every wgmma that reads the stage done, then the stage is released to the producer.
        wg_wait<0>();
        fence_regs(dv);
        fence_regs(dk);
        mbar_arrive(&sm.empty[buf]);
        rd.advance();
      }
    }

    // Epilogue, as dkdv_two's, by the 256 consumer threads: staged over k, v and the start of q
    // (no copy in flight: every fill was consumed, every wgmma retired; the dQ staging is apart).
    constexpr int kRow = kD + 8;
    static_assert(offsetof(WsSmem, v) == offsetof(WsSmem, k) + sizeof(WsSmem::k) && offsetof(WsSmem, q) == offsetof(WsSmem, v) + sizeof(WsSmem::v) &&
                      2 * kBN * kRow * sizeof(elem_t) <= sizeof(WsSmem::k) + sizeof(WsSmem::v) + sizeof(WsSmem::q),
                  "epilogue staging: over k, v and q, which are contiguous");
    unsigned char* const stage = reinterpret_cast<unsigned char*>(&sm) + offsetof(WsSmem, k);
    elem_t* const sdk = reinterpret_cast<elem_t*>(stage);
    elem_t* const sdv = reinterpret_cast<elem_t*>(stage + kBN * kRow * sizeof(elem_t));
    named_sync(kConsumerBar, kConsumers);  // both consumer warpgroups past their last tile
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      const int lk = (r == 0 ? keyA : keyB) - j0;
#pragma unroll
      for (int x = 0; x < kD / 8; ++x) {
        *reinterpret_cast<typename Elem<elem_t>::pair*>(sdk + lk * kRow + x * 8 + 2 * t4) = Elem<elem_t>::pack(dk[4 * x + 2 * r] * scale, dk[4 * x + 2 * r + 1] * scale);
        *reinterpret_cast<typename Elem<elem_t>::pair*>(sdv + lk * kRow + x * 8 + 2 * t4) = Elem<elem_t>::pack(dv[4 * x + 2 * r], dv[4 * x + 2 * r + 1]);
      }
    }
    named_sync(kConsumerBar, kConsumers);
    constexpr int kChunks = kD / 8;
    elem_t* const gk = dK + st.dk.slice(w.b, w.kvh);
    elem_t* const gv = dV + st.dv.slice(w.b, w.kvh);
#pragma unroll
    for (int c = ctid; c < kBN * kChunks; c += kConsumers) {
      const int lk = c / kChunks, col = (c % kChunks) * 8;
      if (j0 + lk < n) {
        *reinterpret_cast<uint4*>(gk + (int64_t)(j0 + lk) * st.dk.n + col) = *reinterpret_cast<const uint4*>(sdk + lk * kRow + col);
        *reinterpret_cast<uint4*>(gv + (int64_t)(j0 + lk) * st.dv.n + col) = *reinterpret_cast<const uint4*>(sdv + lk * kRow + col);
      }
    }
#else
    __trap();  // built without sm_90a: the launcher never starts this kernel then
#endif
  }

  // ---- dK, dV (and with kDq, dQ_accum): the kernel entry. kWs: the default mode's kernel is
  // dkdv_ws (384 threads, kDkdvThreads); the deterministic one (no dQ) stays dkdv_two (256 threads,
  // kThreads) with its own shared memory (DkdvSmem): at 240 registers it spilled for D = 128 with
  // query-head groups (sinks_window), and without dQ adds there is nothing for a writer to take.
  template <bool kDq>
  static __device__ __forceinline__ void dkdv(const elem_t* __restrict__ Q, const elem_t* __restrict__ K, const elem_t* __restrict__ V,
                                              const elem_t* __restrict__ dO, const float* __restrict__ LSE2, const float* __restrict__ Delta,
                                              elem_t* __restrict__ dK, elem_t* __restrict__ dV, float* __restrict__ dQacc, const int* __restrict__ table,
                                              const int* __restrict__ order, int n, int heads, float scale, float scale_log2, const BwdStrides& st,
                                              const CUtensorMap& tmQ, const CUtensorMap& tmK, const CUtensorMap& tmV, const CUtensorMap& tmDO,
                                              const CUtensorMap& tmDQ) {
    if constexpr (kWs && kDq)
      dkdv_ws(LSE2, Delta, dK, dV, table, order, n, heads, scale, scale_log2, st, tmQ, tmK, tmV, tmDO, tmDQ);
    else
      dkdv_two<kDq>(Q, K, V, dO, LSE2, Delta, dK, dV, dQacc, table, order, n, heads, scale, scale_log2, st, tmQ, tmK, tmV, tmDO);
  }

  // ---- dK, dV (and with kDq, dQ_accum), two warpgroups that compute (warp 0 also fills the ring).
  template <bool kDq>
  static __device__ __forceinline__ void dkdv_two(const elem_t* __restrict__ Q, const elem_t* __restrict__ K, const elem_t* __restrict__ V,
                                              const elem_t* __restrict__ dO, const float* __restrict__ LSE2, const float* __restrict__ Delta,
                                              elem_t* __restrict__ dK, elem_t* __restrict__ dV, float* __restrict__ dQacc, const int* __restrict__ table,
                                              const int* __restrict__ order, int n, int heads, float scale, float scale_log2, const BwdStrides& st,
                                              const CUtensorMap& tmQ, const CUtensorMap& tmK, const CUtensorMap& tmV, const CUtensorMap& tmDO) {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
    DkdvSmem& sm = smem<DkdvSmem>();
    const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31;
    const int wg = warp >> 2, g = lane >> 2, t4 = lane & 3;
    const KeyWorkItem w(order[blockIdx.x], n, heads, kBN, kGroup);
    const int j0 = w.j0, jw = j0 + wg * 64;  // this warpgroup's keys: jw .. jw + 63
    const int keyA = jw + (warp & 3) * 16 + g, keyB = keyA + 8;

    if (tid == 0) {
      mbar_init(&sm.kv_full, 1);
      for (int x = 0; x < kQStages; ++x) {
        mbar_init(&sm.full[x], kFullCount);
        mbar_init(&sm.empty[x], kConsumers);
      }
      mbar_fence_init();
      // K and V (rows past N read as zeros), once; waited for before the first tile.
      constexpr uint32_t kTileBytes = kBN * kD * (uint32_t)sizeof(elem_t);
      mbar_expect_tx(&sm.kv_full, 2 * kTileBytes);
#pragma unroll
      for (int c = 0; c < kD / 64; ++c) {
        tma_load_4d(sm.k + c * kBN * 64, &tmK, c * 64, j0, w.kvh, w.b, &sm.kv_full);
        tma_load_4d(sm.v + c * kBN * 64, &tmV, c * 64, j0, w.kvh, w.b, &sm.kv_full);
      }
    }
    // (the head loop's first barrier makes the initialised barriers visible to every thread)

    float dk[kD / 2], dv[kD / 2];
#pragma unroll
    for (int x = 0; x < kD / 2; ++x) dk[x] = dv[x] = 0.f;
    const elem_t* kbase = sm.k + wg * 64 * 64;
    const elem_t* vbase = sm.v + wg * 64 * 64;
    // The ring position of the tile to compute; it goes on across the group's heads (tile k of the
    // block, over its heads, is position k). dsb: the dS buffer of the current tile.
    RingPos<kQStages> rd;
    int dsb = 0;

    for (int gh = 0; gh < kGroup; ++gh) {
      const int h = w.kvh * kGroup + gh;
      const int64_t qrow0 = (int64_t)(w.b * heads + h) * n;
      __syncthreads();  // the previous head's table and ranges are no longer read (its tiles are all computed)
      for (int x = tid; x < kTermSlots * kFields; x += kThreads) sm.table[x] = table[h * kTermSlots * kFields + x];
      __syncthreads();
      if (tid == 0) query_tile_ranges<kTermSlots, kFields, kBMq>(sm.ranges[0], sm.table, j0, w.j1, n);
      __syncthreads();
      const KeyRowSpans<kTermSlots, kFields> ks(sm.table, keyA, keyB, n);

      // Query tiles in order. Warp 0 fills a stage once every thread has released it: Q and dO by
      // TMA (lane 0; rows past N read as zeros), lse2 and delta by cp.async (zeros past N: those
      // rows are masked below); the stage's full barrier completes when both have landed.
      TileCursor<kTermSlots, true> cur(sm.ranges[0]);
      // Warp 0 fills ring position `ahead` tiles past rd with the tile `ahead` tiles past cur (if
      // any): no cursor of its own to keep in registers across the tile loop.
      auto fill = [&](int ahead) {
        if (warp != 0) return;
        TileCursor<kTermSlots, true> ld = cur;
        RingPos<kQStages> wr = rd;
        for (int x = 0; x < ahead && !ld.done(); ++x) {
          ld.next();
          wr.advance();
        }
        if (ld.done()) return;
        const int s = wr.stage, i0 = ld.kt * kBMq;
        const int64_t row0 = (int64_t)(w.b * heads + h) * n;
        mbar_wait(&sm.empty[s], wr.phase ^ 1);
#pragma unroll
        for (int x = lane; x < kBMq; x += 32) {
          const bool in = i0 + x < n;
          cp_async4(&sm.lse2[s][x], LSE2 + row0 + (in ? i0 + x : 0), in);
          cp_async4(&sm.delta[s][x], Delta + row0 + (in ? i0 + x : 0), in);
        }
        mbar_arrive_cp_async(&sm.full[s]);
        if (lane == 0) {
          mbar_expect_tx(&sm.full[s], 2 * kBMq * kD * (uint32_t)sizeof(elem_t));
#pragma unroll
          for (int c = 0; c < kD / 64; ++c) {
            tma_load_4d(sm.q[s] + c * kBMq * 64, &tmQ, c * 64, i0, h, w.b, &sm.full[s]);
            tma_load_4d(sm.dout[s] + c * kBMq * 64, &tmDO, c * 64, i0, h, w.b, &sm.full[s]);
          }
        }
        __syncwarp();
      };
#pragma unroll 1
      for (int x = 0; x < kQStages - 1; ++x) fill(x);
      if (gh == 0) mbar_wait(&sm.kv_full, 0);
      while (!cur.done()) {
        const int buf = rd.stage;
        mbar_wait(&sm.full[buf], rd.phase);
        const int i0 = cur.kt * kBMq, rows_left = n - i0;

        // S^T = K Q^T and dP^T = V dO^T: this warpgroup's 64 keys x 64 rows, two groups, so that
        // P^T is computed while dP^T is still on the tensor cores.
        float st[kBMq / 2], dpt[kBMq / 2];
        wg_fence();
        KTiles::issue_s(st, kbase, sm.q[buf]);
        wg_commit();
        KTiles::issue_s(dpt, vbase, sm.dout[buf]);
        wg_commit();
        // The tile's shared-memory reads (the table for the mask, the rows' lse2) while S^T runs:
        // after the wait they would queue behind dP^T's operand reads on the tile's critical path
        // (ncu: a third of the kernel's stall samples were such loads; the waits' memory clobbers
        // keep the compiler from hoisting them itself). The lse2 of a thread's columns 8 x + 2 t4
        // and + 1 as one 8-byte load each. At 128 rows (kWide) the 32 registers they would take are
        // not there (ptxas spills): they are read where used.
        const FullSpans<kTermSlots, kFields, kModSlots> fs(sm.table, i0, i0 + kBMq, n);
        const bool full = fs.template full<64>(jw);
        RowPairs<kWide ? 0 : kBMq / 8> l2(sm.lse2[buf], t4);
        wg_wait<1>();  // S^T done; dP^T may still run
        fence_regs(st);

        // P^T (masked as the forward; rows past N: 0), in st.
#pragma unroll
        for (int x = 0; x < kBMq / 8; ++x)
#pragma unroll
          for (int e = 0; e < 4; ++e) {
            const int r = e >> 1, c = x * 8 + 2 * t4 + (e & 1);
            const bool ok = (full || ks.template allows<kModSlots>(sm.table, r, i0 + c, r == 0 ? keyA : keyB)) && c < rows_left;
            st[4 * x + e] = ok ? exp2f(fmaf(st[4 * x + e], scale_log2, -l2.get(sm.lse2[buf], x, e & 1, t4))) : 0.f;
          }
        // The rows' delta likewise, before dP^T is awaited.
        RowPairs<kHoistDelta ? kBMq / 8 : 0> dl(sm.delta[buf], t4);
        // dV += P^T dO, issued before dS^T is computed (the A fragments pa stay live until it is done).
        // kWide: after (dP^T awaited first), so that P^T (fp32, for dS^T), dP^T and pa are never
        // all live: 64 + 64 + 32 registers a thread at 128 rows.
        uint32_t pa[kBMq / 16][4], da[kBMq / 16][4];
        if constexpr (!kWide) {
          pack_p<elem_t, kBMq>(pa, st);
          fence_regs(dv);
          wg_fence();
          KTiles::issue_pv(dv, pa, sm.dout[buf]);
          wg_commit();
          wg_wait<1>();  // dP^T done; dV += P^T dO may still run
        } else {
          wg_wait<0>();  // dP^T done
        }
        fence_regs(dpt);

        // dS^T = P^T (dP^T - delta), in dpt.
#pragma unroll
        for (int x = 0; x < kBMq / 8; ++x)
#pragma unroll
          for (int e = 0; e < 4; ++e) dpt[4 * x + e] = st[4 * x + e] * (dpt[4 * x + e] - dl.get(sm.delta[buf], x, e & 1, t4));
        if constexpr (kWide) {
          // dV += P^T dO now (st is dead after this pack); it runs during the dS store, the barrier and dQ.
          pack_p<elem_t, kBMq>(pa, st);
          fence_regs(dv);
          wg_fence();
          KTiles::issue_pv(dv, pa, sm.dout[buf]);
          wg_commit();
        }
        pack_p<elem_t, kBMq>(da, dpt);
        if constexpr (kDq) {
          // dS to shared memory, then dQ_accum += dS K (issued first: its atomics wait for it) and
          // dK += dS^T Q, which runs during the atomics.
          store_ds(sm.ds[dsb], da, wg * 64 + (warp & 3) * 16, lane);
          float d[32];
          dq_issue(sm.ds[dsb], sm.k, d, wg);
          fence_regs(dk);
          wg_fence();
          KTiles::issue_pv(dk, da, sm.q[buf]);
          wg_commit();
          wg_wait<1>();  // dV and dQ done; dK may still run
          fence_regs(d);
          dq_atomics(d, dQacc + (qrow0 + i0) * kD, rows_left, wg, warp, g, t4);
          dsb = kDsBufs > 1 ? dsb ^ 1 : 0;
        } else {
          fence_regs(dk);
          wg_fence();
          KTiles::issue_pv(dk, da, sm.q[buf]);
          wg_commit();
        }
        // Every wgmma that reads the stage done, then the stage is released to warp 0.
        wg_wait<0>();
        fence_regs(dv);
        fence_regs(dk);
        mbar_arrive(&sm.empty[buf]);
        // The stage of the tile before this one is refilled with the tile kQStages - 1 ahead of it
        // (here, where only dK and dV are live; warp 0 waits until the other warpgroup released it,
        // which it did before this tile's dQ barrier at D = 128).
        fill(kQStages - 1);
        rd.advance();
        cur.next();
      }
    }

    // Epilogue: dK = scale * sum over the group's heads, dV as summed; keys past N are not written.
    // Staged through shared memory (K, V and the ring are free once both warpgroups are past their
    // last tile: every wgmma retired, no copy in flight) as rows of kD + 8 elements (a row starts 4
    // banks after the one above, so a warp's 4-byte stores of 8 rows x 4 columns hit 32 banks), then
    // written as 16-byte row chunks: 16 stores a thread instead of 2 kD / 2 of 4 bytes from the
    // accumulators, fewer to drain before the block ends (ncu: the 4-byte stores and the drain at
    // exit held ~8% of the stall samples). A thread's rows are its keyA, keyB less j0 (registers the
    // loop keeps live anyway: from wg and warp, the 128-row kernel spilled).
    constexpr int kRow = kD + 8;
    static_assert(offsetof(DkdvSmem, v) == offsetof(DkdvSmem, k) + sizeof(DkdvSmem::k) && offsetof(DkdvSmem, q) == offsetof(DkdvSmem, v) + sizeof(DkdvSmem::v) &&
                      2 * kBN * kRow * sizeof(elem_t) <= sizeof(DkdvSmem::k) + sizeof(DkdvSmem::v) + sizeof(DkdvSmem::q),
                  "epilogue staging: over k, v and q, which are contiguous");
    unsigned char* const stage = reinterpret_cast<unsigned char*>(&sm) + offsetof(DkdvSmem, k);
    elem_t* const sdk = reinterpret_cast<elem_t*>(stage);  // [kBN][kRow], then dV's
    elem_t* const sdv = reinterpret_cast<elem_t*>(stage + kBN * kRow * sizeof(elem_t));
    __syncthreads();
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      const int lk = (r == 0 ? keyA : keyB) - j0;
#pragma unroll
      for (int x = 0; x < kD / 8; ++x) {
        *reinterpret_cast<typename Elem<elem_t>::pair*>(sdk + lk * kRow + x * 8 + 2 * t4) = Elem<elem_t>::pack(dk[4 * x + 2 * r] * scale, dk[4 * x + 2 * r + 1] * scale);
        *reinterpret_cast<typename Elem<elem_t>::pair*>(sdv + lk * kRow + x * 8 + 2 * t4) = Elem<elem_t>::pack(dv[4 * x + 2 * r], dv[4 * x + 2 * r + 1]);
      }
    }
    __syncthreads();
    constexpr int kChunks = kD / 8;  // 16-byte chunks a row
    elem_t* const gk = dK + st.dk.slice(w.b, w.kvh);
    elem_t* const gv = dV + st.dv.slice(w.b, w.kvh);
#pragma unroll
    for (int c = tid; c < kBN * kChunks; c += kThreads) {
      const int lk = c / kChunks, col = (c % kChunks) * 8;
      if (j0 + lk < n) {
        *reinterpret_cast<uint4*>(gk + (int64_t)(j0 + lk) * st.dk.n + col) = *reinterpret_cast<const uint4*>(sdk + lk * kRow + col);
        *reinterpret_cast<uint4*>(gv + (int64_t)(j0 + lk) * st.dv.n + col) = *reinterpret_cast<const uint4*>(sdv + lk * kRow + col);
      }
    }
#else
    __trap();  // built without sm_90a: the launcher never starts this kernel then
#endif
  }

  // ---- dQ.
  static __device__ __forceinline__ void dq(const elem_t* __restrict__ Q, const elem_t* __restrict__ K, const elem_t* __restrict__ V,
                                            const elem_t* __restrict__ dO, const float* __restrict__ LSE2, const float* __restrict__ Delta,
                                            elem_t* __restrict__ dQ, const int* __restrict__ table, const int* __restrict__ order, int n, int heads,
                                            float scale, float scale_log2, const BwdStrides& st) {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
    DqSmem& sm = smem<DqSmem>();
    const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31;
    const int wg = warp >> 2, g = lane >> 2, t4 = lane & 3;
    const WorkItem w(order[blockIdx.x], n, heads, kBM, kGroup);
    const int64_t qrow0 = (int64_t)(w.b * heads + w.h) * n;

    QTiles::template load_tile<kBM>(sm.q, Q + st.q.slice(w.b, w.h), w.i0, n, tid, st.q.n);
    QTiles::template load_tile<kBM>(sm.dout, dO + st.dout.slice(w.b, w.h), w.i0, n, tid, st.dout.n);
    cp_commit();
    for (int x = tid; x < kTermSlots * kFields; x += kThreads) sm.table[x] = table[w.h * kTermSlots * kFields + x];
    __syncthreads();
    if (tid == 0) key_tile_ranges<kTermSlots, kFields, kBNq>(sm.ranges, sm.table, w.i0, w.i1, n);
    const int w0 = w.i0 + wg * 64;
    const int rowA = w0 + (warp & 3) * 16 + g, rowB = rowA + 8;
    const float lseA = rowA < n ? LSE2[qrow0 + rowA] : INFINITY, lseB = rowB < n ? LSE2[qrow0 + rowB] : INFINITY;  // padding rows: P = 0
    const float delA = rowA < n ? Delta[qrow0 + rowA] : 0.f, delB = rowB < n ? Delta[qrow0 + rowB] : 0.f;
    cp_wait_async_proxy<0>();
    __syncthreads();
    const FullSpans<kTermSlots, kFields, kModSlots> fs(sm.table, w0, w0 + 64, n);
    const RowSpans<kTermSlots, kFields> rs(sm.table, rowA, rowB, n);
    const elem_t* qbase = sm.q + wg * 64 * 64;
    const elem_t* dobase = sm.dout + wg * 64 * 64;

    float acc[kD / 2];
#pragma unroll
    for (int x = 0; x < kD / 2; ++x) acc[x] = 0.f;

    TileCursor<kTermSlots> cur(sm.ranges), ld(sm.ranges);
    auto load_next = [&](int stage) {
      if (!ld.done()) {
        QTiles::template load_tile<kBNq>(sm.k[stage], K + st.k.slice(w.b, w.kvh), ld.kt * kBNq, n, tid, st.k.n);
        QTiles::template load_tile<kBNq>(sm.v[stage], V + st.v.slice(w.b, w.kvh), ld.kt * kBNq, n, tid, st.v.n);
        ld.next();
      }
      cp_commit();
    };
    load_next(0);
    int buf = 0;
    while (!cur.done()) {
      cp_wait_async_proxy<0>();
      __syncthreads();
      load_next(buf ^ 1);
      const int j0 = cur.kt * kBNq;
      const bool full = fs.template full<kBNq>(j0);
      float s[kBNq / 2], dp[kBNq / 2];
      wg_fence();
      QTiles::issue_s(s, qbase, sm.k[buf]);
      QTiles::issue_s(dp, dobase, sm.v[buf]);
      wg_commit();
      wg_wait<0>();
      fence_regs(s);
      fence_regs(dp);
#pragma unroll
      for (int x = 0; x < kBNq / 8; ++x)
#pragma unroll
        for (int e = 0; e < 4; ++e) {
          const int r = e >> 1, j = j0 + x * 8 + 2 * t4 + (e & 1);
          const bool ok = full || rs.template allows<kModSlots>(sm.table, r, r == 0 ? rowA : rowB, j);
          const float p = ok ? exp2f(fmaf(s[4 * x + e], scale_log2, -(r == 0 ? lseA : lseB))) : 0.f;
          s[4 * x + e] = p * (dp[4 * x + e] - (r == 0 ? delA : delB));
        }
      uint32_t da[kBNq / 16][4];
      pack_p<elem_t, kBNq>(da, s);
      fence_regs(acc);
      wg_fence();
      QTiles::issue_pv(acc, da, sm.k[buf]);  // dQ += dS K: the K tile read as V is in O += P V
      wg_commit();
      wg_wait<0>();
      fence_regs(acc);
      cur.next();
      buf ^= 1;
    }
    cp_wait<0>();

    // dQ = scale * acc; rows with no allowed key (P = 0 everywhere) get 0.
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      const int row = r == 0 ? rowA : rowB;
      if (row < n) {
        elem_t* o = dQ + st.dq.slice(w.b, w.h) + (int64_t)row * st.dq.n;
#pragma unroll
        for (int x = 0; x < kD / 8; ++x)
          *reinterpret_cast<typename Elem<elem_t>::pair*>(o + x * 8 + 2 * t4) = Elem<elem_t>::pack(acc[4 * x + 2 * r] * scale, acc[4 * x + 2 * r + 1] * scale);
      }
    }
#else
    __trap();
#endif
  }

  // Host launcher: the sm80 preprocess (pre), then dkdv (items = B * kvheads * ceil(N / kBN)
  // blocks, order longest first). Default mode: dkdv with dQ atomics into dqacc (B, heads, N, D)
  // fp32, which pre zeroes, then conv (BwdSm80's convert) writes dQ. Deterministic mode: dkdv_det
  // without dQ, then dq (items_dq = B * heads * ceil(N / kBM) blocks, order_dq longest first);
  // dqacc is not used then (may be null).
  template <class KPre, class KDkdv, class KConv, class KDkdvDet, class KDq>
  static cudaError_t launch(KPre pre, KDkdv dkdvk, KConv conv, KDkdvDet dkdvdet, KDq dqk, const void* q, const void* k, const void* v, const void* o,
                            const void* dout, const float* lse, const float* dlse, void* dq, void* dk, void* dv, float* lse2, float* delta, float* dqacc,
                            const int* table, const int* order, int items, const int* order_dq, int items_dq, int batch, int n, int heads,
                            float scale, int deterministic, const int64_t* strides, cudaStream_t stream) {
    const BwdStrides st = strides_from<BwdStrides>(strides);
    cudaError_t err = cudaFuncSetAttribute(dkdvk, cudaFuncAttributeMaxDynamicSharedMemorySize, kDkdvSmemBytes);
    if (err == cudaSuccess) err = cudaFuncSetAttribute(dkdvdet, cudaFuncAttributeMaxDynamicSharedMemorySize, kDkdvDetSmemBytes);
    if (err == cudaSuccess) err = cudaFuncSetAttribute(dqk, cudaFuncAttributeMaxDynamicSharedMemorySize, kDqSmemBytes);
    if (err != cudaSuccess) return err;
    const int64_t rows = (int64_t)batch * heads * n;
    if (rows == 0) return cudaSuccess;
    using Pre = BwdSm80<T, L, C>;
    const int64_t preBlocks = (rows * (kD / 8) + Pre::kPreThreads - 1) / Pre::kPreThreads;
    pre<<<(unsigned)preBlocks, Pre::kPreThreads, 0, stream>>>(static_cast<const elem_t*>(o), static_cast<const elem_t*>(dout), lse, dlse, lse2,
                                                              delta, deterministic ? nullptr : dqacc, rows, n, heads, st.o, st.dout);
    const elem_t* eq = static_cast<const elem_t*>(q);
    const elem_t* ek = static_cast<const elem_t*>(k);
    const elem_t* ev = static_cast<const elem_t*>(v);
    const elem_t* edo = static_cast<const elem_t*>(dout);
    // dkdv's tensor maps: Q and dO (B, heads, N, D) in boxes of kBMq rows, K and V (B, heads /
    // kGroup, N, D) in boxes of kBN rows, each with its strides.
    CUtensorMap tmQ{}, tmK{}, tmV{}, tmDO{}, tmDQ{};
    if (items > 0) {
      PFN_cuTensorMapEncodeTiled_v12000 encode;
      if ((err = tensor_map_encoder(&encode)) != cudaSuccess) return err;
      const bool bf16 = Elem<elem_t>::kIsBf16;
      if (!encode_strided_map(encode, &tmQ, q, bf16, kD, n, heads, batch, st.q, kBMq) ||
          !encode_strided_map(encode, &tmDO, dout, bf16, kD, n, heads, batch, st.dout, kBMq) ||
          !encode_strided_map(encode, &tmK, k, bf16, kD, n, heads / kGroup, batch, st.k, kBN) ||
          !encode_strided_map(encode, &tmV, v, bf16, kD, n, heads / kGroup, batch, st.v, kBN))
        return cudaErrorInvalidValue;
      // dkdv_ws's dQ writer: dqacc as (B * heads) slices of N rows of kD floats, boxes of 32 x 64.
      if (kWs && !deterministic && !encode_f32_rows_map(encode, &tmDQ, dqacc, kD, n, batch * heads, 64)) return cudaErrorInvalidValue;
    }
    if (!deterministic) {
      if (items > 0)
        dkdvk<<<items, kDkdvThreads, kDkdvSmemBytes, stream>>>(eq, ek, ev, edo, lse2, delta, static_cast<elem_t*>(dk), static_cast<elem_t*>(dv), dqacc,
                                                                table, order, n, heads, scale, scale * kLog2e, st, tmQ, tmK, tmV, tmDO, tmDQ);
      const int64_t convBlocks = (rows * kD / 8 + Pre::kConvThreads - 1) / Pre::kConvThreads;
      conv<<<(unsigned)convBlocks, Pre::kConvThreads, 0, stream>>>(dqacc, static_cast<elem_t*>(dq), rows, scale, n, heads, st.dq);
      return cudaGetLastError();
    }
    if (items > 0)
      dkdvdet<<<items, kThreads, kDkdvDetSmemBytes, stream>>>(eq, ek, ev, edo, lse2, delta, static_cast<elem_t*>(dk), static_cast<elem_t*>(dv), nullptr,
                                                                table, order, n, heads, scale, scale * kLog2e, st, tmQ, tmK, tmV, tmDO, tmDQ);
    if (items_dq > 0)
      dqk<<<items_dq, kThreads, kDqSmemBytes, stream>>>(eq, ek, ev, edo, lse2, delta, static_cast<elem_t*>(dq), table, order_dq, n, heads, scale,
                                                        scale * kLog2e, st);
    return cudaGetLastError();
  }
};

}  // namespace spc
