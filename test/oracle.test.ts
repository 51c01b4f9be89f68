import { describe, expect, it } from 'vitest';
import { frontEnd } from '../dsl/index.js';
import { instantiate } from '../src/ir/index.js';
import { lowerLayout } from '../src/lower.js';
import { referenceAttention } from '../src/oracle.js';
import { bruteMask, randoms } from './brute.js';

/** Dense masked softmax straight from the brute mask, the simplest possible attention. */
function denseMasked(text: string, n: number, B: number, seed: number) {
  const [c] = frontEnd(text);
  const layout = lowerLayout(c!);
  const { heads: H, kvHeads: KV, headDim: D } = layout;
  const q = randoms(B * H * n * D, seed);
  const k = randoms(B * KV * n * D, seed + 1);
  const v = randoms(B * KV * n * D, seed + 2);
  const mask = bruteMask(c!, n);
  const out = new Float64Array(B * H * n * D);
  const lse = new Float64Array(B * H * n);
  for (let b = 0; b < B; b++)
    for (let h = 0; h < H; h++) {
      const kh = Math.floor(h / (H / KV));
      for (let i = 0; i < n; i++) {
        const s: number[] = [];
        for (let j = 0; j < n; j++) {
          if (!mask[h]![i]![j]) continue;
          let dot = 0;
          for (let x = 0; x < D; x++) dot += q[((b * H + h) * n + i) * D + x]! * k[((b * KV + kh) * n + j) * D + x]!;
          s.push(dot / Math.sqrt(D), j);
        }
        const row = (b * H + h) * n + i;
        if (!s.length) {
          lse[row] = -Infinity;
          continue;
        }
        let sum = 0;
        for (let t = 0; t < s.length; t += 2) sum += Math.exp(s[t]!);
        lse[row] = Math.log(sum);
        for (let t = 0; t < s.length; t += 2)
          for (let x = 0; x < D; x++) out[row * D + x] = out[row * D + x]! + (Math.exp(s[t]!) / sum) * v[((b * KV + kh) * n + s[t + 1]!) * D + x]!;
      }
    }
  const got = referenceAttention(instantiate(layout, n), { batch: B, q, k, v });
  return { got, want: { out, lse } };
}

describe('float64 oracle', () => {
  it.each([
    ['paper bands', 'layout a { heads 4 head_dim 8 partition equal_width pattern band }', 37],
    ['released, GQA', 'layout a { heads 4 kv_heads 2 head_dim 8 partition equal_width pattern band | window(W + 1) }', 29],
    ['balanced with sinks and strides', 'layout a { heads 3 kv_heads 1 head_dim 4 partition equal_pairs pattern band & stride(3) | sinks(2) }', 23],
    ['non-causal window', 'layout a { heads 2 head_dim 4 causal false pattern dist(-3, 4) }', 11],
  ])('equals a dense masked softmax: %s', (_, text, n) => {
    const { got, want } = denseMasked(text, n, 2, 7);
    for (let x = 0; x < want.out.length; x++) expect(Math.abs(got.out[x]! - want.out[x]!)).toBeLessThan(1e-12);
    for (let x = 0; x < want.lse.length; x++) {
      if (want.lse[x] === -Infinity) expect(got.lse[x]).toBe(-Infinity);
      else expect(Math.abs(got.lse[x]! - want.lse[x]!)).toBeLessThan(1e-12);
    }
  });

  it('gives output 0 and lse -inf, never NaN, for rows with no allowed key', () => {
    // H = 8 > N = 3: heads 3..7 have empty bands, so all their rows are empty.
    const [c] = frontEnd('layout a { heads 8 head_dim 4 partition equal_width pattern band }');
    const inst = instantiate(lowerLayout(c!), 3);
    const n = 3;
    const q = randoms(8 * n * 4, 1);
    const k = randoms(8 * n * 4, 2);
    const r = referenceAttention(inst, { batch: 1, q, k, v: k });
    expect(r.out.some(Number.isNaN)).toBe(false);
    expect(r.lse.some(Number.isNaN)).toBe(false);
    for (let h = 3; h < 8; h++)
      for (let i = 0; i < n; i++) {
        expect(r.lse[h * n + i]).toBe(-Infinity);
        for (let x = 0; x < 4; x++) expect(r.out[(h * n + i) * 4 + x]).toBe(0);
      }
    // Head 1 has band [1, 2): row 0 has no key at distance 1.
    expect(r.lse[1 * n + 0]).toBe(-Infinity);
    expect(Number.isFinite(r.lse[1 * n + 1]!)).toBe(true);
  });

  it('rejects inputs of the wrong size', () => {
    const [c] = frontEnd('layout a { heads 2 head_dim 4 pattern dense }');
    const inst = instantiate(lowerLayout(c!), 5);
    expect(() => referenceAttention(inst, { batch: 1, q: new Float64Array(3), k: new Float64Array(40), v: new Float64Array(40) })).toThrow(/q has 3 elements/);
  });
});
