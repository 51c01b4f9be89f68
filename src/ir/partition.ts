// Band partitions of the distance range 0..N-1 over H heads. These formulas are the
// definition: every target's host code reproduces them exactly, and tests compare.
import { evalExpr, type Env } from './expr.js';
import { EvalError, type LayoutIR } from './types.js';

/**
 * The paper's Eq. 2-4: W_base = floor(N/H), R = N mod H, W_h = W_base + [h < R],
 * S_h = h*W_base + min(h, R). Returns the H+1 boundaries S_0..S_H (S_H = N).
 */
export function equalWidthBounds(n: number, heads: number): number[] {
  const base = Math.floor(n / heads);
  const rem = n % heads;
  return Array.from({ length: heads + 1 }, (_, h) => h * base + Math.min(h, rem));
}

/**
 * Equal pairs: distance d has N - d causal pairs, so the pairs below distance b number
 * C(b) = b*N - b*(b-1)/2, and the total is P = C(N) = N*(N+1)/2. Boundary k is the smallest
 * b in 0..N with H*C(b) >= k*P: the first distance at which the cumulative pair count
 * reaches k/H of the total (exact integer arithmetic, BigInt, no rounding error).
 * Each band thus holds at least its share of pairs minus less than one distance's worth.
 */
export function equalPairsBounds(n: number, heads: number): number[] {
  const N = BigInt(n);
  const H = BigInt(heads);
  const C = (b: bigint): bigint => (b * (2n * N - b + 1n)) / 2n;
  const P = C(N);
  const out: number[] = [0];
  for (let k = 1; k < heads; k++) {
    const target = BigInt(k) * P;
    let lo = 0n;
    let hi = N;
    while (lo < hi) {
      const mid = (lo + hi) / 2n;
      if (H * C(mid) >= target) hi = mid;
      else lo = mid + 1n;
    }
    out.push(Number(lo));
  }
  out.push(n);
  return out;
}

/** Pairs (i, j) with 0 <= j <= i < N at distance d in [lo, hi): sum of N - |d|, for any lo, hi. */
export function pairsInDistance(n: number, lo: number, hi: number): number {
  const a = Math.max(lo, 1 - n);
  const b = Math.min(hi, n);
  if (a >= b) return 0;
  // Split at 0: negative distances have N + d pairs, non-negative N - d.
  let total = 0;
  const negHi = Math.min(b, 0);
  if (a < negHi) total += sumLinear(n, a, negHi, +1);
  const posLo = Math.max(a, 0);
  if (posLo < b) total += sumLinear(n, posLo, b, -1);
  return total;
}

/** Sum over d in [a, b) of N + sign*d. */
function sumLinear(n: number, a: number, b: number, sign: 1 | -1): number {
  const count = b - a;
  const sumD = ((a + b - 1) * count) / 2;
  return n * count + sign * sumD;
}

/** The longest sequence spc compiles for: every index, distance and table field stays in int32. */
export const MAX_SEQ = 2 ** 30;

export function checkLength(n: number): void {
  if (!Number.isSafeInteger(n) || n < 1 || n > MAX_SEQ) throw new EvalError('E074', [n, MAX_SEQ]);
}

/**
 * Whether `bounds` is a partition of 0..n-1 into `heads` bands: H+1 integers from 0 to n that
 * never decrease. Tuned bands are checked when a record is read; this guards the IR itself.
 */
export function isPartition(bounds: readonly number[], n: number, heads: number): boolean {
  if (bounds.length !== heads + 1 || bounds[0] !== 0 || bounds[heads] !== n) return false;
  for (let k = 0; k < bounds.length; k++) if (!Number.isSafeInteger(bounds[k]) || (k > 0 && bounds[k]! < bounds[k - 1]!)) return false;
  return true;
}

function checkBandBounds(bounds: readonly number[], n: number, heads: number): void {
  if (!isPartition(bounds, n, heads)) throw new Error(`internal: tuned bands for N = ${n} are not a partition of 0..${n - 1} into ${heads} bands`);
}

/** Band boundaries S_0..S_H at length n, or null when the layout has no partition. */
export function partitionBounds(layout: LayoutIR, n: number): number[] | null {
  checkLength(n);
  const p = layout.partition;
  if (!p) return null;
  switch (p.kind) {
    case 'equal_width':
      return equalWidthBounds(n, layout.heads);
    case 'equal_pairs':
      return equalPairsBounds(n, layout.heads);
    case 'tuned': {
      if (p.useBase) return p.base === 'equal_width' ? equalWidthBounds(n, layout.heads) : equalPairsBounds(n, layout.heads);
      const found = p.bands.find((b) => b.n === n);
      if (!found) {
        const have = p.bands.length ? ` (tuned bands are given for N = ${p.bands.map((b) => b.n).join(', ')})` : ' (no tuning record gives its bands)';
        throw new EvalError('E054', [n, have], layout.locs?.partition);
      }
      checkBandBounds(found.bounds, n, layout.heads);
      return [...found.bounds];
    }
    case 'explicit': {
      const env: Env = { N: n, H: layout.heads };
      const b = p.bounds.map((e) => evalExpr(e, env));
      b.forEach((x, k) => {
        if (x < 0 || x > n) throw new EvalError('E053', [x, n], p.bounds[k]!.loc);
        if (k === 0 && x !== 0) throw new EvalError('E052', ['start at 0 (the first band begins at distance 0)'], p.bounds[0]!.loc);
        if (k > 0 && x < b[k - 1]!)
          throw new EvalError('E052', [`not decrease: ${x} follows ${b[k - 1]} at N = ${n}, so bands would overlap`], p.bounds[k]!.loc);
      });
      const last = b.length - 1;
      if (b[last] !== n)
        throw new EvalError(
          'E052',
          [`end at N: the last boundary is ${b[last]} but N = ${n}, so distances ${b[last]}..${n - 1} belong to no band`],
          p.bounds[last]!.loc,
        );
      return b;
    }
  }
}

/** The smallest distance a layout allows at length n: 0 when causal, 1 - n otherwise. */
export function minDistance(layout: LayoutIR, n: number): number {
  return layout.causal ? 0 : 1 - n;
}
