// Headless Chromium (Debian's /usr/bin/chromium through playwright-core) running generated
// gpu.js modules with gpu.js's browser build, in webgl2 mode (SwiftShader without a GPU).
// A missing Chromium throws: the tests fail rather than skip.
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

const require = createRequire(import.meta.url);
export const CHROMIUM = process.env.SPC_CHROMIUM ?? '/usr/bin/chromium';

export interface BrowserSession {
  page: Page;
  /** Serves `source` at /m/<name> and returns its URL. */
  serve(name: string, source: string): string;
  close(): Promise<void>;
}

export async function openBrowser(): Promise<BrowserSession> {
  if (!existsSync(CHROMIUM)) throw new Error(`Chromium not found at ${CHROMIUM}: install Debian's chromium (see .ci/install.d/20-webgpu.sh)`);
  const gpuJs = readFileSync(join(dirname(require.resolve('gpu.js/package.json')), 'dist', 'gpu-browser.min.js'), 'utf8');
  const modules = new Map<string, string>();
  const server: Server = createServer((req, res) => {
    const url = req.url ?? '/';
    const body =
      url === '/'
        ? '<!doctype html><meta charset="utf-8"><script src="/gpu-browser.min.js"></script><body>spc gpujs</body>'
        : url === '/gpu-browser.min.js'
          ? gpuJs
          : modules.get(url);
    if (body === undefined) {
      res.writeHead(404).end();
      return;
    }
    const type = url === '/' ? 'text/html' : 'text/javascript';
    res.writeHead(200, { 'content-type': `${type}; charset=utf-8`, 'cache-control': 'no-store' }).end(body);
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const port = (server.address() as AddressInfo).port;
  // A fresh profile per session (playwright passes it as --user-data-dir).
  const browser: BrowserContext = await chromium.launchPersistentContext(mkdtempSync(join(tmpdir(), 'spc-chromium-')), {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'],
  });
  const page = await browser.newPage();
  page.on('pageerror', (e) => console.error('page error:', e.message));
  await page.goto(`http://127.0.0.1:${port}/`);
  return {
    page,
    serve(name, source) {
      modules.set(`/m/${name}`, source);
      return `http://127.0.0.1:${port}/m/${name}`;
    },
    async close() {
      await browser.close();
      await new Promise((ok) => server.close(ok));
    },
  };
}

export interface BrowserRun {
  out: number[];
  lse: number[];
  backend: string;
  ms: number;
}

// The in-page runner, a plain script (a function passed to page.evaluate would be rewritten by
// vitest's transform, which turns import() into a helper the page lacks).
const RUNNER = `
window.__spcRun = async ({ url, batch, q, k, v, repeats }) => {
  const G = window.GPU;
  if (!G.isWebGL2Supported) throw new Error('webgl2 is not supported in this Chromium');
  const mod = await import(url);
  const gpu = new G.GPU({ mode: 'webgl2' });
  const run = mod.createAttention(gpu, { batch });
  const qf = Float32Array.from(q), kf = Float32Array.from(k), vf = Float32Array.from(v);
  let r = await run(qf, kf, vf);
  const t0 = performance.now();
  for (let x = 0; x < repeats; x++) r = await run(qf, kf, vf);
  const ms = (performance.now() - t0) / Math.max(1, repeats);
  // Every kernel must be a WebGL2Kernel: gpu.js must not have degraded to another backend.
  const ks = gpu.kernels;
  const backend = ks.length > 0 && ks.every((kk) => kk instanceof G.WebGL2Kernel) ? 'webgl2' : 'not webgl2: ' + ks.map((kk) => kk.constructor.name).join(',');
  run.destroy();
  gpu.destroy();
  return { out: Array.from(r.out), lse: Array.from(r.lse), backend, ms };
};
`;

/** Imports the module in the page and runs it in webgl2 mode (the mode must exist: no fallback). */
export async function runInPage(
  s: BrowserSession,
  url: string,
  batch: number,
  q: Float32Array,
  k: Float32Array,
  v: Float32Array,
  repeats = 1,
): Promise<BrowserRun> {
  if (!(await s.page.evaluate('typeof window.__spcRun === "function"'))) await s.page.addScriptTag({ content: RUNNER });
  return s.page.evaluate((a) => (window as unknown as { __spcRun(x: typeof a): Promise<BrowserRun> }).__spcRun(a), {
    url,
    batch,
    q: Array.from(q),
    k: Array.from(k),
    v: Array.from(v),
    repeats,
  });
}
