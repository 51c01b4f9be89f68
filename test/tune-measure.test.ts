// The measuring half of spc tune, as far as it runs without a GPU: `--plan-only --emit DIR` writes a
// package per candidate the cost model kept (each with its own config and bands), and
// `--measured FILE --plan RECORD` folds times into the record and chooses by them. The times here
// are made up for the test (tune_measure.py writes real ones on the GPU machine): they test the
// choosing, not any kernel.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { run } from '../src/driver/cli.js';
import { fitPerHead, recordConfigs } from '../src/driver/tuning.js';
import { wgslTunings } from '../src/driver/wgsl-tune.js';
import { compileSource } from '../src/driver/pipeline.js';
import { BandPricer } from '../src/tuner/bands.js';
import type { LayoutIR } from '../src/ir/index.js';
import { DEFAULT_COST_MODEL, headCost, rankCorrelation } from '../src/tuner/cost.js';
import { specHash, validateRecord, type TuningRecord } from '../src/tuner/record.js';

async function spc(...argv: string[]) {
  let stdout = '';
  let stderr = '';
  const code = await run(argv, { stdout: (s) => (stdout += s), stderr: (s) => (stderr += s) });
  return { code, stdout, stderr };
}

const SPEC = 'layout tb {\n  heads 8\n  head_dim 64\n  seq N\n  partition tuned(base = equal_pairs, tol = 0.2)\n  pattern band\n}\n';

type Listed = { package: string; entry: number; candidate: number; layout: string; n: number; id: string };

const DEVICE = { name: 'test device', sm_count: 132, driver: null, cuda: null, pytorch: null };

/** A measurements file as tune_measure.py writes it, for the listed packages: made-up times `ms(i)` (null: failed, `why(i)`). */
function writeMeasured(
  file: string,
  list: readonly Listed[],
  ms: (i: number) => number | null,
  extra: (i: number) => Record<string, unknown> = () => ({}),
  why: (i: number) => string = () => 'failed',
) {
  const results = list.map((x, i) => {
    const t = ms(i);
    return {
      package: x.package,
      entry: x.entry,
      candidate: x.candidate,
      layout: x.layout,
      n: x.n,
      measured_ms: t,
      failed: t === null ? why(i) : null,
      ...extra(i),
    };
  });
  writeFileSync(file, JSON.stringify({ format: 'spc-tuning-measurements', device: DEVICE, results }));
  return results;
}

describe('spc tune: the measuring half', () => {
  const d = mkdtempSync(join(tmpdir(), 'spc-tune-'));
  const spec = join(d, 'tb.spc');
  writeFileSync(spec, SPEC);
  const emit = join(d, 'emit');

  it('--emit writes one package per kept candidate, with its config and bands, the plan choice first', async () => {
    const r = await spc('tune', spec, '--target', 'cuda', '--seq', '2048', '--plan-only', '--emit', emit);
    expect(r.code, r.stderr).toBe(0);
    const list = JSON.parse(readFileSync(join(emit, 'tune_candidates.json'), 'utf8')) as Listed[];
    const plan = JSON.parse(readFileSync(join(emit, 'tune_plan.json'), 'utf8')) as TuningRecord;
    const e = plan.entries[0]!;
    const kept = e.candidates.filter((c) => c.pruned === null);
    expect(list).toHaveLength(kept.length);
    expect(list[0]!.candidate).toBe(e.choice);
    for (const x of list) {
      const c = e.candidates[x.candidate]!;
      expect(c.pruned).toBeNull();
      expect(x.id).toBe(c.id);
      const manifest = JSON.parse(readFileSync(join(emit, `${x.package}.manifest.json`), 'utf8')) as { config: { sm90: unknown } };
      expect(manifest.config.sm90).toEqual(c.config.sm90);
      // The package's head table has the candidate's bands at N = 2048 (the generated Python table).
      const table = readFileSync(join(emit, x.package, '_table.py'), 'utf8');
      expect(table).toContain(JSON.stringify(c.bounds).replace(/,/g, ', '));
      for (const f of ['kernel.cu', '_op.py', 'binding.cpp']) expect(existsSync(join(emit, x.package, f)), `${x.package}/${f}`).toBe(true);
    }
  }, 120_000);

  it('--emit-max K writes the choice, its twin with the other bands, then the rest spread over the predicted order', async () => {
    const all = JSON.parse(readFileSync(join(emit, 'tune_candidates.json'), 'utf8')) as Listed[];
    const few = join(d, 'emit-few');
    const r = await spc('tune', spec, '--target', 'cuda', '--seq', '2048', '--plan-only', '--emit', few, '--emit-max', '5');
    expect(r.code, r.stderr).toBe(0);
    const list = JSON.parse(readFileSync(join(few, 'tune_candidates.json'), 'utf8')) as Listed[];
    const e = (JSON.parse(readFileSync(join(few, 'tune_plan.json'), 'utf8')) as TuningRecord).entries[0]!;
    expect(all.length).toBeGreaterThan(5);
    expect(list).toHaveLength(5);
    const [choice, twin, ...rest] = list.map((x) => e.candidates[x.candidate]!);
    expect(list[0]!.candidate).toBe(e.choice);
    expect(twin!.config).toEqual(choice!.config);
    expect(new Set([choice!.bands, twin!.bands])).toEqual(new Set(['base', 'tuned']));
    // The rest: kept, distinct, in the full list's (predicted) order, its last one included.
    const pos = rest.map((c) => all.findIndex((x) => e.candidates[x.candidate] !== undefined && x.id === c.id));
    expect(pos.every((p, i) => p > 0 && (i === 0 || p > pos[i - 1]!))).toBe(true);
    expect(rest.every((c) => c.pruned === null)).toBe(true);
    expect(list[4]!.id).toBe(all.filter((x) => x.candidate !== list[0]!.candidate && x.candidate !== list[1]!.candidate).at(-1)!.id);
    for (const x of list) expect(existsSync(join(few, x.package, 'kernel.cu'))).toBe(true);
    const skipped = all.find((x) => !list.some((y) => y.package === x.package))!;
    expect(existsSync(join(few, skipped.package))).toBe(false);
    // The twin may be one the model pruned; measured fastest, it is chosen and the record is valid.
    const m = join(d, 'measured-twin.json');
    writeMeasured(m, list, (i) => (i === 1 ? 0.5 : 1 + i));
    const rec = join(d, 'rec-twin.json');
    const t = await spc('tune', spec, '--target', 'cuda', '--measured', m, '--plan', join(few, 'tune_plan.json'), '--record', rec);
    expect(t.code, t.stderr).toBe(0);
    const record = JSON.parse(readFileSync(rec, 'utf8')) as TuningRecord;
    expect('record' in validateRecord(record)).toBe(true);
    expect(record.entries[0]!.choice).toBe(list[1]!.candidate);
    const bad = await spc('tune', spec, '--target', 'cuda', '--plan-only', '--emit-max', '5');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--emit-max K needs --emit DIR');
  }, 120_000);

  it('--measured with per-head times (tune_measure.py --per-head) keeps them and reports the balance of the choice and its twin', async () => {
    const few = join(d, 'emit-few');
    const list = JSON.parse(readFileSync(join(few, 'tune_candidates.json'), 'utf8')) as Listed[];
    // Made-up times for the test (8 heads): the choice (first listed) fastest, its heads 1.2 : 1 ...;
    // its twin with the other bands (second listed) evenly balanced; the rest without per-head times.
    const choiceHeads = [1.2, 1, 1, 1, 1, 1, 1, 1];
    const twinHeads = [1, 1, 1, 1, 1, 1, 1, 1];
    const m = join(d, 'measured-heads.json');
    const results = writeMeasured(
      m,
      list,
      (i) => (i === 0 ? 0.5 : 1 + i),
      (i) => (i < 2 ? { per_head_ms: i === 0 ? choiceHeads : twinHeads } : {}),
    );
    const rec = join(d, 'rec-heads.json');
    const plan = join(few, 'tune_plan.json');
    const r = await spc('tune', spec, '--target', 'cuda', '--measured', m, '--plan', plan, '--record', rec);
    expect(r.code, r.stderr).toBe(0);
    const record = JSON.parse(readFileSync(rec, 'utf8')) as TuningRecord;
    expect('record' in validateRecord(record)).toBe(true);
    const e = record.entries[0]!;
    expect(e.choice).toBe(list[0]!.candidate);
    expect(e.candidates[list[0]!.candidate]!.measured_head_ms).toEqual(choiceHeads);
    expect(e.candidates[list[1]!.candidate]!.measured_head_ms).toEqual(twinHeads);
    // max / mean: 1.2 / (8.2 / 8) = 1.171; the twin 1.000.
    expect(r.stdout).toContain('chosen, each head alone: per-head max/mean 1.171');
    expect(r.stdout).toContain(`${e.candidates[list[1]!.candidate]!.id}, each head alone: per-head max/mean 1.000`);
    // A per-head list of the wrong length, or with a non-positive time, is refused (exit 2).
    for (const ph of [
      [1, 1, 1],
      [1, 1, 1, 1, 1, 1, 1, 0],
    ]) {
      writeFileSync(m, JSON.stringify({ format: 'spc-tuning-measurements', device: DEVICE, results: [{ ...results[0], per_head_ms: ph }] }));
      const b = await spc('tune', spec, '--target', 'cuda', '--measured', m, '--plan', plan);
      expect(b.code).toBe(2);
      expect(b.stderr).toMatch(ph.length === 3 ? /has 3 per-head times, layout tb has 8 heads/ : /per_head_ms must be a list of positive times/);
    }
  }, 120_000);

  it("--measured fits the cost model to the choice's per-head times (each head alone: what headCost predicts) and recovers known constants", async () => {
    const few = join(d, 'emit-few');
    const list = JSON.parse(readFileSync(join(few, 'tune_candidates.json'), 'utf8')) as Listed[];
    const plan = join(few, 'tune_plan.json');
    const planned = JSON.parse(readFileSync(plan, 'utf8')) as TuningRecord;
    const c = planned.entries[list[0]!.entry]!.candidates[list[0]!.candidate]!;
    expect(c.bounds).not.toBeNull();
    const [bm, bn] = c.tile;
    // Made-up per-head times that follow the model exactly, with item 0.4 and partialTile 0.8 (per
    // full tile), 3 us per reference tile: the fit must give those constants back.
    const l = compileSource(SPEC)[0]!;
    const pricer = new BandPricer(l, c.bounds!.at(-1)!, bm, bn);
    const truth = { ...DEFAULT_COST_MODEL, item: 0.4, partialTile: 0.8 };
    const heads = Array.from({ length: l.heads }, (_, h) => 0.003 * headCost(truth, bm, bn, pricer.work(h, c.bounds![h]!, c.bounds![h + 1]!)));
    const m = join(d, 'measured-fit.json');
    writeMeasured(
      m,
      list,
      (i) => (i === 0 ? 0.5 : 1 + i),
      (i) => (i === 0 ? { per_head_ms: heads } : {}),
    );
    const r = await spc('tune', spec, '--target', 'cuda', '--measured', m, '--plan', plan);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`cost model fitted to the choice's per-head times: --cost '{"item":0.4,"partialTile":0.8}'\n`);
    expect(r.stdout).toMatch(/fitted 1\.00; per-head max\/mean measured (\d\.\d+), plan's model \d\.\d+, fitted \1/);
    const f = fitPerHead(l, c.bounds!.at(-1)!, { ...c, measured_head_ms: heads }, DEFAULT_COST_MODEL)!;
    expect(f.model.item).toBeCloseTo(0.4, 9);
    expect(f.model.partialTile).toBeCloseTo(0.8, 9);
    expect(f.physical).toBe(true);
    expect(f.correlation.fitted).toBeCloseTo(1, 9);
    // Times the fitted model explains exactly: nothing is left per head.
    for (const x of f.headScale) expect(x).toBeCloseTo(1, 9);
    expect(r.stdout).toContain(`--head-scale ${Array(l.heads).fill('1.000').join(',')}`);
    // Times that fall as the tiles grow (the heads' times reversed) cannot come from the model: a
    // negative constant, flagged, and the command says not to use it.
    const rev = fitPerHead(l, c.bounds!.at(-1)!, { ...c, measured_head_ms: [...heads].reverse() }, DEFAULT_COST_MODEL)!;
    expect(rev.physical).toBe(false);
    writeMeasured(
      m,
      list,
      (i) => (i === 0 ? 0.5 : 1 + i),
      (i) => (i === 0 ? { per_head_ms: [...heads].reverse() } : {}),
    );
    const r2 = await spc('tune', spec, '--target', 'cuda', '--measured', m, '--plan', plan);
    expect(r2.code, r2.stderr).toBe(0);
    expect(r2.stdout).toContain('(a negative constant: these times do not follow the model; do not use it)');
  }, 120_000);

  it('--measured chooses the fastest timed candidate, never a failed one, and the record compiles', async () => {
    const list = JSON.parse(readFileSync(join(emit, 'tune_candidates.json'), 'utf8')) as Listed[];
    expect(list.length).toBeGreaterThanOrEqual(3);
    // Made-up times: the last listed is fastest but failed; the second to last is the fastest timed.
    const m = join(d, 'measured.json');
    writeMeasured(
      m,
      list,
      (i) => (i === list.length - 1 ? null : 1 + (list.length - i) / 100),
      undefined,
      () => 'time: exit 1: an illegal memory access',
    );
    const rec = join(d, 'rec.json');
    const r = await spc('tune', spec, '--target', 'cuda', '--measured', m, '--plan', join(emit, 'tune_plan.json'), '--record', rec);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('measured on test device');
    const record = JSON.parse(readFileSync(rec, 'utf8')) as TuningRecord;
    expect('record' in validateRecord(record)).toBe(true);
    const e = record.entries[0]!;
    const want = list[list.length - 2]!.candidate;
    expect(e.choice).toBe(want);
    expect(e.measured).toBe(true);
    expect(e.bands).toEqual(e.candidates[want]!.bounds);
    expect(e.candidates[list[list.length - 1]!.candidate]!.failed).toContain('illegal memory access');
    expect(record.device.name).toBe('test device');
    const out = join(d, 'out');
    const c = await spc('compile', spec, '--target', 'ir', '--tuning', rec, '-o', out);
    expect(c.code, c.stderr).toBe(0);
  }, 120_000);

  it('compile --tuning to cuda compiles in the kernel config the record chose by time (picked at run time), under --config', async () => {
    const list = JSON.parse(readFileSync(join(emit, 'tune_candidates.json'), 'utf8')) as Listed[];
    const plan = JSON.parse(readFileSync(join(emit, 'tune_plan.json'), 'utf8')) as TuningRecord;
    const cands = plan.entries[0]!.candidates;
    // Made-up times: the fastest is the first listed candidate whose config is not the heuristic's (the plan's choice).
    const k = list.findIndex((x) => JSON.stringify(cands[x.candidate]!.config) !== JSON.stringify(cands[list[0]!.candidate]!.config));
    expect(k).toBeGreaterThan(0);
    const m = join(d, 'measured-config.json');
    writeMeasured(m, list, (i) => (i === k ? 0.5 : 1 + i / 100));
    const rec = join(d, 'rec-config.json');
    expect((await spc('tune', spec, '--target', 'cuda', '--measured', m, '--plan', join(emit, 'tune_plan.json'), '--record', rec)).code).toBe(0);
    const chosen = cands[list[k]!.candidate]!;
    type M = { config: { sm90: Record<string, unknown> }; runtime_configs: { variants: { sm90: Record<string, unknown> }[]; tuned: unknown[] } };
    const manifestOf = (dir: string) => JSON.parse(readFileSync(join(dir, 'tb.manifest.json'), 'utf8')) as M;
    const out = join(d, 'cuda-tuned');
    const c = await spc('compile', spec, '--target', 'cuda', '--tuning', rec, '-o', out);
    expect(c.code, c.stderr).toBe(0);
    expect(c.stderr).toContain(`kernel configs from ${rec}, chosen by measured time on test device (picked at run time by GPU and N): N = 2048: ${chosen.id}`);
    // The package's config stays the heuristic (variant 0, for other GPUs and lengths); the choice is variant 1, for the record's GPU at N <= 2048.
    const mf = manifestOf(out);
    expect(mf.config.sm90).toEqual(cands[list[0]!.candidate]!.config.sm90);
    expect(mf.runtime_configs.variants.map((v) => v.sm90)).toEqual([mf.config.sm90, chosen.config.sm90]);
    expect(mf.runtime_configs.tuned).toEqual([{ device: 'test device', n: 2048, variant: 1 }]);
    // --config goes over the record's choice and the heuristic, field by field.
    const out2 = join(d, 'cuda-tuned-config');
    const c2 = await spc('compile', spec, '--target', 'cuda', '--tuning', rec, '--config', '{"sm90": {"minBlocks": 1}}', '-o', out2);
    expect(c2.code, c2.stderr).toBe(0);
    expect(manifestOf(out2).runtime_configs.variants.map((v) => v.sm90)).toContainEqual({ ...(chosen.config.sm90 as object), minBlocks: 1 });
    // Another target takes the bands only.
    const w = await spc('compile', spec, '--target', 'wgsl', '--tuning', rec, '-o', join(d, 'wgsl-tuned'));
    expect(w.code, w.stderr).toBe(0);
    expect(w.stderr).not.toContain('kernel config');
    // The record with its entry made for another spec: refused (E084, exit 2), nothing written, for either target.
    const stale = JSON.parse(readFileSync(rec, 'utf8')) as TuningRecord;
    stale.entries[0]!.spec_hash = `sha256:${'0'.repeat(64)}`;
    const staleFile = join(d, 'rec-stale.json');
    writeFileSync(staleFile, JSON.stringify(stale));
    for (const target of ['cuda', 'wgsl']) {
      const o = join(d, `stale-${target}`);
      const r = await spc('compile', spec, '--target', target, '--tuning', staleFile, '-o', o);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toMatch(/error\[E084\].*different spec/);
      expect(existsSync(o)).toBe(false);
    }
  }, 120_000);

  it('recordConfigs: each measured entry of the layout, target and spec gives its GPU, N and config', () => {
    const cand = (id: string, sm90: Record<string, unknown>) => ({ id, config: { sm90 } }) as unknown as TuningRecord['entries'][number]['candidates'][number];
    const layouts = [{ name: 'tb' }, { name: 'other' }] as unknown as LayoutIR[];
    const hash = specHash(layouts[0]!);
    const entry = (n: number, measured: boolean, c: ReturnType<typeof cand>, spec_hash = hash) =>
      ({ layout: 'tb', spec_hash, n, target: 'cuda', measured, choice: 0, candidates: [c] }) as unknown as TuningRecord['entries'][number];
    const a = cand('a', { stages: 2 });
    const b = cand('b', { stages: 3 });
    const record = (entries: TuningRecord['entries'], name: string | null = 'GPU') => ({ device: { name }, entries }) as unknown as TuningRecord;
    let notes = '';
    const note = (s: string) => (notes += s);
    expect(recordConfigs(record([entry(4096, true, b), entry(2048, true, a)]), 'r.json', layouts, 'cuda', note)).toEqual({
      tb: [
        { device: 'GPU', n: 2048, id: 'a', config: { sm90: { stages: 2 } } },
        { device: 'GPU', n: 4096, id: 'b', config: { sm90: { stages: 3 } } },
      ],
    });
    expect(notes).toContain('chosen by measured time on GPU (picked at run time by GPU and N): N = 2048: a; N = 4096: b');
    // Chosen by the cost model alone (not measured), or for another target: none, with a note. Made
    // for another spec, or with no GPU name: the record does not fit (E084), as for the WGSL target.
    notes = '';
    expect(recordConfigs(record([entry(2048, false, b)]), 'r.json', layouts, 'cuda', note)).toEqual({});
    expect(notes).toContain('layout tb: r.json has no measured entry for this target');
    notes = '';
    expect(recordConfigs(record([entry(2048, true, b)]), 'r.json', layouts, 'wgsl', note)).toEqual({});
    expect(notes).toContain('layout tb: r.json has entries for target cuda only: its kernel configs are the heuristic');
    notes = '';
    expect(recordConfigs(record([{ ...entry(2048, true, b), layout: 'missing' }]), 'r.json', layouts, 'cuda', note)).toEqual({});
    expect(notes).toContain('layout tb: r.json has no entry for this layout');
    expect(() => recordConfigs(record([entry(2048, true, b, `sha256:${'0'.repeat(64)}`)]), 'r.json', layouts, 'cuda', note)).toThrow(
      "E084: tuning record r.json does not fit layout 'tb': its cuda entries were made for a different spec: tune again",
    );
    // One stale entry among current ones is refused too (the record is not half taken).
    expect(() => recordConfigs(record([entry(4096, true, a), entry(2048, false, b, `sha256:${'1'.repeat(64)}`)]), 'r.json', layouts, 'cuda', note)).toThrow(
      /E084: .*different spec/,
    );
    expect(() => recordConfigs(record([entry(2048, true, b)], null), 'r.json', layouts, 'cuda', note)).toThrow(
      "E084: tuning record r.json does not fit layout 'tb': its cuda entries name no GPU (device.name; not written by spc tune)",
    );
  });

  it('a record that gives a layout nothing says so (CUDA kernel configs, WGSL tiled variants)', () => {
    const layouts = compileSource('layout a { heads 2 head_dim 64 seq N partition equal_pairs pattern band }');
    const rec = { device: { name: 'GPU' }, entries: [{ layout: 'b', target: 'wgsl', measured: true }] } as unknown as TuningRecord;
    let notes = '';
    expect(recordConfigs(rec, 'r.json', layouts, 'cuda', (x) => (notes += x))).toEqual({});
    expect(wgslTunings(rec, 'r.json', layouts, (x) => (notes += x))).toEqual({});
    expect(notes).toBe(
      "layout a: r.json has no entry for this layout: its kernel configs are the heuristic's\n" +
        'layout a: r.json has no entry for this layout: no tiled variant from the record (the automatic choice)\n',
    );
  });

  it('measurements of another plan, or a malformed file, are refused with exit 2', async () => {
    const m = join(d, 'bad.json');
    writeFileSync(
      m,
      JSON.stringify({
        format: 'spc-tuning-measurements',
        device: { name: 'x', sm_count: 132, driver: null, cuda: null, pytorch: null },
        results: [{ package: 'p', entry: 0, candidate: 100000, layout: 'tb', n: 2048, measured_ms: 1, failed: null }],
      }),
    );
    const r = await spc('tune', spec, '--target', 'cuda', '--measured', m, '--plan', join(emit, 'tune_plan.json'));
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('does not match the plan');
    writeFileSync(m, '{"format": "something else"}');
    const r2 = await spc('tune', spec, '--target', 'cuda', '--measured', m, '--plan', join(emit, 'tune_plan.json'));
    expect(r2.code).toBe(2);
    expect(r2.stderr).toContain('not a measurements file');
    const r3 = await spc('tune', spec, '--target', 'cuda', '--measured', m);
    expect(r3.code).toBe(2);
    expect(r3.stderr).toContain('--measured needs --plan');
  });

  it('rank correlation: +1 for the same order, -1 reversed, ties at their mean rank', () => {
    expect(rankCorrelation([1, 2, 3, 4], [10, 20, 30, 40])).toBeCloseTo(1);
    expect(rankCorrelation([1, 2, 3, 4], [4, 3, 2, 1])).toBeCloseTo(-1);
    expect(rankCorrelation([1, 2, 2, 3], [1, 2, 3, 4])).toBeCloseTo(0.9487, 3);
    expect(rankCorrelation([1, 2], [1, 2])).toBeNull();
  });

  it('tune_measure.py is valid Python without torch (pyflakes; its child program parses)', () => {
    execFileSync('pyflakes3', ['bench/cuda/tune_measure.py']);
    execFileSync('python3', ['-c', "import ast, runpy; ast.parse(runpy.run_path('bench/cuda/tune_measure.py', run_name='x')['CHILD'])"]);
  });
});
