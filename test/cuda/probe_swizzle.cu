// The mma.sync backward's dS^T shared tile (bwd_sm80.cuh swz_ds) on the host: for every allowed
// blockM (config.ts) and warps 2, 4, 8, the (keys, rows) -> offset map is a permutation of the tile,
// so no two elements collide and none lands outside. Built and run by test/cuda-bwd.test.ts.
#include <cstdio>
#include <vector>
#include "spc/bwd_sm80.cuh"

struct L {
  static constexpr int kD = 64, kGroup = 1, kTermSlots = 1, kModSlots = 0;
};
template <int W, int BM>
struct T {
  static constexpr int kWarps = W, kBM = BM, kMinBlocks = 1;
};

template <int W, int BM>
static int check() {
  using B = spc::BwdSm80<__nv_bfloat16, L, T<W, BM>>;
  std::vector<int> seen(B::kBN * BM, 0);
  int bad = 0;
  for (int r = 0; r < B::kBN; ++r)
    for (int c = 0; c < BM; ++c) {
      const int o = B::swz_ds(r, c);
      if (o < 0 || o >= B::kBN * BM || seen[o]++) ++bad;
    }
  printf("warps %d blockM %d: %d bad\n", W, BM, bad);
  return bad;
}

int main() {
  int bad = 0;
  bad += check<2, 32>() + check<2, 64>() + check<2, 96>() + check<2, 128>();
  bad += check<4, 32>() + check<4, 64>() + check<4, 96>() + check<4, 128>();
  bad += check<8, 32>() + check<8, 64>() + check<8, 96>() + check<8, 128>();
  return bad == 0 ? 0 : 1;
}
