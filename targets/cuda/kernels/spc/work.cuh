// Work items and their key tiles. A work item is (batch, head, query tile) numbered
// (b * heads + h) * qtiles + qt; the host orders them longest first (and, for a persistent grid,
// deals them to blocks). h indexes the heads of the call and the rows of its table; its KV head is
// h / group.
#pragma once
#include "common.cuh"
#include "table.cuh"

namespace spc {

struct WorkItem {
  int item, qt, bh, h, b, kvheads, kvh, i0, i1;
  SPC_HD WorkItem(int item_, int n, int heads, int bm, int group) : item(item_) {
    const int qtiles = (n + bm - 1) / bm;
    qt = item % qtiles;
    bh = item / qtiles;
    h = bh % heads;
    b = bh / heads;
    kvheads = heads / group;
    kvh = h / group;
    i0 = qt * bm;
    i1 = min(i0 + bm, n);
  }
};

// A backward dK/dV work item: (batch, KV head, key tile) numbered (b * kvheads + kvh) * ktiles + kt;
// its query heads are kvh * group .. kvh * group + group - 1 (heads of the call and rows of its table).
struct KeyWorkItem {
  int item, kt, b, kvheads, kvh, j0, j1;
  SPC_HD KeyWorkItem(int item_, int n, int heads, int bn, int group) : item(item_) {
    const int ktiles = (n + bn - 1) / bn;
    kt = item % ktiles;
    const int bkv = item / ktiles;
    kvheads = heads / group;
    kvh = bkv % kvheads;
    b = bkv / kvheads;
    j0 = kt * bn;
    j1 = min(j0 + bn, n);
  }
};

// A work item's merged key-tile ranges [lo, hi): each term's key span over the item's rows
// (key_span) in tiles of BN keys, sorted and merged. One thread writes them. (The backward's
// query-tile ranges of a key tile use the same record.)
template <int kTermSlots>
struct TileRanges {
  int r[kTermSlots][2];
  int count;
};

// Insertion sort over the terms (fewest registers; a 3-term table keeps its arrays on the stack).
// Generic over the span: span_of(term, a, b, n) is each term's span of [a, b) (key_span for a
// query tile's key tiles, query_span for a key tile's query tiles), cut into tiles of BT.
template <int kTermSlots, int kFields, int BT, class SpanOf>
SPC_HD void span_tile_ranges(TileRanges<kTermSlots>& out, const int* table, int a0, int a1, int n, SpanOf span_of) {
  int lo[kTermSlots], hi[kTermSlots], cnt = 0;
  for (int s = 0; s < kTermSlots; ++s) {
    const Span sp = span_of(table + s * kFields, a0, a1, n);
    if (sp.lo >= sp.hi) continue;
    const int tl = sp.lo / BT, th = (sp.hi + BT - 1) / BT;
    int p = cnt++;
    while (p > 0 && lo[p - 1] > tl) {
      lo[p] = lo[p - 1];
      hi[p] = hi[p - 1];
      --p;
    }
    lo[p] = tl;
    hi[p] = th;
  }
  int m = 0;
  for (int x = 0; x < cnt; ++x) {
    if (m > 0 && lo[x] <= out.r[m - 1][1]) out.r[m - 1][1] = max(out.r[m - 1][1], hi[x]);
    else {
      out.r[m][0] = lo[x];
      out.r[m][1] = hi[x];
      ++m;
    }
  }
  out.count = m;
}

template <int kTermSlots, int kFields, int BN>
SPC_HD void key_tile_ranges(TileRanges<kTermSlots>& out, const int* table, int i0, int i1, int n) {
  span_tile_ranges<kTermSlots, kFields, BN>(out, table, i0, i1, n, [](const int* t, int a, int b, int nn) { return key_span(t, a, b, nn); });
}

// A key tile's merged query-tile ranges (the backward's dK/dV pass): each term's query span of
// keys [j0, j1) (query_span) in tiles of BM rows, sorted and merged. One thread writes them.
template <int kTermSlots, int kFields, int BM>
SPC_HD void query_tile_ranges(TileRanges<kTermSlots>& out, const int* table, int j0, int j1, int n) {
  span_tile_ranges<kTermSlots, kFields, BM>(out, table, j0, j1, n, [](const int* t, int a, int b, int nn) { return query_span(t, a, b, nn); });
}

// The same ranges by selection over unrolled loops: no register array is indexed at run time
// (which would put it on the stack), for the persistent kernel's meta thread.
template <int kTermSlots, int kFields, int BN>
SPC_HD void key_tile_ranges_static(TileRanges<kTermSlots>& out, const int* table, int i0, int i1, int n) {
  int lo[kTermSlots], hi[kTermSlots];
#pragma unroll
  for (int s = 0; s < kTermSlots; ++s) {
    const Span sp = key_span(table + s * kFields, i0, i1, n);
    const bool some = sp.lo < sp.hi;
    lo[s] = some ? sp.lo / BN : INT_MAX;
    hi[s] = some ? (sp.hi + BN - 1) / BN : INT_MAX;
  }
  int m = 0;
#pragma unroll
  for (int it = 0; it < kTermSlots; ++it) {
    int best = INT_MAX, bhi = INT_MAX, pick = kTermSlots;
#pragma unroll
    for (int s = 0; s < kTermSlots; ++s)
      if (lo[s] < best) {
        best = lo[s];
        bhi = hi[s];
        pick = s;
      }
#pragma unroll
    for (int s = 0; s < kTermSlots; ++s)
      if (s == pick) lo[s] = INT_MAX;
    if (best == INT_MAX) continue;
    if (m > 0 && best <= out.r[m - 1][1]) out.r[m - 1][1] = max(out.r[m - 1][1], bhi);
    else {
      out.r[m][0] = best;
      out.r[m][1] = bhi;
      ++m;
    }
  }
  out.count = m;
}

// Walks the key tiles of merged ranges in order: kt is the current one, done() past the end. The
// range count is read once, into a register (the asm memory clobbers of the barriers and wgmma
// would make every use of a shared-memory count a load on the tile loop's critical path).
// kEndInRegister: the current range's end is kept in a register too (0 past the last range; a
// range's end is at least 1), so that next() reads shared memory only when a range ends: the sm90
// dK/dV kernel spent 7% of its stall samples on that load (bench/results/cuda-2026-12-07-bwd-smem.md).
// Off by default: the mma.sync forward at 3 blocks per SM spills with the register it takes.
template <int kTermSlots, bool kEndInRegister = false>
struct TileCursor;

template <int kTermSlots>
struct TileCursor<kTermSlots, false> {
  const TileRanges<kTermSlots>& rg;
  const int count;
  int ri, kt;
  SPC_HD explicit TileCursor(const TileRanges<kTermSlots>& r) : rg(r), count(r.count), ri(0), kt(count > 0 ? r.r[0][0] : 0) {}
  SPC_HD bool done() const { return ri >= count; }
  SPC_HD bool last() const { return kt + 1 >= rg.r[ri][1] && ri + 1 >= count; }
  SPC_HD void next() {
    if (++kt >= rg.r[ri][1]) {
      ++ri;
      kt = ri < count ? rg.r[ri][0] : 0;
    }
  }
};

template <int kTermSlots>
struct TileCursor<kTermSlots, true> {
  const TileRanges<kTermSlots>& rg;
  int ri, kt, hi;
  SPC_HD explicit TileCursor(const TileRanges<kTermSlots>& r) : rg(r), ri(0), kt(r.count > 0 ? r.r[0][0] : 0), hi(r.count > 0 ? r.r[0][1] : 0) {}
  SPC_HD bool done() const { return hi == 0; }
  SPC_HD void next() {
    if (++kt >= hi) {
      const bool more = ++ri < rg.count;
      kt = more ? rg.r[ri][0] : 0;
      hi = more ? rg.r[ri][1] : 0;
    }
  }
};

}  // namespace spc
