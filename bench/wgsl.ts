// Benchmark: spc's band kernels (WGSL target) vs spc's dense-causal kernel (the same target
// compiled from `pattern dense`) on one WebGPU adapter, same N, H, D, batch 1.
// Run: npx tsx bench/wgsl.ts [--n 512,1024,2048] [--heads 8] [--dim 64] [--reps 3]
// Writes bench/results/wgsl-<date>.md.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { instantiate, layoutStats } from '../src/ir/index.js';
import { layoutsOf, loadModule, openGpu, randomArray, variant, type WgslModule } from '../test/wgsl-helpers.js';

const args = process.argv.slice(2);
const opt = (name: string, def: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1]! : def;
};
const NS = opt('n', '512,1024,2048').split(',').map(Number);
const H = Number(opt('heads', '8'));
const D = Number(opt('dim', '64'));
const REPS = Number(opt('reps', '3'));
const PATTERNS = ['spattention-balanced', 'spattention-paper', 'spattention-released', 'dense-causal'];

const ex = (f: string) => readFileSync(new URL(`../examples/${f}.spc`, import.meta.url), 'utf8');
const layouts = PATTERNS.map((p) => layoutsOf(variant(ex(p), { heads: H, headDim: D, seq: 'N' }))[0]!);
// Import the generated modules before the device exists (see test/wgsl-helpers.ts).
const mods: WgslModule[] = [];
for (const l of layouts) mods.push(await loadModule(l));
const gpu = await openGpu();
const { device } = gpu;

async function time(mod: WgslModule, n: number): Promise<number> {
  const s = mod.sizes(n, 1);
  const att = await mod.createAttention(device, { n });
  await att.run(randomArray(s.q, 1), randomArray(s.k, 2), randomArray(s.v, 3)); // warm-up, uploads inputs
  const times: number[] = [];
  for (let r = 0; r < REPS; r++) {
    const enc = device.createCommandEncoder();
    att.dispatch(enc);
    const t0 = performance.now();
    device.queue.submit([enc.finish()]);
    await device.queue.onSubmittedWorkDone();
    times.push(performance.now() - t0);
  }
  att.destroy();
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)]!;
}

const loadBefore = loadavg()[0]!.toFixed(2);
const rows: string[] = [];
for (const n of NS) {
  const dense = await time(mods[3]!, n);
  const densePairs = layoutStats(instantiate(layouts[3]!, n), 64, 32, false).totalPairs;
  for (let p = 0; p < PATTERNS.length; p++) {
    const ms = p === 3 ? dense : await time(mods[p]!, n);
    const pairs = layoutStats(instantiate(layouts[p]!, n), 64, 32, false).totalPairs;
    const row = `| ${PATTERNS[p]} | ${n} | ${H} | ${D} | ${(pairs / densePairs).toFixed(3)} | ${ms.toFixed(1)} | ${(dense / ms).toFixed(2)}x |`;
    rows.push(row);
    console.log(row);
  }
}
gpu.destroy();

const date = new Date().toISOString().slice(0, 10);
const md = [
  `# WGSL benchmark, ${date}`,
  '',
  `Adapter: ${gpu.description}. Node ${process.version}, ${process.platform}/${process.arch}.`,
  '',
  `Machine load average (1 min) before / after: ${loadBefore} / ${loadavg()[0]!.toFixed(2)} on ${cpus().length} cores; other work on the machine inflates and scatters the times.`,
  '',
  `Command: \`npx tsx bench/wgsl.ts --n ${NS.join(',')} --heads ${H} --dim ${D} --reps ${REPS}\``,
  '',
  'Forward pass (output + lse, f32), batch 1, median of the timed dispatches (submit to onSubmittedWorkDone) after one warm-up run.',
  '"pairs vs dense" is the layout\'s allowed (query, key) pairs over dense causal\'s; "speed-up" is dense time / band time.',
  'Both kernels are spc WGSL kernels: the dense one is compiled from `pattern dense` with the same H and D.',
  "A software adapter (Mesa llvmpipe behind Dawn's OpenGL ES backend, 2 cores): absolute times say little about a real GPU.",
  '',
  '| pattern | N | H | D | pairs vs dense | ms | speed-up vs dense |',
  '| --- | --- | --- | --- | --- | --- | --- |',
  ...rows,
  '',
].join('\n');
mkdirSync(new URL('results/', import.meta.url), { recursive: true });
const file = new URL(`results/wgsl-${date}.md`, import.meta.url);
writeFileSync(file, md);
console.log(`wrote ${file.pathname}`);
