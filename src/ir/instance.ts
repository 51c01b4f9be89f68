import { minDistance, partitionBounds } from './partition.js';
import { headSlots, headTable, tableShape, tableTerms } from './table.js';
import type { CTerm, HeadInstance, Instance, LayoutIR } from './types.js';

/**
 * The layout at one length: the head table (every term evaluated and clamped, see table.ts)
 * with each head's terms normalised. One evaluation path serves the IR and the runtime table.
 */
export function instantiate(layout: LayoutIR, n: number): Instance {
  const bounds = partitionBounds(layout, n);
  const shape = tableShape(layout);
  const table = headTable(layout, n, bounds);
  const group = layout.heads / layout.kvHeads;
  const dMin = minDistance(layout, n);
  const heads: HeadInstance[] = [];
  for (let h = 0; h < layout.heads; h++) {
    const band = bounds ? { start: bounds[h]!, width: bounds[h + 1]! - bounds[h]! } : null;
    heads.push({ head: h, kvHead: Math.floor(h / group), band, terms: normalise(tableTerms(table, shape, h), n, dMin) });
  }
  return { layout, n, heads };
}

/**
 * Head h alone at length n with the band boundaries `bounds` (any partition of 0..n-1, not
 * necessarily the layout's): what `instantiate` would give for that head with those bands.
 */
export function instantiateHead(layout: LayoutIR, n: number, h: number, bounds: readonly number[] | null): HeadInstance {
  const shape = tableShape(layout);
  const dMin = minDistance(layout, n);
  const slots = headSlots(layout, n, h, bounds, shape, dMin);
  const band = bounds ? { start: bounds[h]!, width: bounds[h + 1]! - bounds[h]! } : null;
  const group = layout.heads / layout.kvHeads;
  return { head: h, kvHead: Math.floor(h / group), band, terms: normalise(tableTerms(slots, { ...shape }, 0), n, dMin) };
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
  if (a.mods.length && key({ ...a, dLo: 0, dHi: 0, kLo: 0, kHi: 0, qLo: 0, qHi: 0 }) !== key({ ...b, dLo: 0, dHi: 0, kLo: 0, kHi: 0, qLo: 0, qHi: 0 }))
    return false;
  return a.dLo <= b.dLo && b.dHi <= a.dHi && a.kLo <= b.kLo && b.kHi <= a.kHi && a.qLo <= b.qLo && b.qHi <= a.qHi;
}

function compareTerms(a: CTerm, b: CTerm): number {
  return (
    a.mods.length - b.mods.length ||
    a.kLo - b.kLo ||
    a.qLo - b.qLo ||
    a.dLo - b.dLo ||
    a.dHi - b.dHi ||
    a.kHi - b.kHi ||
    a.qHi - b.qHi ||
    key(a).localeCompare(key(b))
  );
}
