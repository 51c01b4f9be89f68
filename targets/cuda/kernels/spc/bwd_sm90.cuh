// The backward pass for Hopper (sm_90a), with warpgroup MMA. Both modes passed the checks on an
// H200: the deterministic one (dK/dV kernel without dQ, then the dq pass) in
// bench/results/cuda-2026-12-01-backward.md, the default one (dQ by atomics in the dK/dV kernel,
// kDq) in bench/results/cuda-2026-12-01-backward-atomic.md.
// Kernels (block-wise: one block per work item, two warpgroups, cp.async double buffers; the
// forward's pieces: Sm90Tiles's S = A B^T (issue_s) and O += P V (issue_pv), the accumulator-to-A
// packing (pack_p), the masks):
//
//   preprocess: BwdSm80's (delta = rowsum(dO * O) - dLSE, lse2 = lse * log2(e), +inf for -inf;
//               zeroes dQ_accum in the default mode).
//   dkdv:       one block per (batch, KV head, key tile of kBN = 128 keys); warpgroup w owns keys
//               j0 + 64 w .. + 63, its dK and dV (64 x kD each) in registers. For each query head of
//               the KV head's group, over the query tiles of kBMq = 64 rows that reach the key tile
//               (query_tile_ranges): S^T = K Q^T and dP^T = V dO^T (wgmma, both operands in shared
//               memory), P^T = exp2(S^T scale_log2 - lse2) masked as the forward masks (whole 64 x 64
//               blocks by full_key_span, else per element by KeyRowSpans), dS^T = P^T (dP^T - delta),
//               dV += P^T dO and dK += dS^T Q (A from registers, B read transposed).
//               kDq (the default mode): dS^T also goes to shared memory as dS (stmatrix .trans),
//               and dQ_accum += dS K by wgmma (A = dS, B = the K tile read transposed) and fp32
//               atomics: at D = 128 warpgroup w takes D columns 64 w .. + 63 over all 128 keys,
//               at D = 64 all 64 columns over its own 64 keys. convert (BwdSm80's) scales dQ_accum
//               into dQ. 5 matmuls a pair; the order of the adds varies from run to run.
//   dq:         (deterministic mode) one block per (batch, head, query tile of 128 rows), warpgroup w owns 64 rows; over
//               the forward's key tiles (key_tile_ranges, kBNq keys): S = Q K^T, dP = dO V^T,
//               dS = P (dP - delta), dQ += dS K; dQ = scale dQ written once.
//
// Layouts as the forward's; LSE2, Delta (B, H, N) fp32 scratch.
#pragma once
#include "common.cuh"
#include "mask.cuh"
#include "work.cuh"
#include "sm90/barrier.cuh"
#include "sm90/softmax.cuh"
#include "sm90/tiles.cuh"
#include "sm90/wgmma.cuh"
#include "bwd_sm80.cuh"

namespace spc {

template <class T, class L, class C>
struct BwdSm90 {
  using elem_t = T;
  static constexpr int kThreads = 256;  // two warpgroups
  static constexpr int kD = L::kD, kGroup = L::kGroup, kTermSlots = L::kTermSlots, kModSlots = L::kModSlots;
  static constexpr int kFields = MOD_BASE + MOD_STRIDE * kModSlots;
  static_assert(kD % 64 == 0, "head_dim");
  // dkdv: 128 keys a block, query tiles of 64 rows. dq: 128 rows a block, key tiles of kBNq.
  static constexpr int kBN = 128, kBMq = 64;
  static constexpr int kBM = 128, kBNq = kD >= 128 ? 64 : 128;
  using KTiles = Sm90Tiles<T, kD, kBN, kBMq, kThreads>;  // S^T = K Q^T (A: the K tile), P^T dO (B: the dO tile)
  using QTiles = Sm90Tiles<T, kD, kBM, kBNq, kThreads>;  // S = Q K^T (A: the Q tile), dS K (B: the K tile)

  struct __align__(1024) DkdvSmem {
    elem_t k[kBN * kD];
    elem_t v[kBN * kD];
    elem_t q[2][kBMq * kD];
    elem_t dout[2][kBMq * kD];
    elem_t ds[kBMq * kBN];  // kDq: dS of the current query tile, [64 rows][128 keys] swizzled (the A operand of dS K)
    float lse2[2][kBMq];
    float delta[2][kBMq];
    int table[kTermSlots * kFields];
    TileRanges<kTermSlots> ranges;
  };
  struct __align__(1024) DqSmem {
    elem_t q[kBM * kD];
    elem_t dout[kBM * kD];
    elem_t k[2][kBNq * kD];
    elem_t v[2][kBNq * kD];
    int table[kTermSlots * kFields];
    TileRanges<kTermSlots> ranges;
  };
  static constexpr int kDkdvSmemBytes = (int)sizeof(DkdvSmem) + 1024;  // + alignment slack
  static constexpr int kDqSmemBytes = (int)sizeof(DqSmem) + 1024;

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
  // waits for it (the barrier; the next tile's barrier keeps it until both have read it) and issues
  // the wgmma group (not awaited), dq_atomics adds its result (acc: the tile's rows, D contiguous;
  // rows >= rows_left are not written). D = 128: this warpgroup's 64 D columns over the 128 keys;
  // D = 64: all columns over its own 64 keys (both warpgroups add into each element).
  static constexpr bool kSplitD = kD == 128;
  static __device__ __forceinline__ void dq_issue(const DkdvSmem& sm, float (&d)[32], int wg) {
    static_assert(kD == 128 || kD == 64, "dQ split: 64 columns of D per wgmma");
    asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");  // stmatrix (generic) -> wgmma (async proxy)
    if constexpr (kSplitD)
      __syncthreads();  // both warpgroups' dS
    else if (wg == 0)  // this warpgroup's own dS columns only (named barriers 1 and 2, 128 threads each)
      asm volatile("bar.sync 1, 128;\n" ::: "memory");
    else
      asm volatile("bar.sync 2, 128;\n" ::: "memory");
    const int col0 = kSplitD ? 64 * wg : 0;
    const int kk0 = kSplitD ? 0 : 4 * wg, kk1 = kSplitD ? kBN / 16 : 4 * wg + 4;
    wg_fence();
#pragma unroll
    for (int kk = kk0; kk < kk1; ++kk) {
      const uint64_t da = mdesc(sm.ds + (kk >> 2) * kBMq * 64 + (kk & 3) * 16, 16, 1024);
      const uint64_t db = mdesc(sm.k + (col0 >> 6) * kBN * 64 + kk * 16 * 64, kBN * 128, 1024);
      WgmmaSSTB<elem_t, 64>::mma(d, da, db, kk > kk0 ? 1 : 0);
    }
    wg_commit();
  }
  static __device__ __forceinline__ void dq_atomics(const float (&d)[32], float* acc, int rows_left, int wg, int warp, int g, int t4) {
    const int col0 = kSplitD ? 64 * wg : 0;
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      const int row = (warp & 3) * 16 + g + 8 * r;
      if (row < rows_left) {
        float* o = acc + (int64_t)row * kD + col0;
#pragma unroll
        for (int x = 0; x < 8; ++x) atomicAdd(reinterpret_cast<float2*>(o + x * 8 + 2 * t4), make_float2(d[4 * x + 2 * r], d[4 * x + 2 * r + 1]));
      }
    }
  }

  // ---- dK, dV (and with kDq, dQ_accum).
  template <bool kDq>
  static __device__ __forceinline__ void dkdv(const elem_t* __restrict__ Q, const elem_t* __restrict__ K, const elem_t* __restrict__ V,
                                              const elem_t* __restrict__ dO, const float* __restrict__ LSE2, const float* __restrict__ Delta,
                                              elem_t* __restrict__ dK, elem_t* __restrict__ dV, float* __restrict__ dQacc, const int* __restrict__ table,
                                              const int* __restrict__ order, int n, int heads, float scale, float scale_log2, const BwdStrides& st) {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
    DkdvSmem& sm = smem<DkdvSmem>();
    const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31;
    const int wg = warp >> 2, g = lane >> 2, t4 = lane & 3;
    const KeyWorkItem w(order[blockIdx.x], n, heads, kBN, kGroup);
    const int j0 = w.j0, jw = j0 + wg * 64;  // this warpgroup's keys: jw .. jw + 63
    const int keyA = jw + (warp & 3) * 16 + g, keyB = keyA + 8;

    KTiles::template load_tile<kBN>(sm.k, K + st.k.slice(w.b, w.kvh), j0, n, tid, st.k.n);
    KTiles::template load_tile<kBN>(sm.v, V + st.v.slice(w.b, w.kvh), j0, n, tid, st.v.n);
    cp_commit();

    float dk[kD / 2], dv[kD / 2];
#pragma unroll
    for (int x = 0; x < kD / 2; ++x) dk[x] = dv[x] = 0.f;
    const elem_t* kbase = sm.k + wg * 64 * 64;
    const elem_t* vbase = sm.v + wg * 64 * 64;

    for (int gh = 0; gh < kGroup; ++gh) {
      const int h = w.kvh * kGroup + gh;
      const int64_t qrow0 = (int64_t)(w.b * heads + h) * n;
      __syncthreads();  // the previous head's table, ranges and tiles are no longer read
      for (int x = tid; x < kTermSlots * kFields; x += kThreads) sm.table[x] = table[h * kTermSlots * kFields + x];
      __syncthreads();
      if (tid == 0) query_tile_ranges<kTermSlots, kFields, kBMq>(sm.ranges, sm.table, j0, w.j1, n);
      __syncthreads();
      const KeyRowSpans<kTermSlots, kFields> ks(sm.table, keyA, keyB, n);

      // Query tiles in order, one copy group each (empty past the end): Q, dO, lse2, delta.
      TileCursor<kTermSlots> cur(sm.ranges), ld(sm.ranges);
      auto load_next = [&](int stage) {
        if (!ld.done()) {
          const int i0 = ld.kt * kBMq;
          KTiles::template load_tile<kBMq>(sm.q[stage], Q + st.q.slice(w.b, h), i0, n, tid, st.q.n);
          KTiles::template load_tile<kBMq>(sm.dout[stage], dO + st.dout.slice(w.b, h), i0, n, tid, st.dout.n);
          for (int x = tid; x < kBMq; x += kThreads) {
            const bool in = i0 + x < n;
            sm.lse2[stage][x] = in ? LSE2[qrow0 + i0 + x] : INFINITY;  // padding rows: P = 0
            sm.delta[stage][x] = in ? Delta[qrow0 + i0 + x] : 0.f;
          }
          ld.next();
        }
        cp_commit();
      };
      load_next(0);
      int buf = 0;
      while (!cur.done()) {
        cp_wait_async_proxy<0>();
        __syncthreads();  // this tile (and, the first time, K and V) loaded; the other stage free
        load_next(buf ^ 1);
        const int i0 = cur.kt * kBMq;
        const FullSpans<kTermSlots, kFields, kModSlots> fs(sm.table, i0, i0 + kBMq, n);
        const bool full = fs.template full<64>(jw);

        // S^T = K Q^T and dP^T = V dO^T: this warpgroup's 64 keys x 64 rows, two groups, so that
        // P^T is computed while dP^T is still on the tensor cores.
        float st[kBMq / 2], dpt[kBMq / 2];
        wg_fence();
        KTiles::issue_s(st, kbase, sm.q[buf]);
        wg_commit();
        KTiles::issue_s(dpt, vbase, sm.dout[buf]);
        wg_commit();
        wg_wait<1>();  // S^T done; dP^T may still run
        fence_regs(st);

        // P^T (masked as the forward), in st.
        const float* l2 = sm.lse2[buf];
        const float* dl = sm.delta[buf];
#pragma unroll
        for (int x = 0; x < kBMq / 8; ++x)
#pragma unroll
          for (int e = 0; e < 4; ++e) {
            const int r = e >> 1, c = x * 8 + 2 * t4 + (e & 1);
            const bool ok = full || ks.template allows<kModSlots>(sm.table, r, i0 + c, r == 0 ? keyA : keyB);
            st[4 * x + e] = ok ? exp2f(fmaf(st[4 * x + e], scale_log2, -l2[c])) : 0.f;
          }
        // dV += P^T dO, issued before dS^T is computed (the A fragments pa stay live until it is done).
        uint32_t pa[kBMq / 16][4], da[kBMq / 16][4];
        pack_p<elem_t, kBMq>(pa, st);
        fence_regs(dv);
        wg_fence();
        KTiles::issue_pv(dv, pa, sm.dout[buf]);
        wg_commit();
        wg_wait<1>();  // dP^T done; dV += P^T dO may still run
        fence_regs(dpt);

        // dS^T = P^T (dP^T - delta), in dpt.
#pragma unroll
        for (int x = 0; x < kBMq / 8; ++x)
#pragma unroll
          for (int e = 0; e < 4; ++e) dpt[4 * x + e] = st[4 * x + e] * (dpt[4 * x + e] - dl[x * 8 + 2 * t4 + (e & 1)]);
        pack_p<elem_t, kBMq>(da, dpt);
        if constexpr (kDq) {
          // dS to shared memory, then dQ_accum += dS K (issued first: its atomics wait for it) and
          // dK += dS^T Q, which runs during the atomics.
          store_ds(sm.ds, da, wg * 64 + (warp & 3) * 16, lane);
          float d[32];
          dq_issue(sm, d, wg);
          fence_regs(dk);
          wg_fence();
          KTiles::issue_pv(dk, da, sm.q[buf]);
          wg_commit();
          wg_wait<1>();  // dV and dQ done; dK may still run
          fence_regs(d);
          dq_atomics(d, dQacc + (qrow0 + i0) * kD, n - i0, wg, warp, g, t4);
        } else {
          fence_regs(dk);
          wg_fence();
          KTiles::issue_pv(dk, da, sm.q[buf]);
          wg_commit();
        }
        // Every wgmma of the tile done before the next tile's barrier lets its stage be refilled.
        wg_wait<0>();
        fence_regs(dv);
        fence_regs(dk);
        cur.next();
        buf ^= 1;
      }
      cp_wait<0>();  // the empty group of the last load_next
    }

    // Epilogue: dK = scale * sum over the group's heads, dV as summed; keys past N are not written.
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      const int key = r == 0 ? keyA : keyB;
      if (key < n) {
        elem_t* pk = dK + st.dk.slice(w.b, w.kvh) + (int64_t)key * st.dk.n;
        elem_t* pv = dV + st.dv.slice(w.b, w.kvh) + (int64_t)key * st.dv.n;
#pragma unroll
        for (int x = 0; x < kD / 8; ++x) {
          *reinterpret_cast<typename Elem<elem_t>::pair*>(pk + x * 8 + 2 * t4) = Elem<elem_t>::pack(dk[4 * x + 2 * r] * scale, dk[4 * x + 2 * r + 1] * scale);
          *reinterpret_cast<typename Elem<elem_t>::pair*>(pv + x * 8 + 2 * t4) = Elem<elem_t>::pack(dv[4 * x + 2 * r], dv[4 * x + 2 * r + 1]);
        }
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
    if (err == cudaSuccess) err = cudaFuncSetAttribute(dkdvdet, cudaFuncAttributeMaxDynamicSharedMemorySize, kDkdvSmemBytes);
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
    if (!deterministic) {
      if (items > 0)
        dkdvk<<<items, kThreads, kDkdvSmemBytes, stream>>>(eq, ek, ev, edo, lse2, delta, static_cast<elem_t*>(dk), static_cast<elem_t*>(dv), dqacc,
                                                            table, order, n, heads, scale, scale * kLog2e, st);
      const int64_t convBlocks = (rows * kD / 8 + Pre::kConvThreads - 1) / Pre::kConvThreads;
      conv<<<(unsigned)convBlocks, Pre::kConvThreads, 0, stream>>>(dqacc, static_cast<elem_t*>(dq), rows, scale, n, heads, st.dq);
      return cudaGetLastError();
    }
    if (items > 0)
      dkdvdet<<<items, kThreads, kDkdvSmemBytes, stream>>>(eq, ek, ev, edo, lse2, delta, static_cast<elem_t*>(dk), static_cast<elem_t*>(dv), nullptr,
                                                            table, order, n, heads, scale, scale * kLog2e, st);
    if (items_dq > 0)
      dqk<<<items_dq, kThreads, kDqSmemBytes, stream>>>(eq, ek, ev, edo, lse2, delta, static_cast<elem_t*>(dq), table, order_dq, n, heads, scale,
                                                        scale * kLog2e, st);
    return cudaGetLastError();
  }
};

}  // namespace spc
