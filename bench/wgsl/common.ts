// Shared by the WGSL benchmark (bench/wgsl.ts), its correctness check (bench/wgsl/check.ts) and
// the life-cycle probe (bench/wgsl/life.ts): the WebGPU device they run on, the layouts of the
// examples at a given H and D, and a log of timed phases (so that a process killed by the
// watchdog shows where it stopped). Runs from source (tsx) and compiled (tsconfig.bench.json,
// .gpu/js/, the carried Node on the GPU machine): files of the repository are found from
// packageRoot(), never relative to this file.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../../codegen/runtime-source.js';
import type { LayoutIR } from '../../src/ir/index.js';
import { layoutsOf, variant, type WgslModule } from '../../test/wgsl-helpers.js';

export interface BenchGpu {
  adapter: GPUAdapter;
  device: GPUDevice;
  /** Adapter vendor / architecture / device / description, and the Dawn backend and feature level. */
  description: string;
  info: { vendor: string; architecture: string; device: string; description: string; subgroupMinSize: number | null; subgroupMaxSize: number | null };
  /** The adapter's features. */
  features: string[];
  /** Whether the device was created with 'timestamp-query'. */
  timestamps: boolean;
  backend: string;
  featureLevel: string;
  /** The limits the device was created with (the adapter's own, for the ones the kernels use). */
  limits: Record<string, number>;
  destroy(): void;
}

export interface GpuOptions {
  /** Dawn backend: 'opengl' (Mesa llvmpipe here), 'vulkan' (the NVIDIA driver on the GPU machine, lavapipe here). */
  backend: string;
  /** 'compatibility' (the tests' level on Mesa's OpenGL ES backend) or 'core'. */
  featureLevel: 'core' | 'compatibility';
  /** Ask for 'timestamp-query' when the adapter offers it (default true). */
  timestamps?: boolean;
}

const instances: unknown[] = [];

/** Limits the kernels depend on; the device asks for the adapter's own values of these. */
const LIMITS = [
  'maxStorageBufferBindingSize',
  'maxBufferSize',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupsPerDimension',
  'maxStorageBuffersPerShaderStage',
  'maxUniformBufferBindingSize',
  'maxComputeWorkgroupSizeY',
  'maxComputeWorkgroupSizeZ',
] as const;

/** A device on the adapter Dawn's backend gives, with the adapter's limits and (where offered) timestamp-query, subgroups and shader-f16. */
export async function openBenchGpu(o: GpuOptions): Promise<BenchGpu> {
  const { create, globals } = (await import('webgpu')) as unknown as { create(flags: string[]): GPU; globals: object };
  Object.assign(globalThis, globals);
  // Dawn rounds timestamps (timestamp_quantization) unless told not to.
  const gpu = create([`backend=${o.backend}`, 'disable-dawn-features=timestamp_quantization']);
  instances.push(gpu); // a collected Dawn instance whose device is in use kills the process (test/wgsl-helpers.ts)
  const adapter = await gpu.requestAdapter({ featureLevel: o.featureLevel, powerPreference: 'high-performance' } as GPURequestAdapterOptions);
  if (!adapter) throw new Error(`no WebGPU adapter (Dawn backend=${o.backend}, featureLevel ${o.featureLevel})`);
  const features = [...adapter.features].map(String).sort();
  const wanted = ['subgroups', 'shader-f16', ...(o.timestamps === false ? [] : ['timestamp-query'])].filter((f) => adapter.features.has(f));
  const have = adapter.limits as unknown as Record<string, number | undefined>;
  const limits: Record<string, number> = {};
  for (const k of LIMITS) if (typeof have[k] === 'number') limits[k] = have[k];
  let device: GPUDevice;
  try {
    device = await adapter.requestDevice({ requiredFeatures: wanted as GPUFeatureName[], requiredLimits: limits });
  } catch (e) {
    // Only timestamp-query matters to the benchmark: try again without subgroups and shader-f16.
    console.error(`requestDevice with ${wanted.join(', ')} failed (${(e as Error).message}); trying timestamp-query alone`);
    device = await adapter.requestDevice({ requiredFeatures: wanted.filter((f) => f === 'timestamp-query') as GPUFeatureName[], requiredLimits: limits });
  }
  device.addEventListener?.('uncapturederror', (e) => console.error(`[webgpu uncaptured error] ${(e as GPUUncapturedErrorEvent).error.message}`));
  const i = adapter.info;
  const sizes = i as unknown as { subgroupMinSize?: number; subgroupMaxSize?: number };
  const info = {
    vendor: i.vendor ?? '',
    architecture: i.architecture ?? '',
    device: i.device ?? '',
    description: i.description ?? '',
    // The subgroup sizes the runtime checks before it picks a subgroup variant (bench/wgsl/README.md).
    subgroupMinSize: sizes.subgroupMinSize ?? null,
    subgroupMaxSize: sizes.subgroupMaxSize ?? null,
  };
  const name =
    [info.vendor, info.architecture, info.device, info.description].filter(Boolean).join(' / ') +
      (info.subgroupMinSize !== null ? ` (subgroup sizes ${info.subgroupMinSize}..${info.subgroupMaxSize})` : '') || 'unnamed adapter';
  return {
    adapter,
    device,
    description: `${name} [Dawn ${o.backend}, ${o.featureLevel}]`,
    info,
    features,
    timestamps: device.features.has('timestamp-query'),
    backend: o.backend,
    featureLevel: o.featureLevel,
    limits,
    destroy: () => device.destroy(),
  };
}

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
