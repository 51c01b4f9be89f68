// Helpers for the gpu.js tests and bench: spec variants, emitting a module to a temporary
// directory, the WebGPU (Dawn) setup for Node, random inputs and error measures.
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createRequire } from 'node:module';
import { compileSource } from '../../src/driver/pipeline.js';
import { emitDeclarations, emitModule, runtimeFiles } from '../../targets/gpujs/index.js';
import type { LayoutIR } from '../../src/ir/index.js';

export interface Variant {
  heads: number;
  headDim: number;
}

/** The spec text with heads / head_dim / kv_heads replaced and a symbolic length. */
export function specVariant(text: string, v: Variant): string {
  const origH = Number(/^\s*heads\s+(\d+)/m.exec(text)?.[1] ?? 1);
  return text
    .replace(/^(\s*)heads\s+\d+/gm, `$1heads ${v.heads}`)
    .replace(/^(\s*)kv_heads\s+(\d+)/gm, (_, sp: string, kv: string) => {
      const g = origH / Number(kv);
      return `${sp}kv_heads ${Math.max(1, Math.floor(v.heads / g))}`;
    })
    .replace(/^(\s*)head_dim\s+\d+/gm, `$1head_dim ${v.headDim}`)
    .replace(/^(\s*)seq\s+\S+/gm, '$1seq N');
}

/** Head clauses `head a..b:` / `head a:` scaled from the spec's heads to v.heads (an empty range drops the clause). */
function scaleHeadClauses(text: string, v: Variant): string {
  const origH = Number(/^\s*heads\s+(\d+)/m.exec(text)?.[1] ?? 1);
  return text.replace(/^(\s*)head\s+(\d+)(?:\.\.(\d+))?\s*:(.*)$/gm, (_, sp: string, a: string, b: string | undefined, rest: string) => {
    const lo = Math.floor((Number(a) * v.heads) / origH);
    const hi = Math.floor(((Number(b ?? a) + 1) * v.heads) / origH) - 1;
    return hi < lo ? `${sp}# (head clause dropped at ${v.heads} heads)` : `${sp}head ${lo}..${hi}:${rest}`;
  });
}

/**
 * Layouts of a spec variant, or null when it does not compile. Head clauses are kept as
 * written when they fit, else scaled to the new head count.
 */
export function variantLayouts(text: string, v: Variant): LayoutIR[] | null {
  for (const t of [text, scaleHeadClauses(text, v)]) {
    try {
      return compileSource(specVariant(t, v));
    } catch {
      /* next */
    }
  }
  return null;
}

let counter = 0;
const root = mkdtempSync(join(tmpdir(), 'spc-gpujs-'));
writeFileSync(join(root, 'package.json'), '{"type":"module"}\n');

export interface GeneratedModule {
  createAttention(
    gpu: unknown,
    options?: { batch?: number; scale?: number },
  ): ((q: Float32Array, k: Float32Array, v: Float32Array) => Promise<{ out: Float32Array; lse: Float32Array }>) & { destroy(): void };
  headTable(n: number): Int32Array;
  maxRowKeys(t: ArrayLike<number>, n: number): number;
}

/** Emits the layout's module (and the runtime it imports) to a fresh directory; returns its path and source. */
export function writeModule(layout: LayoutIR): { path: string; source: string } {
  const dir = join(root, String(counter++));
  mkdirSync(dir);
  const source = emitModule(layout, 'test');
  const path = join(dir, `${layout.name}.js`);
  writeFileSync(path, source);
  writeFileSync(join(dir, `${layout.name}.d.ts`), emitDeclarations(layout, 'test'));
  for (const f of runtimeFiles()) writeFileSync(join(dir, f.path), f.contents);
  return { path, source };
}

export async function loadModule(layout: LayoutIR): Promise<GeneratedModule> {
  const { path } = writeModule(layout);
  return (await import(pathToFileURL(path).href)) as GeneratedModule;
}

/** Deterministic uniform values in [-1, 1) that are never exactly 0. */
export function randomArray(n: number, seed: number): Float32Array {
  let s = seed >>> 0 || 1;
  const a = new Float32Array(n);
  for (let x = 0; x < n; x++) {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    const u = (s + 0.5) / 4294967296;
    a[x] = 2 * u - 1;
  }
  return a;
}

/**
 * Normwise relative error of a float32 result against the float64 reference:
 * max |got - ref| / max(max |ref|, 1). lse entries that are -Infinity must match exactly
 * (any mismatch, or any NaN, gives Infinity).
 */
export function relError(got: ArrayLike<number>, ref: ArrayLike<number>): number {
  if (got.length !== ref.length) return Infinity;
  let err = 0;
  let mag = 1;
  for (let x = 0; x < ref.length; x++) {
    const g = got[x]!;
    const r = ref[x]!;
    if (Number.isNaN(g)) return Infinity;
    if (r === -Infinity || g === -Infinity) {
      if (g !== r) return Infinity;
      continue;
    }
    err = Math.max(err, Math.abs(g - r));
    mag = Math.max(mag, Math.abs(r));
  }
  return err / mag;
}

const require = createRequire(import.meta.url);

let webgpuReady: Promise<void> | null = null;

/**
 * Makes WebGPU available to gpu.js in Node: Dawn (the `webgpu` package) on its OpenGL ES
 * backend over Mesa (EGL surfaceless), with a compatibility-level adapter. Throws when no
 * adapter answers: the tests must fail, not skip, without WebGPU.
 */
export function setupWebGPU(): Promise<void> {
  webgpuReady ??= (async () => {
    process.env.EGL_PLATFORM ??= 'surfaceless';
    const webgpu = require('webgpu') as { create(o: string[]): GPUish; globals: object };
    Object.assign(globalThis, webgpu.globals);
    const gpu = webgpu.create(['backend=opengl']);
    const request = gpu.requestAdapter.bind(gpu);
    gpu.requestAdapter = (o: Record<string, unknown> = {}) => request({ ...o, featureLevel: 'compatibility' });
    Object.defineProperty(globalThis, 'navigator', { value: { gpu }, configurable: true, writable: true });
    const adapter = await gpu.requestAdapter();
    if (!adapter) throw new Error('WebGPU: no adapter (Dawn on OpenGL ES via Mesa); install libvulkan1 mesa-vulkan-drivers (see .ci/install.d/20-webgpu.sh)');
  })();
  return webgpuReady;
}

interface GPUish {
  requestAdapter(o?: Record<string, unknown>): Promise<unknown>;
}

export type Mode = 'cpu' | 'webasm' | 'webgpu' | 'webgl2';
export const MODES: Mode[] = ['cpu', 'webasm', 'webgpu', 'webgl2'];
const HS = [1, 4, 8];
const DS = [16, 64];
const NS = [1, 33, 256];

export interface Case {
  file: string;
  mode: Mode;
  heads: number;
  headDim: number;
  n: number;
  batch: number;
}

/**
 * The test matrix: every example in every mode, with (H, D, N) rotated so each mode sees
 * every value of each axis across the examples (and each example several combinations across
 * the modes). Batch alternates between 1 and 2.
 */
export function cases(files: string[], mode: Mode): Case[] {
  const m = MODES.indexOf(mode);
  return files.map((file, e) => ({
    file,
    mode,
    heads: HS[(e + m) % 3]!,
    headDim: DS[(e + m + Math.floor(e / 2)) % 2]!,
    n: NS[(e + 2 * m + 1) % 3]!,
    batch: 1 + ((e + m) % 2),
  }));
}

/**
 * The case's layouts: the spec with the case's heads, or with 8 heads when that variant does not
 * compile (mixed-gqa's explicit partition has exactly 8 bands); `heads` is the count used.
 */
export function caseLayouts(c: Case): { heads: number; layouts: LayoutIR[] } {
  const text = readFileSync(join('examples', c.file), 'utf8');
  for (const heads of [c.heads, 8]) {
    const layouts = variantLayouts(text, { heads, headDim: c.headDim });
    if (layouts) return { heads, layouts };
  }
  throw new Error(`${c.file} compiles neither with ${c.heads} nor with 8 heads`);
}

export interface Inputs {
  q: Float32Array;
  k: Float32Array;
  v: Float32Array;
}

export function inputsFor(layout: LayoutIR, n: number, batch: number, seed: number): Inputs {
  const qn = batch * layout.heads * n * layout.headDim;
  const kn = batch * layout.kvHeads * n * layout.headDim;
  return { q: randomArray(qn, seed * 3 + 1), k: randomArray(kn, seed * 3 + 2), v: randomArray(kn, seed * 3 + 3) };
}

/** Rows with no allowed key (ref lse = -Infinity) must have out exactly 0; returns how many such rows. */
export function checkEmptyRows(out: ArrayLike<number>, refLse: ArrayLike<number>, d: number): number {
  let rows = 0;
  for (let r = 0; r < refLse.length; r++) {
    if (refLse[r] !== -Infinity) continue;
    rows++;
    for (let x = 0; x < d; x++) if (out[r * d + x] !== 0) throw new Error(`row ${r} has no allowed key but out[${x}] = ${out[r * d + x]}`);
  }
  return rows;
}
