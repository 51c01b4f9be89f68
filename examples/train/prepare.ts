// Compiles the CUDA packages that examples/train/*.py import, into one directory to carry to the
// GPU machine (it has no Node):
//   npx tsx examples/train/prepare.ts out/train
// Layouts: the paper's equal-width bands, the released code's bands plus a shared local window,
// and equal-pairs (balanced) bands, at H = 16, D = 64, symbolic length (seq N), with 16 KV heads
// (gpt.py, tasks.py) and with 4 (hf_llama.py, grouped-query attention). Package names are
// <pattern>_h<H>_kv<KV>_d<D>, as in test/cuda/prepare.ts and bench/cuda/bench_cuda.py, and as
// examples/train/_packages.py computes them. Also writes layouts.json (name, pattern, heads, kv_heads,
// head_dim) and the layouts' source (layouts.spc).
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cudaTarget } from '../../targets/cuda/index.js';
import { compileSource, writeAtomically } from '../../src/driver/pipeline.js';

export const PATTERNS: Record<string, string> = {
  paper: 'partition equal_width\n  pattern band',
  released: 'partition equal_width\n  pattern band | window(W + 1)',
  balanced: 'partition equal_pairs\n  pattern band',
};

/** (heads, kv_heads, head_dim) of the packages: gpt.py and tasks.py use 16/16/64, hf_llama.py 16/4/64. */
export const SHAPES: [number, number, number][] = [
  [16, 16, 64],
  [16, 4, 64],
];

export function packageName(pattern: string, heads: number, kvHeads: number, headDim: number): string {
  return `${pattern}_h${heads}_kv${kvHeads}_d${headDim}`;
}

export function layoutSource(): string {
  const blocks: string[] = [];
  for (const [H, KV, D] of SHAPES)
    for (const [p, body] of Object.entries(PATTERNS))
      blocks.push(`layout ${packageName(p, H, KV, D)} {\n  heads ${H}\n  kv_heads ${KV}\n  head_dim ${D}\n  dtype bf16\n  seq N\n  ${body}\n}\n`);
  return blocks.join('\n');
}

export function prepare(dir: string): string[] {
  mkdirSync(dir, { recursive: true });
  const source = layoutSource();
  const layouts = compileSource(source);
  writeAtomically(dir, cudaTarget.emit(layouts, { version: 'train' }));
  const listing = [];
  for (const [H, KV, D] of SHAPES)
    for (const p of Object.keys(PATTERNS)) listing.push({ name: packageName(p, H, KV, D), pattern: p, heads: H, kv_heads: KV, head_dim: D });
  writeFileSync(join(dir, 'layouts.json'), JSON.stringify(listing, null, 1) + '\n');
  writeFileSync(join(dir, 'layouts.spc'), source);
  return layouts.map((l) => l.name);
}

if (process.argv[1] && /prepare\.ts$/.test(process.argv[1])) {
  const dir = process.argv[2] ?? 'out/train';
  const names = prepare(dir);
  console.log(`prepared ${names.length} packages in ${dir}: ${names.join(', ')}`);
}
