// partition tuned and the CPU half of the autotuner: syntax and diagnostics, the cost model, the
// band search (a partition, within tolerance, never worse than the base, deterministic), the
// tuning record, and the commands that use them.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { frontEnd, SpecError } from '../dsl/index.js';
import { jsHostTable, pyHostTable } from '../codegen/host.js';
import { run } from '../src/driver/cli.js';
import { compileSource } from '../src/driver/pipeline.js';
import { toDiagnostics } from '../src/driver/diagnostics.js';
import { EvalError, headTable, instantiate, instantiateHead, isPartition, layoutStats, pairsInDistance, type LayoutIR } from '../src/ir/index.js';
import { BandPricer, baseBounds, boundaryCandidates, predict, tuneBands } from '../src/tuner/bands.js';
import { DEFAULT_COST_MODEL, fitCostModel, headCost, headWork, makespan, mergeCostModel } from '../src/tuner/cost.js';
import { bandsFor, specHash, validateRecord, type TuningRecord } from '../src/tuner/record.js';
import { planLayout } from '../src/tuner/plan.js';

async function spc(...argv: string[]) {
  let stdout = '';
  let stderr = '';
  const code = await run(argv, { stdout: (s) => (stdout += s), stderr: (s) => (stderr += s) });
  return { code, stdout, stderr };
}

const one = (text: string): LayoutIR => compileSource(text)[0]!;
const layout = (heads: number, part: string, pattern = 'band', extra = '') =>
  one(`layout t { heads ${heads} head_dim 128 ${extra} partition ${part} pattern ${pattern} }`);
const codes = (text: string): string[] => {
  try {
    compileSource(text);
    return [];
  } catch (e) {
    return (toDiagnostics(e) ?? []).map((d) => d.code);
  }
};

describe('partition tuned: syntax', () => {
  it('defaults to base = equal_pairs, tol = 0.1', () => {
    const [c] = frontEnd('layout a { heads 4 head_dim 8 partition tuned }');
    expect(c!.partition).toMatchObject({ kind: 'tuned', base: 'equal_pairs', tol: 0.1 });
    expect(one('layout a { heads 4 head_dim 8 partition tuned }').partition).toEqual({
      kind: 'tuned',
      base: 'equal_pairs',
      tol: 0.1,
      bands: [],
      useBase: false,
    });
  });

  it('takes named parameters in any order, decimals and whole numbers for tol', () => {
    expect(frontEnd('layout a { heads 4 head_dim 8 partition tuned(tol = 0.25, base = equal_width) }')[0]!.partition).toMatchObject({
      base: 'equal_width',
      tol: 0.25,
    });
    expect(frontEnd('layout a { heads 4 head_dim 8 partition tuned(tol = 0) }')[0]!.partition).toMatchObject({ base: 'equal_pairs', tol: 0 });
    expect(frontEnd('layout a { heads 4 head_dim 8 partition tuned(tol = 1) }')[0]!.partition).toMatchObject({ tol: 1 });
    expect(frontEnd('layout a { heads 4 head_dim 8 partition tuned() }')[0]!.partition).toMatchObject({ base: 'equal_pairs', tol: 0.1 });
  });

  it('refuses bad parameters with stable codes', () => {
    const s = (p: string) => `layout a {\n  heads 4\n  head_dim 8\n  partition ${p}\n}\n`;
    expect(codes(s('tuned(equal_pairs)'))).toEqual(['E055']);
    expect(codes(s('tuned(bsae = equal_pairs)'))).toEqual(['E055']);
    expect(codes(s('tuned(base = explicit)'))).toEqual(['E056']);
    expect(codes(s('tuned(base = 3)'))).toEqual(['E056']);
    expect(codes(s('tuned(tol = 1.5)'))).toEqual(['E056']);
    expect(codes(s('tuned(tol = -0.1)'))).toEqual(['E056']);
    expect(codes(s('tuned(tol = N)'))).toEqual(['E056']);
    expect(codes(s('tuned(tol = 0.1, tol = 0.2)'))).toEqual(['E058']);
    expect(codes(s('tuned(base = equal_pairs, base = equal_width)'))).toEqual(['E058']);
    expect(codes(s('explicit(0, x = 1, 2, 3, N)'))).toContain('E057');
    expect(codes('layout a { heads 4 head_dim 8 pattern window(w = 4) }')).toEqual(['E057']);
    // Decimals stay bad numbers everywhere but a named argument's value.
    expect(codes('layout a { heads 4 head_dim 8 pattern window(0.5) }')).toEqual(['E002']);
    expect(codes('layout a { heads 4 head_dim 8 seq 1.5 pattern dense }')).toEqual(['E002']);
    expect(codes(s('tuned(tol = 1.5e3)'))).toEqual(['E002']);
    expect(codes(s('tuned(tol = = 0.1)'))).toEqual(['E010']);
  });

  it('points its diagnostics at the parameter', async () => {
    const d = mkdtempSync(join(tmpdir(), 'spc-tuned-'));
    writeFileSync(join(d, 'x.spc'), 'layout a {\n  heads 4\n  head_dim 8\n  partition tuned(base = equal_pairs, tol = 2)\n}\n');
    const r = await spc('check', join(d, 'x.spc'));
    expect(r.code).toBe(2);
    expect(r.stderr.replace(d, '$D')).toMatchInlineSnapshot(`
      "$D/x.spc:4:45 error[E056]: tuned's tol must be a number from 0 to 1 (a relative tolerance on each head's pair share, such as 0.1), got 2
        |
      4 |   partition tuned(base = equal_pairs, tol = 2)
        |                                             ^
      "
    `);
  });

  it('a tuned layout has no bands until it is given them: E054, never the base silently', () => {
    const l = layout(4, 'tuned');
    expect(() => instantiate(l, 64)).toThrow(EvalError);
    try {
      instantiate(l, 64);
    } catch (e) {
      expect((e as EvalError).code).toBe('E054');
    }
    const withBands: LayoutIR = {
      ...l,
      partition: { kind: 'tuned', base: 'equal_pairs', tol: 0.1, bands: [{ n: 64, bounds: [0, 5, 20, 30, 64] }], useBase: false },
    };
    expect(instantiate(withBands, 64).heads.map((h) => h.band)).toEqual([
      { start: 0, width: 5 },
      { start: 5, width: 15 },
      { start: 20, width: 10 },
      { start: 30, width: 34 },
    ]);
    expect(() => instantiate(withBands, 65)).toThrow(/E054/);
    const untuned: LayoutIR = { ...l, partition: { kind: 'tuned', base: 'equal_width', tol: 0.1, bands: [], useBase: true } };
    expect(instantiate(untuned, 64).heads.map((h) => h.band!.start)).toEqual([0, 16, 32, 48]);
  });
});

describe('the cost model', () => {
  it('makespan deals longest first to the least loaded slot', () => {
    expect(makespan([], 4)).toBe(0);
    expect(makespan([5, 1, 1], 8)).toBe(5);
    expect(makespan([2, 3, 2, 3, 2], 2)).toBe(7); // 3 | 3, then 2 to slot 0 (5), 2 to slot 1 (5), 2 to slot 0 (7)
    expect(makespan([4, 4, 4, 4], 2)).toBe(8);
    expect(() => makespan([1], 0)).toThrow(RangeError);
  });

  it('headCost is items x item + area-scaled tile costs, and sums the items', () => {
    const l = layout(4, 'equal_pairs');
    const inst = instantiate(l, 1000);
    for (const h of inst.heads) {
      const w = headWork(h, 1000, 128, 64);
      const stats = layoutStats(inst, 128, 64).heads[h.head]!;
      expect([w.fullTiles, w.partialTiles]).toEqual([stats.fullTiles, stats.partialTiles]);
      const c = headCost(DEFAULT_COST_MODEL, 128, 64, w);
      expect(c).toBeCloseTo(2 * w.items.length + 0.5 * (w.fullTiles + 1.5 * w.partialTiles), 9);
    }
  });

  it('constants are overridable and checked', () => {
    expect(mergeCostModel(DEFAULT_COST_MODEL, { partialTile: 1.25 })).toEqual({ ...DEFAULT_COST_MODEL, partialTile: 1.25 });
    expect(mergeCostModel(DEFAULT_COST_MODEL, { partial: 1 })).toMatch(/unknown cost model field 'partial'/);
    expect(mergeCostModel(DEFAULT_COST_MODEL, { item: -1 })).toMatch(/finite number >= 0/);
    expect(mergeCostModel(DEFAULT_COST_MODEL, [1])).toMatch(/JSON object/);
  });

  it('fitCostModel recovers the constants of synthetic measurements', () => {
    const truth = { item: 3, fullTile: 1, partialTile: 1.7 };
    const samples = [
      [10, 100, 20],
      [20, 50, 80],
      [5, 300, 10],
      [40, 10, 200],
    ].map(([items, fullTiles, partialTiles]) => ({
      items: items!,
      fullTiles: fullTiles!,
      partialTiles: partialTiles!,
      bm: 128,
      bn: 128,
      time: 0.01 * (truth.item * items! + truth.fullTile * fullTiles! + truth.partialTile * partialTiles!),
    }));
    const m = fitCostModel(samples)!;
    expect(m.fullTile).toBe(1);
    expect(m.item).toBeCloseTo(3, 6);
    expect(m.partialTile).toBeCloseTo(1.7, 6);
    expect(fitCostModel(samples.slice(0, 2))).toBeNull();
    expect(fitCostModel([samples[0]!, samples[0]!, samples[0]!])).toBeNull();
  });
});

describe("tile statistics: the issue's reference figures (128x128 tiles, H = 16)", () => {
  const spread = (part: 'equal_pairs' | 'equal_width', n: number) => {
    const l = layout(16, part);
    return predict(new BandPricer(l, n, 128, 128), baseBounds(part, n, 16), baseBounds(part, n, 16), 1, 132).tileSpread;
  };
  it('equal_pairs: per-head tile imbalance 2.58x at N = 4096 and 1.24x at N = 32768; equal width 31x', () => {
    expect(spread('equal_pairs', 4096).toFixed(2)).toBe('2.58');
    expect(spread('equal_pairs', 32768).toFixed(2)).toBe('1.24');
    expect(spread('equal_width', 4096)).toBe(31);
    expect(spread('equal_width', 32768)).toBe(31);
  });
});

/** Each head's band pair share within tol of the base's (relative; a tiny slack for floating point). */
function withinTol(bounds: number[], base: number[], n: number, tol: number): boolean {
  for (let h = 0; h + 1 < bounds.length; h++) {
    const p = pairsInDistance(n, bounds[h]!, bounds[h + 1]!);
    const b = pairsInDistance(n, base[h]!, base[h + 1]!);
    if (Math.abs(p - b) > tol * b + 1e-9 * b) return false;
  }
  return true;
}

describe('per-head factors on the cost (--head-scale)', () => {
  it('price each head by its factor, and the band search gives a head priced higher a smaller share', () => {
    const l = layout(4, 'tuned(base = equal_pairs, tol = 0.3)');
    const n = 8192;
    const plain = tuneBands(l, n, { base: 'equal_pairs', tol: 0.3, bm: 64, bn: 64 });
    const scaled = tuneBands(l, n, { base: 'equal_pairs', tol: 0.3, bm: 64, bn: 64, headScale: [2, 1, 1, 1] });
    const p1 = new BandPricer(l, n, 64, 64);
    const p2 = new BandPricer(l, n, 64, 64, DEFAULT_COST_MODEL, [2, 1, 1, 1]);
    expect(p2.price(0, 0, 300)).toBeCloseTo(2 * p1.price(0, 0, 300), 9);
    expect(p2.price(1, 300, 700)).toBeCloseTo(p1.price(1, 300, 700), 9);
    expect(scaled.after.heads[0]!.pairs).toBeLessThan(plain.after.heads[0]!.pairs);
    expect(scaled.after.heads[0]!.cost).toBeCloseTo(2 * p1.price(0, scaled.after.bounds[0]!, scaled.after.bounds[1]!), 9);
    expect(() => new BandPricer(l, n, 64, 64, DEFAULT_COST_MODEL, [1, 1])).toThrow(/has 2 factors; layout .* has 4 heads/);
  });

  it('spc tune --head-scale: one positive factor per head, with --plan-only only', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'spc-hs-'));
    const f = join(dir, 't.spc');
    writeFileSync(f, 'layout t {\n  heads 4\n  head_dim 64\n  seq N\n  partition tuned(base = equal_pairs, tol = 0.2)\n  pattern band\n}\n');
    const ok = await spc('tune', f, '--target', 'cuda', '--seq', '8192', '--plan-only', '--head-scale', '1.5,1,1,1', '--json');
    expect(ok.code, ok.stderr).toBe(0);
    const withScale = JSON.parse(ok.stdout) as TuningRecord;
    const without = JSON.parse((await spc('tune', f, '--target', 'cuda', '--seq', '8192', '--plan-only', '--json')).stdout) as TuningRecord;
    expect(withScale.entries[0]!.bands).not.toEqual(without.entries[0]!.bands);
    for (const [args, msg] of [
      [['--head-scale', '1,1'], /--head-scale has 2 factors; layout t has 4 heads/],
      [['--head-scale', '1,0,1,1'], /positive numbers separated by commas/],
      [['--head-scale', '1,a,1,1'], /positive numbers separated by commas/],
    ] as const) {
      const r = await spc('tune', f, '--target', 'cuda', '--seq', '8192', '--plan-only', ...args);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(msg);
    }
  });
});

describe('the plan', () => {
  it('rejects tile shapes too small to price at a long N (counted under their reason) instead of failing the run', () => {
    const l = layout(4, 'equal_width', 'band');
    const n = 16384;
    const c = (id: string, bm: number, bn: number, isDefault: boolean) => ({ id, config: { id }, bm, bn, isDefault });
    const plan = planLayout(l, n, [c('big', 64, 64, true), c('tiny', 4, 2, false)], { 'some other reason': 3 }, { target: 'wgsl', sms: 1 });
    expect(plan.entry.candidates.map((x) => x.id)).toEqual(['big / bands none']);
    expect(plan.rejected).toEqual({ 'some other reason': 3, 'more than 16777216 tiles per head at N = 16384 (too many to price)': 1 });
    // The heuristic's own shape too small: nothing can be planned, and the error says why.
    expect(() => planLayout(l, n, [c('tiny', 4, 2, true)], {}, { target: 'wgsl', sms: 1 })).toThrow(/too long to tune with 4x2 tiles/);
    // A config the target may pick unnamed (keep) is never dropped: the same error.
    expect(() => planLayout(l, n, [c('big', 64, 64, true), c('tiny', 4, 2, false)], {}, { target: 'wgsl', sms: 1, keep: (x) => x.id === 'tiny' })).toThrow(
      /too long to tune with 4x2 tiles/,
    );
  });
});

describe('tuned band boundaries', () => {
  const caseArb = fc.record({
    n: fc.integer({ min: 1, max: 2500 }),
    heads: fc.constantFrom(1, 2, 3, 4, 6, 8, 12),
    tol: fc.constantFrom(0, 0.05, 0.1, 0.3, 1),
    base: fc.constantFrom<'equal_pairs' | 'equal_width'>('equal_pairs', 'equal_width'),
    tile: fc.constantFrom<[number, number]>([16, 16], [32, 16], [64, 64], [128, 128], [48, 32]),
    pattern: fc.constantFrom('band', 'band | window(W + 1)', 'band | sinks(4)', 'band & stride(3)'),
    shards: fc.constantFrom(1, 2),
  });

  it('are a partition of 0..N-1, within tolerance, never worse than the base, and the same when run again', () => {
    fc.assert(
      fc.property(caseArb, ({ n, heads, tol, base, tile, pattern, shards }) => {
        const l = layout(heads, `tuned(base = ${base}, tol = ${tol})`, pattern);
        const t = tuneBands(l, n, { base, tol, bm: tile[0], bn: tile[1], shards: heads % shards === 0 ? shards : 1 });
        const b = t.after.bounds;
        expect(isPartition(b, n, heads)).toBe(true);
        expect(b[0]).toBe(0);
        expect(b[heads]).toBe(n);
        // Disjoint and covering: every distance 0..N-1 lies in exactly one band.
        let covered = 0;
        for (let h = 0; h < heads; h++) covered += b[h + 1]! - b[h]!;
        expect(covered).toBe(n);
        expect(t.before.bounds).toEqual(baseBounds(base, n, heads));
        expect(withinTol(b, t.before.bounds, n, tol)).toBe(true);
        const objective = (p: typeof t.after) => (t.shards > 1 ? p.shards!.max : p.maxHead);
        expect(objective(t.after)).toBeLessThanOrEqual(objective(t.before));
        expect(tuneBands(l, n, { base, tol, bm: tile[0], bn: tile[1], shards: t.shards }).after.bounds).toEqual(b);
        if (tol === 0) expect(b).toEqual(t.before.bounds);
      }),
      { numRuns: 60, seed: 17 },
    );
  });

  it("the per-head predictions are the IR's tile counts for those bands", () => {
    const l = layout(8, 'tuned', 'band | sinks(2)');
    const t = tuneBands(l, 3000, { base: 'equal_pairs', tol: 0.2, bm: 64, bn: 64 });
    const inst = instantiate(
      { ...l, partition: { kind: 'tuned', base: 'equal_pairs', tol: 0.2, bands: [{ n: 3000, bounds: t.after.bounds }], useBase: false } },
      3000,
    );
    const stats = layoutStats(inst, 64, 64);
    t.after.heads.forEach((h, k) => {
      expect([h.fullTiles, h.partialTiles]).toEqual([stats.heads[k]!.fullTiles, stats.heads[k]!.partialTiles]);
      expect(instantiateHead(l, 3000, k, t.after.bounds).terms).toEqual(inst.heads[k]!.terms);
    });
  });

  it('equal_pairs at N = 4096 and 32768 (128x128, H = 16): a slower head gets faster, with boundaries on tile multiples', () => {
    for (const n of [4096, 32768]) {
      const t = tuneBands(layout(16, 'tuned'), n, { base: 'equal_pairs', tol: 0.1, bm: 128, bn: 128 });
      expect(t.after.maxHead).toBeLessThan(t.before.maxHead);
      expect(t.after.total).toBeLessThan(t.before.total);
      expect(t.after.tileSpread).toBeLessThan(n === 4096 ? 2.58 : 1.3);
      // Most moved boundaries land on multiples of 128: that is where partial tiles are cut.
      const moved = t.after.bounds.filter((x, k) => x !== t.before.bounds[k]);
      expect(moved.filter((x) => x % 128 === 0).length).toBeGreaterThanOrEqual(moved.length / 2);
    }
  });

  it('with shards, the slowest shard of consecutive heads is what improves', () => {
    const t = tuneBands(layout(16, 'tuned'), 8192, { base: 'equal_pairs', tol: 0.1, bm: 128, bn: 128, shards: 4 });
    expect(t.objective).toBe('slowest shard');
    expect(t.after.shards!.max).toBeLessThanOrEqual(t.before.shards!.max);
    expect(t.after.shards!.work.reduce((a, b) => a + b, 0)).toBeCloseTo(t.after.total, 6);
  });

  it('boundary candidates include the base and stay sorted', () => {
    const base = baseBounds('equal_pairs', 5000, 7);
    const c = boundaryCandidates(5000, base, 0.1, 64, 16);
    expect(c).toHaveLength(8);
    c.forEach((xs, k) => {
      expect(xs).toContain(base[k]);
      expect([...xs].sort((a, b) => a - b)).toEqual(xs);
      expect(xs.length).toBeLessThanOrEqual(16 + 4);
    });
  });
});

describe('the tuning record', () => {
  it('the spec hash ignores comments, spacing and source positions, and changes with meaning', () => {
    const a = one('layout t { heads 4 head_dim 64 partition tuned pattern band }');
    const b = one('# a comment\nlayout t {\n  heads 4\n  head_dim 64\n\n  partition tuned(base = equal_pairs, tol = 0.1)\n  pattern band\n}\n');
    const c = one('layout t { heads 4 head_dim 64 partition tuned(tol = 0.2) pattern band }');
    expect(specHash(a)).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(specHash(b)).toBe(specHash(a));
    expect(specHash(c)).not.toBe(specHash(a));
    expect(specHash({ ...a, partition: { kind: 'tuned', base: 'equal_pairs', tol: 0.1, bands: [{ n: 8, bounds: [0, 1, 2, 3, 8] }], useBase: false } })).toBe(
      specHash(a),
    );
  });

  it('spc tune --plan-only writes a valid record; compile --tuning uses its bands and nothing else', async () => {
    const d = mkdtempSync(join(tmpdir(), 'spc-tune-'));
    const file = join(d, 't.spc');
    writeFileSync(file, 'layout tuned_demo {\n  heads 8\n  head_dim 128\n  partition tuned(tol = 0.2)\n  pattern band\n}\n');
    const r = await spc('tune', file, '--target', 'cuda', '--seq', '2048,1024', '--plan-only', '--record', join(d, 'rec.json'));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('plan only (nothing was run or measured');
    expect(r.stdout).toContain('Nothing was measured');
    const rec = JSON.parse(readFileSync(join(d, 'rec.json'), 'utf8')) as TuningRecord;
    expect('record' in validateRecord(rec)).toBe(true);
    expect(rec.entries.map((e) => e.n)).toEqual([1024, 2048]);
    for (const e of rec.entries) {
      expect(e.measured).toBe(false);
      expect(e.candidates.every((c) => c.measured_ms === null)).toBe(true);
      expect(e.candidates[e.choice]!.pruned).toBeNull();
      expect(e.candidates[e.choice]!.id).toContain('sm90 persistent wg2 n128 s3 q1');
      expect(e.candidates.some((c) => c.pruned !== null)).toBe(true);
      expect(isPartition(e.bands!, e.n, 8)).toBe(true);
      expect(withinTol(e.bands!, baseBounds('equal_pairs', e.n, 8), e.n, 0.2)).toBe(true);
    }
    // The same plan again gives the same bands (the record's creation time aside).
    const again = await spc('tune', file, '--target', 'cuda', '--seq', '1024,2048', '--plan-only', '--json');
    expect((JSON.parse(again.stdout) as TuningRecord).entries.map((e) => e.bands)).toEqual(rec.entries.map((e) => e.bands));

    // compile: E082 without a record; the record's bands in the generated code with it.
    expect((await spc('compile', file, '--target', 'wgsl', '-o', join(d, 'o'))).stderr).toContain('error[E082]');
    const c = await spc('compile', file, '--target', 'ir', '-o', join(d, 'ir'), '--tuning', join(d, 'rec.json'));
    expect(c.code, c.stderr).toBe(0);
    expect(c.stderr).toContain('chosen by the cost model, not measured');
    const ir = JSON.parse(readFileSync(join(d, 'ir', 'tuned_demo.ir.json'), 'utf8')) as { layout: LayoutIR };
    expect(ir.layout.partition).toMatchObject({ kind: 'tuned', bands: rec.entries.map((e) => ({ n: e.n, bounds: e.bands })) });
    const l = bandsFor(rec, one(readFileSync(file, 'utf8')));
    expect(Array.isArray(l)).toBe(true);
    const js = jsHostTable({
      ...one(readFileSync(file, 'utf8')),
      partition: { kind: 'tuned', base: 'equal_pairs', tol: 0.2, bands: l as { n: number; bounds: number[] }[], useBase: false },
    });
    const mod = (await import(`data:text/javascript,${encodeURIComponent(js)}`)) as { partitionBounds: (n: number) => number[] };
    expect(mod.partitionBounds(1024)).toEqual(rec.entries[0]!.bands);
    expect(mod.partitionBounds(2048)).toEqual(rec.entries[1]!.bands);
    expect(() => mod.partitionBounds(4096)).toThrow(/bands for N = 1024, 2048 only/);

    // A record for another spec, or without the N asked for, does not fit (E084); --untuned says what it does.
    writeFileSync(file, readFileSync(file, 'utf8').replace('tol = 0.2', 'tol = 0.3'));
    expect((await spc('compile', file, '--target', 'ir', '-o', join(d, 'ir2'), '--tuning', join(d, 'rec.json'))).stderr).toMatch(
      /error\[E084\].*different spec/,
    );
    writeFileSync(file, readFileSync(file, 'utf8').replace('tol = 0.3', 'tol = 0.2'));
    expect((await spc('compile', file, '--target', 'ir', '-o', join(d, 'ir3'), '--tuning', join(d, 'rec.json'), '--seq', '4096')).stderr).toMatch(
      /error\[E084\].*no bands for N = 4096/,
    );
    const u = await spc('compile', file, '--target', 'ir', '-o', join(d, 'ir4'), '--untuned');
    expect(u.code).toBe(0);
    expect(u.stderr).toContain('the base partition equal_pairs at every N');
    expect((await spc('compile', file, '--target', 'ir', '-o', join(d, 'ir5'), '--untuned', '--tuning', join(d, 'rec.json'))).code).toBe(2);
  });

  it('the validator names what is wrong', () => {
    const ok = {
      format: 'spc-tuning-record',
      version: 1,
      spc: '0.1.0',
      created: '2026-12-01T00:00:00Z',
      device: { name: null, sm_count: 132, driver: null, cuda: null, pytorch: null },
      cost_model: { item: 2 },
      entries: [
        {
          layout: 'a',
          spec_hash: `sha256:${'0'.repeat(64)}`,
          n: 8,
          dtype: 'bf16',
          target: 'cuda',
          shards: 1,
          objective: 'slowest head',
          measured: false,
          candidates: [
            {
              id: 'x',
              config: {},
              tile: [128, 128],
              bands: 'tuned',
              bounds: [0, 3, 8],
              predicted: 1,
              predicted_objective: 1,
              measured_ms: null,
              failed: null,
              pruned: null,
            },
          ],
          choice: 0,
          bands: [0, 3, 8],
        },
      ],
    };
    expect('record' in validateRecord(ok)).toBe(true);
    const bad = (f: (r: typeof ok) => void): string[] => {
      const r = JSON.parse(JSON.stringify(ok)) as typeof ok;
      f(r);
      const v = validateRecord(r);
      return 'problems' in v ? v.problems : [];
    };
    expect(bad((r) => (r.version = 2))).toEqual(['version must be 1, got 2']);
    expect(bad((r) => (r.entries[0]!.bands = [0, 9, 8]))).toEqual(expect.arrayContaining([expect.stringMatching(/bands must run from 0 to N = 8/)]));
    expect(bad((r) => (r.entries[0]!.choice = 3))).toEqual([expect.stringMatching(/choice must index candidates/)]);
    expect(bad((r) => (r.entries[0]!.spec_hash = 'md5:1'))).toEqual([expect.stringMatching(/spec_hash/)]);
    expect(bad((r) => r.entries.push(r.entries[0]!))).toEqual([expect.stringMatching(/appears twice/)]);
    expect(bad((r) => (r.device.sm_count = 0))).toEqual(['device.sm_count must be a positive integer']);
    expect(validateRecord('x')).toEqual({ problems: ['the record is not a JSON object'] });
  });
});

describe('spc check and spc show on a tuned spec', () => {
  const d = mkdtempSync(join(tmpdir(), 'spc-check-tuned-'));
  const file = join(d, 't.spc');
  writeFileSync(file, 'layout tuned_demo { heads 16 head_dim 128 partition tuned pattern band }\n');

  it('check prints the tuned bands, how far each share moved and the balance before and after', async () => {
    const r = await spc('check', file, '--seq', '4096');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('partition tuned(base = equal_pairs, tol = 0.1)');
    expect(r.stdout).toContain('tuned bands (chosen now by the cost model: predicted, not measured; compile needs --tuning RECORD): 128x128 tiles');
    expect(r.stdout).toMatch(/^\s+0\s+\[0,131\)\s+\[0,128\)\s+6\.29% -> 6\.15%\s+-2\.3%/m);
    expect(r.stdout).toMatch(/predicted balance max\/mean \d\.\d\d -> \d\.\d\d; slowest head 203\.5 -> 190\.5; tiles max\/min 2\.58 -> 2\.42/);
  });

  it('check --json has the same, and the head table uses the tuned bands', async () => {
    const r = await spc('check', file, '--seq', '4096', '--json', '--shards', '4');
    const doc = JSON.parse(r.stdout) as {
      layouts: {
        heads: { band: number[] }[];
        tuned: {
          source: string;
          objective: string;
          heads: { band: number[]; share_move: number }[];
          before: { shards: { max: number } };
          after: { bounds: number[]; shards: { max: number } };
        };
      }[];
    };
    const [l] = doc.layouts;
    expect(l!.tuned.source).toBe('cost model');
    expect(l!.tuned.objective).toBe('slowest shard');
    expect(l!.heads.map((h) => h.band)).toEqual(l!.tuned.heads.map((h) => h.band));
    expect(l!.tuned.after.shards.max).toBeLessThanOrEqual(l!.tuned.before.shards.max);
    for (const h of l!.tuned.heads) expect(Math.abs(h.share_move)).toBeLessThanOrEqual(0.1 + 1e-12);
  });

  it('show draws the tuned bands and prints the report', async () => {
    const r = await spc('show', file, '--seq', '1024');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('tuned bands (chosen now by the cost model');
  });

  it('tune --write-spec writes an explicit partition that gives the same bands', async () => {
    const out = join(d, 'explicit.spc');
    const r = await spc('tune', file, '--target', 'cuda', '--seq', '4096', '--plan-only', '--write-spec', out, '--json');
    expect(r.code, r.stderr).toBe(0);
    const rec = JSON.parse(r.stdout) as TuningRecord;
    const text = readFileSync(out, 'utf8');
    expect(text).toContain('# spc tune --plan-only: tuned bands for N = 4096 and 128x128 tiles, chosen by the cost model (not measured)');
    const l = one(text);
    expect(l.partition!.kind).toBe('explicit');
    expect(instantiate(l, 4096).heads.map((h) => h.band!.start)).toEqual(rec.entries[0]!.bands!.slice(0, -1));
    // At another N the explicit constants do not end at N: loud, not silently other bands.
    expect(() => instantiate(l, 8192)).toThrow(/E052/);
    expect((await spc('tune', file, '--target', 'cuda', '--seq', '1024,2048', '--plan-only', '--write-spec', out)).code).toBe(2);
  });

  it('tune refuses what it cannot do', async () => {
    expect((await spc('tune', file, '--target', 'cuda', '--seq', '1024')).stderr).toContain('spc tune runs in two halves: --plan-only');
    expect((await spc('tune', file, '--target', 'wgsl', '--plan-only')).stderr).toContain(
      '--plan-only is for --target cuda; --target wgsl measures on the WebGPU adapter',
    );
    expect((await spc('tune', file, '--target', 'gpujs', '--plan-only')).stderr).toContain('spc tune tunes the cuda and wgsl targets');
    expect((await spc('tune', file, '--target', 'cuda', '--plan-only', '--cost', '{"x": 1}')).stderr).toContain("unknown cost model field 'x'");
  });
});

describe('SpecError is what the front end throws for tuned', () => {
  it('several problems at once', () => {
    expect(() => frontEnd('layout a { heads 4 head_dim 8 partition tuned(x = 1, tol = 9) }')).toThrow(SpecError);
    try {
      frontEnd('layout a { heads 4 head_dim 8 partition tuned(x = 1, tol = 9) }');
    } catch (e) {
      expect((e as SpecError).diagnostics.map((d) => d.code)).toEqual(['E055', 'E056']);
    }
  });
});

describe('the generated host code for partition tuned', () => {
  const l = one('layout tuned_host { heads 4 head_dim 8 partition tuned(base = equal_width) pattern band | sinks(2) }');
  const tuned: LayoutIR = {
    ...l,
    partition: {
      kind: 'tuned',
      base: 'equal_width',
      tol: 0.1,
      bands: [
        { n: 64, bounds: [0, 16, 30, 50, 64] },
        { n: 100, bounds: [0, 20, 45, 70, 100] },
      ],
      useBase: false,
    },
  };
  const untuned: LayoutIR = { ...l, partition: { kind: 'tuned', base: 'equal_width', tol: 0.1, bands: [], useBase: true } };

  it('JavaScript and Python give the IR head table at the record N, the base with --untuned, and refuse other N', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'spc-tuned-host-'));
    const script = ['import json, sys', 'import tuned_table, untuned_table', 'out = {}'];
    writeFileSync(join(dir, 'tuned_table.py'), pyHostTable(tuned));
    writeFileSync(join(dir, 'untuned_table.py'), pyHostTable(untuned));
    for (const [name, layoutIr] of [
      ['tuned', tuned],
      ['untuned', untuned],
    ] as const) {
      writeFileSync(join(dir, `${name}.mjs`), jsHostTable(layoutIr));
      const mod = (await import(join(dir, `${name}.mjs`))) as { headTable(n: number): Int32Array };
      for (const n of [64, 100]) {
        expect(mod.headTable(n)).toEqual(headTable(layoutIr, n));
        script.push(`out['${name}:${n}'] = ${name}_table.head_table(${n})`);
      }
      if (name === 'tuned') expect(() => mod.headTable(65)).toThrow(/bands for N = 64, 100 only/);
      else expect(mod.headTable(65)).toEqual(headTable(layoutIr, 65));
    }
    script.push('try:\n    tuned_table.head_table(65)\n    out["refused"] = False\nexcept ValueError as e:\n    out["refused"] = str(e)');
    script.push('json.dump(out, sys.stdout)');
    writeFileSync(join(dir, 'run.py'), script.join('\n'));
    const got = JSON.parse(execFileSync('python3', ['run.py'], { cwd: dir, encoding: 'utf8' })) as Record<string, unknown>;
    for (const n of [64, 100]) {
      expect(got[`tuned:${n}`]).toEqual([...headTable(tuned, n)]);
      expect(got[`untuned:${n}`]).toEqual([...headTable(untuned, n)]);
    }
    expect(got.refused).toMatch(/bands for N = 64, 100 only/);
  });
});
