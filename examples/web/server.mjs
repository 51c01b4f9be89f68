// A small static server for the page: serves examples/web/ and, under gen/, the files that
// `spc compile --target wgsl` emits for a band layout and for dense causal with the same H and D
// (each layout's module, and the spc-wgsl-runtime.js they both import).
// Run (after `npm run build`): node examples/web/server.mjs [--port 8080] [--spec spattention-paper] [--heads 8] [--dim 64]
// then open http://127.0.0.1:8080/?n=256
import { createServer } from 'node:http';
import { readFileSync } from 'node:fs';
import { dirname, extname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const TYPES = { '.html': 'text/html', '.js': 'text/javascript', '.mjs': 'text/javascript', '.png': 'image/png', '.wgsl': 'text/plain', '.ts': 'text/plain' };

/** Replaces the heads / head_dim lines of a spec text. */
export function specVariant(text, heads, dim) {
  return text.replace(/^(\s*)heads\s+\d+/m, `$1heads ${heads}`).replace(/^(\s*)head_dim\s+\d+/m, `$1head_dim ${dim}`);
}

/** Generated files for the page: { 'gen/<name>.js': text, ... }. `compile(text)` returns EmittedFile[]. */
export function pageFiles(compile, { spec = 'spattention-paper', heads = 8, dim = 64 } = {}) {
  const read = (f) => readFileSync(join(here, '..', `${f}.spc`), 'utf8');
  const files = {};
  for (const f of [...compile(specVariant(read(spec), heads, dim)), ...compile(specVariant(read('dense-causal'), heads, dim))])
    files[`gen/${f.path}`] = f.contents;
  return files;
}

/** Starts the server on 127.0.0.1; resolves to { url, close() }. */
export function startServer(generated, port = 0) {
  const server = createServer((req, res) => {
    const path = normalize(decodeURIComponent(new URL(req.url, 'http://x').pathname)).replace(/^\/+/, '') || 'index.html';
    let body = generated[path];
    if (body === undefined && !path.startsWith('..') && !path.startsWith('gen/')) {
      try {
        body = readFileSync(join(here, path));
      } catch {
        body = undefined;
      }
    }
    if (body === undefined) {
      res.writeHead(404);
      res.end('not found');
      return;
    }
    res.writeHead(200, { 'content-type': TYPES[extname(path)] ?? 'application/octet-stream', 'cache-control': 'no-store' });
    res.end(body);
  });
  return new Promise((resolve) =>
    server.listen(port, '127.0.0.1', () => resolve({ url: `http://127.0.0.1:${server.address().port}/`, close: () => new Promise((r) => server.close(r)) })),
  );
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const arg = (n, d) => {
    const i = process.argv.indexOf(`--${n}`);
    return i >= 0 ? process.argv[i + 1] : d;
  };
  const { compileSource } = await import('../../dist/src/driver/pipeline.js');
  const { wgslTarget } = await import('../../dist/targets/wgsl/index.js');
  const compile = (text) => wgslTarget.emit(compileSource(text), { version: 'web' });
  const files = pageFiles(compile, { spec: arg('spec', 'spattention-paper'), heads: Number(arg('heads', 8)), dim: Number(arg('dim', 64)) });
  const { url } = await startServer(files, Number(arg('port', 8080)));
  console.log(`serving ${url}?n=256`);
}
