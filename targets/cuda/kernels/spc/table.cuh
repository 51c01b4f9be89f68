// Placeholder until the schema renderer lands: the head-table fields and span helpers.
#pragma once
#ifndef SPC_HD
#ifdef __CUDACC__
#define SPC_HD __host__ __device__ __forceinline__
#else
#define SPC_HD inline
#endif
#endif
namespace spc {
constexpr int kDLo = 0, kDHi = 1, kKLo = 2, kKHi = 3, kQLo = 4, kQHi = 5, kTermFields = 6, kModFields = 4;
constexpr int kModOn = 0, kModM = 1, kModLo = 2, kModHi = 3, kModOnD = 0, kModOnJ = 1;
struct Span {
  int lo, hi;
};
SPC_HD int imax(int a, int b) { return a > b ? a : b; }
SPC_HD int imin(int a, int b) { return a < b ? a : b; }
// Keys that some row of [i0, i1) reaches through the term's intervals (mods ignored); empty (0, 0).
SPC_HD Span key_span(const int* t, int i0, int i1, int n) {
  const int r0 = imax(i0, t[kQLo]), r1 = imin(i1, t[kQHi]);
  const int a = imax(imax(t[kKLo], r0 - t[kDHi] + 1), 0);
  const int e = imin(imin(t[kKHi], r1 - t[kDLo]), n);
  const bool some = r0 < r1 && t[kDLo] < t[kDHi] && t[kKLo] < t[kKHi] && a < e;
  return Span{some ? a : 0, some ? e : 0};
}
// Keys that every row of [i0, i1) reaches, for a term without effective mods, rows inside its
// rows and the grid; else empty (0, 0).
SPC_HD Span full_key_span(const int* t, int mod_slots, int i0, int i1, int n) {
  bool nomod = true;
  for (int m = 0; m < mod_slots; ++m) {
    const int* md = t + kTermFields + kModFields * m;
    nomod = nomod && md[kModLo] <= 0 && md[kModHi] >= md[kModM];
  }
  const int a = imax(t[kKLo], i1 - t[kDHi]);
  const int e = imin(imin(t[kKHi], i0 - t[kDLo] + 1), n);
  const bool ok = nomod && i1 <= n && i0 >= t[kQLo] && i1 <= t[kQHi] && a < e;
  return Span{ok ? a : 0, ok ? e : 0};
}
}  // namespace spc
