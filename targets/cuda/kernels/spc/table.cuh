// The spc head-table schema (generated from src/ir/schema.ts; do not edit). A term slot is
// D_LO, D_HI, K_LO, K_HI, Q_LO, Q_HI, then mod slots (MOD_ON, MOD_M, MOD_LO, MOD_HI) at
// MOD_BASE + MOD_STRIDE * m. Spans are half-open [lo, hi); the empty span is (0, 0).
#ifndef SPC_TABLE_CUH
#define SPC_TABLE_CUH
#ifndef SPC_HD
#ifdef __CUDACC__
#define SPC_HD __host__ __device__ __forceinline__
#else
#define SPC_HD inline
#endif
#endif
namespace spc {

[[maybe_unused]] constexpr int D_LO = 0;  // offset of dLo in a term slot
[[maybe_unused]] constexpr int D_HI = 1;  // offset of dHi in a term slot
[[maybe_unused]] constexpr int K_LO = 2;  // offset of kLo in a term slot
[[maybe_unused]] constexpr int K_HI = 3;  // offset of kHi in a term slot
[[maybe_unused]] constexpr int Q_LO = 4;  // offset of qLo in a term slot
[[maybe_unused]] constexpr int Q_HI = 5;  // offset of qHi in a term slot
[[maybe_unused]] constexpr int MOD_BASE = 6;  // mod slot m starts at MOD_BASE + MOD_STRIDE * m
[[maybe_unused]] constexpr int MOD_STRIDE = 4;  // fields per mod slot
[[maybe_unused]] constexpr int MOD_ON = 0;  // offset of on in a mod slot
[[maybe_unused]] constexpr int MOD_M = 1;  // offset of m in a mod slot
[[maybe_unused]] constexpr int MOD_LO = 2;  // offset of lo in a mod slot
[[maybe_unused]] constexpr int MOD_HI = 3;  // offset of hi in a mod slot
[[maybe_unused]] constexpr int MOD_ON_D = 0;  // MOD_ON value: residue of d = i - j
[[maybe_unused]] constexpr int MOD_ON_J = 1;  // MOD_ON value: residue of j
[[maybe_unused]] constexpr int EMPTY_TERM[6] = {0, 0, 0, 0, 0, 0};  // interval fields of an empty term slot
[[maybe_unused]] constexpr int NEUTRAL_MOD[4] = {0, 1, 0, 1};  // an unused mod slot (always true)

struct Span { int lo, hi; };

SPC_HD constexpr int fields_per_term(int mod_slots) { return MOD_BASE + MOD_STRIDE * mod_slots; }
SPC_HD int imax(int a, int b) { return a > b ? a : b; }
SPC_HD int imin(int a, int b) { return a < b ? a : b; }

// Keys in [0, n) that some row of [i0, i1) reaches through the term's intervals (mods ignored); empty: (0, 0).
SPC_HD Span key_span(const int* t, int i0, int i1, int n) {
  const int r0 = imax(i0, t[Q_LO]);
  const int r1 = imin(i1, t[Q_HI]);
  const int a = imax(imax(t[K_LO], r0 - t[D_HI] + 1), 0);
  const int e = imin(imin(t[K_HI], r1 - t[D_LO]), n);
  return (r0 < r1 && t[D_LO] < t[D_HI] && a < e) ? Span{a, e} : Span{0, 0};
}

// Keys that every row of [i0, i1) reaches; empty (0, 0) unless no mod is effective, i0 < i1, [i0, i1) lies in [qLo, qHi) and i1 <= n.
SPC_HD Span full_key_span(const int* t, int mod_slots, int i0, int i1, int n) {
  bool nomod = true;
  for (int m = 0; m < mod_slots; ++m) nomod = nomod && (t[MOD_BASE + MOD_STRIDE * m + MOD_LO] <= 0 && t[MOD_BASE + MOD_STRIDE * m + MOD_M] <= t[MOD_BASE + MOD_STRIDE * m + MOD_HI]);
  const int a = imax(imax(t[K_LO], i1 - t[D_HI]), 0);
  const int e = imin(imin(t[K_HI], i0 - t[D_LO] + 1), n);
  return (nomod && i0 < i1 && t[Q_LO] <= i0 && i1 <= t[Q_HI] && i1 <= n && a < e) ? Span{a, e} : Span{0, 0};
}

// Rows in [0, n) that reach some key of [j0, j1) through the term's intervals (mods ignored); empty: (0, 0).
SPC_HD Span query_span(const int* t, int j0, int j1, int n) {
  const int ja = imax(imax(j0, t[K_LO]), 0);
  const int jb = imin(imin(j1, t[K_HI]), n);
  const int a = imax(imax(ja + t[D_LO], t[Q_LO]), 0);
  const int e = imin(imin(jb - 1 + t[D_HI], t[Q_HI]), n);
  return (ja < jb && t[D_LO] < t[D_HI] && a < e) ? Span{a, e} : Span{0, 0};
}

}  // namespace spc
#endif  // SPC_TABLE_CUH
