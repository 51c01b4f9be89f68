// Tuned band boundaries. For one layout at one N and one tile shape, choose the H+1 boundaries
// S_0 = 0 <= S_1 <= ... <= S_H = N that minimise the slowest head's predicted cost (or, with T
// shards, the slowest shard of H/T consecutive heads), subject to each head's band pair share
// staying within `tol` (relative) of the base partition's. Deterministic: integers, a fixed
// candidate order and fixed tie-breaks, so the same layout, N and options give the same bands
// on every machine.
//
// Method: each boundary S_k may take a few candidate values: the base partition's S_k, the ends
// of the range the tolerance allows it, and the multiples of gcd(bm, bn) inside that range (a
// band edge on a tile corner diagonal crosses one diagonal of tiles instead of two, so it cuts
// partial tiles), thinned evenly when there are too many. Head h's cost depends only on its own
// band [S_h, S_h+1), so minimising the maximum over heads is a shortest-path-like dynamic program
// over boundaries, exact over the candidates. The base boundaries are candidates, so the result
// is never worse than the base for the objective. For shards (sums of heads) a coordinate descent
// from the better of the base and the per-head optimum improves the slowest shard, accepting only
// strict improvements.
import { equalPairsBounds, equalWidthBounds, instantiateHead, MAX_STAT_TILES, pairsInDistance, type LayoutIR } from '../ir/index.js';
import { DEFAULT_COST_MODEL, headCost, headWork, makespan, itemCost, type CostModel, type HeadWork } from './cost.js';

export type BasePartition = 'equal_width' | 'equal_pairs';

export class TunerError extends Error {
  override name = 'TunerError';
}

export interface BandTuneOptions {
  base: BasePartition;
  /** Relative tolerance on each head's band pair share (0.1: within 10% of the base's share). */
  tol: number;
  /** Tile shape: query rows x keys. */
  bm: number;
  bn: number;
  /** Tensor-parallel shards of consecutive heads; 1 (or absent) tunes the slowest head. */
  shards?: number;
  /** Streaming multiprocessors (blocks of the persistent kernel) for the predicted kernel time. */
  sms?: number;
  cost?: CostModel;
  /** Candidate values per boundary (default 48). */
  maxCandidates?: number;
  /** Per-head factors on the model's cost (default 1 each): measured corrections, `spc tune --head-scale`. */
  headScale?: readonly number[];
}

export interface HeadPrediction {
  head: number;
  band: [number, number];
  /** Pairs of the band (i - j in the band, causal), and their share of all causal pairs. */
  pairs: number;
  share: number;
  /** The base partition's share for this head, and (share - base) / base (0 when both are 0). */
  baseShare: number;
  shareMove: number;
  items: number;
  fullTiles: number;
  partialTiles: number;
  /** Predicted work (cost model units). */
  cost: number;
}

export interface Prediction {
  bounds: number[];
  heads: HeadPrediction[];
  maxHead: number;
  meanHead: number;
  /** max/mean of head cost (1 is balanced). */
  balance: number;
  /** max/min of visited tiles per head (the figure the issue quotes: 2.58 for equal_pairs at N = 4096). */
  tileSpread: number;
  /** Sum of head costs. */
  total: number;
  /** Predicted kernel time: items of all heads dealt over `sms` blocks (longest first). */
  kernel: number;
  /** With shards: each shard's summed head cost, the slowest, max/mean, and the slowest shard's kernel time. */
  shards?: { work: number[]; max: number; balance: number; kernel: number };
}

export interface BandTuning {
  n: number;
  heads: number;
  base: BasePartition;
  tol: number;
  tile: [number, number];
  shards: number;
  sms: number;
  objective: 'slowest head' | 'slowest shard';
  cost: CostModel;
  before: Prediction;
  after: Prediction;
}

/** The base partition's boundaries. */
export function baseBounds(base: BasePartition, n: number, heads: number): number[] {
  return base === 'equal_width' ? equalWidthBounds(n, heads) : equalPairsBounds(n, heads);
}

const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));

/** The default SM count for predictions: H100 and H200 SXM have 132. */
export const DEFAULT_SMS = 132;

/** Prices heads of one layout at one N and tile shape, with a cache per (head, band). */
export class BandPricer {
  private readonly cache = new Map<string, HeadWork>();
  private readonly scratch: number[];
  readonly cost: CostModel;

  constructor(
    readonly layout: LayoutIR,
    readonly n: number,
    readonly bm: number,
    readonly bn: number,
    cost: CostModel = DEFAULT_COST_MODEL,
    /** Per-head factors on the cost (a measured correction of the model; null: 1 for every head). */
    readonly headScale: readonly number[] | null = null,
  ) {
    if (headScale !== null && headScale.length !== layout.heads)
      throw new TunerError(`the head scale has ${headScale.length} factors; layout ${layout.name} has ${layout.heads} heads`);
    if (Math.ceil(n / bm) * Math.ceil(n / bn) > MAX_STAT_TILES)
      throw new TunerError(`N = ${n} is too long to tune with ${bm}x${bn} tiles (more than ${MAX_STAT_TILES} tiles per head); use larger tiles`);
    this.scratch = Array<number>(layout.heads + 1).fill(0);
    this.cost = cost;
  }

  work(h: number, a: number, b: number): HeadWork {
    const key = `${h},${a},${b}`;
    let w = this.cache.get(key);
    if (!w) {
      this.scratch[h] = a;
      this.scratch[h + 1] = b;
      w = headWork(instantiateHead(this.layout, this.n, h, this.scratch), this.n, this.bm, this.bn);
      this.cache.set(key, w);
    }
    return w;
  }

  /** The factor on head h's cost (1 without a head scale). */
  scale(h: number): number {
    return this.headScale?.[h] ?? 1;
  }

  price(h: number, a: number, b: number): number {
    return this.scale(h) * headCost(this.cost, this.bm, this.bn, this.work(h, a, b));
  }
}

/** The predictions for one set of bounds. */
export function predict(pricer: BandPricer, bounds: readonly number[], baseB: readonly number[], shards: number, sms: number): Prediction {
  const { n, bm, bn, cost } = pricer;
  const total = (n * (n + 1)) / 2;
  const heads: HeadPrediction[] = [];
  const itemCosts: number[][] = [];
  for (let h = 0; h + 1 < bounds.length; h++) {
    const w = pricer.work(h, bounds[h]!, bounds[h + 1]!);
    const pairs = pairsInDistance(n, bounds[h]!, bounds[h + 1]!);
    const basePairs = pairsInDistance(n, baseB[h]!, baseB[h + 1]!);
    heads.push({
      head: h,
      band: [bounds[h]!, bounds[h + 1]!],
      pairs,
      share: pairs / total,
      baseShare: basePairs / total,
      shareMove: basePairs === 0 ? (pairs === 0 ? 0 : Infinity) : (pairs - basePairs) / basePairs,
      items: w.items.length,
      fullTiles: w.fullTiles,
      partialTiles: w.partialTiles,
      cost: pricer.scale(h) * headCost(cost, bm, bn, w),
    });
    itemCosts.push(w.items.map((it) => pricer.scale(h) * itemCost(cost, bm, bn, it.full, it.partial)));
  }
  const costs = heads.map((h) => h.cost);
  const sum = costs.reduce((a, b) => a + b, 0);
  const mean = sum / costs.length;
  const tiles = heads.map((h) => h.fullTiles + h.partialTiles);
  const minTiles = Math.min(...tiles);
  const p: Prediction = {
    bounds: [...bounds],
    heads,
    maxHead: Math.max(...costs),
    meanHead: mean,
    balance: mean === 0 ? 1 : Math.max(...costs) / mean,
    tileSpread: minTiles === 0 ? (Math.max(...tiles) === 0 ? 1 : Infinity) : Math.max(...tiles) / minTiles,
    total: sum,
    kernel: makespan(itemCosts.flat(), sms),
  };
  if (shards > 1) {
    const per = costs.length / shards;
    const work = Array.from({ length: shards }, (_, s) => costs.slice(s * per, (s + 1) * per).reduce((a, b) => a + b, 0));
    const kernels = Array.from({ length: shards }, (_, s) => makespan(itemCosts.slice(s * per, (s + 1) * per).flat(), sms));
    const m = work.reduce((a, b) => a + b, 0) / shards;
    p.shards = { work, max: Math.max(...work), balance: m === 0 ? 1 : Math.max(...work) / m, kernel: Math.max(...kernels) };
  }
  return p;
}

/** Whether a band [a, b) holding `pairs` stays within tol of the base share `basePairs`. */
const withinTol = (pairs: number, basePairs: number, tol: number): boolean => Math.abs(pairs - basePairs) <= tol * basePairs;

/**
 * Candidate values of each boundary S_0..S_H: sorted, distinct, always including the base's.
 * The range of S_k: the cumulative pairs below it must lie within tol of the base's for heads
 * 0..k-1 and leave heads k..H-1 within tol of theirs.
 */
export function boundaryCandidates(n: number, baseB: readonly number[], tol: number, step: number, maxCandidates: number): number[][] {
  const H = baseB.length - 1;
  const P = (n * (n + 1)) / 2;
  const share = Array.from({ length: H }, (_, h) => pairsInDistance(n, baseB[h]!, baseB[h + 1]!));
  const below = (b: number) => pairsInDistance(n, 0, b);
  /** Smallest b in 0..n with below(b) >= x (below is nondecreasing). */
  const firstAtLeast = (x: number): number => {
    let lo = 0;
    let hi = n;
    while (lo < hi) {
      const mid = Math.floor((lo + hi) / 2);
      if (below(mid) >= x) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  };
  const out: number[][] = [[0]];
  let cumBase = 0;
  for (let k = 1; k < H; k++) {
    cumBase += share[k - 1]!;
    const rest = P - cumBase;
    const lo = Math.max(cumBase * (1 - tol), P - rest * (1 + tol));
    const hi = Math.min(cumBase * (1 + tol), P - rest * (1 - tol));
    let a = Math.min(firstAtLeast(lo), baseB[k]!);
    let b = firstAtLeast(hi);
    if (b > n || below(b) > hi) b -= 1; // the largest b with below(b) <= hi
    b = Math.max(b, baseB[k]!);
    a = Math.max(0, a);
    b = Math.min(n, b);
    const set = new Set<number>([a, b, baseB[k]!]);
    const first = Math.ceil(a / step) * step;
    const count = first > b ? 0 : Math.floor((b - first) / step) + 1;
    const stride = step * Math.max(1, Math.ceil(count / maxCandidates));
    for (let x = first; x <= b; x += stride) set.add(x);
    out.push([...set].sort((x, y) => x - y));
  }
  out.push([n]);
  return out;
}

/** Lexicographic (max, sum) order for the dynamic program. */
const better = (m1: number, s1: number, m2: number, s2: number): boolean => m1 < m2 || (m1 === m2 && s1 < s2);

/** Tuned boundaries for one layout at one N: the base partition moved within tol to balance predicted cost. */
export function tuneBands(layout: LayoutIR, n: number, o: BandTuneOptions): BandTuning {
  const H = layout.heads;
  const shards = o.shards ?? 1;
  const sms = o.sms ?? DEFAULT_SMS;
  if (!(o.tol >= 0 && o.tol <= 1)) throw new TunerError(`tol must be in 0..1, got ${o.tol}`);
  if (!Number.isInteger(shards) || shards < 1 || H % shards !== 0) throw new TunerError(`--shards ${shards} must divide the ${H} heads`);
  const pricer = new BandPricer(layout, n, o.bm, o.bn, o.cost ?? DEFAULT_COST_MODEL, o.headScale ?? null);
  const baseB = baseBounds(o.base, n, H);
  const basePairs = Array.from({ length: H }, (_, h) => pairsInDistance(n, baseB[h]!, baseB[h + 1]!));
  const cands = boundaryCandidates(n, baseB, o.tol, gcd(o.bm, o.bn), o.maxCandidates ?? 48);

  // Dynamic program over boundaries: best[k][i] = (max cost, sum) of heads 0..k-1 with S_k = cands[k][i].
  const bestMax: number[][] = [[0]];
  const bestSum: number[][] = [[0]];
  const from: number[][] = [[-1]];
  for (let k = 0; k < H; k++) {
    const xs = cands[k]!;
    const ys = cands[k + 1]!;
    const m = Array<number>(ys.length).fill(Infinity);
    const s = Array<number>(ys.length).fill(Infinity);
    const f = Array<number>(ys.length).fill(-1);
    ys.forEach((y, yi) => {
      xs.forEach((x, xi) => {
        if (x > y || bestMax[k]![xi] === Infinity) return;
        if (!withinTol(pairsInDistance(n, x, y), basePairs[k]!, o.tol)) return;
        const c = pricer.price(k, x, y);
        const mm = Math.max(bestMax[k]![xi]!, c);
        const ss = bestSum[k]![xi]! + c;
        if (better(mm, ss, m[yi]!, s[yi]!)) [m[yi], s[yi], f[yi]] = [mm, ss, xi];
      });
    });
    bestMax.push(m);
    bestSum.push(s);
    from.push(f);
  }
  let dp: number[] = [n];
  if (bestMax[H]![0] === Infinity)
    dp = [...baseB]; // cannot happen: the base path is feasible
  else {
    let i = 0;
    for (let k = H; k > 0; k--) {
      i = from[k]![i]!;
      dp.unshift(cands[k - 1]![i]!);
    }
  }
  let bounds = dp;
  if (shards > 1) bounds = improveShards(pricer, dp, baseB, basePairs, cands, o.tol, shards);
  const before = predict(pricer, baseB, baseB, shards, sms);
  let after = predict(pricer, bounds, baseB, shards, sms);
  // Never worse than the base for the objective (the search guarantees it; this makes it a law).
  const objective = (p: Prediction) => (shards > 1 ? p.shards!.max : p.maxHead);
  if (objective(after) > objective(before)) after = before;
  return {
    n,
    heads: H,
    base: o.base,
    tol: o.tol,
    tile: [o.bm, o.bn],
    shards,
    sms,
    objective: shards > 1 ? 'slowest shard' : 'slowest head',
    cost: pricer.cost,
    before,
    after,
  };
}

/** Coordinate descent on the slowest shard (then the sum), from the better of the base and the per-head optimum. */
function improveShards(pricer: BandPricer, dp: number[], baseB: number[], basePairs: number[], cands: number[][], tol: number, shards: number): number[] {
  const H = baseB.length - 1;
  const per = H / shards;
  const n = pricer.n;
  const score = (b: readonly number[]): [number, number] => {
    const costs = Array.from({ length: H }, (_, h) => pricer.price(h, b[h]!, b[h + 1]!));
    let max = 0;
    for (let s = 0; s < shards; s++)
      max = Math.max(
        max,
        costs.slice(s * per, (s + 1) * per).reduce((a, c) => a + c, 0),
      );
    return [max, costs.reduce((a, c) => a + c, 0)];
  };
  const [m0, s0] = score(baseB);
  const [m1, s1] = score(dp);
  const cur = better(m1, s1, m0, s0) ? [...dp] : [...baseB];
  let [curMax, curSum] = better(m1, s1, m0, s0) ? [m1, s1] : [m0, s0];
  for (let sweep = 0; sweep < 50; sweep++) {
    let moved = false;
    for (let k = 1; k < H; k++) {
      for (const c of cands[k]!) {
        if (c === cur[k] || c < cur[k - 1]! || c > cur[k + 1]!) continue;
        if (!withinTol(pairsInDistance(n, cur[k - 1]!, c), basePairs[k - 1]!, tol) || !withinTol(pairsInDistance(n, c, cur[k + 1]!), basePairs[k]!, tol))
          continue;
        const old = cur[k]!;
        cur[k] = c;
        const [m, s] = score(cur);
        if (better(m, s, curMax, curSum)) {
          [curMax, curSum] = [m, s];
          moved = true;
        } else cur[k] = old;
      }
    }
    if (!moved) break;
  }
  return cur;
}
