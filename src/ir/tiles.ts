import { countRow, countRowPlain, headPairs, residuesBelow } from './rows.js';
import { termKeySpan } from './schema.js';
import type { CTerm, HeadInstance, Instance, Mod } from './types.js';

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

/** Values y in [x0, x1) with y mod m in [lo, hi). */
const residuesIn = (md: Mod<number>, x0: number, x1: number): number =>
  x0 >= x1 ? 0 : residuesBelow(x1, md.m, md.lo, md.hi) - residuesBelow(x0, md.m, md.lo, md.hi);

/** The most values of an interval of length len (>= 0) that one mod allows. */
const residuesMax = (md: Mod<number>, len: number): number => {
  const w = md.hi - md.lo;
  return Math.floor(len / md.m) * w + Math.min(w, len % md.m);
};

/**
 * Whether term t allows some pair of box b, in O(1): exact for terms with at most one mod, null
 * (undecided) for more. Inside the box and the term's intervals the distances d = i - j that
 * occur form one interval, and so do the keys j; a mod on d (or j) holds somewhere iff that
 * interval holds a residue of its window. Sets `inSome` to that (true, false or null) and returns
 * a bound on the allowed keys of any one row of the box (for a proof that the box is not full).
 */
let inSome: boolean | null = false;
function termInBox(t: CTerm, b: Box): number {
  const r0 = Math.max(b.i0, t.qLo);
  const r1 = Math.min(b.i1, t.qHi);
  const ja = Math.max(b.j0, t.kLo);
  const jb = Math.min(b.j1, t.kHi);
  if (r0 >= r1 || ja >= jb) return ((inSome = false), 0);
  const d0 = Math.max(t.dLo, r0 - jb + 1);
  const d1 = Math.min(t.dHi, r1 - ja);
  if (d0 >= d1) return ((inSome = false), 0);
  const len = jb - ja;
  if (!t.mods.length) return ((inSome = true), len);
  let rowMax = len;
  for (const md of t.mods) rowMax = Math.min(rowMax, residuesMax(md, len));
  if (t.mods.length > 1) return ((inSome = rowMax > 0 ? null : false), rowMax);
  const md = t.mods[0]!;
  const some = md.on === 'd' ? residuesIn(md, d0, d1) > 0 : residuesIn(md, Math.max(ja, r0 - t.dHi + 1), Math.min(jb, r1 - t.dLo)) > 0;
  inSome = some;
  return some ? rowMax : 0;
}

/**
 * The class of one box, equal to classifyBox's, without counting its pairs when it can: a box is
 * empty when no term reaches it, full when one plain term covers it, partial when some term
 * reaches it and the terms' per-row bounds add up to fewer keys than the box is wide (so every
 * row misses some key). Anything else (several plain terms
 * meeting, terms with several mods, residue windows as wide as the box) is counted exactly.
 */
export function classifyTile(head: HeadInstance, b: Box): TileClass {
  let some = false;
  let unknown = false;
  let bound = 0;
  for (const t of head.terms) {
    const c = termVersusBox(t, b);
    if (c === 'full') return 'full';
    if (c === 'empty') continue;
    bound += termInBox(t, b);
    if (inSome === true) some = true;
    else if (inSome === null) unknown = true;
  }
  if (!some && !unknown) return 'empty';
  if (some && bound < b.j1 - b.j0) return 'partial';
  return classifyBox(head, b).cls;
}

const spanA: number[] = [];
const spanB: number[] = [];

/** Calls f for each candidate key tile of query tile qt (the same tiles as candidateKeyTiles, in order); without f, counts them. */
function forEachCandidate(head: HeadInstance, n: number, bm: number, bn: number, qt: number, f?: (kt: number) => void): number {
  const i0 = qt * bm;
  const i1 = Math.min(n, i0 + bm);
  let c = 0;
  for (const t of head.terms) {
    const { lo, hi } = termKeySpan(t, i0, i1, n);
    if (lo >= hi) continue;
    const a = Math.floor(lo / bn);
    const e = Math.ceil(hi / bn);
    let p = c++;
    while (p > 0 && spanA[p - 1]! > a) {
      spanA[p] = spanA[p - 1]!;
      spanB[p] = spanB[p - 1]!;
      p--;
    }
    spanA[p] = a;
    spanB[p] = e;
  }
  let next = 0;
  let count = 0;
  for (let s = 0; s < c; s++) {
    const a = Math.max(next, spanA[s]!);
    if (f) for (let kt = a; kt < spanB[s]!; kt++) f(kt);
    else count += Math.max(0, spanB[s]! - a);
    next = Math.max(next, spanB[s]!);
  }
  return count;
}

/** How many candidate tiles a head has (what classifying its tiles costs), in O(query tiles x terms). */
export function candidateTileCount(head: HeadInstance, n: number, bm: number, bn: number): number {
  let count = 0;
  for (let qt = 0; qt * bm < n; qt++) count += forEachCandidate(head, n, bm, bn, qt);
  return count;
}

/** Full and partial tiles of a head and the pairs inside them (clipped at N), without listing them. */
export function headTileCounts(head: HeadInstance, n: number, bm: number, bn: number): { full: number; partial: number; computed: number } {
  let full = 0;
  let partial = 0;
  let computed = 0;
  const qTiles = Math.ceil(n / bm);
  const box: Box = { i0: 0, i1: 0, j0: 0, j1: 0 };
  const visit = (kt: number): void => {
    box.j0 = kt * bn;
    box.j1 = Math.min(n, box.j0 + bn);
    const cls = classifyTile(head, box);
    if (cls === 'empty') return;
    if (cls === 'full') full++;
    else partial++;
    computed += (box.i1 - box.i0) * (box.j1 - box.j0);
  };
  for (let qt = 0; qt < qTiles; qt++) {
    box.i0 = qt * bm;
    box.i1 = Math.min(n, box.i0 + bm);
    forEachCandidate(head, n, bm, bn, qt, visit);
  }
  return { full, partial, computed };
}

/**
 * Full and partial tiles of a head per query tile (row of tiles): full[qt], partial[qt]. A query
 * tile with any is one work item of a tiled kernel. The same classification as headTileCounts.
 */
export function headTileRows(head: HeadInstance, n: number, bm: number, bn: number): { full: Int32Array; partial: Int32Array } {
  const qTiles = Math.ceil(n / bm);
  const full = new Int32Array(qTiles);
  const partial = new Int32Array(qTiles);
  const box: Box = { i0: 0, i1: 0, j0: 0, j1: 0 };
  let qt = 0;
  const visit = (kt: number): void => {
    box.j0 = kt * bn;
    box.j1 = Math.min(n, box.j0 + bn);
    const cls = classifyTile(head, box);
    if (cls === 'full') full[qt]!++;
    else if (cls === 'partial') partial[qt]!++;
  };
  for (qt = 0; qt < qTiles; qt++) {
    box.i0 = qt * bm;
    box.i1 = Math.min(n, box.i0 + bm);
    forEachCandidate(head, n, bm, bn, qt, visit);
  }
  return { full, partial };
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

/**
 * Tile statistics are also skipped when the heads with mods have more candidate tiles than this in
 * all: their tiles are classified one by one (in O(terms) each, see classifyTile), about 2 s for
 * this many. Plain heads have no such limit (their tiles are decided by spans).
 */
export const MAX_MOD_STAT_TILES = 1 << 23;

export function layoutStats(inst: Instance, blockM = 64, blockN = 64, withTiles = true): LayoutStats {
  const n = inst.n;
  withTiles &&= Math.ceil(n / blockM) * Math.ceil(n / blockN) <= MAX_STAT_TILES;
  if (withTiles) {
    let modTiles = 0;
    for (const h of inst.heads) if (h.terms.some((t) => t.mods.length)) modTiles += candidateTileCount(h, n, blockM, blockN);
    withTiles = modTiles <= MAX_MOD_STAT_TILES;
  }
  const heads = inst.heads.map((h): HeadStats => {
    const pairs = headPairs(h, n);
    let full = 0;
    let partial = 0;
    let computed = 0;
    if (withTiles) ({ full, partial, computed } = headTileCounts(h, n, blockM, blockN));
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
