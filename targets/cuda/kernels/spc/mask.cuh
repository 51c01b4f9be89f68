// Which (query, key) pairs a head allows, from its head-table rows (table.cuh): a union over the
// term slots of intervals on d = i - j, j and i, and each term's residue conditions.
#pragma once
#include "common.cuh"
#include "table.cuh"

namespace spc {

// Do the mods of term t allow (i, j)? (Its intervals are checked by the caller.)
template <int kModSlots>
SPC_HD bool mods_allow(const int* t, int i, int j) {
  bool ok = true;
#pragma unroll
  for (int m = 0; m < kModSlots; ++m) {
    const int* md = t + MOD_BASE + MOD_STRIDE * m;
    const int r = floormod(md[MOD_ON] == MOD_ON_D ? i - j : j, md[MOD_M]);
    ok = ok && r >= md[MOD_LO] && r < md[MOD_HI];
  }
  return ok;
}

// Each term's keys for two rows of a thread (an MMA fragment holds rows rowA and rowA + 8), so
// that a tile's per-element mask is two compares per term and key.
template <int kTermSlots, int kFields>
struct RowSpans {
  Span s[2][kTermSlots];
  SPC_HD RowSpans(const int* table, int rowA, int rowB, int n) {
#pragma unroll
    for (int r = 0; r < 2; ++r)
#pragma unroll
      for (int ts = 0; ts < kTermSlots; ++ts) {
        const int i = r == 0 ? rowA : rowB;
        s[r][ts] = key_span(table + ts * kFields, i, i + 1, n);
      }
  }
  // Is key j allowed to row r (0: rowA, 1: rowB)?
  template <int kModSlots>
  SPC_HD bool allows(const int* table, int r, int i, int j) const {
    bool ok = false;
#pragma unroll
    for (int ts = 0; ts < kTermSlots; ++ts) {
      bool in = j >= s[r][ts].lo && j < s[r][ts].hi;
      if constexpr (kModSlots > 0) in = in && mods_allow<kModSlots>(table + ts * kFields, i, j);
      ok = ok || in;
    }
    return ok;
  }
};

// The transpose of RowSpans for the backward's dK/dV pass, whose MMA fragments hold keys as rows:
// each term's query rows (query_span) for two keys of a thread (keyA and keyA + 8). query_span of
// one key and key_span of one row agree on every pair (i, j) with 0 <= i, j < n (mods ignored).
template <int kTermSlots, int kFields>
struct KeyRowSpans {
  Span s[2][kTermSlots];
  SPC_HD KeyRowSpans(const int* table, int keyA, int keyB, int n) {
#pragma unroll
    for (int r = 0; r < 2; ++r)
#pragma unroll
      for (int ts = 0; ts < kTermSlots; ++ts) {
        const int j = r == 0 ? keyA : keyB;
        s[r][ts] = query_span(table + ts * kFields, j, j + 1, n);
      }
  }
  // Is row i allowed to key j (r = 0: keyA, 1: keyB)?
  template <int kModSlots>
  SPC_HD bool allows(const int* table, int r, int i, int j) const {
    bool ok = false;
#pragma unroll
    for (int ts = 0; ts < kTermSlots; ++ts) {
      bool in = i >= s[r][ts].lo && i < s[r][ts].hi;
      if constexpr (kModSlots > 0) in = in && mods_allow<kModSlots>(table + ts * kFields, i, j);
      ok = ok || in;
    }
    return ok;
  }
};

// The keys each term allows to every row of a group of rows (full_key_span), computed once per
// (work item, row group); a key tile [j0, j0 + BN) needs no per-element mask when one term's span
// holds it: register compares in the loop, no table reads.
template <int kTermSlots, int kFields, int kModSlots>
struct FullSpans {
  Span s[kTermSlots];
  SPC_HD FullSpans(const int* table, int r0, int r1, int n) {
#pragma unroll
    for (int ts = 0; ts < kTermSlots; ++ts) s[ts] = full_key_span(table + ts * kFields, kModSlots, r0, r1, n);
  }
  template <int BN>
  SPC_HD bool full(int j0) const {
    bool any = false;
#pragma unroll
    for (int ts = 0; ts < kTermSlots; ++ts) any = any || (j0 >= s[ts].lo && j0 + BN <= s[ts].hi);
    return any;
  }
};

// The keys each term may allow to some row of a group (key_span): a key tile with none of them
// holds no allowed pair for the group and can be passed over.
template <int kTermSlots, int kFields>
struct ActiveSpans {
  Span s[kTermSlots];
  SPC_HD ActiveSpans(const int* table, int r0, int r1, int n) {
#pragma unroll
    for (int ts = 0; ts < kTermSlots; ++ts) s[ts] = key_span(table + ts * kFields, r0, r1, n);
  }
  template <int BN>
  SPC_HD bool active(int j0) const {
    bool any = false;
#pragma unroll
    for (int ts = 0; ts < kTermSlots; ++ts) any = any || (s[ts].lo < j0 + BN && s[ts].hi > j0);
    return any;
  }
};

}  // namespace spc
