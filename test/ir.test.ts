import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { frontEnd } from '../dsl/index.js';
import { lowerLayout } from '../src/lower.js';
import { allows, countRow, headPairs, headTable, headTiles, instantiate, rowRanges, tableShape, tableTerms, termAllows } from '../src/ir/index.js';
import { specCase } from './arbitraries.js';
import { bruteMask } from './brute.js';

function checkAgainstBrute(text: string, n: number, bm: number, bn: number) {
  const [checked] = frontEnd(text);
  const layout = lowerLayout(checked!);
  const inst = instantiate(layout, n);
  const mask = bruteMask(checked!, n);
  const shape = tableShape(layout);
  const table = headTable(layout, n);
  for (const head of inst.heads) {
    const m = mask[head.head]!;
    let pairs = 0;
    for (let i = 0; i < n; i++) {
      // Row ranges, expanded, are exactly the brute row; every key outside them is masked.
      const fromRanges = new Set<number>();
      for (const r of rowRanges(head, i)) for (let j = r.lo; j < r.hi; j++) if (r.full || allows(head, i, j)) fromRanges.add(j);
      const brute = m[i]!.flatMap((x, j) => (x ? [j] : []));
      expect(
        [...fromRanges].sort((a, b) => a - b),
        `head ${head.head} row ${i}`,
      ).toEqual(brute);
      for (const r of rowRanges(head, i)) if (r.full) for (let j = r.lo; j < r.hi; j++) expect(m[i]![j]).toBe(true);
      expect(countRow(head, i, 0, n)).toBe(brute.length);
      pairs += brute.length;
      // The runtime table allows exactly the same pairs.
      const tt = tableTerms(table, shape, head.head);
      for (let j = 0; j < n; j++) expect(tt.some((t) => termAllows(t, i, j))).toBe(m[i]![j]);
    }
    expect(headPairs(head, n)).toBe(pairs);
    // Tile classes for an arbitrary tile shape equal the brute count per tile.
    const tiles = new Map(headTiles(head, n, bm, bn).map((t) => [`${t.qt},${t.kt}`, t]));
    for (let qt = 0; qt * bm < n; qt++)
      for (let kt = 0; kt * bn < n; kt++) {
        let c = 0;
        let area = 0;
        for (let i = qt * bm; i < Math.min(n, qt * bm + bm); i++)
          for (let j = kt * bn; j < Math.min(n, kt * bn + bn); j++) {
            area++;
            if (m[i]![j]) c++;
          }
        const t = tiles.get(`${qt},${kt}`);
        if (c === 0) expect(t, `tile ${qt},${kt} should be empty`).toBeUndefined();
        else {
          expect(t?.pairs).toBe(c);
          expect(t?.cls).toBe(c === area ? 'full' : 'partial');
        }
      }
  }
}

describe('IR against a brute-force dense mask', () => {
  it('random specs, random N and tiles', () => {
    fc.assert(
      fc.property(specCase, fc.integer({ min: 1, max: 9 }), fc.integer({ min: 1, max: 9 }), (c, bm, bn) => {
        checkAgainstBrute(c.text, c.n, bm, bn);
      }),
      { numRuns: 300, seed: 20261123 },
    );
  });

  it('edge cases: N = 1, H > N, N not a multiple of the tile', () => {
    const spec = (heads: number, part: string, pat: string) => `layout t { heads ${heads} head_dim 4 partition ${part} pattern ${pat} }`;
    for (const [text, n, bm, bn] of [
      [spec(1, 'equal_width', 'band'), 1, 4, 4],
      [spec(8, 'equal_width', 'band'), 3, 2, 2],
      [spec(8, 'equal_pairs', 'band | window(W + 1)'), 5, 3, 2],
      [spec(3, 'equal_pairs', 'band & stride(2) | sinks(1)'), 17, 4, 8],
      [spec(2, 'equal_width', 'dense'), 13, 5, 3],
    ] as const)
      checkAgainstBrute(text, n, bm, bn);
  });
});
