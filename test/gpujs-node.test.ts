// Generated gpu.js modules run in Node in cpu, webasm and webgpu (Dawn over Mesa) modes and
// are compared with the float64 oracle, for every example at small sizes. WebGPU must be
// available: a missing adapter fails these tests.
import { readdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GPU } from 'gpu.js';
import { instantiate } from '../src/ir/index.js';
import { referenceAttention } from '../src/oracle.js';
import { caseLayouts, cases, checkEmptyRows, inputsFor, loadModule, relError, setupWebGPU, type Mode } from './helpers/gpujs.js';

const files = readdirSync('examples')
  .filter((f) => f.endsWith('.spc'))
  .sort();
const TOL = 1e-4;
const worst: Record<string, number> = {};

afterAll(() => console.log('gpujs worst relative error per mode/output:', JSON.stringify(worst)));

for (const mode of ['cpu', 'webasm', 'webgpu'] as Mode[]) {
  describe(`gpujs ${mode}`, () => {
    let gpu: GPU;
    beforeAll(async () => {
      if (mode === 'webgpu') await setupWebGPU();
      gpu = new GPU({ mode: mode as 'cpu' });
    });
    afterAll(() => gpu?.destroy());

    for (const c of cases(files, mode)) {
      const { heads, layouts } = caseLayouts(c);
      it(`${c.file} H=${heads} D=${c.headDim} N=${c.n} B=${c.batch}`, async () => {
        for (const layout of layouts) {
          const mod = await loadModule(layout);
          const run = mod.createAttention(gpu, { batch: c.batch });
          // Two calls with fresh inputs: the second reuses the cached kernels.
          for (const seed of [1, 2]) {
            const inp = inputsFor(layout, c.n, c.batch, seed);
            const got = await run(inp.q, inp.k, inp.v);
            const ref = referenceAttention(instantiate(layout, c.n), { batch: c.batch, ...inp });
            const eo = relError(got.out, ref.out);
            const el = relError(got.lse, ref.lse);
            worst[`${mode}.out`] = Math.max(worst[`${mode}.out`] ?? 0, eo);
            worst[`${mode}.lse`] = Math.max(worst[`${mode}.lse`] ?? 0, el);
            expect(eo, `${layout.name} (H=${layout.heads}) out`).toBeLessThan(TOL);
            expect(el, `${layout.name} (H=${layout.heads}) lse`).toBeLessThan(TOL);
            checkEmptyRows(got.out, ref.lse, layout.headDim);
          }
          run.destroy();
        }
        // The backend asked for is the one that ran (gpu.js can degrade to cpu silently).
        for (const k of (gpu as unknown as { kernels: object[] }).kernels) expect((k.constructor as unknown as { mode: string }).mode).toBe(mode);
      });
    }
  });
}

// Long rows at the default head_dim (128), in every mode. webgpu (Dawn on Mesa llvmpipe): Mesa ends
// every loop of a shader after 65535 loop iterations in all, and lseKernel's loop over a row's keys
// with a loop over D inside it stopped after about 65535 / (D + 2) keys (rows 504+ at D = 128) until
// the dot was unrolled. N = 4096 with window(1024) | sinks(4): rows of 1028 keys, within gpu.js's
// 2^24-element arrays.
const LONG = [
  { file: 'dense-causal.spc', n: 640, modes: ['webgpu'] },
  { file: 'sinks-window.spc', n: 4096, modes: ['cpu', 'webasm', 'webgpu'] },
] as const;
for (const mode of ['cpu', 'webasm', 'webgpu'] as Mode[]) {
  describe(`gpujs ${mode}: long rows at D = 128`, () => {
    let gpu: GPU;
    beforeAll(async () => {
      if (mode === 'webgpu') await setupWebGPU();
      gpu = new GPU({ mode: mode as 'cpu' });
    });
    afterAll(() => gpu?.destroy());
    for (const c of LONG.filter((x) => (x.modes as readonly string[]).includes(mode)))
      it(`${c.file} H=1 D=128 N=${c.n}`, async () => {
        const layout = caseLayouts({ file: c.file, mode, heads: 1, headDim: 128, n: c.n, batch: 1 }).layouts[0]!;
        const mod = await loadModule(layout);
        const run = mod.createAttention(gpu, { batch: 1 });
        const inp = inputsFor(layout, c.n, 1, 7);
        const got = await run(inp.q, inp.k, inp.v);
        const ref = referenceAttention(instantiate(layout, c.n), { batch: 1, ...inp });
        const eo = relError(got.out, ref.out);
        const el = relError(got.lse, ref.lse);
        console.log(`gpujs ${mode} ${c.file} D=128 N=${c.n}: rel err out ${eo.toExponential(2)}, lse ${el.toExponential(2)}`);
        expect(eo).toBeLessThan(1e-5);
        expect(el).toBeLessThan(1e-5);
        checkEmptyRows(got.out, ref.lse, layout.headDim);
        run.destroy();
        for (const k of (gpu as unknown as { kernels: object[] }).kernels) expect((k.constructor as unknown as { mode: string }).mode).toBe(mode);
      }, 300_000);
  });
}
