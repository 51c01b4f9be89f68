// The float64 reference: exact attention for any layout, the oracle every kernel of every
// target is compared with. It walks each row's allowed keys from the IR (never a dense mask).
import { allows, rowRanges, type Instance } from './ir/index.js';

export interface OracleInput {
  /** Batch size. */
  batch: number;
  /** (B, H, N, D), row-major. */
  q: ArrayLike<number>;
  /** (B, KV, N, D), row-major. */
  k: ArrayLike<number>;
  v: ArrayLike<number>;
  /** Softmax scale; 1/sqrt(D) by default. */
  scale?: number;
}

export interface OracleOutput {
  /** (B, H, N, D) */
  out: Float64Array;
  /** (B, H, N): natural-log sum of exp(scale * q.k) over the allowed keys; -Infinity for a row with none. */
  lse: Float64Array;
}

/**
 * Exact softmax attention in float64. A row with no allowed key gives output 0 and
 * lse = -Infinity (never NaN).
 */
export function referenceAttention(inst: Instance, input: OracleInput): OracleOutput {
  const { heads, kvHeads, headDim: D } = inst.layout;
  const N = inst.n;
  const B = input.batch;
  const scale = input.scale ?? 1 / Math.sqrt(D);
  for (const [name, arr, h] of [
    ['q', input.q, heads],
    ['k', input.k, kvHeads],
    ['v', input.v, kvHeads],
  ] as const) {
    if (arr.length !== B * h * N * D) throw new Error(`oracle: ${name} has ${arr.length} elements, expected ${B}*${h}*${N}*${D}`);
  }
  const out = new Float64Array(B * heads * N * D);
  const lse = new Float64Array(B * heads * N);
  const scores = new Float64Array(N);
  const keys = new Int32Array(N);
  for (const head of inst.heads) {
    for (let b = 0; b < B; b++) {
      const qBase = (b * heads + head.head) * N * D;
      const kvBase = (b * kvHeads + head.kvHead) * N * D;
      for (let i = 0; i < N; i++) {
        let count = 0;
        for (const r of rowRanges(head, i)) for (let j = r.lo; j < r.hi; j++) if (r.full || allows(head, i, j)) keys[count++] = j;
        const row = (b * heads + head.head) * N + i;
        if (count === 0) {
          lse[row] = -Infinity;
          continue;
        }
        let max = -Infinity;
        for (let c = 0; c < count; c++) {
          const j = keys[c]!;
          let s = 0;
          for (let x = 0; x < D; x++) s += input.q[qBase + i * D + x]! * input.k[kvBase + j * D + x]!;
          s *= scale;
          scores[c] = s;
          if (s > max) max = s;
        }
        let sum = 0;
        for (let c = 0; c < count; c++) {
          const p = Math.exp(scores[c]! - max);
          scores[c] = p;
          sum += p;
        }
        const o = qBase + i * D;
        for (let c = 0; c < count; c++) {
          const w = scores[c]! / sum;
          const vb = kvBase + keys[c]! * D;
          for (let x = 0; x < D; x++) out[o + x] = out[o + x]! + w * input.v[vb + x]!;
        }
        lse[row] = max + Math.log(sum);
      }
    }
  }
  return { out, lse };
}
