// Shared by the WGSL benchmark (bench/wgsl.ts), its correctness check (bench/wgsl/check.ts) and
// the life-cycle probe (bench/wgsl/life.ts): the WebGPU device they run on, the layouts of the
// examples at a given H and D, and a log of timed phases (so that a process killed by the
// watchdog shows where it stopped). Runs from source (tsx) and compiled (tsconfig.bench.json,
// .gpu/js/, the carried Node on the GPU machine): files of the repository are found from
// packageRoot(), never relative to this file.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../../codegen/runtime-source.js';
import { openWebGpu, type WebGpu, type WebGpuOptions } from '../../src/driver/webgpu.js';
import type { LayoutIR } from '../../src/ir/index.js';
import { layoutsOf, variant, type WgslModule } from '../../test/wgsl-helpers.js';

/** The benchmark's device: src/driver/webgpu.ts (which spc tune --target wgsl uses too). */
export type BenchGpu = WebGpu;
export type GpuOptions = WebGpuOptions;
export const openBenchGpu: (o: GpuOptions) => Promise<BenchGpu> = openWebGpu;

/** The backend and feature level: --backend / SPC_WEBGPU_BACKEND, default opengl (Mesa here); core on every backend but opengl. */
export function gpuOptions(backend: string | undefined, featureLevel: string | undefined): GpuOptions {
  const b = backend ?? process.env.SPC_WEBGPU_BACKEND ?? 'opengl';
  const f = featureLevel ?? (b === 'opengl' || b === 'opengles' ? 'compatibility' : 'core');
  if (f !== 'core' && f !== 'compatibility') throw new Error(`--feature-level must be core or compatibility, got ${f}`);
  return { backend: b, featureLevel: f };
}

/** The first layout of examples/<file>.spc with heads, head_dim and a symbolic seq. */
export function exampleLayout(file: string, heads: number, headDim: number): LayoutIR {
  const text = readFileSync(join(packageRoot(), 'examples', `${file}.spc`), 'utf8');
  return layoutsOf(variant(text, { heads, headDim, seq: 'N' }))[0]!;
}

const t0 = performance.now();

/** One line on stderr, with the seconds since the process started: where a watchdog-killed process got to. */
export function phase(msg: string): void {
  console.error(`[${((performance.now() - t0) / 1000).toFixed(2)} s] ${msg}`);
}

/** A list option: "a,b,c". */
export const list = (s: string): string[] =>
  s
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean);

/** A list of positive integers. */
export function ints(s: string, name: string): number[] {
  const xs = list(s).map(Number);
  for (const x of xs) if (!Number.isSafeInteger(x) || x < 1) throw new Error(`--${name}: expected positive integers, got ${s}`);
  return xs;
}

/**
 * Variant selectors of the benchmark and the checks: 'auto', 'rows', 'tiled' (as createAttention
 * takes them), a tiled variant's name, or 'sg' / 'wg' (the first subgroup / workgroup-reduction
 * variant the device can run) and 'sg-small' / 'wg-small' (the last of each: compatibility-mode
 * limits), so that one command compares variants whose names differ with head_dim. A suffix
 * '@budget' or '@single' sets the passes for that selector (e.g. 'auto@budget').
 */
export const SELECTORS = ['auto', 'rows', 'tiled', 'sg', 'wg', 'sg-small', 'wg-small'] as const;

/** createAttention with a variant selector (see SELECTORS); throws when the device can run none it names. */
export async function createWith(
  mod: WgslModule,
  device: GPUDevice,
  selectorWithPasses: string,
  o: { n: number; batch?: number; buffers?: Partial<Record<'q' | 'k' | 'v' | 'out', GPUBuffer>>; passes?: 'auto' | 'budget' | 'single' },
): Promise<Awaited<ReturnType<WgslModule['createAttention']>>> {
  const at = selectorWithPasses.indexOf('@');
  const selector = at < 0 ? selectorWithPasses : selectorWithPasses.slice(0, at);
  if (at >= 0) {
    const p = selectorWithPasses.slice(at + 1);
    if (p !== 'auto' && p !== 'budget' && p !== 'single') throw new Error(`selector ${selectorWithPasses}: passes must be auto, budget or single`);
    o = { ...o, passes: p };
  }
  if (selector === 'auto' || selector === 'rows' || selector === 'tiled') return mod.createAttention(device, { ...o, variant: selector });
  const vs = mod.TILED_VARIANTS;
  const sg = vs.filter((t) => t.features.includes('subgroups')).map((t) => t.name);
  const wg = vs.filter((t) => !t.features.includes('subgroups')).map((t) => t.name);
  const names = selector === 'sg' ? sg : selector === 'wg' ? wg : selector === 'sg-small' ? sg.slice(-1) : selector === 'wg-small' ? wg.slice(-1) : [selector];
  const why: string[] = [];
  for (const name of names) {
    try {
      return await mod.createAttention(device, { ...o, variant: name });
    } catch (e) {
      const msg = String((e as Error).message ?? e);
      if (!/cannot run on this device/.test(msg)) throw e;
      why.push(msg.replace(/^spc wgsl \(layout [^)]*\): /, ''));
    }
  }
  throw new Error(
    `no variant for selector ${selector} runs on this device${why.length ? `: ${why.join('; ')}` : ` (the layout has ${vs.map((t) => t.name).join(', ') || 'no tiled variants'})`}`,
  );
}
