// layoutStats with mods: the per-tile O(terms) classification and the allocation-free row
// counts give exactly the numbers of a brute force, and large N answers fast.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { frontEnd } from '../dsl/index.js';
import { lowerLayout } from '../src/lower.js';
import { allows, classifyBox, classifyTile, instantiate, layoutStats, type Instance } from '../src/ir/index.js';
import { specCase } from './arbitraries.js';

/** The statistics by brute force over every pair and every tile. */
function bruteStats(inst: Instance, bm: number, bn: number) {
  const n = inst.n;
  return inst.heads.map((h) => {
    let pairs = 0;
    let full = 0;
    let partial = 0;
    let computed = 0;
    for (let i0 = 0; i0 < n; i0 += bm)
      for (let j0 = 0; j0 < n; j0 += bn) {
        const i1 = Math.min(n, i0 + bm);
        const j1 = Math.min(n, j0 + bn);
        let c = 0;
        for (let i = i0; i < i1; i++) for (let j = j0; j < j1; j++) if (allows(h, i, j)) c++;
        pairs += c;
        if (!c) continue;
        if (c === (i1 - i0) * (j1 - j0)) full++;
        else partial++;
        computed += (i1 - i0) * (j1 - j0);
      }
    return { pairs, full, partial, computed };
  });
}

const modSpec = specCase.filter((c) => /stride|fixed|dilated/.test(c.text));

describe('statistics with mods equal a brute force', () => {
  it('random layouts with mods, random N and tiles', () => {
    fc.assert(
      fc.property(modSpec, fc.integer({ min: 0, max: 150 }), fc.integer({ min: 1, max: 12 }), fc.integer({ min: 1, max: 12 }), (c, extra, bm, bn) => {
        const inst = instantiate(lowerLayout(frontEnd(c.text)[0]!), c.n + extra);
        const st = layoutStats(inst, bm, bn);
        expect(st.tiles).toBe(true);
        const ref = bruteStats(inst, bm, bn);
        st.heads.forEach((h, k) => {
          const r = ref[k]!;
          expect({ pairs: h.pairs, full: h.fullTiles, partial: h.partialTiles, computed: h.computedPairs, wasted: h.wastedPairs }).toEqual({
            ...r,
            wasted: r.computed - r.pairs,
          });
        });
      }),
      { numRuns: 250, seed: 20261201 },
    );
  });

  it('classifyTile agrees with the exact classifyBox on wide residue windows and unions of mods', () => {
    for (const pat of [
      'stride(2) | (stride(2) & dist(1, N))',
      'fixed(4, 3) | fixed(4, 1)',
      'stride(3) & fixed(5, 2)',
      'dilated(3, 2) | fixed(2, 1)',
      'stride(1)',
    ]) {
      const inst = instantiate(lowerLayout(frontEnd(`layout t { heads 1 head_dim 8 pattern ${pat} }`)[0]!), 40);
      const h = inst.heads[0]!;
      for (const [bm, bn] of [
        [1, 1],
        [2, 2],
        [3, 5],
        [4, 4],
        [8, 3],
      ] as const)
        for (let i0 = 0; i0 < 40; i0 += bm)
          for (let j0 = 0; j0 < 40; j0 += bn) {
            const b = { i0, i1: Math.min(40, i0 + bm), j0, j1: Math.min(40, j0 + bn) };
            expect(classifyTile(h, b), `${pat} ${JSON.stringify(b)}`).toBe(classifyBox(h, b).cls);
          }
    }
  });
});

describe('check with mods at large N', () => {
  const dir = mkdtempSync(join(tmpdir(), 'spc-stats-'));
  const spec = (name: string, pat: string) => {
    const f = join(dir, `${name}.spc`);
    writeFileSync(f, `layout ${name} {\n  heads 2\n  head_dim 64\n  pattern ${pat}\n}\n`);
    return f;
  };
  // The Sparse Transformer example without its fixed length.
  const st = join(dir, 'st.spc');
  writeFileSync(
    st,
    'layout strided { heads 8 head_dim 64 pattern window(128) head 4..7: stride(128) }\nlayout fixed { heads 8 head_dim 64 pattern window(128) & dist(0, 128) | fixed(128, 8) }\n',
  );
  const timed = (file: string, n: number) => {
    const t0 = performance.now();
    const r = spawnSync('node', ['bin/spc.js', 'check', file, '--seq', String(n)], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    return { s: (performance.now() - t0) / 1000, out: r.stdout };
  };
  // About 1-2 s each here (tens of seconds to minutes before); the limit leaves room for a loaded machine.
  it.each([
    ['stride', 'stride(64)'],
    ['fixed', 'fixed(128, 8)'],
  ])(
    '%s at N = 65536 and 2^20',
    (name, pat) => {
      const f = spec(name, pat);
      const a = timed(f, 65536);
      expect(a.s).toBeLessThan(6);
      expect(a.out).not.toMatch(/tiles skipped/);
      expect(timed(f, 2 ** 20).s).toBeLessThan(10);
    },
    30000,
  );
  it('the Sparse Transformer layouts at N = 65536, with tile statistics', () => {
    const a = timed(st, 65536);
    expect(a.s).toBeLessThan(8);
    expect(a.out).not.toMatch(/tiles skipped/);
    expect(a.out).toMatch(/total pairs 1134649568 /);
    expect(timed(st, 2 ** 20).s).toBeLessThan(10);
  }, 30000);
});
