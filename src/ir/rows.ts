import { floorMod } from './expr.js';
import { pairsInDistance } from './partition.js';
import { termKeySpan } from './schema.js';
import type { CTerm, HeadInstance, Mod } from './types.js';

/** The keys a term allows for query row i: j in [lo, hi), subject to mods. */
export interface RowSegment {
  lo: number;
  hi: number;
  mods: Mod<number>[];
}

/** The term's key span for row i (schema.ts key_span; a term's kHi <= N bounds it already). */
export function termRow(t: CTerm, i: number): RowSegment | null {
  const { lo, hi } = termKeySpan(t, i, i + 1, t.kHi);
  return lo < hi ? { lo, hi, mods: t.mods } : null;
}

function modHolds(m: Mod<number>, i: number, j: number): boolean {
  const r = floorMod(m.on === 'd' ? i - j : j, m.m);
  return r >= m.lo && r < m.hi;
}

export function termAllows(t: CTerm, i: number, j: number): boolean {
  const d = i - j;
  return d >= t.dLo && d < t.dHi && j >= t.kLo && j < t.kHi && i >= t.qLo && i < t.qHi && t.mods.every((m) => modHolds(m, i, j));
}

export function allows(head: HeadInstance, i: number, j: number): boolean {
  return head.terms.some((t) => termAllows(t, i, j));
}

/** The row's allowed keys as sorted disjoint ranges; ranges whose keys are all allowed are 'full'. */
export function rowRanges(head: HeadInstance, i: number): { lo: number; hi: number; full: boolean }[] {
  const segs = head.terms.map((t) => termRow(t, i)).filter((s): s is RowSegment => s !== null);
  const cuts = [...new Set(segs.flatMap((s) => [s.lo, s.hi]))].sort((a, b) => a - b);
  const out: { lo: number; hi: number; full: boolean }[] = [];
  for (let k = 0; k + 1 < cuts.length; k++) {
    const [a, b] = [cuts[k]!, cuts[k + 1]!];
    const active = segs.filter((s) => s.lo <= a && s.hi >= b);
    if (!active.length) continue;
    const full = active.some((s) => s.mods.length === 0);
    const last = out[out.length - 1];
    if (last && last.hi === a && last.full === full) last.hi = b;
    else out.push({ lo: a, hi: b, full });
  }
  return out;
}

const gcd = (a: number, b: number): number => (b ? gcd(b, a % b) : a);

/** Numbers y in [0, x) (any integer x) with y mod m in [lo, hi). */
export function residuesBelow(x: number, m: number, lo: number, hi: number): number {
  const q = Math.floor(x / m);
  return q * (hi - lo) + Math.min(hi - lo, Math.max(0, x - q * m - lo));
}

/** Keys j in [a, b) of row i that satisfy one mod, in closed form. */
function countResidues(md: Mod<number>, i: number, a: number, b: number): number {
  // on 'j': y = j over [a, b); on 'd': y = i - j over [i - b + 1, i - a + 1).
  const [x0, x1] = md.on === 'j' ? [a, b] : [i - b + 1, i - a + 1];
  return residuesBelow(x1, md.m, md.lo, md.hi) - residuesBelow(x0, md.m, md.lo, md.hi);
}

const segLo: number[] = [];
const segHi: number[] = [];
const segTerm: CTerm[] = [];
const cutBuf: number[] = [];

/**
 * Exact count of allowed keys of row i within [j0, j1). The row's key axis is cut at every
 * term's span ends; a piece covered by a plain term counts whole, one covered by a single
 * one-mod term counts in closed form, and only pieces where several modded terms overlap (or a
 * term has several mods) walk the period. No allocation on the common paths (the statistics
 * call this once per row).
 */
export function countRow(head: HeadInstance, i: number, j0: number, j1: number): number {
  let c = 0;
  for (const t of head.terms) {
    const span = termKeySpan(t, i, i + 1, t.kHi);
    const a = Math.max(span.lo, j0);
    const b = Math.min(span.hi, j1);
    if (a >= b) continue;
    segLo[c] = a;
    segHi[c] = b;
    segTerm[c] = t;
    c++;
  }
  if (!c) return 0;
  // Sorted distinct cuts (insertion sort: a handful of terms).
  let nc = 0;
  for (let s = 0; s < 2 * c; s++) {
    const x = s < c ? segLo[s]! : segHi[s - c]!;
    let p = nc;
    while (p > 0 && cutBuf[p - 1]! > x) p--;
    if (p > 0 && cutBuf[p - 1] === x) continue;
    for (let q = nc; q > p; q--) cutBuf[q] = cutBuf[q - 1]!;
    cutBuf[p] = x;
    nc++;
  }
  let total = 0;
  for (let k = 0; k + 1 < nc; k++) {
    const a = cutBuf[k]!;
    const b = cutBuf[k + 1]!;
    let nActive = 0;
    let plain = false;
    let only: CTerm | undefined;
    for (let s = 0; s < c; s++) {
      if (segLo[s]! > a || segHi[s]! < b) continue;
      nActive++;
      only = segTerm[s]!;
      if (!only.mods.length) plain = true;
    }
    if (!nActive) continue;
    if (plain) total += b - a;
    else if (nActive === 1 && only!.mods.length === 1) total += countResidues(only!.mods[0]!, i, a, b);
    else {
      const active: Mod<number>[][] = [];
      for (let s = 0; s < c; s++) if (segLo[s]! <= a && segHi[s]! >= b) active.push(segTerm[s]!.mods);
      total += countPeriodic(active, i, a, b);
    }
  }
  return total;
}

/** Keys j in [a, b) of row i where some conjunction of mods holds: the predicate is periodic in j with period lcm of the moduli. */
function countPeriodic(active: Mod<number>[][], i: number, a: number, b: number): number {
  const period = active.flatMap((ms) => ms.map((m) => m.m)).reduce((p, m) => (p / gcd(p, m)) * m, 1);
  const hit = (j: number): boolean => active.some((ms) => ms.every((m) => modHolds(m, i, j)));
  const len = b - a;
  let total = 0;
  if (period >= len) {
    for (let j = a; j < b; j++) if (hit(j)) total++;
  } else {
    let perPeriod = 0;
    for (let j = a; j < a + period; j++) if (hit(j)) perPeriod++;
    const whole = Math.floor(len / period);
    total += whole * perPeriod;
    for (let j = a + whole * period; j < b; j++) if (hit(j)) total++;
  }
  return total;
}

/** True when the head is a union of plain distance intervals (the common band case). */
export function isPureDistance(head: HeadInstance, n: number): boolean {
  return head.terms.every((t) => t.mods.length === 0 && t.kLo === 0 && t.kHi === n && t.qLo === 0 && t.qHi === n);
}

/** Exact number of allowed (i, j) pairs of a head. Closed form for pure distance heads. */
export function headPairs(head: HeadInstance, n: number): number {
  if (isPureDistance(head, n)) return head.terms.reduce((s, t) => s + pairsInDistance(n, t.dLo, t.dHi), 0);
  if (head.terms.some((t) => t.mods.length)) {
    let total = 0;
    for (let i = 0; i < n; i++) total += countRow(head, i, 0, n);
    return total;
  }
  let total = 0;
  for (let i = 0; i < n; i++) total += countRowPlain(head, i, 0, n);
  return total;
}

const scratchLo: number[] = [];
const scratchHi: number[] = [];

/**
 * countRow for a head whose terms have no mods: sorts the terms' key ranges (clipped to
 * [j0, j1)) and adds the length of their union, for the hot loops of the statistics.
 */
export function countRowPlain(head: HeadInstance, i: number, j0: number, j1: number): number {
  let c = 0;
  for (const t of head.terms) {
    // The row's key span with n = j1 (it clips the end at j1), then clipped at j0.
    const span = termKeySpan(t, i, i + 1, j1);
    const a = Math.max(span.lo, j0);
    const b = span.hi;
    if (a >= b) continue;
    let p = c++;
    while (p > 0 && scratchLo[p - 1]! > a) {
      scratchLo[p] = scratchLo[p - 1]!;
      scratchHi[p] = scratchHi[p - 1]!;
      p--;
    }
    scratchLo[p] = a;
    scratchHi[p] = b;
  }
  let total = 0;
  let end = j0;
  for (let k = 0; k < c; k++) {
    const a = Math.max(scratchLo[k]!, end);
    if (scratchHi[k]! > a) total += scratchHi[k]! - a;
    end = Math.max(end, scratchHi[k]!);
  }
  return total;
}
