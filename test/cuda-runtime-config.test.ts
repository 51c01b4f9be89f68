// Run-time kernel configs (issue 17): `spc compile --tuning` with a record that chose a different
// sm90 config at each N compiles each distinct one in, and the package picks one per GPU name
// and length: the record's entry with the nearest N at or above, a run-time cache record
// (SPC_TUNING_CACHE), else the heuristic. Here: what is compiled in, the pick (the package's own
// Python, no GPU, no torch), and the generated .cu with the real nvcc. Running the picked kernels
// is bench/cuda/runtime-config-check.sh on the GPU machine.
import { execFile, execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { configId, FASTEST, measuredRecord, SPEC } from '../bench/cuda/prepare_runtime_config.js';
import { TargetError } from '../codegen/target.js';
import { run } from '../src/driver/cli.js';
import { compileSource } from '../src/driver/pipeline.js';
import { readRecord } from '../src/driver/tuning.js';
import type { TuningRecord } from '../src/tuner/record.js';
import { configsFor, defaultConfig, sm90Id } from '../targets/cuda/index.js';

const run$ = promisify(execFile);

async function spc(...argv: string[]) {
  let stdout = '';
  let stderr = '';
  const code = await run(argv, { stdout: (s) => (stdout += s), stderr: (s) => (stderr += s) });
  return { code, stdout, stderr };
}

const H200 = 'NVIDIA H200';
const [layout] = compileSource(SPEC);
const HEURISTIC = sm90Id(defaultConfig(layout!).sm90);
const NS = Object.keys(FASTEST).map(Number);

interface Manifest {
  config: unknown;
  kernels: Record<string, Record<string, unknown>>;
  runtime_configs: { spec_hash: string; variants: { variant: number; kernels: string; id: string }[]; tuned: { device: string; n: number; variant: number }[] };
}

describe('run-time kernel configs (CUDA)', () => {
  const d = mkdtempSync(join(tmpdir(), 'spc-rtcfg-'));
  const spec = join(d, 'rtcfg.spc');
  writeFileSync(spec, SPEC);
  const recFile = join(d, 'record.json');
  const out = join(d, 'pkg');
  let record: TuningRecord;

  it('spc compile --tuning with a multi-N record compiles in each distinct chosen config, variant 0 the heuristic', async () => {
    expect(HEURISTIC).toBe(FASTEST[16384]); // the record chooses the heuristic's config at 16384
    const plan = await spc('tune', spec, '--target', 'cuda', '--plan-only', '--seq', NS.join(','), '--record', join(d, 'plan.json'));
    expect(plan.code, plan.stderr).toBe(0);
    record = measuredRecord(readRecord(join(d, 'plan.json')), [layout!], FASTEST, H200);
    expect(record.entries.map((e) => [e.n, configId(e.candidates[e.choice]!.id), e.measured])).toEqual(NS.map((n) => [n, FASTEST[n], true]));
    writeFileSync(recFile, JSON.stringify(record));
    const c = await spc('compile', spec, '--target', 'cuda', '--tuning', recFile, '-o', out);
    expect(c.code, c.stderr).toBe(0);
    expect(c.stderr).toContain(
      `layout rtcfg: kernel configs from ${recFile}, chosen by measured time on ${H200} (picked at run time by GPU and N): ${NS.map((n) => `N = ${n}: ${FASTEST[n]} / bands none`).join('; ')}`,
    );
    const m = JSON.parse(readFileSync(join(out, 'rtcfg.manifest.json'), 'utf8')) as Manifest;
    expect(m.config).toEqual(defaultConfig(layout!));
    const ids = [HEURISTIC, FASTEST[2048], FASTEST[4096], FASTEST[8192]];
    expect(m.runtime_configs.variants.map((v) => [v.variant, v.kernels, v.id])).toEqual(ids.map((id, v) => [v, v ? `sm90v${v}` : 'sm90', id]));
    expect(m.runtime_configs.tuned).toEqual([
      { device: H200, n: 2048, variant: 1 },
      { device: H200, n: 4096, variant: 2 },
      { device: H200, n: 8192, variant: 3 },
      { device: H200, n: 16384, variant: 0 },
    ]);
    expect(m.runtime_configs.spec_hash).toBe(record.entries[0]!.spec_hash);
    // Each variant's kernels are in the .cu and in the manifest, for both dtypes.
    const cu = readFileSync(join(out, 'rtcfg.cu'), 'utf8');
    for (const v of [1, 2, 3])
      for (const dt of ['bf16', 'fp16']) {
        expect(m.kernels[`sm90v${v}`]![dt]).toEqual({ kernel: `spc_rtcfg_fwd_sm90v${v}_${dt}`, launcher: `spc_rtcfg_launch_sm90v${v}_${dt}` });
        expect(cu).toContain(`\nspc_rtcfg_fwd_sm90v${v}_${dt}(`);
      }
    expect(cu).not.toContain('sm90v4');
    const launchers = readFileSync(join(out, 'rtcfg/launchers.h'), 'utf8');
    expect(launchers).toContain('case 3: return bf16 ? spc_rtcfg_launch_sm90v3_bf16 : spc_rtcfg_launch_sm90v3_fp16;');
    expect(launchers).toContain('default: return nullptr;');
  });

  it('--config goes over every compiled-in config, and configs that become equal are compiled once', async () => {
    const o = join(d, 'pkg-s2');
    const c = await spc('compile', spec, '--target', 'cuda', '--tuning', recFile, '--config', '{"sm90": {"stages": 2}}', '-o', o);
    expect(c.code, c.stderr).toBe(0);
    const m = JSON.parse(readFileSync(join(o, 'rtcfg.manifest.json'), 'utf8')) as Manifest;
    // stages 2 over the heuristic is the 2048 choice; over the 16384 choice (the heuristic) too.
    expect(m.runtime_configs.variants.map((v) => v.id)).toEqual(['sm90 persistent wg2 n128 s2 q1', FASTEST[4096], FASTEST[8192]]);
    expect(m.runtime_configs.tuned.map((t) => [t.n, t.variant])).toEqual([
      [2048, 0],
      [4096, 1],
      [8192, 2],
      [16384, 0],
    ]);
  });

  it('a record choice that sets more than the sm90 forward is refused (E103): only sm90 configs are picked at run time', () => {
    const bad = () => configsFor(layout!, undefined, [{ device: H200, n: 2048, id: 'x', config: { sm80: { warps: 8 } } }]);
    expect(bad).toThrow(TargetError);
    expect(bad).toThrow(/sets the sm80 part; only the sm90 forward config is chosen at run time/);
    // Without a record: one config, nothing to pick.
    expect(configsFor(layout!)).toEqual({ config: defaultConfig(layout!), overrides: {}, variants: [defaultConfig(layout!).sm90], tuned: [] });
  });

  it('the package picks per GPU and N: the record, the run-time cache, else the heuristic (its own Python, no GPU)', () => {
    const cache = join(d, 'cache');
    mkdirSync(cache);
    const choose = (e: TuningRecord['entries'][number], n: number, id: string) => {
      const k = e.candidates.findIndex((c) => configId(c.id) === id);
      expect(k, id).toBeGreaterThanOrEqual(0);
      return { ...e, n, choice: k, bands: null };
    };
    const e0 = record.entries[0]!;
    const notHeld = 'sm90 persistent wg2 n64 s3 q2'; // not one of the four compiled in
    const rec = (name: string, created: string, device: string, entries: TuningRecord['entries']) =>
      writeFileSync(join(cache, name), JSON.stringify({ ...record, created, device: { ...record.device, name: device }, entries }));
    rec('a-new.json', '2027-01-02T00:00:00Z', H200, [choose(e0, 2048, HEURISTIC), choose(e0, 32768, FASTEST[8192]!), choose(e0, 12000, notHeld)]);
    rec('b-old.json', '2026-01-01T00:00:00Z', H200, [choose(e0, 32768, FASTEST[2048]!)]);
    rec('c-other-spec.json', '2027-01-03T00:00:00Z', H200, [{ ...choose(e0, 3000, FASTEST[8192]!), spec_hash: `sha256:${'0'.repeat(64)}` }]);
    rec('d-h100.json', '2027-01-01T00:00:00Z', 'NVIDIA H100 80GB HBM3', [choose(e0, 2048, FASTEST[4096]!)]);
    writeFileSync(join(cache, 'e-broken.json'), '{"format": "spc-tuning-record", ');
    writeFileSync(join(cache, 'f-notes.txt'), 'not a record, not .json: skipped');
    writeFileSync(join(cache, 'g-other.json'), '{"format": "something else"}');
    writeFileSync(join(cache, 'h-deep.json'), '['.repeat(100000) + ']'.repeat(100000)); // too deep for json: a RecursionError, skipped
    const script = [
      'import json, os, sys, warnings',
      'import rtcfg as m',
      'def pick(n, dev="NVIDIA H200"):',
      '    c = m.kernel_config(n, dev)',
      '    assert c["config"]["sm90"] == m._layout.SM90_VARIANTS[c["variant"]] and c["family"] == "sm90"',
      '    return [c["id"], c["source"], c["n"]]',
      'out = {}',
      'os.environ["SPC_TUNING_CACHE"] = ""  # off',
      'out["record"] = [pick(n) for n in (1, 2047, 2048, 2049, 4096, 5000, 8192, 16000, 16384, 16385, 100000)]',
      'out["other_gpu"] = pick(2048, "NVIDIA H100 80GB HBM3")',
      'out["no_gpu"] = m.kernel_config(2048)["source"]  # no torch here: no GPU name',
      'os.environ["SPC_CUDA_CONFIG"] = "heuristic"',
      'out["forced"] = pick(2048)',
      'del os.environ["SPC_CUDA_CONFIG"]',
      'os.environ["SPC_TUNING_CACHE"] = sys.argv[1]',
      'with warnings.catch_warnings(record=True) as w:',
      '    warnings.simplefilter("always")',
      '    out["cache"] = [pick(n) for n in (1000, 2048, 2500, 10000, 16384, 20000, 32768, 40000)]',
      '    out["cache_h100"] = [pick(n, "NVIDIA H100 80GB HBM3") for n in (2048, 4096)]',
      '    out["again"] = pick(10000)  # the same warning is not repeated',
      '    d = m.kernel_config(2048, "NVIDIA H200", deterministic=True)  # the cache is not read',
      '    out["deterministic"] = [d["id"], d["source"], d["n"]]',
      'out["warnings"] = [str(x.message) for x in w]',
      'print(json.dumps(out))',
    ].join('\n');
    const res = JSON.parse(execFileSync('python3', ['-c', script, cache], { cwd: out, encoding: 'utf8', env: { ...process.env, HOME: d } })) as Record<
      string,
      unknown
    >;
    const [A, B, C] = [FASTEST[2048]!, FASTEST[4096]!, FASTEST[8192]!];
    expect(res.record).toEqual([
      [A, 'record', 2048],
      [A, 'record', 2048],
      [A, 'record', 2048],
      [B, 'record', 4096],
      [B, 'record', 4096],
      [C, 'record', 8192],
      [C, 'record', 8192],
      [HEURISTIC, 'record', 16384],
      [HEURISTIC, 'record', 16384],
      [HEURISTIC, 'heuristic', null],
      [HEURISTIC, 'heuristic', null],
    ]);
    expect(res.other_gpu).toEqual([HEURISTIC, 'heuristic', null]);
    expect(res.no_gpu).toBe('heuristic');
    expect(res.forced).toEqual([HEURISTIC, 'heuristic', null]);
    expect(res.cache).toEqual([
      [HEURISTIC, 'cache', 2048], // the cache's 2048 over the record's (and its bucket starts at 1)
      [HEURISTIC, 'cache', 2048],
      [B, 'record', 4096], // c-other-spec's 3000 is another layout's
      [HEURISTIC, 'record', 16384], // a-new's 12000 names a config not compiled in: ignored
      [HEURISTIC, 'record', 16384],
      [C, 'cache', 32768], // a-new (newer) over b-old at 32768
      [C, 'cache', 32768],
      [HEURISTIC, 'heuristic', null],
    ]);
    expect(res.cache_h100).toEqual([
      [B, 'cache', 2048],
      [HEURISTIC, 'heuristic', null],
    ]);
    expect(res.again).toEqual([HEURISTIC, 'record', 16384]);
    expect(res.deterministic).toEqual([A, 'record', 2048]);
    const warned = res.warnings as string[];
    expect(warned).toHaveLength(4);
    expect(warned.find((w) => w.includes('h-deep.json'))).toMatch(/ignored \(/);
    for (const w of warned) expect(w).not.toContain('\n');
    expect(warned.find((w) => w.includes('e-broken.json'))).toMatch(/^spc rtcfg: tuning cache .*e-broken\.json: ignored \(/);
    expect(warned.find((w) => w.includes('g-other.json'))).toContain('not an spc tuning record');
    expect(warned.find((w) => w.includes('a-new.json'))).toBe(
      `spc rtcfg: tuning cache ${join(cache, 'a-new.json')}: the config chosen on ${H200} at N = 12000 (${notHeld} / bands none) is not compiled into this package; ignored (spc compile --tuning with that record compiles it in)`,
    );
  });

  it('a cache record made by spc tune applies to a package compiled with --config over that record, as spc compile applies it', () => {
    // pkg-s2 was compiled with --tuning RECORD --config {"sm90": {"stages": 2}}: the record's 16384
    // choice (the heuristic, stages 3) became its variant 0 with stages 2. The same record's 16384
    // choice in the cache (at N = 40000) must resolve to that variant, as spc compile resolved it,
    // not be reported as a config the package lacks.
    const cache = join(d, 'cache-s2');
    mkdirSync(cache);
    const e0 = record.entries.find((e) => e.n === 16384)!;
    writeFileSync(join(cache, 'r.json'), JSON.stringify({ ...record, entries: [{ ...e0, n: 40000 }] }));
    const script = [
      'import json, os, sys, warnings',
      'os.environ["SPC_TUNING_CACHE"] = sys.argv[1]',
      'import rtcfg as m',
      'with warnings.catch_warnings(record=True) as w:',
      '    warnings.simplefilter("always")',
      '    c = m.kernel_config(40000, "NVIDIA H200")',
      'print(json.dumps({"id": c["id"], "source": c["source"], "variant": c["variant"], "warnings": [str(x.message) for x in w]}))',
    ].join('\n');
    const res = JSON.parse(execFileSync('python3', ['-c', script, cache], { cwd: join(d, 'pkg-s2'), encoding: 'utf8', env: { ...process.env, HOME: d } }));
    expect(res).toEqual({ id: 'sm90 persistent wg2 n128 s2 q1', source: 'cache', variant: 0, warnings: [] });
  });

  it('the multi-config .cu compiles with nvcc for sm_90a with its launchers.h: every variant kernel, no spills, no warnings', async () => {
    const src = join(d, 'all.cu');
    writeFileSync(src, `${readFileSync(join(out, 'rtcfg.cu'), 'utf8')}\n${readFileSync(join(out, 'rtcfg/launchers.h'), 'utf8')}`);
    const { stdout, stderr } = await run$(
      'nvcc',
      ['-c', '-O3', '--use_fast_math', '-std=c++17', '-gencode=arch=compute_90a,code=sm_90a', '-Xptxas', '-v', src, '-o', join(d, 'all.o')],
      { maxBuffer: 1 << 24 },
    );
    const report = stdout + stderr;
    expect(report).not.toMatch(/warning/i);
    const m = JSON.parse(readFileSync(join(out, 'rtcfg.manifest.json'), 'utf8')) as Manifest;
    for (const v of ['sm90', 'sm90v1', 'sm90v2', 'sm90v3'])
      for (const dt of ['bf16', 'fp16']) expect(report).toContain(`entry function '${(m.kernels[v]![dt] as { kernel: string }).kernel}'`);
    for (const s of report.matchAll(/(\d+) bytes spill (stores|loads)/g)) expect(Number(s[1])).toBe(0);
  }, 300_000);

  it('the GPU check parses (pyflakes, bash -n)', () => {
    execFileSync('pyflakes3', ['bench/cuda/runtime_config_check.py', 'targets/cuda/python/_tuning.py']);
    execFileSync('bash', ['-n', 'bench/cuda/runtime-config-check.sh']);
  });
});
