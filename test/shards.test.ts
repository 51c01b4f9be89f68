import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { run } from '../src/driver/cli.js';
import { balancedShards, contiguousShards, groupedShards } from '../src/driver/shards.js';

async function spc(...argv: string[]) {
  let stdout = '';
  let stderr = '';
  const code = await run(argv, { stdout: (s) => (stdout += s), stderr: (s) => (stderr += s) });
  return { code, stdout, stderr };
}

describe('tensor-parallel shards', () => {
  it('every head lands on exactly one shard, H/T per shard, and balancing never makes the slowest shard slower', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 8 }),
        fc.integer({ min: 1, max: 6 }),
        fc.array(fc.integer({ min: 0, max: 1000 }), { minLength: 48, maxLength: 48 }),
        (T, per, pool) => {
          const work = pool.slice(0, T * per);
          for (const r of [contiguousShards(work, T), balancedShards(work, T)]) {
            expect(r.heads.flat().sort((a, b) => a - b)).toEqual(work.map((_, h) => h));
            for (const hs of r.heads) expect(hs).toHaveLength(per);
            r.heads.forEach((hs, s) => expect(r.work[s]).toBe(hs.reduce((a, h) => a + work[h]!, 0)));
          }
          expect(Math.max(...balancedShards(work, T).work)).toBeLessThanOrEqual(Math.max(...contiguousShards(work, T).work));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('the paper bands on 4 ranks: contiguous shards are 1.75x the mean, a balanced assignment is exact', async () => {
    const r = await spc('check', 'examples/spattention-paper.spc', '--seq', '8192', '--shards', '4', '--json');
    expect(r.code).toBe(0);
    const s = JSON.parse(r.stdout).layouts[0].shards;
    expect(s.unit).toBe('tiles');
    expect(s.contiguous.heads).toEqual([
      [0, 1, 2, 3],
      [4, 5, 6, 7],
      [8, 9, 10, 11],
      [12, 13, 14, 15],
    ]);
    expect(s.contiguous.imbalance).toBeCloseTo(1.75, 2);
    expect(s.balanced.imbalance).toBe(1);
    const text = await spc('check', 'examples/spattention-balanced.spc', '--seq', '8192', '--shards', '2');
    expect(text.stdout).toMatch(/2 shards, heads in order: slowest\/mean 1\.0\d/);
  });

  it('--shards must divide the heads', async () => {
    const r = await spc('check', 'examples/spattention-paper.spc', '--shards', '3');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--shards 3 must divide the heads of layout spattention_paper (16)');
    const g = await spc('check', 'examples/mixed-gqa.spc', '--shards', '4');
    expect(g.code).toBe(2);
    expect(g.stderr).toContain('--shards 4 must divide the KV heads (ranks own whole KV groups) of layout mixed_gqa (2)');
  });

  it('with GQA, ranks own whole KV groups: the search runs over groups and lists their heads', async () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 1, max: 3 }),
        fc.array(fc.integer({ min: 0, max: 1000 }), { minLength: 48, maxLength: 48 }),
        (T, per, group, pool) => {
          const work = pool.slice(0, T * per * group);
          for (const plan of [contiguousShards, balancedShards]) {
            const r = groupedShards(work, group, T, plan);
            expect(r.heads.flat().sort((a, b) => a - b)).toEqual(work.map((_, h) => h));
            for (const hs of r.heads) {
              expect(hs).toHaveLength(per * group);
              for (let c = 0; c < hs.length; c += group) expect(hs.slice(c, c + group)).toEqual(Array.from({ length: group }, (_, i) => hs[c]! + i));
              expect(hs[0]! % group).toBe(0);
            }
            expect(r.work.reduce((a, b) => a + b, 0)).toBe(work.reduce((a, b) => a + b, 0));
          }
        },
      ),
      { numRuns: 300 },
    );
    const r = await spc('check', 'examples/mixed-gqa.spc', '--seq', '4096', '--shards', '2', '--json');
    const sh = (JSON.parse(r.stdout) as { layouts: { shards: { balanced: { heads: number[][] } } }[] }).layouts[0]!.shards;
    for (const hs of sh.balanced.heads)
      expect([
        [0, 1, 2, 3],
        [4, 5, 6, 7],
      ]).toContainEqual(hs);
  });
});
