import { evalExpr, type Env } from './expr.js';
import { equalPairsBounds, equalWidthBounds } from './partition.js';
import { EvalError, type CTerm, type HeadInstance, type IExpr, type Instance, type LayoutIR, type Mod, type Term } from './types.js';

/** Band boundaries S_0..S_H at length n, or null when the layout has no partition. */
export function partitionBounds(layout: LayoutIR, n: number): number[] | null {
  const p = layout.partition;
  if (!p) return null;
  switch (p.kind) {
    case 'equal_width':
      return equalWidthBounds(n, layout.heads);
    case 'equal_pairs':
    case 'tuned':
      return equalPairsBounds(n, layout.heads);
    case 'explicit': {
      const env: Env = { N: n, H: layout.heads };
      const b = p.bounds.map((e) => evalExpr(e, env));
      b.forEach((x, k) => {
        if (x < 0 || x > n) throw new EvalError('E053', [x, n], p.bounds[k]!.loc);
        if (k === 0 && x !== 0) throw new EvalError('E052', ['start at 0 (the first band begins at distance 0)'], p.bounds[0]!.loc);
        if (k > 0 && x < b[k - 1]!) throw new EvalError('E052', [`not decrease: ${x} follows ${b[k - 1]} at N = ${n}, so bands would overlap`], p.bounds[k]!.loc);
      });
      const last = b.length - 1;
      if (b[last] !== n) throw new EvalError('E052', [`end at N: the last boundary is ${b[last]} but N = ${n}, so distances ${b[last]}..${n - 1} belong to no band`], p.bounds[last]!.loc);
      return b;
    }
  }
}

/** The layout at one length: every term evaluated, clamped to the grid and normalised. */
export function instantiate(layout: LayoutIR, n: number): Instance {
  if (!Number.isSafeInteger(n) || n < 1) throw new Error(`internal: bad length ${n}`);
  const bounds = partitionBounds(layout, n);
  const group = layout.kvHeads > 0 ? layout.heads / layout.kvHeads : 1;
  const heads: HeadInstance[] = [];
  for (const g of layout.groups) {
    for (let h = g.lo; h < g.hi; h++) {
      const band = bounds ? { start: bounds[h]!, width: bounds[h + 1]! - bounds[h]! } : null;
      const env: Env = { N: n, H: layout.heads, h, ...(band ? { S: band.start, W: band.width } : {}) };
      const terms = normalise(
        g.terms.map((t) => evalTerm(t, env, n, layout.causal)).filter((t): t is CTerm => t !== null),
        n,
        minDistance(layout, n),
      );
      heads.push({ head: h, kvHead: Math.floor(h / group), band, terms });
    }
  }
  return { layout, n, heads };
}

function evalTerm(t: Term<IExpr>, env: Env, n: number, causal: boolean): CTerm | null {
  const dMin = causal ? 0 : 1 - n;
  const iv = (x: [IExpr, IExpr] | undefined, lo: number, hi: number): [number, number] => {
    if (!x) return [lo, hi];
    return [Math.max(lo, evalExpr(x[0], env)), Math.min(hi, evalExpr(x[1], env))];
  };
  const [dLo, dHi] = iv(t.d, dMin, n);
  const [kLo, kHi] = iv(t.k, 0, n);
  const [qLo, qHi] = iv(t.q, 0, n);
  const mods: Mod<number>[] = [];
  let empty = dLo >= dHi || kLo >= kHi || qLo >= qHi;
  for (const m of t.mods) {
    const mm = evalExpr(m.m, env);
    if (mm < 1) throw new EvalError('E072', ['a stride or period', mm, ` at N = ${n}`], m.m.loc);
    const lo = Math.max(0, evalExpr(m.lo, env));
    const hi = Math.min(mm, evalExpr(m.hi, env));
    if (lo >= hi) empty = true;
    else if (!(lo === 0 && hi === mm)) mods.push({ on: m.on, m: mm, lo, hi });
  }
  return empty ? null : { dLo, dHi, kLo, kHi, qLo, qHi, mods };
}

const key = (t: CTerm): string => JSON.stringify(t);

/**
 * Merges overlapping or touching plain terms (no mods) along their one varying axis: distance
 * intervals with the same key and query ranges, key intervals with full distance and query
 * ranges, query intervals likewise. Drops duplicates and terms another term contains; sorts.
 */
export function normalise(terms: CTerm[], n: number, dMin: number): CTerm[] {
  const out: CTerm[] = [];
  const groups = new Map<string, { axis: 'd' | 'k' | 'q'; list: CTerm[] }>();
  for (const t of terms) {
    if (t.mods.length) {
      out.push(t);
      continue;
    }
    const dFull = t.dLo === dMin && t.dHi === n;
    const kFull = t.kLo === 0 && t.kHi === n;
    const qFull = t.qLo === 0 && t.qHi === n;
    const axis = dFull && qFull && !kFull ? 'k' : dFull && kFull && !qFull ? 'q' : 'd';
    const gk = axis === 'd' ? `d|${t.kLo},${t.kHi},${t.qLo},${t.qHi}` : axis;
    const g = groups.get(gk) ?? { axis, list: [] };
    g.list.push(t);
    groups.set(gk, g);
  }
  for (const { axis, list } of groups.values()) {
    const lo = `${axis}Lo` as const;
    const hi = `${axis}Hi` as const;
    list.sort((a, b) => a[lo] - b[lo] || a[hi] - b[hi]);
    let cur = { ...list[0]! };
    for (const t of list.slice(1)) {
      if (t[lo] <= cur[hi]) cur[hi] = Math.max(cur[hi], t[hi]);
      else {
        out.push(cur);
        cur = { ...t };
      }
    }
    out.push(cur);
  }
  const unique = [...new Map(out.map((t) => [key(t), t])).values()];
  const kept = unique.filter((t, idx) => !unique.some((u, j) => j !== idx && contains(u, t)));
  return kept.sort(compareTerms);
}

/** True when every pair of b is a pair of a (checked on intervals and mods, conservatively). */
function contains(a: CTerm, b: CTerm): boolean {
  if (a.mods.length && key({ ...a, dLo: 0, dHi: 0, kLo: 0, kHi: 0, qLo: 0, qHi: 0 }) !== key({ ...b, dLo: 0, dHi: 0, kLo: 0, kHi: 0, qLo: 0, qHi: 0 })) return false;
  return a.dLo <= b.dLo && b.dHi <= a.dHi && a.kLo <= b.kLo && b.kHi <= a.kHi && a.qLo <= b.qLo && b.qHi <= a.qHi;
}

function compareTerms(a: CTerm, b: CTerm): number {
  return a.mods.length - b.mods.length || a.kLo - b.kLo || a.qLo - b.qLo || a.dLo - b.dLo || a.dHi - b.dHi || a.kHi - b.kHi || a.qHi - b.qHi || key(a).localeCompare(key(b));
}

/** The smallest distance a layout allows at length n: 0 when causal, 1 - n otherwise. */
export function minDistance(layout: LayoutIR, n: number): number {
  return layout.causal ? 0 : 1 - n;
}
