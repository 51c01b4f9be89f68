// Shared by the WGSL tests and the benchmark: a real WebGPU device from Dawn (npm `webgpu`),
// generated modules written to a temporary folder and imported, and spec-text variants.
process.env.EGL_PLATFORM ??= 'surfaceless';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { emitLayout, emitLayoutJs, runtimeFiles, type WgslPlanOverrides } from '../targets/wgsl/index.js';
import { compileSource } from '../src/driver/pipeline.js';
import type { LayoutIR } from '../src/ir/index.js';

const instances: GPU[] = [];

export interface Gpu {
  adapter: GPUAdapter;
  device: GPUDevice;
  description: string;
  destroy(): void;
}

/**
 * Dawn on Mesa (OpenGL ES, software), compatibility feature level. Throws when no adapter: never
 * skip. adapterLimits: the device gets the adapter's workgroup-memory and invocation limits instead
 * of the compatibility-mode defaults.
 */
export async function openGpu(backend = process.env.SPC_WEBGPU_BACKEND ?? 'opengl', { adapterLimits = false }: { adapterLimits?: boolean } = {}): Promise<Gpu> {
  const { create, globals } = (await import('webgpu')) as unknown as { create(flags: string[]): GPU; globals: object };
  Object.assign(globalThis, globals);
  const gpu = create([`backend=${backend}`]);
  // Keep the instance alive as long as the process: when the GC collects a Dawn instance whose
  // device is still in use, the process dies (futex / mutex assertion failures).
  instances.push(gpu);
  const adapter = await gpu.requestAdapter({ featureLevel: 'compatibility' } as GPURequestAdapterOptions);
  if (!adapter)
    throw new Error(
      `no WebGPU adapter (Dawn backend=${backend}); install libvulkan1 mesa-vulkan-drivers (.ci/install.d/20-webgpu.sh) and set EGL_PLATFORM=surfaceless`,
    );
  const a = adapter.limits;
  const device = await adapter.requestDevice(
    adapterLimits
      ? {
          requiredLimits: {
            maxComputeWorkgroupStorageSize: a.maxComputeWorkgroupStorageSize,
            maxComputeInvocationsPerWorkgroup: a.maxComputeInvocationsPerWorkgroup,
            maxComputeWorkgroupSizeX: a.maxComputeWorkgroupSizeX,
          },
        }
      : undefined,
  );
  const info = adapter.info;
  const description = [info.vendor, info.architecture, info.device, info.description].filter(Boolean).join(' / ') || `Dawn backend=${backend} (compatibility)`;
  return { adapter, device, description: `${description} [Dawn ${backend}, compatibility]`, destroy: () => device.destroy() };
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
  ): Promise<{
    variant: 'rows' | 'tiled';
    tiledVariant: string | null;
    tilesPerPass: number;
    run(q: Float32Array, k: Float32Array, v: Float32Array): Promise<{ out: Float32Array; lse: Float32Array }>;
    dispatch(encoder: GPUCommandEncoder, timestampWrites?: GPUComputePassTimestampWrites): void;
    buffers: Record<'q' | 'k' | 'v' | 'out', GPUBuffer>;
    grid: number[];
    passes: number;
    destroy(): void;
  }>;
  createPipeline(device: GPUDevice): Promise<unknown>;
}

let outDir: string | null = null;
let counter = 0;

/**
 * Emits the layout with the WGSL target into a temporary folder and imports its .js (overrides:
 * forced plan choices). dts: false skips the .d.ts (ts-morph), for a machine that carries only
 * spc's runtime packages (bench/wgsl/).
 */
export async function loadModule(layout: LayoutIR, overrides?: WgslPlanOverrides, { dts = true }: { dts?: boolean } = {}): Promise<WgslModule> {
  if (outDir === null) {
    outDir = mkdtempSync(join(tmpdir(), 'spc-wgsl-'));
    writeFileSync(join(outDir, 'package.json'), '{ "type": "module" }\n'); // the modules are ES modules wherever tmpdir is
  }
  const files = [...(dts ? emitLayout : emitLayoutJs)(layout, 'test', overrides), ...runtimeFiles()]; // the module imports ./spc-wgsl-runtime.js
  const dir = join(outDir, String(counter++));
  const { mkdirSync } = await import('node:fs');
  mkdirSync(dir, { recursive: true });
  for (const f of files) writeFileSync(join(dir, f.path), f.contents);
  return (await import(pathToFileURL(join(dir, `${layout.name}.js`)).href)) as WgslModule;
}

/** A spec text with its heads / kv_heads / head_dim / seq lines replaced. */
export function variant(text: string, o: { heads?: number; kvHeads?: number; headDim?: number; seq?: number | 'N' }): string {
  let t = text;
  if (o.heads !== undefined) t = t.replace(/^(\s*)heads\s+\d+/m, `$1heads ${o.heads}`);
  if (o.kvHeads !== undefined) {
    if (/^\s*kv_heads\s+\d+/m.test(t)) t = t.replace(/^(\s*)kv_heads\s+\d+/m, `$1kv_heads ${o.kvHeads}`);
    else t = t.replace(/^(\s*)heads\s+(\d+)/m, `$1heads $2\n$1kv_heads ${o.kvHeads}`);
  }
  if (o.headDim !== undefined) t = t.replace(/^(\s*)head_dim\s+\d+/m, `$1head_dim ${o.headDim}`);
  if (o.seq !== undefined) t = t.replace(/^(\s*)seq\s+\w+/gm, `$1seq ${o.seq}`);
  return t;
}

export function layoutsOf(text: string): LayoutIR[] {
  return compileSource(text);
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
