// Benchmark: spc's band kernels (WGSL target) vs spc's dense-causal kernel (the same target
// compiled from `pattern dense`) on one WebGPU adapter, same N, H, D, batch 1.
//
// Run here (Mesa, small sizes): npx tsx bench/wgsl.ts --n 256 --dims 64 --heads 4 --reps 1
// On the GPU machine (compiled, carried Node): bench/wgsl/h200.sh (see bench/wgsl/README.md).
//
// Options: --n 512,1024,2048  --dims 64[,128]  --heads 8  --reps 5  --patterns (bands; dense-causal
// is always run as the baseline)  --variants auto[,sg,wg,sg-small,wg-small,rows,NAME] (each selector a set of rows;
// bench/wgsl/common.ts SELECTORS)  --passes auto|budget|single  --backend opengl|vulkan
// --feature-level core|compatibility  --json FILE  --md FILE (default bench/results/wgsl-<date>.md)
// --isolate (each (pattern, N, D) in its own Node process)  --timeout S (per process, default 60)
// --budget S (start no new case after S seconds)  --log FILE (the processes' output)  --peak TFLOPS.
//
// Time: with 'timestamp-query' (where the adapter offers it), the GPU time between a timestamp
// written at the start of the call's first compute pass and one at the end of its last; otherwise
// submit-to-onSubmittedWorkDone wall time. The output says which.
import { spawn } from 'node:child_process';
import { appendFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { packageRoot } from '../codegen/runtime-source.js';
import { instantiate, layoutStats, type LayoutIR } from '../src/ir/index.js';
import { loadModule, randomArray, type WgslModule } from '../test/wgsl-helpers.js';
import { timeDispatches } from '../src/driver/webgpu.js';
import { createWith, exampleLayout, gpuOptions, ints, list, openBenchGpu, phase, type BenchGpu } from './wgsl/common.js';

const { values: opts } = parseArgs({
  options: {
    n: { type: 'string', default: '512,1024,2048' },
    dims: { type: 'string' },
    dim: { type: 'string' }, // the old spelling of --dims
    heads: { type: 'string', default: '8' },
    reps: { type: 'string', default: '5' },
    patterns: { type: 'string', default: 'spattention-paper,spattention-balanced,spattention-released' },
    variant: { type: 'string' }, // the old spelling of --variants
    variants: { type: 'string' },
    passes: { type: 'string', default: 'auto' },
    backend: { type: 'string' },
    'feature-level': { type: 'string' },
    json: { type: 'string' },
    md: { type: 'string' },
    log: { type: 'string' },
    isolate: { type: 'boolean', default: false },
    timeout: { type: 'string', default: '60' },
    budget: { type: 'string' },
    peak: { type: 'string' },
    // Internal: one case in this process (a child of --isolate), its row written as JSON.
    case: { type: 'string' },
    'row-json': { type: 'string' },
  },
  strict: true,
});

const DENSE = 'dense-causal';
const NS = ints(opts.n!, 'n');
const DIMS = ints(opts.dims ?? opts.dim ?? '64', 'dims');
const H = ints(opts.heads!, 'heads')[0]!;
const REPS = ints(opts.reps!, 'reps')[0]!;
const BANDS = list(opts.patterns!).filter((p) => p !== DENSE);
const VARIANTS = list(opts.variants ?? opts.variant ?? 'auto');
const PASSES = opts.passes as 'auto' | 'budget' | 'single';
if (!['auto', 'budget', 'single'].includes(PASSES)) throw new Error(`--passes must be auto, budget or single, got ${opts.passes}`);
const GPU_OPTS = gpuOptions(opts.backend, opts['feature-level']);
const TIMEOUT_S = Number(opts.timeout);
const BUDGET_S = opts.budget === undefined ? Infinity : Number(opts.budget);
const PEAK = opts.peak === undefined ? null : Number(opts.peak); // TFLOP/s

type Status = 'ok' | 'hang' | 'error' | 'skipped';
interface Row {
  pattern: string;
  heads: number;
  d: number;
  n: number;
  status: Status;
  /** The variant selector (--variants) and the tiled variant it resolved to. */
  selector: string;
  tiledVariant?: string | null;
  tilesPerPass?: number;
  /** Allowed (query, key) pairs, all heads, batch 1. */
  pairs: number;
  variant?: 'rows' | 'tiled';
  passes?: number;
  timing?: 'timestamp-query' | 'wall';
  /** Median GPU time (timestamp-query) and median submit-to-done wall time, ms. */
  gpuMs?: number;
  wallMs?: number;
  /** The time the row's figures use: gpuMs where measured, else wallMs. */
  ms?: number;
  /** The first run (upload, compute, read back), ms. */
  warmMs?: number;
  reps?: number;
  gflops?: number;
  peakShare?: number;
  speedup?: number;
  note?: string;
}
interface Adapter {
  description: string;
  info: BenchGpu['info'];
  features: string[];
  timestamps: boolean;
  backend: string;
  featureLevel: string;
  limits: Record<string, number>;
}

const pairsOf = (layout: LayoutIR, n: number) => layoutStats(instantiate(layout, n), 64, 32, false).totalPairs;
const adapterOf = (g: BenchGpu): Adapter => ({
  description: g.description,
  info: g.info,
  features: g.features,
  timestamps: g.timestamps,
  backend: g.backend,
  featureLevel: g.featureLevel,
  limits: g.limits,
});

/** Times one (pattern, N, D) on the device: one warm-up run, then REPS dispatches (fewer when the warm-up is slow). */
async function measure(gpu: BenchGpu, mod: WgslModule, row: Row): Promise<void> {
  const { device } = gpu;
  const n = row.n;
  const s = mod.sizes(n, 1);
  phase(`${row.pattern} D=${row.d} N=${n}: createAttention (variant ${row.selector}, passes ${PASSES})`);
  const att = await createWith(mod, device, row.selector, { n, passes: PASSES });
  row.variant = att.variant;
  row.tiledVariant = att.tiledVariant;
  row.tilesPerPass = att.tilesPerPass;
  row.passes = att.passes;
  phase(`${row.pattern} D=${row.d} N=${n}: ${att.variant} kernel, ${att.passes} pass(es); warm-up run`);
  let t = performance.now();
  await att.run(randomArray(s.q, 1), randomArray(s.k, 2), randomArray(s.v, 3)); // uploads inputs, compiles lazily, reads back
  row.warmMs = performance.now() - t;
  const reps = row.warmMs > 3000 ? Math.min(REPS, 2) : REPS;
  row.reps = reps;
  phase(`${row.pattern} D=${row.d} N=${n}: warm-up ${row.warmMs.toFixed(1)} ms; ${reps} timed dispatch(es)${gpu.timestamps ? ' with timestamp-query' : ''}`);
  const times = await timeDispatches(device, att, reps, gpu.timestamps);
  row.wallMs = times.wallMs;
  row.timing = times.timing;
  if (times.gpuMs !== undefined) row.gpuMs = times.gpuMs;
  if (times.note !== undefined) row.note = times.note;
  row.ms = row.gpuMs ?? row.wallMs;
  row.status = 'ok';
  att.destroy();
  phase(`${row.pattern} D=${row.d} N=${n}: ${row.timing} ${row.ms.toFixed(3)} ms`);
}

const blankRow = (pattern: string, d: number, n: number, selector: string, layout: LayoutIR): Row => ({
  pattern,
  heads: H,
  d,
  n,
  selector,
  status: 'error',
  pairs: pairsOf(layout, n),
});

// ---- A child of --isolate: one case, its row as JSON. -------------------------------------------
if (opts.case !== undefined) {
  const [pattern, d, n, selector] = opts.case.split(':');
  const layout = exampleLayout(pattern!, H, Number(d));
  const row = blankRow(pattern!, Number(d), Number(n), selector ?? 'auto', layout);
  phase(`${opts.case}: compiling`);
  const mod = await loadModule(layout, undefined, { dts: false });
  phase(`${opts.case}: opening the device (Dawn ${GPU_OPTS.backend}, ${GPU_OPTS.featureLevel})`);
  const gpu = await openBenchGpu(GPU_OPTS);
  phase(`adapter ${gpu.description}; features ${gpu.features.join(' ')}`);
  await measure(gpu, mod, row);
  writeFileSync(opts['row-json']!, JSON.stringify({ row, adapter: adapterOf(gpu) }));
  gpu.destroy();
  process.exit(0); // do not wait on Dawn's threads
}

// ---- The driver. ---------------------------------------------------------------------------------
const started = performance.now();
const loadBefore = loadavg()[0]!.toFixed(2);
const patterns = [DENSE, ...BANDS];
const layouts = new Map<string, LayoutIR>();
for (const d of DIMS) for (const p of patterns) layouts.set(`${p}:${d}`, exampleLayout(p, H, d));
const rows: Row[] = [];
let adapter: Adapter | null = null;
const logFile = opts.log;
if (logFile) writeFileSync(logFile, '');

/** Runs one case in a child process with a watchdog; a process that outlives TIMEOUT_S is killed and its row recorded as a hang. */
async function isolated(row: Row): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'spc-wgsl-bench-'));
  const rowJson = join(dir, 'row.json');
  const self = fileURLToPath(import.meta.url);
  const args = [...process.execArgv, self, '--case', `${row.pattern}:${row.d}:${row.n}:${row.selector}`, '--row-json', rowJson];
  args.push('--heads', String(H), '--reps', String(REPS), '--passes', PASSES, '--backend', GPU_OPTS.backend, '--feature-level', GPU_OPTS.featureLevel);
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const take = (b: Buffer) => {
    out += b.toString();
    process.stderr.write(b);
  };
  child.stdout.on('data', take);
  child.stderr.on('data', take);
  let killed = false;
  const timer = setTimeout(() => {
    killed = true;
    child.kill('SIGKILL');
  }, TIMEOUT_S * 1000);
  const code = await new Promise<number | null>((res) => child.on('close', (c) => res(c)));
  clearTimeout(timer);
  const lines = out.trim().split('\n').filter(Boolean);
  const last = lines.at(-1) ?? '(no output)';
  const why = [...lines].reverse().find((l) => /^\w*Error\b/.test(l)) ?? last;
  if (logFile)
    appendFileSync(logFile, `==== ${row.pattern} D=${row.d} N=${row.n} ${row.selector} (exit ${killed ? `killed after ${TIMEOUT_S} s` : code})\n${out}\n`);
  if (killed) {
    row.status = 'hang';
    row.note = `no result after ${TIMEOUT_S} s; last: ${last}`;
  } else if (code !== 0) {
    row.status = 'error';
    row.note = `exit ${code}: ${why}`;
  } else {
    const got = JSON.parse(readFileSync(rowJson, 'utf8')) as { row: Row; adapter: Adapter };
    Object.assign(row, got.row);
    adapter ??= got.adapter;
  }
  rmSync(dir, { recursive: true, force: true });
}

let gpu: BenchGpu | null = null;
const mods = new Map<string, WgslModule>();
if (!opts.isolate) {
  // Import the generated modules before the device exists (see test/wgsl-helpers.ts).
  for (const [key, layout] of layouts) mods.set(key, await loadModule(layout, undefined, { dts: false }));
  gpu = await openBenchGpu(GPU_OPTS);
  adapter = adapterOf(gpu);
  console.error(`adapter ${gpu.description}; features ${gpu.features.join(' ')}`);
}

const header = [
  `| pattern | D | N | H | selector | kernel | passes | pairs vs dense | ms | wall ms | timing | GFLOP/s |${PEAK ? ` of ${PEAK} TFLOP/s |` : ''} speed-up vs dense | note |`,
  `| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |${PEAK ? ' --- |' : ''} --- | --- |`,
];
console.log(header.join('\n'));
for (const d of DIMS) {
  for (const n of NS) {
    for (const sel of VARIANTS)
      for (const p of patterns) {
        const row = blankRow(p, d, n, sel, layouts.get(`${p}:${d}`)!);
        rows.push(row);
        if ((performance.now() - started) / 1000 > BUDGET_S) {
          row.status = 'skipped';
          row.note = `over the --budget of ${BUDGET_S} s`;
          continue;
        }
        if (opts.isolate) await isolated(row);
        else {
          try {
            await measure(gpu!, mods.get(`${p}:${d}`)!, row);
          } catch (e) {
            row.status = 'error';
            row.note = String((e as Error).message ?? e).split('\n')[0];
          }
        }
        const dense = rows.find((r) => r.pattern === DENSE && r.d === d && r.n === n && r.selector === sel);
        if (row.ms !== undefined) {
          row.gflops = (4 * d * row.pairs) / (row.ms * 1e6);
          if (PEAK) row.peakShare = row.gflops / (PEAK * 1000);
          if (dense?.ms !== undefined) row.speedup = dense.ms / row.ms;
        }
        console.log(line(row, dense));
        report(false);
      }
  }
}
gpu?.destroy();

/** Writes the Markdown table and the JSON (after every row, so that a run killed midway leaves what it measured). */
function report(done: boolean): void {
  const timing = [...new Set(rows.filter((r) => r.timing).map((r) => r.timing))].join(' and ') || 'none (no row measured)';
  const date = new Date().toISOString().slice(0, 10);
  const command = `bench/wgsl.ts ${process.argv.slice(2).join(' ')}`;
  const md = [
    `# WGSL benchmark, ${date}`,
    '',
    `Adapter: ${adapter?.description ?? '(none answered)'}. Features: ${adapter?.features.join(', ') || '-'}.`,
    `Node ${process.version}, ${process.platform}/${process.arch}. Machine load average (1 min) before / after: ${loadBefore} / ${loadavg()[0]!.toFixed(2)} on ${cpus().length} cores.`,
    '',
    `Command: \`${command}\``,
    '',
    `Timing: ${timing}. "ms" is the median over the timed dispatches after one warm-up run: with timestamp-query, GPU time from the start of the call's first compute pass to the end of its last; else submit to onSubmittedWorkDone (wall). "wall ms" is always the latter.`,
    'Forward pass (output + lse, f32), batch 1. "pairs vs dense" is the layout\'s allowed (query, key) pairs over dense causal\'s; GFLOP/s counts useful work only, 4 * D * allowed pairs;',
    `"speed-up" is dense time / band time at the same N and D. Both kernels are spc WGSL kernels: the dense one is compiled from \`pattern dense\` with the same H and D. Variant selectors: ${VARIANTS.join(', ')} (bench/wgsl/common.ts; the kernel and tiled variant that ran are in the table); passes: ${PASSES}.`,
    opts.isolate ? `Each row ran in its own Node process, killed after ${TIMEOUT_S} s ("hang").` : 'All rows ran in one process.',
    '',
    ...header,
    ...rows.map((r) =>
      line(
        r,
        rows.find((x) => x.pattern === DENSE && x.d === r.d && x.n === r.n && x.selector === r.selector),
      ),
    ),
    '',
  ].join('\n');
  const mdFile = opts.md ?? join(packageRoot(), 'bench', 'results', `wgsl-${date}.md`);
  mkdirSync(dirname(mdFile), { recursive: true });
  writeFileSync(mdFile, md);
  if (done) console.log(`timing: ${timing}; wrote ${mdFile}`);
  if (opts.json) {
    writeFileSync(
      opts.json,
      JSON.stringify(
        {
          date,
          command,
          node: process.version,
          timing,
          variants: VARIANTS,
          passes: PASSES,
          isolate: opts.isolate,
          timeoutS: TIMEOUT_S,
          peakTflops: PEAK,
          adapter,
          rows,
        },
        null,
        2,
      ) + '\n',
    );
    if (done) console.log(`wrote ${opts.json}`);
  }
}

function line(r: Row, dense: Row | undefined): string {
  const f = (x: number | undefined, digits: number) => (x === undefined ? '-' : x.toFixed(digits));
  const ms = r.status === 'ok' ? `${f(r.ms, 3)}` : r.status;
  const share = PEAK ? ` ${r.peakShare === undefined ? '-' : `${(100 * r.peakShare).toFixed(1)}%`} |` : '';
  const vsDense = dense ? (r.pairs / dense.pairs).toFixed(3) : '-';
  const kernel = r.variant === 'tiled' ? (r.tiledVariant ?? 'tiled') : (r.variant ?? '-');
  return `| ${r.pattern} | ${r.d} | ${r.n} | ${r.heads} | ${r.selector} | ${kernel} | ${r.passes ?? '-'} | ${vsDense} | ${ms} | ${f(r.wallMs, 3)} | ${r.timing ?? '-'} | ${f(r.gflops, r.gflops !== undefined && r.gflops < 10 ? 2 : 0)} |${share} ${r.speedup === undefined ? '-' : `${r.speedup.toFixed(2)}x`} | ${r.note ?? ''} |`;
}

report(true);
process.exit(0); // do not wait on Dawn's threads
