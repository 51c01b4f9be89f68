// Correctness before timing, on the benchmark's device: a WGSL kernel (the tiled one unless
// --variant says otherwise) against the float64 oracle (src/oracle.ts), as test/wgsl-tiled.test.ts
// does on Mesa, without vitest: output poisoned with NaN first, max |gpu - oracle| / max |oracle|
// per tensor (-inf entries of lse must match), bound 1e-5. Exit status 1 when a case fails.
// Run: npx tsx bench/wgsl/check.ts --case spattention-paper:16:128:4096 [--case ...] [--variants tiled[,sg,wg,...]] [--passes auto|budget|single]
//      [--backend vulkan] [--feature-level core] [--jsonl FILE (one line per case, appended)]
// Case: pattern:H:D:N (batch 1). Default: dense-causal:1:128:4096 and spattention-paper:16:128:4096.
import { appendFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { instantiate } from '../../src/ir/index.js';
import { referenceAttention } from '../../src/oracle.js';
import { loadModule, randomArray, relError } from '../../test/wgsl-helpers.js';
import { createWith, exampleLayout, gpuOptions, list, openBenchGpu, phase } from './common.js';

const { values: opts } = parseArgs({
  options: {
    case: { type: 'string', multiple: true },
    variant: { type: 'string' }, // the old spelling of --variants
    variants: { type: 'string' },
    passes: { type: 'string', default: 'auto' },
    backend: { type: 'string' },
    'feature-level': { type: 'string' },
    jsonl: { type: 'string' },
  },
  strict: true,
});
const cases = (opts.case ?? ['dense-causal:1:128:4096', 'spattention-paper:16:128:4096']).map((c) => {
  const [pattern, h, d, n] = c.split(':');
  if (!pattern || ![h, d, n].every((x) => Number.isSafeInteger(Number(x)) && Number(x) > 0)) throw new Error(`--case must be pattern:H:D:N, got ${c}`);
  return { pattern, heads: Number(h), d: Number(d), n: Number(n), layout: exampleLayout(pattern, Number(h), Number(d)) };
});
const wants = list(opts.variants ?? opts.variant ?? 'tiled');
const passes = opts.passes as 'auto' | 'budget' | 'single';
const BOUND = 1e-5;
const NAN_BITS = 0x7fc00000;

// Import the generated modules before the device exists (see test/wgsl-helpers.ts).
const mods = [];
for (const c of cases) mods.push(await loadModule(c.layout, undefined, { dts: false }));
const gpu = await openBenchGpu({ ...gpuOptions(opts.backend, opts['feature-level']), timestamps: false });
const { device } = gpu;
phase(`adapter ${gpu.description}; features ${gpu.features.join(' ')}`);
let failed = 0;
// The oracle once per case (the inputs depend only on the case).
const refs: ReturnType<typeof referenceAttention>[] = [];
for (const [i, c] of cases.entries())
  for (const want of wants) {
    const mod = mods[i]!;
    const name = `${c.pattern} H=${c.heads} D=${c.d} N=${c.n}`;
    const s = mod.sizes(c.n, 1);
    const out = device.createBuffer({
      size: s.outBytes,
      usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
      mappedAtCreation: true,
    });
    new Uint32Array(out.getMappedRange()).fill(NAN_BITS);
    out.unmap();
    phase(`${name}: createAttention (variant ${want}, passes ${passes})`);
    let att;
    try {
      att = await createWith(mod, device, want, { n: c.n, buffers: { out }, passes });
    } catch (e) {
      const msg = String((e as Error).message ?? e).split('\n')[0];
      console.log(`SKIP ${name} ${want}: ${msg}`);
      if (opts.jsonl) appendFileSync(opts.jsonl, JSON.stringify({ case: name, selector: want, ok: null, skipped: msg, adapter: gpu.description }) + '\n');
      out.destroy();
      continue;
    }
    const kernel = att.tiledVariant ?? att.variant;
    const seed = c.n * 131 + c.heads * 7 + c.d;
    const q = randomArray(s.q, seed + 1);
    const k = randomArray(s.k, seed + 2);
    const v = randomArray(s.v, seed + 3);
    phase(`${name}: ${kernel} kernel, ${att.passes} pass(es); run`);
    const got = await att.run(q, k, v);
    phase(`${name}: float64 oracle`);
    const ref = (refs[i] ??= referenceAttention(instantiate(c.layout, c.n), { batch: 1, q, k, v }));
    let unwritten = 0;
    for (let j = 0; j < got.out.length; j++) if (!Number.isFinite(got.out[j]!)) unwritten++;
    for (let j = 0; j < got.lse.length; j++) if (Number.isNaN(got.lse[j]!) || got.lse[j] === Infinity) unwritten++;
    const eOut = relError(got.out, ref.out);
    const eLse = relError(got.lse, ref.lse);
    const ok = unwritten === 0 && eOut < BOUND && eLse < BOUND;
    if (!ok) failed++;
    const result = {
      case: name,
      selector: want,
      variant: att.variant,
      tiledVariant: att.tiledVariant,
      passes: att.passes,
      tilesPerPass: att.tilesPerPass,
      relErrOut: eOut,
      relErrLse: eLse,
      unwritten,
      emptyRows: ref.lse.filter((x) => x === -Infinity).length,
      bound: BOUND,
      ok,
      adapter: gpu.description,
    };
    console.log(
      `${ok ? 'PASS' : 'FAIL'} ${name} ${want} -> ${kernel} (${att.passes} pass(es)): rel err out ${eOut.toExponential(2)}, lse ${eLse.toExponential(2)}, non-finite ${unwritten}, bound ${BOUND}`,
    );
    if (opts.jsonl) appendFileSync(opts.jsonl, JSON.stringify(result) + '\n');
    att.destroy();
    out.destroy();
  }
gpu.destroy();
process.exit(failed ? 1 : 0);
