import { countRow, countRowPlain, headPairs } from './rows.js';
import { termKeySpan } from './schema.js';
import type { CTerm, HeadInstance, Instance } from './types.js';

export type TileClass = 'empty' | 'full' | 'partial';

export interface Tile {
  /** Query tile index and key tile index. */
  qt: number;
  kt: number;
  cls: Exclude<TileClass, 'empty'>;
  /** Allowed pairs in the tile. */
  pairs: number;
}

interface Box {
  i0: number;
  i1: number;
  j0: number;
  j1: number;
}

/** 'full' when the term alone allows every pair of the box, 'empty' when it allows none for sure, else null. */
function termVersusBox(t: CTerm, b: Box): TileClass | null {
  const dMin = b.i0 - (b.j1 - 1);
  const dMax = b.i1 - 1 - b.j0;
  if (dMax < t.dLo || dMin >= t.dHi || b.j1 <= t.kLo || b.j0 >= t.kHi || b.i1 <= t.qLo || b.i0 >= t.qHi) return 'empty';
  if (!t.mods.length && dMin >= t.dLo && dMax < t.dHi && b.j0 >= t.kLo && b.j1 <= t.kHi && b.i0 >= t.qLo && b.i1 <= t.qHi) return 'full';
  return null;
}

/** Classifies one box exactly: analytic when one term decides it, else by exact per-row counts. */
export function classifyBox(head: HeadInstance, b: Box): { cls: TileClass; pairs: number } {
  const area = (b.i1 - b.i0) * (b.j1 - b.j0);
  let allEmpty = true;
  for (const t of head.terms) {
    const c = termVersusBox(t, b);
    if (c === 'full') return { cls: 'full', pairs: area };
    if (c !== 'empty') allEmpty = false;
  }
  if (allEmpty) return { cls: 'empty', pairs: 0 };
  let pairs = 0;
  const count = head.terms.some((t) => t.mods.length) ? countRow : countRowPlain;
  for (let i = b.i0; i < b.i1; i++) pairs += count(head, i, b.j0, b.j1);
  return { cls: pairs === 0 ? 'empty' : pairs === area ? 'full' : 'partial', pairs };
}

/** Key tiles of query tile qt that may hold allowed pairs: the union of each term's key span over the tile's rows. */
export function candidateKeyTiles(head: HeadInstance, n: number, bm: number, bn: number, qt: number): number[] {
  const i0 = qt * bm;
  const i1 = Math.min(n, i0 + bm);
  const spans: [number, number][] = [];
  for (const t of head.terms) {
    const { lo, hi } = termKeySpan(t, i0, i1, n);
    if (lo < hi) spans.push([Math.floor(lo / bn), Math.ceil(hi / bn)]);
  }
  const tiles = new Set<number>();
  for (const [a, b] of spans) for (let kt = a; kt < b; kt++) tiles.add(kt);
  return [...tiles].sort((a, b) => a - b);
}

/** Every non-empty tile of a head for tile shape bm x bn, in (qt, kt) order. */
export function headTiles(head: HeadInstance, n: number, bm: number, bn: number): Tile[] {
  const out: Tile[] = [];
  const qTiles = Math.ceil(n / bm);
  for (let qt = 0; qt < qTiles; qt++) {
    for (const kt of candidateKeyTiles(head, n, bm, bn, qt)) {
      const box = { i0: qt * bm, i1: Math.min(n, qt * bm + bm), j0: kt * bn, j1: Math.min(n, kt * bn + bn) };
      const { cls, pairs } = classifyBox(head, box);
      if (cls !== 'empty') out.push({ qt, kt, cls, pairs });
    }
  }
  return out;
}

export interface HeadStats {
  head: number;
  pairs: number;
  share: number;
  fullTiles: number;
  partialTiles: number;
  /** Pairs inside visited tiles (clipped at N): the work a tiled kernel does. */
  computedPairs: number;
  wastedPairs: number;
}

export interface LayoutStats {
  n: number;
  blockM: number;
  blockN: number;
  totalPairs: number;
  /** Causal pairs N(N+1)/2: what one dense causal head computes. */
  causalPairs: number;
  heads: HeadStats[];
  /** max/mean of pairs over heads (1 is perfectly balanced). */
  imbalance: number;
  /** max/mean of visited tiles over heads. */
  tileImbalance: number;
  /** False when tile statistics were not computed (asked not to, or the grid has too many tiles). */
  tiles: boolean;
}

/** Tile statistics are skipped beyond this many grid tiles per head (a 1M x 1M grid of 64 x 64 tiles has 2.4e8). */
export const MAX_STAT_TILES = 1 << 24;

const maxOverMean = (xs: number[]): number => {
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  return mean === 0 ? 1 : Math.max(...xs) / mean;
};

export function layoutStats(inst: Instance, blockM = 64, blockN = 64, withTiles = true): LayoutStats {
  const n = inst.n;
  withTiles &&= Math.ceil(n / blockM) * Math.ceil(n / blockN) <= MAX_STAT_TILES;
  const heads = inst.heads.map((h): HeadStats => {
    const pairs = headPairs(h, n);
    let full = 0;
    let partial = 0;
    let computed = 0;
    if (withTiles)
      for (const t of headTiles(h, n, blockM, blockN)) {
        if (t.cls === 'full') full++;
        else partial++;
        computed += Math.min(blockM, n - t.qt * blockM) * Math.min(blockN, n - t.kt * blockN);
      }
    return { head: h.head, pairs, share: 0, fullTiles: full, partialTiles: partial, computedPairs: computed, wastedPairs: withTiles ? computed - pairs : 0 };
  });
  const totalPairs = heads.reduce((s, h) => s + h.pairs, 0);
  for (const h of heads) h.share = totalPairs ? h.pairs / totalPairs : 0;
  return {
    n,
    blockM,
    blockN,
    totalPairs,
    causalPairs: (n * (n + 1)) / 2,
    heads,
    imbalance: maxOverMean(heads.map((h) => h.pairs)),
    tileImbalance: withTiles ? maxOverMean(heads.map((h) => h.fullTiles + h.partialTiles)) : 1,
    tiles: withTiles,
  };
}
