// Generated gpu.js modules run in headless Chromium in webgl2 mode (gpu.js's browser build)
// and are compared with the float64 oracle, for every example at small sizes. Chromium must
// be installed: a missing browser fails these tests.
import { readdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { instantiate } from '../src/ir/index.js';
import { referenceAttention } from '../src/oracle.js';
import { emitModule, RUNTIME_JS, runtimeFiles } from '../targets/gpujs/index.js';
import { openBrowser, runInPage, type BrowserSession } from './helpers/browser.js';
import { caseLayouts, cases, checkEmptyRows, inputsFor, relError } from './helpers/gpujs.js';

const files = readdirSync('examples')
  .filter((f) => f.endsWith('.spc'))
  .sort();
const TOL = 1e-4;
const worst: Record<string, number> = {};

describe('gpujs webgl2 (headless Chromium)', () => {
  let s: BrowserSession;
  beforeAll(async () => {
    s = await openBrowser();
    // Every module imports ./spc-gpujs-runtime.js: serve it beside them.
    s.serve(RUNTIME_JS, runtimeFiles().find((f) => f.path === RUNTIME_JS)!.contents);
  }, 120_000);
  afterAll(async () => {
    console.log('gpujs worst relative error per mode/output:', JSON.stringify(worst));
    await s?.close();
  });

  for (const c of cases(files, 'webgl2')) {
    const { heads, layouts } = caseLayouts(c);
    it(`${c.file} H=${heads} D=${c.headDim} N=${c.n} B=${c.batch}`, async () => {
      for (const [x, layout] of layouts.entries()) {
        const url = s.serve(`${c.file}-${x}-${heads}-${c.headDim}.js`, emitModule(layout, 'test'));
        for (const seed of [1, 2]) {
          const inp = inputsFor(layout, c.n, c.batch, seed);
          const got = await runInPage(s, url, c.batch, inp.q, inp.k, inp.v, 1);
          expect(got.backend).toBe('webgl2');
          const ref = referenceAttention(instantiate(layout, c.n), { batch: c.batch, ...inp });
          const eo = relError(got.out, ref.out);
          const el = relError(got.lse, ref.lse);
          worst['webgl2.out'] = Math.max(worst['webgl2.out'] ?? 0, eo);
          worst['webgl2.lse'] = Math.max(worst['webgl2.lse'] ?? 0, el);
          expect(eo, `${layout.name} out`).toBeLessThan(TOL);
          expect(el, `${layout.name} lse`).toBeLessThan(TOL);
          checkEmptyRows(got.out, ref.lse, layout.headDim);
        }
      }
    });
  }

  // Long rows at the default head_dim (128): window(1024) | sinks(4) at N = 4096, rows of 1028 keys.
  it('sinks-window.spc H=1 D=128 N=4096 (long rows)', async () => {
    const n = 4096;
    const layout = caseLayouts({ file: 'sinks-window.spc', mode: 'webgl2', heads: 1, headDim: 128, n, batch: 1 }).layouts[0]!;
    const url = s.serve('long-sinks-window.js', emitModule(layout, 'test'));
    const inp = inputsFor(layout, n, 1, 7);
    const got = await runInPage(s, url, 1, inp.q, inp.k, inp.v, 1);
    expect(got.backend).toBe('webgl2');
    const ref = referenceAttention(instantiate(layout, n), { batch: 1, ...inp });
    const eo = relError(got.out, ref.out);
    const el = relError(got.lse, ref.lse);
    console.log(`gpujs webgl2 sinks-window D=128 N=${n}: rel err out ${eo.toExponential(2)}, lse ${el.toExponential(2)}`);
    expect(eo).toBeLessThan(1e-5);
    expect(el).toBeLessThan(1e-5);
    checkEmptyRows(got.out, ref.lse, layout.headDim);
  }, 300_000);
});
