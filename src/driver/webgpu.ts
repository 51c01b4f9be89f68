// WebGPU in Node (the `webgpu` package: Dawn), for what runs WGSL modules here rather than emits
// them: `spc tune --target wgsl`, the WGSL tests (test/wgsl-helpers.ts) and the WGSL benchmark
// (bench/wgsl/): a device on the adapter Dawn gives with the adapter's limits, a generated module
// written to a temporary folder and imported, deterministic inputs, the error against the float64
// oracle, and the timing of dispatches (timestamp-query where the device has it, else wall time).
// `webgpu` is imported on first use only: the rest of the driver never loads Dawn.
process.env.EGL_PLATFORM ??= 'surfaceless'; // Mesa's EGL under Dawn's OpenGL backend (../shared/RECIPES.md)
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { emitLayout, emitLayoutJs, runtimeFiles, type WgslEmitExtras, type WgslPlanOverrides } from '../../targets/wgsl/index.js';
import type { LayoutIR } from '../ir/index.js';

export interface WebGpu {
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

export interface WebGpuOptions {
  /** Dawn backend: 'opengl' (Mesa llvmpipe here), 'vulkan' (the NVIDIA driver on the GPU machine), 'null' (no driver). */
  backend: string;
  /** 'compatibility' (Dawn's OpenGL backends) or 'core'. */
  featureLevel: 'core' | 'compatibility';
  /** Ask for 'timestamp-query' when the adapter offers it (default true). */
  timestamps?: boolean;
}

/** Thrown when no adapter answers or the `webgpu` package is missing: the CLI reports it as a usage problem. */
export class WebGpuUnavailable extends Error {}

// A collected Dawn instance whose device is in use kills the process (futex / mutex assertion
// failures): every instance lives as long as the process.
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

async function loadDawn(): Promise<{ create(flags: string[]): GPU; globals: object }> {
  try {
    return (await import('webgpu')) as unknown as { create(flags: string[]): GPU; globals: object };
  } catch (e) {
    throw new WebGpuUnavailable(`WebGPU in Node needs the npm package webgpu (Dawn; npm install webgpu@0.6.2): ${(e as Error).message}`);
  }
}

/** A device on the adapter Dawn's backend gives, with the adapter's limits and (where offered) timestamp-query, subgroups and shader-f16. */
export async function openWebGpu(o: WebGpuOptions): Promise<WebGpu> {
  const { create, globals } = await loadDawn();
  Object.assign(globalThis, globals);
  // Dawn rounds timestamps (timestamp_quantization) unless told not to.
  const gpu = create([`backend=${o.backend}`, 'disable-dawn-features=timestamp_quantization']);
  instances.push(gpu);
  const adapter = await gpu.requestAdapter({ featureLevel: o.featureLevel, powerPreference: 'high-performance' } as GPURequestAdapterOptions);
  if (!adapter) throw new WebGpuUnavailable(`no WebGPU adapter (Dawn backend=${o.backend}, featureLevel ${o.featureLevel})`);
  const features = [...adapter.features].map(String).sort();
  const wanted = ['subgroups', 'shader-f16', ...(o.timestamps === false ? [] : ['timestamp-query'])].filter((f) => adapter.features.has(f));
  const have = adapter.limits as unknown as Record<string, number | undefined>;
  const limits: Record<string, number> = {};
  for (const k of LIMITS) if (typeof have[k] === 'number') limits[k] = have[k];
  let device: GPUDevice;
  try {
    device = await adapter.requestDevice({ requiredFeatures: wanted as GPUFeatureName[], requiredLimits: limits });
  } catch (e) {
    // Only timestamp-query matters for timing: try again without subgroups and shader-f16.
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
    // The subgroup sizes the runtime checks before it picks a subgroup variant.
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

/**
 * The first device of: the backend asked for (its feature level: compatibility for Dawn's OpenGL
 * backends, else core), or without one, Vulkan (core) and then OpenGL (compatibility: Mesa here).
 */
export async function openDefaultWebGpu(backend: string | undefined, o: { timestamps?: boolean } = {}): Promise<WebGpu> {
  const level = (b: string) => (b === 'opengl' || b === 'opengles' ? 'compatibility' : 'core');
  const tries = backend !== undefined ? [backend] : ['vulkan', 'opengl'];
  const why: string[] = [];
  for (const b of tries) {
    try {
      return await openWebGpu({ backend: b, featureLevel: level(b), ...o });
    } catch (e) {
      if (!(e instanceof WebGpuUnavailable)) throw e;
      why.push(e.message);
    }
  }
  throw new WebGpuUnavailable(why.join('; '));
}

export interface TiledDesc {
  name: string;
  blockM: number;
  blockN: number;
  invocations: number;
  tilesPerPass: number;
  sharedBytes: number;
  features: readonly string[];
  subgroupMinSize: number;
  auto: boolean;
}

export interface WgslAttention {
  variant: 'rows' | 'tiled';
  tiledVariant: string | null;
  choice: 'record' | 'auto' | 'named';
  choiceReason: string;
  tilesPerPass: number;
  run(q: Float32Array, k: Float32Array, v: Float32Array): Promise<{ out: Float32Array; lse: Float32Array }>;
  dispatch(encoder: GPUCommandEncoder, timestampWrites?: GPUComputePassTimestampWrites): void;
  buffers: Record<'q' | 'k' | 'v' | 'out', GPUBuffer>;
  grid: number[];
  passes: number;
  destroy(): void;
}

/** Minimal shape of a generated module (the full types are in its .d.ts). */
export interface WgslModule {
  LAYOUT: { name: string; heads: number; kvHeads: number; headDim: number; seq: number | null };
  WGSL: string;
  BLOCK_M: number;
  BLOCK_N: number;
  TILES_PER_PASS: number;
  TILED: TiledDesc | null;
  WGSL_TILED: string | null;
  TILED_VARIANTS: readonly TiledDesc[];
  WGSL_TILED_VARIANTS: Readonly<Record<string, string>>;
  passes(N: number): number;
  headTable(N: number): Int32Array;
  sizes(N: number, batch?: number): { q: number; k: number; v: number; out: number; lse: number; outBytes: number };
  createAttention(
    device: GPUDevice,
    options: {
      n?: number;
      batch?: number;
      scale?: number;
      buffers?: Partial<Record<'q' | 'k' | 'v' | 'out', GPUBuffer>>;
      variant?: string;
      passes?: 'auto' | 'budget' | 'single';
    },
  ): Promise<WgslAttention>;
  createPipeline(device: GPUDevice): Promise<unknown>;
}

let outDir: string | null = null;
let counter = 0;
let lastDir: string | null = null;

/** The folder loadWgslModule wrote last (it holds the module and the runtime file, spc-wgsl-runtime.js), or null. */
export const lastModuleDir = (): string | null => lastDir;

/**
 * Emits the layout with the WGSL target into a temporary folder and imports its .js (overrides:
 * forced plan choices; extras: variants added by name, a tuning record's choices). dts: false skips
 * the .d.ts (ts-morph), for a machine that carries only spc's runtime packages (bench/wgsl/).
 * Import modules before a device exists where you can (see test/wgsl-helpers.ts).
 */
export async function loadWgslModule(
  layout: LayoutIR,
  o: { overrides?: WgslPlanOverrides; dts?: boolean; extras?: WgslEmitExtras; version?: string } = {},
): Promise<WgslModule> {
  if (outDir === null) {
    outDir = mkdtempSync(join(tmpdir(), 'spc-wgsl-'));
    writeFileSync(join(outDir, 'package.json'), '{ "type": "module" }\n'); // the modules are ES modules wherever tmpdir is
  }
  const emit = (o.dts ?? true) ? emitLayout : emitLayoutJs;
  const files = [...emit(layout, o.version ?? 'test', o.overrides, o.extras ?? {}), ...runtimeFiles()]; // the module imports ./spc-wgsl-runtime.js
  const dir = join(outDir, String(counter++));
  mkdirSync(dir, { recursive: true });
  for (const f of files) writeFileSync(join(dir, f.path), f.contents);
  lastDir = dir;
  return (await import(pathToFileURL(join(dir, `${layout.name}.js`)).href)) as WgslModule;
}

/** Deterministic pseudo-random floats in [-1, 1) (never all zeros). */
export function randomArray(n: number, seed: number): Float32Array {
  let s = (seed * 2654435761) >>> 0 || 1;
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    a[i] = s / 2 ** 31 - 1;
  }
  return a;
}

/** max |a - b| / max |b| over finite entries of b (b = oracle); entries where b is -inf must be -inf in a. */
export function relError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < b.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (!Number.isFinite(y)) {
      if (x !== y) return Infinity;
      continue;
    }
    if (!Number.isFinite(x)) return Infinity;
    num = Math.max(num, Math.abs(x - y));
    den = Math.max(den, Math.abs(y));
  }
  return den === 0 ? num : num / den;
}

export interface DispatchTimes {
  /** Median GPU time (timestamp-query), ms; absent without timestamps or when they were unusable. */
  gpuMs?: number;
  /** Median submit-to-onSubmittedWorkDone wall time, ms. */
  wallMs: number;
  /** The time to use: gpuMs where measured, else wallMs. */
  ms: number;
  timing: 'timestamp-query' | 'wall';
  reps: number;
  note?: string;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/**
 * Untimed dispatches before the timed ones, for at least this long (wall time, ms): a GPU that was
 * idle (the tuner's oracle check runs on the CPU first) runs its first dispatches at lower clocks.
 * On the H200 the tuner timed a variant at 2.3x-3.8x the benchmark's time for it without this
 * (bench/results/wgsl-tune-2026-12-02-h200.md).
 */
export const WARMUP_MS = 300;

/**
 * Times `reps` dispatches of the attention's compute passes (after the caller's warm-up run and
 * untimed dispatches for at least warmupMs): with timestamps, the GPU time between the start of
 * each call's first pass and the end of its last; always the wall time from submit to
 * onSubmittedWorkDone. Medians.
 */
export async function timeDispatches(
  device: GPUDevice,
  att: Pick<WgslAttention, 'dispatch'>,
  reps: number,
  timestamps: boolean,
  warmupMs: number = WARMUP_MS,
): Promise<DispatchTimes> {
  for (let t0 = performance.now(), k = 0; k < 1 || performance.now() - t0 < warmupMs; k++) {
    const enc = device.createCommandEncoder();
    att.dispatch(enc);
    device.queue.submit([enc.finish()]);
    await device.queue.onSubmittedWorkDone();
  }
  const querySet = timestamps ? device.createQuerySet({ type: 'timestamp', count: 2 * reps }) : null;
  const walls: number[] = [];
  for (let r = 0; r < reps; r++) {
    const enc = device.createCommandEncoder();
    att.dispatch(enc, querySet ? { querySet, beginningOfPassWriteIndex: 2 * r, endOfPassWriteIndex: 2 * r + 1 } : undefined);
    const t = performance.now();
    device.queue.submit([enc.finish()]);
    await device.queue.onSubmittedWorkDone();
    walls.push(performance.now() - t);
  }
  const out: DispatchTimes = { wallMs: median(walls), ms: median(walls), timing: 'wall', reps };
  if (querySet) {
    const bytes = 16 * reps;
    const resolve = device.createBuffer({ size: bytes, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC });
    const read = device.createBuffer({ size: bytes, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    const enc = device.createCommandEncoder();
    enc.resolveQuerySet(querySet, 0, 2 * reps, resolve, 0);
    enc.copyBufferToBuffer(resolve, 0, read, 0, bytes);
    device.queue.submit([enc.finish()]);
    await read.mapAsync(GPUMapMode.READ);
    const stamps = new BigUint64Array(read.getMappedRange().slice(0));
    read.unmap();
    const gpuMs: number[] = [];
    for (let r = 0; r < reps; r++) if (stamps[2 * r + 1]! > stamps[2 * r]!) gpuMs.push(Number(stamps[2 * r + 1]! - stamps[2 * r]!) / 1e6);
    if (gpuMs.length === reps) {
      out.gpuMs = median(gpuMs);
      out.ms = out.gpuMs;
      out.timing = 'timestamp-query';
      if (out.gpuMs > 1.5 * out.wallMs + 1) out.note = 'GPU time over wall time: check the timestamp period';
    } else out.note = `timestamps unusable (${[...stamps].join(', ')}); wall time used`;
    resolve.destroy();
    read.destroy();
    querySet.destroy();
  }
  return out;
}
