// Prepares the H100 correctness run (the GPU machine has no Node): compiles layout variants
// to CUDA packages and exports float64 oracle vectors, all under one directory to carry.
//   npx tsx test/cuda/prepare.ts out/cuda-check [CONFIG]
// CONFIG: a kernel config (JSON, as `spc compile --config`) over every layout's heuristic, e.g.
// '{"bwd90":{"dq":"writer"}}' to check a kernel variant on the same layouts and oracle cases.
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cudaTarget } from '../../targets/cuda/index.js';
import { instantiate } from '../../src/ir/index.js';
import { referenceAttention } from '../../src/oracle.js';
import { compileSource, writeAtomically } from '../../src/driver/pipeline.js';
import { randoms } from '../brute.js';

const dir = process.argv[2] ?? 'out/cuda-check';
const config: unknown = process.argv[3] === undefined ? undefined : JSON.parse(process.argv[3]);
mkdirSync(dir, { recursive: true });

const PATTERNS = {
  paper: 'partition equal_width\n  pattern band',
  released: 'partition equal_width\n  pattern band | window(W + 1)',
  balanced: 'partition equal_pairs\n  pattern band',
};
const variants: string[] = [];
for (const [p, body] of Object.entries(PATTERNS))
  for (const [H, KV, D] of [
    [8, 8, 64],
    [16, 16, 64],
    [16, 16, 128],
    [32, 32, 128],
    [32, 32, 64],
    [16, 4, 64],
    [32, 8, 128],
  ] as const)
    variants.push(`layout ${p}_h${H}_kv${KV}_d${D} {\n  heads ${H}\n  kv_heads ${KV}\n  head_dim ${D}\n  seq N\n  ${body}\n}\n`);
const exampleText = readdirSync('examples')
  .filter((f) => f.endsWith('.spc'))
  .map((f) => readFileSync(join('examples', f), 'utf8'));
const layouts = [...compileSource(variants.join('\n')), ...exampleText.flatMap((t) => compileSource(t))];
writeAtomically(dir, cudaTarget.emit(layouts, { version: 'check', config }));
writeFileSync(
  join(dir, 'layouts.json'),
  JSON.stringify(layouts.map((l) => ({ name: l.name, heads: l.heads, kv_heads: l.kvHeads, head_dim: l.headDim, seq: l.seq }))),
);

// Oracle vectors: inputs rounded to bf16 (exact in the kernel's dtype), float64 outputs.
const toBf16 = (x: number) => {
  const f = new Float32Array([x]);
  const u = new Uint32Array(f.buffer);
  u[0] = ((u[0]! + 0x7fff + ((u[0]! >> 16) & 1)) >>> 16) << 16;
  return f[0]!;
};
const cases = [
  ['released_h8_kv8_d64', 77, 2],
  ['balanced_h16_kv4_d64', 100, 1],
  ['paper_h16_kv16_d128', 33, 1],
  ['mixed_gqa', 64, 1],
  ['band_mix', 50, 1],
  ['longformer', 40, 1],
] as const;
const manifest = [];
for (const [name, n, B] of cases) {
  const l = layouts.find((x) => x.name === name)!;
  const inst = instantiate(l, n);
  const mk = (count: number, seed: number) => Float64Array.from(randoms(count, seed), (x) => toBf16(2 * x));
  const q = mk(B * l.heads * n * l.headDim, 11);
  const k = mk(B * l.kvHeads * n * l.headDim, 12);
  const v = mk(B * l.kvHeads * n * l.headDim, 13);
  const r = referenceAttention(inst, { batch: B, q, k, v });
  for (const [tag, arr] of [
    ['q', q],
    ['k', k],
    ['v', v],
    ['out', r.out],
    ['lse', r.lse],
  ] as const)
    writeFileSync(join(dir, `oracle_${name}_${n}_${tag}.f64`), Buffer.from(arr.buffer));
  manifest.push({ name, n, batch: B });
}
writeFileSync(join(dir, 'oracle.json'), JSON.stringify(manifest));
console.log(`prepared ${layouts.length} layouts and ${cases.length} oracle cases in ${dir}`);
