// The forward kernels for Hopper (sm_90a): warpgroup MMA (wgmma) with operands in 128-byte-
// swizzled shared memory, kWG consumer warpgroups of 64 query rows each. Same work items, head
// table, masking and outputs as fwd_sm80.cuh. Two orchestrations of the same pieces:
//   * persistent (C::kPersistent): one block per SM takes the work items the host dealt it
//     (longest first, each to the least loaded block). A producer warpgroup streams Q, K and V with
//     the tensor copy engine through rings of mbarriers; its meta thread writes each item's table
//     rows and key-tile ranges ahead; two consumer warpgroups compute in ping-pong, overlapping each
//     tile's softmax with the tensor cores (FlashAttention-3's pattern).
//   * block-wise: one block per work item, K/V through a cp.async ring of kStages, with
//     (C::kOverlap) or without intra-warpgroup overlap of softmax and tensor cores.
//
//   L (the layout): kD, kGroup, kTermSlots, kModSlots.
//   C (the tiles):  kPersistent, kWG, kBN, kStages, kQBufs (persistent: Q tiles in flight),
//                   kWgSkip (persistent: pass over tiles with no allowed pair for a warpgroup's
//                   rows), kOverlap (block-wise), kMinBlocks.
#pragma once
#include "common.cuh"
#include "mask.cuh"
#include "work.cuh"
#include "sm90/barrier.cuh"
#include "sm90/softmax.cuh"
#include "sm90/tiles.cuh"
#include "sm90/tma.cuh"
#include "sm90/wgmma.cuh"

namespace spc {

template <class T, class L, class C>
struct FwdSm90 {
  using elem_t = T;
  static constexpr bool kWS = C::kPersistent;  // warp-specialised: one more warpgroup loads with TMA
  static constexpr int kWG = C::kWG, kBN = C::kBN, kStages = C::kStages, kMinBlocks = C::kMinBlocks;
  static constexpr int kThreads = (kWG + (kWS ? 1 : 0)) * 128;
  static constexpr int kBM = kWG * 64;  // query rows per block
  static constexpr int kQBufs = kWS ? C::kQBufs : 1;
  static constexpr bool kWgSkip = kWS && C::kWgSkip;
  static constexpr bool kOverlap = kWS || C::kOverlap;
  static constexpr int kMetaBufs = 4;  // persistent: work items' tables and ranges in flight
  static constexpr int kD = L::kD, kGroup = L::kGroup, kTermSlots = L::kTermSlots, kModSlots = L::kModSlots;
  static constexpr int kFields = MOD_BASE + MOD_STRIDE * kModSlots;
  using Tiles = Sm90Tiles<T, kD, kBM, kBN, kWS ? 128 * kWG : kThreads>;

  static_assert(kD % 64 == 0 && kBN % 16 == 0 && kBN <= 256 && kStages >= (kWS ? 2 : kOverlap ? 3 : 2), "tile shapes");
  // Persistent: K and V have rings of their own; a K stage is released once its Q K^T is done, a
  // V stage once its P V is, so the producer runs kStages - 1 tiles ahead of each; one block per
  // SM, and a register split (setmaxnreg) that fits 65536 registers: 128 x kProducerRegs +
  // 128 kWG x kConsumerRegs (2 consumer warpgroups: 40 / 232; 3: 32 / 160).
  static_assert(!kWS || (kStages >= 2 && kMinBlocks == 1 && (kWG == 2 || kWG == 3)), "persistent tiles");
  static constexpr int kProducerRegs = kWG == 3 ? 32 : 40;
  static constexpr int kConsumerRegs = kWG == 3 ? 160 : 232;
  // setmaxnreg.inc can only take registers from the block's pool at launch: kThreads times the
  // per-thread allocation the launch bounds allow (65536 / kThreads, rounded down to a multiple of 8).
  static_assert(!kWS || 128 * kProducerRegs + 128 * kWG * kConsumerRegs <= kThreads * ((65536 / kThreads) & ~7), "register split");

  // A work item's head-table rows and merged key-tile ranges.
  struct Meta {
    int table[kTermSlots * kFields];
    TileRanges<kTermSlots> ranges;
    int item;  // persistent: the work item (the meta thread's copy of its order entry)
  };
  struct __align__(1024) Smem {
    elem_t q[kQBufs][kBM * kD];
    elem_t k[kStages][kBN * kD];
    elem_t v[kStages][kBN * kD];
    Meta meta[kWS ? kMetaBufs : 1];                        // persistent: a ring (the meta thread runs items ahead)
    uint64_t k_full[kStages], v_full[kStages];            // persistent: stage loaded (TMA transaction bytes)
    uint64_t k_empty[kStages], v_empty[kStages];          // persistent: stage free (every consumer thread arrived)
    uint64_t q_full[kQBufs], q_empty[kQBufs];             // persistent: an item's Q tile loaded / used up
    uint64_t meta_full[kMetaBufs], meta_empty[kMetaBufs];  // persistent: meta[x] written / read
  };
  static constexpr int kSmemBytes = (int)sizeof(Smem) + 1024;  // + alignment slack

  struct Args {
    const elem_t* __restrict__ Q;
    const elem_t* __restrict__ K;
    const elem_t* __restrict__ V;
    elem_t* __restrict__ O;
    float* __restrict__ LSE;
    const int* __restrict__ table;
    const int* __restrict__ order;
    int items, n, heads;
    float scale_log2;
    FwdStrides st;
  };

  static __device__ __forceinline__ void run(const Args& a, const CUtensorMap& tmQ, const CUtensorMap& tmK, const CUtensorMap& tmV) {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
    extern __shared__ unsigned char smem_raw[];
    // Rounded up to 1024 bytes by pointer arithmetic on smem_raw (not through an integer), so the
    // compiler keeps the shared address space: plain shared loads, not generic ones, for sm.*.
    Smem& sm = *reinterpret_cast<Smem*>(smem_raw + ((1024u - (smem_u32(smem_raw) & 1023u)) & 1023u));
    if constexpr (kWS) persistent(sm, a, tmQ, tmK, tmV);
    else blockwise(sm, a);
#else
    __trap();  // built without sm_90a: the launcher never starts this kernel then
#endif
  }

  // ---- persistent, warp-specialised ----

  // The K / V thread: the block's tiles (over all its items) fill each ring's stages in turn, K one
  // tile ahead of V, in the order the consumers use them.
  static __device__ __forceinline__ void produce_kv(Smem& sm, const Args& a, const CUtensorMap& tmK, const CUtensorMap& tmV, int cnt) {
    constexpr uint32_t kTileBytes = kBN * kD * (uint32_t)sizeof(elem_t);
    auto load = [&](const CUtensorMap* map, elem_t (*ring)[kBN * kD], uint64_t* full, uint64_t* empty, RingPos<kStages>& r, int t, int kvh, int b) {
      mbar_wait(&empty[r.stage], r.phase ^ 1);
      mbar_expect_tx(&full[r.stage], kTileBytes);
#pragma unroll
      for (int c = 0; c < kD / 64; ++c) tma_load_4d(ring[r.stage] + c * kBN * 64, map, c * 64, t * kBN, kvh, b, &full[r.stage]);
      r.advance();
    };
    RingPos<kStages> kr, vr;
    for (int c = 0; c < cnt; ++c) {
      const int x = c % kMetaBufs;
      mbar_wait(&sm.meta_full[x], (c / kMetaBufs) & 1);
      const Meta& mt = sm.meta[x];
      const WorkItem w(mt.item, a.n, a.heads, kBM, kGroup);
      int vt = -1;                                 // the tile whose V is pending (-1: none yet in this item)
      for (int r = 0; r < mt.ranges.count; ++r) {
        for (int t = mt.ranges.r[r][0]; t < mt.ranges.r[r][1]; ++t) {
          load(&tmK, sm.k, sm.k_full, sm.k_empty, kr, t, w.kvh, w.b);
          if (vt >= 0) load(&tmV, sm.v, sm.v_full, sm.v_empty, vr, vt, w.kvh, w.b);
          vt = t;
        }
      }
      // The item's last V, before the next item's K: the order the consumers use them in.
      if (vt >= 0) load(&tmV, sm.v, sm.v_full, sm.v_empty, vr, vt, w.kvh, w.b);
      mbar_arrive(&sm.meta_empty[x]);
    }
  }

  // The meta thread: each item's head-table rows and merged key-tile ranges, kMetaBufs items ahead
  // of the K / V thread (which waits for nothing else), so an item switch never waits on global
  // loads of the table.
  static __device__ __forceinline__ void produce_meta(Smem& sm, const Args& a, int beg, int cnt) {
    for (int c = 0; c < cnt; ++c) {
      const WorkItem w(a.order[beg + c], a.n, a.heads, kBM, kGroup);
      const int x = c % kMetaBufs;
      Meta& mt = sm.meta[x];
      mbar_wait(&sm.meta_empty[x], ((c / kMetaBufs) & 1) ^ 1);
      mt.item = w.item;
      for (int y = 0; y < kTermSlots * kFields; ++y) mt.table[y] = a.table[w.h * kTermSlots * kFields + y];
      key_tile_ranges_static<kTermSlots, kFields, kBN>(mt.ranges, mt.table, w.i0, w.i1, a.n);
      mbar_arrive(&sm.meta_full[x]);
    }
  }

  // The Q thread: item c uses Q buffer c % kQBufs for the (c / kQBufs)-th time, once the consumers
  // have finished the last Q K^T of the item that used it before.
  static __device__ __forceinline__ void produce_q(Smem& sm, const Args& a, const CUtensorMap& tmQ, int beg, int cnt) {
    for (int c = 0; c < cnt; ++c) {
      const WorkItem w(a.order[beg + c], a.n, a.heads, kBM, kGroup);
      const int qb = c % kQBufs, qph = (c / kQBufs) & 1;
      mbar_wait(&sm.q_empty[qb], qph ^ 1);
      mbar_expect_tx(&sm.q_full[qb], (uint32_t)(kBM * kD * sizeof(elem_t)));
#pragma unroll
      for (int x = 0; x < kD / 64; ++x) tma_load_4d(sm.q[qb] + x * kBM * 64, &tmQ, x * 64, w.i0, w.h, w.b, &sm.q_full[qb]);
    }
  }

  // A consumer warpgroup: its 64 rows of each of the block's items. Ping-pong: the consumer
  // warpgroups take turns issuing their tile's wgmma (named barrier 1 + w waits for warpgroup w's
  // turn; the previous one in the cycle arrives on it), so one group's softmax runs while the
  // other's matrix products do. Warpgroup 0 goes first. Both walk the same tiles, so the turns stay
  // paired across work items.
  static __device__ __forceinline__ void consume(Smem& sm, const Args& a, int cnt, int wg, int warp, int g, int t4) {
    const int n = a.n;
    auto my_turn = [&]() {
      if constexpr (kWG > 1) named_sync(1 + wg, 256);
    };
    auto pass_turn = [&]() {
      if constexpr (kWG > 1) named_arrive(1 + (wg + 1) % kWG, 256);
    };
    if (wg == kWG - 1) pass_turn();
    RingPos<kStages> kr;
    for (int c = 0; c < cnt; ++c) {
      const Meta& mt = sm.meta[c % kMetaBufs];
      mbar_wait(&sm.meta_full[c % kMetaBufs], (c / kMetaBufs) & 1);
      const WorkItem w(mt.item, n, a.heads, kBM, kGroup);
      const int w0 = w.i0 + wg * 64;
      const int rowA = w0 + (warp & 3) * 16 + g, rowB = rowA + 8;
      float acc[kD / 2];
      float mrow[2] = {-INFINITY, -INFINITY}, lrow[2] = {0.f, 0.f};
#pragma unroll
      for (int x = 0; x < kD / 2; ++x) acc[x] = 0.f;
      TileCursor<kTermSlots> cur(mt.ranges);
      uint32_t p[kBN / 16][4];
      // Tile j's K is used (or passed over) in step j, its V in step j + 1. A tile with no allowed
      // pair for this warpgroup's 64 rows is passed over (no wgmma, no softmax), but its stages are
      // still waited for and released, and the ping-pong turn still taken, so that the rings and
      // turns stay in step with the producer and the other warpgroup. pend: the last tile had a P
      // whose P V is still to issue (V stage vr).
      RingPos<kStages> vr;
      bool pend = false;
      const int qb = c % kQBufs;
      const elem_t* qbase = sm.q[qb] + wg * 64 * 64;
      mbar_wait(&sm.q_full[qb], (c / kQBufs) & 1);
      // Each term's key spans over this warpgroup's rows, in registers (the producer runs on 40).
      const ActiveSpans<kTermSlots, kFields> as(mt.table, w0, min(w0 + 64, n), n);
      const FullSpans<kTermSlots, kFields, kModSlots> fs(mt.table, w0, w0 + 64, n);
      const RowSpans<kTermSlots, kFields> rs(mt.table, rowA, rowB, n);
      // One step per tile; the item's first (peeled: with kWgSkip off, every flag below is then
      // known at compile time) has no previous V.
      auto step = [&](bool first) {
        const bool last = cur.last();
        const int j0 = cur.kt * kBN;
        const bool act = !kWgSkip || as.template active<kBN>(j0);
        const bool pv = !first && (!kWgSkip || pend);  // issue the previous tile's P V
        mbar_wait(&sm.k_full[kr.stage], kr.phase);
        if (!first) mbar_wait(&sm.v_full[vr.stage], vr.phase);
        const bool full = act && fs.template full<kBN>(j0);
        float s[kBN / 2];
        my_turn();
        fence_regs(acc);
        if (act) {
          wg_fence();
          Tiles::issue_s(s, qbase, sm.k[kr.stage]);
          wg_commit();
        }
        if (pv) {
          wg_fence();
          Tiles::issue_pv(acc, p, sm.v[vr.stage]);
          wg_commit();
        }
        pass_turn();
        if (act) {
          if (pv) wg_wait<1>();  // S done; O += P V may still run
          else wg_wait<0>();
        }
        mbar_arrive(&sm.k_empty[kr.stage]);      // this tile's K is used up
        if (last) mbar_arrive(&sm.q_empty[qb]);  // this item's Q is used up
        float corr[2];
        if (act) {
          fence_regs(s);
          mask_softmax<kBN, kTermSlots, kFields, kModSlots>(s, corr, mrow, lrow, mt.table, rs, full, rowA, rowB, j0, t4, a.scale_log2);
        }
        if (pv) {
          wg_wait<0>();
          fence_regs(acc);
        }
        if (!first) mbar_arrive(&sm.v_empty[vr.stage]);  // the previous tile's V is used up
        if (act) {
          rescale<kD>(acc, corr);
          pack_p<elem_t, kBN>(p, s);
        }
        pend = act;
        vr = kr;
        cur.next();
        kr.advance();
      };
      if (cur.done()) {
        mbar_arrive(&sm.q_empty[qb]);
      } else {
        step(true);
        while (!cur.done()) step(false);
        const bool pv = !kWgSkip || pend;
        mbar_wait(&sm.v_full[vr.stage], vr.phase);
        my_turn();
        if (pv) {
          fence_regs(acc);
          wg_fence();
          Tiles::issue_pv(acc, p, sm.v[vr.stage]);
          wg_commit();
        }
        pass_turn();
        if (pv) {
          wg_wait<0>();
          fence_regs(acc);
        }
        mbar_arrive(&sm.v_empty[vr.stage]);
      }
      mbar_arrive(&sm.meta_empty[c % kMetaBufs]);  // done with this item's table rows and ranges
      epilogue<elem_t, kD>(acc, mrow, lrow, a.O + a.st.o.slice(w.b, w.h), a.st.o.n, a.LSE + (int64_t)w.bh * n, rowA, rowB, n, t4);
    }
  }

  static __device__ __forceinline__ void persistent(Smem& sm, const Args& a, const CUtensorMap& tmQ, const CUtensorMap& tmK, const CUtensorMap& tmV) {
    const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31;
    const int wg = (warp >> 2) - 1, g = lane >> 2, t4 = lane & 3;  // warpgroup 0 produces (wg = -1)
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
      mbar_fence_init();
    }
    __syncthreads();
    // This block's items: order[beg, beg + cnt), as the host dealt them (the offsets follow the items).
    const int beg = a.order[a.items + blockIdx.x], cnt = a.order[a.items + blockIdx.x + 1] - beg;
    if (wg < 0) {
      regs_dealloc<kProducerRegs>();
      if (tid == 0) produce_kv(sm, a, tmK, tmV, cnt);
      else if (tid == 64) produce_meta(sm, a, beg, cnt);
      else if (tid == 32) produce_q(sm, a, tmQ, beg, cnt);
    } else {
      regs_alloc<kConsumerRegs>();
      consume(sm, a, cnt, wg, warp, g, t4);
    }
  }

  // ---- block-wise ----

  static __device__ __forceinline__ void blockwise(Smem& sm, const Args& a) {
    const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31;
    const int wg = warp >> 2, g = lane >> 2, t4 = lane & 3;
    const int n = a.n;
    Meta& mt = sm.meta[0];
    const WorkItem w(a.order[blockIdx.x], n, a.heads, kBM, kGroup);
    const elem_t* q = a.Q + a.st.q.slice(w.b, w.h);
    const elem_t* kp = a.K + a.st.k.slice(w.b, w.kvh);
    const elem_t* vp = a.V + a.st.v.slice(w.b, w.kvh);

    Tiles::template load_tile<kBM>(sm.q[0], q, w.i0, n, tid, a.st.q.n);
    cp_commit();
    for (int x = tid; x < kTermSlots * kFields; x += kThreads) mt.table[x] = a.table[w.h * kTermSlots * kFields + x];
    __syncthreads();
    if (tid == 0) key_tile_ranges<kTermSlots, kFields, kBN>(mt.ranges, mt.table, w.i0, w.i1, n);
    cp_wait_async_proxy<0>();
    __syncthreads();
    // This warpgroup's rows [w0, w0 + 64) and each term's key spans over them.
    const int w0 = w.i0 + wg * 64;
    const FullSpans<kTermSlots, kFields, kModSlots> fs(mt.table, w0, w0 + 64, n);

    float acc[kD / 2];
    float mrow[2] = {-INFINITY, -INFINITY}, lrow[2] = {0.f, 0.f};
#pragma unroll
    for (int x = 0; x < kD / 2; ++x) acc[x] = 0.f;
    const elem_t* qbase = sm.q[0] + wg * 64 * 64;
    const int rowA = w0 + (warp & 3) * 16 + g, rowB = rowA + 8;
    const RowSpans<kTermSlots, kFields> rs(mt.table, rowA, rowB, n);

    // The key tiles of the merged ranges in order. One copy group per tile (empty past the end),
    // so the oldest group in flight is always the next tile to compute.
    TileCursor<kTermSlots> cur(mt.ranges), ld(mt.ranges);  // compute and load cursors
    auto load_next = [&](int stage) {
      if (!ld.done()) {
        Tiles::template load_tile<kBN>(sm.k[stage], kp, ld.kt * kBN, n, tid, a.st.k.n);
        Tiles::template load_tile<kBN>(sm.v[stage], vp, ld.kt * kBN, n, tid, a.st.v.n);
        ld.next();
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
        cp_wait_async_proxy<kStages - 3>();
        __syncthreads();
        load_next(buf >= 2 ? buf - 2 : buf + kStages - 2);
        const int j0 = cur.kt * kBN;
        const bool full = fs.template full<kBN>(j0);
        float s[kBN / 2];
        fence_regs(acc);
        wg_fence();
        Tiles::issue_s(s, qbase, sm.k[buf]);
        wg_commit();
        if (!first) {
          wg_fence();
          Tiles::issue_pv(acc, p, sm.v[vbuf]);
          wg_commit();
        }
        if (first) wg_wait<0>();
        else wg_wait<1>();  // S done; O += P V may still run
        fence_regs(s);
        float corr[2];
        mask_softmax<kBN, kTermSlots, kFields, kModSlots>(s, corr, mrow, lrow, mt.table, rs, full, rowA, rowB, j0, t4, a.scale_log2);
        wg_wait<0>();
        fence_regs(acc);
        rescale<kD>(acc, corr);
        pack_p<elem_t, kBN>(p, s);
        vbuf = buf;
        cur.next();
        buf = buf + 1 == kStages ? 0 : buf + 1;
      };
      if (!cur.done()) {
        step(true);
        while (!cur.done()) step(false);
        fence_regs(acc);
        wg_fence();
        Tiles::issue_pv(acc, p, sm.v[vbuf]);
        wg_commit();
        wg_wait<0>();
        fence_regs(acc);
      }
    } else {
      // One tile after the other; a warpgroup skips tiles with no allowed pair for its rows.
      const ActiveSpans<kTermSlots, kFields> as(mt.table, w0, min(w0 + 64, n), n);
#pragma unroll
      for (int st = 0; st < kStages - 1; ++st) load_next(st);
      int buf = 0;
      while (!cur.done()) {
        cp_wait_async_proxy<kStages - 2>();
        __syncthreads();
        // Refill the stage computed in the last iteration (every warpgroup is done with it).
        load_next(buf == 0 ? kStages - 1 : buf - 1);
        const int j0 = cur.kt * kBN;
        if (as.template active<kBN>(j0)) {
          const bool full = fs.template full<kBN>(j0);
          float s[kBN / 2];
          wg_fence();
          Tiles::issue_s(s, qbase, sm.k[buf]);
          wg_commit();
          wg_wait<0>();
          fence_regs(s);
          float corr[2];
          mask_softmax<kBN, kTermSlots, kFields, kModSlots>(s, corr, mrow, lrow, mt.table, rs, full, rowA, rowB, j0, t4, a.scale_log2);
          rescale<kD>(acc, corr);
          uint32_t p[kBN / 16][4];
          pack_p<elem_t, kBN>(p, s);
          fence_regs(acc);
          wg_fence();
          Tiles::issue_pv(acc, p, sm.v[buf]);
          wg_commit();
          wg_wait<0>();
          fence_regs(acc);
        }
        cur.next();
        buf = buf + 1 == kStages ? 0 : buf + 1;
      }
    }
    epilogue<elem_t, kD>(acc, mrow, lrow, a.O + a.st.o.slice(w.b, w.h), a.st.o.n, a.LSE + (int64_t)(w.b * a.heads + w.h) * n, rowA, rowB, n, t4);
  }

  // ---- host ----

  // Host launcher: items = B * heads * ceil(N / kBM) work items; the table holds those heads' rows.
  // Block-wise: one block per item (order: the items, longest first; grid is ignored). Persistent:
  // grid blocks (one per SM, at most items; order: the items grouped by block, then grid + 1
  // offsets of the groups) with tensor maps of Q (D, N, B * heads) and of K and V (D, N, B * KV heads).
  template <class Kernel>
  static cudaError_t launch(Kernel kernel, const void* q, const void* k, const void* v, void* o, float* lse, const int* table, const int* order,
                            int items, int grid, int n, int heads, float scale, const int64_t* strides, cudaStream_t stream) {
    cudaError_t err = cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, kSmemBytes);
    if (err != cudaSuccess) return err;
    if (items == 0) return cudaSuccess;
    CUtensorMap tmQ{}, tmK{}, tmV{};
    const FwdStrides st = strides_from<FwdStrides>(strides);
    if constexpr (kWS) {
      if (grid < 1 || grid > items) return cudaErrorInvalidValue;
      PFN_cuTensorMapEncodeTiled_v12000 encode;
      if ((err = tensor_map_encoder(&encode)) != cudaSuccess) return err;
      const int qtiles = (n + kBM - 1) / kBM;
      const int batch = items / qtiles / heads;
      const bool bf16 = Elem<elem_t>::kIsBf16;
      if (!encode_strided_map(encode, &tmQ, q, bf16, kD, n, heads, batch, st.q, kBM) ||
          !encode_strided_map(encode, &tmK, k, bf16, kD, n, heads / kGroup, batch, st.k, kBN) ||
          !encode_strided_map(encode, &tmV, v, bf16, kD, n, heads / kGroup, batch, st.v, kBN))
        return cudaErrorInvalidValue;
    }
    kernel<<<kWS ? grid : items, kThreads, kSmemBytes, stream>>>(static_cast<const elem_t*>(q), static_cast<const elem_t*>(k), static_cast<const elem_t*>(v),
                                                                 static_cast<elem_t*>(o), lse, table, order, items, n, heads, scale * kLog2e, st, tmQ,
                                                                 tmK, tmV);
    return cudaGetLastError();
  }
};

}  // namespace spc
