// The backward's dK/dV walk, run on the host against a brute force of the head table (a probe of
// the kernel's own code: query_tile_ranges (work.cuh), FullSpans and KeyRowSpans (mask.cuh), used
// exactly as bwd_sm80.cuh uses them). Built by test/cuda-bwd.test.ts with nvcc -DTS=.. -DMS=..;
// reads cases from stdin: n heads tiles (bwd_sm80 dK/dV walk 0: 32 x 64, 1: 64 x 64, 2: 128 x 32,
// query rows x keys per block; bwd_sm80 dq walk 3: 64 x 32, 4: 64 x 64; bwd_sm90 dK/dV walk 5:
// 64 x 128; bwd_sm90 dq walk 6: 128 x 64, 7: 128 x 128; bwd_sm90 dK/dV walk with bwd90.rows = 128, 8:
// 128 x 128), then heads * TS * fields ints (the table rows); prints one line per case: pairs allowed, pairs the walk computes, duplicates, pairs the walk
// misses, pairs it computes that are not allowed, full blocks holding a pair not allowed.
#include <cstdio>
#include <cstdlib>
#include <vector>
#include "spc/mask.cuh"
#include "spc/work.cuh"

constexpr int kFields = spc::MOD_BASE + spc::MOD_STRIDE * MS;

static bool allowed(const int* t, int i, int j, int n) {
  if (i < 0 || j < 0 || i >= n || j >= n) return false;
  for (int s = 0; s < TS; ++s) {
    const int* p = t + s * kFields;
    const int d = i - j;
    bool ok = d >= p[spc::D_LO] && d < p[spc::D_HI] && j >= p[spc::K_LO] && j < p[spc::K_HI] && i >= p[spc::Q_LO] && i < p[spc::Q_HI];
    for (int m = 0; m < MS && ok; ++m) {
      const int* md = p + spc::MOD_BASE + spc::MOD_STRIDE * m;
      const int r = spc::floormod(md[spc::MOD_ON] == spc::MOD_ON_D ? d : j, md[spc::MOD_M]);
      ok = r >= md[spc::MOD_LO] && r < md[spc::MOD_HI];
    }
    if (ok) return true;
  }
  return false;
}

// FG: keys per whole-block test (a warp's 16 in bwd_sm80.cuh, a warpgroup's 64 in bwd_sm90.cuh).
template <int BM, int BN, int FG>
static void walk(const std::vector<int>& table, int n, int heads) {
    long long want = 0, got = 0, dup = 0, missed = 0, extra = 0, badFull = 0;
    for (int h = 0; h < heads; ++h) {
      const int* t = table.data() + h * TS * kFields;
      std::vector<unsigned char> seen((size_t)n * n, 0);
      for (int j0 = 0; j0 < n; j0 += BN) {
        const int j1 = j0 + BN < n ? j0 + BN : n;
        spc::TileRanges<TS> rg;
        spc::query_tile_ranges<TS, kFields, BM>(rg, t, j0, j1, n);
        // The sm90 dK/dV kernel's cursor (its range end in a register); the plain one (bwd_sm80.cuh)
        // must walk the same tiles.
        spc::TileCursor<TS> plain(rg);
        for (spc::TileCursor<TS, true> cur(rg); !cur.done(); cur.next(), plain.next()) {
          if (plain.done() || plain.kt != cur.kt) {
            printf("cursors differ at key tile %d of head %d\n", j0 / BN, h);
            exit(1);
          }
          const int i0 = cur.kt * BM;
          const spc::FullSpans<TS, kFields, MS> fs(t, i0, i0 + BM, n);
          for (int kw = 0; kw < BN; kw += 16) {  // a warp's 16 keys
            const bool full = fs.template full<FG>(j0 + kw / FG * FG);
            for (int g = 0; g < 8; ++g) {
              const int keyA = j0 + kw + g, keyB = keyA + 8;
              const spc::KeyRowSpans<TS, kFields> ks(t, keyA, keyB, n);
              for (int r = 0; r < 2; ++r) {
                const int j = r == 0 ? keyA : keyB;
                for (int i = i0; i < i0 + BM; ++i) {
                  const bool ok = allowed(t, i, j, n);
                  if (full && !ok) ++badFull;
                  const bool computed = full || ks.template allows<MS>(t, r, i, j);
                  if (!computed) continue;
                  if (i >= n || j >= n) {  // padding: P = 0 there (lse2 = +inf rows; keys past n are masked)
                    ++extra;
                    continue;
                  }
                  ++got;
                  if (!ok) ++extra;
                  if (seen[(size_t)i * n + j]++) ++dup;
                }
              }
            }
          }
        }
        if (!plain.done()) {
          printf("cursors differ at the end of key tile %d of head %d\n", j0 / BN, h);
          exit(1);
        }
      }
      for (int i = 0; i < n; ++i)
        for (int j = 0; j < n; ++j)
          if (allowed(t, i, j, n)) {
            ++want;
            if (!seen[(size_t)i * n + j]) ++missed;
          }
    }
    printf("%lld %lld %lld %lld %lld %lld\n", want, got, dup, missed, extra, badFull);
}

// The dq pass's walk (bwd_sm80.cuh and bwd_sm90.cuh dq): per query tile of BM rows, the key tiles
// of key_tile_ranges, whole tiles by full_key_span over RG rows (the tile's in bwd_sm80.cuh, a
// warpgroup's 64 in bwd_sm90.cuh), else RowSpans per row pair.
template <int BM, int BN, int RG>
static void walk_dq(const std::vector<int>& table, int n, int heads) {
  long long want = 0, got = 0, dup = 0, missed = 0, extra = 0, badFull = 0;
  for (int h = 0; h < heads; ++h) {
    const int* t = table.data() + h * TS * kFields;
    std::vector<unsigned char> seen((size_t)n * n, 0);
    for (int i0 = 0; i0 < n; i0 += BM) {
      const int i1 = i0 + BM < n ? i0 + BM : n;
      spc::TileRanges<TS> rg;
      spc::key_tile_ranges<TS, kFields, BN>(rg, t, i0, i1, n);
      for (spc::TileCursor<TS> cur(rg); !cur.done(); cur.next()) {
        const int j0 = cur.kt * BN;
        for (int w = 0; w < BM; w += 16) {
          const int r0 = i0 + w / RG * RG;
          const spc::FullSpans<TS, kFields, MS> fs(t, r0, r0 + RG, n);
          const bool full = fs.template full<BN>(j0);
          for (int g = 0; g < 8; ++g) {
            const int rowA = i0 + w + g, rowB = rowA + 8;
            const spc::RowSpans<TS, kFields> rs(t, rowA, rowB, n);
            for (int r = 0; r < 2; ++r) {
              const int i = r == 0 ? rowA : rowB;
              for (int j = j0; j < j0 + BN; ++j) {
                const bool ok = allowed(t, i, j, n);
                if (full && !ok) ++badFull;
                if (!(full || rs.template allows<MS>(t, r, i, j))) continue;
                if (i >= n || j >= n) {
                  ++extra;
                  continue;
                }
                ++got;
                if (!ok) ++extra;
                if (seen[(size_t)i * n + j]++) ++dup;
              }
            }
          }
        }
      }
    }
    for (int i = 0; i < n; ++i)
      for (int j = 0; j < n; ++j)
        if (allowed(t, i, j, n)) {
          ++want;
          if (!seen[(size_t)i * n + j]) ++missed;
        }
  }
  printf("%lld %lld %lld %lld %lld %lld\n", want, got, dup, missed, extra, badFull);
}

int main() {
  int n, heads, tiles;
  while (scanf("%d %d %d", &n, &heads, &tiles) == 3) {
    std::vector<int> table(heads * TS * kFields);
    for (int& x : table)
      if (scanf("%d", &x) != 1) return 1;
    if (tiles == 0) walk<32, 64, 16>(table, n, heads);
    else if (tiles == 1) walk<64, 64, 16>(table, n, heads);
    else if (tiles == 2) walk<128, 32, 16>(table, n, heads);
    else if (tiles == 3) walk_dq<64, 32, 64>(table, n, heads);
    else if (tiles == 4) walk_dq<64, 64, 64>(table, n, heads);
    else if (tiles == 5) walk<64, 128, 64>(table, n, heads);
    else if (tiles == 6) walk_dq<128, 64, 64>(table, n, heads);
    else if (tiles == 7) walk_dq<128, 128, 64>(table, n, heads);
    else walk<128, 128, 64>(table, n, heads);
  }
  return 0;
}
