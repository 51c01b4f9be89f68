import type { CTerm, HeadInstance } from '../ir/index.js';

/** A short human description of a head's terms, e.g. "d in [0,256) | keys [0,4)". */
export function describeTerms(h: HeadInstance, n: number, dMin = 0): string {
  if (!h.terms.length) return 'no keys';
  return h.terms.map((t) => describeTerm(t, n, dMin)).join(' | ');
}

/** dMin is 0 for causal layouts, -(N-1) otherwise: a distance interval that wide is no constraint. */
export function describeTerm(t: CTerm, n: number, dMin = 0): string {
  const parts: string[] = [];
  if (t.dLo > dMin || t.dHi < n) parts.push(`d in [${t.dLo},${t.dHi})`);
  if (t.kLo > 0 || t.kHi < n) parts.push(`keys [${t.kLo},${t.kHi})`);
  if (t.qLo > 0 || t.qHi < n) parts.push(`queries [${t.qLo},${t.qHi})`);
  for (const m of t.mods) parts.push(`${m.on} mod ${m.m} in [${m.lo},${m.hi})`);
  return parts.length ? parts.join(' & ') : 'every key';
}

/** Pure distance intervals, key intervals and query intervals of a head, and the rest. */
export function splitTerms(h: HeadInstance, n: number, dMin: number) {
  const ranges: [number, number][] = [];
  const keys: [number, number][] = [];
  const queries: [number, number][] = [];
  const other: CTerm[] = [];
  for (const t of h.terms) {
    const kFull = t.kLo === 0 && t.kHi === n;
    const qFull = t.qLo === 0 && t.qHi === n;
    const dFull = t.dLo === dMin && t.dHi === n;
    if (t.mods.length) other.push(t);
    else if (kFull && qFull) ranges.push([t.dLo, t.dHi]);
    else if (dFull && qFull) keys.push([t.kLo, t.kHi]);
    else if (dFull && kFull) queries.push([t.qLo, t.qHi]);
    else other.push(t);
  }
  return { ranges, keys, queries, other };
}
