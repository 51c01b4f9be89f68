// Probe for the hang of issue 18 (on the H200 through Vulkan, the third createAttention + run in
// a process never finished): in ONE process, --cycles cycles of createAttention, run, timed
// dispatches (submit, onSubmittedWorkDone) and destroy, through three layouts in turn, each step
// logged on stderr with its time, so that a process the watchdog kills shows which step never
// returned. --sync-pipeline builds pipelines with createComputePipeline instead of
// createComputePipelineAsync; --device-per-cycle opens a new device for every cycle.
// Run: npx tsx bench/wgsl/life.ts [--cycles 6] [--n 2048] [--d 64] [--heads 16] [--backend vulkan] [--jsonl FILE]
import { appendFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { loadModule, randomArray } from '../../test/wgsl-helpers.js';
import { exampleLayout, gpuOptions, openBenchGpu, phase, type BenchGpu } from './common.js';

const { values: opts } = parseArgs({
  options: {
    cycles: { type: 'string', default: '6' },
    n: { type: 'string', default: '2048' },
    d: { type: 'string', default: '64' },
    heads: { type: 'string', default: '16' },
    patterns: { type: 'string', default: 'spattention-paper,spattention-balanced,dense-causal' },
    'sync-pipeline': { type: 'boolean', default: false },
    'device-per-cycle': { type: 'boolean', default: false },
    backend: { type: 'string' },
    'feature-level': { type: 'string' },
    jsonl: { type: 'string' },
  },
  strict: true,
});
const n = Number(opts.n);
const d = Number(opts.d);
const heads = Number(opts.heads);
const patterns = opts.patterns!.split(',');
const mode = [opts['sync-pipeline'] ? 'sync-pipeline' : 'async-pipeline', opts['device-per-cycle'] ? 'device-per-cycle' : 'one-device'].join(', ');
const mods = [];
for (const p of patterns) mods.push(await loadModule(exampleLayout(p, heads, d), undefined, { dts: false }));
const gpuOpts = { ...gpuOptions(opts.backend, opts['feature-level']), timestamps: false };

function patch(g: BenchGpu) {
  if (!opts['sync-pipeline']) return;
  const dev = g.device;
  dev.createComputePipelineAsync = (desc: GPUComputePipelineDescriptor) => Promise.resolve(dev.createComputePipeline(desc));
}

let gpu = await openBenchGpu(gpuOpts);
patch(gpu);
phase(`adapter ${gpu.description}; ${mode}; ${opts.cycles} cycles of ${patterns.join(', ')} at H=${heads} D=${d} N=${n}`);
for (let c = 0; c < Number(opts.cycles); c++) {
  if (c > 0 && opts['device-per-cycle']) {
    gpu.destroy();
    gpu = await openBenchGpu(gpuOpts);
    patch(gpu);
  }
  const mod = mods[c % mods.length]!;
  const p = patterns[c % patterns.length]!;
  const tag = `cycle ${c + 1} (${p})`;
  const t0 = performance.now();
  phase(`${tag}: createAttention`);
  const att = await mod.createAttention(gpu.device, { n });
  const s = mod.sizes(n, 1);
  phase(`${tag}: run (${att.variant})`);
  await att.run(randomArray(s.q, 1), randomArray(s.k, 2), randomArray(s.v, 3));
  for (let r = 0; r < 3; r++) {
    phase(`${tag}: dispatch ${r + 1}: submit`);
    const enc = gpu.device.createCommandEncoder();
    att.dispatch(enc);
    gpu.device.queue.submit([enc.finish()]);
    phase(`${tag}: dispatch ${r + 1}: onSubmittedWorkDone`);
    await gpu.device.queue.onSubmittedWorkDone();
  }
  phase(`${tag}: destroy`);
  att.destroy();
  const ms = performance.now() - t0;
  phase(`${tag}: done in ${ms.toFixed(0)} ms`);
  if (opts.jsonl) appendFileSync(opts.jsonl, JSON.stringify({ mode, cycle: c + 1, pattern: p, n, d, heads, variant: att.variant, ms }) + '\n');
}
console.log(`life (${mode}): all ${opts.cycles} cycles completed`);
gpu.destroy();
process.exit(0);
