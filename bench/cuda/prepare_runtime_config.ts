// Prepares the GPU check of run-time kernel configs (bench/cuda/runtime-config-check.sh; the GPU
// machine has no Node): a tuning record whose made-up measured times choose a different sm90
// config at each N, the CUDA package compiled with it (`spc compile --tuning`), and the picks the
// package must make (expect.json). The times are made up: the check is of the picking and of the
// kernels' outputs, not of which config is fastest.
//   npx tsx bench/cuda/prepare_runtime_config.ts scratch/gpu/rtcfg [--device "NVIDIA H200"]
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { run } from '../../src/driver/cli.js';
import { compileSource } from '../../src/driver/pipeline.js';
import { applyMeasurements, MEASUREMENTS_FORMAT, readRecord, type Measurements } from '../../src/driver/tuning.js';
import type { LayoutIR } from '../../src/ir/index.js';
import type { TuningRecord } from '../../src/tuner/record.js';

/** The config part of a candidate id ("sm90 persistent wg2 n128 s3 q1 / bands none" -> "sm90 persistent wg2 n128 s3 q1"). */
export const configId = (id: string): string => id.split(' / ')[0]!;

/**
 * A measured record from a plan (spc tune --plan-only --record): at each N the first candidate
 * whose config id is fastest[N] gets 0.5 ms, every other candidate the model kept 1 ms and a
 * little more, so `spc tune --measured` logic (applyMeasurements) chooses fastest[N] there.
 */
export function measuredRecord(plan: TuningRecord, layouts: LayoutIR[], fastest: Readonly<Record<number, string>>, device: string): TuningRecord {
  const results: Measurements['results'] = [];
  plan.entries.forEach((e, entry) => {
    const want = fastest[e.n];
    const pick = e.candidates.findIndex((c) => configId(c.id) === want);
    if (want !== undefined && pick < 0) throw new Error(`no candidate ${want} at N = ${e.n} for layout ${e.layout}`);
    e.candidates.forEach((c, candidate) => {
      if (candidate !== pick && c.pruned !== null) return;
      const ms = candidate === pick ? 0.5 : 1 + candidate / 10000;
      results.push({ package: `${e.layout}_${e.n}_${candidate}`, entry, candidate, layout: e.layout, n: e.n, measured_ms: ms, failed: null });
    });
  });
  const m: Measurements = { format: MEASUREMENTS_FORMAT, device: { name: device, sm_count: 132, driver: null, cuda: null, pytorch: null }, results };
  return applyMeasurements(plan, 'plan.json', m, layouts).record;
}

/** The check's layout: H16 D128 (the bench shape), equal_pairs bands. */
export const SPEC = 'layout rtcfg {\n  heads 16\n  head_dim 128\n  seq N\n  partition equal_pairs\n  pattern band\n}\n';
/** Per N, the config the record chooses: configs that ran on the H200 (bench/results/tune-2026-12-01.md); at 16384 the heuristic's. */
export const FASTEST: Record<number, string> = {
  2048: 'sm90 persistent wg2 n128 s2 q1',
  4096: 'sm90 persistent wg3 n64 s2 q1 wgskip',
  8192: 'sm90 blockwise wg2 n64 s2 b1',
  16384: 'sm90 persistent wg2 n128 s3 q1',
};

async function spc(...argv: string[]): Promise<void> {
  let err = '';
  const code = await run(argv, { stdout: () => {}, stderr: (s) => (err += s) });
  if (code !== 0) throw new Error(`spc ${argv.join(' ')}: exit ${code}\n${err}`);
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const dir = resolve(args[0] ?? 'scratch/gpu/rtcfg');
  const k = args.indexOf('--device');
  const device = k >= 0 ? args[k + 1]! : 'NVIDIA H200';
  mkdirSync(dir, { recursive: true });
  const spec = join(dir, 'rtcfg.spc');
  writeFileSync(spec, SPEC);
  const ns = Object.keys(FASTEST).map(Number);
  await spc('tune', spec, '--target', 'cuda', '--plan-only', '--seq', ns.join(','), '--record', join(dir, 'plan.json'));
  const record = measuredRecord(readRecord(join(dir, 'plan.json')), compileSource(SPEC), FASTEST, device);
  writeFileSync(join(dir, 'record.json'), JSON.stringify(record, null, 2) + '\n');
  await spc('compile', spec, '--target', 'cuda', '--tuning', join(dir, 'record.json'), '-o', join(dir, 'pkg'));
  // The picks: a length takes the entry with the smallest N >= it; above the largest, the heuristic.
  const sorted = [...ns].sort((a, b) => a - b);
  const heuristic = FASTEST[16384]!;
  const lengths = [1000, 2048, 3000, 4096, 6000, 8192, 12000, 16384, 20000];
  const expect = lengths.map((n) => {
    const at = sorted.find((x) => x >= n);
    return { n, id: at === undefined ? heuristic : FASTEST[at]!, source: at === undefined ? 'heuristic' : 'record', entry_n: at ?? null };
  });
  writeFileSync(join(dir, 'expect.json'), JSON.stringify({ device, layout: 'rtcfg', heuristic, cases: expect }, null, 2) + '\n');
  console.log(`wrote ${dir}: record.json (${device}, N = ${sorted.join(', ')}), pkg/rtcfg (the package), expect.json`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) await main();
