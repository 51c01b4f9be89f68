// The host runtimes (targets/*/runtime/spc-*-runtime.js and their .d.ts) checked by their own
// tools: `node --check` on every runtime file and on every emitted module of every example, and
// `tsc` (allowJs + checkJs, tsconfig.runtime.json) on the runtime sources. Also: the CLI run
// from dist/ copies the runtime files from the source tree, and its output directory works on
// its own once copied elsewhere (no spc needed).
import { execFile, execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import ts from 'typescript';
import { GPU } from 'gpu.js';
import { describe, expect, it } from 'vitest';
import { packageRoot } from '../codegen/runtime-source.js';
import { instantiate } from '../src/ir/index.js';
import { referenceAttention } from '../src/oracle.js';
import { getTarget, loadSpec } from '../src/driver/pipeline.js';
import { inputsFor, relError } from './helpers/gpujs.js';

const root = new URL('..', import.meta.url).pathname.replace(/\/$/, '');
const examples = readdirSync(join(root, 'examples'))
  .filter((f) => f.endsWith('.spc'))
  .sort();
const runtimeDirs = ['targets/wgsl/runtime', 'targets/gpujs/runtime'];
const runtimeFiles = runtimeDirs.flatMap((d) => readdirSync(join(root, d)).map((f) => `${d}/${f}`)).sort();

const execFileAsync = promisify(execFile);

/**
 * `node --check` on each file, a few at a time; resolves to the files that fail. The files must
 * lie under a package.json with "type": "module": without it, Node 20 accepts a .js file with a
 * syntax error in module code (checked below).
 */
async function nodeCheck(files: string[]): Promise<string[]> {
  const failed: string[] = [];
  let next = 0;
  const worker = async () => {
    while (next < files.length) {
      const f = files[next++]!;
      await execFileAsync(process.execPath, ['--check', f]).catch(() => failed.push(f));
    }
  };
  await Promise.all([worker(), worker(), worker()]);
  return failed;
}

/** A fresh temporary directory that Node treats as ES modules. */
function moduleDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  writeFileSync(join(dir, 'package.json'), '{"type":"module"}\n');
  return dir;
}

describe('host runtimes', () => {
  it('there is a .js and a hand-written .d.ts per target', () => {
    expect(runtimeFiles).toEqual([
      'targets/gpujs/runtime/spc-gpujs-runtime.d.ts',
      'targets/gpujs/runtime/spc-gpujs-runtime.js',
      'targets/wgsl/runtime/spc-wgsl-runtime.d.ts',
      'targets/wgsl/runtime/spc-wgsl-runtime.js',
    ]);
  });

  it('node --check catches a syntax error in module code (the check below is not vacuous)', async () => {
    const dir = moduleDir('spc-check-bad-');
    writeFileSync(join(dir, 'bad.js'), 'export const a = 1;\nexport function ( {\n');
    writeFileSync(join(dir, 'good.js'), 'export const a = 1;\n');
    expect(await nodeCheck([join(dir, 'bad.js'), join(dir, 'good.js')])).toEqual([join(dir, 'bad.js')]);
  });

  it('every runtime .js passes node --check', async () => {
    expect(JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).type).toBe('module');
    expect(await nodeCheck(runtimeFiles.filter((x) => x.endsWith('.js')).map((f) => join(root, f)))).toEqual([]);
  });

  it('every emitted module of every example passes node --check (wgsl and gpujs)', async () => {
    const dir = moduleDir('spc-check-');
    const files: string[] = [];
    for (const target of ['wgsl', 'gpujs']) {
      for (const ex of examples) {
        const out = join(dir, target, ex);
        mkdirSync(out, { recursive: true });
        for (const f of (await getTarget(target)).emit(loadSpec(join(root, 'examples', ex)).layouts, { version: 'test' })) {
          writeFileSync(join(out, f.path), f.contents);
          if (f.path.endsWith('.js')) files.push(join(out, f.path));
        }
      }
    }
    // 12 layouts per target, plus the runtime once per output directory (11 examples).
    expect(files.length).toBe(2 * (12 + 11));
    expect(await nodeCheck(files)).toEqual([]);
  }, 120_000);

  it('the runtime sources type-check (tsc --allowJs --checkJs, tsconfig.runtime.json)', () => {
    const configPath = join(root, 'tsconfig.runtime.json');
    const config = ts.readConfigFile(configPath, (p) => ts.sys.readFile(p));
    expect(config.error).toBeUndefined();
    const parsed = ts.parseJsonConfigFileContent(config.config, ts.sys, root, undefined, configPath);
    expect(parsed.errors).toEqual([]);
    expect(parsed.options.checkJs).toBe(true);
    // The config names every runtime file (include would drop a .js that has a .d.ts twin).
    expect(parsed.fileNames.map((f) => f.slice(root.length + 1)).sort()).toEqual(runtimeFiles);
    for (const f of runtimeFiles.filter((x) => x.endsWith('.js'))) expect(readFileSync(join(root, f), 'utf8').startsWith('// @ts-check\n'), f).toBe(true);
    const program = ts.createProgram(parsed.fileNames, parsed.options);
    const diags = ts.getPreEmitDiagnostics(program).map((d) => `${d.file?.fileName ?? ''}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`);
    expect(diags).toEqual([]);
  }, 60_000);

  it('finds the package root from source and from dist/', async () => {
    expect(packageRoot()).toBe(root);
    const fromDist = (await import(pathToFileURL(join(root, 'dist/codegen/runtime-source.js')).href)) as { packageRoot(): string };
    expect(fromDist.packageRoot()).toBe(root);
  });

  it('the CLI (dist/) writes the runtime from the source tree; the output works copied elsewhere', async () => {
    const out = mkdtempSync(join(tmpdir(), 'spc-cli-gpujs-'));
    execFileSync(process.execPath, [join(root, 'bin/spc.js'), 'compile', join(root, 'examples/mixed-gqa.spc'), '--target', 'gpujs', '-o', out], {
      stdio: 'pipe',
    });
    expect(readdirSync(out).sort()).toEqual(['mixed_gqa.d.ts', 'mixed_gqa.js', 'spc-gpujs-runtime.d.ts', 'spc-gpujs-runtime.js']);
    for (const f of ['spc-gpujs-runtime.js', 'spc-gpujs-runtime.d.ts'])
      expect(readFileSync(join(out, f), 'utf8')).toBe(readFileSync(join(root, 'targets/gpujs/runtime', f), 'utf8'));
    const wgslOut = mkdtempSync(join(tmpdir(), 'spc-cli-wgsl-'));
    execFileSync(process.execPath, [join(root, 'bin/spc.js'), 'compile', join(root, 'examples/mixed-gqa.spc'), '--target', 'wgsl', '-o', wgslOut], {
      stdio: 'pipe',
    });
    for (const f of ['spc-wgsl-runtime.js', 'spc-wgsl-runtime.d.ts'])
      expect(readFileSync(join(wgslOut, f), 'utf8')).toBe(readFileSync(join(root, 'targets/wgsl/runtime', f), 'utf8'));
    // A user copies the directory anywhere: it imports nothing but its own files (and gpu.js, passed in).
    const copy = join(moduleDir('spc-copied-'), 'attention');
    cpSync(out, copy, { recursive: true });
    const mod = (await import(pathToFileURL(join(copy, 'mixed_gqa.js')).href)) as {
      createAttention(
        gpu: GPU,
        o?: { batch?: number },
      ): ((q: Float32Array, k: Float32Array, v: Float32Array) => Promise<{ out: Float32Array; lse: Float32Array }>) & { destroy(): void };
    };
    const layout = loadSpec(join(root, 'examples/mixed-gqa.spc')).layouts[0]!;
    const gpu = new GPU({ mode: 'cpu' });
    const run = mod.createAttention(gpu, { batch: 1 });
    const inp = inputsFor(layout, 33, 1, 3);
    const got = await run(inp.q, inp.k, inp.v);
    const ref = referenceAttention(instantiate(layout, 33), { batch: 1, ...inp });
    expect(relError(got.out, ref.out)).toBeLessThan(1e-4);
    expect(relError(got.lse, ref.lse)).toBeLessThan(1e-4);
    run.destroy();
    gpu.destroy();
  }, 120_000);

  it('a module and a runtime from different ABIs refuse to work together, saying why', async () => {
    const dir = moduleDir('spc-abi-');
    const layout = loadSpec(join(root, 'examples/dense-causal.spc')).layouts[0]!;
    // The runtimes' current ABIs (wgsl 5: a tuning record's choices, kernel.tuned; 4 a list of tiled variants with features and subgroup sizes, and the CHUNK_TILES pipeline constant; 3 added the tiled variant, 2 blockN and tilesPerPass for the passes).
    for (const [target, abi] of [
      ['wgsl', 5],
      ['gpujs', 1],
    ] as const) {
      const sub = join(dir, target);
      mkdirSync(sub);
      const files = (await getTarget(target)).emit([layout], { version: 'test' });
      const js = files.find((f) => f.path === `${layout.name}.js`)!.contents;
      expect(js).toContain(`abi: ${abi},`);
      const runtimeJs = files.find((f) => f.path === `spc-${target}-runtime.js`)!.contents;
      expect(runtimeJs).toContain(`export const ABI = ${abi};`);
      for (const f of files) writeFileSync(join(sub, f.path), f.path === `${layout.name}.js` ? f.contents.replace(`abi: ${abi},`, 'abi: 99,') : f.contents);
      await expect(import(pathToFileURL(join(sub, `${layout.name}.js`)).href)).rejects.toThrow(
        new RegExp(`generated for runtime ABI 99 but spc-${target}-runtime.js implements ABI ${abi};`),
      );
    }
  });
});
