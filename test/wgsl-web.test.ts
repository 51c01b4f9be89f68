// Drives examples/web/ in Debian's headless Chromium (SwiftShader WebGPU): the page loads the
// generated modules, runs the band and dense kernels, and reports its error vs a JS reference.
// The screenshot goes to out/web-screenshot.png (ignored by git).
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { expect, it } from 'vitest';
import { compileSource } from '../src/driver/pipeline.js';
import { emitLayout, runtimeFiles, wgslTarget, type WgslPlanOverrides } from '../targets/wgsl/index.js';
// @ts-expect-error: a plain ES module without types
import { pageFiles, startServer } from '../examples/web/server.mjs';

const root = new URL('..', import.meta.url).pathname;

interface PageResult {
  ok: boolean;
  error?: string;
  errOut: number;
  errLse: number;
  /** The dense-causal kernel's errors against the same reference (the page checks both kernels). */
  errOutDense: number;
  errLseDense: number;
  bandMs: number;
  denseMs: number;
  adapter: string;
  /** The variant createAttention picked for the band kernel. */
  variant?: string;
}

/** Serves the page with modules for (heads, dim), opens `query` in headless Chromium, and returns window.spcResult. */
async function runPage(o: { heads: number; dim: number; query: string; overrides?: WgslPlanOverrides; screenshot?: string }): Promise<PageResult> {
  const compile = (text: string) =>
    o.overrides
      ? [...compileSource(text).flatMap((l) => emitLayout(l, 'web', o.overrides)), ...runtimeFiles()]
      : wgslTarget.emit(compileSource(text), { version: 'web' });
  const server = await startServer(pageFiles(compile, { spec: 'spattention-paper', heads: o.heads, dim: o.dim }));
  const profile = mkdtempSync(join(tmpdir(), 'spc-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.SPC_CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    viewport: { width: 1000, height: 560 },
    args: [
      '--no-sandbox',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      '--disable-quic',
      '--enable-unsafe-webgpu',
    ],
  });
  try {
    const page = context.pages()[0] ?? (await context.newPage());
    const logs: string[] = [];
    page.on('console', (m) => logs.push(m.text()));
    page.on('pageerror', (e) => logs.push(String(e)));
    await page.goto(`${server.url}?${o.query}`);
    await page.waitForFunction(() => (window as unknown as { spcResult?: unknown }).spcResult !== undefined, undefined, { timeout: 150_000 });
    const r = (await page.evaluate(() => (window as unknown as { spcResult: Record<string, unknown> }).spcResult)) as unknown as PageResult;
    if (o.screenshot) {
      mkdirSync(join(root, 'out'), { recursive: true });
      await page.screenshot({ path: join(root, o.screenshot), fullPage: true });
    }
    console.log('web page result:', JSON.stringify(r), logs.length ? `console: ${logs.join(' | ')}` : '');
    return r;
  } finally {
    await context.close();
    await server.close();
    rmSync(profile, { recursive: true, force: true });
  }
}

function expectGood(r: PageResult): void {
  expect(r.error).toBeUndefined();
  expect(r.errOut).toBeLessThan(1e-5);
  expect(r.errLse).toBeLessThan(1e-5);
  expect(r.errOutDense).toBeLessThan(1e-5);
  expect(r.errLseDense).toBeLessThan(1e-5);
  expect(r.bandMs).toBeGreaterThan(0);
  expect(r.denseMs).toBeGreaterThan(0);
  expect(r.ok).toBe(true);
  // SwiftShader's limits allow the tiled variant, so createAttention picks it.
  expect(r.variant).toBe('tiled');
}

it('the web page runs the generated kernels on the browser GPU and reports a small error', async () => {
  expectGood(await runPage({ heads: 8, dim: 64, query: 'layout=spattention_paper&n=192&reps=3', screenshot: 'out/web-screenshot.png' }));
}, 180_000);

// D = 128 with long rows (Mesa's loop limit broke these in Node; SwiftShader has none), split into
// many passes of 3 key tiles: the pass loop (a copy into the uniform, then a dispatch) and the
// resume from the previous pass's (out, lse) on the browser's WebGPU.
it('the web page runs D = 128 kernels split into many passes', async () => {
  expectGood(await runPage({ heads: 4, dim: 128, query: 'layout=spattention_paper&n=512&reps=1', overrides: { tilesPerPass: 3 } }));
}, 180_000);

// Long rows at the default head_dim (128), N = 4096, on the browser's WebGPU (SwiftShader here):
// the band kernel and the dense one, each against the float64 reference.
it('the web page runs D = 128 kernels on long rows (N = 4096)', async () => {
  expectGood(await runPage({ heads: 2, dim: 128, query: 'layout=spattention_paper&n=4096&reps=1' }));
}, 600_000);
