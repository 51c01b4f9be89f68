// Shared by the WGSL tests and the benchmark: a real WebGPU device from Dawn (npm `webgpu`),
// generated modules written to a temporary folder and imported, and spec-text variants.
process.env.EGL_PLATFORM ??= 'surfaceless';
import type { WgslPlanOverrides } from '../targets/wgsl/index.js';
import { compileSource } from '../src/driver/pipeline.js';
import { loadWgslModule, type WgslModule } from '../src/driver/webgpu.js';
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

export type { TiledDesc, WgslModule } from '../src/driver/webgpu.js';
export { randomArray, relError } from '../src/driver/webgpu.js';

/**
 * Emits the layout with the WGSL target into a temporary folder and imports its .js (overrides:
 * forced plan choices). dts: false skips the .d.ts (ts-morph), for a machine that carries only
 * spc's runtime packages (bench/wgsl/). src/driver/webgpu.ts does it (spc tune --target wgsl too).
 */
export async function loadModule(layout: LayoutIR, overrides?: WgslPlanOverrides, { dts = true }: { dts?: boolean } = {}): Promise<WgslModule> {
  return loadWgslModule(layout, { ...(overrides ? { overrides } : {}), dts });
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
