// The tiled WGSL kernel (targets/wgsl/tiled.ts) on a real WebGPU device (Dawn on Mesa, software,
// compatibility limits) against the float64 oracle, and the life cycle of many attention objects
// in one process. Error measure as in wgsl-oracle.test.ts: max |gpu - oracle| / max |oracle| per
// tensor (-inf entries of lse must match exactly); bound 1e-5. Outputs are poisoned with NaN
// first, so an element the kernel never writes fails.
import { readFileSync, readdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { instantiate, type LayoutIR } from '../src/ir/index.js';
import { referenceAttention } from '../src/oracle.js';
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
  /** The oracle must have rows with no allowed key. */
  empty?: boolean;
  once?: boolean;
}

const CASES: Case[] = [
  { file: 'dense-causal', heads: 2, headDim: 64, n: 300, batch: 2 },
  { file: 'dense-causal', heads: 1, headDim: 128, n: 301, batch: 1 },
  { file: 'spattention-paper', heads: 16, headDim: 64, n: 1000, batch: 1 },
  { file: 'spattention-paper', heads: 16, headDim: 128, n: 333, batch: 1 },
  // H > N: the last heads' bands are empty, so their rows have no allowed key.
  { file: 'spattention-paper', heads: 16, headDim: 64, n: 9, batch: 2, empty: true },
  { file: 'spattention-balanced', heads: 5, headDim: 128, n: 650, batch: 1 },
  { file: 'spattention-gapped', heads: 1, headDim: 64, n: 77, batch: 2 },
  { file: 'spattention-released', heads: 8, kvHeads: 2, headDim: 128, n: 200, batch: 1 },
  { file: 'spattention-local', heads: 3, kvHeads: 1, headDim: 64, n: 17, batch: 1 },
  { file: 'sinks-window', heads: 8, kvHeads: 2, headDim: 32, n: 500, batch: 1 },
  { file: 'longformer', heads: 16, headDim: 64, n: 300, batch: 1 },
  { file: 'band-union-intersection', heads: 8, headDim: 128, n: 300, batch: 1 },
  { file: 'mixed-gqa', heads: 8, kvHeads: 2, headDim: 64, n: 400, batch: 1 },
  { file: 'sparse-transformer', layout: 'strided', heads: 8, headDim: 32, n: 300, batch: 1 },
  { file: 'sparse-transformer', layout: 'fixed', heads: 8, headDim: 64, n: 130, batch: 2 },
  { file: 'dense-causal', heads: 1, headDim: 64, n: 1, batch: 1 },
  // Many passes (the resume from out and lse).
  { file: 'dense-causal', heads: 1, headDim: 128, n: 300, batch: 1, tilesPerPass: 3 },
  { file: 'spattention-balanced', heads: 5, headDim: 64, n: 640, batch: 1, tilesPerPass: 4 },
  { file: 'mixed-gqa', heads: 8, kvHeads: 2, headDim: 128, n: 400, batch: 1, tilesPerPass: 2 },
];

// Long rows at D = 128 (see wgsl-oracle.test.ts: Mesa's loop limit).
const LONG: Case[] = [
  { file: 'dense-causal', heads: 1, headDim: 128, n: 4096, batch: 1, once: true },
  { file: 'spattention-paper', heads: 16, headDim: 128, n: 4096, batch: 1, once: true },
];

const name = (c: Case) =>
  `${c.file}${c.layout ? `/${c.layout}` : ''} H=${c.heads}${c.kvHeads ? ` KV=${c.kvHeads}` : ''} D=${c.headDim} N=${c.n} B=${c.batch}${c.tilesPerPass ? ` tiles/pass=${c.tilesPerPass}` : ''}`;

function layoutFor(c: Case): LayoutIR {
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

let gpu: Gpu;
const mods = new Map<Case, { layout: LayoutIR; mod: WgslModule }>();
const LIFE = [
  ['dense-causal', 64, 300],
  ['spattention-paper', 64, 512],
  ['spattention-balanced', 64, 512],
  ['dense-causal', 64, 1024],
  ['spattention-paper', 128, 257],
  ['mixed-gqa', 32, 100],
  ['sinks-window', 64, 200],
  ['spattention-gapped', 32, 64],
  ['longformer', 64, 130],
  ['dense-causal', 128, 77],
  ['spattention-released', 64, 300],
  ['spattention-paper', 32, 2048],
] as const;
const lifeMods: { layout: LayoutIR; mod: WgslModule; n: number }[] = [];

beforeAll(async () => {
  // Import every generated module before the device exists (see wgsl-oracle.test.ts).
  for (const c of [...CASES, ...LONG]) {
    const layout = layoutFor(c);
    mods.set(c, { layout, mod: await loadModule(layout, c.tilesPerPass ? { tilesPerPass: c.tilesPerPass } : undefined) });
  }
  for (const [file, headDim, n] of LIFE) {
    const heads = file === 'spattention-gapped' ? 1 : file === 'longformer' ? 16 : 8;
    const layout = layoutFor({
      file,
      heads,
      kvHeads: ['mixed-gqa', 'sinks-window', 'spattention-released'].includes(file) ? 2 : undefined,
      headDim,
      n,
      batch: 1,
    });
    lifeMods.push({ layout, mod: await loadModule(layout), n });
  }
  gpu = await openGpu();
}, 120_000);

afterAll(() => gpu?.destroy());

/** A NaN-filled output buffer. */
function poisoned(bytes: number): GPUBuffer {
  const out = gpu.device.createBuffer({
    size: bytes,
    usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
    mappedAtCreation: true,
  });
  new Uint32Array(out.getMappedRange()).fill(NAN_BITS);
  out.unmap();
  return out;
}

/** Runs a module's chosen variant on random inputs into a poisoned output; returns the errors against the oracle. */
async function runChecked(layout: LayoutIR, mod: WgslModule, n: number, batch: number, want: 'auto' | 'rows' | 'tiled', seed: number) {
  const s = mod.sizes(n, batch);
  const out = poisoned(s.outBytes);
  const att = await mod.createAttention(gpu.device, { n, batch, buffers: { out }, variant: want });
  const q = randomArray(s.q, seed + 1);
  const k = randomArray(s.k, seed + 2);
  const v = randomArray(s.v, seed + 3);
  const got = await att.run(q, k, v);
  const ref = referenceAttention(instantiate(layout, n), { batch, q, k, v });
  for (let i = 0; i < got.out.length; i++) if (!Number.isFinite(got.out[i]!)) throw new Error(`out[${i}] = ${got.out[i]} (not written or not finite)`);
  for (let i = 0; i < got.lse.length; i++) if (Number.isNaN(got.lse[i]!) || got.lse[i] === Infinity) throw new Error(`lse[${i}] = ${got.lse[i]}`);
  return { att, out, got, q, k, v, eOut: relError(got.out, ref.out), eLse: relError(got.lse, ref.lse), empty: ref.lse.filter((x) => x === -Infinity).length };
}

const check = async (c: Case) => {
  const { layout, mod } = mods.get(c)!;
  expect(mod.TILED, 'the layout has a tiled variant').not.toBeNull();
  const seed = c.n * 131 + c.heads * 7 + c.headDim + (c.tilesPerPass ?? 0) * 1009;
  const r = await runChecked(layout, mod, c.n, c.batch, 'tiled', seed);
  console.log(`tiled ${name(c)}: rel err out ${r.eOut.toExponential(2)}, lse ${r.eLse.toExponential(2)}, empty rows ${r.empty}, passes ${r.att.passes}`);
  expect(r.att.variant).toBe('tiled');
  expect(r.eOut).toBeLessThan(1e-5);
  expect(r.eLse).toBeLessThan(1e-5);
  if (c.empty) expect(r.empty).toBeGreaterThan(0);
  if (c.tilesPerPass) expect(r.att.passes).toBeGreaterThan(2);
  if (!c.once) {
    const again = await r.att.run(r.q, r.k, r.v);
    expect(
      Buffer.from(again.out.buffer, again.out.byteOffset, again.out.byteLength).equals(
        Buffer.from(r.got.out.buffer, r.got.out.byteOffset, r.got.out.byteLength),
      ),
    ).toBe(true);
  }
  r.att.destroy();
  r.out.destroy();
};

describe('tiled WGSL kernel vs the float64 oracle', () => {
  it('covers every example, D = 64 and 128, N not a multiple of the tile', () => {
    const examples = readdirSync(new URL('../examples/', import.meta.url))
      .filter((f) => f.endsWith('.spc'))
      .map((f) => f.slice(0, -4));
    expect(new Set(CASES.map((c) => c.file))).toEqual(new Set(examples));
    for (const c of CASES) {
      const t = mods.get(c)!.mod.TILED!;
      if (c.n > t.blockM && !c.tilesPerPass) expect(c.n % t.blockM !== 0 || c.n % t.blockN !== 0, name(c)).toBe(true);
    }
    expect(new Set(CASES.map((c) => c.headDim))).toEqual(new Set([32, 64, 128]));
  });
  it('is the variant createAttention picks on the compatibility-mode device', async () => {
    const c = CASES[0]!;
    const { mod } = mods.get(c)!;
    const att = await mod.createAttention(gpu.device, { n: c.n, batch: c.batch });
    expect(att.variant).toBe('tiled');
    const rows = await mod.createAttention(gpu.device, { n: c.n, batch: c.batch, variant: 'rows' });
    expect(rows.variant).toBe('rows');
    att.destroy();
    rows.destroy();
  });
  for (const c of CASES) it(name(c), () => check(c), 60_000);
  for (const c of LONG) it(name(c), () => check(c), 300_000);
});

describe('many attention objects in one process', () => {
  it(`creates, runs and destroys ${LIFE.length} attention objects of different layouts and N, both variants`, async () => {
    let k = 0;
    for (const { layout, mod, n } of lifeMods) {
      for (const want of ['tiled', 'rows'] as const) {
        const r = await runChecked(layout, mod, n, 1, want, 7 * k++);
        expect(r.att.variant).toBe(want);
        expect(r.eOut, `${layout.name} N=${n} ${want}`).toBeLessThan(1e-5);
        expect(r.eLse, `${layout.name} N=${n} ${want}`).toBeLessThan(1e-5);
        r.att.destroy();
        await expect(r.att.run(r.q, r.k, r.v)).rejects.toThrow(/after destroy/);
        r.out.destroy();
      }
    }
  }, 300_000);

  it('destroy() destroys every buffer the object allocated, after the run in flight', async () => {
    const { mod, n } = lifeMods[0]!;
    const device = gpu.device;
    const made: GPUBuffer[] = [];
    const create = device.createBuffer.bind(device);
    device.createBuffer = (d: GPUBufferDescriptor) => {
      const b = create(d);
      made.push(b);
      const destroy = b.destroy.bind(b);
      let gone = false;
      Object.defineProperty(b, 'gone', { get: () => gone });
      b.destroy = () => {
        gone = true;
        destroy();
      };
      return b;
    };
    try {
      const att = await mod.createAttention(device, { n });
      const s = mod.sizes(n);
      const pending = att.run(randomArray(s.q, 1), randomArray(s.k, 2), randomArray(s.v, 3));
      att.destroy(); // while the run is in flight: it must still complete
      const got = await pending;
      expect(got.out.length).toBe(s.out);
      await new Promise((r) => setTimeout(r, 10));
      // q, k, v, out, params, chunks, readback
      expect(made.length).toBe(7);
      expect(made.every((b) => (b as unknown as { gone: boolean }).gone)).toBe(true);
    } finally {
      device.createBuffer = create;
    }
  });
});
