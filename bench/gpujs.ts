// Benchmark (not a test): the spc gpu.js module of a band layout against the spc gpu.js module
// of dense causal attention (examples/dense-causal.spc, same generator), same N, H, D, in each
// gpu.js mode: cpu, webasm, webgpu (Node, Dawn) and webgl2 (headless Chromium).
//   npx tsx bench/gpujs.ts [--n 1024] [--repeats 3] [--band examples/spattention-paper.spc] [--modes cpu,webasm,webgpu,webgl2]
// Writes bench/results/gpujs-<date>.md.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, totalmem, release } from 'node:os';
import { parseArgs } from 'node:util';
import { GPU } from 'gpu.js';
import { compileSource } from '../src/driver/pipeline.js';
import { instantiate, layoutStats, type LayoutIR } from '../src/ir/index.js';
import { emitModule, RUNTIME_JS, runtimeFiles } from '../targets/gpujs/index.js';
import { CHROMIUM, openBrowser, runInPage } from '../test/helpers/browser.js';
import { inputsFor, loadModule, setupWebGPU, type Mode } from '../test/helpers/gpujs.js';

const { values } = parseArgs({
  options: {
    n: { type: 'string', default: '1024' },
    repeats: { type: 'string', default: '3' },
    band: { type: 'string', default: 'examples/spattention-paper.spc' },
    modes: { type: 'string', default: 'cpu,webasm,webgpu,webgl2' },
  },
});
const N = Number(values.n);
const R = Number(values.repeats);
const modes = values.modes!.split(',') as Mode[];
const band = compileSource(readFileSync(values.band!, 'utf8'))[0]!;
const dense = compileSource(readFileSync('examples/dense-causal.spc', 'utf8'))[0]!;
if (band.heads !== dense.heads || band.headDim !== dense.headDim || band.kvHeads !== dense.kvHeads) {
  throw new Error(`band layout ${band.name} (H=${band.heads}, KV=${band.kvHeads}, D=${band.headDim}) differs in shape from dense_causal`);
}
const B = 1;

async function timeNode(mode: Mode, layout: LayoutIR): Promise<number> {
  if (mode === 'webgpu') await setupWebGPU();
  const gpu = new GPU({ mode: mode as 'cpu' });
  const mod = await loadModule(layout);
  const run = mod.createAttention(gpu, { batch: B });
  const inp = inputsFor(layout, N, B, 7);
  await run(inp.q, inp.k, inp.v); // compile + warm up
  const times: number[] = [];
  for (let r = 0; r < R; r++) {
    const t0 = performance.now();
    await run(inp.q, inp.k, inp.v);
    times.push(performance.now() - t0);
  }
  for (const k of (gpu as unknown as { kernels: object[] }).kernels)
    if ((k.constructor as unknown as { mode: string }).mode !== mode)
      throw new Error(`${mode}: a kernel ran on ${(k.constructor as unknown as { mode: string }).mode}`);
  run.destroy();
  gpu.destroy();
  return median(times);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

const rows: string[] = [];
const results: { mode: string; band: number; dense: number }[] = [];
let chromiumVersion = 'not run';
for (const mode of modes) {
  let tb: number, td: number;
  if (mode === 'webgl2') {
    chromiumVersion = execFileSync(CHROMIUM, ['--version'], { encoding: 'utf8' }).trim();
    const s = await openBrowser();
    s.serve(RUNTIME_JS, runtimeFiles().find((f) => f.path === RUNTIME_JS)!.contents);
    try {
      const t = async (layout: LayoutIR) => {
        const inp = inputsFor(layout, N, B, 7);
        return (await runInPage(s, s.serve(`${layout.name}.js`, emitModule(layout, 'bench')), B, inp.q, inp.k, inp.v, R)).ms;
      };
      tb = await t(band);
      td = await t(dense);
    } finally {
      await s.close();
    }
  } else {
    tb = await timeNode(mode, band);
    td = await timeNode(mode, dense);
  }
  results.push({ mode, band: tb, dense: td });
  console.log(`${mode}: band ${tb.toFixed(1)} ms, dense ${td.toFixed(1)} ms, dense/band ${(td / tb).toFixed(2)}`);
}

const pkg = (name: string) => (JSON.parse(readFileSync(`node_modules/${name}/package.json`, 'utf8')) as { version: string }).version;
const date = new Date().toISOString().slice(0, 10);
const cpu = cpus();
rows.push(`# gpu.js target: band vs dense causal (${date})`);
rows.push('');
rows.push(`- Command: \`npx tsx bench/gpujs.ts --n ${N} --repeats ${R} --band ${values.band} --modes ${modes.join(',')}\``);
rows.push(
  `- Machine: ${cpu[0]?.model ?? 'unknown CPU'} x ${cpu.length} cores, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Linux ${release()}, no GPU (webgpu: Dawn over Mesa's software driver; webgl2: Chromium's SwiftShader)`,
);
rows.push(
  `- Versions: node ${process.version}, spc ${(JSON.parse(readFileSync('package.json', 'utf8')) as { version: string }).version}, gpu.js ${pkg('gpu.js')}, webgpu ${pkg('webgpu')}, playwright-core ${pkg('playwright-core')}, ${chromiumVersion}`,
);
rows.push(
  `- Shapes: B = ${B}, H = ${band.heads}, KV = ${band.kvHeads}, D = ${band.headDim}, N = ${N}; band layout \`${band.name}\` (${values.band}), dense layout \`${dense.name}\` (examples/dense-causal.spc)`,
);
const pairs = (l: LayoutIR) => layoutStats(instantiate(l, N), 64, 64, false).totalPairs;
rows.push(
  `- Allowed (query, key) pairs over all heads: band ${pairs(band)}, dense ${pairs(dense)}: the ideal dense / band ratio is ${(pairs(dense) / pairs(band)).toFixed(2)}.`,
);
rows.push(
  `- Time: median of ${R} calls of \`run(q, k, v)\` after one warm-up call (kernel compilation excluded), host arrays in and out (uploads and readbacks included).`,
);
rows.push('');
rows.push('| mode | band (ms) | dense causal (ms) | dense / band |');
rows.push('|---|---:|---:|---:|');
for (const r of results) rows.push(`| ${r.mode} | ${r.band.toFixed(1)} | ${r.dense.toFixed(1)} | ${(r.dense / r.band).toFixed(2)} |`);
rows.push('');
mkdirSync('bench/results', { recursive: true });
const path = `bench/results/gpujs-${date}.md`;
writeFileSync(path, rows.join('\n'));
console.log(`wrote ${path}`);
process.exit(0);
