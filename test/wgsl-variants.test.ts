// Every tiled WGSL variant (targets/wgsl/tiled.ts) in CI. The workgroup-reduction variants run on
// Dawn on Mesa (llvmpipe, software) against the float64 oracle, each forced by name: the
// compatibility-tier ones on the default device, the 32 KiB tier ones on a device created with the
// adapter's limits (llvmpipe grants 32 KiB of workgroup memory and 1024 invocations). Outputs are
// poisoned with NaN first (every element must be written); bound 1e-5 as in wgsl-tiled.test.ts.
// Mesa's adapter offers no 'subgroups' (nor 'shader-f16'), so the subgroup variants cannot run here
// as they are: they are compiled through Dawn's null backend (which offers 'subgroups'):
// createShaderModule, getCompilationInfo and createComputePipelineAsync with the CHUNK_TILES
// constant; and their shaders with the subgroup operations emulated through workgroup memory
// (tiledShader's emulateSubgroups: subgroups of 8 or 32 consecutive invocations) run on Mesa against
// the oracle, which checks the lane numbering and the butterflies but not the hardware's subgroup
// operations: those only on a GPU (bench/wgsl/h200.sh). Also: the runtime's choice of variant and passes from
// the device's features, limits and adapter info.
import { readFileSync, readdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { instantiate, type LayoutIR } from '../src/ir/index.js';
import { referenceAttention } from '../src/oracle.js';
import { planLayout, planTiledVariants, tiledShader } from '../targets/wgsl/index.js';
import * as runtime from '../targets/wgsl/runtime/spc-wgsl-runtime.js';
import { layoutsOf, loadModule, openGpu, randomArray, relError, variant, type Gpu, type WgslModule } from './wgsl-helpers.js';

interface Case {
  file: string;
  layout?: string;
  heads: number;
  kvHeads?: number;
  headDim: number;
  n: number;
  batch: number;
  tilesPerPass?: number;
  empty?: boolean;
  /** N is the first workgroup variant's tilesPerPass * blockN. */
  atBudget?: boolean;
}

const CASES: Case[] = [
  { file: 'dense-causal', heads: 2, headDim: 64, n: 300, batch: 2 },
  { file: 'dense-causal', heads: 1, headDim: 128, n: 301, batch: 1 },
  { file: 'spattention-paper', heads: 16, headDim: 64, n: 1000, batch: 1 },
  { file: 'spattention-paper', heads: 16, headDim: 64, n: 9, batch: 2, empty: true },
  { file: 'spattention-balanced', heads: 5, headDim: 128, n: 650, batch: 1 },
  { file: 'spattention-released', heads: 8, kvHeads: 2, headDim: 128, n: 200, batch: 1 },
  { file: 'sinks-window', heads: 8, kvHeads: 2, headDim: 32, n: 500, batch: 1 },
  { file: 'sparse-transformer', layout: 'strided', heads: 8, headDim: 32, n: 300, batch: 1 },
  { file: 'band-union-intersection', heads: 8, headDim: 128, n: 300, batch: 1 },
  // Many passes (the resume from out and lse), and the same layout in one pass.
  { file: 'mixed-gqa', heads: 8, kvHeads: 2, headDim: 64, n: 400, batch: 1, tilesPerPass: 2 },
  { file: 'mixed-gqa', heads: 8, kvHeads: 2, headDim: 128, n: 400, batch: 1, tilesPerPass: 2 },
  // Long rows at D = 128 (Mesa's loop limit).
  { file: 'dense-causal', heads: 1, headDim: 128, n: 4096, batch: 1 },
  { file: 'spattention-paper', heads: 16, headDim: 128, n: 4096, batch: 1 },
  // The last workgroup's one pass visits exactly the 32 KiB-tier variant's budget of key tiles (337 of 16 keys at
  // D = 128): its loop bound (tiledLoopIterations) at its most; the compatibility-tier variant needs 2 passes here.
  { file: 'dense-causal', heads: 1, headDim: 128, n: 5392, batch: 1, atBudget: true },
];

const name = (c: Case) =>
  `${c.file}${c.layout ? `/${c.layout}` : ''} H=${c.heads}${c.kvHeads ? ` KV=${c.kvHeads}` : ''} D=${c.headDim} N=${c.n} B=${c.batch}${c.tilesPerPass ? ` tiles/pass=${c.tilesPerPass}` : ''}`;

function layoutFor(c: Pick<Case, 'file' | 'layout' | 'heads' | 'kvHeads' | 'headDim'>): LayoutIR {
  const text = variant(readFileSync(new URL(`../examples/${c.file}.spc`, import.meta.url), 'utf8'), {
    heads: c.heads,
    kvHeads: c.kvHeads,
    headDim: c.headDim,
    seq: 'N',
  });
  const ls = layoutsOf(text);
  return c.layout ? ls.find((l) => l.name === c.layout)! : ls[0]!;
}

const NAN_BITS = 0x7fc00000;
let small: Gpu; // compatibility-mode default limits
let bigGpu: Gpu;
let big: GPUDevice; // the adapter's limits
const mods = new Map<Case, { layout: LayoutIR; mod: WgslModule }>();

beforeAll(async () => {
  for (const c of CASES) {
    const layout = layoutFor(c);
    mods.set(c, { layout, mod: await loadModule(layout, c.tilesPerPass ? { tilesPerPass: c.tilesPerPass } : undefined) });
  }
  small = await openGpu();
  bigGpu = await openGpu(undefined, { adapterLimits: true });
  big = bigGpu.device;
}, 120_000);

afterAll(() => {
  bigGpu?.destroy();
  small?.destroy();
});

function poisoned(device: GPUDevice, bytes: number): GPUBuffer {
  const out = device.createBuffer({ size: bytes, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST, mappedAtCreation: true });
  new Uint32Array(out.getMappedRange()).fill(NAN_BITS);
  out.unmap();
  return out;
}

async function checkVariant(c: Case, vname: string, passes: 'budget' | 'single', seed: number) {
  const { layout, mod } = mods.get(c)!;
  const t = mod.TILED_VARIANTS.find((x) => x.name === vname)!;
  const device = t.sharedBytes <= 16384 && t.invocations <= 128 ? small.device : big;
  const s = mod.sizes(c.n, c.batch);
  const out = poisoned(device, s.outBytes);
  const att = await mod.createAttention(device, { n: c.n, batch: c.batch, buffers: { out }, variant: vname, passes });
  expect(att.variant).toBe('tiled');
  expect(att.tiledVariant).toBe(vname);
  const q = randomArray(s.q, seed + 1);
  const k = randomArray(s.k, seed + 2);
  const v = randomArray(s.v, seed + 3);
  const got = await att.run(q, k, v);
  const ref = referenceAttention(instantiate(layout, c.n), { batch: c.batch, q, k, v });
  for (let i = 0; i < got.out.length; i++)
    if (!Number.isFinite(got.out[i]!)) throw new Error(`${vname}: out[${i}] = ${got.out[i]} (not written or not finite)`);
  for (let i = 0; i < got.lse.length; i++) if (Number.isNaN(got.lse[i]!) || got.lse[i] === Infinity) throw new Error(`${vname}: lse[${i}] = ${got.lse[i]}`);
  const eOut = relError(got.out, ref.out);
  const eLse = relError(got.lse, ref.lse);
  const empty = ref.lse.filter((x) => x === -Infinity).length;
  console.log(
    `${vname} ${name(c)} (${passes}, ${att.passes} pass(es)): rel err out ${eOut.toExponential(2)}, lse ${eLse.toExponential(2)}, empty rows ${empty}`,
  );
  expect(eOut, `${vname} ${name(c)}`).toBeLessThan(1e-5);
  expect(eLse, `${vname} ${name(c)}`).toBeLessThan(1e-5);
  if (c.empty) expect(empty).toBeGreaterThan(0);
  if (c.tilesPerPass && passes === 'budget') expect(att.passes).toBeGreaterThan(2);
  if (passes === 'single') expect(att.passes).toBe(1);
  att.destroy();
  out.destroy();
}

describe('every workgroup-reduction tiled variant vs the float64 oracle (Dawn on Mesa)', () => {
  it('has a 32 KiB-tier and a compatibility-tier workgroup variant at D = 32, 64 and 128, and subgroup variants', () => {
    for (const d of [32, 64, 128]) {
      const c = CASES.find((x) => x.headDim === d)!;
      const vs = mods.get(c)!.mod.TILED_VARIANTS;
      expect(vs.filter((t) => t.features.length === 0).length, `D=${d}`).toBeGreaterThanOrEqual(2);
      expect(
        vs.some((t) => t.features.includes('subgroups')),
        `D=${d}`,
      ).toBe(true);
      expect(vs.at(-1)!.features).toEqual([]);
      expect(vs.at(-1)!.sharedBytes).toBeLessThanOrEqual(16384);
    }
  });
  for (const c of CASES) {
    it(
      name(c),
      async () => {
        const { mod } = mods.get(c)!;
        let seed = c.n * 131 + c.heads * 7 + c.headDim;
        if (c.atBudget) {
          const t = mod.TILED_VARIANTS.find((x) => x.features.length === 0)!;
          expect(t.tilesPerPass * t.blockN, t.name).toBe(c.n);
        }
        for (const t of mod.TILED_VARIANTS.filter((x) => x.features.length === 0)) {
          await checkVariant(c, t.name, 'budget', seed++);
          // One pass where that stays within Mesa's loop limit (short rows), to check the single-pass path here.
          if (c.tilesPerPass) await checkVariant(c, t.name, 'single', seed++);
        }
      },
      600_000,
    );
  }
});

describe('subgroup variants with emulated subgroups (Dawn on Mesa) vs the float64 oracle', () => {
  const EMU = [CASES[0]!, CASES[3]!, CASES[4]!, CASES[6]!, CASES[10]!, CASES[1]!];
  for (const c of EMU) {
    it(
      name(c),
      async () => {
        const { layout, mod } = mods.get(c)!;
        const overrides = c.tilesPerPass ? { tilesPerPass: c.tilesPerPass } : {};
        const plan = planLayout(layout, overrides);
        let seed = c.n * 131 + c.heads * 7 + c.headDim + 5;
        let ran = 0;
        for (const t of planTiledVariants(plan, overrides).filter((x) => x.reduce === 'subgroup'))
          for (const emu of [8, 32]) {
            if (t.invocations % emu !== 0 || emu < t.threadsPerRow) continue;
            const vname = `${t.name}-emu${emu}`;
            const kernel = runtime.defineKernel({
              abi: runtime.ABI,
              layout: mod.LAYOUT as runtime.LayoutInfo,
              blockM: plan.blockM,
              blockN: plan.blockN,
              tilesPerPass: plan.tilesPerPass,
              paramsBytes: plan.paramsBytes,
              sharedBytes: plan.sharedBytes,
              wgsl: mod.WGSL,
              headTable: mod.headTable,
              tiled: [
                {
                  name: vname,
                  blockM: t.blockM,
                  blockN: t.blockN,
                  invocations: t.invocations,
                  tilesPerPass: t.tilesPerPass,
                  sharedBytes: t.sharedBytes + 8 * t.invocations,
                  features: [],
                  subgroupMinSize: 0,
                  auto: true,
                  wgsl: tiledShader(plan, t, 'test', { emulateSubgroups: emu }),
                },
              ],
            });
            const device = t.sharedBytes + 8 * t.invocations <= 16384 && t.invocations <= 128 ? small.device : big;
            const s = mod.sizes(c.n, c.batch);
            const out = poisoned(device, s.outBytes);
            const att = await runtime.createAttention(kernel, device, { n: c.n, batch: c.batch, buffers: { out }, variant: vname });
            expect(att.tiledVariant).toBe(vname);
            const q = randomArray(s.q, seed + 1);
            const k = randomArray(s.k, seed + 2);
            const v = randomArray(s.v, seed + 3);
            seed++;
            const got = await att.run(q, k, v);
            const ref = referenceAttention(instantiate(layout, c.n), { batch: c.batch, q, k, v });
            for (let i = 0; i < got.out.length; i++) if (!Number.isFinite(got.out[i]!)) throw new Error(`${vname}: out[${i}] = ${got.out[i]}`);
            for (let i = 0; i < got.lse.length; i++)
              if (Number.isNaN(got.lse[i]!) || got.lse[i] === Infinity) throw new Error(`${vname}: lse[${i}] = ${got.lse[i]}`);
            const eOut = relError(got.out, ref.out);
            const eLse = relError(got.lse, ref.lse);
            console.log(`${vname} ${name(c)} (${att.passes} pass(es)): rel err out ${eOut.toExponential(2)}, lse ${eLse.toExponential(2)}`);
            expect(eOut, `${vname} ${name(c)}`).toBeLessThan(1e-5);
            expect(eLse, `${vname} ${name(c)}`).toBeLessThan(1e-5);
            att.destroy();
            out.destroy();
            ran++;
          }
        expect(ran).toBeGreaterThanOrEqual(2);
      },
      600_000,
    );
  }
});

describe('variant and pass choice from the device', () => {
  const c = CASES[4]!; // balanced D = 128
  it('auto: the first variant marked auto the device allows; a 32 KiB-tier variant when named; budget passes on a software adapter', async () => {
    const { mod } = mods.get(c)!;
    const vs = mod.TILED_VARIANTS;
    const a = await mod.createAttention(small.device, { n: c.n });
    expect(a.tiledVariant).toBe(vs.at(-1)!.name);
    const b = await mod.createAttention(big, { n: c.n });
    expect(b.tiledVariant).toBe(vs.find((t) => t.auto && t.features.length === 0)!.name);
    // The 32 KiB tier's workgroup variant: not picked automatically, runs when named on the device with the larger limits only.
    const large = vs.find((t) => !t.auto && t.features.length === 0)!;
    expect(large.sharedBytes).toBeGreaterThan(16384);
    const l = await mod.createAttention(big, { n: c.n, variant: large.name });
    expect(l.tiledVariant).toBe(large.name);
    expect(l.tiledVariant).not.toBe(a.tiledVariant);
    expect(runtime.softwareAdapter(big)).toBe(true);
    expect(l.tilesPerPass).toBe(large.tilesPerPass);
    await expect(mod.createAttention(small.device, { n: c.n, variant: large.name })).rejects.toThrow(/maxComputeWorkgroupStorageSize/);
    await expect(mod.createAttention(small.device, { n: c.n, variant: vs[0]!.name })).rejects.toThrow(/lacks feature subgroups/);
    await expect(mod.createAttention(small.device, { n: c.n, variant: 'nope' })).rejects.toThrow(/variant must be/);
    l.destroy();
    a.destroy();
    b.destroy();
  });
  it('subgroup variants need the feature, subgroup sizes from adapterInfo, TPR <= the least size and full subgroups', () => {
    const sg = {
      name: 'sg',
      blockM: 32,
      blockN: 16,
      invocations: 64,
      tilesPerPass: 9,
      sharedBytes: 20000,
      features: ['subgroups'],
      subgroupMinSize: 8,
      auto: false,
      wgsl: '',
    };
    const dev = (info: object | undefined, features: string[] = ['subgroups']) =>
      ({
        features: new Set(features),
        limits: { maxComputeWorkgroupStorageSize: 32768, maxComputeInvocationsPerWorkgroup: 256, maxComputeWorkgroupSizeX: 256 },
        adapterInfo: info,
      }) as unknown as GPUDevice;
    expect(runtime.unfit(sg, dev({ subgroupMinSize: 32, subgroupMaxSize: 32, vendor: 'nvidia' }))).toBeNull();
    expect(runtime.unfit(sg, dev({ subgroupMinSize: 32, subgroupMaxSize: 32 }, []))).toMatch(/lacks feature/);
    expect(runtime.unfit(sg, dev(undefined))).toMatch(/no subgroup sizes/);
    expect(runtime.unfit(sg, dev({ subgroupMinSize: 4, subgroupMaxSize: 32 }))).toMatch(/may have 4/);
    expect(runtime.unfit(sg, dev({ subgroupMinSize: 8, subgroupMaxSize: 128 }))).toMatch(/not a multiple/);
    expect(runtime.unfit({ ...sg, sharedBytes: 40000 }, dev({ subgroupMinSize: 32, subgroupMaxSize: 32 }))).toMatch(/maxComputeWorkgroupStorageSize/);
    expect(runtime.softwareAdapter(dev({ vendor: 'nvidia', architecture: 'hopper', device: 'nvidia-h200' }))).toBe(false);
    expect(runtime.softwareAdapter(dev({ vendor: 'google', architecture: 'swiftshader' }))).toBe(true);
    expect(runtime.softwareAdapter(dev({ vendor: 'nvidia', isFallbackAdapter: true }))).toBe(true);
    expect(runtime.softwareAdapter(dev(undefined))).toBe(true);
    // A variant not marked auto runs only when named: the automatic choice on a device that could
    // run it takes the first variant marked auto.
    const wg = { ...sg, name: 'wg', features: [], subgroupMinSize: 0, auto: true };
    const baseKernel = () => ({
      abi: runtime.ABI,
      layout: { name: 'gate', heads: 1, kvHeads: 1, headDim: 64, seq: null } as unknown as runtime.LayoutInfo,
      blockM: 64,
      blockN: 16,
      tilesPerPass: 9,
      paramsBytes: 32,
      sharedBytes: 8192,
      wgsl: '',
      headTable: () => new Int32Array(0),
    });
    const kernel = runtime.defineKernel({ ...baseKernel(), tiled: [sg, wg] });
    const nvidia = dev({ subgroupMinSize: 32, subgroupMaxSize: 32, vendor: 'nvidia' });
    expect(runtime.pickVariant(kernel, nvidia)).toBe('wg');
    expect(runtime.variant(kernel, 'tiled', nvidia).tiledName).toBe('wg');
    expect(runtime.variant(kernel, 'sg', nvidia).tiledName).toBe('sg');
    expect(() => runtime.defineKernel({ ...baseKernel(), tiled: [{ ...wg, auto: undefined as unknown as boolean }] })).toThrow(/subgroupMinSize and auto/);
  });
});

describe('subgroup variants compile through Dawn (null backend: Mesa offers no subgroups)', () => {
  it('every example at D = 32, 64, 128: shader module without errors, compute pipeline with CHUNK_TILES within the null adapter limits', async () => {
    const { create } = (await import('webgpu')) as unknown as { create(flags: string[]): GPU };
    const gpu = create(['backend=null']);
    const adapter = (await gpu.requestAdapter({ featureLevel: 'core' } as GPURequestAdapterOptions))!;
    expect(adapter.features.has('subgroups')).toBe(true);
    const device = await adapter.requestDevice({
      requiredFeatures: ['subgroups' as GPUFeatureName],
      requiredLimits: { maxComputeWorkgroupStorageSize: adapter.limits.maxComputeWorkgroupStorageSize },
    });
    const storage = adapter.limits.maxComputeWorkgroupStorageSize;
    let compiled = 0;
    let piped = 0;
    try {
      const files = readdirSync(new URL('../examples/', import.meta.url)).filter((f) => f.endsWith('.spc'));
      for (const f of files)
        for (const headDim of [32, 64, 128]) {
          for (const layout of layoutsOf(variant(readFileSync(new URL(`../examples/${f}`, import.meta.url), 'utf8'), { headDim, seq: 'N' }))) {
            const mod = await loadModule(layout, undefined, { dts: false });
            for (const t of mod.TILED_VARIANTS) {
              if (t.features.length === 0) continue;
              device.pushErrorScope('validation');
              const module = device.createShaderModule({ code: mod.WGSL_TILED_VARIANTS[t.name]! });
              const info = await module.getCompilationInfo();
              expect(
                info.messages.filter((m) => m.type === 'error').map((m) => `${m.lineNum}: ${m.message}`),
                `${layout.name} D=${headDim} ${t.name}`,
              ).toEqual([]);
              // The null adapter allows 16 KiB of workgroup memory: larger variants are checked up to the shader module.
              if (t.sharedBytes <= storage) {
                await device.createComputePipelineAsync({ layout: 'auto', compute: { module, entryPoint: 'main', constants: { CHUNK_TILES: 1000 } } });
                piped++;
              }
              expect(await device.popErrorScope(), `${layout.name} D=${headDim} ${t.name}`).toBeNull();
              compiled++;
            }
          }
        }
      console.log(
        `subgroup variants compiled through Dawn's null backend: ${compiled}, of which ${piped} also as pipelines (workgroup storage limit ${storage})`,
      );
      expect(compiled).toBeGreaterThan(40);
      expect(piped).toBeGreaterThan(20);
    } finally {
      device.destroy();
    }
  }, 300_000);
});
