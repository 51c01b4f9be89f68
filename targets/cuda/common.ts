// C++ pieces shared by the mma.sync (template.ts) and wgmma (template_sm90.ts) kernel templates,
// interpolated into both; they rely on the constants and types each template declares.

/** cp.async copies of 16 bytes (zero-filled past N) and their commit. */
export const CP_ASYNC = String.raw`__device__ __forceinline__ void cp_async16(void* dst, const void* src, bool valid) {
  int n = valid ? 16 : 0;  // zero-fill rows past N
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(smem_u32(dst)), "l"(src), "r"(n));
}
__device__ __forceinline__ void cp_commit() { asm volatile("cp.async.commit_group;\n" ::); }`;

/** 16-bit pairs for the next MMA operand, and floor modulo. */
export const PACK_FLOORMOD = String.raw`__device__ __forceinline__ uint32_t pack2(float x, float y) {
  SPC_PAIR v = SPC_PACK(x, y);
  return *reinterpret_cast<uint32_t*>(&v);
}
__device__ __forceinline__ int floormod(int a, int m) { int r = a % m; return r < 0 ? r + m : r; }`;

/** Do the mods of term t allow (i, j)? */
export const MODS_ALLOW = String.raw`__device__ __forceinline__ bool mods_allow(const int* t, int i, int j) {
  bool ok = true;
#pragma unroll
  for (int m = 0; m < kModSlots; ++m) {
    const int* md = t + 6 + 4 * m;
    int r = floormod(md[0] == 0 ? i - j : j, md[1]);
    ok = ok && r >= md[2] && r < md[3];
  }
  return ok;
}`;

/**
 * The work item's batch, head, KV head and query rows; `item` is the expression that yields it
 * (an entry of the host's longest-first order).
 */
export function workItem(item: string): string {
  return String.raw`  // Work item (b * heads + h) * qtiles + qt, longest first as ordered by the host; h indexes the
  // heads of this call (and the rows of its table), kv head h / kGroup.
  const int qtiles = (n + kBM - 1) / kBM;
  const int item = ${item};
  const int qt = item % qtiles;
  const int bh = item / qtiles;
  const int h = bh % heads;
  [[maybe_unused]] const int b = bh / heads;
  [[maybe_unused]] const int kvheads = heads / kGroup;
  [[maybe_unused]] const int kvh = h / kGroup;
  const int i0 = qt * kBM;
  [[maybe_unused]] const int i1 = min(i0 + kBM, n);`;
}
export const WORK_ITEM = workItem('order[blockIdx.x]');

/**
 * Thread 0 (or the threads for which `who` holds) merges the key-tile ranges of the block's rows
 * (one per term) into `holder`.ranges (holder: the shared-memory struct with table, ranges and
 * nranges). staticIndex: a selection over unrolled loops, so that no register array is indexed
 * at run time (which puts it on the stack); else an insertion sort (fewer registers).
 */
export function keyTileRanges(holder: string, who = 'tid == 0', staticIndex = false): string {
  if (staticIndex)
    return String.raw`  if (${who}) {
    // Each term's key span over this tile's rows as key-tile ranges [lo, hi) (none: lo = INT_MAX),
    // taken in order of lo (ties: the lower slot) and merged.
    int lo[kTermSlots], hi[kTermSlots];
#pragma unroll
    for (int s = 0; s < kTermSlots; ++s) {
      const int* tt = ${holder}.table + s * kFields;
      const int r0 = max(i0, tt[4]), r1 = min(i1, tt[5]);
      const int a = max(max(tt[2], r0 - tt[1] + 1), 0);
      const int e = min(min(tt[3], r1 - tt[0]), n);
      const bool some = r0 < r1 && tt[0] < tt[1] && tt[2] < tt[3] && a < e;
      lo[s] = some ? a / kBN : INT_MAX;
      hi[s] = some ? (e + kBN - 1) / kBN : INT_MAX;
    }
    int m = 0;
#pragma unroll
    for (int it = 0; it < kTermSlots; ++it) {
      int best = INT_MAX, bhi = INT_MAX, pick = kTermSlots;
#pragma unroll
      for (int s = 0; s < kTermSlots; ++s)
        if (lo[s] < best) { best = lo[s]; bhi = hi[s]; pick = s; }
#pragma unroll
      for (int s = 0; s < kTermSlots; ++s)
        if (s == pick) lo[s] = INT_MAX;
      if (best == INT_MAX) continue;
      if (m > 0 && best <= ${holder}.ranges[m - 1][1]) ${holder}.ranges[m - 1][1] = max(${holder}.ranges[m - 1][1], bhi);
      else { ${holder}.ranges[m][0] = best; ${holder}.ranges[m][1] = bhi; ++m; }
    }
    ${holder}.nranges = m;
  }`;
  return String.raw`  if (${who}) {
    // Each term's key span over this tile's rows, as key-tile ranges; sorted and merged.
    int lo[kTermSlots], hi[kTermSlots], cnt = 0;
    for (int s = 0; s < kTermSlots; ++s) {
      const int* tt = ${holder}.table + s * kFields;
      int r0 = max(i0, tt[4]), r1 = min(i1, tt[5]);
      if (r0 >= r1 || tt[0] >= tt[1] || tt[2] >= tt[3]) continue;
      int a = max(max(tt[2], r0 - tt[1] + 1), 0);
      int e = min(min(tt[3], r1 - tt[0]), n);
      if (a >= e) continue;
      int tl = a / kBN, th = (e + kBN - 1) / kBN;
      int p = cnt++;
      while (p > 0 && lo[p - 1] > tl) { lo[p] = lo[p - 1]; hi[p] = hi[p - 1]; --p; }
      lo[p] = tl; hi[p] = th;
    }
    int m = 0;
    for (int x = 0; x < cnt; ++x) {
      if (m > 0 && lo[x] <= ${holder}.ranges[m - 1][1]) ${holder}.ranges[m - 1][1] = max(${holder}.ranges[m - 1][1], hi[x]);
      else { ${holder}.ranges[m][0] = lo[x]; ${holder}.ranges[m][1] = hi[x]; ++m; }
    }
    ${holder}.nranges = m;
  }`;
}
export const KEY_TILE_RANGES = keyTileRanges('sm');
