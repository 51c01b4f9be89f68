// Emits CUDA packages of the bench layouts for several tile configurations, named
// <pattern>_h<H>_kv<H>_d<D>_w<warps>m<mTiles>n<blockN>b<minBlocks>, for bench_cuda.py --suffixes.
//   npx tsx bench/cuda/prepare_tune.ts out/cuda-tune '[[4,1,64],[4,2,64]]' 16x128,16x64
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeCudaTarget, type CudaConfig } from '../../targets/cuda/index.js';
import { compileSource, writeAtomically } from '../../src/pipeline.js';

const [dir = 'out/cuda-tune', cfgText = '[[4,1,64]]', shapes = '16x128'] = process.argv.slice(2);
const cfgs = (JSON.parse(cfgText) as number[][]).map(([warps, mTiles, blockN, minBlocks, skip]) => ({ warps: warps!, mTiles: mTiles!, blockN: blockN!, minBlocks: minBlocks ?? 1, skipRescale: skip === 1 }));
const PATTERNS = { paper: 'equal_width\n  pattern band', released: 'equal_width\n  pattern band | window(W + 1)', balanced: 'equal_pairs\n  pattern band' };
mkdirSync(dir, { recursive: true });
const names: { name: string; heads: number; kv_heads: number; head_dim: number; seq: null }[] = [];
for (const shape of shapes.split(',')) {
  const [H, D] = shape.split('x').map(Number);
  for (const [p, body] of Object.entries(PATTERNS))
    for (const c of cfgs) {
      const suffix = `w${c.warps}m${c.mTiles}n${c.blockN}b${c.minBlocks}${c.skipRescale ? 's' : ''}`;
      const name = `${p}_h${H}_kv${H}_d${D}_${suffix}`;
      const [l] = compileSource(`layout ${name} {\n  heads ${H}\n  head_dim ${D}\n  seq N\n  partition ${body}\n}\n`);
      writeAtomically(dir, makeCudaTarget((): CudaConfig => c).emit([l!], { version: 'tune' }));
      names.push({ name, heads: H!, kv_heads: H!, head_dim: D!, seq: null });
    }
}
writeFileSync(join(dir, 'layouts.json'), JSON.stringify(names));
writeFileSync(join(dir, 'oracle.json'), '[]');
console.log(`${names.length} packages in ${dir}`);
