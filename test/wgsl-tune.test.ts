// `spc tune --target wgsl` for real, on Dawn/Mesa (llvmpipe): the tuner times a few tiled variants
// at small N (each checked against the float64 oracle first), one injected variant that the
// adapter's limits refuse is recorded as failed, and the record has the CUDA record's shape with
// target 'wgsl' and the adapter. Then `spc compile --target wgsl --tuning RECORD`: createAttention
// takes the record's variant on this adapter (choice 'record'), the bucket of N (the smallest
// recorded N at or above it), and falls back to the automatic choice on another adapter
// description or above the largest recorded N. Tile configurations never change results: the
// record's variant is checked against the oracle too.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../src/driver/cli.js';
import { instantiate } from '../src/ir/index.js';
import { referenceAttention } from '../src/oracle.js';
import { validateRecord, type TuningRecord } from '../src/tuner/record.js';
import * as runtime from '../targets/wgsl/runtime/spc-wgsl-runtime.js';
import { layoutsOf, openGpu, randomArray, relError, type Gpu, type WgslModule } from './wgsl-helpers.js';

const SPEC = `layout tune_small {
  heads 4
  head_dim 32
  dtype fp32
  seq N
  partition equal_width
  pattern band
}
`;
// 512 rows of 32 floats and 64 x 32 x 4 floats of Q: 160 KiB of workgroup memory, over llvmpipe's 32 KiB.
const INJECTED = 'wg-512x32-t4x8';

const dir = mkdtempSync(join(tmpdir(), 'spc-wgsl-tune-'));
const spec = join(dir, 'small.spc');
const recordFile = join(dir, 'record.json');
let record: TuningRecord;
let tuneOut = '';
let tuneErr = '';
let tuneCode = -1;
const mods: Record<'same' | 'forced' | 'other', WgslModule> = {} as never;
let gpu: Gpu;

async function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await run(args, { stdout: (s) => (out += s), stderr: (s) => (err += s) });
  return { code, out, err };
}

async function compileWith(rec: TuningRecord, name: string): Promise<WgslModule> {
  const file = join(dir, `${name}.json`);
  writeFileSync(file, JSON.stringify(rec));
  const out = join(dir, `out-${name}`);
  const r = await cli(['compile', spec, '--target', 'wgsl', '--tuning', file, '-o', out]);
  expect(r.code, r.err).toBe(0);
  writeFileSync(join(out, 'package.json'), '{ "type": "module" }\n');
  return (await import(pathToFileURL(join(out, 'tune_small.js')).href)) as WgslModule;
}

const chosenName = (r: TuningRecord, n: number) => {
  const e = r.entries.find((x) => x.n === n)!;
  return e.candidates[e.choice]!.id.split(' / ')[0]!;
};

beforeAll(async () => {
  writeFileSync(spec, SPEC);
  const r = await cli([
    'tune',
    spec,
    '--target',
    'wgsl',
    '--backend',
    'opengl',
    '--seq',
    '256,512',
    '--check-n',
    '64',
    '--max-candidates',
    '3',
    '--reps',
    '2',
    '--include',
    INJECTED,
    '--record',
    recordFile,
  ]);
  tuneCode = r.code;
  tuneOut = r.out;
  tuneErr = r.err;
  record = JSON.parse(readFileSync(recordFile, 'utf8')) as TuningRecord;
  // Modules, all imported before the test's device exists: the record as written; the record with
  // its N = 256 choice moved to a timed candidate other than the automatic choice (so that the
  // record's variant is not the automatic one); the record with another adapter description.
  mods.same = await compileWith(record, 'same');
  const forced = JSON.parse(JSON.stringify(record)) as TuningRecord;
  const e = forced.entries.find((x) => x.n === 256)!;
  const autoName = /\(automatic choice: (\S+)\)/.exec(tuneErr)![1]!;
  e.choice = e.candidates.findIndex((c) => c.measured_ms !== null && !c.id.startsWith(`${autoName} `));
  forced.entries = [e]; // one N only: 256
  mods.forced = await compileWith(forced, 'forced');
  const other = JSON.parse(JSON.stringify(record)) as TuningRecord;
  other.device.adapter!.description = 'Some Other GPU 1.0';
  mods.other = await compileWith(other, 'other');
  gpu = await openGpu('opengl', { adapterLimits: true }); // the tuner's device has the adapter's limits too
}, 120_000);

afterAll(() => gpu?.destroy());

describe('spc tune --target wgsl on Dawn/Mesa', () => {
  it('writes a valid record of the CUDA format: target wgsl, the adapter, every candidate', () => {
    expect(tuneCode, tuneErr).toBe(0);
    const v = validateRecord(record);
    expect('record' in v ? [] : v.problems).toEqual([]);
    expect(record.format).toBe('spc-tuning-record');
    const a = record.device.adapter!;
    expect(a.backend).toBe('opengl');
    expect(a.timing).toBe('wall'); // llvmpipe under Dawn's GL backend has no timestamp-query
    const info = gpu.adapter.info;
    expect([a.vendor, a.architecture, a.device, a.description]).toEqual([
      info.vendor ?? '',
      info.architecture ?? '',
      info.device ?? '',
      info.description ?? '',
    ]);
    expect(record.device.name).toContain(info.description);
    expect(record.entries.map((e) => [e.layout, e.n, e.target, e.measured])).toEqual([
      ['tune_small', 256, 'wgsl', true],
      ['tune_small', 512, 'wgsl', true],
    ]);
    for (const e of record.entries) {
      const timed = e.candidates.filter((c) => c.measured_ms !== null);
      const failed = e.candidates.filter((c) => c.failed !== null);
      expect(timed.length).toBe(3); // --max-candidates 3; the injected one on top, failed
      expect(failed.map((c) => c.id)).toEqual([`${INJECTED} / bands none`]);
      // The choice: the fastest timed candidate.
      expect(e.candidates[e.choice]!.measured_ms).toBe(Math.min(...timed.map((c) => c.measured_ms!)));
      // The rest are listed, not timed, and say why.
      for (const c of e.candidates.filter((x) => x.measured_ms === null && x.failed === null)) expect(c.pruned).toMatch(/^not timed: over --max-candidates 3/);
      expect(e.candidates.length).toBeGreaterThan(10);
      for (const c of e.candidates) expect(c.config).toHaveProperty('reduce', 'workgroup'); // Mesa has no subgroups: those were refused
    }
  });

  it('checked every timed candidate against the float64 oracle before timing it', () => {
    for (const e of record.entries)
      for (const c of e.candidates.filter((x) => x.measured_ms !== null)) {
        expect(c.checked, c.id).toMatchObject({ n: 64, bound: 1e-5 });
        expect(c.checked!.rel_err_out!).toBeLessThan(1e-5);
        expect(c.checked!.rel_err_lse!).toBeLessThan(1e-5);
        expect(c.measured_ms!).toBeGreaterThan(0);
      }
  });

  it('checks at --check-n, but never beyond the longest N tuned (the whole bucket then)', async () => {
    const file = join(dir, 'long-check.json');
    const r = await cli([
      'tune',
      spec,
      '--target',
      'wgsl',
      '--backend',
      'opengl',
      '--seq',
      '192',
      '--check-n',
      '100000',
      '--max-candidates',
      '1',
      '--reps',
      '1',
      '--record',
      file,
    ]);
    expect(r.code, r.err).toBe(0);
    const rec = JSON.parse(readFileSync(file, 'utf8')) as TuningRecord;
    const timed = rec.entries[0]!.candidates.filter((c) => c.measured_ms !== null);
    expect(timed.length).toBeGreaterThan(0);
    for (const c of timed) expect(c.checked, c.id).toMatchObject({ n: 192 });
  }, 120_000);

  it('records the candidate the adapter cannot run as failed, with the reason, and goes on', () => {
    for (const e of record.entries) {
      const c = e.candidates.find((x) => x.id.startsWith(INJECTED))!;
      expect(c.measured_ms).toBeNull();
      expect(c.failed).toMatch(/cannot run on this device: the device allows maxComputeWorkgroupStorageSize = \d+, the variant needs \d+/);
    }
    expect(tuneErr).toMatch(new RegExp(`\\[4/4\\] tune_small N=256 ${INJECTED} / bands none: FAILED`));
    expect(tuneErr).toMatch(/\[1\/4\] tune_small N=512 /); // the next N ran after the failure
  });

  it('prints the summary table: the automatic choice, the chosen one and each candidate', () => {
    expect(tuneOut).toMatch(/^WGSL tuning on .*llvmpipe/);
    expect(tuneOut).toMatch(/layout tune_small at N = 256: 3 timed, 1 failed, \d+ not timed/);
    expect(tuneOut).toContain(`  chosen (fastest): ${chosenName(record, 256)} / bands none`);
    expect(tuneOut).toMatch(/ok \d\.\de-\d+ at N = 64/);
  });
});

describe('spc compile --target wgsl --tuning RECORD', () => {
  it('compiles the choices in; createAttention takes the record variant on the same adapter, by N bucket', async () => {
    const tuned = (mods.same as unknown as { TUNED: { choices: { n: number; variant: string }[] } }).TUNED;
    expect(tuned.choices.map((c) => [c.n, c.variant])).toEqual([
      [256, chosenName(record, 256)],
      [512, chosenName(record, 512)],
    ]);
    for (const [n, bucket] of [
      [256, 256],
      [100, 256],
      [300, 512],
      [512, 512],
    ] as const) {
      const att = await mods.same.createAttention(gpu.device, { n });
      expect([att.choice, att.tiledVariant], att.choiceReason).toEqual(['record', chosenName(record, bucket)]);
      expect(att.choiceReason).toContain(`at N = ${bucket}`);
      att.destroy();
    }
    // Above the largest recorded N: the automatic choice.
    const above = await mods.same.createAttention(gpu.device, { n: 600 });
    expect(above.choice).toBe('auto');
    expect(above.choiceReason).toMatch(/no N at or above 600/);
    above.destroy();
    // A named variant wins over the record.
    const named = await mods.same.createAttention(gpu.device, { n: 256, variant: 'rows' });
    expect([named.choice, named.variant]).toEqual(['named', 'rows']);
    named.destroy();
  });

  it('a record variant other than the automatic one runs, and gives the oracle result', async () => {
    const want = chosenName(JSON.parse(readFileSync(join(dir, 'forced.json'), 'utf8')) as TuningRecord, 256);
    const auto = await mods.forced.createAttention(gpu.device, { n: 256, variant: 'tiled' });
    expect(want).not.toBe(auto.tiledVariant);
    auto.destroy();
    const att = await mods.forced.createAttention(gpu.device, { n: 256 });
    expect([att.choice, att.tiledVariant]).toEqual(['record', want]);
    const s = mods.forced.sizes(256, 1);
    const q = randomArray(s.q, 11);
    const k = randomArray(s.k, 12);
    const v = randomArray(s.v, 13);
    const got = await att.run(q, k, v);
    const ref = referenceAttention(instantiate(layoutsOf(SPEC)[0]!, 256), { batch: 1, q, k, v });
    expect(relError(got.out, ref.out)).toBeLessThan(1e-5);
    expect(relError(got.lse, ref.lse)).toBeLessThan(1e-5);
    att.destroy();
  });

  it('falls back to the automatic choice on a different adapter description', async () => {
    const att = await mods.other.createAttention(gpu.device, { n: 256 });
    expect(att.choice).toBe('auto');
    expect(att.choiceReason).toMatch(/is for another adapter \(description "Some Other GPU 1\.0", this device has ".*Mesa/);
    const auto = await mods.other.createAttention(gpu.device, { n: 256, variant: 'tiled' });
    expect(att.tiledVariant).toBe(auto.tiledVariant);
    att.destroy();
    auto.destroy();
  });
});

describe('spc compile --target wgsl --tuning: records it refuses (E084, exit 2)', () => {
  it('a choice not timed and oracle-checked, another spec, no adapter', async () => {
    const refused = async (edit: (r: TuningRecord) => void, msg: RegExp) => {
      const r = JSON.parse(JSON.stringify(record)) as TuningRecord;
      edit(r);
      const file = join(dir, 'refused.json');
      writeFileSync(file, JSON.stringify(r));
      const c = await cli(['compile', spec, '--target', 'wgsl', '--tuning', file, '-o', join(dir, 'out-refused')]);
      expect(c.code, c.err).toBe(2);
      expect(c.err).toMatch(/error\[E084\]/);
      expect(c.err).toMatch(msg);
    };
    const chosen = (r: TuningRecord) => r.entries[0]!.candidates[r.entries[0]!.choice]!;
    const notChecked = /was not timed and checked against the oracle/;
    await refused((r) => void (chosen(r).checked = null), notChecked);
    await refused((r) => void (chosen(r).checked = { ...chosen(r).checked!, rel_err_out: 0.5 }), notChecked);
    await refused((r) => {
      chosen(r).failed = 'wrong';
      chosen(r).measured_ms = null;
    }, notChecked);
    await refused((r) => void (r.entries[0]!.spec_hash = `sha256:${'0'.repeat(64)}`), /made for a different spec/);
    await refused((r) => void delete r.device.adapter, /no WebGPU adapter in device\.adapter/);
  });
});

describe('the runtime: a tuning record applies only to the adapter it names', () => {
  it('never on a device without adapter information, or with all of it blank (as browsers may report)', () => {
    const blank = { vendor: '', architecture: '', device: '', description: '' };
    const kernel = {
      tuned: { record: 'r.json', device: blank, choices: [{ n: 4096, variant: 'wg-16x8-t2x8-pad' }] },
      tiled: [],
    } as unknown as runtime.WgslKernel;
    for (const adapterInfo of [undefined, blank]) {
      const t = runtime.tunedVariant(kernel, { adapterInfo } as unknown as GPUDevice, 1024);
      expect(t.name).toBeNull();
      expect(t.reason).toMatch(/reports no adapter information/);
    }
  });
});

describe('spc tune --target wgsl: usage', () => {
  it('refuses the CUDA-only options and bad variant names, exit 2', async () => {
    for (const [args, msg] of [
      [['--emit', dir], /--emit is for --target cuda/],
      [['--include', 'bogus'], /--include takes tiled variant names/],
    ] as const) {
      const r = await cli(['tune', spec, '--target', 'wgsl', ...args]);
      expect(r.code).toBe(2);
      expect(r.err).toMatch(msg);
    }
    const r = await cli(['tune', spec, '--target', 'cuda', '--plan-only', '--max-candidates', '3']);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/--max-candidates is for --target wgsl/);
  });
});
