import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { equalPairsBounds, equalWidthBounds, pairsInDistance } from '../src/ir/index.js';

describe('equal-width bands (the paper, Eq. 2-4)', () => {
  it('matches W_base = floor(N/H), R = N mod H, W_h = W_base + [h < R], S_h = h*W_base + min(h, R) for any N and H', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 1 << 22 }), fc.integer({ min: 1, max: 300 }), (n, H) => {
        const b = equalWidthBounds(n, H);
        const Wb = Math.floor(n / H);
        const R = n % H;
        expect(b).toHaveLength(H + 1);
        for (let h = 0; h < H; h++) {
          expect(b[h]).toBe(h * Wb + Math.min(h, R));
          expect(b[h + 1]! - b[h]!).toBe(Wb + (h < R ? 1 : 0));
        }
        expect(b[H]).toBe(n); // contiguous, disjoint, covering 0..N-1
      }),
      { numRuns: 2000 },
    );
  });

  it('gives the known table for N = 4096, H = 16 and N = 1000, H = 16', () => {
    expect(equalWidthBounds(4096, 16)).toEqual(Array.from({ length: 17 }, (_, h) => 256 * h));
    const b = equalWidthBounds(1000, 16); // W_base 62, R 8: heads 0..7 get 63
    expect(b.slice(0, 10)).toEqual([0, 63, 126, 189, 252, 315, 378, 441, 504, 566]);
    expect(b[16]).toBe(1000);
  });

  it('gives empty bands to the last heads when H > N', () => {
    expect(equalWidthBounds(3, 5)).toEqual([0, 1, 2, 3, 3, 3]);
  });
});

describe('equal-pairs bands', () => {
  const C = (n: number, b: number) => b * n - (b * (b - 1)) / 2;
  it('boundary k is the smallest b with H*C(b) >= k*P', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 200_000 }), fc.integer({ min: 1, max: 64 }), (n, H) => {
        const b = equalPairsBounds(n, H);
        const P = (n * (n + 1)) / 2;
        expect(b[0]).toBe(0);
        expect(b[H]).toBe(n);
        for (let k = 1; k < H; k++) {
          expect(H * C(n, b[k]!)).toBeGreaterThanOrEqual(k * P);
          if (b[k]! > 0) expect(H * C(n, b[k]! - 1)).toBeLessThan(k * P);
          expect(b[k]!).toBeGreaterThanOrEqual(b[k - 1]!);
        }
      }),
      { numRuns: 500 },
    );
  });

  it('balances work: every band holds its share of pairs within one distance worth (N pairs)', () => {
    for (const [n, H] of [
      [16384, 16],
      [32768, 32],
      [4097, 7],
      [100, 8],
    ] as const) {
      const b = equalPairsBounds(n, H);
      const P = (n * (n + 1)) / 2;
      for (let h = 0; h < H; h++) expect(Math.abs(pairsInDistance(n, b[h]!, b[h + 1]!) - P / H)).toBeLessThanOrEqual(n);
    }
  });

  it('equal width is very unequal in work: head 0 does about 2H-1 times the last head', () => {
    const n = 1 << 16;
    const H = 16;
    const b = equalWidthBounds(n, H);
    const ratio = pairsInDistance(n, b[0]!, b[1]!) / pairsInDistance(n, b[H - 1]!, b[H]!);
    expect(ratio).toBeCloseTo(2 * H - 1, 0);
  });
});

describe('pairs by distance', () => {
  it('counts N - |d| pairs per distance, clipped to the grid', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 60 }), fc.integer({ min: -80, max: 80 }), fc.integer({ min: -80, max: 80 }), (n, lo, hi) => {
        let c = 0;
        for (let d = lo; d < hi; d++) if (Math.abs(d) < n) c += n - Math.abs(d);
        expect(pairsInDistance(n, lo, hi)).toBe(c);
      }),
    );
  });
});
