// Generated WGSL kernels run on a real WebGPU device (Dawn on Mesa, software) and are compared
// with the float64 oracle. Error measure: max |gpu - oracle| / max |oracle| over each tensor
// (out and lse separately; -inf entries of lse must match exactly). Bound: 1e-5.
import { readdirSync, readFileSync } from 'node:fs';
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
  /** Forces fewer key tiles per compute pass than the plan's (exercises the resume between passes). */
  tilesPerPass?: number;
  /** Skip the determinism re-run (the largest cases). */
  once?: boolean;
}

// A subset of examples x H {1,3,8,16} x D {32,64} x N {1,17,128,300,1024} x GQA that covers every
// value of each axis and every example (layouts with head groups need enough heads).
const CASES: Case[] = [
  { file: 'spattention-paper', heads: 16, headDim: 64, n: 1024, batch: 1 },
  { file: 'spattention-paper', heads: 16, headDim: 32, n: 1, batch: 2 },
  { file: 'spattention-balanced', heads: 3, headDim: 32, n: 300, batch: 2 },
  { file: 'spattention-released', heads: 8, kvHeads: 2, headDim: 64, n: 128, batch: 1 },
  { file: 'spattention-gapped', heads: 1, headDim: 32, n: 17, batch: 2 },
  { file: 'spattention-local', heads: 3, kvHeads: 1, headDim: 64, n: 17, batch: 1 },
  { file: 'dense-causal', heads: 1, headDim: 64, n: 300, batch: 1 },
  { file: 'sinks-window', heads: 8, kvHeads: 2, headDim: 32, n: 1024, batch: 1 },
  { file: 'longformer', heads: 16, headDim: 32, n: 300, batch: 1 },
  { file: 'band-union-intersection', heads: 8, headDim: 64, n: 300, batch: 1 },
  { file: 'mixed-gqa', heads: 8, kvHeads: 2, headDim: 32, n: 1024, batch: 1 },
  { file: 'mixed-gqa', heads: 8, kvHeads: 4, headDim: 64, n: 1, batch: 1 },
  { file: 'sparse-transformer', layout: 'strided', heads: 8, headDim: 32, n: 300, batch: 1 },
  { file: 'sparse-transformer', layout: 'fixed', heads: 8, headDim: 64, n: 128, batch: 2 },
];

// Long rows at D = 128: Mesa's software drivers end every loop of a shader after 65535 loop
// iterations in all (targets/wgsl/plan.ts, MESA_LOOP_LIMIT), which the kernel used to pass once a
// workgroup visited about 15 key tiles (rows past ~240 keys at D = 128), returning wrong rows
// without an error. Each case below failed before the kernel kept under it: the smallest N that
// shows it for dense causal and for equal_pairs bands, the paper's layout at N = 4096, and the
// same layouts split into many passes.
const LONG: Case[] = [
  { file: 'dense-causal', heads: 1, headDim: 128, n: 320, batch: 1 },
  { file: 'dense-causal', heads: 1, headDim: 128, n: 320, batch: 1, tilesPerPass: 3 },
  { file: 'spattention-balanced', heads: 5, headDim: 128, n: 640, batch: 1 },
  { file: 'spattention-balanced', heads: 5, headDim: 128, n: 640, batch: 1, tilesPerPass: 4 },
  { file: 'mixed-gqa', heads: 8, kvHeads: 2, headDim: 128, n: 400, batch: 1, tilesPerPass: 2 },
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

beforeAll(async () => {
  // Import every generated module before the device exists: Mesa's GL threads do not survive
  // the child processes a module loader may start.
  for (const c of [...CASES, ...LONG]) {
    const layout = layoutFor(c);
    mods.set(c, { layout, mod: await loadModule(layout, c.tilesPerPass ? { tilesPerPass: c.tilesPerPass } : undefined) });
  }
  gpu = await openGpu();
}, 120_000);

afterAll(() => gpu?.destroy());

/** Poisons the output, runs the kernel on fresh random inputs, and compares with the float64 oracle. */
const check = async (c: Case) => {
  const { layout, mod } = mods.get(c)!;
  const { device } = gpu;
  const s = mod.sizes(c.n, c.batch);
  // Poison the output buffer with NaN so an element the kernel never writes shows up.
  const out = device.createBuffer({
    size: s.outBytes,
    usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
    mappedAtCreation: true,
  });
  new Uint32Array(out.getMappedRange()).fill(NAN_BITS);
  out.unmap();
  // The row kernel (the fallback); the tiled variant, which createAttention prefers, is tested in wgsl-tiled.test.ts.
  const att = await mod.createAttention(device, { n: c.n, batch: c.batch, buffers: { out }, variant: 'rows' });
  expect(att.variant).toBe('rows');
  const seed = c.n * 131 + c.heads * 7 + c.headDim + (c.tilesPerPass ?? 0) * 1009;
  const q = randomArray(s.q, seed + 1);
  const k = randomArray(s.k, seed + 2);
  const v = randomArray(s.v, seed + 3);
  const got = await att.run(q, k, v);
  const ref = referenceAttention(instantiate(layout, c.n), { batch: c.batch, q, k, v });
  for (let i = 0; i < got.out.length; i++) if (!Number.isFinite(got.out[i]!)) throw new Error(`out[${i}] = ${got.out[i]} (not written or not finite)`);
  for (let i = 0; i < got.lse.length; i++) if (Number.isNaN(got.lse[i]!) || got.lse[i] === Infinity) throw new Error(`lse[${i}] = ${got.lse[i]}`);
  const eOut = relError(got.out, ref.out);
  const eLse = relError(got.lse, ref.lse);
  console.log(`${name(c)}: rel err out ${eOut.toExponential(2)}, lse ${eLse.toExponential(2)}, empty rows ${ref.lse.filter((x) => x === -Infinity).length}`);
  expect(eOut).toBeLessThan(1e-5);
  expect(eLse).toBeLessThan(1e-5);
  if (!c.once) {
    // Deterministic: a second run gives the same bits.
    const again = await att.run(q, k, v);
    expect(
      Buffer.from(again.out.buffer, again.out.byteOffset, again.out.byteLength).equals(Buffer.from(got.out.buffer, got.out.byteOffset, got.out.byteLength)),
    ).toBe(true);
  }
  if (c.tilesPerPass) expect(att.passes).toBeGreaterThan(2);
  att.destroy();
  out.destroy();
};

describe('WGSL kernels vs the float64 oracle', () => {
  it('covers every value of each axis and every example', () => {
    expect(new Set(CASES.map((c) => c.heads))).toEqual(new Set([1, 3, 8, 16]));
    expect(new Set(CASES.map((c) => c.headDim))).toEqual(new Set([32, 64]));
    expect(new Set(CASES.map((c) => c.n))).toEqual(new Set([1, 17, 128, 300, 1024]));
    expect(CASES.some((c) => c.kvHeads && c.kvHeads < c.heads)).toBe(true);
    const examples = readdirSync(new URL('../examples/', import.meta.url))
      .filter((f) => f.endsWith('.spc'))
      .map((f) => f.slice(0, -4));
    expect(new Set(CASES.map((c) => c.file))).toEqual(new Set(examples));
  });

  for (const c of CASES) it(name(c), () => check(c));
});

describe('WGSL kernels vs the float64 oracle: long rows at D = 128, and many passes', () => {
  for (const c of LONG) it(name(c), () => check(c), 240_000);
});
