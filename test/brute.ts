// An independent, deliberately naive reading of the spec semantics for tests: it walks the
// checked AST per (head, i, j) with its own expression evaluator and its own partition code,
// sharing nothing with the IR, lowering or normalisation it is used to check.
import type { CheckedLayout, Expr, Pattern } from '../dsl/index.js';

type Env = Record<string, number>;

function ev(e: Expr, env: Env): number {
  switch (e.kind) {
    case 'num':
      return e.value;
    case 'name':
      if (!(e.name in env)) throw new Error(`unbound ${e.name}`);
      return env[e.name]!;
    case 'neg':
      return -ev(e.arg, env);
    case 'call': {
      const xs = e.args.map((a) => ev(a, env));
      return e.callee === 'min' ? Math.min(...xs) : Math.max(...xs);
    }
    case 'bin': {
      const a = ev(e.left, env);
      const b = ev(e.right, env);
      if (e.op === '+') return a + b;
      if (e.op === '-') return a - b;
      if (e.op === '*') return a * b;
      if (b === 0) throw new Error('div0');
      const q = Math.floor(a / b);
      return e.op === '/' ? q : a - b * q;
    }
    default:
      throw new Error('bad expr');
  }
}

/** Band boundaries straight from the definitions, by linear scans. */
export function bruteBounds(layout: CheckedLayout, n: number): number[] | null {
  const H = layout.heads;
  const p = layout.partition;
  if (!p) return null;
  if (p.kind === 'equal_width') {
    const out = [0];
    for (let h = 0; h < H; h++) out.push(out[h]! + Math.floor(n / H) + (h < n % H ? 1 : 0));
    return out;
  }
  if (p.kind === 'explicit') return p.bounds.map((b) => ev(b, { N: n, H }));
  // equal_pairs (tuned layouts need a record; test/tuner*.test.ts): smallest b with H * (pairs at distance < b) >= k * total.
  const total = (n * (n + 1)) / 2;
  const out = [0];
  for (let k = 1; k < H; k++) {
    let b = 0;
    let cum = 0;
    while (H * cum < k * total) {
      cum += n - b;
      b++;
    }
    out.push(b);
  }
  out.push(n);
  return out;
}

function inPattern(p: Pattern, env: Env, i: number, j: number): boolean {
  if (p.kind === 'union') return inPattern(p.left, env, i, j) || inPattern(p.right, env, i, j);
  if (p.kind === 'inter') return inPattern(p.left, env, i, j) && inPattern(p.right, env, i, j);
  if (p.kind !== 'prim') throw new Error('bad pattern');
  const a = p.args.map((x) => ev(x, env));
  const d = i - j;
  const mod = (x: number, m: number) => ((x % m) + m) % m;
  switch (p.name) {
    case 'band':
      return d >= env.S! && d < env.S! + env.W!;
    case 'dense':
      return true;
    case 'none':
      return false;
    case 'window':
      return d >= 0 && d < a[0]!;
    case 'dist':
      return d >= a[0]! && d < a[1]!;
    case 'sinks':
      return j < a[0]!;
    case 'keys':
      return j >= a[0]! && j < a[1]!;
    case 'queries':
      return i >= a[0]! && i < a[1]!;
    case 'stride':
      return mod(d, a[0]!) === 0;
    case 'dilated':
      return d >= 0 && d < a[0]! * a[1]! && mod(d, a[1]!) === 0;
    case 'fixed':
      return mod(j, a[0]!) >= a[0]! - a[1]!;
  }
}

/** mask[h][i][j] for the layout at length n. */
export function bruteMask(layout: CheckedLayout, n: number): boolean[][][] {
  const bounds = bruteBounds(layout, n);
  const masks: boolean[][][] = [];
  for (const g of layout.groups) {
    for (let h = g.lo; h < g.hi; h++) {
      const env: Env = { N: n, H: layout.heads, h };
      if (bounds) Object.assign(env, { S: bounds[h]!, W: bounds[h + 1]! - bounds[h]! });
      const m: boolean[][] = [];
      for (let i = 0; i < n; i++) {
        const row: boolean[] = [];
        for (let j = 0; j < n; j++) row.push((!layout.causal || j <= i) && inPattern(g.pattern, env, i, j));
        m.push(row);
      }
      masks[h] = m;
    }
  }
  return masks;
}

/** Deterministic pseudo-random numbers in [-1, 1) (mulberry32). */
export function randoms(count: number, seed: number): Float64Array {
  let s = seed >>> 0;
  const out = new Float64Array(count);
  for (let k = 0; k < count; k++) {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[k] = ((t ^ (t >>> 14)) >>> 0) / 2 ** 31 - 1;
  }
  return out;
}
